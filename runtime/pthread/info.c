/*
 * info.c - what a pthread_t tells about its thread: its name (the
 * registry's, which every reader shows), its attributes (the green stack,
 * for pthread_getattr_np's users such as garbage collectors), and the
 * kernel-thread properties (CPU clock, affinity, scheduling), which all
 * green threads share since one kernel thread runs them.
 */
#include <errno.h>
#include <string.h>

#include "pthread_gt.h"

/* The block of a pthread_t given by a green thread; NULL if none. */
static struct gt__pthread *find_live(pthread_t th)
{
    struct gt__pthread *b = gt__pt_find(th);
    return b && b->h.rec ? b : NULL;
}

GT__PUBLIC int pthread_setname_np(pthread_t th, const char *name)
{
    struct gt__pthread *b = gt__pt_find(th);
    if (!gt__self() && !b)
        return PT_NEXT(pthread_setname_np)(th, name);
    if (strlen(name) >= PT_NAME_MAX)
        return ERANGE; /* as Linux: 15 bytes and the NUL */
    if (!b)
        return ESRCH;
    memcpy(b->name, name, strlen(name) + 1);
    if (!b->h.rec)
        return 0; /* made before main: named when it starts */
    int saved = errno;
    int rc = gt__self() ? gt_set_name(b->h, name) : 0;
    errno = saved;
    return rc < 0 ? ESRCH : 0;
}

GT__PUBLIC int pthread_getname_np(pthread_t th, char *buf, size_t len)
{
    struct gt__pthread *b = gt__pt_find(th);
    if (!gt__self() && !b)
        return PT_NEXT(pthread_getname_np)(th, buf, len);
    if (len < PT_NAME_MAX)
        return ERANGE;
    if (!b)
        return ESRCH;
    memcpy(buf, b->name, PT_NAME_MAX);
    buf[PT_NAME_MAX - 1] = 0;
    return 0;
}

/* The attributes of a running thread: its green stack (the usable range,
 * the guard below it), its detach state; the rest glibc's defaults. */
GT__PUBLIC int pthread_getattr_np(pthread_t th, pthread_attr_t *attr)
{
    struct gt__pthread *b = find_live(th);
    if (!gt__self() && !b)
        return PT_NEXT(pthread_getattr_np)(th, attr);
    if (!b)
        return ESRCH;
    struct gt__thread *t = b->h.rec;
    int rc = pthread_attr_init(attr);
    if (rc)
        return rc;
    pthread_attr_setstack(attr, (void *)(uintptr_t)t->pub.stack_lo,
                          (size_t)(t->pub.stack_hi - t->pub.stack_lo));
    pthread_attr_setguardsize(attr, (size_t)t->pub.guard_size);
    pthread_attr_setdetachstate(attr, b->detached && !b->is_main
                                          ? PTHREAD_CREATE_DETACHED
                                          : PTHREAD_CREATE_JOINABLE);
    return 0;
}

/* ---- the kernel thread's properties ----------------------------------------
 * Asked of any live pthread, answered for the calling kernel thread: in a
 * green thread, the one that runs them all. */

#define KERNEL_THREAD(th)                                                  \
    do {                                                                   \
        if (!find_live(th))                                                \
            return ESRCH;                                                  \
        th = PT_NEXT(pthread_self)();                                      \
    } while (0)

GT__PUBLIC int pthread_getcpuclockid(pthread_t th, clockid_t *clk)
{
    if (gt__self() || gt__pt_find(th))
        KERNEL_THREAD(th);
    return PT_NEXT(pthread_getcpuclockid)(th, clk);
}

GT__PUBLIC int pthread_setaffinity_np(pthread_t th, size_t size,
                                      const cpu_set_t *set)
{
    if (gt__self() || gt__pt_find(th))
        KERNEL_THREAD(th);
    return PT_NEXT(pthread_setaffinity_np)(th, size, set);
}

GT__PUBLIC int pthread_getaffinity_np(pthread_t th, size_t size, cpu_set_t *set)
{
    if (gt__self() || gt__pt_find(th))
        KERNEL_THREAD(th);
    return PT_NEXT(pthread_getaffinity_np)(th, size, set);
}

GT__PUBLIC int pthread_setschedparam(pthread_t th, int policy,
                                     const struct sched_param *p)
{
    if (gt__self() || gt__pt_find(th))
        KERNEL_THREAD(th);
    return PT_NEXT(pthread_setschedparam)(th, policy, p);
}

GT__PUBLIC int pthread_getschedparam(pthread_t th, int *policy,
                                     struct sched_param *p)
{
    if (gt__self() || gt__pt_find(th))
        KERNEL_THREAD(th);
    return PT_NEXT(pthread_getschedparam)(th, policy, p);
}

GT__PUBLIC int pthread_setschedprio(pthread_t th, int prio)
{
    if (gt__self() || gt__pt_find(th))
        KERNEL_THREAD(th);
    return PT_NEXT(pthread_setschedprio)(th, prio);
}
