/*
 * tui.c - gt-top's screen: draws the tables the sampler and tables.c
 * produce, and maps keys to actions through a table.  It never computes a
 * figure itself; only the visible rows are formatted.
 */
#define _XOPEN_SOURCE_EXTENDED 1
#include "tui.h"

#include <curses.h>
#include <inttypes.h>
#include <locale.h>
#include <stdarg.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blockers.h"
#include "exit_status.h"
#include "multi.h"
#include "quit_signal.h"
#include "stack_report.h"
#include "tables.h"

#define MIN_COLS 60
#define MIN_LINES 12
/* At 80 columns the location needs the room: the screen shows these
 * location columns (batch output has them all), then the location;
 * BLOCKED BY only while some location's waiters are held up by a thread
 * (it takes 17 columns from the location). */
static const size_t screen_loc_columns[] = {0, 1, 3, 4, 6};   /* WAITING ARRIV/s
                                                             * AGE99 OLDEST
                                                             * BLOCKED BY */
#define SCREEN_LOC_COLUMNS (sizeof(screen_loc_columns) / sizeof(screen_loc_columns[0]))
#define SPARK_COLUMNS 10

enum { ACT_NONE = 0, ACT_REDRAW = 1, ACT_QUIT = 2, ACT_RESAMPLE = 4 };
enum { PAIR_HEADER = 1, PAIR_TITLE, PAIR_SELECT, PAIR_ALERT };

/* What the user is looking at below the view: nothing, the threads and
 * backtrace groups of one location, or one thread's backtrace. */
enum drill { DRILL_NONE, DRILL_LOCATION, DRILL_THREAD, DRILL_DEADLOCKS };

/* The list's columns as the last screen drew them (layout_compute). */
#define LAYOUT_MAX 16
struct layout {
    const struct column *cols;   /* the view's table; NULL: no columns */
    size_t n;
    size_t col[LAYOUT_MAX];      /* index in cols */
    int x[LAYOUT_MAX], w[LAYOUT_MAX];
};

/* What the cursor is on, so that it stays there when the rows move (a
 * refresh, another order, another filter, back from a drill-down), as
 * htop's stays on its process: a thread's id, a location's index, a
 * Graph row's place.  Taken while the rows it reads are valid. */
struct cursor {
    int valid;
    uint64_t key;
    size_t offset;            /* its line on screen below the first row */
};

struct ui {
    struct sampler *s;        /* the one process's; over several, the
                               * first's (its clock for the bar) */
    struct multi *m;          /* several processes, NULL for one */
    int split;                /* P: the Locations rows by process */
    struct stack_report *mstacks;   /* the Stacks view, a report per process */
    size_t nmstacks;
    pid_t drill_pid;          /* the drilled thread's process, or the
                               * drilled row's when split (several) */
    struct tables tb;
    int have_tables;
    enum view view;
    size_t sort_col[VIEW_COUNT];
    int sort_desc[VIEW_COUNT];
    char filter[64];
    size_t *shown;            /* rows of the current list that pass */
    size_t nshown;
    size_t selected, top;     /* the list's cursor and first row shown */
    size_t dtop;              /* first line shown of a drill-down or the
                               * Stacks view */
    char **help_lines;        /* the help, built as it is drawn */
    size_t nhelp, htop;       /* its lines, the first shown */
    char search[64];          /* the last search (F3) */
    size_t search_start;      /* the row it looks from */
    struct cursor edit_cursor; /* where the cursor was when the filter's
                                * prompt opened */
    int paused, help, colour;
    int tree;                 /* F5: the Threads view as a tree */
    double delay;
    long iterations;          /* -n: refreshes before quitting, 0 none */
    long refreshes;           /* screens drawn from a new snapshot */
    enum drill drill;
    uint32_t drill_loc;
    uint64_t drill_thread;
    char **drill_lines;       /* formatted once per drill-down */
    size_t ndrill;
    double drill_at, drill_cost; /* when it was read last, and what that
                                  * took (wall seconds) */
    struct stack_report stacks;
    int have_stacks;
    enum gto_class_by class_by;
    char message[GTO_ERR_MAX + 64];
    double message_until;     /* a note of processes that came and went
                               * is kept on screen until then */
    int header_n;             /* header lines drawn last */
    struct layout lay;        /* the list's columns as drawn last */
};

/* Location columns on screen: BLOCKED BY (the last of screen_loc_columns)
 * only while it says something. */
static size_t screen_loc_ncolumns(const struct ui *u)
{
    for (size_t i = 0; i < u->tb.nlocs; i++)
        if (u->tb.locs[i].nblockers)
            return SCREEN_LOC_COLUMNS;
    return SCREEN_LOC_COLUMNS - 1;
}

/* ---- rows of the current view ------------------------------------------- */

static const char *row_text_for_filter(const struct ui *u, size_t i)
{
    if (u->view == VIEW_LOCATIONS)
        return u->tb.locs[i].where;
    const struct thread_row *r = &u->tb.threads[i];
    return r->where;
}

/* Row I of the current list holds TEXT in its location, name or state:
 * what the filter keeps and the search finds. */
static int row_matches(const struct ui *u, size_t i, const char *text)
{
    if (!text[0])
        return 1;
    if (u->view == VIEW_GRAPH)
        return 0;
    if (strstr(row_text_for_filter(u, i), text))
        return 1;
    if (u->view == VIEW_THREADS) {
        const struct gto_thread *th = u->tb.threads[i].th;
        return strstr(th->name, text) || strstr(gto_state_name(th->state), text);
    }
    return 0;
}

static int row_passes(const struct ui *u, size_t i)
{
    return u->view == VIEW_GRAPH || row_matches(u, i, u->filter);
}

static size_t list_len(const struct ui *u)
{
    switch (u->view) {
    case VIEW_LOCATIONS: return u->tb.nlocs;
    case VIEW_THREADS: return u->tb.nthreads;
    case VIEW_GRAPH: return u->tb.nedges + u->tb.nblocks;
    default: return 0;
    }
}

static uint64_t row_key(const struct ui *u, size_t i)
{
    if (u->view == VIEW_THREADS && u->m)
        /* Thread ids are per process: the pid in the high bits. */
        return (uint64_t)u->tb.threads[i].s->pid << 40 ^ u->tb.threads[i].th->id;
    if (u->view == VIEW_THREADS)
        return u->tb.threads[i].th->id;
    if (u->view == VIEW_LOCATIONS)
        return u->tb.locs[i].index;
    return i;
}

static struct cursor cursor_save(const struct ui *u)
{
    struct cursor c = {0, 0, 0};
    if (u->have_tables && u->shown && u->selected < u->nshown) {
        c.valid = 1;
        c.key = row_key(u, u->shown[u->selected]);
        c.offset = u->selected >= u->top ? u->selected - u->top : 0;
    }
    return c;
}

/* Puts the cursor back on C's row at its line on screen; a row gone (a
 * thread that exited, one the filter leaves out) leaves the cursor at
 * its place in the list, kept in range. */
static void cursor_restore(struct ui *u, struct cursor c)
{
    if (c.valid)
        for (size_t k = 0; k < u->nshown; k++)
            if (row_key(u, u->shown[k]) == c.key) {
                u->selected = k;
                u->top = k >= c.offset ? k - c.offset : 0;
                break;
            }
    if (u->selected >= u->nshown)
        u->selected = u->nshown ? u->nshown - 1 : 0;
}

/* Sorts and filters the current list; the cursor stays on its row (C,
 * saved before the rows changed) or in range. */
static void arrange_from(struct ui *u, struct cursor c)
{
    if (!u->have_tables)
        return;
    if (u->view == VIEW_LOCATIONS)
        tables_sort_locs(&u->tb, u->sort_col[u->view], u->sort_desc[u->view]);
    else if (u->view == VIEW_THREADS &&
             tables_sort_threads(u->tb.threads, u->tb.nthreads, u->sort_col[u->view],
                                 u->sort_desc[u->view]) < 0)
        snprintf(u->message, sizeof(u->message), "out of memory sorting %zu threads",
                 u->tb.nthreads);
    if (u->view == VIEW_THREADS) {
        /* A row keeps its depth through a sort: a flat list sets none. */
        for (size_t i = 0; i < u->tb.nthreads; i++)
            u->tb.threads[i].depth = 0;
        if (u->tree && tables_tree_threads(u->tb.threads, u->tb.nthreads) < 0)
            snprintf(u->message, sizeof(u->message), "out of memory: no tree of %zu threads",
                     u->tb.nthreads);
    }
    size_t n = list_len(u);
    free(u->shown);
    u->shown = malloc((n + 1) * sizeof(*u->shown));
    u->nshown = 0;
    if (!u->shown)
        return;
    for (size_t i = 0; i < n; i++)
        if (row_passes(u, i))
            u->shown[u->nshown++] = i;
    cursor_restore(u, c);
}

static void arrange(struct ui *u) { arrange_from(u, cursor_save(u)); }

static void mstacks_free(struct ui *u)
{
    for (size_t k = 0; k < u->nmstacks; k++)
        stack_report_free(&u->mstacks[k]);
    free(u->mstacks);
    u->mstacks = NULL;
    u->nmstacks = 0;
}

/* The tables afresh from the current snapshots, the cursor back on C. */
static void rebuild_from(struct ui *u, struct cursor c)
{
    if (u->have_tables)
        tables_free(&u->tb);
    /* The screen keeps the thread rows: a key switches to their view. */
    if (u->m) {
        u->s = &u->m->p[0]->s;
        u->have_tables = multi_build(u->m, &u->tb, 1, u->split) == 0;
    } else {
        u->have_tables = tables_build(&u->tb, u->s, 1) == 0;
    }
    if (u->have_stacks && !u->m)
        stack_report_free(&u->stacks);
    u->have_stacks = 0;
    mstacks_free(u);
    if (u->view == VIEW_STACKS && u->m) {
        u->mstacks = calloc(u->m->n + 1, sizeof(*u->mstacks));
        for (size_t k = 0; u->mstacks && k < u->m->n; k++, u->nmstacks++)
            if (stack_report_build(&u->mstacks[k], u->m->p[k]->s.target, u->m->p[k]->s.cur,
                                   u->class_by, u->message) < 0)
                break;
        u->have_stacks = u->mstacks != NULL;
    } else if (u->view == VIEW_STACKS) {
        u->have_stacks = stack_report_build(&u->stacks, u->s->target, u->s->cur,
                                            u->class_by, u->message) == 0;
    }
    arrange_from(u, c);
}

static void rebuild(struct ui *u) { rebuild_from(u, cursor_save(u)); }

static void deadlocks_open(struct ui *u);
static void drill_open(struct ui *u);
static double now_s(void);
static void draw(struct ui *u);

/* Over several processes: new ones (--name), the next snapshots, a
 * process that exited dropped with a note on the last line.  The rows
 * point into the snapshots: they go first, the cursor kept. */
static void resample_multi(struct ui *u)
{
    char err[GTO_ERR_MAX];
    struct multi *m = u->m;
    struct cursor c = cursor_save(u);
    m->flags = GTO_SNAP_BLOCKERS |
               (u->view == VIEW_STACKS ? GTO_SNAP_UNWIND | GTO_SNAP_MEASURE : 0);
    if (m->pattern)
        multi_scan(m);
    if (u->have_tables)
        tables_free(&u->tb);
    u->have_tables = 0;
    int rc = multi_step(m, err);
    /* What came and went stays on the last line for 10 s (and until the
     * next news), as a note, not an error. */
    if (m->note[0]) {
        snprintf(u->message, sizeof(u->message), "%s", m->note);
        u->message_until = now_s() + 10;
    } else if (now_s() >= u->message_until) {
        u->message[0] = 0;
    }
    m->note[0] = 0;
    if (rc < 0)
        snprintf(u->message, sizeof(u->message), "every process has exited: showing the "
                 "last snapshot (q quits)");
    rebuild_from(u, c);
    if (u->drill == DRILL_DEADLOCKS)
        deadlocks_open(u);
    else if (u->drill != DRILL_NONE && now_s() - u->drill_at >= 10 * u->drill_cost)
        drill_open(u);
}

static void resample(struct ui *u)
{
    char err[GTO_ERR_MAX];
    if (u->m) {
        resample_multi(u);
        return;
    }
    u->s->flags = GTO_SNAP_BLOCKERS |
                  (u->view == VIEW_STACKS ? GTO_SNAP_UNWIND | GTO_SNAP_MEASURE : 0);
    if (sampler_step(u->s, err) < 0) {
        snprintf(u->message, sizeof(u->message), "%s",
                 u->s->target_gone ? "the target has exited: showing the last snapshot (q quits)"
                                   : err);
        return;
    }
    u->message[0] = 0;
    rebuild(u);
    /* What is shown below the view follows the program: a thread's
     * wait, backtrace and stack, a location's threads. */
    if (u->drill == DRILL_DEADLOCKS)
        deadlocks_open(u);
    else if (u->drill != DRILL_NONE && now_s() - u->drill_at >= 10 * u->drill_cost)
        drill_open(u);
}

/* ---- drill-down --------------------------------------------------------- */

static void drill_free(struct ui *u)
{
    for (size_t i = 0; i < u->ndrill; i++)
        free(u->drill_lines[i]);
    free(u->drill_lines);
    u->drill_lines = NULL;
    u->ndrill = 0;
}

static void drill_add(struct ui *u, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void drill_add(struct ui *u, const char *fmt, ...)
{
    char **l = realloc(u->drill_lines, (u->ndrill + 1) * sizeof(*l));
    if (!l)
        return;
    u->drill_lines = l;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&l[u->ndrill], fmt, ap) >= 0)
        u->ndrill++;
    va_end(ap);
}

static void drill_frames(struct ui *u, gto_target *t, const struct gto_thread *th)
{
    char where[256], note[256];
    if (th->unwind_status != GTO_UNWIND_OK && !th->nframes)
        drill_add(u, "    (no backtrace: unwind status %d)", th->unwind_status);
    for (size_t f = 0; f < th->nframes; f++) {
        const struct gto_symbol *sym;
        size_t n = gto_frame_symbols(t, th, f, &sym);
        for (size_t k = 0; k < n; k++) {
            const char *file = sym[k].file ? strrchr(sym[k].file, '/') : NULL;
            snprintf(where, sizeof(where), "%s:%d",
                     file ? file + 1 : sym[k].file ? sym[k].file : "?", sym[k].line);
            drill_add(u, "    #%-3zu %s%s (%s)  %" PRIu64 " B", gto_frame_number(th, f),
                      sym[k].inlined ? "[inlined] " : "", sym[k].function, where,
                      th->frames[f].size);
        }
    }
    /* A lone trampoline frame needs its reason: nothing is on the stack. */
    if (th->unwind_status == GTO_UNWIND_OK && gto_fresh_note(t, th, note, sizeof(note)))
        drill_add(u, "    (%s)", note);
}

/* Where TH waits, read from its own snapshot SRC (the tables' rows are
 * the last refresh's, where the thread may have been elsewhere or not
 * yet): "?" for no known location. */
static const char *thread_where(gto_target *t, const gto_snapshot *src,
                                const struct gto_thread *th, char *buf, size_t len)
{
    const struct gto_location *loc = gto_location_by_index(src, th->location);
    if (!loc || !gto_location_label(t, loc, buf, len)[0])
        snprintf(buf, len, "?");
    return buf;
}

/* The drill-down's lines of process S (TO_MERGED: its location indices'
 * merged rows over several processes, NULL for one). */
static void drill_one(struct ui *u, struct sampler *s, const struct multi_proc *mp)
{
    char err[GTO_ERR_MAX], buf[64], buf2[64], buf3[64];
    gto_snapshot *snap;
    /* One unwound snapshot for this screen: the cost is paid once, when
     * someone asks for backtraces, not on every refresh. */
    for (int tries = 0;; tries++) {
        if (gto_snapshot_take(s->target, GTO_SNAP_UNWIND | GTO_SNAP_MEASURE |
                              GTO_SNAP_BLOCKERS, &snap, err) < 0) {
            snap = NULL;
            break;
        }
        /* A running thread unwinds only from the watchdog's sample of its
         * slice, and the library drops a sample rewritten while it read
         * (the watchdog samples a hog again every threshold): a read
         * that crossed one is taken again, twice at most. */
        const struct gto_thread *th = u->drill == DRILL_THREAD
                                          ? gto_thread_by_id(snap, u->drill_thread) : NULL;
        if (tries == 2 || !th || th->state != GTO_STATE_RUNNING || th->sampled ||
            !gto_snapshot_counters(snap)->watchdog_ns)
            break;
        gto_snapshot_free(snap);
    }
    const gto_snapshot *src = snap ? snap : s->cur;
    uint64_t now = gto_snapshot_counters(src)->now;
    int exact = gto_snapshot_counters(src)->now_exact;
    char wait[2 * GTO_LABEL_MAX + 256], label[GTO_LABEL_MAX];
    if (u->drill == DRILL_THREAD) {
        const struct gto_thread *th = gto_thread_by_id(src, u->drill_thread);
        if (!th) {
            drill_add(u, "thread %" PRIu64 " is gone", u->drill_thread);
        } else {
            drill_add(u, "Thread %" PRIu64 " \"%s\"  %s  parent %" PRIu64, th->id,
                      th->name, gto_state_name(th->state), th->parent);
            if (th->state == GTO_STATE_PARKED)
                /* The age before the location: a label with its callers
                 * runs past the screen's edge. */
                drill_add(u, "  waiting %s on %s at %s",
                          gto_fmt_age(gto_wait_age(th, now),
                                      exact, buf, sizeof(buf)),
                          gto_block_describe(s->target, src, th, wait, sizeof(wait)),
                          thread_where(s->target, src, th, label, sizeof(label)));
            struct gto_hog h;
            if (th->state == GTO_STATE_RUNNING && gto_hog(src, &h) && h.th == th)
                drill_add(u, "  %s%s", gto_hog_describe(src, &h, wait, sizeof(wait)),
                          th->sampled ? " (backtrace from a stack sample)" : "");
            drill_add(u, "  run %s, %" PRIu64 " switches, stack live %s of %s",
                      gto_fmt_duration(th->run_ns, buf, sizeof(buf)), th->switches,
                      gto_fmt_bytes(th->live, buf2, sizeof(buf2)),
                      gto_fmt_bytes(th->reserved, buf3, sizeof(buf3)));
            drill_add(u, "  backtrace:");
            drill_frames(u, s->target, th);
        }
    } else {
        size_t n = gto_thread_count(src), k = 0, maxidx = gto_location_count(src);
        const struct gto_thread **at = malloc((n + 1) * sizeof(*at));
        for (size_t i = 0; at && i < n; i++) {
            const struct gto_thread *th = gto_thread_at(src, i);
            if (th->state != GTO_STATE_PARKED)
                continue;
            /* Over several processes the row is merged: this process's
             * locations of that row (bounded by its snapshot and map). */
            uint32_t loc = th->location;
            if (mp)
                loc = loc && loc <= maxidx && loc < mp->nmap ? mp->to_merged[loc] : 0;
            if (loc == u->drill_loc)
                at[k++] = th;
        }
        drill_add(u, "  %zu threads waiting", k);
        struct gto_group *g = NULL;
        char gerr[GTO_ERR_MAX];
        ssize_t ng = at ? gto_group(src, at, k, &g, gerr) : -1;
        for (ssize_t i = 0; i < ng; i++) {
            drill_add(u, "%s", "");
            drill_add(u, "  %zu threads, waiting %s..%s  (thread %" PRIu64 " \"%s\"%s)",
                      g[i].count, gto_fmt_age(g[i].wait_min, exact, buf, sizeof(buf)),
                      gto_fmt_age(g[i].wait_max, exact, buf2, sizeof(buf2)), g[i].rep->id,
                      g[i].rep->name, g[i].count > 1 ? " and others" : "");
            drill_frames(u, s->target, g[i].rep);
            for (size_t m = 0; m < g[i].count && m < 50; m++)
                drill_add(u, "      thread %" PRIu64 " \"%s\"", g[i].threads[m]->id,
                          g[i].threads[m]->name);
        }
        /* No group is still an array to free (gtobserve.h: freed with
         * gto_groups_free): a location with no thread left leaked it. */
        if (ng >= 0)
            gto_groups_free(g, (size_t)ng);
        free(at);
    }
    if (snap)
        gto_snapshot_free(snap);
}

static void drill_open(struct ui *u)
{
    /* Read again on the refreshes while it is shown, but it unwinds every
     * thread (220 ms at 100K): at most a tenth of the time goes to it. */
    u->drill_at = now_s();
    drill_free(u);
    if (u->drill == DRILL_LOCATION) {
        const struct loc_row *l = tables_loc(&u->tb, u->drill_loc);
        drill_add(u, "Location %s", l ? l->where : "?");
    }
    if (!u->m) {
        drill_one(u, u->s, NULL);
    } else {
        /* A thread in its own process; a location in each, under its
         * name. */
        for (size_t k = 0; k < u->m->n; k++) {
            struct multi_proc *p = u->m->p[k];
            if ((u->drill == DRILL_THREAD || u->drill_pid) && p->s.pid != u->drill_pid)
                continue;
            drill_add(u, "%s:", gto_target_name(p->s.target));
            drill_one(u, &p->s, p);
        }
    }
    u->drill_cost = now_s() - u->drill_at;
    /* Opened again on the refreshes: the lines stay where they were
     * scrolled to, within the new ones. */
    if (u->dtop >= u->ndrill)
        u->dtop = u->ndrill ? u->ndrill - 1 : 0;
}

/* A line of the deadlock list, wrapped at the screen's width (at a space,
 * the rest indented) rather than cut: a member's line names who holds its
 * mutex at its end.  Lines are ASCII but for thread names, so bytes count
 * as columns near enough: a wide name wraps early, never loses text. */
static void deadlock_emit(void *ctx, const char *line)
{
    struct ui *u = ctx;
    size_t width = COLS > 20 ? (size_t)COLS : 20, indent = 0;
    while (strlen(line) + indent > width) {
        size_t room = width - indent, cut = room;
        while (cut > room / 2 && line[cut] != ' ')
            cut--;
        if (line[cut] != ' ')
            cut = room;
        drill_add(u, "%*s%.*s", (int)indent, "", (int)cut, line);
        line += cut;
        while (*line == ' ')
            line++;
        indent = 6;
    }
    drill_add(u, "%*s%s", (int)indent, "", line);
}

/* The deadlock list (D): every cycle of the current snapshot in the words
 * gt-stacks prints, rebuilt on each refresh while it is shown. */
static void deadlocks_open(struct ui *u)
{
    char banner[256];
    drill_free(u);
    if (!u->have_tables || !deadlock_banner(&u->tb, 0, banner, sizeof(banner))) {
        drill_add(u, "no deadlock");
    } else {
        drill_add(u, "%s  (Esc goes back)", banner);
        drill_add(u, "%s", "");
        if (!u->m)
            deadlock_lines(u->s, deadlock_emit, u);
        /* Over several processes each one's cycles under its name: the
         * ids are its own. */
        for (size_t k = 0; u->m && k < u->m->n; k++)
            if (gto_cycle_count(u->m->p[k]->s.cur)) {
                drill_add(u, "%s:", gto_target_name(u->m->p[k]->s.target));
                deadlock_lines(&u->m->p[k]->s, deadlock_emit, u);
            }
    }
    if (u->dtop >= u->ndrill)
        u->dtop = u->ndrill ? u->ndrill - 1 : 0;
}

/* ---- drawing ------------------------------------------------------------ */

/* The bar under the header; a click on a view's name opens it. */
static const char view_bar[] = " [1]Locations [2]Threads [3]Stacks [4]Graph";

static void put_line(int y, const char *text, int attr)
{
    if (attr)
        attron(attr);
    /* COLS characters, not bytes: names and the sparkline's blocks are
     * several bytes a character. */
    size_t bytes = 0;
    for (int c = 0; text[bytes] && c < COLS; c++) {
        bytes++;
        while (((unsigned char)text[bytes] & 0xc0) == 0x80)
            bytes++;
    }
    mvaddnstr(y, 0, text, (int)bytes);
    clrtoeol();
    if (attr)
        attroff(attr);
}

/* TEXT (ASCII) wrapped at spaces to the screen's width from the first
 * line down, as many lines as fit: the message that says the terminal is
 * too small must itself fit in it. */
static void put_wrapped(const char *text)
{
    size_t width = COLS > 1 ? (size_t)COLS : 1;
    for (int y = 0; *text && y < LINES; y++) {
        size_t n = strlen(text), cut = n;
        if (n > width) {
            cut = width;
            while (cut > 0 && text[cut] != ' ')
                cut--;
            if (cut == 0)
                cut = width;
        }
        mvaddnstr(y, 0, text, (int)cut);
        text += cut;
        while (*text == ' ')
            text++;
    }
}

/* Characters (UTF-8 sequences) in TEXT: names are valid UTF-8, and a
 * column's width counts characters, not bytes. */
static size_t text_chars(const char *text)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        n += (*p & 0xc0) != 0x80;
    return n;
}

/* Appends CELL to OUT (at *AT, LEN bytes) in W characters, cut after W
 * (never inside a UTF-8 sequence) or padded on ALIGN's side; W < 0: as
 * it is. */
static void put_cell(char *out, size_t len, size_t *at, const char *cell, int w,
                     enum col_align align)
{
    size_t chars = w < 0 ? text_chars(cell) : (size_t)w, n = text_chars(cell), bytes = 0;
    size_t pad = n < chars ? chars - n : 0;
    /* The bytes of the first CHARS characters. */
    for (size_t c = 0; cell[bytes] && c < chars; c++) {
        bytes++;
        while (((unsigned char)cell[bytes] & 0xc0) == 0x80)
            bytes++;
    }
    if (*at + bytes + pad + 1 > len)
        return;
    if (align == COL_RIGHT) {
        memset(out + *at, ' ', pad);
        *at += pad;
    }
    memcpy(out + *at, cell, bytes);
    *at += bytes;
    if (align != COL_RIGHT) {
        memset(out + *at, ' ', pad);
        *at += pad;
    }
    out[*at] = 0;
}

static int body_height(const struct ui *u);

/* The columns of the current list as drawn: which of the view's table,
 * where and how wide.  A column that would not fit whole is left out
 * (the sort menu and the mouse know only these); the room left over goes
 * to the text columns whose rows on screen hold more than their width,
 * least wanting first, so that every text that can be shown whole is and
 * the widest text column grows with the terminal.  A column of width 0
 * (the Locations view's LOCATION) takes what is left.  Only the rows on
 * screen are measured: 100K threads cost what 20 do. */
static void layout_compute(struct ui *u)
{
    struct layout *l = &u->lay;
    const size_t *pick = NULL;
    size_t ncand = 0;
    int avail = COLS;
    l->n = 0;
    l->cols = NULL;
    if (u->drill != DRILL_NONE || !u->have_tables)
        return;
    if (u->view == VIEW_LOCATIONS) {
        l->cols = loc_columns;
        pick = screen_loc_columns;
        ncand = screen_loc_ncolumns(u);
        avail -= SPARK_COLUMNS + 1;          /* " QUEUE" and the sparkline */
    } else if (u->view == VIEW_THREADS) {
        l->cols = thread_columns;
        ncand = thread_ncolumns;
    } else {
        return;
    }
    int h = body_height(u), x = 0;
    size_t cand[LAYOUT_MAX + 2], nc = 0;
    /* Over several processes PID comes first: in the Threads view, and
     * in the Locations view split by process. */
    if (u->m && (u->view == VIEW_THREADS || u->split))
        cand[nc++] = u->view == VIEW_THREADS ? thread_ncolumns : loc_ncolumns;
    for (size_t k = 0; k < ncand && nc < LAYOUT_MAX; k++)
        cand[nc++] = pick ? pick[k] : k;
    if (pick)
        cand[nc++] = loc_ncolumns - 1;    /* LOCATION, the rest */
    ncand = nc;
    int rest = -1;
    for (size_t k = 0; k < ncand && l->n < LAYOUT_MAX; k++) {
        const struct column *c = &l->cols[cand[k]];
        int w = c->width ? c->width : 8;
        if (x + w > avail)
            break;
        if (!c->width)
            rest = (int)l->n;
        l->col[l->n] = cand[k];
        l->x[l->n] = x;
        l->w[l->n] = w;
        l->n++;
        x += w + 1;
    }
    int extra = avail - (x ? x - 1 : 0);
    /* What each text column's rows on screen want beyond its width. */
    int want[LAYOUT_MAX] = {0};
    char cell[WHERE_MAX + 32];
    for (int r = 0; r < h && u->top + (size_t)r < u->nshown; r++) {
        size_t i = u->shown[u->top + (size_t)r];
        const void *row = u->view == VIEW_LOCATIONS ? (const void *)&u->tb.locs[i]
                                                    : (const void *)&u->tb.threads[i];
        for (size_t k = 0; k < l->n; k++) {
            const struct column *c = &l->cols[l->col[k]];
            if (c->align == COL_RIGHT || (int)k == rest)
                continue;
            c->format(row, cell, sizeof(cell));
            int more = (int)text_chars(cell) - l->w[k];
            if (more > want[k])
                want[k] = more;
        }
    }
    /* Least wanting first, each whole while what is left allows (as many
     * columns whole as can be); once none fits, the rest share what is
     * left (the first ones a character more for the remainder). */
    for (;;) {
        int nwant = 0, least = -1;
        for (size_t k = 0; k < l->n; k++)
            if (want[k] > 0) {
                nwant++;
                if (least < 0 || want[k] < want[least])
                    least = (int)k;
            }
        if (!nwant || extra <= 0)
            break;
        if (want[least] <= extra) {
            l->w[least] += want[least];
            extra -= want[least];
            want[least] = 0;
            continue;
        }
        int share = extra / nwant, more = extra % nwant;
        for (size_t k = 0; k < l->n; k++)
            if (want[k] > 0) {
                int give = share + (more > 0);
                more -= more > 0;
                l->w[k] += give;
                extra -= give;
            }
        break;
    }
    if (rest >= 0 && extra > 0)
        l->w[rest] += extra;
    for (size_t k = 1; k < l->n; k++)
        l->x[k] = l->x[k - 1] + l->w[k - 1] + 1;
}

/* One row's cells as laid out, or with ROW NULL the titles, the sort
 * column's marked with its direction: ^ ascending, v descending. */
static void format_columns(const struct ui *u, char *out, size_t len, const void *row)
{
    const struct layout *l = &u->lay;
    char cell[WHERE_MAX + 32];
    size_t at = 0;
    out[0] = 0;
    for (size_t k = 0; k < l->n; k++) {
        size_t i = l->col[k];
        if (row)
            l->cols[i].format(row, cell, sizeof(cell));
        else
            snprintf(cell, sizeof(cell), "%s%s", l->cols[i].title,
                     i != u->sort_col[u->view] ? "" : u->sort_desc[u->view] ? "v" : "^");
        if (k)
            put_cell(out, len, &at, " ", -1, COL_LEFT);
        put_cell(out, len, &at, cell, l->w[k], l->cols[i].align);
    }
}

/* SHOW queue lengths, oldest first, in eight levels of block scaled to
 * the highest, into OUT. */
static void spark_draw(const uint64_t *len, unsigned show, char *out, size_t olen)
{
    static const char *const blocks[] = {" ", "\u2581", "\u2582", "\u2583", "\u2584",
                                         "\u2585", "\u2586", "\u2587", "\u2588"};
    uint64_t max = 1;
    for (unsigned k = 0; k < show; k++)
        if (len[k] > max)
            max = len[k];
    size_t at = 0;
    out[0] = 0;
    for (unsigned k = 0; k < show; k++) {
        /* len * 8 cannot wrap: a queue is counted in 32 bits. */
        const char *b = blocks[(len[k] * 8 + max - 1) / max];
        size_t bl = strlen(b);
        if (at + bl + 1 > olen)
            break;
        memcpy(out + at, b, bl);
        at += bl;
    }
    out[at] = 0;
}

/* A queue's last minute in eight levels of block. */
static void sparkline(const struct sampler *s, uint32_t index, char *out, size_t len)
{
    uint64_t v[SPARK_COLUMNS];
    out[0] = 0;
    if (index >= s->nhist)
        return;
    const struct loc_history *h = &s->hist[index];
    unsigned show = h->filled < SPARK_COLUMNS ? h->filled : SPARK_COLUMNS;
    for (unsigned k = 0; k < show; k++)
        v[k] = h->len[(h->next + SPARK_LEN - show + k) % SPARK_LEN];
    spark_draw(v, show, out, len);
}

/* Over several processes: a merged row's queue, the sum of its
 * processes' own locations' histories, each aligned on its latest
 * refresh (every process is sampled at each one; one that came later has
 * no earlier lengths: 0 there). */
static void sparkline_multi(const struct multi *m, uint32_t index, char *out, size_t len)
{
    uint64_t v[SPARK_COLUMNS] = {0};
    unsigned show = 0;
    for (size_t k = 0; k < m->n; k++) {
        const struct multi_proc *p = m->p[k];
        for (size_t i = 1; i < p->nmap && i < p->s.nhist; i++) {
            if (p->to_merged[i] != index)
                continue;
            const struct loc_history *h = &p->s.hist[i];
            unsigned have = h->filled < SPARK_COLUMNS ? h->filled : SPARK_COLUMNS;
            if (have > show)
                show = have;
            for (unsigned j = 0; j < have; j++)   /* j refreshes ago */
                v[SPARK_COLUMNS - 1 - j] += h->len[(h->next + SPARK_LEN - 1 - j) % SPARK_LEN];
        }
    }
    spark_draw(v + SPARK_COLUMNS - show, show, out, len);
}

/* The first part of a location label ("func (file:line)" before " < "). */
static const char *call_site(const char *label, char *buf, size_t len)
{
    const char *end = strstr(label, " < ");
    snprintf(buf, len, "%.*s", end ? (int)(end - label) : (int)strlen(label), label);
    return buf;
}

static void format_row(const struct ui *u, size_t i, char *line, size_t len)
{
    if (u->view == VIEW_LOCATIONS) {
        char spark[128];
        format_columns(u, line, len, &u->tb.locs[i]);
        if (u->m)
            sparkline_multi(u->m, u->tb.locs[i].index, spark, sizeof(spark));
        else
            sparkline(u->s, u->tb.locs[i].index, spark, sizeof(spark));
        size_t at = strlen(line);
        put_cell(line, len, &at, " ", -1, COL_LEFT);
        put_cell(line, len, &at, spark, -1, COL_LEFT);
    } else if (u->view == VIEW_THREADS) {
        format_columns(u, line, len, &u->tb.threads[i]);
    } else if (u->view == VIEW_GRAPH && i < u->tb.nedges) {
        const struct edge_row *e = &u->tb.edges[i];
        char run[32];
        snprintf(line, len, "%10.1f/s  run %-8s %s -> %s", e->per_s,
                 gto_fmt_duration(e->mean_run_ns, run, sizeof(run)), e->from_where, e->to_where);
    } else if (u->view == VIEW_GRAPH) {
        /* A wait on threads, "=>": how many waiters it holds up where a
         * transition has its rate, by how many threads where it has its
         * run time, then where they wait => where those threads park. */
        const struct block_row *b = &u->tb.blocks[i - u->tb.nedges];
        char by[48], from[WHERE_MAX], to[WHERE_MAX];
        snprintf(by, sizeof(by), "%zu thread%s", b->threads, b->threads == 1 ? "" : "s");
        if (!b->to)
            snprintf(to, sizeof(to), "(%s, at no location)", gto_state_name(b->to_state));
        const char *fw = b->from_where, *tw = b->to ? b->to_where : to;
        int n = snprintf(line, len, "%7" PRIu64 " held  by %-9s %.400s => %.400s", b->waiters,
                         by, fw, tw);
        /* Too wide for the screen: the call sites alone (each label's
         * first part), so that both ends show. */
        if (n > COLS)
            snprintf(line, len, "%7" PRIu64 " held  by %-9s %.400s => %.400s", b->waiters, by,
                     call_site(fw, from, sizeof(from)),
                     b->to ? call_site(tw, to, sizeof(to)) : tw);
    }
}

static void stack_report_lines(struct ui *u, const struct stack_report *r)
{
    char a[32], b[32];
    drill_add(u, "Live stack per thread (threads by size):");
    for (int i = 0; i < LIVE_HIST_BUCKETS; i++)
        if (r->live_hist[i])
            drill_add(u, "  %8s..%-8s %10" PRIu64, gto_fmt_bytes(1ull << i, a, sizeof(a)),
                      gto_fmt_bytes(2ull << i, b, sizeof(b)), r->live_hist[i]);
    if (r->no_stack)
        drill_add(u, "  %-18s %10" PRIu64, "no stack", r->no_stack);
    char line[512];
    stack_class_line(NULL, line, sizeof(line));
    drill_add(u, "Classes (by %s):", gto_class_by_name(u->class_by));
    drill_add(u, "%s", line);
    for (size_t i = 0; i < r->nclasses && i < 10; i++) {
        stack_class_line(&r->classes[i], line, sizeof(line));
        drill_add(u, "%s", line);
    }
    drill_add(u, "Functions holding live stack:");
    for (size_t i = 0; i < r->nfunctions && i < 20; i++)
        drill_add(u, "  %10s in %6zu frames  %s",
                  gto_fmt_bytes(r->functions[i].live, a, sizeof(a)),
                  r->functions[i].frames, r->functions[i].function);
}

/* The Stacks view: the report, or over several processes each one's
 * under its name (a class's percentiles are of one process's threads). */
static void stacks_lines(struct ui *u)
{
    drill_free(u);
    if (!u->have_stacks) {
        drill_add(u, "(stack analysis unavailable)");
        return;
    }
    if (!u->m) {
        stack_report_lines(u, &u->stacks);
        return;
    }
    for (size_t k = 0; k < u->nmstacks && k < u->m->n; k++) {
        if (k)
            drill_add(u, "%s", "");
        drill_add(u, "%s:", gto_target_name(u->m->p[k]->s.target));
        stack_report_lines(u, &u->mstacks[k]);
    }
}

/* The help: the keys, then a legend of every column of every view (the
 * Locations' and Threads' from their descriptions in tables.c, so the
 * two never part), then how to read the header and the Graph. */
static const char *const help_keys[] = {
    "gt-top keys",
    "",
    "  1 2 3 4, Tab    Locations, Threads, Stacks, Graph views",
    "  Up Down PgUp PgDn Home End, the mouse wheel    move",
    "  Enter           drill down: a location's threads and backtraces,",
    "                  a thread's backtrace (both follow the program);",
    "                  Esc goes back, the cursor on the row it was on",
    "  D               the deadlock list: every cycle of threads waiting on",
    "                  each other (the header's DEADLOCK banner);  Esc back",
    "  < >             sort by the column on screen left / right;  r reverse",
    "  s F6            pick the sort column on screen by letter (again:",
    "                  reverse);  --sort reaches the ones off screen",
    "  click           on a row: the cursor goes there;  on a column's title:",
    "                  sort by it (again: reverse);  on [2]Threads: that view",
    "  / \\ F4          filter rows by text (location, name, state), as it is",
    "                  typed;  Enter keeps it, Esc takes it back",
    "  F3              search: the cursor to the first row with the text,",
    "                  F3 again the next;  Esc takes the cursor back",
    "  F5              Threads view: a tree, each thread under the thread",
    "                  that spawned it;  F5 again the flat list",
    "  p Space         pause / resume sampling",
    "  d + -           refresh interval (d cycles, + slower, - faster)",
    "  P               over several processes (-p PID1,PID2, --name): the",
    "                  Locations rows by process, a PID column;  P again:",
    "                  each row sums its location over every process",
    "  h ? F1          this help;  q F10 quit",
};

/* Columns whose descriptions are not in a table of tables.c: the
 * Locations' queue (the screen's own), the Stacks view's classes
 * (stack_class_line) and the Graph's rows. */
static const char *const legend_queue[][2] = {
    {"QUEUE", "threads waiting there at each of the last 10 refreshes, oldest first, "
              "as blocks scaled to the highest"},
};
static const char *const legend_stacks[][2] = {
    {"CLASS", "threads of one entry function (--class-by: name, name prefix)"},
    {"THREADS", "threads in the class"},
    {"SAMPLED", "threads whose stacks tell how deep the class goes (not those waiting "
                "unstacked or never run)"},
    {"TOUCH50", "median stack bytes touched (ever written) by its sampled threads"},
    {"TOUCH99", "99th percentile of the touched bytes"},
    {"TOUCHMAX", "most touched bytes of one thread"},
    {"SUGGEST", "suggested stack size: TOUCHMAX plus a quarter (a page at least), "
                "page-rounded"},
    {"SAVES", "bytes of reserved stack the suggestion saves over the class"},
};
static const char *const legend_graph[][2] = {
    {"RATE", "transitions per second from one location to the next (->)"},
    {"RUN", "mean run time between the two"},
    {"EDGE", "from -> to: where threads park next;  N held by M threads from => to: "
             "N waiters wait on M threads parked at to"},
};

static void help_add(struct ui *u, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void help_add(struct ui *u, const char *fmt, ...)
{
    char **l = realloc(u->help_lines, (u->nhelp + 1) * sizeof(*l));
    if (!l)
        return;
    u->help_lines = l;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&l[u->nhelp], fmt, ap) >= 0)
        u->nhelp++;
    va_end(ap);
}

static void help_free(struct ui *u)
{
    for (size_t i = 0; i < u->nhelp; i++)
        free(u->help_lines[i]);
    free(u->help_lines);
    u->help_lines = NULL;
    u->nhelp = 0;
}

/* "  TITLE     description", the description wrapped at the screen's
 * width under itself. */
static void help_legend(struct ui *u, const char *title, const char *text)
{
    enum { INDENT = 14 };
    size_t room = COLS > INDENT + 20 ? (size_t)COLS - INDENT - 1 : 20;
    int first = 1;
    while (*text) {
        size_t n = strlen(text), cut = n;
        if (n > room) {
            cut = room;
            while (cut > room / 2 && text[cut] != ' ')
                cut--;
            if (text[cut] != ' ')
                cut = room;
        }
        help_add(u, "  %-*s%.*s", INDENT - 2, first ? title : "", (int)cut, text);
        first = 0;
        text += cut;
        while (*text == ' ')
            text++;
    }
}

static void help_build(struct ui *u)
{
    help_free(u);
    for (size_t i = 0; i < sizeof(help_keys) / sizeof(help_keys[0]); i++)
        help_add(u, "%s", help_keys[i]);
    help_add(u, "%s", "");
    help_add(u, "%s", "Locations view: a row per blocking call site.  The screen shows WAITING");
    help_add(u, "%s", "ARRIV/s AGE99 OLDEST, BLOCKED BY while a thread holds waiters up,");
    help_add(u, "%s", "LOCATION and QUEUE; gt-top -b prints every column but QUEUE.");
    for (size_t i = 0; i < loc_ncolumns_multi; i++)
        help_legend(u, loc_columns[i].title, loc_columns[i].description);
    help_legend(u, legend_queue[0][0], legend_queue[0][1]);
    help_add(u, "%s", "");
    help_add(u, "%s", "Threads view: a row per thread, the columns the screen's width holds");
    for (size_t i = 0; i < thread_ncolumns_multi; i++)
        help_legend(u, thread_columns[i].title, thread_columns[i].description);
    help_add(u, "%s", "");
    help_add(u, "%s", "Stacks view: live stack per thread, then a row per class of threads");
    for (size_t i = 0; i < sizeof(legend_stacks) / sizeof(legend_stacks[0]); i++)
        help_legend(u, legend_stacks[i][0], legend_stacks[i][1]);
    help_add(u, "%s", "");
    help_add(u, "%s", "Graph view: a row per edge between locations");
    for (size_t i = 0; i < sizeof(legend_graph) / sizeof(legend_graph[0]); i++)
        help_legend(u, legend_graph[i][0], legend_graph[i][1]);
    help_add(u, "%s", "");
    help_add(u, "%s", "Header: the running thread and how long it has run without yielding,");
    help_add(u, "%s", "highlighted past -H (default 100ms); stacks reserved, live, resident");
    help_add(u, "%s", "(in memory) and dead (resident pages no live frame uses).");
    help_add(u, "%s", "A title ending in ^ or v is the sort column, ascending or descending.");
}

/* The help, from line u->htop: the last line says how to scroll. */
static void draw_help(struct ui *u)
{
    char line[256];
    help_build(u);
    size_t h = LINES > 1 ? (size_t)LINES - 1 : 1;
    if (u->htop + h > u->nhelp)
        u->htop = u->nhelp > h ? u->nhelp - h : 0;
    for (size_t r = 0; r < h && u->htop + r < u->nhelp; r++)
        put_line((int)r, u->help_lines[u->htop + r], u->htop + r ? 0 : A_BOLD);
    snprintf(line, sizeof(line), " lines %zu-%zu of %zu  Up Down PgUp PgDn scroll  "
             "q quits, any other key closes",
             u->htop + 1, u->htop + h < u->nhelp ? u->htop + h : u->nhelp, u->nhelp);
    put_line(LINES - 1, line, A_REVERSE);
}

static int body_height(const struct ui *u) { return LINES - u->header_n - 3; }

static void draw(struct ui *u)
{
    char line[1024];
    struct header_line hl[HEADER_MAX];
    erase();
    if (COLS < MIN_COLS || LINES < MIN_LINES) {
        snprintf(line, sizeof(line), "terminal too small (%dx%d): gt-top needs at least %dx%d",
                 COLS, LINES, MIN_COLS, MIN_LINES);
        put_wrapped(line);
        refresh();
        return;
    }
    if (u->help) {
        draw_help(u);
        refresh();
        return;
    }
    int n = !u->have_tables ? 0
            : u->m ? multi_header_lines(u->m, &u->tb, 1, hl, HEADER_MAX)
                   : header_lines(u->s, &u->tb, 1, hl, HEADER_MAX);
    u->header_n = n;
    for (int i = 0; i < n; i++) {
        /* The banner and a hog stand out: red where there is colour,
         * reversed where there is none. */
        int attr = hl[i].alert ? (u->colour ? COLOR_PAIR(PAIR_ALERT) | A_BOLD | A_REVERSE
                                            : A_BOLD | A_REVERSE)
                   : i == 0 && u->colour ? COLOR_PAIR(PAIR_HEADER) | A_BOLD : 0;
        put_line(i, hl[i].text, attr);
    }
    char when[32];
    time_t t = (time_t)(u->s->taken_realtime_ns / 1000000000u);
    strftime(when, sizeof(when), "%H:%M:%S", localtime(&t));
    snprintf(line, sizeof(line), "%s   view: %s%s  "
             "every %.1fs%s  at %s%s%s", view_bar,
             u->drill == DRILL_LOCATION ? "location" : u->drill == DRILL_THREAD ? "thread"
             : u->drill == DRILL_DEADLOCKS ? "deadlocks"
             : u->view == VIEW_THREADS && u->tree ? "threads tree"
             : u->view == VIEW_LOCATIONS && u->split ? "locations by process"
                                                      : view_names[u->view],
             u->filter[0] ? "  filter" : "", u->delay, u->paused ? " PAUSED" : "", when,
             u->filter[0] ? ": " : "", u->filter);
    put_line(n, line, A_REVERSE);

    int y = n + 1, h = body_height(u);
    u->lay.n = 0;             /* no columns to click or sort but a list's */
    if (u->drill != DRILL_NONE || u->view == VIEW_STACKS) {
        if (u->drill == DRILL_NONE)
            stacks_lines(u);
        if (u->dtop > u->ndrill)
            u->dtop = 0;
        for (int r = 0; r <= h && u->dtop + (size_t)r < u->ndrill; r++)
            put_line(y + r, u->drill_lines[u->dtop + (size_t)r], 0);
    } else {
        /* The rows fill the body: a list that shrank (a filter) does
         * not leave its cursor alone at the top of an empty screen. */
        if (u->nshown <= (size_t)h)
            u->top = 0;
        else if (u->top > u->nshown - (size_t)h)
            u->top = u->nshown - (size_t)h;
        if (u->selected < u->top)
            u->top = u->selected;
        if (u->selected >= u->top + (size_t)h)
            u->top = u->selected - (size_t)h + 1;
        layout_compute(u);
        if (u->view == VIEW_LOCATIONS) {
            format_columns(u, line, sizeof(line), NULL);
            size_t at = strlen(line);
            put_cell(line, sizeof(line), &at, " QUEUE", -1, COL_LEFT);
        } else if (u->view == VIEW_THREADS) {
            format_columns(u, line, sizeof(line), NULL);
        } else {
            snprintf(line, sizeof(line), "%12s  %-12s %s", "RATE", "RUN", "EDGE");
        }
        put_line(y++, line, u->colour ? COLOR_PAIR(PAIR_TITLE) | A_BOLD : A_BOLD);
        /* Only the rows on screen are formatted: 100K threads cost the
         * same to draw as 20. */
        for (int r = 0; r < h && u->top + (size_t)r < u->nshown; r++) {
            size_t idx = u->top + (size_t)r;
            format_row(u, u->shown[idx], line, sizeof(line));
            put_line(y + r, line, idx == u->selected ? A_REVERSE : 0);
        }
    }
    if (u->message[0])
        put_line(LINES - 1, u->message, u->colour ? COLOR_PAIR(PAIR_ALERT) | A_BOLD : A_BOLD);
    else {
        const char *sortname = u->view == VIEW_THREADS ? thread_columns[u->sort_col[u->view]].name
                               : u->view == VIEW_LOCATIONS ? loc_columns[u->sort_col[u->view]].name
                                                           : "-";
        snprintf(line, sizeof(line), " %s%s%s<> sort (%s%s)  %zu rows  q quit  h help",
                 u->filter[0] ? "filter: " : "", u->filter, u->filter[0] ? "  " : "",
                 sortname, u->sort_desc[u->view] ? " desc" : "", u->nshown);
        put_line(LINES - 1, line, A_REVERSE);
    }
    refresh();
}

/* ---- actions ------------------------------------------------------------ */

static int act_quit(struct ui *u) { (void)u; return ACT_QUIT; }
static int act_help(struct ui *u) { u->help = 1; u->htop = 0; return ACT_REDRAW; }

/* A key while the help is shown: the moving keys and the wheel scroll it,
 * q and F10 quit, any other key closes it. */
static int help_key(struct ui *u, int key)
{
    long h = LINES > 2 ? LINES - 2 : 1, d = 0;
    MEVENT ev;
    switch (key) {
    case KEY_UP: case 'k': d = -1; break;
    case KEY_DOWN: case 'j': d = 1; break;
    case KEY_PPAGE: d = -h; break;
    case KEY_NPAGE: d = h; break;
    case KEY_HOME: d = -(long)u->nhelp; break;
    case KEY_END: d = (long)u->nhelp; break;
    case KEY_MOUSE:
        if (getmouse(&ev) != OK)
            return ACT_NONE;
        if (ev.bstate & BUTTON4_PRESSED)
            d = -3;
        else if (ev.bstate & BUTTON5_PRESSED)
            d = 3;
        else
            return ACT_NONE;
        break;
    case 'q': case 'Q': case KEY_F(10):
        return ACT_QUIT;
    case KEY_RESIZE:
        clear();
        return ACT_REDRAW;
    default:
        u->help = 0;
        return ACT_REDRAW;
    }
    long t = (long)u->htop + d;
    u->htop = t < 0 ? 0 : (size_t)t;       /* draw_help keeps it in range */
    return ACT_REDRAW;
}

static int set_view(struct ui *u, enum view v)
{
    u->view = v;
    u->drill = DRILL_NONE;
    u->selected = u->top = u->dtop = 0;
    if (v == VIEW_STACKS)
        return ACT_RESAMPLE;   /* needs an unwound, measured snapshot */
    arrange(u);
    return ACT_REDRAW;
}
static int act_view1(struct ui *u) { return set_view(u, VIEW_LOCATIONS); }
static int act_view2(struct ui *u) { return set_view(u, VIEW_THREADS); }
static int act_view3(struct ui *u) { return set_view(u, VIEW_STACKS); }
static int act_view4(struct ui *u) { return set_view(u, VIEW_GRAPH); }
static int act_tab(struct ui *u) { return set_view(u, (enum view)((u->view + 1) % VIEW_COUNT)); }

static size_t current_len(const struct ui *u)
{
    return u->drill != DRILL_NONE || u->view == VIEW_STACKS ? u->ndrill : u->nshown;
}

static int move_by(struct ui *u, long d)
{
    size_t n = current_len(u);
    size_t *pos = u->drill != DRILL_NONE || u->view == VIEW_STACKS ? &u->dtop : &u->selected;
    long p = (long)*pos + d;
    if (p >= (long)n)
        p = (long)n - 1;
    if (p < 0)
        p = 0;
    *pos = (size_t)p;
    return ACT_REDRAW;
}
static int act_up(struct ui *u) { return move_by(u, -1); }
static int act_down(struct ui *u) { return move_by(u, 1); }
static int act_pgup(struct ui *u) { return move_by(u, -body_height(u)); }
static int act_pgdn(struct ui *u) { return move_by(u, body_height(u)); }
static int act_home(struct ui *u) { return move_by(u, -(long)current_len(u)); }
static int act_end(struct ui *u) { return move_by(u, (long)current_len(u)); }

/* Sorts by column COL of the view's table: the one sorted by already is
 * reversed, as htop does on a second click. */
static int sort_by(struct ui *u, size_t col)
{
    if (col == u->sort_col[u->view])
        u->sort_desc[u->view] = !u->sort_desc[u->view];
    u->sort_col[u->view] = col;
    arrange(u);
    return ACT_REDRAW;
}

/* < >: the column on screen left or right of the sort column (round the
 * ends); from a column not on screen, the first or the last. */
static int sort_step(struct ui *u, int d)
{
    const struct layout *l = &u->lay;
    if (!l->n)
        return ACT_NONE;
    long k = -1;
    for (size_t i = 0; i < l->n; i++)
        if (l->col[i] == u->sort_col[u->view])
            k = (long)i;
    k = k < 0 ? (d > 0 ? 0 : (long)l->n - 1) : (k + d + (long)l->n) % (long)l->n;
    u->sort_col[u->view] = l->col[k];
    arrange(u);
    return ACT_REDRAW;
}

/* htop's column picker: the columns on screen on the last line, a letter
 * each; that letter sorts by it (again: reverses), Esc keeps the order.
 * A column the screen has no room for is sorted by with --sort. */
static int act_sort_pick(struct ui *u)
{
    const struct layout *l = &u->lay;
    char line[1024];
    size_t at = 0;
    if (!l->n)
        return ACT_NONE;
    at += (size_t)snprintf(line, sizeof(line), "sort by:");
    for (size_t k = 0; k < l->n && at < sizeof(line); k++)
        at += (size_t)snprintf(line + at, sizeof(line) - at, " %c=%s", (int)('a' + k),
                               l->cols[l->col[k]].name);
    put_line(LINES - 1, line, A_BOLD);
    refresh();
    timeout(-1);
    int key = getch();
    if (key < 'a' || key >= 'a' + (int)l->n)
        return ACT_REDRAW;
    return sort_by(u, l->col[key - 'a']);
}

/* The mouse, htop's way: a click on a row puts the cursor on it, on a
 * column's title sorts by that column (again: reverses), on a view's
 * name in the bar opens that view; the wheel scrolls.  In a drill-down, the Stacks view and the help, the wheel
 * scrolls their lines. */
static int move_by(struct ui *u, long d);
static int set_view(struct ui *u, enum view v);

static int act_mouse(struct ui *u)
{
    MEVENT ev;
    if (getmouse(&ev) != OK)
        return ACT_NONE;
    if (ev.bstate & BUTTON4_PRESSED)
        return move_by(u, -3);
    if (ev.bstate & BUTTON5_PRESSED)
        return move_by(u, 3);
    if (!(ev.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED)))
        return ACT_NONE;
    if (ev.y == u->header_n && ev.x >= 0 && (size_t)ev.x < sizeof(view_bar) - 1) {
        /* "[2]Threads": the view whose mark is at or left of the click. */
        const char *at = NULL;
        for (const char *p = view_bar; (p = strchr(p, '[')) && p - view_bar <= ev.x; p++)
            at = p;
        return at ? set_view(u, (enum view)(at[1] - '1')) : ACT_NONE;
    }
    if (!u->lay.n)
        return ACT_NONE;
    int title_y = u->header_n + 1, h = body_height(u);
    if (ev.y == title_y) {
        for (size_t k = 0; k < u->lay.n; k++)
            if (ev.x >= u->lay.x[k] && ev.x < u->lay.x[k] + u->lay.w[k])
                return sort_by(u, u->lay.col[k]);
        return ACT_NONE;
    }
    if (ev.y > title_y && ev.y <= title_y + h) {
        size_t idx = u->top + (size_t)(ev.y - title_y - 1);
        if (idx < u->nshown) {
            u->selected = idx;
            return ACT_REDRAW;
        }
    }
    return ACT_NONE;
}
static int act_sort_left(struct ui *u) { return sort_step(u, -1); }
static int act_sort_right(struct ui *u) { return sort_step(u, 1); }
static int act_reverse(struct ui *u)
{
    u->sort_desc[u->view] = !u->sort_desc[u->view];
    arrange(u);
    return ACT_REDRAW;
}

/* The prompt's keys, htop's: Enter keeps, Esc takes back, Backspace
 * deletes a character (a UTF-8 sequence whole), F3 again (the search's)
 * finds the next match. */
enum { EDIT_TEXT, EDIT_NEXT, EDIT_DONE, EDIT_CANCEL };

/* A line of text edited on the screen's last line after LABEL, in BUF
 * (LEN bytes, its text kept as it starts: the filter in force, the last
 * search); EDITED is called after each change, with EDIT_NEXT for F3, so
 * the rows follow the text as it is typed.  Sampling waits meanwhile, as
 * in htop's prompts.  Returns EDIT_DONE (Enter) or EDIT_CANCEL (Esc). */
static int prompt(struct ui *u, const char *label, char *buf, size_t len,
                  void (*edited)(struct ui *u, const char *text, int how))
{
    char line[256];
    timeout(-1);
    for (;;) {
        draw(u);
        snprintf(line, sizeof(line), "%s%s", label, buf);
        put_line(LINES - 1, line, A_BOLD);
        curs_set(1);
        move(LINES - 1, (int)(strlen(line) < (size_t)COLS ? strlen(line) : (size_t)COLS - 1));
        refresh();
        int key = getch(), how = EDIT_TEXT;
        size_t n = strlen(buf);
        if (quit_requested)              /* Ctrl-C: the loop then quits */
            return EDIT_CANCEL;
        if (key == 27) {
            how = EDIT_CANCEL;
        } else if (key == '\n' || key == '\r' || key == KEY_ENTER) {
            how = EDIT_DONE;
        } else if (key == KEY_F(3)) {
            how = EDIT_NEXT;
        } else if (key == KEY_BACKSPACE || key == 127 || key == 8) {
            while (n > 0 && ((unsigned char)buf[n - 1] & 0xc0) == 0x80)
                n--;
            buf[n ? n - 1 : 0] = 0;
        } else if (key == 21) {          /* Ctrl-U, as a shell's */
            buf[0] = 0;
        } else if (key >= 32 && key < 256 && key != 127 && n + 1 < len) {
            buf[n] = (char)key;
            buf[n + 1] = 0;
        } else {
            continue;
        }
        curs_set(0);
        if (how == EDIT_DONE || how == EDIT_CANCEL)
            return how;
        edited(u, buf, how);
    }
}

static void filter_edited(struct ui *u, const char *text, int how)
{
    (void)how;
    snprintf(u->filter, sizeof(u->filter), "%s", text);
    arrange_from(u, u->edit_cursor);
}

/* / \ F4: htop's filter.  The rows follow the text as it is typed; Esc
 * takes back the filter that was in force, and the cursor stays on its
 * row throughout when that row passes. */
static int act_filter(struct ui *u)
{
    char old[sizeof(u->filter)], buf[sizeof(u->filter)];
    if (u->drill != DRILL_NONE || u->view == VIEW_STACKS || u->view == VIEW_GRAPH)
        return ACT_NONE;
    snprintf(old, sizeof(old), "%s", u->filter);
    snprintf(buf, sizeof(buf), "%s", u->filter);
    u->edit_cursor = cursor_save(u);
    if (prompt(u, "filter: ", buf, sizeof(buf), filter_edited) == EDIT_CANCEL) {
        snprintf(u->filter, sizeof(u->filter), "%s", old);
        arrange_from(u, u->edit_cursor);
    }
    return ACT_REDRAW;
}

/* The first row from FROM on (round the end) that holds TEXT, or -1. */
static long search_from(const struct ui *u, size_t from, const char *text)
{
    for (size_t k = 0; k < u->nshown; k++) {
        size_t at = (from + k) % u->nshown;
        if (row_matches(u, u->shown[at], text))
            return (long)at;
    }
    return -1;
}

static void search_edited(struct ui *u, const char *text, int how)
{
    if (!text[0] || !u->nshown)
        return;
    long at = search_from(u, how == EDIT_NEXT ? u->selected + 1 : u->search_start, text);
    if (at >= 0)
        u->selected = (size_t)at;
    if (how == EDIT_NEXT)
        u->search_start = u->selected;
}

/* F3: htop's search.  The cursor goes to the first row from it that
 * holds the text (its location, name or state) as it is typed, F3 again
 * to the next; Enter leaves it there, Esc takes it back to where it was.
 * The last search is offered again. */
static int act_search(struct ui *u)
{
    if (u->drill != DRILL_NONE || u->view == VIEW_STACKS || u->view == VIEW_GRAPH)
        return ACT_NONE;
    size_t selected = u->selected, top = u->top;
    u->search_start = u->selected;
    if (u->search[0])
        search_edited(u, u->search, EDIT_TEXT);
    if (prompt(u, "search: ", u->search, sizeof(u->search), search_edited) == EDIT_CANCEL) {
        u->selected = selected;
        u->top = top;
    }
    return ACT_REDRAW;
}

static int act_pause(struct ui *u) { u->paused = !u->paused; return ACT_REDRAW; }

/* F5: htop's tree.  The Threads view shows each thread under the one
 * that spawned it, brothers in the sort column's order; again, the flat
 * list.  Other views have no parents to show: F5 goes to the tree. */
static int act_tree(struct ui *u)
{
    if (u->view != VIEW_THREADS) {
        u->tree = 1;
        return set_view(u, VIEW_THREADS);
    }
    u->tree = !u->tree;
    arrange(u);
    return ACT_REDRAW;
}

static int act_delay_cycle(struct ui *u)
{
    static const double steps[] = {0.5, 1, 2, 5};
    size_t i = 0;
    while (i < 4 && steps[i] <= u->delay)
        i++;
    u->delay = steps[i % 4];
    return ACT_REDRAW;
}
static int act_slower(struct ui *u) { u->delay = u->delay * 2 > 60 ? 60 : u->delay * 2; return ACT_REDRAW; }
static int act_faster(struct ui *u) { u->delay = u->delay / 2 < 0.1 ? 0.1 : u->delay / 2; return ACT_REDRAW; }

static int act_enter(struct ui *u)
{
    if (u->drill != DRILL_NONE || !u->nshown)
        return ACT_NONE;
    size_t i = u->shown[u->selected];
    if (u->view == VIEW_LOCATIONS) {
        u->drill = DRILL_LOCATION;
        u->drill_loc = u->tb.locs[i].index;
        u->drill_pid = u->tb.locs[i].pid;   /* a row split by process */
    } else if (u->view == VIEW_THREADS) {
        u->drill = DRILL_THREAD;
        u->drill_thread = u->tb.threads[i].th->id;
        u->drill_pid = u->tb.threads[i].s->pid;
    } else {
        return ACT_NONE;
    }
    u->dtop = 0;
    drill_open(u);
    return ACT_REDRAW;
}

/* Esc: back to the list, the cursor on the row it was on (the list's
 * cursor follows its row through the refreshes of the drill-down). */
static int act_back(struct ui *u)
{
    if (u->drill == DRILL_NONE)
        return ACT_NONE;
    u->drill = DRILL_NONE;
    drill_free(u);
    u->dtop = 0;
    arrange(u);
    return ACT_REDRAW;
}

static int act_resize(struct ui *u) { (void)u; clear(); return ACT_REDRAW; }

/* P: the Locations rows by process (a PID column) or summed. */
static int act_split(struct ui *u)
{
    if (!u->m)
        return ACT_NONE;
    u->split = !u->split;
    if (u->view != VIEW_LOCATIONS)
        set_view(u, VIEW_LOCATIONS);
    u->selected = u->top = 0;
    rebuild_from(u, (struct cursor){0, 0, 0});
    return ACT_REDRAW;
}

static int act_deadlocks(struct ui *u)
{
    u->drill = DRILL_DEADLOCKS;
    u->dtop = 0;
    deadlocks_open(u);
    return ACT_REDRAW;
}

static const struct { int key; int (*fn)(struct ui *); } bindings[] = {
    {'q', act_quit},        {'Q', act_quit},       {'h', act_help},
    {'?', act_help},        {KEY_F(1), act_help},  {'1', act_view1},
    {'2', act_view2},       {'3', act_view3},      {'4', act_view4},
    {'\t', act_tab},        {KEY_UP, act_up},      {KEY_DOWN, act_down},
    {'k', act_up},          {'j', act_down},       {KEY_PPAGE, act_pgup},
    {KEY_NPAGE, act_pgdn},  {KEY_HOME, act_home},  {KEY_END, act_end},
    {'<', act_sort_left},   {'>', act_sort_right}, {'r', act_reverse},
    {'s', act_sort_pick},   {KEY_F(6), act_sort_pick},
    {'/', act_filter},      {'\\', act_filter},    {KEY_F(4), act_filter},
    {KEY_F(3), act_search}, {KEY_F(10), act_quit}, {' ', act_pause},
    {KEY_F(5), act_tree},
    {'p', act_pause},       {'d', act_delay_cycle},
    {'+', act_slower},      {'-', act_faster},     {'\n', act_enter},
    {KEY_ENTER, act_enter}, {'\r', act_enter},     {27, act_back},
    {KEY_BACKSPACE, act_back}, {KEY_RESIZE, act_resize},
    {'D', act_deadlocks},   {KEY_MOUSE, act_mouse},    {'P', act_split},
};

/* ---- the loop ----------------------------------------------------------- */

static void restore_terminal(int sig)
{
    endwin();
    signal(sig, SIG_DFL);
    raise(sig);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(struct ui *u0, struct sampler *s, double delay, long iterations,
               enum view first, struct row_order order, enum gto_class_by class_by,
               struct refresh_cost *cost);

int tui_run(struct sampler *s, double delay, long iterations, enum view first,
            struct row_order order, enum gto_class_by class_by,
            struct refresh_cost *cost)
{
    struct ui u;
    memset(&u, 0, sizeof(u));
    return run(&u, s, delay, iterations, first, order, class_by, cost);
}

int tui_run_multi(struct multi *m, double delay, long iterations, enum view first,
                  struct row_order order, enum gto_class_by class_by,
                  struct refresh_cost *cost)
{
    struct ui u;
    memset(&u, 0, sizeof(u));
    u.m = m;
    return run(&u, &m->p[0]->s, delay, iterations, first, order, class_by, cost);
}

static int run(struct ui *u0, struct sampler *s, double delay, long iterations,
               enum view first, struct row_order order, enum gto_class_by class_by,
               struct refresh_cost *cost)
{
    struct ui u = *u0;
    u.s = s;
    u.iterations = iterations;
    u.refreshes = 1;           /* the first screen's snapshot */
    u.class_by = class_by;
    u.delay = delay;
    u.view = first;
    u.sort_desc[VIEW_LOCATIONS] = 1;   /* the longest queue first */
    if (order.col >= 0) {
        u.sort_col[first] = (size_t)order.col;
        u.sort_desc[first] = order.desc;
    }
    /* A crash must not leave the terminal in raw mode. */
    signal(SIGSEGV, restore_terminal);
    signal(SIGBUS, restore_terminal);
    signal(SIGABRT, restore_terminal);
    setlocale(LC_ALL, "");
    initscr();
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    /* Presses, not clicks: a click waits for its release and ncurses'
     * click interval before it is reported. */
    mousemask(BUTTON1_PRESSED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
    mouseinterval(0);
    set_escdelay(25);
    curs_set(0);
    u.colour = has_colors() && !getenv("NO_COLOR");
    if (u.colour) {
        start_color();
        use_default_colors();
        init_pair(PAIR_HEADER, COLOR_CYAN, -1);
        init_pair(PAIR_TITLE, COLOR_BLACK, COLOR_GREEN);
        init_pair(PAIR_ALERT, COLOR_RED, -1);
    }
    if (u.view == VIEW_STACKS)
        resample(&u);
    else
        rebuild(&u);
    double next = now_s() + delay;
    draw(&u);
    while (!u.iterations || u.refreshes < u.iterations) {
        int wait_ms = (int)((next - now_s()) * 1000);
        timeout(wait_ms < 10 ? 10 : wait_ms > 200 ? 200 : wait_ms);
        int key = getch();
        int flags = ACT_NONE;
        if (key != ERR) {
            if (u.help) {
                flags = help_key(&u, key);
            } else {
                for (size_t i = 0; i < sizeof(bindings) / sizeof(bindings[0]); i++)
                    if (bindings[i].key == key) {
                        flags = bindings[i].fn(&u);
                        break;
                    }
            }
        }
        if ((flags & ACT_QUIT) || quit_requested)
            break;
        int timed = 0;
        int due = !u.paused && now_s() >= next;
        if ((flags & ACT_RESAMPLE) || (due && u.m) || (due && !s->target_gone && s->pid)) {
            refresh_cost_begin(cost);
            timed = 1;
            resample(&u);
            flags |= ACT_REDRAW;
        }
        /* -n counts the intervals, top's way: a core's screen, which
         * never changes, ends after as many as a live one. */
        if (due) {
            u.refreshes++;
            next = now_s() + u.delay;
        }
        if (flags & ACT_REDRAW)
            draw(&u);
        if (timed)
            refresh_cost_end(cost, u.m ? u.tb.total_threads : gto_thread_count(s->cur));
    }
    endwin();
    drill_free(&u);
    help_free(&u);
    free(u.shown);
    if (u.have_tables)
        tables_free(&u.tb);
    if (u.have_stacks && !u.m)
        stack_report_free(&u.stacks);
    mstacks_free(&u);
    if (u.m)
        multi_tables_free(u.m);
    return EXIT_OK;
}
