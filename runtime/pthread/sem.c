/*
 * sem.c - unnamed POSIX semaphores (sem_init ...) on a gt wait queue.
 *
 * sem_init makes the heap object in any thread (sync_common.h, THE
 * OBJECTS).  A thread that finds the count 0 parks, published as waiting
 * on the semaphore's gt condition at the caller's call site; sem_post
 * hands its unit straight to the first waiter (the count stays 0), so
 * waiters are served in arrival order and none is overtaken.  sem_t
 * values this file did not make (sem_open's named semaphores, shared
 * between processes) go to glibc's functions, which block the whole
 * kernel thread while they wait.  sem_init(pshared = 1) is refused with
 * ENOSYS and one line on stderr.
 *
 * Outside a green thread: while no runtime runs (before main), post,
 * trywait, getvalue and a wait on a positive count work; a wait that
 * would block fails with EDEADLK (nothing could post).  A kernel thread
 * of the program's own, while green threads run, gets EINVAL: it cannot
 * wake them.  sem_post is not async-signal-safe here: a signal handler
 * must not post to a semaphore green threads wait on.
 */
#include <semaphore.h>
#include <limits.h>
#include <stdlib.h>

#include "sync_common.h"

struct sem {
    gt_cond_t c;          /* first: what readers see */
    unsigned value;
};

_Static_assert(sizeof(sem_t) >= sizeof(struct gt__pts_head), "sem_t too small");

static struct sem *sem_of(sem_t *s)
{
    struct gt__pts_head *h = (struct gt__pts_head *)s;
    return gt__pts_ours(h) ? h->impl : NULL;
}

/* May this caller touch S without a green thread?  Sets errno if not. */
static int outside_ok(sem_t *s)
{
    if (gt__may_touch_object())
        return 1;
    gt__pts_complain("semaphore used by a kernel thread while green threads "
                    "run: EINVAL:", s);
    errno = EINVAL;
    return 0;
}

GT__PTS_PUBLIC int sem_init(sem_t *s, int pshared, unsigned value)
{
    if (value > SEM_VALUE_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (pshared) {
        gt__pts_refuse_pshared("sem_init");
        errno = ENOSYS;
        return -1;
    }
    struct sem *x = calloc(1, sizeof(*x));
    if (!x) {
        errno = ENOSPC;
        return -1;
    }
    gt_cond_init(&x->c);
    x->value = value;
    gt__pts_set((struct gt__pts_head *)s, x);
    return 0;
}

GT__PTS_PUBLIC int sem_destroy(sem_t *s)
{
    struct sem *x = sem_of(s);
    if (!x)
        return GT__PTS_REAL(sem_destroy)(s);
    if (!gt__may_touch_object() || x->c.waiters.head) {
        errno = EBUSY;
        return -1;
    }
    x->c.magic = 0xdeadull;
    free(x);
    gt__pts_set((struct gt__pts_head *)s, NULL);
    return 0;
}

GT__PTS_PUBLIC int sem_post(sem_t *s)
{
    struct sem *x = sem_of(s);
    if (!x)
        return GT__PTS_REAL(sem_post)(s);
    if (!gt__self() && !outside_ok(s))
        return -1;
    struct gt__thread *t = gt__self() ? gt__waitq_pop(&x->c.waiters) : NULL;
    if (t) {
        gt__wake(t, 0); /* its unit: the count stays 0 */
        return 0;
    }
    if (x->value == SEM_VALUE_MAX) {
        errno = EOVERFLOW;
        return -1;
    }
    x->value++;
    return 0;
}

GT__PTS_PUBLIC int sem_getvalue(sem_t *restrict s, int *restrict value)
{
    struct sem *x = sem_of(s);
    if (!x)
        return GT__PTS_REAL(sem_getvalue)(s, value);
    *value = (int)x->value; /* 0 while threads wait (POSIX allows it) */
    return 0;
}

/* Wait, trywait and the timed waits.  ABSTIME NULL: none. */
static int sem_take(sem_t *s, struct sem *x, const void *fp, int try,
                    clockid_t clock, const struct timespec *abstime)
{
    if (x->value > 0 && (gt__self() || outside_ok(s))) {
        x->value--;
        return 0;
    }
    if (!gt__self()) {
        if (!outside_ok(s))
            return -1;
        errno = try ? EAGAIN : EDEADLK; /* nobody could post */
        return -1;
    }
    if (try) {
        errno = EAGAIN;
        return -1;
    }
    /* POSIX checks ABSTIME only when the call would block. */
    uint64_t deadline = 0;
    int r;
    if (abstime && (r = gt__pts_deadline(clock, abstime, &deadline))) {
        errno = r;
        return -1;
    }
    r = gt__waitq_park(&x->c.waiters, fp, GT_WAIT_COND,
                       (uint64_t)(uintptr_t)&x->c, 0, deadline);
    if (r == 0)
        return 0; /* a post handed us its unit */
    /* Out of memory before it could park: as if interrupted. */
    errno = r == ETIMEDOUT ? ETIMEDOUT : EINTR;
    return -1;
}

GT__PTS_PUBLIC int sem_wait(sem_t *s)
{
    struct sem *x = sem_of(s);
    if (!x)
        return GT__PTS_REAL(sem_wait)(s);
    return gt__keep_frame(
        sem_take(s, x, __builtin_frame_address(0), 0, CLOCK_REALTIME, NULL));
}

GT__PTS_PUBLIC int sem_trywait(sem_t *s)
{
    struct sem *x = sem_of(s);
    if (!x)
        return GT__PTS_REAL(sem_trywait)(s);
    return sem_take(s, x, NULL, 1, CLOCK_REALTIME, NULL);
}

GT__PTS_PUBLIC int sem_timedwait(sem_t *restrict s,
                                const struct timespec *restrict abstime)
{
    struct sem *x = sem_of(s);
    if (!x)
        return GT__PTS_REAL(sem_timedwait)(s, abstime);
    return gt__keep_frame(sem_take(s, x, __builtin_frame_address(0), 0,
                                   CLOCK_REALTIME, abstime));
}

GT__PTS_PUBLIC int sem_clockwait(sem_t *restrict s, clockid_t clock,
                                const struct timespec *restrict abstime)
{
    struct sem *x = sem_of(s);
    if (!x)
        return GT__PTS_REAL(sem_clockwait)(s, clock, abstime);
    return gt__keep_frame(
        sem_take(s, x, __builtin_frame_address(0), 0, clock, abstime));
}
