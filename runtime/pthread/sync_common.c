/*
 * sync_common.c - the helpers every synchronisation object of
 * libgt-pthread.so uses: glibc's own functions, deadlines, the one-line
 * messages.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sync_common.h"

void *gt__pts_next(const char *name, void **cache)
{
    /* Kernel threads outside the runtime may race here: each finds the
     * same pointer, and the word is written whole. */
    void *f = __atomic_load_n(cache, __ATOMIC_ACQUIRE);
    if (f)
        return f;
    f = dlsym(RTLD_NEXT, name);
    if (!f) {
        fprintf(stderr, "gt-pthread: %s: not found in the C library (%s); "
                        "libgt-pthread.so needs glibc 2.34 or later\n",
                name, dlerror());
        abort();
    }
    __atomic_store_n(cache, f, __ATOMIC_RELEASE);
    return f;
}

int gt__pts_deadline(clockid_t clock, const struct timespec *abstime,
                    uint64_t *deadline)
{
    if ((clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC) || !abstime ||
        abstime->tv_nsec < 0 || abstime->tv_nsec >= 1000000000L)
        return EINVAL;
    /* The caller's clock first, the runtime's after: the span between
     * the two readings is added to the wait, never taken from it, so the
     * wait ends at or after ABSTIME on the caller's clock. */
    struct timespec now;
    clock_gettime(clock, &now);
    if (abstime->tv_sec < now.tv_sec ||
        (abstime->tv_sec == now.tv_sec && abstime->tv_nsec <= now.tv_nsec))
        return ETIMEDOUT;
    uint64_t span = (uint64_t)(abstime->tv_sec - now.tv_sec) * 1000000000u +
                    (uint64_t)abstime->tv_nsec - (uint64_t)now.tv_nsec;
    /* Hundreds of years: as good as forever, without overflow. */
    if (span > (UINT64_MAX >> 2))
        span = UINT64_MAX >> 2;
    *deadline = gt__clock_exact() + span;
    return 0;
}

void gt__pts_refuse_pshared_once(int *said, const char *what)
{
    if (__atomic_exchange_n(said, 1, __ATOMIC_RELAXED))
        return;
    fprintf(stderr, "gt-pthread: %s: process-shared objects are not "
                    "supported (green threads of one process only); refused\n",
            what);
}

void gt__pts_complain_once(int *said, const char *what, const void *obj)
{
    if (__atomic_exchange_n(said, 1, __ATOMIC_RELAXED))
        return;
    fprintf(stderr, "gt-pthread: %s %p (reported once)\n", what, obj);
}
