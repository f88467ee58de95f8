/*
 * ctor_join.c - a constructor joins a thread it created.  Natively the
 * thread runs at once and the join returns 0; on gt threads start with
 * main, so the join would wait forever: EDEADLK, said once on stderr,
 * and the thread still runs when main starts.  Prints what happened;
 * test_conformance.py knows what each run must print.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>

#include "pt_check.h"

static pthread_t early;
static int join_rc = -1, ran;

static void *work(void *arg)
{
    ran = 1;
    return arg;
}

static __attribute__((constructor)) void before_main(void)
{
    CHECK_EQ(pthread_create(&early, NULL, work, NULL), 0);
    join_rc = pthread_join(early, NULL);
}

int main(void)
{
    printf("constructor join %s\n", join_rc == 0 ? "0" : join_rc == EDEADLK ? "EDEADLK" : "other");
    if (join_rc)
        CHECK_EQ(pthread_join(early, NULL), 0);
    CHECK_EQ(ran, 1);
    OK("ctor-join");
    return 0;
}
