# tools/tools.mk - libgtobserve and the tools built on it (gt-stacks,
# gt-waste, gt-core), their manuals, test fixtures and test suite.
# Included by the Makefile, which defines BUILD, GT_CFLAGS, GT_LDFLAGS,
# GT_LIBS, LIBGT_A, LIBGT_SO, DEPS_STAMP, PYTHON, Q and msg.
#
#   make tools          build/bin/gt-stacks, build/bin/gt-waste, build/bin/gt-core
#   make install        the three and their manuals (tools/*.1, under
#                       $(PREFIX)/share/man/man1)
#   make test-tools     the tools against fixtures with known ground truth
#                       (tests/tools/): live, gcore and kernel cores, libgt
#                       static and shared, stripped and not

OBS_SRCS := $(sort $(wildcard tools/observe/*.c))
OBS_OBJS := $(OBS_SRCS:%.c=$(BUILD)/%.o)
LIBGTOBSERVE := $(BUILD)/lib/libgtobserve.a
TOOL_NAMES := gt-stacks gt-waste
TOOL_BINS := $(TOOL_NAMES:%=$(BUILD)/bin/%)
GT_CORE := $(BUILD)/bin/gt-core
TOOLS_CFLAGS := $(GT_CFLAGS) -Itools/observe -Itools
# libunwind-x86_64 is libunwind's remote (cross-process) flavour; the plain
# -lunwind only unwinds its own process.
TOOLS_LIBS := -lunwind-x86_64 -lunwind -ldw -lelf -lz

.SECONDEXPANSION:

$(BUILD)/tools/%.o: tools/%.c | $$(HEADERS_OK)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(TOOLS_CFLAGS) -MMD -MP -c $< -o $@

$(LIBGTOBSERVE): $(OBS_OBJS) | $(BUILD)/lib/
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/%: $(BUILD)/tools/%.o $(BUILD)/tools/common.o $(BUILD)/tools/target_open.o \
               $(BUILD)/tools/running.o \
               $(LIBGTOBSERVE) | $(BUILD)/bin/
	$(call msg,LD,$@)
	$(Q)$(CC) $(GT_LDFLAGS) -o $@ $^ $(TOOLS_LIBS)

# gt-stacks --pprof writes a gzipped profile.proto (tools/pprof.c, zlib).
$(BUILD)/bin/gt-stacks: $(BUILD)/tools/pprof.o

tools: $(TOOL_BINS) $(GT_CORE)
all: tools

# gt-core: tools/gt-core.c (its command line) and tools/core/*.c (one job
# each: stopping the target, its memory map, the copy, the ELF writer,
# --compact's choice).
CORE_SRCS := $(sort $(wildcard tools/core/*.c))
CORE_OBJS := $(CORE_SRCS:%.c=$(BUILD)/%.o)
$(BUILD)/tools/core/%.o: tools/core/%.c | $$(HEADERS_OK)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(TOOLS_CFLAGS) -Itools/core -MMD -MP -c $< -o $@
$(GT_CORE): $(BUILD)/tools/gt-core.o $(CORE_OBJS) $(BUILD)/tools/common.o \
            $(BUILD)/tools/target_open.o \
            $(LIBGTOBSERVE) | $(BUILD)/bin/
	$(call msg,LD,$@)
	$(Q)$(CC) $(GT_LDFLAGS) -o $@ $^ $(TOOLS_LIBS)
tools: $(GT_CORE)

# Fixtures: each tests/tools/*.c linked with libgt.a (as is), with libgt.so,
# and stripped (its functions exported, so names come from .dynsym).
TT_SRCS := $(filter-out tests/tools/tail_call.c,$(sort $(wildcard tests/tools/*.c)))
TT_STATIC := $(TT_SRCS:tests/tools/%.c=$(BUILD)/tests/tools/%)
TT_SHARED := $(TT_STATIC:%=%-shared)
TT_STRIPPED := $(TT_STATIC:%=%-stripped)

$(BUILD)/tests/tools/%: tests/tools/%.c $(LIBGT_A) | $(BUILD)/tests/tools/
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(GT_CFLAGS) -MMD -MP -o $@ $< $(LIBGT_A) $(GT_LDFLAGS) $(GT_LIBS)

$(BUILD)/tests/tools/%-shared: tests/tools/%.c $(LIBGT_SO) | $(BUILD)/tests/tools/
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(GT_CFLAGS) -o $@ $< -L$(BUILD)/lib -l:libgt.so \
		-Wl,-rpath,$(abspath $(BUILD)/lib) $(GT_LDFLAGS)
	$(Q)ln -sf libgt.so $(BUILD)/lib/libgt.so.0

$(BUILD)/tests/tools/%-stripped: tests/tools/%.c $(LIBGT_A) | $(BUILD)/tests/tools/
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(GT_CFLAGS) -rdynamic -o $@ $< $(LIBGT_A) $(GT_LDFLAGS) $(GT_LIBS)
	$(Q)strip --strip-all $@

# known_stacks fully static and stripped: no symbol table at all, so the
# registry is found through its .note.gt note.  gcc leaves .eh_frame_hdr out
# of -static links; libunwind's remote lookup needs that table, hence
# --eh-frame-hdr (the frame-pointer path reads .eh_frame itself).
$(BUILD)/tests/tools/known_stacks-static-stripped: tests/tools/known_stacks.c $(LIBGT_A) | $(BUILD)/tests/tools/
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(GT_CFLAGS) -static -Wl,--eh-frame-hdr -o $@ $< $(LIBGT_A) \
		$(GT_LDFLAGS) -lunwind -llzma
	$(Q)strip --strip-all $@

# tail_call.c is built as a user would build it: with exactly what
# `pkg-config --cflags --libs gt` says (the build tree's
# gt-uninstalled.pc), at -O2; and again with sibling calls turned back on
# after those flags, the loss the test shows gt.pc prevents.
TT_PC_FLAGS = $$(PKG_CONFIG_PATH=$(abspath $(BUILD)/lib/pkgconfig) pkg-config --cflags --libs gt)
$(BUILD)/tests/tools/tail_call-pc: tests/tools/tail_call.c $(LIBGT_SO) $(GT_PC_UNINSTALLED) | $(BUILD)/tests/tools/
	$(call msg,CCLD,$@)
	$(Q)$(CC) -O2 -o $@ $< $(TT_PC_FLAGS)
$(BUILD)/tests/tools/tail_call-sibcall: tests/tools/tail_call.c $(LIBGT_SO) $(GT_PC_UNINSTALLED) | $(BUILD)/tests/tools/
	$(call msg,CCLD,$@)
	$(Q)$(CC) -O2 -o $@ $< $(TT_PC_FLAGS) -foptimize-sibling-calls

# Preloaded into a tool by tests/tools/test_bad_input.py: the target dies
# at a chosen read of the tool's (no test hook in the library itself).
$(BUILD)/tests/tools/kill_at_read.so: tests/tools/preload/kill_at_read.c | $(BUILD)/tests/tools/
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(GT_CFLAGS) -fPIC -shared -o $@ $< -ldl

TT_PROGS := $(TT_STATIC) $(TT_SHARED) $(TT_STRIPPED) \
            $(BUILD)/tests/tools/known_stacks-static-stripped \
            $(BUILD)/tests/tools/tail_call-pc $(BUILD)/tests/tools/tail_call-sibcall \
            $(BUILD)/tests/tools/kill_at_read.so

# test_hostile_cores.py runs gt-top on its cores too, and decodes them with
# registry.h's constants (the module generated for GDB); test_tail_call.py
# reads the installed gt.pc as well as the uninstalled one; test_cli.py
# and test_gt_core_cli.py run gt-core's command line.
test-tools: $(TOOL_BINS) $(GT_CORE) $(TT_PROGS) $(BUILD)/bin/gt-top \
            $(BUILD)/gdb/gt/constants.py $(GT_PC) $(DEPS_STAMP)
	$(Q)GT_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/tools

TEST_SUITES += test-tools

TOOL_MANS := $(sort $(wildcard tools/*.1))
install-tools: $(TOOL_BINS) $(GT_CORE)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(TOOL_BINS) $(GT_CORE) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(TOOL_MANS) $(DESTDIR)$(PREFIX)/share/man/man1/
install: install-tools

.PHONY: tools test-tools install-tools

-include $(OBS_OBJS:.o=.d) $(CORE_OBJS:.o=.d) $(BUILD)/tools/gt-stacks.d $(BUILD)/tools/gt-waste.d \
         $(BUILD)/tools/common.d $(BUILD)/tools/target_open.d $(BUILD)/tools/running.d \
         $(BUILD)/tools/pprof.d

# The tools alone at 100,000 threads (bench/bench_tools.py).  make bench
# times them against Go's debuggers instead (bench/observe_bench.py).
bench-tools: $(TOOL_BINS) $(BUILD)/tests/tools/known_stacks
	$(Q)$(PYTHON) bench/bench_tools.py --build $(BUILD)
.PHONY: bench-tools

# gt-core against the fixtures (tests/core/): full and compact cores under
# every guard policy, read back by gt-stacks, gt-waste, gt-top and GDB; a
# target that counts its signals and wakeups while captured
# (tests/core/*.c); Knot under load.
TC_PROGS := $(patsubst tests/core/%.c,$(BUILD)/tests/core/%,$(wildcard tests/core/*.c))
$(BUILD)/tests/core/%: tests/core/%.c $(LIBGT_A) | $(BUILD)/tests/core/
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(GT_CFLAGS) -MMD -MP -o $@ $< $(LIBGT_A) $(GT_LDFLAGS) $(GT_LIBS)
# The 100K-thread target is the bench's (bench/million_stacks.c).  (gdb.mk,
# examples.mk and bench.mk are read after this file: their names are
# expanded a second time, when make needs them.)
test-core: $(GT_CORE) $(TOOL_BINS) $(TT_PROGS) $(TC_PROGS) $(BUILD)/bin/gt-top \
           $$(GDB_FIXTURES) $$(GDB_CONSTANTS) $$(KNOT) $$(KNOT_LOADGEN) \
           $$(BENCH_OUT)/million_stacks $(DEPS_STAMP)
	$(Q)GT_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/core
TEST_SUITES += test-core
.PHONY: test-core

# gt-exporter: tools/gt-exporter.c (its command line and loop) and
# tools/exporter/*.c (one job each: the HTTP server, the targets, /proc
# discovery, the scrape), over gt-top's engine: its sampler, tables and
# Prometheus writer are linked in (not its screen), so a scrape and
# `gt-top -b --format prometheus` print the same bytes for one snapshot.
EXPORTER_SRCS := $(sort $(wildcard tools/exporter/*.c))
EXPORTER_OBJS := $(EXPORTER_SRCS:%.c=$(BUILD)/%.o)
EXPORTER_VIEWER_OBJS := $(addprefix $(BUILD)/viewer/,sampler.o tables.o prometheus.o \
                          blockers.o stack_measurer.o)
GT_EXPORTER := $(BUILD)/bin/gt-exporter
$(BUILD)/tools/gt-exporter.o $(EXPORTER_OBJS): TOOLS_CFLAGS += -Iviewer
$(GT_EXPORTER): $(BUILD)/tools/gt-exporter.o $(EXPORTER_OBJS) $(EXPORTER_VIEWER_OBJS) \
                $(BUILD)/tools/common.o $(LIBGTOBSERVE) | $(BUILD)/bin/
	$(call msg,LD,$@)
	$(Q)$(CC) $(GT_LDFLAGS) -o $@ $^ $(TOOLS_LIBS) -pthread
exporter: $(GT_EXPORTER)
tools: $(GT_EXPORTER)

install-exporter: $(GT_EXPORTER)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(GT_EXPORTER) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 tools/gt-exporter.1 $(DESTDIR)$(PREFIX)/share/man/man1/
install: install-exporter

# The exporter against two fixtures of known queues, the fixture of
# deadlocks and a spinner, and two Knot servers, promtool on every exposition, and a real Prometheus server
# scraping it (tests/exporter/).  ($$(KNOT): examples.mk is read after
# this file.)
# tests/exporter/*.c: the exporter's own fixtures (queue_order: waiters
# parked at one place in a known order).
TE_FIXTURES := $(patsubst tests/exporter/%.c,$(BUILD)/tests/exporter/%,$(wildcard tests/exporter/*.c))
$(BUILD)/tests/exporter/%: tests/exporter/%.c $(LIBGT_A) | $(BUILD)/tests/exporter/
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(GT_CFLAGS) -MMD -MP -o $@ $< $(LIBGT_A) $(GT_LDFLAGS) $(GT_LIBS)
TE_PROGS := $(BUILD)/tests/viewer/pipeline $(BUILD)/tests/tools/blockers $(TE_FIXTURES)
test-exporter: $(GT_EXPORTER) $(BUILD)/bin/gt-top $(BUILD)/bin/gt-stacks $(TE_PROGS) $$(KNOT) $(DEPS_STAMP)
	$(Q)GT_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/exporter
TEST_SUITES += test-exporter

.PHONY: exporter install-exporter test-exporter
-include $(BUILD)/tools/gt-exporter.d $(EXPORTER_OBJS:.o=.d)
