/*
 * clock.c - a core's "now": when the process died, on its own clock.
 *
 * The runtime's clock_now is its last clock reading, taken at a switch or
 * a poll: an idle server parked for minutes last read the clock when it
 * went to sleep, so ages measured against it come out as milliseconds.
 * Better witnesses, in order: the time the runtime's fatal-signal handler
 * read (fatal_ns), then the time gt-core stopped the process (its capture
 * note, on the process's own clock), then the time the core file was
 * written (its mtime, CLOCK_REALTIME, turned into CLOCK_MONOTONIC through
 * the pair of readings the runtime took at start).  When none can be
 * trusted, clock_now it is, and the readers say the ages are lower bounds.
 */
#include "internal.h"

uint64_t gto_core_now(const struct gto_counters *c,
                      const struct gt_core_capture *cap, uint64_t mtime_ns,
                      int *exact)
{
    if (c->fatal_ns) {
        *exact = 1;
        return c->fatal_ns;
    }
    /* gt-core read the target's own CLOCK_MONOTONIC with every kernel
     * thread stopped: no reading of the runtime's can come after it.  One
     * that does is a damaged note, unless the target ran on while it was
     * copied (NO_STOP): then the runtime's reading is from within the
     * capture, and later than its start. */
    if (cap && cap->monotonic_ns) {
        if (cap->monotonic_ns >= c->clock_now) {
            *exact = 1;
            return cap->monotonic_ns;
        }
        if ((cap->flags & GT_CAPTURE_NO_STOP) && cap->monotonic_ns >= c->clock_base) {
            *exact = 1;
            return c->clock_now;
        }
    }
    /* An mtime before the runtime started, or a wall clock stepped back
     * since, gives a monotonic time before clock_now: a core copied
     * without its mtime, not a moment the process lived. */
    if (mtime_ns && c->realtime_base && mtime_ns >= c->realtime_base &&
        mtime_ns - c->realtime_base <= UINT64_MAX - c->clock_base) {
        uint64_t now_file = c->clock_base + (mtime_ns - c->realtime_base);
        if (now_file >= c->clock_now) {
            *exact = 1;
            return now_file;
        }
    }
    *exact = 0;
    return c->clock_now;
}
