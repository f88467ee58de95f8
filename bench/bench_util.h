/*
 * bench_util.h - what every benchmark program shares: the command line,
 * the clock, repetitions and their median, memory readings, and the one
 * output format bench/run.py parses.
 *
 * Every program is invoked as
 *
 *     bench-<impl> SCENARIO [n=COUNT] [reps=COUNT] [parked=COUNT]
 *
 * and prints one line per measurement on stdout:
 *
 *     RESULT bench=yield impl=gt unit=ns median=7.9 min=7.6 max=8.4 reps=11 n=1000000
 *
 * `median` is the figure the table shows; min and max show the spread.
 * Anything that goes wrong ends the program with a message on stderr and
 * exit status 1, so the driver can never mistake a broken peer for a
 * missing row.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BENCH_MAX_REPS 64

/* The parsed command line.  Zero means "not given": each program picks
 * its own default, because a sensible count differs by two orders of
 * magnitude between a user-level switch and a kernel thread. */
typedef struct bench_args {
    const char *scenario; /* the first argument */
    long n;               /* n=: operations or threads per repetition */
    int reps;             /* reps=: repetitions, median reported */
    long parked;          /* parked=: idle threads kept around */
} bench_args_t;

/* Parses argv into a (zeroed first); exits with status 2 and a usage line
 * naming `scenarios` on anything it does not understand. */
void bench_parse_args(int argc, char **argv, const char *scenarios,
                      bench_args_t *a /* OUT */);

/* Takes a's value or the default, and caps reps at BENCH_MAX_REPS. */
long bench_n(const bench_args_t *a, long dflt);
int bench_reps(const bench_args_t *a, int dflt);

/* Prints "bench-X: error: ..." on stderr and exits with status 1. */
__attribute__((noreturn)) void bench_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* Like bench_die, with strerror(errno) appended. */
__attribute__((noreturn)) void bench_die_errno(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t bench_now_ns(void);

/* Median of v[0..count-1]; sorts v in place. */
double bench_median(double *v, int count);

/* Prints one RESULT line for the samples (sorted in place).  extra, if not
 * NULL, is appended verbatim ("key=value key=value"). */
void bench_report(const char *bench, const char *impl, const char *unit,
                  double *samples, int count, long n, const char *extra);

/* Resident set size of this process now, from /proc/self/statm. */
long bench_rss_bytes(void);
/* Peak resident set size (VmHWM in /proc/self/status). */
long bench_peak_rss_bytes(void);
/* A field of /proc/meminfo ("KernelStack"), in bytes. */
long bench_meminfo_bytes(const char *field);

/* Up to this many figures come back from one forked repetition. */
#define BENCH_FIGURES 4
typedef struct bench_sample {
    double v[BENCH_FIGURES];
} bench_sample_t;

/* Runs fn(arg) in a fresh child process once per repetition and collects
 * what it returns.  Used where the first touch of memory is part of the
 * cost (spawning 100K stacks) or where the measurement is the process's
 * own RSS: a second repetition in the same process would find its memory
 * already mapped and resident.  A child that crashes, exits non-zero or
 * returns nothing ends the program (bench_die) naming the repetition. */
void bench_forked_reps(int reps, bench_sample_t (*fn)(void *arg), void *arg,
                       bench_sample_t *out /* OUT: reps samples */);

/* Writes len bytes at p.  It lives in its own file so the compiler cannot
 * see that the caller's stack buffer is never read again and drop the
 * stores (the "touch 1 KiB of stack" benchmarks). */
void bench_touch(char *p, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* BENCH_UTIL_H */
