/*
 * clock.c - the runtime's clock: CLOCK_MONOTONIC nanoseconds, cheaply.
 *
 * Every park and wake reads the clock, and clock_gettime costs about 30 ns
 * here (more than a whole yield hand-off).  Where the CPU has an invariant
 * TSC, gt__clock extrapolates from the last real clock_gettime reading
 * with the TSC instead (about 12 ns), and takes a real reading again every
 * RESYNC_NS, measuring the TSC's rate over the whole run so far.  The error
 * against CLOCK_MONOTONIC stays well under a microsecond, and readers can
 * keep comparing registry timestamps with their own CLOCK_MONOTONIC.
 * Readings never go backwards.  Only the runtime's kernel thread uses it.
 */
#include "internal.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

#define CALIBRATE_NS (20 * 1000 * 1000ull) /* first rate measurement */
#define RESYNC_NS (10 * 1000 * 1000ull)    /* then a real reading this often */

static struct {
    bool usable;          /* invariant TSC present */
    bool calibrated;      /* mult is known */
    uint64_t tsc_first, ns_first; /* the first real reading */
    uint64_t tsc0, ns0;   /* the latest real reading */
    uint64_t mult;        /* ns per TSC tick, as a 32.32 fixed point */
    uint64_t resync_ticks;
    uint64_t last;        /* latest value returned */
} ck;

static inline uint64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t ticks(void)
{
#if defined(__x86_64__)
    return __rdtsc();
#else
    return 0;
#endif
}

void gt__clock_init(void)
{
#if defined(__x86_64__)
    unsigned a, b, c, d;
    /* CPUID 0x80000007 EDX bit 8: the TSC runs at a constant rate in
     * every P- and C-state, so ticks convert to time. */
    ck.usable = __get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8));
#endif
    ck.calibrated = false;
    ck.tsc_first = ck.tsc0 = ticks();
    ck.ns_first = ck.ns0 = real_ns();
}

/* Takes a real reading and re-anchors the extrapolation on it. */
static __attribute__((noinline)) uint64_t resync(uint64_t tsc)
{
    uint64_t ns = real_ns();
    if (ck.usable && ns - ck.ns_first >= CALIBRATE_NS && tsc > ck.tsc_first) {
        ck.mult = (uint64_t)(((unsigned __int128)(ns - ck.ns_first) << 32) /
                             (tsc - ck.tsc_first));
        if (ck.mult) {
            ck.calibrated = true;
            ck.resync_ticks = (uint64_t)(((unsigned __int128)RESYNC_NS << 32) /
                                         ck.mult);
        }
    }
    ck.tsc0 = tsc;
    ck.ns0 = ns;
    return ns;
}

uint64_t gt__clock_read(void)
{
    uint64_t tsc = ticks();
    uint64_t ns;
    if (GT__LIKELY(ck.calibrated && tsc - ck.tsc0 < ck.resync_ticks))
        ns = ck.ns0 + (uint64_t)(((unsigned __int128)(tsc - ck.tsc0) * ck.mult) >> 32);
    else
        ns = resync(tsc);
    if (GT__UNLIKELY(ns < ck.last))
        ns = ck.last;
    ck.last = ns;
    gt__reg.clock_now = ns;
    return ns;
}
