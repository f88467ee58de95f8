# bench/observe_bench.mk - gt's readers against Delve and GDB on Go
# (bench/observe_bench.py).  Included by bench/bench.mk.
#
# bench-observe is a wrapper, so run.py runs the Python driver like any
# bench-* program.  It needs gt's readers (gt-stacks, gt-waste), the GDB
# fixture they read, and observe-go, the fixture's Go twin.

BENCH_PROGRAMS += $(BENCH_OUT)/bench-observe

# Built as bench-go is: the Go caches under $(BUILD), -trimpath.  The
# default build (optimised, inlining on) is what a production Go binary is;
# the twin's functions are marked noinline, as the C fixture's are.
$(BENCH_OUT)/observe-go: bench/observe_go.go | bench-deps $(BENCH_OUT)/
	$(call msg,GO,$@)
	$(Q)GOCACHE=$(abspath $(BENCH_OUT))/go-cache GOPATH=$(abspath $(BENCH_OUT))/go-path \
		go build -trimpath -o $@ $<

$(BENCH_OUT)/bench-observe: bench/observe_bench.py bench/plugin_cli.py bench/bench_gdb.py bench/bench_tools.py \
                            $(BENCH_OUT)/observe-go $(TOOL_BINS) \
                            $(BUILD)/tests/gdb/green_fixture \
                            $(BENCH_OUT)/observe-snap $(BUILD)/tests/tools/blockers | bench-deps $(BENCH_OUT)/
	$(call msg,GEN,$@)
	$(Q)printf '#!/bin/sh\nexec %s %s --build %s "$$@"\n' '$(PYTHON)' \
		'$(abspath bench/observe_bench.py)' '$(abspath $(BUILD))' > $@ && chmod +x $@

# What who-blocks-whom costs on top of a snapshot (bench-observe's
# "blockers" scenario): libgtobserve itself, timed from the inside.
$(BENCH_OUT)/observe-snap: bench/observe_bench.c $(LIBGTOBSERVE) | $(BENCH_OUT)/
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(TOOLS_CFLAGS) -o $@ $< $(LIBGTOBSERVE) $(TOOLS_LIBS)
