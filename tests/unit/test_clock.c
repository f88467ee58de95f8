/*
 * test_clock.c - the runtime's clock agrees with CLOCK_MONOTONIC.
 *
 * Registry timestamps are compared by readers with their own
 * CLOCK_MONOTONIC, so the runtime's cheaper clock (extrapolated with the
 * TSC between real readings) must stay within a few microseconds of it,
 * and never run backwards, long after its calibration.
 */
#include "test.h"

#define TOLERANCE_NS 20000 /* 20 us */

static void clock_main(void *arg)
{
    (void)arg;
    int64_t start = tu_now_ns(), prev = 0, worst = 0;
    int samples = 0;
    while (tu_now_ns() - start < 300 * TU_MS) {
        int64_t before = tu_now_ns();
        int64_t ours = gt_now_ns();
        int64_t after = tu_now_ns();
        ASSERT_GE(ours, prev);
        prev = ours;
        /* It may lag (a few us) but never lead the kernel's clock. */
        if (ours > after)
            FAIL("gt_now_ns %lld ns ahead of CLOCK_MONOTONIC",
                 (long long)(ours - after));
        int64_t off = ours < before ? before - ours : 0;
        if (off > worst)
            worst = off;
        samples++;
        if (samples % 64 == 0)
            gt_sleep_ns(TU_MS / 4); /* parks read the clock too */
    }
    ASSERT_GT(samples, 1000);
    if (worst > TOLERANCE_NS)
        FAIL("gt_now_ns strayed %lld ns from CLOCK_MONOTONIC (limit %d)",
             (long long)worst, TOLERANCE_NS);
}

TEST_IMPL(clock_agrees_with_monotonic)
{
    tu_run(clock_main, NULL);
}
