/*
 * bench_st.c - State Threads (libst), the runtime gt's own layout follows:
 * cooperative M:1 threads whose switch is a setjmp/longjmp pair.
 *
 * ST has no yield call.  The two candidates are st_usleep(0) and a
 * condition-variable ping-pong.  st_usleep(0) puts the caller on the sleep
 * queue, so once both threads sleep the run queue is empty and every round
 * trip goes through ST's idle thread: a poll of the event system plus a
 * clock read.  st_cond_signal moves the waiter straight onto the run queue
 * and st_cond_wait switches to it, no system call at all, so the cond
 * ping-pong is the cheapest true hand-off and is what "yield" measures
 * (yield-usleep0 is kept so the claim can be checked).  Its conditions
 * need no mutex (nothing can run between the test and the wait), so the
 * park/wake scenario is the same ping-pong: ST's park and wake *is* a
 * cond signal and wait.
 *
 * Scenarios:
 *   yield, parkwake  cond ping-pong between two threads; ns per hand-off
 *   yield-usleep0    two threads calling st_usleep(0); ns per hand-off
 *   spawn            create a joinable thread, join it, n times; ns per thread
 *   rss              n threads parked on a cond; RSS bytes per thread, one
 *                    fresh process per repetition
 */
#include "bench_util.h"

#include <st.h>
#include <stdlib.h>
#include <string.h>

/* gt's default usable stack size, so every runtime gets the same. */
#define STACK_SIZE (64 * 1024)

static st_thread_t spawn(void *(*fn)(void *), void *arg, int joinable)
{
    st_thread_t t = st_thread_create(fn, arg, joinable, STACK_SIZE);
    if (!t)
        bench_die_errno("st_thread_create");
    return t;
}

static void join(st_thread_t t)
{
    if (st_thread_join(t, NULL) < 0)
        bench_die_errno("st_thread_join");
}

static st_cond_t new_cond(void)
{
    st_cond_t c = st_cond_new();
    if (!c)
        bench_die_errno("st_cond_new");
    return c;
}

/* ---- yield / parkwake: cond ping-pong ------------------------------------ */

struct pingpong {
    st_cond_t cond[2]; /* cond[k]: side k waits here for its turn */
    int turn;          /* whose turn it is */
    long rounds;       /* turns each side takes */
};

struct side {
    struct pingpong *pp;
    int me;
};

static void *pingpong_side(void *arg)
{
    struct side *s = arg;
    struct pingpong *pp = s->pp;
    for (long i = 0; i < pp->rounds; i++) {
        while (pp->turn != s->me)
            if (st_cond_wait(pp->cond[s->me]) < 0)
                bench_die_errno("st_cond_wait");
        pp->turn = !s->me;
        st_cond_signal(pp->cond[!s->me]);
    }
    return NULL;
}

static void *usleep0_side(void *arg)
{
    long rounds = *(long *)arg;
    for (long i = 0; i < rounds; i++)
        if (st_usleep(0) < 0)
            bench_die_errno("st_usleep");
    return NULL;
}

static void bench_pingpong(const bench_args_t *a, const char *bench, int usleep0)
{
    long handoffs = bench_n(a, usleep0 ? 400000 : 2000000);
    int reps = bench_reps(a, 11);
    double ns[BENCH_MAX_REPS];
    struct pingpong pp = {{new_cond(), new_cond()}, 0, handoffs / 2};
    struct side sides[2] = {{&pp, 0}, {&pp, 1}};

    for (int r = -1; r < reps; r++) { /* r == -1: warm-up, not recorded */
        pp.turn = 0;
        int64_t t0 = bench_now_ns();
        st_thread_t t[2];
        for (int k = 0; k < 2; k++)
            t[k] = usleep0 ? spawn(usleep0_side, &pp.rounds, 1)
                           : spawn(pingpong_side, &sides[k], 1);
        join(t[0]);
        join(t[1]);
        int64_t t1 = bench_now_ns();
        if (r >= 0)
            ns[r] = (double)(t1 - t0) / (double)(pp.rounds * 2);
    }
    bench_report(bench, usleep0 ? "st-usleep0" : "st", "ns", ns, reps,
                 pp.rounds * 2, NULL);
}

/* ---- spawn --------------------------------------------------------------- */

static void *trivial(void *arg)
{
    return arg;
}

static void bench_spawn(const bench_args_t *a)
{
    long threads = bench_n(a, 100000);
    int reps = bench_reps(a, 11);
    double ns[BENCH_MAX_REPS];

    for (int r = -1; r < reps; r++) {
        int64_t t0 = bench_now_ns();
        for (long i = 0; i < threads; i++)
            join(spawn(trivial, NULL, 1));
        int64_t t1 = bench_now_ns();
        if (r >= 0)
            ns[r] = (double)(t1 - t0) / (double)threads;
    }
    bench_report("spawn", "st", "ns", ns, reps, threads, NULL);
}

/* ---- rss: memory per parked thread --------------------------------------- */

static struct {
    long threads;      /* to park */
    long arrived;      /* parked so far */
    int released;      /* set when they may exit */
    st_cond_t all_in;  /* the main thread waits here for the last arrival */
    st_cond_t release; /* the parked threads wait here */
} park;

static void *parker(void *arg)
{
    if (++park.arrived == park.threads)
        st_cond_signal(park.all_in);
    while (!park.released)
        if (st_cond_wait(park.release) < 0)
            bench_die_errno("st_cond_wait");
    return arg;
}

static bench_sample_t rss_once(void *arg)
{
    (void)arg;
    if (st_init() < 0)
        bench_die_errno("st_init");
    long n = park.threads;
    st_thread_t *t = calloc((size_t)n, sizeof *t);
    if (!t)
        bench_die_errno("calloc of %ld thread handles", n);
    memset(t, 0, (size_t)n * sizeof *t); /* resident before the first reading */
    park.all_in = new_cond();
    park.release = new_cond();

    long before = bench_rss_bytes();
    for (long i = 0; i < n; i++)
        t[i] = spawn(parker, NULL, 1);
    while (park.arrived < n)
        st_cond_wait(park.all_in);
    long after = bench_rss_bytes();

    park.released = 1;
    st_cond_broadcast(park.release);
    for (long i = 0; i < n; i++)
        join(t[i]);
    bench_sample_t s;
    memset(&s, 0, sizeof s);
    s.v[0] = (double)(after - before) / (double)n;
    return s;
}

static void bench_rss(const bench_args_t *a)
{
    park.threads = bench_n(a, 100000);
    int reps = bench_reps(a, 5);
    bench_sample_t s[BENCH_MAX_REPS];
    double bytes[BENCH_MAX_REPS];
    /* st_init runs in each child: the runtime's own start-up memory is not
     * a per-thread cost and is resident before the first reading. */
    bench_forked_reps(reps, rss_once, NULL, s);
    for (int r = 0; r < reps; r++)
        bytes[r] = s[r].v[0];
    bench_report("rss", "st", "bytes", bytes, reps, park.threads, NULL);
}

int main(int argc, char **argv)
{
    const char *scenarios = "yield parkwake yield-usleep0 spawn rss";
    bench_args_t a;
    bench_parse_args(argc, argv, scenarios, &a);
    int rss = !strcmp(a.scenario, "rss");
    /* The rss children must each start ST themselves (see bench_rss). */
    if (!rss && st_init() < 0)
        bench_die_errno("st_init");
    if (!strcmp(a.scenario, "yield"))
        bench_pingpong(&a, "yield", 0);
    else if (!strcmp(a.scenario, "parkwake"))
        bench_pingpong(&a, "parkwake", 0);
    else if (!strcmp(a.scenario, "yield-usleep0"))
        bench_pingpong(&a, "yield", 1);
    else if (!strcmp(a.scenario, "spawn"))
        bench_spawn(&a);
    else if (rss)
        bench_rss(&a);
    else
        bench_die("unknown scenario '%s' (%s)", a.scenario, scenarios);
    return 0;
}
