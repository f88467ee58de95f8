/*
 * registry.c - the published registry object, its layout table, and the
 * slabs of thread records.
 *
 * Thread records are carved from chunks of GT_THREADS_PER_CHUNK that are
 * never freed, so a reader that holds a record address can always read it.
 * The chunk pointer array grows by copying into a bigger array; the old one
 * is kept (a reader may still be reading it) and generation is bumped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define F(rec, id, type, member)                                          \
    {rec, id, (uint32_t)offsetof(type, member),                           \
     (uint32_t)sizeof(((type *)0)->member), 0}
#define R(id, m) F(GT_REC_REGISTRY, GT_F_REG_##id, struct gt_registry, m)
#define T(id, m) F(GT_REC_THREAD, GT_F_THR_##id, struct gt__thread, pub.m)
#define L(id, m) F(GT_REC_LOCATION, GT_F_LOC_##id, struct gt_location_rec, m)
#define E(id, m) F(GT_REC_EDGE, GT_F_EDGE_##id, struct gt_edge_rec, m)
#define M(id, m) F(GT_REC_MUTEX, GT_F_MUTEX_##id, gt_mutex_t, m)
#define C(id, m) F(GT_REC_COND, GT_F_COND_##id, gt_cond_t, m)
#define CH(id, m) F(GT_REC_CHAN, GT_F_CHAN_##id, struct gt_chan, m)

static const struct gt_field gt__layout[] = {
    {GT_REC_REGISTRY, GT_F_REG_SIZE, 0, sizeof(struct gt_registry), 0},
    R(PID, pid), R(CLOCK_BASE, clock_base), R(REALTIME_BASE, realtime_base),
    R(CLOCK_NOW, clock_now), R(CURRENT, current), R(GENERATION, generation),
    R(THREAD_CHUNKS, thread_chunks), R(THREAD_CHUNK_CAP, thread_chunk_cap),
    R(THREAD_CHUNK_COUNT, thread_chunk_count),
    R(THREADS_PER_CHUNK, threads_per_chunk), R(THREAD_SLOTS, thread_slots),
    R(LOC_CHUNKS, loc_chunks), R(LOC_CHUNK_COUNT, loc_chunk_count),
    R(LOCS_PER_CHUNK, locs_per_chunk), R(LOC_COUNT, loc_count),
    R(LOC_DEPTH, loc_depth), R(EDGE_CHUNKS, edge_chunks),
    R(EDGE_CHUNK_COUNT, edge_chunk_count),
    R(EDGES_PER_CHUNK, edges_per_chunk), R(EDGE_COUNT, edge_count),
    R(NSTATE, nstate), R(SWITCHES, switches), R(SPAWNS, spawns),
    R(EXITS, exits), R(RUNQ_LEN, runq_len), R(POLLS, polls),
    R(IDLE_NS, idle_ns), R(FILE_IO_CALLS, file_io_calls),
    R(FILE_IO_NS, file_io_ns), R(GUARD_POLICY, guard_policy),
    R(GUARD_MAPPINGS, guard_mappings), R(MAX_MAP_COUNT, max_map_count),
    R(STACK_DEFAULT, stack_default), R(STACK_RESERVED, stack_reserved),
    R(PAGE_SIZE, page_size), R(CANARY, canary),
    R(IDLE_SINCE, idle_since), R(FATAL_NS, fatal_ns),
    R(GUARD_SIZE, guard_size), R(STACK_CACHE, stack_cache),
    R(STACK_CACHE_BYTES, stack_cache_bytes),
    R(STACK_CACHE_MAX, stack_cache_max), R(STACKS_RETURNED, stacks_returned),
    R(RUN_START, run_start), R(WATCHDOG_NS, watchdog_ns),
    R(WATCHDOG_EVENTS, watchdog_events), R(WD_SWITCHES, wd_switches),
    R(WD_SINCE, wd_since), R(SAMPLE_SEQ, sample_seq),
    R(SAMPLE_THREAD, sample_thread), R(SAMPLE_SWITCHES, sample_switches),
    R(SAMPLE_NS, sample_ns), R(SAMPLE_SYSCALL, sample_syscall),
    R(SAMPLE_REGS, sample_regs),

    {GT_REC_THREAD, GT_F_THR_SIZE, 0, sizeof(struct gt__thread), 0},
    T(SEQ, seq), T(ID, id), T(PARENT, parent), T(NAME, name),
    T(STATE, state), T(WAIT_KIND, wait_kind), T(FLAGS, flags),
    T(LOCATION, location), T(WAIT_OBJ, wait_obj), T(WAIT_ARG, wait_arg),
    T(WAIT_SINCE, wait_since), T(DEADLINE, deadline), T(ENTRY, entry),
    T(ARG, arg), T(SPAWN_SITE, spawn_site), T(CREATED, created),
    T(RUN_NS, run_ns), T(SWITCHES, switches), T(STACK_LO, stack_lo),
    T(STACK_HI, stack_hi), T(GUARD_SIZE, guard_size),
    T(CTX_SP, ctx[GT_CTX_SP]), T(CTX_PC, ctx[GT_CTX_PC]),
    T(CTX_FP, ctx[GT_CTX_RBP]), T(CTX_REGS, ctx),
    T(LOC_NEXT, loc_next), T(LOC_PREV, loc_prev),

    {GT_REC_LOCATION, GT_F_LOC_SIZE, 0, sizeof(struct gt_location_rec), 0},
    L(SEQ, seq), L(INDEX, index), L(DEPTH, depth), L(PCS, pcs),
    L(WAIT_KIND, wait_kind), L(WAITING, waiting), L(HEAD, head),
    L(TAIL, tail), L(ARRIVALS, arrivals), L(COMPLETED, completed),
    L(TOTAL_WAIT_NS, total_wait_ns), L(MAX_WAIT_NS, max_wait_ns),
    L(HIST, hist),

    {GT_REC_EDGE, GT_F_EDGE_SIZE, 0, sizeof(struct gt_edge_rec), 0},
    E(SEQ, seq), E(FROM, from), E(TO, to), E(COUNT, count),
    E(RUN_NS, run_ns), E(MAX_RUN_NS, max_run_ns),

    {GT_REC_MUTEX, GT_F_MUTEX_SIZE, 0, sizeof(gt_mutex_t), 0},
    M(OWNER, owner), M(WAITERS, waiters.head), M(MAGIC, magic),
    M(HELD_SINCE, held_since),

    {GT_REC_COND, GT_F_COND_SIZE, 0, sizeof(gt_cond_t), 0},
    C(WAITERS, waiters.head), C(MAGIC, magic),

    {GT_REC_CHAN, GT_F_CHAN_SIZE, 0, sizeof(struct gt_chan), 0},
    CH(MAGIC, magic), CH(CAP, cap), CH(LEN, len), CH(CLOSED, closed),
};

/* Default visibility and `used`: it must reach .dynsym and survive
 * --gc-sections even in a program that never names it. */
__attribute__((visibility("default"), used))
struct gt_registry gt_registry = {
    .magic = GT_REGISTRY_MAGIC,
    .abi = GT_REGISTRY_ABI,
    .header_size = sizeof(struct gt_registry),
    .layout = 0, /* set at init: a pointer in a static initializer would
                  * need a relocation the reader then has to apply */
    .nlayout = sizeof(gt__layout) / sizeof(gt__layout[0]),
#if defined(__x86_64__)
    .arch = 62,
#elif defined(__aarch64__)
    .arch = 183,
#endif
    .threads_per_chunk = GT_THREADS_PER_CHUNK,
    .locs_per_chunk = GT_LOCS_PER_CHUNK,
    .edges_per_chunk = GT_EDGES_PER_CHUNK,
};

int gt__registry_init(void)
{
    struct timespec rt;
    gt__reg.layout = (uint64_t)(uintptr_t)gt__layout;
    gt__reg.pid = (uint64_t)getpid();
    clock_gettime(CLOCK_REALTIME, &rt);
    gt__reg.clock_base = gt__clock();
    gt__reg.realtime_base =
        (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
    gt__reg.page_size = (uint64_t)sysconf(_SC_PAGESIZE);
    return 0;
}

/* Chunk pointer arrays replaced by bigger copies.  Readers may still read
 * an old one, so it is never freed; it stays listed here, so it is not a
 * leak either.  Arrays double, so 64 entries outlast any address space. */
static void *retired[64];
static unsigned nretired;

void gt__retire(void *array)
{
    if (array && nretired < sizeof(retired) / sizeof(retired[0]))
        retired[nretired++] = array;
}

/* ---- where thread records live --------------------------------------------
 *
 * A chunk of records is written for the first time record by record, as
 * threads are spawned, and each of its pages costs a page fault then: with
 * records of ~380 bytes, one fault every ~11 spawns, about 200 ns a spawn
 * on top of the fault of the thread's own stack.  So chunks are carved one
 * after the other from a large reservation whose part beyond the first
 * RECORDS_SMALL bytes is advised MADV_HUGEPAGE: where the kernel grants
 * transparent huge pages, one fault then provides 2 MiB (about 5,500
 * records).  The first RECORDS_SMALL bytes stay in small pages so that a
 * program with a few threads does not hold a huge page for them.  Without
 * THP the advice is ignored and nothing changes.  Memory is never given
 * back: chunks live as long as the runtime (readers hold their addresses).
 */
#define RECORDS_REGION ((size_t)64 << 20)  /* one reservation */
#define RECORDS_SMALL ((size_t)2 << 20)    /* not advised: small programs */
#define HUGE_PAGE ((size_t)2 << 20)

static char *records_cur, *records_end;
static bool records_first_region = true;

/* `bytes` of zeroed memory for records, or NULL when memory runs out. */
static void *records_alloc(size_t bytes)
{
    if ((size_t)(records_end - records_cur) < bytes) {
        size_t size = RECORDS_REGION;
        while (size < bytes + HUGE_PAGE)
            size *= 2;
        /* Fenced by an inaccessible page at each end: otherwise the
         * kernel may merge the region into a neighbouring stack arena's
         * mapping (same flags), and a mapping with guard pages is one
         * that gcore cannot read: the core would hold zeros instead of
         * the records. */
        size_t page = (size_t)gt__reg.page_size;
        char *fence = mmap(NULL, size + 2 * page, PROT_NONE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (fence == MAP_FAILED)
            return NULL;
        char *p = fence + page;
        if (mprotect(p, size, PROT_READ | PROT_WRITE) < 0) {
            munmap(fence, size + 2 * page);
            return NULL;
        }
        /* Huge pages need 2 MiB alignment: start the advised part there
         * (and, past the first region, the records too). */
        char *aligned = (char *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1));
        char *advised = records_first_region ? aligned + RECORDS_SMALL : aligned;
        if (advised < p + size)
            madvise(advised, (size_t)(p + size - advised), MADV_HUGEPAGE);
        records_cur = records_first_region ? p : aligned;
        records_end = p + size;
        records_first_region = false;
    }
    void *c = records_cur;
    records_cur += (bytes + 63) & ~(size_t)63;
    return c;
}

/* Adds one chunk of thread records; the new slots go on the free list in
 * address order so that low slots are used first. */
int gt__add_thread_chunk(void)
{
    struct gt_registry *r = &gt_registry;
    struct gt__thread **chunks = (struct gt__thread **)(uintptr_t)r->thread_chunks;
    if (r->thread_chunk_count == r->thread_chunk_cap) {
        uint32_t cap = r->thread_chunk_cap ? r->thread_chunk_cap * 2 : 64;
        struct gt__thread **n = calloc(cap, sizeof(*n));
        if (!n)
            return -1;
        if (chunks)
            memcpy(n, chunks, r->thread_chunk_count * sizeof(*n));
        /* The old array stays allocated: a reader may hold its address. */
        gt__retire(chunks);
        r->thread_chunks = (uint64_t)(uintptr_t)n;
        r->thread_chunk_cap = cap;
        r->generation++;
        chunks = n;
    }
    struct gt__thread *c = records_alloc(GT_THREADS_PER_CHUNK * sizeof(*c));
    if (!c)
        return -1;
    uint64_t base = (uint64_t)r->thread_chunk_count * GT_THREADS_PER_CHUNK;
    for (uint32_t i = GT_THREADS_PER_CHUNK; i-- > 0;) {
        c[i].slot = base + i;
        c[i].free_next = gt__sched.free_slots;
        gt__sched.free_slots = &c[i];
    }
    chunks[r->thread_chunk_count] = c;
    /* Its records are free ones; without this nstate[FREE] counted only
     * the records given back, and went below zero at the first spawn. */
    gt__reg.nstate[GT_STATE_FREE] += GT_THREADS_PER_CHUNK;
    atomic_thread_fence(memory_order_release);
    r->thread_chunk_count++;
    return 0;
}

/* Two ways in for readers that have no symbol table:
 * - .debug_gdb_scripts names the GDB loader, so GDB loads the extension
 *   by itself (with the usual add-auto-load-safe-path);
 * - a note "gt" of type 1 holds the registry's address relative to the
 *   note's own descriptor, so a reader finds the registry in a stripped,
 *   fully static executable too (add the load bias for PIE). */
/* The runtime's own name for the registry: hidden, so its accesses are
 * PC-relative instead of going through the GOT, and the note's link-time
 * constant does not depend on what the dynamic linker binds. */
extern struct gt_registry gt__reg
    __attribute__((alias("gt_registry"), visibility("hidden")));

__asm__(".pushsection \".debug_gdb_scripts\", \"MS\", @progbits, 1\n"
        ".byte 1\n"
        ".asciz \"gt-gdb.py\"\n"
        ".popsection\n"
        ".pushsection .note.gt, \"a\", @note\n"
        ".balign 4\n"
        ".long 3\n"
        ".long 8\n"
        ".long 1\n"
        ".asciz \"gt\"\n"
        ".balign 4\n"
        "1: .quad gt__reg - 1b\n"
        ".popsection\n");
