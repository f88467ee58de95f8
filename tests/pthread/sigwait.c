/*
 * sigwait.c - sigwait, sigwaitinfo and sigtimedwait with the set blocked:
 * the waiting thread gets the signal sent to the process while the other
 * threads go on (the sender is another thread, which could not run if
 * the wait held everyone up); sigwaitinfo reports sigqueue's value;
 * sigtimedwait times out with EAGAIN.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "pt_check.h"

static sigset_t set;
static int waiting[2];

static void *waiter(void *arg)
{
    (void)arg;
    int sig = 0;
    CHECK_EQ(write(waiting[1], "w", 1), 1);
    CHECK_EQ(sigwait(&set, &sig), 0);
    CHECK_EQ(sig, SIGUSR1);
    siginfo_t info;
    CHECK_EQ(write(waiting[1], "w", 1), 1);
    CHECK_EQ(sigwaitinfo(&set, &info), SIGUSR2);
    CHECK_EQ(info.si_code, SI_QUEUE);
    CHECK_EQ(info.si_value.sival_int, 4242);
    CHECK_EQ(info.si_pid, getpid());
    return NULL;
}

/* Sends once the waiter says it is about to wait, and a little after, so
 * that the wait has begun (either way the signal stays pending for it). */
static void wait_for_waiter(void)
{
    char c;
    CHECK_EQ(read(waiting[0], &c, 1), 1);
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
}

int main(void)
{
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    CHECK_EQ(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
    CHECK_EQ(pipe(waiting), 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, waiter, NULL), 0);
    wait_for_waiter();
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    wait_for_waiter();
    union sigval v = {.sival_int = 4242};
    CHECK_EQ(sigqueue(getpid(), SIGUSR2, v), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    OK("sigwait");

    struct timespec ts = {0, 20000000};
    errno = 0;
    CHECK_EQ(sigtimedwait(&set, NULL, &ts), -1);
    CHECK_EQ(errno, EAGAIN);
    ts.tv_nsec = 0;
    CHECK_EQ(sigtimedwait(&set, NULL, &ts), -1);
    CHECK_EQ(errno, EAGAIN);
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    siginfo_t info;
    CHECK_EQ(sigtimedwait(&set, &info, &ts), SIGUSR1);
    CHECK_EQ(info.si_code, SI_USER);
    OK("sigtimedwait");
    return 0;
}
