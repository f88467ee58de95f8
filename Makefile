# gt - top-level Makefile.  Needs GNU make.
#
# Local overrides (CC, CFLAGS, PREFIX...) go in config.mak, never here.
# Every build directory mirrors the source tree under $(BUILD); a second
# tree with other flags is just another BUILD (see the asan target).
#
#   make                 libgt.a, libgt.so, gt.pc (and whatever else exists)
#   make test            installs missing Debian packages, builds, runs every test
#   make bench           side-by-side benchmarks against peers (bench/)
#   make install PREFIX=/usr/local DESTDIR=
#   V=1                  show full command lines

-include config.mak

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
ARCH    ?= $(shell uname -m)
CC      ?= cc
PYTHON  ?= /usr/bin/python3

# Flags every object of ours is built with; EXTRA_CFLAGS is for variants
# (sanitizers) and for the bench's uninstrumented build.  Stack-clash
# protection, as gt.pc gives programs: a frame bigger than a page touches
# each page on the way down, so an overflow faults in the thread's own
# guard instead of writing into the stack below it.
GT_CFLAGS := -std=c11 -Wall -Wextra -Werror -g -O2 \
             -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer \
             -fstack-clash-protection \
             -D_GNU_SOURCE -Iruntime/include $(EXTRA_CFLAGS) $(CFLAGS)
GT_LDFLAGS := $(EXTRA_LDFLAGS) $(LDFLAGS)
# What a program linked against libgt.a needs besides it.
GT_LIBS := -Wl,--export-dynamic-symbol=gt_registry -lunwind

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-6s %s\n' $(1) $(2)
endif

all: lib

# Missing Debian packages are installed once, by one script, and only by
# `make deps` and the targets that run tests or benchmarks (they depend on
# DEPS_STAMP).  Building (make, make lib) never installs anything: its
# objects depend on a check of the headers they include instead, which
# stops the build with one line naming the header and the fix.
DEPS_STAMP := $(BUILD)/.deps-ok
HEADERS_runtime := libunwind.h sys/sdt.h valgrind/valgrind.h
HEADERS_all := $(HEADERS_runtime) elfutils/libdw.h elfutils/libdwfl.h gelf.h \
               curses.h zlib.h
RT_HEADERS_OK := $(BUILD)/.headers-runtime-ok
HEADERS_OK := $(BUILD)/.headers-all-ok

# Each part adds its own suite to TEST_SUITES and its files to install.
TEST_SUITES :=

include runtime/runtime.mk
-include runtime/pthread/pthread.mk
-include tests/tests.mk
include tests/integration.mk
-include tools/tools.mk
-include gdb/gdb.mk
-include viewer/viewer.mk
-include tests/fuzz/fuzz.mk
-include tests/agree/agree.mk
-include tests/pthread/pthread.mk
include schema/schema.mk
-include examples/examples.mk
-include bench/bench.mk

$(DEPS_STAMP): tools/install-deps.sh | $(BUILD)/
	$(Q)sh tools/install-deps.sh
	$(Q)touch $@
deps: $(DEPS_STAMP)

$(BUILD)/.headers-%-ok: | $(BUILD)/
	$(Q)for h in $(HEADERS_$*); do \
		printf '#include <%s>\n' "$$h" | \
		$(CC) $(CFLAGS) -D_GNU_SOURCE -E -x c - -o /dev/null 2>/dev/null || \
		{ echo "gt: <$$h> is missing: run 'make deps' to install what gt builds with" >&2; \
		  exit 1; }; \
	done
	$(Q)touch $@

$(BUILD)/:
	$(Q)mkdir -p $@
$(BUILD)/%/:
	$(Q)mkdir -p $@

# make test: everything a fresh machine needs to prove the tree works.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
VALGRIND_TESTS := 'threads_spawn_join_many' 'threads_yield_order' 'sleep_order' \
                  'mutex_contention' 'cond_*' 'chan_*' 'io_tcp_accept_connect' \
                  'interpose_read_parks' 'unstacked_*' 'watchdog_signal_restarts_read'
# (Not watchdog_samples_spinner: under valgrind the spinning thread waits
# for valgrind's own lock whenever the watchdog thread runs, so /proc
# shows it in a system call and the samples are of that call.)

# The suites are independent: `make test` runs them in parallel even when
# called without -j, as a serial run of them all would take longer than a
# person waits.  Two jobs per CPU: the suites spend much of their time
# waiting on the programs they drive (a run on 2 CPUs used 1.2 of them on
# average with one job per CPU), and none of them asserts a time.
NPROC := $(shell nproc 2>/dev/null || echo 1)
TEST_JOBS := $(shell echo $$(( $(NPROC) * 2 )))
test:
	$(Q)$(MAKE) --no-print-directory -j$(TEST_JOBS) test-suites
	@echo "make test: all suites passed"

test-suites: deps lib test-unit test-integration test-asan test-valgrind $(TEST_SUITES)

# The unit suite again, with AddressSanitizer and UBSan, in its own tree;
# then the readers' suites (tests/tools, tests/viewer) with the readers
# built in that tree.  Their fixtures stay the plain ones: ASan's redzones
# would change the very frame sizes and stack bytes the suites check.
# GT_BUILD points the suites at a tree of links, the readers from the
# sanitizer build and everything else from the plain one.  kill_at_read.so
# is preloaded before libasan, which ASan would refuse by default.
ASAN_SUITES := $(BUILD)/asan-suites
# The plain programs the readers' suites use are built by this make, not
# by the recursive one, which would race with the suites that need them.
# The two suites run as two jobs: run one after the other they were the
# longest chain of make test.
test-asan: test-asan-tools test-asan-viewer

test-asan-build: $(TT_PROGS) $(TV_PROGS) $(BUILD)/tests/tools/unstacked $(GT_PC) \
                 $(GDB_CONSTANTS) $(DEPS_STAMP)
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/asan \
		EXTRA_CFLAGS='$(SAN_FLAGS)' EXTRA_LDFLAGS='$(SAN_FLAGS)' test-unit tools viewer
	$(Q)mkdir -p $(ASAN_SUITES) && ln -sfn ../asan/bin $(ASAN_SUITES)/bin && \
		ln -sfn ../tests $(ASAN_SUITES)/tests && ln -sfn ../lib $(ASAN_SUITES)/lib && \
		ln -sfn ../gdb $(ASAN_SUITES)/gdb

test-asan-tools test-asan-viewer: test-asan-%: test-asan-build
	$(Q)ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		GT_BUILD=$(abspath $(ASAN_SUITES)) $(PYTHON) -m pytest -q -p no:cacheprovider \
		tests/$*

# A small scenario under valgrind: stacks are registered, so memcheck
# follows the switches; any error fails the run.
test-valgrind: $(UNIT_RUNNER)
	$(Q)valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite $(UNIT_RUNNER) -t 300 $(VALGRIND_TESTS)

.PHONY: test-suites test-asan test-asan-build test-asan-tools test-asan-viewer test-valgrind \
        test-unit test-integration

clean:
	rm -rf $(BUILD)

.PHONY: all lib deps clean test install bench bench-quick
.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
