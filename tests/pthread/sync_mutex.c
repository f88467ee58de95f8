/*
 * sync_mutex.c - pthread_mutex_* as POSIX states it, natively and on gt:
 * the static initializers of each type, exclusion among many threads,
 * recursive counts, errorcheck's EDEADLK and EPERM, timed locks on both
 * clocks, destroy, the attributes.  On gt also: waiters are served in
 * arrival order.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "sync_check.h"

static int on_gt(void) { return dlsym(RTLD_DEFAULT, "gt_main") != NULL; }

/* ---- exclusion among many threads --------------------------------------- */

#define NTHREADS 64
#define ROUNDS 200

static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static int inside, most_inside;

static void *bump(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&counter_lock);
        if (++inside > most_inside)
            most_inside = inside;
        long v = counter;
        if (i % 40 == 0)
            usleep(50); /* give the others a chance to find it held */
        counter = v + 1;
        inside--;
        pthread_mutex_unlock(&counter_lock);
    }
    return NULL;
}

static void test_contention(void)
{
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, bump, NULL), 0);
    for (int i = 0; i < NTHREADS; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    CHECK_EQ(counter, NTHREADS * ROUNDS);
    CHECK_EQ(most_inside, 1);
}

/* ---- arrival order (gt only: glibc's mutex lets a newcomer barge) ------- */

#define NFIFO 16
static pthread_mutex_t fifo_lock = PTHREAD_MUTEX_INITIALIZER;
static int fifo_order[NFIFO], fifo_n;
static volatile int fifo_arrived;

static void *fifo_waiter(void *arg)
{
    int me = (int)(intptr_t)arg;
    fifo_arrived++;
    pthread_mutex_lock(&fifo_lock);
    fifo_order[fifo_n++] = me;
    pthread_mutex_unlock(&fifo_lock);
    return NULL;
}

static void test_fifo(void)
{
    pthread_t t[NFIFO];
    pthread_mutex_lock(&fifo_lock);
    for (int i = 0; i < NFIFO; i++) {
        CHECK_EQ(pthread_create(&t[i], NULL, fifo_waiter, (void *)(intptr_t)i), 0);
        /* Let thread i queue before thread i+1 starts. */
        while (fifo_arrived <= i)
            usleep(100);
        usleep(1000);
    }
    pthread_mutex_unlock(&fifo_lock);
    for (int i = 0; i < NFIFO; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(fifo_n, NFIFO);
    if (on_gt())
        for (int i = 0; i < NFIFO; i++)
            CHECK_EQ(fifo_order[i], i);
}

/* ---- another thread's attempt ------------------------------------------- */

struct attempt {
    pthread_mutex_t *m;
    int op;            /* 0 trylock, 1 unlock, 2 timedlock 30 ms */
    int result;
    int reached;       /* timedlock: the deadline had passed on return */
};

static void *attempt_main(void *arg)
{
    struct attempt *a = arg;
    if (a->op == 0) {
        a->result = pthread_mutex_trylock(a->m);
    } else if (a->op == 1) {
        a->result = pthread_mutex_unlock(a->m);
    } else {
        struct timespec dl = check_in(CLOCK_REALTIME, 30 * 1000000LL);
        a->result = pthread_mutex_timedlock(a->m, &dl);
        a->reached = check_reached(CLOCK_REALTIME, dl);
    }
    if (a->op != 1 && a->result == 0)
        pthread_mutex_unlock(a->m);
    return NULL;
}

static int other_thread(pthread_mutex_t *m, int op, int *reached)
{
    struct attempt a = {m, op, -1, 0};
    pthread_t t;
    if (pthread_create(&t, NULL, attempt_main, &a) != 0)
        return -1;
    pthread_join(t, NULL);
    if (reached)
        *reached = a.reached;
    return a.result;
}

/* ---- the types ------------------------------------------------------------ */

static pthread_mutex_t normal_static = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t recursive_static = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_mutex_t errorcheck_static = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;

static void test_normal(pthread_mutex_t *m)
{
    CHECK_EQ(pthread_mutex_lock(m), 0);
    CHECK_EQ(pthread_mutex_trylock(m), EBUSY);          /* held by self */
    CHECK_EQ(other_thread(m, 0, NULL), EBUSY);          /* held by another */
    CHECK_EQ(pthread_mutex_unlock(m), 0);
    CHECK_EQ(other_thread(m, 0, NULL), 0);
    CHECK_EQ(pthread_mutex_trylock(m), 0);
    CHECK_EQ(pthread_mutex_unlock(m), 0);
}

static void test_recursive(pthread_mutex_t *m)
{
    CHECK_EQ(pthread_mutex_lock(m), 0);
    CHECK_EQ(pthread_mutex_lock(m), 0);
    CHECK_EQ(pthread_mutex_trylock(m), 0);
    CHECK_EQ(other_thread(m, 0, NULL), EBUSY);
    CHECK_EQ(other_thread(m, 1, NULL), EPERM);          /* not the owner */
    CHECK_EQ(pthread_mutex_unlock(m), 0);
    CHECK_EQ(pthread_mutex_unlock(m), 0);
    CHECK_EQ(other_thread(m, 0, NULL), EBUSY);          /* held once more */
    CHECK_EQ(pthread_mutex_unlock(m), 0);
    CHECK_EQ(other_thread(m, 0, NULL), 0);              /* free now */
    CHECK_EQ(pthread_mutex_unlock(m), EPERM);           /* not held */
}

static void test_errorcheck(pthread_mutex_t *m)
{
    CHECK_EQ(pthread_mutex_lock(m), 0);
    CHECK_EQ(pthread_mutex_lock(m), EDEADLK);
    CHECK_EQ(pthread_mutex_trylock(m), EBUSY);
    CHECK_EQ(other_thread(m, 1, NULL), EPERM);
    CHECK_EQ(other_thread(m, 0, NULL), EBUSY);
    CHECK_EQ(pthread_mutex_unlock(m), 0);
    CHECK_EQ(pthread_mutex_unlock(m), EPERM);           /* not held */
    CHECK_EQ(other_thread(m, 0, NULL), 0);
}

static void test_types(void)
{
    test_normal(&normal_static);
    test_recursive(&recursive_static);
    test_errorcheck(&errorcheck_static);

    static const int types[] = {PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_RECURSIVE,
                                PTHREAD_MUTEX_ERRORCHECK, PTHREAD_MUTEX_DEFAULT};
    for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        pthread_mutexattr_t attr;
        pthread_mutex_t m;
        int type = -1;
        CHECK_EQ(pthread_mutexattr_init(&attr), 0);
        CHECK_EQ(pthread_mutexattr_settype(&attr, types[i]), 0);
        CHECK_EQ(pthread_mutexattr_gettype(&attr, &type), 0);
        CHECK_EQ(type, types[i]);
        CHECK_EQ(pthread_mutex_init(&m, &attr), 0);
        CHECK_EQ(pthread_mutexattr_destroy(&attr), 0);
        if (types[i] == PTHREAD_MUTEX_RECURSIVE)
            test_recursive(&m);
        else if (types[i] == PTHREAD_MUTEX_ERRORCHECK)
            test_errorcheck(&m);
        else
            test_normal(&m);
        CHECK_EQ(pthread_mutex_destroy(&m), 0);
    }
    pthread_mutex_t m;
    CHECK_EQ(pthread_mutex_init(&m, NULL), 0); /* NULL: the default type */
    test_normal(&m);
    CHECK_EQ(pthread_mutex_destroy(&m), 0);
}

/* ---- timed locks ---------------------------------------------------------- */

static pthread_mutex_t timed_lock = PTHREAD_MUTEX_INITIALIZER;

static void *hold_then_release(void *arg)
{
    int *step = arg;
    pthread_mutex_lock(&timed_lock);
    *step = 1;
    while (*step == 1)
        usleep(1000);
    pthread_mutex_unlock(&timed_lock);
    return NULL;
}

static void test_timed(void)
{
    int reached = 0;
    CHECK_EQ(pthread_mutex_lock(&timed_lock), 0);
    CHECK_EQ(other_thread(&timed_lock, 2, &reached), ETIMEDOUT);
    CHECK_EQ(reached, 1);
    CHECK_EQ(pthread_mutex_unlock(&timed_lock), 0);
    CHECK_EQ(other_thread(&timed_lock, 2, &reached), 0); /* free: taken */

    /* Held by another thread: both clocks time out at their deadline. */
    volatile int step = 0;
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, hold_then_release, (void *)&step), 0);
    while (step == 0)
        usleep(1000);
    struct timespec dl = check_in(CLOCK_REALTIME, 20 * 1000000LL);
    CHECK_EQ(pthread_mutex_timedlock(&timed_lock, &dl), ETIMEDOUT);
    CHECK(check_reached(CLOCK_REALTIME, dl));
    dl = check_in(CLOCK_MONOTONIC, 20 * 1000000LL);
    CHECK_EQ(pthread_mutex_clocklock(&timed_lock, CLOCK_MONOTONIC, &dl), ETIMEDOUT);
    CHECK(check_reached(CLOCK_MONOTONIC, dl));
    /* A deadline in the past: ETIMEDOUT at once. */
    dl = check_in(CLOCK_REALTIME, -1000000000LL);
    CHECK_EQ(pthread_mutex_timedlock(&timed_lock, &dl), ETIMEDOUT);
    /* An invalid one, when the call would block: EINVAL. */
    struct timespec bad = {dl.tv_sec, 1000000000L};
    CHECK_EQ(pthread_mutex_timedlock(&timed_lock, &bad), EINVAL);
    /* Released before the deadline: the timed lock takes it. */
    step = 2;
    dl = check_in(CLOCK_REALTIME, 60 * 1000000000LL);
    CHECK_EQ(pthread_mutex_timedlock(&timed_lock, &dl), 0);
    CHECK_EQ(pthread_mutex_unlock(&timed_lock), 0);
    pthread_join(t, NULL);
}

/* ---- destroy and attributes ------------------------------------------------ */

static void test_destroy_attr(void)
{
    pthread_mutex_t m;
    CHECK_EQ(pthread_mutex_init(&m, NULL), 0);
    CHECK_EQ(pthread_mutex_lock(&m), 0);
    CHECK_EQ(pthread_mutex_destroy(&m), EBUSY);
    CHECK_EQ(pthread_mutex_unlock(&m), 0);
    CHECK_EQ(pthread_mutex_destroy(&m), 0);
    CHECK_EQ(pthread_mutex_init(&m, NULL), 0); /* a destroyed mutex, again */
    CHECK_EQ(pthread_mutex_lock(&m), 0);
    CHECK_EQ(pthread_mutex_unlock(&m), 0);
    CHECK_EQ(pthread_mutex_destroy(&m), 0);

    pthread_mutexattr_t attr;
    int v = -1;
    CHECK_EQ(pthread_mutexattr_init(&attr), 0);
    CHECK_EQ(pthread_mutexattr_gettype(&attr, &v), 0);
    CHECK_EQ(v, PTHREAD_MUTEX_DEFAULT);
    CHECK_EQ(pthread_mutexattr_settype(&attr, 12345), EINVAL);
    CHECK_EQ(pthread_mutexattr_getpshared(&attr, &v), 0);
    CHECK_EQ(v, PTHREAD_PROCESS_PRIVATE);
    CHECK_EQ(pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_PRIVATE), 0);
    /* Process-shared: supported natively, refused on gt (documented). */
    int r = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    CHECK_EQ(r, on_gt() ? EINVAL : 0);
    CHECK_EQ(pthread_mutexattr_destroy(&attr), 0);
}

int main(void)
{
    test_contention();
    test_fifo();
    test_types();
    test_timed();
    test_destroy_attr();
    return check_done();
}
