# bench/scale_bench.mk - gt's readers at 100,000 and 1,000,000 threads
# (bench/scale_bench.py).  Included by bench/bench.mk.
#
# bench-scale is a wrapper, so run.py runs the Python driver like any
# bench-* program; it needs the tools, gt-top and the fixture
# bench/million_stacks.c built.
BENCH_PROGRAMS += $(BENCH_OUT)/bench-scale

$(BENCH_OUT)/million_stacks: bench/million_stacks.c $(BUILD)/lib/libgt.a | $(BENCH_OUT)/
	$(call msg,CCLD,$@)
	$(Q)$(CC) $(GT_CFLAGS) -o $@ $< $(BUILD)/lib/libgt.a $(GT_LDFLAGS) $(GT_LIBS)

$(BENCH_OUT)/bench-scale: bench/scale_bench.py bench/plugin_cli.py $(BENCH_OUT)/million_stacks \
                          $(TOOL_BINS) $(GT_TOP) | $(BENCH_OUT)/
	$(call msg,GEN,$@)
	$(Q)printf '#!/bin/sh\nexec %s %s --build %s "$$@"\n' '$(PYTHON)' \
		'$(abspath bench/scale_bench.py)' '$(abspath $(BUILD))' > $@ && chmod +x $@
