/*
 * sync_common.h - what the synchronisation objects of libgt-pthread.so
 * share: where a pthread object keeps its gt object, deadlines from a
 * POSIX abstime, glibc's own functions for callers outside green threads.
 *
 * THE OBJECTS
 *
 * A pthread_mutex_t, pthread_cond_t or pthread_rwlock_t starts with two
 * words of ours: IMPL, a pointer to a heap-allocated gt object (a
 * gt_mutex_t first, or a gt_cond_t, so the registry's readers see a
 * thread parked on it, and a mutex's owner, exactly as for a gt program),
 * and CHECK, IMPL xor a constant.  Both are zero in a statically
 * initialised object and in one that glibc's functions left unlocked, so
 * IMPL is made at the first use in a green thread (scheduling is
 * cooperative: nothing runs between the test and the store), and a pair
 * that does not match is glibc's state, not ours.  Destroy frees IMPL.
 * Barriers and semaphores have no static initializer: init makes IMPL.
 */
#ifndef GT_PTS_SYNC_COMMON_H
#define GT_PTS_SYNC_COMMON_H

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "internal.h"

#define GT__PTS_PUBLIC __attribute__((visibility("default")))

/* The first 16 bytes of every object (see THE OBJECTS). */
struct gt__pts_head {
    void *impl;        /* heap gt object, NULL before the first green use */
    uint64_t check;    /* GT__PTS_CHECK(impl) while IMPL is ours */
} __attribute__((may_alias));

#define GT__PTS_CHECK(p) ((uint64_t)(uintptr_t)(p) ^ 0x6774707468726561ull)

static inline int gt__pts_ours(const struct gt__pts_head *h)
{
    return h->impl && h->check == GT__PTS_CHECK(h->impl);
}

static inline int gt__pts_idle(const struct gt__pts_head *h)
{
    return !h->impl && !h->check;
}

static inline void gt__pts_set(struct gt__pts_head *h, void *impl)
{
    h->impl = impl;
    h->check = impl ? GT__PTS_CHECK(impl) : 0;
}

/* glibc's definition of NAME (the next one after this library), looked
 * up once; the process ends with a message if there is none. */
void *gt__pts_next(const char *name, void **cache) GT__HIDDEN;
#define GT__PTS_REAL(name)                                                  \
    ({                                                                     \
        static void *real_;                                                \
        (__typeof__(name) *)gt__pts_next(#name, &real_);                    \
    })

/* Turns ABSTIME on CLOCK into a runtime deadline (absolute ns of the
 * runtime's clock, never earlier than ABSTIME on CLOCK).  0; EINVAL for
 * a clock other than CLOCK_REALTIME/CLOCK_MONOTONIC or a tv_nsec out of
 * [0, 1e9); ETIMEDOUT if ABSTIME has passed already. */
int gt__pts_deadline(clockid_t clock, const struct timespec *abstime,
                    uint64_t *deadline) GT__HIDDEN;

/* One line on stderr the first time WHAT is refused: process-shared
 * objects need locks between processes that green threads cannot park
 * on.  Once per call site (SAID). */
void gt__pts_refuse_pshared_once(int *said, const char *what) GT__HIDDEN;
#define gt__pts_refuse_pshared(what)                                        \
    do {                                                                   \
        static int said_;                                                  \
        gt__pts_refuse_pshared_once(&said_, what);                          \
    } while (0)
/* One line on stderr the first time an object is misused in a way the
 * runtime cannot serve (see SYNC.md, "Outside a green thread").  Once per
 * call site. */
void gt__pts_complain_once(int *said, const char *what, const void *obj)
    GT__HIDDEN;
#define gt__pts_complain(what, obj)                                         \
    do {                                                                   \
        static int said_;                                                  \
        gt__pts_complain_once(&said_, what, obj);                           \
    } while (0)

/* ---- the mutex, shared with cond.c ----------------------------------- */

struct gt__pts_mutex {
    gt_mutex_t m;      /* first: what readers see (owner, waiters) */
    int type;          /* PTHREAD_MUTEX_NORMAL, _RECURSIVE, _ERRORCHECK,
                        * _DEFAULT (glibc's kind & 3) */
    unsigned count;    /* recursive: times the owner holds it, >= 1 */
};

/* The gt mutex of PM, made at its first use: 0, EINVAL (not a mutex we
 * can serve: glibc holds it) or EAGAIN (no memory). */
int gt__pts_mutex_get(pthread_mutex_t *pm, struct gt__pts_mutex **out)
    GT__HIDDEN;
/* Takes X for the current green thread, parking (location FP) until
 * DEADLINE (0 none): 0, ETIMEDOUT. */
int gt__pts_mutex_take(struct gt__pts_mutex *x, const void *fp,
                      uint64_t deadline) GT__HIDDEN;
/* Lets X go: the first waiter owns it now. */
void gt__pts_mutex_release(struct gt__pts_mutex *x) GT__HIDDEN;

#endif /* GT_PTS_SYNC_COMMON_H */
