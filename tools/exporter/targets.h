/*
 * targets.h - the processes the exporter reads, each with a sampler of
 * gt-top's kept from one scrape to the next (its snapshot buffers reused,
 * its stack measures as old as the measure policy allows).
 *
 * Given with -p, a target stays listed after it exits (gt_up 0): the
 * list is what the user asked for.  Found with --discover, it is dropped
 * once its process is gone, and new gt processes are added, at each scan
 * (targets_rescan).  A target that cannot be read now is listed, down,
 * with the reason kept for the log.
 */
#ifndef GT_EXPORTER_TARGETS_H
#define GT_EXPORTER_TARGETS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "discover.h"
#include "gtobserve.h"
#include "prometheus.h"
#include "sampler.h"
#include "tables.h"

#define TARGETS_MAX 4096     /* targets served at once */

struct target {
    pid_t pid;
    uint64_t start;          /* proc_start_time when opened */
    char exe[64];            /* /proc/PID/comm */
    char labels[192];        /* prom_labels(pid, exe) */
    int open;                /* s holds the target */
    int up;                  /* the last sample read it */
    int gone;                /* its process exited: never read again */
    uint64_t retry_ns;       /* CLOCK_MONOTONIC: open it again from then */
    /* Not --full: what only every thread record tells (stack bytes,
     * blocked waiters, deadlocks), from a snapshot of them all taken after
     * a response every full_every_ns (the first in the first scrape), kept
     * until the next. */
    int full_known;
    struct prom_full full;
    uint64_t *blocked;       /* full.blocked's array, by location index */
    uint64_t full_due_ns;
    int was_up;              /* up before the last sample (for the log) */
    int sampled;             /* s->cur holds this scrape's snapshot and tb
                              * its tables */
    struct sampler s;
    struct tables tb;
    char err[GTO_ERR_MAX];   /* why it is down */
};

struct targets {
    struct target *v;
    size_t n, cap;
    int discover;            /* --discover: the set follows /proc */
    unsigned flags;          /* GTO_SNAP_* of every scrape's snapshot */
    int full;                /* --full: every record at every scrape */
    struct discover disc;
    uint64_t measure_every_ns;  /* stack residency at most this often per
                                 * target; 0 never */
    uint64_t full_every_ns;  /* not --full: every record this often */
    unsigned nfirst;         /* first full reads made (they spread the
                              * next ones over a period) */
    int log;                 /* a line on stderr when a target comes, goes
                              * down, comes back or exits */
};

/* FULL: every scrape reads every thread record.  Else a scrape reads
 * the header, the locations, their queues' heads and the edges
 * (GTO_SNAP_NO_THREADS | GTO_SNAP_QUEUE_HEADS), and every record is read
 * every FULL_EVERY_NS, after a response (the first time in the first
 * scrape). */
void targets_init(struct targets *ts, int discover, int full, uint64_t measure_every_ns,
                  uint64_t full_every_ns);
void targets_free(struct targets *ts);

/* Adds process PID (-p) and opens it.  -1 with ERR when it cannot be
 * read now: no such process, no permission, not a gt program. */
int targets_add_pid(struct targets *ts, pid_t pid, char *err);

/* --discover: adds the gt processes that appeared since the last scan
 * and drops the targets whose process is gone. */
void targets_rescan(struct targets *ts);

/* Takes a snapshot of every target that is not gone and builds its
 * tables (target.up says which succeeded).  A target whose process
 * exited is marked gone and closed. */
void targets_sample(struct targets *ts);

/* Lets the snapshots and tables of the last targets_sample go (their
 * buffers serve the next one), measuring the stacks of the targets whose
 * measure is due.  Called once the response is out. */
void targets_release(struct targets *ts);

#endif
