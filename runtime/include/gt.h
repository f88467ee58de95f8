/*
 * gt.h - the whole public API of libgt, a cooperative green-threads runtime.
 *
 * Every green thread runs on the kernel thread that called gt_main(); the
 * runtime switches between them only when one parks (blocks on I/O, a lock,
 * a channel, a timer, a join) or yields.  Every function here that can fail
 * returns -1 and sets errno, like the libc calls it stands in for, so the
 * interposed libc names (see README.md) behave exactly like libc.
 *
 * OUTSIDE A GREEN THREAD
 *
 * The runtime's state (run queue, wait queues, records) belongs to the
 * kernel thread running gt_main and is touched without locks.  So a call
 * made anywhere else (another pthread; the thread of gt_main before it
 * starts or after it returns) cannot wake, lock, send, look up or change
 * anything: it fails with -1 and EPERM (gt_id: 0 and EPERM) and does
 * nothing.  What does work everywhere:
 *   - gt_main (EBUSY while a runtime runs, in any kernel thread),
 *     gt_in_thread, gt_now_ns, gt_self (gives the invalid handle);
 *   - gt_mutex_init, gt_cond_init, gt_chan_create: they touch only the
 *     new object;
 *   - gt_mutex_destroy, gt_cond_destroy, gt_chan_destroy, gt_chan_len
 *     while no runtime runs (before gt_main, after it returns): no green
 *     thread can be using the object then; EPERM while one runs;
 *   - gt_set_location_depth before gt_main (EINVAL while a runtime runs);
 *   - gt_close, which is close(2) there; gt_exit, which ends the calling
 *     kernel thread as pthread_exit does;
 *   - the interposed libc names (read, poll, sleep...), which are libc
 *     there (see README.md).
 * To hand work to green threads from another kernel thread, write to a
 * pipe or an eventfd that a green thread reads: its gt_read parks only
 * that thread, and the kernel does the locking.
 *
 * Naming: gt_ is public; gt__ is internal to the library; everything else
 * is static.  The registry that observers read is described separately in
 * <gt/registry.h>.
 */
#ifndef GT_H
#define GT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

#include "gt/registry.h" /* GT_MUTEX_MAGIC, GT_COND_MAGIC */

#ifdef __cplusplus
extern "C" {
#endif

/* libgt is built with hidden visibility; everything declared here is its
 * exported API. */
#pragma GCC visibility push(default)

#define GT_VERSION_MAJOR 0
#define GT_VERSION_MINOR 1

/* ---- threads ----------------------------------------------------------- */

/* A handle to a green thread.  It stays safe to pass after the thread is
 * gone: the runtime checks `id` against the record and answers ESRCH. */
typedef struct gt_t {
    struct gt__thread *rec; /* private */
    uint64_t id;            /* read-only: the thread id shown by every tool */
} gt_t;

#define GT_NAME_MAX 32 /* bytes in a thread name, including the NUL */

typedef struct gt_attr_t {
    const char *name;  /* NULL: unnamed; copied, truncated to GT_NAME_MAX-1 */
    size_t stack_size; /* 0: the default (64 KiB, or GT_STACK_SIZE in the
                        * environment); usable bytes, rounded up to pages;
                        * between GT_STACK_MIN and GT_STACK_MAX */
    int detached;      /* nonzero: resources go back at exit, no join */
} gt_attr_t;

#define GT_STACK_MIN (16u * 1024)          /* below this, EINVAL */
#define GT_STACK_MAX (256u * 1024 * 1024)  /* above this, EINVAL */

/* Runs fn(arg) as the first green thread and returns 0 once every green
 * thread has exited.  -1 with EBUSY if a runtime already runs in this
 * process, ENOMEM if its memory cannot be had. */
int gt_main(void (*fn)(void *), void *arg);

/* Creates a thread that runs fn(arg); it first runs when the caller parks
 * or yields.  attr may be NULL.  Errors: EINVAL (stack size out of range),
 * ENOMEM (no memory for the stack or the record; nothing is leaked),
 * EPERM (not called from a green thread). */
int gt_spawn(gt_t *t, void (*fn)(void *), void *arg, const gt_attr_t *attr);

/* Waits for t to exit.  ESRCH: no such thread (or already joined);
 * EINVAL: t is detached or someone else joins it; EDEADLK: t is self. */
int gt_join(gt_t t);
int gt_detach(gt_t t);
/* Ends the calling green thread; outside one, the calling kernel thread
 * (pthread_exit). */
_Noreturn void gt_exit(void);
gt_t gt_self(void);                  /* {NULL, 0} outside a green thread */
uint64_t gt_id(gt_t t);              /* 0 for an invalid handle; 0 and
                                      * EPERM outside a green thread */
int gt_yield(void);                  /* 0; -1/EPERM outside a green thread */
int gt_set_name(gt_t t, const char *name);
int gt_get_name(gt_t t, char *buf, size_t len);

/* Inside a green thread? (The interposed libc names use this.) */
int gt_in_thread(void);

/* ---- time ---------------------------------------------------------------- */

#define GT_FOREVER (-1) /* a timeout that never expires */

/* Nanoseconds of CLOCK_MONOTONIC, read from the kernel at the call: the
 * value clock_gettime(CLOCK_MONOTONIC) gives at that moment, in a green
 * thread or any other.  (The registry's timestamps come from the
 * runtime's cheaper clock, which may lag it by up to 20 us, never lead:
 * see gt/registry.h.) */
int64_t gt_now_ns(void);
/* Parks for ns nanoseconds (0 just yields).  0, or -1 with EPERM. */
int gt_sleep_ns(int64_t ns);

/* ---- mutex and condition variable ---------------------------------------- */

/* Plain structs, so they can be embedded and initialised statically.  The
 * fields are private; waiters form a FIFO and unlock hands the mutex to the
 * first waiter, so no thread starves. */
struct gt__waitq {
    struct gt__thread *head, *tail;
};

typedef struct gt_mutex_t {
    struct gt__thread *owner;
    struct gt__waitq waiters;
    uint64_t magic; /* 0 (zeroed static) or GT_MUTEX_MAGIC: usable */
    uint64_t held_since; /* ns: for readers (gt/registry.h, HOLD TIMES) */
} gt_mutex_t;

typedef struct gt_cond_t {
    struct gt__waitq waiters;
    uint64_t magic;
} gt_cond_t;

#define GT_MUTEX_INITIALIZER {0, {0, 0}, GT_MUTEX_MAGIC, 0}
#define GT_COND_INITIALIZER  {{0, 0}, GT_COND_MAGIC}

int gt_mutex_init(gt_mutex_t *m);
int gt_mutex_destroy(gt_mutex_t *m); /* EBUSY if locked or waited on */
int gt_mutex_lock(gt_mutex_t *m);    /* EDEADLK if the caller owns it */
int gt_mutex_trylock(gt_mutex_t *m); /* EBUSY if taken */
int gt_mutex_unlock(gt_mutex_t *m);  /* EPERM if the caller does not own it */
/* Every call below, and gt_mutex_lock/trylock/unlock, gives EPERM outside
 * a green thread, except init (anywhere) and destroy (see OUTSIDE A GREEN
 * THREAD at the top). */

int gt_cond_init(gt_cond_t *c);
int gt_cond_destroy(gt_cond_t *c);   /* EBUSY if waited on */
/* Waits for a signal; timeout_ns < 0 waits forever.  ETIMEDOUT on timeout;
 * the mutex is held again on every return. */
int gt_cond_wait(gt_cond_t *c, gt_mutex_t *m);
int gt_cond_timedwait(gt_cond_t *c, gt_mutex_t *m, int64_t timeout_ns);
int gt_cond_signal(gt_cond_t *c);
int gt_cond_broadcast(gt_cond_t *c);

/* ---- channels ------------------------------------------------------------ */

/* A bounded FIFO of pointers.  Send parks while full, recv while empty. */
typedef struct gt_chan gt_chan_t;

gt_chan_t *gt_chan_create(size_t capacity);   /* NULL + EINVAL/ENOMEM */
/* Wakes every waiter: senders fail with EPIPE, receivers drain what is
 * left and then fail with EPIPE. */
int gt_chan_close(gt_chan_t *ch);
int gt_chan_destroy(gt_chan_t *ch);           /* EBUSY if waited on */
/* timeout_ns: GT_FOREVER, 0 (do not park: EAGAIN), or nanoseconds
 * (ETIMEDOUT). */
int gt_chan_send(gt_chan_t *ch, void *msg, int64_t timeout_ns);
int gt_chan_recv(gt_chan_t *ch, void **msg, int64_t timeout_ns);
size_t gt_chan_len(const gt_chan_t *ch);     /* 0 for an invalid channel */
/* Send, recv and close need a green thread (EPERM elsewhere, even when
 * they would not park: a send wakes a receiver, which only the runtime's
 * own kernel thread may do). */

/* ---- I/O that parks only the calling thread ------------------------------ */

/* The fd may be blocking or not: the runtime switches sockets and pipes to
 * non-blocking mode itself, keeps the caller's own O_NONBLOCK choice
 * (EAGAIN is returned only to a caller that asked for non-blocking mode),
 * and calls regular files straight through (they never wait on readiness;
 * the registry counts those calls and their time). */
ssize_t gt_read(int fd, void *buf, size_t len);
ssize_t gt_write(int fd, const void *buf, size_t len);
ssize_t gt_recv(int fd, void *buf, size_t len, int flags);
ssize_t gt_send(int fd, const void *buf, size_t len, int flags);
int gt_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);
int gt_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);
/* Waits until fd is ready for events (POLLIN, POLLOUT); returns the ready
 * events, or -1 with ETIMEDOUT. */
int gt_wait_fd(int fd, int events, int64_t timeout_ns);
/* Waits until fd is readable (or hung up, or closed) holding no stack,
 * for a server's idle connections: a thread parked here costs its record,
 * not a stack page.  The caller's frames are given up and its stack's
 * memory goes back to the kernel; when the wait ends (readable, or after
 * timeout_ns) the same thread, with its id, name and record, starts over
 * in fn(arg) on its empty stack.  fn is not told which: its own read says
 * (EAGAIN after a timeout).  Returns 0 at once, discarding nothing, if fd
 * is readable already; otherwise returns only on error: -1 with EPERM
 * (not a green thread), EINVAL (fn is NULL), EBADF, ETIMEDOUT (timeout_ns
 * is 0) or ENOMEM.  Tools show the thread parked at this call, with no
 * frames but its entry fn. */
int gt_wait_readable_then(int fd, int64_t timeout_ns, void (*fn)(void *),
                          void *arg);
/* Forgets what the runtime knows of fd, then closes it.  Anywhere, like
 * close(2): a green thread parked on fd is woken (EBADF) only when the
 * close is made in a green thread. */
int gt_close(int fd);

/* ---- configuration ------------------------------------------------------- */

/* How many return addresses make a location: the call site and depth-1
 * callers (1..GT_LOCATION_DEPTH_MAX, default 2; GT_LOCATION_DEPTH in the
 * environment).  Call before gt_main. */
int gt_set_location_depth(int depth);

/* ---- the watchdog -------------------------------------------------------- *
 *
 * A green thread that computes without parking or yielding holds every
 * other one up, and its saved context is stale, so no reader can say
 * where it is.  While gt_main runs, a helper kernel thread (the watchdog)
 * wakes every quarter of the threshold (at least 1 ms apart), and when
 * one green thread has run longer than the threshold it records where
 * that thread is, in the registry's sample (gt/registry.h, THE WATCHDOG'S
 * SAMPLE), again every threshold while it goes on, and counts each sample
 * (watchdog_events).  Readers show the hog's stack from it.  A thread
 * blocked in a system call of its own (not one the runtime parks it in)
 * holds every other one up as well, and is sampled there.
 *
 *   GT_WATCHDOG_MS        the threshold, whole milliseconds (default 100;
 *                         0 turns the watchdog off: no thread at all, and
 *                         the registry's watchdog_ns is 0).
 *   GT_WATCHDOG_ABORT_MS  0 (default) or a limit: a thread that has run
 *                         that long without yielding is reported on
 *                         stderr in one line (`gt: watchdog: thread 91
 *                         "spinner" has run 5.0s without yielding; aborting
 *                         (pcs ...)`, the pcs of a frame-pointer walk) and
 *                         the process aborts, leaving a core whose sample
 *                         shows the hog.  Needs the watchdog on.  Time the
 *                         process spent stopped (a debugger, SIGSTOP) does
 *                         not count.  Should the report not end the process
 *                         within 2 s (the thread blocks the signal, or was
 *                         stopped inside a lock the fatal report needs),
 *                         the watchdog sends it SIGABRT without one.
 * Both are read once, at the first gt_main; a value that is not a whole
 * number up to 3600000 is refused in one line on stderr and the default
 * stands.
 *
 * How it samples.  When the runtime's kernel thread is inside a system
 * call (/proc/self/task/<tid>/syscall says so) the watchdog writes the
 * sample itself from that file: the call's number (sample_syscall), sp
 * and pc; no signal is sent.  Otherwise, once that thread has been
 * running for a whole quarter threshold without blocking once (its
 * voluntary context switches did not move) and has gained CPU time, the
 * watchdog sends it GT_WATCHDOG_SIGNAL, SIGRTMIN + 6, whose handler
 * (SA_SIGINFO | SA_RESTART | SA_ONSTACK, on an alternate stack, never on a
 * green thread's) records every register the context keeps.  At most one
 * such signal is outstanding at a time.  The handler is installed at the
 * first gt_main, before the watchdog starts, and stays installed; a
 * signal of that number the watchdog did not send is ignored.  If the
 * program has already installed a handler for that signal, the watchdog
 * says so in one line and stays off.  The watchdog thread blocks every
 * signal, so it never takes one meant for the program.
 *
 * What it never does: touch the runtime's state (it reads a few words of
 * the registry and writes only its own fields); signal the runtime while
 * no green thread has held the CPU for the threshold; signal a thread
 * that is blocked in a system call or has blocked in the last quarter
 * threshold; or signal while a debugger (any ptrace tracer: GDB, strace)
 * is attached, since GDB would stop at the signal (the samples taken from
 * /proc go on, and GT_WATCHDOG_ABORT_MS still aborts, the signal showing
 * in GDB first).  A signal that reaches a thread in user code changes
 * nothing the program can see.
 *
 * The race that remains: a thread that has computed for a whole quarter
 * threshold without blocking, and then enters a blocking call in the few
 * microseconds between the watchdog's look and the signal's arrival.  A
 * restartable call (read, write, accept, connect, wait...) then restarts
 * by SA_RESTART, unseen, though a pipe or socket write that had already
 * moved some bytes returns that count, as POSIX allows; nanosleep,
 * clock_nanosleep, poll, select, epoll_wait and the other calls the
 * kernel never restarts after a handler fail with EINTR.  A thread that
 * calls those in a loop, blocking more often than every quarter
 * threshold, is never signalled.  Without /proc the watchdog never
 * signals.
 *
 * After fork the child has no watchdog (watchdog_ns reads 0 there), even
 * if it goes on running green threads; the parent's is unchanged.
 * If the thread that runs gt_main blocks GT_WATCHDOG_SIGNAL, samples in
 * user code never arrive; the rest works.  GT_WATCHDOG_SIGNAL is defined
 * when <signal.h> is included before this header. */
#if defined(SIGRTMIN)
#define GT_WATCHDOG_SIGNAL (SIGRTMIN + 6)
#endif

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif
#endif /* GT_H */
