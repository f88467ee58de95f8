/*
 * sync.c - wait queues, sleep, mutexes and condition variables.
 *
 * A wait queue is a FIFO of threads linked through their wq_next/wq_prev
 * fields (list.h).  A waker pops the first thread and wakes it; a thread
 * whose wait ends by its deadline is taken off its queue by the timer
 * code, so a queue only ever holds threads that still wait.
 */
#include <errno.h>

#include "internal.h"

void gt__waitq_push(struct gt__waitq *q, struct gt__thread *t)
{
    t->wq = q;
    gt__list_push(GT__WAITQ_LIST, &q->head, &q->tail, t);
}

void gt__waitq_remove(struct gt__thread *t)
{
    struct gt__waitq *q = t->wq;
    gt__list_remove(GT__WAITQ_LIST, &q->head, &q->tail, t);
    t->wq = NULL;
}

struct gt__thread *gt__waitq_pop(struct gt__waitq *q)
{
    struct gt__thread *t = q->head;
    if (t)
        gt__waitq_remove(t);
    return t;
}

int gt__waitq_park(struct gt__waitq *q, const void *fp, enum gt_wait_kind k,
                   uint64_t obj, uint64_t arg, uint64_t deadline)
{
    struct gt__thread *self = gt__self();
    gt__waitq_push(q, self);
    int r = gt__park(fp, k, obj, arg, deadline);
    if (self->wq) /* the park failed before anyone could wake us */
        gt__waitq_remove(self);
    return r;
}

/* ---- sleep --------------------------------------------------------------- */

int gt_sleep_ns(int64_t ns)
{
    return gt__keep_frame(gt__sleep(__builtin_frame_address(0), ns) < 0 ? -1
                                                                       : 0);
}

/* ---- mutex --------------------------------------------------------------- */

#define MUTEX_DEAD 0xdeadull

static inline bool mutex_ok(const gt_mutex_t *m)
{
    return m && (m->magic == GT_MUTEX_MAGIC || m->magic == 0);
}

/* The uncontended take.  The hold starts at the runtime's last clock
 * reading, a load: see HOLD TIMES in gt/registry.h. */
static inline void take(gt_mutex_t *m, struct gt__thread *self)
{
    m->owner = self;
    m->held_since = gt__reg.clock_now;
}

int gt_mutex_init(gt_mutex_t *m)
{
    if (!m) {
        errno = EINVAL;
        return -1;
    }
    m->owner = NULL;
    m->waiters.head = m->waiters.tail = NULL;
    m->magic = GT_MUTEX_MAGIC;
    m->held_since = 0;
    return 0;
}

int gt_mutex_destroy(gt_mutex_t *m)
{
    if (!gt__may_touch_object()) {
        errno = EPERM;
        return -1;
    }
    if (!mutex_ok(m)) {
        errno = EINVAL;
        return -1;
    }
    if (m->owner || m->waiters.head) {
        errno = EBUSY;
        return -1;
    }
    m->magic = MUTEX_DEAD;
    return 0;
}

int gt__mutex_lock(gt_mutex_t *m, const void *fp)
{
    struct gt__thread *self = gt__self();
    if (!self) {
        errno = EPERM;
        return -1;
    }
    if (!mutex_ok(m)) {
        errno = EINVAL;
        return -1;
    }
    if (!m->owner) {
        take(m, self);
        return 0;
    }
    if (m->owner == self) {
        errno = EDEADLK;
        return -1;
    }
    /* Unlock hands the mutex over: when we wake, we own it. */
    int r = gt__waitq_park(&m->waiters, fp, GT_WAIT_MUTEX,
                           (uint64_t)(uintptr_t)m, 0, 0);
    if (r) {
        errno = r;
        return -1;
    }
    return 0;
}

int gt_mutex_lock(gt_mutex_t *m)
{
    return gt__keep_frame(gt__mutex_lock(m, __builtin_frame_address(0)));
}

int gt_mutex_trylock(gt_mutex_t *m)
{
    struct gt__thread *self = gt__self();
    if (!self) {
        errno = EPERM;
        return -1;
    }
    if (!mutex_ok(m)) {
        errno = EINVAL;
        return -1;
    }
    if (m->owner) {
        errno = EBUSY;
        return -1;
    }
    take(m, self);
    return 0;
}

int gt_mutex_unlock(gt_mutex_t *m)
{
    struct gt__thread *self = gt__self();
    if (!self) {
        errno = EPERM;
        return -1;
    }
    if (!mutex_ok(m)) {
        errno = EINVAL;
        return -1;
    }
    if (m->owner != self) {
        errno = EPERM;
        return -1;
    }
    struct gt__thread *next = gt__waitq_pop(&m->waiters);
    m->owner = next;
    if (next) {
        gt__wake(next, 0);
        /* Held from the hand-off (HOLD TIMES): the one place a take
         * reads the clock, since the wake no longer does. */
        m->held_since = GT__INSTRUMENT ? gt__clock() : gt__reg.clock_now;
    }
    return 0;
}

/* ---- condition variable -------------------------------------------------- */

static inline bool cond_ok(const gt_cond_t *c)
{
    return c && (c->magic == GT_COND_MAGIC || c->magic == 0);
}

int gt_cond_init(gt_cond_t *c)
{
    if (!c) {
        errno = EINVAL;
        return -1;
    }
    c->waiters.head = c->waiters.tail = NULL;
    c->magic = GT_COND_MAGIC;
    return 0;
}

int gt_cond_destroy(gt_cond_t *c)
{
    if (!gt__may_touch_object()) {
        errno = EPERM;
        return -1;
    }
    if (!cond_ok(c)) {
        errno = EINVAL;
        return -1;
    }
    if (c->waiters.head) {
        errno = EBUSY;
        return -1;
    }
    c->magic = MUTEX_DEAD;
    return 0;
}

static int cond_wait(gt_cond_t *c, gt_mutex_t *m, int64_t timeout_ns,
                     const void *fp)
{
    struct gt__thread *self = gt__self();
    if (!self) {
        errno = EPERM;
        return -1;
    }
    if (!cond_ok(c) || !mutex_ok(m)) {
        errno = EINVAL;
        return -1;
    }
    if (m->owner != self) {
        errno = EPERM;
        return -1;
    }
    uint64_t deadline = gt__deadline(timeout_ns);
    gt_mutex_unlock(m);
    int r = gt__waitq_park(&c->waiters, fp, GT_WAIT_COND,
                           (uint64_t)(uintptr_t)c, (uint64_t)(uintptr_t)m,
                           deadline);
    /* Re-take the mutex whatever happened; a failure there is the one
     * worth reporting. */
    if (gt__mutex_lock(m, fp) < 0)
        return -1;
    if (r) {
        errno = r;
        return -1;
    }
    return 0;
}

int gt_cond_wait(gt_cond_t *c, gt_mutex_t *m)
{
    return gt__keep_frame(
        cond_wait(c, m, GT_FOREVER, __builtin_frame_address(0)));
}

int gt_cond_timedwait(gt_cond_t *c, gt_mutex_t *m, int64_t timeout_ns)
{
    return gt__keep_frame(
        cond_wait(c, m, timeout_ns < 0 ? GT_FOREVER : timeout_ns,
                  __builtin_frame_address(0)));
}

/* Outside a green thread a wake would push onto the run queue from the
 * wrong kernel thread: EPERM, like every call that wakes (gt.h). */
int gt_cond_signal(gt_cond_t *c)
{
    if (!gt__self()) {
        errno = EPERM;
        return -1;
    }
    if (!cond_ok(c)) {
        errno = EINVAL;
        return -1;
    }
    struct gt__thread *t = gt__waitq_pop(&c->waiters);
    if (t)
        gt__wake(t, 0);
    return 0;
}

int gt_cond_broadcast(gt_cond_t *c)
{
    if (!gt__self()) {
        errno = EPERM;
        return -1;
    }
    if (!cond_ok(c)) {
        errno = EINVAL;
        return -1;
    }
    struct gt__thread *t;
    while ((t = gt__waitq_pop(&c->waiters)))
        gt__wake(t, 0);
    return 0;
}
