# tests/integration.mk - fixture programs and the pytest suites that read
# them from outside (registry, and later the tools).

IT_PROGS := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,\
            $(sort $(wildcard tests/integration/*.c)))

$(BUILD)/tests/integration/%: tests/integration/%.c $(LIBGT_A) | $(BUILD)/tests/integration/
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(GT_CFLAGS) -MMD -MP -o $@ $< $(LIBGT_A) $(GT_LDFLAGS) $(GT_LIBS)

# The registry fixture again, linked with libgt.so (found through its rpath).
$(BUILD)/tests/integration/three_locations-shared: tests/integration/three_locations.c $(LIBGT_SO) | $(BUILD)/tests/integration/
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(GT_CFLAGS) -o $@ $< -L$(BUILD)/lib -l:libgt.so \
		-Wl,-rpath,$(abspath $(BUILD)/lib) $(GT_LDFLAGS)
	$(Q)ln -sf libgt.so $(BUILD)/lib/libgt.so.0

# gtreg.py reads registry.h's constants from the module generated for GDB;
# test_big_frame.py reads the flags gt.pc gives programs; test_man.py runs
# `make install` (into a directory of its own) and the installed tools, and
# test_readme_server.py installs the library and builds the README's server
# with the README's lines, so everything installed is built first (named
# after this file is read: the second expansion).
test-integration: $(IT_PROGS) $(BUILD)/tests/integration/three_locations-shared \
		$(BUILD)/gdb/gt/constants.py $(GT_PC) $(GT_PC_UNINSTALLED) $(DEPS_STAMP) \
		$(LIBGT_A) $(LIBGT_SO) $$(TOOL_BINS) $$(GT_CORE) $$(GT_TOP) $$(KNOT)
	$(Q)GT_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

.PHONY: test-integration
