/*
 * bad_index.c - a gt program whose registry names a location index that
 * is not there, on purpose, for gt-top's bounds on indices.
 *
 * Usage: bad_index NIDLE loc|thread|edge|torn VALUE
 *        bad_index NIDLE many N
 *
 * Threads, all parked once it prints its "ready" line:
 *   NIDLE threads "idler"   parked in gt_chan_recv for ever   (LINE:idle)
 *   1 thread "stepper"      sleeps once (LINE:step), then parks for ever
 *                           (LINE:stepped): the one edge step -> stepped
 *   the main thread         reads stdin                       (LINE:hold)
 * and a thread "damager" that, once all of them wait, rewrites one kind
 * of index to VALUE (hex or decimal, or "past": the location count, the
 * first index past the locations) and exits:
 *   loc     the idle location's record says its index is VALUE
 *   thread  each idler's record says it waits at location VALUE
 *   edge    the edge step -> stepped says it goes to location VALUE
 *   torn    as thread, and each idler's record is left mid-write (its
 *           seq odd): in flux, whose index is not used but is no damage
 *   many    no damage: N more locations, each at the idle location's
 *           call site, and N more edges between them, the first from
 *           the last new location (so edges run from high to low), in
 *           chunks of the damager's: a registry as big as memory lets it
 *           be, for the passes that run over every location or edge
 * The runtime never writes those fields again: the idlers and the stepper
 * never wake, and nothing parks at a new location after the damage (the
 * main thread and the damager parked at theirs before it), so the
 * location count stays what "past" was.
 *
 * It prints "ready PID idle=I damaged=N": I the idle location's index, N
 * the records it rewrote (and "locations=L edges=E" with many: the
 * counts the registry then states, index and slot 0 included); end of
 * stdin ends it.
 */
#include <gt.h>
#include <gt/registry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static gt_chan_t *never;   /* nothing is ever sent on it */
static long nidle;
static const char *mode, *value;

NOINLINE static void idler_main(void *arg)
{
    void *msg;
    (void)arg;
    gt_chan_recv(never, &msg, GT_FOREVER); /* LINE:idle */
}

NOINLINE static void stepper_main(void *arg)
{
    void *msg;
    (void)arg;
    gt_sleep_ns(1000000); /* LINE:step */
    gt_chan_recv(never, &msg, GT_FOREVER); /* LINE:stepped */
    __asm__ volatile("" ::: "memory");
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

/* Slot I of a chunked table, as a reader finds it: chunk I / PER, records
 * of the layout's size. */
static char *slot(uint64_t chunks, uint64_t per, unsigned rec, uint64_t i)
{
    char **c = (char **)(uintptr_t)chunks;
    return c[i / per] + (i % per) * field(rec, 0)->size;
}

#define AT(type, rec, r, id) ((type *)((r) + field((rec), (id))->offset))

/* A copy of a chunked table's pointer array with room for COUNT records,
 * the chunks past the old ones fresh; sets *NCHUNKS. */
static uint64_t grow_table(uint64_t chunks, uint32_t old_nchunks, uint64_t per,
                           unsigned rec, uint64_t count, uint32_t *nchunks)
{
    uint32_t n = (uint32_t)((count + per - 1) / per);
    char **c = calloc(n, sizeof(*c));
    if (!c)
        abort();
    memcpy(c, (void *)(uintptr_t)chunks, old_nchunks * sizeof(*c));
    for (uint32_t i = old_nchunks; i < n; i++)
        if (!(c[i] = calloc(per, field(rec, 0)->size)))
            abort();
    *nchunks = n;
    return (uint64_t)(uintptr_t)c;
}

/* See "many" above. */
static void add_many(uint32_t idle, uint32_t n)
{
    uint32_t first = gt_registry.loc_count, nloc = first + n, nchunks;
    const char *site = slot(gt_registry.loc_chunks, gt_registry.locs_per_chunk,
                            GT_REC_LOCATION, idle);
    uint64_t chunks = grow_table(gt_registry.loc_chunks, gt_registry.loc_chunk_count,
                                 gt_registry.locs_per_chunk, GT_REC_LOCATION, nloc, &nchunks);
    for (uint32_t i = first; i < nloc; i++) {
        char *r = slot(chunks, gt_registry.locs_per_chunk, GT_REC_LOCATION, i);
        *AT(uint32_t, GT_REC_LOCATION, r, GT_F_LOC_INDEX) = i;
        *AT(uint32_t, GT_REC_LOCATION, r, GT_F_LOC_DEPTH) = 1;
        *AT(uint32_t, GT_REC_LOCATION, r, GT_F_LOC_WAIT_KIND) =
            *AT(uint32_t, GT_REC_LOCATION, site, GT_F_LOC_WAIT_KIND);
        *AT(uint64_t, GT_REC_LOCATION, r, GT_F_LOC_PCS) =
            *AT(uint64_t, GT_REC_LOCATION, site, GT_F_LOC_PCS);
    }
    gt_registry.loc_chunks = chunks;
    gt_registry.loc_chunk_count = nchunks;
    gt_registry.loc_count = nloc;

    uint64_t efirst = gt_registry.edge_count, nedge = efirst + n;
    chunks = grow_table(gt_registry.edge_chunks, gt_registry.edge_chunk_count,
                        gt_registry.edges_per_chunk, GT_REC_EDGE, nedge, &nchunks);
    for (uint64_t i = efirst; i < nedge; i++) {
        char *r = slot(chunks, gt_registry.edges_per_chunk, GT_REC_EDGE, i);
        uint32_t k = (uint32_t)(i - efirst);
        *AT(uint32_t, GT_REC_EDGE, r, GT_F_EDGE_FROM) = nloc - 1 - k;
        *AT(uint32_t, GT_REC_EDGE, r, GT_F_EDGE_TO) = first + k;
        *AT(uint64_t, GT_REC_EDGE, r, GT_F_EDGE_COUNT) = 1;
    }
    gt_registry.edge_chunks = chunks;
    gt_registry.edge_chunk_count = nchunks;
    gt_registry.edge_count = nedge;
}

NOINLINE static void damager_main(void *arg)
{
    (void)arg;
    /* Every other thread waits by then (they need no time to park). */
    gt_sleep_ns(20000000);
    uint32_t v = strcmp(value, "past") == 0 ? gt_registry.loc_count
                                            : (uint32_t)strtoul(value, NULL, 0);
    uint32_t idle = 0;
    int damaged = 0;
    for (uint64_t i = 0; i < gt_registry.thread_slots; i++) {
        char *r = slot(gt_registry.thread_chunks, gt_registry.threads_per_chunk,
                       GT_REC_THREAD, i);
        if (*AT(uint8_t, GT_REC_THREAD, r, GT_F_THR_STATE) != GT_STATE_PARKED ||
            strcmp(AT(char, GT_REC_THREAD, r, GT_F_THR_NAME), "idler") != 0)
            continue;
        idle = *AT(uint32_t, GT_REC_THREAD, r, GT_F_THR_LOCATION);
        if (strcmp(mode, "thread") == 0) {
            *AT(uint32_t, GT_REC_THREAD, r, GT_F_THR_LOCATION) = v;
            damaged++;
        }
        if (strcmp(mode, "torn") == 0) {
            *AT(uint32_t, GT_REC_THREAD, r, GT_F_THR_SEQ) |= 1;
            *AT(uint32_t, GT_REC_THREAD, r, GT_F_THR_LOCATION) = v;
        }
    }
    if (!idle)
        abort();
    if (strcmp(mode, "loc") == 0) {
        char *r = slot(gt_registry.loc_chunks, gt_registry.locs_per_chunk,
                       GT_REC_LOCATION, idle);
        *AT(uint32_t, GT_REC_LOCATION, r, GT_F_LOC_INDEX) = v;
        damaged++;
    }
    if (strcmp(mode, "edge") == 0)
        for (uint64_t i = 1; i < gt_registry.edge_count; i++) {
            char *r = slot(gt_registry.edge_chunks, gt_registry.edges_per_chunk,
                           GT_REC_EDGE, i);
            if (*AT(uint64_t, GT_REC_EDGE, r, GT_F_EDGE_COUNT)) {
                *AT(uint32_t, GT_REC_EDGE, r, GT_F_EDGE_TO) = v;
                damaged++;
            }
        }
    if (strcmp(mode, "many") == 0) {
        add_many(idle, v);
        printf("ready %d idle=%u damaged=0 locations=%u edges=%llu\n", (int)getpid(),
               idle, gt_registry.loc_count, (unsigned long long)gt_registry.edge_count);
    } else {
        printf("ready %d idle=%u damaged=%d\n", (int)getpid(), idle, damaged);
    }
    fflush(stdout);
}

static void spawn(void (*fn)(void *), const char *name)
{
    gt_attr_t at = {.name = name, .detached = 1};
    if (gt_spawn(NULL, fn, NULL, &at) < 0) {
        perror("gt_spawn");
        exit(1);
    }
}

NOINLINE static void main_thread(void *arg)
{
    char line[64];
    (void)arg;
    never = gt_chan_create(1);
    if (!never)
        abort();
    for (long i = 0; i < nidle; i++)
        spawn(idler_main, "idler");
    spawn(stepper_main, "stepper");
    spawn(damager_main, "damager");
    for (;;) {
        ssize_t n = read(0, line, sizeof(line)); /* LINE:hold */
        if (n <= 0)
            _exit(0); /* the runtime must not run on with its registry damaged */
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s NIDLE loc|thread|edge VALUE\n", argv[0]);
        return 2;
    }
    nidle = atol(argv[1]);
    mode = argv[2];
    value = argv[3];
    return gt_main(main_thread, NULL);
}
