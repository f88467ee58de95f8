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
