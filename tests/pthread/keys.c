/*
 * keys.c - pthread_key_create/delete, get/setspecific: a value per thread,
 * NULL in a new thread, destructors at exit (only for non-NULL values, the
 * value set to NULL first, again while values are set, at most
 * PTHREAD_DESTRUCTOR_ITERATIONS rounds), none at delete; a key made and a
 * value set by a constructor work in main.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <unistd.h>

#include "pt_check.h"

static pthread_key_t key, again_key, ctor_key;
static int dtor_calls, again_calls;
static void *dtor_last;

static __attribute__((constructor)) void before_main(void)
{
    CHECK_EQ(pthread_key_create(&ctor_key, NULL), 0);
    CHECK_EQ(pthread_setspecific(ctor_key, (void *)0x77), 0);
}

static void dtor(void *v)
{
    CHECK(pthread_getspecific(key) == NULL); /* cleared before the call */
    dtor_calls++;
    dtor_last = v;
}

/* Sets its value again every time: called once per round. */
static void dtor_again(void *v)
{
    again_calls++;
    CHECK_EQ(pthread_setspecific(again_key, v), 0);
}

static void *own_value(void *arg)
{
    CHECK(pthread_getspecific(key) == NULL);
    CHECK(pthread_getspecific(ctor_key) == NULL);
    CHECK_EQ(pthread_setspecific(key, arg), 0);
    usleep(2000); /* the others set theirs meanwhile */
    CHECK(pthread_getspecific(key) == arg);
    return NULL;
}

static void *set_null(void *arg)
{
    (void)arg;
    CHECK_EQ(pthread_setspecific(key, (void *)1), 0);
    CHECK_EQ(pthread_setspecific(key, NULL), 0);
    return NULL;
}

static void *exit_with_value(void *arg)
{
    CHECK_EQ(pthread_setspecific(key, arg), 0);
    pthread_exit(NULL);
}

static void *loop_value(void *arg)
{
    CHECK_EQ(pthread_setspecific(again_key, arg), 0);
    return NULL;
}

int main(void)
{
    CHECK(pthread_getspecific(ctor_key) == (void *)0x77);
    OK("key-from-constructor");

    CHECK_EQ(pthread_key_create(&key, dtor), 0);
    CHECK(pthread_getspecific(key) == NULL);
    CHECK_EQ(pthread_setspecific(key, (void *)5), 0);
    enum { N = 6 };
    pthread_t t[N];
    for (long i = 0; i < N; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, own_value, (void *)(100 + i)), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    CHECK(pthread_getspecific(key) == (void *)5);
    CHECK_EQ(dtor_calls, N);
    OK("value-per-thread");

    dtor_calls = 0;
    CHECK_EQ(pthread_create(&t[0], NULL, set_null, NULL), 0);
    CHECK_EQ(pthread_join(t[0], NULL), 0);
    CHECK_EQ(dtor_calls, 0);
    CHECK_EQ(pthread_create(&t[0], NULL, exit_with_value, (void *)9), 0);
    CHECK_EQ(pthread_join(t[0], NULL), 0);
    CHECK_EQ(dtor_calls, 1);
    CHECK(dtor_last == (void *)9);
    OK("destructor-rules");

    CHECK_EQ(pthread_key_create(&again_key, dtor_again), 0);
    CHECK_EQ(pthread_create(&t[0], NULL, loop_value, (void *)3), 0);
    CHECK_EQ(pthread_join(t[0], NULL), 0);
    CHECK_EQ(again_calls, PTHREAD_DESTRUCTOR_ITERATIONS);
    OK("destructor-iterations");

    /* Delete: no destructor runs; the key's values are gone; keys are
     * distinct. */
    pthread_key_t k2;
    CHECK_EQ(pthread_key_create(&k2, dtor), 0);
    CHECK(k2 != key);
    CHECK_EQ(pthread_setspecific(k2, (void *)4), 0);
    dtor_calls = 0;
    CHECK_EQ(pthread_key_delete(k2), 0);
    CHECK_EQ(dtor_calls, 0);
    pthread_key_t k3;
    CHECK_EQ(pthread_key_create(&k3, NULL), 0);
    CHECK(pthread_getspecific(k3) == NULL);
    CHECK_EQ(pthread_key_delete(k3), 0);
    CHECK_EQ(pthread_key_delete(key), 0);
    OK("delete");
    return 0;
}
