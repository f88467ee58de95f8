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

/* What a snapshot without thread records (GTO_SNAP_NO_THREADS) cannot
 * count, counted from a snapshot of every record (GTO_SNAP_BLOCKERS)
 * taken apart, less often (gt-exporter's full read). */
struct prom_full {
    uint64_t cycles;        /* gto_cycle_count */
    uint64_t cycle_threads; /* gto_cycle_threads */
    uint64_t reserved, live;    /* stack bytes of every thread */
    /* Waiters held up (the sum of gto_location_blockers' waiters) by
     * location index, 1 up to nblocked: the locations of that snapshot
     * (a location made since has no gt_location_blocked_threads yet). */
    const uint64_t *blocked;
    size_t nblocked;
};

/* prom_write, with FULL[i] what the full read of target I counted when
 * its snapshot has no records (NULL: unknown, those series left out, as
 * prom_write does; a snapshot with records gives its own).  A snapshot
 * without records gives each location's queue and oldest wait by its
 * table rows: the caller fills waiting and age_max from the location
 * records (gto_location.waiting, oldest_since) before sorting them. */
void prom_write_full(FILE *out, const struct prom_target *t,
                     const struct prom_full *const *full, size_t n);

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
