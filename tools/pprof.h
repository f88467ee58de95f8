/*
 * pprof.h - gt-stacks' groups as a pprof profile: profile.proto (the
 * format of github.com/google/pprof, which go tool pprof, Pyroscope and
 * Parca read), gzip-compressed.
 *
 * Each merged group gives a sample per process holding it (and per state,
 * wait kind and location among its members), with the values "threads"
 * (count) and "live_stack_bytes" (bytes), and the labels pid, exe, state,
 * wait, location and group (the group's 1-based rank in gt-stacks'
 * output).  Locations are the representative's frames in each process,
 * with their functions, files, lines and inlined calls already resolved,
 * and mappings name each module's file and GNU build-id.
 */
#ifndef GT_TOOLS_PPROF_H
#define GT_TOOLS_PPROF_H

#include <stdio.h>

#include "gtobserve.h"

/* Writes the profile of the NM merged groups M, over the NSETS sets
 * gto_groups_merge merged them from, to OUT.  0, or -1 with ERR set
 * (GTO_ERR_MAX bytes: out of memory, compression, a write error). */
int pprof_write(FILE *out, const struct gto_group_set *sets, size_t nsets,
                const struct gto_merged *m, size_t nm, char *err);

#endif
