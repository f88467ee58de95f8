/*
 * group.c - threads with identical pc sequences, as one group.
 *
 * A hash of each thread's stack finds its group in a table of the groups
 * so far, and one comparison with the group's first member confirms it:
 * two passes over each thread's pcs.  (Sorting the threads by their pc
 * sequences did the same in n log n comparisons, most of them between
 * equal stacks, which are the most expensive to compare: a million
 * threads in three stacks took a second.)  The groups' order is by count
 * and lowest id, and members keep the caller's order, so the result is
 * the same on every run.
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

/* A hash of what same_stack compares. */
static uint64_t stack_hash(const struct gto_thread *x)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ x->nframes;
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 0xff51afd7ed558ccdull, h ^= h >> 29)
    for (size_t i = 0; i < x->nframes; i++)
        MIX(x->frames[i].pc);
    if (gto_fresh_context(x)) {
        MIX(1 + (x->flags & GTO_TF_UNSTACKED));
        MIX(x->location);
        MIX(x->entry);
    }
    if (!x->nframes) {
        MIX(x->state);
        MIX(x->unwind_status);
        MIX(x->location);
    }
#undef MIX
    return h;
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

/* The K-th smallest of V[0..n) (quickselect), V reordered. */
static uint64_t select_kth(uint64_t *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint64_t pivot = v[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                uint64_t t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return v[k];
    }
    return v[k];
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

/* The groups found so far, by stack hash: open addressing, a slot holds
 * group index + 1. */
struct table {
    uint64_t *hash;
    size_t *slot;
    size_t cap;              /* a power of two */
};

static int table_grow(struct table *tb, size_t ng, const uint64_t *ghash)
{
    size_t cap = tb->cap ? tb->cap * 2 : 64;
    size_t *slot = calloc(cap, sizeof(*slot));
    uint64_t *hash = malloc(cap * sizeof(*hash));
    if (!slot || !hash) {
        free(slot), free(hash);
        return -1;
    }
    for (size_t k = 0; k < ng; k++) {
        size_t i = ghash[k] & (cap - 1);
        while (slot[i])
            i = (i + 1) & (cap - 1);
        slot[i] = k + 1;
        hash[i] = ghash[k];
    }
    free(tb->slot), free(tb->hash);
    tb->slot = slot;
    tb->hash = hash;
    tb->cap = cap;
    return 0;
}

ssize_t gto_group(const gto_snapshot *s, const struct gto_thread *const *th,
                  size_t n, struct gto_group **out, char *err)
{
    *out = NULL;
    size_t *of = malloc((n + 1) * sizeof(*of));       /* thread -> group */
    struct gto_group *g = calloc(n + 1, sizeof(*g));
    uint64_t *ghash = calloc(n + 1, sizeof(*ghash)); /* group -> hash */
    uint64_t *ages = malloc((n + 1) * sizeof(*ages));
    struct table tb = {0};
    size_t ng = 0;
    if (!of || !g || !ghash || !ages || table_grow(&tb, 0, ghash) < 0)
        goto oom;
    for (size_t k = 0; k < n; k++) {
        uint64_t h = stack_hash(th[k]);
        size_t i = h & (tb.cap - 1);
        for (; tb.slot[i]; i = (i + 1) & (tb.cap - 1))
            if (tb.hash[i] == h && same_stack(g[tb.slot[i] - 1].rep, th[k]))
                break;
        if (!tb.slot[i]) {
            /* A new group; rep holds its first member until the end. */
            g[ng].rep = th[k];
            ghash[ng] = h;
            tb.slot[i] = ++ng;
            tb.hash[i] = h;
            if (2 * ng > tb.cap && table_grow(&tb, ng, ghash) < 0)
                goto oom;
        }
        of[k] = tb.slot[i] - 1;
        g[of[k]].count++;
    }
    for (size_t k = 0; k < ng; k++) {
        g[k].threads = malloc(g[k].count * sizeof(*g[k].threads));
        if (!g[k].threads) {
            gto_groups_free(g, ng);
            g = NULL;
            goto oom;
        }
        g[k].count = 0;
    }
    /* Members in snapshot order (records are in slot order): the
     * caller's order, sorted only when it is not that already. */
    int ordered = 1;
    for (size_t k = 0; k < n; k++) {
        struct gto_group *grp = &g[of[k]];
        grp->threads[grp->count++] = th[k];
        if (k && th[k] < th[k - 1])
            ordered = 0;
    }
    for (size_t k = 0; !ordered && k < ng; k++)
        qsort(g[k].threads, g[k].count, sizeof(*g[k].threads), cmp_addr);
    for (size_t k = 0; k < ng; k++) {
        struct gto_group *grp = &g[k];
        size_t na = 0;
        grp->rep = grp->threads[0];
        for (size_t j = 0; j < grp->count; j++) {
            const struct gto_thread *m = grp->threads[j];
            if (m->id < grp->rep->id)
                grp->rep = m;
            if (m->state >= 0 && m->state < GTO_STATE_COUNT)
                grp->nstate[m->state]++;
            if (m->state == GTO_STATE_PARKED)
                ages[na++] = gto_wait_age(m, s->c.now);
        }
        grp->location = grp->rep->location;
        grp->nwaiting = na;
        if (na) {
            grp->wait_min = grp->wait_max = ages[0];
            for (size_t j = 1; j < na; j++) {
                if (ages[j] < grp->wait_min)
                    grp->wait_min = ages[j];
                if (ages[j] > grp->wait_max)
                    grp->wait_max = ages[j];
            }
            grp->wait_median = select_kth(ages, na, na / 2);
        }
    }
    qsort(g, ng, sizeof(*g), cmp_group);
    free(of), free(ghash), free(ages), free(tb.slot), free(tb.hash);
    *out = g;
    return (ssize_t)ng;
oom:
    free(of), free(g), free(ghash), free(ages), free(tb.slot), free(tb.hash);
    gto__err(err, "out of memory grouping %zu threads", n);
    return -1;
}

void gto_groups_free(struct gto_group *g, size_t n)
{
    if (!g)
        return;
    for (size_t i = 0; i < n; i++)
        free(g[i].threads);
    free(g);
}
