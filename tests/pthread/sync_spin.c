/*
 * sync_spin.c - pthread_spin_* as POSIX states it, natively and on gt:
 * exclusion among many threads, including a holder that sleeps with the
 * lock held (on gt every thread shares one kernel thread: a waiter that
 * spun without yielding would never let the holder finish), trylock.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "sync_check.h"

static int on_gt(void) { return dlsym(RTLD_DEFAULT, "gt_main") != NULL; }

#define NTHREADS 16
#define ROUNDS 300

static pthread_spinlock_t lock;
static long counter;
static int inside, most_inside;

static void *bump(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        pthread_spin_lock(&lock);
        if (++inside > most_inside)
            most_inside = inside;
        long v = counter;
        if (i % 100 == 0)
            usleep(2000); /* the holder parks, the lock held */
        counter = v + 1;
        inside--;
        pthread_spin_unlock(&lock);
    }
    return NULL;
}

static void *try_once(void *arg)
{
    return (void *)(intptr_t)pthread_spin_trylock(arg);
}

int main(void)
{
    CHECK_EQ(pthread_spin_init(&lock, PTHREAD_PROCESS_PRIVATE), 0);
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, bump, NULL), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(counter, NTHREADS * ROUNDS);
    CHECK_EQ(most_inside, 1);

    CHECK_EQ(pthread_spin_lock(&lock), 0);
    CHECK_EQ(pthread_spin_trylock(&lock), EBUSY);
    pthread_t o;
    void *r = NULL;
    CHECK_EQ(pthread_create(&o, NULL, try_once, (void *)&lock), 0);
    pthread_join(o, &r);
    CHECK_EQ((intptr_t)r, EBUSY);
    CHECK_EQ(pthread_spin_unlock(&lock), 0);
    CHECK_EQ(pthread_spin_trylock(&lock), 0);
    CHECK_EQ(pthread_spin_unlock(&lock), 0);
    CHECK_EQ(pthread_spin_destroy(&lock), 0);

    pthread_spinlock_t shared;
    int rs = pthread_spin_init(&shared, PTHREAD_PROCESS_SHARED);
    CHECK_EQ(rs, on_gt() ? EINVAL : 0);
    if (rs == 0)
        CHECK_EQ(pthread_spin_destroy(&shared), 0);
    return check_done();
}
