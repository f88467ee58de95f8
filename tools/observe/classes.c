/*
 * classes.c - threads in classes, and what their stacks say: touched and
 * live percentiles, and the stack size to give the class.
 *
 * A class defaults to the entry function: a server that names each
 * connection's thread after its peer ("conn 127.0.0.1:34718") would
 * otherwise get one class per connection, each of one thread, and no
 * advice worth having.  Members are sorted by class name (n log n
 * comparisons) so that classes come out in one pass, in the same order on
 * every run.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int gto_class_by_parse(const char *s, enum gto_class_by *out)
{
    static const enum gto_class_by all[] = {GTO_CLASS_BY_ENTRY, GTO_CLASS_BY_NAME,
                                            GTO_CLASS_BY_PREFIX};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (s && strcmp(s, gto_class_by_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    return -1;
}

const char *gto_class_by_name(enum gto_class_by by)
{
    switch (by) {
    case GTO_CLASS_BY_ENTRY: return "entry";
    case GTO_CLASS_BY_NAME: return "name";
    case GTO_CLASS_BY_PREFIX: return "prefix";
    }
    return "unknown";
}

const char *gto_thread_class(gto_target *t, const struct gto_thread *th,
                             enum gto_class_by by, char *buf, size_t len)
{
    if (!len)
        return buf;
    /* The record's name is NUL-terminated by the snapshot; bound it anyway. */
    size_t nlen = strnlen(th->name, GTO_NAME_MAX - 1);
    switch (by) {
    case GTO_CLASS_BY_NAME:
        if (nlen)
            snprintf(buf, len, "%.*s", (int)nlen, th->name);
        else
            snprintf(buf, len, "-");
        break;
    case GTO_CLASS_BY_PREFIX: {
        size_t k = 0;
        while (k < nlen && th->name[k] != ' ' &&
               !isdigit((unsigned char)th->name[k]))
            k++;
        snprintf(buf, len, "%.*s", (int)(k ? k : 1), k ? th->name : "-");
        break;
    }
    case GTO_CLASS_BY_ENTRY:
    default: {
        const struct gto_symbol *sym;
        size_t n = gto_symbolize(t, th->entry, 0, &sym);
        if (strcmp(sym[n - 1].function, "?") != 0)
            snprintf(buf, len, "%s", sym[n - 1].function);
        else
            snprintf(buf, len, "%#llx", (unsigned long long)th->entry);
        break;
    }
    }
    return buf;
}

/* A member: its thread and its class name (in the keys buffer). */
struct member {
    const struct gto_thread *th;
    const char *key;
};

static int cmp_member(const void *a, const void *b)
{
    const struct member *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    return x->th < y->th ? -1 : x->th > y->th;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_class(const void *a, const void *b)
{
    const struct gto_class *x = a, *y = b;
    if (x->threads != y->threads)
        return x->threads > y->threads ? -1 : 1;
    return strcmp(x->name, y->name);
}

static struct gto_pct percentiles(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    struct gto_pct p = {gto_quantile(v, n, 0.5), gto_quantile(v, n, 0.99),
                        n ? v[n - 1] : 0};
    return p;
}

/* Fills class C from its members M[0..n): percentiles over the members
 * that hold frames, the suggestion and what it saves.  KNOWN: whether the
 * target's stacks can be measured (gto_stack_measures_known); where they
 * cannot, live bytes are all there is, and every member not in flux (as
 * gto__measure would have measured it) is sampled for them. */
static void summarize(struct gto_class *c, const struct member *m, size_t n,
                      uint64_t page, int known, uint64_t *touched, uint64_t *live)
{
    size_t nt = 0, nl = 0;
    c->threads = n;
    for (size_t i = 0; i < n; i++) {
        const struct gto_thread *th = m[i].th;
        if (th->reserved > c->stack_size)
            c->stack_size = th->reserved;
        c->dead_resident += th->dead_resident;
        if (gto_fresh_context(th))
            continue;
        if (th->measured)
            touched[nt++] = th->touched;
        else if (known || th->in_flux || th->stack_hi <= th->stack_lo)
            continue;
        live[nl++] = th->live;
    }
    c->sampled = nl;
    c->measured = nt;
    c->touched = percentiles(touched, nt);
    c->live = percentiles(live, nl);
    if (!nt)
        return; /* nothing says how deep the class goes: no advice */
    uint64_t max = c->touched.max;
    uint64_t margin = max / 4 > page ? max / 4 : page;
    c->has_suggestion = 1;
    c->suggested = (max + margin + page - 1) / page * page;
    c->saves = c->suggested < c->stack_size
                   ? (c->stack_size - c->suggested) * c->threads : 0;
}

ssize_t gto_classes(gto_target *t, const gto_snapshot *s,
                    const struct gto_thread *const *th, size_t n,
                    enum gto_class_by by, uint64_t page,
                    struct gto_class **out, char *err)
{
    *out = NULL;
    if (!page)
        page = s->c.page_size;
    if (!page || page > (1u << 30) || (page & (page - 1)))
        page = 4096; /* a hostile or absent page size: the common one */
    int known = gto_stack_measures_known(t);
    struct member *m = malloc((n + 1) * sizeof(*m));
    char *keys = malloc((n + 1) * (size_t)GTO_NAME_MAX);
    uint64_t *touched = malloc((n + 1) * sizeof(*touched));
    uint64_t *live = malloc((n + 1) * sizeof(*live));
    struct gto_class *c = calloc(n + 1, sizeof(*c));
    if (!m || !keys || !touched || !live || !c)
        goto oom;
    /* A known entry function's name is the target's own string (it lives
     * until gto_close); names, prefixes and unknown entries (an address)
     * fit a thread name's bytes and are copied. */
    for (size_t i = 0; i < n; i++) {
        char *k = keys + i * GTO_NAME_MAX;
        m[i].th = th[i];
        m[i].key = k;
        if (by == GTO_CLASS_BY_ENTRY) {
            const struct gto_symbol *sym;
            size_t ns = gto_symbolize(t, th[i]->entry, 0, &sym);
            if (strcmp(sym[ns - 1].function, "?") != 0) {
                m[i].key = sym[ns - 1].function;
                continue;
            }
        }
        gto_thread_class(t, th[i], by, k, GTO_NAME_MAX);
    }
    qsort(m, n, sizeof(*m), cmp_member);
    size_t nc = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && strcmp(m[j].key, m[i].key) == 0)
            j++;
        struct gto_class *k = &c[nc++];
        k->name = strdup(m[i].key);
        if (!k->name) {
            gto_classes_free(c, nc);
            c = NULL;
            goto oom;
        }
        summarize(k, m + i, j - i, page, known, touched, live);
        i = j;
    }
    qsort(c, nc, sizeof(*c), cmp_class);
    free(m);
    free(keys);
    free(touched);
    free(live);
    *out = c;
    return (ssize_t)nc;
oom:
    free(m);
    free(keys);
    free(touched);
    free(live);
    free(c);
    gto__err(err, "out of memory for the classes of %zu threads", n);
    return -1;
}

void gto_classes_free(struct gto_class *c, size_t n)
{
    if (!c)
        return;
    for (size_t i = 0; i < n; i++)
        free(c[i].name);
    free(c);
}
