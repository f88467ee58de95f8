# bench/bench.mk - side-by-side benchmarks of gt against its peers.
# Included by the top-level Makefile, which defines BUILD, GT_CFLAGS,
# GT_LDFLAGS, GT_LIBS, PYTHON, Q and msg.
#
#   make bench         every benchmark at full size (2 to 3 minutes on
#                      2 cores, 15 at most); table on stdout, bench/results/bench.{md,json}
#   make bench-quick   the same programs at reduced sizes (about a minute),
#                      without the 1,000,000-thread run
#
# Each peer is one program, bench/bench_<impl>.{c,cpp,go}; bench/run.py
# runs them, one process per scenario, and prints the table.  A peer that
# cannot be built stops make; one that fails at run time is an error row
# and a non-zero exit, never a missing row.

BENCH_OUT := $(BUILD)/bench

BENCH_CFLAGS   := $(GT_CFLAGS) -Ibench -MMD -MP
BENCH_CXXFLAGS := $(filter-out -std=c11,$(GT_CFLAGS)) -std=c++17 -Ibench -MMD -MP

BENCH_COMMON := $(BENCH_OUT)/bench_util.o $(BENCH_OUT)/bench_touch.o

BENCH_PROGRAMS := $(addprefix $(BENCH_OUT)/bench-,\
                    gt gt-noinstr fcontext st pth ucontext pthread go)

# ---- Knot against nginx and a State Threads server (bench/knot_bench.py) ----
# bench-knot is a wrapper, so run.py runs the Python driver like any
# bench-* program; it needs Knot, its load generator and st-httpd built.
BENCH_PROGRAMS += $(BENCH_OUT)/bench-knot
$(BENCH_OUT)/st-httpd: bench/st_httpd.c | bench-deps $(BENCH_OUT)/
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(BENCH_CFLAGS) -o $@ $< -lst
$(BENCH_OUT)/bench-knot: bench/knot_bench.py bench/plugin_cli.py bench/http_load.py $(BENCH_OUT)/st-httpd \
                         $(KNOT) $(KNOT_LOADGEN) $(GT_TOP) | bench-deps $(BENCH_OUT)/
	$(call msg,GEN,$@)
	$(Q)printf '#!/bin/sh\nexec %s %s --build %s "$$@"\n' '$(PYTHON)' \
		'$(abspath bench/knot_bench.py)' '$(abspath $(BUILD))' > $@ && chmod +x $@
# ---- end of Knot ----

# Other plug-ins of run.py (bench/<name>_bench.py) keep their build rules,
# and their bench-<name> wrapper in BENCH_PROGRAMS, in bench/<name>_bench.mk.
include $(wildcard bench/*_bench.mk)

# Made here, not left to a pattern rule in the top-level Makefile: GNU make
# 4.3 rejects a rule that mixes a plain target with a pattern one, and an
# explicit rule for this one directory works beside any such rule.
$(BENCH_OUT)/:
	$(Q)mkdir -p $@

# The Debian packages the peers need; the script installs only what
# dpkg-query says is missing, so running it every time costs little and a
# removed package is noticed.
bench-deps:
	$(Q)sh bench/install-bench-deps.sh

$(BENCH_OUT)/%.o: bench/%.c | bench-deps $(BENCH_OUT)/
	$(call msg,CC,$@)
	$(Q)$(CC) $(BENCH_CFLAGS) -c -o $@ $<

# The uninstrumented twin of bench_gt.o: same source, other name in its
# RESULT lines, and the same -DGT_NO_INSTRUMENT as its library.
$(BENCH_OUT)/bench_gt-noinstr.o: bench/bench_gt.c | bench-deps $(BENCH_OUT)/
	$(call msg,CC,$@)
	$(Q)$(CC) $(BENCH_CFLAGS) -DGT_NO_INSTRUMENT '-DBENCH_GT_IMPL="gt-noinstr"' \
		-c -o $@ $<

$(BENCH_OUT)/%.o: bench/%.cpp | bench-deps $(BENCH_OUT)/
	$(call msg,CXX,$@)
	$(Q)$(CXX) $(BENCH_CXXFLAGS) -c -o $@ $<

$(BENCH_OUT)/bench-gt: $(BENCH_OUT)/bench_gt.o $(BENCH_COMMON) $(BUILD)/lib/libgt.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(GT_LDFLAGS) -o $@ $^ $(GT_LIBS)

$(BENCH_OUT)/bench-gt-noinstr: $(BENCH_OUT)/bench_gt-noinstr.o $(BENCH_COMMON) \
                               $(BUILD)/lib/libgt-noinstr.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(GT_LDFLAGS) -o $@ $^ $(GT_LIBS)

$(BENCH_OUT)/bench-fcontext: $(BENCH_OUT)/bench_fcontext.o $(BENCH_COMMON)
	$(call msg,LD,$@)
	$(Q)$(CXX) $(GT_LDFLAGS) -o $@ $^ -lboost_context

$(BENCH_OUT)/bench-st: $(BENCH_OUT)/bench_st.o $(BENCH_COMMON)
	$(call msg,LD,$@)
	$(Q)$(CC) $(GT_LDFLAGS) -o $@ $^ -lst

$(BENCH_OUT)/bench-pth: $(BENCH_OUT)/bench_pth.o $(BENCH_COMMON)
	$(call msg,LD,$@)
	$(Q)$(CC) $(GT_LDFLAGS) -o $@ $^ -lpth

$(BENCH_OUT)/bench-ucontext: $(BENCH_OUT)/bench_ucontext.o $(BENCH_COMMON)
	$(call msg,LD,$@)
	$(Q)$(CC) $(GT_LDFLAGS) -o $@ $^

$(BENCH_OUT)/bench-pthread: $(BENCH_OUT)/bench_pthread.o $(BENCH_COMMON)
	$(call msg,LD,$@)
	$(Q)$(CC) $(GT_LDFLAGS) -pthread -o $@ $^

# Go keeps its build cache under $(BUILD), not in $HOME; -trimpath keeps
# this machine's paths out of the binary.
$(BENCH_OUT)/bench-go: bench/bench_go.go | bench-deps $(BENCH_OUT)/
	$(call msg,GO,$@)
	$(Q)GOCACHE=$(abspath $(BENCH_OUT))/go-cache GOPATH=$(abspath $(BENCH_OUT))/go-path \
		go build -trimpath -o $@ $<

bench: $(BENCH_PROGRAMS)
	$(Q)$(PYTHON) bench/run.py --build $(BUILD)

bench-quick: $(BENCH_PROGRAMS)
	$(Q)$(PYTHON) bench/run.py --build $(BUILD) --quick

.PHONY: bench-deps
