/*
 * test_multiplex.c - select, pselect, ppoll and the epoll_wait family
 * from green threads: they park the caller only, at the caller's own call
 * site, and answer what the kernel answers; outside the runtime they are
 * the system calls.  A watchdog pthread (raw system calls only) turns a
 * call that blocked the whole process into data the test names.
 */
#include "test.h"

#include <gt/registry.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MS TU_MS

static long ticks;
static int stop_ticker;
static gt_t ticker_thread;

static void ticker(void *arg)
{
    (void)arg;
    while (!stop_ticker) {
        ticks++;
        gt_yield();
    }
}

/* Starts the ticker, then FN; returns FN's thread once the ticker has
 * run 100 times, time enough for FN to have parked.  stop_ticking ends
 * the ticker. */
static gt_t spawn_beside_ticker(void (*fn)(void *))
{
    ticks = 0;
    stop_ticker = 0;
    ticker_thread = tu_spawn(ticker, NULL);
    gt_t w = tu_spawn(fn, NULL);
    while (ticks < 100)
        gt_yield();
    return w;
}

static void stop_ticking(void)
{
    stop_ticker = 1;
    tu_join(ticker_thread);
}

/* ---- epoll_wait parks on the epoll fd ----------------------------------- */

static int ep, ep_pipe[2];
static int ep_got;
static struct epoll_event ep_ev[4];

__attribute__((noinline)) static void ep_waiter(void *arg)
{
    (void)arg;
    ep_got = epoll_wait(ep, ep_ev, 4, -1);
    __asm__ volatile("");
}

static void epoll_main(void *arg)
{
    (void)arg;
    ASSERT_OK(pipe(ep_pipe));
    ep = epoll_create1(EPOLL_CLOEXEC);
    ASSERT_GE(ep, 0);
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = 0xfeed};
    ASSERT_OK(epoll_ctl(ep, EPOLL_CTL_ADD, ep_pipe[0], &e));
    struct tu_watchdog *wd = tu_watchdog_start(ep_pipe[1], "W", 1, 3000);

    gt_t w = spawn_beside_ticker(ep_waiter);
    /* The waiter is parked on the epoll fd, at its own call site, while
     * the ticker runs. */
    ASSERT(tu_parked_in(w, ep_waiter, GT_WAIT_FD));
    ASSERT_EQ(tu_rec(w)->wait_obj, ep);
    ASSERT_EQ(tu_rec(w)->wait_arg, POLLIN);
    ASSERT_EQ(write(ep_pipe[1], "x", 1), 1);
    tu_join(w);
    if (tu_watchdog_stop(wd))
        FAIL("epoll_wait blocked the whole process");
    ASSERT_EQ(ep_got, 1);
    ASSERT_EQ(ep_ev[0].data.u64, 0xfeed);
    ASSERT_EQ(ep_ev[0].events, EPOLLIN);

    /* Level-triggered, still readable: an immediate answer. */
    ASSERT_EQ(epoll_wait(ep, ep_ev, 4, -1), 1);
    char c;
    ASSERT_EQ(read(ep_pipe[0], &c, 1), 1);

    /* Nothing ready: the timeout, no less, and the ticker ran. */
    long before = ticks;
    int64_t t0 = tu_now_ns();
    ASSERT_EQ(epoll_wait(ep, ep_ev, 4, 20), 0);
    ASSERT_GE(tu_now_ns() - t0, 20 * MS);
    ASSERT_GT(ticks, before);
    struct timespec ts = {0, 15 * MS};
    t0 = tu_now_ns();
    ASSERT_EQ(epoll_pwait2(ep, ep_ev, 4, &ts, NULL), 0);
    ASSERT_GE(tu_now_ns() - t0, 15 * MS);
    ASSERT_EQ(epoll_wait(ep, ep_ev, 4, 0), 0);

    /* The kernel's errors. */
    ASSERT_ERRNO(epoll_wait(ep, ep_ev, 0, 10), EINVAL);
    ASSERT_ERRNO(epoll_wait(ep_pipe[0], ep_ev, 4, 10), EINVAL);
    ASSERT_ERRNO(epoll_wait(999, ep_ev, 4, 10), EBADF);

    stop_ticking();
}

/* epoll_pwait's mask lets a blocked signal in: EINTR, handler run. */
static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig) { (void)sig; got_usr1 = 1; }

static void raiser(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_sleep_ns(5 * MS), 0);
    ASSERT_OK(syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1));
}

static void pwait_signal_main(void *arg)
{
    (void)arg;
    struct sigaction sa = {.sa_handler = on_usr1};
    ASSERT_OK(sigaction(SIGUSR1, &sa, NULL));
    sigset_t usr1, none;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigemptyset(&none);
    ASSERT_OK(sigprocmask(SIG_BLOCK, &usr1, NULL));
    got_usr1 = 0;
    gt_t r = tu_spawn(raiser, NULL);
    ASSERT_ERRNO(epoll_pwait(ep, ep_ev, 4, -1, &none), EINTR);
    ASSERT_EQ(got_usr1, 1);
    tu_join(r);
    /* Likewise pselect and ppoll. */
    got_usr1 = 0;
    r = tu_spawn(raiser, NULL);
    ASSERT_ERRNO(pselect(0, NULL, NULL, NULL, NULL, &none), EINTR);
    ASSERT_EQ(got_usr1, 1);
    tu_join(r);
    got_usr1 = 0;
    r = tu_spawn(raiser, NULL);
    struct pollfd p = {.fd = ep_pipe[0], .events = POLLIN};
    ASSERT_ERRNO(ppoll(&p, 1, NULL, &none), EINTR);
    ASSERT_EQ(got_usr1, 1);
    tu_join(r);
    ASSERT_OK(sigprocmask(SIG_UNBLOCK, &usr1, NULL));
}

TEST_IMPL(multiplex_epoll_wait_parks)
{
    tu_run(epoll_main, NULL);
    tu_run(pwait_signal_main, NULL);
    /* Outside the runtime: the system call. */
    ASSERT_EQ(epoll_wait(ep, ep_ev, 4, 0), 0);
    int64_t t0 = tu_now_ns();
    ASSERT_EQ(epoll_wait(ep, ep_ev, 4, 10), 0);
    ASSERT_GE(tu_now_ns() - t0, 10 * MS);
    ASSERT_EQ(write(ep_pipe[1], "y", 1), 1);
    ASSERT_EQ(epoll_wait(ep, ep_ev, 4, -1), 1);
    ASSERT_EQ(ep_ev[0].data.u64, 0xfeed);
}

/* ---- select with fds above 64 ------------------------------------------- */

enum { HIGH_R = 100, HIGH_W = 130, LOW_R = 5 };
static int sel_got;
static fd_set sel_rd;

__attribute__((noinline)) static void sel_waiter(void *arg)
{
    (void)arg;
    FD_ZERO(&sel_rd);
    FD_SET(HIGH_R, &sel_rd);
    FD_SET(LOW_R, &sel_rd);
    sel_got = select(HIGH_R + 1, &sel_rd, NULL, NULL, NULL);
    __asm__ volatile("");
}

/* The kernel's own select on copies of the sets, zero timeout. */
static int kernel_select(int n, fd_set *r, fd_set *w, fd_set *e)
{
    struct timespec zero = {0, 0};
    return (int)syscall(SYS_pselect6, n, r, w, e, &zero, NULL);
}

static void select_main(void *arg)
{
    (void)arg;
    int a[2], b[2];
    ASSERT_OK(pipe(a));
    ASSERT_OK(pipe(b));
    ASSERT_EQ(dup2(a[0], HIGH_R), HIGH_R);
    ASSERT_EQ(dup2(a[1], HIGH_W), HIGH_W);
    ASSERT_EQ(dup2(b[0], LOW_R), LOW_R);
    struct tu_watchdog *wd = tu_watchdog_start(HIGH_W, "W", 1, 3000);

    gt_t w = spawn_beside_ticker(sel_waiter);
    ASSERT(tu_parked_in(w, sel_waiter, GT_WAIT_POLL));
    ASSERT_EQ(write(HIGH_W, "x", 1), 1);
    tu_join(w);
    if (tu_watchdog_stop(wd))
        FAIL("select blocked the whole process");
    ASSERT_EQ(sel_got, 1);
    ASSERT(FD_ISSET(HIGH_R, &sel_rd));
    ASSERT(!FD_ISSET(LOW_R, &sel_rd));

    /* Read and write sets at once, as the kernel answers them. */
    fd_set r, wr, kr, kw;
    FD_ZERO(&r);
    FD_ZERO(&wr);
    FD_SET(HIGH_R, &r);
    FD_SET(LOW_R, &r);
    FD_SET(HIGH_W, &wr);
    FD_SET(a[1], &wr);
    kr = r;
    kw = wr;
    int k = kernel_select(HIGH_W + 1, &kr, &kw, NULL);
    ASSERT_EQ(k, 3);
    ASSERT_EQ(select(HIGH_W + 1, &r, &wr, NULL, NULL), k);
    ASSERT_MEM_EQ(&r, &kr, sizeof r);
    ASSERT_MEM_EQ(&wr, &kw, sizeof wr);

    /* A hang-up is readable. */
    char c;
    ASSERT_EQ(read(HIGH_R, &c, 1), 1);
    ASSERT_OK(close(b[1]));
    FD_ZERO(&r);
    FD_SET(LOW_R, &r);
    FD_SET(HIGH_R, &r);
    ASSERT_EQ(select(HIGH_R + 1, &r, NULL, NULL, NULL), 1);
    ASSERT(FD_ISSET(LOW_R, &r));

    /* The timeout, and the time left written back (none). */
    FD_ZERO(&r);
    FD_SET(HIGH_R, &r);
    struct timeval tv = {0, 20 * 1000};
    long before = ticks;
    int64_t t0 = tu_now_ns();
    ASSERT_EQ(select(HIGH_R + 1, &r, NULL, NULL, &tv), 0);
    ASSERT_GE(tu_now_ns() - t0, 20 * MS);
    ASSERT_GT(ticks, before);
    ASSERT_EQ(tv.tv_sec, 0);
    ASSERT_EQ(tv.tv_usec, 0);
    ASSERT(!FD_ISSET(HIGH_R, &r));
    /* pselect: likewise, and its timespec is left alone. */
    struct timespec ts = {0, 10 * MS};
    FD_SET(HIGH_R, &r);
    ASSERT_EQ(pselect(HIGH_R + 1, &r, NULL, NULL, &ts, NULL), 0);
    ASSERT_EQ(ts.tv_nsec, 10 * MS);
    /* select(0, ...) is a sleep. */
    tv = (struct timeval){0, 5000};
    t0 = tu_now_ns();
    ASSERT_EQ(select(0, NULL, NULL, NULL, &tv), 0);
    ASSERT_GE(tu_now_ns() - t0, 5 * MS);

    /* Errors: a closed fd, a negative count, a bad timeout. */
    FD_ZERO(&r);
    FD_SET(HIGH_R + 7, &r);
    ASSERT_ERRNO(select(HIGH_R + 8, &r, NULL, NULL, NULL), EBADF);
    ASSERT_ERRNO(select(-1, NULL, NULL, NULL, NULL), EINVAL);
    tv = (struct timeval){-1, 0};
    ASSERT_ERRNO(select(1, NULL, NULL, NULL, &tv), EINVAL);
    ts = (struct timespec){0, 1000000000};
    ASSERT_ERRNO(pselect(1, NULL, NULL, NULL, &ts, NULL), EINVAL);

    stop_ticking();
}

TEST_IMPL(multiplex_select_high_fds)
{
    tu_run(select_main, NULL);
    /* Outside the runtime: the kernel's select. */
    fd_set r;
    FD_ZERO(&r);
    FD_SET(HIGH_R, &r);
    struct timeval tv = {0, 10 * 1000};
    ASSERT_EQ(select(HIGH_R + 1, &r, NULL, NULL, &tv), 0);
    ASSERT_EQ(write(HIGH_W, "z", 1), 1);
    FD_SET(HIGH_R, &r);
    ASSERT_EQ(select(HIGH_R + 1, &r, NULL, NULL, NULL), 1);
    ASSERT(FD_ISSET(HIGH_R, &r));
}

/* ---- ppoll ---------------------------------------------------------------- */

static int pp[2];
static int pp_got;
static struct pollfd pp_fd;

__attribute__((noinline)) static void pp_waiter(void *arg)
{
    (void)arg;
    pp_fd = (struct pollfd){.fd = pp[0], .events = POLLIN};
    pp_got = ppoll(&pp_fd, 1, NULL, NULL);
    __asm__ volatile("");
}

static void ppoll_main(void *arg)
{
    (void)arg;
    ASSERT_OK(pipe(pp));
    gt_t w = tu_spawn(pp_waiter, NULL);
    gt_yield();
    ASSERT(tu_parked_in(w, pp_waiter, GT_WAIT_FD));
    ASSERT_EQ(write(pp[1], "x", 1), 1);
    tu_join(w);
    ASSERT_EQ(pp_got, 1);
    ASSERT_EQ(pp_fd.revents, POLLIN);
    char c;
    ASSERT_EQ(read(pp[0], &c, 1), 1);
    struct timespec ts = {0, 10 * MS};
    int64_t t0 = tu_now_ns();
    ASSERT_EQ(ppoll(&pp_fd, 1, &ts, NULL), 0);
    ASSERT_GE(tu_now_ns() - t0, 10 * MS);
    ASSERT_EQ(ts.tv_nsec, 10 * MS);
    ts.tv_nsec = -1;
    ASSERT_ERRNO(ppoll(&pp_fd, 1, &ts, NULL), EINVAL);
}

TEST_IMPL(multiplex_ppoll)
{
    tu_run(ppoll_main, NULL);
}
