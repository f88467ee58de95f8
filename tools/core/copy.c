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

/* MemAvailable of /proc/meminfo in bytes; UINT64_MAX when unknown. */
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
    return found ? (uint64_t)kb * 1024 : UINT64_MAX;
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
    if (bytes > mem_available() || bytes > SIZE_MAX / 2) {
        core_err(err, "out of memory: the copy of %d needs %s and the machine has "
                 "less available: free memory, or capture with --compact",
                 (int)c->pid, mib);
        errno = ENOMEM;
        return -1;
    }
    if (bytes <= c->buf_len)
        return 0;
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
    madvise(p, bytes, MADV_POPULATE_WRITE);
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
