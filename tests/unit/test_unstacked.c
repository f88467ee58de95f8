/*
 * test_unstacked.c - gt_wait_readable_then: a thread that waits for input
 * holding no stack, then starts over in a function of its own choosing.
 *
 * Ground truth: mincore(2) says which of a stack's pages are resident;
 * the thread's record (through its handle) says how it is published; the
 * continuation records which thread ran it and what its read found.
 */
#include "test.h"

#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gt/registry.h>

#define WAITERS 1000
#define DEEP_BYTES (24 * 1024) /* how far down each waiter dirties its stack */

struct waiter {
    int fd[2];              /* the waiter reads fd[0]; the test writes fd[1] */
    gt_t handle;
    uint64_t ran_as;        /* gt_id(gt_self()) in the continuation */
    int64_t resumed_at;     /* ns */
    ssize_t got;            /* what the continuation's read returned */
    int err;                /* its errno */
    char byte;
};

static struct waiter waiters[WAITERS];
static int resumed;

static struct gt_thread_rec *rec(gt_t h) { return (struct gt_thread_rec *)h.rec; }

/* Resident pages among [lo, hi). */
static size_t resident_pages(uint64_t lo, uint64_t hi)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t n = (size_t)(hi - lo) / page;
    unsigned char *vec = malloc(n);
    ASSERT_NOT_NULL(vec);
    ASSERT_OK(mincore((void *)(uintptr_t)lo, (size_t)(hi - lo), vec));
    size_t in = 0;
    for (size_t i = 0; i < n; i++)
        in += vec[i] & 1;
    free(vec);
    return in;
}

static void continuation(void *arg)
{
    struct waiter *w = arg;
    w->ran_as = gt_id(gt_self());
    w->resumed_at = gt_now_ns();
    /* The record no longer says unstacked once the thread runs again. */
    ASSERT_EQ(rec(gt_self())->flags & GT_TF_UNSTACKED, 0);
    errno = 0;
    w->got = recv(w->fd[0], &w->byte, 1, MSG_DONTWAIT);
    w->err = errno;
    resumed++;
}

/* Dirties DEEP_BYTES of stack, so that there is something to give back. */
static __attribute__((noinline)) void dirty_stack(void)
{
    volatile char deep[DEEP_BYTES];
    for (size_t i = 0; i < sizeof deep; i += 64)
        deep[i] = 1;
}

static void waiter_main(void *arg)
{
    struct waiter *w = arg;
    dirty_stack();
    gt_wait_readable_then(w->fd[0], GT_FOREVER, continuation, w);
    FAIL("gt_wait_readable_then returned: %s", tu_errname(errno));
}

static void many_test(void *arg)
{
    (void)arg;
    tu_raise_nofile(2 * WAITERS + 64);
    for (int i = 0; i < WAITERS; i++) {
        ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, waiters[i].fd));
        waiters[i].handle = tu_spawn(waiter_main, &waiters[i]);
    }
    gt_sleep_ns(TU_MS); /* every waiter runs and parks */
    for (int i = 0; i < WAITERS; i++) {
        struct gt_thread_rec *r = rec(waiters[i].handle);
        ASSERT_EQ(r->state, GT_STATE_PARKED);
        ASSERT_EQ(r->wait_kind, GT_WAIT_FD);
        ASSERT_EQ(r->wait_obj, (uint64_t)waiters[i].fd[0]);
        ASSERT_EQ(r->wait_arg, POLLIN);
        ASSERT_EQ(r->flags & GT_TF_UNSTACKED, GT_TF_UNSTACKED);
        ASSERT_NE(r->location, 0);
        /* It will start over in the continuation, from the entry
         * trampoline, with nothing of its old frames left. */
        ASSERT_EQ(r->entry, (uint64_t)(uintptr_t)continuation);
        ASSERT_EQ(r->arg, (uint64_t)(uintptr_t)&waiters[i]);
        ASSERT_EQ(r->ctx[GT_CTX_SP], (r->stack_hi & ~(uint64_t)15) - 16);
        /* Under the canary policy (no guard page) the lowest page keeps
         * the canary; otherwise nothing stays. */
        ASSERT_EQ(resident_pages(r->stack_lo, r->stack_hi), r->guard_size ? 0 : 1);
        ASSERT_EQ(r->id, waiters[i].handle.id);
    }
    /* The location is the wait's call site, shared by all of them. */
    uint32_t loc = rec(waiters[0].handle)->location;
    for (int i = 1; i < WAITERS; i++)
        ASSERT_EQ(rec(waiters[i].handle)->location, loc);

    for (int i = 0; i < WAITERS; i++)
        ASSERT_EQ(write(waiters[i].fd[1], "x", 1), 1);
    for (int i = 0; i < WAITERS; i++)
        tu_join(waiters[i].handle); /* the handle outlives the restart */
    ASSERT_EQ(resumed, WAITERS);
    for (int i = 0; i < WAITERS; i++) {
        ASSERT_EQ(waiters[i].ran_as, waiters[i].handle.id);
        ASSERT_EQ(waiters[i].got, 1);
        ASSERT_EQ(waiters[i].byte, 'x');
        ASSERT_OK(close(waiters[i].fd[0]));
        ASSERT_OK(close(waiters[i].fd[1]));
    }
}

TEST_IMPL(unstacked_wait_gives_back_stack)
{
    tu_run(many_test, NULL);
}

/* ---- a timeout, a close under the wait, and the early returns ---------- */

static void timed_waiter(void *arg)
{
    struct waiter *w = arg;
    gt_wait_readable_then(w->fd[0], 30 * TU_MS, continuation, w);
    FAIL("gt_wait_readable_then returned: %s", tu_errname(errno));
}

static void timeout_main(void *arg)
{
    (void)arg;
    struct waiter *w = &waiters[0];
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, w->fd));
    int64_t start = gt_now_ns();
    w->handle = tu_spawn(timed_waiter, w);
    tu_join(w->handle);
    ASSERT_EQ(resumed, 1);
    ASSERT_GE(w->resumed_at - start, 30 * TU_MS);
    ASSERT_EQ(w->got, -1);
    ASSERT_EQ(w->err, EAGAIN);
}

TEST_IMPL(unstacked_wait_times_out)
{
    tu_run(timeout_main, NULL);
}

static void closer(void *arg)
{
    struct waiter *w = arg;
    ASSERT_OK(gt_close(w->fd[0]));
}

static void closed_main(void *arg)
{
    (void)arg;
    struct waiter *w = &waiters[0];
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, w->fd));
    w->handle = tu_spawn(waiter_main, w);
    gt_yield();
    ASSERT_EQ(rec(w->handle)->flags & GT_TF_UNSTACKED, GT_TF_UNSTACKED);
    tu_join(tu_spawn(closer, w));
    tu_join(w->handle);
    ASSERT_EQ(resumed, 1);
    ASSERT_EQ(w->got, -1);
    ASSERT_EQ(w->err, EBADF);
}

TEST_IMPL(unstacked_wait_fd_closed)
{
    tu_run(closed_main, NULL);
}

static void noop(void *arg) { (void)arg; }

static void early_main(void *arg)
{
    (void)arg;
    int fd[2];
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, fd));
    ASSERT_ERRNO(gt_wait_readable_then(fd[0], GT_FOREVER, NULL, NULL), EINVAL);
    ASSERT_ERRNO(gt_wait_readable_then(fd[0], 0, noop, NULL), ETIMEDOUT);
    ASSERT_ERRNO(gt_wait_readable_then(1000, GT_FOREVER, noop, NULL), EBADF);
    /* Readable already: it returns at once, with this stack intact. */
    ASSERT_EQ(write(fd[1], "y", 1), 1);
    volatile int on_stack = 42;
    ASSERT_EQ(gt_wait_readable_then(fd[0], GT_FOREVER, noop, NULL), 0);
    ASSERT_EQ(on_stack, 42);
    ASSERT_EQ(rec(gt_self())->flags & GT_TF_UNSTACKED, 0);
    /* A peer that hangs up makes it readable too. */
    char c;
    ASSERT_EQ(read(fd[0], &c, 1), 1);
    ASSERT_OK(close(fd[1]));
    ASSERT_EQ(gt_wait_readable_then(fd[0], GT_FOREVER, noop, NULL), 0);
    ASSERT_OK(close(fd[0]));
}

TEST_IMPL(unstacked_wait_early_returns)
{
    int fd[2];
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, fd));
    ASSERT_ERRNO(gt_wait_readable_then(fd[0], GT_FOREVER, noop, NULL), EPERM);
    tu_run(early_main, NULL);
}
