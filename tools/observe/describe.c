/*
 * describe.c - what a thread waits for, and what a fresh context is, in
 * the words every gt reader prints ("fd 9 read", "sleep 1.5s left",
 * "not started: starts in worker").
 */
#include <poll.h>
#include <string.h>

#include "internal.h"

const char *gto_wait_describe(const struct gto_thread *th, uint64_t now,
                              char *buf, size_t len)
{
    if (th->state != GTO_STATE_PARKED)
        return NULL;
    const char *kind = gto_wait_kind_name(th->wait_kind);
    unsigned long long obj = (unsigned long long)th->wait_obj;
    char d[32];
    switch (th->wait_kind) {
    case GT_WAIT_FD: {
        int rd = (th->wait_arg & POLLIN) != 0, wr = (th->wait_arg & POLLOUT) != 0;
        /* A descriptor is an int: anything wider is not one. */
        snprintf(buf, len, "fd %d%s", (int)(uint32_t)th->wait_obj,
                 rd && wr ? " read+write" : rd ? " read" : wr ? " write" : "");
        break;
    }
    case GT_WAIT_POLL:
        snprintf(buf, len, "poll %llu fds", (unsigned long long)th->wait_arg);
        break;
    case GT_WAIT_SLEEP:
        if (th->deadline)
            snprintf(buf, len, "sleep %s left",
                     gto_fmt_duration(th->deadline > now ? th->deadline - now : 0,
                                      d, sizeof(d)));
        else
            snprintf(buf, len, "sleep");
        break;
    case GT_WAIT_JOIN:
        snprintf(buf, len, "join thread %llu", obj);
        break;
    case GT_WAIT_MUTEX:
    case GT_WAIT_COND:
    case GT_WAIT_CHAN_SEND:
    case GT_WAIT_CHAN_RECV:
        snprintf(buf, len, "%s %#llx", kind, obj);
        break;
    default:
        snprintf(buf, len, "%s", kind);
        break;
    }
    return buf;
}

const char *gto_fresh_note(gto_target *t, const struct gto_thread *th,
                           char *buf, size_t len)
{
    if (!gto_fresh_context(th))
        return NULL;
    /* The function by name: the trampoline is all the frames show, and
     * the entry is what the thread will run. */
    const struct gto_symbol *sym;
    size_t n = gto_symbolize(t, th->entry, 0, &sym);
    char fn[128];
    if (strcmp(sym[n - 1].function, "?") != 0)
        snprintf(fn, sizeof(fn), "%s", sym[n - 1].function);
    else
        snprintf(fn, sizeof(fn), "%#llx", (unsigned long long)th->entry);
    if (th->flags & GTO_TF_UNSTACKED)
        snprintf(buf, len, "no stack: waits unstacked, starts over in %s", fn);
    else
        snprintf(buf, len, "not started: starts in %s", fn);
    return buf;
}

uint64_t gto_wait_age(const struct gto_thread *th, uint64_t now)
{
    return th->state == GTO_STATE_PARKED && th->wait_since && now > th->wait_since
               ? now - th->wait_since : 0;
}
