/*
 * symbols.c - pcs to function, file:line and inlined frames, with libdw.
 *
 * The modules are the target's mapped ELF files (the backend's mapping
 * list, so a core's program can be the one given with --exe), reported to
 * libdwfl at the load bias they were mapped at.  Names come from DWARF
 * when the file has it, from .symtab or .dynsym otherwise.  Every answer is
 * cached by pc: 100,000 threads in ten stacks cost a few dozen lookups.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "internal.h"

#define MAX_INLINE 16

struct gto_symcache {
    size_t n;
    struct gto_symbol sym[];
};

static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

int gto__dwfl_open(gto_target *t, char *err)
{
    if (t->dwfl)
        return 0;
    t->dwfl = dwfl_begin(&callbacks);
    if (!t->dwfl) {
        gto__err(err, "libdw: %s", dwfl_errmsg(-1));
        return -1;
    }
    dwfl_report_begin(t->dwfl);
    for (size_t i = 0; i < t->nmaps; i++) {
        const struct gto_mapping *m = &t->maps[i];
        if (m->offset != 0)
            continue;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = t->maps[j].offset == 0 && strcmp(t->maps[j].path, m->path) == 0;
        if (seen)
            continue;
        /* The image's first byte is mapped at m->start: an ET_DYN file's
         * bias is that minus its first segment's address (0 nearly always),
         * an ET_EXEC file's is 0.  dwfl_report_elf adds p_vaddr itself.
         * It reads the file through a copy of the mapping's descriptor
         * (and keeps that copy): a file replaced on disk since it was
         * mapped is read as it was mapped.  A file that cannot be opened
         * (or is no regular file) is left out: given no descriptor,
         * libdwfl would open the path itself, and a FIFO would hang it. */
        int fd = gto__mapping_fd(t, &t->maps[i]);
        if (fd < 0)
            continue;
        fd = dup(fd);
        if (fd < 0)
            continue;
        Dwfl_Module *mod = dwfl_report_elf(t->dwfl, m->path, m->path, fd,
                                           m->start, false);
        if (!mod)
            close(fd);
        if (mod) {
            Dwarf_Addr lo;
            dwfl_module_info(mod, NULL, &lo, NULL, NULL, NULL, NULL, NULL);
            (void)lo;
        }
    }
    dwfl_report_end(t->dwfl, NULL, NULL);
    return 0;
}

const char *gto__intern(gto_target *t, const char *s)
{
    /* Names from ELF and DWARF files live as long as the target's Dwfl;
     * nearly all are safe already and are not copied. */
    if (!s)
        return NULL;
    size_t n = strlen(s);
    if (gto__text_is_safe(s, n))
        return s;
    if (t->nstrings == t->capstrings) {
        size_t cap = t->capstrings ? t->capstrings * 2 : 16;
        char **a = realloc(t->strings, cap * sizeof(*a));
        if (!a)
            return "?";
        t->strings = a;
        t->capstrings = cap;
    }
    size_t cap = n > (SIZE_MAX - 1) / 4 ? 0 : 4 * n + 1;
    char *safe = cap ? malloc(cap) : NULL;
    if (!safe)
        return "?";
    gto_text_safe(s, n, safe, cap);
    t->strings[t->nstrings++] = safe;
    return safe;
}

static const char *basename_of(const char *path)
{
    const char *s = path ? strrchr(path, '/') : NULL;
    return s ? s + 1 : path;
}

/* DW_AT_call_file of an inlined call, as a path. */
static const char *call_file(Dwarf_Die *cudie, Dwarf_Die *die)
{
    Dwarf_Attribute a;
    Dwarf_Word idx;
    Dwarf_Files *files;
    size_t nfiles;
    if (!dwarf_attr(die, DW_AT_call_file, &a) || dwarf_formudata(&a, &idx) < 0 ||
        dwarf_getsrcfiles(cudie, &files, &nfiles) < 0 || idx >= nfiles)
        return NULL;
    return dwarf_filesrc(files, idx, NULL, NULL);
}

static int call_line(Dwarf_Die *die)
{
    Dwarf_Attribute a;
    Dwarf_Word line;
    if (!dwarf_attr(die, DW_AT_call_line, &a) || dwarf_formudata(&a, &line) < 0)
        return 0;
    return (int)line;
}

static struct gto_symcache *lookup(gto_target *t, uint64_t pc, int ra)
{
    struct gto_symcache *c = malloc(sizeof(*c) + MAX_INLINE * sizeof(c->sym[0]));
    if (!c)
        return NULL;
    memset(c, 0, sizeof(*c) + MAX_INLINE * sizeof(c->sym[0]));
    c->n = 1;
    c->sym[0].function = "?";
    Dwarf_Addr addr = ra && pc ? pc - 1 : pc;
    Dwfl_Module *mod = t->dwfl ? dwfl_addrmodule(t->dwfl, addr) : NULL;
    if (!mod)
        return c;
    /* Every name below comes from the target's files: safe text. */
    const char *modname = gto__intern(t, basename_of(dwfl_module_info(
                              mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL)));
    GElf_Off off = 0;
    GElf_Sym sym;
    const char *symname = gto__intern(t, dwfl_module_addrinfo(
                              mod, addr, &off, &sym, NULL, NULL, NULL));
    uint64_t offset = symname ? off + (addr == pc ? 0 : 1) : 0;

    /* The line of the pc itself: the innermost frame's. */
    const char *file = NULL;
    int line = 0;
    Dwfl_Line *dl = dwfl_module_getsrc(mod, addr);
    if (dl)
        file = dwfl_lineinfo(dl, NULL, &line, NULL, NULL, NULL);

    Dwarf_Addr bias;
    Dwarf_Die *cudie = dwfl_module_addrdie(mod, addr, &bias);
    Dwarf_Die *scopes = NULL;
    int nscopes = cudie ? dwarf_getscopes(cudie, addr - bias, &scopes) : 0;
    if (nscopes > 0) {
        /* dwarf_getscopes follows an inlined instance to its abstract
         * origin's parents; the physical chain (inlined into what) comes
         * from the innermost DIE's own parents. */
        Dwarf_Die *chain = NULL;
        int nchain = dwarf_getscopes_die(&scopes[0], &chain);
        free(scopes);
        scopes = chain;
        nscopes = nchain > 0 ? nchain : 0;
    }
    size_t n = 0;
    for (int i = 0; i < nscopes && n < MAX_INLINE; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
            continue;
        struct gto_symbol *s = &c->sym[n++];
        const char *name = gto__intern(t, dwarf_diename(&scopes[i]));
        s->function = name ? name : symname ? symname : "?";
        s->file = gto__intern(t, file);
        s->line = line;
        s->module = modname;
        s->inlined = tag == DW_TAG_inlined_subroutine;
        if (!s->inlined) {
            s->offset = offset;
            break;
        }
        /* The caller of inlined code is at the inlined call's site. */
        file = call_file(cudie, &scopes[i]);
        line = call_line(&scopes[i]);
    }
    free(scopes);
    if (n == 0) {
        c->sym[0].function = symname ? symname : "?";
        c->sym[0].file = gto__intern(t, file);
        c->sym[0].line = line;
        c->sym[0].module = modname;
        c->sym[0].offset = offset;
        n = 1;
    }
    c->n = n;
    return c;
}

size_t gto_symbolize(gto_target *t, uint64_t pc, int return_address,
                     const struct gto_symbol **out)
{
    static const struct gto_symbol unknown = {"?", NULL, 0, NULL, 0, 0};
    uint64_t key = (pc << 1 | (return_address ? 1 : 0)) | (1ull << 63);
    uint64_t v = gto_pcmap_get(&t->syms, key);
    if (!v) {
        if (!t->dwfl)
            gto__dwfl_open(t, NULL);
        struct gto_symcache *c = lookup(t, pc, return_address);
        if (!c || gto_pcmap_put(&t->syms, key, (uint64_t)(uintptr_t)c) < 0) {
            free(c);
            *out = &unknown;
            return 1;
        }
        v = (uint64_t)(uintptr_t)c;
    }
    struct gto_symcache *c = (struct gto_symcache *)(uintptr_t)v;
    *out = c->sym;
    return c->n;
}

size_t gto_frame_symbols(gto_target *t, const struct gto_thread *th, size_t i,
                         const struct gto_symbol **out)
{
    /* Every frame's pc is a return address, the saved context's too (the
     * switch saved the address after its own call, so pc - 1 is the line
     * of that call, as GDB's extension says), except the first of a fresh
     * context (the entry trampoline, one instruction in) or of a core's
     * running thread (the interrupted instruction). */
    int exact = i == 0 && (gto_fresh_context(th) || th->state == GTO_STATE_RUNNING);
    return gto_symbolize(t, th->frames[i].pc, !exact, out);
}

size_t gto_frame_number(const struct gto_thread *th, size_t i)
{
    return i + (th->state != GTO_STATE_RUNNING);
}
