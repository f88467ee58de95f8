/*
 * stack_measurer.h - residency and dead bytes of every stack of a live
 * target, measured on a thread of gt-top's own so the screen never waits
 * for it (at 100K threads one measure costs ten refreshes).
 */
#ifndef GT_TOP_STACK_MEASURER_H
#define GT_TOP_STACK_MEASURER_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "gtobserve.h"

/* One thread's stack as a measure saw it (gto_thread's fields). */
struct thread_measure {
    uint64_t id;
    uint64_t touched, resident, dead;
};

/* Every thread of one measure, by id ascending, and their sums.  The
 * Threads view's TOUCHED column comes from here between measures: a
 * refresh's own snapshot does not look at every stack (that costs ten
 * refreshes), but the figures of the last measure are known per thread,
 * as old as the header says. */
struct stack_measures {
    struct thread_measure *v;
    size_t n;
    uint64_t resident, dead;     /* sums over the measured threads */
    uint64_t measured_ns;        /* target clock of the measure */
};

/* Takes the figures of snapshot SNAP (taken with GTO_SNAP_MEASURE) into M,
 * freeing what M held: the sums, and every thread's figures when
 * PER_THREAD (32 bytes a thread, for the Threads view).  -1 on ENOMEM (M
 * then holds nothing). */
int stack_measures_build(struct stack_measures *m, const gto_snapshot *snap,
                         int per_thread);
void stack_measures_free(struct stack_measures *m);
/* The measure of thread ID, NULL when that thread was not measured.
 * *CURSOR (start it at 0) makes a pass over ids mostly ascending cost
 * O(1) a thread: the snapshot's slots hold them that way. */
const struct thread_measure *stack_measures_find(const struct stack_measures *m,
                                                 uint64_t id, size_t *cursor);

struct stack_measurer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    gto_target *target;      /* the measurer's own handle on the target */
    uint64_t first_delay_ns;
    int stop;
    /* The latest measure, under lock. */
    int fresh;               /* not yet taken */
    struct stack_measures latest;
};

/* CLOCK_MONOTONIC in ns, and when to measure again after a measure that
 * cost COST_NS: at most every 10 s, or 100 times its cost if that is
 * longer, so measuring takes at most 1/100 of the time. */
uint64_t stack_measure_clock(void);
uint64_t stack_measure_next(uint64_t cost_ns);

/* Starts measuring PID: the first measure after FIRST_DELAY_NS, then as
 * stack_measure_next says.  -1 with err. */
int stack_measurer_start(struct stack_measurer *m, pid_t pid,
                         uint64_t first_delay_ns, char *err);

/* A measure not taken yet: 1 and moves it into OUT (freeing what OUT
 * held), else 0. */
int stack_measurer_take(struct stack_measurer *m, struct stack_measures *out);

void stack_measurer_stop(struct stack_measurer *m);

#endif
