# examples/examples.mk - Knot (a thread-per-connection HTTP server on gt)
# and its load generator.  Included by the top-level Makefile, which defines
# BUILD, GT_CFLAGS, GT_LDFLAGS, GT_LIBS, LIBGT_A, DEPS_STAMP, PYTHON, Q, msg.
#
#   make knot          $(BUILD)/examples/knot/knot and .../loadgen
#   make test-knot     HTTP conformance, bad input, 10,000 connections
#   make demo          Knot (-w 2) under load from loadgen, gt-top on a worker
#                      (examples/demo.sh; batch snapshots without a terminal)
#   make install       also installs knot into $(PREFIX)/bin
#
# Both programs link libgt.a statically: its read/write/accept/poll must
# come before libc's for the plain sequential code to park.

KNOT_OUT := $(BUILD)/examples/knot
KNOT_SRCS := $(filter-out examples/knot/loadgen.c,$(sort $(wildcard examples/knot/*.c)))
KNOT_OBJS := $(patsubst examples/knot/%.c,$(KNOT_OUT)/%.o,$(KNOT_SRCS))
KNOT := $(KNOT_OUT)/knot
KNOT_LOADGEN := $(KNOT_OUT)/loadgen

$(KNOT_OUT)/:
	$(Q)mkdir -p $@

$(KNOT_OUT)/%.o: examples/knot/%.c | $(KNOT_OUT)/ $(HEADERS_OK)
	$(call msg,CC,$@)
	$(Q)$(CC) $(GT_CFLAGS) -MMD -MP -c $< -o $@

$(KNOT): $(KNOT_OBJS) $(LIBGT_A)
	$(call msg,LD,$@)
	$(Q)$(CC) $(GT_LDFLAGS) -o $@ $(KNOT_OBJS) $(LIBGT_A) $(GT_LIBS)

$(KNOT_LOADGEN): $(KNOT_OUT)/loadgen.o $(LIBGT_A)
	$(call msg,LD,$@)
	$(Q)$(CC) $(GT_LDFLAGS) -o $@ $< $(LIBGT_A) $(GT_LIBS)

knot: $(KNOT) $(KNOT_LOADGEN)
all: knot

# tests/knot/test_demo.py runs make demo and the demo under tmux: gt-top too;
# tests/knot/test_scale.py lists 10,000 idle threads with gt-stacks.
test-knot: $(KNOT) $(KNOT_LOADGEN) $(GT_TOP) $(BUILD)/bin/gt-stacks $(DEPS_STAMP)
	$(Q)KNOT=$(abspath $(KNOT)) KNOT_LOADGEN=$(abspath $(KNOT_LOADGEN)) \
		GT_TOP=$(abspath $(GT_TOP)) \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/knot

TEST_SUITES += test-knot

# GT_TOP comes from viewer/viewer.mk, included before this file.
demo: $(DEPS_STAMP) $(KNOT) $(KNOT_LOADGEN) $(GT_TOP)
	$(Q)sh examples/demo.sh $(KNOT) $(KNOT_LOADGEN) $(GT_TOP) $(BUILD)/demo

install-knot: $(KNOT)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(KNOT) $(DESTDIR)$(PREFIX)/bin/knot
install: install-knot

.PHONY: knot test-knot demo install-knot
