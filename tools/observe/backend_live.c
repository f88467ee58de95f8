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

/* The live backend's state (t->priv). */
struct live {
    int pagemap_fd;          /* /proc/PID/pagemap, opened on first use */
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

/* Bit 63 of a pagemap entry: page present in RAM; bit 62: swapped, which
 * still counts as resident memory charged to the stack. */
static int live_residency(gto_target *t, uint64_t lo, uint64_t hi,
                          uint8_t *present)
{
    struct live *l = live_of(t);
    if (l->pagemap_fd < 0) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)t->pid);
        l->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (l->pagemap_fd < 0)
            return -1;
    }
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    size_t npages = (size_t)((hi - lo) / page);
    uint64_t entries[4096];
    for (size_t done = 0; done < npages;) {
        size_t k = npages - done < 4096 ? npages - done : 4096;
        off_t off = (off_t)((lo / page + done) * 8);
        ssize_t got = pread(l->pagemap_fd, entries, k * 8, off);
        if (got <= 0)
            return -1;
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
        fd = open(alt, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && t->exe && strcmp(m->path, t->exe) == 0) {
            snprintf(alt, sizeof(alt), "/proc/%d/exe", (int)t->pid);
            fd = open(alt, O_RDONLY | O_CLOEXEC);
        }
        return fd;
    }
    fd = open(m->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        /* A process in another mount namespace sees its files here. */
        snprintf(alt, sizeof(alt), "/proc/%d/root%s", (int)t->pid, m->path);
        fd = open(alt, O_RDONLY | O_CLOEXEC);
    }
    return fd;
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

static void permission_error(gto_target *t, char *err, const char *what)
{
    char path[64];
    struct stat st;
    int scope = yama_scope();
    snprintf(path, sizeof(path), "/proc/%d", (int)t->pid);
    if (stat(path, &st) == 0 && st.st_uid == geteuid() && scope >= 1)
        gto__err(err, "not permitted to read %s %s: kernel.yama.ptrace_scope "
                 "is %d; %s", what, t->name, scope,
                 scope == 3 ? "no process may read another's memory until "
                              "reboot"
                 : scope == 2 ? "give the reader CAP_SYS_PTRACE (or run it as "
                                "root)"
                              : "only the program's ancestors may read it: "
                                "run the reader as root, or set "
                                "kernel.yama.ptrace_scope=0");
    else if (stat(path, &st) == 0)
        gto__err(err, "not permitted to read %s %s (the process belongs to "
                 "uid %u, you are uid %u): run as the same user, or give the "
                 "reader CAP_SYS_PTRACE", what, t->name, (unsigned)st.st_uid,
                 (unsigned)geteuid());
    else
        gto__err(err, "not permitted to read %s %s: run as the same user, or "
                 "give the reader CAP_SYS_PTRACE", what, t->name);
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
        int pathpos = 0;
        if (sscanf(line, "%llx-%llx %*s %llx %*s %*s %n", &start, &end, &offset,
                   &pathpos) < 3 || !pathpos || line[pathpos] != '/')
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
    gto_close(t);
    return -1;
}
