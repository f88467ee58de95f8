/*
 * stack_report.h - the Stacks view: how live stack is spread (log2
 * histogram), the thread classes with the stack size each would need
 * (libgtobserve's gto_classes, the same classes and suggestions as
 * gt-waste), and which functions hold live stack.  Needs a snapshot taken
 * with GTO_SNAP_MEASURE | GTO_SNAP_UNWIND.
 */
#ifndef GT_TOP_STACK_REPORT_H
#define GT_TOP_STACK_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "gtobserve.h"

#define LIVE_HIST_BUCKETS 32

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
    enum gto_class_by class_by;
    struct gto_class *classes;  /* most threads first (gto_classes) */
    size_t nclasses;
    struct stack_function *functions;
    size_t nfunctions;
};

/* Builds the report, classes by BY; functions biggest live first.  -1
 * with ERR set (out of memory). */
int stack_report_build(struct stack_report *r, gto_target *t,
                       const gto_snapshot *s, enum gto_class_by by, char *err);
void stack_report_free(struct stack_report *r);

#endif
