/*
 * target_open.c - the target a tool's command line names: its checks and
 * opening it (common.h).  A file of its own because the fuzz target
 * (tests/fuzz/fuzz_readers.c) links the tools with its own versions of
 * these two, which open the image it is fuzzing, and everything else of
 * common.c as it is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

int target_args_check(const struct target_args *a, char *err, size_t len)
{
    if (a->pid && a->core)
        snprintf(err, len, "give a PID or --core CORE, not both");
    else if (!a->pid && !a->core)
        snprintf(err, len, "no target: give a PID, or a core file with --core CORE");
    else if (a->exe && !a->core)
        snprintf(err, len, "--exe EXE goes with a core given by --core CORE "
                 "(a live process names its own program)");
    else if (a->pid) {
        char *end;
        errno = 0;
        long v = strtol(a->pid, &end, 10);
        if (errno || *end || end == a->pid || v <= 0 || v > 0x3fffffff) {
            char pid[64];
            gto_text_safe(a->pid, strlen(a->pid), pid, sizeof(pid));
            snprintf(err, len, "'%s' is not a process id", pid);
        }
        else
            return 0;
    } else
        return 0;
    return -1;
}

gto_target *target_open(const char *prog, const struct target_args *a)
{
    char err[GTO_ERR_MAX];
    gto_target *t = NULL;
    int rc = a->core ? gto_open_core(a->core, a->exe, &t, err)
                     : gto_open_pid((pid_t)strtol(a->pid, NULL, 10), &t, err);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return NULL;
    }
    return t;
}
