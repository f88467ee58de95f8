/*
 * clock.c - the runtime's clock: CLOCK_MONOTONIC nanoseconds, cheaply.
 *
 * Every park and wake reads the clock, and clock_gettime costs about 30 ns
 * here (more than a whole yield hand-off).  Where the CPU has an invariant
 * TSC, gt__clock extrapolates from the last real clock_gettime reading
 * with the TSC instead (about 15 ns), and takes a real reading again every
 * RESYNC_NS, measuring the TSC's rate over the whole run so far.  It may
 * lag CLOCK_MONOTONIC, never lead it (a sleep never ends early), and
 * readers can keep comparing registry timestamps with their own
 * CLOCK_MONOTONIC.  The lag stays under 20 us: the rate is slowed by
 * 1/1024 (10 us over the RESYNC_NS between real readings) and by the
 * error of its measurement (a bracket of a few microseconds over a
 * baseline 64 times as long).  That bound is what registry.h promises
 * and test_clock.c checks.
 *
 * gt_now_ns does not use it: the public clock is the kernel's, read at
 * the call (clock_gettime), since a program compares it with its own
 * clock_gettime readings.
 *
 * The rate is known from FIRST_RATE_NS after the start: a rate measured
 * over d ticks from a first reading bracketed by w ticks can be too fast
 * by at most w / d, so it is slowed by that much (plus 1/1024); until
 * CALIBRATE_NS the real readings come every FIRST_RESYNC_NS, so the
 * larger margin of a short baseline costs at most a microsecond of lag.
 * (Before, every reading of the first 50 ms was a real one, about 50 ns:
 * a program's first 50 ms of parks cost twice what the later ones do.)
 *
 * Deadlines are set from a real reading (gt__clock_exact): set from a
 * lagging reading and checked against a caught-up one, a sleep could end
 * early.
 * Readings never go backwards.  Only the runtime's kernel thread uses it.
 */
#include "internal.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#define FIRST_RATE_NS (1000 * 1000ull)     /* first rate measurement */
#define FIRST_RESYNC_NS (1000 * 1000ull)   /* real readings this often... */
#define CALIBRATE_NS (50 * 1000 * 1000ull) /* ...until this long after start */
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
    uint64_t width_first; /* ticks bracketing it (its uncertainty) */
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
static uint64_t paired_reading(uint64_t *tsc_out, uint64_t *width_out)
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
    *width_out = best_width;
    return best_ns;
}

/* Takes a real reading and re-anchors the extrapolation on it.  A caller
 * may hold a tick count taken a little before: the real reading is later,
 * so it is still never ahead of the kernel's clock. */
__attribute__((noinline)) uint64_t gt__clock_resync(void)
{
    uint64_t tsc, width;
    uint64_t ns = paired_reading(&tsc, &width);
    uint64_t dns = ns - ck.ns_first, dtsc = tsc - ck.tsc_first;
    /* (A first reading the thread was preempted in, a wide bracket, waits
     * for a baseline 64 times as long: its margin stays under 2%.) */
    if (ck.usable && dns >= FIRST_RATE_NS && dtsc / 64 > ck.width_first) {
        uint64_t mult = (uint64_t)(((unsigned __int128)dns << 32) / dtsc);
        /* Slowed by the rate's measuring error (see the top) and 1/1024
         * more, so that between real readings the clock lags the kernel's
         * a little and never leads it; every resync catches up. */
        mult -= (uint64_t)(((unsigned __int128)mult * ck.width_first) / dtsc);
        mult -= mult >> 10;
        if (mult) {
            A.mult = mult;
            A.calibrated = true;
            uint64_t every = dns < CALIBRATE_NS ? FIRST_RESYNC_NS : RESYNC_NS;
            A.resync_ticks = (uint64_t)(((unsigned __int128)every << 32) / mult);
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
    ck.ns_first = A.ns0 = paired_reading(&ck.tsc_first, &ck.width_first);
    A.tsc0 = ck.tsc_first;
}

uint64_t gt__clock_exact(void)
{
    uint64_t ns = real_ns();
    if (ns < A.last)
        ns = A.last;
    /* Later cheap readings start from here: a registry timestamp taken
     * after gt_now_ns returned this is not smaller than it. */
    A.last = ns;
    gt__reg.clock_now = ns;
    return ns;
}
