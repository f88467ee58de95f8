# tests/tests.mk - the C unit tests (tests/unit/), included by the Makefile.
#
#   make test-unit                       build the runner and run every test
#   make test-unit UNIT_ARGS='chan_*'    only the tests matching the glob(s)
#   make test-unit UNIT_ARGS='-t 120'    a longer default timeout
#
# One executable, $(BUILD)/tests/unit/runner: every tests/unit/*.c linked
# statically with libgt.a, because the libc names libgt interposes (read,
# poll, sleep...) only replace libc's when libgt's objects come first.
# Everything is expressed in BUILD and GT_* so the same rules build the
# sanitizer tree (BUILD=build/asan EXTRA_CFLAGS=-fsanitize=...).

UNIT_SRCS := $(sort $(wildcard tests/unit/*.c))
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/%.o)
UNIT_RUNNER := $(BUILD)/tests/unit/runner
UNIT_ARGS ?=

# DEPS_STAMP is defined after this file is included; the second expansion
# reads it once the whole Makefile is in.
.SECONDEXPANSION:

$(BUILD)/tests/unit/%.o: tests/unit/%.c | $(BUILD)/tests/unit/ $$(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)$(CC) $(GT_CFLAGS) -MMD -MP -c $< -o $@

# GT_LIBS keeps the registry in .dynsym, as for any program using libgt.
$(UNIT_RUNNER): $(UNIT_OBJS) $(BUILD)/lib/libgt.a | $$(DEPS_STAMP)
	$(call msg,LD,$@)
	$(Q)$(CC) $(GT_CFLAGS) $(GT_LDFLAGS) -o $@ $(UNIT_OBJS) \
		$(BUILD)/lib/libgt.a $(GT_LIBS) -pthread

test-unit: $(UNIT_RUNNER)
	$(Q)$(UNIT_RUNNER) $(UNIT_ARGS)

.PHONY: test-unit

-include $(UNIT_OBJS:.o=.d)
