/*
 * chan.c - bounded channels of pointers.
 *
 * A ring buffer plus two wait queues.  Senders park while the ring is full,
 * receivers while it is empty; each successful send wakes one receiver and
 * each receive wakes one sender.  Woken threads re-check (another thread
 * may have taken the slot first), so a wake is a hint, never a hand-off.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

gt_chan_t *gt_chan_create(size_t capacity)
{
    if (capacity == 0 || capacity > (SIZE_MAX - sizeof(gt_chan_t)) / sizeof(void *)) {
        errno = EINVAL;
        return NULL;
    }
    gt_chan_t *ch = calloc(1, sizeof(*ch) + capacity * sizeof(void *));
    if (!ch) {
        errno = ENOMEM;
        return NULL;
    }
    ch->magic = GT_CHAN_MAGIC;
    ch->cap = capacity;
    return ch;
}

static inline bool chan_ok(const gt_chan_t *ch)
{
    return ch && ch->magic == GT_CHAN_MAGIC;
}

static void wake_all(struct gt__waitq *q)
{
    struct gt__thread *t;
    while ((t = gt__waitq_pop(q)))
        gt__wake(t, 0);
}

int gt_chan_close(gt_chan_t *ch)
{
    if (!gt__self()) { /* it wakes waiters: see gt.h */
        errno = EPERM;
        return -1;
    }
    if (!chan_ok(ch)) {
        errno = EINVAL;
        return -1;
    }
    if (ch->closed) {
        errno = EPIPE;
        return -1;
    }
    ch->closed = true;
    wake_all(&ch->senders);
    wake_all(&ch->receivers);
    return 0;
}

int gt_chan_destroy(gt_chan_t *ch)
{
    if (!gt__may_touch_object()) {
        errno = EPERM;
        return -1;
    }
    if (!chan_ok(ch)) {
        errno = EINVAL;
        return -1;
    }
    if (ch->senders.head || ch->receivers.head) {
        errno = EBUSY;
        return -1;
    }
    ch->magic = 0;
    free(ch);
    return 0;
}

size_t gt_chan_len(const gt_chan_t *ch)
{
    if (!gt__may_touch_object()) {
        errno = EPERM;
        return 0;
    }
    return chan_ok(ch) ? ch->len : 0;
}

/* Parks on q for a channel operation; 0 to try again, else an errno. */
static int chan_wait(gt_chan_t *ch, struct gt__waitq *q, enum gt_wait_kind k,
                     int64_t timeout_ns, uint64_t *deadline, const void *fp)
{
    if (timeout_ns == 0)
        return EAGAIN;
    if (timeout_ns > 0 && !*deadline)
        *deadline = gt__deadline(timeout_ns);
    return gt__waitq_park(q, fp, k, (uint64_t)(uintptr_t)ch, 0, *deadline);
}

/* Both directions refuse a caller outside a green thread before anything
 * else: a send that finds room would wake a receiver from the wrong
 * kernel thread, which then sat runnable and never ran. */
static int chan_send(gt_chan_t *ch, void *msg, int64_t timeout_ns,
                     const void *fp)
{
    if (!gt__self()) {
        errno = EPERM;
        return -1;
    }
    if (!chan_ok(ch)) {
        errno = EINVAL;
        return -1;
    }
    uint64_t deadline = 0;
    for (;;) {
        if (ch->closed) {
            errno = EPIPE;
            return -1;
        }
        if (ch->len < ch->cap)
            break;
        int r = chan_wait(ch, &ch->senders, GT_WAIT_CHAN_SEND, timeout_ns,
                          &deadline, fp);
        if (r) {
            errno = r;
            return -1;
        }
    }
    ch->ring[(ch->head + ch->len++) % ch->cap] = msg;
    struct gt__thread *t = gt__waitq_pop(&ch->receivers);
    if (t)
        gt__wake(t, 0);
    return 0;
}

static int chan_recv(gt_chan_t *ch, void **msg, int64_t timeout_ns,
                     const void *fp)
{
    if (!gt__self()) {
        errno = EPERM;
        return -1;
    }
    if (!chan_ok(ch)) {
        errno = EINVAL;
        return -1;
    }
    uint64_t deadline = 0;
    while (ch->len == 0) {
        if (ch->closed) {
            errno = EPIPE;
            return -1;
        }
        int r = chan_wait(ch, &ch->receivers, GT_WAIT_CHAN_RECV, timeout_ns,
                          &deadline, fp);
        if (r) {
            errno = r;
            return -1;
        }
    }
    void *m = ch->ring[ch->head];
    ch->head = (ch->head + 1) % ch->cap;
    ch->len--;
    if (msg)
        *msg = m;
    struct gt__thread *t = gt__waitq_pop(&ch->senders);
    if (t)
        gt__wake(t, 0);
    return 0;
}

int gt_chan_send(gt_chan_t *ch, void *msg, int64_t timeout_ns)
{
    return gt__keep_frame(
        chan_send(ch, msg, timeout_ns, __builtin_frame_address(0)));
}

int gt_chan_recv(gt_chan_t *ch, void **msg, int64_t timeout_ns)
{
    return gt__keep_frame(
        chan_recv(ch, msg, timeout_ns, __builtin_frame_address(0)));
}
