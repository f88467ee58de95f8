/*
 * location.h - what every park and wake does to the locations and edges
 * (location.c), inline in the scheduler's park and wake paths.
 *
 * A park/wake hand-off costs a few tens of nanoseconds, and out-of-line
 * calls into location.c were a good part of what the registry's
 * bookkeeping added to it: four calls per hand-off, each saving
 * registers, and a capture of the call chain into an array only to
 * compare it with the record the cache already holds.  Here the hits are
 * inline and compare the chain with the cached record as they walk it;
 * everything else (a miss, a new location or edge) is in location.c.
 *
 * Included by sched.c, location.c and fork.c only, after internal.h.
 */
#ifndef GT_LOCATION_H
#define GT_LOCATION_H

#include "internal.h"

/* ---- caches in front of the tables -------------------------------------------
 *
 * Most parks come from a handful of call sites, again and again, and so do
 * the transitions between them.  A direct-mapped cache, indexed by the
 * call site (for locations) or by the pair of locations (for edges),
 * points straight at the record: a hit costs one load and a compare of
 * the record's own key instead of hashing the whole chain and following
 * the table into the chunk array.  Records never move, so a pointer stays
 * good; an entry is checked against the record on every use, so a miss,
 * a collision or a stale entry only costs the table lookup behind it. */
#define GT__LOC_CACHE_BITS 6

extern struct gt_location_rec *gt__loc_cache[1u << GT__LOC_CACHE_BITS] GT__HIDDEN;
extern struct gt_edge_rec *gt__edge_cache[1u << GT__LOC_CACHE_BITS] GT__HIDDEN;

static inline unsigned gt__loc_cache_slot(uint64_t key)
{
    return (unsigned)((key * 0x9e3779b97f4a7c15ull) >> (64 - GT__LOC_CACHE_BITS));
}

static inline struct gt_location_rec *gt__loc_at(uint32_t i)
{
    struct gt_location_rec **c =
        (struct gt_location_rec **)(uintptr_t)gt__reg.loc_chunks;
    return &c[i / GT_LOCS_PER_CHUNK][i % GT_LOCS_PER_CHUNK];
}

/* The misses (location.c): the whole lookup, interning what is new and
 * filling the cache. */
struct gt_location_rec *gt__location_find_slow(const struct gt__thread *t,
                                               const void *fp,
                                               enum gt_wait_kind kind) GT__HIDDEN;
struct gt_edge_rec *gt__edge_find_slow(uint32_t from, uint32_t to) GT__HIDDEN;

/* Is f a frame record that may be read on t's stack?  The test every step
 * of a chain passes (location.c, capture). */
static inline bool gt__frame_ok(const struct gt__thread *t, uintptr_t f)
{
    return f >= (uintptr_t)t->pub.stack_lo &&
           f <= (uintptr_t)t->pub.stack_hi - 16 && !(f & 7);
}

/* The location of a park of t whose outermost gt entry point has frame
 * pointer fp, interned on first sight; NULL when it has none (no frame
 * pointers) or memory ran out.  The hit walks the chain as capture() in
 * location.c does, step for step, against the record cached for its
 * first pc, and takes the record only when the walk would have captured
 * exactly its pcs: the full depth, each pc equal. */
static inline __attribute__((always_inline)) struct gt_location_rec *
gt__location_find(const struct gt__thread *t, const void *fp,
                  enum gt_wait_kind kind)
{
    uintptr_t f = (uintptr_t)fp;
    if (GT__UNLIKELY(!gt__frame_ok(t, f)))
        return gt__location_find_slow(t, fp, kind);
    const uint64_t *frame = (const uint64_t *)f;
    uint64_t pc = frame[1];
    struct gt_location_rec *l = gt__loc_cache[gt__loc_cache_slot(pc)];
    uint32_t depth = (uint32_t)gt__sched.loc_depth;
    if (GT__UNLIKELY(!l || l->depth != depth || l->pcs[0] != pc))
        return gt__location_find_slow(t, fp, kind);
    for (uint32_t d = 1; d < depth; d++) {
        if (GT__UNLIKELY(frame[0] <= f)) /* the chain ends: shorter */
            return gt__location_find_slow(t, fp, kind);
        f = (uintptr_t)frame[0];
        if (GT__UNLIKELY(!gt__frame_ok(t, f)))
            return gt__location_find_slow(t, fp, kind);
        frame = (const uint64_t *)f;
        if (GT__UNLIKELY(frame[1] != l->pcs[d])) /* pcs[d] is never 0 */
            return gt__location_find_slow(t, fp, kind);
    }
    return l;
}

/* The edge from -> to, from the cache or the table; NULL when memory ran
 * out (the transition is then not counted). */
static inline struct gt_edge_rec *gt__edge_find(uint32_t from, uint32_t to)
{
    struct gt_edge_rec *e =
        gt__edge_cache[gt__loc_cache_slot(((uint64_t)from << 32) | to)];
    if (GT__LIKELY(e && e->from == from && e->to == to))
        return e;
    return gt__edge_find_slow(from, to);
}

/* Links t at the queue of l (NULL: none) and counts the edge from its
 * previous location.  now: the park's timestamp. */
static inline __attribute__((always_inline)) void
gt__location_arrive(struct gt__thread *t, struct gt_location_rec *l,
                    uint64_t now)
{
    if (GT__UNLIKELY(!l)) {
        t->pub.location = 0;
        t->pub.loc_next = t->pub.loc_prev = 0;
        return;
    }
    uint32_t idx = l->index;
    t->pub.location = idx;
    gt__seq_begin(&l->seq);
    gt__list_push(GT__LOCATION_LIST, &l->head, &l->tail, t);
    l->waiting++;
    l->arrivals++;
    gt__seq_end(&l->seq);

    if (t->prev_loc) {
        struct gt_edge_rec *e = gt__edge_find(t->prev_loc, idx);
        if (GT__LIKELY(e != NULL)) {
            uint64_t run = now - t->resumed_at;
            gt__seq_begin(&e->seq);
            e->count++;
            e->run_ns += run;
            if (run > e->max_run_ns)
                e->max_run_ns = run;
            gt__seq_end(&e->seq);
        }
    }
}

/* The wake: t leaves the queue at its location now, and the wait is
 * counted complete when t next runs (gt__location_resumed), timed by the
 * clock reading of the switch that runs it.  So a wake reads no clock:
 * it was one of the two readings of every park/wake hand-off (see WAITS
 * in gt/registry.h). */
static inline __attribute__((always_inline)) void
gt__location_leave(struct gt__thread *t)
{
    uint32_t idx = t->pub.location;
    t->prev_loc = idx;
    t->resume_loc = idx;
    if (!idx)
        return;
    struct gt_location_rec *l = gt__loc_at(idx);
    gt__seq_begin(&l->seq);
    gt__list_remove(GT__LOCATION_LIST, &l->head, &l->tail, t);
    l->waiting--;
    gt__seq_end(&l->seq);
    t->pub.location = 0;
}

static inline unsigned gt__hist_bucket(uint64_t ns)
{
    unsigned b = ns ? 63u - (unsigned)__builtin_clzll(ns) : 0;
    return b < GT_WAIT_HIST_BUCKETS ? b : GT_WAIT_HIST_BUCKETS - 1;
}

/* t, woken from a wait at t->resume_loc (not 0), runs from `now`: the
 * wait is over. */
static inline __attribute__((always_inline)) void
gt__location_resumed(struct gt__thread *t, uint64_t now)
{
    struct gt_location_rec *l = gt__loc_at(t->resume_loc);
    t->resume_loc = 0;
    t->resumed_at = now;
    uint64_t wait = now > t->pub.wait_since ? now - t->pub.wait_since : 0;
    gt__seq_begin(&l->seq);
    l->completed++;
    l->total_wait_ns += wait;
    if (wait > l->max_wait_ns)
        l->max_wait_ns = wait;
    l->hist[gt__hist_bucket(wait)]++;
    gt__seq_end(&l->seq);
}

#endif /* GT_LOCATION_H */
