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
#include "location.h"

struct table {
    uint32_t *slots;     /* record index, 0 empty */
    uint32_t mask;       /* capacity - 1 (a power of two) */
    uint32_t used;
};

static struct table loc_table, edge_table;
static uint32_t loc_chunk_cap, edge_chunk_cap;

#define loc_at gt__loc_at

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

/* No code lies in the first page, nor above user space (x86-64 and
 * AArch64 with 48-bit addresses). */
#define GT__MIN_CODE_ADDR 4096u
#define GT__USER_ADDR_END (1ull << 48)

/* Reads up to `depth` return addresses starting at frame fp of thread t. */
static uint32_t capture(const struct gt__thread *t, const void *fp,
                        uint64_t *pcs, uint32_t depth)
{
    uintptr_t f = (uintptr_t)fp;
    uint32_t n = 0;
    while (n < depth) {
        if (!gt__frame_ok(t, f))
            break;
        const uint64_t *frame = (const uint64_t *)f;
        /* Code without frame pointers leaves any value in the frame
         * register, which may point into the stack at no frame: a word
         * that is no user-space code address (a canary, a count) ends
         * the chain rather than naming a caller that does not exist. */
        if (frame[1] < GT__MIN_CODE_ADDR || frame[1] >= GT__USER_ADDR_END)
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

/* ---- the misses of location.h's lookups ---------------------------------- */

struct gt_location_rec *gt__loc_cache[1u << GT__LOC_CACHE_BITS];
struct gt_edge_rec *gt__edge_cache[1u << GT__LOC_CACHE_BITS];

struct gt_location_rec *gt__location_find_slow(const struct gt__thread *t,
                                               const void *fp,
                                               enum gt_wait_kind kind)
{
    uint64_t pcs[GT_LOCATION_DEPTH_MAX];
    uint32_t depth = capture(t, fp, pcs, (uint32_t)gt__sched.loc_depth);
    if (!depth)
        return NULL;
    unsigned c = gt__loc_cache_slot(pcs[0]);
    struct gt_location_rec *l = gt__loc_cache[c];
    if (l && l->depth == depth && same_pcs(l->pcs, pcs, depth))
        return l; /* a chain shorter than loc_depth */
    uint32_t idx = intern_location(pcs, depth, kind);
    if (!idx)
        return NULL;
    return gt__loc_cache[c] = loc_at(idx);
}

struct gt_edge_rec *gt__edge_find_slow(uint32_t from, uint32_t to)
{
    struct gt_edge_rec *e = intern_edge(from, to);
    if (e)
        gt__edge_cache[gt__loc_cache_slot(((uint64_t)from << 32) | to)] = e;
    return e;
}
