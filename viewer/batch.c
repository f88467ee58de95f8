/*
 * batch.c - gt-top's batch output.  Every figure is libgtobserve's (state
 * counts, ages and now, quantiles, classes and suggestions, wait
 * descriptions, location labels, formatting): this file only prints, in
 * the JSON vocabulary every gt reader shares.
 *
 * JSON (--format json): one document per snapshot, one per line
 * (schema/gt-top.schema.json, installed under share/gt/schema/):
 *
 *   {"schema_version": 1 (GTO_JSON_SCHEMA_VERSION, as every gt reader's),
 *    "target": "process 123 (knot)", "pid": 123 | null,
 *    "time": UNIX seconds of the snapshot, "interval_s": seconds the rates
 *    cover, "rates_are_averages": true when they cover the program's life
 *    (a core, or the first snapshot),
 *    "now_exact": false when the snapshot's now is only a lower bound (a
 *    core that cannot tell when it was written): then so is every age,
 *    "uptime_ns": now - the runtime's start,
 *    "threads": N, "states": {"runnable", "running", "parked", "exited"}
 *    (counted from the thread records; with "in_flux" they add up to
 *    threads, and running <= 1), "in_flux": threads in no state,
 *    "rates": {"spawns_per_s", "exits_per_s", "switches_per_s"},
 *    "run_queue": N, "idle_ns": time blocked in the poller, the wait in
 *    progress included, "idle_share": 0..1 of the interval,
 *    "file_io_calls", "file_io_ns": regular-file calls made straight
 *    through and their time, "rss_bytes": N (0 unknown),
 *    "stacks": {"reserved", "live", "resident", "dead": bytes (resident
 *               and dead null when unknown: not measured yet, or never,
 *               in a compact core), "measured": bool (resident and dead
 *               known),
 *               "measured_age_s": how old resident and dead are (they
 *               are measured every 10 s or less often, not every snapshot)},
 *    "capture": null or {"realtime_ns", "monotonic_ns", "stopped_ns",
 *               "compact", "stopped"}: a core gt-core wrote, when and how
 *               (gto_json_capture; the text header's last line says it),
 *    "guard": {"policy": "madvise", "mappings": N, "max_map_count": N},
 *    "records_in_flux": thread, location and edge records that stayed torn,
 *    "records_damaged": thread, location and edge records whose location
 *    index named no location of the registry's (a damaged registry): a
 *    thread's is in its state's count, at no location ("location": 0); a
 *    location keeps its own index; an edge is left out,
 *    "deadlocks": [{"threads": [{"id", "name", "location" (index),
 *                   "waits_for": {"kind", "object"}, "held_by" (the next
 *                   member's id)}]}] (cycle order, each from its lowest
 *                   id, cycles by their first id), "threads_in_deadlock",
 *    "running": null or {"id", "name", "run_ns" (null unknown),
 *               "run_exact", "hog", "threshold_ns" (the library's: -H
 *               changes only the highlight), "sampled", "sample_age_ns"},
 *    "watchdog": {"threshold_ns" (0 off), "events"},
 *    "locations": [{"index", "function", "where" (gto_location_label:
 *                   "func (file:line) < caller (file:line) < ..."),
 *                   "kind" ("fd", "chan_recv", ...), "waiting",
 *                   "arrivals", "completed", "wait_max_ns" (longest
 *                   completed wait), "done_p50_ns", "done_p99_ns" (log2
 *                   bucket bounds clamped to wait_max_ns), "done_mean_ns"
 *                   (the three null before a wait completes there),
 *                   "arrivals_per_s", "age_p50_ns", "age_p99_ns",
 *                   "age_max_ns" (waits in progress), "blocked_by":
 *                   [{"id", "waiters"}] (threads holding up its waiters
 *                   through a mutex or a join, most first)}],
 *    "edges": [{"from", "to" (location indices), "from_where", "to_where",
 *               "per_s", "mean_run_ns", "count"}],
 *    "block_edges": [{"from", "to" (0: not parked at a known location),
 *                     "to_state", "waiters", "threads"}] (FROM's waiters
 *                     held up by THREADS threads at TO),
 *    "threads_list": [{"id", "name", "state", "location" (index, 0 none),
 *                     "where", "wait_kind" (null when not parked), "wait"
 *                     ("fd 9 read", "sleep 2ms left", ...: null when not
 *                     parked), "wait_obj" (null when not parked), "wait_ns"
 *                     (now - wait_since, null when not parked), "block"
 *                     (gto_block_describe, null when not parked),
 *                     "blocked_by" (null, or {"id" (null: none or
 *                     unknown), "kind" (mutex, join, cond), "object",
 *                     "edge", "held_ns", "cycle" (1-based into
 *                     deadlocks)}), "entry"
 *                     (function name), "run_ns", "switches",
 *                     "stack": {"reserved", "live", "touched", "dead",
 *                     "unused", "resident"} (the last four null when not
 *                     measured: from the last measure, as old as
 *                     stacks.measured_age_s says)}]
 *                   (--view threads only),
 *
 *    Locations and threads come in the order --sort asks for (default:
 *    locations by threads waiting, longest first; threads by id).
 *    "stacks_report": {"live_hist": [threads with live in [2^i, 2^i+1)],
 *                      "no_stack": threads holding no stack (a fresh
 *                      context), in no bucket,
 *                      "class_by": "entry" | "name" | "prefix",
 *                      "classes": [{"class", "threads", "sampled" (all but
 *                                   fresh contexts), "touched": {"p50",
 *                                   "p99", "max"}, "live": {...} (null
 *                                   percentiles when sampled is 0;
 *                                   touched's null too in a compact
 *                                   core, whose live ones are known),
 *                                   "suggested_stack_size" (null without
 *                                   samples), "saves", "stack_size",
 *                                   "dead_resident" (null in a compact
 *                                   core)}],
 *                      "functions": [{"function", "live", "frames"}]}
 *                   (--view stacks only)}
 *
 * Prometheus (--format prometheus): one exposition (main.c prints the
 * last of -n snapshots only), written by prometheus.c, which says what it
 * holds.
 *
 * DOT (--format dot): the blocking graph, a node per location with
 * threads waiting or an edge, an edge per transition with its rate and
 * mean run time, and dashed red edges for waits on threads.
 *
 * Text: the header (a DEADLOCK banner, the running thread), the deadlock
 * cycles, then the view.
 */
#include "batch.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "batch_parts.h"
#include "blockers.h"
#include "prometheus.h"
#include "stack_report.h"

const char *const view_names[VIEW_COUNT] = {"locations", "threads", "stacks",
                                            "graph"};

/* The next header line, or NULL when MAX are filled. */
char *batch_next_line(struct header_line *lines, int *n, int max, int alert)
{
    if (*n >= max || *n >= HEADER_MAX)
        return NULL;
    lines[*n].alert = alert;
    return lines[(*n)++].text;
}

void batch_header_threads(struct header_line *lines, int *n, int max,
                          const struct tables *tb, int screen)
{
    char *l, flux[48] = "";
    char banner[sizeof(lines->text)];
    if (deadlock_banner(tb, screen, banner, sizeof(banner)) &&
        (l = batch_next_line(lines, n, max, 1)))
        snprintf(l, sizeof(lines->text), "%s", banner);
    if (tb->threads_in_flux)
        snprintf(flux, sizeof(flux), ", %" PRIu64 " in flux", tb->threads_in_flux);
    if ((l = batch_next_line(lines, n, max, 0)))
        snprintf(l, sizeof(lines->text),
                 "Threads: %zu total, %" PRIu64 " running, %" PRIu64
                 " runnable, %" PRIu64 " parked, %" PRIu64 " exited%s",
                 tb->total_threads, tb->nstate[GTO_STATE_RUNNING], tb->nstate[GTO_STATE_RUNNABLE],
                 tb->nstate[GTO_STATE_PARKED], tb->nstate[GTO_STATE_EXITED], flux);
}

void batch_header_stacks(struct header_line *lines, int *n, int max, const struct tables *tb)
{
    char *l, rsv[32], live[32], res[32], dead[32], age[48] = "";
    gto_fmt_bytes(tb->reserved, rsv, sizeof(rsv));
    gto_fmt_bytes(tb->live, live, sizeof(live));
    if (tb->measured) {
        gto_fmt_bytes(tb->resident, res, sizeof(res));
        gto_fmt_bytes(tb->dead, dead, sizeof(dead));
        if (tb->measured_age_ns >= 1000000000u)
            snprintf(age, sizeof(age), " (%.0fs ago)", (double)tb->measured_age_ns / 1e9);
    } else {
        /* Not measured yet (the first screen does not wait for it), or
         * never (a compact core: gto_stack_measures_known). */
        snprintf(res, sizeof(res), "-");
        snprintf(dead, sizeof(dead), "-");
    }
    if ((l = batch_next_line(lines, n, max, 0)))
        snprintf(l, sizeof(lines->text),
                 "Stacks: reserved %s, live %s, resident %s, dead %s%s",
                 rsv, live, res, dead, age);
}

int header_lines(const struct sampler *s, const struct tables *tb, int screen,
                 struct header_line *lines, int max)
{
    char *l;
    const struct gto_counters *c = gto_snapshot_counters(s->cur);
    char up[32], rss[32], io_calls[32], io_time[32], damaged[64] = "";
    int n = 0;
    /* A core that cannot tell when it was written gives its uptime, as
     * every age, as a lower bound: ">= 604ms". */
    gto_fmt_age(c->uptime_ns, c->now_exact, up, sizeof(up));
    if (tb->damaged)
        snprintf(damaged, sizeof(damaged), "  (%" PRIu64 " records damaged)", tb->damaged);
    if ((l = batch_next_line(lines, &n, max, 0)))
        snprintf(l, sizeof(lines->text), "gt-top - %s  up %s  %s%s%s",
                 gto_target_name(s->target), up,
                 s->target_gone ? "TARGET EXITED, last snapshot" : "",
                 tb->in_flux ? "  (records in flux)" : "", damaged);
    batch_header_threads(lines, &n, max, tb, screen);
    char run[sizeof(lines->text)];
    int hog = running_line(s, tb, run, sizeof(run));
    if ((l = batch_next_line(lines, &n, max, hog)))
        snprintf(l, sizeof(lines->text), "%s", run);
    if ((l = batch_next_line(lines, &n, max, 0)))
        snprintf(l, sizeof(lines->text),
                 "Rates%s: %.1f spawns/s, %.1f exits/s, %.1f switches/s; "
                 "run queue %" PRIu64 "; idle %.0f%%",
                 s->rates_are_averages ? " (lifetime)" : "", s->spawns_s,
                 s->exits_s, s->switches_s, c->runq_len, s->idle_share * 100);
    if (s->rss)
        gto_fmt_bytes(s->rss, rss, sizeof(rss));
    else
        snprintf(rss, sizeof(rss), "-");
    batch_header_stacks(lines, &n, max, tb);
    gto_fmt_count(c->file_io_calls, io_calls, sizeof(io_calls));
    gto_fmt_duration(c->file_io_ns, io_time, sizeof(io_time));
    if ((l = batch_next_line(lines, &n, max, 0)))
        snprintf(l, sizeof(lines->text),
                 "RSS %s; file I/O %s calls, %s; guard %s, %" PRIu64
                 " mappings of vm.max_map_count %" PRIu64,
                 rss, io_calls, io_time,
                 gto_guard_policy_name(c->guard_policy), c->guard_mappings,
                 c->max_map_count);
    const struct gt_core_capture *cap = gto_target_capture(s->target);
    char capture[sizeof(lines->text)];
    if (cap && (l = batch_next_line(lines, &n, max, 0)))
        snprintf(l, sizeof(lines->text), "%s", gto_fmt_capture(cap, capture, sizeof(capture)));
    return n;
}

/* ---- text --------------------------------------------------------------- */

/* Characters in TEXT (UTF-8: names are valid UTF-8 safe text). */
static size_t text_chars(const char *text)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        n += (*p & 0xc0) != 0x80;
    return n;
}

/* A table of NROWS rows (ROW(ROWS, i)), every cell whole and every
 * column as wide as its widest cell or its title (its width at least),
 * so that a long name or wait never shifts the columns after it: the
 * rows are formatted twice, once to measure.  One space between cells,
 * none after the last: a last cell of free width is not padded. */
void batch_print_table(FILE *out, const struct column *cols, size_t ncols,
                       const void *rows, size_t nrows,
                       const void *(*row)(const void *rows, size_t i))
{
    char buf[WHERE_MAX + 32];
    size_t w[TEXT_COLUMNS_MAX];
    if (ncols > TEXT_COLUMNS_MAX)
        ncols = TEXT_COLUMNS_MAX;
    for (size_t c = 0; c < ncols; c++) {
        w[c] = text_chars(cols[c].title);
        if (w[c] < (size_t)cols[c].width)
            w[c] = (size_t)cols[c].width;
    }
    for (size_t i = 0; i < nrows; i++)
        for (size_t c = 0; c < ncols; c++) {
            cols[c].format(row(rows, i), buf, sizeof(buf));
            size_t n = text_chars(buf);
            if (n > w[c])
                w[c] = n;
        }
    for (size_t i = 0; i <= nrows; i++) {
        for (size_t c = 0; c < ncols; c++) {
            if (i)
                cols[c].format(row(rows, i - 1), buf, sizeof(buf));
            else
                snprintf(buf, sizeof(buf), "%s", cols[c].title);
            size_t n = text_chars(buf);
            int pad = (int)(w[c] - n);
            if (c + 1 == ncols && cols[c].align != COL_RIGHT)
                pad = 0;
            if (c)
                fputc(' ', out);
            if (cols[c].align == COL_RIGHT)
                fprintf(out, "%*s%s", pad, "", buf);
            else
                fprintf(out, "%s%*s", buf, pad, "");
        }
        fputc('\n', out);
    }
}

const void *batch_loc_at(const void *rows, size_t i)
{
    return (const struct loc_row *)rows + i;
}

const void *batch_thread_at(const void *rows, size_t i)
{
    return (const struct thread_row *)rows + i;
}

/* By source location, then busiest first, then by destination: the
 * order is total, so qsort gives the same output on every run. */
static int cmp_graph_edge(const void *a, const void *b)
{
    const struct edge_row *x = a, *y = b;
    if (x->from != y->from)
        return x->from < y->from ? -1 : 1;
    if (x->per_s != y->per_s)
        return x->per_s > y->per_s ? -1 : 1;
    return (x->to > y->to) - (x->to < y->to);
}

/* The graph, one source location at a time: its transitions, busiest
 * first ("->"), then its waits on threads, most waiters first ("=>":
 * its waiters wait on threads parked elsewhere, so a convoy reads as a
 * chain down the page).  n log n: a registry can count many edges. */
void batch_text_graph(FILE *out, const struct tables *tb)
{
    struct edge_row *e = malloc((tb->nedges + 1) * sizeof(*e));
    if (!e)
        return;
    memcpy(e, tb->edges, tb->nedges * sizeof(*e));
    qsort(e, tb->nedges, sizeof(*e), cmp_graph_edge);
    char run[32], words[WHERE_MAX + 64];
    size_t i = 0, j = 0;
    while (i < tb->nedges || j < tb->nblocks) {
        uint32_t from = j >= tb->nblocks || (i < tb->nedges && e[i].from <= tb->blocks[j].from)
                            ? e[i].from : tb->blocks[j].from;
        const char *where = i < tb->nedges && e[i].from == from ? e[i].from_where
                                                                 : tb->blocks[j].from_where;
        const struct loc_row *l = tables_loc(tb, from);
        fprintf(out, "%s  [%" PRIu64 " waiting]\n", where, l ? l->waiting : 0);
        for (; i < tb->nedges && e[i].from == from; i++) {
            gto_fmt_duration(e[i].mean_run_ns, run, sizeof(run));
            fprintf(out, "  -> %-50s %10.1f/s  run %s\n", e[i].to_where, e[i].per_s, run);
        }
        for (; j < tb->nblocks && tb->blocks[j].from == from; j++)
            fprintf(out, "  => %s  [%" PRIu64 " held up]\n",
                    block_edge_words(&tb->blocks[j], words, sizeof(words)),
                    tb->blocks[j].waiters);
    }
    free(e);
}

/* NAME in a column of WIDTH characters, into BUF: cut after WIDTH
 * characters, never inside a UTF-8 sequence (names are safe text, valid
 * UTF-8 that a cut by bytes would break), and padded with spaces. */
static const char *column_text(const char *name, int width, char *buf, size_t len)
{
    size_t o = 0;
    int chars = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; chars++) {
        size_t n = 1;
        while (p[n] && (p[n] & 0xc0) == 0x80)
            n++;                 /* the sequence's continuation bytes */
        if (chars == width || o + n + 1 > len)
            break;
        memcpy(buf + o, p, n);
        o += n;
        p += n;
    }
    for (; chars < width && o + 2 <= len; chars++)
        buf[o++] = ' ';
    if (len)
        buf[o < len ? o : len - 1] = 0;
    return buf;
}

/* Fits 80 columns: the screen shows it too.  Live percentiles are in the
 * JSON. */
int stack_class_line(const struct gto_class *k, char *buf, size_t len)
{
    char p50[32], p99[32], max[32], sug[32], sav[32];
    if (!k)
        return snprintf(buf, len, "%-18.18s %7s %7s %8s %8s %8s %8s %8s", "CLASS", "THREADS",
                        "SAMPLED", "TOUCH50", "TOUCH99", "TOUCHMAX", "SUGGEST", "SAVES");
    if (k->measured) {
        gto_fmt_bytes(k->touched.p50, p50, sizeof(p50));
        gto_fmt_bytes(k->touched.p99, p99, sizeof(p99));
        gto_fmt_bytes(k->touched.max, max, sizeof(max));
    } else {
        snprintf(p50, sizeof(p50), "-");
        snprintf(p99, sizeof(p99), "-");
        snprintf(max, sizeof(max), "-");
    }
    char name[GTO_NAME_MAX + 32];
    return snprintf(buf, len, "%s %7zu %7zu %8s %8s %8s %8s %8s",
                    column_text(k->name, 18, name, sizeof(name)), k->threads,
                    k->sampled, p50, p99, max,
                    k->has_suggestion ? gto_fmt_bytes(k->suggested, sug, sizeof(sug)) : "-",
                    gto_fmt_bytes(k->saves, sav, sizeof(sav)));
}

int batch_text_stacks(FILE *out, struct sampler *s, enum gto_class_by by)
{
    struct stack_report r;
    char a[32], b[32], err[GTO_ERR_MAX], line[512];
    if (stack_report_build(&r, s->target, s->cur, by, err) < 0) {
        fprintf(stderr, "gt-top: %s\n", err);
        return -1;
    }
    fprintf(out, "Live stack per thread:\n");
    for (int i = 0; i < LIVE_HIST_BUCKETS; i++)
        if (r.live_hist[i])
            fprintf(out, "  %8s..%-8s %10" PRIu64 "\n",
                    gto_fmt_bytes(1ull << i, a, sizeof(a)),
                    gto_fmt_bytes(2ull << i, b, sizeof(b)), r.live_hist[i]);
    if (r.no_stack)
        fprintf(out, "  %-18s %10" PRIu64 "\n", "no stack", r.no_stack);
    fprintf(out, "\nClasses (by %s):\n", gto_class_by_name(by));
    stack_class_line(NULL, line, sizeof(line));
    fprintf(out, "  %s\n", line);
    for (size_t i = 0; i < r.nclasses && i < 20; i++) {
        stack_class_line(&r.classes[i], line, sizeof(line));
        fprintf(out, "  %s\n", line);
    }
    if (r.nclasses > 20)
        fprintf(out, "  ... %zu more classes (--format json lists them all)\n",
                r.nclasses - 20);
    fprintf(out, "\nFunctions holding live stack:\n");
    for (size_t i = 0; i < r.nfunctions && i < 20; i++)
        fprintf(out, "  %10s in %6zu frames  %s\n",
                gto_fmt_bytes(r.functions[i].live, a, sizeof(a)), r.functions[i].frames,
                r.functions[i].function);
    stack_report_free(&r);
    return 0;
}

void batch_text_line(void *out, const char *line)
{
    fprintf(out, "%s\n", line);
}

static int print_text(FILE *out, struct sampler *s, struct tables *tb, enum view v,
                      enum gto_class_by by)
{
    struct header_line lines[HEADER_MAX];
    int n = header_lines(s, tb, 0, lines, HEADER_MAX);
    for (int i = 0; i < n; i++)
        fprintf(out, "%s\n", lines[i].text);
    fputc('\n', out);
    /* The cycles before any view: what a stuck program shows first. */
    if (deadlock_lines(s, batch_text_line, out))
        fputc('\n', out);
    switch (v) {
    case VIEW_LOCATIONS:
        batch_print_table(out, loc_columns, loc_ncolumns, tb->locs, tb->nlocs, batch_loc_at);
        break;
    case VIEW_THREADS:
        batch_print_table(out, thread_columns, thread_ncolumns, tb->threads, tb->nthreads,
                          batch_thread_at);
        break;
    case VIEW_STACKS:
        if (batch_text_stacks(out, s, by) < 0)
            return -1;
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

/* ---- JSON --------------------------------------------------------------- */

/* A number, or null when not KNOWN. */
void batch_json_u64_or_null(FILE *out, int known, uint64_t v)
{
    if (known)
        fprintf(out, "%" PRIu64, v);
    else
        fputs("null", out);
}

/* S NULL: rows of several processes, each read through its own sampler
 * and naming its "pid" (thread ids are per process). */
void batch_json_threads(FILE *out, struct sampler *one, const struct tables *tb)
{
    char wait[128];
    fprintf(out, ", \"threads_list\": [");
    for (size_t i = 0; i < tb->nthreads; i++) {
        const struct thread_row *r = &tb->threads[i];
        const struct gto_thread *th = r->th;
        const struct gto_symbol *entry;
        int parked = th->state == GTO_STATE_PARKED;
        const struct sampler *s = one ? one : r->s;
        fprintf(out, "%s{", i ? ", " : "");
        if (!one)
            fprintf(out, "\"pid\": %d, ", (int)s->pid);
        fprintf(out, "\"id\": %" PRIu64 ", \"name\": ", th->id);
        gto_json_string(out, th->name);
        /* Over several processes an index names a merged row. */
        fprintf(out, ", \"state\": \"%s\", \"location\": %u, \"where\": ",
                gto_state_name(th->state), one ? th->location : r->merged_location);
        gto_json_string(out, r->where);
        fprintf(out, ", \"wait_kind\": ");
        gto_json_string(out, parked ? gto_wait_kind_name(th->wait_kind) : NULL);
        fprintf(out, ", \"wait\": ");
        gto_json_string(out, gto_wait_describe(th, r->now, wait, sizeof(wait)));
        fprintf(out, ", \"wait_obj\": ");
        batch_json_u64_or_null(out, parked, th->wait_obj);
        fprintf(out, ", \"wait_ns\": ");
        batch_json_u64_or_null(out, parked, r->waited_ns);
        json_thread_block(out, s, th);
        size_t ns = gto_symbolize(s->target, th->entry, 0, &entry);
        fprintf(out, ", \"entry\": ");
        gto_json_string(out, entry[ns - 1].function);
        /* A running thread's live (and so dead) bytes are not known: its
         * registers are on the CPU, its saved sp stale. */
        int running = th->state == GTO_STATE_RUNNING;
        fprintf(out, ", \"run_ns\": %" PRIu64 ", \"switches\": %" PRIu64
                ", \"stack\": {\"reserved\": %" PRIu64 ", \"live\": ",
                th->run_ns, th->switches, th->reserved);
        batch_json_u64_or_null(out, !running, th->live);
        fprintf(out, ", \"touched\": ");
        batch_json_u64_or_null(out, r->measured, r->touched);
        fprintf(out, ", \"dead\": ");
        batch_json_u64_or_null(out, r->measured && !running, r->dead);
        fprintf(out, ", \"unused\": ");
        batch_json_u64_or_null(out, r->measured,
                               th->reserved > r->touched ? th->reserved - r->touched : 0);
        fprintf(out, ", \"resident\": ");
        batch_json_u64_or_null(out, r->measured, r->resident);
        fprintf(out, "}}");
    }
    fprintf(out, "]");
}

/* A class's percentiles; null ones when no member had a stack to sample
 * (0 bytes would be a figure none of them has). */
static void json_pct(FILE *out, const char *key, const struct gto_pct *p, int sampled)
{
    if (!sampled) {
        fprintf(out, ", \"%s\": {\"p50\": null, \"p99\": null, \"max\": null}", key);
        return;
    }
    fprintf(out, ", \"%s\": {\"p50\": %" PRIu64 ", \"p99\": %" PRIu64
            ", \"max\": %" PRIu64 "}", key, p->p50, p->p99, p->max);
}

/* The pieces below are shared by one process's document and the one
 * summed over several (print_json, and batch_multi.c): the two must not
 * drift apart, since readers take either with one schema. */

/* "stacks_report" opened, up to its "classes" list, opened too. */
void batch_json_stacks_head(FILE *out, const uint64_t *hist, uint64_t no_stack,
                            enum gto_class_by by)
{
    fprintf(out, ", \"stacks_report\": {\"live_hist\": [");
    for (int i = 0; i < LIVE_HIST_BUCKETS; i++)
        fprintf(out, "%s%" PRIu64, i ? ", " : "", hist[i]);
    fprintf(out, "], \"no_stack\": %" PRIu64 ", \"class_by\": \"%s\", \"classes\": [",
            no_stack, gto_class_by_name(by));
}

/* A class's members from its name on, and its closing brace; the caller
 * writes what comes before "class".  dead_resident is null unless the
 * target's stacks were measured (KNOWN). */
void batch_json_class(FILE *out, const struct gto_class *k, int known)
{
    gto_json_string(out, k->name);
    fprintf(out, ", \"threads\": %zu, \"sampled\": %zu", k->threads, k->sampled);
    json_pct(out, "touched", &k->touched, k->measured != 0);
    json_pct(out, "live", &k->live, k->sampled != 0);
    fprintf(out, ", \"suggested_stack_size\": ");
    batch_json_u64_or_null(out, k->has_suggestion, k->suggested);
    fprintf(out, ", \"saves\": %" PRIu64 ", \"stack_size\": %" PRIu64
            ", \"dead_resident\": ", k->saves, k->stack_size);
    batch_json_u64_or_null(out, known, k->dead_resident);
    fprintf(out, "}");
}

/* Closes "classes", then the N functions F holding live stack, then
 * "stacks_report". */
void batch_json_functions(FILE *out, const struct stack_function *f, size_t n)
{
    fprintf(out, "], \"functions\": [");
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "%s{\"function\": ", i ? ", " : "");
        gto_json_string(out, f[i].function);
        fprintf(out, ", \"live\": %" PRIu64 ", \"frames\": %zu}", f[i].live, f[i].frames);
    }
    fprintf(out, "]}");
}

void batch_json_states(FILE *out, const uint64_t *nstate)
{
    for (int i = GTO_STATE_RUNNABLE; i < GTO_STATE_COUNT; i++)
        fprintf(out, "%s\"%s\": %" PRIu64, i == GTO_STATE_RUNNABLE ? "" : ", ",
                gto_state_name(i), nstate[i]);
}

void batch_json_totals(FILE *out, const struct json_totals *t, const struct tables *tb)
{
    fprintf(out, ", \"time\": %.3f, \"interval_s\": %.3f, \"rates_are_averages\": %s",
            (double)t->taken_ns / 1e9, t->dt, t->averages ? "true" : "false");
    fprintf(out, ", \"now_exact\": %s, \"uptime_ns\": %" PRIu64, t->exact ? "true" : "false",
            t->uptime_ns);
    fprintf(out, ", \"threads\": %zu, \"states\": {", tb->total_threads);
    batch_json_states(out, tb->nstate);
    fprintf(out, "}, \"in_flux\": %" PRIu64, tb->threads_in_flux);
    fprintf(out, ", \"rates\": {\"spawns_per_s\": %.3f, \"exits_per_s\": %.3f,"
            " \"switches_per_s\": %.3f}", t->spawns_s, t->exits_s, t->switches_s);
    fprintf(out, ", \"run_queue\": %" PRIu64 ", \"idle_ns\": %" PRIu64 ", \"idle_share\": %.4f"
            ", \"file_io_calls\": %" PRIu64 ", \"file_io_ns\": %" PRIu64
            ", \"rss_bytes\": %" PRIu64,
            t->runq, t->idle_ns, t->idle_share, t->io_calls, t->io_ns, t->rss);
    fprintf(out, ", \"stacks\": {\"reserved\": %" PRIu64 ", \"live\": %" PRIu64
            ", \"resident\": ", tb->reserved, tb->live);
    /* Unknown (not measured yet, or a compact core) is null, not 0. */
    batch_json_u64_or_null(out, tb->measured, tb->resident);
    fprintf(out, ", \"dead\": ");
    batch_json_u64_or_null(out, tb->measured, tb->dead);
    fprintf(out, ", \"measured\": %s, \"measured_age_s\": %.3f}",
            tb->measured ? "true" : "false", (double)tb->measured_age_ns / 1e9);
}

/* "guard" (after "capture") and the registry's record counts. */
void batch_json_guard(FILE *out, uint32_t policy, uint64_t mappings, uint64_t max_map_count,
                      const struct tables *tb)
{
    fprintf(out, ", \"guard\": {\"policy\": \"%s\", \"mappings\": %" PRIu64
            ", \"max_map_count\": %" PRIu64 "}, \"records_in_flux\": %zu",
            gto_guard_policy_name(policy), mappings, max_map_count, tb->in_flux);
    fprintf(out, ", \"records_damaged\": %" PRIu64, tb->damaged);
}

/* A location row, opened (after ", " unless FIRST) and left open for the
 * members that differ between one process and several. */
void batch_json_location(FILE *out, const struct loc_row *l, int first)
{
    fprintf(out, "%s{\"index\": %u, \"function\": ", first ? "" : ", ", l->index);
    gto_json_string(out, l->function);
    fprintf(out, ", \"where\": ");
    gto_json_string(out, l->where);
    fprintf(out, ", \"kind\": \"%s\", \"waiting\": %" PRIu64 ", \"arrivals\": %" PRIu64
            ", \"completed\": %" PRIu64 ", \"wait_max_ns\": %" PRIu64,
            l->kind, l->waiting, l->arrivals, l->completed, l->wait_max);
    /* No completed wait: no quantile of them either (not 0 ns). */
    fprintf(out, ", \"done_p50_ns\": ");
    batch_json_u64_or_null(out, l->completed != 0, l->done_p50);
    fprintf(out, ", \"done_p99_ns\": ");
    batch_json_u64_or_null(out, l->completed != 0, l->done_p99);
    fprintf(out, ", \"done_mean_ns\": ");
    batch_json_u64_or_null(out, l->completed != 0, l->done_mean);
    fprintf(out, ", \"arrivals_per_s\": %.3f, \"age_p50_ns\": %" PRIu64
            ", \"age_p99_ns\": %" PRIu64 ", \"age_max_ns\": %" PRIu64,
            l->arrivals_s, l->age_p50, l->age_p99, l->age_max);
}

/* "edges" (who runs after whom) and "block_edges" (who waits on whom). */
void batch_json_edges(FILE *out, const struct tables *tb)
{
    fprintf(out, ", \"edges\": [");
    for (size_t i = 0; i < tb->nedges; i++) {
        const struct edge_row *e = &tb->edges[i];
        fprintf(out, "%s{\"from\": %u, \"to\": %u, \"from_where\": ", i ? ", " : "",
                e->from, e->to);
        gto_json_string(out, e->from_where);
        fprintf(out, ", \"to_where\": ");
        gto_json_string(out, e->to_where);
        fprintf(out, ", \"per_s\": %.3f, \"mean_run_ns\": %" PRIu64 ", \"count\": %" PRIu64 "}",
                e->per_s, e->mean_run_ns, e->count);
    }
    fprintf(out, "], \"block_edges\": [");
    for (size_t i = 0; i < tb->nblocks; i++) {
        const struct block_row *b = &tb->blocks[i];
        fprintf(out, "%s{\"from\": %u, \"to\": %u, \"to_state\": \"%s\", \"waiters\": %"
                PRIu64 ", \"threads\": %zu}", i ? ", " : "", b->from, b->to,
                gto_state_name(b->to_state), b->waiters, b->threads);
    }
    fprintf(out, "]");
}

static int json_stacks(FILE *out, struct sampler *s, enum gto_class_by by)
{
    struct stack_report r;
    char err[GTO_ERR_MAX];
    if (stack_report_build(&r, s->target, s->cur, by, err) < 0) {
        fprintf(stderr, "gt-top: %s\n", err);
        return -1;
    }
    batch_json_stacks_head(out, r.live_hist, r.no_stack, by);
    for (size_t i = 0; i < r.nclasses; i++) {
        fprintf(out, "%s{\"class\": ", i ? ", " : "");
        batch_json_class(out, &r.classes[i], gto_stack_measures_known(s->target));
    }
    batch_json_functions(out, r.functions, r.nfunctions);
    stack_report_free(&r);
    return 0;
}

static int print_json(FILE *out, struct sampler *s, struct tables *tb, enum view v,
                      enum gto_class_by by)
{
    const struct gto_counters *c = gto_snapshot_counters(s->cur);
    fprintf(out, "{\"schema_version\": %d, \"target\": ", GTO_JSON_SCHEMA_VERSION);
    gto_json_string(out, gto_target_name(s->target));
    if (s->pid)
        fprintf(out, ", \"pid\": %d", (int)s->pid);
    else
        fprintf(out, ", \"pid\": null");
    struct json_totals t = {
        .taken_ns = s->taken_realtime_ns, .dt = s->dt, .averages = s->rates_are_averages,
        .exact = c->now_exact != 0, .uptime_ns = c->uptime_ns, .runq = c->runq_len,
        .idle_ns = c->idle_total, .io_calls = c->file_io_calls, .io_ns = c->file_io_ns,
        .rss = s->rss, .spawns_s = s->spawns_s, .exits_s = s->exits_s,
        .switches_s = s->switches_s, .idle_share = s->idle_share,
    };
    batch_json_totals(out, &t, tb);
    fprintf(out, ", ");
    gto_json_capture(out, s->target);
    batch_json_guard(out, c->guard_policy, c->guard_mappings, c->max_map_count, tb);
    json_blockers(out, s, tb);
    fprintf(out, ", \"locations\": [");
    for (size_t i = 0; i < tb->nlocs; i++) {
        batch_json_location(out, &tb->locs[i], i == 0);
        json_location_blockers(out, s, tb->locs[i].index);
        fputc('}', out);
    }
    fprintf(out, "]");
    batch_json_edges(out, tb);
    if (v == VIEW_THREADS)
        batch_json_threads(out, s, tb);
    if (v == VIEW_STACKS && json_stacks(out, s, by) < 0)
        return -1;
    fprintf(out, "}\n");
    return 0;
}

/* ---- DOT ---------------------------------------------------------------- */

static void dot_str(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
}

void batch_print_dot(FILE *out, const struct tables *tb)
{
    char run[32];
    /* Locations at an end of an edge, by index: one pass over the edges
     * (locations times edges passes would not end on a big registry). */
    uint8_t *linked = calloc(tb->nlocs + 1, 1);
    if (!linked)
        return;
    for (size_t e = 0; e < tb->nedges; e++) {
        if (tb->edges[e].from <= tb->nlocs)
            linked[tb->edges[e].from] = 1;
        if (tb->edges[e].to <= tb->nlocs)
            linked[tb->edges[e].to] = 1;
    }
    for (size_t e = 0; e < tb->nblocks; e++) {
        if (tb->blocks[e].from <= tb->nlocs)
            linked[tb->blocks[e].from] = 1;
        if (tb->blocks[e].to <= tb->nlocs)
            linked[tb->blocks[e].to] = 1;
    }
    fprintf(out, "digraph gt_blocking_graph {\n  rankdir=LR;\n"
                 "  node [shape=box, fontname=\"monospace\"];\n");
    for (size_t i = 0; i < tb->nlocs; i++) {
        const struct loc_row *l = &tb->locs[i];
        if (!l->waiting && !(l->index && linked[l->index]))
            continue;
        fprintf(out, "  L%u [label=\"", l->index);
        dot_str(out, l->where);
        fprintf(out, "\\n%" PRIu64 " waiting\"];\n", l->waiting);
    }
    for (size_t i = 0; i < tb->nedges; i++) {
        const struct edge_row *e = &tb->edges[i];
        gto_fmt_duration(e->mean_run_ns, run, sizeof(run));
        fprintf(out, "  L%u -> L%u [label=\"%.1f/s\\nrun %s\", per_s=\"%.3f\", "
                "mean_run_ns=\"%" PRIu64 "\"];\n",
                e->from, e->to, e->per_s, run, e->per_s, e->mean_run_ns);
    }
    /* Waits on a thread: dashed and red, from the waiters to where the
     * threads holding them up park (a node of their state when they do
     * not). */
    for (size_t i = 0; i < tb->nblocks; i++) {
        const struct block_row *b = &tb->blocks[i];
        if (!b->to)
            fprintf(out, "  S%d [label=\"%s thread\", shape=ellipse];\n  L%u -> S%d",
                    b->to_state, gto_state_name(b->to_state), b->from, b->to_state);
        else
            fprintf(out, "  L%u -> L%u", b->from, b->to);
        fprintf(out, " [style=dashed, color=red, label=\"waits on %zu thread%s\\n%"
                PRIu64 " held up\", waiters=\"%" PRIu64 "\"];\n", b->threads,
                b->threads == 1 ? "" : "s", b->waiters, b->waiters);
    }
    fprintf(out, "}\n");
    free(linked);
}

int batch_print(FILE *out, struct sampler *s, struct tables *tb,
                enum view v, enum format f, struct row_order order,
                enum gto_class_by by)
{
    int rc = 0;
    if (v == VIEW_LOCATIONS)
        tables_sort_locs(tb, order.col < 0 ? 0 : (size_t)order.col,
                         order.col < 0 ? 1 : order.desc);
    else if (v == VIEW_THREADS &&
             tables_sort_threads(tb->threads, tb->nthreads,
                                 order.col < 0 ? 0 : (size_t)order.col,
                                 order.col < 0 ? 0 : order.desc) < 0)
        return -1;
    switch (f) {
    case FORMAT_TEXT:
        rc = print_text(out, s, tb, v, by);
        break;
    case FORMAT_JSON:
        rc = print_json(out, s, tb, v, by);
        break;
    case FORMAT_PROMETHEUS: {
        struct prom_target one = {s, tb, NULL};
        prom_write(out, &one, 1);
        break;
    }
    case FORMAT_DOT:
        batch_print_dot(out, tb);
        break;
    }
    fflush(out);
    return rc;
}
