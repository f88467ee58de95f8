/*
 * clock.c - a core's "now": when the process died, on its own clock.
 *
 * The runtime's clock_now is its last clock reading, taken at a switch or
 * a poll: an idle server parked for minutes last read the clock when it
 * went to sleep, so ages measured against it come out as milliseconds.
 * Better witnesses, in order: the time the runtime's fatal-signal handler
 * read (fatal_ns), then the time the core file was written (its mtime,
 * CLOCK_REALTIME, turned into CLOCK_MONOTONIC through the pair of readings
 * the runtime took at start).  When neither can be trusted, clock_now it
 * is, and the readers say the ages are lower bounds.
 */
#include <sys/stat.h>
#include <time.h>

#include "internal.h"

uint64_t gto_core_now(const struct gto_counters *c, uint64_t mtime_ns,
                      int *exact)
{
    if (c->fatal_ns) {
        *exact = 1;
        return c->fatal_ns;
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

int gto__target_now(gto_target *t, struct gto_counters *c, char *err)
{
    if (t->be == &gto__live_backend) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        c->now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        c->now_exact = 1;
        return 0;
    }
    struct stat st;
    uint64_t mtime = 0;
    if (t->core_fd >= 0 && fstat(t->core_fd, &st) == 0 && st.st_mtim.tv_sec > 0)
        mtime = (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
    (void)err;
    c->now = gto_core_now(c, mtime, &c->now_exact);
    return 0;
}
