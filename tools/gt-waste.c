/*
 * gt-waste - where the stack memory of a gt program goes, live or from a
 * core file.  A compact core (gt-core --compact) holds only each stack's
 * live part: it is refused, with one line, exit 1.
 *
 *   gt-waste [-p] PID
 *   gt-waste --core CORE [--exe EXE]
 *
 * The report has three parts:
 *   1. totals: reserved, resident, touched, live, dead and unused bytes of
 *      every stack, and what the guard policy costs in mappings;
 *   2. per thread class (--class-by: the entry function by default, or
 *      the thread's name, or its name up to the first space or digit):
 *      touched and live percentiles, the dead resident bytes that could be
 *      given back, and a suggested stack size with what it would save;
 *   3. the functions whose frames hold the most live stack across all
 *      threads, with the location those threads wait at.
 *
 * Measures (libgtobserve): live = top - saved sp; touched = top - lowest
 * non-zero word; dead = touched - live; unused = reserved - touched;
 * resident = pages present; a frame's size is the distance between CFAs.
 * Classes and their advice are libgtobserve's (gto_classes), the same in
 * every reader: percentiles by nearest rank; the suggested size is the
 * class's largest touched stack plus a quarter (at least one page),
 * rounded up to a page, so never below what a thread of the class already
 * used.  Threads with a fresh context (not started yet, or waiting
 * unstacked) hold no frames and say nothing of how deep the class goes:
 * the percentiles leave them out ("sampled" counts the others), and a
 * class of nothing else has no suggestion ("-"; null in JSON).
 *
 * --json prints one document (schema/gt-waste.schema.json, installed
 * under share/gt/schema/):
 *   { "schema_version": 1 (GTO_JSON_SCHEMA_VERSION), "target": str, "pid": int, "now_exact": bool, "uptime_ns": int,
 *     "idle_ns": int, "file_io_calls": int, "file_io_ns": int,
 *     "threads": int (every thread), "states": {"runnable": int,
 *     "running": int, "parked": int, "exited": int}, "in_flux": int,
 *     "capture": CAPTURE|null (as gt-stacks: a core gt-core wrote, and the
 *     text's line "core written by gt-core at ..." under the count),
 *     "selected": int (threads the filters kept), "page_size": int,
 *     "class_by": str,
 *     "totals": SIZES,
 *     "running": RUNNING|null, "watchdog": {"threshold_ns": int,
 *     "events": int} (as gt-stacks: the thread on the CPU and how long it
 *     has run without yielding; the text says it in one line under the
 *     count),
 *     "guard": {"policy": str, "mappings": int, "max_map_count": int},
 *     "classes": [ { "class": str, "threads": int, "sampled": int,
 *                    "stack_size": int, "touched": PCT, "live": PCT
 *                    (null percentiles when "sampled" is 0),
 *                    "dead_resident": int,
 *                    "suggested_stack_size": int|null, "saves": int } ],
 *     "functions": [ { "function": str, "file": str|null, "bytes": int,
 *                      "frames": int, "threads": int,
 *                      "bytes_per_frame": int, "location": str|null } ] }
 *   SIZES = {"reserved", "resident", "touched", "live", "dead", "unused",
 *            "dead_resident"}: ints, bytes
 *   PCT   = {"p50": int, "p99": int, "max": int}
 *   "location" is the label of the location ("where" in gt-stacks).
 * --folded prints, for every distinct stack and every frame of it, the
 * frames from the outermost to that one and the live bytes that frame
 * holds, summed over the threads: a flame graph of stack memory.
 *
 * -h and -V, the target options and the version text are common.c's,
 * the same in every tool.  The manual is tools/gt-waste.1.
 *
 * Exit status: 0 printed, 1 the target could not be read (one line on
 * stderr says why), 2 bad command line.
 */
#include <argp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char doc[] =
    "The stack-waste report of a gt program, live or from a core file: "
    "totals, thread classes with a suggested stack size, and the functions "
    "that hold the most live stack.\v"
    "Exit status: 0 success, 1 the target could not be read (the message "
    "says why), 2 bad command line.\n\nThe manual: gt-waste(1).";
static const char args_doc[] = "[-p] PID\n--core CORE [--exe EXE]";

enum { OPT_CLASS_BY = 256 };

static const struct argp_option options[] = {
    {NULL, 0, NULL, 0, "Target:", 1},
    TARGET_OPTIONS(1),
    {NULL, 0, NULL, 0, "What to show:", 2},
    {"class-by", OPT_CLASS_BY, "KEY", 0, "what makes a class: entry (the "
     "entry function, the default), name (the thread name) or prefix (the "
     "name up to its first space or digit)", 2},
    {"class", 'C', "NAME", 0, "only the threads of class NAME", 2},
    {"limit", 'L', "N", 0, "at most N functions (default 10; 0 for all)", 2},
    {NULL, 0, NULL, 0, "Output:", 3},
    {"json", 'j', NULL, 0, "one JSON document (described in gt-waste(1))", 3},
    {"folded", 'f', NULL, 0, "folded stacks for flamegraph.pl / speedscope, "
     "weight = live bytes of each frame", 3},
    {NULL, 0, NULL, 0, NULL, 0},
};

struct opts {
    struct target_args target;
    enum gto_class_by class_by;
    const char *class_name;
    uint64_t limit;
    int json, folded;
};

static error_t parse_opt(int key, char *arg, struct argp_state *st)
{
    struct opts *o = st->input;
    char *end;
    switch (key) {
    case 'C': o->class_name = arg; break;
    case OPT_CLASS_BY:
        if (gto_class_by_parse(arg, &o->class_by) < 0)
            argp_error(st, "'%s' is not a way to class threads (entry, name, prefix)",
                       arg);
        break;
    case 'L':
        o->limit = strtoull(arg, &end, 10);
        if (*end || end == arg || arg[0] == '-')
            argp_error(st, "'%s' is not a count (0 for no limit)", arg);
        break;
    case 'j': o->json = 1; break;
    case 'f': o->folded = 1; break;
    case ARGP_KEY_END: {
        char err[256];
        if (target_args_check(&o->target, err, sizeof(err)) < 0)
            argp_error(st, "%s", err);
        if (o->json && o->folded)
            argp_error(st, "--json and --folded are two outputs: choose one");
        break;
    }
    default:
        return target_parse_opt(key, arg, st, &o->target);
    }
    return 0;
}

/* Stack bytes of every selected thread, summed. */
struct totals {
    uint64_t reserved, resident, touched, live, dead, unused, dead_resident;
};

/* A function and the live stack its frames hold, over every thread. */
struct func {
    const char *name;
    const char *file;
    uint64_t bytes;            /* live bytes in its frames */
    uint64_t frames;           /* its frames (a recursion has several) */
    uint64_t threads;          /* threads with at least one */
    uint32_t top_loc;          /* the location most of those threads wait
                                * at (0: they are not parked) */
    uint64_t top_loc_threads;
};

/* The whole report, built once and printed as text or JSON. */
struct report {
    const struct gto_counters *c;
    uint64_t page;
    const struct gto_thread **sel;    /* measured threads of --class */
    size_t nsel;
    struct totals tot;
    struct gto_class *classes;
    size_t nclasses;
    struct gto_group *groups;         /* of sel: each stack symbolized once */
    size_t ngroups;
    struct func *funcs;               /* most bytes first */
    size_t nfuncs;
};

/* One function's share of one group: what gathering by name adds up. */
struct share {
    const char *name, *file;
    size_t group;
    uint64_t bytes;            /* over the group's members, this frame */
    uint64_t frames;           /* the group's count */
};

static int cmp_share(const void *a, const void *b)
{
    const struct share *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->group < y->group ? -1 : x->group > y->group;
}

static int cmp_func(const void *a, const void *b)
{
    const struct func *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* A location and the threads of one function waiting there. */
struct loc_tally {
    uint32_t loc;
    uint64_t threads;
};

static int cmp_tally(const void *a, const void *b)
{
    const struct loc_tally *x = a, *y = b;
    return x->loc < y->loc ? -1 : x->loc > y->loc;
}

/* The physical function of frame i: the outermost of its source frames. */
static const struct gto_symbol *frame_function(gto_target *t,
                                               const struct gto_thread *th,
                                               size_t i)
{
    const struct gto_symbol *sym;
    size_t n = gto_frame_symbols(t, th, i, &sym);
    return &sym[n - 1];
}

/* Functions from the groups: every frame of every distinct stack gives a
 * share, shares sorted by function gather into functions (n log n, never
 * a search per frame). */
static int build_functions(gto_target *t, struct report *r, char *err)
{
    size_t nsh = 0;
    for (size_t gi = 0; gi < r->ngroups; gi++)
        nsh += r->groups[gi].rep->nframes;
    struct share *sh = malloc((nsh + 1) * sizeof(*sh));
    struct loc_tally *tl = malloc((r->ngroups + 1) * sizeof(*tl));
    r->funcs = calloc(nsh + 1, sizeof(*r->funcs));
    if (!sh || !tl || !r->funcs) {
        free(sh);
        free(tl);
        snprintf(err, GTO_ERR_MAX, "out of memory for the functions of %zu stacks",
                 r->ngroups);
        return -1;
    }
    size_t k = 0;
    for (size_t gi = 0; gi < r->ngroups; gi++) {
        const struct gto_group *g = &r->groups[gi];
        for (size_t i = 0; i < g->rep->nframes; i++) {
            const struct gto_symbol *sym = frame_function(t, g->rep, i);
            struct share *x = &sh[k++];
            x->name = sym->function;
            x->file = sym->file;
            x->group = gi;
            x->frames = g->count;
            x->bytes = 0;
            for (size_t m = 0; m < g->count; m++)
                x->bytes += g->threads[m]->frames[i].size;
        }
    }
    qsort(sh, nsh, sizeof(*sh), cmp_share);
    for (size_t i = 0; i < nsh;) {
        struct func *f = &r->funcs[r->nfuncs++];
        size_t ntl = 0;
        f->name = sh[i].name;
        size_t j = i;
        for (; j < nsh && strcmp(sh[j].name, f->name) == 0; j++) {
            if (!f->file)
                f->file = sh[j].file;
            f->bytes += sh[j].bytes;
            f->frames += sh[j].frames;
            /* A thread counts once per function, however deep it recurses:
             * shares of one group are next to each other. */
            if (j > i && sh[j].group == sh[j - 1].group)
                continue;
            const struct gto_group *g = &r->groups[sh[j].group];
            f->threads += g->count;
            tl[ntl].loc = g->nstate[GTO_STATE_PARKED] ? g->location : 0;
            tl[ntl++].threads = g->count;
        }
        qsort(tl, ntl, sizeof(*tl), cmp_tally);
        for (size_t a = 0; a < ntl;) {
            uint64_t n = 0;
            size_t b = a;
            for (; b < ntl && tl[b].loc == tl[a].loc; b++)
                n += tl[b].threads;
            if (n > f->top_loc_threads) {
                f->top_loc_threads = n;
                f->top_loc = tl[a].loc;
            }
            a = b;
        }
        i = j;
    }
    qsort(r->funcs, r->nfuncs, sizeof(*r->funcs), cmp_func);
    free(sh);
    free(tl);
    return 0;
}

/* Everything the report says, from one snapshot.  0, or -1 with ERR set
 * (out of memory, or no thread of the class asked for). */
static int build(gto_target *t, const gto_snapshot *s, const struct opts *o,
                 struct report *r, char *err)
{
    r->c = gto_snapshot_counters(s);
    r->page = r->c->page_size ? r->c->page_size : 4096;
    size_t n = gto_thread_count(s);
    r->sel = malloc((n + 1) * sizeof(*r->sel));
    if (!r->sel) {
        snprintf(err, GTO_ERR_MAX, "out of memory for %zu threads", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const struct gto_thread *th = gto_thread_at(s, i);
        char cls[256];
        if (!th->measured)
            continue;
        if (o->class_name &&
            strcmp(gto_thread_class(t, th, o->class_by, cls, sizeof(cls)),
                   o->class_name) != 0)
            continue;
        r->sel[r->nsel++] = th;
        r->tot.reserved += th->reserved;
        r->tot.resident += th->resident;
        r->tot.touched += th->touched;
        r->tot.live += th->live;
        r->tot.dead += th->dead;
        r->tot.unused += th->unused;
        r->tot.dead_resident += th->dead_resident;
    }
    if (o->class_name && !r->nsel) {
        /* Class names are safe text (gto_text_safe), and so is the name
         * asked for as it is shown here. */
        char cls[256];
        gto_text_safe(o->class_name, strlen(o->class_name), cls, sizeof(cls));
        snprintf(err, GTO_ERR_MAX, "%s has no thread of class '%s' (classes by %s; "
                 "--class-by entry, name or prefix chooses)", gto_target_name(t),
                 cls, gto_class_by_name(o->class_by));
        return -1;
    }
    ssize_t nc = gto_classes(t, s, r->sel, r->nsel, o->class_by, r->page,
                             &r->classes, err);
    if (nc < 0)
        return -1;
    r->nclasses = (size_t)nc;
    ssize_t ng = gto_group(s, r->sel, r->nsel, &r->groups, err);
    if (ng < 0)
        return -1;
    r->ngroups = (size_t)ng;
    return o->folded ? 0 : build_functions(t, r, err);
}

static void report_free(struct report *r)
{
    free(r->sel);
    gto_classes_free(r->classes, r->nclasses);
    gto_groups_free(r->groups, r->ngroups);
    free(r->funcs);
}

static void print_folded(gto_target *t, const struct report *r)
{
    for (size_t k = 0; k < r->ngroups; k++) {
        const struct gto_group *g = &r->groups[k];
        const struct gto_thread *rep = g->rep;
        for (size_t top = rep->nframes; top-- > 0;) {
            uint64_t bytes = 0;
            for (size_t m = 0; m < g->count; m++)
                if (top < g->threads[m]->nframes)
                    bytes += g->threads[m]->frames[top].size;
            if (!bytes)
                continue;
            for (size_t i = rep->nframes; i-- > top;) {
                const struct gto_symbol *sym;
                size_t n = gto_frame_symbols(t, rep, i, &sym);
                for (size_t j = n; j-- > 0;)
                    printf("%s%s", i == rep->nframes - 1 && j == n - 1 ? "" : ";",
                           sym[j].function);
            }
            printf(" %llu\n", (unsigned long long)bytes);
        }
    }
}

/* A class's percentiles; null ones when no thread of it has frames. */
static void json_pct(const char *key, const struct gto_pct *p, size_t sampled)
{
    if (!sampled) {
        printf(", \"%s\": {\"p50\": null, \"p99\": null, \"max\": null}", key);
        return;
    }
    printf(", \"%s\": {\"p50\": %llu, \"p99\": %llu, \"max\": %llu}", key,
           (unsigned long long)p->p50, (unsigned long long)p->p99,
           (unsigned long long)p->max);
}

static void print_json(gto_target *t, const gto_snapshot *s, const struct opts *o,
                       const struct report *r, size_t nshow)
{
    const struct gto_counters *c = r->c;
    const struct totals *tot = &r->tot;
    char where[GTO_LABEL_MAX];
    printf("{\"schema_version\": %d, \"target\": ", GTO_JSON_SCHEMA_VERSION);
    gto_json_string(stdout, gto_target_name(t));
    printf(", \"pid\": %llu, ", (unsigned long long)c->pid);
    gto_json_counters(stdout, s);
    printf(", \"selected\": %zu, \"page_size\": %llu, \"class_by\": \"%s\",\n",
           r->nsel, (unsigned long long)r->page, gto_class_by_name(o->class_by));
    printf(" \"totals\": {\"reserved\": %llu, \"resident\": %llu, \"touched\": "
           "%llu, \"live\": %llu, \"dead\": %llu, \"unused\": %llu, "
           "\"dead_resident\": %llu},\n", (unsigned long long)tot->reserved,
           (unsigned long long)tot->resident, (unsigned long long)tot->touched,
           (unsigned long long)tot->live, (unsigned long long)tot->dead,
           (unsigned long long)tot->unused, (unsigned long long)tot->dead_resident);
    print_json_running(s);
    printf(",\n \"guard\": {\"policy\": \"%s\", \"mappings\": %llu, "
           "\"max_map_count\": %llu},\n \"classes\": [",
           gto_guard_policy_name(c->guard_policy),
           (unsigned long long)c->guard_mappings,
           (unsigned long long)c->max_map_count);
    for (size_t i = 0; i < r->nclasses; i++) {
        const struct gto_class *k = &r->classes[i];
        printf("%s\n  {\"class\": ", i ? "," : "");
        gto_json_string(stdout, k->name);
        printf(", \"threads\": %zu, \"sampled\": %zu, \"stack_size\": %llu",
               k->threads, k->sampled, (unsigned long long)k->stack_size);
        json_pct("touched", &k->touched, k->measured);
        json_pct("live", &k->live, k->sampled);
        printf(", \"dead_resident\": %llu, \"suggested_stack_size\": ",
               (unsigned long long)k->dead_resident);
        if (k->has_suggestion)
            printf("%llu", (unsigned long long)k->suggested);
        else
            printf("null");
        printf(", \"saves\": %llu}", (unsigned long long)k->saves);
    }
    printf("],\n \"functions\": [");
    for (size_t i = 0; i < nshow; i++) {
        const struct func *f = &r->funcs[i];
        printf("%s\n  {\"function\": ", i ? "," : "");
        gto_json_string(stdout, f->name);
        printf(", \"file\": ");
        gto_json_string(stdout, f->file);
        printf(", \"bytes\": %llu, \"frames\": %llu, \"threads\": %llu, "
               "\"bytes_per_frame\": %llu, \"location\": ",
               (unsigned long long)f->bytes, (unsigned long long)f->frames,
               (unsigned long long)f->threads,
               (unsigned long long)(f->frames ? f->bytes / f->frames : 0));
        const struct gto_location *l = gto_location_by_index(s, f->top_loc);
        gto_json_string(stdout, l && l->depth ? gto_location_label(t, l, where,
                                                                   sizeof(where)) : NULL);
        printf("}");
    }
    printf("]}\n");
}

static void print_text(gto_target *t, const gto_snapshot *s, const struct opts *o,
                       const struct report *r, size_t nshow)
{
    const struct gto_counters *c = r->c;
    char n1[32], n2[32], b1[32], b2[32], b3[32], b4[32], b5[32], b6[32];
    char where[GTO_LABEL_MAX];
    printf("%s: %s green threads", gto_target_name(t),
           gto_fmt_count(r->nsel, n1, sizeof(n1)));
    if (o->class_name)
        printf(" of class '%s'", o->class_name);
    printf("\n");
    print_capture_text(t);
    print_running_text(s);
    printf("\nTotals\n");
    static const struct { size_t off; const char *what, *why; } rows[] = {
        {offsetof(struct totals, reserved), "reserved",
         "address space set aside for stacks"},
        {offsetof(struct totals, resident), "resident", "pages present in memory"},
        {offsetof(struct totals, touched), "touched",
         "from the lowest word ever written to the top"},
        {offsetof(struct totals, live), "live", "in use now: top - saved sp"},
        {offsetof(struct totals, dead), "dead",
         "touched but not live: written once, idle now"},
        {offsetof(struct totals, unused), "unused", "never touched"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        uint64_t v;
        memcpy(&v, (const char *)&r->tot + rows[i].off, sizeof(v));
        printf("  %-9s %10s   %s\n", rows[i].what, gto_fmt_bytes(v, b1, sizeof(b1)),
               rows[i].why);
    }
    printf("  dead resident %s could be given back now (whole pages below the "
           "live part)\n", gto_fmt_bytes(r->tot.dead_resident, b1, sizeof(b1)));
    printf("  guard policy: %s; stacks cost %llu mappings of vm.max_map_count "
           "%llu\n", gto_guard_policy_name(c->guard_policy),
           (unsigned long long)c->guard_mappings,
           (unsigned long long)c->max_map_count);

    static const char *const by_what[] = {
        [GTO_CLASS_BY_ENTRY] = "entry function", [GTO_CLASS_BY_NAME] = "thread name",
        [GTO_CLASS_BY_PREFIX] = "thread name prefix",
    };
    printf("\nThread classes (by %s)\n", by_what[o->class_by]);
    printf("  %-20s %9s %9s %9s  %-27s %-27s %10s %10s %10s\n", "class", "threads",
           "sampled", "stack", "touched p50/p99/max", "live p50/p99/max", "dead res.",
           "suggested", "saves");
    for (size_t i = 0; i < r->nclasses; i++) {
        const struct gto_class *k = &r->classes[i];
        char tp[96], lp[96];
        snprintf(tp, sizeof(tp), "%s/%s/%s", gto_fmt_bytes(k->touched.p50, b1, sizeof(b1)),
                 gto_fmt_bytes(k->touched.p99, b2, sizeof(b2)),
                 gto_fmt_bytes(k->touched.max, b3, sizeof(b3)));
        snprintf(lp, sizeof(lp), "%s/%s/%s", gto_fmt_bytes(k->live.p50, b1, sizeof(b1)),
                 gto_fmt_bytes(k->live.p99, b2, sizeof(b2)),
                 gto_fmt_bytes(k->live.max, b3, sizeof(b3)));
        printf("  %-20s %9s %9s %9s  %-27s %-27s %10s %10s %10s\n", k->name,
               gto_fmt_count(k->threads, n1, sizeof(n1)),
               gto_fmt_count(k->sampled, n2, sizeof(n2)),
               gto_fmt_bytes(k->stack_size, b4, sizeof(b4)), tp, lp,
               gto_fmt_bytes(k->dead_resident, b5, sizeof(b5)),
               k->has_suggestion ? gto_fmt_bytes(k->suggested, b6, sizeof(b6)) : "-",
               k->saves ? gto_fmt_bytes(k->saves, b1, sizeof(b1)) : "-");
    }

    printf("\nFunctions holding the most live stack\n");
    for (size_t i = 0; i < nshow; i++) {
        const struct func *f = &r->funcs[i];
        uint64_t per = f->frames ? f->bytes / f->frames : 0;
        printf("  %-24s %llu B/frame x ", f->name, (unsigned long long)per);
        if (f->frames == f->threads)
            printf("%s threads", gto_fmt_count(f->threads, n1, sizeof(n1)));
        else
            printf("%s frames in %s threads", gto_fmt_count(f->frames, n1, sizeof(n1)),
                   gto_fmt_count(f->threads, n2, sizeof(n2)));
        printf(" = %s", gto_fmt_bytes(f->bytes, b1, sizeof(b1)));
        const struct gto_location *l = gto_location_by_index(s, f->top_loc);
        if (l && l->depth)
            printf("  (%s of them wait at %s)",
                   gto_fmt_count(f->top_loc_threads, n1, sizeof(n1)),
                   gto_location_label(t, l, where, sizeof(where)));
        putchar('\n');
    }
    if (nshow < r->nfuncs)
        printf("  ... %zu more functions (use --limit 0 for all)\n", r->nfuncs - nshow);
}

int main(int argc, char **argv)
{
    struct opts o = {.limit = 10, .class_by = GTO_CLASS_BY_ENTRY};
    struct argp argp = {options, parse_opt, args_doc, doc, NULL, NULL, NULL};
    argp_err_exit_status = EXIT_USAGE;
    argp_parse(&argp, argc, argv, 0, NULL, &o);

    gto_target *t = target_open("gt-waste", &o.target);
    if (!t)
        return EXIT_TARGET;
    /* Every figure of the report but live needs the stacks below their
     * live part, which a compact core left out: refused rather than
     * printed as zeros. */
    if (!gto_stack_measures_known(t)) {
        char core[256];
        gto_text_safe(o.target.core, strlen(o.target.core), core, sizeof(core));
        fprintf(stderr, "gt-waste: %s is a compact core (gt-core --compact): stack "
                "waste needs a full core: capture without --compact\n", core);
        gto_close(t);
        return EXIT_TARGET;
    }
    char err[GTO_ERR_MAX];
    gto_snapshot *s;
    if (gto_snapshot_take(t, GTO_SNAP_UNWIND | GTO_SNAP_MEASURE, &s, err) < 0) {
        fprintf(stderr, "gt-waste: %s\n", err);
        gto_close(t);
        return EXIT_TARGET;
    }
    struct report r = {0};
    int rc = EXIT_OK;
    if (build(t, s, &o, &r, err) < 0) {
        fprintf(stderr, "gt-waste: %s\n", err);
        rc = EXIT_TARGET;
    } else if (o.folded) {
        print_folded(t, &r);
    } else {
        size_t nshow = o.limit && o.limit < r.nfuncs ? (size_t)o.limit : r.nfuncs;
        if (o.json)
            print_json(t, s, &o, &r, nshow);
        else
            print_text(t, s, &o, &r, nshow);
    }
    report_free(&r);
    gto_snapshot_free(s);
    gto_close(t);
    return rc;
}
