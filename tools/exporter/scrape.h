/*
 * scrape.h - one /metrics response: every target sampled, then gt-top's
 * exposition of those that were read (viewer/prometheus.c, the very
 * writer of gt-top -b --format prometheus, so the two agree to the byte
 * on the same snapshot), then the exporter's own families: gt_up per
 * target and what the scrape cost.
 */
#ifndef GT_EXPORTER_SCRAPE_H
#define GT_EXPORTER_SCRAPE_H

#include <stdio.h>

#include "targets.h"

/* Samples every target of TS (rescanning first with --discover) and
 * writes the exposition to OUT.  The snapshots stay held until
 * targets_release. */
void scrape_write(struct targets *ts, FILE *out);

#endif
