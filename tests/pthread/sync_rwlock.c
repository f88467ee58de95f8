/*
 * sync_rwlock.c - pthread_rwlock_* as POSIX (and glibc's kinds) state it,
 * natively and on gt: readers hold it together, a writer alone, try and
 * timed forms on both clocks, EDEADLK, reader preference by default and
 * writer preference on request, the attributes.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "sync_check.h"

static int on_gt(void) { return dlsym(RTLD_DEFAULT, "gt_main") != NULL; }

/* ---- readers together ----------------------------------------------------- */

#define NREAD 12
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t count_cond = PTHREAD_COND_INITIALIZER;
static int readers_in;

/* Holds a read lock until every reader holds one: hangs unless readers
 * share the lock. */
static void *reader_together(void *arg)
{
    (void)arg;
    if (pthread_rwlock_rdlock(&rw) != 0)
        return (void *)1;
    pthread_mutex_lock(&count_lock);
    readers_in++;
    pthread_cond_broadcast(&count_cond);
    while (readers_in < NREAD)
        pthread_cond_wait(&count_cond, &count_lock);
    pthread_mutex_unlock(&count_lock);
    return (void *)(intptr_t)pthread_rwlock_unlock(&rw);
}

static void test_readers_share(void)
{
    pthread_t t[NREAD];
    for (int i = 0; i < NREAD; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, reader_together, NULL), 0);
    for (int i = 0; i < NREAD; i++) {
        void *r = (void *)1;
        pthread_join(t[i], &r);
        CHECK_EQ((intptr_t)r, 0);
    }
    CHECK_EQ(readers_in, NREAD);
}

/* ---- writers alone ---------------------------------------------------------- */

#define NMIX 24
#define MIX_ROUNDS 100
static pthread_rwlock_t mix = PTHREAD_RWLOCK_INITIALIZER;
static int mix_readers, mix_writers, mix_bad;
static long mix_value;

static void *mixer(void *arg)
{
    int writer = (int)(intptr_t)arg % 3 == 0;
    for (int i = 0; i < MIX_ROUNDS; i++) {
        if (writer) {
            pthread_rwlock_wrlock(&mix);
            if (mix_readers || mix_writers)
                mix_bad++;
            mix_writers++;
            long v = mix_value;
            if (i % 25 == 0)
                usleep(50);
            mix_value = v + 1;
            mix_writers--;
        } else {
            pthread_rwlock_rdlock(&mix);
            __atomic_add_fetch(&mix_readers, 1, __ATOMIC_SEQ_CST);
            if (__atomic_load_n(&mix_writers, __ATOMIC_SEQ_CST))
                mix_bad++;
            if (i % 25 == 0)
                usleep(50);
            __atomic_sub_fetch(&mix_readers, 1, __ATOMIC_SEQ_CST);
        }
        pthread_rwlock_unlock(&mix);
    }
    return NULL;
}

static void test_writers_alone(void)
{
    pthread_t t[NMIX];
    for (int i = 0; i < NMIX; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, mixer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < NMIX; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(mix_bad, 0);
    CHECK_EQ(mix_value, (NMIX + 2) / 3 * MIX_ROUNDS);
}

/* ---- another thread's attempt ---------------------------------------------- */

enum op { TRYRD, TRYWR, TIMEDRD, TIMEDWR, CLOCKRD, CLOCKWR, RD, WR };

struct attempt {
    pthread_rwlock_t *l;
    enum op op;
    int result, reached;
};

static void *attempt_main(void *arg)
{
    struct attempt *a = arg;
    clockid_t clk = a->op == CLOCKRD || a->op == CLOCKWR ? CLOCK_MONOTONIC
                                                         : CLOCK_REALTIME;
    struct timespec dl = check_in(clk, 20 * 1000000LL);
    switch (a->op) {
    case TRYRD: a->result = pthread_rwlock_tryrdlock(a->l); break;
    case TRYWR: a->result = pthread_rwlock_trywrlock(a->l); break;
    case TIMEDRD: a->result = pthread_rwlock_timedrdlock(a->l, &dl); break;
    case TIMEDWR: a->result = pthread_rwlock_timedwrlock(a->l, &dl); break;
    case CLOCKRD: a->result = pthread_rwlock_clockrdlock(a->l, clk, &dl); break;
    case CLOCKWR: a->result = pthread_rwlock_clockwrlock(a->l, clk, &dl); break;
    case RD: a->result = pthread_rwlock_rdlock(a->l); break;
    case WR: a->result = pthread_rwlock_wrlock(a->l); break;
    }
    a->reached = check_reached(clk, dl);
    if (a->result == 0)
        pthread_rwlock_unlock(a->l);
    return NULL;
}

static int other(pthread_rwlock_t *l, enum op op, int *reached)
{
    struct attempt a = {l, op, -1, 0};
    pthread_t t;
    if (pthread_create(&t, NULL, attempt_main, &a) != 0)
        return -1;
    pthread_join(t, NULL);
    if (reached)
        *reached = a.reached;
    return a.result;
}

static void test_try_timed(void)
{
    pthread_rwlock_t l;
    int reached = 0;
    CHECK_EQ(pthread_rwlock_init(&l, NULL), 0);

    CHECK_EQ(pthread_rwlock_rdlock(&l), 0);
    CHECK_EQ(other(&l, TRYRD, NULL), 0);           /* readers share */
    CHECK_EQ(other(&l, TRYWR, NULL), EBUSY);
    CHECK_EQ(other(&l, TIMEDWR, &reached), ETIMEDOUT);
    CHECK_EQ(reached, 1);
    CHECK_EQ(other(&l, CLOCKWR, &reached), ETIMEDOUT);
    CHECK_EQ(reached, 1);
    CHECK_EQ(pthread_rwlock_rdlock(&l), 0);        /* twice */
    CHECK_EQ(pthread_rwlock_unlock(&l), 0);
    CHECK_EQ(other(&l, TRYWR, NULL), EBUSY);       /* still held once */
    CHECK_EQ(pthread_rwlock_unlock(&l), 0);
    CHECK_EQ(other(&l, TRYWR, NULL), 0);

    CHECK_EQ(pthread_rwlock_wrlock(&l), 0);
    CHECK_EQ(pthread_rwlock_wrlock(&l), EDEADLK);
    CHECK_EQ(pthread_rwlock_rdlock(&l), EDEADLK);
    CHECK_EQ(pthread_rwlock_trywrlock(&l), EBUSY);
    CHECK_EQ(other(&l, TRYRD, NULL), EBUSY);
    CHECK_EQ(other(&l, TRYWR, NULL), EBUSY);
    CHECK_EQ(other(&l, TIMEDRD, &reached), ETIMEDOUT);
    CHECK_EQ(reached, 1);
    CHECK_EQ(other(&l, CLOCKRD, &reached), ETIMEDOUT);
    CHECK_EQ(reached, 1);
    CHECK_EQ(other(&l, TIMEDWR, &reached), ETIMEDOUT);
    CHECK_EQ(reached, 1);
    CHECK_EQ(pthread_rwlock_tryrdlock(&l), EBUSY);
    CHECK_EQ(pthread_rwlock_unlock(&l), 0);
    CHECK_EQ(other(&l, TIMEDRD, NULL), 0);
    CHECK_EQ(other(&l, TIMEDWR, NULL), 0);
    CHECK_EQ(pthread_rwlock_destroy(&l), 0);
}

/* ---- preference --------------------------------------------------------------- */

static pthread_rwlock_t pref_rd = PTHREAD_RWLOCK_INITIALIZER;
static pthread_rwlock_t pref_wr = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
static volatile int writer_state; /* 1 waiting, 2 holds it */

static void *writer_main(void *arg)
{
    pthread_rwlock_t *l = arg;
    writer_state = 1;
    if (pthread_rwlock_wrlock(l) != 0)
        return (void *)1;
    writer_state = 2;
    pthread_rwlock_unlock(l);
    return NULL;
}

static void test_preference(void)
{
    /* Readers preferred: a reader gets in while a writer waits, so a
     * read lock can be taken again. */
    pthread_t w;
    writer_state = 0;
    CHECK_EQ(pthread_rwlock_rdlock(&pref_rd), 0);
    CHECK_EQ(pthread_create(&w, NULL, writer_main, &pref_rd), 0);
    while (writer_state == 0)
        usleep(1000);
    usleep(20000);                               /* let it block */
    CHECK_EQ(writer_state, 1);
    CHECK_EQ(pthread_rwlock_rdlock(&pref_rd), 0);
    CHECK_EQ(other(&pref_rd, TRYRD, NULL), 0);
    CHECK_EQ(pthread_rwlock_unlock(&pref_rd), 0);
    CHECK_EQ(pthread_rwlock_unlock(&pref_rd), 0);
    pthread_join(w, NULL);
    CHECK_EQ(writer_state, 2);

    /* Writers preferred: no new reader while a writer waits. */
    writer_state = 0;
    CHECK_EQ(pthread_rwlock_rdlock(&pref_wr), 0);
    CHECK_EQ(pthread_create(&w, NULL, writer_main, &pref_wr), 0);
    while (writer_state == 0)
        usleep(1000);
    usleep(20000);
    CHECK_EQ(writer_state, 1);
    CHECK_EQ(other(&pref_wr, TRYRD, NULL), EBUSY);
    int reached = 0;
    CHECK_EQ(other(&pref_wr, TIMEDRD, &reached), ETIMEDOUT);
    CHECK_EQ(reached, 1);
    CHECK_EQ(pthread_rwlock_unlock(&pref_wr), 0);  /* the writer gets it */
    pthread_join(w, NULL);
    CHECK_EQ(writer_state, 2);
    CHECK_EQ(other(&pref_wr, TRYRD, NULL), 0);
}

static void test_attr(void)
{
    pthread_rwlockattr_t attr;
    int v = -1;
    CHECK_EQ(pthread_rwlockattr_init(&attr), 0);
    CHECK_EQ(pthread_rwlockattr_getpshared(&attr, &v), 0);
    CHECK_EQ(v, PTHREAD_PROCESS_PRIVATE);
    CHECK_EQ(pthread_rwlockattr_setpshared(&attr, PTHREAD_PROCESS_SHARED),
             on_gt() ? EINVAL : 0);
    CHECK_EQ(pthread_rwlockattr_setkind_np(
                 &attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP), 0);
    CHECK_EQ(pthread_rwlockattr_getkind_np(&attr, &v), 0);
    CHECK_EQ(v, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_t l;
    CHECK_EQ(pthread_rwlockattr_setpshared(&attr, PTHREAD_PROCESS_PRIVATE), 0);
    CHECK_EQ(pthread_rwlock_init(&l, &attr), 0);
    CHECK_EQ(pthread_rwlockattr_destroy(&attr), 0);
    CHECK_EQ(pthread_rwlock_wrlock(&l), 0);
    if (on_gt()) /* glibc does not check (undefined in POSIX) */
        CHECK_EQ(pthread_rwlock_destroy(&l), EBUSY);
    CHECK_EQ(pthread_rwlock_unlock(&l), 0);
    CHECK_EQ(pthread_rwlock_destroy(&l), 0);
}

int main(void)
{
    test_readers_share();
    test_writers_alone();
    test_try_timed();
    test_preference();
    test_attr();
    return check_done();
}
