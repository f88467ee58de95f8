/*
 * location.c - where threads block: interned call sites and the edges
 * between them (Capriccio's blocking graph).
 *
 * A location is the chain of return addresses above the outermost gt entry
 * point of a park: pcs[0] is the call site in application code, pcs[1..]
 * its callers, gt__sched.loc_depth in all.  The chain is read through frame
 * pointers, each step checked against the thread's own stack, so a frame
 * without a frame pointer ends the chain instead of faulting.
 *
 * Locations and edges are interned in open-addressing hash tables (private)
 * and published as chunked record arrays (registry.h); a record never moves
 * and its index never changes.  Index 0 means "none" for both.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct table {
    uint32_t *slots;     /* record index, 0 empty */
    uint32_t mask;       /* capacity - 1 (a power of two) */
    uint32_t used;
};

static struct table loc_table, edge_table;
static uint32_t loc_chunk_cap, edge_chunk_cap;

static inline struct gt_location_rec *loc_at(uint32_t i)
{
    struct gt_location_rec **c =
        (struct gt_location_rec **)(uintptr_t)gt__reg.loc_chunks;
    return &c[i / GT_LOCS_PER_CHUNK][i % GT_LOCS_PER_CHUNK];
}

const struct gt_location_rec *gt__location_get(uint32_t idx)
{
    return idx && idx < gt__reg.loc_count ? loc_at(idx) : NULL;
}

static inline struct gt_edge_rec *edge_at(uint32_t i)
{
    struct gt_edge_rec **c = (struct gt_edge_rec **)(uintptr_t)gt__reg.edge_chunks;
    return &c[i / GT_EDGES_PER_CHUNK][i % GT_EDGES_PER_CHUNK];
}

static inline uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

/* Makes room for record index `next` in a chunked array: adds a chunk of
 * rec_size * per records, growing the pointer array by copying (old arrays
 * stay allocated for readers).  -1 when memory runs out. */
static int chunk_reserve(uint64_t *chunks_field, uint32_t *count, uint32_t *cap,
                         uint32_t next, uint32_t per, size_t rec_size)
{
    if (next < *count * per)
        return 0;
    void **chunks = (void **)(uintptr_t)*chunks_field;
    if (*count == *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 16;
        void **n = calloc(ncap, sizeof(*n));
        if (!n)
            return -1;
        if (chunks)
            memcpy(n, chunks, *count * sizeof(*n));
        gt__retire(chunks);
        *chunks_field = (uint64_t)(uintptr_t)n;
        *cap = ncap;
        gt__reg.generation++;
        chunks = n;
    }
    void *c = calloc(per, rec_size);
    if (!c)
        return -1;
    chunks[*count] = c;
    atomic_thread_fence(memory_order_release);
    (*count)++;
    return 0;
}

static int table_grow(struct table *t)
{
    uint32_t cap = t->slots ? (t->mask + 1) * 2 : 256;
    uint32_t *n = calloc(cap, sizeof(*n));
    if (!n)
        return -1;
    /* Rehash from the records: the key lives in them, not in the table. */
    if (t->slots) {
        for (uint32_t i = 0; i <= t->mask; i++) {
            uint32_t idx = t->slots[i];
            if (!idx)
                continue;
            uint64_t h;
            if (t == &loc_table) {
                struct gt_location_rec *l = loc_at(idx);
                h = 0;
                for (uint32_t d = 0; d < l->depth; d++)
                    h = mix(h ^ l->pcs[d]);
            } else {
                struct gt_edge_rec *e = edge_at(idx);
                h = mix(((uint64_t)e->from << 32) | e->to);
            }
            uint32_t j = (uint32_t)h & (cap - 1);
            while (n[j])
                j = (j + 1) & (cap - 1);
            n[j] = idx;
        }
        free(t->slots);
    }
    t->slots = n;
    t->mask = cap - 1;
    return 0;
}

int gt__locations_init(void)
{
    /* Index 0 of both arrays is the "none" record. */
    if (table_grow(&loc_table) < 0 || table_grow(&edge_table) < 0 ||
        chunk_reserve(&gt__reg.loc_chunks, &gt__reg.loc_chunk_count,
                      &loc_chunk_cap, 0, GT_LOCS_PER_CHUNK,
                      sizeof(struct gt_location_rec)) < 0 ||
        chunk_reserve(&gt__reg.edge_chunks, &gt__reg.edge_chunk_count,
                      &edge_chunk_cap, 0, GT_EDGES_PER_CHUNK,
                      sizeof(struct gt_edge_rec)) < 0)
        return -1;
    gt__reg.loc_count = 1;
    gt__reg.edge_count = 1;
    gt__reg.loc_depth = (uint32_t)gt__sched.loc_depth;
    return 0;
}

/* Reads up to `depth` return addresses starting at frame fp of thread t. */
static uint32_t capture(const struct gt__thread *t, const void *fp,
                        uint64_t *pcs, uint32_t depth)
{
    uintptr_t lo = (uintptr_t)t->pub.stack_lo, hi = (uintptr_t)t->pub.stack_hi;
    uintptr_t f = (uintptr_t)fp;
    uint32_t n = 0;
    while (n < depth) {
        if (f < lo || f > hi - 16 || (f & 7))
            break;
        const uint64_t *frame = (const uint64_t *)f;
        if (!frame[1])
            break;
        pcs[n++] = frame[1];
        if (frame[0] <= f) /* frames only go up the stack */
            break;
        f = (uintptr_t)frame[0];
    }
    return n;
}

static inline bool same_pcs(const uint64_t *a, const uint64_t *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* Returns the index of the location with these pcs, interning it; 0 when
 * memory runs out (the wait is then simply not attributed). */
static uint32_t intern_location(const uint64_t *pcs, uint32_t depth,
                                enum gt_wait_kind kind)
{
    uint64_t h = 0;
    for (uint32_t d = 0; d < depth; d++)
        h = mix(h ^ pcs[d]);
    uint32_t j = (uint32_t)h & loc_table.mask;
    for (;; j = (j + 1) & loc_table.mask) {
        uint32_t idx = loc_table.slots[j];
        if (!idx)
            break;
        struct gt_location_rec *l = loc_at(idx);
        if (l->depth == depth && same_pcs(l->pcs, pcs, depth))
            return idx;
    }
    uint32_t idx = gt__reg.loc_count;
    if (chunk_reserve(&gt__reg.loc_chunks, &gt__reg.loc_chunk_count,
                      &loc_chunk_cap, idx, GT_LOCS_PER_CHUNK,
                      sizeof(struct gt_location_rec)) < 0)
        return 0;
    struct gt_location_rec *l = loc_at(idx);
    gt__seq_begin(&l->seq);
    l->index = idx;
    l->depth = depth;
    l->wait_kind = kind;
    memcpy(l->pcs, pcs, depth * sizeof(*pcs));
    gt__seq_end(&l->seq);
    loc_table.slots[j] = idx;
    gt__reg.loc_count = idx + 1;
    if (++loc_table.used * 2 > loc_table.mask)
        table_grow(&loc_table); /* on failure the table just stays fuller */
    return idx;
}

static struct gt_edge_rec *intern_edge(uint32_t from, uint32_t to)
{
    uint64_t key = ((uint64_t)from << 32) | to;
    uint32_t j = (uint32_t)mix(key) & edge_table.mask;
    for (;; j = (j + 1) & edge_table.mask) {
        uint32_t idx = edge_table.slots[j];
        if (!idx)
            break;
        struct gt_edge_rec *e = edge_at(idx);
        if (e->from == from && e->to == to)
            return e;
    }
    uint32_t idx = (uint32_t)gt__reg.edge_count;
    if (chunk_reserve(&gt__reg.edge_chunks, &gt__reg.edge_chunk_count,
                      &edge_chunk_cap, idx, GT_EDGES_PER_CHUNK,
                      sizeof(struct gt_edge_rec)) < 0)
        return NULL;
    struct gt_edge_rec *e = edge_at(idx);
    gt__seq_begin(&e->seq);
    e->from = from;
    e->to = to;
    gt__seq_end(&e->seq);
    edge_table.slots[j] = idx;
    gt__reg.edge_count = idx + 1;
    if (++edge_table.used * 2 > edge_table.mask)
        table_grow(&edge_table);
    return e;
}

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
#define CACHE_BITS 6

static struct gt_location_rec *loc_cache[1u << CACHE_BITS];
static struct gt_edge_rec *edge_cache[1u << CACHE_BITS];

static inline unsigned cache_slot(uint64_t key)
{
    return (unsigned)((key * 0x9e3779b97f4a7c15ull) >> (64 - CACHE_BITS));
}

struct gt_location_rec *gt__location_find(const struct gt__thread *t,
                                          const void *fp,
                                          enum gt_wait_kind kind)
{
    uint64_t pcs[GT_LOCATION_DEPTH_MAX];
    uint32_t depth = capture(t, fp, pcs, (uint32_t)gt__sched.loc_depth);
    if (!depth)
        return NULL;
    unsigned c = cache_slot(pcs[0]);
    struct gt_location_rec *l = loc_cache[c];
    if (GT__LIKELY(l && l->depth == depth && same_pcs(l->pcs, pcs, depth)))
        return l;
    uint32_t idx = intern_location(pcs, depth, kind);
    if (!idx)
        return NULL;
    return loc_cache[c] = loc_at(idx);
}

/* The edge from -> to, from the cache or the table; NULL when memory ran
 * out (the transition is then not counted). */
static inline struct gt_edge_rec *find_edge(uint32_t from, uint32_t to)
{
    unsigned c = cache_slot(((uint64_t)from << 32) | to);
    struct gt_edge_rec *e = edge_cache[c];
    if (GT__LIKELY(e && e->from == from && e->to == to))
        return e;
    e = intern_edge(from, to);
    if (e)
        edge_cache[c] = e;
    return e;
}

void gt__location_arrive(struct gt__thread *t, struct gt_location_rec *l,
                         uint64_t now)
{
    if (!l) {
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
        struct gt_edge_rec *e = find_edge(t->prev_loc, idx);
        if (e) {
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

static inline unsigned hist_bucket(uint64_t ns)
{
    unsigned b = ns ? 63u - (unsigned)__builtin_clzll(ns) : 0;
    return b < GT_WAIT_HIST_BUCKETS ? b : GT_WAIT_HIST_BUCKETS - 1;
}

/* The wake: t leaves the queue at its location now, and the wait is
 * counted complete when t next runs (gt__location_resumed), timed by the
 * clock reading of the switch that runs it.  So a wake reads no clock:
 * it was one of the two readings of every park/wake hand-off (see WAITS
 * in gt/registry.h). */
void gt__location_leave(struct gt__thread *t)
{
    uint32_t idx = t->pub.location;
    t->prev_loc = idx;
    t->resume_loc = idx;
    if (!idx)
        return;
    struct gt_location_rec *l = loc_at(idx);
    gt__seq_begin(&l->seq);
    gt__list_remove(GT__LOCATION_LIST, &l->head, &l->tail, t);
    l->waiting--;
    gt__seq_end(&l->seq);
    t->pub.location = 0;
}

void gt__location_resumed(struct gt__thread *t, uint64_t now)
{
    uint32_t idx = t->resume_loc;
    t->resume_loc = 0;
    t->resumed_at = now;
    struct gt_location_rec *l = loc_at(idx);
    uint64_t wait = now > t->pub.wait_since ? now - t->pub.wait_since : 0;
    gt__seq_begin(&l->seq);
    l->completed++;
    l->total_wait_ns += wait;
    if (wait > l->max_wait_ns)
        l->max_wait_ns = wait;
    l->hist[hist_bucket(wait)]++;
    gt__seq_end(&l->seq);
}
