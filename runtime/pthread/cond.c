/*
 * cond.c - pthread_cond_* on gt_cond_t.
 *
 * A pthread_cond_t holds a pointer to a heap gt_cond_t (sync_common.h,
 * THE OBJECTS), made at its first wait in a green thread; a waiter is
 * published as GT_WAIT_COND on it with the gt mutex it retakes, at the
 * caller's call site.  Signal and broadcast wake in arrival order; there
 * are no spurious wake-ups except when the runtime is out of memory
 * (which POSIX allows a wait to end with).
 *
 * The clock of timedwait is the one pthread_condattr_setclock chose.
 * pthread_cond_init is glibc's own (after refusing process-shared), so
 * the clock is where glibc keeps it: which bit that is, is learnt once by
 * initialising two conditions with glibc and comparing them.  The
 * condition's first 16 bytes are zero after glibc's init, and a condition
 * glibc waited on outside green threads is taken up (its words 0-15
 * overwritten) at its first use in one: it must be idle by then.
 */
#include <stdlib.h>
#include <string.h>

#include "sync_common.h"

_Static_assert(sizeof(pthread_cond_t) >= sizeof(struct gt__pts_head) + 8,
               "pthread_cond_t too small");

/* Where glibc's init records CLOCK_MONOTONIC: a 32-bit word and a mask. */
static struct {
    int known;
    unsigned word;
    uint32_t mask;
} clockbit;

static void learn_clock_bit(void)
{
    pthread_condattr_t attr;
    pthread_cond_t rt, mono;
    pthread_condattr_init(&attr);
    GT__PTS_REAL(pthread_cond_init)(&rt, &attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    GT__PTS_REAL(pthread_cond_init)(&mono, &attr);
    pthread_condattr_destroy(&attr);
    uint32_t a[sizeof(pthread_cond_t) / 4], b[sizeof(pthread_cond_t) / 4];
    memcpy(a, &rt, sizeof(a));
    memcpy(b, &mono, sizeof(b));
    for (unsigned i = sizeof(struct gt__pts_head) / 4; i < sizeof(a) / 4; i++)
        if (a[i] != b[i]) {
            clockbit.word = i;
            clockbit.mask = a[i] ^ b[i];
            break;
        }
    clockbit.known = 1;
}

static clockid_t clock_of(const pthread_cond_t *pc)
{
    if (!clockbit.known)
        learn_clock_bit();
    if (!clockbit.mask)
        return CLOCK_REALTIME;
    uint32_t w;
    memcpy(&w, (const char *)pc + 4 * clockbit.word, 4);
    return (w & clockbit.mask) == clockbit.mask ? CLOCK_MONOTONIC
                                                : CLOCK_REALTIME;
}

/* The gt condition of PC, taken up at its first use: 0 or EAGAIN. */
static int cond_get(pthread_cond_t *pc, gt_cond_t **out)
{
    struct gt__pts_head *h = (struct gt__pts_head *)pc;
    if (gt__pts_ours(h)) {
        *out = h->impl;
        return 0;
    }
    gt_cond_t *c = malloc(sizeof(*c));
    if (!c)
        return EAGAIN;
    gt_cond_init(c);
    gt__pts_set(h, c);
    *out = c;
    return 0;
}

GT__PTS_PUBLIC int pthread_cond_init(pthread_cond_t *pc,
                                    const pthread_condattr_t *attr)
{
    if (attr) {
        int shared = PTHREAD_PROCESS_PRIVATE;
        pthread_condattr_getpshared(attr, &shared);
        if (shared != PTHREAD_PROCESS_PRIVATE) {
            gt__pts_refuse_pshared("pthread_cond_init");
            return EINVAL;
        }
    }
    return GT__PTS_REAL(pthread_cond_init)(pc, attr);
}

GT__PTS_PUBLIC int pthread_cond_destroy(pthread_cond_t *pc)
{
    struct gt__pts_head *h = (struct gt__pts_head *)pc;
    if (!gt__pts_ours(h))
        return GT__PTS_REAL(pthread_cond_destroy)(pc);
    gt_cond_t *c = h->impl;
    if (!gt__may_touch_object() || c->waiters.head)
        return EBUSY;
    c->magic = 0xdeadull;
    free(c);
    gt__pts_set(h, NULL);
    return 0;
}

/* Wait and the timed waits (ABSTIME NULL: none) in a green thread. */
static int cond_wait(pthread_cond_t *pc, pthread_mutex_t *pm, const void *fp,
                     clockid_t clock, const struct timespec *abstime)
{
    struct gt__pts_mutex *x;
    gt_cond_t *c;
    int r = gt__pts_mutex_get(pm, &x);
    if (r)
        return r;
    if (x->m.owner != gt__self())
        return EPERM;
    uint64_t deadline = 0;
    if (abstime && (r = gt__pts_deadline(clock, abstime, &deadline)))
        return r; /* EINVAL, or ETIMEDOUT still holding the mutex */
    if ((r = cond_get(pc, &c)))
        return r;
    /* A recursive mutex is let go whole and taken back to the same
     * count. */
    unsigned count = x->count;
    gt__pts_mutex_release(x);
    r = gt__waitq_park(&c->waiters, fp, GT_WAIT_COND, (uint64_t)(uintptr_t)c,
                       (uint64_t)(uintptr_t)&x->m, deadline);
    gt__pts_mutex_take(x, fp, 0);
    x->count = count;
    return r == ETIMEDOUT ? ETIMEDOUT : 0;
}

static int cond_elsewhere(pthread_cond_t *pc)
{
    gt__pts_complain("pthread condition used by green threads, then outside "
                    "them: EINVAL there:", pc);
    return EINVAL;
}

GT__PTS_PUBLIC int pthread_cond_wait(pthread_cond_t *pc, pthread_mutex_t *pm)
{
    if (!gt__self()) {
        if (gt__pts_ours((struct gt__pts_head *)pc))
            return cond_elsewhere(pc);
        return GT__PTS_REAL(pthread_cond_wait)(pc, pm);
    }
    return gt__keep_frame(
        cond_wait(pc, pm, __builtin_frame_address(0), CLOCK_REALTIME, NULL));
}

GT__PTS_PUBLIC int pthread_cond_timedwait(pthread_cond_t *pc, pthread_mutex_t *pm,
                                         const struct timespec *abstime)
{
    if (!gt__self()) {
        if (gt__pts_ours((struct gt__pts_head *)pc))
            return cond_elsewhere(pc);
        return GT__PTS_REAL(pthread_cond_timedwait)(pc, pm, abstime);
    }
    return gt__keep_frame(cond_wait(pc, pm, __builtin_frame_address(0),
                                    clock_of(pc), abstime));
}

GT__PTS_PUBLIC int pthread_cond_clockwait(pthread_cond_t *pc, pthread_mutex_t *pm,
                                         clockid_t clock,
                                         const struct timespec *abstime)
{
    if (!gt__self()) {
        if (gt__pts_ours((struct gt__pts_head *)pc))
            return cond_elsewhere(pc);
        return GT__PTS_REAL(pthread_cond_clockwait)(pc, pm, clock, abstime);
    }
    return gt__keep_frame(
        cond_wait(pc, pm, __builtin_frame_address(0), clock, abstime));
}

static int cond_wake(pthread_cond_t *pc, int all)
{
    struct gt__pts_head *h = (struct gt__pts_head *)pc;
    if (!gt__self()) {
        if (gt__pts_ours(h))
            return cond_elsewhere(pc);
        return all ? GT__PTS_REAL(pthread_cond_broadcast)(pc)
                   : GT__PTS_REAL(pthread_cond_signal)(pc);
    }
    if (!gt__pts_ours(h))
        return 0; /* no green thread has waited on it: none waits now */
    gt_cond_t *c = h->impl;
    struct gt__thread *t;
    while ((t = gt__waitq_pop(&c->waiters))) {
        gt__wake(t, 0);
        if (!all)
            break;
    }
    return 0;
}

GT__PTS_PUBLIC int pthread_cond_signal(pthread_cond_t *pc)
{
    return cond_wake(pc, 0);
}

GT__PTS_PUBLIC int pthread_cond_broadcast(pthread_cond_t *pc)
{
    return cond_wake(pc, 1);
}

GT__PTS_PUBLIC int pthread_condattr_setpshared(pthread_condattr_t *attr,
                                              int pshared)
{
    if (pshared == PTHREAD_PROCESS_SHARED) {
        gt__pts_refuse_pshared("pthread_condattr_setpshared");
        return EINVAL;
    }
    return GT__PTS_REAL(pthread_condattr_setpshared)(attr, pshared);
}
