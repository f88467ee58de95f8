# bench/core_bench.mk - a core of a live 100,000-thread gt program: gt-core
# full and --compact against GDB's gcore and the kernel's core
# (bench/core_bench.py).  Included by bench/bench.mk.
#
#   make bench-core    that comparison alone, with its table and targets
#                      (it is part of make bench too)
#
# bench-core is a wrapper, so run.py runs the Python driver like any
# bench-* program; it needs gt-core, gt-stacks and the crowd fixture
# bench/million_stacks.c (its rule is in bench/scale_bench.mk).
BENCH_PROGRAMS += $(BENCH_OUT)/bench-core
$(BENCH_OUT)/bench-core: bench/core_bench.py bench/plugin_cli.py $(BENCH_OUT)/million_stacks \
                         $(GT_CORE) $(BUILD)/bin/gt-stacks | $(BENCH_OUT)/
	$(call msg,GEN,$@)
	$(Q)printf '#!/bin/sh\nexec %s %s --build %s "$$@"\n' '$(PYTHON)' \
		'$(abspath bench/core_bench.py)' '$(abspath $(BUILD))' > $@ && chmod +x $@

bench-core: $(BENCH_OUT)/bench-core
	$(Q)$(PYTHON) bench/run.py --build $(BUILD) --only core --out $(BENCH_OUT)/core-results
.PHONY: bench-core
