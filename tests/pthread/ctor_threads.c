/*
 * ctor_threads.c - threads created by a constructor, before main: they
 * run (the values they return reach main's joins), a detach made before
 * main holds, and main sees what they did once joined.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <unistd.h>

#include "pt_check.h"

static pthread_t early[3], early_detached;
static int ran[3];

static void *early_work(void *arg)
{
    int i = (int)(long)arg;
    ran[i] = 1;
    return (void *)(long)(10 + i);
}

static __attribute__((constructor)) void before_main(void)
{
    for (long i = 0; i < 3; i++)
        CHECK_EQ(pthread_create(&early[i], NULL, early_work, (void *)i), 0);
    CHECK_EQ(pthread_create(&early_detached, NULL, early_work, (void *)0), 0);
    CHECK_EQ(pthread_detach(early_detached), 0);
}

int main(void)
{
    for (int i = 0; i < 3; i++) {
        void *r;
        CHECK_EQ(pthread_join(early[i], &r), 0);
        CHECK_EQ((long)r, 10 + i);
        CHECK_EQ(ran[i], 1);
    }
    OK("constructor-threads");
    return 0;
}
