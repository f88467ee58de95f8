/*
 * gt-exporter - a Prometheus exporter of gt programs, in the manner of
 * node_exporter: an HTTP server whose /metrics is gt-top's exposition of
 * every target, each series labelled by pid and exe.
 *
 *   gt-exporter [--listen HOST:PORT] -p PID[,PID...]   these processes
 *   gt-exporter [--listen HOST:PORT] --discover        every gt process
 *                                                      this user may read
 *   gt-exporter --once (-p ... | --discover)           one exposition on
 *                                                      stdout, then exit
 *
 * It is a printer over gt-top's engine (viewer/sampler.c, tables.c,
 * prometheus.c), linked in, so a scrape says what `gt-top -b --format
 * prometheus` says of the same snapshot.  Each target keeps its sampler
 * between scrapes.  It reads the targets through libgtobserve only
 * (process_vm_readv): it never stops them or writes to them.
 *
 * A scrape reads no thread record (the header, the locations, the head
 * of each location's queue, the edges: the same few reads at any number
 * of threads); what only every record tells comes from a read of them
 * all every --full-every seconds, after a response.  --full reads every
 * record at every scrape, as gt-top does.
 *
 * The parts: exporter/http.c serves, exporter/targets.c keeps the
 * targets, exporter/discover.c finds gt processes, exporter/scrape.c
 * writes a response, exporter/proc.c reads /proc.
 *
 * Exit status: 0 stopped by SIGTERM or Ctrl-C (or --once printed), 1 a
 * target given with -p cannot be read or the address cannot be listened
 * on, 2 bad command line (a --listen that is no address included).
 * Each failure is one line on stderr.
 */
#include <argp.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "exporter/http.h"
#include "exporter/scrape.h"
#include "exporter/targets.h"

#define DEFAULT_LISTEN "127.0.0.1:9464"

static const char doc[] =
    "A Prometheus exporter of gt programs: /metrics gives gt-top's metrics "
    "of every target (threads by state, each location's queue and wait-time "
    "histogram, stack bytes, deadlocks, the hog), labelled by pid and exe, "
    "with gt_up per target.\v"
    "A scrape reads each target's header, locations, queue heads and edges, "
    "not every thread's record (--full does); the stack bytes, blocked threads "
    "and deadlocks come from a read of every record every --full-every "
    "seconds.  Targets are read, never stopped or written to; one that exits or cannot "
    "be read has gt_up 0 (with --discover it is dropped once gone), never an "
    "error page.  / is a page linking to /metrics.\n\n"
    "Exit status: 0 stopped by SIGTERM or Ctrl-C (or --once done), 1 a target "
    "given with -p cannot be read, or the address cannot be listened on, 2 bad "
    "command line.\n\nThe manual: gt-exporter(1).";
static const char args_doc[] = "-p PID[,PID...]\n--discover";

enum { OPT_ONCE = 256, OPT_RESCAN, OPT_MEASURE, OPT_FULL, OPT_FULL_EVERY, OPT_FAST };

static const struct argp_option options[] = {
    {NULL, 0, NULL, 0, "Targets:", 1},
    {"pid", 'p', "PIDS", 0, "the gt programs PIDS, separated by commas (-p may "
     "be given again; PIDs alone too)", 1},
    {"discover", 'd', NULL, 0, "every gt program this user may read, found in "
     "/proc and followed as they come and go", 1},
    {"rescan", OPT_RESCAN, "SECS", 0, "with --discover, look for new programs "
     "this often (default 10; each scrape looks too)", 1},
    {NULL, 0, NULL, 0, "Serving:", 2},
    {"listen", 'l', "HOST:PORT", 0, "the address to serve on (default "
     DEFAULT_LISTEN "; :PORT is every address, port 0 a free one)", 2},
    {"once", OPT_ONCE, NULL, 0, "print one exposition on stdout and exit", 2},
    {"stack-measure", OPT_MEASURE, "SECS", 0, "measure each target's stack "
     "residency (gt_stack_resident_bytes, gt_stack_dead_bytes) at most this "
     "often, after a scrape (default 60; at least 100 times the measure's own "
     "cost; 0 never)", 2},
    {"full-every", OPT_FULL_EVERY, "SECS", 0, "read every thread record of "
     "each target this often, after a scrape, for the series only they give "
     "(gt_stack_reserved_bytes, gt_stack_live_bytes, "
     "gt_location_blocked_threads, the deadlock gauges; the first read in the "
     "first scrape; default 60; 0 never: those series are left out)", 2},
    {"full", OPT_FULL, NULL, 0, "read every thread record at every scrape, as "
     "gt-top does (about 0.2 ms of CPU per 1,000 threads per scrape); by "
     "default a scrape reads each target's counters, locations, the head of "
     "each queue and edges, the same few reads at 10 threads or a million", 2},
    {"fast", OPT_FAST, NULL, OPTION_HIDDEN, "the default (kept for old "
     "command lines)", 2},
    {NULL, 'h', NULL, OPTION_HIDDEN, "give this help list", -1},
    {0},
};

struct opts {
    const char *listen;
    pid_t *pids;
    size_t npids;
    int discover, once, full;
    double rescan_s, measure_s, full_every_s;
};

static double parse_seconds(struct argp_state *st, const char *opt, const char *arg,
                            double min)
{
    char *end;
    double v = strtod(arg, &end);
    if (end == arg || *end || !(v >= min) || v > 86400)
        argp_error(st, "%s wants seconds (%g to 86400), not '%s'", opt, min, arg);
    return v;
}

/* "12,34" (and "12, 34") into O's pids. */
static void parse_pids(struct argp_state *st, struct opts *o, const char *arg)
{
    const char *p = arg;
    do {
        char *end;
        while (*p == ' ')
            p++;
        long v = strtol(p, &end, 10);
        if (end == p || v <= 0 || v > 0x3fffffff || (*end && *end != ',')) {
            char safe[64];
            gto_text_safe(arg, strlen(arg), safe, sizeof(safe));
            argp_error(st, "'%s' is not a list of process ids (12 or 12,34)", safe);
        }
        pid_t *v2 = realloc(o->pids, (o->npids + 1) * sizeof(*v2));
        if (!v2)
            argp_failure(st, EXIT_TARGET, ENOMEM, "pids");
        o->pids = v2;
        o->pids[o->npids++] = (pid_t)v;
        p = *end ? end + 1 : end;
    } while (*p);
}

static error_t parse_opt(int key, char *arg, struct argp_state *st)
{
    struct opts *o = st->input;
    switch (key) {
    case 'p':
    case ARGP_KEY_ARG:
        parse_pids(st, o, arg);
        return 0;
    case 'd': o->discover = 1; return 0;
    case 'l': o->listen = arg; return 0;
    case OPT_ONCE: o->once = 1; return 0;
    case OPT_FULL: o->full = 1; return 0;
    case OPT_FAST: return 0;
    case OPT_FULL_EVERY:
        o->full_every_s = parse_seconds(st, "--full-every", arg, 0);
        return 0;
    case OPT_RESCAN: o->rescan_s = parse_seconds(st, "--rescan", arg, 0.1); return 0;
    case OPT_MEASURE: o->measure_s = parse_seconds(st, "--stack-measure", arg, 0); return 0;
    case 'h':
        argp_state_help(st, stdout, ARGP_HELP_STD_HELP);
        return 0;
    case ARGP_KEY_END:
        if (o->npids && o->discover)
            argp_error(st, "give -p PIDS or --discover, not both");
        if (!o->npids && !o->discover)
            argp_error(st, "which programs? give -p PID[,PID...] or --discover");
        if (o->once && o->listen)
            argp_error(st, "--once prints on stdout: it takes no --listen");
        return 0;
    default:
        return ARGP_ERR_UNKNOWN;
    }
}

static volatile sig_atomic_t quit;

static void on_quit(int sig)
{
    (void)sig;
    quit = 1;
}

struct server_ctx {
    struct targets *ts;
    int scraped;        /* the targets hold a scrape's snapshots */
};

static const char index_html[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>gt-exporter</title></head>\n"
    "<body><h1>gt-exporter</h1>\n"
    "<p>A Prometheus exporter of gt programs' green threads.</p>\n"
    "<p><a href=\"/metrics\">Metrics</a></p>\n</body></html>\n";

static void handle(void *ctx, const char *path, struct http_response *r)
{
    struct server_ctx *c = ctx;
    if (strcmp(path, "/metrics") == 0) {
        if (c->scraped)
            targets_release(c->ts);
        scrape_write(c->ts, r->body);
        c->scraped = 1;
        r->status = 200;
        r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    } else if (strcmp(path, "/") == 0) {
        fputs(index_html, r->body);
        r->status = 200;
        r->content_type = "text/html; charset=utf-8";
    } else {
        fprintf(r->body, "not found: try /metrics\n");
        r->status = 404;
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int serve(struct opts *o, struct targets *ts, int fd)
{
    char addr[80];
    struct server_ctx ctx = {ts, 0};
    struct http_server srv;
    if (http_server_init(&srv, fd, handle, &ctx) < 0) {
        fprintf(stderr, "gt-exporter: out of memory\n");
        return EXIT_TARGET;
    }
    fprintf(stderr, "gt-exporter: listening on http://%s/metrics (%zu target%s%s)\n",
            http_local_address(fd, addr, sizeof(addr)), ts->n, ts->n == 1 ? "" : "s",
            o->discover ? ", discovering" : "");
    uint64_t rescan_ns = (uint64_t)(o->rescan_s * 1e9), next_rescan = now_ns() + rescan_ns;
    while (!quit) {
        uint64_t now = now_ns();
        int timeout = 1000;
        if (o->discover)
            timeout = next_rescan > now ? (int)((next_rescan - now) / 1000000u) + 1 : 0;
        http_server_poll(&srv, timeout);
        /* The snapshots go once the response is out: their buffers serve
         * the next scrape, and the stacks are measured when due. */
        if (ctx.scraped) {
            targets_release(ts);
            ctx.scraped = 0;
        }
        if (o->discover && now_ns() >= next_rescan) {
            targets_rescan(ts);
            next_rescan = now_ns() + rescan_ns;
        }
    }
    http_server_close(&srv);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    struct opts o = {.rescan_s = 10, .measure_s = 60, .full_every_s = 60};
    struct argp argp = {options, parse_opt, args_doc, doc, NULL, NULL, NULL};
    argp_err_exit_status = EXIT_USAGE;
    argp_parse(&argp, argc, argv, 0, NULL, &o);

    /* Each scrape builds its tables afresh (megabytes at 100K threads):
     * freed memory is kept for the next one rather than given back and
     * faulted in again (as gt-top does). */
    mallopt(M_MMAP_THRESHOLD, 32 << 20), mallopt(M_TRIM_THRESHOLD, 256 << 20);
    struct sigaction sa = {.sa_handler = on_quit};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* The address first: a port in use is the likelier mistake, and
     * says so before any target is read. */
    int fd = -1;
    if (!o.once) {
        char lerr[256];
        fd = http_listen(o.listen ? o.listen : DEFAULT_LISTEN, lerr, sizeof(lerr));
        if (fd < 0) {
            fprintf(stderr, "gt-exporter: %s\n", lerr);
            free(o.pids);
            return fd == -2 ? EXIT_USAGE : EXIT_TARGET;
        }
    }
    struct targets ts;
    /* --once prints before any measure could be taken: none is. */
    targets_init(&ts, o.discover, o.full, o.once ? 0 : (uint64_t)(o.measure_s * 1e9),
                 (uint64_t)(o.full_every_s * 1e9));
    char err[GTO_ERR_MAX];
    for (size_t i = 0; i < o.npids; i++)
        if (targets_add_pid(&ts, o.pids[i], err) < 0) {
            fprintf(stderr, "gt-exporter: %s\n", err);
            targets_free(&ts);
            free(o.pids);
            if (fd >= 0)
                close(fd);
            return EXIT_TARGET;
        }
    free(o.pids);
    int rc = EXIT_OK;
    if (o.once) {
        scrape_write(&ts, stdout);
        targets_release(&ts);
        if (fflush(stdout) != 0)
            rc = EXIT_TARGET;
    } else {
        ts.log = 1;
        targets_rescan(&ts);
        rc = serve(&o, &ts, fd);
    }
    targets_free(&ts);
    return rc;
}
