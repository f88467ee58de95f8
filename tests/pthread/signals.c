/*
 * signals.c - pthread_kill and pthread_sigmask: a signal sent to oneself
 * is handled before pthread_kill returns; signal 0 checks a live thread;
 * a bad signal number is EINVAL; a blocked signal stays pending until
 * unblocked; sched_yield returns 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "pt_check.h"

static volatile sig_atomic_t got;
static int gate[2];

static void on_usr1(int sig) { got += sig == SIGUSR1; }

static void *waiter(void *arg)
{
    (void)arg;
    char c;
    CHECK_EQ(read(gate[0], &c, 1), 1);
    return NULL;
}

static void *kill_self(void *arg)
{
    (void)arg;
    int before = got;
    CHECK_EQ(pthread_kill(pthread_self(), SIGUSR1), 0);
    CHECK_EQ(got, before + 1);
    return NULL;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);

    CHECK_EQ(pthread_kill(pthread_self(), SIGUSR1), 0);
    CHECK_EQ(got, 1);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, kill_self, NULL), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(got, 2);
    OK("kill-self");

    CHECK_EQ(pipe(gate), 0);
    CHECK_EQ(pthread_create(&t, NULL, waiter, NULL), 0);
    CHECK_EQ(pthread_kill(t, 0), 0);
    CHECK_EQ(pthread_kill(t, -1), EINVAL);
    CHECK_EQ(pthread_kill(t, 100000), EINVAL);
    CHECK_EQ(write(gate[1], "x", 1), 1);
    CHECK_EQ(pthread_join(t, NULL), 0);
    OK("kill-checks");

    sigset_t set, old, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    CHECK_EQ(pthread_sigmask(SIG_BLOCK, &set, &old), 0);
    CHECK(!sigismember(&old, SIGUSR1));
    CHECK_EQ(pthread_kill(pthread_self(), SIGUSR1), 0);
    CHECK_EQ(got, 2);
    CHECK_EQ(sigpending(&pend), 0);
    CHECK(sigismember(&pend, SIGUSR1));
    CHECK_EQ(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
    CHECK_EQ(got, 3);
    CHECK_EQ(pthread_sigmask(12345, &set, NULL), EINVAL);
    OK("sigmask");

    CHECK_EQ(sched_yield(), 0);
    OK("sched-yield");
    return 0;
}
