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
 *
 * gto_groups_merge then merges the groups of several targets by their
 * symbolized frames (a key string per group, sorted): a handful of
 * lookups per group, each cached by pc in its target.
 */
#include <stdio.h>
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

/* ---- merging groups of several targets ---------------------------------- */

/* A growing string: the key of a group's frames. */
struct key {
    char *p;
    size_t n, cap;
    int oom;
};

static void key_add(struct key *k, const void *s, size_t n)
{
    if (k->oom)
        return;
    if (k->n + n + 1 > k->cap) {
        size_t cap = k->cap ? k->cap : 256;
        while (cap < k->n + n + 1)
            cap *= 2;
        char *p = realloc(k->p, cap);
        if (!p) {
            k->oom = 1;
            return;
        }
        k->p = p;
        k->cap = cap;
    }
    memcpy(k->p + k->n, s, n);
    k->n += n;
    k->p[k->n] = '\0';
}

static void key_str(struct key *k, const char *s)
{
    key_add(k, s ? s : "", s ? strlen(s) : 0);
    key_add(k, "\x1f", 1);
}

static void key_num(struct key *k, uint64_t v)
{
    char b[24];
    snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
    key_str(k, b);
}

static void key_location(struct key *k, gto_target *t, const gto_snapshot *s,
                         uint32_t index)
{
    char buf[GTO_LABEL_MAX];
    const struct gto_location *loc = gto_location_by_index(s, index);
    key_str(k, loc && loc->depth ? gto_location_label(t, loc, buf, sizeof(buf)) : "");
}

/* What makes REP's stack the same as another process's: see gto_groups_merge
 * in gtobserve.h.  A frame that no module holds cannot be compared across
 * processes: SET keeps it apart. */
static void group_key(struct key *k, gto_target *t, const gto_snapshot *s,
                      size_t set, const struct gto_thread *rep)
{
    for (size_t i = 0; i < rep->nframes; i++) {
        const struct gto_symbol *sym;
        size_t n = gto_frame_symbols(t, rep, i, &sym);
        for (size_t j = 0; j < n; j++) {
            if (strcmp(sym[j].function, "?") == 0 && !sym[j].file) {
                struct gto_module m;
                if (gto_module_of(t, rep->frames[i].pc, &m) == 0) {
                    key_str(k, "?");
                    key_str(k, m.build_id ? m.build_id : m.path);
                    key_num(k, rep->frames[i].pc - m.start);
                } else {
                    key_str(k, "?pc");
                    key_num(k, set);
                    key_num(k, rep->frames[i].pc);
                }
                continue;
            }
            key_str(k, sym[j].function);
            key_str(k, sym[j].file);
            key_num(k, (uint64_t)sym[j].line);
            key_num(k, (uint64_t)sym[j].inlined);
        }
        key_add(k, "\x1e", 1);
    }
    if (gto_fresh_context(rep)) {
        char buf[GTO_LABEL_MAX];
        key_str(k, "fresh");
        key_num(k, rep->flags & GTO_TF_UNSTACKED);
        key_location(k, t, s, rep->location);
        key_str(k, gto_pc_label(t, rep->entry, 0, buf, sizeof(buf)));
    }
    if (!rep->nframes) {
        key_str(k, "none");
        key_num(k, (uint64_t)rep->state);
        key_num(k, (uint64_t)rep->unwind_status);
        key_location(k, t, s, rep->location);
    }
}

struct keyed {
    char *key;
    size_t set, index;       /* the group: sets[set].g[index] */
    size_t count;
};

static int cmp_keyed(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    if (x->set != y->set)
        return x->set < y->set ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* A merged group's place in the result: biggest first, then by the first
 * part's set and its place in that set. */
struct order {
    size_t count, set, index;
    size_t i;                /* into the unsorted merged groups */
};

static int cmp_order(const void *a, const void *b)
{
    const struct order *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    if (x->set != y->set)
        return x->set < y->set ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

ssize_t gto_groups_merge(const struct gto_group_set *sets, size_t nsets,
                         struct gto_merged **out, char *err)
{
    *out = NULL;
    size_t total = 0, threads = 0;
    for (size_t i = 0; i < nsets; i++) {
        total += sets[i].n;
        for (size_t j = 0; j < sets[i].n; j++)
            threads += sets[i].g[j].count;
    }
    /* One block: the merged groups, then every part (freed at once). */
    struct keyed *e = calloc(total + 1, sizeof(*e));
    struct gto_merged *tmp = calloc(total + 1, sizeof(*tmp));
    struct order *ord = calloc(total + 1, sizeof(*ord));
    struct gto_merged *m = calloc(total + 1, sizeof(*m) + sizeof(struct gto_merged_part));
    uint64_t *ages = malloc((threads + 1) * sizeof(*ages));
    size_t ne = 0, nm = 0;
    if (!e || !tmp || !ord || !m || !ages)
        goto oom;
    struct gto_merged_part *parts = (struct gto_merged_part *)(m + total + 1);
    for (size_t i = 0; i < nsets; i++)
        for (size_t j = 0; j < sets[i].n; j++) {
            struct key k = {0};
            group_key(&k, sets[i].t, sets[i].s, i, sets[i].g[j].rep);
            key_add(&k, "", 0);
            if (k.oom || !k.p) {
                free(k.p);
                goto oom;
            }
            e[ne++] = (struct keyed){k.p, i, j, sets[i].g[j].count};
        }
    qsort(e, ne, sizeof(*e), cmp_keyed);
    /* Runs of one key are one merged group; its parts are the run, in
     * set and group order. */
    for (size_t a = 0, b; a < ne; a = b) {
        struct gto_merged *g = &tmp[nm];
        g->parts = &parts[a];
        for (b = a; b < ne && strcmp(e[b].key, e[a].key) == 0; b++) {
            const struct gto_group *src = &sets[e[b].set].g[e[b].index];
            parts[b] = (struct gto_merged_part){e[b].set, src};
            g->nparts++;
            g->count += src->count;
            for (int st = 0; st < GTO_STATE_COUNT; st++)
                g->nstate[st] += src->nstate[st];
        }
        ord[nm] = (struct order){g->count, e[a].set, e[a].index, nm};
        nm++;
        size_t na = 0;
        for (size_t p = 0; p < g->nparts; p++) {
            const struct gto_group *src = g->parts[p].g;
            uint64_t now = gto_snapshot_counters(sets[g->parts[p].set].s)->now;
            for (size_t q = 0; q < src->count; q++)
                if (src->threads[q]->state == GTO_STATE_PARKED)
                    ages[na++] = gto_wait_age(src->threads[q], now);
        }
        g->nwaiting = na;
        if (na) {
            g->wait_min = g->wait_max = ages[0];
            for (size_t q = 1; q < na; q++) {
                if (ages[q] < g->wait_min)
                    g->wait_min = ages[q];
                if (ages[q] > g->wait_max)
                    g->wait_max = ages[q];
            }
            g->wait_median = select_kth(ages, na, na / 2);
        }
    }
    qsort(ord, nm, sizeof(*ord), cmp_order);
    for (size_t i = 0; i < nm; i++)
        m[i] = tmp[ord[i].i];
    for (size_t i = 0; i < ne; i++)
        free(e[i].key);
    free(e), free(tmp), free(ord), free(ages);
    *out = m;
    return (ssize_t)nm;
oom:
    for (size_t i = 0; i < ne; i++)
        free(e[i].key);
    free(e), free(tmp), free(ord), free(m), free(ages);
    gto__err(err, "out of memory merging %zu groups", total);
    return -1;
}

size_t gto_merged_count(const struct gto_merged *m, size_t set)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nparts; i++)
        if (m->parts[i].set == set)
            n += m->parts[i].g->count;
    return n;
}

void gto_merged_free(struct gto_merged *m, size_t n)
{
    (void)n; /* one block: the groups and their parts */
    free(m);
}
