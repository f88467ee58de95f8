/*
 * bench_pthread.c - kernel threads (glibc pthreads): the thing green
 * threads replace.  The process pins itself to one CPU first, because
 * every green-thread runtime here runs on one core: a hand-off is then a
 * same-core kernel context switch, not a cross-core wake-up whose cost
 * depends on how deep the idle core sleeps.
 *
 * Scenarios:
 *   yield     two threads hand a futex word back and forth (FUTEX_WAIT /
 *             FUTEX_WAKE directly: the cheapest kernel hand-off, with none
 *             of a mutex's or condvar's bookkeeping); ns per hand-off
 *   parkwake  the same ping-pong through a mutex and two condition
 *             variables, the way portable code parks; ns per hand-off
 *   spawn     pthread_create (64 KiB stack) + pthread_join, n times;
 *             ns per thread
 *   mutex     two figures: an uncontended pthread_mutex_lock + unlock pair
 *             in one thread, n times (bench=mutex, ns per pair), and a
 *             contended hand-off: two threads pass three mutexes around so
 *             that every lock waits for the other thread's unlock
 *             (bench=mutex-handoff, ns per hand-off)
 *   rss       n threads with the smallest stack glibc allows, parked on a
 *             condvar; user-space RSS bytes per thread (impl=pthread), and
 *             the same plus the kernel stack each thread costs, read from
 *             KernelStack in /proc/meminfo (impl=pthread-kstack).  Default
 *             n is 10,000, not 100,000: kernel.pid_max is often 32768 and
 *             every thread takes a pid.  The per-thread figure does not
 *             depend on n, so it compares directly.
 */
#include "bench_util.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SPAWN_STACK_SIZE (64 * 1024) /* gt's default */

static void check(int err, const char *what)
{
    if (err) {
        errno = err;
        bench_die_errno("%s", what);
    }
}

static void pin_to_one_cpu(void)
{
    cpu_set_t allowed, one;
    if (sched_getaffinity(0, sizeof allowed, &allowed) < 0)
        bench_die_errno("sched_getaffinity");
    CPU_ZERO(&one);
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &allowed)) {
            CPU_SET(cpu, &one);
            break;
        }
    if (sched_setaffinity(0, sizeof one, &one) < 0)
        bench_die_errno("sched_setaffinity");
}

static pthread_t spawn(void *(*fn)(void *), void *arg, size_t stack_size)
{
    pthread_attr_t attr;
    pthread_t t;
    check(pthread_attr_init(&attr), "pthread_attr_init");
    check(pthread_attr_setstacksize(&attr, stack_size), "pthread_attr_setstacksize");
    check(pthread_create(&t, &attr, fn, arg), "pthread_create");
    pthread_attr_destroy(&attr);
    return t;
}

static void join(pthread_t t)
{
    check(pthread_join(t, NULL), "pthread_join");
}

/* ---- yield: futex ping-pong ----------------------------------------------- */

static struct {
    _Atomic int turn; /* whose turn: 0 or 1 */
    long rounds;      /* turns each side takes */
} futex_pp;

static void futex_call(_Atomic int *word, int op, int val)
{
    if (syscall(SYS_futex, word, op, val, NULL, NULL, 0) < 0 && errno != EAGAIN &&
        errno != EINTR)
        bench_die_errno("futex");
}

static void *futex_side(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (long i = 0; i < futex_pp.rounds; i++) {
        while (atomic_load(&futex_pp.turn) != me)
            futex_call(&futex_pp.turn, FUTEX_WAIT_PRIVATE, !me);
        atomic_store(&futex_pp.turn, !me);
        futex_call(&futex_pp.turn, FUTEX_WAKE_PRIVATE, 1);
    }
    return NULL;
}

/* ---- parkwake: condvar ping-pong ------------------------------------------ */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond[2]; /* cond[k]: side k waits here for its turn */
    int turn;
    long rounds;
} cond_pp = {PTHREAD_MUTEX_INITIALIZER,
             {PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER}, 0, 0};

static void *cond_side(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (long i = 0; i < cond_pp.rounds; i++) {
        pthread_mutex_lock(&cond_pp.lock);
        while (cond_pp.turn != me)
            pthread_cond_wait(&cond_pp.cond[me], &cond_pp.lock);
        cond_pp.turn = !me;
        pthread_cond_signal(&cond_pp.cond[!me]);
        pthread_mutex_unlock(&cond_pp.lock);
    }
    return NULL;
}

static void bench_pingpong(const bench_args_t *a, int use_cond)
{
    long handoffs = bench_n(a, 100000);
    int reps = bench_reps(a, 11);
    long rounds = handoffs / 2;
    double ns[BENCH_MAX_REPS];
    futex_pp.rounds = cond_pp.rounds = rounds;

    for (int r = -1; r < reps; r++) { /* r == -1: warm-up, not recorded */
        atomic_store(&futex_pp.turn, 0);
        cond_pp.turn = 0;
        int64_t t0 = bench_now_ns();
        pthread_t t[2];
        for (int k = 0; k < 2; k++)
            t[k] = spawn(use_cond ? cond_side : futex_side, (void *)(intptr_t)k,
                         SPAWN_STACK_SIZE);
        join(t[0]);
        join(t[1]);
        int64_t t1 = bench_now_ns();
        if (r >= 0)
            ns[r] = (double)(t1 - t0) / (double)(rounds * 2);
    }
    bench_report(use_cond ? "parkwake" : "yield",
                 use_cond ? "pthread-condvar" : "pthread-futex", "ns", ns, reps,
                 rounds * 2, NULL);
}

/* ---- spawn ---------------------------------------------------------------- */

static void *trivial(void *arg)
{
    return arg;
}

static void bench_spawn(const bench_args_t *a)
{
    long threads = bench_n(a, 100000);
    int reps = bench_reps(a, 5);
    double ns[BENCH_MAX_REPS];

    for (int r = -1; r < reps; r++) {
        int64_t t0 = bench_now_ns();
        for (long i = 0; i < threads; i++)
            join(spawn(trivial, NULL, SPAWN_STACK_SIZE));
        int64_t t1 = bench_now_ns();
        if (r >= 0)
            ns[r] = (double)(t1 - t0) / (double)threads;
    }
    bench_report("spawn", "pthread", "ns", ns, reps, threads, NULL);
}

/* ---- mutex: uncontended pair, contended hand-off ------------------------- */

/*
 * The hand-off with mutexes alone, each unlocked by the thread that locked
 * it (as POSIX asks).  Three mutexes: side 0 starts holding m[0] and m[1],
 * side 1 holding m[2].  Step j of side 0 unlocks m[j % 3] and locks
 * m[(j + 2) % 3], which side 1 holds until its own step j; step j of side
 * 1 unlocks m[(j + 2) % 3] and locks m[(j + 1) % 3], which side 0 holds
 * until its step j + 1.  So every lock waits for the other side, and the
 * two alternate: one hand-off per lock.  A barrier makes both hold their
 * first mutexes before either steps.
 */
static struct {
    pthread_mutex_t m[3];
    pthread_barrier_t start;
    long steps; /* steps of each side */
} mutex_pp = {.m = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
                    PTHREAD_MUTEX_INITIALIZER}};

static void lock(pthread_mutex_t *m)
{
    check(pthread_mutex_lock(m), "pthread_mutex_lock");
}

static void unlock(pthread_mutex_t *m)
{
    check(pthread_mutex_unlock(m), "pthread_mutex_unlock");
}

static void *mutex_side(void *arg)
{
    int me = (int)(intptr_t)arg;
    long steps = mutex_pp.steps;
    if (me == 0) {
        lock(&mutex_pp.m[0]);
        lock(&mutex_pp.m[1]);
    } else {
        lock(&mutex_pp.m[2]);
    }
    int b = pthread_barrier_wait(&mutex_pp.start);
    if (b && b != PTHREAD_BARRIER_SERIAL_THREAD)
        check(b, "pthread_barrier_wait");
    if (me == 0) {
        for (long j = 0; j < steps; j++) {
            unlock(&mutex_pp.m[j % 3]);
            lock(&mutex_pp.m[(j + 2) % 3]);
        }
        /* Holds m[steps % 3] and m[(steps + 1) % 3]. */
        unlock(&mutex_pp.m[steps % 3]);
        unlock(&mutex_pp.m[(steps + 1) % 3]);
    } else {
        lock(&mutex_pp.m[0]);
        /* Its last step would wait for a step side 0 never takes. */
        for (long j = 0; j < steps - 1; j++) {
            unlock(&mutex_pp.m[(j + 2) % 3]);
            lock(&mutex_pp.m[(j + 1) % 3]);
        }
        /* Holds m[(steps + 1) % 3] and m[(steps + 2) % 3]. */
        unlock(&mutex_pp.m[(steps + 1) % 3]);
        unlock(&mutex_pp.m[(steps + 2) % 3]);
    }
    return NULL;
}

static void bench_mutex(const bench_args_t *a)
{
    long n = bench_n(a, 100000);
    int reps = bench_reps(a, 11);
    double pair[BENCH_MAX_REPS], handoff[BENCH_MAX_REPS];
    pthread_mutex_t m;
    check(pthread_mutex_init(&m, NULL), "pthread_mutex_init");
    check(pthread_barrier_init(&mutex_pp.start, NULL, 2), "pthread_barrier_init");
    /* Each side's steps: side 0 locks n times, side 1 n - 1 times and
       once before its loop, so 2n locks wait in all. */
    mutex_pp.steps = n < 2 ? 2 : n;
    long locks = 2 * mutex_pp.steps;

    for (int r = -1; r < reps; r++) { /* r == -1: warm-up, not recorded */
        int64_t t0 = bench_now_ns();
        for (long i = 0; i < n; i++) {
            lock(&m);
            unlock(&m);
        }
        int64_t t1 = bench_now_ns();
        pthread_t t[2];
        for (int k = 0; k < 2; k++)
            t[k] = spawn(mutex_side, (void *)(intptr_t)k, SPAWN_STACK_SIZE);
        join(t[0]);
        join(t[1]);
        int64_t t2 = bench_now_ns();
        if (r >= 0) {
            pair[r] = (double)(t1 - t0) / (double)n;
            handoff[r] = (double)(t2 - t1) / (double)locks;
        }
    }
    pthread_barrier_destroy(&mutex_pp.start);
    pthread_mutex_destroy(&m);
    bench_report("mutex", "pthread", "ns", pair, reps, n, NULL);
    bench_report("mutex-handoff", "pthread", "ns", handoff, reps, locks, NULL);
}

/* ---- rss: memory per parked thread ---------------------------------------- */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t all_in;  /* the main thread waits for the last arrival */
    pthread_cond_t release; /* the parked threads wait here */
    long threads, arrived;
    int released;
} park = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
          PTHREAD_COND_INITIALIZER, 0, 0, 0};

static void *parker(void *arg)
{
    pthread_mutex_lock(&park.lock);
    if (++park.arrived == park.threads)
        pthread_cond_signal(&park.all_in);
    while (!park.released)
        pthread_cond_wait(&park.release, &park.lock);
    pthread_mutex_unlock(&park.lock);
    return arg;
}

static bench_sample_t rss_once(void *arg)
{
    (void)arg;
    long n = park.threads;
    size_t stack_size = (size_t)sysconf(_SC_THREAD_STACK_MIN);
    pthread_t *t = calloc((size_t)n, sizeof *t);
    if (!t)
        bench_die_errno("calloc of %ld thread handles", n);
    memset(t, 0, (size_t)n * sizeof *t); /* resident before the first reading */

    long before = bench_rss_bytes();
    long kstack_before = bench_meminfo_bytes("KernelStack");
    for (long i = 0; i < n; i++)
        t[i] = spawn(parker, NULL, stack_size);
    pthread_mutex_lock(&park.lock);
    while (park.arrived < n)
        pthread_cond_wait(&park.all_in, &park.lock);
    pthread_mutex_unlock(&park.lock);
    long after = bench_rss_bytes();
    long kstack_after = bench_meminfo_bytes("KernelStack");

    pthread_mutex_lock(&park.lock);
    park.released = 1;
    pthread_cond_broadcast(&park.release);
    pthread_mutex_unlock(&park.lock);
    for (long i = 0; i < n; i++)
        join(t[i]);

    bench_sample_t s;
    memset(&s, 0, sizeof s);
    s.v[0] = (double)(after - before) / (double)n;
    s.v[1] = (double)(kstack_after - kstack_before) / (double)n;
    s.v[2] = (double)stack_size;
    return s;
}

static void bench_rss(const bench_args_t *a)
{
    park.threads = bench_n(a, 10000);
    int reps = bench_reps(a, 5);
    bench_sample_t s[BENCH_MAX_REPS];
    double user[BENCH_MAX_REPS], with_kernel[BENCH_MAX_REPS];
    bench_forked_reps(reps, rss_once, NULL, s);
    for (int r = 0; r < reps; r++) {
        user[r] = s[r].v[0];
        with_kernel[r] = s[r].v[0] + s[r].v[1];
    }
    char extra[64];
    snprintf(extra, sizeof extra, "stack=%.0f", s[0].v[2]);
    bench_report("rss", "pthread", "bytes", user, reps, park.threads, extra);
    bench_report("rss", "pthread-kstack", "bytes", with_kernel, reps, park.threads,
                 extra);
}

int main(int argc, char **argv)
{
    const char *scenarios = "yield parkwake spawn mutex rss";
    bench_args_t a;
    bench_parse_args(argc, argv, scenarios, &a);
    pin_to_one_cpu();
    if (!strcmp(a.scenario, "yield"))
        bench_pingpong(&a, 0);
    else if (!strcmp(a.scenario, "parkwake"))
        bench_pingpong(&a, 1);
    else if (!strcmp(a.scenario, "spawn"))
        bench_spawn(&a);
    else if (!strcmp(a.scenario, "mutex"))
        bench_mutex(&a);
    else if (!strcmp(a.scenario, "rss"))
        bench_rss(&a);
    else
        bench_die("unknown scenario '%s' (%s)", a.scenario, scenarios);
    return 0;
}
