/*
 * names.c - pthread_setname_np/getname_np: the name a thread gets (its
 * creator's, the program's for main), names of self and of others, the
 * 16-byte limit (ERANGE) both ways.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "pt_check.h"

static int gate[2], named[2];

static void *named_later(void *arg)
{
    char buf[16];
    CHECK_EQ(pthread_getname_np(pthread_self(), buf, sizeof buf), 0);
    CHECK(strcmp(buf, (char *)arg) == 0); /* the creator's name */
    CHECK_EQ(pthread_setname_np(pthread_self(), "worker-7"), 0);
    CHECK_EQ(write(named[1], "n", 1), 1);
    char c;
    CHECK_EQ(read(gate[0], &c, 1), 1);
    return NULL;
}

int main(void)
{
    char buf[32];
    CHECK_EQ(pthread_getname_np(pthread_self(), buf, sizeof buf), 0);
    CHECK(strcmp(buf, "names") == 0); /* the program's name */
    CHECK_EQ(pthread_getname_np(pthread_self(), buf, 15), ERANGE);
    CHECK_EQ(pthread_setname_np(pthread_self(), "0123456789abcdef"), ERANGE);
    CHECK_EQ(pthread_setname_np(pthread_self(), "0123456789abcde"), 0);
    CHECK_EQ(pthread_getname_np(pthread_self(), buf, 16), 0);
    CHECK(strcmp(buf, "0123456789abcde") == 0);
    CHECK_EQ(pthread_setname_np(pthread_self(), "main-x"), 0);
    OK("self");

    CHECK_EQ(pipe(gate), 0);
    CHECK_EQ(pipe(named), 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, named_later, "main-x"), 0);
    char n;
    CHECK_EQ(read(named[0], &n, 1), 1); /* it has named itself */
    CHECK_EQ(pthread_getname_np(t, buf, sizeof buf), 0);
    CHECK(strcmp(buf, "worker-7") == 0);
    CHECK_EQ(pthread_setname_np(t, "renamed"), 0);
    CHECK_EQ(pthread_getname_np(t, buf, sizeof buf), 0);
    CHECK(strcmp(buf, "renamed") == 0);
    CHECK_EQ(write(gate[1], "x", 1), 1);
    CHECK_EQ(pthread_join(t, NULL), 0);
    OK("other");
    return 0;
}
