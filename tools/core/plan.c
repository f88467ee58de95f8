/*
 * plan.c - what a full core holds, decided per mapping as the kernel's
 * core dump decides it (coredump_filter's default), made sparse:
 *
 *   anonymous, readable      its populated pages (pages.c); the rest holes
 *   [vdso]                   whole
 *   [vvar], not readable     a segment with nothing in the file
 *   private file, writable   whole (.data: what it holds now, not the
 *                            file's)
 *   private file, read-only  whole when a page of it was written (RELRO
 *                            data, relocated after the load); else only
 *                            its first page when that is an ELF header
 *                            (GDB finds the build-id there), else nothing
 *   shared file              nothing (it is the file's)
 *
 * Every mapping gets its PT_LOAD, so that GDB knows the whole address
 * space; a segment's memory beyond its file size reads from the mapped
 * file in GDB.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core.h"

int core_seg_add(struct capture *c, uint64_t vaddr, uint64_t memsz, uint64_t filesz,
                 uint32_t flags)
{
    if (c->nsegs == c->capsegs) {
        size_t cap = c->capsegs ? c->capsegs * 2 : 256;
        struct core_seg *s = realloc(c->segs, cap * sizeof(*s));
        if (!s)
            return -1;
        c->segs = s;
        c->capsegs = cap;
    }
    c->segs[c->nsegs++] = (struct core_seg){vaddr, memsz, filesz, flags,
                                            c->nchunks, 0, 0};
    return 0;
}

/* Adds a chunk to the last segment. */
int core_chunk_add(struct capture *c, uint64_t addr, uint64_t len)
{
    if (!len)
        return 0;
    if (c->nchunks == c->capchunks) {
        size_t cap = c->capchunks ? c->capchunks * 2 : 1024;
        struct core_chunk *k = realloc(c->chunks, cap * sizeof(*k));
        if (!k)
            return -1;
        c->chunks = k;
        c->capchunks = cap;
    }
    c->chunks[c->nchunks++] = (struct core_chunk){addr, len, NULL};
    c->segs[c->nsegs - 1].nchunks++;
    return 0;
}

uint32_t core_map_flags(const struct core_map *m)
{
    return (m->perms[0] == 'r' ? PF_R : 0) | (m->perms[1] == 'w' ? PF_W : 0) |
           (m->perms[2] == 'x' ? PF_X : 0);
}

int core_map_skipped(const struct core_map *m)
{
    return m->perms[0] != 'r' || strncmp(m->path, "[vvar", 5) == 0 ||
           strcmp(m->path, "[vsyscall]") == 0;
}

static int is_anon(const struct core_map *m)
{
    return m->inode == 0 && (m->path[0] == 0 || m->path[0] == '[');
}

/* Whether the target's memory at ADDR starts with an ELF header. */
static int elf_head(pid_t pid, uint64_t addr)
{
    uint8_t b[4];
    struct iovec l = {b, 4}, r = {(void *)(uintptr_t)addr, 4};
    return process_vm_readv(pid, &l, 1, &r, 1, 0) == 4 && memcmp(b, ELFMAG, 4) == 0;
}

static int add_range(void *arg, uint64_t lo, uint64_t hi)
{
    return core_chunk_add(arg, lo, hi - lo);
}

int core_plan_full(struct capture *c, char *err)
{
    int pm = core_pages_open(c->pid);
    if (pm < 0) {
        core_err(err, "cannot open /proc/%d/pagemap: %s", (int)c->pid, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < c->nmaps && rc == 0; i++) {
        struct core_map *m = &c->maps[i];
        uint64_t size = m->hi - m->lo;
        uint32_t fl = core_map_flags(m);
        if (core_map_skipped(m)) {
            rc = core_seg_add(c, m->lo, size, 0, fl);
        } else if (strcmp(m->path, "[vdso]") == 0) {
            rc = core_seg_add(c, m->lo, size, size, fl) ?: core_chunk_add(c, m->lo, size);
        } else if (is_anon(m)) {
            rc = core_seg_add(c, m->lo, size, size, fl);
            if (rc == 0 && core_pages_populated(pm, m->lo, m->hi, add_range, c) < 0) {
                core_err(err, "cannot read the page map of %d: %s", (int)c->pid,
                         strerror(errno));
                rc = -1;
            }
        } else if (m->perms[3] == 'p' &&
                   (m->perms[1] == 'w' ||
                    (m->perms[2] != 'x' && size <= (64u << 20) &&
                     core_pages_any_anon(pm, m->lo, m->hi)))) {
            rc = core_seg_add(c, m->lo, size, size, fl) ?: core_chunk_add(c, m->lo, size);
        } else if (m->offset == 0 && elf_head(c->pid, m->lo)) {
            m->elf_head = 1;
            rc = core_seg_add(c, m->lo, size, CORE_PAGE, fl) ?:
                 core_chunk_add(c, m->lo, CORE_PAGE);
        } else {
            rc = core_seg_add(c, m->lo, size, 0, fl);
        }
    }
    close(pm);
    if (rc < 0 && !err[0])
        core_err(err, "out of memory for the plan of %d's core", (int)c->pid);
    return rc;
}

void core_plan_reset(struct capture *c)
{
    c->nsegs = 0;
    c->nchunks = 0;
    core_maps_free(c);
}
