/*
 * barrier.c - pthread_barrier_* on a gt wait queue.
 *
 * A barrier has no static initializer, so pthread_barrier_init makes its
 * heap object in any thread (sync_common.h, THE OBJECTS).  Threads that
 * arrive early park, published as waiting on the barrier's gt condition
 * at the caller's call site; the last to arrive wakes them all and is
 * the serial thread (PTHREAD_BARRIER_SERIAL_THREAD), as on glibc, and the
 * barrier is ready for the next round at once.  Outside a green thread a
 * wait can only complete a barrier of count 1 (nothing could wake a
 * kernel thread parked on green threads): otherwise EINVAL.
 */
#include <stdlib.h>

#include "sync_common.h"

struct barrier {
    gt_cond_t c;          /* first: what readers see */
    unsigned count;       /* threads a round needs */
    unsigned arrived;     /* parked in this round */
};

_Static_assert(sizeof(pthread_barrier_t) >= sizeof(struct gt__pts_head),
               "pthread_barrier_t too small");

GT__PTS_PUBLIC int pthread_barrier_init(pthread_barrier_t *pb,
                                       const pthread_barrierattr_t *attr,
                                       unsigned count)
{
    if (attr) {
        int shared = PTHREAD_PROCESS_PRIVATE;
        pthread_barrierattr_getpshared(attr, &shared);
        if (shared != PTHREAD_PROCESS_PRIVATE) {
            gt__pts_refuse_pshared("pthread_barrier_init");
            return EINVAL;
        }
    }
    if (count == 0)
        return EINVAL;
    struct barrier *b = calloc(1, sizeof(*b));
    if (!b)
        return ENOMEM;
    gt_cond_init(&b->c);
    b->count = count;
    gt__pts_set((struct gt__pts_head *)pb, b);
    return 0;
}

GT__PTS_PUBLIC int pthread_barrier_destroy(pthread_barrier_t *pb)
{
    struct gt__pts_head *h = (struct gt__pts_head *)pb;
    if (!gt__pts_ours(h))
        return EINVAL;
    struct barrier *b = h->impl;
    if (!gt__may_touch_object() || b->arrived)
        return EBUSY;
    b->c.magic = 0xdeadull;
    free(b);
    gt__pts_set(h, NULL);
    return 0;
}

static int barrier_wait(pthread_barrier_t *pb, const void *fp)
{
    struct gt__pts_head *h = (struct gt__pts_head *)pb;
    if (!gt__pts_ours(h))
        return EINVAL;
    struct barrier *b = h->impl;
    if (!gt__self()) {
        if (b->count == 1 && gt__may_touch_object())
            return PTHREAD_BARRIER_SERIAL_THREAD;
        gt__pts_complain("pthread_barrier_wait outside a green thread: EINVAL:",
                        pb);
        return EINVAL;
    }
    if (++b->arrived == b->count) {
        b->arrived = 0;
        struct gt__thread *t;
        while ((t = gt__waitq_pop(&b->c.waiters)))
            gt__wake(t, 0);
        return PTHREAD_BARRIER_SERIAL_THREAD;
    }
    int r = gt__waitq_park(&b->c.waiters, fp, GT_WAIT_COND,
                           (uint64_t)(uintptr_t)&b->c, 0, 0);
    if (r) { /* out of memory before it could park: not arrived */
        b->arrived--;
        return EAGAIN;
    }
    return 0;
}

GT__PTS_PUBLIC int pthread_barrier_wait(pthread_barrier_t *pb)
{
    return gt__keep_frame(barrier_wait(pb, __builtin_frame_address(0)));
}

GT__PTS_PUBLIC int pthread_barrierattr_setpshared(pthread_barrierattr_t *attr,
                                                 int pshared)
{
    if (pshared == PTHREAD_PROCESS_SHARED) {
        gt__pts_refuse_pshared("pthread_barrierattr_setpshared");
        return EINVAL;
    }
    return GT__PTS_REAL(pthread_barrierattr_setpshared)(attr, pshared);
}
