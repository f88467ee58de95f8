/*
 * blockers.c - who blocks whom and who holds the CPU, in gt-top's words:
 * the deadlock banner and cycles, the running thread's line, and their
 * JSON.  The words are the ones every gt reader shares (gt-stacks, the
 * GDB extension): "deadlock: cycle of N threads", a member line each,
 * thread 22 "holder".
 */
#include "blockers.h"

#include "multi.h"

#include <inttypes.h>
#include <string.h>

int deadlock_banner(const struct tables *tb, int screen, char *buf, size_t len)
{
    buf[0] = 0;
    if (!tb->ncycles)
        return 0;
    snprintf(buf, len, "DEADLOCK: %zu cycle%s, %" PRIu64 " thread%s%s", tb->ncycles,
             tb->ncycles == 1 ? "" : "s", tb->cycle_threads,
             tb->cycle_threads == 1 ? "" : "s", screen ? " -- press D for the list" : "");
    return 1;
}

int running_line(const struct sampler *s, const struct tables *tb, char *buf,
                 size_t len)
{
    const struct gto_counters *c = gto_snapshot_counters(s->cur);
    char text[256], age[48] = "", mark[48] = "", wd[64];
    int marked = 0;
    if (c->watchdog_ns)
        snprintf(wd, sizeof(wd), "; watchdog %s, %" PRIu64 " sample%s",
                 gto_fmt_duration(c->watchdog_ns, age, sizeof(age)), c->watchdog_events,
                 c->watchdog_events == 1 ? "" : "s");
    else
        snprintf(wd, sizeof(wd), "; watchdog off");
    age[0] = 0;
    if (!tb->running) {
        snprintf(buf, len, "Running: none%s", wd);
        return 0;
    }
    const struct gto_hog *h = &tb->hog;
    gto_hog_describe(s->cur, h, text, sizeof(text));
    /* A run time that is a lower bound past the mark is past it too; an
     * unknown one (a hand-off the watchdog has not seen) is not marked. */
    marked = h->run_ns && s->hog_mark_ns && h->run_ns >= s->hog_mark_ns;
    if (marked) {
        char d[32];
        snprintf(mark, sizeof(mark), "HOG over %s",
                 gto_fmt_duration(s->hog_mark_ns, d, sizeof(d)));
    }
    if (h->th->sampled && h->th->sample_ns && h->th->sample_ns <= c->now) {
        char d[32];
        snprintf(age, sizeof(age), " (stack sampled %s ago)",
                 gto_fmt_age(c->now - h->th->sample_ns, c->now_exact, d, sizeof(d)));
    }
    /* The mark first: an 80-column screen cuts the end of the line. */
    snprintf(buf, len, "%s: %s%s%s", marked ? mark : "Running", text, age, wd);
    return marked;
}

/* thread 22 "holder", as every reader names a thread. */
static const char *thread_words(const struct gto_thread *th, char *buf, size_t len)
{
    snprintf(buf, len, "thread %" PRIu64 " \"%s\"", th->id, th->name);
    return buf;
}

/* " at func (file:line)": the call site of TH's location, as a return
 * address (gto_block_describe names an owner's place so); "" without. */
static const char *place_words(const struct sampler *s, const struct gto_thread *th,
                               char *buf, size_t len)
{
    const struct gto_location *l = th->location ? gto_location_by_index(s->cur, th->location)
                                                : NULL;
    char label[GTO_LABEL_MAX];
    buf[0] = 0;
    if (l && l->depth)
        snprintf(buf, len, " at %s", gto_pc_label(s->target, l->pcs[0], 1, label, sizeof(label)));
    return buf;
}

size_t deadlock_lines(const struct sampler *s,
                      void (*emit)(void *ctx, const char *line), void *ctx)
{
    size_t n = gto_cycle_count(s->cur);
    char line[2 * GTO_LABEL_MAX + 512], who[GTO_NAME_MAX + 48], next[GTO_NAME_MAX + 48];
    char place[GTO_LABEL_MAX + 8], label[GTO_LABEL_MAX];
    for (size_t i = 0; i < n; i++) {
        const struct gto_cycle *cy = gto_cycle_at(s->cur, i);
        if (!cy)
            continue;
        snprintf(line, sizeof(line), "deadlock: cycle of %zu thread%s", cy->n,
                 cy->n == 1 ? "" : "s");
        emit(ctx, line);
        for (size_t m = 0; m < cy->n; m++) {
            const struct gto_thread *th = cy->threads[m];
            const struct gto_thread *to = cy->threads[(m + 1) % cy->n];
            const struct gto_thread *from = cy->threads[(m + cy->n - 1) % cy->n];
            const struct gto_block *b = gto_block_of(s->cur, th);
            const struct gto_block *fb = gto_block_of(s->cur, from);
            thread_words(th, who, sizeof(who));
            thread_words(to, next, sizeof(next));
            place_words(s, th, place, sizeof(place));
            if (b && b->kind == GT_WAIT_JOIN)
                snprintf(line, sizeof(line), "  %s%s waits to join %s", who, place, next);
            else
                snprintf(line, sizeof(line), "  %s%s waits for %s 0x%" PRIx64 " held by %s",
                         who, place, b ? gto_wait_kind_name(b->kind) : "mutex",
                         b ? b->obj : th->wait_obj, next);
            emit(ctx, line);
            /* What it holds: the mutex the member before it waits for. */
            if (fb && fb->kind == GT_WAIT_MUTEX) {
                snprintf(line, sizeof(line), "    holds mutex 0x%" PRIx64, fb->obj);
                emit(ctx, line);
            }
            const struct gto_location *l =
                th->location ? gto_location_by_index(s->cur, th->location) : NULL;
            if (l && l->depth) {
                snprintf(line, sizeof(line), "    where %s",
                         gto_location_label(s->target, l, label, sizeof(label)));
                emit(ctx, line);
            }
        }
    }
    return n;
}

const char *block_edge_words(const struct block_row *b, char *buf, size_t len)
{
    char who[48];
    if (b->threads == 1)
        snprintf(who, sizeof(who), "a");
    else
        snprintf(who, sizeof(who), "%zu", b->threads);
    const char *th = b->threads == 1 ? "thread" : "threads";
    if (b->to)
        snprintf(buf, len, "waits on %s %s parked at %s", who, th, b->to_where);
    else if (b->to_state == GTO_STATE_PARKED)
        snprintf(buf, len, "waits on %s %s parked at no known place", who, th);
    else
        snprintf(buf, len, "waits on %s %s %s", who, gto_state_name(b->to_state), th);
    return buf;
}

/* ---- JSON --------------------------------------------------------------- */

/* S's cycles as members of "deadlocks", after *FIRST ones; each names its
 * process when PID is not 0. */
static void json_cycles(FILE *out, const struct sampler *s, const struct multi_proc *mp,
                        size_t *first)
{
    pid_t pid = mp ? s->pid : 0;
    size_t n = gto_cycle_count(s->cur);
    for (size_t i = 0; i < n; i++) {
        const struct gto_cycle *cy = gto_cycle_at(s->cur, i);
        fprintf(out, "%s{", (*first)++ ? ", " : "");
        if (pid)
            fprintf(out, "\"pid\": %d, ", (int)pid);
        fprintf(out, "\"threads\": [");
        for (size_t m = 0; cy && m < cy->n; m++) {
            const struct gto_thread *th = cy->threads[m];
            const struct gto_block *b = gto_block_of(s->cur, th);
            fprintf(out, "%s{\"id\": %" PRIu64 ", \"name\": ", m ? ", " : "", th->id);
            gto_json_string(out, th->name);
            /* Over several processes, the merged row (bounded by the map). */
            uint32_t loc = th->location;
            if (mp)
                loc = loc && loc < mp->nmap ? mp->to_merged[loc] : 0;
            fprintf(out, ", \"location\": %u, \"waits_for\": {\"kind\": ", loc);
            gto_json_string(out, gto_wait_kind_name(b ? b->kind : (int)th->wait_kind));
            fprintf(out, ", \"object\": %" PRIu64 "}, \"held_by\": %" PRIu64 "}",
                    b ? b->obj : th->wait_obj, cy->threads[(m + 1) % cy->n]->id);
        }
        fprintf(out, "]}");
    }
}

/* "running" of TB's hog, read from S's snapshot; with its process when
 * PID is not 0. */
static void json_running(FILE *out, const struct sampler *s, const struct tables *tb,
                         pid_t pid)
{
    const struct gto_counters *c = gto_snapshot_counters(s->cur);
    if (!tb->running) {
        fprintf(out, ", \"running\": null");
        return;
    }
    const struct gto_hog *h = &tb->hog;
    fprintf(out, ", \"running\": {");
    if (pid)
        fprintf(out, "\"pid\": %d, ", (int)pid);
    fprintf(out, "\"id\": %" PRIu64 ", \"name\": ", h->th->id);
    gto_json_string(out, h->th->name);
    if (h->run_known)
        fprintf(out, ", \"run_ns\": %" PRIu64, h->run_ns);
    else
        fprintf(out, ", \"run_ns\": null");
    fprintf(out, ", \"run_exact\": %s, \"hog\": %s, \"threshold_ns\": %" PRIu64
            ", \"sampled\": %s, \"sample_age_ns\": ",
            h->run_exact ? "true" : "false", h->hog ? "true" : "false", h->threshold_ns,
            h->th->sampled ? "true" : "false");
    if (h->th->sampled && h->th->sample_ns <= c->now)
        fprintf(out, "%" PRIu64 "}", c->now - h->th->sample_ns);
    else
        fprintf(out, "null}");
}

void json_blockers(FILE *out, const struct sampler *s, const struct tables *tb)
{
    const struct gto_counters *c = gto_snapshot_counters(s->cur);
    size_t first = 0;
    fprintf(out, ", \"deadlocks\": [");
    json_cycles(out, s, NULL, &first);
    fprintf(out, "], \"threads_in_deadlock\": %" PRIu64, tb->cycle_threads);
    json_running(out, s, tb, 0);
    fprintf(out, ", \"watchdog\": {\"threshold_ns\": %" PRIu64 ", \"events\": %" PRIu64 "}",
            c->watchdog_ns, c->watchdog_events);
}

void json_blockers_multi(FILE *out, const struct multi *m, const struct tables *tb)
{
    size_t first = 0;
    uint64_t events = 0, threshold = 0;
    fprintf(out, ", \"deadlocks\": [");
    for (size_t k = 0; k < m->n; k++) {
        const struct sampler *s = &m->p[k]->s;
        const struct gto_counters *c = gto_snapshot_counters(s->cur);
        json_cycles(out, s, m->p[k], &first);
        events += c->watchdog_events;
        if (c->watchdog_ns > threshold)
            threshold = c->watchdog_ns;
    }
    fprintf(out, "], \"threads_in_deadlock\": %" PRIu64, tb->cycle_threads);
    if (m->hog < m->n)
        json_running(out, &m->p[m->hog]->s, tb, m->p[m->hog]->s.pid);
    else
        fprintf(out, ", \"running\": null");
    fprintf(out, ", \"watchdog\": {\"threshold_ns\": %" PRIu64 ", \"events\": %" PRIu64 "}",
            threshold, events);
}

void json_location_blockers(FILE *out, const struct sampler *s, uint32_t index)
{
    fprintf(out, ", \"blocked_by\": [");
    json_location_blocker_items(out, s, index, 0, NULL);
    fprintf(out, "]");
}

void json_location_blocker_items(FILE *out, const struct sampler *s, uint32_t index,
                                 pid_t pid, size_t *first)
{
    const struct gto_loc_blocker *b;
    size_t n = index ? gto_location_blockers(s->cur, index, &b) : 0, zero = 0;
    if (!first)
        first = &zero;
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "%s{", (*first)++ ? ", " : "");
        if (pid)
            fprintf(out, "\"pid\": %d, ", (int)pid);
        fprintf(out, "\"id\": %" PRIu64 ", \"waiters\": %zu}", b[i].by->id, b[i].waiters);
    }
}

void json_thread_block(FILE *out, const struct sampler *s, const struct gto_thread *th)
{
    const struct gto_counters *c = gto_snapshot_counters(s->cur);
    char text[2 * GTO_LABEL_MAX + 256];
    const struct gto_block *b = gto_block_of(s->cur, th);
    /* The wait alone where its block could not be read (a record in
     * flux): null only when it is not parked, as "wait". */
    fprintf(out, ", \"block\": ");
    gto_json_string(out, gto_block_describe(s->target, s->cur, th, text, sizeof(text)));
    fprintf(out, ", \"blocked_by\": ");
    if (!b || (b->kind != GT_WAIT_MUTEX && b->kind != GT_WAIT_JOIN && b->kind != GT_WAIT_COND)) {
        fprintf(out, "null");
        return;
    }
    fprintf(out, "{\"id\": ");
    if (b->by)
        fprintf(out, "%" PRIu64, b->by->id);
    else
        fprintf(out, "null");
    fprintf(out, ", \"kind\": \"%s\", \"object\": %" PRIu64 ", \"edge\": %s, \"held_ns\": ",
            gto_wait_kind_name(b->kind), b->obj, b->edge ? "true" : "false");
    if (b->kind != GT_WAIT_JOIN && b->held_since && b->held_since <= c->now)
        fprintf(out, "%" PRIu64, c->now - b->held_since);
    else
        fprintf(out, "null");
    fprintf(out, ", \"cycle\": ");
    if (b->cycle)
        fprintf(out, "%zu}", b->cycle);
    else
        fprintf(out, "null}");
}
