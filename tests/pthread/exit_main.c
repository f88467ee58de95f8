/*
 * exit_main.c - main calls pthread_exit: the other threads go on, and the
 * process exits with status 0 once the last one ends, running the atexit
 * handlers then.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <unistd.h>

#include "pt_check.h"

static int worked;

static void at_end(void)
{
    CHECK_EQ(worked, 2);
    OK("atexit-after-last-thread");
}

static void *worker(void *arg)
{
    usleep(20000); /* main has exited by now */
    __atomic_add_fetch(&worked, 1, __ATOMIC_SEQ_CST);
    return arg;
}

int main(void)
{
    CHECK_EQ(atexit(at_end), 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, worker, NULL), 0);
    CHECK_EQ(pthread_detach(t), 0);
    CHECK_EQ(pthread_create(&t, NULL, worker, NULL), 0);
    OK("main-exits");
    pthread_exit(NULL);
}
