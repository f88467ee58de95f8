/*
 * once.c - pthread_once: the routine runs exactly once; a thread that
 * calls while another runs it (and waits inside it) returns only once it
 * has run.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <unistd.h>

#include "pt_check.h"

static pthread_once_t once = PTHREAD_ONCE_INIT, once2 = PTHREAD_ONCE_INIT;
static int runs, done, runs2;

static void init(void)
{
    runs++;
    usleep(20000); /* the other threads arrive meanwhile */
    done = 1;
}

static void init2(void) { runs2++; }

static void *caller(void *arg)
{
    (void)arg;
    CHECK_EQ(pthread_once(&once, init), 0);
    CHECK_EQ(done, 1);
    return NULL;
}

int main(void)
{
    enum { N = 10 };
    pthread_t t[N];
    for (int i = 0; i < N; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, caller, NULL), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    CHECK_EQ(pthread_once(&once, init), 0);
    CHECK_EQ(runs, 1);
    OK("once-with-waiters");
    for (int i = 0; i < 3; i++)
        CHECK_EQ(pthread_once(&once2, init2), 0);
    CHECK_EQ(runs2, 1);
    OK("once-serial");
    return 0;
}
