/*
 * batch_multi.c - gt-top's batch output over several processes (-p
 * PID1,PID2, --name): the header, the tables and the JSON document of
 * the merged tables (multi.c), each row and member labelled by pid where
 * it belongs to one process; Prometheus is prometheus.c's, a target per
 * process.  What a document of one process has too is printed by
 * batch.c's pieces (batch_parts.h), so that the two agree member for
 * member.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "batch_parts.h"
#include "blockers.h"
#include "multi.h"
#include "prometheus.h"
#include "stack_report.h"

int multi_header_lines(const struct multi *m, const struct tables *tb, int screen,
                       struct header_line *lines, int max)
{
    char *l;
    char names[160] = "", up[32], rss[32], io_calls[32], io_time[32], damaged[64] = "";
    uint64_t uptime = 0, runq = 0, rss_sum = 0, io_n = 0, io_ns = 0, mappings = 0;
    double spawns = 0, exits = 0, switches = 0, idle = 0;
    int averages = 0, exact = 1, n = 0;
    size_t at = 0;
    for (size_t k = 0; k < m->n; k++) {
        const struct sampler *s = &m->p[k]->s;
        const struct gto_counters *c = gto_snapshot_counters(s->cur);
        if (c->uptime_ns > uptime)
            uptime = c->uptime_ns;
        exact &= c->now_exact != 0;
        runq += c->runq_len;
        rss_sum += s->rss;
        io_n += c->file_io_calls;
        io_ns += c->file_io_ns;
        mappings += c->guard_mappings;
        spawns += s->spawns_s, exits += s->exits_s, switches += s->switches_s;
        idle += s->idle_share;
        averages |= s->rates_are_averages;
        /* "12 (knot), 13 (knot), ..." as long as the line has room. */
        if (at < sizeof(names) - 24) {
            int w = snprintf(names + at, sizeof(names) - at, "%s%d (%s)", k ? ", " : "",
                             (int)s->pid, m->p[k]->exe);
            at = w > 0 && at + (size_t)w < sizeof(names) ? at + (size_t)w : sizeof(names);
        } else if (at < sizeof(names)) {
            snprintf(names + at, sizeof(names) - at, ", ...");
            at = sizeof(names);
        }
    }
    gto_fmt_age(uptime, exact, up, sizeof(up));
    if (tb->damaged)
        snprintf(damaged, sizeof(damaged), "  (%" PRIu64 " records damaged)", tb->damaged);
    if ((l = batch_next_line(lines, &n, max, 0)))
        snprintf(l, sizeof(lines->text), "gt-top - %zu process%s: %s  up %s%s%s", m->n,
                 m->n == 1 ? "" : "es", names, up,
                 tb->in_flux ? "  (records in flux)" : "", damaged);
    batch_header_threads(lines, &n, max, tb, screen);
    /* The running thread that has run longest of every process's. */
    char run[sizeof(lines->text)], pfx[sizeof(lines->text) + 32];
    size_t k = m->hog < m->n ? m->hog : 0;
    int hog = m->n ? running_line(&m->p[k]->s, m->hog < m->n ? tb : &m->p[k]->tb, run,
                                  sizeof(run)) : 0;
    if (m->hog < m->n)
        snprintf(pfx, sizeof(pfx), "%s (pid %d)", run, (int)m->p[k]->s.pid);
    else
        snprintf(pfx, sizeof(pfx), "%s", m->n ? run : "Running: none");
    if ((l = batch_next_line(lines, &n, max, hog)))
        snprintf(l, sizeof(lines->text), "%.*s", (int)sizeof(lines->text) - 1, pfx);
    if ((l = batch_next_line(lines, &n, max, 0)))
        snprintf(l, sizeof(lines->text),
                 "Rates%s: %.1f spawns/s, %.1f exits/s, %.1f switches/s; "
                 "run queue %" PRIu64 "; idle %.0f%% (mean)",
                 averages ? " (lifetime)" : "", spawns, exits, switches, runq,
                 m->n ? idle / (double)m->n * 100 : 0);
    if (rss_sum)
        gto_fmt_bytes(rss_sum, rss, sizeof(rss));
    else
        snprintf(rss, sizeof(rss), "-");
    batch_header_stacks(lines, &n, max, tb);
    gto_fmt_count(io_n, io_calls, sizeof(io_calls));
    gto_fmt_duration(io_ns, io_time, sizeof(io_time));
    const struct gto_counters *c0 = m->n ? gto_snapshot_counters(m->p[0]->s.cur) : NULL;
    if ((l = batch_next_line(lines, &n, max, 0)))
        snprintf(l, sizeof(lines->text),
                 "RSS %s; file I/O %s calls, %s; guard %s, %" PRIu64
                 " mappings of vm.max_map_count %" PRIu64,
                 rss, io_calls, io_time, c0 ? gto_guard_policy_name(c0->guard_policy) : "-",
                 mappings, c0 ? c0->max_map_count : 0);
    return n;
}

/* The columns of a table over several processes: PID (at NCOLS, the
 * extra one) first, then the others in their order, into OUT. */
static size_t pid_first(const struct column *cols, size_t ncols, struct column *out)
{
    size_t n = 0;
    out[n++] = cols[ncols];
    for (size_t i = 0; i < ncols && n < TEXT_COLUMNS_MAX; i++)
        out[n++] = cols[i];
    return n;
}

static void sort_view(struct tables *tb, enum view v, struct row_order order)
{
    if (v == VIEW_LOCATIONS)
        tables_sort_locs(tb, order.col < 0 ? 0 : (size_t)order.col,
                         order.col < 0 ? 1 : order.desc);
}

static int print_text_multi(FILE *out, struct multi *m, struct tables *tb, enum view v,
                            struct row_order order, enum gto_class_by by)
{
    struct header_line lines[HEADER_MAX];
    struct column cols[TEXT_COLUMNS_MAX];
    int n = multi_header_lines(m, tb, 0, lines, HEADER_MAX);
    for (int i = 0; i < n; i++)
        fprintf(out, "%s\n", lines[i].text);
    fputc('\n', out);
    /* Each process's cycles, under its name: thread ids are its own. */
    for (size_t k = 0; k < m->n; k++)
        if (gto_cycle_count(m->p[k]->s.cur)) {
            fprintf(out, "%s:\n", gto_target_name(m->p[k]->s.target));
            deadlock_lines(&m->p[k]->s, batch_text_line, out);
            fputc('\n', out);
        }
    switch (v) {
    case VIEW_LOCATIONS: {
        /* Summed over every process, then by process (PID first). */
        batch_print_table(out, loc_columns, loc_ncolumns, tb->locs, tb->nlocs, batch_loc_at);
        struct tables split;
        if (multi_merge(m, &split, 0, 1) < 0)
            return -1;
        sort_view(&split, v, order);
        fprintf(out, "\nBy process:\n");
        size_t nc = pid_first(loc_columns, loc_ncolumns, cols);
        batch_print_table(out, cols, nc, split.locs, split.nlocs, batch_loc_at);
        tables_free(&split);
        break;
    }
    case VIEW_THREADS: {
        size_t nc = pid_first(thread_columns, thread_ncolumns, cols);
        batch_print_table(out, cols, nc, tb->threads, tb->nthreads, batch_thread_at);
        break;
    }
    case VIEW_STACKS:
        for (size_t k = 0; k < m->n; k++) {
            fprintf(out, "%s%s:\n", k ? "\n" : "", gto_target_name(m->p[k]->s.target));
            if (batch_text_stacks(out, &m->p[k]->s, by) < 0)
                return -1;
        }
        break;
    case VIEW_GRAPH:
        batch_text_graph(out, tb);
        break;
    default:
        break;
    }
    fputc('\n', out);
    return 0;
}

/* A process's location row under a merged row: every process's rows by
 * merged index, then process, so that each merged row finds its own in
 * one range (n log n, not rows times processes times rows). */
struct share {
    uint32_t merged;
    uint32_t proc;
    const struct loc_row *row;
};

static int cmp_share(const void *a, const void *b)
{
    const struct share *x = a, *y = b;
    if (x->merged != y->merged)
        return x->merged < y->merged ? -1 : 1;
    if (x->proc != y->proc)
        return x->proc < y->proc ? -1 : 1;
    return (x->row->index > y->row->index) - (x->row->index < y->row->index);
}

/* Every process's location rows with the merged row they went into (the
 * last merge's maps), sorted by it; *N of them.  NULL out of memory. */
static struct share *shares_of(struct multi *m, size_t *n)
{
    size_t total = 0;
    for (size_t k = 0; k < m->n; k++)
        total += m->p[k]->tb.nlocs;
    struct share *v = malloc((total + 1) * sizeof(*v));
    if (!v)
        return NULL;
    *n = 0;
    for (size_t k = 0; k < m->n; k++) {
        const struct multi_proc *p = m->p[k];
        for (size_t i = 0; i < p->tb.nlocs && *n < total; i++) {
            const struct loc_row *r = &p->tb.locs[i];
            if (r->index && r->index < p->nmap && p->to_merged[r->index])
                v[(*n)++] = (struct share){p->to_merged[r->index], (uint32_t)k, r};
        }
    }
    qsort(v, *n, sizeof(*v), cmp_share);
    return v;
}

/* A merged location's share of each process (its own rows of that label
 * summed: a process whose two locations share a label adds both), then
 * the blockers of every process's rows: V[0, N) are its shares. */
static void json_location_by_pid(FILE *out, struct multi *m, const struct share *v,
                                 size_t n)
{
    size_t first = 0;
    fprintf(out, ", \"processes\": [");
    for (size_t i = 0; i < n;) {
        uint64_t waiting = 0, arrivals = 0, completed = 0;
        double per_s = 0;
        size_t j = i;
        for (; j < n && v[j].proc == v[i].proc; j++) {
            waiting += v[j].row->waiting, arrivals += v[j].row->arrivals;
            completed += v[j].row->completed, per_s += v[j].row->arrivals_s;
        }
        fprintf(out, "%s{\"pid\": %d, \"waiting\": %" PRIu64 ", \"arrivals\": %" PRIu64
                ", \"completed\": %" PRIu64 ", \"arrivals_per_s\": %.3f}",
                first++ ? ", " : "", (int)m->p[v[i].proc]->s.pid, waiting, arrivals,
                completed, per_s);
        i = j;
    }
    fprintf(out, "]");
    first = 0;
    fprintf(out, ", \"blocked_by\": [");
    for (size_t i = 0; i < n; i++) {
        const struct multi_proc *p = m->p[v[i].proc];
        json_location_blocker_items(out, &p->s, v[i].row->index, p->s.pid, &first);
    }
    fprintf(out, "]");
}

static int cmp_function(const void *a, const void *b)
{
    const struct stack_function *x = a, *y = b;
    if (x->live != y->live)
        return x->live > y->live ? -1 : 1;
    return strcmp(x->function, y->function);
}

static int cmp_function_name(const void *a, const void *b)
{
    return strcmp(((const struct stack_function *)a)->function,
                  ((const struct stack_function *)b)->function);
}

/* "stacks_report" over every process: the histogram and the functions
 * summed (functions by name), the classes of each process with its pid
 * (a class's percentiles are of its process's threads). */
static int json_stacks_multi(FILE *out, struct multi *m, enum gto_class_by by)
{
    struct stack_report *r = calloc(m->n + 1, sizeof(*r));
    char err[GTO_ERR_MAX];
    size_t built = 0, nf = 0;
    uint64_t hist[LIVE_HIST_BUCKETS] = {0}, no_stack = 0;
    int rc = -1;
    if (!r)
        return -1;
    for (; built < m->n; built++)
        if (stack_report_build(&r[built], m->p[built]->s.target, m->p[built]->s.cur, by,
                               err) < 0) {
            fprintf(stderr, "gt-top: %s\n", err);
            goto done;
        }
    for (size_t k = 0; k < m->n; k++) {
        for (int i = 0; i < LIVE_HIST_BUCKETS; i++)
            hist[i] += r[k].live_hist[i];
        no_stack += r[k].no_stack;
        nf += r[k].nfunctions;
    }
    struct stack_function *f = malloc((nf + 1) * sizeof(*f));
    if (!f)
        goto done;
    nf = 0;
    for (size_t k = 0; k < m->n; k++)
        for (size_t i = 0; i < r[k].nfunctions; i++)
            f[nf++] = r[k].functions[i];
    qsort(f, nf, sizeof(*f), cmp_function_name);
    size_t o = 0;
    for (size_t i = 0; i < nf; i++) {
        if (o && strcmp(f[o - 1].function, f[i].function) == 0) {
            f[o - 1].live += f[i].live;
            f[o - 1].frames += f[i].frames;
        } else {
            f[o++] = f[i];
        }
    }
    qsort(f, o, sizeof(*f), cmp_function);
    batch_json_stacks_head(out, hist, no_stack, by);
    size_t first = 0;
    for (size_t p = 0; p < m->n; p++)
        for (size_t i = 0; i < r[p].nclasses; i++) {
            fprintf(out, "%s{\"pid\": %d, \"class\": ", first++ ? ", " : "",
                    (int)m->p[p]->s.pid);
            batch_json_class(out, &r[p].classes[i], gto_stack_measures_known(m->p[p]->s.target));
        }
    batch_json_functions(out, f, o);
    free(f);
    rc = 0;
done:
    for (size_t k = 0; k < built; k++)
        stack_report_free(&r[k]);
    free(r);
    return rc;
}

static int print_json_multi(FILE *out, struct multi *m, struct tables *tb, enum view v,
                            enum gto_class_by by)
{
    /* Times are the latest process's, counts and rates their sums. */
    struct json_totals t = {.exact = 1};
    uint64_t mappings = 0;
    for (size_t k = 0; k < m->n; k++) {
        const struct sampler *s = &m->p[k]->s;
        const struct gto_counters *c = gto_snapshot_counters(s->cur);
        if (c->uptime_ns > t.uptime_ns)
            t.uptime_ns = c->uptime_ns;
        if (s->taken_realtime_ns > t.taken_ns)
            t.taken_ns = s->taken_realtime_ns;
        if (s->dt > t.dt)
            t.dt = s->dt;
        t.exact &= c->now_exact != 0;
        t.averages |= s->rates_are_averages;
        t.runq += c->runq_len, t.idle_ns += c->idle_total;
        t.io_calls += c->file_io_calls, t.io_ns += c->file_io_ns;
        t.rss += s->rss, mappings += c->guard_mappings;
        t.spawns_s += s->spawns_s, t.exits_s += s->exits_s, t.switches_s += s->switches_s;
        t.idle_share += s->idle_share;
    }
    const struct gto_counters *c0 = gto_snapshot_counters(m->p[0]->s.cur);
    fprintf(out, "{\"schema_version\": %d, \"target\": \"%zu process%s\", \"pid\": null",
            GTO_JSON_SCHEMA_VERSION, m->n, m->n == 1 ? "" : "es");
    t.idle_share /= (double)m->n;
    batch_json_totals(out, &t, tb);
    fprintf(out, ", \"capture\": null");
    batch_json_guard(out, c0->guard_policy, mappings, c0->max_map_count, tb);
    json_blockers_multi(out, m, tb);
    /* Each process alone: what the summed members are the sums of. */
    fprintf(out, ", \"processes\": [");
    for (size_t k = 0; k < m->n; k++) {
        const struct multi_proc *p = m->p[k];
        const struct sampler *s = &p->s;
        const struct gto_counters *c = gto_snapshot_counters(s->cur);
        fprintf(out, "%s{\"pid\": %d, \"exe\": ", k ? ", " : "", (int)s->pid);
        gto_json_string(out, p->exe);
        fprintf(out, ", \"target\": ");
        gto_json_string(out, gto_target_name(s->target));
        fprintf(out, ", \"interval_s\": %.3f, \"rates_are_averages\": %s, \"uptime_ns\": %"
                PRIu64 ", \"threads\": %zu, \"states\": {", s->dt,
                s->rates_are_averages ? "true" : "false", c->uptime_ns, p->tb.total_threads);
        batch_json_states(out, p->tb.nstate);
        fprintf(out, "}, \"rates\": {\"spawns_per_s\": %.3f, \"exits_per_s\": %.3f,"
                " \"switches_per_s\": %.3f}, \"run_queue\": %" PRIu64 ", \"idle_share\": %.4f"
                ", \"rss_bytes\": %" PRIu64 ", \"stacks\": {\"reserved\": %" PRIu64
                ", \"live\": %" PRIu64 "}}", s->spawns_s, s->exits_s, s->switches_s,
                c->runq_len, s->idle_share, s->rss, p->tb.reserved, p->tb.live);
    }
    size_t nshares = 0, at = 0;
    struct share *shares = shares_of(m, &nshares);
    if (!shares)
        return -1;
    fprintf(out, "], \"locations\": [");
    for (size_t i = 0; i < tb->nlocs; i++) {
        const struct loc_row *l = &tb->locs[i];
        batch_json_location(out, l, i == 0);
        /* The rows are in the view's order, the shares by index. */
        size_t lo = 0, hi = nshares;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (shares[mid].merged < l->index)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (at = lo; at < nshares && shares[at].merged == l->index; at++)
            ;
        json_location_by_pid(out, m, shares + lo, at - lo);
        fputc('}', out);
    }
    free(shares);
    fprintf(out, "]");
    batch_json_edges(out, tb);
    if (v == VIEW_THREADS)
        batch_json_threads(out, NULL, tb);
    if (v == VIEW_STACKS && json_stacks_multi(out, m, by) < 0)
        return -1;
    fprintf(out, "}\n");
    return 0;
}

int batch_print_multi(FILE *out, struct multi *m, struct tables *tb, enum view v,
                      enum format f, struct row_order order, enum gto_class_by by)
{
    int rc = 0;
    sort_view(tb, v, order);
    if (v == VIEW_THREADS &&
        tables_sort_threads(tb->threads, tb->nthreads, order.col < 0 ? 0 : (size_t)order.col,
                            order.col < 0 ? 0 : order.desc) < 0)
        return -1;
    switch (f) {
    case FORMAT_TEXT:
        rc = print_text_multi(out, m, tb, v, order, by);
        break;
    case FORMAT_JSON:
        rc = print_json_multi(out, m, tb, v, by);
        break;
    case FORMAT_PROMETHEUS: {
        /* A target per process, labelled by pid and exe: the same
         * exposition gt-exporter serves. */
        struct prom_target t[MULTI_MAX];
        char labels[MULTI_MAX][160];
        for (size_t k = 0; k < m->n; k++) {
            struct multi_proc *p = m->p[k];
            t[k] = (struct prom_target){&p->s, &p->tb,
                                        prom_labels(labels[k], sizeof(labels[k]), p->s.pid,
                                                    p->exe)};
        }
        prom_write(out, t, m->n);
        break;
    }
    case FORMAT_DOT:
        batch_print_dot(out, tb);
        break;
    }
    fflush(out);
    return rc;
}
