/*
 * copy.c - the planned chunks copied out of the target into one buffer.
 *
 * process_vm_readv takes up to IOV_MAX ranges a call, so 100K small
 * stack chunks cost a hundred system calls.  A call stops at the first
 * byte it cannot read (a guard page the plan did not know of, a mapping
 * that changed): that chunk is read again page by page, and a page that
 * still fails is left a hole.  A readable page is never left out.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "core.h"

#define BATCH 1024  /* IOV_MAX */

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

uint64_t core_copy_bytes(const struct capture *c)
{
    uint64_t n = 0;
    for (size_t i = 0; i < c->nchunks; i++)
        n += c->chunks[i].len;
    return n;
}

/* What the memory cgroup gt-core runs in lets it add: its limit less its
 * usage (cgroup v2 memory.max - memory.current, v1 memory.limit_in_bytes
 * - memory.usage_in_bytes); UINT64_MAX without a limit.  Past it the
 * kernel kills gt-core outright, so it is checked before. */
static uint64_t read_u64(const char *dir, const char *file)
{
    char path[4352];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    FILE *f = fopen(path, "re");
    unsigned long long v;
    int ok = f && fscanf(f, "%llu", &v) == 1;
    if (f)
        fclose(f);
    return ok ? (uint64_t)v : UINT64_MAX;
}

static uint64_t cgroup_headroom(void)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    char line[4096], dir[4200];
    uint64_t room = UINT64_MAX;
    while (f && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        char *ctl = strchr(line, ':'), *path = ctl ? strchr(ctl + 1, ':') : NULL;
        if (!path)
            continue;
        *path++ = 0;
        uint64_t lim, use;
        if (strcmp(ctl + 1, "memory") == 0) {
            snprintf(dir, sizeof(dir), "/sys/fs/cgroup/memory%s", path);
            lim = read_u64(dir, "memory.limit_in_bytes");
            use = read_u64(dir, "memory.usage_in_bytes");
        } else if (ctl[1] == 0) {
            snprintf(dir, sizeof(dir), "/sys/fs/cgroup%s", path);
            lim = read_u64(dir, "memory.max");      /* "max" reads as none */
            use = read_u64(dir, "memory.current");
        } else {
            continue;
        }
        if (lim != UINT64_MAX && use != UINT64_MAX) {
            uint64_t r = lim > use ? lim - use : 0;
            if (r < room)
                room = r;
        }
    }
    if (f)
        fclose(f);
    return room;
}

/* MemAvailable of /proc/meminfo in bytes, or the cgroup's headroom when
 * less; UINT64_MAX when unknown. */
static uint64_t mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    char line[256];
    unsigned long long kb = 0;
    int found = 0;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
            found = 1;
            break;
        }
    if (f)
        fclose(f);
    uint64_t avail = found ? (uint64_t)kb * 1024 : UINT64_MAX;
    uint64_t room = cgroup_headroom();
    return room < avail ? room : avail;
}

/* Reads chunk K page by page (after a failed bulk read).  -1 ESRCH when
 * the target is gone. */
static int copy_pages(struct capture *c, struct core_chunk *k, uint64_t from)
{
    for (uint64_t a = from; a < k->addr + k->len;) {
        uint64_t end = (a / CORE_PAGE + 1) * CORE_PAGE;
        if (end > k->addr + k->len)
            end = k->addr + k->len;
        struct iovec l = {k->data + (a - k->addr), end - a};
        struct iovec r = {(void *)(uintptr_t)a, end - a};
        if (process_vm_readv(c->pid, &l, 1, &r, 1, 0) < 0 && errno == ESRCH)
            return -1;
        a = end;
    }
    return 0;
}

/* The buffer for BYTES, its pages faulted in now: zeroing fresh pages
 * costs more than copying into them (on a virtual machine, several times
 * more), and the caller does it before the target is stopped. */
int core_copy_reserve(struct capture *c, uint64_t bytes, char *err)
{
    char mib[32];
    snprintf(mib, sizeof(mib), "%.1f MiB", (double)bytes / (1 << 20));
    if (bytes <= c->buf_len)
        return 0;   /* reserved before the stop (and counted as used since) */
    if (bytes > mem_available() || bytes > SIZE_MAX / 2) {
        core_err(err, "out of memory: the copy of %d needs %s, more than is available "
                 "(MemAvailable, or gt-core's memory cgroup): free memory, or "
                 "capture with --compact",
                 (int)c->pid, mib);
        errno = ENOMEM;
        return -1;
    }
    if (c->buf)
        munmap(c->buf, c->buf_len);
    c->buf = NULL;
    c->buf_len = 0;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) {
        core_err(err, "out of memory: the copy of %d needs %s: free memory, or "
                 "capture with --compact", (int)c->pid, mib);
        errno = ENOMEM;
        return -1;
    }
    /* Huge pages: 2 MiB a fault, not 4 KiB. */
    madvise(p, bytes, MADV_HUGEPAGE);
    /* Faulted in now, a shortage shows here as ENOMEM (in a memory cgroup
     * too), not later as gt-core killed with the target stopped. */
    if (madvise(p, bytes, MADV_POPULATE_WRITE) < 0 && errno == ENOMEM) {
        munmap(p, bytes);
        core_err(err, "out of memory: the copy of %d needs %s: free memory, or "
                 "capture with --compact", (int)c->pid, mib);
        errno = ENOMEM;
        return -1;
    }
    c->buf = p;
    c->buf_len = bytes;
    return 0;
}

int core_copy(struct capture *c, char *err)
{
    uint64_t total = core_copy_bytes(c);
    if (core_copy_reserve(c, total, err) < 0)
        return -1;
    uint64_t at = 0;
    for (size_t i = 0; i < c->nchunks; i++) {
        c->chunks[i].data = c->buf + at;
        at += c->chunks[i].len;
    }
    static struct iovec l[BATCH], r[BATCH];
    for (size_t i = 0; i < c->nchunks;) {
        size_t n = 0;
        uint64_t want = 0;
        for (; n < BATCH && i + n < c->nchunks; n++) {
            struct core_chunk *k = &c->chunks[i + n];
            l[n] = (struct iovec){k->data, k->len};
            r[n] = (struct iovec){(void *)(uintptr_t)k->addr, k->len};
            want += k->len;
        }
        ssize_t got = process_vm_readv(c->pid, l, n, r, n, 0);
        if (got < 0 && errno == ESRCH)
            goto gone;
        if (got == (ssize_t)want) {
            i += n;
            continue;
        }
        /* Stopped in chunk j at byte got: that chunk page by page from
         * there, and the batch goes on after it. */
        uint64_t done = got < 0 ? 0 : (uint64_t)got;
        size_t j = i;
        while (done >= c->chunks[j].len) {
            done -= c->chunks[j].len;
            j++;
        }
        if (copy_pages(c, &c->chunks[j], c->chunks[j].addr + done) < 0)
            goto gone;
        i = j + 1;
    }
    return 0;
gone:
    core_err(err, "%d exited during the capture", (int)c->pid);
    errno = ESRCH;
    return -1;
}
