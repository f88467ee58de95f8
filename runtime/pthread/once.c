/*
 * once.c - pthread_once on green threads.
 *
 * The control word takes glibc's values (0 not run, 1 running, 2 done), so
 * a once run outside a green thread by glibc (a constructor) reads as done
 * here and the other way round.  A green thread that finds another one
 * running the routine (it parked inside it) waits on a condition variable
 * until it is done: it parks, it does not spin.  The routine is not
 * cancellable (there is no cancellation), so a once never goes back to 0.
 */
#include <stdatomic.h>

#include "pthread_gt.h"

#define ONCE_RUNNING 1
#define ONCE_DONE 2

static gt_mutex_t once_lock = GT_MUTEX_INITIALIZER;
static gt_cond_t once_done = GT_COND_INITIALIZER;

GT__PUBLIC int pthread_once(pthread_once_t *once, void (*init)(void))
{
    if (!gt__self())
        return PT_NEXT(pthread_once)(once, init);
    _Atomic int *w = (_Atomic int *)once;
    int v = atomic_load_explicit(w, memory_order_acquire);
    if (GT__LIKELY(v & ONCE_DONE))
        return 0;
    if (v == 0) {
        atomic_store_explicit(w, ONCE_RUNNING, memory_order_relaxed);
        init();
        atomic_store_explicit(w, ONCE_DONE, memory_order_release);
        gt_cond_broadcast(&once_done);
        return 0;
    }
    int saved = errno;
    gt_mutex_lock(&once_lock);
    while (!(atomic_load_explicit(w, memory_order_acquire) & ONCE_DONE))
        gt_cond_wait(&once_done, &once_lock);
    gt_mutex_unlock(&once_lock);
    errno = saved;
    return 0;
}
