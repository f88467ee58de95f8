/*
 * kill_interrupt.c - pthread_kill wakes a thread blocked in a system call:
 * with a handler installed without SA_RESTART, the call returns EINTR in
 * the target thread (how servers such as Apache's worker MPM stop a
 * listener blocked in accept); with SA_RESTART it goes on waiting.  A
 * sleep returns EINTR and what was left even with SA_RESTART (signal(7):
 * nanosleep and sleep are never restarted).
 */
#define _GNU_SOURCE /* pthread_tryjoin_np */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pt_check.h"

static int fds[2];
static atomic_int stop;

static void on_usr1(int sig) { (void)sig; }

static void handler(int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
}

/* Reads (or polls) until stop is set; returns how it last came back. */
static void *reader(void *arg)
{
    int use_poll = arg != NULL;
    long last = 0;
    while (!atomic_load(&stop)) {
        char c;
        if (use_poll) {
            struct pollfd p = {.fd = fds[0], .events = POLLIN};
            last = poll(&p, 1, -1) < 0 ? -errno : 1;
        } else {
            last = read(fds[0], &c, 1) < 0 ? -errno : 1;
        }
    }
    return (void *)last;
}

#define LONG_SLEEP 30

/* Sleeps LONG_SLEEP s in nanosleep (arg NULL) or sleep; what was left,
 * in whole seconds, negated errno of nanosleep. */
static void *sleeper(void *arg)
{
    if (arg) {
        unsigned left = sleep(LONG_SLEEP);
        CHECK(left > 0 && left <= LONG_SLEEP);
        return (void *)(long)left;
    }
    struct timespec ts = {LONG_SLEEP, 0}, rem = {-1, -1};
    CHECK_EQ(nanosleep(&ts, &rem), -1);
    CHECK_EQ(errno, EINTR);
    CHECK(rem.tv_sec >= 0 && rem.tv_sec < LONG_SLEEP);
    CHECK(rem.tv_nsec >= 0 && rem.tv_nsec < 1000000000);
    /* Signalled within a second or two of the start. */
    CHECK(rem.tv_sec >= LONG_SLEEP - 10);
    return (void *)(long)rem.tv_sec;
}

static void pause_ms(long ms)
{
    struct timespec ts = {0, ms * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* Signals t until it returns, as Apache does (a signal that comes before
 * the thread blocks is lost on it); its last result. */
static long stop_by_signal(pthread_t t)
{
    atomic_store(&stop, 1);
    void *ret;
    while (pthread_tryjoin_np(t, &ret) == EBUSY) {
        CHECK_EQ(pthread_kill(t, SIGUSR1), 0);
        pause_ms(20);
    }
    return (long)ret;
}

int main(void)
{
    CHECK_EQ(pipe(fds), 0);

    handler(0);
    pthread_t t;
    atomic_store(&stop, 0);
    CHECK_EQ(pthread_create(&t, NULL, reader, NULL), 0);
    pause_ms(50);
    CHECK_EQ(stop_by_signal(t), -EINTR);
    OK("read interrupted");

    atomic_store(&stop, 0);
    CHECK_EQ(pthread_create(&t, NULL, reader, (void *)1), 0);
    pause_ms(50);
    CHECK_EQ(stop_by_signal(t), -EINTR);
    OK("poll interrupted");

    /* SA_RESTART: read goes on waiting through the signals and returns
     * the byte written after them. */
    handler(SA_RESTART);
    atomic_store(&stop, 0);
    CHECK_EQ(pthread_create(&t, NULL, reader, NULL), 0);
    pause_ms(50);
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(pthread_kill(t, SIGUSR1), 0);
        pause_ms(20);
    }
    void *ret;
    CHECK_EQ(pthread_tryjoin_np(t, &ret), EBUSY);
    CHECK_EQ(write(fds[1], "x", 1), 1);
    CHECK_EQ(pthread_join(t, &ret), 0);
    CHECK_EQ((long)ret, 1);
    OK("SA_RESTART read goes on");

    /* Sleeps: cut short, SA_RESTART or not, the rest reported. */
    for (int use_sleep = 0; use_sleep < 2; use_sleep++) {
        CHECK_EQ(pthread_create(&t, NULL, sleeper,
                                use_sleep ? (void *)1 : NULL), 0);
        pause_ms(50);
        long left = stop_by_signal(t);
        CHECK(left >= LONG_SLEEP - 10 && left <= LONG_SLEEP);
    }
    OK("sleeps interrupted, the rest told");
    return 0;
}
