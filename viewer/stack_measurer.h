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

struct stack_measurer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    gto_target *target;      /* the measurer's own handle on the target */
    uint64_t first_delay_ns;
    int stop;
    /* The latest measure, under lock. */
    int fresh;               /* not yet taken */
    uint64_t resident, dead;
    uint64_t measured_ns;    /* target clock of that measure */
};

/* CLOCK_MONOTONIC in ns, and when to measure again after a measure that
 * cost COST_NS: at most every 10 s, or 100 times its cost if that is
 * longer, so measuring takes at most 1/100 of the time. */
uint64_t stack_measure_clock(void);
uint64_t stack_measure_next(uint64_t cost_ns);

/* Sums the measured threads of snapshot M (taken with GTO_SNAP_MEASURE). */
void stacks_sum(const gto_snapshot *m, uint64_t *resident, uint64_t *dead);

/* Starts measuring PID: the first measure after FIRST_DELAY_NS, then as
 * stack_measure_next says.  -1 with err. */
int stack_measurer_start(struct stack_measurer *m, pid_t pid,
                         uint64_t first_delay_ns, char *err);

/* The figures of a measure not taken yet: 1 and fills the three, else 0. */
int stack_measurer_take(struct stack_measurer *m, uint64_t *resident,
                        uint64_t *dead, uint64_t *measured_ns);

void stack_measurer_stop(struct stack_measurer *m);

#endif
