/*
 * regs.c - each task's registers: from ptrace (the task is stopped by
 * gt-core), or from a file that the tracer who stopped it wrote
 * (--regs-from: GDB's green-gcore, which holds the ptrace attachment).
 *
 * The xstate area is taken at the size the kernel gives (it depends on
 * the CPU's features), bounded by CORE_XSTATE_MAX.
 */
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

#include "core.h"

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

int core_regs_read(struct capture *c, char *err)
{
    static uint8_t xs[CORE_XSTATE_MAX];
    for (size_t i = 0; i < c->ntasks; i++) {
        struct core_task *t = &c->tasks[i];
        struct iovec io = {&t->regs, sizeof(t->regs)};
        if (ptrace(PTRACE_GETREGSET, t->tid, (void *)NT_PRSTATUS, &io) < 0) {
            if (errno == ESRCH && t->tid == c->pid) {
                core_err(err, "%d exited during the capture", (int)c->pid);
                return -1;
            }
            continue;   /* a task that exited: no registers, no note */
        }
        t->have_regs = 1;
        io = (struct iovec){t->fpregs, sizeof(t->fpregs)};
        if (ptrace(PTRACE_GETREGSET, t->tid, (void *)NT_PRFPREG, &io) == 0 &&
            io.iov_len == sizeof(t->fpregs))
            t->have_fp = 1;
        io = (struct iovec){xs, sizeof(xs)};
        if (ptrace(PTRACE_GETREGSET, t->tid, (void *)NT_X86_XSTATE, &io) == 0 &&
            io.iov_len > 0 && io.iov_len <= sizeof(xs)) {
            t->xstate = malloc(io.iov_len);
            if (t->xstate) {
                memcpy(t->xstate, xs, io.iov_len);
                t->xstate_len = io.iov_len;
            }
        }
    }
    return 0;
}

/* The registers --regs-from names, in struct user_regs_struct. */
static const struct {
    const char *name;
    size_t off;
} names[] = {
#define R(n) {#n, offsetof(struct user_regs_struct, n)}
    R(r15), R(r14), R(r13), R(r12), R(rbp), R(rbx), R(r11), R(r10), R(r9),
    R(r8), R(rax), R(rcx), R(rdx), R(rsi), R(rdi), R(orig_rax), R(rip),
    R(cs), R(eflags), R(rsp), R(ss), R(fs_base), R(gs_base), R(ds), R(es),
    R(fs), R(gs),
#undef R
};

static struct core_task *task_of(struct capture *c, long tid)
{
    for (size_t i = 0; i < c->ntasks; i++)
        if (c->tasks[i].tid == tid)
            return &c->tasks[i];
    return NULL;
}

/* Format (one line per kernel thread, main thread first):
 *   tid=1234 rax=0x0 rbx=0x... rip=0x... fs_base=0x...
 * Unknown names are ignored, missing ones are 0.  Every tid must be one
 * of the target's tasks, named once. */
int core_regs_from_file(struct capture *c, const char *path, char *err)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        core_err(err, "cannot read the registers file %s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096];
    unsigned lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            core_err(err, "%s:%u: line too long", path, lineno);
            rc = -1;
            break;
        }
        char *save, *tok = strtok_r(line, " \t\n", &save);
        if (!tok)
            continue;
        char *end;
        long tid;
        if (strncmp(tok, "tid=", 4) != 0 || (tid = strtol(tok + 4, &end, 10)) <= 0 ||
            *end) {
            core_err(err, "%s:%u: a line starts with tid=TID", path, lineno);
            rc = -1;
            break;
        }
        struct core_task *t = task_of(c, tid);
        if (!t || t->have_regs) {
            core_err(err, "%s:%u: %ld is %s", path, lineno, tid,
                     t ? "named twice" : "not a task of the target");
            rc = -1;
            break;
        }
        while ((tok = strtok_r(NULL, " \t\n", &save))) {
            char *eq = strchr(tok, '=');
            if (!eq)
                continue;
            *eq = 0;
            for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
                if (strcmp(tok, names[k].name) == 0) {
                    unsigned long long v = strtoull(eq + 1, &end, 0);
                    if (*end) {
                        core_err(err, "%s:%u: %s=%s is not a number", path, lineno,
                                 tok, eq + 1);
                        fclose(f);
                        return -1;
                    }
                    memcpy((uint8_t *)&t->regs + names[k].off, &v, sizeof(v));
                }
        }
        t->have_regs = 1;
    }
    fclose(f);
    if (rc == 0 && c->ntasks && !c->tasks[0].have_regs) {
        core_err(err, "%s names no registers for the main thread %d", path, (int)c->pid);
        rc = -1;
    }
    return rc;
}
