/*
 * mutex.c - pthread_mutex_* on gt_mutex_t.
 *
 * A pthread_mutex_t holds a pointer to a heap gt__pts_mutex (sync_common.h,
 * THE OBJECTS), made at its first lock in a green thread, so a thread
 * parked on it is seen by every reader as parked on a gt mutex, its owner
 * named, and a cycle of them reported as a deadlock.  The type comes from
 * glibc's __kind at offset 16, where glibc's own static initializers
 * (PTHREAD_MUTEX_INITIALIZER, PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP,
 * PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP) put it and where
 * pthread_mutex_init puts it too.  Bytes 0-15 are zero in a mutex glibc's
 * functions left unlocked, so a mutex used outside green threads (before
 * main, in a kernel thread of the program's own) can be taken up by green
 * threads once it is unlocked; one used by green threads is theirs until
 * it is destroyed.
 *
 * Types: NORMAL and DEFAULT relock by the owner park for ever, as glibc's
 * do (readers then show a thread waiting on itself: a deadlock of one);
 * ERRORCHECK gives EDEADLK there and EPERM to an unlock by another thread;
 * RECURSIVE counts.  Robust and priority attributes are accepted and have
 * no effect.  Waiters are served first come first served: unlock hands
 * the mutex to the first waiter (no barging, no starvation).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "sync_common.h"

/* pthread_mutex_t as this file sees it. */
struct pt_mutex {
    struct gt__pts_head h;  /* bytes 0-15: glibc's __lock..__nusers */
    int kind;              /* glibc's __kind: the type in its low 2 bits */
    int rest[5];
} __attribute__((may_alias));

_Static_assert(sizeof(struct pt_mutex) <= sizeof(pthread_mutex_t),
               "pthread_mutex_t smaller than glibc's (40 bytes x86-64, 48 AArch64)");
_Static_assert(offsetof(struct pt_mutex, kind) == 16,
               "glibc's static initializers put the kind at offset 16");

static int type_of(int kind)
{
    switch (kind & 3) {
    case PTHREAD_MUTEX_RECURSIVE:
        return PTHREAD_MUTEX_RECURSIVE;
    case PTHREAD_MUTEX_ERRORCHECK:
        return PTHREAD_MUTEX_ERRORCHECK;
    default: /* NORMAL (= DEFAULT in glibc), ADAPTIVE_NP */
        return PTHREAD_MUTEX_NORMAL;
    }
}

int gt__pts_mutex_get(pthread_mutex_t *pm, struct gt__pts_mutex **out)
{
    struct pt_mutex *p = (struct pt_mutex *)pm;
    if (gt__pts_ours(&p->h)) {
        *out = p->h.impl;
        return 0;
    }
    if (!gt__pts_idle(&p->h)) {
        gt__pts_complain("pthread mutex locked outside green threads (or "
                        "not a mutex): EINVAL in a green thread:", pm);
        return EINVAL;
    }
    struct gt__pts_mutex *x = calloc(1, sizeof(*x));
    if (!x)
        return EAGAIN;
    gt_mutex_init(&x->m);
    x->type = type_of(p->kind);
    gt__pts_set(&p->h, x);
    *out = x;
    return 0;
}

int gt__pts_mutex_take(struct gt__pts_mutex *x, const void *fp, uint64_t deadline)
{
    struct gt__thread *self = gt__self();
    gt_mutex_t *m = &x->m;
    if (!m->owner) {
        /* The hold starts at the runtime's last clock reading (HOLD TIMES
         * in gt/registry.h), as gt_mutex_lock's does. */
        m->owner = self;
        m->held_since = gt__reg.clock_now;
        x->count = 1;
        return 0;
    }
    int r = gt__waitq_park(&m->waiters, fp, GT_WAIT_MUTEX,
                           (uint64_t)(uintptr_t)m, 0, deadline);
    if (r)
        return r == ETIMEDOUT ? ETIMEDOUT : EAGAIN;
    x->count = 1; /* the unlock handed it to us */
    return 0;
}

void gt__pts_mutex_release(struct gt__pts_mutex *x)
{
    gt_mutex_t *m = &x->m;
    struct gt__thread *next = gt__waitq_pop(&m->waiters);
    m->owner = next;
    x->count = 0;
    if (next) {
        gt__wake(next, 0);
        m->held_since = GT__INSTRUMENT ? gt__clock() : gt__reg.clock_now;
    }
}

GT__PTS_PUBLIC int pthread_mutex_init(pthread_mutex_t *pm,
                                     const pthread_mutexattr_t *attr)
{
    int type = PTHREAD_MUTEX_DEFAULT;
    if (attr) {
        int shared = PTHREAD_PROCESS_PRIVATE;
        pthread_mutexattr_getpshared(attr, &shared);
        if (shared != PTHREAD_PROCESS_PRIVATE) {
            gt__pts_refuse_pshared("pthread_mutex_init");
            return EINVAL;
        }
        if (pthread_mutexattr_gettype(attr, &type) != 0)
            return EINVAL;
    }
    /* What glibc's init writes for these types: an unlocked mutex either
     * implementation can take up. */
    struct pt_mutex *p = (struct pt_mutex *)pm;
    memset(pm, 0, sizeof(*pm));
    p->kind = type;
    return 0;
}

GT__PTS_PUBLIC int pthread_mutex_destroy(pthread_mutex_t *pm)
{
    struct pt_mutex *p = (struct pt_mutex *)pm;
    if (gt__pts_idle(&p->h))
        return 0;
    if (!gt__pts_ours(&p->h))
        return gt__self() ? EBUSY : GT__PTS_REAL(pthread_mutex_destroy)(pm);
    struct gt__pts_mutex *x = p->h.impl;
    /* Locked, waited on, or a kernel thread's call while green threads
     * run (they may be using it). */
    if (!gt__may_touch_object() || x->m.owner || x->m.waiters.head)
        return EBUSY;
    x->m.magic = 0xdeadull;
    free(x);
    gt__pts_set(&p->h, NULL);
    return 0;
}

/* Lock, trylock and the timed locks.  ABSTIME NULL: no deadline. */
static int mutex_lock(pthread_mutex_t *pm, const void *fp, int try,
                      clockid_t clock, const struct timespec *abstime)
{
    struct gt__pts_mutex *x;
    int r = gt__pts_mutex_get(pm, &x);
    if (r)
        return r;
    struct gt__thread *self = gt__self();
    if (x->m.owner == self) {
        if (x->type == PTHREAD_MUTEX_RECURSIVE) {
            if (x->count == UINT_MAX)
                return EAGAIN;
            x->count++;
            return 0;
        }
        if (try)
            return EBUSY;
        if (x->type == PTHREAD_MUTEX_ERRORCHECK)
            return EDEADLK;
        /* NORMAL: parks below, for ever or until ABSTIME, like glibc. */
    }
    if (!x->m.owner)
        return gt__pts_mutex_take(x, fp, 0);
    if (try)
        return EBUSY;
    /* POSIX checks ABSTIME only when the call would block. */
    uint64_t deadline = 0;
    if (abstime && (r = gt__pts_deadline(clock, abstime, &deadline)))
        return r;
    return gt__pts_mutex_take(x, fp, deadline);
}

static int mutex_elsewhere(pthread_mutex_t *pm)
{
    gt__pts_complain("pthread mutex used by green threads, then outside "
                    "them: EINVAL there:", pm);
    return EINVAL;
}

GT__PTS_PUBLIC int pthread_mutex_lock(pthread_mutex_t *pm)
{
    /* The uncontended lock of a mutex in use, in a few loads and two
     * stores: the call is most of what a lock costs. */
    struct pt_mutex *p = (struct pt_mutex *)pm;
    struct gt__thread *self = gt__self();
    if (GT__LIKELY(self && gt__pts_ours(&p->h))) {
        struct gt__pts_mutex *x = p->h.impl;
        if (GT__LIKELY(!x->m.owner)) {
            x->m.owner = self;
            x->m.held_since = gt__reg.clock_now;
            x->count = 1;
            return 0;
        }
    }
    if (!self) {
        if (gt__pts_ours((struct gt__pts_head *)pm))
            return mutex_elsewhere(pm);
        return GT__PTS_REAL(pthread_mutex_lock)(pm);
    }
    return gt__keep_frame(
        mutex_lock(pm, __builtin_frame_address(0), 0, CLOCK_REALTIME, NULL));
}

GT__PTS_PUBLIC int pthread_mutex_trylock(pthread_mutex_t *pm)
{
    if (!gt__self()) {
        if (gt__pts_ours((struct gt__pts_head *)pm))
            return mutex_elsewhere(pm);
        return GT__PTS_REAL(pthread_mutex_trylock)(pm);
    }
    return mutex_lock(pm, NULL, 1, CLOCK_REALTIME, NULL);
}

GT__PTS_PUBLIC int pthread_mutex_timedlock(pthread_mutex_t *pm,
                                          const struct timespec *abstime)
{
    if (!gt__self()) {
        if (gt__pts_ours((struct gt__pts_head *)pm))
            return mutex_elsewhere(pm);
        return GT__PTS_REAL(pthread_mutex_timedlock)(pm, abstime);
    }
    return gt__keep_frame(mutex_lock(pm, __builtin_frame_address(0), 0,
                                     CLOCK_REALTIME, abstime));
}

GT__PTS_PUBLIC int pthread_mutex_clocklock(pthread_mutex_t *pm, clockid_t clock,
                                          const struct timespec *abstime)
{
    if (!gt__self()) {
        if (gt__pts_ours((struct gt__pts_head *)pm))
            return mutex_elsewhere(pm);
        return GT__PTS_REAL(pthread_mutex_clocklock)(pm, clock, abstime);
    }
    return gt__keep_frame(
        mutex_lock(pm, __builtin_frame_address(0), 0, clock, abstime));
}

GT__PTS_PUBLIC int pthread_mutex_unlock(pthread_mutex_t *pm)
{
    struct pt_mutex *p = (struct pt_mutex *)pm;
    struct gt__thread *self = gt__self();
    if (GT__LIKELY(self && gt__pts_ours(&p->h))) {
        struct gt__pts_mutex *x = p->h.impl;
        /* The owner's last unlock with nobody waiting. */
        if (GT__LIKELY(x->m.owner == self && x->count == 1 &&
                       !x->m.waiters.head)) {
            x->m.owner = NULL;
            x->count = 0;
            return 0;
        }
    }
    if (!self) {
        if (gt__pts_ours(&p->h)) {
            mutex_elsewhere(pm);
            return EPERM;
        }
        return GT__PTS_REAL(pthread_mutex_unlock)(pm);
    }
    if (!gt__pts_ours(&p->h)) {
        /* Never locked by a green thread: unlocked, or a kernel thread's. */
        if (!gt__pts_idle(&p->h))
            return EPERM;
        return type_of(p->kind) == PTHREAD_MUTEX_NORMAL ? 0 : EPERM;
    }
    struct gt__pts_mutex *x = p->h.impl;
    if (x->m.owner != gt__self()) {
        /* glibc lets any thread unlock a NORMAL mutex (undefined in
         * POSIX; some programs use one as a binary semaphore): so does
         * this, handing it on; unlocking an unlocked one does nothing. */
        if (x->type != PTHREAD_MUTEX_NORMAL)
            return EPERM;
        if (!x->m.owner)
            return 0;
    } else if (x->type == PTHREAD_MUTEX_RECURSIVE && x->count > 1) {
        x->count--;
        return 0;
    }
    gt__pts_mutex_release(x);
    return 0;
}

GT__PTS_PUBLIC int pthread_mutexattr_setpshared(pthread_mutexattr_t *attr,
                                               int pshared)
{
    if (pshared == PTHREAD_PROCESS_SHARED) {
        gt__pts_refuse_pshared("pthread_mutexattr_setpshared");
        return EINVAL;
    }
    return GT__PTS_REAL(pthread_mutexattr_setpshared)(attr, pshared);
}

/* A mutex of green threads is never left inconsistent by a dead owner
 * (robust mutexes are accepted as plain ones): nothing to make
 * consistent, which POSIX answers with EINVAL. */
GT__PTS_PUBLIC int pthread_mutex_consistent(pthread_mutex_t *pm)
{
    if (!gt__self() && !gt__pts_ours((struct gt__pts_head *)pm))
        return GT__PTS_REAL(pthread_mutex_consistent)(pm);
    return EINVAL;
}
