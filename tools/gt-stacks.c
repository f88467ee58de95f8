/*
 * gt-stacks - grouped backtraces of every green thread of a gt program,
 * live or from a core file.
 *
 *   gt-stacks [-p] PID [PID...]       (or -p PID1,PID2)
 *   gt-stacks --core CORE [--exe EXE]
 *
 * Under the count, a summary: threads by state (counted from the records:
 * they add up, at most one runs, what kept changing is "in flux"), uptime,
 * idle time with the current stretch, and regular-file I/O; the running
 * thread and how long it has run without yielding ("hog:" past the
 * threshold), its stack marked when it comes from a register sample.
 * Then every deadlock (a cycle of threads each waiting on a mutex the
 * next holds, or joining it), one line per member in wait order.  Then
 * threads with identical stacks form one group, biggest first, with the
 * threads that hold its members up (a mutex's owner, a joined thread):
 *
 *   38112 threads  parked 2.1s..14.9s (median 7.0s)  at read_request (knot.c:142) < serve (knot.c:210)
 *     held up by thread 2 "holder" (parked, sleep at hold (knot.c:52)) for 3.2s: 50 threads
 *     #0   gt__switch_to (sched.c:213)
 *     ...
 *
 * Locations are labelled by gto_location_label (every pc with its inline
 * chain, joined by " < "), waits described by gto_wait_describe ("fd 9
 * read"), and frames numbered from 0, the saved context's, physical frames
 * only (inlined calls share their frame's number).  Ages of a core that
 * cannot tell when it died are lower bounds: "parked >= 2.1ms".
 *
 * --all prints one entry per thread instead, --thread ID one thread with
 * its details.  --json prints one document (schema/gt-stacks.schema.json,
 * installed under share/gt/schema/):
 *
 *   { "schema_version": 1 (GTO_JSON_SCHEMA_VERSION), "target": str, "pid": int, "now_ns": int, "now_exact": bool,
 *     "uptime_ns": int, "idle_ns": int, "file_io_calls": int,
 *     "file_io_ns": int, "threads": int,
 *     "states": {"runnable": int, "running": int, "parked": int,
 *                "exited": int}, "in_flux": int,
 *     "capture": null | {"realtime_ns", "monotonic_ns", "stopped_ns": int,
 *                "compact", "stopped": bool}   a core gt-core wrote: when
 *                                 and how (the text says it under the
 *                                 count: "core written by gt-core at ...")
 *     "shown": int,                       threads that passed the filters
 *     "deadlocks": [ { "threads": [ { "id", "name", "location",
 *                    "waits_for": {"kind": "mutex"|"join", "object": int},
 *                    "held_by": int } ] } ],  cycles of the wait-for graph,
 *                                          each in wait order, lowest id first
 *     "threads_in_deadlock": int,
 *     "running": null | { "id", "name", "run_ns": int|null,
 *                "run_exact": bool, "hog": bool, "threshold_ns": int,
 *                "sampled": bool, "sample_age_ns": int|null },
 *     "watchdog": {"threshold_ns": int, "events": int},
 *     "locations": [LOC],
 *     "groups": [ { "count": int, "states": {state: int},
 *                   "representative": {"id": int, "name": str},
 *                   "unstacked": bool,   waits holding no stack (see below)
 *                   "location": int,     index into locations, 0 none
 *                   "wait_ns": WAIT|null,
 *                   "thread_ids": [int], "frames": [FRAME] } ] }
 *   with --all or --thread, "threads_list": [ { "id", "name", "state",
 *     "location": int, "wait_kind": str|null, "wait": str|null,
 *     "wait_ns": int|null, "entry": str, "run_ns", "switches",
 *     "unstacked": bool, "stack": {"reserved", "live", "touched", "dead",
 *     "unused", "resident"} (the last four null: not measured here),
 *     "unwind": str, "frames": [FRAME],
 *     "block": str|null (gto_block_describe: who holds the wait up),
 *     "blocked_by": null | {"id": int|null, "kind": "mutex"|"join"|"cond",
 *                   "object": int, "edge": bool, "held_ns": int|null,
 *                   "cycle": int|null (1-based, into "deadlocks")} } ]
 *   An unstacked thread (parked in gt_wait_readable_then) holds no frames:
 *   its one FRAME is the entry trampoline, "entry" the function it starts
 *   over in, and the text output says so under its frames.
 *   LOC   = { "index", "where": str, "kind": str, "waiting", "arrivals",
 *             "completed", "wait_max_ns", "held_up_by": [{"id", "waiters"}]
 *             (the threads its parked threads wait on through a mutex or
 *             a join, most waiters first), "done_p50_ns", "done_p99_ns" }
 *           (the percentiles of completed waits, clamped to wait_max_ns;
 *           null when none completed)
 *   WAIT  = { "min": int, "median": int, "max": int }
 *   FRAME = { "n": int, "pc": int, "function": str, "file": str|null,
 *             "line": int, "module": str|null, "inlined": bool, "size": int }
 *   (an inlined call gives several FRAMEs for one pc, with one "n";
 *   "size" is the physical frame's bytes, on its outermost FRAME, 0 on the
 *   others)
 *
 * --folded prints one line per group for flamegraph.pl or speedscope:
 * frames outermost first, separated by ';', then the thread count.
 *
 * Several PIDs: each process read and grouped on its own, then the
 * groups merged by their source-level frames (gto_groups_merge: never by
 * address, each process has its own), each with its count per process:
 * the text prints every process's head, "N processes: M green threads",
 * then "50 threads (pid 123: 30, pid 124: 20)  parked ..."; the JSON is
 *   { "schema_version", "targets": [ the members of a one-target document
 *     from "target" to "watchdog" ], "unreadable": [{"pid", "error"}],
 *     "threads", "shown", "groups": [ { "count", "states", "by_pid":
 *     [{"pid", "count", "thread_ids", "location"}], "representative":
 *     {"pid", "id", "name"}, "unstacked", "wait_ns", "frames" } ] }
 * A process that cannot be read is named on stderr, one line, and the
 * others are still reported.  --all and --thread read one process.
 *
 * --pprof FILE writes the (merged) groups as a gzipped pprof profile
 * (pprof.c), FILE "-" for stdout.
 *
 * -h and -V, the target options and the version text are common.c's,
 * the same in every tool.  The manual is tools/gt-stacks.1.
 *
 * Exit status: 0 printed, 1 the target could not be read (one line on
 * stderr says why; with several, the others were printed) or the
 * profile not written, 2 bad command line.
 */
#include <argp.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "pprof.h"

static const char doc[] =
    "Grouped backtraces of every green thread of a gt program, live or from "
    "a core file.\v"
    "Exit status: 0 success, 1 the target could not be read (the message "
    "says why; of several PIDs, the others are still reported) or the "
    "profile not written, 2 bad command line.\n\nThe manual: gt-stacks(1).";
static const char args_doc[] = "[-p] PID...\n--core CORE [--exe EXE]";

enum { OPT_NO_FASTPATH = 256, OPT_PPROF };

/* Processes one run reads at most: each is a snapshot held until the end. */
#define MAX_TARGETS 256

static const struct argp_option options[] = {
    {NULL, 0, NULL, 0, "Target:", 1},
    TARGET_OPTIONS(1),
    {NULL, 0, NULL, 0, "What to show:", 2},
    {"all", 'a', NULL, 0, "one entry per thread, not per group", 2},
    {"thread", 't', "ID", 0, "only the thread with this id, in detail", 2},
    {"state", 's', "STATE", 0, "only threads in STATE (parked, runnable, "
     "running, exited)", 2},
    {"location", 'l', "SUBSTRING", 0, "only threads whose location (function, "
     "file:line) contains SUBSTRING", 2},
    {"name", 'n', "GLOB", 0, "only threads whose name matches GLOB", 2},
    {"min-wait", 'w', "DURATION", 0, "only threads parked for at least "
     "DURATION (500ms, 2s, 1m)", 2},
    {"limit", 'L', "N", 0, "print at most N groups (or threads); 0, the "
     "default, is no limit", 2},
    {NULL, 0, NULL, 0, "Output:", 3},
    {"json", 'j', NULL, 0, "one JSON document (described in gt-stacks(1))", 3},
    {"folded", 'f', NULL, 0, "folded stacks for flamegraph.pl / speedscope, "
     "weight = thread count", 3},
    {"pprof", OPT_PPROF, "FILE", 0, "a gzipped pprof profile (profile.proto) "
     "into FILE, - for stdout: a sample per group and process, every "
     "group (--limit is not applied)", 3},
    {"no-fastpath", OPT_NO_FASTPATH, NULL, 0, "unwind every thread with "
     "libunwind (slower; for checking the frame-pointer path)", 3},
    {NULL, 0, NULL, 0, NULL, 0},
};

struct opts {
    struct target_args target;
    /* Every PID given (alone, or in -p's comma-separated lists); with one,
     * target.pid is it. */
    const char *pids[MAX_TARGETS];
    size_t npids;
    const char *pprof;       /* --pprof FILE, NULL none */
    int all, json, folded, no_fastpath;
    int have_thread;
    uint64_t thread;
    int state;               /* -1 any */
    const char *location;
    const char *name;
    int64_t min_wait;        /* -1 none */
    uint64_t limit;
};

static int parse_state(const char *s)
{
    for (int i = 1; i < GTO_STATE_COUNT; i++)
        if (strcmp(s, gto_state_name(i)) == 0)
            return i;
    return -1;
}

static error_t parse_opt(int key, char *arg, struct argp_state *st)
{
    struct opts *o = st->input;
    char *end;
    switch (key) {
    case 'a': o->all = 1; break;
    case 't':
        o->thread = strtoull(arg, &end, 10);
        if (*end || end == arg || !o->thread)
            argp_error(st, "'%s' is not a thread id", arg);
        o->have_thread = 1;
        break;
    case 's':
        o->state = parse_state(arg);
        if (o->state < 0)
            argp_error(st, "unknown state '%s' (parked, runnable, running, exited)",
                       arg);
        break;
    case 'l': o->location = arg; break;
    case 'n': o->name = arg; break;
    case 'w':
        o->min_wait = gto_parse_duration(arg);
        if (o->min_wait < 0)
            argp_error(st, "'%s' is not a duration (examples: 500ms, 2s, 1.5m)", arg);
        break;
    case 'L':
        o->limit = strtoull(arg, &end, 10);
        if (*end || end == arg || arg[0] == '-')
            argp_error(st, "'%s' is not a count (0 for no limit)", arg);
        break;
    case 'j': o->json = 1; break;
    case 'f': o->folded = 1; break;
    case OPT_PPROF:
        if (!*arg)
            argp_error(st, "--pprof needs a file name (- for stdout)");
        o->pprof = arg;
        break;
    case OPT_NO_FASTPATH: o->no_fastpath = 1; break;
    case 'p':
    case ARGP_KEY_ARG: {
        /* "-p 1,2", "1 2", "-p 1 -p 2": a list of processes. */
        size_t before = o->npids;
        for (char *save = NULL, *tok = strtok_r(arg, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            if (o->npids == MAX_TARGETS)
                argp_error(st, "at most %d processes in one run", MAX_TARGETS);
            o->pids[o->npids++] = tok;
        }
        if (o->npids == before) {
            char safe[64];
            gto_text_safe(arg, strlen(arg), safe, sizeof(safe));
            argp_error(st, "no process id in '%s'", safe);
        }
        break;
    }
    case ARGP_KEY_END: {
        char err[256];
        if (o->npids)
            o->target.pid = o->pids[0];
        if (target_args_check(&o->target, err, sizeof(err)) < 0)
            argp_error(st, "%s", err);
        for (size_t i = 1; i < o->npids; i++) {
            struct target_args one = {.pid = o->pids[i]};
            if (target_args_check(&one, err, sizeof(err)) < 0)
                argp_error(st, "%s", err);
            for (size_t j = 0; j < i; j++)
                if (strtol(o->pids[j], NULL, 10) == strtol(o->pids[i], NULL, 10))
                    argp_error(st, "process %ld is given twice",
                               strtol(o->pids[i], NULL, 10));
        }
        if (o->npids > 1 && (o->all || o->have_thread))
            argp_error(st, "--all and --thread read one process: give one PID");
        if (o->json && o->folded)
            argp_error(st, "--json and --folded are two outputs: choose one");
        if (o->pprof && (o->json || o->folded))
            argp_error(st, "--pprof is an output of its own: it does not go "
                       "with --json or --folded");
        if (o->pprof && (o->all || o->have_thread))
            argp_error(st, "--pprof writes groups: it does not go with --all "
                       "or --thread");
        if (o->folded && (o->all || o->have_thread))
            argp_error(st, "--folded prints groups: it does not go with --all "
                       "or --thread");
        break;
    }
    default:
        return target_parse_opt(key, arg, st, &o->target);
    }
    return 0;
}

/* The label of a thread's location, "" when it has none. */
static const char *location_text(gto_target *t, const gto_snapshot *s,
                                 uint32_t index, char *buf, size_t len)
{
    const struct gto_location *loc = gto_location_by_index(s, index);
    if (!loc || !loc->depth)
        return "";
    return gto_location_label(t, loc, buf, len);
}

static int selected(gto_target *t, const gto_snapshot *s, const struct opts *o,
                    const struct gto_thread *th)
{
    if (o->have_thread && th->id != o->thread)
        return 0;
    if (o->state >= 0 && th->state != o->state)
        return 0;
    if (o->name && fnmatch(o->name, th->name, 0) != 0)
        return 0;
    if (o->min_wait >= 0) {
        if (th->state != GTO_STATE_PARKED ||
            gto_wait_age(th, gto_snapshot_counters(s)->now) < (uint64_t)o->min_wait)
            return 0;
    }
    if (o->location) {
        char buf[GTO_LABEL_MAX];
        if (!strstr(location_text(t, s, th->location, buf, sizeof(buf)), o->location))
            return 0;
    }
    return 1;
}

static const char *file_base(const char *f)
{
    const char *s = f ? strrchr(f, '/') : NULL;
    return s ? s + 1 : f;
}

/* Frames as GDB numbers them after `green-thread ID` (gto_frame_number):
 * #N counts physical frames; the inlined calls of one frame share its
 * number. */
static void print_frames(gto_target *t, const struct gto_thread *th)
{
    for (size_t i = 0; i < th->nframes; i++) {
        const struct gto_symbol *sym;
        size_t n = gto_frame_symbols(t, th, i, &sym);
        for (size_t j = 0; j < n; j++) {
            if (strcmp(sym[j].function, "?") == 0) {
                /* No name anywhere (a stripped static program): the pc. */
                printf("  #%-3zu %#llx", gto_frame_number(th, i),
                       (unsigned long long)th->frames[i].pc);
                if (sym[j].module)
                    printf(" (%s)", sym[j].module);
                putchar('\n');
                continue;
            }
            printf("  #%-3zu %s", gto_frame_number(th, i), sym[j].function);
            if (sym[j].file)
                printf(" (%s:%d)", file_base(sym[j].file), sym[j].line);
            else if (sym[j].module)
                printf("+%#llx (%s)", (unsigned long long)sym[j].offset,
                       sym[j].module);
            else
                printf(" %#llx", (unsigned long long)th->frames[i].pc);
            if (sym[j].inlined)
                printf(" [inlined]");
            putchar('\n');
        }
    }
    static const char *const why[] = {
        [GTO_UNWIND_NOT_TRIED] = "not unwound",
        [GTO_UNWIND_RUNNING] = "running: its registers are live on the CPU, "
                               "no saved context to unwind",
        [GTO_UNWIND_IN_FLUX] = "in flux: its record kept changing while read",
        [GTO_UNWIND_BAD_CONTEXT] = "its saved sp is outside its stack",
        [GTO_UNWIND_TRUNCATED] = "the unwinder stopped here (corrupt stack?)",
        [GTO_UNWIND_NO_MEMORY] = "its stack reads as zeros: the core left it out "
                                 "(gcore does with madvise guard pages; the "
                                 "kernel's cores keep it)",
    };
    char note[256];
    if (th->unwind_status != GTO_UNWIND_OK)
        printf("  (%s)\n", why[th->unwind_status]);
    else if (gto_fresh_note(t, th, note, sizeof(note)))
        printf("  (%s)\n", note);
}

static void print_json_frames(gto_target *t, const struct gto_thread *th)
{
    printf("[");
    int first = 1;
    for (size_t i = 0; i < th->nframes; i++) {
        const struct gto_symbol *sym;
        size_t n = gto_frame_symbols(t, th, i, &sym);
        for (size_t j = 0; j < n; j++) {
            printf("%s{\"n\": %zu, \"pc\": %llu, \"function\": ", first ? "" : ", ",
                   gto_frame_number(th, i), (unsigned long long)th->frames[i].pc);
            first = 0;
            gto_json_string(stdout, sym[j].function);
            printf(", \"file\": ");
            gto_json_string(stdout, sym[j].file);
            printf(", \"line\": %d, \"module\": ", sym[j].line);
            gto_json_string(stdout, sym[j].module);
            printf(", \"inlined\": %s, \"size\": %llu}",
                   sym[j].inlined ? "true" : "false",
                   (unsigned long long)(j + 1 == n ? th->frames[i].size : 0));
        }
    }
    printf("]");
}

static void print_json_location(gto_target *t, const gto_snapshot *s,
                                const struct gto_location *loc)
{
    char where[GTO_LABEL_MAX];
    printf("{\"index\": %u, \"where\": ", loc->index);
    gto_json_string(stdout, gto_location_label(t, loc, where, sizeof(where)));
    printf(", \"kind\": \"%s\", \"waiting\": %llu, \"arrivals\": %llu, "
           "\"completed\": %llu, \"wait_max_ns\": %llu",
           gto_wait_kind_name((int)loc->wait_kind), (unsigned long long)loc->waiting,
           (unsigned long long)loc->arrivals, (unsigned long long)loc->completed,
           (unsigned long long)loc->max_wait_ns);
    /* No completed wait: no percentile of them (null, not 0 ns). */
    /* Who holds up the threads parked here (gto_location_blockers). */
    const struct gto_loc_blocker *lb;
    size_t nb = gto_location_blockers(s, loc->index, &lb);
    printf(", \"held_up_by\": [");
    for (size_t i = 0; i < nb; i++)
        printf("%s{\"id\": %llu, \"waiters\": %zu}", i ? ", " : "",
               (unsigned long long)lb[i].by->id, lb[i].waiters);
    printf("]");
    if (!loc->completed) {
        printf(", \"done_p50_ns\": null, \"done_p99_ns\": null}");
        return;
    }
    printf(", \"done_p50_ns\": %llu, \"done_p99_ns\": %llu}",
           (unsigned long long)gto_hist_quantile(loc->hist, GTO_HIST_BUCKETS,
                                                 loc->max_wait_ns, 0.5),
           (unsigned long long)gto_hist_quantile(loc->hist, GTO_HIST_BUCKETS,
                                                 loc->max_wait_ns, 0.99));
}

/* "parked 2.1s..14.9s (median 7.0s)", or the mix of states; ages of a core
 * that cannot tell its "now" are lower bounds ("parked >= 2.1ms"). */
struct group_view {
    size_t count;
    const size_t *nstate;
    uint64_t wait_min, wait_median, wait_max;
};

static void print_states(const struct group_view *g, int exact)
{
    char a[40], b[40], c[40];
    int kinds = 0;
    for (int i = 0; i < GTO_STATE_COUNT; i++)
        kinds += g->nstate[i] != 0;
    if (kinds == 1 && g->nstate[GTO_STATE_PARKED]) {
        if (g->count == 1)
            printf("parked %s", gto_fmt_age(g->wait_max, exact, a, sizeof(a)));
        else
            printf("parked %s..%s (median %s)",
                   gto_fmt_age(g->wait_min, exact, a, sizeof(a)),
                   gto_fmt_age(g->wait_max, exact, b, sizeof(b)),
                   gto_fmt_age(g->wait_median, exact, c, sizeof(c)));
        return;
    }
    const char *sep = "";
    for (int i = 0; i < GTO_STATE_COUNT; i++)
        if (g->nstate[i]) {
            if (kinds == 1)
                printf("%s", gto_state_name(i));
            else
                printf("%s%zu %s", sep, g->nstate[i], gto_state_name(i));
            sep = ", ";
        }
}

/* The threads that hold up a group's parked members (wait-for edges: a
 * mutex's owner, a joined thread), most members first, at most
 * BLOCKERS_SHOWN lines and a count of the rest:
 *   held up by thread 2 "holder" (parked, sleep at truth_holder
 *   (blockers.c:52)) for 3.2s: 50 threads
 * or, for a group waiting on one condition variable or channel:
 *   waits on chan_send 0x... (1/1 queued, 0 receivers waiting) */
#define BLOCKERS_SHOWN 3

struct held_up {
    const struct gto_thread *by;
    const struct gto_block *first;   /* a member's block naming it */
    size_t n;
};

static int cmp_held_up(const void *a, const void *b)
{
    const struct held_up *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return x->by->id < y->by->id ? -1 : x->by->id > y->by->id;
}

static int cmp_by(const void *a, const void *b)
{
    const struct held_up *x = a, *y = b;
    return x->by < y->by ? -1 : x->by > y->by;
}

static void print_held_up(gto_target *t, const gto_snapshot *s, const struct gto_group *g,
                          const char *who)
{
    struct held_up *h = malloc((g->count + 1) * sizeof(*h));
    size_t nh = 0;
    if (!h)
        return;
    for (size_t i = 0; i < g->count; i++) {
        const struct gto_block *b = gto_block_of(s, g->threads[i]);
        if (b && b->edge && b->by)
            h[nh++] = (struct held_up){b->by, b, 1};
    }
    if (nh > 1)
        qsort(h, nh, sizeof(*h), cmp_by);
    size_t k = 0;
    for (size_t i = 0; i < nh; i++) {
        if (k && h[k - 1].by == h[i].by)
            h[k - 1].n++;
        else
            h[k++] = h[i];
    }
    if (k > 1)
        qsort(h, k, sizeof(*h), cmp_held_up);
    const struct gto_counters *c = gto_snapshot_counters(s);
    for (size_t i = 0; i < k && i < BLOCKERS_SHOWN; i++) {
        const struct gto_thread *by = h[i].by;
        char where[GTO_LABEL_MAX], age[40];
        printf("  %sheld up by thread %llu \"%s\" (%s", who, (unsigned long long)by->id,
               by->name, gto_state_name(by->state));
        const struct gto_location *loc = gto_location_by_index(s, by->location);
        if (by->state == GTO_STATE_PARKED) {
            printf(", %s", gto_wait_kind_name(by->wait_kind));
            if (loc && loc->depth)
                printf(" at %s", gto_pc_label(t, loc->pcs[0], 1, where, sizeof(where)));
        }
        printf(")");
        uint64_t since = h[i].first->held_since;
        if (since && since <= c->now)
            printf(" for %s", gto_fmt_age(c->now - since, c->now_exact, age, sizeof(age)));
        printf(": %zu thread%s%s\n", h[i].n, h[i].n == 1 ? "" : "s",
               h[i].first->cycle ? " (deadlock)" : "");
    }
    if (k > BLOCKERS_SHOWN)
        printf("  %sheld up by %zu more threads\n", who, k - BLOCKERS_SHOWN);
    free(h);
    /* A condition variable or a channel holds up no one thread: when the
     * whole group waits on one, what it is (its mutex's holder, its
     * fill). */
    const struct gto_thread *rep = g->rep;
    int kind = rep->state == GTO_STATE_PARKED ? rep->wait_kind : GT_WAIT_NONE;
    if (nh || (kind != GT_WAIT_COND && kind != GT_WAIT_CHAN_SEND && kind != GT_WAIT_CHAN_RECV))
        return;
    for (size_t i = 0; i < g->count; i++)
        if (g->threads[i]->state != GTO_STATE_PARKED || g->threads[i]->wait_kind != kind ||
            g->threads[i]->wait_obj != rep->wait_obj)
            return;
    char blk[GTO_LABEL_MAX + 256];
    if (gto_block_of(s, rep) && gto_block_describe(t, s, rep, blk, sizeof(blk)))
        printf("  %swaits on %s\n", who, blk);
}

static void print_group_text(gto_target *t, const gto_snapshot *s,
                             const struct gto_group *g)
{
    char buf[GTO_LABEL_MAX];
    printf("%zu thread%s  ", g->count, g->count == 1 ? "" : "s");
    struct group_view v = {g->count, g->nstate, g->wait_min, g->wait_median,
                           g->wait_max};
    print_states(&v, gto_snapshot_counters(s)->now_exact);
    const char *loc = g->nstate[GTO_STATE_PARKED]
                          ? location_text(t, s, g->location, buf, sizeof(buf)) : "";
    if (*loc)
        printf("  at %s", loc);
    printf("  (thread %llu \"%s\"%s)", (unsigned long long)g->rep->id,
           g->rep->name, g->count > 1 ? " and others" : "");
    print_sampled(s, g->rep, "  ");
    putchar('\n');
    print_held_up(t, s, g, "");
    print_frames(t, g->rep);
    putchar('\n');
}

static void print_thread_text(gto_target *t, const gto_snapshot *s,
                              const struct gto_thread *th, int detail)
{
    char buf[GTO_LABEL_MAX], d[40], b1[32], b2[32], w[128];
    const struct gto_counters *c = gto_snapshot_counters(s);
    const char *wait = gto_wait_describe(th, c->now, w, sizeof(w));
    printf("thread %llu \"%s\"  %s", (unsigned long long)th->id, th->name,
           gto_state_name(th->state));
    if (wait) {
        printf(" %s, %s", gto_fmt_age(gto_wait_age(th, c->now),
                                      c->now_exact, d, sizeof(d)), wait);
        const char *loc = location_text(t, s, th->location, buf, sizeof(buf));
        if (*loc)
            printf("  at %s", loc);
    }
    print_sampled(s, th, "  ");
    putchar('\n');
    if (detail) {
        printf("  wait: %s\n", wait ? wait : "-");
        const struct gto_block *b = gto_block_of(s, th);
        char blk[GTO_LABEL_MAX + 256];
        if (b && b->kind != GT_WAIT_FD && b->kind != GT_WAIT_POLL &&
            b->kind != GT_WAIT_SLEEP && gto_block_describe(t, s, th, blk, sizeof(blk)))
            printf("  held up by: %s\n", blk);
        printf("  entry: %s\n", gto_pc_label(t, th->entry, 0, buf, sizeof(buf)));
        printf("  parent: %llu  switches: %llu  run time: %s\n",
               (unsigned long long)th->parent, (unsigned long long)th->switches,
               gto_fmt_duration(th->run_ns, d, sizeof(d)));
        printf("  stack: %s reserved, %s live\n",
               gto_fmt_bytes(th->reserved, b1, sizeof(b1)),
               gto_fmt_bytes(th->live, b2, sizeof(b2)));
    }
    print_frames(t, th);
    putchar('\n');
}

/* A measure of the stack, null when the snapshot did not measure it. */
static void json_measure(const char *key, int measured, uint64_t v)
{
    if (measured)
        printf(", \"%s\": %llu", key, (unsigned long long)v);
    else
        printf(", \"%s\": null", key);
}

/* What holds TH up, for the kinds whose holder is a thread (mutex,
 * join, cond): {"id", "kind", "object", "edge", "held_ns", "cycle"}, or
 * null. */
static void print_json_blocked_by(const gto_snapshot *s, const struct gto_thread *th)
{
    const struct gto_block *b = gto_block_of(s, th);
    if (!b || (b->kind != GT_WAIT_MUTEX && b->kind != GT_WAIT_JOIN &&
               b->kind != GT_WAIT_COND)) {
        printf("null");
        return;
    }
    const struct gto_counters *c = gto_snapshot_counters(s);
    if (b->by)
        printf("{\"id\": %llu", (unsigned long long)b->by->id);
    else
        printf("{\"id\": null");
    printf(", \"kind\": \"%s\", \"object\": %llu, \"edge\": %s",
           gto_wait_kind_name(b->kind), (unsigned long long)b->obj,
           b->edge ? "true" : "false");
    if (b->by && b->held_since && b->held_since <= c->now)
        printf(", \"held_ns\": %llu", (unsigned long long)(c->now - b->held_since));
    else
        printf(", \"held_ns\": null");
    if (b->cycle)
        printf(", \"cycle\": %zu}", b->cycle);
    else
        printf(", \"cycle\": null}");
}

static void print_thread_json(gto_target *t, const gto_snapshot *s,
                              const struct gto_thread *th)
{
    static const char *const unwind[] = {"ok", "not tried", "running", "in flux",
                                         "bad context", "truncated", "no memory"};
    const struct gto_counters *c = gto_snapshot_counters(s);
    char buf[512], w[128];
    const char *wait = gto_wait_describe(th, c->now, w, sizeof(w));
    printf("{\"id\": %llu, \"name\": ", (unsigned long long)th->id);
    gto_json_string(stdout, th->name);
    printf(", \"state\": \"%s\", \"location\": %u, \"wait_kind\": ",
           gto_state_name(th->state), th->location);
    gto_json_string(stdout, wait ? gto_wait_kind_name(th->wait_kind) : NULL);
    printf(", \"wait\": ");
    gto_json_string(stdout, wait);
    if (wait)
        printf(", \"wait_ns\": %llu",
               (unsigned long long)gto_wait_age(th, c->now));
    else
        printf(", \"wait_ns\": null");
    /* The function by name, as classes name it. */
    printf(", \"entry\": ");
    gto_json_string(stdout, gto_thread_class(t, th, GTO_CLASS_BY_ENTRY, buf,
                                             sizeof(buf)));
    printf(", \"run_ns\": %llu, \"switches\": %llu, \"unstacked\": %s",
           (unsigned long long)th->run_ns, (unsigned long long)th->switches,
           th->flags & GTO_TF_UNSTACKED ? "true" : "false");
    /* A running thread's live (and so dead) bytes are not known: its
     * registers are on the CPU, its saved sp stale. */
    int running = th->state == GTO_STATE_RUNNING;
    printf(", \"stack\": {\"reserved\": %llu", (unsigned long long)th->reserved);
    json_measure("live", !running, th->live);
    json_measure("touched", th->measured, th->touched);
    json_measure("dead", th->measured && !running, th->dead);
    json_measure("unused", th->measured, th->unused);
    json_measure("resident", th->measured, th->resident);
    printf("}, \"unwind\": \"%s\", \"frames\": ", unwind[th->unwind_status]);
    print_json_frames(t, th);
    char blk[GTO_LABEL_MAX + 256];
    printf(", \"block\": ");
    gto_json_string(stdout, gto_block_describe(t, s, th, blk, sizeof(blk)));
    printf(", \"blocked_by\": ");
    print_json_blocked_by(s, th);
    printf("}");
}

/* A group's opening members, of one process or merged over several:
 * "count" and the "states" its members are in (the object left open). */
static void print_json_count_states(size_t count, const size_t *nstate)
{
    printf("{\"count\": %zu, \"states\": {", count);
    const char *sep = "";
    for (int i = 0; i < GTO_STATE_COUNT; i++)
        if (nstate[i]) {
            printf("%s\"%s\": %zu", sep, gto_state_name(i), nstate[i]);
            sep = ", ";
        }
}

/* "wait_ns" of a group: null when none of its members waits. */
static void print_json_wait_ns(size_t nwaiting, uint64_t min, uint64_t median, uint64_t max)
{
    if (nwaiting)
        printf(", \"wait_ns\": {\"min\": %llu, \"median\": %llu, \"max\": %llu}",
               (unsigned long long)min, (unsigned long long)median,
               (unsigned long long)max);
    else
        printf(", \"wait_ns\": null");
}

static void print_group_json(gto_target *t, const struct gto_group *g)
{
    print_json_count_states(g->count, g->nstate);
    printf("}, \"representative\": {\"id\": %llu, \"name\": ",
           (unsigned long long)g->rep->id);
    gto_json_string(stdout, g->rep->name);
    /* Members agree on it: gto_group keeps unstacked threads apart. */
    printf("}, \"unstacked\": %s, \"location\": %u",
           g->rep->flags & GTO_TF_UNSTACKED ? "true" : "false",
           g->nstate[GTO_STATE_PARKED] ? g->location : 0);
    print_json_wait_ns(g->nwaiting, g->wait_min, g->wait_median, g->wait_max);
    printf(", \"thread_ids\": [");
    for (size_t i = 0; i < g->count; i++)
        printf("%s%llu", i ? ", " : "", (unsigned long long)g->threads[i]->id);
    printf("], \"frames\": ");
    print_json_frames(t, g->rep);
    printf("}");
}

/* flamegraph.pl's input: root first, ';' between frames. */
static void print_group_folded(gto_target *t, const struct gto_group *g)
{
    const struct gto_thread *th = g->rep;
    if (!th->nframes) {
        printf("[%s] %zu\n", gto_state_name(th->state), g->count);
        return;
    }
    for (size_t i = th->nframes; i-- > 0;) {
        const struct gto_symbol *sym;
        size_t n = gto_frame_symbols(t, th, i, &sym);
        for (size_t j = n; j-- > 0;)
            printf("%s%s", i == th->nframes - 1 && j == n - 1 ? "" : ";",
                   sym[j].function);
    }
    printf(" %zu\n", g->count);
}

/* "deadlocks", "threads_in_deadlock", "running" and "watchdog". */
static void print_json_blockers(const gto_snapshot *s)
{
    printf("\"deadlocks\": [");
    for (size_t i = 0; i < gto_cycle_count(s); i++) {
        const struct gto_cycle *cy = gto_cycle_at(s, i);
        printf("%s{\"threads\": [", i ? ", " : "");
        for (size_t k = 0; k < cy->n; k++) {
            const struct gto_thread *th = cy->threads[k];
            const struct gto_block *b = gto_block_of(s, th);
            printf("%s{\"id\": %llu, \"name\": ", k ? ", " : "",
                   (unsigned long long)th->id);
            gto_json_string(stdout, th->name);
            printf(", \"location\": %u, \"waits_for\": {\"kind\": \"%s\", "
                   "\"object\": %llu}, \"held_by\": %llu}", th->location,
                   gto_wait_kind_name(th->wait_kind), (unsigned long long)b->obj,
                   (unsigned long long)cy->threads[(k + 1) % cy->n]->id);
        }
        printf("]}");
    }
    printf("], \"threads_in_deadlock\": %llu, ", (unsigned long long)gto_cycle_threads(s));
    print_json_running(s);
}

/* What the document says of one target, from "target" to "watchdog":
 * the head of a one-target document, each of "targets" of a document
 * over several. */
static void print_json_target(gto_target *t, const gto_snapshot *s, size_t shown)
{
    const struct gto_counters *c = gto_snapshot_counters(s);
    printf("\"target\": ");
    gto_json_string(stdout, gto_target_name(t));
    printf(", \"pid\": %llu, \"now_ns\": %llu, ", (unsigned long long)c->pid,
           (unsigned long long)c->now);
    gto_json_counters(stdout, s);
    printf(", \"shown\": %zu, \"locations\": [", shown);
    for (size_t i = 0; i < gto_location_count(s); i++) {
        printf(i ? ",\n  " : "\n  ");
        print_json_location(t, s, gto_location_at(s, i));
    }
    printf("], ");
    print_json_blockers(s);
}

/* The document's head: what every reader's JSON starts with. */
static void print_json_head(gto_target *t, const gto_snapshot *s, size_t shown)
{
    printf("{\"schema_version\": %d, ", GTO_JSON_SCHEMA_VERSION);
    print_json_target(t, s, shown);
    printf(", ");
}

/* The deadlock section: per cycle, its members in wait order,
 *   deadlock: cycle of 2 threads
 *     thread 53 "cyc2-a" at cycle_second (blockers.c:119) waits for mutex
 *     0x... held by thread 54 "cyc2-b"
 * then a blank line; nothing when there is no cycle. */
static void print_deadlocks_text(gto_target *t, const gto_snapshot *s)
{
    for (size_t i = 0; i < gto_cycle_count(s); i++) {
        const struct gto_cycle *cy = gto_cycle_at(s, i);
        printf("deadlock: cycle of %zu thread%s\n", cy->n, cy->n == 1 ? "" : "s");
        for (size_t k = 0; k < cy->n; k++) {
            const struct gto_thread *th = cy->threads[k], *next = cy->threads[(k + 1) % cy->n];
            const struct gto_location *loc = gto_location_by_index(s, th->location);
            char where[GTO_LABEL_MAX];
            printf("  thread %llu \"%s\"", (unsigned long long)th->id, th->name);
            if (loc && loc->depth)
                printf(" at %s", gto_pc_label(t, loc->pcs[0], 1, where, sizeof(where)));
            if (th->wait_kind == GT_WAIT_MUTEX)
                printf(" waits for mutex %#llx held by", (unsigned long long)th->wait_obj);
            else
                printf(" waits for join");
            printf(" thread %llu \"%s\"\n", (unsigned long long)next->id, next->name);
        }
        putchar('\n');
    }
}

/* The text's head: the count, then states, uptime, idle and file I/O. */
static void print_text_head(gto_target *t, const gto_snapshot *s, size_t nsel)
{
    const struct gto_counters *c = gto_snapshot_counters(s);
    size_t n = gto_thread_count(s);
    char up[40], idle[40], io[32];
    if (!c->started) {
        printf("%s: the gt runtime has not started (gt_main not called yet)\n",
               gto_target_name(t));
        return;
    }
    printf("%s: %zu green thread%s", gto_target_name(t), n, n == 1 ? "" : "s");
    if (nsel != n)
        printf(", %zu shown", nsel);
    printf("\n  ");
    for (int i = GTO_STATE_RUNNABLE; i < GTO_STATE_COUNT; i++)
        printf("%s%llu %s", i == GTO_STATE_RUNNABLE ? "" : ", ",
               (unsigned long long)c->nstate[i], gto_state_name(i));
    if (c->in_flux)
        printf(", %llu in flux", (unsigned long long)c->in_flux);
    printf("; up %s, idle %s; file I/O %llu calls, %s\n",
           gto_fmt_age(c->uptime_ns, c->now_exact, up, sizeof(up)),
           gto_fmt_age(c->idle_total, c->now_exact || !c->idle_since, idle,
                       sizeof(idle)),
           (unsigned long long)c->file_io_calls,
           gto_fmt_duration(c->file_io_ns, io, sizeof(io)));
    print_capture_text(t);
    print_running_text(s);
    putchar('\n');
    print_deadlocks_text(t, s);
}

/* One process or core, printed as text, --json or --folded. */
static int main_one(const struct opts *op)
{
    struct opts o = *op;
    gto_target *t = target_open("gt-stacks", &o.target);
    if (!t)
        return EXIT_TARGET;
    char err[GTO_ERR_MAX];
    gto_snapshot *s;
    unsigned flags = GTO_SNAP_UNWIND | GTO_SNAP_BLOCKERS |
                     (o.no_fastpath ? GTO_SNAP_NO_FASTPATH : 0);
    if (gto_snapshot_take(t, flags, &s, err) < 0) {
        fprintf(stderr, "gt-stacks: %s\n", err);
        gto_close(t);
        return EXIT_TARGET;
    }
    /* Every exit from here on goes through done: with a sanitizer's leak
     * check on, a path that left the snapshot behind fails the run. */
    int rc = EXIT_TARGET;
    struct gto_group *g = NULL;
    ssize_t ng = 0;
    size_t n = gto_thread_count(s), nsel = 0;
    const struct gto_thread **sel = malloc((n + 1) * sizeof(*sel));
    if (!sel) {
        fprintf(stderr, "gt-stacks: out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (selected(t, s, &o, gto_thread_at(s, i)))
            sel[nsel++] = gto_thread_at(s, i);
    if (o.have_thread && !nsel) {
        fprintf(stderr, "gt-stacks: %s has no thread %llu%s\n", gto_target_name(t),
                (unsigned long long)o.thread,
                gto_thread_by_id(s, o.thread) ? " that passes the filters" : "");
        goto done;
    }
    int per_thread = o.all || o.have_thread;
    if (!per_thread && (ng = gto_group(s, sel, nsel, &g, err)) < 0) {
        fprintf(stderr, "gt-stacks: %s\n", err);
        goto done;
    }
    size_t count = per_thread ? nsel : (size_t)ng;
    size_t shown = o.limit && o.limit < count ? (size_t)o.limit : count;

    if (o.json) {
        print_json_head(t, s, nsel);
        printf(per_thread ? "\"threads_list\": [" : "\"groups\": [");
        for (size_t i = 0; i < shown; i++) {
            printf(i ? ",\n  " : "\n  ");
            if (per_thread)
                print_thread_json(t, s, sel[i]);
            else
                print_group_json(t, &g[i]);
        }
        printf("]}\n");
    } else if (o.folded) {
        for (size_t i = 0; i < shown; i++)
            print_group_folded(t, &g[i]);
    } else {
        print_text_head(t, s, nsel);
        for (size_t i = 0; i < shown; i++) {
            if (o.have_thread)
                print_thread_text(t, s, sel[i], 1);
            else if (per_thread)
                print_thread_text(t, s, sel[i], 0);
            else
                print_group_text(t, s, &g[i]);
        }
        if (shown < count)
            printf("... %zu more %s (use --limit 0 for all)\n", count - shown,
                   per_thread ? "threads" : "groups");
    }
    rc = EXIT_OK;
done:
    gto_groups_free(g, (size_t)(ng > 0 ? ng : 0));
    free(sel);
    gto_snapshot_free(s);
    gto_close(t);
    return rc;
}

/* ---- several processes, and --pprof -------------------------------------- */

/* One target of a run over several: its snapshot, the threads that pass
 * the filters, their groups (NULL t: it could not be read). */
struct one {
    gto_target *t;
    gto_snapshot *s;
    const struct gto_thread **sel;
    size_t nsel;
    struct gto_group *g;
    size_t ng;
    long pid;                /* as given; 0 for a core */
    char err[GTO_ERR_MAX];   /* why it could not be read */
};

/* Opens, reads and groups target O->pids[I] (or the core) into *ONE: 0,
 * or -1 with one->err set (and printed). */
static int read_one(const struct opts *o, size_t i, struct one *one)
{
    unsigned flags = GTO_SNAP_UNWIND | GTO_SNAP_BLOCKERS |
                     (o->no_fastpath ? GTO_SNAP_NO_FASTPATH : 0);
    one->pid = o->npids ? strtol(o->pids[i], NULL, 10) : 0;
    if (o->npids > 1) {
        if (gto_open_pid((pid_t)one->pid, &one->t, one->err) < 0)
            goto fail;
    } else if (!(one->t = target_open("gt-stacks", &o->target))) {
        /* target_open printed why. */
        snprintf(one->err, sizeof(one->err), "could not be read");
        return -1;
    }
    if (gto_snapshot_take(one->t, flags, &one->s, one->err) < 0)
        goto fail;
    /* A core's pid is the process it was. */
    one->pid = (long)gto_snapshot_counters(one->s)->pid;
    size_t n = gto_thread_count(one->s);
    one->sel = malloc((n + 1) * sizeof(*one->sel));
    if (!one->sel) {
        snprintf(one->err, sizeof(one->err), "out of memory");
        goto fail;
    }
    for (size_t k = 0; k < n; k++)
        if (selected(one->t, one->s, o, gto_thread_at(one->s, k)))
            one->sel[one->nsel++] = gto_thread_at(one->s, k);
    ssize_t ng = gto_group(one->s, one->sel, one->nsel, &one->g, one->err);
    if (ng < 0)
        goto fail;
    one->ng = (size_t)ng;
    return 0;
fail:
    fprintf(stderr, "gt-stacks: %s\n", one->err);
    return -1;
}

static void free_one(struct one *one)
{
    gto_groups_free(one->g, one->ng);
    free(one->sel);
    gto_snapshot_free(one->s);
    gto_close(one->t);
}

/* "50 threads (pid 123: 30, pid 124: 20)  parked ...  at LOCATION  (pid
 * 123 thread 5 "alpha" and others)", what holds each process's members
 * up, then the representative's frames. */
static void print_merged_text(struct one *const *rd, size_t nsets,
                              const struct gto_merged *m, int exact)
{
    const struct gto_merged_part *first = &m->parts[0];
    const struct one *r = rd[first->set];
    const struct gto_thread *rep = first->g->rep;
    char buf[GTO_LABEL_MAX], who[48];
    printf("%zu thread%s (", m->count, m->count == 1 ? "" : "s");
    const char *sep = "";
    for (size_t i = 0; i < nsets; i++) {
        size_t n = gto_merged_count(m, i);
        if (n) {
            printf("%spid %ld: %zu", sep, rd[i]->pid, n);
            sep = ", ";
        }
    }
    printf(")  ");
    struct group_view v = {m->count, m->nstate, m->wait_min, m->wait_median,
                           m->wait_max};
    print_states(&v, exact);
    const char *loc = m->nstate[GTO_STATE_PARKED]
                          ? location_text(r->t, r->s, first->g->location, buf, sizeof(buf)) : "";
    if (*loc)
        printf("  at %s", loc);
    printf("  (pid %ld thread %llu \"%s\"%s)", r->pid, (unsigned long long)rep->id,
           rep->name, m->count > 1 ? " and others" : "");
    print_sampled(r->s, rep, "  ");
    putchar('\n');
    for (size_t i = 0; i < m->nparts; i++) {
        const struct one *o = rd[m->parts[i].set];
        snprintf(who, sizeof(who), "pid %ld: ", o->pid);
        print_held_up(o->t, o->s, m->parts[i].g, who);
    }
    print_frames(r->t, rep);
    putchar('\n');
}

/* A merged group in JSON: as a group of one process, with "by_pid" (each
 * process's count, thread ids and location index) and the
 * representative's pid. */
static void print_merged_json(struct one *const *rd, size_t nsets,
                              const struct gto_merged *m)
{
    const struct gto_merged_part *first = &m->parts[0];
    const struct one *r = rd[first->set];
    const struct gto_thread *rep = first->g->rep;
    print_json_count_states(m->count, m->nstate);
    printf("}, \"by_pid\": [");
    const char *sep = "";
    for (size_t i = 0; i < nsets; i++) {
        size_t n = gto_merged_count(m, i);
        if (!n)
            continue;
        printf("%s{\"pid\": %ld, \"count\": %zu, \"thread_ids\": [", sep, rd[i]->pid, n);
        sep = ", ";
        const char *tsep = "";
        uint32_t location = 0;
        for (size_t p = 0; p < m->nparts; p++) {
            const struct gto_group *g = m->parts[p].g;
            if (m->parts[p].set != i)
                continue;
            if (!location && g->nstate[GTO_STATE_PARKED])
                location = g->location;
            for (size_t k = 0; k < g->count; k++) {
                printf("%s%llu", tsep, (unsigned long long)g->threads[k]->id);
                tsep = ", ";
            }
        }
        printf("], \"location\": %u}", location);
    }
    printf("], \"representative\": {\"pid\": %ld, \"id\": %llu, \"name\": ", r->pid,
           (unsigned long long)rep->id);
    gto_json_string(stdout, rep->name);
    printf("}, \"unstacked\": %s", rep->flags & GTO_TF_UNSTACKED ? "true" : "false");
    print_json_wait_ns(m->nwaiting, m->wait_min, m->wait_median, m->wait_max);
    printf(", \"frames\": ");
    print_json_frames(r->t, rep);
    printf("}");
}

/* Several processes (or --pprof): each read and grouped on its own, the
 * groups merged by their frames (gto_groups_merge).  A process that
 * cannot be read is named on stderr, one line, and the others are still
 * reported; the exit status is then EXIT_TARGET. */
static int main_many(const struct opts *o)
{
    size_t n = o->npids > 1 ? o->npids : 1;
    struct one *ones = calloc(n, sizeof(*ones));
    struct one **rd = calloc(n, sizeof(*rd));             /* set -> target */
    struct gto_group_set *sets = calloc(n, sizeof(*sets));
    struct gto_merged *m = NULL;
    ssize_t nm = 0;
    size_t nsets = 0, threads = 0, nsel = 0;
    int rc = EXIT_TARGET, exact = 1;
    char err[GTO_ERR_MAX];
    if (!ones || !rd || !sets) {
        fprintf(stderr, "gt-stacks: out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        struct one *one = &ones[i];
        if (read_one(o, i, one) < 0) {
            /* What was read of it goes now; its pid and message stay. */
            free_one(one);
            one->t = NULL, one->s = NULL, one->sel = NULL, one->g = NULL;
            one->ng = 0;
            continue;
        }
        rd[nsets] = one;
        sets[nsets++] = (struct gto_group_set){one->t, one->s, one->g, one->ng};
        threads += gto_thread_count(one->s);
        nsel += one->nsel;
        exact &= gto_snapshot_counters(one->s)->now_exact;
    }
    if (!nsets)
        goto done;
    if ((nm = gto_groups_merge(sets, nsets, &m, err)) < 0) {
        fprintf(stderr, "gt-stacks: %s\n", err);
        nm = 0;
        goto done;
    }
    size_t shown = o->limit && o->limit < (size_t)nm ? (size_t)o->limit : (size_t)nm;
    if (o->pprof) {
        FILE *f = strcmp(o->pprof, "-") == 0 ? stdout : fopen(o->pprof, "wb");
        if (!f) {
            char path[256];
            gto_text_safe(o->pprof, strlen(o->pprof), path, sizeof(path));
            fprintf(stderr, "gt-stacks: cannot write %s: %s\n", path, strerror(errno));
            goto done;
        }
        /* Every group: a profile is the whole picture, its viewer the
         * place to cut it (--limit is for the printed report). */
        int w = pprof_write(f, sets, nsets, m, (size_t)nm, err);
        if (f != stdout && fclose(f) != 0 && w == 0) {
            snprintf(err, sizeof(err), "writing the profile: %s", strerror(errno));
            w = -1;
        }
        if (w < 0) {
            fprintf(stderr, "gt-stacks: %s\n", err);
            goto done;
        }
    } else if (o->json) {
        printf("{\"schema_version\": %d, \"targets\": [", GTO_JSON_SCHEMA_VERSION);
        for (size_t k = 0; k < nsets; k++) {
            printf(k ? ",\n  {" : "\n  {");
            print_json_target(rd[k]->t, rd[k]->s, rd[k]->nsel);
            printf("}");
        }
        printf("], \"unreadable\": [");
        const char *sep = "";
        for (size_t i = 0; i < n; i++)
            if (!ones[i].t) {
                printf("%s{\"pid\": %ld, \"error\": ", sep, ones[i].pid);
                gto_json_string(stdout, ones[i].err);
                printf("}");
                sep = ", ";
            }
        printf("], \"threads\": %zu, \"shown\": %zu, \"groups\": [", threads, nsel);
        for (size_t i = 0; i < shown; i++) {
            printf(i ? ",\n  " : "\n  ");
            print_merged_json(rd, nsets, &m[i]);
        }
        printf("]}\n");
    } else if (o->folded) {
        for (size_t i = 0; i < shown; i++) {
            struct gto_group g = *m[i].parts[0].g;
            g.count = m[i].count;
            print_group_folded(rd[m[i].parts[0].set]->t, &g);
        }
    } else {
        for (size_t k = 0; k < nsets; k++)
            print_text_head(rd[k]->t, rd[k]->s, rd[k]->nsel);
        printf("%zu process%s: %zu green thread%s", nsets, nsets == 1 ? "" : "es",
               threads, threads == 1 ? "" : "s");
        if (nsel != threads)
            printf(", %zu shown", nsel);
        printf("\n\n");
        for (size_t i = 0; i < shown; i++)
            print_merged_text(rd, nsets, &m[i], exact);
        if (shown < (size_t)nm)
            printf("... %zu more groups (use --limit 0 for all)\n", (size_t)nm - shown);
    }
    rc = nsets == n ? EXIT_OK : EXIT_TARGET;
done:
    gto_merged_free(m, (size_t)nm);
    for (size_t i = 0; ones && i < n; i++)
        free_one(&ones[i]);
    free(ones), free(rd), free(sets);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o = {.state = -1, .min_wait = -1};
    struct argp argp = {options, parse_opt, args_doc, doc, NULL, NULL, NULL};
    argp_err_exit_status = EXIT_USAGE;
    argp_parse(&argp, argc, argv, 0, NULL, &o);
    if (o.npids > 1 || o.pprof)
        return main_many(&o);
    return main_one(&o);
}
