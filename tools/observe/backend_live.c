/*
 * backend_live.c - a live process as a target: memory through
 * process_vm_readv (which neither stops nor writes to the process), the
 * mapped files from /proc/PID/maps, residency from /proc/PID/pagemap.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define IOV_BATCH 1024 /* IOV_MAX on Linux */

/* What tells one program of a process from the next it may exec: the
 * executable's file, and where its text and stack start (randomized anew
 * by each exec, so a program that execs itself changes them too). */
struct image {
    dev_t exe_dev;
    ino_t exe_ino;
    unsigned long long start_code, start_stack;
};

/* The live backend's state (t->priv). */
struct live {
    int pagemap_fd;          /* /proc/PID/pagemap, opened on first use */
    struct image image;      /* the program when the target was opened */
    int have_image;
};

static struct live *live_of(const gto_target *t) { return t->priv; }

static int live_read(gto_target *t, uint64_t addr, void *buf, size_t len)
{
    struct iovec local = {buf, len};
    struct iovec remote = {(void *)(uintptr_t)addr, len};
    ssize_t n = process_vm_readv(t->pid, &local, 1, &remote, 1, 0);
    if (n == (ssize_t)len)
        return 0;
    if (n >= 0)
        errno = EFAULT;
    return -1;
}

static int live_read_many(gto_target *t, const struct gto_range *r, size_t n,
                          uint8_t *ok)
{
    struct iovec local[IOV_BATCH], remote[IOV_BATCH];
    size_t i = 0;
    while (i < n) {
        size_t k = 0;
        size_t total = 0;
        for (; k < IOV_BATCH && i + k < n; k++) {
            local[k].iov_base = r[i + k].buf;
            local[k].iov_len = r[i + k].len;
            remote[k].iov_base = (void *)(uintptr_t)r[i + k].addr;
            remote[k].iov_len = r[i + k].len;
            total += r[i + k].len;
        }
        ssize_t got = process_vm_readv(t->pid, local, k, remote, k, 0);
        if (got < 0 && (errno == ESRCH || errno == EPERM))
            return -1;
        if (got == (ssize_t)total) {
            memset(ok + i, 1, k);
            i += k;
            continue;
        }
        /* A short read stops at the first range it could not read: those
         * before it are whole, that one failed, the rest are tried again. */
        size_t done = got > 0 ? (size_t)got : 0, j = 0;
        while (j < k && done >= r[i + j].len) {
            done -= r[i + j].len;
            ok[i + j++] = 1;
        }
        if (j < k)
            ok[i + j++] = 0;
        i += j;
    }
    return 0;
}

/* Whether process PID is gone: no /proc entry, or a zombie. */
static int process_gone(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    return !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X';
}

/* Bit 63 of a pagemap entry: page present in RAM; bit 62: swapped, which
 * still counts as resident memory charged to the stack.  PAGE is the
 * registry's page size, checked to be the machine's: pagemap has one
 * entry per page of the machine. */
static int live_residency(gto_target *t, uint64_t lo, uint64_t hi, uint64_t page,
                          uint8_t *present)
{
    struct live *l = live_of(t);
    if (page != (uint64_t)sysconf(_SC_PAGESIZE) || hi < lo) {
        errno = EINVAL;
        return -1;
    }
    if (l->pagemap_fd < 0) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)t->pid);
        l->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (l->pagemap_fd < 0) {
            if (errno == ENOENT)
                errno = ESRCH;
            return -1;
        }
    }
    size_t npages = (size_t)((hi - lo) / page);
    uint64_t entries[4096];
    for (size_t done = 0; done < npages;) {
        size_t k = npages - done < 4096 ? npages - done : 4096;
        off_t off = (off_t)((lo / page + done) * 8);
        ssize_t got = pread(l->pagemap_fd, entries, k * 8, off);
        if (got < 0)
            return -1;
        if (got < 8) {
            /* End of file: the process is gone (its pagemap reads as
             * empty), or the pages lie past the end of the address space
             * (a damaged stack address), which holds none. */
            if (process_gone(t->pid)) {
                errno = ESRCH;
                return -1;
            }
            memset(present + done, 0, npages - done);
            return 0;
        }
        k = (size_t)got / 8;
        for (size_t j = 0; j < k; j++)
            present[done + j] = (entries[j] >> 62) & 3 ? 1 : 0;
        done += k;
    }
    return 0;
}

/* A live process's now is the reader's: both read CLOCK_MONOTONIC. */
static uint64_t live_now(gto_target *t, const struct gto_counters *c, int *exact)
{
    (void)t, (void)c;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    *exact = 1;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A running thread's registers are in the kernel, out of a reader's
 * reach without stopping the process. */
static int live_thread_regs(gto_target *t, uint64_t rec, uint64_t current,
                            uint64_t regs[17])
{
    (void)t, (void)rec, (void)current, (void)regs;
    return 0;
}

/* Threads may all have exited between the header's copy and the
 * records'. */
static int live_no_threads(gto_target *t, uint64_t counted, char *err)
{
    (void)t, (void)counted, (void)err;
    return 0;
}

/* Only a regular file is opened: a process can map a device, and opening
 * one can block or act. */
static int live_open_mapping(gto_target *t, const struct gto_mapping *m)
{
    char alt[4200];
    int fd;
    if (m->deleted) {
        /* The program was rebuilt or upgraded while it ran: the path names
         * another file now.  The kernel still has the mapped one; never
         * the file now at the path, which would give wrong symbols. */
        snprintf(alt, sizeof(alt), "/proc/%d/map_files/%llx-%llx", (int)t->pid,
                 (unsigned long long)m->start, (unsigned long long)m->end);
        fd = gto__open_regular(alt);
        if (fd < 0 && t->exe && strcmp(m->path, t->exe) == 0) {
            snprintf(alt, sizeof(alt), "/proc/%d/exe", (int)t->pid);
            fd = gto__open_regular(alt);
        }
        return fd;
    }
    fd = gto__open_regular(m->path);
    if (fd == -1) {
        /* A process in another mount namespace sees its files here. */
        snprintf(alt, sizeof(alt), "/proc/%d/root%s", (int)t->pid, m->path);
        fd = gto__open_regular(alt);
    }
    return fd;
}

/* The program process PID runs now: 0, or -1 when it cannot be told. */
static int read_image(pid_t pid, struct image *im)
{
    char path[64], buf[1024];
    struct stat st;
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    if (stat(path, &st) < 0)
        return -1;
    im->exe_dev = st.st_dev;
    im->exe_ino = st.st_ino;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* Fields after "(comm) ": state is field 3, startcode 26, startstack
     * 28 (proc(5)); comm may hold spaces and parentheses. */
    const char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    for (int field = 3; field < 26; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return -1;
    }
    unsigned long long end_code;
    if (sscanf(p, " %llu %llu %llu", &im->start_code, &end_code, &im->start_stack) != 3)
        return -1;
    return 0;
}

static int live_replaced(gto_target *t, char *err)
{
    struct live *l = live_of(t);
    struct image now;
    if (!l->have_image || process_gone(t->pid) || read_image(t->pid, &now) < 0)
        return 0;
    if (now.exe_dev == l->image.exe_dev && now.exe_ino == l->image.exe_ino &&
        now.start_code == l->image.start_code &&
        now.start_stack == l->image.start_stack)
        return 0;
    gto__err(err, "%s exec'd a new program while it was read: run again",
             t->name);
    return 1;
}

static void live_close(gto_target *t)
{
    struct live *l = live_of(t);
    if (l && l->pagemap_fd >= 0)
        close(l->pagemap_fd);
    free(l);
    t->priv = NULL;
}

static const struct gto_backend live_backend = {
    .kind = "live",
    .memory_moves = 1,
    .read = live_read,
    .read_many = live_read_many,
    .residency = live_residency,
    .now = live_now,
    .thread_regs = live_thread_regs,
    .no_threads = live_no_threads,
    .replaced = live_replaced,
    .open_mapping = live_open_mapping,
    .close = live_close,
};

/* Yama's ptrace_scope, or -1 where the kernel has no Yama.  Scope 1 lets
 * a process read only its descendants, so a reader that is not the
 * target's ancestor is refused even as the same user; scope 2 needs
 * CAP_SYS_PTRACE, scope 3 forbids attaching at all. */
static int yama_scope(void)
{
    int scope = -1;
    FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
    if (f) {
        if (fscanf(f, "%d", &scope) != 1)
            scope = -1;
        fclose(f);
    }
    return scope;
}

/* What /proc/PID/status says of a process's credentials: its uids and
 * gids (real, effective, saved, filesystem) and its capabilities. */
struct creds {
    unsigned uid[4], gid[4];
    uint64_t cap_prm, cap_eff;
};

static int read_creds(const char *path, struct creds *c)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    char line[256];
    int got = 0;
    unsigned long long prm, eff;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "Uid: %u %u %u %u", &c->uid[0], &c->uid[1], &c->uid[2],
                   &c->uid[3]) == 4)
            got |= 1;
        else if (sscanf(line, "Gid: %u %u %u %u", &c->gid[0], &c->gid[1],
                        &c->gid[2], &c->gid[3]) == 4)
            got |= 2;
        else if (sscanf(line, "CapPrm: %llx", &prm) == 1)
            c->cap_prm = prm, got |= 4;
        else if (sscanf(line, "CapEff: %llx", &eff) == 1)
            c->cap_eff = eff, got |= 8;
    }
    fclose(f);
    return got == 15 ? 0 : -1;
}

#define CAP_SYS_PTRACE_BIT 19

/* Why the kernel refused to let the reader read the target, in the order
 * it checks (ptrace access mode, see ptrace(2)): the same user and group
 * as all the target's ids, or CAP_SYS_PTRACE; a dumpable target; no
 * capability the reader lacks; then Yama and the other security modules.
 * The line names the one that failed and its fix: never "run as the same
 * user" to a reader that is (root reading pid 1 in a container lacks
 * CAP_SYS_PTRACE, not the right uid). */
static void permission_error(gto_target *t, char *err, const char *what)
{
    char path[64];
    struct creds me, it;
    struct stat st;
    int scope = yama_scope();
    snprintf(path, sizeof(path), "/proc/%d/status", (int)t->pid);
    if (read_creds("/proc/self/status", &me) < 0 || read_creds(path, &it) < 0) {
        gto__err(err, "not permitted to read %s %s: run as the same user, or "
                 "give the reader CAP_SYS_PTRACE", what, t->name);
        return;
    }
    int has_ptrace = (me.cap_eff >> CAP_SYS_PTRACE_BIT) & 1;
    unsigned uid = me.uid[3], gid = me.gid[3];   /* fs ids: /proc's checks */
    int same_uid = 1, same_gid = 1;
    for (int i = 0; i < 3; i++) {
        same_uid &= it.uid[i] == uid;
        same_gid &= it.gid[i] == gid;
    }
    /* The files of /proc/PID belong to root when the process is not
     * dumpable (its directory keeps its owner). */
    int dumpable = !(stat(path, &st) == 0 && st.st_uid == 0 && it.uid[1] != 0);
    if (scope == 3)
        gto__err(err, "not permitted to read %s %s: kernel.yama.ptrace_scope is "
                 "3: no process may read another's memory until reboot", what,
                 t->name);
    else if (has_ptrace)
        gto__err(err, "not permitted to read %s %s although the reader has "
                 "CAP_SYS_PTRACE: a security module (SELinux, AppArmor) or the "
                 "process's user namespace refuses it", what, t->name);
    else if (!same_uid)
        gto__err(err, "not permitted to read %s %s (the process belongs to uid "
                 "%u, you are uid %u): run as the same user, or give the "
                 "reader CAP_SYS_PTRACE", what, t->name, it.uid[1], uid);
    else if (!same_gid)
        gto__err(err, "not permitted to read %s %s (the process runs with group "
                 "%u, you with group %u): run with the same group, or give the "
                 "reader CAP_SYS_PTRACE", what, t->name, it.gid[1], gid);
    else if (!dumpable)
        gto__err(err, "not permitted to read %s %s: the process is not dumpable "
                 "(a set-uid or file-capability program, or it called "
                 "prctl(PR_SET_DUMPABLE, 0)): give the reader CAP_SYS_PTRACE",
                 what, t->name);
    else if (it.cap_prm & ~me.cap_eff)
        gto__err(err, "not permitted to read %s %s: the process has capabilities "
                 "the reader lacks (%#llx): give the reader CAP_SYS_PTRACE "
                 "(in a container: --cap-add=SYS_PTRACE)", what, t->name,
                 (unsigned long long)(it.cap_prm & ~me.cap_eff));
    else if (scope == 2)
        gto__err(err, "not permitted to read %s %s: kernel.yama.ptrace_scope is "
                 "2: give the reader CAP_SYS_PTRACE", what, t->name);
    else if (scope == 1)
        gto__err(err, "not permitted to read %s %s: kernel.yama.ptrace_scope is "
                 "1: only the program's ancestors may read it: give the reader "
                 "CAP_SYS_PTRACE, or set kernel.yama.ptrace_scope=0", what,
                 t->name);
    else
        gto__err(err, "not permitted to read %s %s: a security module (SELinux, "
                 "AppArmor) refuses it", what, t->name);
}

static int read_maps(gto_target *t, char *err)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)t->pid);
    FILE *f = fopen(path, "re");
    if (!f) {
        if (errno == EACCES || errno == EPERM)
            permission_error(t, err, "the memory map of");
        else
            gto__err(err, "%s: cannot open %s: %s", t->name, path, strerror(errno));
        return -1;
    }
    char line[4400];
    size_t cap = 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long start, end, offset;
        char perms[8] = "";
        int pathpos = 0;
        if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &offset,
                   &pathpos) < 4 || !pathpos || line[pathpos] != '/')
            continue;
        char *p = line + pathpos;
        p[strcspn(p, "\n")] = 0;
        char *deleted = strstr(p, " (deleted)");
        int was_deleted = deleted && deleted[10] == 0;
        if (was_deleted)
            *deleted = 0;
        if (t->nmaps == cap) {
            cap = cap ? cap * 2 : 64;
            struct gto_mapping *m = realloc(t->maps, cap * sizeof(*m));
            if (!m)
                break;
            t->maps = m;
        }
        struct gto_mapping *m = &t->maps[t->nmaps];
        m->start = start;
        m->end = end;
        m->offset = offset;
        m->fd = -1;
        m->deleted = was_deleted;
        m->not_exec = perms[2] != 'x';
        m->path = strdup(p);
        if (m->path)
            t->nmaps++;
    }
    fclose(f);
    return 0;
}

int gto_open_pid(pid_t pid, gto_target **out, char *err)
{
    *out = NULL;
    if (pid <= 0) {
        gto__err(err, "%d is not a process id", (int)pid);
        return -1;
    }
    gto_target *t = calloc(1, sizeof(*t));
    struct live *l = calloc(1, sizeof(*l));
    if (!t || !l) {
        free(t);
        free(l);
        gto__err(err, "out of memory");
        return -1;
    }
    t->be = &live_backend;
    t->priv = l;
    l->pagemap_fd = -1;
    t->pid = pid;

    char path[64], comm[64] = "";
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f && errno == ENOENT) {
        gto__err(err, "no process %d", (int)pid);
        gto_close(t);
        return -1;
    }
    if (f) {
        /* The name is any bytes the program set (PR_SET_NAME), a newline
         * too: only the last one is the file's. */
        size_t n = fread(comm, 1, sizeof(comm) - 1, f);
        if (n && comm[n - 1] == '\n')
            n--;
        comm[n] = 0;
        fclose(f);
    }
    gto__target_name_set(t, "process %d (%s)", (int)pid, comm);

    char exe[PATH_MAX];
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(path, exe, sizeof(exe) - 1);
    if (n < 0) {
        if (errno == EACCES || errno == EPERM)
            permission_error(t, err, "the program of");
        else if (errno == ENOENT)
            gto__err(err, "%s has no program: it is a kernel thread, a zombie, "
                     "or it has just exited", t->name);
        else
            gto__err(err, "%s: cannot read %s: %s", t->name, path, strerror(errno));
        goto fail;
    }
    exe[n] = 0;
    /* Before the maps: an exec between the two shows as a change. */
    l->have_image = read_image(pid, &l->image) == 0;
    char *deleted = strstr(exe, " (deleted)");
    if (deleted && deleted[10] == 0)
        *deleted = 0;
    t->exe = strdup(exe);
    if (!t->exe || read_maps(t, err) < 0)
        goto fail;
    if (gto__find_registry(t, err) < 0)
        goto fail;
    /* Probe once: a reader without ptrace rights learns it here, by name,
     * rather than as a failed read somewhere later. */
    uint64_t magic;
    if (live_read(t, t->registry, &magic, sizeof(magic)) < 0) {
        if (errno == EPERM || errno == EACCES)
            permission_error(t, err, "the memory of");
        else if (errno == ESRCH)
            gto__err(err, "%s exited while being read", t->name);
        else
            gto__err(err, "%s: its registry at %#llx cannot be read: %s", t->name,
                     (unsigned long long)t->registry, strerror(errno));
        goto fail;
    }
    *out = t;
    return 0;
fail:
    live_replaced(t, err);
    gto_close(t);
    return -1;
}
