/*
 * sampler.c - snapshots on demand and the rates between two of them.
 */
#include "sampler.h"

#include "blockers.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int sampler_open(struct sampler *s, pid_t pid, const char *core,
                 const char *exe, char *err)
{
    memset(s, 0, sizeof(*s));
    s->pid = core ? 0 : pid;
    s->hog_mark_ns = HOG_MARK_DEFAULT_NS;
    int rc = core ? gto_open_core(core, exe, &s->target, err)
                  : gto_open_pid(pid, &s->target, err);
    return rc;
}

int sampler_measure_aside(struct sampler *s, char *err)
{
    /* The first screen comes first: the first measure waits a second. */
    if (stack_measurer_start(&s->measurer, s->pid, 1000000000u, err) < 0)
        return -1;
    s->measuring_aside = 1;
    return 0;
}

void sampler_close(struct sampler *s)
{
    if (s->measuring_aside)
        stack_measurer_stop(&s->measurer);
    gto_snapshot_free(s->cur);
    free(s->prev.arrivals);
    free(s->prev.edges);
    stack_measures_free(&s->measures);
    if (s->target)
        gto_close(s->target);
    free(s->hist);
    memset(s, 0, sizeof(*s));
}

/* VmRSS of the target: the header's memory figure.  0 when unreadable. */
static uint64_t read_rss(pid_t pid)
{
    char path[64], line[256];
    uint64_t kib = 0;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %lu kB", &kib) == 1)
            break;
    fclose(f);
    return kib * 1024;
}

/* Arrays by location index are as big as the locations plus index 0:
 * libgtobserve gives every location its slot's index, 1 up to the count
 * (a damaged index field is not used), so the registry's count bounds them
 * and so does the memory its records took.  Each index is still checked
 * before it is used. */
static size_t by_index_size(const gto_snapshot *snap)
{
    return gto_location_count(snap) + 1;
}

static void record_history(struct sampler *s)
{
    size_t n = gto_location_count(s->cur);
    size_t need = by_index_size(s->cur);
    if (need > s->nhist) {
        struct loc_history *h = realloc(s->hist, need * sizeof(*h));
        if (!h)
            return;   /* the sparkline is a luxury: skip it */
        memset(h + s->nhist, 0, (need - s->nhist) * sizeof(*h));
        s->hist = h;
        s->nhist = need;
    }
    for (size_t i = 0; i < n; i++) {
        const struct gto_location *l = gto_location_at(s->cur, i);
        if (l->index >= s->nhist)
            continue;
        struct loc_history *h = &s->hist[l->index];
        h->len[h->next] = l->waiting > UINT32_MAX ? UINT32_MAX
                                                  : (uint32_t)l->waiting;
        h->next = (h->next + 1) % SPARK_LEN;
        if (h->filled < SPARK_LEN)
            h->filled++;
    }
}

/* Residency, touched and dead bytes need every stack looked at: its
 * pages in /proc/PID/pagemap, and its lowest written word found by reading
 * pages below the saved sp.  At 100K threads that costs several times a
 * plain refresh (about 250 ms against 25 ms).  The screen has it done on a
 * thread of its own (stack_measurer.c).  Batch mode does it here, once its
 * baseline snapshot is let go (sampler_release: a wait the measure can use
 * follows), and then as often as stack_measure_next allows.  Every
 * thread's figures are kept by id for the Threads view; the header says
 * how old they are.  A snapshot that was measured anyway (the Stacks view)
 * gives fresh figures for free. */
static void sum_stacks(struct sampler *s, const gto_snapshot *m)
{
    s->stacks_measured = stack_measures_build(&s->measures, m, !s->sums_only) == 0;
}

/* A measure snapshot of its own, when one is due. */
static void measure_now(struct sampler *s)
{
    uint64_t t0 = stack_measure_clock();
    if (t0 < s->next_measure_ns)
        return;
    char err[GTO_ERR_MAX];
    gto_snapshot *m;
    if (gto_snapshot_take(s->target, GTO_SNAP_MEASURE, &m, err) < 0)
        return;   /* the next refresh's own snapshot reports the failure */
    sum_stacks(s, m);
    gto_snapshot_free(m);
    s->next_measure_ns = stack_measure_next(stack_measure_clock() - t0);
}

static void measure_stacks(struct sampler *s)
{
    /* A compact core holds each stack's live part only: resident, touched
     * and dead stay unknown ("-", null), never sums of nothing. */
    if (!gto_stack_measures_known(s->target))
        return;
    if (s->flags & GTO_SNAP_MEASURE) {
        sum_stacks(s, s->cur);
        return;
    }
    if (s->measuring_aside) {
        if (stack_measurer_take(&s->measurer, &s->measures))
            s->stacks_measured = 1;
        return;
    }
    /* Batch mode on a live target measures once the snapshot is let go
     * (sampler_release), so that two snapshots' thread arrays are never
     * held at once; the screen's first steps do not wait for it. */
    if (s->pid && (s->measure_on_release || s->steps < 2))
        return;
    measure_now(s);
}

/* Previous edges by their ends, for a binary search: a registry can
 * count many edges, and one scan of them per edge would not end. */
static int cmp_prev_edge(const void *a, const void *b)
{
    const struct prev_edge *x = a, *y = b;
    if (x->from != y->from)
        return x->from < y->from ? -1 : 1;
    return (x->to > y->to) - (x->to < y->to);
}

/* Keeps what the rates need of snapshot SNAP in S->prev.  Out of memory,
 * the rates of locations and edges start over (as after the first
 * snapshot); the counters' always work. */
static void keep_prev(struct sampler *s, const gto_snapshot *snap)
{
    struct prev_sample *p = &s->prev;
    size_t nl = gto_location_count(snap), ne = gto_edge_count(snap);
    size_t need = by_index_size(snap);
    p->have = 1;
    p->c = *gto_snapshot_counters(snap);
    if (need > p->narrivals) {
        uint64_t *a = realloc(p->arrivals, need * sizeof(*a));
        if (!a) {
            free(p->arrivals);
            p->arrivals = NULL;
            p->narrivals = 0;
            return;
        }
        p->arrivals = a;
        p->narrivals = need;
    }
    memset(p->arrivals, 0, p->narrivals * sizeof(*p->arrivals));
    for (size_t i = 0; i < nl; i++) {
        const struct gto_location *l = gto_location_at(snap, i);
        if (l->index < p->narrivals)
            p->arrivals[l->index] = l->arrivals;
    }
    struct prev_edge *e = realloc(p->edges, (ne + 1) * sizeof(*e));
    if (!e) {
        p->nedges = 0;
        return;
    }
    p->edges = e;
    p->nedges = ne;
    for (size_t i = 0; i < ne; i++) {
        const struct gto_edge *g = gto_edge_at(snap, i);
        e[i] = (struct prev_edge){g->from, g->to, g->count, g->run_ns};
    }
    qsort(e, ne, sizeof(*e), cmp_prev_edge);
}

void sampler_release(struct sampler *s)
{
    if (!s->cur)
        return;
    keep_prev(s, s->cur);
    gto_snapshot_free(s->cur);
    s->cur = NULL;
    if (s->measure_on_release && !(s->flags & GTO_SNAP_MEASURE) &&
        gto_stack_measures_known(s->target))
        measure_now(s);
}

int sampler_step(struct sampler *s, char *err)
{
    gto_snapshot *next;
    if (gto_snapshot_take(s->target, s->flags, &next, err) < 0) {
        if (s->pid && kill(s->pid, 0) < 0 && errno == ESRCH)
            s->target_gone = 1;
        return -1;
    }
    if (s->cur) {
        keep_prev(s, s->cur);
        gto_snapshot_free(s->cur);
    }
    s->cur = next;
    s->steps++;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->taken_realtime_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;

    const struct gto_counters *c = gto_snapshot_counters(s->cur);
    if (s->prev.have) {
        const struct gto_counters *p = &s->prev.c;
        s->dt = c->now > p->now ? (double)(c->now - p->now) / 1e9 : 0;
        s->rates_are_averages = 0;
    } else {
        /* Without a previous snapshot, a rate is an average over the
         * program's life: the only honest figure a core can give. */
        s->dt = c->now > c->clock_base ? (double)(c->now - c->clock_base) / 1e9 : 0;
        s->rates_are_averages = 1;
    }
    const struct gto_counters *p = s->prev.have ? &s->prev.c : NULL;
    s->spawns_s = sampler_rate(s, p ? p->spawns : 0, c->spawns);
    s->exits_s = sampler_rate(s, p ? p->exits : 0, c->exits);
    s->switches_s = sampler_rate(s, p ? p->switches : 0, c->switches);
    /* idle_total counts the poller's current blocking wait too: a server
     * blocked in epoll for 26 s is idle for those 26 s, not from the
     * moment epoll returns. */
    double idle = sampler_rate(s, p ? p->idle_total : 0, c->idle_total) / 1e9;
    s->idle_share = idle > 1 ? 1 : idle < 0 ? 0 : idle;
    s->rss = s->pid ? read_rss(s->pid) : 0;
    record_history(s);
    measure_stacks(s);
    return 0;
}

double sampler_rate(const struct sampler *s, uint64_t a, uint64_t b)
{
    if (s->dt <= 0 || b < a)
        return 0;
    return (double)(b - a) / s->dt;
}

double sampler_arrivals_rate(const struct sampler *s, uint32_t index)
{
    const struct gto_location *c = gto_location_by_index(s->cur, index);
    if (!c)
        return 0;
    uint64_t before = index < s->prev.narrivals ? s->prev.arrivals[index] : 0;
    return sampler_rate(s, before, c->arrivals);
}

/* The previous snapshot's record of edge E (the runtime interns an edge
 * by its two ends: one record per pair), NULL when it is new. */
static const struct prev_edge *prev_edge(const struct sampler *s,
                                         const struct gto_edge *e)
{
    const struct prev_edge key = {e->from, e->to, 0, 0};
    if (!s->prev.nedges)
        return NULL;   /* (and no array: bsearch wants one) */
    return bsearch(&key, s->prev.edges, s->prev.nedges, sizeof(key), cmp_prev_edge);
}

void sampler_edge_rate(const struct sampler *s, size_t i, double *per_s,
                       uint64_t *mean_run_ns)
{
    const struct gto_edge *e = gto_edge_at(s->cur, i);
    const struct prev_edge *p = prev_edge(s, e);
    uint64_t count0 = p ? p->count : 0, run0 = p ? p->run_ns : 0;
    *per_s = sampler_rate(s, count0, e->count);
    if (e->count > count0)
        *mean_run_ns = (e->run_ns - run0) / (e->count - count0);
    else
        *mean_run_ns = e->count ? e->run_ns / e->count : 0;
}
