/*
 * capture.c - the capture note of a core written by gt-core: reading it
 * out of the core's notes, and saying it the one way every reader does.
 *
 * The note (gt/registry.h, NOTES) is name "gt", type GT_NOTE_CAPTURE, its
 * descriptor a struct gt_core_capture.  Like every byte of a core it is
 * hostile: a descriptor shorter than the fields read, or of another
 * version, is ignored as if absent, and the core's now falls back to the
 * rule for cores without one (gto_core_now).  Fields are appended only,
 * so a longer descriptor is read for the fields known here; a version
 * other than GT_CAPTURE_VERSION may mean the known ones changed meaning,
 * and is not guessed at.
 */
#include <inttypes.h>
#include <stddef.h>
#include <time.h>

#include "internal.h"

/* The fields readers use: everything up to stopped_ns.  The registry
 * address is gt-core's own business (readers find the registry as in any
 * core). */
#define CAPTURE_USED (offsetof(struct gt_core_capture, stopped_ns) + 8)

int gto__capture_parse(const uint8_t *desc, uint64_t len, struct gt_core_capture *out)
{
    struct gt_core_capture c = {0};
    if (len < CAPTURE_USED)
        return -1;
    memcpy(&c, desc, len < sizeof(c) ? (size_t)len : sizeof(c));
    if (c.version != GT_CAPTURE_VERSION)
        return -1;
    *out = c;
    return 0;
}

const struct gt_core_capture *gto_target_capture(const gto_target *t)
{
    return t && t->have_capture ? &t->capture : NULL;
}

int gto_stack_measures_known(const gto_target *t)
{
    const struct gt_core_capture *c = gto_target_capture(t);
    return !c || !(c->flags & GT_CAPTURE_COMPACT);
}

const char *gto_fmt_capture(const struct gt_core_capture *c, char *buf, size_t len)
{
    char when[64] = "an unknown time", how[48];
    struct tm tm;
    time_t secs = (time_t)(c->realtime_ns / 1000000000u);
    /* A year gmtime cannot give (a hostile realtime_ns) stays unknown. */
    if (c->realtime_ns && c->realtime_ns / 1000000000u <= (uint64_t)INT32_MAX * 4 &&
        gmtime_r(&secs, &tm))
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
    if (c->flags & GT_CAPTURE_NO_STOP)
        snprintf(how, sizeof(how), "not stopped: best effort");
    else if (!c->stopped_ns)
        snprintf(how, sizeof(how), "stopped by its tracer");
    else
        snprintf(how, sizeof(how), "target stopped %.3f s", (double)c->stopped_ns / 1e9);
    snprintf(buf, len, "core written by gt-core at %s (%s; %s)", when,
             c->flags & GT_CAPTURE_COMPACT ? "compact" : "full", how);
    return buf;
}

void gto_json_capture(FILE *f, const gto_target *t)
{
    const struct gt_core_capture *c = gto_target_capture(t);
    if (!c) {
        fprintf(f, "\"capture\": null");
        return;
    }
    fprintf(f, "\"capture\": {\"realtime_ns\": %" PRIu64 ", \"monotonic_ns\": %" PRIu64
            ", \"stopped_ns\": %" PRIu64 ", \"compact\": %s, \"stopped\": %s}",
            c->realtime_ns, c->monotonic_ns, c->stopped_ns,
            c->flags & GT_CAPTURE_COMPACT ? "true" : "false",
            c->flags & GT_CAPTURE_NO_STOP ? "false" : "true");
}
