# tests/pthread/pthread.mk - make test-pthread: unmodified pthread programs
# on gt (libgt-pthread.so).
#
# Every tests/pthread/*.c is a plain pthread program (cc -pthread, never
# linked with libgt).  test_conformance.py runs each one natively and with
# LD_PRELOAD=libgt-pthread.so and wants the same POSIX behaviour (exit 0,
# the same stdout: see pt_check.h); one of them is also linked with
# -lgt-pthread, the link-time form.  Programs named fx_*.c are fixtures
# that other tests drive (test_readers.py: what gt-stacks and gt-top see of
# a pthread program), not conformance programs.
#
# Frame pointers and line information, as a program a reader looks into
# would have; -O1 so that calls stay where the source puts them.

PTT_SRCS := $(sort $(wildcard tests/pthread/*.c))
# C++ programs: waits the standard library makes with futex(2) itself.
PTT_CXX_SRCS := $(sort $(wildcard tests/pthread/*.cc))
PTT_PROGS := $(patsubst tests/pthread/%.c,$(BUILD)/tests/pthread/%,$(PTT_SRCS)) \
             $(patsubst tests/pthread/%.cc,$(BUILD)/tests/pthread/%,$(PTT_CXX_SRCS))
PTT_CFLAGS := -std=gnu11 -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Werror -pthread
PTT_CXXFLAGS := -std=c++20 -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Werror -pthread
# The link-time form of one program: -lgt-pthread, found through its rpath.
PTT_LINKED := $(BUILD)/tests/pthread/lifecycle-linked

$(BUILD)/tests/pthread/%: tests/pthread/%.c | $(BUILD)/tests/pthread/
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(PTT_CFLAGS) -MMD -MP -o $@ $< -ldl

$(BUILD)/tests/pthread/%: tests/pthread/%.cc | $(BUILD)/tests/pthread/
	$(call msg,CXXLD,$@)
	$(Q)$(CXX) $(PTT_CXXFLAGS) -MMD -MP -o $@ $< -ldl

$(PTT_LINKED): tests/pthread/lifecycle.c tests/pthread/pt_check.h $(LIBGT_PTHREAD_SO) | $(BUILD)/tests/pthread/
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(PTT_CFLAGS) -o $@ $< -L$(BUILD)/lib -lgt-pthread \
		-Wl,-rpath,$(abspath $(BUILD)/lib) -ldl

# A gt program (linked with libgt.a), which the library must leave alone.
PTT_GT_PROGRAM := $(BUILD)/tests/viewer/before_main

# test_apache.py and test_siege.py drive Debian's apache2 and siege (which
# tools/install-deps.sh installs), wrk, gdb with the extension, and Knot.
# Knot by its path: examples.mk, which names it, is read after this file.
PTT_KNOT := $(BUILD)/examples/knot/knot

test-pthread: $(LIBGT_PTHREAD_SO) $(PTT_PROGS) $(PTT_LINKED) $(PTT_GT_PROGRAM) \
              $(TOOL_BINS) $(GT_TOP) $(GDB_CONSTANTS) $(PTT_KNOT) $(DEPS_STAMP)
	$(Q)GT_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/pthread

TEST_SUITES += test-pthread
-include $(PTT_PROGS:=.d)
