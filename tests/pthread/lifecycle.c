/*
 * lifecycle.c - pthread_create/join/detach/exit/self/equal, tryjoin,
 * timedjoin, clockjoin: POSIX's (and glibc's) stated results.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pt_check.h"

static pthread_t seen_self;

static void *ret_arg(void *arg)
{
    seen_self = pthread_self();
    return arg;
}

static void *nap_then_ret(void *arg)
{
    usleep(20000);
    return arg;
}

static void *exit_arg(void *arg)
{
    pthread_exit((char *)arg + 1);
    return NULL; /* not reached */
}

static void *join_self(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)pthread_join(pthread_self(), NULL);
}

/* Parks until a byte comes on the pipe whose read end is arg. */
static void *wait_pipe(void *arg)
{
    char c;
    CHECK_EQ(read((int)(intptr_t)arg, &c, 1), 1);
    return arg;
}

/* The read end of a new pipe, for one thread to wait on; *w its other. */
static void *new_pipe(int *w)
{
    int fd[2];
    CHECK_EQ(pipe(fd), 0);
    *w = fd[1];
    return (void *)(intptr_t)fd[0];
}

static void *count_up(void *arg)
{
    __atomic_add_fetch((int *)arg, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static struct timespec in_ms(clockid_t clk, long ms)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    ts.tv_nsec += (ms % 1000) * 1000000;
    ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    return ts;
}

int main(void)
{
    pthread_t t, t2;
    void *r;

    /* The value returned by the start routine is join's. */
    CHECK_EQ(pthread_create(&t, NULL, ret_arg, (void *)0x1234), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK_EQ((intptr_t)r, 0x1234);
    CHECK(pthread_equal(t, seen_self));
    CHECK(!pthread_equal(t, pthread_self()));
    CHECK(pthread_equal(pthread_self(), pthread_self()));
    OK("create-join-value");

    /* pthread_exit's value is join's too; a NULL value pointer is fine. */
    static char buf[4];
    CHECK_EQ(pthread_create(&t, NULL, exit_arg, buf), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK(r == buf + 1);
    CHECK_EQ(pthread_create(&t, NULL, exit_arg, buf), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    OK("exit-value");

    /* Joining oneself: EDEADLK (from main and from another thread). */
    CHECK_EQ(pthread_join(pthread_self(), NULL), EDEADLK);
    CHECK_EQ(pthread_create(&t, NULL, join_self, NULL), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK_EQ((intptr_t)r, EDEADLK);
    OK("join-self");

    /* A detached thread (by call or by attribute) cannot be joined while
     * it lives: EINVAL; nor detached twice. */
    int w1, w2, w;
    CHECK_EQ(pthread_create(&t, NULL, wait_pipe, new_pipe(&w1)), 0);
    CHECK_EQ(pthread_detach(t), 0);
    CHECK_EQ(pthread_join(t, NULL), EINVAL);
    CHECK_EQ(pthread_detach(t), EINVAL);
    pthread_attr_t a;
    int ds;
    CHECK_EQ(pthread_attr_init(&a), 0);
    CHECK_EQ(pthread_attr_getdetachstate(&a, &ds), 0);
    CHECK_EQ(ds, PTHREAD_CREATE_JOINABLE);
    CHECK_EQ(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED), 0);
    CHECK_EQ(pthread_create(&t2, &a, wait_pipe, new_pipe(&w2)), 0);
    CHECK_EQ(pthread_join(t2, NULL), EINVAL);
    CHECK_EQ(pthread_attr_destroy(&a), 0);
    CHECK_EQ(write(w1, "x", 1), 1);
    CHECK_EQ(write(w2, "y", 1), 1);
    /* Detaching a thread that may already have ended: 0 either way. */
    CHECK_EQ(pthread_create(&t, NULL, ret_arg, NULL), 0);
    usleep(10000);
    CHECK_EQ(pthread_detach(t), 0);
    OK("detached");

    /* tryjoin: EBUSY while it runs, then the value. */
    void *rd = new_pipe(&w);
    CHECK_EQ(pthread_create(&t, NULL, wait_pipe, rd), 0);
    CHECK_EQ(pthread_tryjoin_np(t, &r), EBUSY);
    CHECK_EQ(write(w, "z", 1), 1);
    for (;;) {
        int e = pthread_tryjoin_np(t, &r);
        if (e == 0)
            break;
        CHECK_EQ(e, EBUSY);
        usleep(1000);
    }
    CHECK(r == rd);
    OK("tryjoin");

    /* timedjoin (CLOCK_REALTIME) and clockjoin (either clock): ETIMEDOUT
     * at the deadline, the value once the thread has ended. */
    rd = new_pipe(&w);
    CHECK_EQ(pthread_create(&t, NULL, wait_pipe, rd), 0);
    struct timespec ts = in_ms(CLOCK_REALTIME, 30);
    CHECK_EQ(pthread_timedjoin_np(t, &r, &ts), ETIMEDOUT);
    ts = in_ms(CLOCK_MONOTONIC, 30);
    CHECK_EQ(pthread_clockjoin_np(t, &r, CLOCK_MONOTONIC, &ts), ETIMEDOUT);
    CHECK_EQ(write(w, "w", 1), 1);
    ts = in_ms(CLOCK_REALTIME, 60000);
    CHECK_EQ(pthread_timedjoin_np(t, &r, &ts), 0);
    CHECK(r == rd);
    CHECK_EQ(pthread_create(&t, NULL, ret_arg, (void *)9), 0);
    ts = in_ms(CLOCK_MONOTONIC, 60000);
    CHECK_EQ(pthread_clockjoin_np(t, &r, CLOCK_MONOTONIC, &ts), 0);
    CHECK_EQ((intptr_t)r, 9);
    /* No deadline (glibc: wait as pthread_join does). */
    CHECK_EQ(pthread_create(&t, NULL, nap_then_ret, (void *)10), 0);
    CHECK_EQ(pthread_timedjoin_np(t, &r, NULL), 0);
    CHECK_EQ((intptr_t)r, 10);
    OK("timedjoin");

    /* Many threads, each joined once; ids all distinct while they live. */
    enum { N = 500 };
    static pthread_t many[N];
    int count = 0;
    for (int i = 0; i < N; i++)
        CHECK_EQ(pthread_create(&many[i], NULL, count_up, &count), 0);
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j += 97)
            CHECK(!pthread_equal(many[i], many[j]));
    for (int i = 0; i < N; i++)
        CHECK_EQ(pthread_join(many[i], NULL), 0);
    CHECK_EQ(count, N);
    OK("many");
    return 0;
}
