/*
 * test_clock.c - the registry's timestamps agree with CLOCK_MONOTONIC.
 *
 * Readers compare registry timestamps with their own CLOCK_MONOTONIC, so
 * the runtime's cheaper clock (extrapolated with the TSC between real
 * readings) must keep the promise of gt/registry.h: at most 20 us behind
 * the kernel's clock when it is read, never ahead, never backwards, long
 * after its calibration.  A park's wait_since is such a reading, taken
 * between two readings of the kernel's clock the test knows: the
 * parker's own just before it parks, and the test's once it has parked.
 */
#include "test.h"

#include <gt/registry.h>

#define LAG_BOUND_NS 20000 /* 20 us: registry.h, TIME */

static gt_mutex_t ck_mutex = GT_MUTEX_INITIALIZER;
static int64_t ck_mark;  /* the parker's clock just before it parks */
static int ck_stop;

/* Parks on the mutex the test holds, over and over. */
static void parker(void *arg)
{
    (void)arg;
    while (!ck_stop) {
        ck_mark = tu_now_ns();
        ASSERT_OK(gt_mutex_lock(&ck_mutex));
        ASSERT_OK(gt_mutex_unlock(&ck_mutex));
        gt_yield(); /* let the test take the mutex again */
    }
}

static void clock_main(void *arg)
{
    (void)arg;
    int64_t start = tu_now_ns(), worst = 0;
    uint64_t prev = 0;
    int samples = 0;
    ASSERT_OK(gt_mutex_lock(&ck_mutex));
    gt_t p = tu_spawn(parker, NULL);
    const struct gt_thread_rec *rp = (const struct gt_thread_rec *)(const void *)p.rec;
    while (tu_now_ns() - start < 300 * TU_MS) {
        gt_yield(); /* the parker marks the time and parks */
        int64_t after = tu_now_ns();
        ASSERT_EQ(rp->state, GT_STATE_PARKED);
        ASSERT_EQ(rp->wait_kind, GT_WAIT_MUTEX);
        uint64_t since = rp->wait_since;
        ASSERT_GE(since, prev);
        prev = since;
        if ((int64_t)since > after)
            FAIL("wait_since %lld ns ahead of CLOCK_MONOTONIC",
                 (long long)((int64_t)since - after));
        int64_t lag = ck_mark - (int64_t)since;
        if (lag > worst)
            worst = lag;
        samples++;
        ASSERT_OK(gt_mutex_unlock(&ck_mutex)); /* hands it to the parker */
        ASSERT_OK(gt_mutex_lock(&ck_mutex));   /* and back */
        if (samples % 64 == 0)
            gt_sleep_ns(TU_MS / 4); /* idle stretches, as a server has */
    }
    ck_stop = 1;
    ASSERT_OK(gt_mutex_unlock(&ck_mutex));
    tu_join(p);
    ASSERT_GT(samples, 1000);
    if (worst > LAG_BOUND_NS)
        FAIL("registry timestamps lagged CLOCK_MONOTONIC by %lld ns (bound %d)",
             (long long)worst, LAG_BOUND_NS);
}

TEST_IMPL(clock_agrees_with_monotonic)
{
    tu_run(clock_main, NULL);
}
