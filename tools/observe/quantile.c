/*
 * quantile.c - the two quantile rules every gt reader uses: nearest rank
 * over sorted samples, and a log2 histogram's bucket clamped to the
 * largest value recorded.
 *
 * Rounding the rank down, or giving a bucket's upper bound unclamped, is
 * how two readers of one process came to disagree (a suggested stack below
 * what a thread had touched; a 99th percentile of 1099.5s for sleeps of
 * 600s): so there is one routine of each, here.
 */
#include "internal.h"

/* ceil(q * n) as an index count, without libm: the product is computed in
 * double exactly as a mirror in another language computes it. */
static uint64_t rank_of(double q, uint64_t n)
{
    double x = q * (double)n;
    if (!(x > 0))
        return 1;
    uint64_t r = (uint64_t)x;
    if ((double)r < x)
        r++;
    if (r < 1)
        r = 1;
    return r > n ? n : r;
}

uint64_t gto_quantile(const uint64_t *sorted, size_t n, double q)
{
    if (!n)
        return 0;
    return sorted[rank_of(q, n) - 1];
}

uint64_t gto_hist_quantile(const uint64_t *hist, size_t nbuckets,
                           uint64_t max, double q)
{
    uint64_t total = 0;
    for (size_t b = 0; b < nbuckets; b++)
        total += hist[b];
    if (!total)
        return 0;
    uint64_t rank = rank_of(q, total), seen = 0;
    size_t b = 0;
    for (; b < nbuckets; b++) {
        seen += hist[b];
        if (seen >= rank)
            break;
    }
    if (b >= nbuckets - 1 || b >= 63)
        return max; /* the last bucket holds everything longer */
    uint64_t upper = (2ull << b) - 1;
    return upper < max ? upper : max;
}
