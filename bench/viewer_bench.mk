# bench/viewer_bench.mk - gt-top at 100,000 threads (bench/viewer_bench.py):
# CPU per refresh and time to the first screen.  Included by bench/bench.mk.
#
# bench-viewer is a wrapper, so run.py runs the Python driver like any
# bench-* program; it needs gt-top and its test fixture built.
BENCH_PROGRAMS += $(BENCH_OUT)/bench-viewer
$(BENCH_OUT)/bench-viewer: bench/viewer_bench.py bench/plugin_cli.py $(GT_TOP) $(BUILD)/tests/viewer/pipeline \
                           | $(BENCH_OUT)/
	$(call msg,GEN,$@)
	$(Q)printf '#!/bin/sh\nexec %s %s --build %s "$$@"\n' '$(PYTHON)' \
		'$(abspath bench/viewer_bench.py)' '$(abspath $(BUILD))' > $@ && chmod +x $@
