/*
 * group.c - threads with identical pc sequences, as one group.
 *
 * Sorting by the pc sequence puts equal stacks next to each other: n log n
 * comparisons of a few words each, and the order is the same on every run.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Fresh contexts all have the same one frame, the entry trampoline: what
 * tells them apart is whether they wait unstacked, where, and the function
 * they will start in.  0 when x and y are alike in that (or not fresh). */
static int cmp_fresh(const struct gto_thread *x, const struct gto_thread *y)
{
    int fx = gto_fresh_context(x), fy = gto_fresh_context(y);
    if (fx != fy)
        return fx < fy ? -1 : 1;
    if (!fx)
        return 0;
    unsigned ux = x->flags & GTO_TF_UNSTACKED, uy = y->flags & GTO_TF_UNSTACKED;
    if (ux != uy)
        return ux < uy ? -1 : 1;
    if (x->location != y->location)
        return x->location < y->location ? -1 : 1;
    if (x->entry != y->entry)
        return x->entry < y->entry ? -1 : 1;
    return 0;
}

static int cmp_stack(const void *a, const void *b)
{
    const struct gto_thread *x = *(const struct gto_thread *const *)a;
    const struct gto_thread *y = *(const struct gto_thread *const *)b;
    if (x->nframes != y->nframes)
        return x->nframes < y->nframes ? -1 : 1;
    for (size_t i = 0; i < x->nframes; i++)
        if (x->frames[i].pc != y->frames[i].pc)
            return x->frames[i].pc < y->frames[i].pc ? -1 : 1;
    int f = cmp_fresh(x, y);
    if (f)
        return f;
    if (!x->nframes) {
        /* No stack: the same state, reason and location make a group. */
        if (x->state != y->state)
            return x->state < y->state ? -1 : 1;
        if (x->unwind_status != y->unwind_status)
            return x->unwind_status < y->unwind_status ? -1 : 1;
        if (x->location != y->location)
            return x->location < y->location ? -1 : 1;
    }
    return x < y ? -1 : x > y;
}

static int same_stack(const struct gto_thread *x, const struct gto_thread *y)
{
    if (x->nframes != y->nframes || cmp_fresh(x, y))
        return 0;
    if (!x->nframes)
        return x->state == y->state && x->unwind_status == y->unwind_status &&
               x->location == y->location;
    for (size_t i = 0; i < x->nframes; i++)
        if (x->frames[i].pc != y->frames[i].pc)
            return 0;
    return 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_group(const void *a, const void *b)
{
    const struct gto_group *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->rep->id < y->rep->id ? -1 : x->rep->id > y->rep->id;
}

static int cmp_addr(const void *a, const void *b)
{
    const struct gto_thread *x = *(const struct gto_thread *const *)a;
    const struct gto_thread *y = *(const struct gto_thread *const *)b;
    return x < y ? -1 : x > y;
}

ssize_t gto_group(const gto_snapshot *s, const struct gto_thread *const *th,
                  size_t n, struct gto_group **out, char *err)
{
    *out = NULL;
    const struct gto_thread **sorted = malloc((n + 1) * sizeof(*sorted));
    struct gto_group *g = calloc(n + 1, sizeof(*g));
    uint64_t *ages = malloc((n + 1) * sizeof(*ages));
    if (!sorted || !g || !ages) {
        free(sorted), free(g), free(ages);
        gto__err(err, "out of memory grouping %zu threads", n);
        return -1;
    }
    memcpy(sorted, th, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), cmp_stack);
    size_t ng = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && same_stack(sorted[i], sorted[j]))
            j++;
        struct gto_group *grp = &g[ng++];
        grp->count = j - i;
        grp->threads = malloc(grp->count * sizeof(*grp->threads));
        if (!grp->threads) {
            gto_groups_free(g, ng);
            free(sorted), free(ages);
            gto__err(err, "out of memory grouping %zu threads", n);
            return -1;
        }
        memcpy(grp->threads, sorted + i, grp->count * sizeof(*grp->threads));
        /* Members in snapshot order (records are in slot order). */
        qsort(grp->threads, grp->count, sizeof(*grp->threads), cmp_addr);
        size_t na = 0;
        grp->rep = grp->threads[0];
        for (size_t k = 0; k < grp->count; k++) {
            const struct gto_thread *m = grp->threads[k];
            if (m->id < grp->rep->id)
                grp->rep = m;
            if (m->state >= 0 && m->state < GTO_STATE_COUNT)
                grp->nstate[m->state]++;
            if (m->state == GTO_STATE_PARKED)
                ages[na++] = s->c.now > m->wait_since ? s->c.now - m->wait_since : 0;
        }
        grp->location = grp->rep->location;
        grp->nwaiting = na;
        if (na) {
            qsort(ages, na, sizeof(*ages), cmp_u64);
            grp->wait_min = ages[0];
            grp->wait_median = ages[na / 2];
            grp->wait_max = ages[na - 1];
        }
        i = j;
    }
    qsort(g, ng, sizeof(*g), cmp_group);
    free(sorted);
    free(ages);
    *out = g;
    return (ssize_t)ng;
}

void gto_groups_free(struct gto_group *g, size_t n)
{
    if (!g)
        return;
    for (size_t i = 0; i < n; i++)
        free(g[i].threads);
    free(g);
}
