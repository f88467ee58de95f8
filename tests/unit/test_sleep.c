/*
 * test_sleep.c - gt_sleep_ns and gt_now_ns: wake order, elapsed time,
 * sleep(0) as a yield, many timers at once.
 */
#include "test.h"

#include <gt/registry.h>

/* ---- threads wake in the order of their deadlines ----------------------- */

/* The deadlines are read from the registry once every sleeper has parked:
 * on a loaded machine (valgrind, two cores shared) a sleeper could start
 * its 40 ms sleep more than 10 ms after another started its 50 ms one,
 * and the order the delays alone predict would not be the true one. */
static const int delays_ms[5] = {50, 10, 30, 20, 40};
static int woke[5];
static int nwoke;
static uint64_t deadline_of[5];

static void sleeper(void *arg)
{
    int ms = *(const int *)arg;
    int64_t gt0 = gt_now_ns(), k0 = tu_now_ns();

    ASSERT_EQ(gt_sleep_ns(ms * TU_MS), 0);
    ASSERT_GE(gt_now_ns() - gt0, ms * TU_MS);
    ASSERT_GE(tu_now_ns() - k0, ms * TU_MS);
    woke[nwoke++] = (int)((const int *)arg - delays_ms);
}

static void sleep_order(void *arg)
{
    gt_t t[5];
    (void)arg;

    for (int i = 0; i < 5; i++)
        t[i] = tu_spawn(sleeper, (void *)&delays_ms[i]);
    gt_yield(); /* each runs and parks in its sleep, then this one runs */
    for (int i = 0; i < 5; i++) {
        const struct gt_thread_rec *r = (const void *)t[i].rec;
        ASSERT_EQ(r->state, GT_STATE_PARKED);
        ASSERT_EQ(r->wait_kind, GT_WAIT_SLEEP);
        deadline_of[i] = r->deadline;
    }
    for (int i = 0; i < 5; i++)
        tu_join(t[i]);
}

TEST_IMPL(sleep_order)
{
    tu_run(sleep_order, NULL);
    ASSERT_EQ(nwoke, 5);
    for (int i = 1; i < 5; i++)
        if (deadline_of[woke[i]] < deadline_of[woke[i - 1]])
            FAIL("the %d ms sleeper woke before the %d ms one, whose deadline "
                 "was %" PRIu64 " ns earlier", delays_ms[woke[i - 1]],
                 delays_ms[woke[i]], deadline_of[woke[i - 1]] - deadline_of[woke[i]]);
}

/* ---- gt_sleep_ns(0) yields ----------------------------------------------- */

static char order[16];
static int order_len;

static void log_and_sleep0(void *arg)
{
    for (int i = 0; i < 2; i++) {
        order[order_len++] = (char)(intptr_t)arg;
        ASSERT_EQ(gt_sleep_ns(0), 0);
    }
}

static void sleep_zero(void *arg)
{
    (void)arg;
    gt_t a = tu_spawn(log_and_sleep0, (void *)(intptr_t)'A');
    gt_t b = tu_spawn(log_and_sleep0, (void *)(intptr_t)'B');
    tu_join(a);
    tu_join(b);
}

TEST_IMPL(sleep_zero_yields)
{
    tu_run(sleep_zero, NULL);
    ASSERT_STR_EQ(order, "ABAB");
}

/* ---- gt_now_ns is CLOCK_MONOTONIC and the time slept is at least asked -- */

/* gt_now_ns reads the kernel's clock at the call (gt.h): it lies between
 * two readings of CLOCK_MONOTONIC taken around it, exactly, however long
 * since the runtime last read the clock itself.  (The runtime's cheaper
 * clock drifts behind by up to 20 us between its real readings, so
 * within a few milliseconds of calls it would fall before `before`.) */
static void clock_and_elapsed(void *arg)
{
    (void)arg;
    int64_t start = tu_now_ns();
    int calls = 0;
    while (tu_now_ns() - start < 20 * TU_MS) {
        int64_t before = tu_now_ns();
        int64_t now = gt_now_ns();
        int64_t after = tu_now_ns();
        ASSERT_LE(before, now);
        ASSERT_LE(now, after);
        if (++calls % 1024 == 0)
            ASSERT_EQ(gt_sleep_ns(1000), 0); /* parks read the clock too */
    }
    static const int64_t asks[] = {1, 1000, 100 * 1000, TU_MS, 15 * TU_MS};
    for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++) {
        int64_t t0 = tu_now_ns();
        ASSERT_EQ(gt_sleep_ns(asks[i]), 0);
        ASSERT_GE(tu_now_ns() - t0, asks[i]);
    }
}

TEST_IMPL(sleep_elapsed)
{
    tu_run(clock_and_elapsed, NULL);
    /* gt_now_ns also works outside a green thread. */
    int64_t before = tu_now_ns();
    int64_t now = gt_now_ns();
    ASSERT_LE(before, now);
    ASSERT_LE(now, tu_now_ns());
}

/* ---- 10,000 timers: every thread wakes, none early ---------------------- */

#define SLEEPERS 10000
static int late_wakers;

static void sleep_some(void *arg)
{
    int64_t ns = (int64_t)(intptr_t)arg;
    int64_t t0 = tu_now_ns();
    ASSERT_EQ(gt_sleep_ns(ns), 0);
    ASSERT_GE(tu_now_ns() - t0, ns);
    late_wakers++;
}

static void many_sleepers(void *arg)
{
    static gt_t t[SLEEPERS];
    (void)arg;

    for (int i = 0; i < SLEEPERS; i++) {
        /* 0..99 ms plus a few microseconds, spread over the range. */
        int64_t ns = (int64_t)((i * 7919) % 100) * TU_MS + (i % 7) * 1000;
        t[i] = tu_spawn(sleep_some, (void *)(intptr_t)ns);
    }
    for (int i = 0; i < SLEEPERS; i++)
        tu_join(t[i]);
}

TEST_IMPL(sleep_many)
{
    tu_run(many_sleepers, NULL);
    ASSERT_EQ(late_wakers, SLEEPERS);
}
