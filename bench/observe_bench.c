/*
 * observe_bench.c - what who-blocks-whom costs on top of a snapshot.
 *
 * Usage: observe-snap PID REPS
 *        observe-snap --core CORE EXE REPS
 *
 * Each repetition takes, in turn: a snapshot as gt-stacks took them
 * before (GTO_SNAP_UNWIND), one with GTO_SNAP_BLOCKERS too, and a plain
 * one again on which the analysis alone is timed (gto__blockers: the
 * objects read, the graph, its cycles confirmed by a re-read when live,
 * the per-location blockers), and prints one line:
 *
 *   TIMES snapshot=S blockers_snapshot=S analysis=S analysis_cpu=S
 *         threads=N cycles=C
 *
 * (seconds of CLOCK_MONOTONIC; analysis_cpu: of this process's CPU time,
 * user and system, which a loaded machine does not inflate).
 * bench/observe_bench.py takes the medians.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_s(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

static gto_snapshot *take(gto_target *t, unsigned flags)
{
    char err[GTO_ERR_MAX];
    gto_snapshot *s;
    if (gto_snapshot_take(t, flags, &s, err) < 0) {
        fprintf(stderr, "observe-snap: %s\n", err);
        exit(1);
    }
    return s;
}

int main(int argc, char **argv)
{
    char err[GTO_ERR_MAX];
    gto_target *t;
    int reps;
    if (argc == 3) {
        reps = atoi(argv[2]);
        if (gto_open_pid((pid_t)atoi(argv[1]), &t, err) < 0) {
            fprintf(stderr, "observe-snap: %s\n", err);
            return 1;
        }
    } else if (argc == 5 && strcmp(argv[1], "--core") == 0) {
        reps = atoi(argv[4]);
        if (gto_open_core(argv[2], argv[3], &t, err) < 0) {
            fprintf(stderr, "observe-snap: %s\n", err);
            return 1;
        }
    } else {
        fprintf(stderr, "usage: observe-snap PID REPS | --core CORE EXE REPS\n");
        return 2;
    }
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        gto_snapshot *s = take(t, GTO_SNAP_UNWIND);
        double t1 = now_s();
        gto_snapshot_free(s);
        double t2 = now_s();
        s = take(t, GTO_SNAP_UNWIND | GTO_SNAP_BLOCKERS);
        double t3 = now_s();
        size_t threads = gto_thread_count(s), cycles = gto_cycle_count(s);
        gto_snapshot_free(s);
        s = take(t, GTO_SNAP_UNWIND);
        double t4 = now_s(), c4 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (gto__blockers(t, s, err) < 0) {
            fprintf(stderr, "observe-snap: %s\n", err);
            return 1;
        }
        double t5 = now_s(), c5 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        gto_snapshot_free(s);
        printf("TIMES snapshot=%.6f blockers_snapshot=%.6f analysis=%.6f analysis_cpu=%.6f "
               "threads=%zu cycles=%zu\n", t1 - t0, t3 - t2, t5 - t4, c5 - c4, threads,
               cycles);
        fflush(stdout);
    }
    gto_close(t);
    return 0;
}
