/*
 * internal.h - every internal structure of libgt, with its invariants.
 *
 * A thread is one struct gt__thread: the published record (what readers
 * see, struct gt_thread_rec, first) followed by private scheduling state.
 * Parking never allocates: the run queue, wait queues, location queues and
 * the timer heap all link threads through fields of this struct.
 */
#ifndef GT_INTERNAL_H
#define GT_INTERNAL_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "gt.h"
#include "gt/registry.h"

#define GT__HIDDEN __attribute__((visibility("hidden")))
#define GT__LIKELY(x) __builtin_expect(!!(x), 1)
#define GT__UNLIKELY(x) __builtin_expect(!!(x), 0)

/* The bench builds a second library with -DGT_NO_INSTRUMENT to show what
 * the registry's bookkeeping costs; normal builds always instrument. */
#ifdef GT_NO_INSTRUMENT
#define GT__INSTRUMENT 0
#else
#define GT__INSTRUMENT 1
#endif

struct gt__thread {
    struct gt_thread_rec pub;     /* published: first, see registry.h */

    struct gt__thread *rq_next;   /* run queue link */
    struct gt__thread *wq_next;   /* wait queue links (mutex, cond, chan, */
    struct gt__thread *wq_prev;   /* join): one queue at a time          */
    struct gt__waitq *wq;         /* the queue it is on, NULL none */
    struct gt__thread *free_next; /* free slot list */
    uint64_t slot;                /* index in the registry's slabs */
    struct gt__thread *joiner;    /* who waits in gt_join, NULL none */
    struct gt__fd_waiter *fdw;    /* its heap-held fd wait while UNSTACKED */
    void (*fn)(void *);
    void *fn_arg;
    uint64_t resumed_at;          /* ns: ran again after its last park */
    uint64_t low_water;           /* lowest frame seen at a gt call */
    uint32_t heap_idx;            /* timer heap slot + 1, 0 none */
    uint32_t prev_loc;            /* location of its last park (edges) */
    uint32_t resume_loc;          /* woken from a wait at this location,
                                   * counted complete when it next runs
                                   * (gt__location_resumed); 0 none */
    int wake_result;              /* 0, or the errno a wait ends with */
    bool joined;                  /* someone joins it or has joined it */
    unsigned vg_stack;            /* valgrind's id for the stack */
#if defined(__SANITIZE_ADDRESS__)
    void *asan_fake_stack;
#endif
};

/* A channel (chan.c); its header's layout is published (GT_REC_CHAN). */
struct gt_chan {
    uint64_t magic;               /* GT_CHAN_MAGIC */
    size_t cap, head, len;
    bool closed;
    struct gt__waitq senders, receivers;
    void *ring[];
};

/* A thread's wait on one fd: lives on the waiting thread's stack. */
struct gt__fd_waiter {
    struct gt__thread *t;
    struct gt__fd_waiter *next, *prev; /* in the fd's waiter list */
    int fd;
    uint32_t events;                   /* POLLIN/POLLOUT wanted */
    uint32_t revents;                  /* what the poller saw: poll bits */
};

/* Per-fd knowledge (see io.c).  Entries never move: two-level table. */
enum gt__fd_kind {
    GT__FD_UNKNOWN = 0,
    GT__FD_NONBLOCK,   /* socket or pipe: O_NONBLOCK set, by us or user */
    GT__FD_SHARED,     /* tty, char device: flags left alone; wait for
                        * readiness, then call */
    GT__FD_FILE,       /* regular file, block device, dir: call straight */
};

enum gt__fd_stream {
    GT__FD_STREAM_UNASKED = 0,
    GT__FD_STREAM_YES,  /* SOCK_STREAM: a short read leaves nothing unread */
    GT__FD_STREAM_NO,   /* datagrams, seqpackets: a short read is one message */
};

/* What the program itself asked of an fd's O_NONBLOCK, known from the call
 * that made it (socket, pipe...) or an fcntl/ioctl before its first use in
 * a green thread.  The flag on the file description is no evidence: fork
 * shares the description, and another process's runtime may have set it. */
enum gt__fd_intent {
    GT__FD_INTENT_UNKNOWN = 0,
    GT__FD_INTENT_BLOCK,
    GT__FD_INTENT_NONBLOCK,
};

struct gt__fdent {
    uint8_t kind;
    bool user_nonblock;   /* the caller's own O_NONBLOCK */
    bool we_set;          /* the runtime turned O_NONBLOCK on */
    bool registered;      /* in the epoll set (edge-triggered) */
    bool inherited;       /* in a fork's child, O_NONBLOCK set by the
                           * parent's runtime: the parent's to restore */
    bool socket;          /* a socket; its type is asked only when needed */
    uint8_t stream;       /* GT__FD_STREAM_*: a byte stream or not (sockets) */
    bool hung_up;         /* the poller saw the peer's end (RDHUP, HUP, ERR) */
    uint8_t intent;       /* GT__FD_INTENT_*: the program's O_NONBLOCK as
                           * it created or set the fd, if the runtime saw */
    struct gt__fd_waiter *waiters, *waiters_tail; /* its waits, oldest first */
};

struct gt__sched {
    uint64_t sched_ctx[GT_CTX_NREGS]; /* gt_main's own stack */
    struct gt__thread *prev;      /* the thread switched away from */
    struct gt__thread *leaving;   /* switched away from a stack it no longer
                                   * needs: exited (stack, and record if
                                   * detached, go after the switch) or
                                   * unstacked (its pages go) */
    struct gt__thread *rq_head, *rq_tail;
    struct gt__thread *ready_head, *ready_tail; /* run queue's second line */
    struct gt__thread *free_slots;
    struct gt__thread **heap;     /* timers: min-heap on pub.deadline */
    uint32_t heap_len, heap_cap;
    uint64_t live;                /* threads not yet FREE */
    uint64_t fd_waiters;          /* fd waits in progress */
    uint64_t slice_start;         /* ns: the clock at the last park/poll */
    uint64_t polled_at;           /* ns: slice_start at the last poll */
    uint32_t switches_since_poll;
    int epfd;
    int loc_depth;
    uint64_t next_id;
    int exit_status;
};

extern struct gt__sched gt__sched GT__HIDDEN;
/* gt_registry under a hidden alias (registry.c). */
extern struct gt_registry gt__reg GT__HIDDEN;
/* The green thread running now; NULL on the scheduler context. */
extern __thread struct gt__thread *gt__tls_current GT__HIDDEN;

/* ---- clock.c ------------------------------------------------------------- */
void gt__clock_init(void) GT__HIDDEN;
/* The kernel's reading itself, for deadlines (see clock.c). */
uint64_t gt__clock_exact(void) GT__HIDDEN;
/* A real reading that re-anchors the extrapolation (clock.c). */
uint64_t gt__clock_resync(void) GT__HIDDEN;

/* What gt__clock_at extrapolates from; written by clock.c only. */
struct gt__clock_anchor {
    bool calibrated;      /* mult is known */
    uint64_t tsc0, ns0;   /* the latest real reading */
    uint64_t mult;        /* ns per TSC tick, as a 32.32 fixed point */
    uint64_t resync_ticks; /* take a real reading again after this long */
    uint64_t last;        /* latest value returned */
};
extern struct gt__clock_anchor gt__clock_anchor GT__HIDDEN;

/* The TSC now (0 where there is none: every reading is then real).  A
 * park takes it first and converts it with gt__clock_at after the work
 * that does not need the time, so that a CPU which can run the read
 * alongside that work does.  (On the AMD machine the numbers in this
 * tree come from, the read is microcoded, about 15 ns, and stalls what
 * follows either way: two reads are a third of a spawn-to-join cycle.) */
static inline uint64_t gt__clock_ticks(void)
{
#if defined(__x86_64__)
    return __builtin_ia32_rdtsc();
#else
    return 0;
#endif
}

/* The clock at tick count tsc, taken since the last reading. */
static inline uint64_t gt__clock_at(uint64_t tsc)
{
    struct gt__clock_anchor *a = &gt__clock_anchor;
    uint64_t ns;
    if (GT__LIKELY(a->calibrated && tsc - a->tsc0 < a->resync_ticks))
        ns = a->ns0 + (uint64_t)(((unsigned __int128)(tsc - a->tsc0) * a->mult) >> 32);
    else
        ns = gt__clock_resync();
    if (GT__UNLIKELY(ns < a->last))
        ns = a->last;
    a->last = ns;
    gt__reg.clock_now = ns;
    return ns;
}

/* CLOCK_MONOTONIC nanoseconds (see clock.c); runtime thread only. */
static inline uint64_t gt__clock(void) { return gt__clock_at(gt__clock_ticks()); }

/* ---- seq: the reader protocol of registry.h ------------------------------ */
static inline void gt__seq_begin(uint32_t *seq)
{
    *seq += 1;
    atomic_thread_fence(memory_order_release);
}
static inline void gt__seq_end(uint32_t *seq)
{
    atomic_thread_fence(memory_order_release);
    *seq += 1;
}

#include "list.h"

/* The lists of the runtime (list.h). */
#define GT__RUNQ_LIST                                                       \
    ((struct gt__list_kind){offsetof(struct gt__thread, rq_next),           \
                            GT__LIST_ONE_WAY, GT__LIST_PRIVATE})
#define GT__WAITQ_LIST                                                      \
    ((struct gt__list_kind){offsetof(struct gt__thread, wq_next),           \
                            offsetof(struct gt__thread, wq_prev),           \
                            GT__LIST_PRIVATE})
#define GT__FD_WAITERS_LIST                                                 \
    ((struct gt__list_kind){offsetof(struct gt__fd_waiter, next),           \
                            offsetof(struct gt__fd_waiter, prev),           \
                            GT__LIST_PRIVATE})
#define GT__LOCATION_LIST                                                   \
    ((struct gt__list_kind){offsetof(struct gt__thread, pub.loc_next),      \
                            offsetof(struct gt__thread, pub.loc_prev),      \
                            offsetof(struct gt__thread, pub.seq)})

/* ---- arch: switch.S ------------------------------------------------------ */
/* Saves callee-saved registers, sp and the return pc into from[], loads
 * to[] and continues there. */
void gt__ctx_switch(uint64_t *from, const uint64_t *to) GT__HIDDEN;
/* First pc of a new thread: calls gt__thread_start(thread), then makes
 * the switch it returns; the trampoline's CFI marks the return address
 * undefined so every unwinder stops there. */
void gt__ctx_trampoline(void) GT__HIDDEN;
/* Where a new context starts: this many bytes into the trampoline, past
 * its first instruction, so that its pc names the trampoline even read as
 * a return address (switch.S checks the offset when it assembles). */
#if defined(__x86_64__)
#define GT__CTX_FRESH_OFFSET 2
#else
#define GT__CTX_FRESH_OFFSET 4
#endif
void gt__ctx_init(uint64_t *ctx, void *stack_top, struct gt__thread *t)
    GT__HIDDEN;
/* The switch away from an exited thread, cur, to next.
 *
 * A thread whose function returns is switched away from by the trampoline:
 * gt__thread_start returns this pair, and the trampoline jumps (does not
 * call) into gt__switch_to with them.  The exiting thread then leaves
 * exactly one return address on the CPU's return-stack predictor: that of
 * gt__switch_to's call to gt__ctx_switch, the same address the thread it
 * resumes left there when it switched out.  So every return of the resumed
 * thread is predicted; a switch made from inside the exit path left three
 * or four entries too many and as many mispredicted returns, a fifth of a
 * spawn-run-exit-join cycle. */
struct gt__exit_switch {
    struct gt__thread *cur;
    struct gt__thread *next;
};
/* Runs the thread's function, then its exit up to the final switch;
 * returns that switch to the trampoline (two registers, by the ABI). */
struct gt__exit_switch gt__thread_start(struct gt__thread *t) GT__HIDDEN;

/* ---- registry.c ---------------------------------------------------------- */
int gt__registry_init(void) GT__HIDDEN;
/* Adds a chunk of free thread records; -1 when memory runs out. */
int gt__add_thread_chunk(void) GT__HIDDEN;
void gt__retire(void *array) GT__HIDDEN; /* keep an old chunk array */

/* Moves one thread between the per-state counters.  The two updates go
 * through a volatile pointer so that they stay two 8-byte read-modify-
 * writes: for neighbouring states (FREE/RUNNABLE, RUNNABLE/RUNNING) the
 * compiler would otherwise merge them into one 16-byte load, add and
 * store, and that load cannot be forwarded from the 8-byte store the
 * previous update of the same counters has just made: it waits for the
 * store to reach the cache, about 15 ns on every switch. */
static inline void gt__count_state(enum gt_state from, enum gt_state to)
{
    volatile uint64_t *n = gt__reg.nstate;
    n[from]--;
    n[to]++;
}

/* A free thread record (state still FREE); NULL and ENOMEM when memory
 * runs out.  It and gt__slot_free are here, inline, because every spawn
 * and join goes through them. */
static inline struct gt__thread *gt__slot_alloc(void)
{
    if (GT__UNLIKELY(!gt__sched.free_slots) && gt__add_thread_chunk() < 0) {
        errno = ENOMEM;
        return NULL;
    }
    struct gt__thread *t = gt__sched.free_slots;
    gt__sched.free_slots = t->free_next;
    /* thread_slots is a high-water mark: readers scan slots below it. */
    if (t->slot + 1 > gt__reg.thread_slots)
        gt__reg.thread_slots = t->slot + 1;
    return t;
}

static inline void gt__slot_free(struct gt__thread *t)
{
    gt__seq_begin(&t->pub.seq);
    gt__count_state((enum gt_state)t->pub.state, GT_STATE_FREE);
    t->pub.state = GT_STATE_FREE;
    gt__seq_end(&t->pub.seq);
    t->free_next = gt__sched.free_slots;
    gt__sched.free_slots = t;
}

/* ---- location.c ---------------------------------------------------------- */
int gt__locations_init(void) GT__HIDDEN;
/* The hot half, every park's and wake's, is inline: location.h. */
const struct gt_location_rec *gt__location_get(uint32_t idx) GT__HIDDEN;

/* ---- sched.c ------------------------------------------------------------- */
/* Switches from cur (now in state st) to next; NULL for either is the
 * scheduler context.  The trampoline enters it by a jump (see above). */
void gt__switch_to(struct gt__thread *cur, enum gt_state st,
                   struct gt__thread *next) GT__HIDDEN;
/* Parks the current thread.  fp: frame of the outermost gt entry point
 * (its location); deadline: absolute ns, 0 for none.  Returns the wake
 * result: 0, ETIMEDOUT, or what the waker passed. */
int gt__park(const void *fp, enum gt_wait_kind kind, uint64_t obj,
             uint64_t arg, uint64_t deadline) GT__HIDDEN;
/* gt__park that gives up the thread's frames and stack pages: after the
 * switch away the stack is released and the context reset to a fresh
 * start in fn(arg).  Returns only on failure (ENOMEM), having parked
 * nothing. */
int gt__park_unstacked(const void *fp, enum gt_wait_kind kind, uint64_t obj,
                       uint64_t arg, uint64_t deadline, void (*fn)(void *),
                       void *fn_arg) GT__HIDDEN;
/* Makes a parked thread runnable; result is what gt__park returns.  It
 * reads no clock: the wait is timed when the thread runs (see WAITS in
 * gt/registry.h). */
void gt__wake(struct gt__thread *t, int result) GT__HIDDEN;
uint64_t gt__deadline(int64_t timeout_ns) GT__HIDDEN;
/* A timespec as a timeout in ns: -1 for NULL or beyond 292 years (no
 * limit, as good as); -1 and EINVAL when it is not one the kernel takes.
 * Every interposed call that takes one reads it so. */
static inline int gt__timespec_ns(const struct timespec *ts, int64_t *ns)
{
    if (!ts) {
        *ns = -1;
        return 0;
    }
    if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000) {
        errno = EINVAL;
        return -1;
    }
    *ns = ts->tv_sec > INT64_MAX / 1000000000 - 1
              ? -1 : (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
    return 0;
}
/* Parks for ns: 0 when the time is up (ns <= 0: a yield), the ns left
 * when a signal cut it short (EINTR), -1 (EPERM) outside a green thread. */
int64_t gt__sleep(const void *fp, int64_t ns) GT__HIDDEN;

static inline struct gt__thread *gt__self(void) { return gt__tls_current; }

/* Usable bytes of the first thread's stack (0: the default); set before
 * gt_main by libgt-pthread, whose first thread runs the program's main. */
extern size_t gt__main_stack_size GT__HIDDEN;

/* Set while gt_main runs, in whichever kernel thread; read by any. */
extern _Atomic bool gt__running GT__HIDDEN;

/* May a call that reads or frees one object (a destroy, gt_chan_len) run
 * in the caller?  In a green thread, yes; elsewhere only while no runtime
 * runs, since then no green thread can be touching the object at the
 * same time (see "Outside a green thread" in gt.h). */
static inline bool gt__may_touch_object(void)
{
    return gt__self() ||
           !atomic_load_explicit(&gt__running, memory_order_acquire);
}

/* Ends a gt entry point that hands its own frame pointer down (the park's
 * location is read through it): an empty asm after the call keeps the
 * compiler from making the call a tail call, which pops the frame before
 * the callee runs.  On x86-64 the callee happens to push the same two
 * words in the same place; on AArch64 the frame record sits at the bottom
 * of the frame and the callee's own locals overwrite it, so the location
 * was read from garbage. */
static inline __attribute__((always_inline)) int gt__keep_frame(int r)
{
    __asm__ volatile("");
    return r;
}

/* Remembers how deep the thread's stack has been (see stack.c). */
static inline void gt__note_depth(struct gt__thread *t, const void *fp)
{
    if ((uint64_t)(uintptr_t)fp < t->low_water)
        t->low_water = (uint64_t)(uintptr_t)fp;
}

/* ---- waitq (sync.c) ------------------------------------------------------ */
void gt__waitq_push(struct gt__waitq *q, struct gt__thread *t) GT__HIDDEN;
struct gt__thread *gt__waitq_pop(struct gt__waitq *q) GT__HIDDEN;
void gt__waitq_remove(struct gt__thread *t) GT__HIDDEN;
/* Parks on q until woken or the deadline; leaves q on every return. */
int gt__waitq_park(struct gt__waitq *q, const void *fp, enum gt_wait_kind k,
                   uint64_t obj, uint64_t arg, uint64_t deadline) GT__HIDDEN;
int gt__mutex_lock(gt_mutex_t *m, const void *fp) GT__HIDDEN;

/* ---- timer.c ------------------------------------------------------------- */
int gt__timer_add(struct gt__thread *t) GT__HIDDEN;
void gt__timer_remove(struct gt__thread *t) GT__HIDDEN;
/* Wakes every thread whose deadline is <= now; returns how many. */
unsigned gt__timer_expire(uint64_t now) GT__HIDDEN;
/* ns until the earliest deadline, -1 if none. */
int64_t gt__timer_next(uint64_t now) GT__HIDDEN;

/* ---- stack.c ------------------------------------------------------------- */
int gt__stacks_init(void) GT__HIDDEN;
/* Gives t a stack of `size` usable bytes (page-rounded); ENOMEM. */
int gt__stack_alloc(struct gt__thread *t, size_t size) GT__HIDDEN;
void gt__stack_free(struct gt__thread *t) GT__HIDDEN;
/* Gives every page of t's stack back to the kernel; t keeps the range,
 * which reads as zero (see gt_wait_readable_then). */
void gt__stack_release(struct gt__thread *t) GT__HIDDEN;
void gt__stack_check(struct gt__thread *t) GT__HIDDEN; /* canary policy */
/* Gives back now the pages of freed stacks queued to go back (stack.c);
 * the scheduler calls it before it sleeps. */
void gt__stacks_trim(void) GT__HIDDEN;
size_t gt__stack_default(void) GT__HIDDEN;
/* The number the environment variable NAME gives, in [LO, HI]; DFLT when
 * it is unset, and DFLT with one line on stderr when it is not a whole
 * number in range ("64k" is not: a unit the runtime does not read is
 * not silently dropped).  Every numeric GT_* variable is read here. */
size_t gt__env_number(const char *name, const char *unit, size_t lo, size_t hi,
                      size_t dflt) GT__HIDDEN;

/* ---- poll_epoll.c -------------------------------------------------------- */
int gt__poller_init(void) GT__HIDDEN;
void gt__poller_fini(void) GT__HIDDEN;
/* Waits at most timeout_ns (-1 forever) and wakes the fd waiters that
 * became ready.  Returns the number woken. */
int gt__poller_poll(int64_t timeout_ns) GT__HIDDEN;
/* Parks the current thread until one of its fd waits is ready.  Returns
 * 0 (ready), ETIMEDOUT, EBADF (fd closed under it). */
int gt__fd_park(struct gt__fd_waiter *w, int n, const void *fp,
                uint64_t deadline) GT__HIDDEN;
void gt__fd_closed(int fd) GT__HIDDEN; /* wakes waiters with EBADF */
/* Parks the current thread on fd being readable with no stack (see
 * gt_wait_readable_then): returns only on failure, with an errno; the
 * thread restarts in fn(arg).  gt__fd_unstacked_resumed undoes the wait
 * when it does. */
int gt__fd_park_unstacked(int fd, const void *fp, uint64_t deadline,
                          void (*fn)(void *), void *arg) GT__HIDDEN;
void gt__fd_unstacked_resumed(struct gt__thread *t) GT__HIDDEN;
/* In the child of a fork: an epoll instance of its own (fork.c). */
void gt__poller_after_fork(void) GT__HIDDEN;

/* ---- fd.c ---------------------------------------------------------------- */
struct gt__fdent *gt__fd_get(int fd) GT__HIDDEN; /* NULL if out of range */
/* Learns what fd is (once) and prepares it for parking I/O. */
struct gt__fdent *gt__fd_prepare(int fd) GT__HIDDEN;
void gt__fd_forget(int fd) GT__HIDDEN;
/* The program made fd (socket, pipe...) or set its flags before the
 * runtime prepared it: nonblock is its own O_NONBLOCK. */
void gt__fd_intent(int fd, bool nonblock) GT__HIDDEN;
/* newfd is a duplicate of the fd described by from (may be NULL). */
void gt__fd_share(int newfd, const struct gt__fdent *from) GT__HIDDEN;
void gt__fd_restore_all(void) GT__HIDDEN;
/* In the child of a fork: no fd is in the (new) epoll set and no thread
 * waits on any fd; the rest of what is known stays (fork.c), and the
 * O_NONBLOCK the parent set is left to the parent (the file description
 * is one): gt__fd_restore_all skips it. */
void gt__fd_after_fork(void) GT__HIDDEN;

/* ---- io.c, fork.c ------------------------------------------------------- */
/* In the child of a fork: io.c forgets its note of the last EAGAIN. */
void gt__io_after_fork(void) GT__HIDDEN;
/* Registers the child's fork handler (fork.c); once, at the first gt_main. */
void gt__fork_init(void) GT__HIDDEN;

/* ---- fault.c ------------------------------------------------------------- */
int gt__fault_init(void) GT__HIDDEN;

/* ---- watchdog.c ---------------------------------------------------------- */
/* Starts the watchdog thread (GT_WATCHDOG_MS) for the calling kernel
 * thread, the one about to run the scheduler; gt__watchdog_stop ends and
 * joins it.  Both no-ops when it is off. */
void gt__watchdog_start(void) GT__HIDDEN;
void gt__watchdog_stop(void) GT__HIDDEN;
/* From the fatal-signal handler (ucontext of the signal): records the
 * interrupted green thread's registers as the registry's sample. */
void gt__watchdog_fatal_sample(void *ucontext) GT__HIDDEN;

/* ---- probes -------------------------------------------------------------- */
#if defined(GT_HAVE_SDT)
#include <sys/sdt.h>
#define GT__PROBE1(n, a) DTRACE_PROBE1(gt, n, a)
#define GT__PROBE2(n, a, b) DTRACE_PROBE2(gt, n, a, b)
#else
#define GT__PROBE1(n, a) ((void)0)
#define GT__PROBE2(n, a, b) ((void)0)
#endif

#endif /* GT_INTERNAL_H */
