# tests/integration.mk - fixture programs and the pytest suites that read
# them from outside (registry, and later the tools).

IT_PROGS := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,\
            $(sort $(wildcard tests/integration/*.c)))

$(BUILD)/tests/integration/%: tests/integration/%.c $(LIBGT_A) | $(BUILD)/tests/integration/
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(GT_CFLAGS) -MMD -MP -o $@ $< $(LIBGT_A) $(GT_LDFLAGS) $(GT_LIBS)

test-integration: $(IT_PROGS) $(DEPS_STAMP)
	$(Q)GT_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

.PHONY: test-integration
