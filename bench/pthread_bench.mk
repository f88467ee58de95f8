# bench/pthread_bench.mk - unmodified pthread programs on gt
# (bench/pthread_bench.py): bench-pthread and Debian's Apache run natively
# and with LD_PRELOAD=libgt-pthread.so in the same run.  Included by
# bench/bench.mk.
#
# bench-pthread-preload is a wrapper, so run.py runs the Python driver like
# any bench-* program (not bench-pthread: that is the kernel-thread peer it
# runs); it needs the preload library, bench-pthread and gt-top (which
# counts the preloaded Apache child's green threads).
BENCH_PROGRAMS += $(BENCH_OUT)/bench-pthread-preload
$(BENCH_OUT)/bench-pthread-preload: bench/pthread_bench.py bench/plugin_cli.py bench/http_load.py \
                                    $(LIBGT_PTHREAD_SO) $(BENCH_OUT)/bench-pthread $(GT_TOP) \
                                    | bench-deps $(BENCH_OUT)/
	$(call msg,GEN,$@)
	$(Q)printf '#!/bin/sh\nexec %s %s --build %s "$$@"\n' '$(PYTHON)' \
		'$(abspath bench/pthread_bench.py)' '$(abspath $(BUILD))' > $@ && chmod +x $@
