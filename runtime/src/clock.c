/*
 * clock.c - the runtime's clock: CLOCK_MONOTONIC nanoseconds, cheaply.
 *
 * Every park and wake reads the clock, and clock_gettime costs about 30 ns
 * here (more than a whole yield hand-off).  Where the CPU has an invariant
 * TSC, gt__clock extrapolates from the last real clock_gettime reading
 * with the TSC instead (about 12 ns), and takes a real reading again every
 * RESYNC_NS, measuring the TSC's rate over the whole run so far.  It may
 * lag CLOCK_MONOTONIC by a few microseconds, never lead it (a sleep never
 * ends early), and readers can keep comparing registry timestamps with
 * their own CLOCK_MONOTONIC.  Deadlines are set from a real reading
 * (gt__clock_exact): set from a lagging reading and checked against a
 * caught-up one, a sleep could end early.
 * Readings never go backwards.  Only the runtime's kernel thread uses it.
 */
#include "internal.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#define CALIBRATE_NS (50 * 1000 * 1000ull) /* first rate measurement */
#define BRACKET_TICKS 20000 /* a clock read between two tick reads this
                             * close (a few us) was not preempted */
#define RESYNC_NS (10 * 1000 * 1000ull)    /* then a real reading this often */

/* The anchor (internal.h) is what the inline fast path reads; the rest is
 * needed only when re-anchoring. */
struct gt__clock_anchor gt__clock_anchor;
#define A gt__clock_anchor

static struct {
    bool usable;          /* invariant TSC present */
    uint64_t tsc_first, ns_first; /* the first real reading */
} ck;

static inline uint64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A real reading paired with the tick count at the same moment.  The
 * kernel's clock is read between two tick readings; if the thread was
 * preempted in between (the pair would be skewed by the preemption, and a
 * rate measured from it wrong by as much), read again: the narrowest of a
 * few brackets wins. */
static uint64_t paired_reading(uint64_t *tsc_out)
{
    uint64_t best_ns = 0, best_tsc = 0, best_width = UINT64_MAX;
    for (int i = 0; i < 4; i++) {
        uint64_t t1 = gt__clock_ticks();
        uint64_t ns = real_ns();
        uint64_t t2 = gt__clock_ticks();
        if (t2 - t1 < best_width) {
            best_width = t2 - t1;
            best_ns = ns;
            /* Pair it with the later tick: at t2 the real time is at
             * least ns, so extrapolating from here never runs ahead. */
            best_tsc = t2;
        }
        if (best_width < BRACKET_TICKS)
            break;
    }
    *tsc_out = best_tsc;
    return best_ns;
}

/* Takes a real reading and re-anchors the extrapolation on it.  A caller
 * may hold a tick count taken a little before: the real reading is later,
 * so it is still never ahead of the kernel's clock. */
__attribute__((noinline)) uint64_t gt__clock_resync(void)
{
    uint64_t tsc;
    uint64_t ns = paired_reading(&tsc);
    if (ck.usable && ns - ck.ns_first >= CALIBRATE_NS && tsc > ck.tsc_first) {
        A.mult = (uint64_t)(((unsigned __int128)(ns - ck.ns_first) << 32) /
                            (tsc - ck.tsc_first));
        /* A hair slow (1/1024: more than the rate's measuring error), so
         * that between real readings the clock lags the kernel's by at
         * most ~10 us and never leads it; every resync catches up. */
        A.mult -= A.mult >> 10;
        if (A.mult) {
            A.calibrated = true;
            A.resync_ticks = (uint64_t)(((unsigned __int128)RESYNC_NS << 32) /
                                        A.mult);
        }
    }
    A.tsc0 = tsc;
    A.ns0 = ns;
    return ns;
}

void gt__clock_init(void)
{
#if defined(__x86_64__)
    unsigned a, b, c, d;
    /* CPUID 0x80000007 EDX bit 8: the TSC runs at a constant rate in
     * every P- and C-state, so ticks convert to time. */
    ck.usable = __get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8));
#endif
    A.calibrated = false;
    ck.ns_first = A.ns0 = paired_reading(&ck.tsc_first);
    A.tsc0 = ck.tsc_first;
}

uint64_t gt__clock_exact(void)
{
    uint64_t ns = real_ns();
    if (ns < A.last)
        ns = A.last;
    return ns;
}
