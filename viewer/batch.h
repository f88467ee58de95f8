/*
 * batch.h - gt-top -b: one snapshot printed as text, JSON, Prometheus text
 * exposition or Graphviz DOT.
 */
#ifndef GT_TOP_BATCH_H
#define GT_TOP_BATCH_H

#include <stdio.h>

#include "sampler.h"
#include "tables.h"

enum view { VIEW_LOCATIONS, VIEW_THREADS, VIEW_STACKS, VIEW_GRAPH, VIEW_COUNT };
enum format { FORMAT_TEXT, FORMAT_JSON, FORMAT_PROMETHEUS, FORMAT_DOT };

extern const char *const view_names[VIEW_COUNT];

/* The header lines, shared by text output and the screen: fills LINES
 * (up to MAX, at most HEADER_MAX); returns how many.  A deadlock banner
 * comes second when there is a cycle (with the screen's key when
 * SCREEN), the running thread's line after the threads', and last, for a
 * core gt-core wrote, when and how it was taken; ALERT marks the lines
 * the screen highlights (the banner, a hog past -H). */
#define HEADER_MAX 8
struct header_line {
    char text[256];
    int alert;
};
int header_lines(const struct sampler *s, const struct tables *tb, int screen,
                 struct header_line *lines, int max);

/* The order of a view's rows: a column of its table (loc_columns or
 * thread_columns) and the direction; col -1 is the view's own order
 * (locations by threads waiting, longest first; threads by id). */
struct row_order {
    int col;
    int desc;
};

/* Prints one snapshot of view V in format F, rows in ORDER (text and
 * JSON), the Stacks view's classes by BY.  -1 on ENOMEM. */
int batch_print(FILE *out, struct sampler *s, struct tables *tb,
                enum view v, enum format f, struct row_order order,
                enum gto_class_by by);

/* The header over the processes of M (multi.h), TB their merged tables:
 * the same lines as header_lines, summed ("N processes"). */
struct multi;
int multi_header_lines(const struct multi *m, const struct tables *tb, int screen,
                       struct header_line *lines, int max);

/* batch_print over the processes of M, TB their merged tables (split by
 * none): text adds the locations by process, JSON per-process members,
 * Prometheus a target per process labelled by pid and exe. */
int batch_print_multi(FILE *out, struct multi *m, struct tables *tb, enum view v,
                      enum format f, struct row_order order, enum gto_class_by by);

/* A class's row of the Stacks view into BUF (K NULL: the titles); the
 * screen and text output share it.  Returns what snprintf does. */
int stack_class_line(const struct gto_class *k, char *buf, size_t len);

#endif
