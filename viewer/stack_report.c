/*
 * stack_report.c - the Stacks view's figures: the live-stack histogram,
 * the classes (libgtobserve's), the functions that hold live stack.
 */
#include "stack_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_function_live(const void *a, const void *b)
{
    const struct stack_function *x = a, *y = b;
    return (x->live < y->live) - (x->live > y->live);
}

/* The classes are the library's, so gt-top and gt-waste give one class the
 * same percentiles and the same suggestion. */
static int build_classes(struct stack_report *r, gto_target *t,
                         const gto_snapshot *s, char *err)
{
    size_t n = gto_thread_count(s);
    const struct gto_thread **th = malloc((n + 1) * sizeof(*th));
    if (!th) {
        snprintf(err, GTO_ERR_MAX, "out of memory for the classes of %zu threads", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        th[i] = gto_thread_at(s, i);
    struct gto_class *c;
    ssize_t nc = gto_classes(t, s, th, n, r->class_by, 0, &c, err);
    free(th);
    if (nc < 0)
        return -1;
    r->classes = c;
    r->nclasses = (size_t)nc;
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
                           const gto_snapshot *s, char *err)
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
                snprintf(err, GTO_ERR_MAX, "out of memory for the stack's functions");
                return -1;
            }
            fn->live += th->frames[f].size;
            fn->frames++;
        }
    }
    r->functions = calloc(tab.used ? tab.used : 1, sizeof(*r->functions));
    if (!r->functions) {
        free(tab.slots);
        snprintf(err, GTO_ERR_MAX, "out of memory for the stack's functions");
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
                       const gto_snapshot *s, enum gto_class_by by, char *err)
{
    memset(r, 0, sizeof(*r));
    r->class_by = by;
    for (size_t i = 0, n = gto_thread_count(s); i < n; i++) {
        const struct gto_thread *th = gto_thread_at(s, i);
        if (gto_fresh_context(th) || !th->live) {
            r->no_stack++;
            continue;
        }
        int b = 63 - __builtin_clzll(th->live);
        r->live_hist[b < LIVE_HIST_BUCKETS ? b : LIVE_HIST_BUCKETS - 1]++;
    }
    if (build_classes(r, t, s, err) < 0 || build_functions(r, t, s, err) < 0) {
        stack_report_free(r);
        return -1;
    }
    return 0;
}

void stack_report_free(struct stack_report *r)
{
    gto_classes_free(r->classes, r->nclasses);
    free(r->functions);
    memset(r, 0, sizeof(*r));
}
