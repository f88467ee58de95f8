/*
 * bench_gt.c - gt's side of every benchmark.  The same source is linked
 * twice: against libgt.a (impl=gt, the normal build, registry updates on)
 * and against libgt-noinstr.a built with -DGT_NO_INSTRUMENT
 * (impl=gt-noinstr), so the table can say what the instrumentation costs.
 *
 * yield and spawn are also run with GT_WATCHDOG_MS=0 and then report as
 * impl=gt-nowd (see impl_name), so the table can say what the watchdog
 * costs.
 *
 * Every scenario runs inside gt_main.  Threads get an explicit 64 KiB
 * stack, the documented default, so GT_STACK_SIZE in the environment
 * cannot change what is measured and every peer gets the same size.
 *
 * Scenarios:
 *   yield          two threads calling gt_yield; ns per hand-off
 *   yield-parked   the same with `parked` (default 100,000) other threads
 *                  parked on a condition variable: a switch must not cost
 *                  more because more threads exist
 *   spawn          gt_spawn a trivial thread and gt_join it, n times;
 *                  ns per thread (create, first run, exit, reclaim)
 *   parkwake-cond  ping-pong through a gt_mutex and two gt_conds; ns per
 *                  hand-off (each is one signal and one park)
 *   parkwake-chan  ping-pong through two gt_chans of capacity 1; ns per
 *                  hand-off (each is one send that wakes and one recv
 *                  that parks)
 *   touch1k        spawn n threads that each write 1 KiB of their stack and
 *                  park; ns per thread until the last one is parked
 *   rss            n threads parked on a condition variable; RSS bytes per
 *                  thread
 *   million        spawn n (default 1,000,000) threads that park, release
 *                  them, join them all; ns per thread for the whole life
 *                  (bench=million) and peak RSS bytes per thread
 *                  (bench=million-rss)
 *
 * touch1k, rss and million run each repetition in a fresh process: they
 * measure first-touch memory, which a second repetition in the same
 * process would find already resident.
 */
#include "bench_util.h"

#include <gt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef BENCH_GT_IMPL
#define BENCH_GT_IMPL "gt"
#endif

static const gt_attr_t stack64k = {NULL, 64 * 1024, 0};

/* The name yield and spawn report under: BENCH_GT_IMPL, or with "-nowd"
 * when the runtime runs no watchdog (GT_WATCHDOG_MS=0), as its registry
 * says, so that a row can only name what was measured.  The
 * uninstrumented build never runs one and keeps its own name. */
static const char *impl_name(void)
{
#ifdef GT_NO_INSTRUMENT
    return BENCH_GT_IMPL;
#else
    return gt_registry.watchdog_ns ? BENCH_GT_IMPL : BENCH_GT_IMPL "-nowd";
#endif
}

static void spawn(gt_t *t, void (*fn)(void *), void *arg)
{
    if (gt_spawn(t, fn, arg, &stack64k) < 0)
        bench_die_errno("gt_spawn");
}

static void join(gt_t t)
{
    if (gt_join(t) < 0)
        bench_die_errno("gt_join of thread %llu", (unsigned long long)t.id);
}

/* Handles for n threads, resident before any memory reading. */
static gt_t *new_handles(long n)
{
    gt_t *t = calloc((size_t)n, sizeof *t);
    if (!t)
        bench_die_errno("calloc of %ld thread handles", n);
    memset(t, 0, (size_t)n * sizeof *t);
    return t;
}

/* Runs fn(arg) as the first green thread; the runtime must come back with
 * every thread gone. */
static void run_gt(void (*fn)(void *), void *arg)
{
    if (gt_main(fn, arg) < 0)
        bench_die_errno("gt_main");
}

/* ---- parking many threads -------------------------------------------------- */

/* A crowd of threads that arrive, park on `release`, and leave when told.
 * Used by yield-parked, touch1k, rss and million. */
static struct {
    gt_mutex_t lock;
    gt_cond_t all_in;  /* the first thread waits here for the last arrival */
    gt_cond_t release; /* the crowd waits here */
    long threads, arrived;
    int released;
    int touch; /* write 1 KiB of stack before parking */
} crowd = {GT_MUTEX_INITIALIZER, GT_COND_INITIALIZER, GT_COND_INITIALIZER,
           0, 0, 0, 0};

static void crowd_member(void *arg)
{
    (void)arg;
    if (crowd.touch) {
        char buf[1024];
        bench_touch(buf, sizeof buf);
    }
    gt_mutex_lock(&crowd.lock);
    if (++crowd.arrived == crowd.threads)
        gt_cond_signal(&crowd.all_in);
    while (!crowd.released)
        if (gt_cond_wait(&crowd.release, &crowd.lock) < 0)
            bench_die_errno("gt_cond_wait");
    gt_mutex_unlock(&crowd.lock);
}

static void crowd_spawn(gt_t *t, long n, int touch)
{
    crowd.threads = n;
    crowd.arrived = 0;
    crowd.released = 0;
    crowd.touch = touch;
    for (long i = 0; i < n; i++)
        spawn(&t[i], crowd_member, NULL);
}

static void crowd_wait_parked(void)
{
    gt_mutex_lock(&crowd.lock);
    while (crowd.arrived < crowd.threads)
        if (gt_cond_wait(&crowd.all_in, &crowd.lock) < 0)
            bench_die_errno("gt_cond_wait");
    gt_mutex_unlock(&crowd.lock);
}

static void crowd_release_and_join(gt_t *t, long n)
{
    gt_mutex_lock(&crowd.lock);
    crowd.released = 1;
    gt_cond_broadcast(&crowd.release);
    gt_mutex_unlock(&crowd.lock);
    for (long i = 0; i < n; i++)
        join(t[i]);
}

/* ---- yield, yield-parked --------------------------------------------------- */

struct yield_job {
    const bench_args_t *args;
    long parked; /* threads parked during the measurement */
};

static void yielder(void *arg)
{
    long rounds = *(long *)arg;
    for (long i = 0; i < rounds; i++)
        if (gt_yield() < 0)
            bench_die_errno("gt_yield");
}

static void yield_main(void *arg)
{
    struct yield_job *job = arg;
    long rounds = bench_n(job->args, 4000000) / 2;
    int reps = bench_reps(job->args, 11);
    double ns[BENCH_MAX_REPS];
    gt_t *crowd_handles = NULL;

    if (job->parked) {
        crowd_handles = new_handles(job->parked);
        crowd_spawn(crowd_handles, job->parked, 0);
        crowd_wait_parked();
    }
    for (int r = -1; r < reps; r++) { /* r == -1: warm-up, not recorded */
        gt_t t[2];
        int64_t t0 = bench_now_ns();
        spawn(&t[0], yielder, &rounds);
        spawn(&t[1], yielder, &rounds);
        join(t[0]);
        join(t[1]);
        int64_t t1 = bench_now_ns();
        if (r >= 0)
            ns[r] = (double)(t1 - t0) / (double)(rounds * 2);
    }
    if (job->parked) {
        crowd_release_and_join(crowd_handles, job->parked);
        free(crowd_handles);
    }
    char extra[48] = "";
    if (job->parked)
        snprintf(extra, sizeof extra, "parked=%ld", job->parked);
    bench_report(job->parked ? "yield-parked" : "yield", impl_name(), "ns", ns,
                 reps, rounds * 2, job->parked ? extra : NULL);
}

/* ---- spawn ------------------------------------------------------------------ */

static void trivial(void *arg)
{
    (void)arg;
}

static void spawn_main(void *arg)
{
    const bench_args_t *a = arg;
    long threads = bench_n(a, 100000);
    int reps = bench_reps(a, 11);
    double ns[BENCH_MAX_REPS];

    for (int r = -1; r < reps; r++) {
        int64_t t0 = bench_now_ns();
        for (long i = 0; i < threads; i++) {
            gt_t t;
            spawn(&t, trivial, NULL);
            join(t);
        }
        int64_t t1 = bench_now_ns();
        if (r >= 0)
            ns[r] = (double)(t1 - t0) / (double)threads;
    }
    bench_report("spawn", impl_name(), "ns", ns, reps, threads, NULL);
}

/* ---- parkwake-cond ---------------------------------------------------------- */

static struct {
    gt_mutex_t lock;
    gt_cond_t cond[2]; /* cond[k]: side k waits here for its turn */
    int turn;
    long rounds;
} cond_pp = {GT_MUTEX_INITIALIZER, {GT_COND_INITIALIZER, GT_COND_INITIALIZER}, 0, 0};

static void cond_side(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (long i = 0; i < cond_pp.rounds; i++) {
        gt_mutex_lock(&cond_pp.lock);
        while (cond_pp.turn != me)
            if (gt_cond_wait(&cond_pp.cond[me], &cond_pp.lock) < 0)
                bench_die_errno("gt_cond_wait");
        cond_pp.turn = !me;
        gt_cond_signal(&cond_pp.cond[!me]);
        gt_mutex_unlock(&cond_pp.lock);
    }
}

/* ---- parkwake-chan ---------------------------------------------------------- */

static struct {
    gt_chan_t *to[2]; /* to[k]: messages for side k */
    long rounds;
} chan_pp;

static void chan_side(void *arg)
{
    int me = (int)(intptr_t)arg;
    void *msg = &chan_pp;
    for (long i = 0; i < chan_pp.rounds; i++) {
        if (me == 0 && gt_chan_send(chan_pp.to[1], msg, GT_FOREVER) < 0)
            bench_die_errno("gt_chan_send");
        if (gt_chan_recv(chan_pp.to[me], &msg, GT_FOREVER) < 0)
            bench_die_errno("gt_chan_recv");
        if (me == 1 && gt_chan_send(chan_pp.to[0], msg, GT_FOREVER) < 0)
            bench_die_errno("gt_chan_send");
    }
}

struct parkwake_job {
    const bench_args_t *args;
    int chan; /* 0: cond, 1: chan */
};

static void parkwake_main(void *arg)
{
    struct parkwake_job *job = arg;
    long rounds = bench_n(job->args, 2000000) / 2;
    int reps = bench_reps(job->args, 11);
    double ns[BENCH_MAX_REPS];
    void (*side)(void *) = job->chan ? chan_side : cond_side;

    cond_pp.rounds = chan_pp.rounds = rounds;
    if (job->chan)
        for (int k = 0; k < 2; k++)
            if (!(chan_pp.to[k] = gt_chan_create(1)))
                bench_die_errno("gt_chan_create");
    for (int r = -1; r < reps; r++) {
        gt_t t[2];
        cond_pp.turn = 0;
        int64_t t0 = bench_now_ns();
        spawn(&t[0], side, (void *)(intptr_t)0);
        spawn(&t[1], side, (void *)(intptr_t)1);
        join(t[0]);
        join(t[1]);
        int64_t t1 = bench_now_ns();
        if (r >= 0)
            ns[r] = (double)(t1 - t0) / (double)(rounds * 2);
    }
    if (job->chan)
        for (int k = 0; k < 2; k++)
            if (gt_chan_destroy(chan_pp.to[k]) < 0)
                bench_die_errno("gt_chan_destroy");
    bench_report("parkwake", job->chan ? BENCH_GT_IMPL "-chan" : BENCH_GT_IMPL "-cond",
                 "ns", ns, reps, rounds * 2, NULL);
}

/* ---- touch1k, rss, million: one fresh process per repetition ----------------- */

enum crowd_kind { TOUCH1K, RSS, MILLION };

static struct {
    enum crowd_kind kind;
    long n;
    bench_sample_t sample; /* what the child's gt_main leaves behind */
} crowd_job;

static void crowd_main(void *arg)
{
    (void)arg;
    long n = crowd_job.n;
    gt_t *t = new_handles(n);
    bench_sample_t *s = &crowd_job.sample;

    long rss0 = bench_rss_bytes();
    int64_t t0 = bench_now_ns();
    crowd_spawn(t, n, crowd_job.kind == TOUCH1K);
    crowd_wait_parked();
    int64_t t1 = bench_now_ns();
    long rss1 = bench_rss_bytes();
    crowd_release_and_join(t, n);
    int64_t t2 = bench_now_ns();

    switch (crowd_job.kind) {
    case TOUCH1K:
        s->v[0] = (double)(t1 - t0) / (double)n;
        break;
    case RSS:
        s->v[0] = (double)(rss1 - rss0) / (double)n;
        break;
    case MILLION:
        s->v[0] = (double)(t2 - t0) / (double)n;
        s->v[1] = (double)(bench_peak_rss_bytes() - rss0) / (double)n;
        s->v[2] = (double)bench_peak_rss_bytes();
        s->v[3] = (double)(t1 - t0) / (double)n;
        break;
    }
    free(t);
}

static bench_sample_t crowd_once(void *arg)
{
    (void)arg;
    memset(&crowd_job.sample, 0, sizeof crowd_job.sample);
    run_gt(crowd_main, NULL);
    return crowd_job.sample;
}

static void bench_crowd(const bench_args_t *a, enum crowd_kind kind)
{
    crowd_job.kind = kind;
    crowd_job.n = bench_n(a, kind == MILLION ? 1000000 : 100000);
    int reps = bench_reps(a, kind == MILLION ? 3 : kind == RSS ? 5 : 7);
    bench_sample_t s[BENCH_MAX_REPS];
    double v[BENCH_MAX_REPS], peak[BENCH_MAX_REPS];
    bench_forked_reps(reps, crowd_once, NULL, s);
    for (int r = 0; r < reps; r++) {
        v[r] = s[r].v[0];
        peak[r] = s[r].v[1];
    }
    long n = crowd_job.n;
    if (kind == TOUCH1K) {
        bench_report("touch1k", BENCH_GT_IMPL, "ns", v, reps, n, NULL);
    } else if (kind == RSS) {
        bench_report("rss", BENCH_GT_IMPL, "bytes", v, reps, n, NULL);
    } else {
        /* The spawn-and-park part alone and the whole peak, from the
         * repetition with the median lifetime, for the notes column. */
        double life[BENCH_MAX_REPS];
        memcpy(life, v, sizeof life);
        double med = bench_median(life, reps);
        int mid = 0;
        for (int r = 0; r < reps; r++)
            if (s[r].v[0] == med)
                mid = r;
        char extra[96];
        snprintf(extra, sizeof extra, "park_ns=%.1f peak_rss_mib=%.1f",
                 s[mid].v[3], s[mid].v[2] / (1024.0 * 1024.0));
        bench_report("million", BENCH_GT_IMPL, "ns", v, reps, n, extra);
        bench_report("million-rss", BENCH_GT_IMPL, "bytes", peak, reps, n, extra);
    }
}

int main(int argc, char **argv)
{
    const char *scenarios = "yield yield-parked spawn parkwake-cond parkwake-chan "
                            "touch1k rss million";
    bench_args_t a;
    bench_parse_args(argc, argv, scenarios, &a);
    const char *sc = a.scenario;
    if (!strcmp(sc, "yield") || !strcmp(sc, "yield-parked")) {
        struct yield_job job = {&a, 0};
        if (!strcmp(sc, "yield-parked"))
            job.parked = a.parked ? a.parked : 100000;
        run_gt(yield_main, &job);
    } else if (!strcmp(sc, "spawn")) {
        run_gt(spawn_main, &a);
    } else if (!strcmp(sc, "parkwake-cond") || !strcmp(sc, "parkwake-chan")) {
        struct parkwake_job job = {&a, !strcmp(sc, "parkwake-chan")};
        run_gt(parkwake_main, &job);
    } else if (!strcmp(sc, "touch1k")) {
        bench_crowd(&a, TOUCH1K);
    } else if (!strcmp(sc, "rss")) {
        bench_crowd(&a, RSS);
    } else if (!strcmp(sc, "million")) {
        bench_crowd(&a, MILLION);
    } else {
        bench_die("unknown scenario '%s' (%s)", sc, scenarios);
    }
    return 0;
}
