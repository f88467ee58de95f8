/*
 * elf_out.c - the core file: an ELF header, the program headers (one
 * PT_NOTE, then a PT_LOAD per segment), the notes, then the segments'
 * bytes.
 *
 * Sparse: a segment's bytes are written page by page, and a page the
 * plan left out or that reads as zeros is never written, so the file
 * system keeps a hole there (zeros on reading, no disk block).  The file
 * is sized with ftruncate at the end, so a trailing hole costs nothing
 * either.
 *
 * More than 65534 program headers (a compact core of 100K threads, a
 * process with one mapping per stack guard) do not fit e_phnum: as the
 * kernel does, e_phnum is PN_XNUM and the real count is the sh_info of
 * section header 0, the only section header.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

static int zero_page(const uint8_t *p, size_t n)
{
    const uint64_t *w = (const uint64_t *)(const void *)p;
    size_t words = n / 8;
    for (size_t i = 0; i < words; i++)
        if (w[i])
            return 0;
    for (size_t i = words * 8; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static int write_all(int fd, const void *p, size_t n, uint64_t off)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = pwrite(fd, b, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        b += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* Writes chunk K at file offset OFF, leaving its zero pages (by target
 * address) out; runs of pages that are not zero go in one write. */
static int write_chunk(int fd, const struct core_chunk *k, uint64_t off)
{
    uint64_t end = k->addr + k->len;
    uint64_t run = 0, run_at = 0;   /* pending bytes and their address */
    for (uint64_t a = k->addr; a < end;) {
        uint64_t next = (a / CORE_PAGE + 1) * CORE_PAGE;
        if (next > end)
            next = end;
        const uint8_t *p = k->data + (a - k->addr);
        if (zero_page(p, next - a)) {
            if (run && write_all(fd, k->data + (run_at - k->addr), run,
                                 off + (run_at - k->addr)) < 0)
                return -1;
            run = 0;
        } else {
            if (!run)
                run_at = a;
            run += next - a;
        }
        a = next;
    }
    if (run && write_all(fd, k->data + (run_at - k->addr), run,
                         off + (run_at - k->addr)) < 0)
        return -1;
    return 0;
}

int core_elf_write(struct capture *c, int fd, const uint8_t *notes, size_t nlen)
{
    size_t phnum = c->nsegs + 1;
    int xnum = phnum >= PN_XNUM;
    uint64_t off = sizeof(Elf64_Ehdr) + phnum * sizeof(Elf64_Phdr);
    uint64_t notes_off = off;
    off += nlen;
    /* Segments: page aligned when whole pages (a full core's); packed on
     * 16 bytes when they are pieces (a compact core's stacks), where a
     * page each would cost a disk block each. */
    for (size_t i = 0; i < c->nsegs; i++) {
        struct core_seg *s = &c->segs[i];
        if (!s->filesz)
            continue;
        uint64_t align = s->vaddr % CORE_PAGE == 0 && s->filesz >= CORE_PAGE ? CORE_PAGE
                                                                             : 16;
        off = (off + align - 1) / align * align;
        s->file_off = off;
        off += s->filesz;
    }
    uint64_t shoff = (off + 7) / 8 * 8;
    uint64_t end = xnum ? shoff + sizeof(Elf64_Shdr) : off;

    Elf64_Ehdr eh;
    memset(&eh, 0, sizeof(eh));
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
    eh.e_type = ET_CORE;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_phoff = sizeof(eh);
    eh.e_ehsize = sizeof(eh);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = xnum ? PN_XNUM : (Elf64_Half)phnum;
    if (xnum) {
        eh.e_shoff = shoff;
        eh.e_shentsize = sizeof(Elf64_Shdr);
        eh.e_shnum = 1;
        eh.e_shstrndx = SHN_UNDEF;
    }
    Elf64_Phdr *ph = calloc(phnum, sizeof(*ph));
    if (!ph) {
        errno = ENOMEM;
        return -1;
    }
    ph[0] = (Elf64_Phdr){.p_type = PT_NOTE, .p_offset = notes_off, .p_filesz = nlen,
                         .p_align = 4};
    for (size_t i = 0; i < c->nsegs; i++) {
        const struct core_seg *s = &c->segs[i];
        ph[i + 1] = (Elf64_Phdr){.p_type = PT_LOAD, .p_flags = s->flags,
                                 .p_offset = s->filesz ? s->file_off : 0,
                                 .p_vaddr = s->vaddr, .p_memsz = s->memsz,
                                 .p_filesz = s->filesz,
                                 .p_align = s->filesz && s->file_off % CORE_PAGE ? 16
                                                                                : CORE_PAGE};
    }
    int rc = write_all(fd, &eh, sizeof(eh), 0) ?:
             write_all(fd, ph, phnum * sizeof(*ph), sizeof(eh)) ?:
             write_all(fd, notes, nlen, notes_off);
    free(ph);
    if (rc < 0)
        return -1;
    if (xnum) {
        Elf64_Shdr sh;
        memset(&sh, 0, sizeof(sh));
        sh.sh_type = SHT_NULL;
        sh.sh_size = 1;
        sh.sh_link = SHN_UNDEF;
        sh.sh_info = (Elf64_Word)phnum;
        if (write_all(fd, &sh, sizeof(sh), shoff) < 0)
            return -1;
    }
    for (size_t i = 0; i < c->nsegs; i++) {
        const struct core_seg *s = &c->segs[i];
        for (size_t k = s->chunk0; k < s->chunk0 + s->nchunks; k++) {
            const struct core_chunk *ck = &c->chunks[k];
            if (ck->data && write_chunk(fd, ck, s->file_off + (ck->addr - s->vaddr)) < 0)
                return -1;
        }
    }
    return ftruncate(fd, (off_t)end);
}
