/*
 * test_blocking.c - the blocking calls beyond read and write: sendfile,
 * the open of a FIFO, flock and fcntl locks.  From a green thread each
 * waits by parking the caller only (another green thread keeps running,
 * the registry shows the caller parked at its own call site) and returns
 * what the blocking call would have.
 */
#include "test.h"

#include <fcntl.h>
#include <gt/registry.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS TU_MS

/* Yields until t is parked in fn, for 5 s at most. */
static void await_parked(gt_t t, void (*fn)(void *), uint8_t kind)
{
    int64_t t0 = tu_now_ns();
    while (!tu_parked_in(t, fn, kind)) {
        if (tu_now_ns() - t0 > 5000 * MS)
            FAIL("thread %llu never parked in the function at %p (state %u, "
                 "wait kind %u)", (unsigned long long)t.id, (void *)fn,
                 tu_rec(t)->state, tu_rec(t)->wait_kind);
        gt_sleep_ns(1 * MS);
    }
}

static long ticks;
static int stop_ticker;

static void ticker(void *arg)
{
    (void)arg;
    while (!stop_ticker) {
        ticks++;
        gt_yield();
    }
}

static char tmpdir[64];

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/gt-test-XXXXXX");
    ASSERT_NOT_NULL(mkdtemp(tmpdir));
}

static void path_in_tmp(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

/* ---- sendfile of a file bigger than the socket's buffer ------------------ */

enum { FILE_BYTES = 3 * 1024 * 1024 + 123 };
static int sf_file, sf_sock[2];
static ssize_t sf_sent;
static off_t sf_off;
static unsigned char *sf_got;

static unsigned char pattern(size_t i) { return (unsigned char)(i * 7 + i / 251); }

__attribute__((noinline)) static void sf_sender(void *arg)
{
    (void)arg;
    sf_off = 0;
    sf_sent = sendfile(sf_sock[0], sf_file, &sf_off, FILE_BYTES);
    __asm__ volatile("");
}

static void sendfile_main(void *arg)
{
    (void)arg;
    char path[128];
    make_tmpdir();
    path_in_tmp(path, sizeof path, "big");
    sf_file = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(sf_file, 0);
    unsigned char *buf = malloc(FILE_BYTES);
    ASSERT_NOT_NULL(buf);
    for (size_t i = 0; i < FILE_BYTES; i++)
        buf[i] = pattern(i);
    ASSERT_EQ(write(sf_file, buf, FILE_BYTES), FILE_BYTES);
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sf_sock));
    int small = 16 * 1024;
    ASSERT_OK(setsockopt(sf_sock[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small));

    ticks = 0;
    stop_ticker = 0;
    gt_t tk = tu_spawn(ticker, NULL);
    gt_t s = tu_spawn(sf_sender, NULL);
    /* The buffer fills: the sender parks on the socket's writability. */
    await_parked(s, sf_sender, GT_WAIT_FD);
    ASSERT_EQ(tu_rec(s)->wait_obj, sf_sock[0]);
    ASSERT_EQ(tu_rec(s)->wait_arg, POLLOUT);
    long before = ticks;
    /* A slow reader: small reads, a pause now and then. */
    sf_got = calloc(1, FILE_BYTES);
    ASSERT_NOT_NULL(sf_got);
    size_t got = 0;
    int reads = 0;
    while (got < FILE_BYTES) {
        ssize_t r = read(sf_sock[1], sf_got + got,
                         FILE_BYTES - got < 8192 ? FILE_BYTES - got : 8192);
        ASSERT_GT(r, 0);
        got += (size_t)r;
        if (++reads % 64 == 0)
            gt_sleep_ns(1 * MS);
    }
    tu_join(s);
    ASSERT_GT(ticks, before);
    ASSERT_EQ(sf_sent, FILE_BYTES);
    ASSERT_EQ(sf_off, FILE_BYTES);
    ASSERT_MEM_EQ(sf_got, buf, FILE_BYTES);

    /* No offset: from the file position, which moves. */
    ASSERT_EQ(lseek(sf_file, FILE_BYTES - 1000, SEEK_SET), FILE_BYTES - 1000);
    ASSERT_EQ(sendfile(sf_sock[0], sf_file, NULL, 5000), 1000);
    ASSERT_EQ(lseek(sf_file, 0, SEEK_CUR), FILE_BYTES);
    ASSERT_EQ(read(sf_sock[1], sf_got, 5000), 1000);
    ASSERT_MEM_EQ(sf_got, buf + FILE_BYTES - 1000, 1000);
    /* The program's own O_NONBLOCK: a short count, then EAGAIN. */
    ASSERT_OK(fcntl(sf_sock[0], F_SETFL, O_NONBLOCK));
    sf_off = 0;
    ssize_t part = sendfile(sf_sock[0], sf_file, &sf_off, FILE_BYTES);
    ASSERT_GT(part, 0);
    ASSERT_LT(part, FILE_BYTES);
    ASSERT_ERRNO(sendfile(sf_sock[0], sf_file, &sf_off, FILE_BYTES), EAGAIN);
    ASSERT_ERRNO(sendfile(sf_sock[0], -1, &sf_off, 10), EBADF);
    stop_ticker = 1;
    tu_join(tk);
    free(buf);
    unlink(path);
    rmdir(tmpdir);
}

TEST_IMPL(blocking_sendfile_parks)
{
    tu_run(sendfile_main, NULL);
}

/* ---- the open of a FIFO waits for the other end -------------------------- */

static char fifo[128];
static int fifo_rd = -1, fifo_wr = -1;
static char fifo_buf[8];
static ssize_t fifo_got;

__attribute__((noinline)) static void fifo_reader(void *arg)
{
    (void)arg;
    fifo_rd = open(fifo, O_RDONLY);
    __asm__ volatile("");
    ASSERT_GE(fifo_rd, 0);
    fifo_got = read(fifo_rd, fifo_buf, sizeof fifo_buf);
}

__attribute__((noinline)) static void fifo_writer(void *arg)
{
    (void)arg;
    fifo_wr = open(fifo, O_WRONLY | O_CLOEXEC);
    __asm__ volatile("");
    ASSERT_GE(fifo_wr, 0);
}

static void fifo_main(void *arg)
{
    (void)arg;
    make_tmpdir();
    path_in_tmp(fifo, sizeof fifo, "fifo");
    ASSERT_OK(mkfifo(fifo, 0600));
    struct tu_watchdog *wd = tu_watchdog_start(-1, NULL, 0, 3000);
    ticks = 0;
    stop_ticker = 0;
    gt_t tk = tu_spawn(ticker, NULL);

    /* The reader first: it waits, parked at its open, while others run. */
    gt_t r = tu_spawn(fifo_reader, NULL);
    await_parked(r, fifo_reader, GT_WAIT_FD);
    long before = ticks;
    while (ticks < before + 100)
        gt_yield();
    ASSERT_EQ(fifo_rd, -1);
    gt_t w = tu_spawn(fifo_writer, NULL);
    tu_join(w);
    ASSERT_GE(fifo_wr, 0);
    /* The reader's open returns (at its next look, the writer's open
     * wakes nothing), and it waits in read, on a blocking fd as asked. */
    int64_t t0 = tu_now_ns();
    while (fifo_rd < 0) {
        if (tu_now_ns() - t0 > 5000 * MS)
            FAIL("the reader's open never returned after the writer's");
        gt_sleep_ns(1 * MS);
    }
    await_parked(r, fifo_reader, GT_WAIT_FD);
    ASSERT_EQ(fcntl(fifo_rd, F_GETFL) & O_NONBLOCK, 0);
    ASSERT_EQ(fcntl(fifo_wr, F_GETFL) & O_NONBLOCK, 0);
    ASSERT_EQ(fcntl(fifo_wr, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    ASSERT_EQ(write(fifo_wr, "hi", 2), 2);
    tu_join(r);
    ASSERT_EQ(fifo_got, 2);
    ASSERT_MEM_EQ(fifo_buf, "hi", 2);
    ASSERT_OK(close(fifo_rd));
    ASSERT_OK(close(fifo_wr));

    /* The writer first: it waits for a reader. */
    fifo_rd = fifo_wr = -1;
    w = tu_spawn(fifo_writer, NULL);
    await_parked(w, fifo_writer, GT_WAIT_SLEEP);
    ASSERT_EQ(fifo_wr, -1);
    int rd = open(fifo, O_RDONLY); /* the writer is on its way: no wait */
    ASSERT_GE(rd, 0);
    tu_join(w);
    ASSERT_GE(fifo_wr, 0);
    ASSERT_EQ(write(fifo_wr, "yo", 2), 2);
    char c[2];
    ASSERT_EQ(read(rd, c, 2), 2);
    ASSERT_MEM_EQ(c, "yo", 2);
    ASSERT_OK(close(rd));
    ASSERT_OK(close(fifo_wr));

    /* A writer that comes and goes without a word: the reader's open
     * returns, and its read finds the end. */
    fifo_rd = -1;
    r = tu_spawn(fifo_reader, NULL);
    await_parked(r, fifo_reader, GT_WAIT_FD);
    int wr = open(fifo, O_WRONLY);
    ASSERT_GE(wr, 0);
    ASSERT_OK(close(wr));
    tu_join(r);
    ASSERT_EQ(fifo_got, 0);
    ASSERT_OK(close(fifo_rd));

    /* O_RDWR and O_NONBLOCK never wait, as in the kernel. */
    int rw = open(fifo, O_RDWR);
    ASSERT_GE(rw, 0);
    ASSERT_OK(close(rw));
    ASSERT_ERRNO(open(fifo, O_WRONLY | O_NONBLOCK), ENXIO);
    ASSERT_ERRNO(open("/nonexistent/fifo", O_RDONLY), ENOENT);
    if (tu_watchdog_stop(wd))
        FAIL("a FIFO open blocked the whole process");
    stop_ticker = 1;
    tu_join(tk);
    unlink(fifo);
    rmdir(tmpdir);
}

TEST_IMPL(blocking_fifo_open)
{
    tu_run(fifo_main, NULL);
}

/* ---- flock and fcntl locks ------------------------------------------------ */

static int lk_a, lk_b;
static int lk_b_done;

__attribute__((noinline)) static void lk_flock_b(void *arg)
{
    (void)arg;
    ASSERT_OK(flock(lk_b, LOCK_EX));
    __asm__ volatile("");
    lk_b_done = 1;
}

__attribute__((noinline)) static void lk_ofd_b(void *arg)
{
    (void)arg;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    ASSERT_OK(fcntl(lk_b, F_OFD_SETLKW, &fl));
    __asm__ volatile("");
    lk_b_done = 1;
}

__attribute__((noinline)) static void lk_posix_b(void *arg)
{
    (void)arg;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    ASSERT_OK(fcntl(lk_b, F_SETLKW, &fl));
    __asm__ volatile("");
    lk_b_done = 1;
}

/* b, waiting for the lock a holds: parked at its call site, counted at
 * that location, while the ticker runs; gets it once a lets go. */
static void contend(void (*b_fn)(void *), void (*release)(void))
{
    lk_b_done = 0;
    ticks = 0;
    stop_ticker = 0;
    gt_t tk = tu_spawn(ticker, NULL);
    gt_t b = tu_spawn(b_fn, NULL);
    await_parked(b, b_fn, GT_WAIT_SLEEP);
    ASSERT_EQ(tu_rec(b)->wait_obj, lk_b);
    uint32_t at = tu_rec(b)->location;
    long before = ticks;
    while (ticks < before + 100)
        gt_yield();
    ASSERT_EQ(lk_b_done, 0);
    uint64_t completed = tu_loc(at)->completed;
    release();
    tu_join(b);
    ASSERT_EQ(lk_b_done, 1);
    ASSERT_GE(tu_loc(at)->arrivals, 1);
    ASSERT_GT(tu_loc(at)->completed, completed);
    ASSERT_GT(tu_loc(at)->total_wait_ns, 0);
    stop_ticker = 1;
    tu_join(tk);
}

static void flock_release(void) { ASSERT_OK(flock(lk_a, LOCK_UN)); }

static void ofd_release(void)
{
    struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
    ASSERT_OK(fcntl(lk_a, F_OFD_SETLK, &fl));
}

static int holder_go[2], holder_ready[2];
static void posix_release(void)
{
    ASSERT_EQ(write(holder_go[1], "u", 1), 1);
}

static void locks_main(void *arg)
{
    (void)arg;
    /* flock: two open file descriptions of one file contend. */
    ASSERT_OK(flock(lk_a, LOCK_EX));
    contend(lk_flock_b, flock_release);
    ASSERT_ERRNO(flock(lk_a, LOCK_EX | LOCK_NB), EWOULDBLOCK);
    ASSERT_OK(flock(lk_b, LOCK_UN));
    /* Open file description locks: likewise. */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    ASSERT_OK(fcntl(lk_a, F_OFD_SETLKW, &fl));
    contend(lk_ofd_b, ofd_release);
    fl.l_type = F_UNLCK;
    ASSERT_OK(fcntl(lk_b, F_OFD_SETLK, &fl));
    /* POSIX record locks contend between processes: the holder is a
     * child, which lets go when told. */
    char c;
    ASSERT_EQ(write(holder_go[1], "t", 1), 1);
    ASSERT_EQ(read(holder_ready[0], &c, 1), 1);
    contend(lk_posix_b, posix_release);
    struct flock bad = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    ASSERT_ERRNO(fcntl(-1, F_SETLKW, &bad), EBADF);
    ASSERT_ERRNO(flock(-1, LOCK_EX), EBADF);
}

TEST_IMPL(blocking_locks_park)
{
    char path[128];
    make_tmpdir();
    path_in_tmp(path, sizeof path, "lock");
    lk_a = open(path, O_RDWR | O_CREAT, 0600);
    lk_b = open(path, O_RDWR);
    ASSERT_GE(lk_a, 0);
    ASSERT_GE(lk_b, 0);
    ASSERT_OK(pipe(holder_go));
    ASSERT_OK(pipe(holder_ready));
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        /* Told to take the lock, then to let go. */
        char c;
        if (read(holder_go[0], &c, 1) != 1)
            _exit(3);
        int fd = open(path, O_RDWR);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0)
            _exit(1);
        if (write(holder_ready[1], "l", 1) != 1 || read(holder_go[0], &c, 1) != 1)
            _exit(2);
        _exit(0); /* its locks go with it */
    }
    struct tu_watchdog *wd = tu_watchdog_start(-1, NULL, 0, 5000);
    tu_run(locks_main, NULL);
    if (tu_watchdog_stop(wd))
        FAIL("a lock wait blocked the whole process");
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* Outside the runtime: the system calls, blocking or not. */
    ASSERT_OK(flock(lk_a, LOCK_EX));
    ASSERT_ERRNO(flock(lk_b, LOCK_EX | LOCK_NB), EWOULDBLOCK);
    ASSERT_OK(flock(lk_a, LOCK_UN));
    ASSERT_OK(flock(lk_b, LOCK_EX));
    unlink(path);
    rmdir(tmpdir);
}

/* ---- recvmsg with MSG_WAITALL gathers every part ------------------------- */

static int wa[2];

static void wa_writer(void *arg)
{
    (void)arg;
    int pass = wa[1];
    char cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec v = {.iov_base = "abc", .iov_len = 3};
    struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = cbuf,
                       .msg_controllen = sizeof cbuf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pass, sizeof pass);
    ASSERT_EQ(sendmsg(wa[1], &m, 0), 3);
    ASSERT_EQ(gt_sleep_ns(2 * MS), 0);
    ASSERT_EQ(send(wa[1], "defgh", 5, 0), 5);
    ASSERT_EQ(gt_sleep_ns(2 * MS), 0);
    ASSERT_EQ(write(wa[1], "ij", 2), 2);
}

static void waitall_main(void *arg)
{
    (void)arg;
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, wa));
    gt_t w = tu_spawn(wa_writer, NULL);
    char a[4], b[6];
    struct iovec v[2] = {{a, sizeof a}, {b, sizeof b}};
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct msghdr m = {.msg_iov = v, .msg_iovlen = 2, .msg_control = cbuf,
                       .msg_controllen = sizeof cbuf};
    ASSERT_EQ(recvmsg(wa[0], &m, MSG_WAITALL), 10);
    ASSERT_MEM_EQ(a, "abcd", 4);
    ASSERT_MEM_EQ(b, "efghij", 6);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(c->cmsg_type, SCM_RIGHTS);
    int got;
    memcpy(&got, CMSG_DATA(c), sizeof got);
    ASSERT_GE(got, 0);
    ASSERT_OK(close(got));
    ASSERT_EQ(m.msg_flags & MSG_CTRUNC, 0);
    tu_join(w);

    /* A datagram is whole at once: no waiting for more. */
    int d[2];
    ASSERT_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, d));
    ASSERT_EQ(send(d[1], "12345", 5, 0), 5);
    ASSERT_EQ(send(d[1], "678", 3, 0), 3);
    char big[64];
    struct iovec one = {big, sizeof big};
    struct msghdr dm = {.msg_iov = &one, .msg_iovlen = 1};
    ASSERT_EQ(recvmsg(d[0], &dm, MSG_WAITALL), 5);
    ASSERT_EQ(recv(d[0], big, sizeof big, MSG_WAITALL), 3);
    ASSERT_MEM_EQ(big, "678", 3);
}

TEST_IMPL(blocking_recvmsg_waitall)
{
    tu_run(waitall_main, NULL);
}

/* ---- clock_nanosleep parks, relative or absolute -------------------------- */

__attribute__((noinline)) static void cns_sleeper(void *arg)
{
    (void)arg;
    struct timespec now, until;
    clock_gettime(CLOCK_MONOTONIC, &now);
    until = now;
    until.tv_nsec += 20 * MS;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    ASSERT_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL), 0);
    __asm__ volatile("");
    struct timespec after;
    clock_gettime(CLOCK_MONOTONIC, &after);
    ASSERT(after.tv_sec > until.tv_sec ||
           (after.tv_sec == until.tv_sec && after.tv_nsec >= until.tv_nsec));
}

static void cns_main(void *arg)
{
    (void)arg;
    ticks = 0;
    stop_ticker = 0;
    gt_t tk = tu_spawn(ticker, NULL);
    gt_t s = tu_spawn(cns_sleeper, NULL);
    await_parked(s, cns_sleeper, GT_WAIT_SLEEP);
    tu_join(s);
    long before = ticks;
    struct timespec rel = {0, 10 * MS}, rem = {1, 1};
    int64_t t0 = tu_now_ns();
    ASSERT_EQ(clock_nanosleep(CLOCK_REALTIME, 0, &rel, &rem), 0);
    ASSERT_GE(tu_now_ns() - t0, 10 * MS);
    ASSERT_GT(ticks, before);
    ASSERT_EQ(rem.tv_sec + rem.tv_nsec, 0);
    /* Its errors are its result, not errno. */
    rel.tv_nsec = 1000000000;
    ASSERT_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &rel, NULL), EINVAL);
    stop_ticker = 1;
    tu_join(tk);
}

TEST_IMPL(blocking_clock_nanosleep)
{
    tu_run(cns_main, NULL);
    struct timespec rel = {0, 1 * MS};
    ASSERT_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &rel, NULL), 0);
}

/* ---- recvmsg and sendmsg: MSG_DONTWAIT, or park ----------------------------- */

static int md[2];
static ssize_t md_got;
static char md_buf[4];

__attribute__((noinline)) static void md_reader(void *arg)
{
    (void)arg;
    struct iovec v = {md_buf, sizeof md_buf};
    struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
    md_got = recvmsg(md[0], &m, 0);
    __asm__ volatile("");
}

static void msg_main(void *arg)
{
    (void)arg;
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, md));
    char b[4];
    struct iovec v = {b, sizeof b};
    struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
    /* An empty blocking socket: MSG_DONTWAIT answers at once. */
    ASSERT_ERRNO(recvmsg(md[0], &m, MSG_DONTWAIT), EAGAIN);
    ASSERT_EQ(fcntl(md[0], F_GETFL) & O_NONBLOCK, 0);
    /* Without it, the reader parks at its call until data comes. */
    gt_t r = tu_spawn(md_reader, NULL);
    await_parked(r, md_reader, GT_WAIT_FD);
    ASSERT_EQ(tu_rec(r)->wait_obj, md[0]);
    memcpy(b, "abcd", 4);
    ASSERT_EQ(sendmsg(md[1], &m, 0), 4);
    tu_join(r);
    ASSERT_EQ(md_got, 4);
    ASSERT_MEM_EQ(md_buf, "abcd", 4);
    /* A full socket: sendmsg(MSG_DONTWAIT) says so, and nothing waits. */
    int small = 4096;
    ASSERT_OK(setsockopt(md[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof small));
    static char chunk[65536];
    struct iovec cv = {chunk, sizeof chunk};
    struct msghdr cm = {.msg_iov = &cv, .msg_iovlen = 1};
    ssize_t sent = 0, r2;
    while ((r2 = sendmsg(md[1], &cm, MSG_DONTWAIT)) > 0)
        sent += r2;
    ASSERT_EQ(r2, -1);
    ASSERT_EQ(errno, EAGAIN);
    ASSERT_GT(sent, 0);
}

TEST_IMPL(blocking_msg_dontwait)
{
    tu_run(msg_main, NULL);
}
