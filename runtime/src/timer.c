/*
 * timer.c - deadlines: a binary min-heap of threads keyed on pub.deadline.
 *
 * Each thread remembers its heap slot (heap_idx, 1-based, 0 = not in the
 * heap), so removing a thread whose wait ended early is O(log n) with no
 * search.  Insert, remove and pop are O(log n); peeking is O(1).
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

#define S gt__sched

static inline bool before(const struct gt__thread *a, const struct gt__thread *b)
{
    return a->pub.deadline < b->pub.deadline;
}

static inline void place(uint32_t i, struct gt__thread *t)
{
    S.heap[i] = t;
    t->heap_idx = i + 1;
}

static void sift_up(uint32_t i)
{
    struct gt__thread *t = S.heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!before(t, S.heap[parent]))
            break;
        place(i, S.heap[parent]);
        i = parent;
    }
    place(i, t);
}

static void sift_down(uint32_t i)
{
    struct gt__thread *t = S.heap[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= S.heap_len)
            break;
        if (c + 1 < S.heap_len && before(S.heap[c + 1], S.heap[c]))
            c++;
        if (!before(S.heap[c], t))
            break;
        place(i, S.heap[c]);
        i = c;
    }
    place(i, t);
}

int gt__timer_add(struct gt__thread *t)
{
    if (S.heap_len == S.heap_cap) {
        uint32_t cap = S.heap_cap ? S.heap_cap * 2 : 256;
        struct gt__thread **n = realloc(S.heap, cap * sizeof(*n));
        if (!n)
            return -1;
        S.heap = n;
        S.heap_cap = cap;
    }
    S.heap[S.heap_len] = t;
    sift_up(S.heap_len++);
    return 0;
}

void gt__timer_remove(struct gt__thread *t)
{
    uint32_t i = t->heap_idx - 1;
    t->heap_idx = 0;
    struct gt__thread *last = S.heap[--S.heap_len];
    if (i == S.heap_len)
        return;
    place(i, last);
    if (i > 0 && before(last, S.heap[(i - 1) / 2]))
        sift_up(i);
    else
        sift_down(i);
}

unsigned gt__timer_expire(uint64_t now)
{
    unsigned n = 0;
    while (S.heap_len && S.heap[0]->pub.deadline <= now) {
        struct gt__thread *t = S.heap[0];
        gt__timer_remove(t);
        /* A thread on a wait queue leaves it now, so a signal that comes
         * later goes to a thread still waiting, not to this one. */
        if (t->wq)
            gt__waitq_remove(t);
        gt__wake(t, ETIMEDOUT);
        n++;
    }
    return n;
}

int64_t gt__timer_next(uint64_t now)
{
    if (!S.heap_len)
        return -1;
    uint64_t d = S.heap[0]->pub.deadline;
    return d > now ? (int64_t)(d - now) : 0;
}
