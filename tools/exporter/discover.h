/*
 * discover.h - every gt process on the machine this user may read, found
 * in /proc: a process whose program or one of its mapped objects defines
 * the registry (the `gt_registry` symbol in .dynsym or .symtab, or the
 * "gt" note libgt carries for stripped, static programs; as libgtobserve
 * finds it, tools/observe/target.c).
 *
 * Cheap to repeat: each process is looked at once per (pid, start time, program),
 * and each mapped object once per (device, inode), so a scan of a
 * machine whose processes have not changed reads one small /proc file per
 * process.
 */
#ifndef GT_EXPORTER_DISCOVER_H
#define GT_EXPORTER_DISCOVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct discover_proc {
    pid_t pid;
    uint64_t start;        /* proc_start_time */
    uint64_t exe_ino;      /* its program's inode (an exec changes it) */
    int is_gt;             /* a gt program this user may read */
};

struct discover_obj {
    uint64_t dev, ino;
    int has_registry;
};

struct discover {
    struct discover_proc *procs;   /* by pid, ascending */
    size_t nprocs;
    struct discover_obj *objs;     /* objects looked at */
    size_t nobjs, cap_objs;
    pid_t self;                    /* never a target */
};

void discover_init(struct discover *d);
void discover_free(struct discover *d);

/* Scans /proc: afterwards D->procs lists every process there is, gt
 * programs marked.  -1 when /proc cannot be read (D unchanged). */
int discover_scan(struct discover *d);

#endif
