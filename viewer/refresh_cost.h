/*
 * refresh_cost.h - what each refresh costs gt-top itself (--timing): CPU
 * time of the whole process (every thread of it) and wall time, from the
 * start of the snapshot to the last byte of output or of the screen.
 *
 * Batch mode prints each line as it is measured; the screen keeps them
 * and prints them to stderr once curses has given the terminal back.
 */
#ifndef GT_TOP_REFRESH_COST_H
#define GT_TOP_REFRESH_COST_H

#include <stddef.h>
#include <stdio.h>

struct refresh_cost {
    int enabled;
    int buffered;          /* keep the lines until refresh_cost_flush */
    unsigned count;        /* refreshes measured so far */
    double cpu0, wall0;    /* at refresh_cost_begin, seconds */
    char *log;             /* buffered lines */
    size_t len, cap;
};

void refresh_cost_begin(struct refresh_cost *c);
/* Ends the refresh begun last; NTHREADS says how big the snapshot was. */
void refresh_cost_end(struct refresh_cost *c, size_t nthreads);
/* Prints the buffered lines to F and frees them. */
void refresh_cost_flush(struct refresh_cost *c, FILE *f);

#endif
