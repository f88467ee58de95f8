/*
 * test_stacks.c - memory comes back after a peak of threads.
 *
 * PEAK_THREADS threads each touch TOUCH_BYTES of stack and park, all at
 * once; then they all exit.  Ground truth, independent of the runtime's
 * own counts: mincore(2) says which pages of their stacks are still
 * resident, /proc/self/status says how much anonymous memory the process
 * holds (RssAnon).  Only the warm cache of freed stacks may keep memory:
 * a page each, at most stack_cache_max of them.
 */
#include "test.h"

#include <gt/registry.h>
#include <sys/mman.h>
#include <unistd.h>

#define PEAK_THREADS 10000
#define TOUCH_BYTES (32 * 1024)

static gt_mutex_t lock = GT_MUTEX_INITIALIZER;
static gt_cond_t cond = GT_COND_INITIALIZER;
static int go, parked;
static gt_t *handles;
static uint64_t *lo, *hi; /* each thread's stack, as its record said */

/* RssAnon of this process, in bytes. */
static size_t rss_anon(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long kb = 0;
    int found = 0;

    ASSERT_NOT_NULL(f);
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "RssAnon: %lu kB", &kb) == 1)
            found = 1;
    fclose(f);
    if (!found)
        FAIL("no RssAnon line in /proc/self/status");
    return kb * 1024;
}

/* Resident pages of [a, b), page-aligned. */
static size_t resident_pages(uint64_t a, uint64_t b)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t n = (size_t)(b - a) / page, count = 0;
    unsigned char vec[4096];

    ASSERT_LE(n, sizeof vec);
    ASSERT_OK(mincore((void *)(uintptr_t)a, (size_t)(b - a), vec));
    for (size_t i = 0; i < n; i++)
        count += vec[i] & 1;
    return count;
}

__attribute__((noinline)) static void toucher(void *arg)
{
    volatile char buf[TOUCH_BYTES];
    (void)arg;
    for (size_t i = 0; i < sizeof buf; i += 512)
        buf[i] = 1;
    ASSERT_EQ(gt_mutex_lock(&lock), 0);
    parked++;
    while (!go)
        ASSERT_EQ(gt_cond_wait(&cond, &lock), 0);
    ASSERT_EQ(gt_mutex_unlock(&lock), 0);
    __asm__ volatile("" : : "r"(buf) : "memory");
}

/* One peak: every thread touches its stack and parks, then all exit. */
static void peak(size_t *rss_peak)
{
    go = parked = 0;
    for (int i = 0; i < PEAK_THREADS; i++) {
        handles[i] = tu_spawn(toucher, NULL);
        const struct gt_thread_rec *r = (const struct gt_thread_rec *)handles[i].rec;
        lo[i] = r->stack_lo;
        hi[i] = r->stack_hi;
    }
    while (parked < PEAK_THREADS)
        ASSERT_EQ(gt_yield(), 0);
    *rss_peak = rss_anon();
    ASSERT_EQ(gt_mutex_lock(&lock), 0);
    go = 1;
    ASSERT_EQ(gt_cond_broadcast(&cond), 0);
    ASSERT_EQ(gt_mutex_unlock(&lock), 0);
    for (int i = 0; i < PEAK_THREADS; i++)
        tu_join(handles[i]);
    /* The scheduler idles here: the last batch of freed stacks goes back.
     * Not at the first sleep for sure: when this thread comes back to the
     * scheduler after its timer is already due (a loaded machine), the
     * scheduler runs it again without idling.  So sleep until the batch
     * has gone (the bytes held are then the warm cache's, a page each),
     * for at most 5 s. */
    for (int i = 0; i < 5000 && gt_registry.stack_cache_bytes !=
                                    gt_registry.stack_cache * (uint64_t)sysconf(_SC_PAGESIZE);
         i++)
        ASSERT_EQ(gt_sleep_ns(TU_MS), 0);
}

static void after_peak(void *arg)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t rss_peak;
    (void)arg;

    handles = calloc(PEAK_THREADS, sizeof *handles);
    lo = calloc(PEAK_THREADS, sizeof *lo);
    hi = calloc(PEAK_THREADS, sizeof *hi);
    ASSERT_NOT_NULL(handles);
    ASSERT_NOT_NULL(lo);
    ASSERT_NOT_NULL(hi);
    size_t rss0 = rss_anon();
    ASSERT_EQ(gt_registry.guard_size, 64 * 1024); /* the default */

    peak(&rss_peak);
    size_t rss1 = rss_anon();
    /* The peak was real: every thread held what it touched. */
    ASSERT_GE(rss_peak - rss0, (size_t)PEAK_THREADS * TOUCH_BYTES);

    /* What the freed stacks hold: at most a page each for the cache. */
    size_t resident = 0;
    for (int i = 0; i < PEAK_THREADS; i++)
        resident += resident_pages(lo[i], hi[i]);
    uint64_t cache_max = gt_registry.stack_cache_max;
    ASSERT_GT(cache_max, 0);
    ASSERT_LT(cache_max, PEAK_THREADS / 4);
    if (resident > cache_max)
        FAIL("%zu pages of %d freed stacks are still resident; the warm "
             "cache may keep %llu", resident, PEAK_THREADS,
             (unsigned long long)cache_max);

    /* And the process as a whole: back to where it started, but for the
     * cache's pages, the thread records (never freed: readers hold their
     * addresses), and a little heap.  Records past the first 2 MiB may
     * come in huge pages. */
    size_t recsize = 0;
    const struct gt_field *f = (const struct gt_field *)(uintptr_t)gt_registry.layout;
    for (uint32_t i = 0; i < gt_registry.nlayout; i++)
        if (f[i].rec == GT_REC_THREAD && f[i].id == 0)
            recsize = f[i].size;
    ASSERT_GT(recsize, 0);
    size_t huge = 2u << 20;
    size_t records = ((size_t)PEAK_THREADS * recsize + huge - 1) / huge * huge + huge;
    size_t slack = 4u << 20;
#if defined(__SANITIZE_ADDRESS__)
    slack += cache_max * (size_t)gt_registry.stack_default / 8; /* their shadow */
#endif
    size_t bound = (size_t)cache_max * page + records + slack;
    if (rss1 > rss0 + bound)
        FAIL("RssAnon is %zu KiB after %d threads that touched %d KiB each "
             "exited, %zu KiB above the %zu KiB before them (peak %zu KiB); "
             "the cache, the records and slack allow %zu KiB",
             rss1 >> 10, PEAK_THREADS, TOUCH_BYTES >> 10, (rss1 - rss0) >> 10,
             rss0 >> 10, rss_peak >> 10, bound >> 10);
    printf("RssAnon %zu KiB before, %zu KiB at the peak, %zu KiB after\n",
           rss0 >> 10, rss_peak >> 10, rss1 >> 10);

    /* The registry tells the same: a full warm cache, a page each, and
     * the rest returned. */
    ASSERT_EQ(gt_registry.stack_cache, cache_max);
    ASSERT_EQ(gt_registry.stack_cache_bytes, cache_max * page);
    ASSERT_EQ(gt_registry.stacks_returned, PEAK_THREADS - cache_max);

    /* A second peak reuses those stacks: no new address space. */
    uint64_t reserved = gt_registry.stack_reserved;
    peak(&rss_peak);
    ASSERT_EQ(gt_registry.stack_reserved, reserved);
    ASSERT_EQ(gt_registry.stack_cache, cache_max);
    /* (Carved stacks never used before are taken first: a few more of
     * the returned ones may sit unused now.) */
    ASSERT_GE(gt_registry.stacks_returned, PEAK_THREADS - cache_max);
    free(handles);
    free(lo);
    free(hi);
}

TEST_IMPL(stacks_memory_returns_after_peak)
{
    tu_run(after_peak, NULL);
}

/* GT_GUARD_SIZE and GT_STACK_CACHE set what the registry says. */
static void report_config(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_registry.guard_size, 256 * 1024);
    ASSERT_EQ(gt_registry.stack_cache_max, 3);
    gt_t t = tu_spawn(toucher, NULL);
    const struct gt_thread_rec *r = (const struct gt_thread_rec *)t.rec;
    if (gt_registry.guard_policy != GT_GUARD_CANARY)
        ASSERT_EQ(r->guard_size, 256 * 1024);
    ASSERT_EQ(gt_mutex_lock(&lock), 0);
    go = 1;
    ASSERT_EQ(gt_mutex_unlock(&lock), 0);
    tu_join(t);
}

TEST_IMPL(stacks_guard_and_cache_from_env)
{
    setenv("GT_GUARD_SIZE", "262144", 1);
    setenv("GT_STACK_CACHE", "3", 1);
    tu_run(report_config, NULL);
    /* Its thread's stack and the main thread's, in a cache of 3. */
    ASSERT_EQ(gt_registry.stack_cache, 2);
    ASSERT_EQ(gt_registry.stacks_returned, 0);
}
