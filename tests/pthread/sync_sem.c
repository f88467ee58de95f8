/*
 * sync_sem.c - unnamed semaphores (sem_init ...) as POSIX states it,
 * natively and on gt: counts, many waiters and posters, timed waits on
 * both clocks, overflow and the errors.  On gt also: waiters are served
 * in arrival order.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <unistd.h>

#include "sync_check.h"

static int on_gt(void) { return dlsym(RTLD_DEFAULT, "gt_main") != NULL; }

static void test_counts(void)
{
    sem_t s;
    int v = -1;
    CHECK_EQ(sem_init(&s, 0, 3), 0);
    CHECK_EQ(sem_getvalue(&s, &v), 0);
    CHECK_EQ(v, 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(sem_trywait(&s), 0);
    errno = 0;
    CHECK_EQ(sem_trywait(&s), -1);
    CHECK_EQ(errno, EAGAIN);
    CHECK_EQ(sem_post(&s), 0);
    CHECK_EQ(sem_getvalue(&s, &v), 0);
    CHECK_EQ(v, 1);
    CHECK_EQ(sem_wait(&s), 0);
    CHECK_EQ(sem_getvalue(&s, &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(sem_destroy(&s), 0);

    CHECK_EQ(sem_init(&s, 0, SEM_VALUE_MAX), 0);
    errno = 0;
    CHECK_EQ(sem_post(&s), -1);
    CHECK_EQ(errno, EOVERFLOW);
    CHECK_EQ(sem_destroy(&s), 0);
    errno = 0;
    CHECK_EQ(sem_init(&s, 0, (unsigned)SEM_VALUE_MAX + 1), -1);
    CHECK_EQ(errno, EINVAL);

    /* Process-shared: supported natively, refused on gt (documented). */
    errno = 0;
    int r = sem_init(&s, 1, 0);
    if (on_gt()) {
        CHECK_EQ(r, -1);
        CHECK_EQ(errno, ENOSYS);
    } else {
        CHECK_EQ(r, 0);
        sem_destroy(&s);
    }
}

/* ---- many waiters, many posters --------------------------------------------- */

#define NCONS 16
#define NPOST 4
#define PER_POSTER 200

static sem_t items;
static int taken;

static void *consumer(void *arg)
{
    int n = (int)(intptr_t)arg;
    for (int i = 0; i < n; i++) {
        while (sem_wait(&items) != 0)
            ;
        __atomic_add_fetch(&taken, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void *poster(void *arg)
{
    (void)arg;
    for (int i = 0; i < PER_POSTER; i++) {
        sem_post(&items);
        if (i % 50 == 0)
            usleep(100);
    }
    return NULL;
}

static void test_many(void)
{
    CHECK_EQ(sem_init(&items, 0, 0), 0);
    pthread_t c[NCONS], p[NPOST];
    for (int i = 0; i < NCONS; i++)
        CHECK_EQ(pthread_create(&c[i], NULL, consumer,
                                (void *)(intptr_t)(NPOST * PER_POSTER / NCONS)), 0);
    for (int i = 0; i < NPOST; i++)
        CHECK_EQ(pthread_create(&p[i], NULL, poster, NULL), 0);
    for (int i = 0; i < NPOST; i++)
        pthread_join(p[i], NULL);
    for (int i = 0; i < NCONS; i++)
        pthread_join(c[i], NULL);
    CHECK_EQ(taken, NPOST * PER_POSTER);
    int v = -1;
    CHECK_EQ(sem_getvalue(&items, &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(sem_destroy(&items), 0);
}

/* ---- arrival order (gt only) -------------------------------------------------- */

#define NFIFO 8
static sem_t fifo;
static int order[NFIFO], norder;
static volatile int queued;

static void *fifo_waiter(void *arg)
{
    queued++;
    while (sem_wait(&fifo) != 0)
        ;
    order[norder++] = (int)(intptr_t)arg;
    return NULL;
}

static void test_fifo(void)
{
    CHECK_EQ(sem_init(&fifo, 0, 0), 0);
    pthread_t t[NFIFO];
    for (int i = 0; i < NFIFO; i++) {
        CHECK_EQ(pthread_create(&t[i], NULL, fifo_waiter, (void *)(intptr_t)i), 0);
        while (queued <= i)
            usleep(100);
        usleep(1000);
    }
    for (int i = 0; i < NFIFO; i++) {
        sem_post(&fifo);
        usleep(1000);
    }
    for (int i = 0; i < NFIFO; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(norder, NFIFO);
    if (on_gt())
        for (int i = 0; i < NFIFO; i++)
            CHECK_EQ(order[i], i);
    CHECK_EQ(sem_destroy(&fifo), 0);
}

/* ---- timed waits ------------------------------------------------------------------ */

static sem_t late;

static void *post_soon(void *arg)
{
    (void)arg;
    usleep(10000);
    sem_post(&late);
    return NULL;
}

static void test_timed(void)
{
    sem_t s;
    CHECK_EQ(sem_init(&s, 0, 0), 0);
    struct timespec dl = check_in(CLOCK_REALTIME, 20 * 1000000LL);
    errno = 0;
    CHECK_EQ(sem_timedwait(&s, &dl), -1);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK(check_reached(CLOCK_REALTIME, dl));
    dl = check_in(CLOCK_MONOTONIC, 20 * 1000000LL);
    errno = 0;
    CHECK_EQ(sem_clockwait(&s, CLOCK_MONOTONIC, &dl), -1);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK(check_reached(CLOCK_MONOTONIC, dl));
    dl = check_in(CLOCK_REALTIME, -1000000LL);
    errno = 0;
    CHECK_EQ(sem_timedwait(&s, &dl), -1);
    CHECK_EQ(errno, ETIMEDOUT);
    struct timespec bad = {dl.tv_sec, 1000000000L};
    errno = 0;
    CHECK_EQ(sem_timedwait(&s, &bad), -1);
    CHECK_EQ(errno, EINVAL);
    /* A count to take: the deadline does not matter. */
    CHECK_EQ(sem_post(&s), 0);
    CHECK_EQ(sem_timedwait(&s, &dl), 0);
    CHECK_EQ(sem_destroy(&s), 0);

    /* Posted before the deadline. */
    CHECK_EQ(sem_init(&late, 0, 0), 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, post_soon, NULL), 0);
    dl = check_in(CLOCK_REALTIME, 60 * 1000000000LL);
    CHECK_EQ(sem_timedwait(&late, &dl), 0);
    pthread_join(t, NULL);
    CHECK_EQ(sem_destroy(&late), 0);
}

int main(void)
{
    test_counts();
    test_many();
    test_fifo();
    test_timed();
    return check_done();
}
