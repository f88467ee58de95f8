/*
 * bench_pth.c - GNU Pth, the classic portable user-level threads library.
 * Every Pth switch goes through its scheduler thread, which also runs the
 * event manager (a select() over what waiting threads wait for), so a
 * yield costs two context switches and a system call: Pth is here to show
 * what a general, signal-safe design pays, not as a target.
 *
 * Scenarios:
 *   yield  two threads calling pth_yield(NULL) (let the scheduler pick the
 *          other one, as gt_yield does); ns per hand-off
 *   spawn  pth_spawn a joinable thread, pth_join it, n times; ns per thread
 */
#include "bench_util.h"

#include <pth.h>
#include <string.h>

/* gt's default usable stack size, so every runtime gets the same. */
#define STACK_SIZE (64 * 1024)

static pth_attr_t joinable_attr(void)
{
    pth_attr_t attr = pth_attr_new();
    if (!attr)
        bench_die_errno("pth_attr_new");
    if (!pth_attr_set(attr, PTH_ATTR_JOINABLE, TRUE) ||
        !pth_attr_set(attr, PTH_ATTR_STACK_SIZE, (unsigned int)STACK_SIZE))
        bench_die_errno("pth_attr_set");
    return attr;
}

static pth_t spawn(pth_attr_t attr, void *(*fn)(void *), void *arg)
{
    pth_t t = pth_spawn(attr, fn, arg);
    if (!t)
        bench_die_errno("pth_spawn");
    return t;
}

static void join(pth_t t)
{
    if (!pth_join(t, NULL))
        bench_die_errno("pth_join");
}

static void *yielder(void *arg)
{
    long rounds = *(long *)arg;
    for (long i = 0; i < rounds; i++)
        pth_yield(NULL);
    return NULL;
}

static void bench_yield(const bench_args_t *a)
{
    long handoffs = bench_n(a, 200000);
    int reps = bench_reps(a, 11);
    long rounds = handoffs / 2;
    pth_attr_t attr = joinable_attr();
    double ns[BENCH_MAX_REPS];

    for (int r = -1; r < reps; r++) { /* r == -1: warm-up, not recorded */
        int64_t t0 = bench_now_ns();
        pth_t t[2] = {spawn(attr, yielder, &rounds), spawn(attr, yielder, &rounds)};
        join(t[0]);
        join(t[1]);
        int64_t t1 = bench_now_ns();
        if (r >= 0)
            ns[r] = (double)(t1 - t0) / (double)(rounds * 2);
    }
    bench_report("yield", "pth", "ns", ns, reps, rounds * 2, NULL);
}

static void *trivial(void *arg)
{
    return arg;
}

static void bench_spawn(const bench_args_t *a)
{
    long threads = bench_n(a, 100000);
    int reps = bench_reps(a, 5);
    pth_attr_t attr = joinable_attr();
    double ns[BENCH_MAX_REPS];

    for (int r = -1; r < reps; r++) {
        int64_t t0 = bench_now_ns();
        for (long i = 0; i < threads; i++)
            join(spawn(attr, trivial, NULL));
        int64_t t1 = bench_now_ns();
        if (r >= 0)
            ns[r] = (double)(t1 - t0) / (double)threads;
    }
    bench_report("spawn", "pth", "ns", ns, reps, threads, NULL);
}

int main(int argc, char **argv)
{
    bench_args_t a;
    bench_parse_args(argc, argv, "yield spawn", &a);
    if (!pth_init())
        bench_die_errno("pth_init");
    if (!strcmp(a.scenario, "yield"))
        bench_yield(&a);
    else if (!strcmp(a.scenario, "spawn"))
        bench_spawn(&a);
    else
        bench_die("unknown scenario '%s' (yield spawn)", a.scenario);
    pth_kill();
    return 0;
}
