/*
 * batch_parts.h - the pieces of gt-top's batch output (batch.c) that the
 * output over several processes (batch_multi.c) prints with too, so that
 * the two documents, tables and graphs cannot drift apart.  Private to
 * those two files.
 */
#ifndef GT_VIEWER_BATCH_PARTS_H
#define GT_VIEWER_BATCH_PARTS_H

#include <stdint.h>
#include <stdio.h>

#include "batch.h"
#include "stack_report.h"

/* ---- text ---------------------------------------------------------------- */

/* The next header line, or NULL when MAX are filled. */
char *batch_next_line(struct header_line *lines, int *n, int max, int alert);
/* The header's lines that read the tables alone, one process's or
 * merged: the deadlock banner and the thread counts; the stacks' sizes. */
void batch_header_threads(struct header_line *lines, int *n, int max,
                          const struct tables *tb, int screen);
void batch_header_stacks(struct header_line *lines, int *n, int max, const struct tables *tb);
/* The most columns a table prints. */
#define TEXT_COLUMNS_MAX 16
/* NROWS rows under NCOLS columns (at most TEXT_COLUMNS_MAX); ROW gives
 * the I-th of ROWS. */
void batch_print_table(FILE *out, const struct column *cols, size_t ncols,
                       const void *rows, size_t nrows,
                       const void *(*row)(const void *rows, size_t i));
const void *batch_loc_at(const void *rows, size_t i);
const void *batch_thread_at(const void *rows, size_t i);
void batch_text_graph(FILE *out, const struct tables *tb);
int batch_text_stacks(FILE *out, struct sampler *s, enum gto_class_by by);
/* A line callback (deadlock_lines) that prints to the FILE OUT. */
void batch_text_line(void *out, const char *line);

/* ---- JSON ---------------------------------------------------------------- */

/* The document's figures from "time" to "stacks": one process's own, or
 * their sums (maxima for times) over several. */
struct json_totals {
    uint64_t taken_ns;       /* realtime of the (latest) snapshot */
    double dt;               /* interval, s */
    int averages;            /* rates are averages since the start */
    int exact;               /* "now" is the target's own clock */
    uint64_t uptime_ns, runq, idle_ns, io_calls, io_ns, rss;
    double spawns_s, exits_s, switches_s, idle_share;
};

void batch_json_u64_or_null(FILE *out, int known, uint64_t v);
void batch_json_threads(FILE *out, struct sampler *one, const struct tables *tb);
void batch_json_stacks_head(FILE *out, const uint64_t *hist, uint64_t no_stack,
                            enum gto_class_by by);
void batch_json_class(FILE *out, const struct gto_class *k, int known);
void batch_json_functions(FILE *out, const struct stack_function *f, size_t n);
void batch_json_states(FILE *out, const uint64_t *nstate);
void batch_json_totals(FILE *out, const struct json_totals *t, const struct tables *tb);
void batch_json_guard(FILE *out, uint32_t policy, uint64_t mappings, uint64_t max_map_count,
                      const struct tables *tb);
void batch_json_location(FILE *out, const struct loc_row *l, int first);
void batch_json_edges(FILE *out, const struct tables *tb);

/* ---- DOT ----------------------------------------------------------------- */

void batch_print_dot(FILE *out, const struct tables *tb);

#endif
