/*
 * multi.c - several processes as one: a sampler and tables per process
 * (each exactly what gt-top shows of it alone), and a merge step that
 * makes the tables the views draw.
 *
 * A location is merged by its label text (gto_location_label: the call
 * site and its callers): processes of one executable label their
 * locations alike whatever their addresses (ASLR), and no index of one
 * process means anything in another.  A merged row sums the counts and
 * rates, takes the age quantiles of every waiting thread's age together,
 * the completed waits' quantiles of the summed histograms, and the
 * blocker holding up most waiters (with its pid: thread ids are per
 * process).  Edges merge by their ends' merged rows, threads are listed
 * side by side, each with its sampler and so its pid.
 *
 * Every index read from a target is bounded by its own snapshot before it
 * indexes a map here (the library bounds it too).
 */
#include "multi.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *multi_comm(pid_t pid, char *buf, size_t len)
{
    char path[64], raw[64];
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(raw, 1, sizeof(raw) - 1, f) : 0;
    if (f)
        fclose(f);
    while (n && (raw[n - 1] == '\n' || raw[n - 1] == 0))
        n--;
    if (!n) {
        snprintf(buf, len, "?");
        return buf;
    }
    /* A command name is the target's to choose: safe text only. */
    gto_text_safe(raw, n, buf, len);
    return buf;
}

/* The basename of /proc/PID/exe into BUF, "" unreadable. */
static const char *exe_base(pid_t pid, char *buf, size_t len)
{
    char path[64], link[PATH_MAX];
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(path, link, sizeof(link) - 1);
    buf[0] = 0;
    if (n <= 0)
        return buf;
    link[n] = 0;
    char *del = strstr(link, " (deleted)");
    if (del && del[10] == 0)
        *del = 0;
    const char *slash = strrchr(link, '/');
    const char *base = slash ? slash + 1 : link;
    size_t n2 = strlen(base) < len ? strlen(base) : len - 1;
    memcpy(buf, base, n2);
    buf[n2] = 0;
    return buf;
}

static void note_add(struct multi *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note_add(struct multi *m, const char *fmt, ...)
{
    size_t at = strlen(m->note);
    if (at + 3 >= sizeof(m->note))
        return;
    if (at)
        at += (size_t)snprintf(m->note + at, sizeof(m->note) - at, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->note + at, sizeof(m->note) - at, fmt, ap);
    va_end(ap);
}

static int following(const struct multi *m, pid_t pid)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->p[i]->s.pid == pid)
            return 1;
    return 0;
}

/* Opens PID and follows it; -1 with err. */
static int add(struct multi *m, pid_t pid, char *err)
{
    if (m->n >= MULTI_MAX) {
        snprintf(err, GTO_ERR_MAX, "more than %d processes: give fewer pids or a "
                 "narrower --name", MULTI_MAX);
        return -1;
    }
    struct multi_proc *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, GTO_ERR_MAX, "out of memory");
        return -1;
    }
    if (sampler_open(&p->s, pid, NULL, NULL, err) < 0) {
        free(p);
        return -1;
    }
    p->s.hog_mark_ns = m->hog_mark_ns;
    multi_comm(pid, p->exe, sizeof(p->exe));
    if (m->measure_aside && sampler_measure_aside(&p->s, err) < 0) {
        sampler_close(&p->s);
        free(p);
        return -1;
    }
    m->p[m->n++] = p;
    return 0;
}

static void drop(struct multi *m, size_t i)
{
    struct multi_proc *p = m->p[i];
    if (p->have_tb)
        tables_free(&p->tb);
    free(p->to_merged);
    sampler_close(&p->s);
    free(p);
    memmove(&m->p[i], &m->p[i + 1], (m->n - i - 1) * sizeof(m->p[0]));
    m->n--;
}

int multi_open(struct multi *m, const pid_t *pids, size_t n, const char *pattern,
               char *err)
{
    uint64_t hog = m->hog_mark_ns;
    int aside = m->measure_aside;
    memset(m, 0, sizeof(*m));
    m->hog_mark_ns = hog;
    m->measure_aside = aside;
    m->pattern = pattern;
    for (size_t i = 0; i < n; i++) {
        if (following(m, pids[i]))
            continue;   /* given twice: followed once */
        if (add(m, pids[i], err) < 0) {
            multi_close(m);
            return -1;
        }
    }
    if (pattern)
        multi_scan(m);
    m->note[0] = 0;   /* the first ones are no news */
    if (!m->n) {
        char safe[128];
        gto_text_safe(pattern ? pattern : "", pattern ? strlen(pattern) : 0, safe,
                      sizeof(safe));
        snprintf(err, GTO_ERR_MAX, "no gt process whose name matches '%s' (that this "
                 "user may read)", safe);
        return -1;
    }
    return 0;
}

void multi_close(struct multi *m)
{
    while (m->n)
        drop(m, m->n - 1);
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* PID matched and could not be read a moment ago: not worth opening (an
 * ELF's symbols read) at every refresh. */
static int skipped(const struct multi *m, pid_t pid, uint64_t now)
{
    for (size_t i = 0; i < m->nskip; i++)
        if (m->skip[i].pid == pid && now < m->skip[i].retry_ns)
            return 1;
    return 0;
}

/* Whether P's runtime has published its registry: one read of the
 * header, no thread record. */
static int runtime_started(struct multi_proc *p)
{
    gto_snapshot *snap = NULL;
    char err[GTO_ERR_MAX];
    if (gto_snapshot_take(p->s.target, GTO_SNAP_NO_THREADS, &snap, err) < 0)
        return 0;
    int started = gto_snapshot_counters(snap)->started;
    gto_snapshot_free(snap);
    return started;
}

static void skip_add(struct multi *m, pid_t pid, uint64_t now)
{
    size_t i = m->nskip < MULTI_SKIP_MAX ? m->nskip++ : m->skip_next++ % MULTI_SKIP_MAX;
    m->skip[i].pid = pid;
    m->skip[i].retry_ns = now + MULTI_SKIP_NS;
}

size_t multi_scan(struct multi *m)
{
    uint64_t now = monotonic_ns();
    DIR *d = opendir("/proc");
    size_t added = 0;
    if (!d || !m->pattern) {
        if (d)
            closedir(d);
        return 0;
    }
    struct dirent *e;
    pid_t self = getpid();
    while ((e = readdir(d)) && m->n < MULTI_MAX) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        if (*end || v <= 0 || v > 0x3fffffff || v == self || following(m, (pid_t)v) ||
            skipped(m, (pid_t)v, now))
            continue;
        char comm[64], exe[256], err[GTO_ERR_MAX];
        multi_comm((pid_t)v, comm, sizeof(comm));
        exe_base((pid_t)v, exe, sizeof(exe));
        /* The command name, or the executable's basename (a name longer
         * than 15 characters is cut in comm). */
        if (fnmatch(m->pattern, comm, 0) != 0 && (!exe[0] || fnmatch(m->pattern, exe, 0) != 0))
            continue;
        /* Not a gt program, gone, or not ours to read: not followed, and
         * no error, as pgrep finds only what it may see. */
        if (add(m, (pid_t)v, err) < 0) {
            skip_add(m, (pid_t)v, now);
            continue;
        }
        /* A process of the program whose runtime has not started (Knot's
         * supervisor, which forks the workers and never serves; a program
         * still before gt_main) has nothing to show: looked at again
         * later, as one that is not ours to read. */
        if (!runtime_started(m->p[m->n - 1])) {
            drop(m, m->n - 1);
            skip_add(m, (pid_t)v, now);
            continue;
        }
        added++;
        note_add(m, "process %d (%s) appeared", (int)v, m->p[m->n - 1]->exe);
    }
    closedir(d);
    return added;
}

int multi_step(struct multi *m, char *err)
{
    char e[GTO_ERR_MAX];
    unsigned char failed[MULTI_MAX];
    size_t ok = 0;
    err[0] = 0;
    for (size_t i = 0; i < m->n; i++) {
        struct multi_proc *p = m->p[i];
        p->s.flags = m->flags;
        p->s.sums_only = m->sums_only;
        p->s.measure_on_release = m->measure_on_release;
        failed[i] = sampler_step(&p->s, e) < 0;
        if (!failed[i]) {
            ok++;
            continue;
        }
        snprintf(err, GTO_ERR_MAX, "%s", e);
        if (!p->s.target_gone && p->s.cur)
            /* Readable a moment ago: its last snapshot stays. */
            note_add(m, "process %d (%s): %s", (int)p->s.pid, p->exe, e);
    }
    /* None could be read: every process is kept with its last snapshot
     * (the screen shows it), and the caller ends as on one process. */
    if (!ok)
        return -1;
    for (size_t i = m->n; i-- > 0;) {
        struct multi_proc *p = m->p[i];
        if (!failed[i] || (!p->s.target_gone && p->s.cur))
            continue;
        if (p->s.target_gone)
            note_add(m, "process %d (%s) exited", (int)p->s.pid, p->exe);
        else
            note_add(m, "process %d (%s) can no longer be read", (int)p->s.pid, p->exe);
        drop(m, i);
    }
    return 0;
}

void multi_release(struct multi *m)
{
    for (size_t i = 0; i < m->n; i++)
        sampler_release(&m->p[i]->s);
}

void multi_tables_free(struct multi *m)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->p[i]->have_tb) {
            tables_free(&m->p[i]->tb);
            m->p[i]->have_tb = 0;
        }
}

int multi_build(struct multi *m, struct tables *out, int with_threads, int split)
{
    multi_tables_free(m);
    for (size_t i = 0; i < m->n; i++) {
        if (tables_build(&m->p[i]->tb, &m->p[i]->s, with_threads) < 0)
            return -1;
        m->p[i]->have_tb = 1;
    }
    return multi_merge(m, out, with_threads, split);
}

/* ---- the merge ----------------------------------------------------------- */

struct lref {
    const char *where;
    pid_t pid;
    uint32_t proc;
    size_t row;
};

static int cmp_lref(const void *a, const void *b)
{
    const struct lref *x = a, *y = b;
    int c = strcmp(x->where, y->where);
    if (c)
        return c;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->proc != y->proc)
        return x->proc < y->proc ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

/* The merged index of process P's location INDEX, 0 none. */
static uint32_t mapped(const struct multi_proc *p, uint32_t index)
{
    return index && index < p->nmap ? p->to_merged[index] : 0;
}

struct aged {
    uint32_t row;       /* merged index */
    uint64_t age;
};

static int cmp_aged(const void *a, const void *b)
{
    const struct aged *x = a, *y = b;
    if (x->row != y->row)
        return x->row < y->row ? -1 : 1;
    return (x->age > y->age) - (x->age < y->age);
}

/* The ages of the waits in progress at each merged row, every process's
 * waiting threads together, as tables.c reads them on one process. */
static int merge_ages(struct multi *m, struct tables *out)
{
    size_t total = 0, nq = 0;
    for (size_t k = 0; k < m->n; k++)
        total += gto_thread_count(m->p[k]->s.cur);
    struct aged *q = malloc((total + 1) * sizeof(*q));
    uint64_t *v = malloc((total + 1) * sizeof(*v));
    if (!q || !v) {
        free(q), free(v);
        return -1;
    }
    for (size_t k = 0; k < m->n; k++) {
        const struct multi_proc *p = m->p[k];
        const gto_snapshot *snap = p->s.cur;
        size_t n = gto_thread_count(snap), maxidx = gto_location_count(snap);
        uint64_t now = gto_snapshot_counters(snap)->now;
        for (size_t i = 0; i < n && nq < total; i++) {
            const struct gto_thread *th = gto_thread_at(snap, i);
            uint32_t r;
            if (th->state != GTO_STATE_PARKED || th->in_flux || !th->location ||
                th->location > maxidx || !(r = mapped(p, th->location)))
                continue;
            q[nq++] = (struct aged){r, gto_wait_age(th, now)};
        }
    }
    qsort(q, nq, sizeof(*q), cmp_aged);
    for (size_t i = 0; i < nq;) {
        size_t j = i;
        while (j < nq && q[j].row == q[i].row) {
            v[j - i] = q[j].age;
            j++;
        }
        size_t k = j - i;
        if (q[i].row >= 1 && q[i].row <= out->nlocs) {
            struct loc_row *l = &out->locs[q[i].row - 1];
            l->waiting = k;
            l->age_max = v[k - 1];
            l->age_p50 = gto_quantile(v, k, 0.50);
            l->age_p99 = gto_quantile(v, k, 0.99);
        }
        i = j;
    }
    free(q), free(v);
    return 0;
}

static int merge_locations(struct multi *m, struct tables *out, int split)
{
    size_t total = 0;
    for (size_t k = 0; k < m->n; k++)
        total += m->p[k]->tb.nlocs;
    struct lref *refs = malloc((total + 1) * sizeof(*refs));
    if (!refs)
        return -1;
    size_t nr = 0;
    for (size_t k = 0; k < m->n; k++) {
        struct multi_proc *p = m->p[k];
        free(p->to_merged);
        p->nmap = p->tb.nlocs + 1;
        p->to_merged = calloc(p->nmap, sizeof(*p->to_merged));
        if (!p->to_merged) {
            p->nmap = 0;
            free(refs);
            return -1;
        }
        for (size_t i = 0; i < p->tb.nlocs; i++)
            refs[nr++] = (struct lref){p->tb.locs[i].where, split ? p->s.pid : 0,
                                       (uint32_t)k, i};
    }
    qsort(refs, nr, sizeof(*refs), cmp_lref);
    out->locs = calloc(nr + 1, sizeof(*out->locs));
    out->row_of = calloc(nr + 2, sizeof(*out->row_of));
    if (!out->locs || !out->row_of) {
        free(refs);
        return -1;
    }
    size_t g = 0;
    for (size_t i = 0; i < nr;) {
        size_t j = i;
        while (j < nr && strcmp(refs[j].where, refs[i].where) == 0 && refs[j].pid == refs[i].pid)
            j++;
        struct loc_row *r = &out->locs[g];
        *r = m->p[refs[i].proc]->tb.locs[refs[i].row];
        r->index = (uint32_t)(g + 1);
        r->pid = refs[i].pid;
        r->arrivals_s = 0;
        r->arrivals = r->completed = r->wait_max = 0;
        r->waiting = r->age_p50 = r->age_p99 = r->age_max = 0;
        r->nblockers = 0;
        r->blocked_waiters = r->blocker_waiters = r->blocker_id = 0;
        r->blocker_pid = 0;
        r->nprocs = 0;
        uint64_t hist[GTO_HIST_BUCKETS] = {0}, total_wait = 0;
        uint32_t last_proc = UINT32_MAX;
        for (size_t k = i; k < j; k++) {
            struct multi_proc *p = m->p[refs[k].proc];
            const struct loc_row *l = &p->tb.locs[refs[k].row];
            if (refs[k].proc != last_proc)
                r->nprocs++;
            last_proc = refs[k].proc;
            r->arrivals_s += l->arrivals_s;
            r->arrivals += l->arrivals;
            r->completed += l->completed;
            if (l->wait_max > r->wait_max)
                r->wait_max = l->wait_max;
            r->now_exact &= l->now_exact;
            r->where_shared |= l->where_shared;
            r->nblockers += l->nblockers;
            r->blocked_waiters += l->blocked_waiters;
            if (l->nblockers && l->blocker_waiters > r->blocker_waiters) {
                r->blocker_waiters = l->blocker_waiters;
                r->blocker_id = l->blocker_id;
                r->blocker_pid = p->s.pid;
            }
            const struct gto_location *gl = gto_location_by_index(p->s.cur, l->index);
            if (gl) {
                for (int b = 0; b < GTO_HIST_BUCKETS; b++)
                    hist[b] += gl->hist[b];
                total_wait += gl->total_wait_ns;
            }
            if (l->index && l->index < p->nmap)
                p->to_merged[l->index] = r->index;
        }
        r->done_p50 = gto_hist_quantile(hist, GTO_HIST_BUCKETS, r->wait_max, 0.50);
        r->done_p99 = gto_hist_quantile(hist, GTO_HIST_BUCKETS, r->wait_max, 0.99);
        r->done_mean = r->completed ? total_wait / r->completed : 0;
        out->row_of[g + 1] = g + 1;
        g++;
        i = j;
    }
    out->nlocs = g;
    free(refs);
    return 0;
}

static int cmp_edge_ends(const void *a, const void *b)
{
    const struct edge_row *x = a, *y = b;
    if (x->from != y->from)
        return x->from < y->from ? -1 : 1;
    return (x->to > y->to) - (x->to < y->to);
}

static const char *merged_where(const struct tables *out, uint32_t index)
{
    return index && index <= out->nlocs ? out->locs[index - 1].where : "?";
}

static int merge_edges(struct multi *m, struct tables *out)
{
    size_t total = 0, n = 0;
    for (size_t k = 0; k < m->n; k++)
        total += m->p[k]->tb.nedges;
    struct edge_row *e = calloc(total + 1, sizeof(*e));
    if (!e)
        return -1;
    for (size_t k = 0; k < m->n; k++) {
        const struct multi_proc *p = m->p[k];
        for (size_t i = 0; i < p->tb.nedges; i++) {
            const struct edge_row *s = &p->tb.edges[i];
            uint32_t from = mapped(p, s->from), to = mapped(p, s->to);
            if ((s->from && !from) || !to)
                continue;   /* an end at no known location: no label to merge by */
            e[n] = *s;
            e[n].from = from;
            e[n].to = to;
            n++;
        }
    }
    qsort(e, n, sizeof(*e), cmp_edge_ends);
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        double per_s = 0, wsum = 0, runsum = 0;
        uint64_t count = 0;
        for (; j < n && e[j].from == e[i].from && e[j].to == e[i].to; j++) {
            per_s += e[j].per_s;
            count += e[j].count;
        }
        /* The mean run time over the interval: each process's weighted by
         * its transitions in it (by its lifetime count when none moved). */
        for (size_t k = i; k < j; k++) {
            double wk = per_s > 0 ? e[k].per_s : (double)e[k].count;
            wsum += wk;
            runsum += wk * (double)e[k].mean_run_ns;
        }
        struct edge_row r = e[i];
        r.per_s = per_s;
        r.count = count;
        r.mean_run_ns = wsum > 0 ? (uint64_t)(runsum / wsum + 0.5) : 0;
        r.from_where = r.from ? merged_where(out, r.from) : "(thread start)";
        r.to_where = merged_where(out, r.to);
        e[o++] = r;
        i = j;
    }
    out->edges = e;
    out->nedges = o;
    return 0;
}

static int merge_blocks(struct multi *m, struct tables *out)
{
    size_t total = 0, n = 0;
    for (size_t k = 0; k < m->n; k++)
        total += m->p[k]->tb.nblocks;
    struct block_row *b = calloc(total + 1, sizeof(*b));
    if (!b)
        return -1;
    for (size_t k = 0; k < m->n; k++) {
        const struct multi_proc *p = m->p[k];
        for (size_t i = 0; i < p->tb.nblocks; i++) {
            const struct block_row *s = &p->tb.blocks[i];
            uint32_t from = mapped(p, s->from);
            if (!from)
                continue;
            b[n] = *s;
            b[n].from = from;
            b[n].to = mapped(p, s->to);
            n++;
        }
    }
    /* The Graph view's order does not look at the texts: they can be
     * named after the sort. */
    size_t o = tables_merge_blocks(b, n);
    for (size_t i = 0; i < o; i++) {
        b[i].from_where = merged_where(out, b[i].from);
        b[i].to_where = b[i].to ? merged_where(out, b[i].to) : "";
    }
    out->blocks = b;
    out->nblocks = o;
    return 0;
}

static int by_where(const void *a, const void *b)
{
    return strcmp((*(const struct loc_row *const *)a)->where,
                  (*(const struct loc_row *const *)b)->where);
}

/* Every process's thread rows, their location ranks among the merged
 * rows' texts (sorting by location compares numbers). */
static int merge_threads(struct multi *m, struct tables *out)
{
    size_t total = 0;
    for (size_t k = 0; k < m->n; k++)
        total += m->p[k]->tb.nthreads;
    out->threads = calloc(total + 1, sizeof(*out->threads));
    uint32_t *rank = calloc(out->nlocs + 1, sizeof(*rank));
    struct loc_row **by = malloc((out->nlocs + 1) * sizeof(*by));
    if (!out->threads || !rank || !by) {
        free(rank), free(by);
        return -1;
    }
    for (size_t i = 0; i < out->nlocs; i++)
        by[i] = &out->locs[i];
    qsort(by, out->nlocs, sizeof(*by), by_where);
    uint32_t r = 0;
    for (size_t i = 0; i < out->nlocs; i++) {
        if (i == 0 || strcmp(by[i - 1]->where, by[i]->where) != 0)
            r++;
        rank[by[i]->index] = r;
    }
    size_t n = 0;
    for (size_t k = 0; k < m->n; k++) {
        const struct multi_proc *p = m->p[k];
        for (size_t i = 0; i < p->tb.nthreads && n < total; i++) {
            struct thread_row *t = &out->threads[n++];
            *t = p->tb.threads[i];
            uint32_t mi = t->where[0] ? mapped(p, t->th->location) : 0;
            t->where_rank = mi ? rank[mi] : 0;
            t->merged_location = mi;
        }
    }
    out->nthreads = n;
    free(rank), free(by);
    return 0;
}

int multi_merge(struct multi *m, struct tables *out, int with_threads, int split)
{
    memset(out, 0, sizeof(*out));
    m->hog = m->n;
    out->measured = m->n > 0;
    uint64_t best_run = 0;
    for (size_t k = 0; k < m->n; k++) {
        const struct tables *t = &m->p[k]->tb;
        for (int st = 0; st < GTO_STATE_COUNT; st++)
            out->nstate[st] += t->nstate[st];
        out->threads_in_flux += t->threads_in_flux;
        out->total_threads += t->total_threads;
        out->reserved += t->reserved;
        out->live += t->live;
        out->resident += t->resident;
        out->dead += t->dead;
        /* Resident and dead are known of the whole only when known of
         * every process. */
        out->measured &= t->measured;
        if (t->measured_age_ns > out->measured_age_ns)
            out->measured_age_ns = t->measured_age_ns;
        out->in_flux += t->in_flux;
        out->ncycles += t->ncycles;
        out->cycle_threads += t->cycle_threads;
        out->damaged += t->damaged;
        /* The header names one running thread: the one that has run
         * longest without yielding, of every process's. */
        if (t->running && (m->hog == m->n || t->hog.run_ns > best_run)) {
            m->hog = k;
            best_run = t->hog.run_ns;
            out->running = 1;
            out->hog = t->hog;
        }
    }
    if (merge_locations(m, out, split) < 0 || merge_ages(m, out) < 0 ||
        merge_edges(m, out) < 0 || merge_blocks(m, out) < 0 ||
        (with_threads && merge_threads(m, out) < 0)) {
        tables_free(out);
        return -1;
    }
    return 0;
}
