/*
 * snapshot.c - one copy of a target's registry: counters, threads,
 * locations, edges, and each thread's live stack, unwound.
 *
 * Reads are in bulk, a batch of chunks at a time: one read per slab
 * chunk, then a second copy of the same chunks to check the first; the
 * batch's threads are then unwound through windows of their stacks
 * (WINDOW, below; backend read_many: 1024 ranges per process_vm_readv),
 * and the batch's records read a third time to check the stacks.  The
 * registry's retry protocol (gt/registry.h, CONSISTENCY) is applied per
 * record: a record whose seq is odd, or differs between the copy and the
 * check, is read again on its own, up to RETRIES times, and then reported
 * in_flux.
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
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define RETRIES 4
#define MAX_FIELDS 64
#define MAX_RECORD (64u << 10)
#define MAX_PER_CHUNK (1u << 20)
#define MAX_CHUNKS (1u << 20)
#define MAX_STACK (1ull << 30)
/* A chunk's bytes (records per chunk times record size): the runtime's
 * are a few hundred KiB; a claim past this is damage. */
#define MAX_CHUNK_BYTES (64u << 20)
/* Live bytes of a stack the unwinders copy whole: a green thread holding
 * more than 64 MiB of frames is a damaged record, and copying a gigabyte
 * per thread would stall the reader for minutes. */
#define MAX_LIVE (64ull << 20)
/* Records a slab may count: 16M threads would need 64 GiB of stacks at a
 * page each.  Beyond that a count is damage, and reading that many zero
 * records would take minutes. */
#define MAX_SLOTS (1u << 24)
/* Threads the first thread array holds; it grows with the records read.
 * Address space, not memory, until used (malloc maps it on its own), so
 * every program up to a million threads gets its array at once, as
 * large as it needs, and a damaged count costs no more than this. */
#define FIRST_THREADS (1u << 20)
/* The bytes of a record's name read, its NUL included: the registry's
 * (struct gt_thread_rec), whose escaped text GTO_NAME_MAX holds. */
#define NAME_RAW_MAX 32
_Static_assert(4 * (NAME_RAW_MAX - 1) + 1 <= GTO_NAME_MAX,
               "an escaped name does not fit struct gto_thread's");

/* Every kind this reader knows; entries of any other kind (a newer
 * runtime's) are skipped. */
#define REC_KINDS (GT_REC_CHAN + 1)

_Static_assert(GT_F_REG__COUNT <= MAX_FIELDS && GT_F_THR__COUNT <= MAX_FIELDS &&
               GT_F_LOC__COUNT <= MAX_FIELDS && GT_F_EDGE__COUNT <= MAX_FIELDS &&
               GT_F_MUTEX__COUNT <= MAX_FIELDS && GT_F_COND__COUNT <= MAX_FIELDS &&
               GT_F_CHAN__COUNT <= MAX_FIELDS,
               "a record kind has more fields than the layout copy holds");
/* Saved registers in CTX_REGS, in this order (GT_CTX_*), as DWARF numbers. */
static const int ctx_dwarf[GT_CTX_NREGS] = {7, 16, 6, 3, 12, 13, 14, 15};

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
    struct gt_field *f = malloc(n * sizeof(*f));
    if (!f || t->be->read(t, addr, f, n * sizeof(*f)) < 0) {
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
            (uint64_t)f[i].offset + f[i].size > MAX_RECORD)
            continue;
        l->off[f[i].rec][f[i].id] = f[i].offset;
        l->size[f[i].rec][f[i].id] = f[i].size;
    }
    free(f);
    static const struct { int rec, id; const char *what; } need[] = {
        {GT_REC_REGISTRY, 0, "registry size"}, {GT_REC_THREAD, 0, "thread record size"},
        {GT_REC_THREAD, GT_F_THR_SEQ, "thread seq"}, {GT_REC_THREAD, GT_F_THR_STATE, "thread state"},
        {GT_REC_THREAD, GT_F_THR_ID, "thread id"}, {GT_REC_THREAD, GT_F_THR_CTX_SP, "thread sp"},
        {GT_REC_THREAD, GT_F_THR_STACK_HI, "thread stack top"},
        {GT_REC_REGISTRY, GT_F_REG_THREAD_CHUNKS, "thread chunks"},
        {GT_REC_REGISTRY, GT_F_REG_THREAD_SLOTS, "thread slots"},
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
    gto__blockers_free(t->spare_blockers);
    t->spare_blockers = NULL;
}

/* A batch of a slab as copied: the records of its slots back to back, the
 * target address of each, and for each whether it stayed torn.  Every
 * array is a scratch buffer of the target: valid until the next batch. */
struct slab {
    uint64_t first;      /* slot number of recs[0] */
    uint64_t n;          /* slots in this batch */
    uint8_t *recs;
    uint64_t *addrs;
    uint8_t *flux;
};

/* Called for each batch of a slab, in slot order: 0, or -1 with err set. */
typedef int slab_visit(gto_target *t, const struct slab *sl, void *arg, char *err);

/* Chunks copied at once: the copies of a batch are reused by the next,
 * so that a million records cost a few megabytes of the reader's memory
 * (a fresh page is a page fault, and a million records are 230 MB). */
#define BATCH_CHUNKS 16
#define BATCH_BYTES (16u << 20)

/* Copies a slab: the chunk pointer array, then its chunks a batch at a
 * time, one read per chunk.  A live target's chunks are copied a second
 * time and each record's seq compared (the retry protocol); a record with
 * an odd seq, or one that changed, is copied again on its own until it
 * holds still, at most RETRIES times, and is flagged in flux after that.
 * VISIT gets each batch. */
static int read_slab(gto_target *t, const char *what, uint64_t chunks,
                     uint64_t count, uint64_t per, uint64_t nslots,
                     uint32_t rsize, uint32_t seq_off, slab_visit *visit,
                     void *arg, char *err)
{
    if (!nslots)
        return 0;
    if (per == 0 || per > MAX_PER_CHUNK || count > MAX_CHUNKS ||
        nslots > count * per || rsize < 8 || seq_off + 4 > rsize ||
        per * rsize > MAX_CHUNK_BYTES) {
        gto__err(err, "%s: the registry's %s are inconsistent (%llu chunks of "
                 "%llu, %llu in use): the registry is corrupt", t->name, what,
                 (unsigned long long)count, (unsigned long long)per,
                 (unsigned long long)nslots);
        return -1;
    }
    uint64_t nchunks = (nslots + per - 1) / per;
    /* At most BATCH_BYTES of records a batch (at least one chunk). */
    uint64_t bc = BATCH_BYTES / (per * rsize);
    if (bc > BATCH_CHUNKS)
        bc = BATCH_CHUNKS;
    if (bc == 0)
        bc = 1;
    if (bc > nchunks)
        bc = nchunks;
    int live = t->be->memory_moves;
    uint64_t *ptrs = scratch(t, GTO_SCRATCH_PTRS, nchunks * 8);
    uint8_t *buf = scratch(t, GTO_SCRATCH_RECS, bc * per * rsize);
    uint8_t *check = live ? scratch(t, GTO_SCRATCH_CHECK, bc * per * rsize) : NULL;
    uint64_t *at = scratch(t, GTO_SCRATCH_ADDRS, bc * per * 8);
    struct gto_range *r = scratch(t, GTO_SCRATCH_RANGES, bc * sizeof(*r));
    uint8_t *ok = scratch(t, GTO_SCRATCH_OK, bc);
    uint8_t *flux = scratch(t, GTO_SCRATCH_FLUX, bc * per);
    if (!ptrs || !buf || (live && !check) || !at || !r || !ok || !flux) {
        gto__err(err, "out of memory for %llu %s", (unsigned long long)nslots, what);
        return -1;
    }
    if (t->be->read(t, chunks, ptrs, nchunks * 8) < 0) {
        fail_read(t, err, what, chunks);
        return -1;
    }
    for (uint64_t c0 = 0; c0 < nchunks; c0 += bc) {
        uint64_t nc = nchunks - c0 < bc ? nchunks - c0 : bc;
        struct slab sl = {c0 * per, 0, buf, at, flux};
        sl.n = nslots - sl.first < nc * per ? nslots - sl.first : nc * per;
        for (uint64_t c = 0; c < nc; c++) {
            r[c].addr = ptrs[c0 + c];
            r[c].len = per * rsize;
            r[c].buf = buf + c * per * rsize;
        }
        if (t->be->read_many(t, r, nc, ok) < 0) {
            fail_read(t, err, what, chunks);
            return -1;
        }
        for (uint64_t c = 0; c < nc; c++)
            if (!ok[c]) {
                errno = EFAULT;
                fail_read(t, err, what, ptrs[c0 + c]);
                return -1;
            }
        for (uint64_t i = 0; i < sl.n; i++)
            at[i] = ptrs[c0 + i / per] + (i % per) * rsize;
        memset(flux, 0, sl.n);
        if (live) {
            for (uint64_t c = 0; c < nc; c++)
                r[c].buf = check + c * per * rsize;
            if (t->be->read_many(t, r, nc, ok) < 0) {
                fail_read(t, err, what, chunks);
                return -1;
            }
            for (uint64_t i = 0; i < sl.n; i++) {
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
        if (visit(t, &sl, arg, err) < 0)
            return -1;
    }
    return 0;
}

static void decode_thread(const struct layout *l, const uint8_t *b,
                          struct gto_thread *th)
{
    th->id = get(l, GT_REC_THREAD, GT_F_THR_ID, b);
    th->parent = get(l, GT_REC_THREAD, GT_F_THR_PARENT, b);
    /* The name is whatever the program was given (Knot's are client
     * addresses): made safe text here, once, for every reader. */
    uint32_t nsz = l->size[GT_REC_THREAD][GT_F_THR_NAME];
    if (nsz > NAME_RAW_MAX)
        nsz = NAME_RAW_MAX;
    const char *raw = (const char *)b + l->off[GT_REC_THREAD][GT_F_THR_NAME];
    size_t len = nsz ? strnlen(raw, nsz - 1) : 0;
    if (gto__text_is_safe(raw, len)) {
        memcpy(th->name, raw, len);
        th->name[len] = 0;
    } else {
        gto_text_safe(raw, len, th->name, sizeof(th->name));
    }
    th->state = (int)get(l, GT_REC_THREAD, GT_F_THR_STATE, b);
    th->wait_kind = (int)get(l, GT_REC_THREAD, GT_F_THR_WAIT_KIND, b);
    th->flags = (unsigned)get(l, GT_REC_THREAD, GT_F_THR_FLAGS, b);
    th->location = (uint32_t)get(l, GT_REC_THREAD, GT_F_THR_LOCATION, b);
    th->wait_obj = get(l, GT_REC_THREAD, GT_F_THR_WAIT_OBJ, b);
    th->wait_arg = get(l, GT_REC_THREAD, GT_F_THR_WAIT_ARG, b);
    th->wait_since = get(l, GT_REC_THREAD, GT_F_THR_WAIT_SINCE, b);
    th->deadline = get(l, GT_REC_THREAD, GT_F_THR_DEADLINE, b);
    th->entry = get(l, GT_REC_THREAD, GT_F_THR_ENTRY, b);
    th->arg = get(l, GT_REC_THREAD, GT_F_THR_ARG, b);
    th->spawn_site = get(l, GT_REC_THREAD, GT_F_THR_SPAWN_SITE, b);
    th->created = get(l, GT_REC_THREAD, GT_F_THR_CREATED, b);
    th->run_ns = get(l, GT_REC_THREAD, GT_F_THR_RUN_NS, b);
    th->switches = get(l, GT_REC_THREAD, GT_F_THR_SWITCHES, b);
    th->stack_lo = get(l, GT_REC_THREAD, GT_F_THR_STACK_LO, b);
    th->stack_hi = get(l, GT_REC_THREAD, GT_F_THR_STACK_HI, b);
    th->guard_size = get(l, GT_REC_THREAD, GT_F_THR_GUARD_SIZE, b);
    th->ctx_sp = get(l, GT_REC_THREAD, GT_F_THR_CTX_SP, b);
    th->ctx_pc = get(l, GT_REC_THREAD, GT_F_THR_CTX_PC, b);
    th->ctx_fp = get(l, GT_REC_THREAD, GT_F_THR_CTX_FP, b);
    for (size_t k = 0; k < GT_CTX_NREGS; k++)
        th->ctx[k] = get_at(l, GT_REC_THREAD, GT_F_THR_CTX_REGS, b, k);
    /* The named fields win: a registry with fewer saved registers still
     * has these three. */
    th->ctx[0] = th->ctx_sp;
    th->ctx[1] = th->ctx_pc;
    th->ctx[2] = th->ctx_fp;
    th->reserved = th->stack_hi > th->stack_lo ? th->stack_hi - th->stack_lo : 0;
    /* A fresh context's sp sits below the zero words the runtime keeps at
     * the stack's top: nothing of the thread's is there.  A running
     * thread's saved sp is stale (its registers are on the CPU): its live
     * bytes are not known, 0 here and null in JSON. */
    th->live = th->stack_lo <= th->ctx_sp && th->ctx_sp <= th->stack_hi &&
                       !gto_fresh_context(th) && th->state != GTO_STATE_RUNNING
                   ? th->stack_hi - th->ctx_sp : 0;
}

static void decode_counters(const struct layout *l, const uint8_t *b,
                            struct gto_counters *c)
{
#define G(field, id) c->field = get(l, GT_REC_REGISTRY, id, b)
    G(pid, GT_F_REG_PID); G(clock_base, GT_F_REG_CLOCK_BASE);
    G(realtime_base, GT_F_REG_REALTIME_BASE); G(clock_now, GT_F_REG_CLOCK_NOW);
    G(current, GT_F_REG_CURRENT); G(switches, GT_F_REG_SWITCHES); G(spawns, GT_F_REG_SPAWNS);
    G(exits, GT_F_REG_EXITS); G(runq_len, GT_F_REG_RUNQ_LEN); G(polls, GT_F_REG_POLLS);
    G(idle_ns, GT_F_REG_IDLE_NS); G(file_io_calls, GT_F_REG_FILE_IO_CALLS);
    G(file_io_ns, GT_F_REG_FILE_IO_NS); G(guard_mappings, GT_F_REG_GUARD_MAPPINGS);
    G(max_map_count, GT_F_REG_MAX_MAP_COUNT); G(stack_default, GT_F_REG_STACK_DEFAULT);
    G(stack_reserved, GT_F_REG_STACK_RESERVED); G(page_size, GT_F_REG_PAGE_SIZE);
    G(canary, GT_F_REG_CANARY);
    G(idle_since, GT_F_REG_IDLE_SINCE); G(fatal_ns, GT_F_REG_FATAL_NS);
    G(run_start, GT_F_REG_RUN_START); G(watchdog_ns, GT_F_REG_WATCHDOG_NS);
    G(watchdog_events, GT_F_REG_WATCHDOG_EVENTS);
#undef G
    c->guard_policy = (uint32_t)get(l, GT_REC_REGISTRY, GT_F_REG_GUARD_POLICY, b);
    /* nstate is counted from the records (count_states), never taken
     * from the header's tallies, which are updated apart from them. */
}

/* The registry's register sample (THE WATCHDOG'S SAMPLE) from the header
 * copy REG: usable for the running thread when its seq is even and it is
 * the slice of the same copy's current and switches. */
static void decode_sample(const struct layout *l, const uint8_t *reg,
                          struct gto_sample *sm)
{
    memset(sm, 0, sizeof(*sm));
    if (l->size[GT_REC_REGISTRY][GT_F_REG_SAMPLE_SEQ] != 4 ||
        l->size[GT_REC_REGISTRY][GT_F_REG_SAMPLE_REGS] < GT_CTX_NREGS * 8)
        return;
    sm->seq = (uint32_t)get(l, GT_REC_REGISTRY, GT_F_REG_SAMPLE_SEQ, reg);
    sm->thread = get(l, GT_REC_REGISTRY, GT_F_REG_SAMPLE_THREAD, reg);
    sm->switches = get(l, GT_REC_REGISTRY, GT_F_REG_SAMPLE_SWITCHES, reg);
    sm->ns = get(l, GT_REC_REGISTRY, GT_F_REG_SAMPLE_NS, reg);
    sm->syscall = (int64_t)get(l, GT_REC_REGISTRY, GT_F_REG_SAMPLE_SYSCALL, reg);
    if (l->size[GT_REC_REGISTRY][GT_F_REG_SAMPLE_SYSCALL] != 8)
        sm->syscall = -1;
    for (size_t k = 0; k < GT_CTX_NREGS; k++)
        sm->regs[k] = get_at(l, GT_REC_REGISTRY, GT_F_REG_SAMPLE_REGS, reg, k);
    sm->usable = !(sm->seq & 1) && sm->thread &&
                 sm->thread == get(l, GT_REC_REGISTRY, GT_F_REG_CURRENT, reg) &&
                 sm->switches == get(l, GT_REC_REGISTRY, GT_F_REG_SWITCHES, reg);
}

/* The fields of an object record kind blockers.c reads: a record size of
 * 0 or past GTO_OBJECT_MAX is no layout. */
static struct gto_fld fld(const struct layout *l, int rec, int id)
{
    return (struct gto_fld){l->off[rec][id], l->size[rec][id]};
}

static void decode_obj_layout(const struct layout *l, struct gto_obj_layout *ol)
{
    memset(ol, 0, sizeof(*ol));
    if (l->size[GT_REC_MUTEX][0] <= GTO_OBJECT_MAX &&
        l->size[GT_REC_MUTEX][GT_F_MUTEX_OWNER] == 8 &&
        l->size[GT_REC_MUTEX][GT_F_MUTEX_MAGIC] == 8) {
        ol->mutex_size = l->size[GT_REC_MUTEX][0];
        ol->mutex_owner = fld(l, GT_REC_MUTEX, GT_F_MUTEX_OWNER);
        ol->mutex_magic = fld(l, GT_REC_MUTEX, GT_F_MUTEX_MAGIC);
        ol->mutex_held_since = fld(l, GT_REC_MUTEX, GT_F_MUTEX_HELD_SINCE);
    }
    if (l->size[GT_REC_COND][0] <= GTO_OBJECT_MAX)
        ol->cond_size = l->size[GT_REC_COND][0];
    if (l->size[GT_REC_CHAN][0] <= GTO_OBJECT_MAX && l->size[GT_REC_CHAN][GT_F_CHAN_MAGIC] == 8) {
        ol->chan_size = l->size[GT_REC_CHAN][0];
        ol->chan_magic = fld(l, GT_REC_CHAN, GT_F_CHAN_MAGIC);
        ol->chan_cap = fld(l, GT_REC_CHAN, GT_F_CHAN_CAP);
        ol->chan_len = fld(l, GT_REC_CHAN, GT_F_CHAN_LEN);
        ol->chan_closed = fld(l, GT_REC_CHAN, GT_F_CHAN_CLOSED);
    }
    ol->thr_size = l->size[GT_REC_THREAD][0];
    ol->thr_seq = fld(l, GT_REC_THREAD, GT_F_THR_SEQ);
    ol->thr_state = fld(l, GT_REC_THREAD, GT_F_THR_STATE);
    ol->thr_wait_kind = fld(l, GT_REC_THREAD, GT_F_THR_WAIT_KIND);
    ol->thr_wait_obj = fld(l, GT_REC_THREAD, GT_F_THR_WAIT_OBJ);
    ol->thr_wait_since = fld(l, GT_REC_THREAD, GT_F_THR_WAIT_SINCE);
}

/* The registry's page size sizes the buffers and steps the loops that
 * measure stacks: it must be a page size (see gto__page_size_ok), and a
 * live target's must be this machine's, as the pagemap it is read with
 * has one entry per page of the machine.  A registry without the field
 * (none this reader knows, but a damaged layout table can drop it) gets
 * the machine's. */
static int check_page_size(gto_target *t, const struct layout *l,
                           struct gto_counters *c, char *err)
{
    uint64_t machine = (uint64_t)sysconf(_SC_PAGESIZE);
    if (!l->size[GT_REC_REGISTRY][GT_F_REG_PAGE_SIZE]) {
        c->page_size = machine;
        return 0;
    }
    if (gto__page_size_ok(c->page_size) &&
        (!t->be->memory_moves || c->page_size == machine))
        return 0;
    gto__err(err, "%s: registry page size %llu is not a page size of this "
             "machine: the registry is damaged", t->name,
             (unsigned long long)c->page_size);
    return -1;
}

/* Drops from the snapshot the thread records no runtime could have
 * written: an id of 0 or past SPAWNS (the ids given out so far), or a
 * state that is no state.  A record is damaged so (a registry written
 * over, a chunk pointer that points a few bytes off) or its memory is not
 * a record at all; listing it would invent a thread.  They are counted in
 * c.damaged. */
static void drop_damaged(gto_snapshot *s, uint64_t spawns)
{
    size_t k = 0;
    for (size_t i = 0; i < s->nthreads; i++) {
        const struct gto_thread *th = &s->threads[i];
        if (th->id == 0 || th->id > spawns ||
            ((th->state < GTO_STATE_RUNNABLE || th->state >= GTO_STATE_COUNT) &&
             !th->in_flux)) {
            s->c.damaged++;
            continue;
        }
        if (k != i)
            s->threads[k] = s->threads[i];
        k++;
    }
    s->nthreads = k;
}

/* Threads the header counts, by its own tallies. */
static uint64_t header_threads(const struct layout *l, const uint8_t *reg)
{
    uint64_t n = 0;
    for (int i = GTO_STATE_RUNNABLE; i < GTO_STATE_COUNT; i++)
        n += get_at(l, GT_REC_REGISTRY, GT_F_REG_NSTATE, reg, (size_t)i);
    return n;
}

/* Counts the snapshot's threads by state, from its records.  Records
 * copied a chunk at a time are each consistent, not with each other: a
 * thread that started running after its chunk was copied and one that
 * stopped before can both read as running, though one kernel thread runs
 * them all.  The running thread is then the one the header names
 * current (read after the records); any other "running" record is
 * counted in flux, never guessed, so the states add up to the threads and
 * at most one runs. */
static void count_states(gto_snapshot *s)
{
    struct gto_counters *c = &s->c;
    memset(c->nstate, 0, sizeof(c->nstate));
    c->in_flux = 0;
    for (size_t i = 0; i < s->nthreads; i++) {
        struct gto_thread *th = &s->threads[i];
        if (th->in_flux || th->state < GTO_STATE_RUNNABLE || th->state >= GTO_STATE_COUNT)
            c->in_flux++;
        else
            c->nstate[th->state]++;
    }
    if (c->nstate[GTO_STATE_RUNNING] <= 1)
        return;
    for (size_t i = 0; i < s->nthreads; i++) {
        struct gto_thread *th = &s->threads[i];
        if (th->in_flux || th->state != GTO_STATE_RUNNING || th->addr == c->current)
            continue;
        th->in_flux = 1;
        th->unwind_status = GTO_UNWIND_IN_FLUX;
        c->nstate[GTO_STATE_RUNNING]--;
        c->in_flux++;
    }
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
    struct gto_thread *a = malloc(n * sizeof(struct gto_thread));
    gto__huge_pages(a, n * sizeof(struct gto_thread));
    return a;
}

/* The locations' and edges' readers: where their batches go. */
struct record_reader {
    gto_snapshot *s;
    const struct layout *l;
    size_t cap;              /* records the array holds: it grows with the
                              * records read, never sized by a count that
                              * may be damage */
    unsigned flags;          /* the snapshot's GTO_SNAP_* */
};

/* Grows *ARR (records of SIZE bytes, RR->cap of them) to hold NEED. */
static int grow_records(struct record_reader *rr, void **arr, size_t size,
                        size_t need, const char *what, char *err)
{
    if (need <= rr->cap)
        return 0;
    size_t cap = rr->cap * 2 > need ? rr->cap * 2 : need;
    void *a = realloc(*arr, cap * size);
    if (!a) {
        gto__err(err, "out of memory for %zu %s", need, what);
        return -1;
    }
    memset((char *)a + rr->cap * size, 0, (cap - rr->cap) * size);
    *arr = a;
    rr->cap = cap;
    return 0;
}
static slab_visit visit_locations, visit_edges;

static int read_locations(gto_target *t, gto_snapshot *s, const struct layout *l,
                          const uint8_t *reg, unsigned flags, char *err)
{
    uint32_t rsize = l->size[GT_REC_LOCATION][0];
    uint64_t n = get(l, GT_REC_REGISTRY, GT_F_REG_LOC_COUNT, reg);
    if (!rsize || !l->size[GT_REC_LOCATION][GT_F_LOC_SEQ] || !n)
        return 0;
    /* Indices are u32 (a thread's location, an edge's ends): a count
     * past them cannot be the runtime's. */
    if (n > UINT32_MAX || n > (uint64_t)MAX_CHUNKS * MAX_PER_CHUNK) {
        gto__err(err, "%s: the registry counts %llu locations: the registry is "
                 "corrupt", t->name, (unsigned long long)n);
        return -1;
    }
    struct record_reader rr = {s, l, 0, flags};
    return read_slab(t, "location chunks", get(l, GT_REC_REGISTRY, GT_F_REG_LOC_CHUNKS, reg),
                     get(l, GT_REC_REGISTRY, GT_F_REG_LOC_CHUNK_COUNT, reg),
                     get(l, GT_REC_REGISTRY, GT_F_REG_LOCS_PER_CHUNK, reg), n, rsize,
                     l->off[GT_REC_LOCATION][GT_F_LOC_SEQ], visit_locations, &rr, err);
}

/* Whether the fields a queue's head is read by are in the layout: the
 * location's head word, and the thread's seq, state, location, wait_since
 * and loc_prev, of the sizes the runtime gives them. */
static int heads_readable(const struct layout *l)
{
    return l->size[GT_REC_LOCATION][GT_F_LOC_HEAD] == 8 &&
           l->size[GT_REC_THREAD][GT_F_THR_SEQ] == 4 &&
           l->size[GT_REC_THREAD][GT_F_THR_STATE] &&
           l->size[GT_REC_THREAD][GT_F_THR_LOCATION] &&
           l->size[GT_REC_THREAD][GT_F_THR_WAIT_SINCE] == 8 &&
           l->size[GT_REC_THREAD][GT_F_THR_LOC_PREV] == 8 &&
           l->size[GT_REC_THREAD][0] >= 8;
}

/* GTO_SNAP_QUEUE_HEADS: when the oldest wait in progress at the location
 * of index IDX, whose record is at LOC, began (0 unknown).  The runtime
 * queues a location's waiters oldest first (gt/registry.h, GT_F_LOC_HEAD):
 * a park stamps wait_since and appends the thread to the tail in one seq
 * bracket, on the one kernel thread that runs every green thread, with a
 * clock that never goes back; a wake unlinks wherever the thread is.  So
 * the head's wait_since is the queue's least, in one record's read.
 *
 * HEAD is the head word of the location's copy.  It is an address from
 * the target, read through the backend only (a bad one fails the read),
 * and its record is believed only when it says it is that head: seq even
 * and unchanged after the copy, parked, at IDX, with no thread before it.
 * A head that woke meanwhile: the location's head word is read again, a
 * few times at most.  REC holds a thread record. */
static uint64_t queue_head_since(gto_target *t, const struct layout *l, uint64_t loc,
                                 uint32_t idx, uint64_t head, uint8_t *rec)
{
    uint32_t rsize = l->size[GT_REC_THREAD][0];
    uint32_t seq_off = l->off[GT_REC_THREAD][GT_F_THR_SEQ];
    for (int k = 0; head && k <= RETRIES; k++) {
        if (k && (!t->be->memory_moves ||
                  t->be->read(t, loc + l->off[GT_REC_LOCATION][GT_F_LOC_HEAD], &head, 8) < 0 ||
                  !head))
            return 0;
        uint32_t seq, again;
        if (t->be->read(t, head, rec, rsize) < 0)
            continue;
        seq = (uint32_t)get(l, GT_REC_THREAD, GT_F_THR_SEQ, rec);
        if ((seq & 1) || get(l, GT_REC_THREAD, GT_F_THR_STATE, rec) != GTO_STATE_PARKED ||
            get(l, GT_REC_THREAD, GT_F_THR_LOCATION, rec) != idx ||
            get(l, GT_REC_THREAD, GT_F_THR_LOC_PREV, rec) != 0)
            continue;
        if (t->be->memory_moves &&
            (t->be->read(t, head + seq_off, &again, 4) < 0 || again != seq))
            continue;
        return get(l, GT_REC_THREAD, GT_F_THR_WAIT_SINCE, rec);
    }
    return 0;
}

static int visit_locations(gto_target *t, const struct slab *sl, void *arg, char *err)
{
    struct record_reader *rr = arg;
    gto_snapshot *s = rr->s;
    const struct layout *l = rr->l;
    uint32_t rsize = l->size[GT_REC_LOCATION][0];
    if (grow_records(rr, (void **)&s->locs, sizeof(*s->locs), s->nlocs + sl->n,
                     "locations", err) < 0)
        return -1;
    /* Slot 0 is index 0, "no location": not a location of its own.  The
     * runtime gives each location its slot as index (gt/registry.h): an
     * index field that says otherwise is damaged, and the slot stands, so
     * that arrays by index stay as big as the count and threads still find
     * the location they parked at. */
    for (uint64_t i = sl->first ? 0 : 1; i < sl->n; i++) {
        const uint8_t *b = sl->recs + i * rsize;
        struct gto_location *loc = &s->locs[s->nlocs++];
        uint64_t slot = sl->first + i;
        loc->in_flux = sl->flux[i] || (get(l, GT_REC_LOCATION, GT_F_LOC_SEQ, b) & 1);
        loc->index = (uint32_t)slot;
        /* A torn record is in flux, not damaged: it may be one being
         * created. */
        loc->damaged = !loc->in_flux && get(l, GT_REC_LOCATION, GT_F_LOC_INDEX, b) != slot;
        s->c.damaged += loc->damaged != 0;
        loc->depth = (uint32_t)get(l, GT_REC_LOCATION, GT_F_LOC_DEPTH, b);
        if (loc->depth > GTO_LOC_DEPTH_MAX)
            loc->depth = GTO_LOC_DEPTH_MAX;
        for (uint32_t d = 0; d < loc->depth; d++)
            loc->pcs[d] = get_at(l, GT_REC_LOCATION, GT_F_LOC_PCS, b, d);
        loc->wait_kind = (uint32_t)get(l, GT_REC_LOCATION, GT_F_LOC_WAIT_KIND, b);
        loc->waiting = get(l, GT_REC_LOCATION, GT_F_LOC_WAITING, b);
        loc->arrivals = get(l, GT_REC_LOCATION, GT_F_LOC_ARRIVALS, b);
        loc->completed = get(l, GT_REC_LOCATION, GT_F_LOC_COMPLETED, b);
        loc->total_wait_ns = get(l, GT_REC_LOCATION, GT_F_LOC_TOTAL_WAIT_NS, b);
        loc->max_wait_ns = get(l, GT_REC_LOCATION, GT_F_LOC_MAX_WAIT_NS, b);
        for (size_t h = 0; h < GTO_HIST_BUCKETS; h++)
            loc->hist[h] = get_at(l, GT_REC_LOCATION, GT_F_LOC_HIST, b, h);
    }
    /* The queues' heads while the copies of their locations are fresh:
     * one record's read per location with waiters. */
    if (!(rr->flags & GTO_SNAP_QUEUE_HEADS) || !heads_readable(l))
        return 0;
    uint8_t *rec = malloc(l->size[GT_REC_THREAD][0]);
    if (!rec) {
        gto__err(err, "out of memory for a thread record");
        return -1;
    }
    for (uint64_t i = sl->first ? 0 : 1; i < sl->n; i++) {
        const uint8_t *b = sl->recs + i * rsize;
        uint64_t slot = sl->first + i;   /* at locs[slot - 1] (above) */
        struct gto_location *loc = slot <= s->nlocs ? &s->locs[slot - 1] : NULL;
        if (loc && !loc->in_flux && loc->waiting)
            loc->oldest_since = queue_head_since(t, l, sl->addrs[i], loc->index,
                                                 get(l, GT_REC_LOCATION, GT_F_LOC_HEAD, b), rec);
    }
    free(rec);
    return 0;
}

static int read_edges(gto_target *t, gto_snapshot *s, const struct layout *l,
                      const uint8_t *reg, char *err)
{
    uint32_t rsize = l->size[GT_REC_EDGE][0];
    uint64_t n = get(l, GT_REC_REGISTRY, GT_F_REG_EDGE_COUNT, reg);
    if (!rsize || !l->size[GT_REC_EDGE][GT_F_EDGE_SEQ] || !n)
        return 0;
    if (n > MAX_SLOTS) {
        gto__err(err, "%s: the registry counts %llu edges: the registry is "
                 "corrupt", t->name, (unsigned long long)n);
        return -1;
    }
    struct record_reader rr = {s, l, 0, 0};
    return read_slab(t, "edge chunks", get(l, GT_REC_REGISTRY, GT_F_REG_EDGE_CHUNKS, reg),
                     get(l, GT_REC_REGISTRY, GT_F_REG_EDGE_CHUNK_COUNT, reg),
                     get(l, GT_REC_REGISTRY, GT_F_REG_EDGES_PER_CHUNK, reg), n, rsize,
                     l->off[GT_REC_EDGE][GT_F_EDGE_SEQ], visit_edges, &rr, err);
}

static int visit_edges(gto_target *t, const struct slab *sl, void *arg, char *err)
{
    (void)t;
    struct record_reader *rr = arg;
    gto_snapshot *s = rr->s;
    const struct layout *l = rr->l;
    uint32_t rsize = l->size[GT_REC_EDGE][0];
    if (grow_records(rr, (void **)&s->edges, sizeof(*s->edges), s->nedges + sl->n,
                     "edges", err) < 0)
        return -1;
    for (uint64_t i = 0; i < sl->n; i++) {
        const uint8_t *b = sl->recs + i * rsize;
        uint64_t from = get(l, GT_REC_EDGE, GT_F_EDGE_FROM, b);
        uint64_t to = get(l, GT_REC_EDGE, GT_F_EDGE_TO, b);
        int flux = sl->flux[i] || (get(l, GT_REC_EDGE, GT_F_EDGE_SEQ, b) & 1);
        /* Ends past the locations: left out (an edge is known by its
         * ends, and these name nothing), and counted as damaged unless
         * the record was torn. */
        if (from > s->nlocs || to > s->nlocs) {
            s->c.damaged += !flux;
            continue;
        }
        struct gto_edge *e = &s->edges[s->nedges++];
        e->from = (uint32_t)from;
        e->to = (uint32_t)to;
        e->count = get(l, GT_REC_EDGE, GT_F_EDGE_COUNT, b);
        e->run_ns = get(l, GT_REC_EDGE, GT_F_EDGE_RUN_NS, b);
        e->max_run_ns = get(l, GT_REC_EDGE, GT_F_EDGE_MAX_RUN_NS, b);
        e->in_flux = flux;
    }
    return 0;
}

/* Bounds every thread's location index by the locations read: one past
 * them is not used, and is damage (gtobserve.h, gto_thread.damaged)
 * unless the record was torn (in flux already says it is not to be
 * trusted). */
static void check_thread_locations(gto_snapshot *s)
{
    for (size_t i = 0; i < s->nthreads; i++) {
        struct gto_thread *th = &s->threads[i];
        if (th->location > s->nlocs) {
            th->location = 0;
            th->damaged = !th->in_flux;
            s->c.damaged += !th->in_flux;
        }
    }
}

/* A registry that counts threads none of whose records could be found:
 * the backend says whether that can be right. */
static int check_no_threads(gto_target *t, uint64_t counted, char *err)
{
    return counted ? t->be->no_threads(t, counted, err) : 0;
}

/* Whether a thread's saved context can be unwound from its stack copy. */
static int unwindable(const struct gto_thread *th)
{
    return !th->in_flux && th->state != GTO_STATE_RUNNING &&
           th->stack_lo < th->stack_hi && th->stack_hi - th->stack_lo <= MAX_STACK &&
           th->stack_lo <= th->ctx_sp && th->ctx_sp < th->stack_hi &&
           th->stack_hi - th->ctx_sp <= MAX_LIVE;
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

/* Stacks are not copied whole: a frame-pointer walk needs two words per
 * frame, the caller's rbp and the return address.  Each thread's walk
 * starts with a window of WINDOW bytes at its saved sp, which holds the
 * innermost frames of most threads whole; a walk that runs past its window
 * asks for the next one at its rbp, so a frame holding a big buffer is
 * stepped over, not copied.  Windows are read WALK_BATCH threads at a time
 * into one buffer reused batch after batch.  Only a thread the fast path
 * cannot walk (another CFI rule, GTO_SNAP_NO_FASTPATH, a core's running
 * thread) has its live stack copied whole, for libunwind. */
#define WINDOW 1024u
#define WALK_BATCH 4096u

/* One thread's unwinding within a batch. */
struct walk {
    struct gto_fp_walk w;
    uint64_t lo;             /* the window to read next: [lo, lo + len) */
    size_t len;
    struct gto_frame *fr;    /* its frames so far (kept for the next batch) */
    size_t nfr, cap;
    enum { W_DONE, W_WALK, W_WHOLE } how;
    int first;               /* no window read yet */
};

/* What unwinding keeps from one batch of threads to the next. */
struct unwinder {
    unsigned flags;
    struct walk *walks;
    size_t cap_walks;
    size_t *first;           /* thread i's frames start at s->frames + first[i] */
    size_t cap_first;
    size_t cap_frames, used;
    uint8_t *win;            /* WALK_BATCH windows */
    struct gto_range *r;     /* WALK_BATCH ranges, or a batch's record runs */
    size_t cap_r;
    uint8_t *ok;
    size_t *who;
};

static void unwinder_free(struct unwinder *uw)
{
    for (size_t i = 0; i < uw->cap_walks; i++)
        free(uw->walks[i].fr);
    free(uw->walks);
    free(uw->first);
    free(uw->win);
    free(uw->r);
    free(uw->ok);
    free(uw->who);
}

static int zeros(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

/* Makes the NFR frames FR (libunwind's, malloc'd) W's frames and frees
 * them; none when W cannot grow to hold them. */
static void keep_frames(struct walk *w, struct gto_frame *fr, size_t nfr)
{
    if (nfr > w->cap) {
        struct gto_frame *g = realloc(w->fr, nfr * sizeof(*g));
        if (!g)
            nfr = 0;
        else
            w->fr = g, w->cap = nfr;
    }
    if (nfr)
        memcpy(w->fr, fr, nfr * sizeof(*fr));
    w->nfr = nfr;
    free(fr);
}

/* The frame-pointer chain of a sample, taken as it is: frame 0 at PC,
 * then the return address above each saved rbp from FP up, until the
 * entry trampoline, a link that does not go up the stack, or one outside
 * the copy of [sp, top) (COPY).  No CFI is asked: the innermost functions
 * of a sample may be code no module describes (the vDSO), or keep no
 * frame pointer (libc's), and their callers are found through the rbp
 * they kept.  Frames go to W; returns and sets *STATUS, GTO_UNWIND_OK
 * when it reached the trampoline. */
static int fp_chain(gto_target *t, uint64_t pc, uint64_t sp, uint64_t fp, uint64_t top,
                    const uint8_t *copy, struct walk *w, int *status)
{
    uint64_t at = sp, len = top - sp;
    w->nfr = 0;
    *status = GTO_UNWIND_TRUNCATED;
    for (uint64_t cur = pc; w->nfr < 4096;) {
        if (w->nfr == w->cap) {
            size_t cap = w->cap ? w->cap * 2 : 16;
            struct gto_frame *g = realloc(w->fr, cap * sizeof(*g));
            if (!g)
                break;
            w->fr = g, w->cap = cap;
        }
        w->fr[w->nfr++] = (struct gto_frame){cur, 0};
        if (w->nfr > 1 && gto__fp_rule(t, cur, 0) == GTO_FP_END) {
            w->fr[w->nfr - 1].size = top - at;
            *status = GTO_UNWIND_OK;
            break;
        }
        uint64_t ra, next;
        if (fp < at || fp > UINT64_MAX - 16 || !gto__range_in(fp - sp, 16, len))
            break;
        memcpy(&next, copy + (fp - sp), 8);
        memcpy(&ra, copy + (fp - sp) + 8, 8);
        w->fr[w->nfr - 1].size = fp + 16 - at;
        if (!ra)
            break;
        at = fp + 16;
        cur = ra;
        if (next <= fp && gto__fp_rule(t, ra, 0) != GTO_FP_END)
            break;
        fp = next;
    }
    return *status;
}

/* A sample that caught a system call knows sp and pc only: libunwind
 * finds the system call wrapper's caller (its return address is at sp,
 * by CFI) and no further, for want of rbp.  That caller keeps a frame
 * pointer (gt programs are built with them), and rbp was still its own
 * at the call (callee-saved, and the wrappers leave it be): its saved
 * rbp and return address are a pair of words above sp from which the
 * frame-pointer chain goes up the stack to the entry trampoline.  The
 * words of the first SYSCALL_SCAN_BYTES above sp are tried in turn as
 * that rbp, lowest first (the innermost frame's pair is the lowest);
 * a chain is taken only when it reaches the entry through code of known
 * modules.  1 with FR's frames but the last, then the chain from that
 * caller on, in W; 0 when no word gives one. */
#define SYSCALL_SCAN_BYTES 4096
static int syscall_callers(gto_target *t, const struct gto_frame *fr, size_t nfr,
                           uint64_t sp, uint64_t top, const uint8_t *copy, struct walk *w)
{
    uint64_t caller = fr[nfr - 1].pc;
    for (uint64_t fp = sp + 8; fp < top && top - fp >= 16 && fp - sp <= SYSCALL_SCAN_BYTES;
         fp += 8) {
        int status;
        if (fp_chain(t, caller, sp, fp, top, copy, w, &status) != GTO_UNWIND_OK || w->nfr < 2)
            continue;
        int known = 1;
        for (size_t i = 1; i < w->nfr && known; i++) {
            const struct gto_symbol *sym;
            size_t ns = gto_symbolize(t, w->fr[i].pc, 1, &sym);
            known = sym[ns - 1].module != NULL;
        }
        if (!known)
            continue;
        size_t n = nfr - 1 + w->nfr;
        struct gto_frame *all = malloc(n * sizeof(*all));
        if (!all)
            break;
        memcpy(all, fr, (nfr - 1) * sizeof(*all));
        memcpy(all + nfr - 1, w->fr, w->nfr * sizeof(*all));
        keep_frames(w, all, n);
        return 1;
    }
    w->nfr = 0;
    return 0;
}

/* Marks the running thread TH sampled when the registry's register sample
 * is of its current run (the watchdog's of a hog, or the fatal-signal
 * handler's), and unwinds it from the sample when the target has no
 * registers of its own for it (a live process): sp, pc (exact: the
 * interrupted instruction) and the callee-saved registers, only sp and pc
 * when it caught a system call; its live stack from the sampled sp copied
 * whole.  A live thread keeps running while it is read, but its callers'
 * frames hold still while it computes in the innermost, and the snapshot
 * checks the sample again after the records (check_sample).  1 when done
 * (frames in W), 0 when the thread is to be unwound otherwise. */
static int unwind_sample(gto_target *t, gto_snapshot *s, struct gto_thread *th,
                         struct walk *w, unsigned flags)
{
    const struct gto_sample *sm = &s->sample;
    uint64_t sp = sm->regs[GT_CTX_SP], regs[17];
    int full = sm->syscall == -1; /* else it knows sp and pc only */
    if (!sm->usable || sm->thread != th->addr || th->in_flux)
        return 0;
    th->sampled = 1;
    th->sample_ns = sm->ns;
    /* A core's own registers of the thread (NT_PRSTATUS) are all of them,
     * at the very end: unwound from them (through the fatal-signal
     * handler's frames, as GDB does), the sample only marks the stack. */
    if (t->be->thread_regs(t, th->addr, s->c.current, regs))
        return 0;
    if (!(th->stack_lo < th->stack_hi && th->stack_hi - th->stack_lo <= MAX_STACK &&
          th->stack_lo <= sp && sp < th->stack_hi && th->stack_hi - sp <= MAX_LIVE)) {
        th->unwind_status = GTO_UNWIND_BAD_CONTEXT;
        return 1;
    }
    uint8_t *copy = malloc(th->stack_hi - sp);
    if (!copy || t->be->read(t, sp, copy, th->stack_hi - sp) < 0) {
        free(copy);
        th->unwind_status = GTO_UNWIND_RUNNING;
        return 1;
    }
    size_t len = th->stack_hi - sp;
    /* Code built with frame pointers, at a pc past its prologue: the fast
     * path, as for a saved context (frame 0 exact). */
    struct gto_fp_walk fw = {sm->regs[GT_CTX_PC], sp, sm->regs[GT_CTX_RBP], th->stack_hi};
    w->nfr = 0;
    if (full && !(flags & GTO_SNAP_NO_FASTPATH) &&
        gto__fp_walk(t, &fw, sp, copy, len, &w->fr, &w->nfr, &w->cap) == 0) {
        th->unwind_status = GTO_UNWIND_OK;
        free(copy);
        return 1;
    }
    w->nfr = 0;
    struct gto_unw_thread u = {.t = t, .copy_lo = sp, .copy_hi = th->stack_hi,
                               .copy = copy};
    int nregs = full ? GT_CTX_NREGS : GT_CTX_PC + 1;
    for (int k = 0; k < nregs; k++) {
        u.regs[ctx_dwarf[k]] = sm->regs[k];
        u.valid |= 1u << ctx_dwarf[k];
    }
    struct gto_frame *fr = NULL;
    size_t nfr = 0;
    th->unwind_status = gto__unwind_libunwind(&u, th->stack_hi, &fr, &nfr);
    /* A sample can catch code no module describes (the vDSO's
     * clock_gettime): libunwind then stops there, or guesses from stack
     * words the thread has written over since the sample was taken.  So
     * its walk must reach the entry through callers that are all code of
     * known modules; else the frame-pointer chain from the sampled rbp
     * (kept by every function in between: it is callee-saved) gives the
     * callers of the innermost function that keeps one, and is taken
     * when it reaches the entry or libunwind found no caller at all. */
    int sane = nfr > 0 && th->unwind_status == GTO_UNWIND_OK;
    for (size_t i = 1; i < nfr && sane; i++) {
        const struct gto_symbol *sym;
        size_t ns = gto_symbolize(t, fr[i].pc, 1, &sym);
        sane = sym[ns - 1].module != NULL;
    }
    int status = th->unwind_status;
    if (!sane && full &&
        (fp_chain(t, sm->regs[GT_CTX_PC], sp, sm->regs[GT_CTX_RBP], th->stack_hi, copy, w,
                  &th->unwind_status) == GTO_UNWIND_OK || nfr <= 1)) {
        free(fr);
        free(copy);
        return 1;
    }
    if (!full && status != GTO_UNWIND_OK && nfr >= 2 &&
        syscall_callers(t, fr, nfr, sp, th->stack_hi, copy, w)) {
        th->unwind_status = GTO_UNWIND_OK;
        free(fr);
        free(copy);
        return 1;
    }
    th->unwind_status = status; /* libunwind's frames, as it found them */
    w->nfr = 0;
    free(copy);
    keep_frames(w, fr, nfr);
    return 1;
}

/* Marks the running thread sampled, and keeps frames unwound from the
 * sample, only when the header copy REG2, read after the records (the
 * same copy in a core), shows the same slice still running: the sampled
 * thread still current and switches unchanged.  (The watchdog may have
 * taken a fresher sample meanwhile, as it does every threshold while the
 * hog lasts: the one unwound is as much of this slice.)  Else the thread
 * parked or yielded since, and its frames are dropped: "running", as
 * without a sample. */
static void check_sample(gto_snapshot *s, const struct layout *l, const uint8_t *reg2)
{
    int same = s->sample.usable &&
               get(l, GT_REC_REGISTRY, GT_F_REG_CURRENT, reg2) == s->sample.thread &&
               get(l, GT_REC_REGISTRY, GT_F_REG_SWITCHES, reg2) == s->sample.switches;
    for (size_t i = 0; i < s->nthreads; i++) {
        struct gto_thread *th = &s->threads[i];
        /* Marked whether or not its frames were unwound (a snapshot
         * without GTO_SNAP_UNWIND says it is sampled too). */
        if (same && th->addr == s->sample.thread && th->state == GTO_STATE_RUNNING &&
            !th->in_flux) {
            th->sampled = 1;
            th->sample_ns = s->sample.ns;
            continue;
        }
        if (!th->sampled)
            continue;
        th->sampled = 0;
        th->sample_ns = 0;
        th->nframes = 0;
        th->frames = NULL;
        if (th->unwind_status != GTO_UNWIND_IN_FLUX)
            th->unwind_status = GTO_UNWIND_RUNNING;
    }
}

/* Unwinds TH from a copy of its whole live stack (COPY, NULL for a fresh
 * context), or from the registers the backend has: the fast path where it
 * may be used, else libunwind.  Frames go to W. */
static void unwind_whole(gto_target *t, gto_snapshot *s, struct gto_thread *th,
                         const uint8_t *copy, struct walk *w, unsigned flags)
{
    struct gto_unw_thread u = {.t = t};
    int from_regs = 0;
    w->nfr = 0;
    w->how = W_DONE;
    if (th->state == GTO_STATE_RUNNING && unwind_sample(t, s, th, w, flags))
        return;
    if (th->state == GTO_STATE_RUNNING) {
        if (!t->be->thread_regs(t, th->addr, s->c.current, u.regs)) {
            th->unwind_status = GTO_UNWIND_RUNNING;
            return;
        }
        u.valid = 0x1ffff;
        from_regs = 1;
    } else {
        u.copy_lo = th->ctx_sp;
        u.copy_hi = copy ? th->stack_hi : th->ctx_sp;
        u.copy = copy;
        /* Only what the switch saved: sp, pc, rbp, rbx, r12-r15. */
        for (int k = 0; k < GT_CTX_NREGS; k++) {
            u.regs[ctx_dwarf[k]] = th->ctx[k];
            u.valid |= 1u << ctx_dwarf[k];
        }
    }
    if (copy && zeros(copy, u.copy_hi - u.copy_lo)) {
        /* A parked thread's stack holds at least its return addresses:
         * all zeros is memory the core does not have.  (A fresh
         * context's is not copied: its words are zeros by design.) */
        th->unwind_status = GTO_UNWIND_NO_MEMORY;
        return;
    }
    if (!(flags & GTO_SNAP_NO_FASTPATH) && !from_regs) {
        struct gto_fp_walk fw = {th->ctx_pc, th->ctx_sp, th->ctx_fp, th->stack_hi};
        if (gto__fp_walk(t, &fw, u.copy_lo, copy, u.copy_hi - u.copy_lo, &w->fr,
                         &w->nfr, &w->cap) == 0) {
            th->unwind_status = GTO_UNWIND_OK;
            return;
        }
        w->nfr = 0;
    }
    struct gto_frame *fr = NULL;
    size_t nfr = 0;
    th->unwind_status = gto__unwind_libunwind(&u, th->stack_hi, &fr, &nfr);
    keep_frames(w, fr, nfr);
}

/* Copies TH's whole live stack into *copy (malloc'd; NULL when it has
 * none to copy): 0, or -1 when it cannot be read. */
static int copy_whole(gto_target *t, const struct gto_thread *th, uint8_t **copy)
{
    *copy = NULL;
    if (!copied(th))
        return 0;
    *copy = malloc(th->stack_hi - th->ctx_sp);
    if (!*copy || t->be->read(t, th->ctx_sp, *copy, th->stack_hi - th->ctx_sp) < 0) {
        free(*copy);
        *copy = NULL;
        return -1;
    }
    return 0;
}

/* Re-reads one thread's record and live stack until its seq holds still,
 * and unwinds it from that copy: 0.  1 when the record, read still, is a
 * free slot: the thread exited and its slot was freed since the first
 * copy (th->state is then GTO_STATE_FREE, and the caller drops it: a free
 * slot is no thread, and its stale context no backtrace).  -1 when it
 * never held still. */
static int reread_thread(gto_target *t, gto_snapshot *s, const struct layout *l,
                         struct gto_thread *th, struct walk *w, unsigned flags)
{
    uint32_t rsize = l->size[GT_REC_THREAD][0];
    uint8_t *rec = malloc(rsize);
    if (!rec)
        return -1;
    for (int k = 0; k < RETRIES; k++) {
        uint32_t seq, again;
        uint8_t *copy;
        if (t->be->read(t, th->addr, rec, rsize) < 0)
            break;
        seq = (uint32_t)get(l, GT_REC_THREAD, GT_F_THR_SEQ, rec);
        if (seq & 1)
            continue;
        uint64_t addr = th->addr;
        decode_thread(l, rec, th);
        th->addr = addr;
        th->seq = seq;
        if (copy_whole(t, th, &copy) < 0)
            continue;
        if (t->be->read(t, th->addr + l->off[GT_REC_THREAD][GT_F_THR_SEQ], &again, 4) == 0 &&
            again == seq) {
            if (th->state == GTO_STATE_FREE) {
                free(copy);
                free(rec);
                w->nfr = 0;
                w->how = W_DONE;
                return 1;
            }
            if (unwindable(th) || th->state == GTO_STATE_RUNNING)
                unwind_whole(t, s, th, copy, w, flags);
            else
                th->unwind_status = GTO_UNWIND_BAD_CONTEXT;
            free(copy);
            free(rec);
            return 0;
        }
        free(copy);
    }
    free(rec);
    return -1;
}

/* Reads the windows of every walk in W[0..n) that waits for one, and walks
 * on: a batch of at most WALK_BATCH windows per read_many, rounds until no
 * walk waits.  A walk whose window cannot be read, or that the fast path
 * cannot finish, is left W_WHOLE. */
static int walk_windows(gto_target *t, gto_snapshot *s, size_t b0, struct walk *w,
                        size_t n, struct unwinder *uw, char *err)
{
    for (int more = 1; more;) {
        more = 0;
        for (size_t i = 0; i < n;) {
            size_t nr = 0;
            for (; i < n && nr < WALK_BATCH; i++) {
                if (w[i].how != W_WALK)
                    continue;
                uw->r[nr].addr = w[i].lo;
                uw->r[nr].len = w[i].len;
                uw->r[nr].buf = uw->win + (size_t)nr * WINDOW;
                uw->who[nr++] = i;
            }
            if (!nr)
                continue;
            if (t->be->read_many(t, uw->r, nr, uw->ok) < 0) {
                gto__err(err, "%s exited while being read", t->name);
                return -1;
            }
            for (size_t k = 0; k < nr; k++) {
                struct walk *wk = &w[uw->who[k]];
                struct gto_thread *th = &s->threads[b0 + uw->who[k]];
                const uint8_t *buf = uw->r[k].buf;
                if (!uw->ok[k]) {
                    wk->how = W_WHOLE;
                    continue;
                }
                if (wk->first && zeros(buf, wk->len)) {
                    /* See unwind_whole: memory the core does not have. */
                    th->unwind_status = GTO_UNWIND_NO_MEMORY;
                    wk->how = W_DONE;
                    continue;
                }
                wk->first = 0;
                int r = gto__fp_walk(t, &wk->w, wk->lo, buf, wk->len, &wk->fr,
                                     &wk->nfr, &wk->cap);
                if (r == 0) {
                    th->unwind_status = GTO_UNWIND_OK;
                    wk->how = W_DONE;
                } else if (r > 0 && wk->w.fp > wk->lo) {
                    /* Onwards, up the stack only (the two words may
                     * straddle the window's end): a chain that points
                     * back down is corrupt, and libunwind says so. */
                    wk->lo = wk->w.fp;
                    wk->len = th->stack_hi - wk->lo < WINDOW ?
                                  (size_t)(th->stack_hi - wk->lo) : WINDOW;
                    more = 1;
                } else {
                    wk->how = W_WHOLE;
                }
            }
        }
    }
    return 0;
}

/* The record of every thread of the batch again, in runs of adjacent
 * records (a chunk is one run): a thread that ran while its stack was
 * read has a new seq, and is read again on its own. */
static int recheck_batch(gto_target *t, gto_snapshot *s, const struct layout *l,
                         size_t b0, struct walk *w, struct unwinder *uw, char *err)
{
    size_t n = s->nthreads - b0, nr = 0;
    uint32_t rsize = l->size[GT_REC_THREAD][0], seq_off = l->off[GT_REC_THREAD][GT_F_THR_SEQ];
    uint8_t *buf = t->scratch[GTO_SCRATCH_CHECK].p;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t a = s->threads[b0 + i].addr;
        uw->who[i] = off;
        if (nr && uw->r[nr - 1].addr + uw->r[nr - 1].len == a) {
            uw->r[nr - 1].len += rsize;
        } else {
            uw->r[nr].addr = a;
            uw->r[nr].len = rsize;
            uw->r[nr].buf = buf + off;
            nr++;
        }
        off += rsize;
    }
    if (t->be->read_many(t, uw->r, nr, uw->ok) < 0) {
        gto__err(err, "%s exited while being read", t->name);
        return -1;
    }
    /* Which run each record is in, for its ok[]. */
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        struct gto_thread *th = &s->threads[b0 + i];
        while (run + 1 < nr && (uint8_t *)uw->r[run + 1].buf <= buf + uw->who[i])
            run++;
        uint32_t seq;
        memcpy(&seq, buf + uw->who[i] + seq_off, 4);
        if (th->in_flux || (uw->ok[run] && seq == th->seq))
            continue;
        if (reread_thread(t, s, l, th, &w[i], uw->flags) < 0) {
            th->in_flux = 1;
            th->unwind_status = GTO_UNWIND_IN_FLUX;
            w[i].nfr = 0;
        }
    }
    return 0;
}

/* Unwinds the threads s->threads[b0..] that one batch of records gave,
 * and appends their frames to s->frames. */
static int unwind_batch(gto_target *t, gto_snapshot *s, const struct layout *l,
                        size_t b0, struct unwinder *uw, char *err)
{
    size_t n = s->nthreads - b0;
    if (!n)
        return 0;
    if (n > uw->cap_walks) {
        struct walk *nw = realloc(uw->walks, n * sizeof(*nw));
        if (!nw)
            goto oom;
        memset(nw + uw->cap_walks, 0, (n - uw->cap_walks) * sizeof(*nw));
        uw->walks = nw;
        uw->cap_walks = n;
    }
    size_t nr = n > WALK_BATCH ? n : WALK_BATCH;
    if (nr > uw->cap_r) {
        free(uw->r), free(uw->ok), free(uw->who);
        uw->r = malloc(nr * sizeof(*uw->r));
        uw->ok = malloc(nr);
        uw->who = malloc(nr * sizeof(*uw->who));
        uw->cap_r = nr;
        if (!uw->r || !uw->ok || !uw->who) {
            uw->cap_r = 0;
            goto oom;
        }
    }
    struct walk *w = uw->walks;
    for (size_t i = 0; i < n; i++) {
        struct gto_thread *th = &s->threads[b0 + i];
        struct walk *wk = &w[i];
        wk->nfr = 0;
        wk->how = W_DONE;
        if (th->in_flux)
            continue;
        if (th->state == GTO_STATE_RUNNING) {
            wk->how = W_WHOLE;   /* the backend's registers, or none */
        } else if (!unwindable(th)) {
            th->unwind_status = GTO_UNWIND_BAD_CONTEXT;
        } else if (uw->flags & GTO_SNAP_NO_FASTPATH) {
            wk->how = W_WHOLE;
        } else {
            wk->w = (struct gto_fp_walk){th->ctx_pc, th->ctx_sp, th->ctx_fp,
                                         th->stack_hi};
            if (!copied(th)) {
                /* A fresh context: its one frame, the trampoline, ends
                 * the walk without a word of its stack. */
                int r = gto__fp_walk(t, &wk->w, th->ctx_sp, NULL, 0, &wk->fr,
                                     &wk->nfr, &wk->cap);
                if (r == 0)
                    th->unwind_status = GTO_UNWIND_OK;
                else
                    wk->how = W_WHOLE;
                continue;
            }
            wk->how = W_WALK;
            wk->first = 1;
            wk->lo = th->ctx_sp;
            wk->len = th->stack_hi - th->ctx_sp < WINDOW ?
                          (size_t)(th->stack_hi - th->ctx_sp) : WINDOW;
        }
    }
    if (!uw->win && !(uw->win = malloc((size_t)WALK_BATCH * WINDOW)))
        goto oom;
    if (walk_windows(t, s, b0, w, n, uw, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct gto_thread *th = &s->threads[b0 + i];
        uint8_t *copy;
        if (w[i].how != W_WHOLE)
            continue;
        if (copy_whole(t, th, &copy) == 0) {
            unwind_whole(t, s, th, copy, &w[i], uw->flags);
            free(copy);
        } else if (reread_thread(t, s, l, th, &w[i], uw->flags) < 0) {
            th->in_flux = 1;
            th->unwind_status = GTO_UNWIND_IN_FLUX;
            w[i].nfr = 0;
        }
    }
    if (t->be->memory_moves && recheck_batch(t, s, l, b0, w, uw, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct gto_thread *th = &s->threads[b0 + i];
        struct walk *wk = &w[i];
        uw->first[b0 + i] = uw->used;
        th->nframes = wk->nfr;
        if (!wk->nfr)
            continue;
        /* The trampoline's frame of a fresh context holds nothing of the
         * thread's, so that frame sizes add up to live (0). */
        if (gto_fresh_context(th))
            wk->fr[0].size = 0;
        if (uw->used + wk->nfr > uw->cap_frames) {
            size_t cap = uw->cap_frames ? uw->cap_frames : 1024;
            while (uw->used + wk->nfr > cap)
                cap *= 2;
            struct gto_frame *nf = realloc(s->frames, cap * sizeof(*nf));
            if (!nf)
                goto oom;
            gto__huge_pages(nf, cap * sizeof(*nf));
            s->frames = nf;
            uw->cap_frames = cap;
        }
        memcpy(s->frames + uw->used, wk->fr, wk->nfr * sizeof(*wk->fr));
        uw->used += wk->nfr;
    }
    return 0;
oom:
    gto__err(err, "out of memory for the frames of %zu threads", s->nthreads);
    return -1;
}

/* Drops from the threads s->threads[b0..] those whose record reads as a
 * free slot: a record torn in its last copy that says free (a slot being
 * freed or filled), and a thread that a re-read found freed (its exit,
 * while the batch was read).  A free slot is no thread: listing it would
 * show a state "free" and, from its stale saved context, a backtrace. */
static void drop_free(gto_snapshot *s, size_t b0, struct unwinder *uw)
{
    size_t k = b0;
    for (size_t i = b0; i < s->nthreads; i++) {
        if (s->threads[i].state == GTO_STATE_FREE)
            continue;
        if (k != i) {
            s->threads[k] = s->threads[i];
            if (uw)
                uw->first[k] = uw->first[i];
        }
        k++;
    }
    s->nthreads = k;
}

struct thread_reader {
    gto_snapshot *s;
    const struct layout *l;
    struct unwinder *uw;     /* NULL: no unwinding */
};

/* Grows the thread array of S (and the unwinder's index of frames) to
 * hold NEED threads: it grows with the records read, doubling. */
static int grow_threads(gto_snapshot *s, struct unwinder *uw, size_t need)
{
    if (need <= s->cap_threads)
        return 0;
    size_t cap = s->cap_threads * 2 > need ? s->cap_threads * 2 : need;
    struct gto_thread *a = realloc(s->threads, cap * sizeof(*a));
    if (!a)
        return -1;
    gto__huge_pages(a, cap * sizeof(*a));
    s->threads = a;
    s->cap_threads = cap;
    if (uw) {
        size_t *f = realloc(uw->first, cap * sizeof(*f));
        if (!f)
            return -1;
        uw->first = f;
    }
    return 0;
}

/* Decodes a batch of thread records, and unwinds its threads while the
 * batch's records are fresh. */
static int visit_threads(gto_target *t, const struct slab *sl, void *arg, char *err)
{
    struct thread_reader *tr = arg;
    gto_snapshot *s = tr->s;
    const struct layout *l = tr->l;
    uint32_t rsize = l->size[GT_REC_THREAD][0];
    size_t b0 = s->nthreads;
    if (grow_threads(s, tr->uw, s->nthreads + sl->n + 1) < 0) {
        gto__err(err, "out of memory for %llu threads",
                 (unsigned long long)(s->nthreads + sl->n));
        return -1;
    }
    for (uint64_t i = 0; i < sl->n; i++) {
        const uint8_t *b = sl->recs + i * rsize;
        uint32_t seq = (uint32_t)get(l, GT_REC_THREAD, GT_F_THR_SEQ, b);
        if (get(l, GT_REC_THREAD, GT_F_THR_STATE, b) == GTO_STATE_FREE && !sl->flux[i] && !(seq & 1))
            continue;
        struct gto_thread *th = &s->threads[s->nthreads++];
        memset(th, 0, sizeof(*th));
        decode_thread(l, b, th);
        th->addr = sl->addrs[i];
        th->seq = seq;
        /* In a core, a record caught mid-update stays odd. */
        th->in_flux = sl->flux[i] || (seq & 1);
        th->unwind_status = th->in_flux ? GTO_UNWIND_IN_FLUX : GTO_UNWIND_NOT_TRIED;
    }
    if (tr->uw && unwind_batch(t, s, l, b0, tr->uw, err) < 0)
        return -1;
    drop_free(s, b0, tr->uw);
    return 0;
}

static int read_threads(gto_target *t, gto_snapshot *s, const struct layout *l,
                        const uint8_t *reg, unsigned flags, char *err)
{
    uint32_t rsize = l->size[GT_REC_THREAD][0];
    uint64_t nslots = get(l, GT_REC_REGISTRY, GT_F_REG_THREAD_SLOTS, reg);
    uint64_t per = get(l, GT_REC_REGISTRY, GT_F_REG_THREADS_PER_CHUNK, reg);
    uint64_t count = get(l, GT_REC_REGISTRY, GT_F_REG_THREAD_CHUNK_COUNT, reg);
    /* Bounded before it sizes the thread array (read_slab checks the
     * rest). */
    if (per == 0 || per > MAX_PER_CHUNK || count > MAX_CHUNKS || nslots > count * per) {
        gto__err(err, "%s: the registry's thread chunks are inconsistent (%llu "
                 "chunks of %llu, %llu in use): the registry is corrupt", t->name,
                 (unsigned long long)count, (unsigned long long)per,
                 (unsigned long long)nslots);
        return -1;
    }
    /* Sized by what is read, not by what the registry claims: a count
     * that is damage must not ask for terabytes before a read fails. */
    size_t first = nslots < FIRST_THREADS ? (size_t)nslots : FIRST_THREADS;
    s->threads = thread_array(t, first + 1, &s->cap_threads);
    if (!s->threads) {
        gto__err(err, "out of memory for %llu threads", (unsigned long long)nslots);
        return -1;
    }
    struct unwinder uw = {.flags = flags};
    struct thread_reader tr = {s, l, NULL};
    if (flags & GTO_SNAP_UNWIND) {
        if (gto__unwind_init(t, err) < 0)
            return -1;
        uw.first = malloc(s->cap_threads * sizeof(*uw.first));
        /* Room for 16 frames a thread: address space, not memory, until
         * used; and so big that malloc maps it on its own, where growing
         * it moves no frame (mremap) and touches no page twice. */
        uw.cap_frames = (first + 1) * 16;
        s->frames = malloc(uw.cap_frames * sizeof(*s->frames));
        gto__huge_pages(s->frames, uw.cap_frames * sizeof(*s->frames));
        if (!uw.first || !s->frames) {
            gto__err(err, "out of memory for %llu threads", (unsigned long long)nslots);
            return -1;
        }
        tr.uw = &uw;
    }
    int rc = read_slab(t, "thread chunks", get(l, GT_REC_REGISTRY, GT_F_REG_THREAD_CHUNKS, reg),
                       count, per, nslots, rsize, l->off[GT_REC_THREAD][GT_F_THR_SEQ],
                       visit_threads, &tr, err);
    if (rc == 0 && tr.uw)
        for (size_t i = 0; i < s->nthreads; i++)
            s->threads[i].frames = s->threads[i].nframes ? s->frames + uw.first[i] : NULL;
    unwinder_free(&uw);
    return rc;
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
    if (head.magic != GT_REGISTRY_MAGIC) {
        char m[9];
        for (int i = 0; i < 8; i++) {
            char c = (char)(head.magic >> (8 * i));
            m[i] = c >= 32 && c < 127 ? c : '.';
        }
        m[8] = 0;
        gto__err(err, "%s: gt_registry at %#llx has magic %#llx (\"%s\"), not "
                 "%#llx (\"GTREGSTR\"): not a gt registry, or a corrupt one",
                 t->name, (unsigned long long)t->registry,
                 (unsigned long long)head.magic, m, GT_REGISTRY_MAGIC);
        goto fail;
    }
    if (head.abi != GT_REGISTRY_ABI) {
        gto__err(err, "%s has gt registry ABI %u; this reader reads ABI %u: use "
                 "the tools built with the program's libgt", t->name, head.abi,
                 GT_REGISTRY_ABI);
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
    uint32_t regsize = l.size[GT_REC_REGISTRY][0];
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
    /* The sample is written by another kernel thread (the watchdog's
     * signal handler), seq-bracketed: a live copy is kept when its seq,
     * read again right after, has not moved; else the header is copied
     * again, a few times at most. */
    decode_sample(&l, reg, &s->sample);
    for (int k = 0; t->be->memory_moves && s->sample.usable; k++) {
        uint32_t again;
        if (t->be->read(t, t->registry + l.off[GT_REC_REGISTRY][GT_F_REG_SAMPLE_SEQ],
                        &again, 4) == 0 && again == s->sample.seq)
            break;
        if (k == RETRIES || t->be->read(t, t->registry, reg, regsize) < 0) {
            s->sample.usable = 0;
            break;
        }
        decode_sample(&l, reg, &s->sample);
    }
    decode_counters(&l, reg, &s->c);
    decode_obj_layout(&l, &s->ol);
    if (check_page_size(t, &l, &s->c, err) < 0) {
        free(reg);
        goto fail;
    }
    s->c.started = 1;
    /* The page size steps and sizes the measures: only a real one (a
     * power of two from 4 KiB to 64 KiB; 0, absent, is the reader's). */
    uint64_t page = s->c.page_size;
    if (page && (page < 4096 || page > 65536 || (page & (page - 1)))) {
        gto__err(err, "%s: registry page size %llu is not a page size of this "
                 "machine: the registry is damaged", t->name, (unsigned long long)page);
        free(reg);
        goto fail;
    }
    s->c.now = t->be->now(t, &s->c, &s->c.now_exact);
    /* Threads are unwound while they are read, a batch of records at a
     * time (see WINDOW); measuring reads the pages below each saved sp on
     * its own. */
    int no_threads = s->no_threads = (flags & GTO_SNAP_NO_THREADS) != 0;
    int rc = no_threads ? 0 : read_threads(t, s, &l, reg, flags, err);
    if (rc == 0 && !no_threads && l.size[GT_REC_REGISTRY][GT_F_REG_SPAWNS] == 8) {
        /* Ids are handed out from 1, one per spawn: the counter read
         * after the records bounds every id they hold. */
        uint64_t spawns = s->c.spawns;
        if (t->be->memory_moves)
            t->be->read(t, t->registry + l.off[GT_REC_REGISTRY][GT_F_REG_SPAWNS],
                        &spawns, sizeof(spawns));
        drop_damaged(s, spawns < s->c.spawns ? s->c.spawns : spawns);
    }
    if (rc == 0 && !no_threads && !s->nthreads && !s->c.damaged)
        rc = check_no_threads(t, header_threads(&l, reg), err);
    /* A live target's header copied again after the thread records: the
     * running thread by it, the one that runs now if a record says so
     * (see count_states), and when it began running, from the same copy;
     * the locations and edges by it too (below).  A copy that fails keeps
     * the first: it is as good a header. */
    if (rc == 0 && t->be->memory_moves) {
        uint8_t *reg2 = malloc(regsize);
        if (reg2 && t->be->read(t, t->registry, reg2, regsize) == 0)
            memcpy(reg, reg2, regsize);
        free(reg2);
    }
    if (rc == 0) {
        s->c.current = get(&l, GT_REC_REGISTRY, GT_F_REG_CURRENT, reg);
        s->c.run_start = get(&l, GT_REC_REGISTRY, GT_F_REG_RUN_START, reg);
        s->c.watchdog_ns = get(&l, GT_REC_REGISTRY, GT_F_REG_WATCHDOG_NS, reg);
        s->c.watchdog_events = get(&l, GT_REC_REGISTRY, GT_F_REG_WATCHDOG_EVENTS, reg);
        s->run_switches = get(&l, GT_REC_REGISTRY, GT_F_REG_SWITCHES, reg);
        s->wd_switches = get(&l, GT_REC_REGISTRY, GT_F_REG_WD_SWITCHES, reg);
        s->wd_since = get(&l, GT_REC_REGISTRY, GT_F_REG_WD_SINCE, reg);
        if (!l.size[GT_REC_REGISTRY][GT_F_REG_WD_SWITCHES])
            s->wd_since = 0;
        check_sample(s, &l, reg);
        count_states(s);
        /* No records to count: the header's tallies, from the copy taken
         * last.  Each is exact on its own; together they may be a moment
         * apart (a thread between two states counted in neither or both). */
        for (int i = GTO_STATE_RUNNABLE; no_threads && i < GTO_STATE_COUNT; i++)
            s->c.nstate[i] = get_at(&l, GT_REC_REGISTRY, GT_F_REG_NSTATE, reg, (size_t)i);
        struct gto_counters *c = &s->c;
        c->uptime_ns = c->now > c->clock_base ? c->now - c->clock_base : 0;
        c->idle_total = c->idle_ns + (c->idle_since && c->now > c->idle_since
                                          ? c->now - c->idle_since : 0);
    }
    /* A live target's locations and edges by the copy of the header taken
     * after the thread records: a location a record names was interned
     * before the record was copied, so it is below this copy's count, and
     * a thread's index past it is damage, never a location interned while
     * the threads were read.  (An edge's ends were interned before it.) */
    if (rc == 0)
        rc = read_locations(t, s, &l, reg, flags, err);
    if (rc == 0)
        rc = read_edges(t, s, &l, reg, err);
    if (rc == 0)
        check_thread_locations(s);
    free(reg);
    if (rc < 0)
        goto fail;
    /* A compact core holds each stack's live part only: what lies below
     * is no measure of anything (gto_stack_measures_known). */
    if ((flags & GTO_SNAP_MEASURE) && gto_stack_measures_known(t) &&
        gto__measure(t, s, err) < 0)
        goto fail;
    if ((flags & GTO_SNAP_BLOCKERS) && gto__blockers(t, s, err) < 0)
        goto fail;
    *out = s;
    return 0;
fail:
    if (t->be->replaced)
        t->be->replaced(t, err);
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
    gto__blockers_give_back(t, s->bl);
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
    /* A location's index is its slot (visit_locations): at index - 1. */
    return index && index <= s->nlocs ? &s->locs[index - 1] : NULL;
}

size_t gto_edge_count(const gto_snapshot *s) { return s->nedges; }

const struct gto_edge *gto_edge_at(const gto_snapshot *s, size_t i)
{
    return i < s->nedges ? &s->edges[i] : NULL;
}

