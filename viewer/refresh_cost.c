/*
 * refresh_cost.c - see refresh_cost.h.  The line format is fixed, for
 * scripts (bench/viewer_bench.py reads it):
 *
 *   gt-top: refresh N: CPU_MS ms CPU, WALL_MS ms wall, T threads
 *
 * N counts from 1; refresh 1 includes loading the symbols of the
 * locations, which later refreshes find cached.
 */
#include "refresh_cost.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void refresh_cost_begin(struct refresh_cost *c)
{
    if (!c->enabled)
        return;
    c->cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    c->wall0 = clock_s(CLOCK_MONOTONIC);
}

void refresh_cost_end(struct refresh_cost *c, size_t nthreads)
{
    if (!c->enabled)
        return;
    double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c->cpu0;
    double wall = clock_s(CLOCK_MONOTONIC) - c->wall0;
    char line[128];
    int n = snprintf(line, sizeof(line), "gt-top: refresh %u: %.3f ms CPU, %.3f ms wall, %zu threads\n",
                     ++c->count, cpu * 1e3, wall * 1e3, nthreads);
    if (n <= 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = (int)sizeof(line) - 1;   /* cut: the copy below is of LINE */
    if (!c->buffered) {
        fputs(line, stderr);
        return;
    }
    if (c->len + (size_t)n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        while (cap < c->len + (size_t)n + 1)
            cap *= 2;
        char *p = realloc(c->log, cap);
        if (!p)
            return;   /* a lost timing line harms nothing */
        c->log = p;
        c->cap = cap;
    }
    memcpy(c->log + c->len, line, (size_t)n + 1);
    c->len += (size_t)n;
}

void refresh_cost_flush(struct refresh_cost *c, FILE *f)
{
    if (c->len)
        fputs(c->log, f);
    free(c->log);
    c->log = NULL;
    c->len = c->cap = 0;
}
