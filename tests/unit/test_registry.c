/*
 * test_registry.c - what the runtime publishes, read back in-process.
 *
 * Ground truth: the test knows how many threads it parked where, for how
 * long, and in which order they moved from one location to the next.
 */
#include "test.h"

#include <gt/registry.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const struct gt_field *field(unsigned rec, unsigned id)
{
    const struct gt_field *f = (const struct gt_field *)(uintptr_t)gt_registry.layout;
    for (uint32_t i = 0; i < gt_registry.nlayout; i++)
        if (f[i].rec == rec && f[i].id == id)
            return &f[i];
    return NULL;
}

static void expect_field(unsigned rec, unsigned id, size_t off, size_t size)
{
    const struct gt_field *f = field(rec, id);
    if (!f)
        FAIL("layout table has no field %u of record kind %u", id, rec);
    ASSERT_EQ(f->offset, off);
    ASSERT_EQ(f->size, size);
}

#define EXPECT(rec, id, type, m) \
    expect_field(rec, id, offsetof(type, m), sizeof(((type *)0)->m))

static void noop(void *arg) { (void)arg; }

TEST_IMPL(registry_layout_matches_header)
{
    tu_run(noop, NULL); /* the layout pointer is set when the runtime starts */
    ASSERT_EQ(gt_registry.magic, GT_REGISTRY_MAGIC);
    ASSERT_EQ(gt_registry.abi, GT_REGISTRY_ABI);
    ASSERT_EQ(gt_registry.header_size, sizeof(struct gt_registry));
    /* The fixed head never moves. */
    ASSERT_EQ(offsetof(struct gt_registry, layout), 16);
    ASSERT_EQ(offsetof(struct gt_registry, nlayout), 24);
    ASSERT_EQ(offsetof(struct gt_registry, arch), 28);
    EXPECT(GT_REC_REGISTRY, GT_F_REG_NSTATE, struct gt_registry, nstate);
    EXPECT(GT_REC_REGISTRY, GT_F_REG_THREAD_CHUNKS, struct gt_registry, thread_chunks);
    EXPECT(GT_REC_REGISTRY, GT_F_REG_GUARD_POLICY, struct gt_registry, guard_policy);
    EXPECT(GT_REC_THREAD, GT_F_THR_SEQ, struct gt_thread_rec, seq);
    EXPECT(GT_REC_THREAD, GT_F_THR_NAME, struct gt_thread_rec, name);
    EXPECT(GT_REC_THREAD, GT_F_THR_CTX_REGS, struct gt_thread_rec, ctx);
    EXPECT(GT_REC_THREAD, GT_F_THR_LOC_NEXT, struct gt_thread_rec, loc_next);
    EXPECT(GT_REC_LOCATION, GT_F_LOC_PCS, struct gt_location_rec, pcs);
    EXPECT(GT_REC_LOCATION, GT_F_LOC_HIST, struct gt_location_rec, hist);
    EXPECT(GT_REC_EDGE, GT_F_EDGE_RUN_NS, struct gt_edge_rec, run_ns);
    EXPECT(GT_REC_REGISTRY, GT_F_REG_CANARY, struct gt_registry, canary);
    EXPECT(GT_REC_REGISTRY, GT_F_REG_IDLE_SINCE, struct gt_registry, idle_since);
    EXPECT(GT_REC_REGISTRY, GT_F_REG_FATAL_NS, struct gt_registry, fatal_ns);
    /* ABI 1 grows only at the end: the additions come after canary. */
    ASSERT_GT(offsetof(struct gt_registry, idle_since),
              offsetof(struct gt_registry, canary));
    ASSERT_GT(offsetof(struct gt_registry, fatal_ns),
              offsetof(struct gt_registry, idle_since));
    /* The stack fields came next, again at the end, with ids after
     * FATAL_NS: a reader that does not know them skips them. */
    EXPECT(GT_REC_REGISTRY, GT_F_REG_GUARD_SIZE, struct gt_registry, guard_size);
    EXPECT(GT_REC_REGISTRY, GT_F_REG_STACK_CACHE, struct gt_registry, stack_cache);
    EXPECT(GT_REC_REGISTRY, GT_F_REG_STACK_CACHE_BYTES, struct gt_registry,
           stack_cache_bytes);
    EXPECT(GT_REC_REGISTRY, GT_F_REG_STACK_CACHE_MAX, struct gt_registry,
           stack_cache_max);
    EXPECT(GT_REC_REGISTRY, GT_F_REG_STACKS_RETURNED, struct gt_registry,
           stacks_returned);
    ASSERT_EQ(GT_F_REG_GUARD_SIZE, GT_F_REG_FATAL_NS + 1);
    ASSERT_GT(offsetof(struct gt_registry, guard_size),
              offsetof(struct gt_registry, fatal_ns));
    /* Then what tells who runs and who holds what (RUNNING, THE
     * WATCHDOG'S SAMPLE), again at the end. */
    ASSERT_EQ(GT_F_REG_RUN_START, GT_F_REG_STACKS_RETURNED + 1);
    ASSERT_GT(offsetof(struct gt_registry, run_start),
              offsetof(struct gt_registry, stacks_returned));
    EXPECT(GT_REC_REGISTRY, GT_F_REG_RUN_START, struct gt_registry, run_start);
    EXPECT(GT_REC_REGISTRY, GT_F_REG_SAMPLE_SEQ, struct gt_registry, sample_seq);
    EXPECT(GT_REC_REGISTRY, GT_F_REG_SAMPLE_REGS, struct gt_registry, sample_regs);
    ASSERT_EQ(offsetof(struct gt_registry, sample_regs) + 8 * GT_CTX_NREGS,
              sizeof(struct gt_registry));
    ASSERT_EQ(GT_F_REG_SAMPLE_REGS + 1, GT_F_REG__COUNT);
    /* The objects a wait names: readers find an owner without DWARF. */
    EXPECT(GT_REC_MUTEX, GT_F_MUTEX_OWNER, gt_mutex_t, owner);
    EXPECT(GT_REC_MUTEX, GT_F_MUTEX_MAGIC, gt_mutex_t, magic);
    EXPECT(GT_REC_MUTEX, GT_F_MUTEX_HELD_SINCE, gt_mutex_t, held_since);
    EXPECT(GT_REC_COND, GT_F_COND_MAGIC, gt_cond_t, magic);
    ASSERT_EQ(field(GT_REC_MUTEX, GT_F_MUTEX_SIZE)->size, sizeof(gt_mutex_t));
    ASSERT_EQ(field(GT_REC_CHAN, GT_F_CHAN_CAP)->size, 8);
    ASSERT_EQ(field(GT_REC_CHAN, GT_F_CHAN_CLOSED)->size, 1);
    ASSERT_EQ(GT_TF_FRESH, 0x10);
    /* A thread record holds the published part and may grow past it. */
    ASSERT_GE(field(GT_REC_THREAD, GT_F_THR_SIZE)->size, sizeof(struct gt_thread_rec));
    ASSERT_EQ(field(GT_REC_LOCATION, GT_F_LOC_SIZE)->size, sizeof(struct gt_location_rec));
    /* Every field id of every kind is present exactly once. */
    static const unsigned counts[] = {0, GT_F_REG__COUNT, GT_F_THR__COUNT,
                                      GT_F_LOC__COUNT, GT_F_EDGE__COUNT,
                                      GT_F_MUTEX__COUNT, GT_F_COND__COUNT,
                                      GT_F_CHAN__COUNT};
    for (unsigned rec = GT_REC_REGISTRY; rec <= GT_REC_CHAN; rec++)
        for (unsigned id = 0; id < counts[rec]; id++)
            if (!field(rec, id))
                FAIL("record kind %u lacks field %u", rec, id);
}

/* ---- locations, their statistics and the edges between them -------------- */

#define N_PIPE 300
#define SLEEP_NS (2 * TU_MS)

static gt_chan_t *release_chan;

__attribute__((noinline)) static void stage_sleep(void)
{
    gt_sleep_ns(SLEEP_NS);
    __asm__ volatile(""); /* keep the call from becoming a tail call */
}

__attribute__((noinline)) static void stage_recv(void)
{
    void *m;
    ASSERT_OK(gt_chan_recv(release_chan, &m, GT_FOREVER));
    __asm__ volatile("");
}

__attribute__((noinline)) static void piped(void *arg)
{
    (void)arg;
    stage_sleep();
    stage_recv();
    __asm__ volatile(""); /* stage_recv's caller stays piped, not a tail call */
}

static struct gt_location_rec *loc(uint32_t i)
{
    struct gt_location_rec **c = (struct gt_location_rec **)(uintptr_t)gt_registry.loc_chunks;
    return &c[i / gt_registry.locs_per_chunk][i % gt_registry.locs_per_chunk];
}

static struct gt_edge_rec *edge(uint32_t i)
{
    struct gt_edge_rec **c = (struct gt_edge_rec **)(uintptr_t)gt_registry.edge_chunks;
    return &c[i / gt_registry.edges_per_chunk][i % gt_registry.edges_per_chunk];
}

/* Is pc inside fn's body?  Bodies end where the next of the functions
 * this file knows begins (or 1 KiB on), which keeps neighbours apart. */
static bool in_body(uint64_t pc, uintptr_t fn)
{
    uintptr_t fns[] = {(uintptr_t)stage_sleep, (uintptr_t)stage_recv,
                       (uintptr_t)piped};
    uintptr_t end = fn + 1024;
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (fns[i] > fn && fns[i] < end)
            end = fns[i];
    return pc > fn && pc <= end;
}

/* The location whose call site lies in fn's body. */
static uint32_t find_loc(void (*fn)(void))
{
    uint32_t found = 0;
    for (uint32_t i = 1; i < gt_registry.loc_count; i++) {
        if (in_body(loc(i)->pcs[0], (uintptr_t)fn)) {
            if (found)
                FAIL("two locations in one function's body: %u and %u", found, i);
            found = i;
        }
    }
    if (!found) {
        for (uint32_t i = 1; i < gt_registry.loc_count; i++)
            fprintf(stderr, "location %u: pcs[0] %#llx depth %u\n", i,
                    (unsigned long long)loc(i)->pcs[0], loc(i)->depth);
        FAIL("no location in the function at %p", (void *)fn);
    }
    return found;
}

/* Threads parked now at a location in fn's body (0 if none yet). */
static uint64_t waiting_in(void (*fn)(void))
{
    for (uint32_t i = 1; i < gt_registry.loc_count; i++)
        if (in_body(loc(i)->pcs[0], (uintptr_t)fn))
            return loc(i)->waiting;
    return 0;
}

static void pipeline_main(void *arg)
{
    (void)arg;
    gt_t t[N_PIPE];
    release_chan = gt_chan_create(N_PIPE);
    ASSERT_NOT_NULL(release_chan);
    int64_t t0 = gt_now_ns();
    for (int i = 0; i < N_PIPE; i++)
        t[i] = tu_spawn(piped, NULL);
    /* Everyone sleeps, then parks in stage_recv. */
    while (waiting_in(stage_recv) < N_PIPE) {
        if (gt_now_ns() - t0 > 10000 * TU_MS)
            FAIL("after 10 s, %llu of %d threads wait in stage_recv",
                 (unsigned long long)waiting_in(stage_recv), N_PIPE);
        gt_sleep_ns(TU_MS);
    }

    uint32_t ls = find_loc(stage_sleep), lr = find_loc(stage_recv);
    struct gt_location_rec *s = loc(ls), *r = loc(lr);
    ASSERT_EQ(s->seq % 2, 0);
    ASSERT_EQ(s->wait_kind, GT_WAIT_SLEEP);
    ASSERT_EQ(r->wait_kind, GT_WAIT_CHAN_RECV);
    ASSERT_EQ(s->depth, 2);
    /* pcs[1] is the caller: inside piped. */
    ASSERT(in_body(s->pcs[1], (uintptr_t)piped));
    ASSERT_EQ(s->arrivals, N_PIPE);
    ASSERT_EQ(s->completed, N_PIPE);
    ASSERT_EQ(s->waiting, 0);
    ASSERT_GE(s->total_wait_ns, (uint64_t)N_PIPE * SLEEP_NS);
    ASSERT_GE(s->max_wait_ns, (uint64_t)SLEEP_NS);
    uint64_t sum = 0, below = 0;
    for (int b = 0; b < GT_WAIT_HIST_BUCKETS; b++) {
        sum += s->hist[b];
        if ((1ull << (b + 1)) <= (uint64_t)SLEEP_NS)
            below += s->hist[b]; /* bucket wholly shorter than the sleep */
    }
    ASSERT_EQ(sum, N_PIPE);
    ASSERT_EQ(below, 0);

    ASSERT_EQ(r->arrivals, N_PIPE);
    ASSERT_EQ(r->waiting, N_PIPE);
    ASSERT_EQ(r->completed, 0);
    /* The queue at stage_recv lists exactly the parked threads, oldest
     * first, each pointing back at this location. */
    uint64_t n = 0;
    for (struct gt_thread_rec *q = (struct gt_thread_rec *)(uintptr_t)r->head; q;
         q = (struct gt_thread_rec *)(uintptr_t)q->loc_next) {
        ASSERT_EQ(q->location, lr);
        ASSERT_EQ(q->state, GT_STATE_PARKED);
        ASSERT_EQ(q->wait_obj, (uint64_t)(uintptr_t)release_chan);
        if (++n > N_PIPE)
            FAIL("the queue at stage_recv is longer than %d", N_PIPE);
    }
    ASSERT_EQ(n, N_PIPE);
    ASSERT_EQ(((struct gt_thread_rec *)(uintptr_t)r->head)->id, t[0].id);

    /* One edge sleep -> recv, taken by every thread. */
    uint32_t found = 0;
    for (uint32_t i = 1; i < gt_registry.edge_count; i++) {
        struct gt_edge_rec *e = edge(i);
        if (e->from == ls && e->to == lr) {
            ASSERT_EQ(e->count, N_PIPE);
            ASSERT_LE(e->max_run_ns, e->run_ns);
            ASSERT_GT(e->run_ns, 0);
            found = i;
        }
        ASSERT(!(e->from == lr)); /* nobody has left stage_recv yet */
    }
    ASSERT_NE(found, 0);

    for (int i = 0; i < N_PIPE; i++)
        ASSERT_OK(gt_chan_send(release_chan, NULL, GT_FOREVER));
    for (int i = 0; i < N_PIPE; i++)
        tu_join(t[i]);
    ASSERT_EQ(r->waiting, 0);
    ASSERT_EQ(r->completed, N_PIPE);
    ASSERT_EQ(r->head, 0);
    ASSERT_EQ(r->tail, 0);
    gt_chan_destroy(release_chan);
}

TEST_IMPL(registry_locations_and_edges)
{
    tu_run(pipeline_main, NULL);
}

static void depth_main(void *arg)
{
    (void)arg;
    gt_t t = tu_spawn(piped, NULL);
    release_chan = gt_chan_create(1);
    /* Until it waits in stage_recv: a sleep twice as long as its own is
     * not enough when the process is descheduled between the two. */
    int64_t t0 = gt_now_ns();
    while (!waiting_in(stage_recv)) {
        if (gt_now_ns() - t0 > 10000 * TU_MS)
            FAIL("after 10 s, the thread does not wait in stage_recv");
        gt_sleep_ns(SLEEP_NS);
    }
    uint32_t lr = find_loc(stage_recv);
    ASSERT_EQ(loc(lr)->depth, 3);
    ASSERT_EQ(gt_registry.loc_depth, 3);
    /* pcs[1] in piped, pcs[2] in the runtime's thread entry: not piped. */
    ASSERT(in_body(loc(lr)->pcs[1], (uintptr_t)piped));
    ASSERT_NE(loc(lr)->pcs[2], 0);
    ASSERT_OK(gt_chan_send(release_chan, NULL, GT_FOREVER));
    tu_join(t);
}

TEST_IMPL(registry_location_depth)
{
    ASSERT_OK(gt_set_location_depth(3));
    tu_run(depth_main, NULL);
}

/* ---- states and counters -------------------------------------------------- */

static void counters_main(void *arg)
{
    (void)arg;
    gt_t self = gt_self();
    struct gt_thread_rec *me = (struct gt_thread_rec *)self.rec;
    ASSERT_EQ(gt_registry.current, (uint64_t)(uintptr_t)me);
    ASSERT_EQ(me->state, GT_STATE_RUNNING);
    ASSERT_EQ(gt_registry.nstate[GT_STATE_RUNNING], 1);
    uint64_t spawns = gt_registry.spawns;
    gt_t t[10];
    for (int i = 0; i < 10; i++)
        t[i] = tu_spawn(noop, NULL);
    ASSERT_EQ(gt_registry.spawns, spawns + 10);
    ASSERT_EQ(gt_registry.nstate[GT_STATE_RUNNABLE], 10);
    ASSERT_EQ(gt_registry.runq_len, 10);
    gt_yield(); /* all ten run and exit */
    ASSERT_EQ(gt_registry.nstate[GT_STATE_EXITED], 10);
    ASSERT_EQ(gt_registry.runq_len, 0);
    for (int i = 0; i < 10; i++)
        tu_join(t[i]);
    ASSERT_EQ(gt_registry.nstate[GT_STATE_EXITED], 0);
    ASSERT_EQ(gt_registry.exits, 10);
    ASSERT_EQ(me->parent, 0);
    ASSERT((me->flags & GT_TF_MAIN) != 0);
}

TEST_IMPL(registry_states_and_counters)
{
    tu_run(counters_main, NULL);
}

/* ---- run time of a thread that never parks ---------------------------------- */

#define BUSY_NS (5 * TU_MS)

/* Computes for BUSY_NS without parking, then returns (exits). */
static void busy(void *arg)
{
    (void)arg;
    int64_t start = tu_now_ns();
    while (tu_now_ns() - start < BUSY_NS)
        ;
}

/* The runtime's clock may lag CLOCK_MONOTONIC by a few microseconds and
 * runs a hair slow between real readings (see clock.c): the room allowed
 * when comparing a duration it measured with one measured here. */
#define CLOCK_SLACK_NS 20000

/* A thread's last slice ends when it exits: a thread that ran start to
 * finish without parking has all of its time on the CPU counted, and the
 * time is not charged to the thread that runs next.  (A yield does not end
 * a slice, so busy's count starts when main last resumed, just before.) */
static void exited_main(void *arg)
{
    (void)arg;
    gt_sleep_ns(TU_MS); /* main's slice starts afresh when it resumes */
    int64_t before = tu_now_ns();
    gt_t t = tu_spawn(busy, NULL);
    gt_t w = tu_spawn(noop, NULL); /* runs right after busy, then exits */
    struct gt_thread_rec *rec = (struct gt_thread_rec *)t.rec;
    struct gt_thread_rec *next = (struct gt_thread_rec *)w.rec;
    gt_yield(); /* busy and noop run to their ends */
    int64_t elapsed = tu_now_ns() - before;
    ASSERT_EQ(rec->state, GT_STATE_EXITED);
    ASSERT_EQ(next->state, GT_STATE_EXITED);
    ASSERT_GE(rec->run_ns + CLOCK_SLACK_NS, (uint64_t)BUSY_NS);
    ASSERT_LE(rec->run_ns, (uint64_t)elapsed + CLOCK_SLACK_NS);
    ASSERT_LT(next->run_ns, (uint64_t)BUSY_NS);
    tu_join(t);
    tu_join(w);
}

TEST_IMPL(registry_run_time_of_exited)
{
    tu_run(exited_main, NULL);
}

/* ---- a record whose location links change is rewritten inside its seq ---- */

static gt_mutex_t link_mu = GT_MUTEX_INITIALIZER;
static gt_cond_t link_cv = GT_COND_INITIALIZER;
static int link_go;

/* Every waiter parks at the same location: this call site. */
static void link_waiter(void *arg)
{
    (void)arg;
    ASSERT_OK(gt_mutex_lock(&link_mu));
    while (!link_go)
        ASSERT_OK(gt_cond_wait(&link_cv, &link_mu));
    ASSERT_OK(gt_mutex_unlock(&link_mu));
}

static void list_links_main(void *arg)
{
    (void)arg;
    gt_t a = tu_spawn(link_waiter, NULL), b, c;
    gt_yield(); /* a parks */
    struct gt_thread_rec *ra = (struct gt_thread_rec *)a.rec;
    ASSERT_EQ(ra->state, GT_STATE_PARKED);
    ASSERT_EQ(ra->loc_next, 0);
    uint32_t seq = ra->seq;
    ASSERT_EQ(seq % 2, 0);

    /* b parks behind a: a's loc_next changes, so a's seq must move on. */
    b = tu_spawn(link_waiter, NULL);
    gt_yield();
    struct gt_thread_rec *rb = (struct gt_thread_rec *)b.rec;
    ASSERT_EQ(rb->state, GT_STATE_PARKED);
    ASSERT_EQ(rb->location, ra->location);
    ASSERT_EQ(ra->loc_next, (uint64_t)(uintptr_t)rb);
    ASSERT_EQ(rb->loc_prev, (uint64_t)(uintptr_t)ra);
    ASSERT_EQ(ra->seq, seq + 2);

    /* c behind b; then b leaves from the middle: both neighbours move on. */
    c = tu_spawn(link_waiter, NULL);
    gt_yield();
    struct gt_thread_rec *rc = (struct gt_thread_rec *)c.rec;
    uint32_t seq_a = ra->seq, seq_c = rc->seq;
    ASSERT_EQ(seq_a % 2, 0);
    ASSERT_EQ(seq_c % 2, 0);
    ASSERT_OK(gt_mutex_lock(&link_mu));
    ASSERT_OK(gt_cond_signal(&link_cv)); /* wakes a, the oldest */
    ASSERT_OK(gt_mutex_unlock(&link_mu));
    ASSERT_EQ(ra->loc_next, 0);
    ASSERT_EQ(rb->loc_prev, 0);
    ASSERT_EQ(seq_a % 2, 0);
    ASSERT_EQ(rb->seq % 2, 0);
    const struct gt_location_rec *l = NULL;
    {
        struct gt_location_rec **chunks =
            (struct gt_location_rec **)(uintptr_t)gt_registry.loc_chunks;
        uint32_t i = rb->location;
        l = &chunks[i / GT_LOCS_PER_CHUNK][i % GT_LOCS_PER_CHUNK];
    }
    ASSERT_EQ(l->head, (uint64_t)(uintptr_t)rb);
    ASSERT_EQ(l->tail, (uint64_t)(uintptr_t)rc);
    ASSERT_EQ(rc->seq, seq_c); /* c's links did not change */

    ASSERT_OK(gt_mutex_lock(&link_mu));
    link_go = 1;
    ASSERT_OK(gt_cond_broadcast(&link_cv));
    ASSERT_OK(gt_mutex_unlock(&link_mu));
    tu_join(a);
    tu_join(b);
    tu_join(c);
    ASSERT_EQ(l->waiting, 0);
    ASSERT_EQ(l->head, 0);
    ASSERT_EQ(l->tail, 0);
}

TEST_IMPL(registry_list_links_in_seq)
{
    tu_run(list_links_main, NULL);
}

/* ---- the poller publishes the idle stretch it is in ------------------------ */

#define IDLE_WATCH_NS (30 * TU_MS)

static int idle_pipe[2];

struct idle_seen {
    uint64_t since;     /* idle_since while the runtime sleeps */
    uint64_t idle_ns;   /* idle_ns then */
    uint64_t clock_now; /* clock_now then */
    int64_t watched;    /* how long the watcher saw that one wait go on */
    uint64_t now;       /* the watcher's clock at the end */
};

/* Another kernel thread, as a reader is: waits for the runtime to block
 * in the poller, watches the wait go on, then ends it. */
static void *idle_watcher(void *arg)
{
    struct idle_seen *seen = arg;
    volatile struct gt_registry *r = &gt_registry;
    for (int i = 0; i < 10000 && !r->idle_since; i++)
        usleep(1000);
    seen->since = r->idle_since;
    seen->idle_ns = r->idle_ns;
    seen->clock_now = r->clock_now;
    int64_t t0 = tu_now_ns();
    usleep(IDLE_WATCH_NS / 1000);
    seen->now = (uint64_t)tu_now_ns();
    seen->watched = (int64_t)seen->now - t0;
    if (r->idle_since != seen->since || r->idle_ns != seen->idle_ns)
        seen->watched = -1; /* the wait ended early: nothing to compare */
    char c = 'x';
    ssize_t n = write(idle_pipe[1], &c, 1);
    (void)n;
    return NULL;
}

static void idle_main(void *arg)
{
    struct idle_seen *seen = arg;
    pthread_t w;
    char c;
    ASSERT_EQ(gt_registry.idle_since, 0);
    ASSERT_EQ(pthread_create(&w, NULL, idle_watcher, seen), 0);
    /* The only thread parks: the runtime blocks in epoll, no timeout. */
    ASSERT_EQ(read(idle_pipe[0], &c, 1), 1);
    ASSERT_EQ(pthread_join(w, NULL), 0);
    ASSERT_EQ(gt_registry.idle_since, 0); /* the wait is over */
}

TEST_IMPL(registry_idle_since)
{
    struct idle_seen seen = {0};
    ASSERT_OK(pipe(idle_pipe));
    tu_run(idle_main, &seen);
    if (!seen.since)
        FAIL("idle_since stayed 0 while the runtime blocked in the poller");
    ASSERT_GE(seen.watched, IDLE_WATCH_NS);
    /* The current stretch is the watcher's own clock minus idle_since:
     * at least as long as it watched, and not from the future. */
    ASSERT_LE(seen.since, seen.now);
    ASSERT_GE(seen.now - seen.since, (uint64_t)seen.watched);
    /* The runtime's last clock reading (a core's fallback "now") is the
     * one that began the wait. */
    ASSERT_EQ(seen.clock_now, seen.since);
    /* idle_ns alone does not have it yet; once the wait ends it does. */
    ASSERT_GE(gt_registry.idle_ns, seen.idle_ns + (uint64_t)seen.watched);
    ASSERT_EQ(gt_registry.idle_since, 0);
}

/* ---- GT_TF_FRESH: a fresh context, never switched in or unstacked --------- */

static int fresh_pipe[2];

static void parks_once(void *arg)
{
    (void)arg;
    ASSERT_OK(gt_sleep_ns(1));
}

static void restarts_unstacked(void *arg)
{
    (void)arg; /* the restart: read what woke it and end */
    char c;
    ASSERT_EQ(read(fresh_pipe[0], &c, 1), 1);
}

static void waits_unstacked(void *arg)
{
    (void)arg;
    gt_wait_readable_then(fresh_pipe[0], GT_FOREVER, restarts_unstacked, NULL);
}

static void fresh_main(void *arg)
{
    (void)arg;
    gt_t self = gt_self();
    struct gt_thread_rec *me = (struct gt_thread_rec *)self.rec;
    ASSERT_EQ(me->flags & GT_TF_FRESH, 0); /* running: it has a stack */

    gt_t a = tu_spawn(parks_once, NULL);
    struct gt_thread_rec *ra = (struct gt_thread_rec *)a.rec;
    ASSERT_EQ(ra->state, GT_STATE_RUNNABLE);
    ASSERT_EQ(ra->flags & GT_TF_FRESH, GT_TF_FRESH);
    ASSERT_EQ(ra->seq % 2, 0);
    gt_yield(); /* a runs and parks in its sleep: frames now */
    ASSERT_EQ(ra->state, GT_STATE_PARKED);
    ASSERT_EQ(ra->flags & GT_TF_FRESH, 0);
    tu_join(a);

    ASSERT_OK(pipe(fresh_pipe));
    gt_t u = tu_spawn(waits_unstacked, NULL);
    struct gt_thread_rec *ru = (struct gt_thread_rec *)u.rec;
    gt_yield(); /* u parks without its stack: a fresh start again */
    ASSERT_EQ(ru->state, GT_STATE_PARKED);
    ASSERT_EQ(ru->flags & (GT_TF_FRESH | GT_TF_UNSTACKED),
              GT_TF_FRESH | GT_TF_UNSTACKED);
    ASSERT_EQ(ru->switches, 1);
    ASSERT_EQ(ru->seq % 2, 0);
    ASSERT_EQ(write(fresh_pipe[1], "x", 1), 1);
    tu_join(u);
    ASSERT_EQ(ru->flags & (GT_TF_FRESH | GT_TF_UNSTACKED), 0);
}

TEST_IMPL(registry_fresh_flag)
{
    tu_run(fresh_main, NULL);
}

/* ---- a fatal signal leaves its time in the registry ----------------------- */

static void segv_main(void *arg)
{
    (void)arg;
    raise(SIGSEGV);
}

/* The child crashes in a green thread under ptrace: the second time the
 * signal is delivered is the runtime's handler re-raising it, when the
 * registry holds everything the core would. */
TEST_IMPL(registry_fatal_ns)
{
    int status;
    uint64_t before = (uint64_t)tu_now_ns();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, NULL, NULL);
        raise(SIGSTOP);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, STDERR_FILENO); /* the crash report */
        gt_main(segv_main, NULL);
        _exit(0);
    }
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP);
    ASSERT_OK(ptrace(PTRACE_CONT, pid, NULL, NULL));
    int segvs = 0;
    struct gt_registry seen;
    uint64_t after = 0;
    for (;;) {
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        if (!WIFSTOPPED(status))
            break;
        int sig = WSTOPSIG(status);
        if (sig == SIGSEGV && ++segvs == 2) {
            after = (uint64_t)tu_now_ns();
            struct iovec local = {&seen, sizeof seen};
            struct iovec remote = {&gt_registry, sizeof seen};
            ASSERT_EQ(process_vm_readv(pid, &local, 1, &remote, 1, 0),
                      (ssize_t)sizeof seen);
        }
        ASSERT_OK(ptrace(PTRACE_CONT, pid, NULL, (void *)(intptr_t)sig));
    }
    ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
    ASSERT_EQ(segvs, 2);
    ASSERT_EQ(seen.magic, GT_REGISTRY_MAGIC);
    if (!seen.fatal_ns)
        FAIL("the fatal-signal handler left fatal_ns 0");
    ASSERT_GE(seen.fatal_ns, before);
    ASSERT_LE(seen.fatal_ns, after);
    ASSERT_EQ(seen.clock_now, seen.fatal_ns);
}

/* ---- the runtime's own counters agree with its records ------------------- */

/* Counts the records by state and checks every counter that says the same
 * thing: nstate, runq_len, current and the RUNNING record.  `self`: the
 * record of the calling green thread, NULL outside gt_main. */
static void expect_counts_agree(const struct gt_thread_rec *self)
{
    uint64_t n[GT_STATE_EXITED + 1] = {0};
    const struct gt_thread_rec *running = NULL;
    struct gt_thread_rec **chunks =
        (struct gt_thread_rec **)(uintptr_t)gt_registry.thread_chunks;
    size_t size = field(GT_REC_THREAD, GT_F_THR_SIZE)->size;
    for (uint64_t i = 0; i < gt_registry.thread_slots; i++) {
        const struct gt_thread_rec *r = (const struct gt_thread_rec *)(const void *)
            ((const char *)chunks[i / GT_THREADS_PER_CHUNK] +
             (i % GT_THREADS_PER_CHUNK) * size);
        ASSERT_EQ(r->seq % 2, 0); /* nothing is half-written at rest */
        ASSERT_LE(r->state, GT_STATE_EXITED);
        n[r->state]++;
        if (r->state == GT_STATE_RUNNING) {
            if (running)
                FAIL("two records RUNNING: ids %" PRIu64 " and %" PRIu64,
                     running->id, r->id);
            running = r;
        }
    }
    /* Slots past thread_slots are free records never used yet. */
    n[GT_STATE_FREE] += (uint64_t)gt_registry.thread_chunk_count *
                            GT_THREADS_PER_CHUNK - gt_registry.thread_slots;
    for (int s = GT_STATE_FREE; s <= GT_STATE_EXITED; s++)
        if (gt_registry.nstate[s] != n[s])
            FAIL("nstate[%d] is %" PRIu64 ", the records say %" PRIu64, s,
                 gt_registry.nstate[s], n[s]);
    ASSERT_EQ(gt_registry.runq_len, n[GT_STATE_RUNNABLE]);
    ASSERT_PTR_EQ(running, self);
    ASSERT_EQ(gt_registry.current, (uint64_t)(uintptr_t)self);
}

static const struct gt_thread_rec *self_rec(void)
{
    return (const struct gt_thread_rec *)(const void *)gt_self().rec;
}

static int counts_pipe[2];
static gt_chan_t *counts_chan;

static void counts_restarted(void *arg)
{
    (void)arg;
    char c;
    ASSERT_EQ(read(counts_pipe[0], &c, 1), 1);
    expect_counts_agree(self_rec());
}

static void counts_unstacked(void *arg)
{
    (void)arg;
    gt_wait_readable_then(counts_pipe[0], GT_FOREVER, counts_restarted, NULL);
}

static void counts_sleeper(void *arg)
{
    expect_counts_agree(self_rec());
    ASSERT_OK(gt_sleep_ns((int64_t)(intptr_t)arg));
    expect_counts_agree(self_rec());
}

static void counts_receiver(void *arg)
{
    (void)arg;
    void *m;
    ASSERT_OK(gt_chan_recv(counts_chan, &m, GT_FOREVER));
    expect_counts_agree(self_rec());
}

static void counts_exits(void *arg)
{
    (void)arg;
    gt_yield();
    gt_exit();
}

static void counts_main(void *arg)
{
    (void)arg;
    const struct gt_thread_rec *me = self_rec();
    gt_t t[40];
    expect_counts_agree(me);
    ASSERT_OK(pipe(counts_pipe));
    counts_chan = gt_chan_create(1);
    ASSERT_NOT_NULL(counts_chan);
    for (int i = 0; i < 10; i++)
        t[i] = tu_spawn(counts_sleeper, (void *)(intptr_t)(i % 3));
    for (int i = 10; i < 20; i++)
        t[i] = tu_spawn(counts_unstacked, NULL);
    for (int i = 20; i < 30; i++)
        t[i] = tu_spawn(counts_receiver, NULL);
    for (int i = 30; i < 40; i++)
        t[i] = tu_spawn(counts_exits, NULL);
    expect_counts_agree(me);
    gt_yield();
    expect_counts_agree(me);
    ASSERT_OK(gt_sleep_ns(TU_MS)); /* the sleepers wake, the rest stay */
    expect_counts_agree(me);
    ASSERT_EQ(write(counts_pipe[1], "0123456789", 10), 10);
    for (int i = 20; i < 30; i++)
        ASSERT_OK(gt_chan_send(counts_chan, NULL, GT_FOREVER));
    for (int i = 0; i < 40; i++) {
        tu_join(t[i]);
        expect_counts_agree(me);
    }
    /* Detached threads give their records back without a join. */
    gt_attr_t detached = {NULL, 0, 1};
    for (int i = 0; i < 5; i++)
        ASSERT_OK(gt_spawn(NULL, counts_exits, NULL, &detached));
    expect_counts_agree(me);
    ASSERT_OK(gt_sleep_ns(TU_MS));
    expect_counts_agree(me);
    gt_chan_destroy(counts_chan);
}

/* Nothing is ever sent on it; volatile keeps the store, which keeps it
 * reachable for LeakSanitizer after the deadlock. */
static gt_chan_t *volatile counts_never;

static void counts_deadlock(void *arg)
{
    (void)arg;
    void *msg;
    counts_never = gt_chan_create(1);
    gt_chan_recv(counts_never, &msg, GT_FOREVER);
}

TEST_IMPL(registry_counts_agree)
{
    tu_run(counts_main, NULL);
    expect_counts_agree(NULL); /* gt_main has returned */
    /* A run that ends in a deadlock leaves its threads PARKED, none
     * RUNNING, and current 0. */
    ASSERT_ERRNO(gt_main(counts_deadlock, NULL), EDEADLK);
    expect_counts_agree(NULL);
    ASSERT_EQ(gt_registry.nstate[GT_STATE_PARKED], 1);
}

/* ---- who holds what, and since when ------------------------------------- */

static gt_mutex_t owned_lock = GT_MUTEX_INITIALIZER;
static uint64_t owner_rec, waiter_rec;

static void lock_waiter(void *arg)
{
    (void)arg;
    waiter_rec = (uint64_t)gt_registry.current;
    gt_mutex_lock(&owned_lock); /* parks: the holder sleeps with it */
    gt_mutex_unlock(&owned_lock);
}

static void lock_holder(void *arg)
{
    (void)arg;
    gt_t w;
    owner_rec = (uint64_t)gt_registry.current;
    ASSERT_EQ(gt_mutex_lock(&owned_lock), 0);
    uint64_t after = (uint64_t)gt_now_ns();
    /* The owner field is the owner's record: the address readers hold. */
    ASSERT_EQ((uint64_t)(uintptr_t)owned_lock.owner, owner_rec);
    /* held_since is the last clock reading: never after the taking, and
     * the registry's clock lags the kernel's by at most 20 us. */
    ASSERT_LE(owned_lock.held_since, after);
    ASSERT_GE(owned_lock.held_since + 20000, gt_registry.run_start);
    ASSERT_EQ(gt_spawn(&w, lock_waiter, NULL, NULL), 0);
    gt_sleep_ns(20 * 1000000);
    /* The waiter is parked on the mutex, naming it. */
    const struct gt_thread_rec *wr = (const void *)(uintptr_t)waiter_rec;
    ASSERT_EQ(wr->state, GT_STATE_PARKED);
    ASSERT_EQ(wr->wait_kind, GT_WAIT_MUTEX);
    ASSERT_EQ(wr->wait_obj, (uint64_t)(uintptr_t)&owned_lock);
    uint64_t handoff = (uint64_t)gt_now_ns();
    ASSERT_EQ(gt_mutex_unlock(&owned_lock), 0);
    /* Handed over: the waiter owns it from the hand-off. */
    ASSERT_EQ((uint64_t)(uintptr_t)owned_lock.owner, waiter_rec);
    ASSERT_GE(owned_lock.held_since + 20000, handoff);
    ASSERT_LE(owned_lock.held_since, (uint64_t)gt_now_ns());
    gt_join(w);
}

TEST_IMPL(registry_mutex_owner_and_hold)
{
    tu_run(lock_holder, NULL);
}

static uint64_t spin_start;

static void run_start_spinner(void *arg)
{
    (void)arg;
    gt_sleep_ns(1000000); /* a park: the next switch-in reads the clock */
    uint64_t rs = gt_registry.run_start;
    uint64_t now = (uint64_t)gt_now_ns();
    ASSERT_NE(rs, 0);
    ASSERT_LE(rs, now);
    ASSERT_LT(now - rs, 5 * 1000000ull); /* it began running just now */
    spin_start = rs;
    while ((uint64_t)gt_now_ns() - now < 30 * 1000000ull)
        ;
    /* Still the same slice: run_start has not moved. */
    ASSERT_EQ(gt_registry.run_start, spin_start);
}

static void yielder(void *arg)
{
    (void)arg;
    gt_yield();
}

static gt_mutex_t woken_mu = GT_MUTEX_INITIALIZER;
static gt_cond_t woken_cond = GT_COND_INITIALIZER;
static uint64_t woken_start, woken_now;

static void woken_by_cond(void *arg)
{
    (void)arg;
    gt_mutex_lock(&woken_mu);
    gt_cond_wait(&woken_cond, &woken_mu);
    woken_start = gt_registry.run_start;
    woken_now = (uint64_t)gt_now_ns();
    gt_mutex_unlock(&woken_mu);
}

static void run_start_main(void *arg)
{
    gt_t a, b, c;
    /* A hand-off to a thread woken from a wait reads the clock anyway
     * (the wait's end): its run start is that reading, not "unknown". */
    ASSERT_EQ(gt_spawn(&c, woken_by_cond, NULL, NULL), 0);
    gt_yield();                       /* c parks on the cond */
    ASSERT_EQ(gt_cond_signal(&woken_cond), 0);
    gt_yield();                       /* hands the CPU to c */
    gt_join(c);
    ASSERT_NE(woken_start, 0);
    ASSERT_LE(woken_start, woken_now);
    ASSERT_LT(woken_now - woken_start, 5 * 1000000ull);
    ASSERT_EQ(gt_spawn(&a, run_start_spinner, arg, NULL), 0);
    gt_join(a);
    /* A hand-off reads no clock and says so. */
    ASSERT_EQ(gt_spawn(&b, yielder, NULL, NULL), 0);
    gt_yield();
    ASSERT_EQ(gt_registry.run_start, 0);
    gt_join(b);
}

TEST_IMPL(registry_run_start)
{
    tu_run(run_start_main, NULL);
}

/* ---- a wait is timed from its park to the moment its thread runs -------------
 *
 * WAITS in gt/registry.h: the wake takes a thread off its location's queue,
 * and its wait is counted, with its length, when the thread runs again.
 * N_TIMED threads wait at one call site; main wakes them all, then computes
 * for TIMED_SPIN_NS without yielding, so none can run before that has
 * passed.  Each then computes TIMED_RUN_NS and waits at a second call site.
 * Each thread brackets its own wait and run with its own clock, which the
 * numbers are checked against: the counts exactly, the times within the
 * runtime clock's lag (CLOCK_SLACK_NS). */

#define N_TIMED 16
#define TIMED_SPIN_NS (5 * TU_MS)
#define TIMED_RUN_NS (1 * TU_MS)

static gt_mutex_t timed_mu = GT_MUTEX_INITIALIZER;
static gt_cond_t timed_cv = GT_COND_INITIALIZER;
static int timed_go;
static gt_chan_t *timed_chan;

struct timed_truth {
    int64_t before_wait, after_wait; /* around the wait at the first site */
    int64_t run_end;                 /* just before the second wait */
};

static void spin_ns(int64_t ns)
{
    int64_t t0 = tu_now_ns();
    while (tu_now_ns() - t0 < ns)
        ;
}

static void timed_waiter(void *arg)
{
    struct timed_truth *truth = arg;
    void *m;
    ASSERT_OK(gt_mutex_lock(&timed_mu));
    truth->before_wait = tu_now_ns();
    while (!timed_go)
        ASSERT_OK(gt_cond_wait(&timed_cv, &timed_mu)); /* the first site */
    truth->after_wait = tu_now_ns();
    ASSERT_OK(gt_mutex_unlock(&timed_mu));
    spin_ns(TIMED_RUN_NS);
    truth->run_end = tu_now_ns();
    ASSERT_OK(gt_chan_recv(timed_chan, &m, GT_FOREVER)); /* the second */
}

/* Yields until every thread in t waits at one location; returns it. */
static uint32_t all_parked_at_one(const gt_t *t, int n)
{
    int64_t t0 = tu_now_ns();
    for (;;) {
        int parked = 0;
        for (int i = 0; i < n; i++)
            parked += ((struct gt_thread_rec *)t[i].rec)->state == GT_STATE_PARKED;
        if (parked == n)
            break;
        if (tu_now_ns() - t0 > 10000 * TU_MS)
            FAIL("after 10 s, %d of %d threads are parked", parked, n);
        gt_yield();
    }
    uint32_t where = ((struct gt_thread_rec *)t[0].rec)->location;
    for (int i = 0; i < n; i++)
        ASSERT_EQ(((struct gt_thread_rec *)t[i].rec)->location, where);
    ASSERT_NE(where, 0);
    return where;
}

static unsigned bucket_of(uint64_t ns)
{
    unsigned b = ns ? 63u - (unsigned)__builtin_clzll(ns) : 0;
    return b < GT_WAIT_HIST_BUCKETS ? b : GT_WAIT_HIST_BUCKETS - 1;
}

static void timed_main(void *arg)
{
    (void)arg;
    static struct timed_truth truth[N_TIMED];
    gt_t t[N_TIMED];
    timed_chan = gt_chan_create(N_TIMED);
    ASSERT_NOT_NULL(timed_chan);
    for (int i = 0; i < N_TIMED; i++)
        t[i] = tu_spawn(timed_waiter, &truth[i]);
    uint32_t first = all_parked_at_one(t, N_TIMED);
    struct gt_location_rec *l = loc(first);
    ASSERT_EQ(l->arrivals, N_TIMED);
    ASSERT_EQ(l->waiting, N_TIMED);
    ASSERT_EQ(l->completed, 0);

    ASSERT_OK(gt_mutex_lock(&timed_mu));
    timed_go = 1;
    ASSERT_OK(gt_cond_broadcast(&timed_cv));
    ASSERT_OK(gt_mutex_unlock(&timed_mu));
    int64_t woken = tu_now_ns();
    /* Woken, none run yet: off the queue, no wait over. */
    ASSERT_EQ(l->seq % 2, 0);
    ASSERT_EQ(l->waiting, 0);
    ASSERT_EQ(l->head, 0);
    ASSERT_EQ(l->tail, 0);
    ASSERT_EQ(l->arrivals, N_TIMED);
    ASSERT_EQ(l->completed, 0);
    ASSERT_EQ(l->total_wait_ns, 0);
    for (int b = 0; b < GT_WAIT_HIST_BUCKETS; b++)
        ASSERT_EQ(l->hist[b], 0);
    for (int i = 0; i < N_TIMED; i++) {
        struct gt_thread_rec *r = (struct gt_thread_rec *)t[i].rec;
        ASSERT_EQ(r->state, GT_STATE_RUNNABLE);
        ASSERT_EQ(r->location, 0);
    }
    spin_ns(TIMED_SPIN_NS);
    int64_t spun = tu_now_ns();

    uint32_t second = all_parked_at_one(t, N_TIMED);
    int64_t all_parked = tu_now_ns();
    ASSERT_NE(second, first);

    /* Each wait began before `woken` and ended after `spun`, within the
     * thread's own bracket. */
    uint64_t lo = (uint64_t)(spun - woken) - CLOCK_SLACK_NS, hi = 0;
    uint64_t bracket_sum = 0;
    for (int i = 0; i < N_TIMED; i++) {
        uint64_t span = (uint64_t)(truth[i].after_wait - truth[i].before_wait);
        ASSERT_LE(truth[i].before_wait, woken);
        ASSERT_GE(truth[i].after_wait, spun);
        bracket_sum += span + CLOCK_SLACK_NS;
        if (span + CLOCK_SLACK_NS > hi)
            hi = span + CLOCK_SLACK_NS;
    }
    ASSERT_EQ(l->seq % 2, 0);
    ASSERT_EQ(l->arrivals, N_TIMED);
    ASSERT_EQ(l->waiting, 0);
    ASSERT_EQ(l->completed, N_TIMED);
    ASSERT_GE(l->total_wait_ns, N_TIMED * lo);
    ASSERT_LE(l->total_wait_ns, bracket_sum);
    ASSERT_GE(l->max_wait_ns, lo);
    ASSERT_LE(l->max_wait_ns, hi);
    /* Every wait in a bucket its bounds allow; the longest in the top one. */
    uint64_t sum = 0, in_range = 0;
    unsigned top = 0;
    for (unsigned b = 0; b < GT_WAIT_HIST_BUCKETS; b++) {
        sum += l->hist[b];
        if (b >= bucket_of(lo) && b <= bucket_of(hi))
            in_range += l->hist[b];
        if (l->hist[b])
            top = b;
    }
    ASSERT_EQ(sum, N_TIMED);
    ASSERT_EQ(in_range, N_TIMED);
    ASSERT_EQ(top, bucket_of(l->max_wait_ns));

    /* The edge first -> second: one transition per thread, each run from
     * the thread's resumption to its next park.  The threads ran one at a
     * time between `spun` and `all_parked`, so their runs add up to no
     * more than that; each lasted at least TIMED_RUN_NS. */
    struct gt_edge_rec *e = NULL;
    for (uint32_t i = 1; i < gt_registry.edge_count; i++)
        if (edge(i)->from == first && edge(i)->to == second) {
            ASSERT_PTR_EQ(e, NULL);
            e = edge(i);
        }
    ASSERT_NOT_NULL(e);
    ASSERT_EQ(e->seq % 2, 0);
    ASSERT_EQ(e->count, N_TIMED);
    ASSERT_GE(e->run_ns, N_TIMED * ((uint64_t)TIMED_RUN_NS - CLOCK_SLACK_NS));
    ASSERT_LE(e->run_ns, (uint64_t)(all_parked - spun) + N_TIMED * CLOCK_SLACK_NS);
    ASSERT_GE(e->max_run_ns, (uint64_t)TIMED_RUN_NS - CLOCK_SLACK_NS);
    ASSERT_LE(e->max_run_ns, e->run_ns);
    for (int i = 0; i < N_TIMED; i++)
        ASSERT_GE(truth[i].run_end - truth[i].after_wait, TIMED_RUN_NS);

    for (int i = 0; i < N_TIMED; i++)
        ASSERT_OK(gt_chan_send(timed_chan, NULL, GT_FOREVER));
    for (int i = 0; i < N_TIMED; i++)
        tu_join(t[i]);
    struct gt_location_rec *l2 = loc(second);
    ASSERT_EQ(l2->arrivals, N_TIMED);
    ASSERT_EQ(l2->completed, N_TIMED);
    ASSERT_EQ(l2->waiting, 0);
    gt_chan_destroy(timed_chan);
}

TEST_IMPL(registry_wait_ends_when_run)
{
    tu_run(timed_main, NULL);
}
