/*
 * rwlock.c - pthread_rwlock_* from a gt mutex and two wait queues.
 *
 * A pthread_rwlock_t holds a pointer to a heap struct rw (sync_common.h,
 * THE OBJECTS), made at its first use in a green thread.  Its gt mutex
 * WL is never locked through the gt API: its owner is the writer holding
 * the lock (NULL while readers hold it or it is free), so that a thread
 * blocked by a writer is published as waiting on that mutex, and readers
 * name the writer as who blocks it (and a cycle through it as a
 * deadlock).  A thread blocked by readers is published as waiting on a
 * condition of the lock (W, or R for a reader held back by a waiting
 * writer): readers hold no record of their own, so no reader is named.
 * Every wait is at the caller's call site.
 *
 * Preference is glibc's, from the kind glibc keeps at offset 48
 * (PTHREAD_RWLOCK_INITIALIZER, pthread_rwlockattr_setkind_np):
 *   - by default readers are preferred: a reader gets the lock whenever
 *     no writer holds it, so a thread may take a read lock it already
 *     holds while a writer waits (writers can starve, as on glibc);
 *   - PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP: a reader waits while
 *     a writer waits, and the last reader or writer out hands the lock
 *     to the first waiting writer.
 * Writers are served in arrival order.  A writer that unlocks with
 * readers waiting (readers preferred) wakes them all; waiting writers are
 * woken too, to park again as waiting on readers (what they then wait
 * for).  wrlock by the writer holding it gives EDEADLK, as does rdlock
 * there; an unlock by a thread that holds nothing gives EPERM when the
 * lock is free or write-held by another (readers are only counted).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "sync_common.h"

struct rw {
    gt_mutex_t wl;        /* owner: the writer holding it (see above) */
    gt_cond_t r, w;       /* blocked readers, blocked writers */
    unsigned readers;     /* read locks held */
    unsigned wwait;       /* writers parked */
    int prefer_writer;
};

struct pt_rwlock {
    struct gt__pts_head h;
    char glibc[32];
    unsigned flags;       /* glibc's __flags: the kind */
    unsigned rest;
} __attribute__((may_alias));

_Static_assert(sizeof(struct pt_rwlock) == sizeof(pthread_rwlock_t),
               "pthread_rwlock_t is not glibc's 64-bit size");
_Static_assert(offsetof(struct pt_rwlock, flags) == 48,
               "glibc's static initializers put the kind at offset 48");

static int rw_get(pthread_rwlock_t *prw, struct rw **out)
{
    struct pt_rwlock *p = (struct pt_rwlock *)prw;
    if (gt__pts_ours(&p->h)) {
        *out = p->h.impl;
        return 0;
    }
    /* Fresh, or left idle by glibc: taken up (sync_common.h). */
    struct rw *x = calloc(1, sizeof(*x));
    if (!x)
        return EAGAIN;
    gt_mutex_init(&x->wl);
    gt_cond_init(&x->r);
    gt_cond_init(&x->w);
    x->prefer_writer = p->flags == PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP;
    gt__pts_set(&p->h, x);
    *out = x;
    return 0;
}

static void write_take(struct rw *x, struct gt__thread *t, int handed)
{
    x->wl.owner = t;
    x->wl.held_since =
        handed && GT__INSTRUMENT ? gt__clock() : gt__reg.clock_now;
}

/* Parks the caller on Q: as waiting on WL while a writer holds the lock,
 * else on the condition COND. */
static int rw_park(struct rw *x, gt_cond_t *q, const void *fp, uint64_t deadline)
{
    if (x->wl.owner)
        return gt__waitq_park(&q->waiters, fp, GT_WAIT_MUTEX,
                              (uint64_t)(uintptr_t)&x->wl, 0, deadline);
    return gt__waitq_park(&q->waiters, fp, GT_WAIT_COND,
                          (uint64_t)(uintptr_t)q, 0, deadline);
}

static void wake_all(gt_cond_t *q)
{
    struct gt__thread *t;
    while ((t = gt__waitq_pop(&q->waiters)))
        gt__wake(t, 0);
}

/* The lock is free of writers: who gets it next. */
static void rw_next(struct rw *x)
{
    if (x->readers) {
        if (!x->prefer_writer)
            return;
    } else if (x->w.waiters.head && (x->prefer_writer || !x->r.waiters.head)) {
        struct gt__thread *t = gt__waitq_pop(&x->w.waiters);
        write_take(x, t, 1);
        gt__wake(t, 0);
        return;
    }
    if (x->r.waiters.head && (!x->prefer_writer || !x->wwait)) {
        wake_all(&x->r);
        /* The writers still parked wait for readers now: they park
         * again, published as such. */
        wake_all(&x->w);
    }
}

/* What a reader or writer that cannot have the lock now gets instead of
 * parking: EBUSY for a try, EDEADLK when it holds the write lock itself,
 * ABSTIME's error (on CLOCK; NULL: no deadline); else 0, and *DEADLINE
 * set at the first park (0: none). */
static int may_park(const struct rw *x, int try, clockid_t clock,
                    const struct timespec *abstime, uint64_t *deadline)
{
    if (try)
        return EBUSY;
    if (x->wl.owner == gt__self())
        return EDEADLK;
    if (abstime && !*deadline)
        return gt__pts_deadline(clock, abstime, deadline);
    return 0;
}

static int rdlock(pthread_rwlock_t *prw, const void *fp, int try,
                  clockid_t clock, const struct timespec *abstime)
{
    struct rw *x;
    int r = rw_get(prw, &x);
    if (r)
        return r;
    uint64_t deadline = 0;
    for (;;) {
        if (!x->wl.owner && !(x->prefer_writer && x->wwait)) {
            if (x->readers == UINT_MAX)
                return EAGAIN;
            x->readers++;
            return 0;
        }
        if ((r = may_park(x, try, clock, abstime, &deadline)))
            return r;
        if (rw_park(x, &x->r, fp, deadline) == ETIMEDOUT)
            return ETIMEDOUT;
    }
}

static int wrlock(pthread_rwlock_t *prw, const void *fp, int try,
                  clockid_t clock, const struct timespec *abstime)
{
    struct rw *x;
    int r = rw_get(prw, &x);
    if (r)
        return r;
    struct gt__thread *self = gt__self();
    uint64_t deadline = 0;
    for (;;) {
        if (!x->wl.owner && !x->readers) {
            write_take(x, self, 0);
            return 0;
        }
        if ((r = may_park(x, try, clock, abstime, &deadline)))
            return r;
        x->wwait++;
        r = rw_park(x, &x->w, fp, deadline);
        x->wwait--;
        if (x->wl.owner == self)
            return 0; /* handed over */
        if (r == ETIMEDOUT) {
            /* Readers held back by this writer may go now. */
            if (!x->wl.owner)
                rw_next(x);
            return ETIMEDOUT;
        }
    }
}

GT__PTS_PUBLIC int pthread_rwlock_init(pthread_rwlock_t *prw,
                                      const pthread_rwlockattr_t *attr)
{
    if (attr) {
        int shared = PTHREAD_PROCESS_PRIVATE;
        pthread_rwlockattr_getpshared(attr, &shared);
        if (shared != PTHREAD_PROCESS_PRIVATE) {
            gt__pts_refuse_pshared("pthread_rwlock_init");
            return EINVAL;
        }
    }
    return GT__PTS_REAL(pthread_rwlock_init)(prw, attr);
}

GT__PTS_PUBLIC int pthread_rwlock_destroy(pthread_rwlock_t *prw)
{
    struct gt__pts_head *h = (struct gt__pts_head *)prw;
    if (!gt__pts_ours(h))
        return GT__PTS_REAL(pthread_rwlock_destroy)(prw);
    struct rw *x = h->impl;
    if (!gt__may_touch_object() || x->wl.owner || x->readers ||
        x->r.waiters.head || x->w.waiters.head)
        return EBUSY;
    x->wl.magic = 0xdeadull;
    free(x);
    gt__pts_set(h, NULL);
    return 0;
}

static int rw_elsewhere(pthread_rwlock_t *prw)
{
    gt__pts_complain("pthread rwlock used by green threads, then outside "
                    "them: EINVAL there:", prw);
    return EINVAL;
}

#define OUTSIDE(prw, call)                                                 \
    do {                                                                   \
        if (!gt__self()) {                                                 \
            if (gt__pts_ours((struct gt__pts_head *)(prw)))                  \
                return rw_elsewhere(prw);                                  \
            return call;                                                   \
        }                                                                  \
    } while (0)

GT__PTS_PUBLIC int pthread_rwlock_rdlock(pthread_rwlock_t *prw)
{
    OUTSIDE(prw, GT__PTS_REAL(pthread_rwlock_rdlock)(prw));
    return gt__keep_frame(
        rdlock(prw, __builtin_frame_address(0), 0, CLOCK_REALTIME, NULL));
}

GT__PTS_PUBLIC int pthread_rwlock_tryrdlock(pthread_rwlock_t *prw)
{
    OUTSIDE(prw, GT__PTS_REAL(pthread_rwlock_tryrdlock)(prw));
    return rdlock(prw, NULL, 1, CLOCK_REALTIME, NULL);
}

GT__PTS_PUBLIC int pthread_rwlock_timedrdlock(pthread_rwlock_t *prw,
                                             const struct timespec *abstime)
{
    OUTSIDE(prw, GT__PTS_REAL(pthread_rwlock_timedrdlock)(prw, abstime));
    return gt__keep_frame(
        rdlock(prw, __builtin_frame_address(0), 0, CLOCK_REALTIME, abstime));
}

GT__PTS_PUBLIC int pthread_rwlock_clockrdlock(pthread_rwlock_t *prw, clockid_t clock,
                                             const struct timespec *abstime)
{
    OUTSIDE(prw, GT__PTS_REAL(pthread_rwlock_clockrdlock)(prw, clock, abstime));
    return gt__keep_frame(
        rdlock(prw, __builtin_frame_address(0), 0, clock, abstime));
}

GT__PTS_PUBLIC int pthread_rwlock_wrlock(pthread_rwlock_t *prw)
{
    OUTSIDE(prw, GT__PTS_REAL(pthread_rwlock_wrlock)(prw));
    return gt__keep_frame(
        wrlock(prw, __builtin_frame_address(0), 0, CLOCK_REALTIME, NULL));
}

GT__PTS_PUBLIC int pthread_rwlock_trywrlock(pthread_rwlock_t *prw)
{
    OUTSIDE(prw, GT__PTS_REAL(pthread_rwlock_trywrlock)(prw));
    return wrlock(prw, NULL, 1, CLOCK_REALTIME, NULL);
}

GT__PTS_PUBLIC int pthread_rwlock_timedwrlock(pthread_rwlock_t *prw,
                                             const struct timespec *abstime)
{
    OUTSIDE(prw, GT__PTS_REAL(pthread_rwlock_timedwrlock)(prw, abstime));
    return gt__keep_frame(
        wrlock(prw, __builtin_frame_address(0), 0, CLOCK_REALTIME, abstime));
}

GT__PTS_PUBLIC int pthread_rwlock_clockwrlock(pthread_rwlock_t *prw, clockid_t clock,
                                             const struct timespec *abstime)
{
    OUTSIDE(prw, GT__PTS_REAL(pthread_rwlock_clockwrlock)(prw, clock, abstime));
    return gt__keep_frame(
        wrlock(prw, __builtin_frame_address(0), 0, clock, abstime));
}

GT__PTS_PUBLIC int pthread_rwlock_unlock(pthread_rwlock_t *prw)
{
    OUTSIDE(prw, GT__PTS_REAL(pthread_rwlock_unlock)(prw));
    struct gt__pts_head *h = (struct gt__pts_head *)prw;
    if (!gt__pts_ours(h))
        return EPERM; /* never locked by a green thread */
    struct rw *x = h->impl;
    if (x->wl.owner == gt__self()) {
        x->wl.owner = NULL;
        rw_next(x);
        return 0;
    }
    if (x->wl.owner || !x->readers)
        return EPERM;
    if (--x->readers == 0)
        rw_next(x);
    return 0;
}

GT__PTS_PUBLIC int pthread_rwlockattr_setpshared(pthread_rwlockattr_t *attr,
                                                int pshared)
{
    if (pshared == PTHREAD_PROCESS_SHARED) {
        gt__pts_refuse_pshared("pthread_rwlockattr_setpshared");
        return EINVAL;
    }
    return GT__PTS_REAL(pthread_rwlockattr_setpshared)(attr, pshared);
}
