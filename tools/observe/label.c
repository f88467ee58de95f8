/*
 * label.c - the text of a pc and of a location ("where").
 *
 * A location's label is every pc of it with its inline chain: a function
 * inlined into two callers parks at two call sites whose innermost frame
 * is the same line, and only the chain (which caller it was inlined into)
 * tells the two apart.
 */
#include <string.h>

#include "internal.h"

static const char *base_name(const char *f)
{
    const char *s = strrchr(f, '/');
    return s ? s + 1 : f;
}

/* One source frame: "func (file:line)", "func (module)", "0x... (module)". */
static size_t put_symbol(const struct gto_symbol *sym, uint64_t pc, char *buf,
                         size_t len)
{
    int k;
    int named = strcmp(sym->function, "?") != 0;
    if (named && sym->file)
        k = snprintf(buf, len, "%s (%s:%d)", sym->function, base_name(sym->file),
                     sym->line);
    else if (sym->module)
        k = named ? snprintf(buf, len, "%s (%s)", sym->function, sym->module)
                  : snprintf(buf, len, "%#llx (%s)", (unsigned long long)pc,
                             sym->module);
    else
        k = named ? snprintf(buf, len, "%s", sym->function)
                  : snprintf(buf, len, "%#llx", (unsigned long long)pc);
    if (k < 0)
        return 0;
    return (size_t)k < len ? (size_t)k : len ? len - 1 : 0;
}

const char *gto_pc_label(gto_target *t, uint64_t pc, int return_address,
                         char *buf, size_t len)
{
    const struct gto_symbol *sym;
    gto_symbolize(t, pc, return_address, &sym);
    if (len)
        buf[0] = 0;
    put_symbol(&sym[0], pc, buf, len);
    return buf;
}

const char *gto_location_label(gto_target *t, const struct gto_location *loc,
                               char *buf, size_t len)
{
    size_t o = 0;
    if (!len)
        return buf;
    buf[0] = 0;
    uint32_t depth = loc->depth < GTO_LOC_DEPTH_MAX ? loc->depth : GTO_LOC_DEPTH_MAX;
    for (uint32_t d = 0; d < depth; d++) {
        const struct gto_symbol *sym;
        size_t n = gto_symbolize(t, loc->pcs[d], 1, &sym);
        for (size_t j = 0; j < n; j++) {
            if (o) {
                int k = snprintf(buf + o, len - o, " < ");
                if (k < 0 || (size_t)k >= len - o)
                    return buf;
                o += (size_t)k;
            }
            o += put_symbol(&sym[j], loc->pcs[d], buf + o, len - o);
            if (o + 1 >= len)
                return buf;
        }
    }
    return buf;
}
