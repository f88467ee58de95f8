/*
 * gt-waste - where the stack memory of a gt program goes, live or from a
 * core file.
 *
 *   gt-waste PID
 *   gt-waste --core CORE [--exe EXE]
 *
 * The report has three parts:
 *   1. totals: reserved, resident, touched, live, dead and unused bytes of
 *      every stack, and what the guard policy costs in mappings;
 *   2. per thread class (the thread's name, else its entry function):
 *      touched and live percentiles, the dead resident bytes that could be
 *      given back, and a suggested stack size with what it would save;
 *   3. the functions whose frames hold the most live stack across all
 *      threads, with the location those threads wait at.
 *
 * Measures (libgtobserve): live = top - saved sp; touched = top - lowest
 * non-zero word; dead = touched - live; unused = reserved - touched;
 * resident = pages present; a frame's size is the distance between CFAs.
 * The suggested size is the class's 99.9th percentile of touched bytes plus
 * a quarter (at least one page), rounded up to a page.  Threads with a
 * fresh context (not started yet, or waiting unstacked) hold no frames and
 * say nothing of how deep the class goes: the percentiles leave them out,
 * and a class of nothing else has no suggestion ("-"; null in JSON).
 *
 * --json prints one document:
 *   { "target": str, "pid": int, "threads": int, "page_size": int,
 *     "totals": SIZES,
 *     "guard": {"policy": str, "mappings": int, "max_map_count": int},
 *     "classes": [ { "class": str, "threads": int, "stack_size": int,
 *                    "touched": PCT, "live": PCT, "dead_resident": int,
 *                    "suggested_stack_size": int|null, "saves": int } ],
 *     "functions": [ { "function": str, "file": str|null, "bytes": int,
 *                      "frames": int, "threads": int,
 *                      "bytes_per_frame": int, "location": str|null } ] }
 *   SIZES = {"reserved", "resident", "touched", "live", "dead", "unused",
 *            "dead_resident"}: ints, bytes
 *   PCT   = {"p50": int, "p99": int, "max": int}
 * --folded prints, for every distinct stack and every frame of it, the
 * frames from the outermost to that one and the live bytes that frame
 * holds, summed over the threads: a flame graph of stack memory.
 *
 * Exit status: 0 printed, 1 the target could not be read (one line on
 * stderr says why), 2 bad command line.
 */
#include <argp.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char doc[] =
    "The stack-waste report of a gt program, live or from a core file: "
    "totals, thread classes with a suggested stack size, and the functions "
    "that hold the most live stack.\v"
    "Exit status: 0 success, 1 the target could not be read (the message "
    "says why), 2 bad command line.";
static const char args_doc[] = "PID\n--core CORE [--exe EXE]";

static const struct argp_option options[] = {
    {NULL, 0, NULL, 0, "Target:", 1},
    {"core", 'c', "CORE", 0, "read the core file CORE", 1},
    {"exe", 'e', "EXE", 0, "the program that dumped CORE (default: the path "
     "the core names)", 1},
    {NULL, 0, NULL, 0, "What to show:", 2},
    {"class", 'C', "NAME", 0, "only the threads of class NAME (a thread name, "
     "or an entry function for unnamed threads)", 2},
    {"limit", 'L', "N", 0, "at most N functions (default 10; 0 for all)", 2},
    {NULL, 0, NULL, 0, "Output:", 3},
    {"json", 'j', NULL, 0, "one JSON document (schema: see the manual)", 3},
    {"folded", 'f', NULL, 0, "folded stacks for flamegraph.pl / speedscope, "
     "weight = live bytes of each frame", 3},
    {NULL, 0, NULL, 0, NULL, 0},
};

struct opts {
    struct target_args target;
    const char *class_name;
    uint64_t limit;
    int json, folded;
};

static error_t parse_opt(int key, char *arg, struct argp_state *st)
{
    struct opts *o = st->input;
    char *end;
    switch (key) {
    case 'c': o->target.core = arg; break;
    case 'e': o->target.exe = arg; break;
    case 'C': o->class_name = arg; break;
    case 'L':
        o->limit = strtoull(arg, &end, 10);
        if (*end || end == arg || arg[0] == '-')
            argp_error(st, "'%s' is not a count (0 for no limit)", arg);
        break;
    case 'j': o->json = 1; break;
    case 'f': o->folded = 1; break;
    case ARGP_KEY_ARG:
        if (o->target.pid)
            argp_error(st, "one PID only ('%s' is extra)", arg);
        o->target.pid = arg;
        break;
    case ARGP_KEY_END: {
        char err[256];
        if (target_args_check(&o->target, err, sizeof(err)) < 0)
            argp_error(st, "%s", err);
        if (o->json && o->folded)
            argp_error(st, "--json and --folded are two outputs: choose one");
        break;
    }
    default:
        return ARGP_ERR_UNKNOWN;
    }
    return 0;
}

/* The thread's class: its name, else its entry function. */
static const char *class_of(gto_target *t, const struct gto_thread *th)
{
    if (th->name[0])
        return th->name;
    const struct gto_symbol *sym;
    gto_symbolize(t, th->entry, 0, &sym);
    return sym[0].function;
}

struct klass {
    const char *name;
    size_t n;                  /* threads */
    size_t ns;                 /* of them, with frames: the samples */
    uint64_t *touched, *live;
    uint64_t stack_size, dead_resident;
    uint64_t p50_t, p99_t, p999_t, max_t, p50_l, p99_l, max_l;
    uint64_t suggested, saves;
};

struct func {
    const char *name;
    const char *file;
    uint64_t bytes, frames, threads;
    uint32_t top_loc;          /* the location most of its threads wait at */
    uint64_t top_loc_threads;
    uint32_t *locs;            /* location index -> threads, small list */
    uint64_t *loc_n;
    size_t nlocs;
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The value below which a fraction q of the sorted values lie. */
static uint64_t pct(const uint64_t *v, size_t n, double q)
{
    if (!n)
        return 0;
    size_t i = (size_t)(q * (double)n + 0.999999);
    return v[i ? (i > n ? n - 1 : i - 1) : 0];
}

static struct klass *find_class(struct klass **k, size_t *nk, size_t *cap,
                                const char *name)
{
    for (size_t i = 0; i < *nk; i++)
        if (strcmp((*k)[i].name, name) == 0)
            return &(*k)[i];
    if (*nk == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *k = realloc(*k, *cap * sizeof(**k));
        if (!*k)
            exit(EXIT_TARGET);
    }
    memset(&(*k)[*nk], 0, sizeof(**k));
    (*k)[*nk].name = name;
    return &(*k)[(*nk)++];
}

static struct func *find_func(struct func **f, size_t *nf, size_t *cap,
                              const char *name)
{
    for (size_t i = 0; i < *nf; i++)
        if (strcmp((*f)[i].name, name) == 0)
            return &(*f)[i];
    if (*nf == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *f = realloc(*f, *cap * sizeof(**f));
        if (!*f)
            exit(EXIT_TARGET);
    }
    memset(&(*f)[*nf], 0, sizeof(**f));
    (*f)[*nf].name = name;
    return &(*f)[(*nf)++];
}

static void func_add_loc(struct func *f, uint32_t loc, uint64_t n)
{
    for (size_t i = 0; i < f->nlocs; i++)
        if (f->locs[i] == loc) {
            f->loc_n[i] += n;
            return;
        }
    f->locs = realloc(f->locs, (f->nlocs + 1) * sizeof(*f->locs));
    f->loc_n = realloc(f->loc_n, (f->nlocs + 1) * sizeof(*f->loc_n));
    if (!f->locs || !f->loc_n)
        exit(EXIT_TARGET);
    f->locs[f->nlocs] = loc;
    f->loc_n[f->nlocs++] = n;
}

static int cmp_func(const void *a, const void *b)
{
    const struct func *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_class(const void *a, const void *b)
{
    const struct klass *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return strcmp(x->name, y->name);
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

static void print_folded(gto_target *t, const struct gto_group *g, size_t ng)
{
    for (size_t k = 0; k < ng; k++) {
        const struct gto_thread *rep = g[k].rep;
        for (size_t top = rep->nframes; top-- > 0;) {
            uint64_t bytes = 0;
            for (size_t m = 0; m < g[k].count; m++)
                if (top < g[k].threads[m]->nframes)
                    bytes += g[k].threads[m]->frames[top].size;
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

int main(int argc, char **argv)
{
    struct opts o = {.limit = 10};
    struct argp argp = {options, parse_opt, args_doc, doc, NULL, NULL, NULL};
    argp_err_exit_status = EXIT_USAGE;
    argp_parse(&argp, argc, argv, 0, NULL, &o);

    gto_target *t = target_open("gt-waste", &o.target);
    if (!t)
        return EXIT_TARGET;
    char err[GTO_ERR_MAX];
    gto_snapshot *s;
    if (gto_snapshot_take(t, GTO_SNAP_UNWIND | GTO_SNAP_MEASURE, &s, err) < 0) {
        fprintf(stderr, "gt-waste: %s\n", err);
        gto_close(t);
        return EXIT_TARGET;
    }
    const struct gto_counters *c = gto_snapshot_counters(s);
    uint64_t page = c->page_size ? c->page_size : 4096;
    size_t n = gto_thread_count(s), nsel = 0;
    const struct gto_thread **sel = malloc((n + 1) * sizeof(*sel));
    if (!sel)
        return EXIT_TARGET;

    /* Classes, and the threads selected by --class. */
    struct klass *k = NULL;
    size_t nk = 0, capk = 0;
    for (size_t i = 0; i < n; i++) {
        const struct gto_thread *th = gto_thread_at(s, i);
        if (!th->measured)
            continue;
        const char *cls = class_of(t, th);
        if (o.class_name && strcmp(cls, o.class_name) != 0)
            continue;
        sel[nsel++] = th;
        struct klass *kl = find_class(&k, &nk, &capk, cls);
        kl->n++;
    }
    if (o.class_name && !nsel) {
        fprintf(stderr, "gt-waste: %s has no thread of class '%s' (classes are "
                "thread names, else entry functions)\n", gto_target_name(t),
                o.class_name);
        return EXIT_TARGET;
    }
    for (size_t i = 0; i < nk; i++) {
        k[i].touched = malloc(k[i].n * sizeof(uint64_t));
        k[i].live = malloc(k[i].n * sizeof(uint64_t));
        if (!k[i].touched || !k[i].live)
            return EXIT_TARGET;
        k[i].n = 0;
    }
    uint64_t tot[7] = {0};
    for (size_t i = 0; i < nsel; i++) {
        const struct gto_thread *th = sel[i];
        struct klass *kl = find_class(&k, &nk, &capk, class_of(t, th));
        kl->n++;
        if (!gto_fresh_context(th)) {
            kl->touched[kl->ns] = th->touched;
            kl->live[kl->ns++] = th->live;
        }
        if (th->reserved > kl->stack_size)
            kl->stack_size = th->reserved;
        kl->dead_resident += th->dead_resident;
        tot[0] += th->reserved;
        tot[1] += th->resident;
        tot[2] += th->touched;
        tot[3] += th->live;
        tot[4] += th->dead;
        tot[5] += th->unused;
        tot[6] += th->dead_resident;
    }
    for (size_t i = 0; i < nk; i++) {
        struct klass *kl = &k[i];
        qsort(kl->touched, kl->ns, sizeof(uint64_t), cmp_u64);
        qsort(kl->live, kl->ns, sizeof(uint64_t), cmp_u64);
        kl->p50_t = pct(kl->touched, kl->ns, 0.5);
        kl->p99_t = pct(kl->touched, kl->ns, 0.99);
        kl->p999_t = pct(kl->touched, kl->ns, 0.999);
        kl->max_t = kl->ns ? kl->touched[kl->ns - 1] : 0;
        kl->p50_l = pct(kl->live, kl->ns, 0.5);
        kl->p99_l = pct(kl->live, kl->ns, 0.99);
        kl->max_l = kl->ns ? kl->live[kl->ns - 1] : 0;
        if (!kl->ns)
            continue; /* no samples: no suggestion, nothing saved */
        uint64_t margin = kl->p999_t / 4 > page ? kl->p999_t / 4 : page;
        kl->suggested = (kl->p999_t + margin + page - 1) / page * page;
        kl->saves = kl->suggested < kl->stack_size
                        ? (kl->stack_size - kl->suggested) * kl->n : 0;
    }
    qsort(k, nk, sizeof(*k), cmp_class);

    /* Functions: through the groups, so each distinct stack is symbolized
     * once whatever the number of threads in it. */
    struct gto_group *g = NULL;
    ssize_t ng = gto_group(s, sel, nsel, &g);
    if (ng < 0) {
        fprintf(stderr, "gt-waste: out of memory grouping %zu threads\n", nsel);
        return EXIT_TARGET;
    }
    if (o.folded) {
        print_folded(t, g, (size_t)ng);
        return EXIT_OK;
    }
    struct func *f = NULL;
    size_t nf = 0, capf = 0;
    for (ssize_t gi = 0; gi < ng; gi++) {
        const struct gto_group *grp = &g[gi];
        const struct gto_thread *rep = grp->rep;
        /* The members' frame sizes summed one member at a time (members
         * share rep's frame count): a pass over all members per frame
         * fetched every member's frames once per frame, a cache miss each
         * at a million threads. */
        uint64_t *bytes = calloc(rep->nframes + 1, sizeof(*bytes));
        if (!bytes) {
            fprintf(stderr, "gt-waste: out of memory summing frames\n");
            return EXIT_TARGET;
        }
        for (size_t m = 0; m < grp->count; m++)
            for (size_t i = 0; i < rep->nframes; i++)
                bytes[i] += grp->threads[m]->frames[i].size;
        for (size_t i = 0; i < rep->nframes; i++) {
            const struct gto_symbol *sym = frame_function(t, rep, i);
            struct func *fn = find_func(&f, &nf, &capf, sym->function);
            if (!fn->file)
                fn->file = sym->file;
            fn->bytes += bytes[i];
            fn->frames += grp->count;
            /* A thread counts once per function, however deep it recurses. */
            int seen = 0;
            for (size_t j = 0; j < i && !seen; j++)
                seen = strcmp(frame_function(t, rep, j)->function, sym->function) == 0;
            if (!seen) {
                fn->threads += grp->count;
                func_add_loc(fn, grp->nstate[GTO_STATE_PARKED] ? grp->location : 0,
                             grp->count);
            }
        }
        free(bytes);
    }
    for (size_t i = 0; i < nf; i++)
        for (size_t j = 0; j < f[i].nlocs; j++)
            if (f[i].loc_n[j] > f[i].top_loc_threads) {
                f[i].top_loc_threads = f[i].loc_n[j];
                f[i].top_loc = f[i].locs[j];
            }
    qsort(f, nf, sizeof(*f), cmp_func);
    size_t nshow = o.limit && o.limit < nf ? (size_t)o.limit : nf;

    char b[8][48], loc[512];
    if (o.json) {
        printf("{\"target\": ");
        json_str(stdout, gto_target_name(t));
        printf(", \"pid\": %llu, \"threads\": %zu, \"page_size\": %llu,\n",
               (unsigned long long)c->pid, nsel, (unsigned long long)page);
        printf(" \"totals\": {\"reserved\": %llu, \"resident\": %llu, \"touched\": "
               "%llu, \"live\": %llu, \"dead\": %llu, \"unused\": %llu, "
               "\"dead_resident\": %llu},\n", (unsigned long long)tot[0],
               (unsigned long long)tot[1], (unsigned long long)tot[2],
               (unsigned long long)tot[3], (unsigned long long)tot[4],
               (unsigned long long)tot[5], (unsigned long long)tot[6]);
        printf(" \"guard\": {\"policy\": \"%s\", \"mappings\": %llu, "
               "\"max_map_count\": %llu},\n \"classes\": [",
               gto_guard_policy_name(c->guard_policy),
               (unsigned long long)c->guard_mappings,
               (unsigned long long)c->max_map_count);
        for (size_t i = 0; i < nk; i++) {
            printf("%s\n  {\"class\": ", i ? "," : "");
            json_str(stdout, k[i].name);
            printf(", \"threads\": %zu, \"stack_size\": %llu, \"touched\": {\"p50\": "
                   "%llu, \"p99\": %llu, \"max\": %llu}, \"live\": {\"p50\": %llu, "
                   "\"p99\": %llu, \"max\": %llu}, \"dead_resident\": %llu, "
                   "\"suggested_stack_size\": ", k[i].n,
                   (unsigned long long)k[i].stack_size, (unsigned long long)k[i].p50_t,
                   (unsigned long long)k[i].p99_t, (unsigned long long)k[i].max_t,
                   (unsigned long long)k[i].p50_l, (unsigned long long)k[i].p99_l,
                   (unsigned long long)k[i].max_l,
                   (unsigned long long)k[i].dead_resident);
            if (k[i].ns)
                printf("%llu", (unsigned long long)k[i].suggested);
            else
                printf("null");
            printf(", \"saves\": %llu}", (unsigned long long)k[i].saves);
        }
        printf("],\n \"functions\": [");
        for (size_t i = 0; i < nshow; i++) {
            printf("%s\n  {\"function\": ", i ? "," : "");
            json_str(stdout, f[i].name);
            printf(", \"file\": ");
            json_str(stdout, f[i].file);
            printf(", \"bytes\": %llu, \"frames\": %llu, \"threads\": %llu, "
                   "\"bytes_per_frame\": %llu, \"location\": ",
                   (unsigned long long)f[i].bytes, (unsigned long long)f[i].frames,
                   (unsigned long long)f[i].threads,
                   (unsigned long long)(f[i].frames ? f[i].bytes / f[i].frames : 0));
            const struct gto_location *l = gto_location_by_index(s, f[i].top_loc);
            json_str(stdout, l && l->depth ? describe_pc(t, l->pcs[0], 1, loc,
                                                         sizeof(loc)) : NULL);
            printf("}");
        }
        printf("]}\n");
        return EXIT_OK;
    }

    printf("%s: %s green threads", gto_target_name(t), fmt_count(nsel, b[0], 48));
    if (o.class_name)
        printf(" of class '%s'", o.class_name);
    printf("\n\nTotals\n");
    static const char *const what[] = {"reserved", "resident", "touched", "live",
                                       "dead", "unused"};
    static const char *const why[] = {
        "address space set aside for stacks",
        "pages present in memory",
        "from the lowest word ever written to the top",
        "in use now: top - saved sp",
        "touched but not live: written once, idle now",
        "never touched",
    };
    for (int i = 0; i < 6; i++)
        printf("  %-9s %10s   %s\n", what[i], fmt_bytes(tot[i], b[0], 48), why[i]);
    printf("  dead resident %s could be given back now (whole pages below the "
           "live part)\n", fmt_bytes(tot[6], b[0], 48));
    printf("  guard policy: %s; stacks cost %llu mappings of vm.max_map_count "
           "%llu\n", gto_guard_policy_name(c->guard_policy),
           (unsigned long long)c->guard_mappings,
           (unsigned long long)c->max_map_count);

    printf("\nThread classes (name, else entry function)\n");
    printf("  %-20s %9s %9s  %-27s %-27s %10s %10s %10s\n", "class", "threads",
           "stack", "touched p50/p99/max", "live p50/p99/max", "dead res.",
           "suggested", "saves");
    for (size_t i = 0; i < nk; i++) {
        char tp[96], lp[96];
        snprintf(tp, sizeof(tp), "%s/%s/%s", fmt_bytes(k[i].p50_t, b[0], 48),
                 fmt_bytes(k[i].p99_t, b[1], 48), fmt_bytes(k[i].max_t, b[2], 48));
        snprintf(lp, sizeof(lp), "%s/%s/%s", fmt_bytes(k[i].p50_l, b[0], 48),
                 fmt_bytes(k[i].p99_l, b[1], 48), fmt_bytes(k[i].max_l, b[2], 48));
        printf("  %-20s %9s %9s  %-27s %-27s %10s %10s %10s\n", k[i].name,
               fmt_count(k[i].n, b[3], 48), fmt_bytes(k[i].stack_size, b[4], 48),
               tp, lp, fmt_bytes(k[i].dead_resident, b[5], 48),
               k[i].ns ? fmt_bytes(k[i].suggested, b[6], 48) : "-",
               k[i].saves ? fmt_bytes(k[i].saves, b[7], 48) : "-");
    }

    printf("\nFunctions holding the most live stack\n");
    for (size_t i = 0; i < nshow; i++) {
        uint64_t per = f[i].frames ? f[i].bytes / f[i].frames : 0;
        printf("  %-24s %llu B/frame x ", f[i].name, (unsigned long long)per);
        if (f[i].frames == f[i].threads)
            printf("%s threads", fmt_count(f[i].threads, b[0], 48));
        else
            printf("%s frames in %s threads", fmt_count(f[i].frames, b[0], 48),
                   fmt_count(f[i].threads, b[1], 48));
        printf(" = %s", fmt_bytes(f[i].bytes, b[2], 48));
        const struct gto_location *l = gto_location_by_index(s, f[i].top_loc);
        if (l && l->depth)
            printf("  (%s of them wait at %s)",
                   fmt_count(f[i].top_loc_threads, b[3], 48),
                   describe_pc(t, l->pcs[0], 1, loc, sizeof(loc)));
        putchar('\n');
    }
    if (nshow < nf)
        printf("  ... %zu more functions (use --limit 0 for all)\n", nf - nshow);
    return EXIT_OK;
}
