/*
 * blockers.c - who blocks whom: what each parked thread waits on, the
 * wait-for graph, its cycles (deadlocks), each location's blockers, and
 * the running thread (the hog).
 *
 * After the thread records are read (snapshot.c), each distinct object a
 * parked thread waits on is read once, all in one batch, neighbours
 * merged into one range (read_merged): the mutex of a mutex wait and of a
 * condition variable's wait (the one it retakes), the channel of a
 * channel wait.  Their layout comes from the registry (GT_REC_MUTEX,
 * GT_REC_CHAN), so a stripped program and a core are enough.
 *
 * The graph: a thread parked on a mutex waits for its owner, a joiner for
 * the joined thread.  Each thread waits on one thing, so it has at most
 * one outgoing edge: the graph is a functional graph, and its cycles are
 * found in one pass over the threads that have an edge, each visited
 * once (iteratively: a chain of 100K threads is no recursion).  A live
 * target's threads were copied a chunk at a time, not at one instant, so
 * a cycle is confirmed by reading its members' seq words and mutexes once
 * more, in one batch: every member still parked in the same wait since
 * the same time (its record's seq unchanged) and each mutex still held by
 * the same member.  A parked thread cannot release a mutex, so such a
 * cycle existed at one instant and exists still: a deadlock, never a torn
 * read.
 *
 * Cost: gt-top takes a snapshot with this every second or faster, so
 * one pass (collect) goes over every thread; everything after it goes
 * over the threads whose wait names an object or a thread (a sleep, an
 * fd or a poll needs no more than the record), over the objects, or over
 * the threads with an edge, and every array is kept for the next
 * snapshot (BUF_*).
 *
 * Every value read is hostile: an owner is a thread of the snapshot only
 * when it is exactly one's record address; counts (a channel's cap and
 * len) are printed as read and size nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NONE UINT32_MAX
#define PREFETCH_AHEAD 8 /* records: see collect */
#define DEFAULT_HOG_NS 100000000ull /* 100 ms without a watchdog threshold */

enum obj_type { OBJ_MUTEX = 1, OBJ_CHAN = 2 };

/* One object some parked thread waits on, as read. */
struct object {
    uint64_t addr;
    int type;                /* enum obj_type */
    int status;              /* enum gto_obj_status */
    uint64_t owner, held_since;       /* mutex */
    const struct gto_thread *by;      /* mutex: the owner, when it is a
                                       * thread of the snapshot */
    uint64_t cap, len;                /* chan */
    int closed;
    uint64_t senders, receivers;      /* chan: parked threads of the snapshot */
};

/* Neighbouring threads that wait on one object (see collect). */
struct run {
    uint64_t addr;
    int type;                /* enum obj_type */
    uint32_t senders, receivers;
};

/* A thread whose wait needs more than its own record: a mutex, cond,
 * channel or join wait.  RUN: its run of threads on one object (collect),
 * NONE for a join. */
struct waiter {
    uint32_t thread, run;
};

/* has_block[i]: thread i has a block; and a wait-for edge (pos[i] is
 * then its index among the edges). */
#define HAS_BLOCK 1u
#define HAS_EDGE 2u

/* The analysis's arrays.  Each is kept, with the results it holds, from
 * one snapshot to the next: a freed snapshot gives its gto_blockers back
 * to the target (gto__blockers_give_back), as it gives its thread array,
 * so that a viewer refreshing every second neither allocates nor faults
 * in fresh pages (10 MB of blocks at 100K threads) each time. */
enum {
    BUF_BLOCKS, BUF_HAS, BUF_POS,           /* per thread */
    BUF_WAITERS, BUF_RUNS, BUF_RUN_KEYS, BUF_RUN_OBJ, BUF_OBJS, /* objects */
    BUF_OBJ_BYTES, BUF_OBJ_RANGES, BUF_OBJ_AT, BUF_OBJ_OK,
    BUF_SORT,                               /* radix_sort's other half */
    BUF_BY_ADDR, BUF_BY_ID,                 /* thread indexes */
    BUF_EDGES, BUF_NEXT, BUF_MARK, BUF_CYC, BUF_CYC_TMP, BUF_CYC_AT,
    BUF_KEEP, BUF_CYCLES, BUF_MEMBERS,      /* cycles */
    BUF_CONF_RANGES, BUF_CONF_OK, BUF_CONF_VAL,
    BUF_PAIRS, BUF_LOC_FIRST, BUF_ENTRIES,  /* location blockers */
    BUF_MERGE_ORD, BUF_MERGE_M, BUF_MERGE_FROM, BUF_MERGE_OK, BUF_MERGE_BIG,
    BUF_COUNT
};

struct gto_blockers {
    struct gto_block *blocks;         /* one per thread of the snapshot */
    uint8_t *has_block;               /* HAS_BLOCK: blocks[i] is one */
    struct gto_cycle *cycles;
    size_t ncycles;
    const struct gto_thread **members; /* every cycle's, back to back */
    uint64_t in_cycles;
    size_t *loc_first;                /* location L's blockers: entries
                                       * [loc_first[L], loc_first[L + 1]) */
    size_t nloc_first;
    struct gto_loc_blocker *entries;
    const struct gto_thread *running; /* gto_hog's thread, NULL none */
    int order_known, sorted[2];       /* thread_order: the thread array
                                       * sorted by address [0], id [1] */
    struct {
        void *p;
        size_t cap;                   /* bytes */
    } buf[BUF_COUNT];
};

void gto__blockers_free(struct gto_blockers *b)
{
    if (!b)
        return;
    for (int i = 0; i < BUF_COUNT; i++)
        free(b->buf[i].p);
    free(b);
}

void gto__blockers_give_back(gto_target *t, struct gto_blockers *b)
{
    if (!b)
        return;
    struct gto_blockers *old = t ? t->spare_blockers : NULL;
    if (t && (!old || b->buf[BUF_BLOCKS].cap > old->buf[BUF_BLOCKS].cap)) {
        t->spare_blockers = b;
        b = old;
    }
    gto__blockers_free(b);
}

/* Buffer WHICH of BL, of at least BYTES (1 at least), its old contents
 * kept or not; NULL when out of memory. */
static void *bl_array(struct gto_blockers *bl, int which, size_t bytes)
{
    if (!bytes)
        bytes = 1;
    if (bytes > bl->buf[which].cap) {
        size_t cap = bytes + bytes / 4;
        void *p = malloc(cap);
        if (!p)
            return NULL;
        gto__huge_pages(p, cap);
        free(bl->buf[which].p);
        bl->buf[which].p = p;
        bl->buf[which].cap = cap;
    }
    return bl->buf[which].p;
}

/* The object a parked thread's wait names, by type, 0 none. */
static int wait_object(const struct gto_thread *th, uint64_t *addr)
{
    switch (th->wait_kind) {
    case GT_WAIT_MUTEX:
        *addr = th->wait_obj;
        return OBJ_MUTEX;
    case GT_WAIT_COND:
        *addr = th->wait_arg; /* the mutex it retakes */
        return *addr ? OBJ_MUTEX : 0;
    case GT_WAIT_CHAN_SEND:
    case GT_WAIT_CHAN_RECV:
        *addr = th->wait_obj;
        return OBJ_CHAN;
    default:
        return 0;
    }
}

/* Whether the snapshot knows TH's block: parked, and its record held
 * still (a torn record's wait fields may not belong together). */
static int blockable(const struct gto_thread *th)
{
    return th->state == GTO_STATE_PARKED && !th->in_flux;
}

/* A key and what it stands for (an index), the unit of every sort
 * here. */
struct keyed {
    uint64_t key;
    size_t i;
};

/* Sorts the N pairs A by key, and pairs of equal keys by the low bit of i
 * when LOWBIT: a stable radix sort, a byte a pass, that skips the bytes
 * every key shares (the high bytes of addresses in one region), and the
 * low bits when all are alike.  At 100K objects it takes a few
 * milliseconds where qsort took tens.  -1 when out of memory (A
 * untouched). */
static int radix_sort(struct gto_blockers *bl, struct keyed *a, size_t n, int lowbit)
{
    if (n < 2)
        return 0;
    struct keyed *tmp = bl_array(bl, BUF_SORT, n * sizeof(*tmp)), *src = a, *dst = tmp;
    if (!tmp)
        return -1;
    uint64_t all_or = 0, all_and = ~0ull;
    size_t low_or = 0, low_and = 1;
    for (size_t i = 0; i < n; i++) {
        all_or |= a[i].key, all_and &= a[i].key;
        low_or |= a[i].i & 1, low_and &= a[i].i & 1;
    }
    for (int pass = lowbit && low_or != low_and ? -1 : 0; pass < 8; pass++) {
        int shift = pass * 8;
        if (pass >= 0 && !(((all_or ^ all_and) >> shift) & 0xff))
            continue; /* every key has this byte: no reordering */
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[(pass < 0 ? src[i].i & 1 : (src[i].key >> shift) & 0xff) + 1]++;
        for (int b = 0; b < 256; b++)
            count[b + 1] += count[b];
        for (size_t i = 0; i < n; i++)
            dst[count[pass < 0 ? src[i].i & 1 : (src[i].key >> shift) & 0xff]++] = src[i];
        struct keyed *x = src;
        src = dst, dst = x;
    }
    if (src != a)
        memcpy(a, src, n * sizeof(*a));
    return 0;
}


/* The bytes of an object to read: up to the end of the last field used
 * (the layout said each lies inside the record, and the record is at
 * most GTO_OBJECT_MAX bytes). */
static size_t span(const struct gto_fld *f, size_t n)
{
    size_t end = 0;
    for (size_t i = 0; i < n; i++)
        if (f[i].size && f[i].off + f[i].size > end)
            end = f[i].off + f[i].size;
    return end;
}

/* Ranges closer than MERGE_GAP bytes are read as one (at most
 * MERGE_PIECE bytes each, MERGE_BUF bytes a batch): the kernel pins a
 * page for every range of a process_vm_readv, a core reads each with a
 * pread, and objects and records come in arrays (100K mutexes of 40
 * bytes side by side are a hundred ranges, not 100K).  A merged read that
 * fails (a gap that is not mapped) is read again range by range. */
#define MERGE_GAP 512u
#define MERGE_PIECE (64u << 10)
#define MERGE_BUF (4u << 20)


/* One batch of merged ranges M[0..nm) of the ranges ORD[from[k]..from[k +
 * 1]): read, then copied out to each range's own buffer. */
static int flush_merged(gto_target *t, const struct gto_range *r, uint8_t *ok,
                        const struct keyed *ord, struct gto_range *m,
                        const size_t *from, size_t nm, uint8_t *mok)
{
    if (t->be->read_many(t, m, nm, mok) < 0)
        return -1;
    for (size_t k = 0; k < nm; k++) {
        for (size_t q = from[k]; q < from[k + 1]; q++) {
            const struct gto_range *x = &r[ord[q].i];
            if (mok[k]) {
                memcpy(x->buf, (uint8_t *)m[k].buf + (x->addr - m[k].addr), x->len);
                ok[ord[q].i] = 1;
            } else {
                ok[ord[q].i] = x->len == 0 || t->be->read(t, x->addr, x->buf, x->len) == 0;
                if (!ok[ord[q].i] && errno == ESRCH)
                    return -1;
            }
        }
    }
    return 0;
}

/* Reads the N ranges R (any order) as read_many would, ok[i] per range
 * (a range that wraps is not read), merging neighbours.  -1 with errno when the
 * target failed as a whole. */
static int read_merged(gto_target *t, struct gto_blockers *bl, const struct gto_range *r,
                       size_t n, uint8_t *ok)
{
    if (n < 2)
        return n ? t->be->read_many(t, r, n, ok) : 0;
    /* At most one merged range per range, and per 64 bytes of a batch. */
    size_t maxm = MERGE_BUF / 64 + 1 < n ? MERGE_BUF / 64 + 1 : n;
    struct keyed *ord = bl_array(bl, BUF_MERGE_ORD, n * sizeof(*ord));
    struct gto_range *m = bl_array(bl, BUF_MERGE_M, maxm * sizeof(*m));
    size_t *from = bl_array(bl, BUF_MERGE_FROM, (maxm + 1) * sizeof(*from));
    uint8_t *mok = bl_array(bl, BUF_MERGE_OK, maxm);
    /* The snapshot's record buffer is free by now, and its pages are
     * there already: a fresh 4 MiB would be a thousand page faults. */
    struct gto_scratch *sc = &t->scratch[GTO_SCRATCH_RECS];
    uint8_t *big = sc->cap >= MERGE_BUF ? sc->p : bl_array(bl, BUF_MERGE_BIG, MERGE_BUF);
    if (!ord || !m || !from || !mok || !big)
        return t->be->read_many(t, r, n, ok); /* out of memory: as they are */
    size_t nord = 0, all = n;
    for (size_t i = 0; i < n; i++) {
        ok[i] = r[i].len == 0;
        if (r[i].len && r[i].addr <= UINT64_MAX - r[i].len)
            ord[nord++] = (struct keyed){r[i].addr, i};
    }
    n = nord;
    if (radix_sort(bl, ord, n, 0) < 0)
        return t->be->read_many(t, r, all, ok);
    size_t nm = 0, used = 0;
    for (size_t i = 0; i < n;) {
        uint64_t lo = ord[i].key, hi = lo + r[ord[i].i].len;
        size_t j = i + 1;
        for (; j < n; j++) {
            uint64_t a = ord[j].key, e = a + r[ord[j].i].len;
            if (a - hi > MERGE_GAP && a > hi)
                break;
            if ((e > hi ? e : hi) - lo > MERGE_PIECE)
                break;
            if (e > hi)
                hi = e;
        }
        if (nm == maxm || used + (hi - lo) > MERGE_BUF) {
            from[nm] = i;
            if (flush_merged(t, r, ok, ord, m, from, nm, mok) < 0)
                return -1;
            nm = used = 0;
        }
        m[nm] = (struct gto_range){lo, (size_t)(hi - lo), big + used};
        from[nm++] = i;
        used += (size_t)(hi - lo);
        i = j;
    }
    from[nm] = n;
    if (nm && flush_merged(t, r, ok, ord, m, from, nm, mok) < 0)
        return -1;
    return 0;
}

/* Reads every object of OBJS (N) in one batch and decodes it. */
static int read_objects(gto_target *t, const gto_snapshot *s, struct gto_blockers *bl,
                        struct object *objs, size_t n, char *err)
{
    const struct gto_obj_layout *ol = &s->ol;
    struct gto_fld mf[] = {ol->mutex_owner, ol->mutex_magic, ol->mutex_held_since};
    struct gto_fld cf[] = {ol->chan_magic, ol->chan_cap, ol->chan_len, ol->chan_closed};
    size_t mlen = ol->mutex_size ? span(mf, 3) : 0;
    size_t clen = ol->chan_size ? span(cf, 4) : 0;
    size_t total = 0, nr = 0;
    for (size_t i = 0; i < n; i++)
        total += objs[i].type == OBJ_MUTEX ? mlen : clen;
    uint8_t *bytes = bl_array(bl, BUF_OBJ_BYTES, total);
    struct gto_range *r = bl_array(bl, BUF_OBJ_RANGES, n * sizeof(*r));
    size_t *at = bl_array(bl, BUF_OBJ_AT, n * sizeof(*at));
    uint8_t *ok = bl_array(bl, BUF_OBJ_OK, n);
    if (!bytes || !r || !at || !ok) {
        gto__err(err, "out of memory for the objects %zu threads wait on", s->nthreads);
        return -1;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        struct object *o = &objs[i];
        size_t len = o->type == OBJ_MUTEX ? mlen : clen;
        at[i] = NONE;
        if (!len) {
            o->status = GTO_OBJ_UNPUBLISHED;
            continue;
        }
        /* Address 0, or a range that wraps: nothing there to read. */
        if (!o->addr || o->addr > UINT64_MAX - len) {
            o->status = GTO_OBJ_UNREADABLE;
            continue;
        }
        r[nr] = (struct gto_range){o->addr, len, bytes + off};
        at[i] = nr++;
        off += len;
    }
    if (read_merged(t, bl, r, nr, ok) < 0) {
        gto__err(err, "%s exited while being read", t->name);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct object *o = &objs[i];
        if (at[i] == NONE)
            continue;
        if (!ok[at[i]]) {
            o->status = GTO_OBJ_UNREADABLE;
            continue;
        }
        const uint8_t *b = r[at[i]].buf;
        if (o->type == OBJ_MUTEX) {
            uint64_t magic = gto__fld(b, ol->mutex_magic);
            o->status = magic == GT_MUTEX_MAGIC || magic == 0 ? GTO_OBJ_OK
                                                               : GTO_OBJ_BAD_MAGIC;
            o->owner = gto__fld(b, ol->mutex_owner);
            o->held_since = gto__fld(b, ol->mutex_held_since);
        } else {
            o->status = gto__fld(b, ol->chan_magic) == GT_CHAN_MAGIC ? GTO_OBJ_OK
                                                                     : GTO_OBJ_BAD_MAGIC;
            o->cap = gto__fld(b, ol->chan_cap);
            o->len = gto__fld(b, ol->chan_len);
            o->closed = gto__fld(b, ol->chan_closed) != 0;
        }
        if (o->status != GTO_OBJ_OK)
            o->owner = o->held_since = o->cap = o->len = 0, o->closed = 0;
    }
    return 0;
}

/* The snapshot's threads by a key (record address, id), for a binary
 * search.  Threads come in slot order, which is address order within a
 * chunk and usually across chunks too (and id order as long as no slot
 * was reused), so the thread array itself is most often sorted already:
 * a few look-ups search it in place (k NULL); many get a compact copy,
 * sorted (the thread array is 400 bytes a thread, and a search through
 * it would miss the cache at every step). */
struct thread_index {
    const struct keyed *k;   /* NULL: the thread array is sorted */
    int by_id;
};

static uint64_t thread_key(const gto_snapshot *s, int by_id, size_t i)
{
    return by_id ? s->threads[i].id : s->threads[i].addr;
}

/* Whether the thread array is sorted by address and by id: one pass
 * for both (they share a cache line of each record), made the first
 * time either is asked, and only then. */
static void thread_order(const gto_snapshot *s, struct gto_blockers *bl)
{
    const struct gto_thread *th = s->threads;
    size_t n = s->nthreads;
    int by_addr = 1, by_id = 1;
    for (size_t i = 1; i < n && (by_addr || by_id); i++) {
        if (i + PREFETCH_AHEAD < n)
            __builtin_prefetch(&th[i + PREFETCH_AHEAD].addr);
        by_addr &= th[i - 1].addr <= th[i].addr;
        by_id &= th[i - 1].id <= th[i].id;
    }
    bl->sorted[0] = by_addr, bl->sorted[1] = by_id;
    bl->order_known = 1;
}

static int index_threads(const gto_snapshot *s, struct gto_blockers *bl, int by_id,
                         size_t lookups, struct thread_index *ix)
{
    size_t n = s->nthreads;
    if (!bl->order_known)
        thread_order(s, bl);
    int sorted = bl->sorted[by_id];
    ix->by_id = by_id;
    ix->k = NULL;
    if (sorted && lookups <= n / 1024)
        return 0;
    struct keyed *k = bl_array(bl, by_id ? BUF_BY_ID : BUF_BY_ADDR, n * sizeof(*k));
    if (!k)
        return -1;
    for (size_t i = 0; i < n; i++)
        k[i] = (struct keyed){thread_key(s, by_id, i), i};
    if (!sorted && radix_sort(bl, k, n, 0) < 0)
        return -1;
    ix->k = k;
    return 0;
}

/* The thread whose key is KEY (the first of equal keys in thread order),
 * NULL none. */
static const struct gto_thread *find_thread(const gto_snapshot *s,
                                            const struct thread_index *ix, uint64_t key)
{
    size_t lo = 0, hi = s->nthreads;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t at = ix->k ? ix->k[mid].key : thread_key(s, ix->by_id, mid);
        if (at < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == s->nthreads)
        return NULL;
    if (!ix->k)
        return thread_key(s, ix->by_id, lo) == key ? &s->threads[lo] : NULL;
    return ix->k[lo].key == key ? &s->threads[ix->k[lo].i] : NULL;
}

/* The first pass, the one over every thread: each parked thread's block
 * as its own record tells it (its wait kind and object), the running
 * thread (gto_hog), and the threads whose wait needs more (struct
 * waiter), in thread order.  Their objects come as runs: neighbouring
 * threads most often wait on the same object (a pool of workers on one
 * channel), and a run is one entry to sort however many threads it
 * holds.  *NWAIT, *NRUN: how many of each. */
static void collect(gto_snapshot *s, struct gto_blockers *bl, struct waiter *w,
                    size_t *nwait, struct run *runs, size_t *nrun)
{
    size_t n = s->nthreads, nw = 0, nr = 0;
    bl->running = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct gto_thread *th = &s->threads[i];
        /* The fields read lie in two cache lines of a 470-byte record:
         * asked for a few records ahead, they are there when needed. */
        if (i + PREFETCH_AHEAD < n) {
            __builtin_prefetch(&th[PREFETCH_AHEAD].state);
            __builtin_prefetch(&th[PREFETCH_AHEAD].in_flux);
        }
        if (!blockable(th)) {
            bl->has_block[i] = 0;
            /* count_states leaves at most one running record. */
            if (!bl->running && th->state == GTO_STATE_RUNNING && !th->in_flux)
                bl->running = th;
            continue;
        }
        bl->has_block[i] = HAS_BLOCK;
        bl->blocks[i] = (struct gto_block){.kind = th->wait_kind, .obj = th->wait_obj};
        uint64_t addr;
        int type = wait_object(th, &addr);
        if (!type && th->wait_kind != GT_WAIT_JOIN)
            continue; /* sleep, fd, poll: the record says it all */
        if (type && (!nr || runs[nr - 1].addr != addr || runs[nr - 1].type != type))
            runs[nr++] = (struct run){.addr = addr, .type = type};
        if (type) {
            runs[nr - 1].senders += th->wait_kind == GT_WAIT_CHAN_SEND;
            runs[nr - 1].receivers += th->wait_kind == GT_WAIT_CHAN_RECV;
        }
        w[nw++] = (struct waiter){(uint32_t)i, type ? (uint32_t)(nr - 1) : NONE};
    }
    *nwait = nw, *nrun = nr;
}

/* The distinct objects of the NR runs RUNS, each read once however many
 * wait on it, one per (address, type): into *OBJS (*NOBJ), and the
 * object of each run into RUN_OBJ. */
static int distinct_objects(gto_target *t, gto_snapshot *s, struct gto_blockers *bl,
                            const struct run *runs, size_t nr, uint32_t *run_obj,
                            struct object **objs_out, size_t *nobj_out, char *err)
{
    struct keyed *k = bl_array(bl, BUF_RUN_KEYS, nr * sizeof(*k));
    struct object *objs = bl_array(bl, BUF_OBJS, nr * sizeof(*objs));
    if (!k || !objs)
        return -2;
    int sorted = 1;
    for (size_t r = 0; r < nr; r++) {
        k[r] = (struct keyed){runs[r].addr, r << 1 | (size_t)(runs[r].type == OBJ_CHAN)};
        sorted &= !r || k[r - 1].key < k[r].key ||
                  (k[r - 1].key == k[r].key && (k[r - 1].i & 1) <= (k[r].i & 1));
    }
    /* By address, then type. */
    if (!sorted && radix_sort(bl, k, nr, 1) < 0)
        return -2;
    size_t nobj = 0;
    for (size_t q = 0; q < nr; q++) {
        const struct run *run = &runs[k[q].i >> 1];
        if (!nobj || objs[nobj - 1].addr != run->addr || objs[nobj - 1].type != run->type)
            objs[nobj++] = (struct object){.addr = run->addr, .type = run->type};
        objs[nobj - 1].senders += run->senders;
        objs[nobj - 1].receivers += run->receivers;
        run_obj[k[q].i >> 1] = (uint32_t)(nobj - 1);
    }
    if (read_objects(t, s, bl, objs, nobj, err) < 0)
        return -1;
    /* Owners: a thread of the snapshot only when one's record address. */
    size_t owned = 0;
    for (size_t o = 0; o < nobj; o++)
        owned += objs[o].type == OBJ_MUTEX && objs[o].owner;
    if (owned) {
        struct thread_index ix;
        if (index_threads(s, bl, 0, owned, &ix) < 0) {
            gto__err(err, "out of memory for the owners of %zu threads", s->nthreads);
            return -1;
        }
        for (size_t o = 0; o < nobj; o++)
            if (objs[o].type == OBJ_MUTEX && objs[o].owner)
                objs[o].by = find_thread(s, &ix, objs[o].owner);
    }
    *objs_out = objs, *nobj_out = nobj;
    return 0;
}

/* Fills the blocks of the NW waiters W from their objects (OBJS, the
 * object of run r at RUN_OBJ[r]) and the joined threads, and lists the
 * threads with a wait-for edge, in thread order, into EDGES (*NEDGE;
 * POS: each one's index there). */
static int fill_blocks(gto_snapshot *s, struct gto_blockers *bl, const struct waiter *w,
                       size_t nw, const struct object *objs, const uint32_t *run_obj,
                       uint32_t *edges, uint32_t *pos, size_t *nedge, char *err)
{
    size_t joins = 0, ne = 0;
    struct thread_index by_id = {NULL, 1};
    for (size_t p = 0; p < nw; p++)
        joins += w[p].run == NONE && bl->blocks[w[p].thread].obj;
    if (joins && index_threads(s, bl, 1, joins, &by_id) < 0) {
        gto__err(err, "out of memory for the owners of %zu threads", s->nthreads);
        return -1;
    }
    /* What a record says is in its block already (kind, obj): the
     * thread array, ten times bigger, is not read again. */
    for (size_t p = 0; p < nw; p++) {
        uint32_t i = w[p].thread;
        struct gto_block *b = &bl->blocks[i];
        if (w[p].run == NONE) { /* a join */
            b->by = b->obj ? find_thread(s, &by_id, b->obj) : NULL;
            b->by_record = b->by ? b->by->addr : 0;
            b->edge = b->by != NULL;
        } else {
            const struct object *o = &objs[run_obj[w[p].run]];
            b->obj_status = o->status;
            if (o->type == OBJ_MUTEX) {
                if (b->kind == GT_WAIT_COND)
                    b->mutex = o->addr; /* its wait_arg (wait_object) */
                if (o->status == GTO_OBJ_OK && o->owner) {
                    b->by_record = o->owner;
                    b->by = o->by;
                    b->held_since = o->held_since;
                    b->edge = b->by && b->kind == GT_WAIT_MUTEX;
                }
            } else {
                b->chan_len = o->len;
                b->chan_cap = o->cap;
                b->chan_closed = o->closed;
                b->peers = b->kind == GT_WAIT_CHAN_SEND ? o->receivers : o->senders;
            }
        }
        if (b->edge && b->by) {
            bl->has_block[i] |= HAS_EDGE;
            pos[i] = (uint32_t)ne;
            edges[ne++] = i;
        }
    }
    *nedge = ne;
    return 0;
}

/* Reads the members of every candidate cycle again, in one batch, and
 * clears keep[c] of candidate AT[c] unless each member is as the
 * snapshot saw it (see the top of the file): its record's seq even and
 * unchanged (the runtime changes it with every write of the record, so
 * the member is still parked in the same wait since the same time), and
 * its mutex still held by the member it waits on.  CYC: the members,
 * back to back. */
struct cycle_at {
    uint64_t id;             /* its first member's */
    size_t first, n;         /* in the members array */
};

static int confirm_cycles(gto_target *t, const gto_snapshot *s, struct gto_blockers *bl,
                          const uint32_t *cyc, size_t used, const struct cycle_at *at,
                          size_t nat, uint8_t *keep, char *err)
{
    const struct gto_obj_layout *ol = &s->ol;
    struct gto_range *r = bl_array(bl, BUF_CONF_RANGES, (2 * used + 1) * sizeof(*r));
    uint8_t *ok = bl_array(bl, BUF_CONF_OK, 2 * used + 1);
    uint64_t *val = bl_array(bl, BUF_CONF_VAL, (2 * used + 1) * sizeof(*val));
    if (!r || !ok || !val) {
        gto__err(err, "out of memory for the %zu threads of deadlock cycles", used);
        return -1;
    }
    memset(val, 0, (2 * used + 1) * sizeof(*val)); /* a seq fills 4 bytes */
    /* Member k's seq is range 2k, its mutex's owner range 2k + 1 (none
     * for a join). */
    for (size_t k = 0; k < used; k++) {
        const struct gto_thread *th = &s->threads[cyc[k]];
        r[2 * k] = (struct gto_range){th->addr + ol->thr_seq.off, 4, &val[2 * k]};
        int mutex = th->wait_kind == GT_WAIT_MUTEX &&
                    th->wait_obj <= UINT64_MAX - GTO_OBJECT_MAX;
        r[2 * k + 1] = (struct gto_range){mutex ? th->wait_obj + ol->mutex_owner.off : 0,
                                          mutex ? 8 : 0, &val[2 * k + 1]};
    }
    if (read_merged(t, bl, r, 2 * used, ok) < 0) {
        gto__err(err, "%s exited while being read", t->name);
        return -1;
    }
    for (size_t c = 0; c < nat; c++) {
        keep[c] = 1;
        for (size_t q = 0; q < at[c].n && keep[c]; q++) {
            size_t k = at[c].first + q;
            const struct gto_thread *th = &s->threads[cyc[k]];
            uint32_t seq = (uint32_t)val[2 * k];
            keep[c] = ok[2 * k] && !(seq & 1) && seq == th->seq;
            if (keep[c] && th->wait_kind == GT_WAIT_MUTEX)
                keep[c] = ok[2 * k + 1] && val[2 * k + 1] == bl->blocks[cyc[k]].by_record;
        }
    }
    return 0;
}

static int cmp_cycle(const void *a, const void *b)
{
    const struct cycle_at *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The edge after edge E (EDGES[e] waits on a thread that has an edge
 * too), NONE none. */
static uint32_t next_edge(const gto_snapshot *s, const struct gto_blockers *bl,
                          const uint32_t *edges, const uint32_t *pos, size_t e)
{
    size_t to = (size_t)(bl->blocks[edges[e]].by - s->threads);
    return bl->has_block[to] & HAS_EDGE ? pos[to] : NONE;
}

/* Finds the cycles of the wait-for graph: only threads with an edge can
 * be in one, so the walk is over the NE edges (EDGES, in thread order),
 * each visited once, marked with the start of the walk that reached it;
 * a walk that meets its own mark has closed a cycle.  A live target's are
 * confirmed (see confirm_cycles). */
static int find_cycles(gto_target *t, gto_snapshot *s, struct gto_blockers *bl,
                       const uint32_t *edges, const uint32_t *pos, size_t ne, char *err)
{
    uint32_t *mark = bl_array(bl, BUF_MARK, ne * sizeof(*mark));
    uint32_t *next = bl_array(bl, BUF_NEXT, ne * sizeof(*next));
    uint32_t *cyc = bl_array(bl, BUF_CYC, ne * sizeof(*cyc));
    uint32_t *tmp = bl_array(bl, BUF_CYC_TMP, ne * sizeof(*tmp));
    /* Each cycle has a member of its own. */
    struct cycle_at *at = bl_array(bl, BUF_CYC_AT, ne * sizeof(*at));
    uint8_t *keep = bl_array(bl, BUF_KEEP, ne);
    size_t nat = 0, used = 0;
    if (!mark || !next || !cyc || !tmp || !at || !keep)
        goto oom;
    for (size_t e = 0; e < ne; e++) {
        mark[e] = 0;
        next[e] = next_edge(s, bl, edges, pos, e);
    }
    for (size_t e = 0; e < ne; e++) {
        if (mark[e])
            continue;
        uint32_t stamp = (uint32_t)e + 1, j = (uint32_t)e;
        while (j != NONE && !mark[j]) {
            mark[j] = stamp;
            j = next[j];
        }
        if (j == NONE || mark[j] != stamp)
            continue;
        /* A cycle through j: its members in wait order, the lowest id
         * first. */
        size_t first = used, lo = used;
        uint32_t k = j;
        do {
            cyc[used] = edges[k];
            if (s->threads[edges[k]].id < s->threads[cyc[lo]].id)
                lo = used;
            used++;
            k = next[k];
        } while (k != j);
        size_t len = used - first;
        for (size_t q = 0; q < len; q++)
            tmp[q] = cyc[first + (lo - first + q) % len];
        memcpy(cyc + first, tmp, len * sizeof(*tmp));
        at[nat++] = (struct cycle_at){s->threads[cyc[first]].id, first, len};
    }
    memset(keep, 1, nat);
    if (nat && t->be->memory_moves &&
        confirm_cycles(t, s, bl, cyc, used, at, nat, keep, err) < 0)
        return -1;
    size_t kept = 0;
    for (size_t c = 0; c < nat; c++)
        if (keep[c])
            at[kept++] = at[c];
    nat = kept;
    if (nat > 1)
        qsort(at, nat, sizeof(*at), cmp_cycle);
    bl->cycles = bl_array(bl, BUF_CYCLES, nat * sizeof(*bl->cycles));
    bl->members = bl_array(bl, BUF_MEMBERS, used * sizeof(*bl->members));
    if (!bl->cycles || !bl->members)
        goto oom;
    size_t at_member = 0;
    for (size_t c = 0; c < nat; c++) {
        bl->cycles[c] = (struct gto_cycle){at[c].n, bl->members + at_member};
        for (size_t q = 0; q < at[c].n; q++) {
            uint32_t m = cyc[at[c].first + q];
            bl->members[at_member++] = &s->threads[m];
            bl->blocks[m].cycle = c + 1;
        }
    }
    bl->ncycles = nat;
    bl->in_cycles = at_member;
    return 0;
oom:
    gto__err(err, "out of memory for the wait-for graph of %zu threads", s->nthreads);
    return -1;
}

/* Per location, the threads its waiters wait on through an edge, most
 * waiters first (ties: lowest id). */
static int cmp_entry(const void *a, const void *b)
{
    const struct gto_loc_blocker *x = a, *y = b;
    if (x->waiters != y->waiters)
        return x->waiters > y->waiters ? -1 : 1;
    return x->by->id < y->by->id ? -1 : x->by->id > y->by->id;
}

static int location_blockers(gto_snapshot *s, struct gto_blockers *bl,
                             const uint32_t *edges, size_t ne, char *err)
{
    size_t np = 0;
    struct keyed *pairs = bl_array(bl, BUF_PAIRS, ne * sizeof(*pairs));
    bl->nloc_first = s->nlocs + 2;
    bl->loc_first = bl_array(bl, BUF_LOC_FIRST, bl->nloc_first * sizeof(*bl->loc_first));
    if (!pairs || !bl->loc_first)
        goto oom;
    memset(bl->loc_first, 0, bl->nloc_first * sizeof(*bl->loc_first));
    for (size_t e = 0; e < ne; e++) {
        uint32_t i = edges[e], loc = s->threads[i].location;
        uint32_t to = (uint32_t)(bl->blocks[i].by - s->threads);
        if (loc && loc <= s->nlocs)
            pairs[np++] = (struct keyed){(uint64_t)loc << 32 | to, 0};
    }
    if (radix_sort(bl, pairs, np, 0) < 0)
        goto oom;
    bl->entries = bl_array(bl, BUF_ENTRIES, np * sizeof(*bl->entries));
    if (!bl->entries)
        goto oom;
    size_t nent = 0;
    for (size_t i = 0; i < np;) {
        size_t j = i;
        while (j < np && pairs[j].key == pairs[i].key)
            j++;
        uint32_t loc = (uint32_t)(pairs[i].key >> 32);
        bl->entries[nent++] = (struct gto_loc_blocker){&s->threads[(uint32_t)pairs[i].key], j - i};
        bl->loc_first[loc + 1]++;
        i = j;
    }
    for (size_t l = 1; l < bl->nloc_first; l++)
        bl->loc_first[l] += bl->loc_first[l - 1];
    /* Most waiters first, then lowest id: each location's entries are
     * in slot order, often that order already (one waiter each, ids
     * given out in slot order), which a pass tells. */
    for (size_t l = 1; l + 1 < bl->nloc_first; l++) {
        struct gto_loc_blocker *e = bl->entries + bl->loc_first[l];
        size_t ne_l = bl->loc_first[l + 1] - bl->loc_first[l], k = 1;
        while (k < ne_l && cmp_entry(&e[k - 1], &e[k]) <= 0)
            k++;
        if (k < ne_l)
            qsort(e, ne_l, sizeof(*e), cmp_entry);
    }
    return 0;
oom:
    bl->nloc_first = 0;
    gto__err(err, "out of memory for the blockers of %zu threads", s->nthreads);
    return -1;
}

int gto__blockers(gto_target *t, gto_snapshot *s, char *err)
{
    size_t n = s->nthreads;
    /* A freed snapshot's analysis, its arrays' pages there already. */
    struct gto_blockers *bl = t->spare_blockers;
    t->spare_blockers = NULL;
    if (!bl && !(bl = calloc(1, sizeof(*bl))))
        goto oom;
    s->bl = bl;
    bl->cycles = NULL, bl->ncycles = 0, bl->members = NULL, bl->in_cycles = 0;
    bl->loc_first = NULL, bl->nloc_first = 0, bl->entries = NULL, bl->running = NULL;
    bl->order_known = 0;
    bl->blocks = bl_array(bl, BUF_BLOCKS, n * sizeof(*bl->blocks));
    bl->has_block = bl_array(bl, BUF_HAS, n);
    uint32_t *pos = bl_array(bl, BUF_POS, n * sizeof(*pos));
    struct waiter *w = bl_array(bl, BUF_WAITERS, n * sizeof(*w));
    struct run *runs = bl_array(bl, BUF_RUNS, n * sizeof(*runs));
    if (!bl->blocks || !bl->has_block || !pos || !w || !runs) {
        bl->has_block = NULL;
        goto oom;
    }
    size_t nw, nr, nobj = 0, ne;
    struct object *objs = NULL;
    collect(s, bl, w, &nw, runs, &nr);
    uint32_t *run_obj = bl_array(bl, BUF_RUN_OBJ, nr * sizeof(*run_obj));
    uint32_t *edges = bl_array(bl, BUF_EDGES, nw * sizeof(*edges));
    if (!run_obj || !edges)
        goto oom;
    int rc = nr ? distinct_objects(t, s, bl, runs, nr, run_obj, &objs, &nobj, err) : 0;
    if (rc == -2)
        goto oom;
    if (rc < 0 || fill_blocks(s, bl, w, nw, objs, run_obj, edges, pos, &ne, err) < 0 ||
        find_cycles(t, s, bl, edges, pos, ne, err) < 0 ||
        location_blockers(s, bl, edges, ne, err) < 0)
        return -1;
    return 0;
oom:
    gto__err(err, "out of memory for the wait-for graph of %zu threads", n);
    return -1;
}

/* ---- the API ------------------------------------------------------------ */

const struct gto_block *gto_block_of(const gto_snapshot *s, const struct gto_thread *th)
{
    if (!s->bl || th < s->threads || th >= s->threads + s->nthreads)
        return NULL;
    size_t i = (size_t)(th - s->threads);
    return s->bl->has_block[i] ? &s->bl->blocks[i] : NULL;
}

size_t gto_cycle_count(const gto_snapshot *s)
{
    return s->bl ? s->bl->ncycles : 0;
}

const struct gto_cycle *gto_cycle_at(const gto_snapshot *s, size_t i)
{
    return s->bl && i < s->bl->ncycles ? &s->bl->cycles[i] : NULL;
}

uint64_t gto_cycle_threads(const gto_snapshot *s)
{
    return s->bl ? s->bl->in_cycles : 0;
}

size_t gto_location_blockers(const gto_snapshot *s, uint32_t loc,
                             const struct gto_loc_blocker **out)
{
    *out = NULL;
    if (!s->bl || !loc || (size_t)loc + 1 >= s->bl->nloc_first)
        return 0;
    size_t a = s->bl->loc_first[loc], b = s->bl->loc_first[loc + 1];
    *out = b > a ? s->bl->entries + a : NULL;
    return b - a;
}

int gto_hog(const gto_snapshot *s, struct gto_hog *out)
{
    const struct gto_counters *c = &s->c;
    memset(out, 0, sizeof(*out));
    /* The running record (count_states leaves at most one): its run
     * start is the header's only when the header names it current; a
     * record caught running while the header had moved on has run an
     * unknown time. */
    if (s->bl)
        out->th = s->bl->running; /* found so by collect */
    for (size_t i = 0; i < s->nthreads && !out->th && !s->bl; i++)
        if (s->threads[i].state == GTO_STATE_RUNNING && !s->threads[i].in_flux)
            out->th = &s->threads[i];
    /* Without records the header alone says which thread runs, and since
     * when: the same figures, no record to point to. */
    if (!out->th && !(s->no_threads && c->current))
        return 0;
    int same = c->current && (!out->th || out->th->addr == c->current);
    out->threshold_ns = c->watchdog_ns ? c->watchdog_ns : DEFAULT_HOG_NS;
    if (same && c->run_start) {
        out->run_known = 1;
        out->run_ns = c->now > c->run_start ? c->now - c->run_start : 0;
        out->run_exact = c->now_exact;
    } else if (same && s->wd_since && s->wd_switches == s->run_switches) {
        /* Began with a hand-off; the watchdog has seen it run since. */
        out->run_known = 1;
        out->run_ns = c->now > s->wd_since ? c->now - s->wd_since : 0;
        out->run_exact = 0;
    }
    out->hog = out->run_known && out->run_ns >= out->threshold_ns;
    return 1;
}

/* ---- texts -------------------------------------------------------------- */

/* Appends to a buffer, never past its end. */
struct text {
    char *buf;
    size_t len, used;
};

static void put(struct text *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *x, const char *fmt, ...)
{
    if (x->used + 1 >= x->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(x->buf + x->used, x->len - x->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        x->used = x->used + (size_t)n < x->len ? x->used + (size_t)n : x->len - 1;
}

/* "(parked, sleep at truth_holder (blockers.c:52))": a thread's state,
 * and for a parked one what it waits for where. */
static void put_state(struct text *x, gto_target *t, const gto_snapshot *s,
                      const struct gto_thread *th)
{
    put(x, "(%s", gto_state_name(th->state));
    if (th->state == GTO_STATE_PARKED) {
        put(x, ", %s", gto_wait_kind_name(th->wait_kind));
        const struct gto_location *loc = gto_location_by_index(s, th->location);
        if (loc && loc->depth) {
            char where[GTO_LABEL_MAX];
            put(x, " at %s", gto_pc_label(t, loc->pcs[0], 1, where, sizeof(where)));
        }
    }
    put(x, ")");
}

/* The mutex part: "mutex 0x... held by thread 2 "holder" (...) for 3.2s". */
static void put_mutex(struct text *x, gto_target *t, const gto_snapshot *s,
                      const struct gto_block *b, uint64_t mutex)
{
    put(x, "mutex %#llx", (unsigned long long)mutex);
    if (b->obj_status == GTO_OBJ_UNPUBLISHED)
        return;
    if (b->obj_status == GTO_OBJ_UNREADABLE) {
        put(x, " (unreadable)");
        return;
    }
    if (b->obj_status == GTO_OBJ_BAD_MAGIC) {
        put(x, " (not a mutex)");
        return;
    }
    if (!b->by_record) {
        put(x, " unlocked");
        return;
    }
    if (!b->by) {
        put(x, " held by an unknown thread (record %#llx)", (unsigned long long)b->by_record);
        return;
    }
    put(x, " held by thread %llu \"%s\" ", (unsigned long long)b->by->id, b->by->name);
    put_state(x, t, s, b->by);
    const struct gto_counters *c = &s->c;
    if (b->held_since && b->held_since <= c->now) {
        char age[40];
        put(x, " for %s", gto_fmt_age(c->now - b->held_since, c->now_exact, age, sizeof(age)));
    }
}

const char *gto_block_describe(gto_target *t, const gto_snapshot *s,
                               const struct gto_thread *th, char *buf, size_t len)
{
    if (th->state != GTO_STATE_PARKED || !len)
        return NULL;
    const struct gto_block *b = gto_block_of(s, th);
    struct text x = {buf, len, 0};
    buf[0] = 0;
    /* Without the objects (no GTO_SNAP_BLOCKERS, a torn record, a layout
     * the runtime does not publish): the wait alone. */
    if (!b || (b->obj_status == GTO_OBJ_UNPUBLISHED && th->wait_kind != GT_WAIT_JOIN &&
               th->wait_kind != GT_WAIT_COND))
        return gto_wait_describe(th, s->c.now, buf, len);
    switch (th->wait_kind) {
    case GT_WAIT_MUTEX:
        put_mutex(&x, t, s, b, th->wait_obj);
        break;
    case GT_WAIT_COND:
        if (!th->wait_arg)
            return gto_wait_describe(th, s->c.now, buf, len);
        put(&x, "cond %#llx then ", (unsigned long long)th->wait_obj);
        put_mutex(&x, t, s, b, th->wait_arg);
        break;
    case GT_WAIT_JOIN:
        put(&x, "join thread %llu ", (unsigned long long)th->wait_obj);
        if (b->by)
            put_state(&x, t, s, b->by);
        else
            put(&x, "(no such thread)");
        break;
    case GT_WAIT_CHAN_SEND:
    case GT_WAIT_CHAN_RECV: {
        int send = th->wait_kind == GT_WAIT_CHAN_SEND;
        put(&x, "%s %#llx ", gto_wait_kind_name(th->wait_kind),
            (unsigned long long)th->wait_obj);
        if (b->obj_status == GTO_OBJ_UNREADABLE) {
            put(&x, "(unreadable)");
            break;
        }
        if (b->obj_status == GTO_OBJ_BAD_MAGIC) {
            put(&x, "(not a channel)");
            break;
        }
        put(&x, "(%s%llu/%llu queued, %llu %s%s waiting)", b->chan_closed ? "closed, " : "",
            (unsigned long long)b->chan_len, (unsigned long long)b->chan_cap,
            (unsigned long long)b->peers, send ? "receiver" : "sender",
            b->peers == 1 ? "" : "s");
        break;
    }
    default:
        return gto_wait_describe(th, s->c.now, buf, len);
    }
    return buf;
}

const char *gto_hog_describe(const gto_snapshot *s, const struct gto_hog *h,
                             char *buf, size_t len)
{
    (void)s;
    char d[40];
    if (!h->th) {
        snprintf(buf, len, "no thread runs");
        return buf;
    }
    if (!h->run_known)
        snprintf(buf, len, "thread %llu \"%s\" has run an unknown time (since a "
                 "hand-off) without yielding", (unsigned long long)h->th->id, h->th->name);
    else
        snprintf(buf, len, "thread %llu \"%s\" has run %s without yielding",
                 (unsigned long long)h->th->id, h->th->name,
                 gto_fmt_age(h->run_ns, h->run_exact, d, sizeof(d)));
    return buf;
}
