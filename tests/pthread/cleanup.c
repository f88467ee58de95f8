/*
 * cleanup.c - pthread_cleanup_push/pop: pop(1) runs the handler, pop(0)
 * does not; pthread_exit runs the pushed handlers innermost first, then
 * the key destructors.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>

#include "pt_check.h"

static char order[16];
static int n;
static pthread_key_t key;

static void note(void *arg) { order[n++] = *(char *)arg; }

static void *pop_both(void *arg)
{
    (void)arg;
    pthread_cleanup_push(note, "a");
    pthread_cleanup_push(note, "b");
    pthread_cleanup_pop(0);
    pthread_cleanup_pop(1);
    return NULL;
}

static void *exit_inside(void *arg)
{
    CHECK_EQ(pthread_setspecific(key, "k"), 0);
    pthread_cleanup_push(note, "1");
    pthread_cleanup_push(note, "2");
    pthread_cleanup_push(note, "3");
    pthread_exit(arg);
    pthread_cleanup_pop(0);
    pthread_cleanup_pop(0);
    pthread_cleanup_pop(0);
    return NULL;
}

int main(void)
{
    CHECK_EQ(pthread_key_create(&key, note), 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, pop_both, NULL), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(strcmp(order, "a") == 0);
    OK("pop");

    n = 0;
    memset(order, 0, sizeof order);
    void *r;
    CHECK_EQ(pthread_create(&t, NULL, exit_inside, (void *)42), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK(r == (void *)42);
    CHECK(strcmp(order, "321k") == 0);
    OK("exit-runs-handlers");
    return 0;
}
