/*
 * tui.h - gt-top's interactive screen (ncurses).
 */
#ifndef GT_TOP_TUI_H
#define GT_TOP_TUI_H

#include "batch.h"
#include "refresh_cost.h"
#include "sampler.h"

/* Runs the screen until q, or for ITERATIONS refreshes (the first screen
 * one of them) when not 0 (-n); S holds a first snapshot; the FIRST view's
 * rows start in ORDER; the Stacks view's classes are by CLASS_BY.  Each
 * refresh after the first screen is measured into COST.  Returns the exit
 * status. */
int tui_run(struct sampler *s, double delay, long iterations, enum view first,
            struct row_order order, enum gto_class_by class_by,
            struct refresh_cost *cost);

/* The same over several processes (multi.h), M holding a first snapshot
 * of each: merged rows, P splits them by process; with a --name pattern,
 * new processes are looked for at each refresh. */
struct multi;
int tui_run_multi(struct multi *m, double delay, long iterations, enum view first,
                  struct row_order order, enum gto_class_by class_by,
                  struct refresh_cost *cost);

#endif
