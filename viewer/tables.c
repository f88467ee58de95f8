/*
 * tables.c - rows of the locations, edges and threads tables, and the
 * column descriptions that sort and format them.
 */
#include "tables.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Upper bound of the log2 bucket holding the Qth quantile of HIST. */
static uint64_t hist_quantile(const uint64_t *hist, double q)
{
    uint64_t total = 0, seen = 0;
    for (int b = 0; b < GTO_HIST_BUCKETS; b++)
        total += hist[b];
    if (!total)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)(total - 1)) + 1;
    for (int b = 0; b < GTO_HIST_BUCKETS; b++) {
        seen += hist[b];
        if (seen >= rank)
            return b >= 63 ? UINT64_MAX : (2ull << b) - 1;
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static uint64_t quantile_sorted(const uint64_t *v, size_t n, double q)
{
    return n ? v[(size_t)(q * (double)(n - 1) + 0.5)] : 0;
}

/* Wait ages of the threads parked at each location: one pass over the
 * threads, then one sort of each location's ages (a counting sort by
 * location first, so 100K threads cost one n log n, not a search each). */
static int fill_ages(struct tables *tb, uint64_t now, size_t maxidx)
{
    size_t *start = calloc(maxidx + 2, sizeof(*start));
    uint64_t *ages = malloc((tb->nthreads ? tb->nthreads : 1) * sizeof(*ages));
    size_t *slot_of = calloc(maxidx + 1, sizeof(*slot_of));
    if (!start || !ages || !slot_of) {
        free(start), free(ages), free(slot_of);
        return -1;
    }
    for (size_t i = 0; i < tb->nthreads; i++) {
        const struct gto_thread *th = tb->threads[i].th;
        if (th->state == GTO_STATE_PARKED && th->location && th->location <= maxidx)
            start[th->location + 1]++;
    }
    for (size_t i = 1; i <= maxidx + 1; i++)
        start[i] += start[i - 1];
    memcpy(slot_of, start, (maxidx + 1) * sizeof(*slot_of));
    for (size_t i = 0; i < tb->nthreads; i++) {
        const struct gto_thread *th = tb->threads[i].th;
        if (th->state == GTO_STATE_PARKED && th->location && th->location <= maxidx)
            ages[slot_of[th->location]++] = tb->threads[i].waited_ns;
    }
    for (size_t r = 0; r < tb->nlocs; r++) {
        struct loc_row *l = &tb->locs[r];
        uint64_t *v = ages + start[l->index];
        size_t n = start[l->index + 1] - start[l->index];
        qsort(v, n, sizeof(*v), cmp_u64);
        l->age_p50 = quantile_sorted(v, n, 0.50);
        l->age_p99 = quantile_sorted(v, n, 0.99);
        l->age_max = n ? v[n - 1] : 0;
    }
    (void)now;
    free(start), free(ages), free(slot_of);
    return 0;
}

int tables_build(struct tables *tb, struct sampler *s)
{
    const gto_snapshot *snap = s->cur;
    const struct gto_counters *c = gto_snapshot_counters(snap);
    memset(tb, 0, sizeof(*tb));
    tb->nlocs = gto_location_count(snap);
    tb->nedges = gto_edge_count(snap);
    tb->nthreads = gto_thread_count(snap);
    tb->locs = calloc(tb->nlocs + 1, sizeof(*tb->locs));
    tb->edges = calloc(tb->nedges + 1, sizeof(*tb->edges));
    tb->threads = calloc(tb->nthreads + 1, sizeof(*tb->threads));
    tb->texts = calloc(tb->nlocs + 1, sizeof(*tb->texts));
    if (!tb->texts || !tb->locs || !tb->edges || !tb->threads) {
        tables_free(tb);
        return -1;
    }
    size_t maxidx = 0;
    for (size_t i = 0; i < tb->nlocs; i++) {
        const struct gto_location *l = gto_location_at(snap, i);
        struct loc_row *r = &tb->locs[i];
        r->index = l->index;
        r->where = tb->texts[i];
        if (l->index > maxidx)
            maxidx = l->index;
        r->kind = gto_wait_kind_name((int)l->wait_kind);
        if (l->depth) {
            const struct gto_symbol *sym;
            gto_symbolize(s->target, l->pcs[0], 1, &sym);
            snprintf(r->function, sizeof(r->function), "%s", sym[0].function);
            describe_pc(s->target, l->pcs[0], 1, tb->texts[i], WHERE_MAX);
        } else {
            snprintf(r->function, sizeof(r->function), "?");
            snprintf(tb->texts[i], WHERE_MAX, "?");
        }
        r->waiting = l->waiting;
        r->arrivals_s = sampler_arrivals_rate(s, l->index);
        r->completed = l->completed;
        r->done_p50 = hist_quantile(l->hist, 0.50);
        r->done_p99 = hist_quantile(l->hist, 0.99);
        r->done_mean = l->completed ? l->total_wait_ns / l->completed : 0;
        tb->in_flux += l->in_flux != 0;
    }
    /* Location rows by index, for the threads' and edges' look-ups. */
    const char **where_of = calloc(maxidx + 1, sizeof(*where_of));
    if (!where_of) {
        tables_free(tb);
        return -1;
    }
    for (size_t i = 0; i < tb->nlocs; i++)
        where_of[tb->locs[i].index] = tb->locs[i].where;

    size_t nedges = tb->nedges;
    tb->nedges = 0;
    for (size_t i = 0; i < nedges; i++) {
        const struct gto_edge *e = gto_edge_at(snap, i);
        if (!e->count)
            continue;   /* a slot given out but not yet counted */
        struct edge_row *r = &tb->edges[tb->nedges++];
        r->from = e->from;
        r->to = e->to;
        r->from_where = e->from <= maxidx && where_of[e->from] ? where_of[e->from]
                       : e->from ? "?" : "(thread start)";
        r->to_where = e->to <= maxidx && where_of[e->to] ? where_of[e->to] : "?";
        r->count = e->count;
        sampler_edge_rate(s, i, &r->per_s, &r->mean_run_ns);
        tb->in_flux += e->in_flux != 0;
    }
    for (size_t i = 0; i < tb->nthreads; i++) {
        const struct gto_thread *th = gto_thread_at(snap, i);
        struct thread_row *r = &tb->threads[i];
        r->th = th;
        r->where = th->location && th->location <= maxidx && where_of[th->location]
                       ? where_of[th->location] : "";
        r->waited_ns = th->state == GTO_STATE_PARKED && th->wait_since &&
                               c->now > th->wait_since
                           ? c->now - th->wait_since : 0;
        tb->reserved += th->reserved;
        tb->live += th->live;
        tb->resident += th->resident;
        tb->dead += th->dead;
        tb->measured |= th->measured;
        tb->in_flux += th->in_flux != 0;
    }
    free(where_of);
    if (fill_ages(tb, c->now, maxidx) < 0) {
        tables_free(tb);
        return -1;
    }
    return 0;
}

void tables_free(struct tables *tb)
{
    free(tb->locs);
    free(tb->edges);
    free(tb->threads);
    free(tb->texts);
    memset(tb, 0, sizeof(*tb));
}

const struct loc_row *tables_loc(const struct tables *tb, uint32_t index)
{
    for (size_t i = 0; i < tb->nlocs; i++)
        if (tb->locs[i].index == index)
            return &tb->locs[i];
    return NULL;
}

/* ---- columns ------------------------------------------------------------ */

#define CMP(a, b) (((a) > (b)) - ((a) < (b)))
#define LOC(p) ((const struct loc_row *)(p))
#define THR(p) (((const struct thread_row *)(p))->th)
#define TROW(p) ((const struct thread_row *)(p))

static void fmt_dur(uint64_t ns, char *buf, size_t len)
{
    if (!ns)
        snprintf(buf, len, "-");
    else
        fmt_duration(ns, buf, len);
}

static int lc_where(const void *a, const void *b) { return strcmp(LOC(a)->where, LOC(b)->where); }
static int lc_waiting(const void *a, const void *b) { return CMP(LOC(a)->waiting, LOC(b)->waiting); }
static int lc_arrivals(const void *a, const void *b) { return CMP(LOC(a)->arrivals_s, LOC(b)->arrivals_s); }
static int lc_p50(const void *a, const void *b) { return CMP(LOC(a)->age_p50, LOC(b)->age_p50); }
static int lc_p99(const void *a, const void *b) { return CMP(LOC(a)->age_p99, LOC(b)->age_p99); }
static int lc_max(const void *a, const void *b) { return CMP(LOC(a)->age_max, LOC(b)->age_max); }
static int lc_done(const void *a, const void *b) { return CMP(LOC(a)->done_p99, LOC(b)->done_p99); }
static int lc_kind(const void *a, const void *b) { return strcmp(LOC(a)->kind, LOC(b)->kind); }

static void lf_where(const void *r, char *b, size_t n) { snprintf(b, n, "%s", LOC(r)->where); }
static void lf_waiting(const void *r, char *b, size_t n) { fmt_count(LOC(r)->waiting, b, n); }
static void lf_arrivals(const void *r, char *b, size_t n) { snprintf(b, n, "%.1f", LOC(r)->arrivals_s); }
static void lf_p50(const void *r, char *b, size_t n) { fmt_dur(LOC(r)->age_p50, b, n); }
static void lf_p99(const void *r, char *b, size_t n) { fmt_dur(LOC(r)->age_p99, b, n); }
static void lf_max(const void *r, char *b, size_t n) { fmt_dur(LOC(r)->age_max, b, n); }
static void lf_done(const void *r, char *b, size_t n) { fmt_dur(LOC(r)->done_p99, b, n); }
static void lf_kind(const void *r, char *b, size_t n) { snprintf(b, n, "%s", LOC(r)->kind); }

const struct column loc_columns[] = {
    {"waiting", "WAITING", 7, COL_RIGHT, "threads waiting there now", lc_waiting, lf_waiting},
    {"arrivals_per_s", "ARRIV/s", 8, COL_RIGHT, "threads arriving per second", lc_arrivals, lf_arrivals},
    {"age_p50", "AGE50", 7, COL_RIGHT, "median age of the waits in progress", lc_p50, lf_p50},
    {"age_p99", "AGE99", 7, COL_RIGHT, "99th percentile age of the waits in progress", lc_p99, lf_p99},
    {"age_max", "OLDEST", 7, COL_RIGHT, "oldest wait in progress", lc_max, lf_max},
    {"done_p99", "DONE99", 7, COL_RIGHT, "99th percentile of completed waits (log2 bucket bound)", lc_done, lf_done},
    {"kind", "KIND", 9, COL_LEFT, "what the threads wait on", lc_kind, lf_kind},
    {"location", "LOCATION", 0, COL_LEFT, "function (file:line) of the blocking call", lc_where, lf_where},
};
const size_t loc_ncolumns = sizeof(loc_columns) / sizeof(loc_columns[0]);

static int tc_id(const void *a, const void *b) { return CMP(THR(a)->id, THR(b)->id); }
static int tc_name(const void *a, const void *b) { return strcmp(THR(a)->name, THR(b)->name); }
static int tc_state(const void *a, const void *b) { return CMP(THR(a)->state, THR(b)->state); }
static int tc_waited(const void *a, const void *b) { return CMP(TROW(a)->waited_ns, TROW(b)->waited_ns); }
static int tc_run(const void *a, const void *b) { return CMP(THR(a)->run_ns, THR(b)->run_ns); }
static int tc_sw(const void *a, const void *b) { return CMP(THR(a)->switches, THR(b)->switches); }
static int tc_live(const void *a, const void *b) { return CMP(THR(a)->live, THR(b)->live); }
static int tc_touched(const void *a, const void *b) { return CMP(THR(a)->touched, THR(b)->touched); }
static int tc_where(const void *a, const void *b) { return strcmp(TROW(a)->where, TROW(b)->where); }

static void tf_id(const void *r, char *b, size_t n) { snprintf(b, n, "%lu", (unsigned long)THR(r)->id); }
static void tf_name(const void *r, char *b, size_t n) { snprintf(b, n, "%s", THR(r)->name[0] ? THR(r)->name : "-"); }
static void tf_state(const void *r, char *b, size_t n) { snprintf(b, n, "%s", gto_state_name(THR(r)->state)); }
static void tf_waited(const void *r, char *b, size_t n) { fmt_dur(TROW(r)->waited_ns, b, n); }
static void tf_run(const void *r, char *b, size_t n) { fmt_dur(THR(r)->run_ns, b, n); }
static void tf_sw(const void *r, char *b, size_t n) { snprintf(b, n, "%lu", (unsigned long)THR(r)->switches); }
static void tf_live(const void *r, char *b, size_t n) { fmt_bytes(THR(r)->live, b, n); }
static void tf_touched(const void *r, char *b, size_t n)
{
    if (THR(r)->measured)
        fmt_bytes(THR(r)->touched, b, n);
    else
        snprintf(b, n, "-");
}
static void tf_where(const void *r, char *b, size_t n) { snprintf(b, n, "%s", TROW(r)->where); }

const struct column thread_columns[] = {
    {"id", "ID", 7, COL_RIGHT, "thread id", tc_id, tf_id},
    {"name", "NAME", 12, COL_LEFT, "thread name", tc_name, tf_name},
    {"state", "STATE", 8, COL_LEFT, "runnable, running, parked, exited", tc_state, tf_state},
    {"waited", "WAITED", 7, COL_RIGHT, "how long it has waited (parked)", tc_waited, tf_waited},
    {"run", "RUN", 7, COL_RIGHT, "time it has run", tc_run, tf_run},
    {"switches", "SWITCH", 7, COL_RIGHT, "times it was switched in", tc_sw, tf_sw},
    {"live", "LIVE", 8, COL_RIGHT, "live stack bytes", tc_live, tf_live},
    {"touched", "TOUCHED", 8, COL_RIGHT, "touched stack bytes (stacks view measures)", tc_touched, tf_touched},
    {"location", "LOCATION", 0, COL_LEFT, "where it waits", tc_where, tf_where},
};
const size_t thread_ncolumns = sizeof(thread_columns) / sizeof(thread_columns[0]);

struct sort_ctx {
    int (*compare)(const void *, const void *);
    int desc;
};

static int sort_cmp(const void *a, const void *b, void *arg)
{
    const struct sort_ctx *c = arg;
    int r = c->compare(a, b);
    return c->desc ? -r : r;
}

void tables_sort_locs(struct tables *tb, size_t col, int desc)
{
    struct sort_ctx c = {loc_columns[col].compare, desc};
    qsort_r(tb->locs, tb->nlocs, sizeof(*tb->locs), sort_cmp, &c);
}

void tables_sort_threads(struct thread_row *rows, size_t n, size_t col,
                         int desc)
{
    struct sort_ctx c = {thread_columns[col].compare, desc};
    qsort_r(rows, n, sizeof(*rows), sort_cmp, &c);
}
