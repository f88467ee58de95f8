/*
 * sync_mixed.c - 50 threads at random over two rwlocks (one of each
 * preference), a condition and a semaphore, with and without deadlines
 * that expire in the middle of hand-offs, natively and on gt.  Ground
 * truth: a writer is always alone, readers never meet a writer, every
 * call returns 0 or ETIMEDOUT, and afterwards every object is idle (its
 * destroy succeeds: no reader count, waiter or owner was left behind by
 * a timed-out wait).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "sync_check.h"

#define NTHREADS 50
#define ROUNDS 2000

static pthread_rwlock_t locks[2] = {PTHREAD_RWLOCK_INITIALIZER,
                                    PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP};
static int writers[2], readers[2];
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static sem_t s;
static int bad_result, bad_exclusion;
static long done;

static void nap(unsigned *seed)
{
    if (rand_r(seed) % 4 == 0)
        usleep(rand_r(seed) % 100);
}

static void *worker(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < ROUNDS; i++) {
        int which = rand_r(&seed) & 1, kind = rand_r(&seed) % 6, r;
        pthread_rwlock_t *l = &locks[which];
        struct timespec dl = check_in(CLOCK_REALTIME, (rand_r(&seed) % 200) * 1000LL);
        switch (kind) {
        case 0:
        case 1:
            r = kind ? pthread_rwlock_timedwrlock(l, &dl) : pthread_rwlock_wrlock(l);
            if (r == 0) {
                if (__atomic_add_fetch(&writers[which], 1, __ATOMIC_SEQ_CST) != 1 ||
                    __atomic_load_n(&readers[which], __ATOMIC_SEQ_CST))
                    bad_exclusion++;
                nap(&seed);
                __atomic_sub_fetch(&writers[which], 1, __ATOMIC_SEQ_CST);
                pthread_rwlock_unlock(l);
            }
            break;
        case 2:
        case 3:
            r = kind == 3 ? pthread_rwlock_timedrdlock(l, &dl) : pthread_rwlock_rdlock(l);
            if (r == 0) {
                __atomic_add_fetch(&readers[which], 1, __ATOMIC_SEQ_CST);
                if (__atomic_load_n(&writers[which], __ATOMIC_SEQ_CST))
                    bad_exclusion++;
                nap(&seed);
                __atomic_sub_fetch(&readers[which], 1, __ATOMIC_SEQ_CST);
                pthread_rwlock_unlock(l);
            }
            break;
        case 4:
            pthread_mutex_lock(&m);
            if (rand_r(&seed) & 1)
                pthread_cond_signal(&c);
            else
                pthread_cond_broadcast(&c);
            r = pthread_cond_timedwait(&c, &m, &dl);
            pthread_mutex_unlock(&m);
            sem_post(&s);
            break;
        default:
            r = sem_timedwait(&s, &dl) == 0 ? 0 : errno;
            break;
        }
        if (r != 0 && r != ETIMEDOUT)
            __atomic_add_fetch(&bad_result, 1, __ATOMIC_SEQ_CST);
        __atomic_add_fetch(&done, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

int main(void)
{
    CHECK_EQ(sem_init(&s, 0, 0), 0);
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1)), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(done, NTHREADS * ROUNDS);
    CHECK_EQ(bad_result, 0);
    CHECK_EQ(bad_exclusion, 0);
    CHECK_EQ(pthread_rwlock_destroy(&locks[0]), 0);
    CHECK_EQ(pthread_rwlock_destroy(&locks[1]), 0);
    CHECK_EQ(pthread_cond_destroy(&c), 0);
    CHECK_EQ(pthread_mutex_destroy(&m), 0);
    CHECK_EQ(sem_destroy(&s), 0);
    return check_done();
}
