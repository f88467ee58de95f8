/*
 * stack_report.c - classes and functions that hold live stack.
 */
#include "stack_report.h"

#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_thread_name(const void *a, const void *b)
{
    const struct gto_thread *x = *(const struct gto_thread *const *)a;
    const struct gto_thread *y = *(const struct gto_thread *const *)b;
    return strcmp(x->name, y->name);
}

static int cmp_class_live(const void *a, const void *b)
{
    const struct stack_class *x = a, *y = b;
    return (x->live < y->live) - (x->live > y->live);
}

static int cmp_function_live(const void *a, const void *b)
{
    const struct stack_function *x = a, *y = b;
    return (x->live < y->live) - (x->live > y->live);
}

static uint64_t suggest(uint64_t touched_p999, uint64_t page)
{
    uint64_t want = touched_p999 + touched_p999 / 4;
    if (!page)
        page = 4096;
    want = (want + page - 1) / page * page;
    return want < page ? page : want;
}

static int build_classes(struct stack_report *r, const gto_snapshot *s)
{
    size_t n = gto_thread_count(s);
    uint64_t page = gto_snapshot_counters(s)->page_size;
    const struct gto_thread **by_name = malloc((n ? n : 1) * sizeof(*by_name));
    uint64_t *touched = malloc((n ? n : 1) * sizeof(*touched));
    r->classes = calloc(n ? n : 1, sizeof(*r->classes));
    if (!by_name || !touched || !r->classes) {
        free(by_name), free(touched);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        by_name[i] = gto_thread_at(s, i);
    qsort(by_name, n, sizeof(*by_name), cmp_thread_name);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        struct stack_class *c = &r->classes[r->nclasses++];
        memcpy(c->name, by_name[i]->name[0] ? by_name[i]->name : "-", GTO_NAME_MAX);
        c->name[GTO_NAME_MAX - 1] = 0;
        for (; j < n && strcmp(by_name[j]->name, by_name[i]->name) == 0; j++) {
            c->live += by_name[j]->live;
            c->dead_resident += by_name[j]->dead_resident;
            touched[j - i] = by_name[j]->measured ? by_name[j]->touched
                                                  : by_name[j]->live;
        }
        c->threads = j - i;
        qsort(touched, c->threads, sizeof(*touched), cmp_u64);
        c->touched_max = touched[c->threads - 1];
        c->touched_p99 = touched[(size_t)(0.99 * (double)(c->threads - 1))];
        c->suggested = suggest(touched[(size_t)(0.999 * (double)(c->threads - 1))], page);
        i = j;
    }
    qsort(r->classes, r->nclasses, sizeof(*r->classes), cmp_class_live);
    free(by_name), free(touched);
    return 0;
}

/* Function names hash to their slot; the table doubles when half full. */
struct fn_table {
    struct stack_function *slots;
    size_t cap, used;
};

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static struct stack_function *fn_slot(struct fn_table *t, const char *fn)
{
    if ((t->used + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        struct stack_function *s = calloc(cap, sizeof(*s));
        if (!s)
            return NULL;
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i].function) {
                size_t k = hash_str(t->slots[i].function) & (cap - 1);
                while (s[k].function)
                    k = (k + 1) & (cap - 1);
                s[k] = t->slots[i];
            }
        free(t->slots);
        t->slots = s;
        t->cap = cap;
    }
    size_t k = hash_str(fn) & (t->cap - 1);
    while (t->slots[k].function && strcmp(t->slots[k].function, fn) != 0)
        k = (k + 1) & (t->cap - 1);
    if (!t->slots[k].function) {
        t->slots[k].function = fn;
        t->used++;
    }
    return &t->slots[k];
}

static int build_functions(struct stack_report *r, gto_target *t,
                           const gto_snapshot *s)
{
    struct fn_table tab = {0};
    for (size_t i = 0, n = gto_thread_count(s); i < n; i++) {
        const struct gto_thread *th = gto_thread_at(s, i);
        for (size_t f = 0; f < th->nframes; f++) {
            const struct gto_symbol *sym;
            size_t ns = gto_frame_symbols(t, th, f, &sym);
            /* A frame's bytes belong to its outermost (not inlined)
             * function: that is the frame a user can shrink. */
            struct stack_function *fn = fn_slot(&tab, sym[ns - 1].function);
            if (!fn) {
                free(tab.slots);
                return -1;
            }
            fn->live += th->frames[f].size;
            fn->frames++;
        }
    }
    r->functions = calloc(tab.used ? tab.used : 1, sizeof(*r->functions));
    if (!r->functions) {
        free(tab.slots);
        return -1;
    }
    for (size_t i = 0; i < tab.cap; i++)
        if (tab.slots[i].function)
            r->functions[r->nfunctions++] = tab.slots[i];
    free(tab.slots);
    qsort(r->functions, r->nfunctions, sizeof(*r->functions), cmp_function_live);
    return 0;
}

int stack_report_build(struct stack_report *r, gto_target *t,
                       const gto_snapshot *s)
{
    memset(r, 0, sizeof(*r));
    for (size_t i = 0, n = gto_thread_count(s); i < n; i++) {
        const struct gto_thread *th = gto_thread_at(s, i);
        if (gto_fresh_context(th) || !th->live) {
            r->no_stack++;
            continue;
        }
        int b = 63 - __builtin_clzll(th->live);
        r->live_hist[b < LIVE_HIST_BUCKETS ? b : LIVE_HIST_BUCKETS - 1]++;
    }
    if (build_classes(r, s) < 0 || build_functions(r, t, s) < 0) {
        stack_report_free(r);
        return -1;
    }
    return 0;
}

void stack_report_free(struct stack_report *r)
{
    free(r->classes);
    free(r->functions);
    memset(r, 0, sizeof(*r));
}
