/*
 * sampler.h - gt-top's sampling: one snapshot of the target every
 * interval through libgtobserve, and the rates between two snapshots.
 * Nothing here formats or draws.
 */
#ifndef GT_TOP_SAMPLER_H
#define GT_TOP_SAMPLER_H

#include <stdint.h>
#include <sys/types.h>

#include "gtobserve.h"
#include "stack_measurer.h"

#define SPARK_LEN 60   /* queue-length samples kept per location */

/* Queue lengths of one location, oldest first once the ring is full. */
struct loc_history {
    uint32_t len[SPARK_LEN];
    unsigned next, filled;
};

/* What the rates need of the previous snapshot: its counters, each
 * location's arrivals and each edge's totals.  Keeping these instead of
 * the snapshot frees its thread array (360 bytes a thread: 360 MB at a
 * million threads) for the next snapshot to reuse. */
struct prev_edge {
    uint32_t from, to;
    uint64_t count, run_ns;
};

struct prev_sample {
    int have;
    struct gto_counters c;
    uint64_t *arrivals;        /* by location index */
    size_t narrivals;
    struct prev_edge *edges;   /* by from, then to */
    size_t nedges;
};

struct sampler {
    gto_target *target;
    pid_t pid;             /* 0 for a core */
    unsigned flags;        /* GTO_SNAP_* for the next snapshot */
    uint64_t hog_mark_ns;  /* -H: the running thread's line is marked
                            * and highlighted from this run time on */
    gto_snapshot *cur;
    struct prev_sample prev;
    /* Seconds of target clock between prev and cur; for a core (one
     * snapshot only) its uptime, so rates are lifetime averages. */
    double dt;
    int rates_are_averages;
    double spawns_s, exits_s, switches_s, idle_share;
    uint64_t rss;          /* bytes, live targets only (0 unknown) */
    uint64_t taken_realtime_ns;
    struct loc_history *hist;   /* by location index */
    size_t nhist;
    int target_gone;       /* the last step failed because the target died */
    unsigned steps;        /* snapshots taken */
    int sums_only;            /* keep the measures' sums, not every
                               * thread's (no Threads view to show them) */
    int measure_on_release;   /* batch mode on a live target: measure the
                               * stacks in sampler_release, when due (the
                               * first time after the baseline snapshot) */
    /* Stack residency and dead bytes of every stack, measured less often
     * than every refresh (sampler.c says why and how often). */
    int stacks_measured;   /* measures holds a measure */
    struct stack_measures measures;  /* every thread's, and the sums */
    uint64_t next_measure_ns;      /* CLOCK_MONOTONIC: measure again then */
    int measuring_aside;           /* the measures come from measurer */
    struct stack_measurer measurer;
};

/* Opens PID (or CORE + EXE); -1 with err. */
int sampler_open(struct sampler *s, pid_t pid, const char *core,
                 const char *exe, char *err);
void sampler_close(struct sampler *s);

/* Measures the stacks of a live target on a thread of its own from now on,
 * instead of in sampler_step (stack_measurer.h says why); -1 with err. */
int sampler_measure_aside(struct sampler *s, char *err);

/* Takes the next snapshot and computes rates against the previous one.
 * On failure the previous snapshot stays current; -1 with err. */
int sampler_step(struct sampler *s, char *err);

/* Lets the current snapshot go when nothing points into it any more (batch
 * mode, once printed): the next sampler_step then reuses its buffers
 * instead of holding two snapshots at once.  The rates keep working.  With
 * measure_on_release, measures the stacks then when due. */
void sampler_release(struct sampler *s);

/* Rate of a counter that went from A (prev) to B (cur), per second. */
double sampler_rate(const struct sampler *s, uint64_t a, uint64_t b);

/* Arrivals/s at location INDEX; edge I's transitions/s and its mean run
 * time in ns over the same interval (over its life when it was idle). */
double sampler_arrivals_rate(const struct sampler *s, uint32_t index);
void sampler_edge_rate(const struct sampler *s, size_t i, double *per_s,
                       uint64_t *mean_run_ns);

#endif
