/*
 * targets.c - see targets.h.
 */
#include "targets.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prometheus.h"
#include "proc.h"

void targets_init(struct targets *ts, int discover, int full, uint64_t measure_every_ns,
                  uint64_t full_every_ns)
{
    memset(ts, 0, sizeof(*ts));
    ts->discover = discover;
    /* What a scrape reads: the header (threads by state are the runtime's
     * own tallies), the locations, the record at the head of each queue
     * (its oldest wait) and the edges: a few reads whatever the threads.
     * What only every record tells comes from a full read every
     * full_every_ns.  --full: every thread record at every scrape, for
     * the counts gt-top makes of them, and who blocks whom.  Never the
     * stacks, which cost most of a snapshot and make no series. */
    ts->full = full;
    ts->flags = full ? GTO_SNAP_BLOCKERS : GTO_SNAP_NO_THREADS | GTO_SNAP_QUEUE_HEADS;
    ts->measure_every_ns = measure_every_ns;
    ts->full_every_ns = full ? 0 : full_every_ns;
    discover_init(&ts->disc);
}

static void target_close(struct target *t)
{
    if (t->sampled)
        tables_free(&t->tb);
    t->sampled = 0;
    if (t->open)
        sampler_close(&t->s);
    t->open = 0;
    free(t->blocked);
    t->blocked = NULL;
    t->full_known = 0;
}

void targets_free(struct targets *ts)
{
    for (size_t i = 0; i < ts->n; i++)
        target_close(&ts->v[i]);
    free(ts->v);
    discover_free(&ts->disc);
    memset(ts, 0, sizeof(*ts));
}

/* Whether T's process is gone: no such pid, or the pid is another
 * process's now. */
static int process_gone(const struct target *t)
{
    uint64_t start;
    if (proc_start_time(t->pid, &start) < 0)
        return kill(t->pid, 0) < 0 && errno == ESRCH;
    return t->start && start != t->start;
}

/* Opens T's sampler; -1 with t->err. */
static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Opening a target parses its program's ELF files: a process that
 * cannot be opened (another user's, one that is not dumpable) is tried
 * again this long after, not at every scrape. */
#define REOPEN_NS (10 * UINT64_C(1000000000))

static int target_open(struct targets *ts, struct target *t)
{
    if (monotonic_ns() < t->retry_ns)
        return -1;   /* t->err still says why */
    if (sampler_open(&t->s, t->pid, NULL, NULL, t->err) < 0) {
        /* sampler_open leaves nothing open on failure */
        t->gone = process_gone(t);
        t->retry_ns = monotonic_ns() + REOPEN_NS;
        return -1;
    }
    t->open = 1;
    /* No baseline snapshot: every series is a total or a gauge, none a
     * rate, and the counters' rates are Prometheus's to compute. */
    t->s.flags = ts->flags;
    t->s.sums_only = 1;
    /* The stacks are measured when a snapshot is let go, after the
     * response (targets_release), never inside a scrape. */
    t->s.measure_on_release = 1;
    return 0;
}

/* A new slot for PID, or NULL (full, or out of memory). */
static struct target *target_new(struct targets *ts, pid_t pid, uint64_t start)
{
    if (ts->n == TARGETS_MAX)
        return NULL;
    if (ts->n == ts->cap) {
        size_t cap = ts->cap ? 2 * ts->cap : 16;
        struct target *v = realloc(ts->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        ts->v = v;
        ts->cap = cap;
    }
    struct target *t = &ts->v[ts->n++];
    memset(t, 0, sizeof(*t));
    t->pid = pid;
    t->start = start;
    proc_comm(pid, t->exe, sizeof(t->exe));
    prom_labels(t->labels, sizeof(t->labels), pid, t->exe);
    return t;
}

int targets_add_pid(struct targets *ts, pid_t pid, char *err)
{
    uint64_t start = 0;
    for (size_t i = 0; i < ts->n; i++)
        if (ts->v[i].pid == pid)
            return 0;   /* given twice: one target */
    if (proc_start_time(pid, &start) < 0) {
        snprintf(err, GTO_ERR_MAX, "no process %d", (int)pid);
        return -1;
    }
    struct target *t = target_new(ts, pid, start);
    if (!t) {
        snprintf(err, GTO_ERR_MAX, "too many targets (at most %d)", TARGETS_MAX);
        return -1;
    }
    if (target_open(ts, t) < 0) {
        snprintf(err, GTO_ERR_MAX, "%s", t->err);
        ts->n--;
        return -1;
    }
    t->was_up = 1;
    return 0;
}

/* The last scan's entry of PID (the scan is in pid order), NULL none. */
static const struct discover_proc *scanned(const struct targets *ts, pid_t pid)
{
    size_t lo = 0, hi = ts->disc.nprocs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ts->disc.procs[mid].pid == pid)
            return &ts->disc.procs[mid];
        if (ts->disc.procs[mid].pid < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void targets_rescan(struct targets *ts)
{
    if (!ts->discover || discover_scan(&ts->disc) < 0)
        return;
    /* Drop the targets whose (pid, start) is no longer a gt process. */
    size_t kept = 0;
    for (size_t i = 0; i < ts->n; i++) {
        struct target *t = &ts->v[i];
        const struct discover_proc *p = scanned(ts, t->pid);
        if (!p || p->start != t->start || !p->is_gt || t->gone) {
            target_close(t);
            continue;
        }
        ts->v[kept++] = *t;
    }
    ts->n = kept;
    /* Add the new ones, in pid order (the scan's): the targets kept are
     * marked in the scan first, so that each check is O(log n). */
    uint8_t *known = calloc(ts->disc.nprocs + 1, 1);
    if (!known)
        return;
    for (size_t i = 0; i < ts->n; i++) {
        const struct discover_proc *p = scanned(ts, ts->v[i].pid);
        known[p - ts->disc.procs] = 1;
    }
    for (size_t k = 0; k < ts->disc.nprocs; k++) {
        const struct discover_proc *p = &ts->disc.procs[k];
        if (!p->is_gt)
            continue;
        if (known[k])
            continue;
        struct target *t = target_new(ts, p->pid, p->start);
        if (!t)
            break;
        if (target_open(ts, t) < 0 && t->gone) {
            ts->n--;   /* came and went between the scan and the open */
            continue;
        }
        if (ts->log)
            fprintf(stderr, "gt-exporter: found process %d (%s)\n", (int)t->pid, t->exe);
        t->was_up = 1;   /* a first failure is news */
    }
    free(known);
}

/* Not --full: what only every record of T tells, from a snapshot of
 * them all and of who waits on whom, taken apart from the scrapes' when
 * due (FORCE: now).  A failed read keeps the last one, and the next is
 * tried when due: the scrapes say when the target cannot be read. */
static void full_read(struct targets *ts, struct target *t, int force)
{
    uint64_t now = monotonic_ns();
    if (ts->full || !ts->full_every_ns || !t->open || (!force && now < t->full_due_ns))
        return;
    char err[GTO_ERR_MAX];
    gto_snapshot *snap;
    t->full_due_ns = now + ts->full_every_ns;
    /* Targets read first in one scrape (at start, all of them) are next
     * read a quarter, a half, three quarters or a whole period later, and
     * a period apart from then on: not all after one response, which
     * would hold the next requests up for all their reads at once. */
    if (force)
        t->full_due_ns = now + ts->full_every_ns / 4 * (1 + ts->nfirst++ % 4);
    if (gto_snapshot_take(t->s.target, GTO_SNAP_BLOCKERS, &snap, err) < 0)
        return;
    /* Location indices are bounded by the locations the snapshot read
     * (its array grows with the records, never sized by a count). */
    size_t nlocs = gto_location_count(snap);
    uint64_t *blocked = calloc(nlocs + 1, sizeof(*blocked));
    if (!blocked) {
        gto_snapshot_free(snap);
        return;
    }
    for (size_t i = 1; i <= nlocs; i++) {
        const struct gto_loc_blocker *b;
        size_t n = gto_location_blockers(snap, (uint32_t)i, &b);
        for (size_t k = 0; k < n; k++)
            blocked[i] += b[k].waiters;
    }
    struct prom_full f = {gto_cycle_count(snap), gto_cycle_threads(snap), 0, 0, blocked, nlocs};
    for (size_t i = 0; i < gto_thread_count(snap); i++) {
        const struct gto_thread *th = gto_thread_at(snap, i);
        f.reserved += th->reserved;
        f.live += th->live;
    }
    gto_snapshot_free(snap);
    free(t->blocked);
    t->blocked = blocked;
    t->full = f;
    t->full_known = 1;
}

/* A snapshot without records: each location row's queue and oldest wait
 * from its record and its queue's head (the rows were counted from
 * records there are none of), before the rows are sorted by them. */
static void rows_from_locations(struct target *t)
{
    const gto_snapshot *snap = t->s.cur;
    uint64_t now = gto_snapshot_counters(snap)->now;
    for (size_t i = 0; i < t->tb.nlocs; i++) {
        struct loc_row *r = &t->tb.locs[i];
        const struct gto_location *l = gto_location_by_index(snap, r->index);
        r->waiting = l ? l->waiting : 0;
        /* gto_wait_age's rule, on the head's wait_since */
        r->age_max = l && l->oldest_since && now > l->oldest_since ? now - l->oldest_since : 0;
    }
}

void targets_sample(struct targets *ts)
{
    for (size_t i = 0; i < ts->n; i++) {
        struct target *t = &ts->v[i];
        t->up = 0;
        if (t->gone || (!t->open && target_open(ts, t) < 0))
            continue;
        /* The first scrape of a target has the full read's series too:
         * a family that came one scrape late would look new. */
        if (!t->full_known && !t->full_due_ns)
            full_read(ts, t, 1);
        if (sampler_step(&t->s, t->err) < 0) {
            if (t->s.target_gone || process_gone(t)) {
                t->gone = 1;
                target_close(t);
            }
            continue;
        }
        if (tables_build(&t->tb, &t->s, 0) < 0) {
            snprintf(t->err, sizeof(t->err), "out of memory");
            sampler_release(&t->s);
            continue;
        }
        if (!ts->full)
            rows_from_locations(t);
        /* The rows in the order gt-top -b prints them (the Locations
         * view's own: most threads waiting first), so that the two
         * expositions of one snapshot are the same bytes. */
        tables_sort_locs(&t->tb, 0, 1);
        t->sampled = 1;
        t->up = 1;
    }
    /* One line per change, not per scrape: a target down for a day
     * writes one. */
    for (size_t i = 0; ts->log && i < ts->n; i++) {
        struct target *t = &ts->v[i];
        if (t->up == t->was_up)
            continue;
        t->was_up = t->up;
        if (t->up)
            fprintf(stderr, "gt-exporter: process %d (%s) is read again\n", (int)t->pid, t->exe);
        else if (t->gone)
            fprintf(stderr, "gt-exporter: process %d (%s) exited\n", (int)t->pid, t->exe);
        else
            fprintf(stderr, "gt-exporter: process %d (%s) cannot be read: %s\n", (int)t->pid,
                    t->exe, t->err);
    }
}

void targets_release(struct targets *ts)
{
    for (size_t i = 0; i < ts->n; i++) {
        struct target *t = &ts->v[i];
        if (!t->sampled)
            continue;
        tables_free(&t->tb);
        t->sampled = 0;
        /* sampler_release measures the stacks when its policy says they
         * are due (at most 1/100 of the time); the exporter's own floor
         * spaces them further, or stops them. */
        if (!ts->measure_every_ns)
            t->s.next_measure_ns = UINT64_MAX;
        uint64_t before = t->s.next_measure_ns;
        sampler_release(&t->s);
        if (ts->measure_every_ns && t->s.next_measure_ns != before) {
            uint64_t floor = monotonic_ns() + ts->measure_every_ns;
            if (t->s.next_measure_ns < floor)
                t->s.next_measure_ns = floor;
        }
        /* Once the scrape's snapshot is let go: its buffers serve the
         * full read. */
        full_read(ts, t, 0);
    }
}
