/*
 * sched.c - the scheduler: thread life cycle, the run queue, park and wake.
 *
 * One kernel thread runs every green thread.  A thread that parks or
 * yields switches straight to the next runnable thread; only when none is
 * runnable does control go back to the scheduler context (gt_main's own
 * stack), which runs expired timers and the poller.  Every operation here
 * is O(1) except timers, which are O(log n).
 *
 * Registry protocol for a switch: the outgoing thread's seq turns odd
 * before its state changes and before gt__ctx_switch writes its context;
 * the incoming side ends that odd phase (after_switch) once the context is
 * complete.  So a reader never sees an even seq with a half-written context.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

#include "internal.h"
#include "location.h"

struct gt__sched gt__sched;
__attribute__((tls_model("initial-exec")))
__thread struct gt__thread *gt__tls_current;

#define S gt__sched

/* Yield and park poll for I/O and timers at least this often while the
 * run queue never drains, so a busy set of threads cannot starve I/O:
 * every POLL_EVERY_SWITCHES switches, or sooner once POLL_EVERY_NS have
 * passed since the last poll.  The count alone let threads that run a
 * few milliseconds between parks (a program setting up a thousand
 * clients, each touching a fresh stack) hold a ready socket's reader
 * back for seconds.  The time is the clock the last park read
 * (slice_start), so the test costs no reading of its own; the build
 * without instrumentation reads none at a park and keeps the count. */
#define POLL_EVERY_SWITCHES 1024
#define POLL_EVERY_NS 1000000

static inline bool poll_due(void)
{
    return S.switches_since_poll >= POLL_EVERY_SWITCHES ||
           S.slice_start - S.polled_at >= POLL_EVERY_NS;
}

_Atomic bool gt__running;
/* errno of the kernel thread running gt_main, shared by every green
 * thread on it: each switch keeps the outgoing thread's value in a local
 * of its own frame and puts it back when the thread resumes (ERRNO below).
 * The address is taken once, at gt_main, so that a switch pays a load and
 * a store on each side, not two calls to __errno_location.  (A forked
 * child's one thread keeps its parent's TLS addresses.) */
static int *errno_at;
size_t gt__main_stack_size;
#if defined(__SANITIZE_ADDRESS__)
static const void *main_stack_bottom;
static size_t main_stack_size;
#endif

/* ---- run queue ----------------------------------------------------------- *
 *
 * First in, first out, in two lines.  A thread whose fd the periodic poll
 * finds ready (while other threads kept the queue busy: poll_now) joins
 * the second line, and the two lines take turns while both hold threads.
 * In one line it would wait behind everything queued before the poll: a
 * program that starts thousands of threads at once, each computing
 * milliseconds before its first wait, kept a thread whose socket was
 * ready waiting for seconds.  Taking turns bounds that
 * wait by the second line alone, and the first line still gets every
 * other turn, so neither starves.  A timer's wake keeps to the first
 * line: a sleep still lets every thread queued before it run first, which
 * programs count on ("sleep a moment, every new thread has started").
 * With no fd found ready, the order is plain FIFO: a spawned thread runs
 * at the next yield, after those spawned before it. */

static bool polling_busy; /* poll_now is waking threads */
static bool ready_turn;   /* the second line's turn is next */

static inline void rq_push(struct gt__thread *t)
{
    if (GT__UNLIKELY(polling_busy))
        gt__list_push(GT__RUNQ_LIST, &S.ready_head, &S.ready_tail, t);
    else
        gt__list_push(GT__RUNQ_LIST, &S.rq_head, &S.rq_tail, t);
    gt__reg.runq_len++;
}

static inline struct gt__thread *rq_pop(void)
{
    struct gt__thread *t;
    if (GT__UNLIKELY(S.ready_head) &&
        (!S.rq_head || (ready_turn = !ready_turn)))
        t = gt__list_pop(GT__RUNQ_LIST, &S.ready_head, &S.ready_tail);
    else
        t = gt__list_pop(GT__RUNQ_LIST, &S.rq_head, &S.rq_tail);
    if (t)
        gt__reg.runq_len--;
    return t;
}

/* ---- switching ----------------------------------------------------------- *
 *
 * ERRNO.  errno lives in the kernel thread's TLS, so a thread that parks
 * after a failed call would otherwise read, when it resumes, whatever the
 * threads that ran meanwhile left there.  Every switch saves it in a local
 * of the switching frame (the thread's own stack) and restores it once the
 * thread runs again, after everything the runtime did on its behalf
 * (polls, munmaps of exited stacks): a thread sees errno change only by
 * its own calls.  A new thread starts with errno 0, as a new pthread does.
 * Cost: a load and a store on each side; bench-gt yield (GT_WATCHDOG_MS=0,
 * one CPU) went from 8.1 to 8.5 ns per hand-off, parkwake-cond did not
 * move beyond its noise. */

/* A thread that parked in gt__park_unstacked, now that nothing runs on
 * its stack: the pages go back, and its context becomes a fresh start in
 * the function it resumes in, all within one odd seq so that no reader
 * pairs the old context with the released stack. */
static void unstack(struct gt__thread *d)
{
    gt__seq_begin(&d->pub.seq);
    gt__stack_release(d);
    gt__ctx_init(d->pub.ctx, (void *)(uintptr_t)d->pub.stack_hi, d);
    d->pub.entry = (uint64_t)(uintptr_t)d->fn;
    d->pub.arg = (uint64_t)(uintptr_t)d->fn_arg;
    d->pub.flags |= GT_TF_UNSTACKED | GT_TF_FRESH;
#if defined(__SANITIZE_ADDRESS__)
    d->asan_fake_stack = NULL;
#endif
    gt__seq_end(&d->pub.seq);
}

/* The thread just switched away from no longer needs its stack, and now
 * nothing runs on it: an exited thread gives it back (and its record, if
 * detached), an unstacked one its pages. */
static __attribute__((noinline)) void let_go_of_stack(void)
{
    struct gt__thread *d = S.leaving;
    S.leaving = NULL;
    if (d->pub.state == GT_STATE_PARKED) {
        unstack(d);
        return;
    }
    gt__stack_free(d);
    if (d->pub.flags & GT_TF_DETACHED)
        gt__slot_free(d);
}

/* Runs first in whatever context a switch lands in.  waited: the context
 * may be a thread woken from a wait (it did not leave by gt_yield). */
static inline __attribute__((always_inline)) void after_switch(bool waited)
{
#if defined(__SANITIZE_ADDRESS__)
    struct gt__thread *self = gt__tls_current;
    const void *bottom;
    size_t size;
    __sanitizer_finish_switch_fiber(self ? self->asan_fake_stack : NULL,
                                    &bottom, &size);
    if (!S.prev && !main_stack_bottom) {
        main_stack_bottom = bottom;
        main_stack_size = size;
    }
#endif
    struct gt__thread *p = S.prev;
    if (p) {
        gt__seq_end(&p->pub.seq);
        S.prev = NULL;
    }
#if GT__INSTRUMENT
    /* A thread woken from a wait counts it as it runs (WAITS in
     * gt/registry.h), from the clock reading of the switch that ran it:
     * every switch but gt_yield's has just set slice_start to it, and
     * gt_yield counts the wait itself.  Here, and not before the switch,
     * the reading has long arrived: the histogram bucket it picks is the
     * address of the update, and a store to an address that waits for a
     * TSC read stalled the switch (2 ns of a 36 ns hand-off). */
    struct gt__thread *resumed = gt__tls_current;
    if (waited && resumed && resumed->resume_loc)
        gt__location_resumed(resumed, S.slice_start);
#else
    (void)waited;
#endif
    if (GT__UNLIKELY(S.leaving != NULL))
        let_go_of_stack();
}

/* Starts loading the record of the thread that will run after the one
 * being switched to.  When many threads are spawned or woken long before
 * they run (a burst of spawns, a broadcast), their records have left the
 * cache by then, and the few hundred nanoseconds the next thread runs
 * hide the misses that would otherwise stall its switch-in. */
static inline void prefetch_after_next(void)
{
    const char *r = (const char *)S.rq_head;
    if (r)
        for (size_t off = 0; off < sizeof(struct gt__thread); off += 64)
            __builtin_prefetch(r + off, 1);
}

/* Everything a switch from cur to next does before the registers move
 * (cur, next: NULL for the scheduler context; cur has already been put
 * wherever it waits, st is its new state).  Returns the context to load. */
static inline __attribute__((always_inline)) const uint64_t *
switch_prepare(struct gt__thread *cur, enum gt_state st, struct gt__thread *next)
{
    const uint64_t *to = S.sched_ctx;
    /* One thread leaves RUNNING and one enters it: only the other two
     * counters move (each is exact on its own, see registry.h), and for a
     * hand-off from one runnable thread to another none does.  (st is a
     * constant in every caller, so the tests fold away.) */
    if (cur && next) {
        if (st != GT_STATE_RUNNABLE)
            gt__count_state(GT_STATE_RUNNABLE, st);
    }
    else if (cur)
        gt__count_state(GT_STATE_RUNNING, st);
    else if (next)
        gt__count_state(GT_STATE_RUNNABLE, GT_STATE_RUNNING);
    if (cur) {
        if (st != GT_STATE_EXITED) /* exit_prepare has begun it */
            gt__seq_begin(&cur->pub.seq);
        cur->pub.state = (uint8_t)st;
        if (GT__UNLIKELY(!cur->pub.guard_size))
            gt__stack_check(cur); /* no guard page: the canary must hold */
        S.prev = cur;
    }
    if (next) {
        gt__seq_begin(&next->pub.seq);
        next->pub.state = GT_STATE_RUNNING;
        next->pub.switches++;
        gt__seq_end(&next->pub.seq);
        to = next->pub.ctx;
        prefetch_after_next();
    }
    gt__tls_current = next;
    gt__reg.current = (uint64_t)(uintptr_t)next;
    gt__reg.switches++;
    S.switches_since_poll++;
    GT__PROBE2(switch, cur ? cur->pub.id : 0, next ? next->pub.id : 0);
#if defined(__SANITIZE_ADDRESS__)
    /* An exited or unstacked thread's frames are gone for good. */
    void **fake = cur && S.leaving != cur
                      ? &cur->asan_fake_stack : NULL;
    if (next)
        __sanitizer_start_switch_fiber(
            fake, (void *)(uintptr_t)next->pub.stack_lo,
            (size_t)(next->pub.stack_hi - next->pub.stack_lo));
    else
        __sanitizer_start_switch_fiber(fake, main_stack_bottom,
                                       main_stack_size);
#endif
    return to;
}

/* Checks timers and I/O without blocking; called while threads keep the
 * run queue busy. */
static void poll_now(void)
{
    S.switches_since_poll = 0;
    S.polled_at = S.slice_start;
    if (S.heap_len)
        gt__timer_expire(gt__clock());
    if (S.fd_waiters) {
        polling_busy = true; /* what it wakes joins the second line */
        gt__poller_poll(0);
        polling_busy = false;
    }
}

/* Leaves the current context for next (NULL: the scheduler context).
 * cur (NULL: the scheduler) has already been put wherever it waits.
 * Every switch goes through here, including an exited thread's last one
 * (see gt__exit_switch), so that the call to gt__ctx_switch below is the
 * one return address every switched-out thread leaves behind. */
void gt__switch_to(struct gt__thread *cur, enum gt_state st,
                   struct gt__thread *next)
{
    /* A hand-off from one runnable thread to another is gt_yield's own;
     * knowing it never comes here, switch_prepare drops its test. */
    if (cur && st == GT_STATE_RUNNABLE)
        __builtin_unreachable();
    int *ep = errno_at, saved_errno = *ep;
    const uint64_t *to = switch_prepare(cur, st, next);
    gt__ctx_switch(cur ? cur->pub.ctx : S.sched_ctx, to);
    after_switch(true);
    /* The periodic poll is made here, by the thread that resumes, and not
     * by one about to park: until its switch has marked it PARKED, a wake
     * the poll found for it would be dropped (gt__wake skips a running
     * thread), and an edge-triggered fd or an expired timer would never
     * wake it again. */
    if (GT__UNLIKELY(poll_due()) && gt__tls_current)
        poll_now();
    *ep = saved_errno;
}

/* ---- parking ------------------------------------------------------------- */

uint64_t gt__deadline(int64_t timeout_ns)
{
    if (timeout_ns < 0)
        return 0;
    return gt__clock_exact() + (uint64_t)timeout_ns;
}

/* Everything a park does before the switch: the wait is published and
 * the deadline armed.  0, or ENOMEM with nothing parked. */
static inline __attribute__((always_inline)) int
park_begin(struct gt__thread *cur, const void *fp, enum gt_wait_kind kind,
           uint64_t obj, uint64_t arg, uint64_t deadline)
{
    bool timed = GT__INSTRUMENT || deadline;
    /* The tick count first, converted after the location lookup (see
     * gt__clock_ticks). */
    uint64_t tsc = timed ? gt__clock_ticks() : 0;
    gt__note_depth(cur, fp);
#if GT__INSTRUMENT
    struct gt_location_rec *loc = gt__location_find(cur, fp, kind);
#endif
    uint64_t now = timed ? gt__clock_at(tsc) : 0;
    gt__seq_begin(&cur->pub.seq);
#if GT__INSTRUMENT
    cur->pub.run_ns += now - S.slice_start;
    S.slice_start = now;
    gt__reg.run_start = now; /* the next thread runs from now */
#endif
    cur->pub.wait_kind = (uint8_t)kind;
    cur->pub.wait_obj = obj;
    cur->pub.wait_arg = arg;
    cur->pub.wait_since = now;
    cur->pub.deadline = deadline;
    cur->pub.flags &= (uint16_t)~GT_TF_TIMED_OUT;
#if GT__INSTRUMENT
    gt__location_arrive(cur, loc, now);
#endif
    gt__seq_end(&cur->pub.seq);
    cur->wake_result = 0;
    if (deadline && gt__timer_add(cur) < 0) {
        /* No memory for the heap: an error beats a wait that never ends. */
        gt__seq_begin(&cur->pub.seq);
        gt__location_leave(cur);
        if (cur->resume_loc)
            gt__location_resumed(cur, now); /* a wait of 0 ns */
        cur->pub.wait_kind = GT_WAIT_NONE;
        gt__seq_end(&cur->pub.seq);
        return ENOMEM;
    }
    GT__PROBE2(park, cur->pub.id, cur->pub.location);
    return 0;
}

int gt__park(const void *fp, enum gt_wait_kind kind, uint64_t obj,
             uint64_t arg, uint64_t deadline)
{
    struct gt__thread *cur = gt__tls_current;
    if (park_begin(cur, fp, kind, obj, arg, deadline))
        return ENOMEM;
    gt__switch_to(cur, GT_STATE_PARKED, rq_pop());
    return cur->wake_result;
}

int gt__park_unstacked(const void *fp, enum gt_wait_kind kind, uint64_t obj,
                       uint64_t arg, uint64_t deadline, void (*fn)(void *),
                       void *fn_arg)
{
    struct gt__thread *cur = gt__tls_current;
    if (park_begin(cur, fp, kind, obj, arg, deadline))
        return ENOMEM;
    cur->fn = fn;
    cur->fn_arg = fn_arg;
    S.leaving = cur; /* its pages go after the switch */
    gt__switch_to(cur, GT_STATE_PARKED, rq_pop());
    __builtin_unreachable(); /* its context is replaced before it can run */
}

void gt__wake(struct gt__thread *t, int result)
{
    if (t->pub.state != GT_STATE_PARKED)
        return; /* already woken by another of its waits */
    if (t->heap_idx)
        gt__timer_remove(t);
    gt__seq_begin(&t->pub.seq);
#if GT__INSTRUMENT
    gt__location_leave(t);
#endif
    t->pub.wait_kind = GT_WAIT_NONE;
    t->pub.deadline = 0;
    if (result == ETIMEDOUT)
        t->pub.flags |= GT_TF_TIMED_OUT;
    gt__count_state(GT_STATE_PARKED, GT_STATE_RUNNABLE);
    t->pub.state = GT_STATE_RUNNABLE;
    gt__seq_end(&t->pub.seq);
    t->wake_result = result;
    GT__PROBE1(wake, t->pub.id);
    rq_push(t);
}

int64_t gt__sleep(const void *fp, int64_t ns)
{
    if (!gt__tls_current) {
        errno = EPERM;
        return -1;
    }
    if (ns <= 0)
        return gt_yield();
    uint64_t deadline = gt__deadline(ns);
    if (gt__park(fp, GT_WAIT_SLEEP, 0, (uint64_t)ns, deadline) != EINTR)
        return 0;
    /* Interrupted (libgt-pthread's pthread_kill): what is left, at least
     * 1 ns, for nanosleep's rem and sleep's return. */
    uint64_t now = gt__clock();
    return deadline > now ? (int64_t)(deadline - now) : 1;
}

/* The hot path of a hand-off: cur goes to the back of the run queue and
 * the head runs.  switch_prepare folds away for it what a hand-off does
 * not do (no state counter moves, see there). */
int gt_yield(void)
{
    struct gt__thread *cur = gt__tls_current;
    if (GT__UNLIKELY(!cur)) {
        errno = EPERM;
        return -1;
    }
    /* Saved before the poll, which may fail inside (ERRNO). */
    int *ep = errno_at, saved_errno = *ep;
    if (GT__UNLIKELY(poll_due()))
        poll_now();
    struct gt__thread *next = rq_pop();
    if (GT__UNLIKELY(!next)) {
        poll_now(); /* nothing runnable: has I/O or a timer made some? */
        next = rq_pop();
        if (!next) {
            *ep = saved_errno;
            return 0; /* no: carry on */
        }
    }
    rq_push(cur);
    /* No clock reading here: it would cost more than the switch.  "Began
     * with a hand-off" (registry.h, RUNNING). */
    uint64_t start = 0;
#if GT__INSTRUMENT
    /* Unless next was woken from a wait: that wait ends now, and only a
     * reading tells when (it was taken at the wake before, WAITS).  The
     * switch leaves slice_start alone, so after_switch cannot count it.
     * The same reading is when next begins to run. */
    if (next->resume_loc) {
        start = gt__clock();
        gt__location_resumed(next, start);
    }
#endif
    gt__reg.run_start = start;
    gt__ctx_switch(cur->pub.ctx, switch_prepare(cur, GT_STATE_RUNNABLE, next));
    after_switch(false); /* cur yielded: it has no wait to count */
    *ep = saved_errno;
    return 0;
}

/* ---- life cycle ---------------------------------------------------------- */

static void copy_name(char *dst, const char *src)
{
    if (!src) { /* the common case: no library call at all */
        memset(dst, 0, GT_NAME_MAX);
        return;
    }
    size_t n = strnlen(src, GT_NAME_MAX - 1);
    memcpy(dst, src, n);
    memset(dst + n, 0, GT_NAME_MAX - n);
}

static inline __attribute__((always_inline)) int
spawn(gt_t *out, void (*fn)(void *), void *arg,
                 const gt_attr_t *attr, uint64_t site, uint16_t flags)
{
    size_t size = attr && attr->stack_size ? attr->stack_size
                                           : gt__stack_default();
    if (!fn || size < GT_STACK_MIN || size > GT_STACK_MAX) {
        errno = EINVAL;
        return -1;
    }
    struct gt__thread *t = gt__slot_alloc();
    if (!t)
        return -1;
    if (gt__stack_alloc(t, size) < 0) {
        t->free_next = S.free_slots; /* still FREE: just give it back */
        S.free_slots = t;
        errno = ENOMEM;
        return -1;
    }
    struct gt__thread *self = gt__tls_current;
    gt__seq_begin(&t->pub.seq);
    t->pub.id = S.next_id++;
    t->pub.parent = self ? self->pub.id : 0;
    copy_name(t->pub.name, attr ? attr->name : NULL);
    t->pub.flags = (uint16_t)(flags | GT_TF_FRESH |
                              (attr && attr->detached ? GT_TF_DETACHED : 0));
    t->pub.wait_kind = GT_WAIT_NONE;
    t->pub.location = 0;
    t->pub.wait_obj = t->pub.wait_arg = t->pub.wait_since = 0;
    t->pub.deadline = 0;
    t->pub.entry = (uint64_t)(uintptr_t)fn;
    t->pub.arg = (uint64_t)(uintptr_t)arg;
    t->pub.spawn_site = site;
    t->pub.created = S.slice_start; /* the last clock reading: cheap */
    t->pub.run_ns = 0;
    t->pub.switches = 0;
    t->pub.loc_next = t->pub.loc_prev = 0;
    gt__ctx_init(t->pub.ctx, (void *)(uintptr_t)t->pub.stack_hi, t);
    gt__count_state(GT_STATE_FREE, GT_STATE_RUNNABLE);
    t->pub.state = GT_STATE_RUNNABLE;
    gt__seq_end(&t->pub.seq);
    t->fn = fn;
    t->fn_arg = arg;
    t->joiner = NULL;
    t->joined = false;
    t->fdw = NULL;
    t->wq = NULL;
    t->heap_idx = 0;
    t->prev_loc = t->resume_loc = 0;
    t->resumed_at = S.slice_start;
#if defined(__SANITIZE_ADDRESS__)
    t->asan_fake_stack = NULL;
#endif
    S.live++;
    gt__reg.spawns++;
    GT__PROBE2(spawn, t->pub.id, t->pub.parent);
    rq_push(t);
    if (out) {
        out->rec = t;
        out->id = t->pub.id;
    }
    return 0;
}

int gt_spawn(gt_t *t, void (*fn)(void *), void *arg, const gt_attr_t *attr)
{
    if (!gt__tls_current) {
        errno = EPERM;
        return -1;
    }
    return spawn(t, fn, arg, attr,
                 (uint64_t)(uintptr_t)__builtin_return_address(0), 0);
}

/* The bookkeeping of cur's exit, up to the switch away from it, which the
 * caller makes; returns the thread to switch to (NULL: the scheduler). */
static inline __attribute__((always_inline)) struct gt__thread *
exit_prepare(struct gt__thread *cur)
{
#if GT__INSTRUMENT
    /* One reading ends the thread's last slice (its run time is complete
     * once it has exited) and is the time the next thread runs from. */
    uint64_t tsc = gt__clock_ticks();
#endif
    gt__reg.exits++;
    S.live--;
    GT__PROBE1(exit, cur->pub.id);
    struct gt__thread *joiner = cur->joiner;
    /* The record stays odd from here to the end of the switch away (ended
     * by after_switch in the next context, as for every switch). */
    gt__seq_begin(&cur->pub.seq);
#if GT__INSTRUMENT
    uint64_t now = gt__clock_at(tsc);
    cur->pub.run_ns += now - S.slice_start;
    S.slice_start = now;
    gt__reg.run_start = now;
#endif
    if (joiner)
        gt__wake(joiner, 0);
    S.leaving = cur; /* its stack (and record, if detached) go after the switch */
    return rq_pop();
}

/* A thread's whole life.  It returns to the trampoline, which makes the
 * final switch itself (see gt__exit_switch in internal.h). */
struct gt__exit_switch gt__thread_start(struct gt__thread *t)
{
    after_switch(true); /* new, or restarted after an unstacked wait */
    /* Restarted after an unstacked wait: end it, then run as new. */
    if (GT__UNLIKELY(t->pub.flags & GT_TF_UNSTACKED))
        gt__fd_unstacked_resumed(t);
    /* The periodic poll, as gt__switch_to makes it for a thread that
     * resumes: a burst of new threads, each running a while, would
     * otherwise never poll. */
    if (GT__UNLIKELY(poll_due()))
        poll_now();
    /* From here on its context, once saved, holds frames.  (Cleared here
     * and not at the switch in: the hand-off path stays as short.) */
    gt__seq_begin(&t->pub.seq);
    t->pub.flags &= (uint16_t)~(GT_TF_UNSTACKED | GT_TF_FRESH);
    gt__seq_end(&t->pub.seq);
    *errno_at = 0; /* ERRNO */
    t->fn(t->fn_arg);
    struct gt__exit_switch s = {t, exit_prepare(t)};
    return s;
}

_Noreturn void gt_exit(void)
{
    struct gt__thread *cur = gt__tls_current;
    if (!cur) /* not a green thread: end the calling kernel thread */
        pthread_exit(NULL);
    gt__switch_to(cur, GT_STATE_EXITED, exit_prepare(cur));
    __builtin_unreachable();
}

/* Resolves a handle; NULL (and errno) when it names no live thread. */
static struct gt__thread *lookup(gt_t h)
{
    struct gt__thread *t = h.rec;
    if (!t || !h.id || t->pub.id != h.id || t->pub.state == GT_STATE_FREE) {
        errno = ESRCH;
        return NULL;
    }
    return t;
}

int gt_join(gt_t h)
{
    struct gt__thread *self = gt__tls_current;
    if (!self) {
        errno = EPERM;
        return -1;
    }
    struct gt__thread *t = lookup(h);
    if (!t)
        return -1;
    if (t == self) {
        errno = EDEADLK;
        return -1;
    }
    if ((t->pub.flags & GT_TF_DETACHED) || t->joined) {
        errno = EINVAL;
        return -1;
    }
    t->joined = true;
    if (t->pub.state != GT_STATE_EXITED) {
        t->joiner = self;
        gt__park(__builtin_frame_address(0), GT_WAIT_JOIN, t->pub.id, 0, 0);
    }
    gt__slot_free(t);
    return 0;
}

int gt_detach(gt_t h)
{
    if (!gt__tls_current) {
        errno = EPERM;
        return -1;
    }
    struct gt__thread *t = lookup(h);
    if (!t)
        return -1;
    if ((t->pub.flags & GT_TF_DETACHED) || t->joined) {
        errno = EINVAL;
        return -1;
    }
    if (t->pub.state == GT_STATE_EXITED) {
        gt__slot_free(t);
        return 0;
    }
    gt__seq_begin(&t->pub.seq);
    t->pub.flags |= GT_TF_DETACHED;
    gt__seq_end(&t->pub.seq);
    return 0;
}

gt_t gt_self(void)
{
    struct gt__thread *t = gt__tls_current;
    gt_t h = {t, t ? t->pub.id : 0};
    return h;
}

uint64_t gt_id(gt_t h)
{
    if (!gt__tls_current) {
        errno = EPERM;
        return 0;
    }
    struct gt__thread *t = h.rec;
    return t && h.id && t->pub.id == h.id && t->pub.state != GT_STATE_FREE
               ? h.id : 0;
}

int gt_in_thread(void) { return gt__tls_current != NULL; }

int gt_set_name(gt_t h, const char *name)
{
    if (!gt__tls_current) {
        errno = EPERM;
        return -1;
    }
    struct gt__thread *t = lookup(h);
    if (!t)
        return -1;
    gt__seq_begin(&t->pub.seq);
    copy_name(t->pub.name, name);
    gt__seq_end(&t->pub.seq);
    return 0;
}

int gt_get_name(gt_t h, char *buf, size_t len)
{
    if (!gt__tls_current) {
        errno = EPERM;
        return -1;
    }
    struct gt__thread *t = lookup(h);
    if (!t)
        return -1;
    if (!buf || !len) {
        errno = EINVAL;
        return -1;
    }
    size_t n = strnlen(t->pub.name, GT_NAME_MAX - 1);
    if (n >= len)
        n = len - 1;
    memcpy(buf, t->pub.name, n);
    buf[n] = 0;
    return 0;
}

/* The kernel's clock read now, as gt.h promises, in a green thread and
 * outside one alike: not the runtime's cheaper clock, which lags it
 * (clock.c), since a program compares this value with clock_gettime
 * readings of its own and of other threads. */
int64_t gt_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int gt_set_location_depth(int depth)
{
    if (depth < 1 || depth > GT_LOCATION_DEPTH_MAX ||
        atomic_load_explicit(&gt__running, memory_order_acquire)) {
        errno = EINVAL;
        return -1;
    }
    S.loc_depth = depth;
    return 0;
}

/* ---- gt_main ------------------------------------------------------------- */

static int init_once(void)
{
    static bool done;
    if (done)
        return 0;
    if (!S.loc_depth) {
        const char *e = getenv("GT_LOCATION_DEPTH");
        int d = e ? atoi(e) : 2;
        S.loc_depth = d >= 1 && d <= GT_LOCATION_DEPTH_MAX ? d : 2;
    }
    gt__clock_init();
    if (gt__registry_init() < 0 || gt__locations_init() < 0 ||
        gt__stacks_init() < 0)
        return -1;
    gt__fault_init(); /* best effort: a missing handler loses only reports */
    gt__fork_init();
    S.next_id = 1;
    done = true;
    return 0;
}

int gt_main(void (*fn)(void *), void *arg)
{
    if (!fn) {
        errno = EINVAL;
        return -1;
    }
    /* One runtime per process: the flag is taken atomically, so two kernel
     * threads calling gt_main at once cannot both start one. */
    bool idle = false;
    if (gt__tls_current ||
        !atomic_compare_exchange_strong(&gt__running, &idle, true)) {
        errno = EBUSY;
        return -1;
    }
    if (init_once() < 0 || gt__poller_init() < 0) {
        atomic_store(&gt__running, false);
        errno = ENOMEM;
        return -1;
    }
    S.exit_status = 0;
    errno_at = &errno;
    S.slice_start = gt__clock();
    gt_attr_t first = {NULL, gt__main_stack_size, 0};
    if (spawn(NULL, fn, arg, &first,
              (uint64_t)(uintptr_t)__builtin_return_address(0),
              GT_TF_MAIN | GT_TF_DETACHED) < 0) {
        int e = errno;
        gt__poller_fini();
        atomic_store(&gt__running, false);
        errno = e;
        return -1;
    }
    gt__watchdog_start();
    for (;;) {
        struct gt__thread *next = rq_pop();
        if (next) {
            S.slice_start = gt__reg.run_start = gt__clock();
            gt__switch_to(NULL, GT_STATE_RUNNING, next);
            continue;
        }
        if (!S.live)
            break;
        uint64_t now = gt__clock();
        if (gt__timer_expire(now))
            continue;
        if (!S.fd_waiters && !S.heap_len) {
            fprintf(stderr, "gt: deadlock: %llu green threads parked on locks, "
                            "channels or joins that nothing can release\n",
                    (unsigned long long)S.live);
            S.exit_status = EDEADLK;
            break;
        }
        S.switches_since_poll = 0;
        int64_t wait = gt__timer_next(now);
        if (wait)
            gt__stacks_trim(); /* idle: freed stacks' pages go back now */
        gt__poller_poll(wait);
        S.polled_at = S.slice_start; /* the poll's own reading */
    }
    gt__watchdog_stop();
    gt__stacks_trim();
    gt__fd_restore_all();
    gt__poller_fini();
    gt__reg.current = 0;
    atomic_store(&gt__running, false);
    if (S.exit_status) {
        errno = S.exit_status;
        return -1;
    }
    return 0;
}
