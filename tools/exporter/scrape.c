/*
 * scrape.c - see scrape.h.
 *
 * The exporter's families, after gt-top's:
 *
 *   gt_up{pid,exe}                    1 the target was read by this
 *                                     scrape, 0 not (its series are then
 *                                     absent, as node_exporter's
 *                                     collectors do)
 *   gt_exporter_targets               targets listed
 *   gt_exporter_scrape_cpu_seconds    CPU the exporter spent on this
 *                                     scrape up to these lines (sampling
 *                                     and formatting every target)
 *   gt_exporter_scrape_duration_seconds  the same, on the wall clock
 *
 * A target that cannot be read is never an error page: the other
 * targets' series are still worth having.
 */
#include "scrape.h"

#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

#include "prometheus.h"

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void scrape_write(struct targets *ts, FILE *out)
{
    double cpu0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    double wall0 = clock_seconds(CLOCK_MONOTONIC);
    targets_rescan(ts);
    targets_sample(ts);
    struct prom_target *pt = calloc(ts->n + 1, sizeof(*pt));
    const struct prom_full **full = calloc(ts->n + 1, sizeof(*full));
    size_t n = 0;
    for (size_t i = 0; pt && full && i < ts->n; i++)
        if (ts->v[i].up) {
            full[n] = ts->v[i].full_known ? &ts->v[i].full : NULL;
            pt[n++] = (struct prom_target){&ts->v[i].s, &ts->v[i].tb, ts->v[i].labels};
        }
    prom_write_full(out, pt, full, n);
    free(pt);
    free(full);

    if (ts->n) {
        prom_family(out, "gt_up", "gauge",
                    "1 when the target was read by this scrape, 0 when it could not be.");
        for (size_t i = 0; i < ts->n; i++)
            fprintf(out, "gt_up{%s} %d\n", ts->v[i].labels, ts->v[i].up);
    }
    prom_family(out, "gt_exporter_targets", "gauge", "Processes the exporter reads.");
    fprintf(out, "gt_exporter_targets %zu\n", ts->n);
    double cpu = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
    double wall = clock_seconds(CLOCK_MONOTONIC) - wall0;
    prom_family(out, "gt_exporter_scrape_cpu_seconds", "gauge",
                "CPU time this scrape took to sample and format every target.");
    fprintf(out, "gt_exporter_scrape_cpu_seconds %.6f\n", cpu);
    prom_family(out, "gt_exporter_scrape_duration_seconds", "gauge",
                "Wall time this scrape took to sample and format every target.");
    fprintf(out, "gt_exporter_scrape_duration_seconds %.6f\n", wall);
}
