/*
 * list.h - the runtime's one intrusive list.
 *
 * Every queue of the runtime is this list: the run queue, the wait queues
 * of mutexes, condition variables, channels and joins, the waiters of an
 * fd, and the threads waiting at a location (the only published one: its
 * links are fields of the thread records readers copy, registry.h).
 * Parking never allocates, so the links live in the nodes.
 *
 * A link, and each end of a list, is one 8-byte word holding the address
 * of a node (0 for none): a pointer in the private lists, a u64 target
 * address in the published one.  A list is described by a struct
 * gt__list_kind of constants (where a node keeps its links and its seq);
 * the functions are always inlined, so each list's code is what one would
 * write out for it, with the unused branches folded away.
 *
 * THE SEQ BRACKET.  In a published list, a node is a record with a seq
 * (registry.h: odd while the runtime writes the record).  Inserting or
 * removing a node rewrites the links of its neighbours, which are other
 * threads' records: the list makes each neighbour's seq odd around the
 * write, here and nowhere else.  The node being inserted or removed is
 * the record its caller is changing anyway (a park, a wake): the caller
 * holds that record's seq odd, and the record that holds the list's ends
 * (a location, whose counters change with them) too.
 *
 * Included by internal.h, after the seq functions it uses.
 */
#ifndef GT_LIST_H
#define GT_LIST_H

#include <stdint.h>
#include <string.h>

_Static_assert(sizeof(void *) == sizeof(uint64_t),
               "a link is a node's address in one 8-byte word");

#define GT__LIST_ONE_WAY UINT32_MAX /* prev: none, a FIFO (push and pop) */
#define GT__LIST_PRIVATE UINT32_MAX /* seq: none, the list is not published */

struct gt__list_kind {
    uint32_t next; /* offset of the link to the next node (towards the tail) */
    uint32_t prev; /* offset of the link to the previous one, or ONE_WAY */
    uint32_t seq;  /* offset of the node's u32 seq, or PRIVATE */
};

#define GT__LIST_INLINE static inline __attribute__((always_inline))

/* The word at byte offset off of p (any 8-byte field: a pointer or a u64);
 * memcpy keeps the access legal whatever the field's declared type. */
GT__LIST_INLINE uint64_t gt__list_word(const void *p, uint32_t off)
{
    uint64_t w;
    memcpy(&w, (const char *)p + off, sizeof(w));
    return w;
}

GT__LIST_INLINE void gt__list_set(void *p, uint32_t off, uint64_t w)
{
    memcpy((char *)p + off, &w, sizeof(w));
}

GT__LIST_INLINE void *gt__list_node(uint64_t w)
{
    return (void *)(uintptr_t)w;
}

/* Sets link `off` of neighbour n to w, inside n's seq bracket when the
 * list is published. */
GT__LIST_INLINE void gt__list_relink(struct gt__list_kind k, void *n,
                                     uint32_t off, uint64_t w)
{
    if (k.seq != GT__LIST_PRIVATE) {
        uint32_t *seq = (uint32_t *)(void *)((char *)n + k.seq);
        gt__seq_begin(seq);
        gt__list_set(n, off, w);
        gt__seq_end(seq);
    } else {
        gt__list_set(n, off, w);
    }
}

/* Appends node at the tail.  head, tail: the list's two end words. */
GT__LIST_INLINE void gt__list_push(struct gt__list_kind k, void *head,
                                   void *tail, void *node)
{
    uint64_t self = (uint64_t)(uintptr_t)node;
    uint64_t last = gt__list_word(tail, 0);
    gt__list_set(node, k.next, 0);
    if (k.prev != GT__LIST_ONE_WAY)
        gt__list_set(node, k.prev, last);
    if (last)
        gt__list_relink(k, gt__list_node(last), k.next, self);
    else
        gt__list_set(head, 0, self);
    gt__list_set(tail, 0, self);
}

/* Unlinks node, which is on the list (not for a ONE_WAY list), and clears
 * its links. */
GT__LIST_INLINE void gt__list_remove(struct gt__list_kind k, void *head,
                                     void *tail, void *node)
{
    uint64_t next = gt__list_word(node, k.next);
    uint64_t prev = gt__list_word(node, k.prev);
    if (prev)
        gt__list_relink(k, gt__list_node(prev), k.next, next);
    else
        gt__list_set(head, 0, next);
    if (next)
        gt__list_relink(k, gt__list_node(next), k.prev, prev);
    else
        gt__list_set(tail, 0, prev);
    gt__list_set(node, k.next, 0);
    gt__list_set(node, k.prev, 0);
}

/* Takes the head off the list and returns it; NULL when empty. */
GT__LIST_INLINE void *gt__list_pop(struct gt__list_kind k, void *head,
                                   void *tail)
{
    void *node = gt__list_node(gt__list_word(head, 0));
    if (!node)
        return NULL;
    if (k.prev != GT__LIST_ONE_WAY) {
        gt__list_remove(k, head, tail, node);
        return node;
    }
    uint64_t next = gt__list_word(node, k.next);
    gt__list_set(head, 0, next);
    if (!next)
        gt__list_set(tail, 0, 0);
    return node;
}

/* The node after node, NULL at the tail (for walking a list). */
GT__LIST_INLINE void *gt__list_next(struct gt__list_kind k, const void *node)
{
    return gt__list_node(gt__list_word(node, k.next));
}

#endif /* GT_LIST_H */
