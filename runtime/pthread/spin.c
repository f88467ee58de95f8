/*
 * spin.c - pthread_spin_* for threads that share one kernel thread.
 *
 * A pthread_spinlock_t is an int, no room for a pointer: the lock is the
 * int itself, 0 free, as glibc's (so a spin lock works the same in and
 * out of green threads).  A green thread that takes it writes its id + 1
 * (capped at INT_MAX; glibc writes 1), which lets a relock by the holder
 * fail with EDEADLK instead of spinning for ever.  On one kernel thread
 * the holder cannot run while a waiter spins, so a green thread that
 * finds the lock held yields, 64 times, then sleeps, 10 us doubling up to
 * 1 ms, so a holder parked on a timer or I/O is not raced by a busy loop
 * (readers see the waiter sleeping at its pthread_spin_lock call).
 */
#include <limits.h>

#include "sync_common.h"

#define YIELDS 64
#define SLEEP_MIN_NS 10000
#define SLEEP_MAX_NS 1000000

static inline void cpu_relax(void)
{
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static int tag_of(struct gt__thread *t)
{
    return t->pub.id < INT_MAX - 1 ? (int)t->pub.id + 1 : INT_MAX;
}

GT__PTS_PUBLIC int pthread_spin_init(pthread_spinlock_t *l, int pshared)
{
    if (pshared == PTHREAD_PROCESS_SHARED) {
        gt__pts_refuse_pshared("pthread_spin_init");
        return EINVAL;
    }
    __atomic_store_n(l, 0, __ATOMIC_RELEASE);
    return 0;
}

GT__PTS_PUBLIC int pthread_spin_destroy(pthread_spinlock_t *l)
{
    (void)l;
    return 0;
}

static int spin_lock(pthread_spinlock_t *l, const void *fp)
{
    struct gt__thread *self = gt__self();
    int tag = self ? tag_of(self) : 1;
    int64_t nap = SLEEP_MIN_NS;
    for (unsigned n = 0;; n++) {
        int seen = 0;
        if (__atomic_compare_exchange_n(l, &seen, tag, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return 0;
        if (!self) {
            /* A kernel thread: the holder runs elsewhere. */
            cpu_relax();
            continue;
        }
        if (seen == tag && tag != INT_MAX)
            return EDEADLK;
        if (n < YIELDS) {
            gt_yield();
        } else {
            gt__sleep(fp, nap);
            if (nap < SLEEP_MAX_NS)
                nap *= 2;
        }
    }
}

GT__PTS_PUBLIC int pthread_spin_lock(pthread_spinlock_t *l)
{
    return gt__keep_frame(spin_lock(l, __builtin_frame_address(0)));
}

GT__PTS_PUBLIC int pthread_spin_trylock(pthread_spinlock_t *l)
{
    struct gt__thread *self = gt__self();
    int seen = 0;
    return __atomic_compare_exchange_n(l, &seen, self ? tag_of(self) : 1, 0,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)
               ? 0
               : EBUSY;
}

GT__PTS_PUBLIC int pthread_spin_unlock(pthread_spinlock_t *l)
{
    __atomic_store_n(l, 0, __ATOMIC_RELEASE);
    return 0;
}
