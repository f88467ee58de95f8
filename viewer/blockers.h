/*
 * blockers.h - who blocks whom, as gt-top prints it: the deadlock cycles'
 * lines (text output and the screen's deadlock list), the running thread's
 * line, and the JSON members of both.  Every figure is libgtobserve's
 * (gto_cycle_*, gto_hog, gto_block_of, gto_block_describe): this file
 * only words and prints them.
 */
#ifndef GT_TOP_BLOCKERS_H
#define GT_TOP_BLOCKERS_H

#include <stdio.h>

#include "sampler.h"
#include "tables.h"

/* The highlight of the running thread when -H is not given: the
 * library's default hog threshold. */
#define HOG_MARK_DEFAULT_NS 100000000ull

/* "DEADLOCK: 2 cycles, 5 threads" into BUF, with " -- press D" when
 * SCREEN; 0 and BUF empty when there is no cycle. */
int deadlock_banner(const struct tables *tb, int screen, char *buf, size_t len);

/* "Running: thread 91 "spinner" has run 4.2s without yielding (stack
 * sampled 40ms ago); watchdog 100.0ms, 3 samples", the first word being
 * "HOG over 100.0ms" once its run time reaches S->hog_mark_ns (-H), and
 * "Running: none; ..." when no thread runs; the sample's age when the
 * watchdog (or a fatal signal) sampled its stack in this slice.  Returns
 * 1 when marked (the screen highlights the line). */
int running_line(const struct sampler *s, const struct tables *tb, char *buf,
                 size_t len);

/* The deadlock cycles as lines, in the shared words:
 *   deadlock: cycle of 2 threads
 *     thread 53 "cyc2-a" at cycle_second (blockers.c:119) waits for mutex
 *       0x... held by thread 54 "cyc2-b"
 *       at cycle_second (blockers.c:119) < cycle_first (...) < ...
 * (the last line is the member's whole location label).  EMIT gets each
 * line; returns the number of cycles. */
size_t deadlock_lines(const struct sampler *s,
                      void (*emit)(void *ctx, const char *line), void *ctx);

/* A Graph view edge of waits on threads, in words: "waits on a thread
 * parked at truth_holder (blockers.c:87) < ...", "waits on 3 threads
 * parked at ...", "waits on a running thread".  Returns BUF. */
const char *block_edge_words(const struct block_row *b, char *buf, size_t len);

/* JSON members of the whole document, each with its leading ", ":
 * "deadlocks", "threads_in_deadlock", "running", "watchdog". */
void json_blockers(FILE *out, const struct sampler *s, const struct tables *tb);

/* The same members over the processes of M (TB their merged tables),
 * each cycle and the running thread with its "pid": the cycles of every
 * process (a member's location the merged row's index), the running
 * thread of process m->hog, the watchdog's longest threshold and every
 * process's events. */
struct multi;
void json_blockers_multi(FILE *out, const struct multi *m, const struct tables *tb);

/* ", "blocked_by": [{"id", "waiters"}, ...]" of location INDEX. */
void json_location_blockers(FILE *out, const struct sampler *s, uint32_t index);
/* Its items alone, after *FIRST ones (FIRST may be NULL), each with the
 * process's "pid" when PID is not 0. */
void json_location_blocker_items(FILE *out, const struct sampler *s, uint32_t index,
                                 pid_t pid, size_t *first);

/* ", "block": ..., "blocked_by": ..." of thread TH. */
void json_thread_block(FILE *out, const struct sampler *s, const struct gto_thread *th);

#endif
