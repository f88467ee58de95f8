/*
 * backend_core.c - a core file as a target.  Memory comes from the core's
 * PT_LOAD segments where the core holds it; what the kernel (or gcore)
 * left out, such as program text, comes from the mapped files the NT_FILE
 * note names.  NT_PRSTATUS gives the pid and the registers of the thread
 * that was running, NT_AUXV the program's entry point (hence which mapping
 * is the program), a "gt" GT_NOTE_CAPTURE note when gt-core wrote it
 * (capture.c) when it was taken and how.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#ifndef NT_FILE
#define NT_FILE 0x46494c45
#endif
#define AT_ENTRY_TAG 9

/* A loaded segment of the core file. */
struct core_seg {
    uint64_t vaddr, memsz;
    uint64_t offset, filesz;
};

/* The core backend's state (t->priv). */
struct core {
    int fd;
    const uint8_t *data;     /* the whole file, mapped */
    size_t size;
    struct timespec mtime;   /* when the core was written */
    /* The last extent of the core file found to be data, and the last
     * found to be a hole (SEEK_DATA/SEEK_HOLE), as file offsets [lo, hi). */
    uint64_t data_lo, data_hi, hole_lo, hole_hi;
    Elf *elf;
    struct core_seg *segs;   /* PT_LOAD segments by address */
    size_t nsegs;
    int have_prstatus;
    uint64_t prstatus_regs[17]; /* DWARF numbering, x86-64 */
};

static struct core *core_of(const gto_target *t) { return t->priv; }

/* The segment holding addr, NULL when none does. */
static const struct core_seg *seg_of(const gto_target *t, uint64_t addr)
{
    const struct core *c = core_of(t);
    size_t lo = 0, hi = c->nsegs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct core_seg *s = &c->segs[mid];
        if (addr < s->vaddr)
            hi = mid;
        else if (addr >= s->vaddr + s->memsz)
            lo = mid + 1;
        else
            return s;
    }
    return NULL;
}

/* Copies what the core itself holds; -1 EFAULT when any byte is not in it. */
static int core_data_read(const gto_target *t, uint64_t addr, void *buf,
                          size_t len)
{
    uint8_t *out = buf;
    while (len) {
        const struct core_seg *s = seg_of(t, addr);
        if (!s || addr >= s->vaddr + s->filesz) {
            errno = EFAULT;
            return -1;
        }
        size_t n = (size_t)(s->vaddr + s->filesz - addr);
        if (n > len)
            n = len;
        memcpy(out, core_of(t)->data + s->offset + (addr - s->vaddr), n);
        out += n;
        addr += n;
        len -= n;
    }
    return 0;
}

static int core_read(gto_target *t, uint64_t addr, void *buf, size_t len)
{
    uint8_t *out = buf;
    while (len) {
        const struct core_seg *s = seg_of(t, addr);
        size_t n;
        if (s && addr < s->vaddr + s->filesz) {
            n = (size_t)(s->vaddr + s->filesz - addr);
            if (n > len)
                n = len;
            /* pread, not the mapping: reads scattered over a core of
             * gigabytes would each fault in a page (and its neighbours). */
            if (pread(core_of(t)->fd, out, n, (off_t)(s->offset + (addr - s->vaddr))) !=
                (ssize_t)n) {
                errno = EFAULT;
                return -1;
            }
        } else {
            /* Not held here: the file it maps (gto__file_read_page). */
            ssize_t got = gto__file_read_page(t, addr, out, len);
            if (got < 0)
                return -1;
            n = (size_t)got;
        }
        out += n;
        addr += n;
        len -= n;
    }
    return 0;
}

/* Whether the core file holds data at OFF, or a hole.  A kernel core is
 * sparse: pages never present are holes, and a thread stack's unused
 * kilobytes make up most of a 100K-thread core.  Asking the file system
 * (SEEK_DATA/SEEK_HOLE) skips them without reading; reading a hole through
 * the mapping would fill the page cache with zeros, gigabytes of them.
 * The answers are kept as the last data extent and the last hole seen:
 * stacks are measured in address order, so most questions fall inside. */
static int core_has_data(gto_target *t, uint64_t off)
{
    struct core *c = core_of(t);
    if (off >= c->data_lo && off < c->data_hi)
        return 1;
    if (off >= c->hole_lo && off < c->hole_hi)
        return 0;
    off_t data = lseek(c->fd, (off_t)off, SEEK_DATA);
    if (data < 0) {
        if (errno != ENXIO) /* no SEEK_DATA here: everything is data */
            return 1;
        c->hole_lo = off;
        c->hole_hi = c->size;
        return 0;
    }
    if ((uint64_t)data > off) {
        c->hole_lo = off;
        c->hole_hi = (uint64_t)data;
        return 0;
    }
    off_t hole = lseek(c->fd, (off_t)off, SEEK_HOLE);
    c->data_lo = off;
    c->data_hi = hole > data ? (uint64_t)hole : c->size;
    return 1;
}

/* The first segment that ends above addr, NULL when none does. */
static const struct core_seg *seg_from(const gto_target *t, uint64_t addr)
{
    const struct core *c = core_of(t);
    size_t lo = 0, hi = c->nsegs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (addr >= c->segs[mid].vaddr + c->segs[mid].memsz)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->nsegs ? &c->segs[lo] : NULL;
}

/* Whether the core file's bytes [off, off + len) hold a non-zero byte.
 * Holes are skipped (see core_has_data) a file block at a time; offsets
 * need not be aligned (a core's segments are where its writer put them). */
static int core_nonzero(gto_target *t, uint64_t off, uint64_t len)
{
    const uint8_t *d = core_of(t)->data;
    while (len) {
        uint64_t n = 4096 - (off & 4095);
        if (n > len)
            n = len;
        if (core_has_data(t, off)) {
            uint64_t k = 0, w;
            for (; k + 8 <= n; k += 8) {
                memcpy(&w, d + off + k, 8);
                if (w)
                    return 1;
            }
            for (; k < n; k++)
                if (d[off + k])
                    return 1;
        }
        off += n;
        len -= n;
    }
    return 0;
}

/* A page counts as resident when the core holds data for some of it that
 * is not all zero: the kernel leaves pages that were never present out (a
 * hole that reads as zero), and a page of zeros cannot be told from one.
 * The step is the registry's page size, checked (gto__page_size_ok), so
 * that PRESENT gets exactly one byte per page the caller counted; a page
 * may span several segments (pages of 64 KiB, segments of 4 KiB). */
static int core_residency(gto_target *t, uint64_t lo, uint64_t hi, uint64_t page,
                          uint8_t *present)
{
    if (!gto__page_size_ok(page) || hi < lo) {
        errno = EINVAL;
        return -1;
    }
    size_t i = 0;
    for (uint64_t p = lo; p < hi && hi - p >= page; p += page, i++) {
        present[i] = 0;
        for (uint64_t a = p; a - p < page && !present[i];) {
            const struct core_seg *s = seg_from(t, a);
            if (!s || (s->vaddr > p && s->vaddr - p >= page))
                break;
            /* The part of [a, p + page) this segment's file bytes hold
             * (segments were checked to lie in the file at open). */
            uint64_t from = s->vaddr > a ? s->vaddr : a;
            uint64_t to = p + page - s->vaddr <= s->filesz ? p + page
                                                             : s->vaddr + s->filesz;
            if (from < to)
                present[i] = (uint8_t)core_nonzero(t, s->offset + (from - s->vaddr),
                                                   to - from);
            a = s->vaddr + s->memsz;
        }
    }
    return 0;
}

/* A core's "now": the rule of gto_core_now (clock.c), with gt-core's
 * capture note and the core file's modification time as its witnesses of
 * when the core was taken. */
static uint64_t core_now(gto_target *t, const struct gto_counters *cn, int *exact)
{
    const struct core *c = core_of(t);
    uint64_t mtime = c->mtime.tv_sec > 0 ? (uint64_t)c->mtime.tv_sec * 1000000000u +
                                               (uint64_t)c->mtime.tv_nsec : 0;
    return gto_core_now(cn, gto_target_capture(t), mtime, exact);
}

/* NT_PRSTATUS holds the registers of the thread that was running. */
static int core_thread_regs(gto_target *t, uint64_t rec, uint64_t current,
                            uint64_t regs[17])
{
    const struct core *c = core_of(t);
    if (!c->have_prstatus || !rec || rec != current)
        return 0;
    memcpy(regs, c->prstatus_regs, sizeof(c->prstatus_regs));
    return 1;
}

/* A core whose registry counts threads but whose thread records all read
 * as free slots: the core left the records out (they read as zeros), and
 * "0 green threads" would be a wrong answer given as a right one. */
static int core_no_threads(gto_target *t, uint64_t counted, char *err)
{
    gto__err(err, "%s: its registry counts %llu threads but their records read as "
             "zeros: the core left that memory out (GDB's gcore drops memory blocks "
             "that hold MADV_GUARD_INSTALL guard pages); use a core the kernel dumped, "
             "or run the program with GT_GUARD=mprotect", t->name,
             (unsigned long long)counted);
    return -1;
}

/* A core names the files it mapped; --exe has replaced the program's.
 * The names are the core's, any path at all: only a regular file is
 * opened (a FIFO would hang the reader, a device could act). */
static int core_open_mapping(gto_target *t, const struct gto_mapping *m)
{
    (void)t;
    return gto__open_regular(m->path);
}

static void core_close(gto_target *t)
{
    struct core *c = core_of(t);
    if (!c)
        return;
    if (c->elf)
        elf_end(c->elf);
    if (c->data)
        munmap((void *)c->data, c->size);
    if (c->fd >= 0)
        close(c->fd);
    free(c->segs);
    free(c);
    t->priv = NULL;
}

static const struct gto_backend core_backend = {
    .kind = "core",
    .memory_moves = 0,
    .read = core_read,
    .read_many = gto__read_each,
    .residency = core_residency,
    .now = core_now,
    .thread_regs = core_thread_regs,
    .no_threads = core_no_threads,
    .open_mapping = core_open_mapping,
    .close = core_close,
};

static int cmp_seg(const void *a, const void *b)
{
    const struct core_seg *x = a, *y = b;
    return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* NT_FILE: count, page size, count x {start, end, offset in pages}, then
 * count NUL-terminated paths.  The kernel's page size is its page's, GDB's
 * is 1 (offsets in bytes); any other is a damaged note, ignored, as is an
 * entry whose range is empty or whose offset does not fit a file. */
static void parse_nt_file(gto_target *t, const uint8_t *d, size_t len)
{
    if (len < 16)
        return;
    uint64_t count, pagesz;
    memcpy(&count, d, 8);
    memcpy(&pagesz, d + 8, 8);
    if (count > (len - 16) / 24 || !pagesz || pagesz > GTO_PAGE_MAX ||
        (pagesz & (pagesz - 1)))
        return;
    const char *names = (const char *)d + 16 + count * 24;
    const char *end = (const char *)d + len;
    t->maps = calloc(count ? count : 1, sizeof(*t->maps));
    if (!t->maps)
        return;
    for (uint64_t i = 0; i < count && names < end; i++) {
        uint64_t v[3];
        memcpy(v, d + 16 + i * 24, 24);
        size_t nl = strnlen(names, (size_t)(end - names));
        const char *name = names;
        names += nl + 1;
        if (v[0] >= v[1] || v[2] > (uint64_t)INT64_MAX / pagesz)
            continue;
        struct gto_mapping *m = &t->maps[t->nmaps];
        m->start = v[0];
        m->end = v[1];
        m->offset = v[2] * pagesz;
        m->fd = -1;
        m->deleted = 0;   /* a core names the files; --exe replaces the program */
        m->path = strndup(name, nl);
        if (m->path)
            t->nmaps++;
    }
}

static void parse_notes(gto_target *t, const uint8_t *d, uint64_t len,
                        uint64_t *entry, char *fname)
{
    struct core *c = core_of(t);
    uint64_t off = 0;
    /* Sizes are 32-bit and rounded up to 4 in 64 bits (in 32 a size of
     * 2^32 - 1 rounds to 0); every step is checked against LEN. */
    while (gto__range_in(off, 12, len)) {
        uint32_t namesz, descsz, type;
        memcpy(&namesz, d + off, 4);
        memcpy(&descsz, d + off + 4, 4);
        memcpy(&type, d + off + 8, 4);
        uint64_t desc = off + 12 + (((uint64_t)namesz + 3) & ~3ull);
        if (!gto__range_in(off + 12, ((uint64_t)namesz + 3) & ~3ull, len) ||
            !gto__range_in(desc, descsz, len))
            break;
        const uint8_t *p = d + desc;
        /* Types are per note name: gt's 2 is not the kernel's NT_FPREGSET. */
        int gt_note = namesz == sizeof(GT_NOTE_NAME) &&
                      memcmp(d + off + 12, GT_NOTE_NAME, sizeof(GT_NOTE_NAME)) == 0;
        if (gt_note) {
            if (type == GT_NOTE_CAPTURE && !t->have_capture &&
                gto__capture_parse(p, descsz, &t->capture) == 0)
                t->have_capture = 1;
        } else if (type == NT_PRSTATUS && descsz >= 112 + 27 * 8 && !c->have_prstatus) {
            /* struct elf_prstatus: pr_pid at 32, pr_reg (user_regs_struct:
             * r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi
             * orig_rax rip cs eflags rsp ...) at 112. */
            static const int dwarf_of[17] = {15, 14, 13, 12, 6, 3, 11, 10, 9, 8,
                                             0, 2, 1, 4, 5, -1, 16};
            uint64_t r[20];
            int32_t pid;
            memcpy(&pid, p + 32, 4);
            memcpy(r, p + 112, sizeof(r));
            t->pid = pid;
            for (int i = 0; i < 17; i++)
                if (dwarf_of[i] >= 0)
                    c->prstatus_regs[dwarf_of[i]] = r[i];
            c->prstatus_regs[7] = r[19];
            c->have_prstatus = 1;
        } else if (type == NT_PRPSINFO && descsz >= 56) {
            memcpy(fname, p + 40, 16);
            fname[16] = 0;
        } else if (type == NT_AUXV) {
            for (uint64_t k = 0; k + 16 <= descsz; k += 16) {
                uint64_t tag, val;
                memcpy(&tag, p + k, 8);
                memcpy(&val, p + k + 8, 8);
                if (tag == AT_ENTRY_TAG)
                    *entry = val;
            }
        } else if (type == NT_FILE && !t->maps) {
            parse_nt_file(t, p, descsz);
        }
        off = desc + (((uint64_t)descsz + 3) & ~3ull);
    }
}

/* Which mapping is the program, and EXE in its place when given. */
static int choose_exe(gto_target *t, const char *exe, uint64_t entry, char *err)
{
    const char *core_exe = NULL;
    for (size_t i = 0; i < t->nmaps; i++)
        if (entry >= t->maps[i].start && entry < t->maps[i].end)
            core_exe = t->maps[i].path;
    if (!exe) {
        if (!core_exe) {
            gto__err(err, "%s does not name its program (no NT_FILE entry for "
                     "its entry point): give the program with --exe", t->name);
            return -1;
        }
        if (access(core_exe, R_OK) != 0) {
            gto__err(err, "%s was dumped by %s, which is no longer there: give "
                     "the program with --exe", t->name, core_exe);
            return -1;
        }
        t->exe = strdup(core_exe);
        return t->exe ? 0 : -1;
    }
    if (access(exe, R_OK) != 0) {
        gto__err(err, "cannot read the program %s: %s", exe, strerror(errno));
        return -1;
    }
    t->exe = strdup(exe);
    if (!t->exe || !core_exe)
        return t->exe ? 0 : -1;
    char *old = strdup(core_exe);
    for (size_t i = 0; old && i < t->nmaps; i++)
        if (strcmp(t->maps[i].path, old) == 0) {
            free(t->maps[i].path);
            t->maps[i].path = strdup(exe);
        }
    free(old);
    return 0;
}

static void hex(char *out, const uint8_t *id, int n)
{
    for (int i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", id[i]);
    out[2 * n] = 0;
}

/* The build-id in the program file against the copy the core holds of the
 * program's first page, when both exist. */
static int check_build_id(gto_target *t, char *err)
{
    int fd = gto__open_regular(t->exe);
    if (fd == -2) {
        gto__err(err, "%s: not a regular file: give the program's executable "
                 "file", t->exe);
        return -1;
    }
    if (fd < 0) {
        gto__err(err, "cannot open the program %s: %s", t->exe, strerror(errno));
        return -1;
    }
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    GElf_Ehdr eh;
    if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh)) {
        gto__err(err, "the program %s is not an ELF file", t->exe);
        goto fail;
    }
    if (eh.e_machine != EM_X86_64) {
        gto__err(err, "the program %s is for %s, the core for x86-64", t->exe,
                 gto__machine_name(eh.e_machine));
        goto fail;
    }
    uint8_t id[64], in_core[64];
    uint64_t vaddr, base = 0;
    int n = gto__elf_build_id(elf, id, sizeof(id), &vaddr);
    int have_base = 0;
    for (size_t i = 0; i < t->nmaps; i++)
        if (t->maps[i].offset == 0 && strcmp(t->maps[i].path, t->exe) == 0) {
            base = t->maps[i].start;
            have_base = 1;
            break;
        }
    if (n > 0 && have_base) {
        uint64_t bias = eh.e_type == ET_DYN ? base - gto__elf_first_vaddr(elf) : 0;
        if (core_data_read(t, bias + vaddr, in_core, (size_t)n) == 0 &&
            memcmp(id, in_core, (size_t)n) != 0) {
            char a[130], b[130];
            hex(a, in_core, n);
            hex(b, id, n);
            gto__err(err, "%s was not dumped by %s: build-id %s in the core, %s "
                     "in the program; give the right program with --exe",
                     t->name, t->exe, a, b);
            goto fail;
        }
    }
    elf_end(elf);
    close(fd);
    return 0;
fail:
    if (elf)
        elf_end(elf);
    close(fd);
    return -1;
}

int gto_open_core(const char *core, const char *exe, gto_target **out, char *err)
{
    *out = NULL;
    gto_target *t = calloc(1, sizeof(*t));
    struct core *c = calloc(1, sizeof(*c));
    if (!t || !c) {
        free(t);
        free(c);
        gto__err(err, "out of memory");
        return -1;
    }
    t->be = &core_backend;
    t->priv = c;
    c->fd = -1;
    gto__target_name_set(t, "core %s", core);
    elf_version(EV_CURRENT);

    struct stat st;
    c->fd = gto__open_regular(core);
    if (c->fd == -2) {
        gto__err(err, "%s: not a regular file: give a core file", core);
        goto fail;
    }
    if (c->fd < 0 || fstat(c->fd, &st) < 0) {
        gto__err(err, "cannot open core %s: %s", core, strerror(errno));
        goto fail;
    }
    c->size = (size_t)st.st_size;
    c->mtime = st.st_mtim;
    if (c->size < EI_NIDENT) {
        gto__err(err, "%s is not a core file: it is not an ELF file (%zu bytes)",
                 core, c->size);
        goto fail;
    }
    c->data = mmap(NULL, c->size, PROT_READ, MAP_PRIVATE, c->fd, 0);
    if (c->data == MAP_FAILED) {
        c->data = NULL;
        gto__err(err, "cannot map core %s: %s", core, strerror(errno));
        goto fail;
    }
    c->elf = elf_memory((char *)c->data, c->size);
    GElf_Ehdr eh;
    if (!c->elf || elf_kind(c->elf) != ELF_K_ELF ||
        !gelf_getehdr(c->elf, &eh)) {
        gto__err(err, "%s is not a core file: it is not an ELF file", core);
        goto fail;
    }
    if (eh.e_type != ET_CORE) {
        gto__err(err, "%s is not a core file but an ELF %s; give the core with "
                 "--core and the program with --exe", core,
                 eh.e_type == ET_EXEC ? "executable" :
                 eh.e_type == ET_DYN ? "shared object or PIE program" :
                 eh.e_type == ET_REL ? "object file" : "file of another type");
        goto fail;
    }
    if (eh.e_machine != EM_X86_64 || eh.e_ident[EI_CLASS] != ELFCLASS64) {
        gto__err(err, "%s is a core of %s (e_machine %u); this reader reads "
                 "x86-64 cores", core, gto__machine_name(eh.e_machine),
                 (unsigned)eh.e_machine);
        goto fail;
    }
    size_t nph;
    if (elf_getphdrnum(c->elf, &nph) < 0 || nph > c->size / sizeof(Elf64_Phdr) ||
        !gto__range_in(eh.e_phoff, (uint64_t)nph * eh.e_phentsize, c->size)) {
        gto__err(err, "core %s is truncated: its program headers are cut off",
                 core);
        goto fail;
    }
    c->segs = calloc(nph ? nph : 1, sizeof(*c->segs));
    if (!c->segs) {
        gto__err(err, "out of memory for the %zu segments of core %s", nph, core);
        goto fail;
    }
    uint64_t need = 0, entry = 0;
    char fname[17] = "";
    for (size_t i = 0; i < nph; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(c->elf, (int)i, &ph))
            continue;
        if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE)
            continue;
        /* An offset and size that no file can have (their sum wraps, or
         * passes what a file offset can be) is a damaged header, not a
         * truncated core; and memory that would run past 2^64 is no
         * memory.  Both are refused: read, they would be read from the
         * wrong place. */
        if (!gto__range_in(ph.p_offset, ph.p_filesz, (uint64_t)INT64_MAX) ||
            !gto__range_in(ph.p_vaddr, ph.p_memsz, UINT64_MAX)) {
            gto__err(err, "core %s is damaged: its program header %zu (%s) "
                     "gives %#llx bytes at file offset %#llx for memory at "
                     "%#llx of %#llx bytes, which no core can hold", core, i,
                     ph.p_type == PT_LOAD ? "PT_LOAD" : "PT_NOTE",
                     (unsigned long long)ph.p_filesz,
                     (unsigned long long)ph.p_offset,
                     (unsigned long long)ph.p_vaddr,
                     (unsigned long long)ph.p_memsz);
            goto fail;
        }
        if (ph.p_offset + ph.p_filesz > need)
            need = ph.p_offset + ph.p_filesz;
        if (ph.p_offset + ph.p_filesz > c->size)
            continue;
        if (ph.p_type == PT_LOAD) {
            struct core_seg *s = &c->segs[c->nsegs++];
            s->vaddr = ph.p_vaddr;
            s->memsz = ph.p_memsz;
            s->offset = ph.p_offset;
            /* Bytes in the file beyond the segment's memory are no
             * memory of it. */
            s->filesz = ph.p_filesz < ph.p_memsz ? ph.p_filesz : ph.p_memsz;
        } else if (ph.p_type == PT_NOTE) {
            parse_notes(t, c->data + ph.p_offset, ph.p_filesz, &entry, fname);
        }
    }
    if (need > c->size) {
        gto__err(err, "core %s is truncated: it has %zu bytes, its segments need "
                 "%llu (was it still being written, or cut by a size limit?)",
                 core, c->size, (unsigned long long)need);
        goto fail;
    }
    qsort(c->segs, c->nsegs, sizeof(*c->segs), cmp_seg);
    if (t->pid)
        gto__target_name_set(t, "core %s (process %d, %s)", core, (int)t->pid,
                             fname);
    if (choose_exe(t, exe, entry, err) < 0 || check_build_id(t, err) < 0 ||
        gto__find_registry(t, err) < 0)
        goto fail;
    *out = t;
    return 0;
fail:
    gto_close(t);
    return -1;
}
