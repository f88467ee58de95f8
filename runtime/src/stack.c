/*
 * stack.c - thread stacks: carved from large arenas, guarded, recycled.
 *
 * 100,000 stacks as separate mappings would hit vm.max_map_count (65,530
 * by default), so stacks are carved from arenas of ARENA_SIZE bytes, each
 * one mapping (MAP_NORESERVE: only touched pages cost memory).  A slot is
 * [guard page][usable stack]; the guard is, by preference:
 *   1. MADV_GUARD_INSTALL (Linux 6.13+): a fault page that costs no VMA;
 *   2. mprotect(PROT_NONE): splits the arena mapping, so it is used only
 *      while the map count stays well under vm.max_map_count;
 *   3. a canary word at the stack's low end, checked at every switch.
 * The policy in force is published in the registry.
 *
 * Freed stacks go on a free list per size, LIFO (the hottest stack is
 * reused first).  At free, everything below the top page goes back to the
 * kernel (MADV_DONTNEED), so the next thread's stack reads as zero below
 * what it touched itself: "touched" (lowest non-zero word) stays true.
 *
 * THE GUARD is GUARD_DEFAULT (64 KiB) unless GT_GUARD_SIZE says otherwise.
 * One page was not enough: a frame bigger than the guard jumps it and
 * writes into the stack below, a neighbour's, which crashes later and is
 * blamed.  gt.pc gives programs -fstack-clash-protection, which probes
 * every page of a big frame, so the guard is hit first; with that, any
 * guard of a probe interval or more is sound (GCC assumes 4 KiB on x86-64,
 * 64 KiB on AArch64).  The rest covers code built without it (libraries):
 * an unprobed frame of up to 64 KiB, the largest common local buffer and
 * glibc's own alloca limit (__MAX_ALLOCA_CUTOFF), still lands in the
 * guard.  What it costs: no mapping (MADV_GUARD_INSTALL) or one mapping
 * whatever its size (mprotect); page-table entries for the guard's 16
 * pages, 128 bytes per thread; and address space, 128 KiB per 64 KiB
 * thread instead of 68, which 1M threads take 128 GB of, 0.1% of the
 * 128 TiB a process has.
 *
 * THE CACHE: a freed stack keeps its top page (and the free list's link
 * in it) only while fewer than cache_max (GT_STACK_CACHE, default 256:
 * 1 MiB) stacks are kept so: the next spawn then costs no page fault.
 * Beyond that every page goes back, so memory comes down after a peak of
 * threads; the stack keeps its address space and guard, and is reused
 * (zero, a fault on first touch) before any new one is carved.  Those
 * pages go back RETURN_BATCH stacks per system call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <valgrind/valgrind.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include "internal.h"
#include "sys.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define ARENA_SIZE ((size_t)256 << 20)
#define GUARD_DEFAULT ((size_t)64 << 10)
#define GUARD_MAX ((size_t)GT_STACK_MAX)
#define CACHE_DEFAULT 256
#define CACHE_MAX 1048576
#define RETURN_BATCH 64
#define MAX_CLASSES 16
/* Mappings kept free for the rest of the program when using mprotect. */
#define MAP_COUNT_RESERVE 4096

#define CARVE_BATCH 64
#define CARVE_BYTES ((size_t)16 << 20) /* at most this much per batch */

struct size_class {
    size_t size;                /* usable bytes */
    void *warm;                 /* stack_hi of a cached free stack; next
                                 * pointer stored just below it */
    char *fresh[CARVE_BATCH];   /* stack_hi of carved, never-used stacks */
    unsigned nfresh;
    char **cold;                /* stack_hi of free stacks holding no page */
    size_t ncold, cold_cap;
};

static struct size_class classes[MAX_CLASSES];
static unsigned nclasses;
static char *arena_cur, *arena_end;
static size_t page;
static int pidfd = -1; /* for process_madvise on ourselves */
static size_t default_size;
static size_t guard_bytes;  /* below each stack; a multiple of page */
static uint64_t cache_max;  /* warm free stacks kept at most */

/* Freed stacks beyond the cache, waiting for their pages to go back in
 * one process_madvise: iov is each one's [lo, hi). */
static struct {
    struct iovec iov[RETURN_BATCH];
    struct size_class *cls[RETURN_BATCH];
    unsigned n;
} returning;
static bool batch_dontneed = true; /* process_madvise takes MADV_DONTNEED */
/* Set once at init: valgrind's client requests cost a few ns each even
 * outside valgrind (a magic instruction sequence), twice per thread. */
static bool on_valgrind;
#if defined(__x86_64__)
static bool have_avx2; /* all_zero can read 32-byte words */
#endif

size_t gt__stack_default(void) { return default_size; }

static uint64_t read_max_map_count(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    unsigned long long v = 65530;
    if (f) {
        if (fscanf(f, "%llu", &v) != 1)
            v = 65530;
        fclose(f);
    }
    return v;
}

static enum gt_guard_policy probe_guard_policy(void)
{
    void *p = mmap(NULL, page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return GT_GUARD_CANARY;
    int r = madvise(p, page, MADV_GUARD_INSTALL);
    munmap(p, page);
    return r == 0 ? GT_GUARD_MADVISE : GT_GUARD_MPROTECT;
}

/* See internal.h. */
size_t gt__env_number(const char *name, const char *unit, size_t lo, size_t hi,
                      size_t dflt)
{
    const char *e = getenv(name);
    if (!e)
        return dflt;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(e, &end, 0);
    if (*e && !*end && !errno && v >= lo && v <= hi)
        return (size_t)v;
    fprintf(stderr, "gt: %s=%s is not a number of %s in %zu..%zu; using %zu\n",
            name, e, unit, lo, hi, dflt);
    return dflt;
}

int gt__stacks_init(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    default_size = gt__env_number("GT_STACK_SIZE", "bytes", GT_STACK_MIN, GT_STACK_MAX,
                              64 * 1024);
    default_size = (default_size + page - 1) & ~(page - 1);
    gt__reg.stack_default = default_size;
    guard_bytes = gt__env_number("GT_GUARD_SIZE", "bytes", page, GUARD_MAX, GUARD_DEFAULT);
    guard_bytes = (guard_bytes + page - 1) & ~(page - 1);
    if (guard_bytes < page)
        guard_bytes = page; /* a 64 KiB page: at least one */
    gt__reg.guard_size = guard_bytes;
    cache_max = gt__env_number("GT_STACK_CACHE", "stacks", 0, CACHE_MAX, CACHE_DEFAULT);
    gt__reg.stack_cache_max = cache_max;
    gt__reg.max_map_count = read_max_map_count();
    enum gt_guard_policy probed = probe_guard_policy();
    gt__reg.guard_policy = probed;
    on_valgrind = RUNNING_ON_VALGRIND != 0;
    /* valgrind knows nothing of MADV_GUARD_INSTALL: to it the guards are
     * ordinary memory, and each of its own accesses to one is a fault it
     * recovers from, page by page; with 64 KiB guards a test of a thousand
     * threads went from seconds to minutes.  It does follow mprotect. */
    if (on_valgrind && gt__reg.guard_policy == GT_GUARD_MADVISE)
        gt__reg.guard_policy = GT_GUARD_MPROTECT;
    /* GT_GUARD=canary|mprotect|madvise overrides the choice (madvise only
     * where the kernel has it). */
    const char *g = getenv("GT_GUARD");
    if (g && !strcmp(g, "canary"))
        gt__reg.guard_policy = GT_GUARD_CANARY;
    else if (g && !strcmp(g, "mprotect"))
        gt__reg.guard_policy = GT_GUARD_MPROTECT;
    else if (g && !strcmp(g, "madvise"))
        gt__reg.guard_policy = probed; /* asked for, even under valgrind */
    else if (g)
        fprintf(stderr, "gt: GT_GUARD=%s is not canary, mprotect or madvise; "
                        "keeping the default\n", g);
#if defined(__x86_64__)
    __builtin_cpu_init();
    have_avx2 = __builtin_cpu_supports("avx2");
#endif
    /* valgrind knows neither pidfd_open nor process_madvise. */
    if (!on_valgrind)
        pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    gt__reg.canary = 0x6774206361727921ull ^ (uint64_t)(uintptr_t)&page;
    return 0;
}

/* A new region of at least `need` bytes; tries smaller arenas when the
 * address space is tight (RLIMIT_AS), down to just what is needed. */
static int new_arena(size_t need)
{
    size_t size = need > ARENA_SIZE / 4 ? need : ARENA_SIZE;
    for (;;) {
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED) {
            arena_cur = p;
            arena_end = (char *)p + size;
            gt__reg.guard_mappings++;
            return 0;
        }
        if (size == need)
            return -1;
        size = size / 2 > need ? size / 2 : need;
    }
}

static void guard(char *g)
{
    switch (gt__reg.guard_policy) {
    case GT_GUARD_MADVISE:
        if (madvise(g, guard_bytes, MADV_GUARD_INSTALL) == 0)
            return;
        break;
    case GT_GUARD_MPROTECT:
        if (gt__reg.guard_mappings + 2 + MAP_COUNT_RESERVE <
                gt__reg.max_map_count &&
            mprotect(g, guard_bytes, PROT_NONE) == 0) {
            gt__reg.guard_mappings += 2;
            return;
        }
        break;
    default:
        return;
    }
    /* The preferred guard failed: from now on, every new stack gets a
     * canary instead, and the registry says so. */
    gt__reg.guard_policy = GT_GUARD_CANARY;
}

static struct size_class *class_for(size_t size)
{
    for (unsigned i = 0; i < nclasses; i++)
        if (classes[i].size == size)
            return &classes[i];
    if (nclasses == MAX_CLASSES)
        return NULL; /* uncommon sizes are simply not recycled */
    classes[nclasses].size = size;
    return &classes[nclasses++];
}

/* Guards a batch of new slots (their guard pages start at g[i]) with one
 * process_madvise call: a guard costs the kernel about as much as a first
 * page fault, and one call per stack would add its syscall on top. */
static void guard_batch(char **g, unsigned n)
{
    if (gt__reg.guard_policy == GT_GUARD_MADVISE && pidfd >= 0) {
        struct iovec iov[CARVE_BATCH];
        for (unsigned i = 0; i < n; i++) {
            iov[i].iov_base = g[i];
            iov[i].iov_len = guard_bytes;
        }
        if (syscall(SYS_process_madvise, pidfd, iov, (size_t)n,
                    MADV_GUARD_INSTALL, 0u) == (long)(n * guard_bytes))
            return;
        sys_close(pidfd); /* not supported here: one madvise per guard */
        pidfd = -1;
    }
    for (unsigned i = 0; i < n; i++)
        guard(g[i]);
}

/* Carves up to a batch of slots for class c from the arena. */
static int carve(struct size_class *c, bool recycled)
{
    size_t slot = c->size + guard_bytes;
    if ((size_t)(arena_end - arena_cur) < slot && new_arena(slot) < 0)
        return -1;
    size_t want = CARVE_BYTES / slot;
    want = want < 1 || !recycled ? 1 : want > CARVE_BATCH ? CARVE_BATCH : want;
    size_t room = (size_t)(arena_end - arena_cur) / slot;
    unsigned n = (unsigned)(want < room ? want : room);
    char *g[CARVE_BATCH];
    for (unsigned i = 0; i < n; i++) {
        g[i] = arena_cur;
        arena_cur += slot;
        /* Handed out lowest first: fresh[] is used from its end. */
        c->fresh[n - 1 - i] = g[i] + slot;
    }
    c->nfresh = n;
    gt__reg.stack_reserved += n * slot;
    guard_batch(g, n);
    return 0;
}

/* Remembers a stack whose pages have gone back; it is lost (its address
 * space, not memory) only if there is no memory to remember it with. */
static void cold_push(struct size_class *c, char *hi)
{
    if (c->ncold == c->cold_cap) {
        size_t cap = c->cold_cap ? c->cold_cap * 2 : 64;
        char **n = realloc(c->cold, cap * sizeof(*n));
        if (!n)
            return;
        c->cold = n;
        c->cold_cap = cap;
    }
    c->cold[c->ncold++] = hi;
    gt__reg.stacks_returned++;
}

#if defined(__SANITIZE_ADDRESS__)
/* AddressSanitizer keeps a shadow byte per 8 bytes of the stack: give its
 * pages back too (zero shadow is "addressable", what a new stack gets).
 * With them go the shadow pages of the guards on either side (this
 * slot's below lo, the next slot's above hi): no one uses a guard, but
 * the shadow page a stack's top shares with the guard above it is
 * written whenever the stack's shadow is, and was held for every slot. */
static void release_shadow(const char *lo, size_t len)
{
    size_t scale, offset;
    __asan_get_shadow_mapping(&scale, &offset);
    uintptr_t a = (uintptr_t)lo - guard_bytes;
    uintptr_t b = (uintptr_t)lo + len + guard_bytes;
    uintptr_t mask = ~(uintptr_t)(page - 1);
    uintptr_t s = (((a >> scale) + offset) + page - 1) & mask;
    uintptr_t e = ((b >> scale) + offset) & mask;
    if (e > s)
        madvise((void *)s, e - s, MADV_DONTNEED);
}
#endif

void gt__stacks_trim(void)
{
    unsigned n = returning.n;
    if (!n)
        return;
    returning.n = 0;
    size_t bytes = 0;
    for (unsigned i = 0; i < n; i++)
        bytes += returning.iov[i].iov_len;
    /* One call for the batch (Linux 6.13 takes any advice for the
     * calling process); else one madvise each. */
    long r = -1;
    if (pidfd >= 0 && batch_dontneed) {
        r = syscall(SYS_process_madvise, pidfd, returning.iov, (size_t)n,
                    MADV_DONTNEED, 0u);
        if (r < 0)
            batch_dontneed = false;
    }
    for (unsigned i = 0; i < n; i++) {
        char *lo = returning.iov[i].iov_base;
        size_t len = returning.iov[i].iov_len;
        if (r != (long)bytes)
            madvise(lo, len, MADV_DONTNEED);
#if defined(__SANITIZE_ADDRESS__)
        release_shadow(lo, len);
#endif
        cold_push(returning.cls[i], lo + len);
    }
    gt__reg.stack_cache_bytes -= bytes;
}

/* A stack of class c that no thread uses, not from the warm cache: one
 * carved and never used, else one whose pages went back, else a new one;
 * NULL when memory runs out. */
static char *take_unused(struct size_class *c)
{
    if (c->nfresh)
        return c->fresh[--c->nfresh];
    if (!c->ncold && returning.n)
        gt__stacks_trim(); /* some of the batch may be of this class */
    if (c->ncold) {
        gt__reg.stacks_returned--;
        return c->cold[--c->ncold];
    }
    if (carve(c, true) < 0)
        return NULL;
    return c->fresh[--c->nfresh];
}

/* Hands out stacks whose top 16 bytes are zero (the first frame of
 * gt__ctx_init relies on it), without touching a never-used stack. */
int gt__stack_alloc(struct gt__thread *t, size_t size)
{
    size = (size + page - 1) & ~(page - 1);
    struct size_class *c = class_for(size);
    char *hi;
    if (GT__UNLIKELY(!c)) {
        /* An odd size beyond the classes: carve just one, never recycled. */
        static struct size_class once;
        once.size = size;
        once.nfresh = 0;
        if (carve(&once, false) < 0)
            return -1;
        hi = once.fresh[0];
    } else if (c->warm) {
        hi = c->warm;
        c->warm = ((void **)hi)[-1];
        ((void **)hi)[-1] = NULL; /* the top 16 bytes are zero again */
        gt__reg.stack_cache--;
        gt__reg.stack_cache_bytes -= page;
    } else {
        hi = take_unused(c);
        if (!hi)
            return -1;
    }
    char *lo = hi - size;
#if defined(__SANITIZE_ADDRESS__)
    /* The frames of the stack's last thread never returned (it switched
     * away in gt_exit): their redzones are still poisoned. */
    __asan_unpoison_memory_region(lo, size);
#endif
    t->pub.stack_lo = (uint64_t)(uintptr_t)lo;
    t->pub.stack_hi = (uint64_t)(uintptr_t)hi;
    t->low_water = (uint64_t)(uintptr_t)hi;
    t->pub.guard_size = gt__reg.guard_policy == GT_GUARD_CANARY ? 0 : guard_bytes;
    if (gt__reg.guard_policy == GT_GUARD_CANARY)
        *(uint64_t *)lo = gt__reg.canary;
    if (GT__UNLIKELY(on_valgrind))
        t->vg_stack = VALGRIND_STACK_REGISTER(lo, hi);
    return 0;
}

/* The bytes just below a stack's top page that went_deep reads. */
#define DEEP_PROBE_BYTES 512

/* Are the DEEP_PROBE_BYTES at p (page-aligned plus a multiple of 128)
 * all zero?  32-byte words into four accumulators: a word-at-a-time loop
 * is one long dependency chain of ORs, 64 steps, and cost a fifth of a
 * spawn-to-join cycle.  Where the CPU lacks 32-byte registers the
 * compiler splits each word in two. */
static inline __attribute__((always_inline)) bool all_zero_words(const char *p)
{
    typedef uint64_t v4 __attribute__((vector_size(32), may_alias));
    const v4 *w = (const v4 *)(const void *)p;
    v4 a = w[0], b = w[1], c = w[2], d = w[3];
    for (unsigned i = 4; i < DEEP_PROBE_BYTES / sizeof(v4); i += 4) {
        a |= w[i];
        b |= w[i + 1];
        c |= w[i + 2];
        d |= w[i + 3];
    }
    a |= b | c | d;
    return (a[0] | a[1] | a[2] | a[3]) == 0;
}

#if defined(__x86_64__)
/* The same with AVX2's 32-byte registers: about 5 ns instead of 9 here,
 * on every exit of a thread that never parked. */
__attribute__((target("avx2"))) static bool all_zero_avx2(const char *p)
{
    return all_zero_words(p);
}
#endif

static bool all_zero(const char *p)
{
#if defined(__x86_64__)
    if (GT__LIKELY(have_avx2))
        return all_zero_avx2(p);
#endif
    return all_zero_words(p);
}

/* Did the thread leave marks below its top page?  A thread that ever
 * parked lived long enough that a madvise (about a microsecond here) is
 * noise: assume so.  For a thread that ran start to finish in one go, the
 * churn case, look: it went deep if it called into gt below its top page
 * (low_water), or if the top of the next page down, where any frame that
 * crosses the boundary keeps its return address and saved registers, is
 * not all zero.  That read costs one fault the first time (the kernel maps
 * its shared zero page) and nothing while the stack keeps being reused.
 * The one case this misses: a frame that spans the whole next page without
 * writing its top, in a thread that never parks.  Its next user's stack
 * then holds the old words below its own, and reads as touched that deep. */
static bool went_deep(const struct gt__thread *t, char *hi)
{
    if (t->pub.switches > 1 || t->low_water < (uint64_t)(uintptr_t)(hi - page))
        return true;
    /* Under valgrind the probe is a read below a stack pointer it may
     * still count this stack's (an error it reports): give the pages
     * back instead of looking. */
    if (GT__UNLIKELY(on_valgrind))
        return true;
    return !all_zero(hi - page - DEEP_PROBE_BYTES);
}

void gt__stack_free(struct gt__thread *t)
{
    char *lo = (char *)(uintptr_t)t->pub.stack_lo;
    char *hi = (char *)(uintptr_t)t->pub.stack_hi;
    size_t size = (size_t)(hi - lo);
    if (GT__UNLIKELY(on_valgrind))
        VALGRIND_STACK_DEREGISTER(t->vg_stack);
    struct size_class *c = class_for(size);
    /* Give back all but the top page of a stack that went deeper: the next
     * thread then starts with a stack that reads as zero below its top
     * page ("touched" stays true), and memory a deep call once used is not
     * held by a stack that sits idle. */
    if (!c) {
        /* An odd size is not recycled: its memory goes back whole; the
         * address space stays with the arena. */
        madvise(lo, size, MADV_DONTNEED);
        return;
    }
    if (GT__LIKELY(gt__reg.stack_cache < cache_max)) {
        if (went_deep(t, hi))
            madvise(lo, size - page, MADV_DONTNEED);
        ((void **)hi)[-1] = c->warm;
        c->warm = hi;
        gt__reg.stack_cache++;
        gt__reg.stack_cache_bytes += page;
        return;
    }
    /* Beyond the cache: every page goes back, with the next batch. */
    returning.iov[returning.n].iov_base = lo;
    returning.iov[returning.n].iov_len = size;
    returning.cls[returning.n] = c;
    gt__reg.stack_cache_bytes += size;
    if (++returning.n == RETURN_BATCH)
        gt__stacks_trim();
}

void gt__stack_release(struct gt__thread *t)
{
    char *lo = (char *)(uintptr_t)t->pub.stack_lo;
    char *hi = (char *)(uintptr_t)t->pub.stack_hi;
    /* All of it, the top page too: that page is what an idle thread would
     * otherwise hold.  The whole range, not down to low_water: a deep call
     * between gt calls leaves pages low_water never saw, and the stack must
     * read as zero below what the restarted thread touches.  Under the
     * canary policy the lowest page keeps the canary. */
    char *from = gt__reg.guard_policy == GT_GUARD_CANARY ? lo + page : lo;
    madvise(from, (size_t)(hi - from), MADV_DONTNEED);
#if defined(__SANITIZE_ADDRESS__)
    __asan_unpoison_memory_region(lo, (size_t)(hi - lo));
#endif
    t->low_water = (uint64_t)(uintptr_t)hi;
}

void gt__stack_check(struct gt__thread *t)
{
    if (*(uint64_t *)(uintptr_t)t->pub.stack_lo == gt__reg.canary)
        return;
    char msg[160];
    int n = snprintf(msg, sizeof(msg),
                     "gt: stack overflow in green thread %llu \"%s\": its "
                     "%llu-byte stack canary was overwritten\n",
                     (unsigned long long)t->pub.id, t->pub.name,
                     (unsigned long long)(t->pub.stack_hi - t->pub.stack_lo));
    if (n > 0)
        (void)!write(2, msg, (size_t)n);
    abort();
}
