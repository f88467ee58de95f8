/*
 * sync_cond.c - pthread_cond_* as POSIX states it, natively and on gt:
 * a queue shared by many producers and consumers, broadcast and signal,
 * timed waits on the clock pthread_condattr_setclock chose (and
 * pthread_cond_clockwait), the mutex held again on every return, errors,
 * the attributes.  On gt also: a recursive mutex held twice is let go
 * whole by a wait and held twice again after it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "sync_check.h"

static int on_gt(void) { return dlsym(RTLD_DEFAULT, "gt_main") != NULL; }

/* ---- a bounded queue: many producers, many consumers ---------------------- */

#define NPROD 8
#define NCONS 8
#define ITEMS 500          /* per producer */
#define QCAP 4

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_nonempty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t q_nonfull = PTHREAD_COND_INITIALIZER;
static int q_items[QCAP], q_head, q_len;
static int seen[NPROD * ITEMS];
static int q_done_producers;

static void *producer(void *arg)
{
    int base = (int)(intptr_t)arg * ITEMS;
    for (int i = 0; i < ITEMS; i++) {
        pthread_mutex_lock(&q_lock);
        while (q_len == QCAP)
            pthread_cond_wait(&q_nonfull, &q_lock);
        q_items[(q_head + q_len++) % QCAP] = base + i;
        pthread_cond_signal(&q_nonempty);
        pthread_mutex_unlock(&q_lock);
    }
    pthread_mutex_lock(&q_lock);
    if (++q_done_producers == NPROD)
        pthread_cond_broadcast(&q_nonempty);
    pthread_mutex_unlock(&q_lock);
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&q_lock);
        while (q_len == 0 && q_done_producers < NPROD)
            pthread_cond_wait(&q_nonempty, &q_lock);
        if (q_len == 0) {
            pthread_mutex_unlock(&q_lock);
            return NULL;
        }
        int item = q_items[q_head];
        q_head = (q_head + 1) % QCAP;
        q_len--;
        seen[item]++;
        pthread_cond_signal(&q_nonfull);
        pthread_mutex_unlock(&q_lock);
    }
}

static void test_queue(void)
{
    pthread_t p[NPROD], c[NCONS];
    for (int i = 0; i < NCONS; i++)
        CHECK_EQ(pthread_create(&c[i], NULL, consumer, NULL), 0);
    for (int i = 0; i < NPROD; i++)
        CHECK_EQ(pthread_create(&p[i], NULL, producer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < NPROD; i++)
        pthread_join(p[i], NULL);
    for (int i = 0; i < NCONS; i++)
        pthread_join(c[i], NULL);
    int once = 0;
    for (int i = 0; i < NPROD * ITEMS; i++)
        once += seen[i] == 1;
    CHECK_EQ(once, NPROD * ITEMS);
}

/* ---- broadcast and signal ------------------------------------------------- */

#define NWAIT 10
static pthread_mutex_t w_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t w_cond = PTHREAD_COND_INITIALIZER;
static int w_waiting, w_woken, w_go;

static void *waiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&w_lock);
    w_waiting++;
    while (w_go == 0)
        pthread_cond_wait(&w_cond, &w_lock);
    w_go--;         /* one wake-up consumed */
    w_woken++;
    pthread_mutex_unlock(&w_lock);
    return NULL;
}

static void wait_for_waiters(int n)
{
    for (;;) {
        pthread_mutex_lock(&w_lock);
        int k = w_waiting;
        pthread_mutex_unlock(&w_lock);
        if (k >= n)
            break;
        usleep(1000);
    }
    usleep(20000); /* let the last of them reach its wait */
}

static void test_signal_broadcast(void)
{
    pthread_t t[NWAIT];
    CHECK_EQ(pthread_cond_signal(&w_cond), 0);     /* nobody waits: no-op */
    CHECK_EQ(pthread_cond_broadcast(&w_cond), 0);
    for (int i = 0; i < NWAIT; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, waiter, NULL), 0);
    wait_for_waiters(NWAIT);

    /* One signal: at least one thread wakes (on gt, exactly one). */
    pthread_mutex_lock(&w_lock);
    w_go = 1;
    CHECK_EQ(pthread_cond_signal(&w_cond), 0);
    pthread_mutex_unlock(&w_lock);
    for (;;) {
        pthread_mutex_lock(&w_lock);
        int k = w_woken;
        pthread_mutex_unlock(&w_lock);
        if (k >= 1)
            break;
        usleep(1000);
    }
    usleep(20000);
    pthread_mutex_lock(&w_lock);
    CHECK_EQ(w_woken, 1); /* w_go allowed only one through */
    /* Broadcast: every remaining waiter wakes. */
    w_go = NWAIT - 1;
    CHECK_EQ(pthread_cond_broadcast(&w_cond), 0);
    pthread_mutex_unlock(&w_lock);
    for (int i = 0; i < NWAIT; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(w_woken, NWAIT);
}

/* ---- timed waits ------------------------------------------------------------ */

static pthread_mutex_t t_lock = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;

/* Times out on COND (clock CLOCK) and checks the mutex is held after. */
static void timed_out(pthread_cond_t *cond, clockid_t clock, int clockwait)
{
    CHECK_EQ(pthread_mutex_lock(&t_lock), 0);
    struct timespec dl = check_in(clock, 20 * 1000000LL);
    int r = clockwait ? pthread_cond_clockwait(cond, &t_lock, clock, &dl)
                      : pthread_cond_timedwait(cond, &t_lock, &dl);
    CHECK_EQ(r, ETIMEDOUT);
    CHECK(check_reached(clock, dl));
    CHECK_EQ(pthread_mutex_lock(&t_lock), EDEADLK); /* held again */
    CHECK_EQ(pthread_mutex_unlock(&t_lock), 0);
}

static pthread_cond_t signalled_cond;
static volatile int signalled_flag;

static void *signal_soon(void *arg)
{
    (void)arg;
    usleep(10000);
    pthread_mutex_lock(&t_lock);
    signalled_flag = 1;
    pthread_cond_signal(&signalled_cond);
    pthread_mutex_unlock(&t_lock);
    return NULL;
}

static void test_timed(void)
{
    pthread_cond_t rt = PTHREAD_COND_INITIALIZER, mono;
    pthread_condattr_t attr;
    clockid_t clk = -1;
    CHECK_EQ(pthread_condattr_init(&attr), 0);
    CHECK_EQ(pthread_condattr_getclock(&attr, &clk), 0);
    CHECK_EQ(clk, CLOCK_REALTIME);
    CHECK_EQ(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC), 0);
    CHECK_EQ(pthread_condattr_getclock(&attr, &clk), 0);
    CHECK_EQ(clk, CLOCK_MONOTONIC);
    CHECK_EQ(pthread_condattr_setclock(&attr, CLOCK_PROCESS_CPUTIME_ID), EINVAL);
    CHECK_EQ(pthread_cond_init(&mono, &attr), 0);
    CHECK_EQ(pthread_condattr_destroy(&attr), 0);

    timed_out(&rt, CLOCK_REALTIME, 0);
    timed_out(&mono, CLOCK_MONOTONIC, 0);
    timed_out(&rt, CLOCK_MONOTONIC, 1);  /* clockwait names its own clock */
    timed_out(&mono, CLOCK_REALTIME, 1);

    /* A deadline passed already, and an invalid one. */
    pthread_mutex_lock(&t_lock);
    struct timespec dl = check_in(CLOCK_REALTIME, -1000000LL);
    CHECK_EQ(pthread_cond_timedwait(&rt, &t_lock, &dl), ETIMEDOUT);
    struct timespec bad = {dl.tv_sec, -1};
    CHECK_EQ(pthread_cond_timedwait(&rt, &t_lock, &bad), EINVAL);
    CHECK_EQ(pthread_mutex_unlock(&t_lock), 0);

    /* Signalled before the deadline: 0, with the mutex held. */
    CHECK_EQ(pthread_cond_init(&signalled_cond, NULL), 0);
    pthread_t t;
    pthread_mutex_lock(&t_lock);
    CHECK_EQ(pthread_create(&t, NULL, signal_soon, NULL), 0);
    dl = check_in(CLOCK_REALTIME, 60 * 1000000000LL);
    int r = 0;
    while (!signalled_flag && r == 0)
        r = pthread_cond_timedwait(&signalled_cond, &t_lock, &dl);
    CHECK_EQ(r, 0);
    CHECK_EQ(signalled_flag, 1);
    CHECK_EQ(pthread_mutex_unlock(&t_lock), 0);
    pthread_join(t, NULL);

    /* An errorcheck mutex the caller does not hold: EPERM. */
    CHECK_EQ(pthread_cond_wait(&rt, &t_lock), EPERM);

    CHECK_EQ(pthread_cond_destroy(&rt), 0);
    CHECK_EQ(pthread_cond_destroy(&mono), 0);
    CHECK_EQ(pthread_cond_destroy(&signalled_cond), 0);
}

/* ---- a recursive mutex held twice (gt only: glibc keeps it held) ------- */

static pthread_mutex_t rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_cond_t rec_cond = PTHREAD_COND_INITIALIZER;
static int rec_other;

static void *rec_taker(void *arg)
{
    (void)arg;
    if (pthread_mutex_lock(&rec) != 0)
        return NULL;
    rec_other = 1;
    pthread_cond_signal(&rec_cond);
    pthread_mutex_unlock(&rec);
    return NULL;
}

static void test_recursive_wait(void)
{
    if (!on_gt())
        return; /* undefined in POSIX; glibc does not release it */
    CHECK_EQ(pthread_mutex_lock(&rec), 0);
    CHECK_EQ(pthread_mutex_lock(&rec), 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, rec_taker, NULL), 0);
    /* The wait lets the mutex go whole: the other thread takes it. */
    while (!rec_other)
        CHECK_EQ(pthread_cond_wait(&rec_cond, &rec), 0);
    /* And gives it back twice held. */
    CHECK_EQ(pthread_mutex_unlock(&rec), 0);
    CHECK_EQ(pthread_mutex_unlock(&rec), 0);
    CHECK_EQ(pthread_mutex_unlock(&rec), EPERM);
    pthread_join(t, NULL);
}

static void test_attr(void)
{
    pthread_condattr_t attr;
    int v = -1;
    CHECK_EQ(pthread_condattr_init(&attr), 0);
    CHECK_EQ(pthread_condattr_getpshared(&attr, &v), 0);
    CHECK_EQ(v, PTHREAD_PROCESS_PRIVATE);
    CHECK_EQ(pthread_condattr_setpshared(&attr, PTHREAD_PROCESS_PRIVATE), 0);
    CHECK_EQ(pthread_condattr_setpshared(&attr, PTHREAD_PROCESS_SHARED),
             on_gt() ? EINVAL : 0);
    CHECK_EQ(pthread_condattr_destroy(&attr), 0);
}

int main(void)
{
    test_queue();
    test_signal_broadcast();
    test_timed();
    test_recursive_wait();
    test_attr();
    return check_done();
}
