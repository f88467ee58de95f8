/*
 * main.c - gt-top's command line: which target, batch or screen.
 *
 *   gt-top [-n N] [-d SECS] [-p] PID     the screen (a terminal is needed)
 *   gt-top --core CORE [--exe EXE]       a frozen view of a core
 *   gt-top -b [-n N] [-d SECS] [-p] PID [--view V] [--format F]
 *   --sort COL[:asc|:desc], --class-by entry|name|prefix, --timing,
 *   -H DURATION (the running thread's highlight) (either mode)
 *   gt-top -h | -V
 *
 * The conventions are gt-stacks' and gt-waste's: the PID alone or after
 * -p, -h and --help, -V and --version.
 *
 * Exit status: 0 done (q, Ctrl-C or SIGTERM, or the snapshots printed), 1
 * the target could not be read, 2 bad command line.  Every failure
 * before the screen opens is one line on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gt.h>

#include "batch.h"
#include "blockers.h"
#include "exit_status.h"
#include "multi.h"
#include "quit_signal.h"
#include "refresh_cost.h"
#include "sampler.h"
#include "tables.h"
#include "tui.h"

static const char usage_text[] =
    "usage: gt-top [-b] [-n N] [-d SECS] [OPTION...] [-p] PID\n"
    "       gt-top [-b] [OPTION...] -p PID1,PID2,... | --name PATTERN\n"
    "       gt-top [-b] [OPTION...] --core CORE [--exe EXE]\n"
    "       gt-top -h | -V\n"
    "Watches the green threads of a gt program, live or from a core file: a\n"
    "queue per location, every thread, stack memory, the location graph.\n"
    "\n"
    "Target:\n"
    "  -p, --pid PID        the live gt program to watch (the same as PID alone);\n"
    "                       PID1,PID2,... or -p repeated: several, as one\n"
    "      --name PATTERN   every gt program whose command name (or executable's\n"
    "                       basename) matches the shell pattern: knot, 'kn*'; the\n"
    "                       screen looks for new ones at each refresh\n"
    "      --core CORE      a core file of a gt program\n"
    "      --exe EXE        the program that dumped CORE (default: the path\n"
    "                       the core names)\n"
    "Mode:\n"
    "  -b, --batch          print snapshots and exit (no terminal needed)\n"
    "  -n, --iterations N   snapshots in batch mode (default 1); on the screen,\n"
    "                       refreshes before it closes (default: until q)\n"
    "  -d, --delay SECS     interval between snapshots (default 1)\n"
    "What to show:\n"
    "      --view V         locations (default), threads, stacks, graph\n"
    "      --format F       text (default), json, prometheus, dot; prometheus\n"
    "                       prints one exposition: the last of the -n snapshots\n"
    "      --class-by entry|name|prefix  what makes threads one class in the\n"
    "                       stacks view: the entry function (default), the\n"
    "                       thread name, or the name up to a space or digit\n"
    "      --sort COL[:asc|:desc]  order of the locations or threads by a\n"
    "                       column (gt-top -b --view threads --format json\n"
    "                       names them; the screen's s key lists them)\n"
    "  -H, --hog DURATION   mark and highlight the running thread once it has\n"
    "                       run this long without yielding (default 100ms;\n"
    "                       200ms, 1.5s, ...)\n"
    "      --timing         each refresh's CPU and wall time on stderr (the\n"
    "                       screen prints them when it closes)\n"
    "  -h, --help           this help\n"
    "  -V, --version        the version of gt and of the registry it reads\n"
    "\n"
    "Who blocks whom: the header shows a DEADLOCK banner when threads wait on\n"
    "each other in a cycle (D on the screen lists the cycles) and the running\n"
    "thread with how long it has run; the Locations view's BLOCKED BY column\n"
    "names the thread holding up most of a location's waiters (thread 2 (50),\n"
    "+N more threads); the Graph view's => edges go to where those threads\n"
    "are parked; the Threads view says who holds each wait up.\n"
    "Keys on the screen (h shows them, with a legend of every column):\n"
    "  q F10 quit          h ? F1 help          1-4 Tab views      Enter drill down\n"
    "  Esc back            D deadlocks          / \\ F4 filter      F3 search\n"
    "  F5 thread tree      < > s F6 sort column r reverse          p Space pause\n"
    "  d + - interval      P by process (several)\n"
    "  arrows PgUp PgDn Home End, the mouse: move, click a\n"
    "  row to select it, a column's title to sort by it\n"
    "q, F10, Ctrl-C or SIGTERM end gt-top.\n"
    "\n"
    "Over several processes the header sums them, a Locations row sums a\n"
    "location (by its label) over every process, P on the screen splits the\n"
    "rows by process (a PID column), and the Threads view has a PID column;\n"
    "batch output adds the rows by process; a process that exits is dropped\n"
    "with a note.\n"
    "\n"
    "Exit status: 0 done (q, Ctrl-C or SIGTERM, or every snapshot printed),\n"
    "1 the target could not be read (the message says why), 2 bad command line.\n"
    "The manual: gt-top(1).\n";

struct options {
    int batch;
    long iterations;
    int iterations_given;    /* -n: the screen too stops after them */
    double delay;
    pid_t pid;
    pid_t pids[MULTI_MAX];   /* -p, every pid given */
    size_t npids;
    const char *name;        /* --name */
    int multi;               /* several pids or --name: merged output */
    const char *core, *exe;
    enum view view;
    enum format format;
    const char *sort;        /* --sort as given */
    struct row_order order;
    enum gto_class_by class_by;
    int timing;
    uint64_t hog_mark_ns;    /* -H */
};

static int usage_error(const char *msg, const char *arg)
{
    /* ARG is the user's own, but a line of it must still stay one line. */
    char safe[256];
    gto_text_safe(arg, strlen(arg), safe, sizeof(safe));
    fprintf(stderr, "gt-top: ");
    fprintf(stderr, msg, safe);
    fprintf(stderr, " (gt-top --help for usage)\n");
    return EXIT_USAGE;
}

/* -p's argument: PID or PID1,PID2,..., each added to o->pids. */
static int add_pids(struct options *o, const char *arg)
{
    const char *p = arg;
    for (;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || errno || v <= 0 || v > 0x3fffffff) {
            usage_error("'%s' is not a process id or a list of them (PID1,PID2,...)", arg);
            return -1;
        }
        if (o->npids >= MULTI_MAX) {
            char n[32];
            snprintf(n, sizeof(n), "%d", MULTI_MAX);
            usage_error("at most %s processes at once", n);
            return -1;
        }
        o->pids[o->npids++] = (pid_t)v;
        if (!*end)
            return 0;
        p = end + 1;
    }
}

/* --sort COL[:asc|:desc] against the columns of the chosen view. */
static int parse_sort(struct options *o)
{
    const struct column *cols = o->view == VIEW_THREADS ? thread_columns : loc_columns;
    size_t ncols = o->view == VIEW_THREADS ? thread_ncolumns : loc_ncolumns;
    if (o->multi)
        ncols = o->view == VIEW_THREADS ? thread_ncolumns_multi : loc_ncolumns_multi;
    char name[64], names[512];
    const char *colon = strchr(o->sort, ':');
    size_t len = colon ? (size_t)(colon - o->sort) : strlen(o->sort);
    if (o->view != VIEW_THREADS && o->view != VIEW_LOCATIONS)
        return usage_error("%s", "--sort orders the locations or threads view");
    snprintf(name, sizeof(name), "%.*s", (int)(len < 63 ? len : 63), o->sort);
    o->order.col = tables_column(cols, ncols, name);
    if (o->order.col < 0) {
        size_t at = 0;
        names[0] = 0;
        for (size_t i = 0; i < ncols && at < sizeof(names); i++)
            at += (size_t)snprintf(names + at, sizeof(names) - at, "%s%s", i ? ", " : "",
                                   cols[i].name);
        fprintf(stderr, "gt-top: --sort: the %s view has no column '%s'; it has %s\n",
                view_names[o->view], name, names);
        return EXIT_USAGE;
    }
    /* Numbers read best biggest first on the locations view, as its
     * default order does; names and ids smallest first. */
    o->order.desc = o->view == VIEW_LOCATIONS && cols[o->order.col].align == COL_RIGHT;
    if (colon && strcmp(colon, ":desc") == 0)
        o->order.desc = 1;
    else if (colon && strcmp(colon, ":asc") == 0)
        o->order.desc = 0;
    else if (colon)
        return usage_error("--sort takes COLUMN, COLUMN:asc or COLUMN:desc, not '%s'", o->sort);
    return EXIT_OK;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    enum { OPT_CORE = 256, OPT_EXE, OPT_VIEW, OPT_FORMAT, OPT_TIMING, OPT_SORT,
           OPT_CLASS_BY, OPT_NAME };
    static const struct option longs[] = {
        {"batch", no_argument, NULL, 'b'},
        {"iterations", required_argument, NULL, 'n'},
        {"delay", required_argument, NULL, 'd'},
        {"pid", required_argument, NULL, 'p'},
        {"core", required_argument, NULL, OPT_CORE},
        {"exe", required_argument, NULL, OPT_EXE},
        {"view", required_argument, NULL, OPT_VIEW},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"timing", no_argument, NULL, OPT_TIMING},
        {"sort", required_argument, NULL, OPT_SORT},
        {"class-by", required_argument, NULL, OPT_CLASS_BY},
        {"name", required_argument, NULL, OPT_NAME},
        {"hog", required_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {0, 0, 0, 0},
    };
    static const char *const formats[] = {"text", "json", "prometheus", "dot"};
    char *end;
    int c;
    memset(o, 0, sizeof(*o));
    o->iterations = 1;
    o->delay = 1.0;
    o->hog_mark_ns = HOG_MARK_DEFAULT_NS;
    opterr = 0;
    const char *pid_arg = NULL;
    int pid_args = 0;
    while ((c = getopt_long(argc, argv, ":bn:d:p:hH:V", longs, NULL)) != -1) {
        switch (c) {
        case 'b':
            o->batch = 1;
            break;
        case 'n':
            o->iterations = strtol(optarg, &end, 10);
            if (*end || o->iterations < 1)
                return usage_error("-n wants a count of at least 1, not '%s'", optarg);
            o->iterations_given = 1;
            break;
        case 'd':
            o->delay = strtod(optarg, &end);
            if (*end || !(o->delay >= 0.05) || o->delay > 3600)
                return usage_error("-d wants seconds between 0.05 and 3600, not '%s'", optarg);
            break;
        case 'p':
            /* top's: -p PID1,PID2,..., and -p again adds. */
            if (add_pids(o, optarg) < 0)
                return EXIT_USAGE;
            pid_arg = optarg;
            pid_args++;
            break;
        case OPT_NAME:
            o->name = optarg;
            break;
        case OPT_CORE:
            o->core = optarg;
            break;
        case OPT_EXE:
            o->exe = optarg;
            break;
        case OPT_VIEW: {
            int found = 0;
            for (int v = 0; v < VIEW_COUNT; v++)
                if (strcmp(optarg, view_names[v]) == 0) {
                    o->view = (enum view)v;
                    found = 1;
                }
            if (!found)
                return usage_error("--view is locations, threads, stacks or graph, not '%s'", optarg);
            break;
        }
        case OPT_FORMAT: {
            int found = 0;
            for (int f = 0; f < 4; f++)
                if (strcmp(optarg, formats[f]) == 0) {
                    o->format = (enum format)f;
                    found = 1;
                }
            if (!found)
                return usage_error("--format is text, json, prometheus or dot, not '%s'", optarg);
            break;
        }
        case 'H': {
            int64_t ns = gto_parse_duration(optarg);
            if (ns <= 0)
                return usage_error("-H wants a duration such as 100ms or 1.5s, not '%s'", optarg);
            o->hog_mark_ns = (uint64_t)ns;
            break;
        }
        case OPT_TIMING:
            o->timing = 1;
            break;
        case OPT_SORT:
            o->sort = optarg;
            break;
        case OPT_CLASS_BY:
            if (gto_class_by_parse(optarg, &o->class_by) < 0)
                return usage_error("--class-by is entry, name or prefix, not '%s'", optarg);
            break;
        case 'h':
            fputs(usage_text, stdout);
            exit(EXIT_OK);
        case 'V':
            /* As gt-stacks', gt-waste's and gt-core's --version. */
            printf("gt-top (gt) %d.%d\nregistry ABI %u\n", GT_VERSION_MAJOR,
                   GT_VERSION_MINOR, GT_REGISTRY_ABI);
            exit(EXIT_OK);
        case ':':
            return usage_error("%s needs an argument", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    /* The PID alone, as gt-stacks and gt-waste take it; -p PID as top's. */
    if (optind < argc) {
        if (pid_arg)
            return usage_error("one PID only ('%s' is extra): -p PID1,PID2 for several",
                               argv[optind]);
        pid_arg = argv[optind++];
        if (add_pids(o, pid_arg) < 0)
            return EXIT_USAGE;
        pid_args++;
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    /* One pid given once stays the one-process gt-top, to the byte; a
     * list, a repeated -p or --name are several, even when they name
     * one process. */
    o->multi = o->name || o->npids > 1 || pid_args > 1;
    if (o->npids == 1 && !o->multi)
        o->pid = o->pids[0];
    if (o->core && (o->npids || o->name))
        return usage_error("%s", "give a PID (or --name) or --core CORE, not both");
    if (!o->core && !o->npids && !o->name)
        return usage_error("%s", "which program? give a PID or --core CORE, or --name PATTERN");
    if (o->exe && !o->core)
        return usage_error("%s", "--exe goes with --core");
    if (o->format == FORMAT_DOT && o->view != VIEW_GRAPH && o->view != VIEW_LOCATIONS)
        return usage_error("%s", "--format dot draws the graph view only");
    o->order.col = -1;
    if (o->sort)
        return parse_sort(o);
    return EXIT_OK;
}

/* Sleeps S seconds, less when Ctrl-C or SIGTERM comes. */
static void sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && !quit_requested)
        ;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned snapshot_flags(enum view v)
{
    /* Unwinding and measuring every stack costs most of a snapshot; only
     * the Stacks view needs them on every refresh. */
    return GTO_SNAP_BLOCKERS | (v == VIEW_STACKS ? GTO_SNAP_UNWIND | GTO_SNAP_MEASURE : 0);
}

static int run_batch(struct sampler *s, const struct options *o,
                     struct refresh_cost *cost)
{
    char err[GTO_ERR_MAX];
    s->flags = snapshot_flags(o->view);
    s->sums_only = o->view != VIEW_THREADS;
    if (!o->core) {
        /* A baseline first, so even one snapshot shows rates over the
         * interval rather than over the program's life; the stacks are
         * measured once it is let go, in time the interval would wait
         * anyway. */
        double t0 = now_seconds();
        s->measure_on_release = 1;
        /* Nothing of who blocks whom is printed from it. */
        s->flags &= ~GTO_SNAP_BLOCKERS;
        if (sampler_step(s, err) < 0)
            goto fail;
        s->flags |= GTO_SNAP_BLOCKERS;
        sampler_release(s);
        double spent = now_seconds() - t0;
        if (spent < o->delay)
            sleep_seconds(o->delay - spent);
    }
    /* Ctrl-C stops between snapshots: every snapshot printed is whole. */
    for (long i = 0; i < o->iterations && !quit_requested; i++) {
        refresh_cost_begin(cost);
        if (sampler_step(s, err) < 0)
            goto fail;
        struct tables tb;
        /* A Prometheus exposition is one scrape: two in a row repeat every
         * family, which no parser takes (promtool: "second HELP line").
         * Its counters are totals and its histograms cumulative, so the
         * last snapshot says all the earlier ones did; they are still
         * taken, so -n N still spans N intervals, with the stacks
         * measured in them. */
        int shown = o->format != FORMAT_PROMETHEUS || o->core || i + 1 == o->iterations;
        if (tables_build(&tb, s, o->view == VIEW_THREADS) < 0 ||
            (shown && batch_print(stdout, s, &tb, o->view, o->format, o->order,
                                  o->class_by) < 0)) {
            fprintf(stderr, "gt-top: out of memory\n");
            tables_free(&tb);
            return EXIT_TARGET;
        }
        fflush(stdout);
        refresh_cost_end(cost, gto_thread_count(s->cur));
        tables_free(&tb);
        if (o->core || i + 1 == o->iterations)
            break;   /* a core never changes */
        /* Nothing points into the snapshot now: its buffers go to the
         * next one (at a million threads, 360 MB not held twice), and the
         * stacks are measured in the interval when due. */
        double t0 = now_seconds();
        sampler_release(s);
        double spent = now_seconds() - t0;
        if (spent < o->delay)
            sleep_seconds(o->delay - spent);
    }
    return EXIT_OK;
fail:
    if (quit_requested)
        return EXIT_OK;   /* asked to stop: what failed no longer matters */
    fprintf(stderr, "gt-top: %s\n", err);
    return EXIT_TARGET;
}

/* The note of what came and went, on stderr: not an error. */
static void print_note(struct multi *m)
{
    if (m->note[0])
        fprintf(stderr, "gt-top: %s\n", m->note);
    m->note[0] = 0;
}

/* run_batch over several processes: the same steps, each snapshot of
 * every process, printed merged.  A process that exits is dropped with a
 * note; with none left, the end is the one-process one (exit 1). */
static int run_batch_multi(struct multi *m, const struct options *o,
                           struct refresh_cost *cost)
{
    char err[GTO_ERR_MAX];
    m->flags = snapshot_flags(o->view) & ~GTO_SNAP_BLOCKERS;
    m->sums_only = o->view != VIEW_THREADS;
    m->measure_on_release = 1;
    double t0 = now_seconds();
    if (multi_step(m, err) < 0)
        goto fail;
    print_note(m);
    m->flags = snapshot_flags(o->view);
    multi_release(m);
    double spent = now_seconds() - t0;
    if (spent < o->delay)
        sleep_seconds(o->delay - spent);
    for (long i = 0; i < o->iterations && !quit_requested; i++) {
        refresh_cost_begin(cost);
        if (multi_step(m, err) < 0)
            goto fail;
        print_note(m);
        struct tables tb;
        int shown = o->format != FORMAT_PROMETHEUS || i + 1 == o->iterations;
        if (multi_build(m, &tb, o->view == VIEW_THREADS, 0) < 0 ||
            (shown && batch_print_multi(stdout, m, &tb, o->view, o->format, o->order,
                                        o->class_by) < 0)) {
            fprintf(stderr, "gt-top: out of memory\n");
            tables_free(&tb);
            return EXIT_TARGET;
        }
        fflush(stdout);
        refresh_cost_end(cost, tb.total_threads);
        tables_free(&tb);
        multi_tables_free(m);
        if (i + 1 == o->iterations)
            break;
        t0 = now_seconds();
        multi_release(m);
        spent = now_seconds() - t0;
        if (spent < o->delay)
            sleep_seconds(o->delay - spent);
    }
    return EXIT_OK;
fail:
    print_note(m);
    if (quit_requested)
        return EXIT_OK;
    fprintf(stderr, "gt-top: %s\n", err);
    return EXIT_TARGET;
}

static int run_multi(const struct options *o, struct refresh_cost *cost)
{
    struct multi m;
    char err[GTO_ERR_MAX];
    int rc;
    memset(&m, 0, sizeof(m));
    m.hog_mark_ns = o->hog_mark_ns;
    m.measure_aside = !o->batch;
    if (multi_open(&m, o->pids, o->npids, o->name, err) < 0) {
        fprintf(stderr, "gt-top: %s\n", err);
        return EXIT_TARGET;
    }
    if (o->batch) {
        rc = run_batch_multi(&m, o, cost);
    } else {
        m.flags = GTO_SNAP_BLOCKERS;
        if (multi_step(&m, err) < 0) {
            multi_close(&m);
            if (quit_requested)
                return EXIT_OK;
            fprintf(stderr, "gt-top: %s\n", err);
            return EXIT_TARGET;
        }
        rc = tui_run_multi(&m, o->delay, o->iterations_given ? o->iterations : 0, o->view,
                           o->order, o->class_by, cost);
        refresh_cost_flush(cost, stderr);
    }
    multi_close(&m);
    return rc;
}

int main(int argc, char **argv)
{
    struct options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != EXIT_OK)
        return rc;
    if (!o.batch && !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "gt-top: standard output is not a terminal; use -b for "
                        "batch output (gt-top -b -p PID)\n");
        return EXIT_USAGE;
    }
    /* Each refresh builds its tables afresh (megabytes at 100K threads):
     * freed memory is kept for the next one, not given back to be
     * faulted in again, whatever glibc's thresholds made of the sizes
     * freed before. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20), mallopt(M_TRIM_THRESHOLD, 256 << 20);
    quit_signal_install(o.batch);
    struct sampler s;
    struct refresh_cost cost = {.enabled = o.timing, .buffered = !o.batch};
    char err[GTO_ERR_MAX];
    if (o.multi)
        return run_multi(&o, &cost);
    if (sampler_open(&s, o.pid, o.core, o.exe, err) < 0) {
        fprintf(stderr, "gt-top: %s\n", err);
        return EXIT_TARGET;
    }
    s.hog_mark_ns = o.hog_mark_ns;
    if (o.batch) {
        rc = run_batch(&s, &o, &cost);
    } else {
        /* The first snapshot before the screen opens: a target that
         * cannot be read is one line on a normal terminal.  It is the
         * first screen's, who blocks whom included (the Stacks view
         * takes its own). */
        s.flags = GTO_SNAP_BLOCKERS;
        if (sampler_step(&s, err) < 0 || (!o.core && sampler_measure_aside(&s, err) < 0)) {
            sampler_close(&s);
            if (quit_requested)
                return EXIT_OK;
            fprintf(stderr, "gt-top: %s\n", err);
            return EXIT_TARGET;
        }
        rc = tui_run(&s, o.delay, o.iterations_given ? o.iterations : 0, o.view, o.order,
                     o.class_by, &cost);
        refresh_cost_flush(&cost, stderr);
    }
    sampler_close(&s);
    return rc;
}
