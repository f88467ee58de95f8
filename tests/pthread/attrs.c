/*
 * attrs.c - thread attributes: a stack size is honoured (the thread can
 * use what it asked for, and pthread_getattr_np reports a stack at least
 * that big holding the thread's own locals), the default stack is as big
 * as glibc's, guard size and scheduling attributes are accepted, and
 * pthread_getattr_np describes main and a detached thread.
 */
#define _GNU_SOURCE
#include <alloca.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "pt_check.h"

/* Touches about `bytes` of stack, a page at a time. */
static __attribute__((noinline)) void use_stack(size_t bytes)
{
    volatile char *p = alloca(bytes);
    for (size_t i = 0; i < bytes; i += 4096)
        p[i] = 1;
    p[bytes - 1] = 1;
}

struct probe {
    size_t use;       /* bytes to touch */
    size_t size;      /* OUT: getattr_np's stack size */
    int inside;       /* OUT: a local lies in the reported stack */
    int detach;       /* OUT: getattr_np's detach state */
};

static void *probe_stack(void *arg)
{
    struct probe *p = arg;
    pthread_attr_t a;
    void *addr;
    int local = 0;
    CHECK_EQ(pthread_getattr_np(pthread_self(), &a), 0);
    CHECK_EQ(pthread_attr_getstack(&a, &addr, &p->size), 0);
    CHECK_EQ(pthread_attr_getdetachstate(&a, &p->detach), 0);
    p->inside = (uintptr_t)&local >= (uintptr_t)addr &&
                (uintptr_t)&local < (uintptr_t)addr + p->size;
    CHECK_EQ(pthread_attr_destroy(&a), 0);
    if (p->use)
        use_stack(p->use);
    return NULL;
}

static void *wait_gate(void *arg)
{
    char c;
    CHECK_EQ(read(*(int *)arg, &c, 1), 1);
    return NULL;
}

int main(void)
{
    pthread_attr_t a;
    pthread_t t;
    struct probe p = {0};

    /* 1 MiB asked: about 900 KiB of it usable, and reported. */
    CHECK_EQ(pthread_attr_init(&a), 0);
    CHECK_EQ(pthread_attr_setstacksize(&a, 1 << 20), 0);
    size_t got;
    CHECK_EQ(pthread_attr_getstacksize(&a, &got), 0);
    CHECK_EQ(got, 1 << 20);
    p.use = 900 << 10;
    CHECK_EQ(pthread_create(&t, &a, probe_stack, &p), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(p.size >= (size_t)(900 << 10));
    CHECK(p.inside);
    CHECK_EQ(p.detach, PTHREAD_CREATE_JOINABLE);
    CHECK_EQ(pthread_attr_destroy(&a), 0);
    OK("stack-size-honoured");

    /* The default: as much as glibc gives (RLIMIT_STACK, 8 MiB here);
     * 4 MiB of it used. */
    memset(&p, 0, sizeof p);
    p.use = 4 << 20;
    CHECK_EQ(pthread_create(&t, NULL, probe_stack, &p), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(p.size >= (size_t)(4 << 20));
    CHECK(p.inside);
    OK("default-stack");

    /* Accepted: guard size, scheduling policy and inheritance, scope. */
    CHECK_EQ(pthread_attr_init(&a), 0);
    CHECK_EQ(pthread_attr_setguardsize(&a, 3 * 4096), 0);
    size_t guard;
    CHECK_EQ(pthread_attr_getguardsize(&a, &guard), 0);
    CHECK_EQ(guard, 3 * 4096);
    CHECK_EQ(pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED), 0);
    CHECK_EQ(pthread_attr_setschedpolicy(&a, SCHED_OTHER), 0);
    CHECK_EQ(pthread_attr_setscope(&a, PTHREAD_SCOPE_SYSTEM), 0);
    memset(&p, 0, sizeof p);
    CHECK_EQ(pthread_create(&t, &a, probe_stack, &p), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(p.inside);
    CHECK_EQ(pthread_attr_destroy(&a), 0);
    OK("accepted");

    /* Another thread's attributes, asked while it waits: its stack size
     * and detach state. */
    int gate[2];
    CHECK_EQ(pipe(gate), 0);
    CHECK_EQ(pthread_attr_init(&a), 0);
    CHECK_EQ(pthread_attr_setstacksize(&a, 256 << 10), 0);
    CHECK_EQ(pthread_create(&t, &a, wait_gate, &gate[0]), 0);
    CHECK_EQ(pthread_attr_destroy(&a), 0);
    CHECK_EQ(pthread_getattr_np(t, &a), 0);
    void *addr;
    size_t size;
    int ds;
    CHECK_EQ(pthread_attr_getstack(&a, &addr, &size), 0);
    CHECK(size >= (size_t)(256 << 10)); /* glibc may reuse a bigger one */
    CHECK_EQ(pthread_attr_getdetachstate(&a, &ds), 0);
    CHECK_EQ(ds, PTHREAD_CREATE_JOINABLE);
    CHECK_EQ(pthread_attr_destroy(&a), 0);
    CHECK_EQ(write(gate[1], "x", 1), 1);
    CHECK_EQ(pthread_join(t, NULL), 0);
    OK("other-thread");

    /* Main's attributes: its stack holds its locals. */
    memset(&p, 0, sizeof p);
    probe_stack(&p);
    CHECK(p.inside);
    CHECK(p.size >= (size_t)(64 << 10));
    OK("main-stack");
    return 0;
}
