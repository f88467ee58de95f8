/*
 * sync_barrier.c - pthread_barrier_* as POSIX states it, natively and on
 * gt: no thread leaves a round before all have arrived, exactly one
 * serial thread a round, the barrier reused at once, the errors.
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
#define ROUNDS 50

static pthread_barrier_t bar;
static int arrived[ROUNDS], serial[ROUNDS], early[ROUNDS], bad_result;

static void *runner(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (int r = 0; r < ROUNDS; r++) {
        __atomic_add_fetch(&arrived[r], 1, __ATOMIC_SEQ_CST);
        if ((me + r) % 5 == 0)
            usleep(100); /* arrive late, now and then */
        int res = pthread_barrier_wait(&bar);
        if (res == PTHREAD_BARRIER_SERIAL_THREAD)
            __atomic_add_fetch(&serial[r], 1, __ATOMIC_SEQ_CST);
        else if (res != 0)
            __atomic_add_fetch(&bad_result, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&arrived[r], __ATOMIC_SEQ_CST) != NTHREADS)
            __atomic_add_fetch(&early[r], 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

int main(void)
{
    CHECK_EQ(pthread_barrier_init(&bar, NULL, NTHREADS), 0);
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, runner, (void *)(intptr_t)i), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(bad_result, 0);
    for (int r = 0; r < ROUNDS; r++) {
        CHECK_EQ(serial[r], 1);
        CHECK_EQ(early[r], 0);
    }
    CHECK_EQ(pthread_barrier_destroy(&bar), 0);

    pthread_barrier_t one;
    CHECK_EQ(pthread_barrier_init(&one, NULL, 0), EINVAL);
    CHECK_EQ(pthread_barrier_init(&one, NULL, 1), 0);
    CHECK_EQ(pthread_barrier_wait(&one), PTHREAD_BARRIER_SERIAL_THREAD);
    CHECK_EQ(pthread_barrier_wait(&one), PTHREAD_BARRIER_SERIAL_THREAD);
    CHECK_EQ(pthread_barrier_destroy(&one), 0);

    pthread_barrierattr_t attr;
    int v = -1;
    CHECK_EQ(pthread_barrierattr_init(&attr), 0);
    CHECK_EQ(pthread_barrierattr_getpshared(&attr, &v), 0);
    CHECK_EQ(v, PTHREAD_PROCESS_PRIVATE);
    CHECK_EQ(pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED),
             on_gt() ? EINVAL : 0);
    CHECK_EQ(pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_PRIVATE), 0);
    CHECK_EQ(pthread_barrier_init(&one, &attr, 2), 0);
    CHECK_EQ(pthread_barrierattr_destroy(&attr), 0);
    CHECK_EQ(pthread_barrier_destroy(&one), 0);
    return check_done();
}
