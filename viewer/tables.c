/*
 * tables.c - rows of the locations, edges and threads tables, and the
 * column descriptions that sort and format them.
 */
#include "tables.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* Sorts V[0, n) ascending: LSD radix, a byte per pass, a byte that is the
 * same in every value costing one look and no pass.  TMP holds N. */
static void sort_u64(uint64_t *v, uint64_t *tmp, size_t n)
{
    uint64_t all_or = 0, all_and = ~0ull;
    for (size_t i = 0; i < n; i++) {
        all_or |= v[i];
        all_and &= v[i];
    }
    for (int shift = 0; shift < 64; shift += 8) {
        if ((((all_or ^ all_and) >> shift) & 0xff) == 0)
            continue;
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[((v[i] >> shift) & 0xff) + 1]++;
        for (int b = 0; b < 256; b++)
            count[b + 1] += count[b];
        for (size_t i = 0; i < n; i++)
            tmp[count[(v[i] >> shift) & 0xff]++] = v[i];
        memcpy(v, tmp, n * sizeof(*v));
    }
}

static int queued(const struct gto_thread *th, size_t maxidx)
{
    return th->state == GTO_STATE_PARKED && !th->in_flux && th->location &&
           th->location <= maxidx;
}

/* A parked thread's location and age, gathered in one pass over the
 * thread records (360 bytes apart: each pass over 100K of them is cache
 * misses, so there is one). */
struct queued_age {
    uint64_t age;
    size_t location;
};

/* Wait ages of the threads parked at each location: one pass over the
 * threads, then grouping the ages by location (a counting sort), each group
 * sorted by radix, and the quantiles read by the library's rank rule
 * (gto_quantile): O(n) for 100K threads. */
static int fill_ages(struct tables *tb, const gto_snapshot *snap, size_t maxidx)
{
    size_t n = gto_thread_count(snap), nq = 0, most = 0;
    uint64_t now = gto_snapshot_counters(snap)->now;
    size_t *start = calloc(maxidx + 2, sizeof(*start));
    struct queued_age *q = malloc((n + 1) * sizeof(*q));
    if (!start || !q) {
        free(start), free(q);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const struct gto_thread *th = gto_thread_at(snap, i);
        if (queued(th, maxidx)) {
            q[nq++] = (struct queued_age){gto_wait_age(th, now), th->location};
            start[th->location + 1]++;
        }
    }
    for (size_t i = 1; i <= maxidx + 1; i++) {
        if (start[i] > most)
            most = start[i];
        start[i] += start[i - 1];
    }
    uint64_t *ages = malloc((nq + 1) * sizeof(*ages));
    uint64_t *tmp = malloc((most + 1) * sizeof(*tmp));
    size_t *slot_of = malloc((maxidx + 1) * sizeof(*slot_of));
    if (!ages || !tmp || !slot_of) {
        free(start), free(q), free(ages), free(tmp), free(slot_of);
        return -1;
    }
    memcpy(slot_of, start, (maxidx + 1) * sizeof(*slot_of));
    for (size_t i = 0; i < nq; i++)
        ages[slot_of[q[i].location]++] = q[i].age;
    for (size_t r = 0; r < tb->nlocs; r++) {
        struct loc_row *l = &tb->locs[r];
        uint64_t *v = ages + start[l->index];
        size_t k = start[l->index + 1] - start[l->index];
        sort_u64(v, tmp, k);
        l->waiting = k;
        l->age_max = k ? v[k - 1] : 0;
        l->age_p50 = gto_quantile(v, k, 0.50);
        l->age_p99 = gto_quantile(v, k, 0.99);
    }
    free(start), free(q), free(ages), free(tmp), free(slot_of);
    return 0;
}

static int by_where(const void *a, const void *b)
{
    return strcmp((*(const struct loc_row *const *)a)->where,
                  (*(const struct loc_row *const *)b)->where);
}

/* Each location index's rank in the order of the locations' texts, from 1;
 * equal texts share a rank.  NULL when out of memory. */
static uint32_t *location_ranks(const struct tables *tb, size_t maxidx)
{
    uint32_t *rank = calloc(maxidx + 1, sizeof(*rank));
    struct loc_row **by = malloc((tb->nlocs + 1) * sizeof(*by));
    if (!rank || !by) {
        free(rank), free(by);
        return NULL;
    }
    for (size_t i = 0; i < tb->nlocs; i++)
        by[i] = &tb->locs[i];
    qsort(by, tb->nlocs, sizeof(*by), by_where);
    uint32_t r = 0;
    for (size_t i = 0; i < tb->nlocs; i++) {
        if (i == 0 || strcmp(by[i - 1]->where, by[i]->where) != 0)
            r++;
        else
            by[i - 1]->where_shared = by[i]->where_shared = 1;
        rank[by[i]->index] = r;
    }
    free(by);
    return rank;
}

/* Each location index's row + 1 in TB->locs (0 none), after a sort too. */
static void index_rows(struct tables *tb)
{
    memset(tb->row_of, 0, (tb->nlocs + 1) * sizeof(*tb->row_of));
    for (size_t i = 0; i < tb->nlocs; i++)
        if (tb->locs[i].index && tb->locs[i].index <= tb->nlocs)
            tb->row_of[tb->locs[i].index] = i + 1;
}

/* Appends TEXT to TB's texts, its offset into *AT: the texts take their
 * own length each, not a label's room (WHERE_MAX), so a registry of many
 * locations costs gt-top what their labels hold.  -1 out of memory. */
static int keep_text(struct tables *tb, const char *text, size_t *at)
{
    size_t n = strlen(text) + 1;
    if (tb->texts_len + n > tb->texts_cap) {
        size_t cap = tb->texts_cap ? tb->texts_cap * 2 : 4096;
        while (cap < tb->texts_len + n)
            cap *= 2;
        char *t = realloc(tb->texts, cap);
        if (!t)
            return -1;
        tb->texts = t;
        tb->texts_cap = cap;
    }
    memcpy(tb->texts + tb->texts_len, text, n);
    *at = tb->texts_len;
    tb->texts_len += n;
    return 0;
}

static int cmp_block_ends(const void *a, const void *b)
{
    const struct block_row *x = a, *y = b;
    if (x->from != y->from)
        return x->from < y->from ? -1 : 1;
    if (x->to != y->to)
        return x->to < y->to ? -1 : 1;
    return (x->to_state > y->to_state) - (x->to_state < y->to_state);
}

/* By source location, then most waiters first: the Graph view's order. */
static int cmp_block_rows(const void *a, const void *b)
{
    const struct block_row *x = a, *y = b;
    if (x->from != y->from)
        return x->from < y->from ? -1 : 1;
    if (x->waiters != y->waiters)
        return x->waiters > y->waiters ? -1 : 1;
    return cmp_block_ends(a, b);
}

size_t tables_merge_blocks(struct block_row *b, size_t n)
{
    qsort(b, n, sizeof(*b), cmp_block_ends);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (out && cmp_block_ends(&b[out - 1], &b[i]) == 0) {
            b[out - 1].waiters += b[i].waiters;
            b[out - 1].threads += b[i].threads;
        } else {
            b[out++] = b[i];
        }
    }
    qsort(b, out, sizeof(*b), cmp_block_rows);
    return out;
}

/* Each location's blockers (the library's, from the wait-for edges of its
 * waiters), and the edges "waits on a thread parked at ..." they make:
 * one per pair of locations, the threads that hold the waiters up being
 * counted together when they park at one place.  A blocker's location
 * index is bounded by the library like every thread's; one past the
 * locations here still names none.  O(B log B) for B blockers. */
static int build_blocks(struct tables *tb, const gto_snapshot *snap,
                        const char **where_of, size_t maxidx)
{
    size_t total = 0;
    for (size_t i = 0; i < tb->nlocs; i++) {
        struct loc_row *r = &tb->locs[i];
        const struct gto_loc_blocker *b;
        size_t n = r->index ? gto_location_blockers(snap, r->index, &b) : 0;
        r->nblockers = n;
        for (size_t k = 0; k < n; k++)
            r->blocked_waiters += b[k].waiters;
        if (n) {
            r->blocker_id = b[0].by->id;
            r->blocker_waiters = b[0].waiters;
        }
        total += n;
    }
    tb->blocks = calloc(total + 1, sizeof(*tb->blocks));
    if (!tb->blocks)
        return -1;
    size_t nb = 0;
    for (size_t i = 0; i < tb->nlocs; i++) {
        const struct loc_row *r = &tb->locs[i];
        const struct gto_loc_blocker *b;
        size_t n = r->nblockers ? gto_location_blockers(snap, r->index, &b) : 0;
        for (size_t k = 0; k < n && nb < total; k++) {
            const struct gto_thread *by = b[k].by;
            uint32_t to = by->state == GTO_STATE_PARKED && by->location &&
                                  by->location <= maxidx && where_of[by->location]
                              ? by->location : 0;
            tb->blocks[nb++] = (struct block_row){
                .from = r->index, .to = to, .to_state = by->state,
                .from_where = r->where, .to_where = to ? where_of[to] : "",
                .waiters = b[k].waiters, .threads = 1};
        }
    }
    tb->nblocks = tables_merge_blocks(tb->blocks, nb);
    return 0;
}

int tables_build(struct tables *tb, struct sampler *s, int with_threads)
{
    const gto_snapshot *snap = s->cur;
    const struct gto_counters *c = gto_snapshot_counters(snap);
    memset(tb, 0, sizeof(*tb));
    tb->nlocs = gto_location_count(snap);
    tb->nedges = gto_edge_count(snap);
    tb->total_threads = gto_thread_count(snap);
    tb->nthreads = with_threads ? tb->total_threads : 0;
    tb->locs = calloc(tb->nlocs + 1, sizeof(*tb->locs));
    tb->edges = calloc(tb->nedges + 1, sizeof(*tb->edges));
    tb->threads = calloc(tb->nthreads + 1, sizeof(*tb->threads));
    tb->row_of = calloc(tb->nlocs + 1, sizeof(*tb->row_of));
    size_t *text_at = malloc((tb->nlocs + 1) * sizeof(*text_at));
    if (!text_at || !tb->locs || !tb->edges || !tb->threads || !tb->row_of) {
        free(text_at);
        tables_free(tb);
        return -1;
    }
    /* Arrays by location index hold the locations and index 0: the
     * library gives each location its slot's index, 1 up to their count,
     * and bounds every thread's and edge's index by it (a damaged one is
     * counted, never used).  An index past them here would be a broken
     * promise, not a location: that row keeps index 0, which names none. */
    size_t maxidx = tb->nlocs;
    tb->damaged = c->damaged;
    for (size_t i = 0; i < tb->nlocs; i++) {
        const struct gto_location *l = gto_location_at(snap, i);
        struct loc_row *r = &tb->locs[i];
        char label[WHERE_MAX];
        r->index = l->index <= maxidx ? l->index : 0;
        r->kind = gto_wait_kind_name((int)l->wait_kind);
        if (l->depth) {
            /* The library's label: every pc with its inline chain, so two
             * locations that share a call site (a helper called from two
             * places, a function inlined into two callers) are told apart
             * by their callers, and every reader names them alike. */
            const struct gto_symbol *sym;
            gto_symbolize(s->target, l->pcs[0], 1, &sym);
            snprintf(r->function, sizeof(r->function), "%s", sym[0].function);
            gto_location_label(s->target, l, label, sizeof(label));
        } else {
            snprintf(r->function, sizeof(r->function), "?");
            snprintf(label, sizeof(label), "?");
        }
        if (keep_text(tb, label, &text_at[i]) < 0) {
            free(text_at);
            tables_free(tb);
            return -1;
        }
        r->arrivals_s = sampler_arrivals_rate(s, r->index);
        r->completed = l->completed;
        /* Bucket bounds clamped to the longest wait recorded: a log2
         * bucket's bound alone can be twice the data (1099.5s for sleeps
         * of 600 s). */
        r->done_p50 = gto_hist_quantile(l->hist, GTO_HIST_BUCKETS, l->max_wait_ns, 0.50);
        r->done_p99 = gto_hist_quantile(l->hist, GTO_HIST_BUCKETS, l->max_wait_ns, 0.99);
        r->wait_max = l->max_wait_ns;
        r->arrivals = l->arrivals;
        r->now_exact = c->now_exact;
        r->done_mean = l->completed ? l->total_wait_ns / l->completed : 0;
        tb->in_flux += l->in_flux != 0;
    }
    for (size_t i = 0; i < tb->nlocs; i++)
        tb->locs[i].where = tb->texts + text_at[i];
    free(text_at);
    /* Location rows by index, for the threads' and edges' look-ups. */
    const char **where_of = calloc(maxidx + 1, sizeof(*where_of));
    if (!where_of) {
        tables_free(tb);
        return -1;
    }
    for (size_t i = 0; i < tb->nlocs; i++)
        if (tb->locs[i].index)
            where_of[tb->locs[i].index] = tb->locs[i].where;
    index_rows(tb);
    uint32_t *rank_of = location_ranks(tb, maxidx);
    if (!rank_of) {
        free(where_of);
        tables_free(tb);
        return -1;
    }

    if (build_blocks(tb, snap, where_of, maxidx) < 0) {
        free(where_of);
        free(rank_of);
        tables_free(tb);
        return -1;
    }
    tb->ncycles = gto_cycle_count(snap);
    tb->cycle_threads = gto_cycle_threads(snap);
    tb->running = gto_hog(snap, &tb->hog);

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
    /* One pass over the thread records for the totals and the rows. */
    size_t cursor = 0;
    for (size_t i = 0; i < tb->total_threads; i++) {
        const struct gto_thread *th = gto_thread_at(snap, i);
        tb->reserved += th->reserved;
        tb->live += th->live;
        tb->resident += th->resident;
        tb->dead += th->dead;
        tb->measured |= th->measured;
        if (i >= tb->nthreads)
            continue;
        struct thread_row *r = &tb->threads[i];
        const struct thread_measure *m;
        if (th->measured) {
            r->measured = 1;
            r->touched = th->touched;
            r->resident = th->resident;
            r->dead = th->dead;
        } else if (s->stacks_measured &&
                   (m = stack_measures_find(&s->measures, th->id, &cursor))) {
            r->measured = 1;
            r->touched = m->touched;
            r->resident = m->resident;
            r->dead = m->dead;
        }
        r->th = th;
        r->s = s;
        int known = th->location && th->location <= maxidx && where_of[th->location];
        r->where = known ? where_of[th->location] : "";
        r->where_rank = known ? rank_of[th->location] : 0;
        r->now = c->now;
        r->now_exact = c->now_exact != 0;
        r->waited_ns = gto_wait_age(th, c->now);
    }
    /* Threads by state are the library's count of these same records (a
     * record that stayed torn is in no state, and at most one runs). */
    memcpy(tb->nstate, c->nstate, sizeof(tb->nstate));
    tb->threads_in_flux = c->in_flux;
    tb->in_flux += c->in_flux;
    free(where_of);
    free(rank_of);
    if (!tb->measured && s->stacks_measured) {
        tb->resident = s->measures.resident;
        tb->dead = s->measures.dead;
        tb->measured = 1;
        tb->measured_age_ns = c->now > s->measures.measured_ns
                                  ? c->now - s->measures.measured_ns : 0;
    }
    if (fill_ages(tb, snap, maxidx) < 0) {
        tables_free(tb);
        return -1;
    }
    return 0;
}

void tables_free(struct tables *tb)
{
    free(tb->locs);
    free(tb->edges);
    free(tb->blocks);
    free(tb->threads);
    free(tb->texts);
    free(tb->row_of);
    memset(tb, 0, sizeof(*tb));
}

const struct loc_row *tables_loc(const struct tables *tb, uint32_t index)
{
    if (!index || index > tb->nlocs || !tb->row_of[index])
        return NULL;
    return &tb->locs[tb->row_of[index] - 1];
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
        gto_fmt_duration(ns, buf, len);
}

/* An age (now - a timestamp): ">= " in front when now is a lower bound. */
static void fmt_age(uint64_t ns, int exact, char *buf, size_t len)
{
    if (!ns)
        snprintf(buf, len, "-");
    else
        gto_fmt_age(ns, exact, buf, len);
}

static int lc_where(const void *a, const void *b) { return strcmp(LOC(a)->where, LOC(b)->where); }
static int lc_waiting(const void *a, const void *b) { return CMP(LOC(a)->waiting, LOC(b)->waiting); }
static int lc_arrivals(const void *a, const void *b) { return CMP(LOC(a)->arrivals_s, LOC(b)->arrivals_s); }
static int lc_p50(const void *a, const void *b) { return CMP(LOC(a)->age_p50, LOC(b)->age_p50); }
static int lc_p99(const void *a, const void *b) { return CMP(LOC(a)->age_p99, LOC(b)->age_p99); }
static int lc_max(const void *a, const void *b) { return CMP(LOC(a)->age_max, LOC(b)->age_max); }
static int lc_done(const void *a, const void *b) { return CMP(LOC(a)->done_p99, LOC(b)->done_p99); }
static int lc_kind(const void *a, const void *b) { return strcmp(LOC(a)->kind, LOC(b)->kind); }
static int lc_blocked(const void *a, const void *b) { return CMP(LOC(a)->blocked_waiters, LOC(b)->blocked_waiters); }

static int lc_pid(const void *a, const void *b) { return CMP(LOC(a)->pid, LOC(b)->pid); }
static void lf_pid(const void *r, char *b, size_t n)
{
    if (LOC(r)->pid)
        snprintf(b, n, "%d", (int)LOC(r)->pid);
    else
        snprintf(b, n, "all");
}
static void lf_where(const void *r, char *b, size_t n) { snprintf(b, n, "%s", LOC(r)->where); }
static void lf_waiting(const void *r, char *b, size_t n) { gto_fmt_count(LOC(r)->waiting, b, n); }
static void lf_arrivals(const void *r, char *b, size_t n) { snprintf(b, n, "%.1f", LOC(r)->arrivals_s); }
static void lf_p50(const void *r, char *b, size_t n) { fmt_age(LOC(r)->age_p50, LOC(r)->now_exact, b, n); }
static void lf_p99(const void *r, char *b, size_t n) { fmt_age(LOC(r)->age_p99, LOC(r)->now_exact, b, n); }
static void lf_max(const void *r, char *b, size_t n) { fmt_age(LOC(r)->age_max, LOC(r)->now_exact, b, n); }
static void lf_done(const void *r, char *b, size_t n) { fmt_dur(LOC(r)->done_p99, b, n); }
static void lf_kind(const void *r, char *b, size_t n) { snprintf(b, n, "%s", LOC(r)->kind); }
/* "thread 2 (50)": the thread holding up most of its waiters and how many;
 * " +N" more threads hold up the others; empty when none does. */
static void lf_blocked(const void *r, char *b, size_t n)
{
    const struct loc_row *l = LOC(r);
    char pid[32] = "";
    /* Thread ids are per process: over several, the blocker's pid too. */
    if (l->blocker_pid)
        snprintf(pid, sizeof(pid), "pid %d ", (int)l->blocker_pid);
    if (!l->nblockers)
        snprintf(b, n, "%s", "");
    else if (pid[0] && l->nblockers == 1)
        snprintf(b, n, "%sthread %" PRIu64 " (%" PRIu64 ")", pid, l->blocker_id,
                 l->blocker_waiters);
    else if (pid[0])
        snprintf(b, n, "%sthread %" PRIu64 " (%" PRIu64 ") +%zu", pid, l->blocker_id,
                 l->blocker_waiters, l->nblockers - 1);
    else if (l->nblockers == 1)
        snprintf(b, n, "thread %" PRIu64 " (%" PRIu64 ")", l->blocker_id, l->blocker_waiters);
    else
        snprintf(b, n, "thread %" PRIu64 " (%" PRIu64 ") +%zu", l->blocker_id,
                 l->blocker_waiters, l->nblockers - 1);
}

const struct column loc_columns[] = {
    {"waiting", "WAITING", 8, COL_RIGHT, "threads waiting there now", lc_waiting, lf_waiting, NULL},
    {"arrivals_per_s", "ARRIV/s", 8, COL_RIGHT, "threads arriving per second", lc_arrivals, lf_arrivals, NULL},
    {"age_p50", "AGE50", 9, COL_RIGHT, "median age of the waits in progress", lc_p50, lf_p50, NULL},
    {"age_p99", "AGE99", 9, COL_RIGHT, "99th percentile age of the waits in progress", lc_p99, lf_p99, NULL},
    {"age_max", "OLDEST", 9, COL_RIGHT, "oldest wait in progress", lc_max, lf_max, NULL},
    {"done_p99", "DONE99", 7, COL_RIGHT, "99th percentile of completed waits (log2 bucket bound, at most the longest wait)", lc_done, lf_done, NULL},
    /* Index 6: the screen's screen_loc_columns (tui.c) names it. */
    {"blocked_by", "BLOCKED BY", 16, COL_LEFT, "the thread holding up most of its waiters (through a mutex or a join) and how many; +N more threads hold up others", lc_blocked, lf_blocked, NULL},
    {"kind", "KIND", 9, COL_LEFT, "what the threads wait on", lc_kind, lf_kind, NULL},
    {"location", "LOCATION", 0, COL_LEFT, "function (file:line) of the blocking call", lc_where, lf_where, NULL},
    /* Over several processes only (loc_ncolumns_multi). */
    {"pid", "PID", 7, COL_RIGHT, "the process of a row split by process (P on the screen), all for a row summed over every process", lc_pid, lf_pid, NULL},
};
const size_t loc_ncolumns_multi = sizeof(loc_columns) / sizeof(loc_columns[0]);
const size_t loc_ncolumns = sizeof(loc_columns) / sizeof(loc_columns[0]) - 1;

/* Thread columns: a sort key each; the names also compare in full. */
static uint64_t tk_id(const void *r) { return THR(r)->id; }
static uint64_t tk_name(const void *r)
{
    /* The first 8 bytes, big-endian: the same order as strcmp on them. */
    uint64_t k = 0;
    const char *n = THR(r)->name;
    for (int i = 0; i < 8; i++) {
        k = k << 8 | (uint8_t)*n;
        if (*n)
            n++;
    }
    return k;
}
static uint64_t tk_state(const void *r) { return (uint64_t)THR(r)->state; }
static uint64_t tk_waits_on(const void *r)
{
    const struct gto_thread *th = THR(r);
    if (th->state != GTO_STATE_PARKED)
        return 0;
    return (uint64_t)(th->wait_kind & 0xff) << 56 | (th->wait_obj & 0xffffffffffffffull);
}
static uint64_t tk_waited(const void *r) { return TROW(r)->waited_ns; }
static uint64_t tk_run(const void *r) { return THR(r)->run_ns; }
static uint64_t tk_sw(const void *r) { return THR(r)->switches; }
static uint64_t tk_live(const void *r) { return THR(r)->live; }
static uint64_t tk_touched(const void *r) { return TROW(r)->measured ? TROW(r)->touched : 0; }
static uint64_t tk_reserved(const void *r) { return THR(r)->reserved; }
static uint64_t tk_where(const void *r) { return TROW(r)->where_rank; }
/* The thread holding it up (gto_block_of: a mutex's owner, the joined
 * thread, the owner of the mutex a cond waiter retakes), 0 none. */
static uint64_t tk_blocked(const void *r)
{
    const struct gto_block *b = gto_block_of(TROW(r)->s->cur, THR(r));
    return b && b->by ? b->by->id : 0;
}

static uint64_t tk_pid(const void *r) { return (uint64_t)TROW(r)->s->pid; }
static int tc_pid(const void *a, const void *b) { return CMP(tk_pid(a), tk_pid(b)); }
static void tf_pid(const void *r, char *b, size_t n) { snprintf(b, n, "%d", (int)TROW(r)->s->pid); }
static int tc_id(const void *a, const void *b) { return CMP(tk_id(a), tk_id(b)); }
static int tc_name(const void *a, const void *b) { return strcmp(THR(a)->name, THR(b)->name); }
static int tc_state(const void *a, const void *b) { return CMP(tk_state(a), tk_state(b)); }
static int tc_waits_on(const void *a, const void *b) { return CMP(tk_waits_on(a), tk_waits_on(b)); }
static int tc_waited(const void *a, const void *b) { return CMP(tk_waited(a), tk_waited(b)); }
static int tc_run(const void *a, const void *b) { return CMP(tk_run(a), tk_run(b)); }
static int tc_sw(const void *a, const void *b) { return CMP(tk_sw(a), tk_sw(b)); }
static int tc_live(const void *a, const void *b) { return CMP(tk_live(a), tk_live(b)); }
static int tc_touched(const void *a, const void *b) { return CMP(tk_touched(a), tk_touched(b)); }
static int tc_reserved(const void *a, const void *b) { return CMP(tk_reserved(a), tk_reserved(b)); }
static int tc_where(const void *a, const void *b) { return strcmp(TROW(a)->where, TROW(b)->where); }
static int tc_blocked(const void *a, const void *b) { return CMP(tk_blocked(a), tk_blocked(b)); }

static void tf_id(const void *r, char *b, size_t n) { snprintf(b, n, "%lu", (unsigned long)THR(r)->id); }
/* In a tree, under its spawner: "`- " after two spaces a level (16
 * levels at most, deeper ones drawn at the 16th). */
static void tf_name(const void *r, char *b, size_t n)
{
    uint32_t d = TROW(r)->depth;
    int indent = d ? 2 * (int)((d > 16 ? 16 : d) - 1) : 0;
    snprintf(b, n, "%*s%s%s", indent, "", d ? "`- " : "", THR(r)->name[0] ? THR(r)->name : "-");
}
static void tf_state(const void *r, char *b, size_t n) { snprintf(b, n, "%s", gto_state_name(THR(r)->state)); }
/* The wait and who holds it up (gto_block_describe: "mutex 0x... held by
 * thread 2 "holder" (parked, sleep at ...) for 3.2s"); it begins with the
 * wait's own description, so the column reads as before where nobody
 * holds the wait up. */
static void tf_waits_on(const void *r, char *b, size_t n)
{
    const struct thread_row *t = TROW(r);
    if (!gto_block_describe(t->s->target, t->s->cur, t->th, b, n) &&
        !gto_wait_describe(t->th, t->now, b, n))
        snprintf(b, n, "-");
}
static void tf_waited(const void *r, char *b, size_t n) { fmt_age(TROW(r)->waited_ns, TROW(r)->now_exact, b, n); }
static void tf_run(const void *r, char *b, size_t n) { fmt_dur(THR(r)->run_ns, b, n); }
static void tf_sw(const void *r, char *b, size_t n) { snprintf(b, n, "%lu", (unsigned long)THR(r)->switches); }
static void tf_live(const void *r, char *b, size_t n) { gto_fmt_bytes(THR(r)->live, b, n); }
static void tf_touched(const void *r, char *b, size_t n)
{
    if (TROW(r)->measured)
        gto_fmt_bytes(TROW(r)->touched, b, n);
    else
        snprintf(b, n, "-");
}
static void tf_reserved(const void *r, char *b, size_t n) { gto_fmt_bytes(THR(r)->reserved, b, n); }
static void tf_where(const void *r, char *b, size_t n) { snprintf(b, n, "%s", TROW(r)->where); }
static void tf_blocked(const void *r, char *b, size_t n)
{
    uint64_t id = tk_blocked(r);
    if (id)
        snprintf(b, n, "thread %" PRIu64, id);
    else
        snprintf(b, n, "-");
}

const struct column thread_columns[] = {
    {"id", "ID", 7, COL_RIGHT, "thread id", tc_id, tf_id, tk_id},
    {"name", "NAME", 10, COL_LEFT, "thread name", tc_name, tf_name, tk_name},
    {"state", "STATE", 7, COL_LEFT, "running, runnable (queued to run), parked (waiting) or exited", tc_state, tf_state, tk_state},
    {"waits_on", "WAITS ON", 14, COL_LEFT, "what a parked thread waits on and who holds it up (fd 9 read, sleep 2s left, mutex 0x... held by thread 2 \"holder\" (parked, ...) for 3.2s)", tc_waits_on, tf_waits_on, tk_waits_on},
    {"waited", "WAITED", 9, COL_RIGHT, "how long a parked thread has waited", tc_waited, tf_waited, tk_waited},
    /* Before the numbers: at 80 columns a row ends here. */
    {"location", "LOCATION", 25, COL_LEFT, "where it waits: the blocking call and its callers, as the Locations view labels it", tc_where, tf_where, tk_where},
    /* WAITS ON has the whole story, cut on screen: who, in a column of
     * its own, from 93 columns on. */
    {"blocked_by", "BLOCKED BY", 13, COL_LEFT, "the thread holding it up: a mutex's owner, the joined thread, the owner of the mutex a cond waiter retakes", tc_blocked, tf_blocked, tk_blocked},
    {"run", "RUN", 7, COL_RIGHT, "time it has run in all", tc_run, tf_run, tk_run},
    {"switches", "SWITCH", 7, COL_RIGHT, "times it was switched in", tc_sw, tf_sw, tk_sw},
    {"live", "LIVE", 7, COL_RIGHT, "stack bytes its frames use now", tc_live, tf_live, tk_live},
    {"touched", "TOUCHED", 8, COL_RIGHT, "stack bytes it has ever touched, from the last stack measure (the header says how old; - before the first)", tc_touched, tf_touched, tk_touched},
    {"reserved", "RESERVED", 9, COL_RIGHT, "stack bytes reserved for it", tc_reserved, tf_reserved, tk_reserved},
    /* Over several processes only (thread_ncolumns_multi): ids are per
     * process. */
    {"pid", "PID", 7, COL_RIGHT, "the process the thread belongs to (thread ids are per process)", tc_pid, tf_pid, tk_pid},
};
const size_t thread_ncolumns_multi = sizeof(thread_columns) / sizeof(thread_columns[0]);
const size_t thread_ncolumns = sizeof(thread_columns) / sizeof(thread_columns[0]) - 1;

int tables_column(const struct column *table, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(table[i].name, name) == 0)
            return (int)i;
    return -1;
}

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
    index_rows(tb);
}

/* A thread row's sort key and its position before the sort. */
struct keyed {
    uint64_t key;
    size_t at;
};

/* Stable LSD radix sort of N keyed rows by key, a byte per pass; a byte
 * that is the same in every key costs one look and no pass. */
static void radix_sort(struct keyed *v, struct keyed *tmp, size_t n)
{
    uint64_t all_or = 0, all_and = ~0ull;
    for (size_t i = 0; i < n; i++) {
        all_or |= v[i].key;
        all_and &= v[i].key;
    }
    for (int shift = 0; shift < 64; shift += 8) {
        if ((((all_or ^ all_and) >> shift) & 0xff) == 0)
            continue;
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[((v[i].key >> shift) & 0xff) + 1]++;
        for (int b = 0; b < 256; b++)
            count[b + 1] += count[b];
        for (size_t i = 0; i < n; i++)
            tmp[count[(v[i].key >> shift) & 0xff]++] = v[i];
        memcpy(v, tmp, n * sizeof(*v));
    }
}

struct tie_ctx {
    const struct thread_row *rows;
    int (*compare)(const void *, const void *);
    int desc;
};

static int tie_cmp(const void *a, const void *b, void *arg)
{
    const struct tie_ctx *c = arg;
    const struct keyed *x = a, *y = b;
    int r = c->compare(&c->rows[x->at], &c->rows[y->at]);
    if (c->desc)
        r = -r;
    return r ? r : CMP(x->at, y->at);
}

int tables_sort_threads(struct thread_row *rows, size_t n, size_t col,
                        int desc)
{
    const struct column *c = &thread_columns[col];
    struct keyed *v = malloc((n + 1) * sizeof(*v));
    struct keyed *tmp = malloc((n + 1) * sizeof(*tmp));
    struct thread_row *out = malloc((n + 1) * sizeof(*out));
    if (!v || !tmp || !out) {
        free(v), free(tmp), free(out);
        return -1;
    }
    /* Descending sorts the complemented key: ties keep snapshot order. */
    for (size_t i = 0; i < n; i++) {
        v[i].key = desc ? ~c->key(&rows[i]) : c->key(&rows[i]);
        v[i].at = i;
    }
    radix_sort(v, tmp, n);
    /* Keys that tie but whose full values may differ (names share their
     * first 8 bytes): those runs alone go through the comparison. */
    if (c->compare == tc_name) {
        struct tie_ctx ctx = {rows, c->compare, desc};
        for (size_t i = 0; i < n;) {
            size_t j = i + 1;
            int differ = 0;
            /* A key whose last byte is the name's NUL holds the whole
             * name: equal keys are equal names, nothing to compare (100K
             * threads named alike cost no strcmp). */
            int whole = ((desc ? ~v[i].key : v[i].key) & 0xff) == 0;
            while (j < n && v[j].key == v[i].key) {
                if (!whole)
                    differ |= c->compare(&rows[v[i].at], &rows[v[j].at]) != 0;
                j++;
            }
            if (differ)
                qsort_r(v + i, j - i, sizeof(*v), tie_cmp, &ctx);
            i = j;
        }
    }
    for (size_t i = 0; i < n; i++)
        out[i] = rows[v[i].at];
    memcpy(rows, out, n * sizeof(*rows));
    free(v), free(tmp), free(out);
    return 0;
}

/* See tables.h.  Rows are found by id through a sorted copy of the ids
 * (radix, as the sort), children are listed in the rows' order by a
 * counting pass, and the walk keeps its own stack. */
static int tree_one(struct thread_row *rows, size_t n);

int tables_tree_threads(struct thread_row *rows, size_t n)
{
    /* One process (every row's sampler the same): one tree. */
    size_t k = 1;
    while (k < n && rows[k].s == rows[0].s)
        k++;
    if (k >= n)
        return tree_one(rows, n);
    /* Several: each process's rows together, in their order (a stable
     * pass per process, the processes in the order of their first row),
     * then a tree each: parent ids mean nothing across processes. */
    struct thread_row *out = malloc((n + 1) * sizeof(*out));
    unsigned char *taken = calloc(n + 1, 1);
    if (!out || !taken) {
        free(out), free(taken);
        return -1;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (taken[i])
            continue;
        size_t start = at;
        for (size_t j = i; j < n; j++)
            if (!taken[j] && rows[j].s == rows[i].s) {
                out[at++] = rows[j];
                taken[j] = 1;
            }
        if (tree_one(out + start, at - start) < 0) {
            free(out), free(taken);
            return -1;
        }
    }
    memcpy(rows, out, n * sizeof(*rows));
    free(out), free(taken);
    return 0;
}

static int tree_one(struct thread_row *rows, size_t n)
{
    struct keyed *by_id = malloc((n + 1) * sizeof(*by_id));
    struct keyed *tmp = malloc((n + 1) * sizeof(*tmp));
    size_t *parent = malloc((n + 1) * sizeof(*parent));
    size_t *first = calloc(n + 2, sizeof(*first));
    size_t *child = malloc((n + 1) * sizeof(*child));
    size_t *stack = malloc((n + 1) * sizeof(*stack));
    size_t *order = malloc((n + 1) * sizeof(*order));
    uint32_t *depth = malloc((n + 1) * sizeof(*depth));
    unsigned char *seen = calloc(n + 1, 1);
    struct thread_row *out = malloc((n + 1) * sizeof(*out));
    int rc = -1;
    if (!by_id || !tmp || !parent || !first || !child || !stack || !order || !depth ||
        !seen || !out)
        goto done;
    for (size_t i = 0; i < n; i++)
        by_id[i] = (struct keyed){rows[i].th->id, i};
    radix_sort(by_id, tmp, n);
    /* Each row's parent row (n: none), then the rows' children, in the
     * rows' order, at child[first[p]..first[p + 1]). */
    for (size_t i = 0; i < n; i++) {
        uint64_t p = rows[i].th->parent;
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (by_id[mid].key < p)
                lo = mid + 1;
            else
                hi = mid;
        }
        parent[i] = lo < n && by_id[lo].key == p && p != rows[i].th->id ? by_id[lo].at : n;
        if (parent[i] < n)
            first[parent[i] + 2]++;
    }
    for (size_t i = 2; i <= n + 1; i++)
        first[i] += first[i - 1];
    for (size_t i = 0; i < n; i++)
        if (parent[i] < n)
            child[first[parent[i] + 1]++] = i;
    /* first[p] is now where p's children start, first[p + 1] where they
     * end.  Roots first: rows without a parent among them; then any row
     * left unseen, which only a loop of parents leaves. */
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t r = 0; r < n; r++) {
            if (seen[r] || (pass == 0 && parent[r] < n))
                continue;
            size_t top = 0;
            stack[top++] = r;
            depth[r] = 0;
            seen[r] = 1;
            while (top) {
                size_t i = stack[--top];
                order[k++] = i;
                /* Pushed last child first: popped in the rows' order. */
                for (size_t c = first[i + 1]; c > first[i]; c--) {
                    size_t j = child[c - 1];
                    if (seen[j])
                        continue;
                    seen[j] = 1;
                    depth[j] = depth[i] < UINT32_MAX ? depth[i] + 1 : depth[i];
                    stack[top++] = j;
                }
            }
        }
    for (size_t i = 0; i < n; i++) {
        out[i] = rows[order[i]];
        out[i].depth = depth[order[i]];
    }
    memcpy(rows, out, n * sizeof(*rows));
    rc = 0;
done:
    free(by_id), free(tmp), free(parent), free(first), free(child), free(stack);
    free(order), free(depth), free(seen), free(out);
    return rc;
}
