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
 * found in one pass over the threads, each visited once (iteratively: a
 * chain of 100K threads is no recursion).  A live target's threads were
 * copied a chunk at a time, not at one instant, so a cycle is confirmed by
 * reading its members' seq words and mutexes once more, in one batch:
 * every member still parked in the same wait since the same time (its
 * record's seq unchanged) and each mutex still held by the same member.  A parked thread cannot
 * release a mutex, so such a cycle existed at one instant and exists
 * still: a deadlock, never a torn read.
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
#define DEFAULT_HOG_NS 100000000ull /* 100 ms without a watchdog threshold */

enum obj_type { OBJ_MUTEX = 1, OBJ_CHAN = 2 };

/* One object some parked thread waits on, as read. */
struct object {
    uint64_t addr;
    int type;                /* enum obj_type */
    int status;              /* enum gto_obj_status */
    uint64_t owner, held_since;       /* mutex */
    uint64_t cap, len;                /* chan */
    int closed;
    uint64_t senders, receivers;      /* chan: parked threads of the snapshot */
};

struct gto_blockers {
    struct gto_block *blocks;         /* one per thread of the snapshot */
    uint8_t *has_block;               /* whether blocks[i] is one */
    struct gto_cycle *cycles;
    size_t ncycles;
    const struct gto_thread **members; /* every cycle's, back to back */
    uint64_t in_cycles;
    size_t *loc_first;                /* location L's blockers: entries
                                       * [loc_first[L], loc_first[L + 1]) */
    size_t nloc_first;
    struct gto_loc_blocker *entries;
};

void gto__blockers_free(struct gto_blockers *b)
{
    if (!b)
        return;
    free(b->blocks);
    free(b->has_block);
    free(b->cycles);
    free(b->members);
    free(b->loc_first);
    free(b->entries);
    free(b);
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
 * every key shares (the high bytes of addresses in one region).  At 100K
 * objects it takes a few milliseconds where qsort took tens.  -1 when out
 * of memory (A untouched). */
static int radix_sort(struct keyed *a, size_t n, int lowbit)
{
    if (n < 2)
        return 0;
    struct keyed *tmp = malloc(n * sizeof(*tmp)), *src = a, *dst = tmp;
    if (!tmp)
        return -1;
    uint64_t all_or = 0, all_and = ~0ull;
    for (size_t i = 0; i < n; i++)
        all_or |= a[i].key, all_and &= a[i].key;
    for (int pass = lowbit ? -1 : 0; pass < 8; pass++) {
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
    free(tmp);
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
static int read_merged(gto_target *t, const struct gto_range *r, size_t n, uint8_t *ok)
{
    if (n < 2)
        return n ? t->be->read_many(t, r, n, ok) : 0;
    size_t maxm = MERGE_BUF / 64 + 1;
    struct keyed *ord = malloc(n * sizeof(*ord));
    struct gto_range *m = malloc(maxm * sizeof(*m));
    size_t *from = malloc((maxm + 1) * sizeof(*from));
    uint8_t *mok = malloc(maxm);
    /* The snapshot's record buffer is free by now, and its pages are
     * there already: a fresh 4 MiB would be a thousand page faults. */
    struct gto_scratch *sc = &t->scratch[GTO_SCRATCH_RECS];
    uint8_t *own = sc->cap >= MERGE_BUF ? NULL : malloc(MERGE_BUF);
    uint8_t *big = own ? own : sc->p;
    int rc = -1;
    if (!ord || !m || !from || !mok || !big) {
        /* Out of memory: the ranges as they are. */
        rc = t->be->read_many(t, r, n, ok);
        goto done;
    }
    size_t nord = 0;
    for (size_t i = 0; i < n; i++) {
        ok[i] = r[i].len == 0;
        if (r[i].len && r[i].addr <= UINT64_MAX - r[i].len)
            ord[nord++] = (struct keyed){r[i].addr, i};
    }
    n = nord;
    if (radix_sort(ord, n, 0) < 0) {
        rc = t->be->read_many(t, r, n, ok);
        goto done;
    }
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
                goto done;
            nm = used = 0;
        }
        m[nm] = (struct gto_range){lo, (size_t)(hi - lo), big + used};
        from[nm++] = i;
        used += (size_t)(hi - lo);
        i = j;
    }
    from[nm] = n;
    if (nm && flush_merged(t, r, ok, ord, m, from, nm, mok) < 0)
        goto done;
    rc = 0;
done:
    free(ord), free(m), free(from), free(mok), free(own);
    return rc;
}

/* Reads every object of OBJS (N, sorted) in one batch and decodes it. */
static int read_objects(gto_target *t, const gto_snapshot *s, struct object *objs,
                        size_t n, char *err)
{
    const struct gto_obj_layout *ol = &s->ol;
    struct gto_fld mf[] = {ol->mutex_owner, ol->mutex_magic, ol->mutex_held_since};
    struct gto_fld cf[] = {ol->chan_magic, ol->chan_cap, ol->chan_len, ol->chan_closed};
    size_t mlen = ol->mutex_size ? span(mf, 3) : 0;
    size_t clen = ol->chan_size ? span(cf, 4) : 0;
    size_t total = 0, nr = 0;
    for (size_t i = 0; i < n; i++)
        total += objs[i].type == OBJ_MUTEX ? mlen : clen;
    uint8_t *buf = malloc(total ? total : 1);
    struct gto_range *r = malloc((n ? n : 1) * sizeof(*r));
    size_t *at = malloc((n ? n : 1) * sizeof(*at));
    uint8_t *ok = malloc(n ? n : 1);
    if (!buf || !r || !at || !ok) {
        free(buf), free(r), free(at), free(ok);
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
        r[nr] = (struct gto_range){o->addr, len, buf + off};
        at[i] = nr++;
        off += len;
    }
    if (read_merged(t, r, nr, ok) < 0) {
        free(buf), free(r), free(at), free(ok);
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
    free(buf), free(r), free(at), free(ok);
    return 0;
}

/* The snapshot's threads by a key (record address, id), sorted, for a
 * binary search: threads come in slot order, which is address order
 * within a chunk and usually across chunks too (and id order as long as
 * no slot was reused), so the array is most often sorted already and
 * costs one pass. */
static struct keyed *index_threads(const gto_snapshot *s, int by_id)
{
    struct keyed *k = malloc((s->nthreads ? s->nthreads : 1) * sizeof(*k));
    if (!k)
        return NULL;
    int sorted = 1;
    for (size_t i = 0; i < s->nthreads; i++) {
        k[i] = (struct keyed){by_id ? s->threads[i].id : s->threads[i].addr, i};
        sorted &= !i || k[i - 1].key <= k[i].key;
    }
    if (!sorted && radix_sort(k, s->nthreads, 0) < 0) {
        free(k);
        return NULL;
    }
    return k;
}

/* The thread whose key is KEY, NULL none. */
static const struct gto_thread *find_thread(const gto_snapshot *s,
                                            const struct keyed *k, uint64_t key)
{
    size_t lo = 0, hi = s->nthreads;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (k[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->nthreads && k[lo].key == key ? &s->threads[k[lo].i] : NULL;
}

/* Fills every parked thread's block from the objects read.  OBJ_OF[i]:
 * thread i's object in OBJS, NONE none.  An owner is a thread of the
 * snapshot only when it is exactly that thread's record address. */
static int fill_blocks(gto_snapshot *s, struct gto_blockers *bl,
                       const struct object *objs, const uint32_t *obj_of, char *err)
{
    struct keyed *by_addr = index_threads(s, 0), *by_id = NULL;
    int joins = 0;
    for (size_t i = 0; i < s->nthreads && !joins; i++)
        joins = blockable(&s->threads[i]) && s->threads[i].wait_kind == GT_WAIT_JOIN;
    if (!by_addr || (joins && !(by_id = index_threads(s, 1)))) {
        free(by_addr);
        gto__err(err, "out of memory for the owners of %zu threads", s->nthreads);
        return -1;
    }
    for (size_t i = 0; i < s->nthreads; i++) {
        const struct gto_thread *th = &s->threads[i];
        struct gto_block *b = &bl->blocks[i];
        if (!blockable(th))
            continue;
        bl->has_block[i] = 1;
        b->kind = th->wait_kind;
        b->obj = th->wait_obj;
        if (th->wait_kind == GT_WAIT_JOIN) {
            b->by = th->wait_obj ? find_thread(s, by_id, th->wait_obj) : NULL;
            b->by_record = b->by ? b->by->addr : 0;
            b->edge = b->by != NULL;
            continue;
        }
        if (obj_of[i] == NONE)
            continue;
        const struct object *o = &objs[obj_of[i]];
        b->obj_status = o->status;
        if (o->type == OBJ_MUTEX) {
            if (th->wait_kind == GT_WAIT_COND)
                b->mutex = th->wait_arg;
            if (o->status != GTO_OBJ_OK || !o->owner)
                continue;
            b->by_record = o->owner;
            b->by = find_thread(s, by_addr, o->owner);
            b->held_since = o->held_since;
            b->edge = b->by && th->wait_kind == GT_WAIT_MUTEX;
        } else {
            b->chan_len = o->len;
            b->chan_cap = o->cap;
            b->chan_closed = o->closed;
            b->peers = th->wait_kind == GT_WAIT_CHAN_SEND ? o->receivers : o->senders;
        }
    }
    free(by_addr);
    free(by_id);
    return 0;
}

/* The thread that thread I waits on through an edge, NONE none. */
static uint32_t next_of(const gto_snapshot *s, const struct gto_blockers *bl, size_t i)
{
    const struct gto_block *b = &bl->blocks[i];
    return bl->has_block[i] && b->edge && b->by ? (uint32_t)(b->by - s->threads) : NONE;
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

static int confirm_cycles(gto_target *t, const gto_snapshot *s,
                          const struct gto_blockers *bl, const uint32_t *cyc,
                          size_t used, const struct cycle_at *at, size_t nat,
                          uint8_t *keep, char *err)
{
    const struct gto_obj_layout *ol = &s->ol;
    struct gto_range *r = malloc((2 * used + 1) * sizeof(*r));
    uint8_t *ok = malloc(2 * used + 1);
    uint64_t *val = calloc(2 * used + 1, sizeof(*val));
    if (!r || !ok || !val) {
        free(r), free(ok), free(val);
        gto__err(err, "out of memory for the %zu threads of deadlock cycles", used);
        return -1;
    }
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
    if (read_merged(t, r, 2 * used, ok) < 0) {
        free(r), free(ok), free(val);
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
    free(r), free(ok), free(val);
    return 0;
}

static int cmp_cycle(const void *a, const void *b)
{
    const struct cycle_at *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Finds the cycles of the wait-for graph: each thread is visited once,
 * marked with the start of the walk that reached it; a walk that meets
 * its own mark has closed a cycle.  A live target's are confirmed (see
 * confirm_cycles). */
static int find_cycles(gto_target *t, gto_snapshot *s, struct gto_blockers *bl, char *err)
{
    size_t n = s->nthreads;
    uint32_t *mark = calloc(n ? n : 1, sizeof(*mark));
    uint32_t *cyc = malloc((n ? n : 1) * sizeof(*cyc));
    uint32_t *tmp = malloc((n ? n : 1) * sizeof(*tmp));
    struct cycle_at *at = NULL;
    uint8_t *keep = NULL;
    size_t nat = 0, capat = 0, used = 0;
    if (!mark || !cyc || !tmp)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        if (mark[i])
            continue;
        uint32_t stamp = (uint32_t)i + 1, j = (uint32_t)i;
        while (j != NONE && !mark[j]) {
            mark[j] = stamp;
            j = next_of(s, bl, j);
        }
        if (j == NONE || mark[j] != stamp)
            continue;
        /* A cycle through j: its members in wait order, the lowest id
         * first. */
        size_t first = used, lo = used;
        uint32_t k = j;
        do {
            cyc[used] = k;
            if (s->threads[k].id < s->threads[cyc[lo]].id)
                lo = used;
            used++;
            k = next_of(s, bl, k);
        } while (k != j);
        size_t len = used - first;
        for (size_t q = 0; q < len; q++)
            tmp[q] = cyc[first + (lo - first + q) % len];
        memcpy(cyc + first, tmp, len * sizeof(*tmp));
        if (nat == capat) {
            capat = capat ? capat * 2 : 16;
            struct cycle_at *g = realloc(at, capat * sizeof(*g));
            if (!g)
                goto oom;
            at = g;
        }
        at[nat++] = (struct cycle_at){s->threads[cyc[first]].id, first, len};
    }
    keep = malloc(nat ? nat : 1);
    if (!keep)
        goto oom;
    memset(keep, 1, nat ? nat : 1);
    if (nat && t->be->memory_moves &&
        confirm_cycles(t, s, bl, cyc, used, at, nat, keep, err) < 0)
        goto fail;
    size_t kept = 0;
    for (size_t c = 0; c < nat; c++)
        if (keep[c])
            at[kept++] = at[c];
    nat = kept;
    if (nat > 1)
        qsort(at, nat, sizeof(*at), cmp_cycle);
    bl->cycles = calloc(nat ? nat : 1, sizeof(*bl->cycles));
    bl->members = malloc((used ? used : 1) * sizeof(*bl->members));
    if (!bl->cycles || !bl->members)
        goto oom;
    size_t pos = 0;
    for (size_t c = 0; c < nat; c++) {
        bl->cycles[c].n = at[c].n;
        bl->cycles[c].threads = bl->members + pos;
        for (size_t q = 0; q < at[c].n; q++) {
            uint32_t m = cyc[at[c].first + q];
            bl->members[pos++] = &s->threads[m];
            bl->blocks[m].cycle = c + 1;
        }
    }
    bl->ncycles = nat;
    bl->in_cycles = pos;
    free(mark), free(cyc), free(tmp), free(at), free(keep);
    return 0;
oom:
    gto__err(err, "out of memory for the wait-for graph of %zu threads", n);
fail:
    free(mark), free(cyc), free(tmp), free(at), free(keep);
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

static int location_blockers(gto_snapshot *s, struct gto_blockers *bl, char *err)
{
    size_t n = s->nthreads, np = 0;
    struct keyed *pairs = malloc((n ? n : 1) * sizeof(*pairs));
    bl->nloc_first = s->nlocs + 2;
    bl->loc_first = calloc(bl->nloc_first, sizeof(*bl->loc_first));
    if (!pairs || !bl->loc_first)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        uint32_t to = next_of(s, bl, i), loc = s->threads[i].location;
        if (to != NONE && loc && loc <= s->nlocs)
            pairs[np++] = (struct keyed){(uint64_t)loc << 32 | to, 0};
    }
    if (radix_sort(pairs, np, 0) < 0)
        goto oom;
    bl->entries = malloc((np ? np : 1) * sizeof(*bl->entries));
    if (!bl->entries)
        goto oom;
    size_t ne = 0;
    for (size_t i = 0; i < np;) {
        size_t j = i;
        while (j < np && pairs[j].key == pairs[i].key)
            j++;
        uint32_t loc = (uint32_t)(pairs[i].key >> 32);
        bl->entries[ne++] = (struct gto_loc_blocker){&s->threads[(uint32_t)pairs[i].key], j - i};
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
    free(pairs);
    return 0;
oom:
    free(pairs);
    gto__err(err, "out of memory for the blockers of %zu threads", n);
    return -1;
}

int gto__blockers(gto_target *t, gto_snapshot *s, char *err)
{
    size_t n = s->nthreads;
    struct gto_blockers *bl = calloc(1, sizeof(*bl));
    struct keyed *w = malloc((n ? n : 1) * sizeof(*w));
    uint32_t *obj_of = malloc((n ? n : 1) * sizeof(*obj_of));
    struct object *objs = NULL;
    if (!bl || !w || !obj_of)
        goto oom;
    s->bl = bl;
    bl->blocks = calloc(n ? n : 1, sizeof(*bl->blocks));
    gto__huge_pages(bl->blocks, n * sizeof(*bl->blocks));
    bl->has_block = calloc(n ? n : 1, 1);
    if (!bl->blocks || !bl->has_block)
        goto oom;
    /* The distinct objects, each read once however many wait on it. */
    size_t nw = 0, nobj = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t addr;
        int type;
        obj_of[i] = NONE;
        if (blockable(&s->threads[i]) && (type = wait_object(&s->threads[i], &addr)))
            w[nw++] = (struct keyed){addr, i << 1 | (size_t)(type == OBJ_CHAN)};
    }
    /* By address, then type: one object per (address, type). */
    if (radix_sort(w, nw, 1) < 0)
        goto oom;
    objs = calloc(nw ? nw : 1, sizeof(*objs));
    if (!objs)
        goto oom;
    for (size_t i = 0; i < nw; i++) {
        int type = w[i].i & 1 ? OBJ_CHAN : OBJ_MUTEX;
        size_t thread = w[i].i >> 1;
        if (!nobj || objs[nobj - 1].addr != w[i].key || objs[nobj - 1].type != type)
            objs[nobj++] = (struct object){.addr = w[i].key, .type = type};
        obj_of[thread] = (uint32_t)(nobj - 1);
        int kind = s->threads[thread].wait_kind;
        objs[nobj - 1].senders += kind == GT_WAIT_CHAN_SEND;
        objs[nobj - 1].receivers += kind == GT_WAIT_CHAN_RECV;
    }
    if (read_objects(t, s, objs, nobj, err) < 0 ||
        fill_blocks(s, bl, objs, obj_of, err) < 0 ||
        find_cycles(t, s, bl, err) < 0 || location_blockers(s, bl, err) < 0)
        goto fail;
    free(w), free(obj_of), free(objs);
    return 0;
oom:
    gto__err(err, "out of memory for the wait-for graph of %zu threads", n);
fail:
    free(w), free(obj_of), free(objs);
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
    if (!c->current)
        return 0;
    for (size_t i = 0; i < s->nthreads && !out->th; i++)
        if (s->threads[i].addr == c->current && s->threads[i].state == GTO_STATE_RUNNING &&
            !s->threads[i].in_flux)
            out->th = &s->threads[i];
    if (!out->th)
        return 0;
    out->threshold_ns = c->watchdog_ns ? c->watchdog_ns : DEFAULT_HOG_NS;
    if (c->run_start) {
        out->run_known = 1;
        out->run_ns = c->now > c->run_start ? c->now - c->run_start : 0;
        out->run_exact = c->now_exact;
    } else if (s->wd_since && s->wd_switches == s->run_switches) {
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
    if (!b || (b->obj_status == GTO_OBJ_UNPUBLISHED && th->wait_kind != GT_WAIT_JOIN))
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
