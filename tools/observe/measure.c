/*
 * measure.c - resident and touched bytes of every stack.
 *
 * touched is measured from the lowest non-zero word: a stack page the
 * thread never wrote reads as zero.  Only resident pages can hold such a
 * word, so residency comes first (pagemap for a live process, the core's
 * data otherwise), for whole runs of adjacent stacks at once (stacks are
 * carved from arenas, so a few reads cover them all); then, for every
 * thread, its lowest resident page below the saved sp is read - all of
 * them in one batch - and scanned; a page of zeros sends that thread to
 * its next resident page in the next round.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define GUARD_CANARY 3

struct probe {
    uint64_t lo;     /* th->stack_lo: the sort key, kept here so that
                      * sorting a million probes reads no thread */
    struct gto_thread *th;
    uint64_t next;   /* next page to look at */
    uint64_t end;    /* pages below this one are candidates: sp's page + 1 */
    uint8_t *present;
};

/* Pages read at once: few enough that the buffer is still in the cache
 * when it is scanned (a batch of 4096 pages, 16 MB, was read from memory
 * twice: once as the kernel copied it, once scanned). */
#define BATCH 256

/* The lowest non-zero word of one page read for probe q, if any. */
static void scan(const gto_snapshot *s, struct probe *q, const struct gto_range *r,
                 int ok, uint64_t page)
{
    q->next += page;
    if (!ok)
        return;
    const uint64_t *w = r->buf;
    size_t nw = r->len / 8;
    for (size_t j = 0; j < nw; j++) {
        /* Below a saved sp most words were never written: skip zeros
         * eight words at a time (one test instead of eight branches). */
        while (j + 8 <= nw && !(w[j] | w[j + 1] | w[j + 2] | w[j + 3] |
                                w[j + 4] | w[j + 5] | w[j + 6] | w[j + 7]))
            j += 8;
        if (j >= nw)
            break;
        uint64_t at = r->addr + j * 8;
        if (!w[j])
            continue;
        /* The canary at the stack's low end is the runtime's word, not the
         * thread's. */
        if (at == q->th->stack_lo && s->c.guard_policy == GUARD_CANARY &&
            w[j] == s->c.canary)
            continue;
        if (q->th->stack_hi - at > q->th->touched)
            q->th->touched = q->th->stack_hi - at;
        q->next = q->end;
        return;
    }
}

static int by_stack(const void *a, const void *b)
{
    const struct probe *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Residency of [lo, hi), both multiples of PAGE, one byte per PAGE into
 * OUT.  The backends answer per 4 KiB, whatever the registry's page size:
 * for a bigger page, a page is resident when any of its 4 KiB is. */
static int fold_residency(gto_target *t, uint64_t lo, uint64_t hi, uint64_t page,
                          uint8_t *out)
{
    uint64_t r = page / 4096;
    if (r <= 1)
        return t->be->residency(t, lo, hi, out);
    size_t n = (size_t)((hi - lo) / page);
    uint8_t *sub = malloc(n * r);
    if (!sub || t->be->residency(t, lo, hi, sub) < 0) {
        free(sub);
        return -1;
    }
    for (size_t k = 0; k < n; k++) {
        out[k] = 0;
        for (uint64_t j = 0; j < r; j++)
            out[k] |= sub[k * r + j];
    }
    free(sub);
    return 0;
}

/* Residency of each probe's stack, reading runs of adjacent stacks with one
 * call. */
static int residency(gto_target *t, struct probe *p, size_t n, uint64_t page,
                     uint8_t *bits)
{
    size_t used = 0;
    for (size_t i = 0; i < n;) {
        uint64_t lo = p[i].th->stack_lo & ~(page - 1);
        uint64_t hi = (p[i].th->stack_hi + page - 1) & ~(page - 1);
        size_t j = i + 1;
        while (j < n) {
            uint64_t l2 = p[j].th->stack_lo & ~(page - 1);
            uint64_t h2 = (p[j].th->stack_hi + page - 1) & ~(page - 1);
            if (l2 < hi || l2 - hi > 16 * page || h2 - lo > (256ull << 20))
                break;
            if (h2 > hi)
                hi = h2;
            j++;
        }
        uint8_t *run = bits + used;
        if (fold_residency(t, lo, hi, page, run) < 0)
            return -1;
        used += (size_t)((hi - lo) / page);
        for (size_t k = i; k < j; k++)
            p[k].present = run + ((p[k].th->stack_lo & ~(page - 1)) - lo) / page;
        i = j;
    }
    return 0;
}

int gto__measure(gto_target *t, gto_snapshot *s, char *err)
{
    uint64_t page = s->c.page_size ? s->c.page_size : (uint64_t)sysconf(_SC_PAGESIZE);
    struct probe *p = calloc(s->nthreads + 1, sizeof(*p));
    size_t n = 0, pages = 0;
    if (!p)
        goto oom;
    for (size_t i = 0; i < s->nthreads; i++) {
        struct gto_thread *th = &s->threads[i];
        if (th->in_flux || th->stack_hi <= th->stack_lo ||
            th->stack_hi - th->stack_lo > (1ull << 30) ||
            th->stack_hi > UINT64_MAX - page)   /* its top page would wrap */
            continue;
        p[n].lo = th->stack_lo;
        p[n++].th = th;
        pages += (th->stack_hi - th->stack_lo) / page + 2;
    }
    /* Often in order already (stacks carved in spawn order). */
    int sorted = 1;
    for (size_t i = 1; i < n && sorted; i++)
        sorted = p[i - 1].lo <= p[i].lo;
    if (!sorted)
        qsort(p, n, sizeof(*p), by_stack);
    uint8_t *bits = calloc(pages + 16 * n + 1, 1);
    if (!bits)
        goto oom;
    if (residency(t, p, n, page, bits) < 0) {
        if (errno == ESRCH)
            gto__err(err, "%s exited while being read", t->name);
        else
            gto__err(err, "%s: cannot read which stack pages are resident: %s",
                     t->name, strerror(errno));
        free(bits);
        free(p);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct gto_thread *th = p[i].th;
        uint64_t base = th->stack_lo & ~(page - 1);
        uint64_t npg = ((th->stack_hi + page - 1) & ~(page - 1)) - base;
        npg /= page;
        uint64_t res = 0, below = 0;
        uint64_t sp = th->live ? th->ctx_sp : th->stack_hi;
        uint64_t sp_page = (sp & ~(page - 1)) - base;
        for (uint64_t k = 0; k < npg; k++) {
            res += p[i].present[k];
            if ((k + 1) * page <= sp_page)
                below += p[i].present[k];
        }
        th->resident = res * page;
        if (th->resident > th->reserved)
            th->resident = th->reserved;
        th->dead_resident = below * page;
        p[i].next = base;
        p[i].end = sp;
        th->touched = th->live;
    }
    /* Rounds: each unresolved thread offers its next resident page below
     * sp; the offered pages are read in batches of BATCH into one reused
     * buffer (a buffer for all of them would cost a page fault per page). */
    struct gto_range *r = malloc(BATCH * sizeof(*r));
    uint8_t *ok = malloc(BATCH);
    size_t *who = malloc(BATCH * sizeof(*who));
    uint8_t *buf = malloc(BATCH * page);
    if (!r || !ok || !who || !buf) {
        free(r), free(ok), free(who), free(buf), free(bits);
        goto oom;
    }
    for (int more = 1; more;) {
        more = 0;
        for (size_t i = 0; i < n;) {
            size_t nr = 0;
            for (; i < n && nr < BATCH; i++) {
                struct probe *q = &p[i];
                uint64_t base = q->th->stack_lo & ~(page - 1);
                while (q->next < q->end && !q->present[(q->next - base) / page])
                    q->next += page;
                if (q->next >= q->end)
                    continue;
                uint64_t from = q->next < q->th->stack_lo ? q->th->stack_lo : q->next;
                uint64_t to = q->next + page < q->end ? q->next + page : q->end;
                if (to <= from) {
                    q->next = q->end;
                    continue;
                }
                r[nr].addr = from;
                r[nr].len = (size_t)(to - from);
                r[nr].buf = buf + nr * page;
                who[nr++] = i;
            }
            if (!nr)
                continue;
            more = 1;
            if (t->be->read_many(t, r, nr, ok) < 0) {
                gto__err(err, "%s exited while being read", t->name);
                free(r), free(ok), free(who), free(buf), free(bits), free(p);
                return -1;
            }
            for (size_t k = 0; k < nr; k++)
                scan(s, &p[who[k]], &r[k], ok[k], page);
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct gto_thread *th = p[i].th;
        if (th->touched > th->reserved)
            th->touched = th->reserved;
        /* A fresh context's non-zero words are the runtime's start frame
         * (or what an earlier owner of a reused stack left): the thread
         * itself has touched nothing yet.  Its resident pages stay counted
         * as they are: they are memory all the same. */
        if (gto_fresh_context(th))
            th->touched = 0;
        th->dead = th->touched > th->live ? th->touched - th->live : 0;
        th->unused = th->reserved - th->touched;
        th->measured = 1;
    }
    free(r), free(ok), free(who), free(buf), free(bits), free(p);
    return 0;
oom:
    free(p);
    gto__err(err, "out of memory measuring %zu stacks", s->nthreads);
    return -1;
}
