/*
 * snapshot.c - one copy of a target's registry: counters, threads,
 * locations, edges, and each thread's live stack, unwound.
 *
 * Reads are in bulk: one read per slab chunk, then a second copy of the
 * same chunks to check the first, one batched read of all live stacks
 * (backend read_many: 1024 ranges per process_vm_readv).  The registry's
 * retry protocol (gt/registry.h, CONSISTENCY) is applied per record: a
 * record whose seq is odd, or differs between the copy and the check, is
 * read again on its own, up to RETRIES times, and then reported in_flux.
 *
 * Why a second copy of whole chunks rather than only the seq words: the
 * kernel pins a page for every range of a process_vm_readv, so 100K
 * four-byte ranges cost far more than copying 100K records again (about
 * 25 MB, a few ms).  The buffers live on the target and are reused by the
 * next snapshot, and a freed snapshot's thread array is kept for the next
 * one too: a viewer refreshing every second touches no fresh pages.
 *
 * Every count and pointer read from the target is bounded before it is
 * used: a corrupt registry gives a message, never a crash or a huge
 * allocation.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define REGISTRY_MAGIC 0x5254534745525447ull /* "GTREGSTR", gt/registry.h */
#define REGISTRY_ABI 1u
#define RETRIES 4
#define MAX_FIELDS 64
#define MAX_RECORD (64u << 10)
#define MAX_PER_CHUNK (1u << 20)
#define MAX_CHUNKS (1u << 20)
#define MAX_STACK (1ull << 30)

/* Record kinds and the field ids this reader uses (gt/registry.h; never
 * renumbered there, so copying the numbers is the contract). */
enum { REC_REG = 1, REC_THR = 2, REC_LOC = 3, REC_EDGE = 4, REC_KINDS = 5 };
enum {
    REG_PID = 1, REG_CLOCK_BASE, REG_REALTIME_BASE, REG_CLOCK_NOW, REG_CURRENT,
    REG_GENERATION, REG_THREAD_CHUNKS, REG_THREAD_CHUNK_CAP,
    REG_THREAD_CHUNK_COUNT, REG_THREADS_PER_CHUNK, REG_THREAD_SLOTS,
    REG_LOC_CHUNKS, REG_LOC_CHUNK_COUNT, REG_LOCS_PER_CHUNK, REG_LOC_COUNT,
    REG_LOC_DEPTH, REG_EDGE_CHUNKS, REG_EDGE_CHUNK_COUNT, REG_EDGES_PER_CHUNK,
    REG_EDGE_COUNT, REG_NSTATE, REG_SWITCHES, REG_SPAWNS, REG_EXITS,
    REG_RUNQ_LEN, REG_POLLS, REG_IDLE_NS, REG_FILE_IO_CALLS, REG_FILE_IO_NS,
    REG_GUARD_POLICY, REG_GUARD_MAPPINGS, REG_MAX_MAP_COUNT, REG_STACK_DEFAULT,
    REG_STACK_RESERVED, REG_PAGE_SIZE, REG_CANARY, REG_IDLE_SINCE, REG_FATAL_NS,
};
enum {
    THR_SEQ = 1, THR_ID, THR_PARENT, THR_NAME, THR_STATE, THR_WAIT_KIND,
    THR_FLAGS, THR_LOCATION, THR_WAIT_OBJ, THR_WAIT_ARG, THR_WAIT_SINCE,
    THR_DEADLINE, THR_ENTRY, THR_ARG, THR_SPAWN_SITE, THR_CREATED, THR_RUN_NS,
    THR_SWITCHES, THR_STACK_LO, THR_STACK_HI, THR_GUARD_SIZE, THR_CTX_SP,
    THR_CTX_PC, THR_CTX_FP, THR_CTX_REGS, THR_LOC_NEXT, THR_LOC_PREV,
};
enum {
    LOC_SEQ = 1, LOC_INDEX, LOC_DEPTH, LOC_PCS, LOC_WAIT_KIND, LOC_WAITING,
    LOC_HEAD, LOC_TAIL, LOC_ARRIVALS, LOC_COMPLETED, LOC_TOTAL_WAIT_NS,
    LOC_MAX_WAIT_NS, LOC_HIST,
};
enum {
    EDGE_SEQ = 1, EDGE_FROM, EDGE_TO, EDGE_COUNT, EDGE_RUN_NS, EDGE_MAX_RUN_NS,
};
/* Saved registers in CTX_REGS, in this order (GT_CTX_*), as DWARF numbers. */
static const int ctx_dwarf[8] = {7, 16, 6, 3, 12, 13, 14, 15};

struct layout {
    uint32_t off[REC_KINDS][MAX_FIELDS];
    uint32_t size[REC_KINDS][MAX_FIELDS]; /* 0: field absent */
};

static uint64_t get(const struct layout *l, int rec, int id, const uint8_t *b)
{
    /* A constant size per memcpy: the compiler turns each into one load
     * (this runs 25 times for each of 100K records). */
    const uint8_t *p = b + l->off[rec][id];
    uint8_t v1;
    uint16_t v2;
    uint32_t v4;
    uint64_t v8;
    switch (l->size[rec][id]) {  /* little-endian target */
    case 1: memcpy(&v1, p, 1); return v1;
    case 2: memcpy(&v2, p, 2); return v2;
    case 4: memcpy(&v4, p, 4); return v4;
    case 8: memcpy(&v8, p, 8); return v8;
    default: return 0;
    }
}

static uint64_t get_at(const struct layout *l, int rec, int id,
                       const uint8_t *b, size_t i)
{
    if (l->size[rec][id] < (i + 1) * 8)
        return 0;
    uint64_t v;
    memcpy(&v, b + l->off[rec][id] + i * 8, 8);
    return v;
}

static int read_layout(gto_target *t, uint64_t addr, uint32_t n,
                       struct layout *l, char *err)
{
    if (n == 0 || n > 4096) {
        gto__err(err, "%s: the registry's layout table has %u entries: the "
                 "registry is corrupt", t->name, n);
        return -1;
    }
    struct { uint16_t rec, id; uint32_t off, size, pad; } *f = malloc(n * 16u);
    if (!f || t->be->read(t, addr, f, n * 16u) < 0) {
        if (f && errno == ESRCH)
            gto__err(err, "%s exited while being read", t->name);
        else
            gto__err(err, "%s: the registry's layout table at %#llx cannot be "
                     "read: the registry points nowhere", t->name,
                     (unsigned long long)addr);
        free(f);
        return -1;
    }
    memset(l, 0, sizeof(*l));
    for (uint32_t i = 0; i < n; i++) {
        if (f[i].rec >= REC_KINDS || f[i].id >= MAX_FIELDS)
            continue; /* a newer runtime's field: not ours to read */
        if (f[i].id == 0 ? f[i].size > MAX_RECORD :
            (uint64_t)f[i].off + f[i].size > MAX_RECORD)
            continue;
        l->off[f[i].rec][f[i].id] = f[i].off;
        l->size[f[i].rec][f[i].id] = f[i].size;
    }
    free(f);
    static const struct { int rec, id; const char *what; } need[] = {
        {REC_REG, 0, "registry size"}, {REC_THR, 0, "thread record size"},
        {REC_THR, THR_SEQ, "thread seq"}, {REC_THR, THR_STATE, "thread state"},
        {REC_THR, THR_ID, "thread id"}, {REC_THR, THR_CTX_SP, "thread sp"},
        {REC_THR, THR_STACK_HI, "thread stack top"},
        {REC_REG, REG_THREAD_CHUNKS, "thread chunks"},
        {REC_REG, REG_THREAD_SLOTS, "thread slots"},
    };
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
        if (!l->size[need[i].rec][need[i].id]) {
            gto__err(err, "%s: the registry's layout table has no %s: the "
                     "registry is corrupt", t->name, need[i].what);
            return -1;
        }
    /* Fields must lie inside their record. */
    for (int r = 1; r < REC_KINDS; r++)
        for (int i = 1; i < MAX_FIELDS; i++)
            if (l->size[r][i] && l->off[r][i] + l->size[r][i] > l->size[r][0])
                l->size[r][i] = 0;
    return 0;
}

static void fail_read(gto_target *t, char *err, const char *what, uint64_t addr)
{
    if (errno == ESRCH)
        gto__err(err, "%s exited while being read", t->name);
    else
        gto__err(err, "%s: the registry's %s at %#llx cannot be read: the "
                 "registry points nowhere (is it corrupt?)", t->name, what,
                 (unsigned long long)addr);
}

/* A scratch buffer of the target of at least BYTES, its old contents
 * kept or not; NULL when out of memory. */
static void *scratch(gto_target *t, int which, size_t bytes)
{
    struct gto_scratch *sc = &t->scratch[which];
    if (bytes > sc->cap) {
        size_t cap = bytes + bytes / 4;
        void *p = malloc(cap);
        if (!p)
            return NULL;
        free(sc->p);
        sc->p = p;
        sc->cap = cap;
    }
    return sc->p;
}

void gto__snapshot_cache_free(gto_target *t)
{
    for (int i = 0; i < GTO_SCRATCH_COUNT; i++) {
        free(t->scratch[i].p);
        t->scratch[i].p = NULL;
        t->scratch[i].cap = 0;
    }
    free(t->spare_threads);
    t->spare_threads = NULL;
    t->spare_cap = 0;
}

/* One slab as copied: the records of its slots back to back, the target
 * address of each, and for each whether it stayed torn.  Every array is a
 * scratch buffer of the target: valid until the next slab is read. */
struct slab {
    uint8_t *recs;
    uint64_t *addrs;
    uint8_t *flux;
};

/* Copies a slab: the chunk pointer array, then every chunk in one read
 * each.  A live target's chunks are copied a second time and each record's
 * seq compared (the retry protocol); a record with an odd seq, or one that
 * changed, is copied again on its own until it holds still, at most
 * RETRIES times, and is flagged in flux after that. */
static int read_slab(gto_target *t, const char *what, uint64_t chunks,
                     uint64_t count, uint64_t per, uint64_t nslots,
                     uint32_t rsize, uint32_t seq_off, struct slab *sl, char *err)
{
    memset(sl, 0, sizeof(*sl));
    if (!nslots)
        return 0;
    if (per == 0 || per > MAX_PER_CHUNK || count > MAX_CHUNKS ||
        nslots > count * per || rsize < 8 || seq_off + 4 > rsize) {
        gto__err(err, "%s: the registry's %s are inconsistent (%llu chunks of "
                 "%llu, %llu in use): the registry is corrupt", t->name, what,
                 (unsigned long long)count, (unsigned long long)per,
                 (unsigned long long)nslots);
        return -1;
    }
    uint64_t nchunks = (nslots + per - 1) / per;
    int live = t->be->memory_moves;
    uint64_t *ptrs = scratch(t, GTO_SCRATCH_PTRS, nchunks * 8);
    uint8_t *buf = scratch(t, GTO_SCRATCH_RECS, nchunks * per * rsize);
    uint8_t *check = live ? scratch(t, GTO_SCRATCH_CHECK, nchunks * per * rsize) : NULL;
    uint64_t *at = scratch(t, GTO_SCRATCH_ADDRS, nslots * 8);
    struct gto_range *r = scratch(t, GTO_SCRATCH_RANGES, nchunks * sizeof(*r));
    uint8_t *ok = scratch(t, GTO_SCRATCH_OK, nchunks);
    uint8_t *flux = scratch(t, GTO_SCRATCH_FLUX, nslots);
    if (!ptrs || !buf || (live && !check) || !at || !r || !ok || !flux) {
        gto__err(err, "out of memory for %llu %s", (unsigned long long)nslots, what);
        return -1;
    }
    if (t->be->read(t, chunks, ptrs, nchunks * 8) < 0) {
        fail_read(t, err, what, chunks);
        return -1;
    }
    for (uint64_t c = 0; c < nchunks; c++) {
        r[c].addr = ptrs[c];
        r[c].len = per * rsize;
        r[c].buf = buf + c * per * rsize;
    }
    if (t->be->read_many(t, r, nchunks, ok) < 0) {
        fail_read(t, err, what, chunks);
        return -1;
    }
    for (uint64_t c = 0; c < nchunks; c++)
        if (!ok[c]) {
            errno = EFAULT;
            fail_read(t, err, what, ptrs[c]);
            return -1;
        }
    for (uint64_t i = 0; i < nslots; i++)
        at[i] = ptrs[i / per] + (i % per) * rsize;
    memset(flux, 0, nslots);
    if (live) {
        for (uint64_t c = 0; c < nchunks; c++)
            r[c].buf = check + c * per * rsize;
        if (t->be->read_many(t, r, nchunks, ok) < 0) {
            fail_read(t, err, what, chunks);
            return -1;
        }
        for (uint64_t i = 0; i < nslots; i++) {
            uint8_t *rec = buf + i * rsize;
            uint32_t seq, seq2;
            memcpy(&seq, rec + seq_off, 4);
            memcpy(&seq2, check + i * rsize + seq_off, 4);
            int torn = !ok[i / per] || (seq & 1) || seq != seq2;
            for (int k = 0; torn && k < RETRIES; k++) {
                uint32_t again;
                if (t->be->read(t, at[i], rec, rsize) < 0 ||
                    t->be->read(t, at[i] + seq_off, &again, 4) < 0) {
                    if (errno == ESRCH) {
                        gto__err(err, "%s exited while being read", t->name);
                        return -1;
                    }
                    break;
                }
                memcpy(&seq, rec + seq_off, 4);
                torn = (seq & 1) || seq != again;
            }
            flux[i] = (uint8_t)torn;
        }
    }
    sl->recs = buf;
    sl->addrs = at;
    sl->flux = flux;
    return 0;
}

static void decode_thread(const struct layout *l, const uint8_t *b,
                          struct gto_thread *th)
{
    th->id = get(l, REC_THR, THR_ID, b);
    th->parent = get(l, REC_THR, THR_PARENT, b);
    uint32_t nsz = l->size[REC_THR][THR_NAME];
    if (nsz > GTO_NAME_MAX)
        nsz = GTO_NAME_MAX;
    memcpy(th->name, b + l->off[REC_THR][THR_NAME], nsz);
    th->name[GTO_NAME_MAX - 1] = 0;
    th->state = (int)get(l, REC_THR, THR_STATE, b);
    th->wait_kind = (int)get(l, REC_THR, THR_WAIT_KIND, b);
    th->flags = (unsigned)get(l, REC_THR, THR_FLAGS, b);
    th->location = (uint32_t)get(l, REC_THR, THR_LOCATION, b);
    th->wait_obj = get(l, REC_THR, THR_WAIT_OBJ, b);
    th->wait_arg = get(l, REC_THR, THR_WAIT_ARG, b);
    th->wait_since = get(l, REC_THR, THR_WAIT_SINCE, b);
    th->deadline = get(l, REC_THR, THR_DEADLINE, b);
    th->entry = get(l, REC_THR, THR_ENTRY, b);
    th->arg = get(l, REC_THR, THR_ARG, b);
    th->spawn_site = get(l, REC_THR, THR_SPAWN_SITE, b);
    th->created = get(l, REC_THR, THR_CREATED, b);
    th->run_ns = get(l, REC_THR, THR_RUN_NS, b);
    th->switches = get(l, REC_THR, THR_SWITCHES, b);
    th->stack_lo = get(l, REC_THR, THR_STACK_LO, b);
    th->stack_hi = get(l, REC_THR, THR_STACK_HI, b);
    th->guard_size = get(l, REC_THR, THR_GUARD_SIZE, b);
    th->ctx_sp = get(l, REC_THR, THR_CTX_SP, b);
    th->ctx_pc = get(l, REC_THR, THR_CTX_PC, b);
    th->ctx_fp = get(l, REC_THR, THR_CTX_FP, b);
    for (size_t k = 0; k < 8; k++)
        th->ctx[k] = get_at(l, REC_THR, THR_CTX_REGS, b, k);
    /* The named fields win: a registry with fewer saved registers still
     * has these three. */
    th->ctx[0] = th->ctx_sp;
    th->ctx[1] = th->ctx_pc;
    th->ctx[2] = th->ctx_fp;
    th->reserved = th->stack_hi > th->stack_lo ? th->stack_hi - th->stack_lo : 0;
    /* A fresh context's sp sits below the zero words the runtime keeps at
     * the stack's top: nothing of the thread's is there. */
    th->live = th->stack_lo <= th->ctx_sp && th->ctx_sp <= th->stack_hi &&
                       !gto_fresh_context(th)
                   ? th->stack_hi - th->ctx_sp : 0;
}

static void decode_counters(const struct layout *l, const uint8_t *b,
                            struct gto_counters *c)
{
#define G(field, id) c->field = get(l, REC_REG, id, b)
    G(pid, REG_PID); G(clock_base, REG_CLOCK_BASE);
    G(realtime_base, REG_REALTIME_BASE); G(clock_now, REG_CLOCK_NOW);
    G(current, REG_CURRENT); G(switches, REG_SWITCHES); G(spawns, REG_SPAWNS);
    G(exits, REG_EXITS); G(runq_len, REG_RUNQ_LEN); G(polls, REG_POLLS);
    G(idle_ns, REG_IDLE_NS); G(file_io_calls, REG_FILE_IO_CALLS);
    G(file_io_ns, REG_FILE_IO_NS); G(guard_mappings, REG_GUARD_MAPPINGS);
    G(max_map_count, REG_MAX_MAP_COUNT); G(stack_default, REG_STACK_DEFAULT);
    G(stack_reserved, REG_STACK_RESERVED); G(page_size, REG_PAGE_SIZE);
    G(canary, REG_CANARY);
#undef G
    c->guard_policy = (uint32_t)get(l, REC_REG, REG_GUARD_POLICY, b);
    for (int i = 0; i < GTO_STATE_COUNT; i++)
        c->nstate[i] = get_at(l, REC_REG, REG_NSTATE, b, (size_t)i);
}

/* The thread array of a new snapshot: the one a freed snapshot gave
 * back when it is big enough (its pages are already there). */
static struct gto_thread *thread_array(gto_target *t, size_t n, size_t *cap)
{
    if (t->spare_threads && t->spare_cap >= n) {
        struct gto_thread *a = t->spare_threads;
        *cap = t->spare_cap;
        t->spare_threads = NULL;
        t->spare_cap = 0;
        return a;
    }
    *cap = n;
    return malloc(n * sizeof(struct gto_thread));
}

static int read_threads(gto_target *t, gto_snapshot *s, const struct layout *l,
                        const uint8_t *reg, char *err)
{
    uint32_t rsize = l->size[REC_THR][0];
    uint64_t nslots = get(l, REC_REG, REG_THREAD_SLOTS, reg);
    struct slab sl;
    if (read_slab(t, "thread chunks", get(l, REC_REG, REG_THREAD_CHUNKS, reg),
                  get(l, REC_REG, REG_THREAD_CHUNK_COUNT, reg),
                  get(l, REC_REG, REG_THREADS_PER_CHUNK, reg), nslots, rsize,
                  l->off[REC_THR][THR_SEQ], &sl, err) < 0)
        return -1;
    s->threads = thread_array(t, nslots + 1, &s->cap_threads);
    if (!s->threads) {
        gto__err(err, "out of memory for %llu threads", (unsigned long long)nslots);
        return -1;
    }
    for (uint64_t i = 0; i < nslots; i++) {
        const uint8_t *b = sl.recs + i * rsize;
        uint32_t seq = (uint32_t)get(l, REC_THR, THR_SEQ, b);
        if (get(l, REC_THR, THR_STATE, b) == GTO_STATE_FREE && !sl.flux[i] && !(seq & 1))
            continue;
        struct gto_thread *th = &s->threads[s->nthreads++];
        memset(th, 0, sizeof(*th));
        decode_thread(l, b, th);
        th->addr = sl.addrs[i];
        th->seq = seq;
        /* In a core, a record caught mid-update stays odd. */
        th->in_flux = sl.flux[i] || (seq & 1);
        th->unwind_status = th->in_flux ? GTO_UNWIND_IN_FLUX : GTO_UNWIND_NOT_TRIED;
    }
    return 0;
}

static int read_locations(gto_target *t, gto_snapshot *s, const struct layout *l,
                          const uint8_t *reg, char *err)
{
    uint32_t rsize = l->size[REC_LOC][0];
    uint64_t n = get(l, REC_REG, REG_LOC_COUNT, reg);
    if (!rsize || !l->size[REC_LOC][LOC_SEQ] || !n)
        return 0;
    struct slab sl;
    if (read_slab(t, "location chunks", get(l, REC_REG, REG_LOC_CHUNKS, reg),
                  get(l, REC_REG, REG_LOC_CHUNK_COUNT, reg),
                  get(l, REC_REG, REG_LOCS_PER_CHUNK, reg), n, rsize,
                  l->off[REC_LOC][LOC_SEQ], &sl, err) < 0)
        return -1;
    s->locs = calloc(n, sizeof(*s->locs));
    if (!s->locs) {
        gto__err(err, "out of memory for %llu locations", (unsigned long long)n);
        return -1;
    }
    /* Slot 0 is index 0, "no location": not a location of its own. */
    for (uint64_t i = 1; i < n; i++) {
        const uint8_t *b = sl.recs + i * rsize;
        struct gto_location *loc = &s->locs[s->nlocs++];
        loc->index = (uint32_t)get(l, REC_LOC, LOC_INDEX, b);
        loc->depth = (uint32_t)get(l, REC_LOC, LOC_DEPTH, b);
        if (loc->depth > GTO_LOC_DEPTH_MAX)
            loc->depth = GTO_LOC_DEPTH_MAX;
        for (uint32_t d = 0; d < loc->depth; d++)
            loc->pcs[d] = get_at(l, REC_LOC, LOC_PCS, b, d);
        loc->wait_kind = (uint32_t)get(l, REC_LOC, LOC_WAIT_KIND, b);
        loc->waiting = get(l, REC_LOC, LOC_WAITING, b);
        loc->arrivals = get(l, REC_LOC, LOC_ARRIVALS, b);
        loc->completed = get(l, REC_LOC, LOC_COMPLETED, b);
        loc->total_wait_ns = get(l, REC_LOC, LOC_TOTAL_WAIT_NS, b);
        loc->max_wait_ns = get(l, REC_LOC, LOC_MAX_WAIT_NS, b);
        for (size_t h = 0; h < GTO_HIST_BUCKETS; h++)
            loc->hist[h] = get_at(l, REC_LOC, LOC_HIST, b, h);
        loc->in_flux = sl.flux[i] || (get(l, REC_LOC, LOC_SEQ, b) & 1);
    }
    return 0;
}

static int read_edges(gto_target *t, gto_snapshot *s, const struct layout *l,
                      const uint8_t *reg, char *err)
{
    uint32_t rsize = l->size[REC_EDGE][0];
    uint64_t n = get(l, REC_REG, REG_EDGE_COUNT, reg);
    if (!rsize || !l->size[REC_EDGE][EDGE_SEQ] || !n)
        return 0;
    struct slab sl;
    if (read_slab(t, "edge chunks", get(l, REC_REG, REG_EDGE_CHUNKS, reg),
                  get(l, REC_REG, REG_EDGE_CHUNK_COUNT, reg),
                  get(l, REC_REG, REG_EDGES_PER_CHUNK, reg), n, rsize,
                  l->off[REC_EDGE][EDGE_SEQ], &sl, err) < 0)
        return -1;
    s->edges = calloc(n, sizeof(*s->edges));
    if (!s->edges) {
        gto__err(err, "out of memory for %llu edges", (unsigned long long)n);
        return -1;
    }
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *b = sl.recs + i * rsize;
        struct gto_edge *e = &s->edges[s->nedges++];
        e->from = (uint32_t)get(l, REC_EDGE, EDGE_FROM, b);
        e->to = (uint32_t)get(l, REC_EDGE, EDGE_TO, b);
        e->count = get(l, REC_EDGE, EDGE_COUNT, b);
        e->run_ns = get(l, REC_EDGE, EDGE_RUN_NS, b);
        e->max_run_ns = get(l, REC_EDGE, EDGE_MAX_RUN_NS, b);
        e->in_flux = sl.flux[i] || (get(l, REC_EDGE, EDGE_SEQ, b) & 1);
    }
    return 0;
}

/* A registry that counts threads none of whose records could be found:
 * the backend says whether that can be right. */
static int check_no_threads(gto_target *t, const gto_snapshot *s, char *err)
{
    uint64_t counted = 0;
    for (int i = GTO_STATE_RUNNABLE; i < GTO_STATE_COUNT; i++)
        counted += s->c.nstate[i];
    return counted ? t->be->no_threads(t, counted, err) : 0;
}

/* Whether a thread's saved context can be unwound from its stack copy. */
static int unwindable(const struct gto_thread *th)
{
    return !th->in_flux && th->state != GTO_STATE_RUNNING &&
           th->stack_lo < th->stack_hi && th->stack_hi - th->stack_lo <= MAX_STACK &&
           th->stack_lo <= th->ctx_sp && th->ctx_sp < th->stack_hi;
}

/* Whether an unwindable thread's live stack is copied for its unwinding.
 * A fresh context's is not: its one frame, the trampoline, ends the walk
 * without reading the stack, and reading it would make the kernel map a
 * page there (the zero page of a never-touched or given-back stack), which
 * the residency of its stack would then count. */
static int copied(const struct gto_thread *th)
{
    return unwindable(th) && !gto_fresh_context(th);
}

struct stack_copy {
    uint8_t *buf;     /* every live stack, back to back */
    size_t *off;      /* thread i's copy starts at buf + off[i] */
};

/* Re-reads one thread's record and live stack until its seq holds still. */
static int reread_thread(gto_target *t, const struct layout *l,
                         struct gto_thread *th, uint8_t **stack)
{
    uint32_t rsize = l->size[REC_THR][0];
    uint8_t *rec = malloc(rsize);
    if (!rec)
        return -1;
    for (int k = 0; k < RETRIES; k++) {
        uint32_t seq, again;
        if (t->be->read(t, th->addr, rec, rsize) < 0)
            break;
        seq = (uint32_t)get(l, REC_THR, THR_SEQ, rec);
        if (seq & 1)
            continue;
        uint64_t addr = th->addr;
        decode_thread(l, rec, th);
        th->addr = addr;
        th->seq = seq;
        free(*stack);
        *stack = NULL;
        if (copied(th)) {
            *stack = malloc(th->stack_hi - th->ctx_sp);
            if (!*stack || t->be->read(t, th->ctx_sp, *stack,
                                       th->stack_hi - th->ctx_sp) < 0)
                continue;
        }
        if (t->be->read(t, th->addr + l->off[REC_THR][THR_SEQ], &again, 4) == 0 &&
            again == seq) {
            free(rec);
            return 0;
        }
    }
    free(rec);
    return -1;
}

static int read_stacks(gto_target *t, gto_snapshot *s, const struct layout *l,
                       struct stack_copy *sc, uint8_t ***own, char *err)
{
    size_t n = s->nthreads, total = 0;
    sc->off = calloc(n + 1, sizeof(*sc->off));
    *own = calloc(n + 1, sizeof(**own));
    struct gto_range *r = malloc((n + 1) * sizeof(*r));
    uint8_t *ok = malloc(n + 1);
    size_t *idx = malloc((n + 1) * sizeof(*idx));
    size_t nr = 0;
    if (!sc->off || !*own || !r || !ok || !idx)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        const struct gto_thread *th = &s->threads[i];
        sc->off[i] = total;
        if (copied(th))
            total += th->stack_hi - th->ctx_sp;
    }
    sc->buf = malloc(total + 1);
    if (!sc->buf)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        const struct gto_thread *th = &s->threads[i];
        if (!copied(th))
            continue;
        r[nr].addr = th->ctx_sp;
        r[nr].len = th->stack_hi - th->ctx_sp;
        r[nr].buf = sc->buf + sc->off[i];
        idx[nr++] = i;
    }
    if (t->be->read_many(t, r, nr, ok) < 0) {
        gto__err(err, "%s exited while being read", t->name);
        goto fail;
    }
    /* The records again (their seq words): a thread that ran while its
     * stack was copied has a new seq; its record and stack are read again. */
    uint32_t *seq2 = malloc((nr + 1) * 4);
    uint8_t *ok2 = malloc(nr + 1);
    struct gto_range *r2 = malloc((nr + 1) * sizeof(*r2));
    if (!seq2 || !ok2 || !r2) {
        free(seq2);
        free(ok2);
        free(r2);
        goto oom;
    }
    int live = t->be->memory_moves;
    for (size_t k = 0; k < nr; k++) {
        r2[k].addr = s->threads[idx[k]].addr + l->off[REC_THR][THR_SEQ];
        r2[k].len = 4;
        r2[k].buf = &seq2[k];
    }
    if (live && t->be->read_many(t, r2, nr, ok2) < 0) {
        gto__err(err, "%s exited while being read", t->name);
        free(seq2);
        free(ok2);
        free(r2);
        goto fail;
    }
    for (size_t k = 0; k < nr; k++) {
        struct gto_thread *th = &s->threads[idx[k]];
        /* The stack copy matches the record when the seq read after it is
         * the one the record was copied with: the thread did not run. */
        int torn = !ok[k] || (live && (!ok2[k] || seq2[k] != th->seq));
        if (torn && reread_thread(t, l, th, &(*own)[idx[k]]) < 0) {
            th->in_flux = 1;
            th->unwind_status = GTO_UNWIND_IN_FLUX;
        }
    }
    free(seq2);
    free(ok2);
    free(r2);
    free(r);
    free(ok);
    free(idx);
    return 0;
oom:
    gto__err(err, "out of memory for the stacks of %zu threads", n);
fail:
    free(r);
    free(ok);
    free(idx);
    return -1;
}

static int zeros(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Unwinds every thread; frames of all threads go into one array. */
static int unwind_all(gto_target *t, gto_snapshot *s, const struct stack_copy *sc,
                      uint8_t **own, unsigned flags, char *err)
{
    if (gto__unwind_init(t, err) < 0)
        return -1;
    size_t cap = s->nthreads * 8 + 16, used = 0;
    size_t *first = malloc((s->nthreads + 1) * sizeof(*first));
    s->frames = malloc(cap * sizeof(*s->frames));
    if (!first || !s->frames) {
        free(first);
        gto__err(err, "out of memory for the frames of %zu threads", s->nthreads);
        return -1;
    }
    for (size_t i = 0; i < s->nthreads; i++) {
        struct gto_thread *th = &s->threads[i];
        first[i] = used;
        struct gto_unw_thread u = {.t = t};
        int from_core_regs = 0;
        if (th->in_flux)
            continue;
        if (th->state == GTO_STATE_RUNNING) {
            /* A running thread's saved context is stale: only registers
             * the backend has (a core's NT_PRSTATUS) can unwind it. */
            if (t->be->thread_regs(t, th->addr, s->c.current, u.regs)) {
                u.valid = 0x1ffff;
                from_core_regs = 1;
            } else {
                th->unwind_status = GTO_UNWIND_RUNNING;
                continue;
            }
        } else if (!unwindable(th)) {
            th->unwind_status = GTO_UNWIND_BAD_CONTEXT;
            continue;
        } else {
            u.copy_lo = th->ctx_sp;
            u.copy_hi = copied(th) ? th->stack_hi : th->ctx_sp;
            u.copy = !copied(th) ? NULL : own[i] ? own[i] : sc->buf + sc->off[i];
            /* Only what the switch saved: sp, pc, rbp, rbx, r12-r15. */
            for (int k = 0; k < 8; k++) {
                u.regs[ctx_dwarf[k]] = th->ctx[k];
                u.valid |= 1u << ctx_dwarf[k];
            }
        }
        if (u.copy && zeros(u.copy, u.copy_hi - u.copy_lo)) {
            /* A parked thread's stack holds at least its return addresses:
             * all zeros is memory the core does not have.  (A fresh
             * context's is not copied: its words are zeros by design.) */
            th->unwind_status = GTO_UNWIND_NO_MEMORY;
            continue;
        }
        struct gto_frame *fr = NULL;
        size_t nfr = 0;
        int st = -1;
        if (!(flags & GTO_SNAP_NO_FASTPATH) && !from_core_regs)
            st = gto__unwind_fast(&u, th->stack_hi, &fr, &nfr);
        if (st < 0) {
            free(fr);
            fr = NULL;
            st = gto__unwind_libunwind(&u, th->stack_hi, &fr, &nfr);
            s->slow_unwinds++;
        }
        th->unwind_status = st;
        /* The trampoline's frame of a fresh context holds nothing of the
         * thread's, so that frame sizes add up to live (0). */
        if (nfr && gto_fresh_context(th))
            fr[0].size = 0;
        if (used + nfr > cap) {
            while (used + nfr > cap)
                cap *= 2;
            struct gto_frame *nf = realloc(s->frames, cap * sizeof(*nf));
            if (!nf) {
                free(fr);
                free(first);
                gto__err(err, "out of memory for frames");
                return -1;
            }
            s->frames = nf;
        }
        if (nfr)
            memcpy(s->frames + used, fr, nfr * sizeof(*fr));
        free(fr);
        th->nframes = nfr;
        used += nfr;
    }
    for (size_t i = 0; i < s->nthreads; i++)
        s->threads[i].frames = s->threads[i].nframes ? s->frames + first[i] : NULL;
    free(first);
    return 0;
}

int gto_snapshot_take(gto_target *t, unsigned flags, gto_snapshot **out, char *err)
{
    *out = NULL;
    gto_snapshot *s = calloc(1, sizeof(*s));
    if (!s) {
        gto__err(err, "out of memory");
        return -1;
    }
    s->t = t;
    struct {
        uint64_t magic;
        uint32_t abi, header_size;
        uint64_t layout;
        uint32_t nlayout, arch;
    } head;
    if (t->be->read(t, t->registry, &head, sizeof(head)) < 0) {
        fail_read(t, err, "header", t->registry);
        goto fail;
    }
    if (head.magic != REGISTRY_MAGIC) {
        char m[9];
        for (int i = 0; i < 8; i++) {
            char c = (char)(head.magic >> (8 * i));
            m[i] = c >= 32 && c < 127 ? c : '.';
        }
        m[8] = 0;
        gto__err(err, "%s: gt_registry at %#llx has magic %#llx (\"%s\"), not "
                 "%#llx (\"GTREGSTR\"): not a gt registry, or a corrupt one",
                 t->name, (unsigned long long)t->registry,
                 (unsigned long long)head.magic, m, REGISTRY_MAGIC);
        goto fail;
    }
    if (head.abi != REGISTRY_ABI) {
        gto__err(err, "%s has gt registry ABI %u; this reader reads ABI %u: use "
                 "the tools built with the program's libgt", t->name, head.abi,
                 REGISTRY_ABI);
        goto fail;
    }
    if (head.arch != EM_X86_64) {
        gto__err(err, "%s: its registry is for %s (e_machine %u); this reader "
                 "reads x86-64", t->name, gto__machine_name(head.arch), head.arch);
        goto fail;
    }
    if (!head.layout) {
        /* gt_main has not run yet: a gt program with no threads. */
        s->c.started = 0;
        *out = s;
        return 0;
    }
    s->c.started = 1;
    struct layout l;
    if (read_layout(t, head.layout, head.nlayout, &l, err) < 0)
        goto fail;
    uint32_t regsize = l.size[REC_REG][0];
    if (regsize < 32) {
        gto__err(err, "%s: the registry's size is %u bytes: the registry is "
                 "corrupt", t->name, regsize);
        goto fail;
    }
    uint8_t *reg = malloc(regsize);
    if (!reg || t->be->read(t, t->registry, reg, regsize) < 0) {
        free(reg);
        fail_read(t, err, "header", t->registry);
        goto fail;
    }
    decode_counters(&l, reg, &s->c);
    s->c.started = 1;
    s->c.now = t->be->now(t, &s->c, get(&l, REC_REG, REG_FATAL_NS, reg),
                          &s->now_exact);
    int rc = read_threads(t, s, &l, reg, err);
    if (rc == 0 && !s->nthreads)
        rc = check_no_threads(t, s, err);
    if (rc == 0)
        rc = read_locations(t, s, &l, reg, err);
    if (rc == 0)
        rc = read_edges(t, s, &l, reg, err);
    free(reg);
    if (rc < 0)
        goto fail;
    /* Only unwinding needs the live stacks copied: measuring reads the
     * pages below each saved sp on its own. */
    if (flags & GTO_SNAP_UNWIND) {
        struct stack_copy sc = {0};
        uint8_t **own = NULL;
        rc = read_stacks(t, s, &l, &sc, &own, err);
        if (rc == 0)
            rc = unwind_all(t, s, &sc, own, flags, err);
        for (size_t i = 0; own && i < s->nthreads; i++)
            free(own[i]);
        free(own);
        free(sc.buf);
        free(sc.off);
        if (rc < 0)
            goto fail;
    }
    if ((flags & GTO_SNAP_MEASURE) && gto__measure(t, s, err) < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    gto_snapshot_free(s);
    return -1;
}

void gto_snapshot_free(gto_snapshot *s)
{
    if (!s)
        return;
    /* The thread array goes back to the target for the next snapshot,
     * the bigger of the two kept. */
    gto_target *t = s->t;
    if (t && s->threads && s->cap_threads > t->spare_cap) {
        free(t->spare_threads);
        t->spare_threads = s->threads;
        t->spare_cap = s->cap_threads;
    } else {
        free(s->threads);
    }
    free(s->locs);
    free(s->edges);
    free(s->frames);
    gto_pcmap_free(&s->by_id);
    free(s);
}

const struct gto_counters *gto_snapshot_counters(const gto_snapshot *s)
{
    return &s->c;
}

size_t gto_thread_count(const gto_snapshot *s) { return s->nthreads; }

const struct gto_thread *gto_thread_at(const gto_snapshot *s, size_t i)
{
    return i < s->nthreads ? &s->threads[i] : NULL;
}

const struct gto_thread *gto_thread_by_id(const gto_snapshot *s, uint64_t id)
{
    /* The index is a cache built by the first look-up: a refresh that
     * never asks for a thread by id does not hash 100K ids. */
    if (!s->by_id.cap && s->nthreads) {
        struct gto_pcmap *m = (struct gto_pcmap *)&s->by_id;
        for (size_t i = 0; i < s->nthreads; i++)
            if (gto_pcmap_put(m, s->threads[i].id ? s->threads[i].id : ~0ull, i + 1) < 0)
                break;
    }
    uint64_t v = id ? gto_pcmap_get(&s->by_id, id) : 0;
    return v ? &s->threads[v - 1] : NULL;
}

size_t gto_location_count(const gto_snapshot *s) { return s->nlocs; }

const struct gto_location *gto_location_at(const gto_snapshot *s, size_t i)
{
    return i < s->nlocs ? &s->locs[i] : NULL;
}

const struct gto_location *gto_location_by_index(const gto_snapshot *s,
                                                 uint32_t index)
{
    /* Indices are handed out in order from 1: slot index - 1, checked. */
    if (index && index - 1 < s->nlocs && s->locs[index - 1].index == index)
        return &s->locs[index - 1];
    for (size_t i = 0; i < s->nlocs; i++)
        if (s->locs[i].index == index && index)
            return &s->locs[i];
    return NULL;
}

size_t gto_edge_count(const gto_snapshot *s) { return s->nedges; }

const struct gto_edge *gto_edge_at(const gto_snapshot *s, size_t i)
{
    return i < s->nedges ? &s->edges[i] : NULL;
}

size_t gto_snapshot_slow_unwinds(const gto_snapshot *s) { return s->slow_unwinds; }
