/*
 * waits.c - a gt program whose threads wait in known ways, then idle, for
 * the readers' derived meanings: wait descriptions, classes, location
 * labels, ages in core files, idle time.
 *
 * Usage: waits [publish] [tworunning] [NCONN]
 *
 * Threads, all parked once it prints its "ready" line:
 *   NCONN (default 3)          conn_main reads an empty pipe (LINE:conn):
 *      "conn 127.0.0.1:PORT"   one entry function, a name per connection
 *                              (PORT 40001 on); the first one wrote
 *                              DEEP_BYTES of stack once, the others less
 *                              than a page
 *   1  "sleeper"               sleeps 600 s (LINE:sleep)
 *   1  "stage_a", 1 "stage_b"  lock a mutex the main thread holds, from
 *                              critical(), inlined into stage_a
 *                              (LINE:stage_a) and stage_b (LINE:stage_b):
 *                              the same line (LINE:critical), two callers
 *   1  "joiner"                joins the sleeper (LINE:join)
 *   the main thread            reads stdin (LINE:hold), after reading its
 *                              own program file FILE_READS times: that many
 *                              regular-file calls (file_io_calls)
 *
 * The ready line gives what the readers must find:
 *   ready PID rfd=R mutex=0xADDR sleeper=ID clock=NS
 * where R is the pipe's read end and NS CLOCK_MONOTONIC when it printed.
 *
 * A line "abort" on stdin makes the main thread call abort(): SIGABRT, a
 * kernel core when core dumps are allowed.
 *
 * "tworunning" rewrites the records of stage_a and stage_b (parked on a
 * mutex nobody releases, so the runtime never writes them again) to say
 * "running": a snapshot whose records cannot all be true, as a reader
 * copying records while they change can see, made to hold still.
 *
 * "publish" stands in for a runtime that publishes the poller's current
 * idle stretch and its fatal-signal clock reading (GT_F_REG_IDLE_SINCE,
 * GT_F_REG_FATAL_NS): it gives the registry a copy of its layout table
 * with those two ids added, on header fields this program never needs
 * again once its threads are spawned (max_map_count, canary), sets
 * idle_since to the clock of the ready line, and before abort() prints
 * "fatal NS" and stores NS as fatal_ns.
 */
#include <fcntl.h>
#include <gt.h>
#include <gt/registry.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define FILE_READS 3
#define DEEP_BYTES 16384

/* The ids a runtime that publishes them gives these fields (append-only
 * numbering after GT_F_REG_CANARY); registry.h has them once it does. */
#ifndef GT_TF_FRESH
enum { GT_F_REG_IDLE_SINCE = GT_F_REG__COUNT, GT_F_REG_FATAL_NS };
#endif

static int pipe_fds[2];
static gt_mutex_t mu = GT_MUTEX_INITIALIZER;
static gt_t sleeper;
static int publish, tworunning;
static long nconn = 3;
static struct gt_field layout_copy[256];

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Writes n bytes of stack, non-zero so that they count as touched. */
NOINLINE static void dive(size_t n)
{
    volatile char buf[DEEP_BYTES];
    for (size_t i = 0; i < n && i < sizeof(buf); i++)
        buf[i] = (char)0xaa;
}

NOINLINE static void conn_main(void *arg)
{
    if (arg == NULL)
        dive(DEEP_BYTES);
    char c;
    if (read(pipe_fds[0], &c, 1) < 0) /* LINE:conn */
        abort();
}

NOINLINE static void sleeper_main(void *arg)
{
    (void)arg;
    gt_sleep_ns(600000000000ll); /* LINE:sleep */
    __asm__ volatile("" ::: "memory"); /* no tail call (see gt.pc) */
}

static inline __attribute__((always_inline)) void critical(void)
{
    gt_mutex_lock(&mu); /* LINE:critical */
    gt_mutex_unlock(&mu);
}

NOINLINE static void stage_a(void *arg)
{
    (void)arg;
    critical(); /* LINE:stage_a */
    __asm__ volatile("" ::: "memory"); /* no tail call: stage_a stays */
}

NOINLINE static void stage_b(void *arg)
{
    (void)arg;
    critical(); /* LINE:stage_b */
    __asm__ volatile("" ::: "memory");
}

NOINLINE static void joiner_main(void *arg)
{
    (void)arg;
    gt_join(sleeper); /* LINE:join */
    __asm__ volatile("" ::: "memory");
}

static void spawn(void (*fn)(void *), void *arg, const char *name, gt_t *out)
{
    gt_attr_t at = {.name = name, .detached = out == NULL};
    if (gt_spawn(out, fn, arg, &at) < 0) {
        perror("gt_spawn");
        exit(1);
    }
}

/* The layout table's entry for field ID of record kind REC. */
static const struct gt_field *field(unsigned rec, unsigned id)
{
    const struct gt_field *l = (const struct gt_field *)(uintptr_t)gt_registry.layout;
    for (uint32_t i = 0; i < gt_registry.nlayout; i++)
        if (l[i].rec == rec && l[i].id == id)
            return &l[i];
    abort();
}

/* See "tworunning" above. */
static void claim_two_running(void)
{
    const struct gt_field *size = field(GT_REC_THREAD, GT_F_THR_SIZE);
    const struct gt_field *state = field(GT_REC_THREAD, GT_F_THR_STATE);
    const struct gt_field *name = field(GT_REC_THREAD, GT_F_THR_NAME);
    const uint64_t *chunks = (const uint64_t *)(uintptr_t)gt_registry.thread_chunks;
    int found = 0;
    for (uint64_t i = 0; i < gt_registry.thread_slots; i++) {
        char *rec = (char *)(uintptr_t)chunks[i / gt_registry.threads_per_chunk] +
                    (i % gt_registry.threads_per_chunk) * size->size;
        if (strcmp(rec + name->offset, "stage_a") == 0 ||
            strcmp(rec + name->offset, "stage_b") == 0) {
            *(uint8_t *)(rec + state->offset) = GT_STATE_RUNNING;
            found++;
        }
    }
    if (found != 2)
        abort();
}

/* See "publish" above. */
static void publish_fields(void)
{
    const struct gt_field *l = (const struct gt_field *)(uintptr_t)gt_registry.layout;
    uint32_t n = gt_registry.nlayout;
    if (n + 2 > sizeof(layout_copy) / sizeof(layout_copy[0]))
        abort();
    memcpy(layout_copy, l, n * sizeof(*l));
    layout_copy[n++] = (struct gt_field){GT_REC_REGISTRY, GT_F_REG_IDLE_SINCE,
        (uint32_t)offsetof(struct gt_registry, max_map_count), 8, 0};
    layout_copy[n++] = (struct gt_field){GT_REC_REGISTRY, GT_F_REG_FATAL_NS,
        (uint32_t)offsetof(struct gt_registry, canary), 8, 0};
    gt_registry.canary = 0;
    gt_registry.max_map_count = 0;
    gt_registry.nlayout = n;
    gt_registry.layout = (uint64_t)(uintptr_t)layout_copy;
}

NOINLINE static void hold_main(void)
{
    char line[64];
    for (;;) {
        ssize_t n = read(0, line, sizeof(line) - 1); /* LINE:hold */
        if (n <= 0)
            exit(0);
        line[n] = 0;
        if (strncmp(line, "abort", 5) == 0) {
            if (publish) {
                uint64_t t = now_ns();
                gt_registry.canary = t;
                printf("fatal %llu\n", (unsigned long long)t);
                fflush(stdout);
            }
            abort();
        }
    }
}

static void main_thread(void *arg)
{
    (void)arg;
    if (pipe(pipe_fds) < 0)
        abort();
    int fd = open("/proc/self/exe", O_RDONLY);
    char head[64];
    for (int i = 0; i < FILE_READS; i++)
        if (fd < 0 || read(fd, head, sizeof(head)) != (ssize_t)sizeof(head))
            abort();
    close(fd);
    gt_mutex_lock(&mu);
    char name[48]; /* names longer than GT_NAME_MAX - 1 are cut by gt_spawn */
    for (long i = 0; i < nconn; i++) {
        snprintf(name, sizeof(name), "conn 127.0.0.1:%ld", 40001 + i);
        spawn(conn_main, i ? (void *)1 : NULL, name, NULL);
    }
    spawn(sleeper_main, NULL, "sleeper", &sleeper);
    spawn(stage_a, NULL, "stage_a", NULL);
    spawn(stage_b, NULL, "stage_b", NULL);
    spawn(joiner_main, NULL, "joiner", NULL);
    gt_sleep_ns(1000000); /* every thread runs to its parking point */
    uint64_t clock = now_ns();
    if (tworunning)
        claim_two_running();
    if (publish) {
        publish_fields();
        gt_registry.max_map_count = clock;
    }
    printf("ready %d rfd=%d mutex=%#llx sleeper=%llu clock=%llu\n", (int)getpid(),
           pipe_fds[0], (unsigned long long)(uintptr_t)&mu,
           (unsigned long long)gt_id(sleeper), (unsigned long long)clock);
    fflush(stdout);
    hold_main();
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "publish") == 0) {
            publish = 1;
            continue;
        }
        if (strcmp(argv[i], "tworunning") == 0) {
            tworunning = 1;
            continue;
        }
        nconn = strtol(argv[i], &end, 10);
        if (*end || nconn < 1 || nconn > 100000) {
            fprintf(stderr, "usage: %s [publish] [tworunning] [NCONN]\n", argv[0]);
            return 2;
        }
    }
    return gt_main(main_thread, NULL);
}
