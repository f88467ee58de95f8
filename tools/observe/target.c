/*
 * target.c - what a live process and a core have in common once opened:
 * the error line, the mapped files, finding the registry among them, and
 * closing.  The backends (backend_live.c, backend_core.c) fill in the
 * mappings and the memory reader; from here on there is one code path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

void gto__err(char *err, const char *fmt, ...)
{
    if (!err)
        return;
    /* Names and paths in a message are safe text already; a raw string
     * that slipped in (a path from the command line, from /proc, from a
     * core) still never reaches a terminal raw nor splits the one line. */
    char raw[GTO_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    gto__text_controls_safe(raw, strlen(raw), err, GTO_ERR_MAX);
}

void gto__target_name_set(gto_target *t, const char *fmt, ...)
{
    char raw[sizeof(t->name)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    gto_text_safe(raw, strlen(raw), t->name, sizeof(t->name));
}

const char *gto_target_name(const gto_target *t) { return t->name; }

int gto__open_regular(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return -2;
    }
    /* Reads block as reads of a file do (a regular file ignores the flag,
     * but a descriptor handed on to libelf should say what it is). */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

int gto__mapping_fd(gto_target *t, struct gto_mapping *m)
{
    if (m->fd == -1) {
        m->fd = t->be->open_mapping(t, m);
        if (m->fd < 0)
            m->fd = -2;
    }
    return m->fd;
}

int gto__file_read(gto_target *t, uint64_t addr, void *buf, size_t len)
{
    uint8_t *out = buf;
    while (len) {
        struct gto_mapping *m = NULL;
        for (size_t i = 0; i < t->nmaps; i++)
            if (addr >= t->maps[i].start && addr < t->maps[i].end) {
                m = &t->maps[i];
                break;
            }
        if (!m || gto__mapping_fd(t, m) < 0) {
            errno = EFAULT;
            return -1;
        }
        size_t n = len;
        if (n > m->end - addr)
            n = (size_t)(m->end - addr);
        /* The mapping's offset comes from the core's NT_FILE note: an
         * offset past what a file can have is nothing to read. */
        uint64_t off = m->offset + (addr - m->start);
        if (off < m->offset || !gto__range_in(off, n, (uint64_t)INT64_MAX)) {
            errno = EFAULT;
            return -1;
        }
        ssize_t got = pread(m->fd, out, n, (off_t)off);
        if (got <= 0) {
            errno = EFAULT;
            return -1;
        }
        out += got;
        addr += (uint64_t)got;
        len -= (size_t)got;
    }
    return 0;
}

ssize_t gto__file_read_page(gto_target *t, uint64_t addr, void *buf, size_t len)
{
    size_t n = 4096 - (size_t)(addr & 4095);
    if (n > len)
        n = len;
    return gto__file_read(t, addr, buf, n) < 0 ? -1 : (ssize_t)n;
}

int gto__read_each(gto_target *t, const struct gto_range *r, size_t n, uint8_t *ok)
{
    for (size_t i = 0; i < n; i++)
        ok[i] = t->be->read(t, r[i].addr, r[i].buf, r[i].len) == 0;
    return 0;
}

/* The lowest-addressed mapping of PATH with file offset 0: where the ELF
 * image starts in the target. */
static int image_base(const gto_target *t, const char *path, uint64_t *base)
{
    for (size_t i = 0; i < t->nmaps; i++)
        if (t->maps[i].offset == 0 && strcmp(t->maps[i].path, path) == 0) {
            *base = t->maps[i].start;
            return 0;
        }
    return -1;
}

/* Looks for the registry in one mapped ELF file. */
static int registry_in(gto_target *t, struct gto_mapping *m)
{
    uint64_t base;
    if (image_base(t, m->path, &base) < 0 || gto__mapping_fd(t, m) < 0)
        return -1;
    Elf *elf = elf_begin(m->fd, ELF_C_READ_MMAP, NULL);
    if (!elf)
        return -1;
    int found = -1;
    GElf_Ehdr eh;
    uint64_t value;
    if (elf_kind(elf) == ELF_K_ELF && gelf_getehdr(elf, &eh) &&
        (gto__elf_symbol(elf, "gt_registry", &value) == 0 ||
         gto__elf_registry_note(elf, &value) == 0)) {
        uint64_t bias = eh.e_type == ET_DYN ? base - gto__elf_first_vaddr(elf) : 0;
        t->registry = bias + value;
        t->registry_object = strdup(m->path);
        found = t->registry_object ? 0 : -1;
    }
    elf_end(elf);
    return found;
}

/* Whether PATH runs in the target: one of its mappings is executable.
 * A file mapped only to be read is no part of the program, whatever
 * registry it defines: a reader of gt programs (gt-top, gt-exporter)
 * maps its target's program read-only for its symbols, and is not a gt
 * program for that. */
static int runs_in(const gto_target *t, const char *path)
{
    for (size_t i = 0; i < t->nmaps; i++)
        if (!t->maps[i].not_exec && strcmp(t->maps[i].path, path) == 0)
            return 1;
    return 0;
}

int gto__find_registry(gto_target *t, char *err)
{
    elf_version(EV_CURRENT);
    /* The program first, then libgt, then every other file: a program
     * linked with libgt.a has it, one linked with libgt.so finds it in the
     * library, and the order makes the usual cases cheap. */
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = 0; i < t->nmaps; i++) {
            struct gto_mapping *m = &t->maps[i];
            if (m->offset != 0)
                continue;
            int is_exe = t->exe && strcmp(m->path, t->exe) == 0;
            int is_libgt = strstr(m->path, "libgt") != NULL;
            if ((pass == 0 && !is_exe) || (pass == 1 && (is_exe || !is_libgt)) ||
                (pass == 2 && (is_exe || is_libgt)) || !runs_in(t, m->path))
                continue;
            if (registry_in(t, m) == 0)
                return 0;
        }
    gto__err(err, "%s is not a gt program: no gt_registry in its program (%s) "
             "or its libraries", t->name, t->exe ? t->exe : "?");
    return -1;
}

void gto_close(gto_target *t)
{
    if (!t)
        return;
    gto__unwind_fini(t);
    gto__snapshot_cache_free(t);
    if (t->be && t->be->close)
        t->be->close(t);
    if (t->dwfl)
        dwfl_end(t->dwfl);
    for (size_t i = 0; i < t->nmaps; i++) {
        if (t->maps[i].fd >= 0)
            close(t->maps[i].fd);
        free(t->maps[i].path);
    }
    free(t->maps);
    for (size_t i = 0; i < t->nstrings; i++)
        free(t->strings[i]);
    free(t->strings);
    /* Symbol cache entries are owned through the interned strings and the
     * arrays the map points to. */
    for (size_t i = 0; i < t->syms.cap; i++)
        if (t->syms.keys[i])
            free((void *)(uintptr_t)t->syms.vals[i]);
    gto_pcmap_free(&t->syms);
    gto_pcmap_free(&t->rules);
    free(t->exe);
    free(t->registry_object);
    free(t);
}

const char *gto_state_name(int state)
{
    static const char *const names[] = {"free", "runnable", "running",
                                        "parked", "exited"};
    return state >= 0 && state < GTO_STATE_COUNT ? names[state] : "unknown";
}

const char *gto_wait_kind_name(int kind)
{
    static const char *const names[] = {"none", "fd", "poll", "sleep",
                                        "mutex", "cond", "join", "chan_send",
                                        "chan_recv"};
    return kind >= 0 && kind < GT_WAIT_KIND_COUNT ? names[kind] : "unknown";
}

const char *gto_guard_policy_name(uint32_t policy)
{
    switch (policy) {
    case 1: return "madvise";
    case 2: return "mprotect";
    case 3: return "canary";
    default: return "unknown";
    }
}
