/*
 * sync_before_main.c - sync objects used before main (in a constructor,
 * where no green thread runs yet: glibc's functions serve the call) and
 * then by threads in main, natively and on gt.  A mutex locked and
 * unlocked there, a condition initialised with CLOCK_MONOTONIC there, a
 * rwlock read-locked and unlocked there, a semaphore posted there, all
 * work the same in main's threads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <unistd.h>

#include "sync_check.h"

static pthread_mutex_t early_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t early_rec;
static pthread_cond_t early_cond;
static pthread_rwlock_t early_rw = PTHREAD_RWLOCK_INITIALIZER;
static sem_t early_sem;
static int ctor_ok;

__attribute__((constructor)) static void before_main(void)
{
    pthread_mutexattr_t ma;
    pthread_condattr_t ca;
    int ok = 1;
    ok &= pthread_mutex_lock(&early_lock) == 0;
    ok &= pthread_mutex_trylock(&early_lock) == EBUSY;
    ok &= pthread_mutex_unlock(&early_lock) == 0;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    ok &= pthread_mutex_init(&early_rec, &ma) == 0;
    ok &= pthread_mutex_lock(&early_rec) == 0;
    ok &= pthread_mutex_lock(&early_rec) == 0;
    ok &= pthread_mutex_unlock(&early_rec) == 0;
    ok &= pthread_mutex_unlock(&early_rec) == 0;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    ok &= pthread_cond_init(&early_cond, &ca) == 0;
    ok &= pthread_rwlock_rdlock(&early_rw) == 0;
    ok &= pthread_rwlock_unlock(&early_rw) == 0;
    ok &= sem_init(&early_sem, 0, 0) == 0;
    ok &= sem_post(&early_sem) == 0;
    ok &= sem_post(&early_sem) == 0;
    ok &= sem_trywait(&early_sem) == 0;
    ctor_ok = ok;
}

static void *locker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&early_lock);
        if (i % 20 == 0)
            usleep(100);
        pthread_mutex_unlock(&early_lock);
    }
    return NULL;
}

static void *other_trylock(void *arg)
{
    return (void *)(intptr_t)pthread_mutex_trylock(arg);
}

int main(void)
{
    CHECK_EQ(ctor_ok, 1);

    /* The mutex: exclusion among threads, then held by main. */
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, locker, NULL), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(pthread_mutex_lock(&early_lock), 0);
    pthread_t o;
    void *r = NULL;
    CHECK_EQ(pthread_create(&o, NULL, other_trylock, &early_lock), 0);
    pthread_join(o, &r);
    CHECK_EQ((intptr_t)r, EBUSY);

    /* The condition keeps the clock chosen before main. */
    struct timespec dl = check_in(CLOCK_MONOTONIC, 20 * 1000000LL);
    CHECK_EQ(pthread_cond_timedwait(&early_cond, &early_lock, &dl), ETIMEDOUT);
    CHECK(check_reached(CLOCK_MONOTONIC, dl));
    CHECK_EQ(pthread_mutex_unlock(&early_lock), 0);

    /* The recursive mutex is still recursive. */
    CHECK_EQ(pthread_mutex_lock(&early_rec), 0);
    CHECK_EQ(pthread_mutex_lock(&early_rec), 0);
    CHECK_EQ(pthread_mutex_unlock(&early_rec), 0);
    CHECK_EQ(pthread_mutex_unlock(&early_rec), 0);
    CHECK_EQ(pthread_mutex_unlock(&early_rec), EPERM);

    CHECK_EQ(pthread_rwlock_wrlock(&early_rw), 0);
    CHECK_EQ(pthread_rwlock_unlock(&early_rw), 0);

    /* The semaphore kept the count posted before main. */
    int v = -1;
    CHECK_EQ(sem_getvalue(&early_sem, &v), 0);
    CHECK_EQ(v, 1);
    CHECK_EQ(sem_wait(&early_sem), 0);
    errno = 0;
    CHECK_EQ(sem_trywait(&early_sem), -1);
    CHECK_EQ(errno, EAGAIN);

    CHECK_EQ(pthread_mutex_destroy(&early_lock), 0);
    CHECK_EQ(pthread_mutex_destroy(&early_rec), 0);
    CHECK_EQ(pthread_cond_destroy(&early_cond), 0);
    CHECK_EQ(pthread_rwlock_destroy(&early_rw), 0);
    CHECK_EQ(sem_destroy(&early_sem), 0);
    return check_done();
}
