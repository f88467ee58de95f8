/*
 * multi.h - gt-top over several processes (-p PID1,PID2,..., --name
 * PATTERN): a sampler and tables per process, and the merge that makes
 * the tables the views draw, a location's row summing it over every
 * process (the same executable gives the same location labels: rows merge
 * by label text), or one row per location and process when split.
 */
#ifndef GT_TOP_MULTI_H
#define GT_TOP_MULTI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sampler.h"
#include "tables.h"

#define MULTI_MAX 256          /* processes followed at once */
#define MULTI_NOTE_MAX 200
#define MULTI_SKIP_MAX 256     /* unreadable matches remembered */
#define MULTI_SKIP_NS 5000000000ull   /* and tried again after 5 s */

struct multi_proc {
    struct sampler s;
    struct tables tb;          /* its own rows, as on one process */
    int have_tb;
    char exe[64];              /* /proc/PID/comm, safe text */
    uint32_t *to_merged;       /* by its location index (1..tb.nlocs):
                                * the merged row's index, 0 none */
    size_t nmap;
};

struct multi {
    struct multi_proc *p[MULTI_MAX];
    size_t n;
    const char *pattern;       /* --name: re-scanned by multi_scan */
    unsigned flags;            /* GTO_SNAP_* for every process */
    uint64_t hog_mark_ns;
    int sums_only, measure_on_release, measure_aside;
    size_t hog;                /* the process whose running thread the
                                * merged tables' hog is (n: none) */
    /* Processes the pattern matched that could not be read (not gt
     * programs, or not yet: a registry appears once the runtime starts),
     * not opened again before retry_ns (CLOCK_MONOTONIC). */
    struct {
        pid_t pid;
        uint64_t retry_ns;
    } skip[MULTI_SKIP_MAX];
    size_t nskip, skip_next;
    /* What came and went at the last multi_scan or multi_step, for the
     * screen's last line or stderr: "process 12 (knot) exited". */
    char note[MULTI_NOTE_MAX];
};

/* Opens every pid of PIDS (N of them), and with PATTERN every gt process
 * whose command name matches it (multi_scan).  A pid given that cannot be
 * read fails the whole (-1 with err, as on one process); processes the
 * pattern finds are skipped when unreadable.  -1 with err when none. */
int multi_open(struct multi *m, const pid_t *pids, size_t n, const char *pattern,
               char *err);
void multi_close(struct multi *m);

/* With a pattern: opens the gt processes matching it that are not
 * followed yet (the note names them).  Returns how many were added. */
size_t multi_scan(struct multi *m);

/* Takes the next snapshot of every process; one that exited (or can no
 * longer be read) is dropped, the note says so.  -1 with err when no
 * process is left. */
int multi_step(struct multi *m, char *err);
void multi_release(struct multi *m);

/* Builds each process's tables, then OUT: the merged rows (SPLIT: one
 * per location and process), the header's totals summed, the thread rows
 * of every process (WITH_THREADS), each with its sampler (its pid).  OUT
 * points into the processes' tables: free it first (multi_tables_free).
 * -1 on ENOMEM. */
int multi_build(struct multi *m, struct tables *out, int with_threads, int split);
/* Another merge of the tables multi_build built (the other split). */
int multi_merge(struct multi *m, struct tables *out, int with_threads, int split);
void multi_tables_free(struct multi *m);

/* The command name of process PID into BUF ("?" unreadable). */
const char *multi_comm(pid_t pid, char *buf, size_t len);

#endif
