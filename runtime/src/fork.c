/*
 * fork.c - the runtime in the child of fork().
 *
 * POSIX gives the child of a multi-threaded process one thread: the one
 * that called fork.  The child of a process running green threads gets
 * the same: the green thread that called fork goes on, alone, and every
 * other green thread is gone.  Its memory was copied, though, so the
 * child's handler below makes the runtime's state say so:
 *
 *   - every other thread's record leaves the registry (state FREE, within
 *     its seq like any other change, so that a reader of the child shows
 *     only the child's threads), after leaving every queue it was on: its
 *     location's (published), a wait queue of a mutex, condition variable
 *     or channel (those live in the program's memory, which the child goes
 *     on using), the timer heap, the run queue; its stack goes back to the
 *     allocator;
 *   - the poller gets its own epoll instance: the parent's is one kernel
 *     object, shared through the copied fd, and an fd the child added to
 *     it would wake the parent's threads.  No fd is in the new set; each
 *     joins it again at its next wait (poll_epoll.c: watch), which is
 *     safe for edge triggering because adding a ready fd reports it;
 *   - fd waits (on the stacks of threads that are gone) are dropped from
 *     the fd table; what the runtime knows of each fd stays: the file
 *     descriptions, and their O_NONBLOCK, are the parent's too.
 *   - the watchdog is watchdog.c's (after_fork_in_child).
 *
 * A mutex held by a thread that is gone stays locked, as POSIX says of
 * pthread mutexes; the registry still names its (now free) owner record.
 *
 * Why a fork handler (glibc's, as pthread_atfork registers it) and not an
 * interposed fork(): the handler runs for every fork that copies the
 * process, daemon(3) and library code that calls glibc's fork internally
 * included; vfork and posix_spawn run no handlers, and their child runs
 * no green thread before exec.
 *
 * A fork from outside any green thread while the runtime runs in another
 * kernel thread leaves the child without the runtime's kernel thread at
 * all: every record is freed and the runtime is stopped, so the child may
 * start gt_main afresh.  That fork can copy the runtime mid-update, so
 * nothing there walks a list: the slots and locations are reset whole,
 * and the stacks of the threads that were are left mapped, unused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"
#include "location.h"

#define S gt__sched

/* Record at slot i (i < thread_slots). */
static struct gt__thread *slot_at(uint64_t i)
{
    struct gt__thread **chunks =
        (struct gt__thread **)(uintptr_t)gt__reg.thread_chunks;
    return &chunks[i / GT_THREADS_PER_CHUNK][i % GT_THREADS_PER_CHUNK];
}

/* t, a thread that does not exist in this child, leaves every queue and
 * the registry. */
static void drop_thread(struct gt__thread *t)
{
    enum gt_state st = (enum gt_state)t->pub.state;
    if (t->wq)
        gt__waitq_remove(t);
    t->heap_idx = 0; /* the heap is emptied whole */
    if (t->fdw) {    /* an unstacked fd wait's waiter, on the heap */
        free(t->fdw);
        t->fdw = NULL;
    }
    if (st == GT_STATE_RUNNABLE || st == GT_STATE_PARKED)
        gt__stack_free(t); /* an exited thread's went at its exit */
    gt__seq_begin(&t->pub.seq);
    if (st == GT_STATE_PARKED)
        gt__location_leave(t); /* 0 when it had no location */
    t->resume_loc = t->prev_loc = 0;
    t->pub.wait_kind = GT_WAIT_NONE;
    t->pub.deadline = 0;
    t->pub.loc_next = t->pub.loc_prev = 0;
    gt__count_state(st, GT_STATE_FREE);
    t->pub.state = GT_STATE_FREE;
    gt__seq_end(&t->pub.seq);
    t->joiner = NULL;
    t->free_next = S.free_slots;
    S.free_slots = t;
}

/* The child of a fork made by green thread self. */
static void keep_only(struct gt__thread *self)
{
    uint64_t n = gt__reg.thread_slots;
    for (uint64_t i = 0; i < n; i++) {
        struct gt__thread *t = slot_at(i);
        if (t != self && t->pub.state != GT_STATE_FREE)
            drop_thread(t);
    }
    self->joiner = NULL; /* whoever would join it is gone */
    S.rq_head = S.rq_tail = S.ready_head = S.ready_tail = NULL;
    gt__reg.runq_len = 0;
    S.heap_len = 0;
    S.live = 1;
}

/* The child of a fork made outside the runtime's kernel thread: nothing
 * of the runtime runs here, and its state may be half-written. */
static void reset_all(void)
{
    uint64_t n = gt__reg.thread_slots;
    S.free_slots = NULL;
    for (uint64_t i = gt__reg.thread_chunk_count * (uint64_t)GT_THREADS_PER_CHUNK;
         i-- > 0;) {
        struct gt__thread *t = slot_at(i);
        if (i < n) {
            t->pub.seq = (t->pub.seq + 1) & ~1u; /* even, and changed */
            t->pub.state = GT_STATE_FREE;
            t->pub.wait_kind = GT_WAIT_NONE;
            t->pub.loc_next = t->pub.loc_prev = 0;
            t->wq = NULL;
            t->fdw = NULL;
            t->heap_idx = 0;
            t->joiner = NULL;
        }
        t->free_next = S.free_slots;
        S.free_slots = t;
    }
    for (uint32_t i = 1; i < gt__reg.loc_count; i++) {
        struct gt_location_rec *l = gt__loc_at(i);
        l->seq = (l->seq + 1) & ~1u;
        l->head = l->tail = 0;
        l->waiting = 0;
    }
    for (int s = 0; s <= GT_STATE_EXITED; s++)
        gt__reg.nstate[s] = 0;
    gt__reg.nstate[GT_STATE_FREE] =
        gt__reg.thread_chunk_count * (uint64_t)GT_THREADS_PER_CHUNK;
    S.rq_head = S.rq_tail = S.ready_head = S.ready_tail = NULL;
    gt__reg.runq_len = 0;
    S.heap_len = 0;
    S.live = 0;
    S.prev = S.leaving = NULL;
    gt__reg.current = 0;
    gt__reg.idle_since = 0;
}

static void after_fork_in_child(void)
{
    gt__reg.pid = (uint64_t)getpid(); /* readers match it to the process */
    if (!atomic_load_explicit(&gt__running, memory_order_acquire))
        return;
    struct gt__thread *self = gt__self();
    if (self)
        keep_only(self);
    else
        reset_all();
    S.fd_waiters = 0;
    gt__fd_after_fork();
    gt__io_after_fork();
    if (self) {
        gt__poller_after_fork();
    } else {
        gt__poller_fini();
        atomic_store(&gt__running, false);
    }
}

/* glibc's own registration, which pthread_atfork calls: the handler must
 * reach glibc even where a library (libgt-pthread.so) defines the
 * program's pthread_atfork. */
extern int __register_atfork(void (*prepare)(void), void (*parent)(void),
                             void (*child)(void), void *dso);
extern void *__dso_handle;

void gt__fork_init(void)
{
    __register_atfork(NULL, NULL, after_fork_in_child, &__dso_handle);
}
