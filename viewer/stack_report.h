/*
 * stack_report.h - the Stacks view's analysis: how live stack is spread
 * (log2 histogram), which thread classes and which functions hold it, and
 * the stack size each class would need.  Needs a snapshot taken with
 * GTO_SNAP_MEASURE | GTO_SNAP_UNWIND.
 */
#ifndef GT_TOP_STACK_REPORT_H
#define GT_TOP_STACK_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "gtobserve.h"

#define LIVE_HIST_BUCKETS 32

struct stack_class {
    char name[GTO_NAME_MAX];    /* thread name, "-" unnamed */
    size_t threads;
    uint64_t live, touched_p99, touched_max, dead_resident;
    uint64_t suggested;         /* p99.9 touched + a quarter, in pages */
};

struct stack_function {
    const char *function;       /* owned by the target's symbol cache */
    uint64_t live;              /* bytes of its frames over all threads */
    size_t frames;
};

struct stack_report {
    uint64_t live_hist[LIVE_HIST_BUCKETS];   /* threads by log2(live) */
    uint64_t no_stack;          /* threads holding no stack (a fresh
                                 * context: not started, or waiting
                                 * unstacked): 0 bytes, in no bucket */
    struct stack_class *classes;
    size_t nclasses;
    struct stack_function *functions;
    size_t nfunctions;
};

/* Builds the report; biggest live first in both lists.  -1 on ENOMEM. */
int stack_report_build(struct stack_report *r, gto_target *t,
                       const gto_snapshot *s);
void stack_report_free(struct stack_report *r);

#endif
