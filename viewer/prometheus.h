/*
 * prometheus.h - the Prometheus text exposition of one or more targets'
 * snapshots: gt-top's --format prometheus and gt-exporter's /metrics, one
 * writer so the two agree to the byte.
 */
#ifndef GT_TOP_PROMETHEUS_H
#define GT_TOP_PROMETHEUS_H

#include <stdio.h>

#include "sampler.h"
#include "tables.h"

/* One target of an exposition.  LABELS are label pairs every series of
 * this target carries, already in exposition syntax (`pid="12",exe="knot"`;
 * prom_labels builds them), NULL or "" for none (gt-top on one target).
 * Two targets must not have the same LABELS. */
struct prom_target {
    struct sampler *s;
    struct tables *tb;
    const char *labels;
};

/* Writes one exposition: each family's HELP and TYPE once, then its
 * series for every target in turn (a family absent from every target,
 * such as resident bytes before the first measure, is left out). */
void prom_write(FILE *out, const struct prom_target *t, size_t n);

/* The deadlock gauges of a target whose snapshot has no thread records
 * (GTO_SNAP_NO_THREADS), known from a fuller snapshot taken apart, less
 * often (gt-exporter --fast). */
struct prom_deadlocks {
    uint64_t cycles;        /* gto_cycle_count */
    uint64_t threads;       /* gto_cycle_threads */
};

/* prom_write, with DL[i] the deadlock gauges of target I when its
 * snapshot has no records (NULL: unknown, left out, as prom_write does;
 * a snapshot with records gives its own). */
void prom_write_deadlocks(FILE *out, const struct prom_target *t,
                          const struct prom_deadlocks *const *dl, size_t n);

/* The labels of a process, `pid="PID",exe="EXE"`, into BUF (EXE's
 * quotes, backslashes and newlines escaped; cut short to fit LEN).
 * Returns BUF. */
const char *prom_labels(char *buf, size_t len, pid_t pid, const char *exe);

/* A family's HELP and TYPE lines (for the families a caller adds, such
 * as gt-exporter's gt_up). */
void prom_family(FILE *out, const char *name, const char *type, const char *help);

/* A label value in double quotes, escaped as the format asks. */
void prom_label_value(FILE *out, const char *s);

#endif
