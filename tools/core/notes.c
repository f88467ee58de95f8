/*
 * notes.c - the core's PT_NOTE, in the kernel's order, so that GDB and
 * the readers find what they find in a kernel core:
 *
 *   for the main thread:   NT_PRSTATUS, then the process's NT_PRPSINFO,
 *                          NT_AUXV, NT_FILE, then its NT_FPREGSET and
 *                          NT_X86_XSTATE
 *   for every other task:  NT_PRSTATUS, NT_FPREGSET, NT_X86_XSTATE
 *   last:                  "gt" GT_NOTE_CAPTURE (gt/registry.h): when the
 *                          capture was taken, and how
 *
 * No NT_SIGINFO: a live capture has no signal that killed the process.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/procfs.h>
#include <sys/user.h>
#include <unistd.h>

#include "core.h"

#ifndef NT_FILE
#define NT_FILE 0x46494c45
#endif
#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

struct out {
    uint8_t *p;
    size_t len, cap;
    int failed;
};

static void put(struct out *o, const void *d, size_t n)
{
    size_t pad = (4 - n % 4) % 4;
    if (o->failed)
        return;
    if (o->len + n + pad > o->cap) {
        size_t cap = (o->cap ? o->cap * 2 : 65536) + n + pad;
        uint8_t *p = realloc(o->p, cap);
        if (!p) {
            o->failed = 1;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->len, d, n);
    memset(o->p + o->len + n, 0, pad);
    o->len += n + pad;
}

static void note(struct out *o, const char *name, uint32_t type, const void *desc,
                 size_t len)
{
    Elf64_Nhdr h = {(uint32_t)strlen(name) + 1, (uint32_t)len, type};
    put(o, &h, sizeof(h));
    put(o, name, h.n_namesz);
    put(o, desc, len);
}

/* What /proc/PID/stat and status say of the process. */
struct proc_facts {
    char state;
    int ppid, pgrp, sid, nice;
    unsigned uid, gid;
    unsigned long flags;
    char psargs[ELF_PRARGSZ];
};

static void facts(pid_t pid, struct proc_facts *f)
{
    char path[64], buf[1024];
    memset(f, 0, sizeof(*f));
    f->state = 'R';
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *fp = fopen(path, "re");
    if (fp) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[n] = 0;
        fclose(fp);
        char *p = strrchr(buf, ')');
        if (p)
            sscanf(p + 1, " %c %d %d %d %*d %*d %lu %*u %*u %*u %*u %*u %*u %*d %*d "
                   "%*d %d", &f->state, &f->ppid, &f->pgrp, &f->sid, &f->flags,
                   &f->nice);
    }
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    fp = fopen(path, "re");
    while (fp && fgets(buf, sizeof(buf), fp)) {
        sscanf(buf, "Uid: %u", &f->uid);
        sscanf(buf, "Gid: %u", &f->gid);
    }
    if (fp)
        fclose(fp);
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    fp = fopen(path, "re");
    if (fp) {
        size_t n = fread(f->psargs, 1, sizeof(f->psargs) - 1, fp);
        fclose(fp);
        for (size_t i = 0; i + 1 < n; i++)
            if (!f->psargs[i])
                f->psargs[i] = ' ';
    }
}

static void tv(struct timeval *t, uint64_t ticks, long hz)
{
    t->tv_sec = (time_t)(ticks / (uint64_t)hz);
    t->tv_usec = (suseconds_t)(ticks % (uint64_t)hz * 1000000 / (uint64_t)hz);
}

static void prstatus(struct out *o, const struct capture *c, const struct core_task *t,
                     const struct proc_facts *f)
{
    struct elf_prstatus s;
    memset(&s, 0, sizeof(s));
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        hz = 100;
    s.pr_info.si_signo = t->resig;
    s.pr_cursig = (short)t->resig;
    s.pr_pid = t->tid;
    s.pr_ppid = f->ppid;
    s.pr_pgrp = f->pgrp;
    s.pr_sid = f->sid;
    tv(&s.pr_utime, t->utime, hz);
    tv(&s.pr_stime, t->stime, hz);
    _Static_assert(sizeof(s.pr_reg) == sizeof(t->regs), "pr_reg is user_regs_struct");
    memcpy(&s.pr_reg, &t->regs, sizeof(t->regs));
    s.pr_fpvalid = t->have_fp;
    (void)c;
    note(o, "CORE", NT_PRSTATUS, &s, sizeof(s));
}

static void prpsinfo(struct out *o, const struct capture *c, const struct proc_facts *f)
{
    struct elf_prpsinfo p;
    memset(&p, 0, sizeof(p));
    static const char states[] = "RSDTZW";
    const char *at = strchr(states, f->state);
    p.pr_state = at ? (char)(at - states) : 0;
    p.pr_sname = f->state;
    p.pr_zomb = f->state == 'Z';
    p.pr_nice = (char)f->nice;
    p.pr_flag = f->flags;
    p.pr_uid = f->uid;
    p.pr_gid = f->gid;
    p.pr_pid = c->pid;
    p.pr_ppid = f->ppid;
    p.pr_pgrp = f->pgrp;
    p.pr_sid = f->sid;
    size_t fl = strnlen(c->comm, sizeof(p.pr_fname) - 1);
    memcpy(p.pr_fname, c->comm, fl);
    memcpy(p.pr_psargs, f->psargs, sizeof(p.pr_psargs) - 1);
    note(o, "CORE", NT_PRPSINFO, &p, sizeof(p));
}

/* NT_FILE: count, page size, then {start, end, offset in pages} per file
 * mapping, then their paths. */
static void files(struct out *o, const struct capture *c)
{
    uint64_t n = 0;
    size_t names = 0;
    for (size_t i = 0; i < c->nmaps; i++)
        if (c->maps[i].inode && c->maps[i].path[0] == '/') {
            n++;
            names += strlen(c->maps[i].path) + 1;
        }
    size_t len = 16 + n * 24 + names;
    uint64_t *d = malloc(len);
    if (!d) {
        o->failed = 1;
        return;
    }
    d[0] = n;
    d[1] = CORE_PAGE;
    char *s = (char *)(d + 2 + 3 * n);
    uint64_t k = 0;
    for (size_t i = 0; i < c->nmaps; i++) {
        const struct core_map *m = &c->maps[i];
        if (!(m->inode && m->path[0] == '/'))
            continue;
        d[2 + 3 * k] = m->lo;
        d[3 + 3 * k] = m->hi;
        d[4 + 3 * k] = m->offset / CORE_PAGE;
        k++;
        size_t l = strlen(m->path) + 1;
        memcpy(s, m->path, l);
        s += l;
    }
    note(o, "CORE", NT_FILE, d, len);
    free(d);
}

int core_notes_build(struct capture *c, uint8_t **out, size_t *len, char *err)
{
    struct out o = {0};
    struct proc_facts f;
    facts(c->pid, &f);
    int first = 1;
    for (size_t i = 0; i < c->ntasks; i++) {
        const struct core_task *t = &c->tasks[i];
        if (!t->have_regs)
            continue;
        prstatus(&o, c, t, &f);
        if (first) {
            prpsinfo(&o, c, &f);
            if (c->auxv_len)
                note(&o, "CORE", NT_AUXV, c->auxv, c->auxv_len);
            files(&o, c);
            first = 0;
        }
        if (t->have_fp) {
            note(&o, "CORE", NT_FPREGSET, t->fpregs, sizeof(t->fpregs));
        } else {
            /* Registers from --regs-from or /proc have no floating-point
             * state: the state of a fresh thread (the flags say
             * GT_CAPTURE_NO_FPREGS), as GDB expects the note in every
             * thread. */
            struct user_fpregs_struct fp;
            memset(&fp, 0, sizeof(fp));
            fp.cwd = 0x37f;
            fp.mxcsr = 0x1f80;
            fp.mxcr_mask = 0xffff;
            note(&o, "CORE", NT_FPREGSET, &fp, sizeof(fp));
        }
        if (t->xstate_len)
            note(&o, "LINUX", NT_X86_XSTATE, t->xstate, t->xstate_len);
    }
    struct gt_core_capture cap = {
        .version = GT_CAPTURE_VERSION, .flags = c->flags,
        .monotonic_ns = c->monotonic_ns, .realtime_ns = c->realtime_ns,
        .stopped_ns = c->stopped_ns, .registry = c->registry,
    };
    note(&o, GT_NOTE_NAME, GT_NOTE_CAPTURE, &cap, sizeof(cap));
    if (o.failed) {
        free(o.p);
        core_err(err, "out of memory for the notes of %d's core", (int)c->pid);
        errno = ENOMEM;
        return -1;
    }
    *out = o.p;
    *len = o.len;
    return 0;
}
