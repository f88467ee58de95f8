/*
 * tables.h - gt-top's rows: what each view lists, built from the sampler's
 * current snapshot, with their columns described as data (name, title,
 * width, how to compare, how to format).  Batch output and the screen both
 * read these; neither samples nor computes.
 */
#ifndef GT_TOP_TABLES_H
#define GT_TOP_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "sampler.h"

#define WHERE_MAX GTO_LABEL_MAX

struct loc_row {
    uint32_t index;
    const char *where;             /* gto_location_label, in texts: rows
                                    * are sorted, the text never moves */
    char function[64];
    const char *kind;              /* "sleep", "fd", ... */
    uint64_t waiting;              /* threads there now */
    double arrivals_s;
    uint64_t age_p50, age_p99, age_max;    /* waits in progress, ns */
    uint64_t done_p50, done_p99, done_mean; /* completed waits, ns */
    uint64_t completed, arrivals;
    int now_exact;                 /* 0: the ages are lower bounds */
    int where_shared;              /* another location has the same text */
    uint64_t wait_max;             /* longest completed wait, ns */
    /* Who holds its waiters up (gto_location_blockers): the thread that
     * holds up most of them and how many, how many threads hold some up,
     * and the waiters held up through a wait-for edge in all. */
    uint64_t blocker_id;           /* 0: none */
    uint64_t blocker_waiters;
    size_t nblockers;
    uint64_t blocked_waiters;
    /* Over several processes (multi.c): the process of a row split by
     * process, 0 for a row that sums the location over every process
     * (and on one process); the process of blocker_id, 0 on one. */
    pid_t pid;
    pid_t blocker_pid;
    uint32_t nprocs;               /* processes it sums (0: one, unmerged) */
};

struct edge_row {
    uint32_t from, to;
    const char *from_where, *to_where;    /* point into loc rows */
    double per_s;
    uint64_t mean_run_ns, count;
};

/* A location's waiters wait on threads that wait themselves: an edge
 * "waits on a thread parked at TO" of the Graph view, so that a convoy
 * reads as a chain.  TO is 0 when those threads are not parked (running,
 * runnable) or parked at no known location; TO_STATE says which. */
struct block_row {
    uint32_t from, to;
    int to_state;                  /* GTO_STATE_* of the threads at TO */
    const char *from_where, *to_where;    /* point into loc rows */
    uint64_t waiters;              /* FROM's waiters held up */
    size_t threads;                /* by this many threads */
};

struct thread_row {
    const struct gto_thread *th;
    const struct sampler *s;       /* its target and snapshot (the block
                                    * description reads the owner's) */
    const char *where;             /* its location's text, "" none */
    uint32_t where_rank;           /* that text's rank among the locations'
                                    * (0 none): sorting by location compares
                                    * numbers, not 100K strings */
    uint8_t measured;              /* touched, resident, dead are known */
    uint8_t now_exact;             /* 0: waited_ns is a lower bound (a core
                                    * that cannot tell when it was written) */
    uint32_t merged_location;      /* over several processes (multi.c):
                                    * its location's merged row index, which
                                    * the JSON's "location" names; 0 none */
    uint32_t depth;                /* in the screen's tree (tables_tree_threads):
                                    * spawners above it; 0 in a flat list */
    uint64_t now;                  /* the snapshot's now (wait descriptions
                                    * say how long a sleep has left) */
    uint64_t waited_ns;            /* now - wait_since when parked */
    /* Its stack's touched, resident and dead bytes: the snapshot's own
     * when it measured them, else the last measure's (the header says how
     * old). */
    uint64_t touched, resident, dead;
};

struct tables {
    struct loc_row *locs;
    size_t nlocs;
    size_t *row_of;                /* by location index (1..nlocs): its
                                    * row in locs + 1, 0 none */
    char *texts;                   /* the locations' texts, back to back */
    size_t texts_len, texts_cap;
    struct edge_row *edges;
    size_t nedges;
    struct block_row *blocks;      /* by from, then most waiters first */
    size_t nblocks;
    struct thread_row *threads;    /* NULL unless built with threads */
    size_t nthreads;               /* rows in threads */
    size_t total_threads;          /* threads in the snapshot */
    /* Header totals.  Threads by state are libgtobserve's count of the
     * snapshot's thread records, and the locations' queues
     * (loc_row.waiting) are counted from the same records, so every count
     * on one screen comes from one reading: the registry's own counters,
     * read a moment apart from the records, can differ from them by the
     * threads that moved in between. */
    uint64_t nstate[GTO_STATE_COUNT];
    uint64_t threads_in_flux;      /* threads in no state: nstate plus
                                    * these add up to total_threads */
    uint64_t reserved, resident, live, dead;
    int measured;                  /* resident and dead are known */
    uint64_t measured_age_ns;      /* how old resident and dead are: 0
                                    * when this snapshot measured them */
    size_t in_flux;                /* records that stayed torn (threads,
                                    * locations, edges) */
    /* Who blocks whom (the snapshot is taken with GTO_SNAP_BLOCKERS). */
    size_t ncycles;                /* deadlock cycles (gto_cycle_count) */
    uint64_t cycle_threads;        /* threads in them */
    int running;                   /* hog holds the running thread */
    struct gto_hog hog;
    uint64_t damaged;              /* records whose location index was
                                    * past the locations (gto_counters):
                                    * a damaged thread is in its state's
                                    * count and at no location */
};

/* Builds every table from S->cur, the thread rows only WITH_THREADS (the
 * Threads view's: 72 bytes a thread, which no other view reads); -1 on
 * ENOMEM. */
int tables_build(struct tables *tb, struct sampler *s, int with_threads);
void tables_free(struct tables *tb);
/* The row of location INDEX, NULL when there is none (O(1)). */
const struct loc_row *tables_loc(const struct tables *tb, uint32_t index);
/* Sums the N block rows B that join the same two locations (and state),
 * then sorts them in the Graph view's order: by source, most waiters
 * first.  Returns how many rows are left.  One process's blockers and
 * several processes' merged ones go through it alike. */
size_t tables_merge_blocks(struct block_row *b, size_t n);

/* ---- columns ------------------------------------------------------------ */

enum col_align { COL_LEFT, COL_RIGHT };

struct column {
    const char *name;          /* key in JSON, --sort, the help screen */
    const char *title;         /* header on screen and in text */
    int width;                 /* room for the title and the screen's
                                * sort mark after it (0: the rest) */
    enum col_align align;
    const char *description;
    int (*compare)(const void *a, const void *b);   /* ascending */
    void (*format)(const void *row, char *buf, size_t len);
    /* Threads only: the row's place in ascending order as a number, so
     * 100K rows sort by radix in a few ms; rows whose keys tie are put in
     * order by compare (a name longer than its key) or stay in snapshot
     * order. */
    uint64_t (*key)(const void *row);
};

extern const struct column loc_columns[];
extern const size_t loc_ncolumns;
extern const struct column thread_columns[];
extern const size_t thread_ncolumns;
/* Over several processes the tables have one column more, PID, at index
 * loc_ncolumns (thread_ncolumns) right after the others, so every other
 * column keeps its index; it is shown first. */
extern const size_t loc_ncolumns_multi, thread_ncolumns_multi;

/* Sorts rows by column C, descending when DESC.  Threads whose values
 * tie keep their snapshot order, in both directions.  tables_sort_threads
 * returns -1 (rows unsorted) when out of memory. */
void tables_sort_locs(struct tables *tb, size_t col, int desc);
int tables_sort_threads(struct thread_row *rows, size_t n, size_t col,
                        int desc);
/* Puts N thread rows, sorted, in tree order: each thread right under the
 * thread that spawned it (its parent), depth-first, brothers in their
 * sorted order, with its depth; a thread whose parent is not among them
 * (the main thread, an exited spawner) is a root.  Parent ids are the
 * target's: a loop of parents is broken where it is entered, nothing is
 * visited twice.  Rows of several processes (their samplers differ) make
 * a tree each, processes in the order of their first row.  O(n log n);
 * -1 (rows unchanged) when out of memory. */
int tables_tree_threads(struct thread_row *rows, size_t n);

/* The column of that name (TABLE is loc_columns or thread_columns), or -1. */
int tables_column(const struct column *table, size_t n, const char *name);

#endif
