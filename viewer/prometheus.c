/*
 * prometheus.c - the Prometheus text exposition (format 0.0.4) of one or
 * more targets.  Every figure comes from the sampler and tables the other
 * outputs print, so gt-top's text, JSON and Prometheus outputs, and
 * gt-exporter's /metrics, say the same numbers.
 *
 * Process-wide gauges and counters (gt_idle_seconds_total with the wait
 * in progress, gt_file_io_calls_total, gt_file_io_seconds_total,
 * gt_stack_{reserved,live,resident,dead}_bytes, gt_deadlocked_threads,
 * gt_deadlock_cycles, gt_running_seconds, gt_hog,
 * gt_watchdog_samples_total, ...) and per-location series
 * (gt_location_waiting_threads, gt_location_blocked_threads, the
 * gt_location_wait_seconds histogram, ...) labelled by location only (its
 * label, with " #INDEX" added should two share one), never by thread, so
 * the series count is bounded by the program's code.  Edges carry the two
 * locations' labels.  With several targets every series also carries the
 * target's own labels (pid, exe), and each family's HELP and TYPE come
 * once, before all of its series, as the format requires.
 * viewer/README.md lists every metric.  A snapshot taken without thread
 * records (GTO_SNAP_NO_THREADS, gt-exporter's scrapes) takes the series
 * counted from them from a full read taken apart (prom_write_full), or
 * leaves them out while there is none; each location's queue length and
 * oldest wait come from its record and its queue's head (the running
 * thread, gt_running_seconds and gt_hog, comes from the header:
 * gto_hog).
 */
#include "prometheus.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "blockers.h"

/* A location's label: its text, made unique by its index when another
 * location shares the call site. */
static void loc_label(const struct tables *tb, uint32_t index, char *buf, size_t len)
{
    const struct loc_row *l = tables_loc(tb, index);
    if (!l) {
        snprintf(buf, len, "#%u", index);
        return;
    }
    if (l->where_shared)
        snprintf(buf, len, "%s #%u", l->where, index);
    else
        snprintf(buf, len, "%s", l->where);
}

/* The label of the target's location row I, in BUF. */
static const char *label_of(const struct prom_target *t, size_t i, char *buf, size_t len)
{
    loc_label(t->tb, t->tb->locs[i].index, buf, len);
    return buf;
}

/* Label values escape backslash, double quote and newline. */
void prom_label_value(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(out, "\\%c", *s);
        else if (*s == '\n')
            fprintf(out, "\\n");
        else
            fputc(*s, out);
    }
    fputc('"', out);
}

const char *prom_labels(char *buf, size_t len, pid_t pid, const char *exe)
{
    if (!len)
        return buf;
    size_t n = (size_t)snprintf(buf, len, "pid=\"%ld\",exe=\"", (long)pid);
    for (const char *p = exe ? exe : ""; *p && n + 4 < len; p++) {
        if (*p == '\\' || *p == '"')
            buf[n++] = '\\', buf[n++] = *p;
        else if (*p == '\n')
            buf[n++] = '\\', buf[n++] = 'n';
        else
            buf[n++] = *p;
    }
    if (n + 2 <= len)
        buf[n++] = '"';
    buf[n < len ? n : len - 1] = '\0';
    return buf;
}

void prom_family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int has_labels(const struct prom_target *t)
{
    return t->labels && *t->labels;
}

/* NAME and the target's labels of a series with labels of its own to
 * come: "NAME{pid="1",exe="x"," or "NAME{". */
static void open_series(FILE *out, const char *name, const struct prom_target *t)
{
    fprintf(out, "%s{%s%s", name, has_labels(t) ? t->labels : "", has_labels(t) ? "," : "");
}

/* NAME and the target's labels of a series with none of its own. */
static void plain_series(FILE *out, const char *name, const struct prom_target *t)
{
    if (has_labels(t))
        fprintf(out, "%s{%s} ", name, t->labels);
    else
        fprintf(out, "%s ", name);
}

static void plain_u64(FILE *out, const char *name, const struct prom_target *t, uint64_t v)
{
    plain_series(out, name, t);
    fprintf(out, "%" PRIu64 "\n", v);
}

static void plain_ns(FILE *out, const char *name, const struct prom_target *t, uint64_t ns)
{
    plain_series(out, name, t);
    fprintf(out, "%.9f\n", (double)ns / 1e9);
}

/* One sample of a per-location family. */
static void loc_u64(FILE *out, const char *name, const struct prom_target *t,
                    const char *label, uint64_t v)
{
    open_series(out, name, t);
    fprintf(out, "location=");
    prom_label_value(out, label);
    fprintf(out, "} %" PRIu64 "\n", v);
}

/* NS nanoseconds as seconds in decimal, exactly (no binary rounding):
 * "0.000001023", "140737.488355327". */
static void fmt_ns_seconds(uint64_t ns, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%" PRIu64 ".%09" PRIu64, ns / 1000000000u, ns % 1000000000u);
    /* Trailing zeros (and a bare point) go: the label reads as written. */
    while (n > 0 && (size_t)n < len && buf[n - 1] == '0')
        buf[--n] = '\0';
    if (n > 0 && (size_t)n < len && buf[n - 1] == '.')
        buf[--n] = '\0';
}

/* A location's completed waits as a Prometheus histogram.  The runtime's
 * bucket b counts waits of [2^b, 2^(b+1)) ns (bucket 0 also 0 ns, the
 * last one everything longer), and a wait is a whole number of ns, so
 * the waits of buckets 0..b are exactly those of at most 2^(b+1) - 1 ns:
 * that is its le, cumulative as Prometheus wants; the last bucket is
 * +Inf.  _count is the +Inf bucket (the sum of the buckets, which is the
 * location's completed count in any consistent copy), _sum the total
 * wait time.  A location where no wait has completed yet has no
 * histogram: 50 series of zeros per location would multiply the
 * exposition by ten for a program with many locations (a location is
 * made when a thread first parks there, so the series appear with the
 * first completed wait, as a client library's labelled histogram does
 * with its first observation). */
static void wait_histogram(FILE *out, const struct prom_target *t, const char *label,
                           const struct gto_location *l)
{
    uint64_t cum = 0;
    char le[32];
    for (int b = 0; b < GTO_HIST_BUCKETS; b++) {
        cum += l->hist[b];
        if (b + 1 < GTO_HIST_BUCKETS)
            fmt_ns_seconds((UINT64_C(2) << b) - 1, le, sizeof(le));
        else
            snprintf(le, sizeof(le), "+Inf");
        open_series(out, "gt_location_wait_seconds_bucket", t);
        fprintf(out, "location=");
        prom_label_value(out, label);
        fprintf(out, ",le=\"%s\"} %" PRIu64 "\n", le, cum);
    }
    open_series(out, "gt_location_wait_seconds_sum", t);
    fprintf(out, "location=");
    prom_label_value(out, label);
    fprintf(out, "} %.9f\n", (double)l->total_wait_ns / 1e9);
    loc_u64(out, "gt_location_wait_seconds_count", t, label, cum);
}

static const struct gto_counters *counters(const struct prom_target *t)
{
    return gto_snapshot_counters(t->s->cur);
}

/* ---- the families, each as the series of one target ------------------- */

static void threads(FILE *out, const struct prom_target *t)
{
    /* The states part the threads: their sum is the thread count. */
    for (int i = GTO_STATE_RUNNABLE; i < GTO_STATE_COUNT; i++) {
        open_series(out, "gt_threads", t);
        fprintf(out, "state=\"%s\"} %" PRIu64 "\n", gto_state_name(i), t->tb->nstate[i]);
    }
}

#define COUNTER_FAMILY(fn, metric, field)                       \
    static void fn(FILE *out, const struct prom_target *t)      \
    {                                                           \
        plain_u64(out, metric, t, counters(t)->field);          \
    }
COUNTER_FAMILY(switches, "gt_switches_total", switches)
COUNTER_FAMILY(spawns, "gt_spawns_total", spawns)
COUNTER_FAMILY(exits, "gt_exits_total", exits)
COUNTER_FAMILY(run_queue, "gt_run_queue_threads", runq_len)
COUNTER_FAMILY(file_io_calls, "gt_file_io_calls_total", file_io_calls)
COUNTER_FAMILY(guard_mappings, "gt_guard_mappings", guard_mappings)
COUNTER_FAMILY(watchdog, "gt_watchdog_samples_total", watchdog_events)

static void idle(FILE *out, const struct prom_target *t)
{
    plain_ns(out, "gt_idle_seconds_total", t, counters(t)->idle_total);
}

static void file_io_time(FILE *out, const struct prom_target *t)
{
    plain_ns(out, "gt_file_io_seconds_total", t, counters(t)->file_io_ns);
}

/* Resident and dead are measured every 10 s or so, never in a compact
 * core: absent until known rather than 0. */
static int measured(const struct prom_target *t)
{
    return t->tb->measured;
}

static void resident(FILE *out, const struct prom_target *t)
{
    plain_u64(out, "gt_stack_resident_bytes", t, t->tb->resident);
}

static void dead(FILE *out, const struct prom_target *t)
{
    plain_u64(out, "gt_stack_dead_bytes", t, t->tb->dead);
}

static int rss_known(const struct prom_target *t)
{
    return t->s->rss != 0;
}

static void rss(FILE *out, const struct prom_target *t)
{
    plain_u64(out, "gt_resident_memory_bytes", t, t->s->rss);
}

/* Whether the target's snapshots hold its thread records: every series
 * counted from them comes from the full read of a snapshot taken without
 * them (GTO_SNAP_NO_THREADS, gt-exporter), and is left out rather than
 * printed as 0 while there is none. */
static int records(const struct prom_target *t)
{
    return !(t->s->flags & GTO_SNAP_NO_THREADS);
}

/* A target as the families see it: the caller's, and what
 * prom_write_full was told of its full read (every family is called with
 * one of these). */
struct target_in {
    struct prom_target t;
    const struct prom_full *full;
};

static const struct prom_full *full_read(const struct prom_target *t)
{
    return ((const struct target_in *)(const void *)t)->full;
}

static int counted(const struct prom_target *t)
{
    return records(t) || full_read(t);
}

static void reserved(FILE *out, const struct prom_target *t)
{
    plain_u64(out, "gt_stack_reserved_bytes", t,
              records(t) ? t->tb->reserved : full_read(t)->reserved);
}

static void live(FILE *out, const struct prom_target *t)
{
    plain_u64(out, "gt_stack_live_bytes", t, records(t) ? t->tb->live : full_read(t)->live);
}

static void deadlocked(FILE *out, const struct prom_target *t)
{
    plain_u64(out, "gt_deadlocked_threads", t,
              records(t) ? t->tb->cycle_threads : full_read(t)->cycle_threads);
}

static void cycles(FILE *out, const struct prom_target *t)
{
    plain_u64(out, "gt_deadlock_cycles", t,
              records(t) ? t->tb->ncycles : full_read(t)->cycles);
}

/* The oldest wait: counted from the records, or read from each queue's
 * head (GTO_SNAP_QUEUE_HEADS) into the rows by the caller. */
static int oldest_known(const struct prom_target *t)
{
    return records(t) || (t->s->flags & GTO_SNAP_QUEUE_HEADS);
}

static void running(FILE *out, const struct prom_target *t)
{
    plain_ns(out, "gt_running_seconds", t, t->tb->running ? t->tb->hog.run_ns : 0);
}

static void hog(FILE *out, const struct prom_target *t)
{
    plain_u64(out, "gt_hog", t, t->tb->running && t->tb->hog.hog ? 1 : 0);
}


static void waiting(FILE *out, const struct prom_target *t)
{
    char label[WHERE_MAX + 16];
    for (size_t i = 0; i < t->tb->nlocs; i++)
        loc_u64(out, "gt_location_waiting_threads", t, label_of(t, i, label, sizeof(label)),
                t->tb->locs[i].waiting);
}

static void blocked(FILE *out, const struct prom_target *t)
{
    char label[WHERE_MAX + 16];
    const struct prom_full *f = records(t) ? NULL : full_read(t);
    for (size_t i = 0; i < t->tb->nlocs; i++) {
        uint32_t index = t->tb->locs[i].index;
        if (f && (!index || index > f->nblocked))
            continue;   /* made since the full read: not counted yet */
        loc_label(t->tb, index, label, sizeof(label));
        loc_u64(out, "gt_location_blocked_threads", t, label,
                f ? f->blocked[index] : t->tb->locs[i].blocked_waiters);
    }
}

static void arrivals(FILE *out, const struct prom_target *t)
{
    char label[WHERE_MAX + 16];
    for (size_t i = 0; i < t->tb->nlocs; i++) {
        const struct gto_location *l = gto_location_by_index(t->s->cur, t->tb->locs[i].index);
        loc_label(t->tb, t->tb->locs[i].index, label, sizeof(label));
        loc_u64(out, "gt_location_arrivals_total", t, label, l ? l->arrivals : 0);
    }
}

static void wait_seconds(FILE *out, const struct prom_target *t)
{
    char label[WHERE_MAX + 16];
    for (size_t i = 0; i < t->tb->nlocs; i++) {
        const struct gto_location *l = gto_location_by_index(t->s->cur, t->tb->locs[i].index);
        uint64_t done = 0;
        for (int b = 0; l && b < GTO_HIST_BUCKETS; b++)
            done += l->hist[b];
        if (!done)
            continue;
        loc_label(t->tb, t->tb->locs[i].index, label, sizeof(label));
        wait_histogram(out, t, label, l);
    }
}

static void oldest(FILE *out, const struct prom_target *t)
{
    char label[WHERE_MAX + 16];
    for (size_t i = 0; i < t->tb->nlocs; i++) {
        loc_label(t->tb, t->tb->locs[i].index, label, sizeof(label));
        open_series(out, "gt_location_oldest_wait_seconds", t);
        fprintf(out, "location=");
        prom_label_value(out, label);
        fprintf(out, "} %.9f\n", (double)t->tb->locs[i].age_max / 1e9);
    }
}

static void edges(FILE *out, const struct prom_target *t)
{
    char label[WHERE_MAX + 16], label2[WHERE_MAX + 16];
    for (size_t i = 0; i < t->tb->nedges; i++) {
        loc_label(t->tb, t->tb->edges[i].from, label, sizeof(label));
        loc_label(t->tb, t->tb->edges[i].to, label2, sizeof(label2));
        open_series(out, "gt_edge_transitions_total", t);
        fprintf(out, "from=");
        prom_label_value(out, label);
        fprintf(out, ",to=");
        prom_label_value(out, label2);
        fprintf(out, "} %" PRIu64 "\n", t->tb->edges[i].count);
    }
}

/* The end of the HELP of a family counted from every thread record:
 * gt-exporter counts it at a full read, not at each scrape (its
 * --full-every; gt-top at each refresh).  One text for both, so that
 * their expositions agree to the byte. */
#define FULL_EVERY "; gt-exporter counts it every --full-every seconds (60 by " \
                   "default), or at each scrape with --full."

static const struct family {
    const char *name, *type, *help;
    void (*series)(FILE *out, const struct prom_target *t);
    int (*present)(const struct prom_target *t);   /* NULL: always */
} families[] = {
    {"gt_threads", "gauge", "Green threads by state.", threads, NULL},
    {"gt_switches_total", "counter", "Context switches.", switches, NULL},
    {"gt_spawns_total", "counter", "Threads spawned.", spawns, NULL},
    {"gt_exits_total", "counter", "Threads exited.", exits, NULL},
    {"gt_run_queue_threads", "gauge", "Threads ready to run.", run_queue, NULL},
    {"gt_idle_seconds_total", "counter",
     "Time blocked in the poller, the wait in progress included.", idle, NULL},
    {"gt_file_io_calls_total", "counter",
     "Regular-file calls made straight through (they block the scheduler).",
     file_io_calls, NULL},
    {"gt_file_io_seconds_total", "counter", "Time in regular-file I/O.", file_io_time, NULL},
    /* One family per measure, not gt_stack_bytes{kind}: live lies within
     * resident and resident within reserved, so a sum over kind would
     * count bytes twice.  Each of these sums over targets. */
    {"gt_stack_reserved_bytes", "gauge",
     "Stack bytes reserved for all threads (stack_hi - stack_lo, guards apart)" FULL_EVERY,
     reserved, counted},
    {"gt_stack_live_bytes", "gauge",
     "Stack bytes in use at each thread's last switch, all threads" FULL_EVERY, live, counted},
    {"gt_stack_resident_bytes", "gauge",
     "Stack bytes in memory, all threads (measured every 10 s or less often).",
     resident, measured},
    {"gt_stack_dead_bytes", "gauge",
     "Stack bytes touched before and not in use now, all threads "
     "(measured every 10 s or less often).", dead, measured},
    {"gt_guard_mappings", "gauge", "Mappings the guard policy uses.", guard_mappings, NULL},
    {"gt_resident_memory_bytes", "gauge", "Resident set size.", rss, rss_known},
    {"gt_deadlocked_threads", "gauge", "Threads in a deadlock cycle" FULL_EVERY, deadlocked,
     counted},
    {"gt_deadlock_cycles", "gauge",
     "Deadlock cycles (threads waiting on each other through mutexes and joins)" FULL_EVERY,
     cycles, counted},
    {"gt_running_seconds", "gauge",
     "How long the running thread has run without parking or yielding (0 when "
     "none runs or the time is unknown).", running, NULL},
    {"gt_hog", "gauge",
     "1 when the running thread has run past the hog threshold without yielding.",
     hog, NULL},
    {"gt_watchdog_samples_total", "counter",
     "Stack samples the runtime's watchdog took of a thread running too long.",
     watchdog, NULL},
    {"gt_location_waiting_threads", "gauge", "Threads waiting at a location now.",
     waiting, NULL},
    {"gt_location_blocked_threads", "gauge",
     "Threads waiting at a location held up by another thread (a mutex's owner, "
     "a joined thread): some of its waiting threads" FULL_EVERY, blocked, counted},
    {"gt_location_arrivals_total", "counter", "Waits begun at a location.", arrivals, NULL},
    {"gt_location_wait_seconds", "histogram",
     "Completed waits at a location, from the park to running again, in the "
     "runtime's log2 buckets (le = 2^(b+1) - 1 ns).", wait_seconds, NULL},
    {"gt_location_oldest_wait_seconds", "gauge",
     "Age of the oldest wait in progress at a location.", oldest, oldest_known},
    {"gt_edge_transitions_total", "counter",
     "Threads that went from one location to the next.", edges, NULL},
};

void prom_write_full(FILE *out, const struct prom_target *targets,
                     const struct prom_full *const *full, size_t n)
{
    struct target_in *in = malloc((n + 1) * sizeof(*in));
    if (!in)
        return;   /* an empty exposition: the scraper says so */
    for (size_t i = 0; i < n; i++)
        in[i] = (struct target_in){targets[i], full ? full[i] : NULL};
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        const struct family *fam = &families[f];
        size_t shown = 0;
        for (size_t i = 0; i < n; i++) {
            const struct prom_target *t = &in[i].t;
            if (fam->present && !fam->present(t))
                continue;
            if (!shown++)
                prom_family(out, fam->name, fam->type, fam->help);
            fam->series(out, t);
        }
    }
    free(in);
}

void prom_write(FILE *out, const struct prom_target *t, size_t n)
{
    prom_write_full(out, t, NULL, n);
}
