/*
 * module.c - the mapped ELF file that holds a pc: its address range, its
 * path and its GNU build-id, for readers that name code by file rather
 * than by address (a pprof profile's mappings; grouping stacks of several
 * processes, whose load addresses differ).
 *
 * The modules are the ones symbols.c reports to libdwfl, so a pc that
 * gto_symbolize names is in a module here too.  The build-id's text is
 * made once per module and kept in the module's libdwfl user data slot.
 */
#include <elfutils/libdwfl.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The user data of a module whose file carries no build-id. */
static char no_build_id[] = "";

/* S, allocated, owned by T from now on (freed by gto_close); NULL when
 * out of memory (S freed). */
static char *keep(gto_target *t, char *s)
{
    if (t->nstrings == t->capstrings) {
        size_t cap = t->capstrings ? t->capstrings * 2 : 16;
        char **a = realloc(t->strings, cap * sizeof(*a));
        if (!a) {
            free(s);
            return NULL;
        }
        t->strings = a;
        t->capstrings = cap;
    }
    t->strings[t->nstrings++] = s;
    return s;
}

/* The build-id of MOD as lowercase hex, NULL when it has none. */
static const char *build_id_text(gto_target *t, Dwfl_Module *mod, void **slot)
{
    if (*slot)
        return *slot == no_build_id ? NULL : *slot;
    const unsigned char *bits;
    GElf_Addr vaddr;
    int n = dwfl_module_build_id(mod, &bits, &vaddr);
    /* A note is the file's: bound what it claims before sizing by it
     * (GNU build-ids are 16 or 20 bytes; 64 is generous). */
    if (n <= 0 || n > 64) {
        *slot = no_build_id;
        return NULL;
    }
    char *hex = malloc(2 * (size_t)n + 1);
    if (!hex)
        return NULL;
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < n; i++) {
        hex[2 * i] = digits[bits[i] >> 4];
        hex[2 * i + 1] = digits[bits[i] & 15];
    }
    hex[2 * n] = '\0';
    if (!keep(t, hex))
        return NULL;
    *slot = hex;
    return hex;
}

int gto_module_of(gto_target *t, uint64_t pc, struct gto_module *out)
{
    memset(out, 0, sizeof(*out));
    if (!t->dwfl && gto__dwfl_open(t, NULL) < 0)
        return -1;
    Dwfl_Module *mod = dwfl_addrmodule(t->dwfl, pc);
    if (!mod)
        return -1;
    void **slot;
    Dwarf_Addr start, end;
    const char *name = dwfl_module_info(mod, &slot, &start, &end, NULL, NULL,
                                        NULL, NULL);
    out->start = start;
    out->end = end;
    out->path = gto__intern(t, name);
    out->build_id = build_id_text(t, mod, slot);
    return 0;
}
