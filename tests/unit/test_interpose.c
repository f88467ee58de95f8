/*
 * test_interpose.c - the plain libc names libgt interposes.
 *
 * From a green thread they must park only the caller; from a plain pthread
 * or with no runtime at all they must behave as libc does: block the
 * calling kernel thread, return the same bytes and the same errno, and
 * show the caller's own file status flags.  Where "blocked the whole
 * process" would otherwise show up as a hang, a watchdog pthread (raw
 * system calls only) ends the wait with data the test recognises, so the
 * failure names the call.
 */
#include "test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* The kernel's own answer, bypassing any interposition. */
static int kernel_poll_now(struct pollfd *fds, nfds_t n)
{
    struct timespec zero = {0, 0};
    return (int)syscall(SYS_ppoll, fds, n, &zero, NULL, (size_t)0);
}

static int kernel_getfl(int fd)
{
    return (int)syscall(SYS_fcntl, fd, F_GETFL);
}

static void raw_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    syscall(SYS_nanosleep, &ts, NULL);
}

static long ticks;
static int ticker_stop;

static void ticker(void *arg)
{
    (void)arg;
    while (!ticker_stop) {
        ticks++;
        gt_yield();
    }
}

/* ---- read() on an empty pipe parks only the calling green thread -------- */

static int rp[2];
static int writer_ran, writer_ran_before_return;
static ssize_t read_got;
static char read_buf[32];

static void plain_reader(void *arg)
{
    (void)arg;
    read_got = read(rp[0], read_buf, sizeof read_buf);
    writer_ran_before_return = writer_ran;
}

static void plain_writer(void *arg)
{
    (void)arg;
    writer_ran = 1;
    ASSERT_EQ(write(rp[1], "hello", 5), 5);
}

static void read_parks(void *arg)
{
    struct tu_watchdog *wd;
    (void)arg;

    ASSERT_OK(pipe(rp));
    wd = tu_watchdog_start(rp[1], "WATCHDOG", 8, 3000);
    gt_t r = tu_spawn(plain_reader, NULL);
    gt_t w = tu_spawn(plain_writer, NULL);
    tu_join(r);
    tu_join(w);
    if (tu_watchdog_stop(wd))
        FAIL("read() on an empty pipe in a green thread blocked the whole "
             "kernel thread; only the watchdog's write after 3 s ended it");
    ASSERT_EQ(read_got, 5);
    ASSERT_MEM_EQ(read_buf, "hello", 5);
    ASSERT_EQ(writer_ran_before_return, 1);
    ASSERT_OK(close(rp[0]));
    ASSERT_OK(close(rp[1]));
}

TEST_IMPL(interpose_read_parks)
{
    tu_run(read_parks, NULL);
}

/* ---- outside the runtime, read() blocks like libc ----------------------- */

struct pthread_read {
    int fd;
    ssize_t got;
    int err;
    char buf[32];
    int in_thread;
    int64_t started, returned;
};

static void *pthread_reader(void *arg)
{
    struct pthread_read *r = arg;
    r->in_thread = gt_in_thread();
    r->started = tu_now_ns();
    errno = 0;
    r->got = read(r->fd, r->buf, sizeof r->buf);
    r->err = errno;
    r->returned = tu_now_ns();
    return NULL;
}

struct delayed_write {
    int fd;
    int ms;
    const char *data;
    int64_t wrote_at;
};

static void *pthread_delayed_writer(void *arg)
{
    struct delayed_write *w = arg;
    raw_sleep_ms(w->ms);
    w->wrote_at = tu_now_ns();
    if (write(w->fd, w->data, strlen(w->data)) != (ssize_t)strlen(w->data))
        FAIL("write from a pthread: %s", tu_errname(errno));
    return NULL;
}

static int outside_pipe[2];

/* Reads rfd from a new pthread while another pthread writes `data` to wfd
 * after 50 ms; asserts the read blocked until then and got the data. */
static void read_in_pthread(int rfd, int wfd, const char *data)
{
    struct pthread_read r = {.fd = rfd};
    struct delayed_write w = {.fd = wfd, .ms = 50, .data = data};
    pthread_t rt, wt;

    ASSERT_EQ(pthread_create(&rt, NULL, pthread_reader, &r), 0);
    ASSERT_EQ(pthread_create(&wt, NULL, pthread_delayed_writer, &w), 0);
    ASSERT_EQ(pthread_join(rt, NULL), 0);
    ASSERT_EQ(pthread_join(wt, NULL), 0);
    ASSERT_EQ(r.in_thread, 0);
    if (r.got < 0)
        FAIL("read() in a plain pthread on a blocking, empty fd returned "
             "-1 with %s; libc would block until the write",
             tu_errname(r.err));
    ASSERT_EQ(r.got, strlen(data));
    ASSERT_MEM_EQ(r.buf, data, strlen(data));
    /* It returned after the write, so it blocked until then. */
    ASSERT_GE(r.returned, w.wrote_at);
}

TEST_IMPL(interpose_read_outside_runtime)
{
    char buf[8];

    ASSERT_EQ(gt_in_thread(), 0);
    ASSERT_OK(pipe(outside_pipe));
    read_in_pthread(outside_pipe[0], outside_pipe[1], "hello");
    /* And on the process's main thread, with no runtime ever started. */
    struct delayed_write w = {.fd = outside_pipe[1], .ms = 30,
                              .data = "again"};
    pthread_t wt;
    ASSERT_EQ(pthread_create(&wt, NULL, pthread_delayed_writer, &w), 0);
    ASSERT_EQ(read(outside_pipe[0], buf, sizeof buf), 5);
    ASSERT_GE(tu_now_ns(), w.wrote_at);
    ASSERT_MEM_EQ(buf, "again", 5);
    ASSERT_EQ(pthread_join(wt, NULL), 0);
    ASSERT_OK(close(outside_pipe[0]));
    ASSERT_OK(close(outside_pipe[1]));
}

/* ---- a pthread running beside the runtime gets libc behaviour ----------- */

static atomic_int side_done;
static int side_in_thread = -1, side_yield_errno, side_flags;
static int shared_pipe[2], side_pipe[2];
static int64_t side_usleep_ns;

static void *side_pthread(void *arg)
{
    (void)arg;
    side_in_thread = gt_in_thread();
    errno = 0;
    if (gt_yield() == -1)
        side_yield_errno = errno;
    int64_t t0 = tu_now_ns();
    usleep(30000);
    side_usleep_ns = tu_now_ns() - t0;
    /* A fd a green thread used (so libgt made it non-blocking under the
     * hood) still blocks a plain reader, and shows no O_NONBLOCK. */
    side_flags = fcntl(shared_pipe[0], F_GETFL);
    read_in_pthread(shared_pipe[0], shared_pipe[1], "shared");
    read_in_pthread(side_pipe[0], side_pipe[1], "side");
    atomic_store(&side_done, 1);
    return NULL;
}

static void green_write_g(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_sleep_ns(5 * TU_MS), 0);
    ASSERT_EQ(write(shared_pipe[1], "g", 1), 1);
}

static void beside_runtime(void *arg)
{
    pthread_t pt;
    char buf[8];
    (void)arg;

    ASSERT_OK(pipe(shared_pipe));
    ASSERT_OK(pipe(side_pipe));
    /* A read that parks: libgt's non-blocking machinery now owns it. */
    gt_t g = tu_spawn(green_write_g, NULL);
    ASSERT_EQ(read(shared_pipe[0], buf, sizeof buf), 1);
    tu_join(g);
    printf("kernel flags of the shared pipe after a parked read: 0x%x\n",
           kernel_getfl(shared_pipe[0]));
    gt_t tick = tu_spawn(ticker, NULL);
    ASSERT_EQ(pthread_create(&pt, NULL, side_pthread, NULL), 0);
    long t0 = ticks;
    while (!atomic_load(&side_done))
        ASSERT_EQ(gt_sleep_ns(TU_MS), 0);
    ASSERT_GT(ticks, t0); /* green threads ran while the pthread blocked */
    ASSERT_EQ(pthread_join(pt, NULL), 0);
    ticker_stop = 1;
    tu_join(tick);
}

TEST_IMPL(interpose_pthread_beside_runtime)
{
    tu_run(beside_runtime, NULL);
    ASSERT_EQ(side_in_thread, 0);
    ASSERT_EQ(side_yield_errno, EPERM);
    ASSERT_GE(side_usleep_ns, 30 * 1000 * 1000);
    ASSERT_GE(side_flags, 0);
    ASSERT_EQ(side_flags & O_NONBLOCK, 0);
}

/* ---- errno semantics are the same inside and outside -------------------- */

struct errno_probe {
    ssize_t eagain_rc, ebadf_rc, epipe_rc, dontwait_rc;
    int eagain, ebadf, epipe, dontwait;
};

static int nb_pipe[2], broken_pipe[2], closed_fd;
/* One socket pair per context, for recv(MSG_DONTWAIT). */
static int dw_main[2], dw_green[2], dw_pthread[2];

static void probe(struct errno_probe *p, int dw[2])
{
    struct tu_watchdog *wd;
    char c[4];

    errno = 0;
    p->eagain_rc = read(nb_pipe[0], c, 1);
    p->eagain = errno;
    errno = 0;
    p->ebadf_rc = read(closed_fd, c, 1);
    p->ebadf = errno;
    errno = 0;
    p->epipe_rc = write(broken_pipe[1], "x", 1);
    p->epipe = errno;
    /* A recv that parks or blocks instead of failing gets the watchdog's
     * two bytes after 2 s, and the check below names it. */
    wd = tu_watchdog_start(dw[1], "WD", 2, 2000);
    errno = 0;
    p->dontwait_rc = recv(dw[0], c, sizeof c, MSG_DONTWAIT);
    p->dontwait = errno;
    tu_watchdog_stop(wd);
}

static struct errno_probe in_green, in_pthread, in_main;
static int probe_bystander_ran, bystander_ran_during_probe;

static void probe_bystander(void *arg)
{
    (void)arg;
    probe_bystander_ran = 1;
}

static void probe_green(void *arg)
{
    (void)arg;
    gt_t b = tu_spawn(probe_bystander, NULL);
    probe(&in_green, dw_green);
    bystander_ran_during_probe = probe_bystander_ran;
    tu_join(b);
}

static void *probe_pthread(void *arg)
{
    (void)arg;
    probe(&in_pthread, dw_pthread);
    return NULL;
}

static void check_probe(const char *where, const struct errno_probe *p)
{
    if (p->eagain_rc != -1 || p->eagain != EAGAIN)
        FAIL("%s: read() on an empty O_NONBLOCK pipe gave %zd/%s, "
             "expected -1/EAGAIN", where, p->eagain_rc,
             tu_errname(p->eagain));
    if (p->ebadf_rc != -1 || p->ebadf != EBADF)
        FAIL("%s: read() on a closed fd gave %zd/%s, expected -1/EBADF",
             where, p->ebadf_rc, tu_errname(p->ebadf));
    if (p->epipe_rc != -1 || p->epipe != EPIPE)
        FAIL("%s: write() to a pipe without reader gave %zd/%s, expected "
             "-1/EPIPE", where, p->epipe_rc, tu_errname(p->epipe));
    if (p->dontwait_rc >= 0)
        FAIL("%s: recv(MSG_DONTWAIT) on an empty blocking socket waited and "
             "returned %zd bytes (the watchdog's, written after 2 s); "
             "expected -1/EAGAIN at once", where, p->dontwait_rc);
    if (p->dontwait != EAGAIN)
        FAIL("%s: recv(MSG_DONTWAIT) on an empty blocking socket gave -1/%s, "
             "expected -1/EAGAIN", where, tu_errname(p->dontwait));
}

TEST_IMPL(interpose_errno_semantics)
{
    pthread_t pt;
    int spare[2];

    signal(SIGPIPE, SIG_IGN);
    ASSERT_OK(pipe2(nb_pipe, O_NONBLOCK));
    ASSERT_OK(pipe(broken_pipe));
    ASSERT_OK(close(broken_pipe[0]));
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, dw_main));
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, dw_green));
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, dw_pthread));
    /* A closed fd far above the lowest free one, so nothing reuses it. */
    ASSERT_OK(pipe(spare));
    closed_fd = fcntl(spare[1], F_DUPFD, 1000);
    ASSERT_GE(closed_fd, 1000);
    ASSERT_OK(close(closed_fd));
    ASSERT_OK(close(spare[0]));
    ASSERT_OK(close(spare[1]));

    probe(&in_main, dw_main);
    tu_run(probe_green, NULL);
    ASSERT_EQ(pthread_create(&pt, NULL, probe_pthread, NULL), 0);
    ASSERT_EQ(pthread_join(pt, NULL), 0);
    check_probe("outside the runtime", &in_main);
    check_probe("in a green thread", &in_green);
    check_probe("in a plain pthread", &in_pthread);
    /* None of the failing calls parked the green thread. */
    ASSERT_EQ(bystander_ran_during_probe, 0);
}

/* ---- sleep, usleep, nanosleep, poll(NULL, 0, ms) park only the caller --- */

static const char *const sleep_names[] = {"sleep(1)", "usleep(30000)",
                                          "nanosleep(20 ms)",
                                          "poll(NULL, 0, 25)"};
static const int64_t sleep_ns[] = {1000 * TU_MS, 30 * TU_MS, 20 * TU_MS,
                                   25 * TU_MS};
static int sleepers_done;

static void plain_sleeper(void *arg)
{
    int kind = (int)(intptr_t)arg;
    struct timespec ts = {0, 20 * 1000 * 1000}, rem = {9, 9};
    long t0 = ticks;
    int64_t start = tu_now_ns();

    switch (kind) {
    case 0:
        ASSERT_EQ(sleep(1), 0);
        break;
    case 1:
        ASSERT_EQ(usleep(30000), 0);
        break;
    case 2:
        ASSERT_EQ(nanosleep(&ts, &rem), 0);
        break;
    case 3:
        ASSERT_EQ(poll(NULL, 0, 25), 0);
        break;
    }
    int64_t took = tu_now_ns() - start;
    if (took < sleep_ns[kind])
        FAIL("%s returned after %" PRId64 " ns", sleep_names[kind], took);
    if (ticks == t0)
        FAIL("%s in a green thread blocked the kernel thread: no other "
             "green thread ran while it slept", sleep_names[kind]);
    sleepers_done++;
}

static void sleep_family(void *arg)
{
    gt_t t[4];
    (void)arg;

    gt_t tick = tu_spawn(ticker, NULL);
    for (int k = 0; k < 4; k++)
        t[k] = tu_spawn(plain_sleeper, (void *)(intptr_t)k);
    for (int k = 0; k < 4; k++)
        tu_join(t[k]);
    ticker_stop = 1;
    tu_join(tick);
}

static void bad_sleeps(void *arg)
{
    struct timespec bad = {0, 1000000000L}, neg = {-1, 0};
    (void)arg;
    ASSERT_ERRNO(nanosleep(&bad, NULL), EINVAL);
    ASSERT_ERRNO(nanosleep(&neg, NULL), EINVAL);
}

TEST_IMPL(interpose_sleep_family)
{
    tu_run(sleep_family, NULL);
    ASSERT_EQ(sleepers_done, 4);
    /* Invalid arguments fail as in libc, inside and outside. */
    tu_run(bad_sleeps, NULL);
    bad_sleeps(NULL);

    /* Outside the runtime they sleep the calling thread, as libc does. */
    struct timespec ts = {0, 15 * 1000 * 1000};
    int64_t t0 = tu_now_ns();
    ASSERT_EQ(usleep(15000), 0);
    ASSERT_GE(tu_now_ns() - t0, 15 * TU_MS);
    t0 = tu_now_ns();
    ASSERT_EQ(nanosleep(&ts, NULL), 0);
    ASSERT_GE(tu_now_ns() - t0, 15 * TU_MS);
    t0 = tu_now_ns();
    ASSERT_EQ(poll(NULL, 0, 15), 0);
    ASSERT_GE(tu_now_ns() - t0, 15 * TU_MS);
    ASSERT_EQ(sleep(0), 0);
}

/* ---- poll with several fds: the kernel's revents, exactly ---------------- */

static int pa[2], pb[2], pc[2];
static int poll_writer_ran, poll_writer_ran_before_return;
static int poll_rc;
static short poll_revents;

static void poll_forever(void *arg)
{
    struct pollfd p = {.fd = pb[0], .events = POLLIN};
    (void)arg;
    poll_rc = poll(&p, 1, -1);
    poll_revents = p.revents;
    poll_writer_ran_before_return = poll_writer_ran;
}

static void poll_writer(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_sleep_ns(10 * TU_MS), 0);
    poll_writer_ran = 1;
    ASSERT_EQ(write(pb[1], "b", 1), 1);
}

/* Polls with the interposed poll and with the raw system call and asserts
 * both agree on the count and on every revents. */
static void poll_matches_kernel(struct pollfd *fds, nfds_t n, int timeout,
                                int expect_rc)
{
    struct pollfd k[8];
    int krc, rc;

    ASSERT_LE(n, 8);
    memcpy(k, fds, n * sizeof *fds);
    krc = kernel_poll_now(k, n);
    ASSERT_EQ(krc, expect_rc);
    rc = poll(fds, n, timeout);
    ASSERT_EQ(rc, krc);
    for (nfds_t i = 0; i < n; i++)
        if (fds[i].revents != k[i].revents)
            FAIL("poll() entry %zu (fd %d, events 0x%x): revents 0x%x, the "
                 "kernel says 0x%x", (size_t)i, fds[i].fd, fds[i].events,
                 fds[i].revents, k[i].revents);
}

static void poll_test(void *arg)
{
    char c;
    int freefd;
    (void)arg;

    ASSERT_OK(pipe(pa));
    ASSERT_OK(pipe(pb));
    ASSERT_OK(pipe(pc));
    ASSERT_EQ(write(pa[1], "a", 1), 1);
    ASSERT_EQ(write(pc[1], "c", 1), 1);
    freefd = fcntl(pa[0], F_DUPFD, 1000); /* nothing will reuse it */
    ASSERT_GE(freefd, 1000);
    ASSERT_OK(close(freefd));

    struct pollfd fds[] = {
        {.fd = pa[0], .events = POLLIN},  {.fd = pb[0], .events = POLLIN},
        {.fd = pc[0], .events = POLLIN},  {.fd = pb[1], .events = POLLOUT},
        {.fd = -1, .events = POLLIN},     {.fd = freefd, .events = POLLIN},
    };
    poll_matches_kernel(fds, 6, 1000, 4);
    ASSERT_EQ(fds[0].revents, POLLIN);
    ASSERT_EQ(fds[1].revents, 0);
    ASSERT_EQ(fds[2].revents, POLLIN);
    ASSERT_EQ(fds[3].revents, POLLOUT);
    ASSERT_EQ(fds[4].revents, 0);
    ASSERT_EQ(fds[5].revents, POLLNVAL);

    /* Nothing ready: parks until a green writer comes. */
    struct tu_watchdog *wd = tu_watchdog_start(pb[1], "W", 1, 3000);
    gt_t p = tu_spawn(poll_forever, NULL);
    gt_t w = tu_spawn(poll_writer, NULL);
    tu_join(p);
    tu_join(w);
    if (tu_watchdog_stop(wd))
        FAIL("poll(-1) in a green thread blocked the kernel thread");
    ASSERT_EQ(poll_rc, 1);
    ASSERT_EQ(poll_revents, POLLIN);
    ASSERT_EQ(poll_writer_ran_before_return, 1);
    ASSERT_EQ(read(pb[0], &c, 1), 1);

    /* Nothing ready and a timeout: 0 after at least the timeout, and
     * others ran meanwhile. */
    ticker_stop = 0;
    gt_t tick = tu_spawn(ticker, NULL);
    struct pollfd one = {.fd = pb[0], .events = POLLIN};
    long t0 = ticks;
    int64_t start = tu_now_ns();
    ASSERT_EQ(poll(&one, 1, 30), 0);
    ASSERT_GE(tu_now_ns() - start, 30 * TU_MS);
    ASSERT_EQ(one.revents, 0);
    ASSERT_GT(ticks, t0);
    ticker_stop = 1;
    tu_join(tick);

    /* Hang-up once the writer is gone. */
    ASSERT_EQ(read(pc[0], &c, 1), 1);
    ASSERT_OK(close(pc[1]));
    struct pollfd hup[] = {{.fd = pc[0], .events = POLLIN},
                           {.fd = pa[0], .events = POLLIN}};
    poll_matches_kernel(hup, 2, 1000, 2);
    ASSERT_EQ(hup[0].revents, POLLHUP);

    for (int i = 0; i < 2; i++) {
        ASSERT_OK(close(pa[i]));
        ASSERT_OK(close(pb[i]));
    }
    ASSERT_OK(close(pc[0]));
}

TEST_IMPL(interpose_poll)
{
    tu_run(poll_test, NULL);

    /* Outside the runtime: the same answers. */
    ASSERT_OK(pipe(pa));
    ASSERT_OK(pipe(pb));
    ASSERT_EQ(write(pa[1], "a", 1), 1);
    struct pollfd fds[] = {{.fd = pa[0], .events = POLLIN},
                           {.fd = pb[0], .events = POLLIN},
                           {.fd = pb[1], .events = POLLOUT}};
    poll_matches_kernel(fds, 3, 1000, 2);
    int64_t start = tu_now_ns();
    struct pollfd one = {.fd = pb[0], .events = POLLIN};
    ASSERT_EQ(poll(&one, 1, 20), 0);
    ASSERT_GE(tu_now_ns() - start, 20 * TU_MS);
}

/* ---- fcntl(F_GETFL) shows the caller's flags, not libgt's ---------------- */

static int fl_sock[2];
static int fl_writer_ran;

static void fl_write_later(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_sleep_ns(10 * TU_MS), 0);
    fl_writer_ran = 1;
    ASSERT_EQ(write(fl_sock[1], "y", 1), 1);
}

static void fcntl_test(void *arg)
{
    char c;
    int fl;
    (void)arg;

    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, fl_sock));
    ASSERT_EQ(fcntl(fl_sock[0], F_GETFL) & O_NONBLOCK, 0);
    ASSERT_EQ(write(fl_sock[1], "x", 1), 1);
    ASSERT_EQ(read(fl_sock[0], &c, 1), 1); /* libgt now manages the fd */
    fl = fcntl(fl_sock[0], F_GETFL);
    ASSERT_GE(fl, 0);
    ASSERT_EQ(fl & O_NONBLOCK, 0);
    /* Everything else is the kernel's. */
    ASSERT_EQ(fl, kernel_getfl(fl_sock[0]) & ~O_NONBLOCK);

    /* Blocking by the caller's choice: read parks until data comes. */
    fl_writer_ran = 0;
    gt_t w = tu_spawn(fl_write_later, NULL);
    ASSERT_EQ(read(fl_sock[0], &c, 1), 1);
    ASSERT_EQ(c, 'y');
    ASSERT_EQ(fl_writer_ran, 1);
    tu_join(w);

    /* The caller turns O_NONBLOCK on: it shows, and read says EAGAIN. */
    ASSERT_OK(fcntl(fl_sock[0], F_SETFL, fl | O_NONBLOCK));
    ASSERT_EQ(fcntl(fl_sock[0], F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    ASSERT_ERRNO(read(fl_sock[0], &c, 1), EAGAIN);

    /* And off again: read parks again. */
    ASSERT_OK(fcntl(fl_sock[0], F_SETFL, fl & ~O_NONBLOCK));
    ASSERT_EQ(fcntl(fl_sock[0], F_GETFL) & O_NONBLOCK, 0);
    fl_writer_ran = 0;
    w = tu_spawn(fl_write_later, NULL);
    ASSERT_EQ(read(fl_sock[0], &c, 1), 1);
    ASSERT_EQ(fl_writer_ran, 1);
    tu_join(w);

    /* A socket created non-blocking shows it. */
    int nbs = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ASSERT_GE(nbs, 0);
    ASSERT_EQ(fcntl(nbs, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    ASSERT_OK(close(nbs));
}

TEST_IMPL(interpose_fcntl_flags)
{
    tu_run(fcntl_test, NULL);
    /* After the runtime is gone the caller's view still holds: no
     * O_NONBLOCK, and read blocks until a writer comes. */
    ASSERT_EQ(fcntl(fl_sock[0], F_GETFL) & O_NONBLOCK, 0);
    read_in_pthread(fl_sock[0], fl_sock[1], "later");
    ASSERT_OK(close(fl_sock[0]));
    ASSERT_OK(close(fl_sock[1]));
}

/* ---- readv / writev ------------------------------------------------------ */

static int vsock[2];
static char v1[5], v2[10], v3[16];
static ssize_t readv_first, readv_second;
static int writev_ran;

static void vreader(void *arg)
{
    struct iovec iov[2] = {{v1, sizeof v1}, {v2, sizeof v2}};
    struct iovec rest = {v3, sizeof v3};
    (void)arg;
    readv_first = readv(vsock[0], iov, 2);
    ASSERT_EQ(writev_ran, 1);
    readv_second = readv(vsock[0], &rest, 1);
}

static void vwriter(void *arg)
{
    struct iovec iov[3] = {{(void *)"hello", 5},
                           {(void *)"world", 5},
                           {(void *)"0123456789", 10}};
    (void)arg;
    writev_ran = 1;
    ASSERT_EQ(writev(vsock[1], iov, 3), 20);
}

static void vector_test(void *arg)
{
    (void)arg;
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, vsock));
    gt_t r = tu_spawn(vreader, NULL);
    gt_yield(); /* the reader parks on the empty socket */
    ASSERT_EQ(readv_first, 0);
    gt_t w = tu_spawn(vwriter, NULL);
    tu_join(r);
    tu_join(w);
    ASSERT_EQ(readv_first, 15);
    ASSERT_MEM_EQ(v1, "hello", 5);
    ASSERT_MEM_EQ(v2, "world01234", 10);
    ASSERT_EQ(readv_second, 5);
    ASSERT_MEM_EQ(v3, "56789", 5);
    ASSERT_OK(close(vsock[0]));
    ASSERT_OK(close(vsock[1]));
}

TEST_IMPL(interpose_readv_writev)
{
    tu_run(vector_test, NULL);
}

/* ---- recvfrom / sendto, recv / send -------------------------------------- */

static int udp_a, udp_b;
static struct sockaddr_in addr_a, addr_b;
static int sendto_ran;
static ssize_t recvfrom_got;
static char udp_buf[64];
static struct sockaddr_in udp_from;
static socklen_t udp_from_len;

static void udp_receiver(void *arg)
{
    (void)arg;
    udp_from_len = sizeof udp_from;
    recvfrom_got = recvfrom(udp_a, udp_buf, sizeof udp_buf, 0,
                            (struct sockaddr *)&udp_from, &udp_from_len);
    ASSERT_EQ(sendto_ran, 1);
}

static void udp_sender(void *arg)
{
    (void)arg;
    sendto_ran = 1;
    ASSERT_EQ(sendto(udp_b, "datagram", 8, 0, (struct sockaddr *)&addr_a,
                     sizeof addr_a), 8);
}

static int st[2];

static void send_in_two_parts(void *arg)
{
    (void)arg;
    ASSERT_EQ(send(st[1], "01234", 5, 0), 5);
    ASSERT_EQ(gt_sleep_ns(10 * TU_MS), 0);
    ASSERT_EQ(send(st[1], "56789", 5, 0), 5);
}

static int bind_loopback_udp(struct sockaddr_in *addr)
{
    socklen_t len = sizeof *addr;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);

    ASSERT_GE(fd, 0);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_OK(bind(fd, (struct sockaddr *)addr, sizeof *addr));
    ASSERT_OK(getsockname(fd, (struct sockaddr *)addr, &len));
    return fd;
}

static void datagram_test(void *arg)
{
    char buf[16];
    (void)arg;

    udp_a = bind_loopback_udp(&addr_a);
    udp_b = bind_loopback_udp(&addr_b);
    gt_t r = tu_spawn(udp_receiver, NULL);
    gt_yield();
    ASSERT_EQ(recvfrom_got, 0);
    gt_t s = tu_spawn(udp_sender, NULL);
    tu_join(r);
    tu_join(s);
    ASSERT_EQ(recvfrom_got, 8);
    ASSERT_MEM_EQ(udp_buf, "datagram", 8);
    ASSERT_EQ(udp_from_len, sizeof udp_from);
    ASSERT_EQ(udp_from.sin_port, addr_b.sin_port);
    ASSERT_EQ(udp_from.sin_addr.s_addr, addr_b.sin_addr.s_addr);
    ASSERT_OK(close(udp_a));
    ASSERT_OK(close(udp_b));

    /* recv with MSG_WAITALL on a blocking socket waits for all of it, as
     * libc does, even when it arrives in two parts. */
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, st));
    gt_t two = tu_spawn(send_in_two_parts, NULL);
    ssize_t got = recv(st[0], buf, 10, MSG_WAITALL);
    if (got != 10)
        FAIL("recv(MSG_WAITALL) of 10 bytes on a blocking socket returned "
             "%zd (errno %s) when the data came as 5 + 5 bytes 10 ms apart; "
             "libc waits for all 10", got, tu_errname(errno));
    ASSERT_MEM_EQ(buf, "0123456789", 10);
    tu_join(two);
    ASSERT_OK(close(st[0]));
    ASSERT_OK(close(st[1]));
}

TEST_IMPL(interpose_recvfrom_sendto)
{
    tu_run(datagram_test, NULL);
}

/* ---- accept4 and accept: flags as asked, parking until a client -------- */

static int acc_lfd;
static struct sockaddr_in acc_addr;
static int acc_nb_fl, acc_cloexec, acc_plain_fl;
static struct sockaddr_in acc_peer, client_local;
static char acc_buf[8], late_buf[8];
static int acc_eagain;

static void acc_server(void *arg)
{
    socklen_t len = sizeof acc_peer;
    (void)arg;

    int fd = accept4(acc_lfd, (struct sockaddr *)&acc_peer, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        FAIL("accept4: %s", tu_errname(errno));
    ASSERT_EQ(len, sizeof acc_peer);
    acc_nb_fl = fcntl(fd, F_GETFL);
    acc_cloexec = fcntl(fd, F_GETFD);
    /* Wait for the client's four bytes, then a second read finds nothing
     * and the fd is non-blocking by request. */
    struct pollfd pin = {.fd = fd, .events = POLLIN};
    ASSERT_EQ(poll(&pin, 1, -1), 1);
    ASSERT_EQ(read(fd, acc_buf, 4), 4);
    errno = 0;
    if (read(fd, acc_buf + 4, 4) == -1 && errno == EAGAIN)
        acc_eagain = 1;
    ASSERT_EQ(write(fd, "pong", 4), 4);
    ASSERT_OK(close(fd));

    fd = accept(acc_lfd, NULL, NULL);
    ASSERT_GE(fd, 0);
    acc_plain_fl = fcntl(fd, F_GETFL);
    ASSERT_EQ(read(fd, late_buf, 4), 4); /* parks: the client is slow */
    ASSERT_OK(close(fd));
}

static void acc_client(void *arg)
{
    char buf[4];
    socklen_t len = sizeof client_local;
    (void)arg;

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    ASSERT_OK(connect(fd, (struct sockaddr *)&acc_addr, sizeof acc_addr));
    ASSERT_OK(getsockname(fd, (struct sockaddr *)&client_local, &len));
    ASSERT_EQ(write(fd, "ping", 4), 4);
    ASSERT_EQ(read(fd, buf, 4), 4);
    ASSERT_MEM_EQ(buf, "pong", 4);
    ASSERT_OK(close(fd));

    fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    ASSERT_OK(connect(fd, (struct sockaddr *)&acc_addr, sizeof acc_addr));
    ASSERT_EQ(gt_sleep_ns(10 * TU_MS), 0);
    ASSERT_EQ(write(fd, "late", 4), 4);
    ASSERT_OK(close(fd));
}

static void accept_test(void *arg)
{
    socklen_t len = sizeof acc_addr;
    (void)arg;

    acc_lfd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(acc_lfd, 0);
    acc_addr.sin_family = AF_INET;
    acc_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_OK(bind(acc_lfd, (struct sockaddr *)&acc_addr, sizeof acc_addr));
    ASSERT_OK(listen(acc_lfd, 16));
    ASSERT_OK(getsockname(acc_lfd, (struct sockaddr *)&acc_addr, &len));
    gt_t s = tu_spawn(acc_server, NULL);
    gt_yield(); /* parked in accept4 */
    gt_t c = tu_spawn(acc_client, NULL);
    tu_join(s);
    tu_join(c);
    ASSERT_OK(close(acc_lfd));
}

TEST_IMPL(interpose_accept4)
{
    tu_run(accept_test, NULL);
    ASSERT_EQ(acc_nb_fl & O_NONBLOCK, O_NONBLOCK);
    ASSERT_EQ(acc_cloexec & FD_CLOEXEC, FD_CLOEXEC);
    ASSERT_EQ(acc_plain_fl & O_NONBLOCK, 0);
    ASSERT_MEM_EQ(acc_buf, "ping", 4);
    ASSERT_EQ(acc_eagain, 1);
    ASSERT_MEM_EQ(late_buf, "late", 4);
    ASSERT_EQ(acc_peer.sin_port, client_local.sin_port);
}

/* ---- close() forgets the fd: a reused number is a new file -------------- */

static int reuse_fd, reuse_cancel;

static void reuse_rescue(void *arg)
{
    int steps = (int)(intptr_t)arg / 10;
    for (int i = 0; i < steps && !reuse_cancel; i++)
        ASSERT_EQ(gt_sleep_ns(10 * TU_MS), 0);
    if (!reuse_cancel)
        ASSERT_EQ(write(reuse_fd, "RESCUE", 6), 6);
}

static void reuse_test(void *arg)
{
    int p[2], q[2], s[2];
    char buf[16];
    (void)arg;

    ASSERT_OK(pipe(p));
    ASSERT_EQ(write(p[1], "ab", 2), 2);
    ASSERT_EQ(read(p[0], buf, sizeof buf), 2);
    ASSERT_OK(close(p[0]));
    ASSERT_OK(close(p[1]));

    ASSERT_OK(pipe2(q, O_NONBLOCK));
    ASSERT_EQ(q[0], p[0]);
    ASSERT_EQ(fcntl(q[0], F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    reuse_fd = q[1];
    gt_t r = tu_spawn(reuse_rescue, (void *)(intptr_t)2000);
    errno = 0;
    ssize_t n = read(q[0], buf, sizeof buf);
    if (n >= 0)
        FAIL("read() on a fresh O_NONBLOCK pipe reusing a closed fd's "
             "number parked and returned %zd bytes; expected -1/EAGAIN", n);
    ASSERT_EQ(errno, EAGAIN);
    reuse_cancel = 1;
    tu_join(r);
    ASSERT_OK(close(q[0]));
    ASSERT_OK(close(q[1]));

    /* A blocking socket on the same number: read parks and gets data. */
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
    ASSERT_EQ(s[0], p[0]);
    ASSERT_EQ(fcntl(s[0], F_GETFL) & O_NONBLOCK, 0);
    reuse_fd = s[1];
    reuse_cancel = 0;
    r = tu_spawn(reuse_rescue, (void *)(intptr_t)10);
    ASSERT_EQ(read(s[0], buf, sizeof buf), 6);
    ASSERT_MEM_EQ(buf, "RESCUE", 6);
    tu_join(r);
    ASSERT_OK(close(s[0]));
    ASSERT_OK(close(s[1]));
}

TEST_IMPL(interpose_close_reuse)
{
    tu_run(reuse_test, NULL);
}

/* ---- write() to a full socket parks only the writer --------------------- */

#define WBIG (2 * 1024 * 1024)
static int wsock[2];
static long wticks_during;
static struct tu_watchdog *write_wd;

/* Ends a write that blocked the kernel thread: the peer stops reading. */
static void shut_peer(void *arg)
{
    (void)arg;
    syscall(SYS_shutdown, wsock[1], SHUT_RD);
    syscall(SYS_shutdown, wsock[0], SHUT_WR);
}

static void big_writer(void *arg)
{
    static char big[WBIG];
    size_t done = 0;
    (void)arg;
    for (size_t i = 0; i < WBIG; i++)
        big[i] = (char)(i % 251);
    long t0 = ticks;
    while (done < WBIG) {
        ssize_t w = write(wsock[0], big + done, WBIG - done);
        if (w <= 0 && tu_watchdog_fired(write_wd))
            FAIL("write() to a full socket in a green thread blocked the "
                 "whole kernel thread until the watchdog shut it down");
        if (w <= 0)
            FAIL("write() after %zu of %d bytes: %zd, %s", done, WBIG, w,
                 tu_errname(errno));
        done += (size_t)w;
    }
    wticks_during = ticks - t0;
}

static void big_reader(void *arg)
{
    static char got[WBIG];
    size_t done = 0;
    (void)arg;
    ASSERT_EQ(gt_sleep_ns(20 * TU_MS), 0); /* let the writer fill it */
    while (done < WBIG) {
        ssize_t r = read(wsock[1], got + done, WBIG - done);
        ASSERT_GT(r, 0);
        done += (size_t)r;
    }
    for (size_t i = 0; i < WBIG; i++)
        if (got[i] != (char)(i % 251))
            FAIL("byte %zu differs", i);
}

static void write_parks(void *arg)
{
    (void)arg;
    signal(SIGPIPE, SIG_IGN);
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, wsock));
    write_wd = tu_watchdog_call(5000, shut_peer, NULL);
    ticker_stop = 0;
    gt_t tick = tu_spawn(ticker, NULL);
    gt_t w = tu_spawn(big_writer, NULL);
    gt_t r = tu_spawn(big_reader, NULL);
    tu_join(w);
    tu_join(r);
    ASSERT_EQ(tu_watchdog_stop(write_wd), 0);
    ticker_stop = 1;
    tu_join(tick);
    ASSERT_GT(wticks_during, 0);
    ASSERT_OK(close(wsock[0]));
    ASSERT_OK(close(wsock[1]));
}

TEST_IMPL(interpose_write_parks)
{
    tu_run(write_parks, NULL);
}

/* ---- recvmsg / sendmsg park like recv / send ---------------------------- */

static int msock[2];
static int sendmsg_ran, sendmsg_ran_before_return;
static ssize_t recvmsg_got;
static int recvmsg_errno;
static char msg_a[3], msg_b[8];

static void msg_receiver(void *arg)
{
    struct iovec iov[2] = {{msg_a, sizeof msg_a}, {msg_b, sizeof msg_b}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
    (void)arg;
    errno = 0;
    recvmsg_got = recvmsg(msock[0], &mh, 0);
    recvmsg_errno = errno;
    sendmsg_ran_before_return = sendmsg_ran;
}

static void msg_sender(void *arg)
{
    struct iovec iov[2] = {{(void *)"abc", 3}, {(void *)"defgh", 5}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
    (void)arg;
    sendmsg_ran = 1;
    ASSERT_EQ(sendmsg(msock[1], &mh, 0), 8);
}

static void msg_test(void *arg)
{
    char c;
    (void)arg;

    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, msock));
    /* Let libgt manage the socket first, as a server's read() would. */
    ASSERT_EQ(write(msock[1], "x", 1), 1);
    ASSERT_EQ(read(msock[0], &c, 1), 1);
    struct tu_watchdog *wd = tu_watchdog_start(msock[1], "WATCHDOG", 8,
                                               3000);
    gt_t r = tu_spawn(msg_receiver, NULL);
    gt_t s = tu_spawn(msg_sender, NULL);
    tu_join(r);
    tu_join(s);
    int fired = tu_watchdog_stop(wd);
    if (recvmsg_got == -1)
        FAIL("recvmsg() on an empty blocking socket in a green thread "
             "failed with %s; libc would wait for data",
             tu_errname(recvmsg_errno));
    if (fired || !sendmsg_ran_before_return)
        FAIL("recvmsg() on an empty socket in a green thread blocked the "
             "kernel thread instead of parking (got %zd bytes%s)",
             recvmsg_got, fired ? ", the watchdog's, after 3 s" : "");
    ASSERT_EQ(recvmsg_got, 8);
    ASSERT_MEM_EQ(msg_a, "abc", 3);
    ASSERT_MEM_EQ(msg_b, "defgh", 5);
    ASSERT_OK(close(msock[0]));
    ASSERT_OK(close(msock[1]));
}

TEST_IMPL(interpose_recvmsg_sendmsg)
{
    tu_run(msg_test, NULL);
}

/* ---- a dup of a managed fd is still blocking for its user --------------- */

static int dsock[2];

static void dup_write_later(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_sleep_ns(10 * TU_MS), 0);
    ASSERT_EQ(write(dsock[1], "late", 4), 4);
}

static void dup_test(void *arg)
{
    char buf[8];
    (void)arg;

    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, dsock));
    /* A read that parks: libgt has made dsock[0] non-blocking inside. */
    gt_t w = tu_spawn(dup_write_later, NULL);
    ASSERT_EQ(read(dsock[0], buf, sizeof buf), 4);
    tu_join(w);

    int d = dup(dsock[0]);
    ASSERT_GE(d, 0);
    int fl = fcntl(d, F_GETFL);
    if (fl & O_NONBLOCK)
        FAIL("fcntl(F_GETFL) on a dup of a blocking socket shows "
             "O_NONBLOCK (flags 0x%x): libgt's own flag leaked through "
             "the new fd", fl);
    w = tu_spawn(dup_write_later, NULL);
    errno = 0;
    ssize_t n = read(d, buf, sizeof buf);
    if (n != 4)
        FAIL("read() on a dup of a blocking socket returned %zd (%s); "
             "expected to park until the 4 bytes came", n,
             tu_errname(errno));
    tu_join(w);
    ASSERT_OK(close(d));
    ASSERT_OK(close(dsock[0]));
    ASSERT_OK(close(dsock[1]));
}

TEST_IMPL(interpose_dup_managed_fd)
{
    tu_run(dup_test, NULL);
}

/* ---- ioctl(FIONBIO) is the caller asking for non-blocking mode ---------- */

static int io_sock[2], fionbio_cancel;

static void fionbio_rescue(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200 && !fionbio_cancel; i++)
        ASSERT_EQ(gt_sleep_ns(10 * TU_MS), 0);
    if (!fionbio_cancel)
        ASSERT_EQ(write(io_sock[1], "RESCUE", 6), 6);
}

static void fionbio_test(void *arg)
{
    char buf[8];
    int one = 1;
    (void)arg;

    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, io_sock));
    ASSERT_EQ(write(io_sock[1], "x", 1), 1);
    ASSERT_EQ(read(io_sock[0], buf, 1), 1);
    ASSERT_OK(ioctl(io_sock[0], FIONBIO, &one));
    gt_t r = tu_spawn(fionbio_rescue, NULL);
    errno = 0;
    ssize_t n = read(io_sock[0], buf, sizeof buf);
    if (n >= 0)
        FAIL("read() on an empty socket the caller made non-blocking with "
             "ioctl(FIONBIO) parked and returned %zd bytes 2 s later; "
             "expected -1/EAGAIN at once", n);
    ASSERT_EQ(errno, EAGAIN);
    fionbio_cancel = 1;
    tu_join(r);
    int fl = fcntl(io_sock[0], F_GETFL);
    if (!(fl & O_NONBLOCK))
        FAIL("fcntl(F_GETFL) after ioctl(FIONBIO, 1) does not show "
             "O_NONBLOCK (flags 0x%x)", fl);
    ASSERT_OK(close(io_sock[0]));
    ASSERT_OK(close(io_sock[1]));
}

TEST_IMPL(interpose_fionbio)
{
    tu_run(fionbio_test, NULL);
}
