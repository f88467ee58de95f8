/*
 * errno_park.c - errno is the thread's own: a thread's errno survives
 * other threads' failed calls made while it waits (in pthread_join,
 * nanosleep, sched_yield, pthread_once's wait), and a new thread starts
 * with 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "pt_check.h"

enum { N = 8 };
static int start_errno[N];

/* Fails with its own errno, lets the others run, and checks it still has
 * it, several rounds. */
static void *fail_and_wait(void *arg)
{
    int i = (int)(long)arg;
    start_errno[i] = errno;
    for (int round = 0; round < 5; round++) {
        /* A different failure per thread: EBADF, ENOENT, EINVAL... */
        switch (i % 3) {
        case 0: CHECK_EQ(close(-1), -1); break;
        case 1: CHECK_EQ(open("/nonexistent/errno_park", O_RDONLY), -1); break;
        case 2: CHECK_EQ(lseek(0, 0, 12345), -1); break;
        }
        int mine = errno;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        CHECK_EQ(errno, mine);
        sched_yield();
        CHECK_EQ(errno, mine);
        errno = 1000 + i; /* set by hand: kept as well */
        sched_yield();
        CHECK_EQ(errno, 1000 + i);
    }
    return NULL;
}

static void *fail_then_exit(void *arg)
{
    (void)arg;
    errno = EIO;
    return NULL;
}

int main(void)
{
    pthread_t t[N];
    for (int i = 0; i < N; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, fail_and_wait, (void *)(long)i), 0);
    /* main fails too, then waits in join while the others fail. */
    CHECK_EQ(close(-1), -1);
    CHECK_EQ(errno, EBADF);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(pthread_join(t[i], NULL), 0);
        CHECK_EQ(errno, EBADF);
    }
    for (int i = 0; i < N; i++)
        CHECK_EQ(start_errno[i], 0);
    OK("errno-survives-parks");

    pthread_t e;
    errno = ENOENT;
    CHECK_EQ(pthread_create(&e, NULL, fail_then_exit, NULL), 0);
    CHECK_EQ(pthread_join(e, NULL), 0);
    CHECK_EQ(errno, ENOENT);
    OK("errno-after-join");
    return 0;
}
