/*
 * test_io.c - gt_read/gt_write/gt_recv/gt_send/gt_accept/gt_connect/
 * gt_wait_fd/gt_close: parking on sockets and pipes, the caller's own
 * O_NONBLOCK, regular files, and 10,000 threads doing I/O at once.
 */
#include "test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- 10,000 threads echo over 5,000 socket pairs; a ticker keeps going -- */

#define PAIRS 5000
#define ECHO_ROUNDS 10
#define ECHO_MAX 512
static int pair_fd[PAIRS][2];
static gt_mutex_t go_lock = GT_MUTEX_INITIALIZER;
static gt_cond_t go_cond = GT_COND_INITIALIZER;
static int go, clients_waiting, servers_started;
static long echoed, ticks;
static int ticker_stop;

static size_t echo_len(int pair, int round)
{
    return 1 + (size_t)((pair * 31 + round * 17) % ECHO_MAX);
}

static void echo_fill(char *buf, size_t n, int pair, int round)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)(pair * 7 + round * 13 + (int)i);
}

static void echo_server(void *arg)
{
    int p = (int)(intptr_t)arg;
    char buf[ECHO_MAX];

    servers_started++;
    for (int r = 0; r < ECHO_ROUNDS; r++) {
        size_t n = echo_len(p, r);
        tu_gt_read_full(pair_fd[p][1], buf, n);
        tu_gt_write_full(pair_fd[p][1], buf, n);
    }
}

static void echo_client(void *arg)
{
    int p = (int)(intptr_t)arg;
    char out[ECHO_MAX], back[ECHO_MAX];

    ASSERT_EQ(gt_mutex_lock(&go_lock), 0);
    clients_waiting++;
    while (!go)
        ASSERT_EQ(gt_cond_wait(&go_cond, &go_lock), 0);
    ASSERT_EQ(gt_mutex_unlock(&go_lock), 0);
    for (int r = 0; r < ECHO_ROUNDS; r++) {
        size_t n = echo_len(p, r);
        echo_fill(out, n, p, r);
        tu_gt_write_full(pair_fd[p][0], out, n);
        tu_gt_read_full(pair_fd[p][0], back, n);
        ASSERT_MEM_EQ(back, out, n);
        echoed++;
    }
}

static void ticker(void *arg)
{
    (void)arg;
    while (!ticker_stop) {
        ticks++;
        ASSERT_EQ(gt_yield(), 0);
    }
}

static void echo_10k(void *arg)
{
    static gt_t servers[PAIRS], clients[PAIRS];
    long before_sleep, at_go;
    (void)arg;

    for (int p = 0; p < PAIRS; p++)
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair_fd[p]) != 0)
            FAIL("socketpair #%d of %d: %s", p, PAIRS, tu_errname(errno));
    gt_t tick = tu_spawn(ticker, NULL);
    for (int p = 0; p < PAIRS; p++) {
        servers[p] = tu_spawn(echo_server, (void *)(intptr_t)p);
        clients[p] = tu_spawn(echo_client, (void *)(intptr_t)p);
    }
    while (servers_started < PAIRS || clients_waiting < PAIRS)
        ASSERT_EQ(gt_yield(), 0);

    /* Every I/O thread is parked now: the ticker alone must keep running,
     * and this thread's timer must still fire. */
    before_sleep = ticks;
    ASSERT_EQ(gt_sleep_ns(20 * TU_MS), 0);
    ASSERT_GT(ticks, before_sleep);

    ASSERT_EQ(gt_mutex_lock(&go_lock), 0);
    go = 1;
    ASSERT_EQ(gt_cond_broadcast(&go_cond), 0);
    ASSERT_EQ(gt_mutex_unlock(&go_lock), 0);
    at_go = ticks;
    for (int p = 0; p < PAIRS; p++)
        tu_join(clients[p]);
    for (int p = 0; p < PAIRS; p++)
        tu_join(servers[p]);
    ASSERT_GT(ticks, at_go);
    ticker_stop = 1;
    tu_join(tick);
    for (int p = 0; p < PAIRS; p++) {
        ASSERT_EQ(gt_close(pair_fd[p][0]), 0);
        ASSERT_EQ(gt_close(pair_fd[p][1]), 0);
    }
}

TEST_IMPL(io_echo_10k)
{
    tu_raise_nofile(2 * PAIRS + 64);
    tu_run(echo_10k, NULL);
    ASSERT_EQ(echoed, (long)PAIRS * ECHO_ROUNDS);
}

/* ---- loopback TCP: gt_accept and gt_connect ----------------------------- */

#define TCP_CLIENTS 100
#define TCP_MSG 32
static int listen_fd;
static struct sockaddr_in listen_addr;
static int accepted, served, clients_ok;

static void tcp_handler(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[TCP_MSG];

    tu_gt_read_full(fd, buf, sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] ^= 0x5a;
    tu_gt_write_full(fd, buf, sizeof buf);
    ASSERT_EQ(gt_read(fd, buf, sizeof buf), 0); /* the client closed */
    ASSERT_EQ(gt_close(fd), 0);
    served++;
}

static void tcp_acceptor(void *arg)
{
    gt_attr_t detached = {.detached = 1};
    (void)arg;

    for (int i = 0; i < TCP_CLIENTS; i++) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        gt_t t;
        int fd = gt_accept(listen_fd, (struct sockaddr *)&peer, &len);
        if (fd < 0)
            FAIL("gt_accept #%d: %s", i, tu_errname(errno));
        ASSERT_EQ(len, sizeof peer);
        ASSERT_EQ(peer.sin_family, AF_INET);
        ASSERT_EQ(ntohl(peer.sin_addr.s_addr), INADDR_LOOPBACK);
        accepted++;
        ASSERT_EQ(gt_spawn(&t, tcp_handler, (void *)(intptr_t)fd,
                           &detached), 0);
    }
}

static void tcp_client(void *arg)
{
    int i = (int)(intptr_t)arg;
    char out[TCP_MSG], back[TCP_MSG];
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ASSERT_GE(fd, 0);
    ASSERT_OK(gt_connect(fd, (struct sockaddr *)&listen_addr,
                         sizeof listen_addr));
    for (size_t k = 0; k < sizeof out; k++)
        out[k] = (char)(i + (int)k);
    tu_gt_write_full(fd, out, sizeof out);
    tu_gt_read_full(fd, back, sizeof back);
    for (size_t k = 0; k < sizeof out; k++)
        out[k] ^= 0x5a;
    ASSERT_MEM_EQ(back, out, sizeof out);
    ASSERT_EQ(gt_close(fd), 0);
    clients_ok++;
}

static void tcp_test(void *arg)
{
    gt_t clients[TCP_CLIENTS];
    socklen_t len = sizeof listen_addr;
    int one = 1;
    (void)arg;

    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(listen_fd, 0);
    ASSERT_OK(setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one,
                         sizeof one));
    listen_addr.sin_family = AF_INET;
    listen_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_OK(bind(listen_fd, (struct sockaddr *)&listen_addr,
                   sizeof listen_addr));
    ASSERT_OK(listen(listen_fd, 128));
    ASSERT_OK(getsockname(listen_fd, (struct sockaddr *)&listen_addr, &len));

    /* The acceptor parks in gt_accept before any client exists. */
    gt_t acc = tu_spawn(tcp_acceptor, NULL);
    gt_yield();
    ASSERT_EQ(accepted, 0);
    for (int i = 0; i < TCP_CLIENTS; i++)
        clients[i] = tu_spawn(tcp_client, (void *)(intptr_t)i);
    for (int i = 0; i < TCP_CLIENTS; i++)
        tu_join(clients[i]);
    tu_join(acc);
    ASSERT_EQ(gt_close(listen_fd), 0);
}

TEST_IMPL(io_tcp_accept_connect)
{
    tu_run(tcp_test, NULL);
    ASSERT_EQ(accepted, TCP_CLIENTS);
    ASSERT_EQ(clients_ok, TCP_CLIENTS);
    ASSERT_EQ(served, TCP_CLIENTS);
}

static void refused_and_nonblocking(void *arg)
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t len = sizeof addr;
    int bound, fd, lfd;
    (void)arg;

    /* A port that is bound but not listening refuses connections. */
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bound = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(bound, 0);
    ASSERT_OK(bind(bound, (struct sockaddr *)&addr, sizeof addr));
    ASSERT_OK(getsockname(bound, (struct sockaddr *)&addr, &len));
    fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    ASSERT_ERRNO(gt_connect(fd, (struct sockaddr *)&addr, sizeof addr),
                 ECONNREFUSED);
    ASSERT_EQ(gt_close(fd), 0);
    /* The same through the interposed connect(). */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    ASSERT_ERRNO(connect(fd, (struct sockaddr *)&addr, sizeof addr),
                 ECONNREFUSED);
    ASSERT_EQ(close(fd), 0);
    ASSERT_EQ(gt_close(bound), 0);

    /* A listener the caller made non-blocking: EAGAIN, no parking. */
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ASSERT_GE(lfd, 0);
    addr.sin_port = 0;
    ASSERT_OK(bind(lfd, (struct sockaddr *)&addr, sizeof addr));
    ASSERT_OK(listen(lfd, 4));
    ASSERT_ERRNO(gt_accept(lfd, NULL, NULL), EAGAIN);
    ASSERT_EQ(gt_close(lfd), 0);
}

TEST_IMPL(io_connect_refused)
{
    tu_run(refused_and_nonblocking, NULL);
}

/* ---- gt_wait_fd ---------------------------------------------------------- */

static int wpipe[2];
static int wait_rc[2], wait_done;

static void wait_readable(void *arg)
{
    int i = (int)(intptr_t)arg;
    errno = 0;
    wait_rc[i] = gt_wait_fd(wpipe[0], POLLIN, GT_FOREVER);
    if (wait_rc[i] < 0)
        FAIL("gt_wait_fd(POLLIN, GT_FOREVER): %s", tu_errname(errno));
    wait_done++;
}

static void write_after_10ms(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_sleep_ns(10 * TU_MS), 0);
    ASSERT_EQ(wait_done, 0);
    ASSERT_EQ(gt_write(wpipe[1], "x", 1), 1);
}

static void wait_fd_test(void *arg)
{
    char c;
    int rc;
    (void)arg;

    ASSERT_OK(pipe(wpipe));
    int64_t t0 = tu_now_ns();
    ASSERT_ERRNO(gt_wait_fd(wpipe[0], POLLIN, 20 * TU_MS), ETIMEDOUT);
    ASSERT_GE(tu_now_ns() - t0, 20 * TU_MS);

    rc = gt_wait_fd(wpipe[1], POLLOUT, 1000 * TU_MS);
    ASSERT_GT(rc, 0);
    ASSERT_EQ(rc & POLLOUT, POLLOUT);

    /* Two threads wait for the same fd; one write wakes both. */
    gt_t a = tu_spawn(wait_readable, (void *)(intptr_t)0);
    gt_t b = tu_spawn(wait_readable, (void *)(intptr_t)1);
    gt_t w = tu_spawn(write_after_10ms, NULL);
    tu_join(a);
    tu_join(b);
    tu_join(w);
    ASSERT_EQ(wait_rc[0] & POLLIN, POLLIN);
    ASSERT_EQ(wait_rc[1] & POLLIN, POLLIN);

    /* Still readable: returns at once. */
    rc = gt_wait_fd(wpipe[0], POLLIN, 1000 * TU_MS);
    ASSERT_EQ(rc & POLLIN, POLLIN);
    ASSERT_EQ(gt_read(wpipe[0], &c, 1), 1);
    ASSERT_EQ(c, 'x');

    /* The write end closed: the read end reports a hang-up. */
    ASSERT_EQ(gt_close(wpipe[1]), 0);
    rc = gt_wait_fd(wpipe[0], POLLIN, 1000 * TU_MS);
    ASSERT_GT(rc, 0);
    ASSERT_EQ(rc & POLLHUP, POLLHUP);
    ASSERT_EQ(gt_read(wpipe[0], &c, 1), 0);
    ASSERT_EQ(gt_close(wpipe[0]), 0);
}

TEST_IMPL(io_wait_fd)
{
    tu_run(wait_fd_test, NULL);
    ASSERT_EQ(wait_done, 2);
}

/* ---- a wait after a short read ------------------------------------------ */

/* A short read of a stream socket drained it, so the wait that follows
 * skips its zero-timeout poll and trusts epoll's edges.  What it must not
 * lose: bytes sent after that read, the end of a stream whose edge came
 * with the bytes before it, and the other datagrams of a datagram socket
 * (there a short read is one message of several).  Those waits have no
 * timeout: one that missed what is there would sleep until the runner's
 * timeout fails the test. */
static int short_fd[2];
static int short_sent;

/* Parks on fd first, so that the poller reports what the peer sends next
 * in one edge, then reads less than the buffer holds. */
static void park_then_read_short(int fd, const char *want)
{
    char buf[64];
    ASSERT_GT(gt_wait_fd(fd, POLLIN, 5000 * TU_MS), 0);
    ASSERT_EQ(short_sent, 1);
    ssize_t n = gt_recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    ASSERT_EQ(n, (ssize_t)strlen(want));
    ASSERT_MEM_EQ(buf, want, (size_t)n);
}

static void short_then_more(void *arg)
{
    char c = 0;
    (void)arg;
    park_then_read_short(short_fd[0], "abc");
    /* More comes after the read, with no poll in between. */
    ASSERT_EQ(gt_write(short_fd[1], "d", 1), 1);
    int rc = gt_wait_fd(short_fd[0], POLLIN, -1);
    ASSERT_GT(rc, 0);
    ASSERT_EQ(gt_recv(short_fd[0], &c, 1, MSG_DONTWAIT), 1);
    ASSERT_EQ(c, 'd');
}

static void short_then_end(void *arg)
{
    char c;
    (void)arg;
    park_then_read_short(short_fd[0], "abc");
    /* The end came with "abc": still readable. */
    int rc = gt_wait_fd(short_fd[0], POLLIN, -1);
    ASSERT_GT(rc, 0);
    ASSERT_EQ(gt_recv(short_fd[0], &c, 1, MSG_DONTWAIT), 0);
}

static void short_then_datagram(void *arg)
{
    char buf[64];
    (void)arg;
    park_then_read_short(short_fd[0], "abc");
    int rc = gt_wait_fd(short_fd[0], POLLIN, -1);
    ASSERT_GT(rc, 0);
    ASSERT_EQ(gt_recv(short_fd[0], buf, sizeof buf, MSG_DONTWAIT), 3);
    ASSERT_MEM_EQ(buf, "def", 3);
}

static void short_read_case(int type, void (*reader)(void *), int end)
{
    short_sent = 0;
    ASSERT_OK(socketpair(AF_UNIX, type, 0, short_fd));
    gt_t r = tu_spawn(reader, NULL);
    ASSERT_EQ(gt_yield(), 0); /* the reader parks */
    ASSERT_EQ(gt_send(short_fd[1], "abc", 3, 0), 3);
    if (type == SOCK_DGRAM)
        ASSERT_EQ(gt_send(short_fd[1], "def", 3, 0), 3);
    if (end)
        ASSERT_OK(shutdown(short_fd[1], SHUT_WR));
    short_sent = 1;
    tu_join(r);
    ASSERT_EQ(gt_close(short_fd[0]), 0);
    ASSERT_EQ(gt_close(short_fd[1]), 0);
}

static void short_read_test(void *arg)
{
    (void)arg;
    short_read_case(SOCK_STREAM, short_then_more, 0);
    short_read_case(SOCK_STREAM, short_then_end, 1);
    short_read_case(SOCK_DGRAM, short_then_datagram, 0);
}

TEST_IMPL(io_wait_after_short_read)
{
    tu_run(short_read_test, NULL);
}

/* ---- a ready fd is not held back by threads that keep the queue full ---- */

/* A ring of threads hands a turn round, each running RING_BUSY_NS on the
 * CPU before it passes the turn on and parks: the run queue never drains,
 * and every run is long.  The first turn makes a pipe readable that a
 * parked reader waits on.  The reader must run within a few turns, not
 * after the ring has made a thousand switches (or, here, stopped at
 * RING_TURNS): the count of turns is the test, not a time. */
#define RING 8
#define RING_TURNS 200
#define RING_BUSY_NS 2000000
static gt_mutex_t ring_lock = GT_MUTEX_INITIALIZER;
static gt_cond_t ring_cv[RING];
static int ring_turn, ring_turns, ring_stop, ring_pipe[2];
static int turns_when_read = -1;

static void ring_member(void *arg)
{
    int me = (int)(intptr_t)arg;
    ASSERT_EQ(gt_mutex_lock(&ring_lock), 0);
    for (;;) {
        while (ring_turn != me && !ring_stop)
            ASSERT_EQ(gt_cond_wait(&ring_cv[me], &ring_lock), 0);
        if (ring_stop)
            break;
        if (ring_turns == 0)
            ASSERT_EQ(write(ring_pipe[1], "x", 1), 1);
        int64_t until = gt_now_ns() + RING_BUSY_NS;
        while (gt_now_ns() < until)
            ; /* work that does not park */
        if (++ring_turns == RING_TURNS)
            ring_stop = 1;
        ring_turn = (me + 1) % RING;
        ASSERT_EQ(gt_cond_signal(&ring_cv[ring_turn]), 0);
    }
    ASSERT_EQ(gt_mutex_unlock(&ring_lock), 0);
}

static void ring_reader(void *arg)
{
    char c;
    (void)arg;
    ASSERT_EQ(gt_read(ring_pipe[0], &c, 1), 1);
    turns_when_read = ring_turns;
    ring_stop = 1;
    for (int i = 0; i < RING; i++)
        ASSERT_EQ(gt_cond_signal(&ring_cv[i]), 0);
}

static void ring_test(void *arg)
{
    gt_t r, m[RING];
    (void)arg;
    ASSERT_OK(pipe(ring_pipe));
    for (int i = 0; i < RING; i++)
        ASSERT_EQ(gt_cond_init(&ring_cv[i]), 0);
    r = tu_spawn(ring_reader, NULL);
    gt_yield(); /* the reader parks on the empty pipe */
    ring_turn = -1; /* nobody's until every member waits for its turn */
    for (int i = 0; i < RING; i++)
        m[i] = tu_spawn(ring_member, (void *)(intptr_t)i);
    gt_yield();
    ASSERT_EQ(gt_mutex_lock(&ring_lock), 0);
    ring_turn = 0;
    ASSERT_EQ(gt_cond_signal(&ring_cv[0]), 0);
    ASSERT_EQ(gt_mutex_unlock(&ring_lock), 0);
    for (int i = 0; i < RING; i++)
        tu_join(m[i]);
    tu_join(r);
    ASSERT_OK(close(ring_pipe[0]));
    ASSERT_OK(close(ring_pipe[1]));
}

TEST_IMPL(io_ready_fd_not_starved)
{
    tu_run(ring_test, NULL);
    /* The byte went in at turn 1; a poll is due 1 ms later, at the next
     * switch, so the reader runs after turn 2 or 3. */
    ASSERT_GT(turns_when_read, 0);
    if (turns_when_read > 4)
        FAIL("the reader ran after %d turns of %d ms each", turns_when_read,
             RING_BUSY_NS / 1000000);
}

/* ---- a ready fd is not held back by a burst of new threads -------------- */

/* BURST threads are spawned at once, each running BURST_BUSY_NS before it
 * ends (a program starting its clients, each touching a fresh stack); a
 * parked reader's pipe is already readable.  The reader must run after a
 * few of them, not after all: the poll that finds it ready puts it in the
 * run queue's second line, which takes turns with the first. */
#define BURST 100
#define BURST_BUSY_NS 1000000
static int burst_pipe[2], burst_ran, burst_ran_before_read = -1;

static void burst_member(void *arg)
{
    (void)arg;
    int64_t until = gt_now_ns() + BURST_BUSY_NS;
    while (gt_now_ns() < until)
        ; /* work that does not park */
    burst_ran++;
}

static void burst_reader(void *arg)
{
    char c;
    (void)arg;
    ASSERT_EQ(gt_read(burst_pipe[0], &c, 1), 1);
    burst_ran_before_read = burst_ran;
}

static void burst_test(void *arg)
{
    gt_t r, m[BURST];
    (void)arg;
    ASSERT_OK(pipe(burst_pipe));
    r = tu_spawn(burst_reader, NULL);
    gt_yield(); /* the reader parks on the empty pipe */
    ASSERT_EQ(write(burst_pipe[1], "x", 1), 1);
    for (int i = 0; i < BURST; i++)
        m[i] = tu_spawn(burst_member, NULL);
    for (int i = 0; i < BURST; i++)
        tu_join(m[i]);
    tu_join(r);
    ASSERT_OK(close(burst_pipe[0]));
    ASSERT_OK(close(burst_pipe[1]));
}

TEST_IMPL(io_ready_fd_not_behind_burst)
{
    tu_run(burst_test, NULL);
    ASSERT_GT(burst_ran_before_read + 1, 0);
    if (burst_ran_before_read > 3)
        FAIL("the reader ran after %d of %d new threads", burst_ran_before_read,
             BURST);
}

/* ---- one fd, a reader and a writer parked on it at once ----------------- */

#define BIG (4 * 1024 * 1024)
static int duo[2];
static int reader_got;

static void duo_reader(void *arg)
{
    char c = 0;
    (void)arg;
    ASSERT_EQ(gt_read(duo[0], &c, 1), 1);
    ASSERT_EQ(c, 'r');
    reader_got = 1;
}

static void duo_writer(void *arg)
{
    char *big = malloc(BIG);
    (void)arg;
    ASSERT_NOT_NULL(big);
    for (size_t i = 0; i < BIG; i++)
        big[i] = (char)(i * 131 >> 7);
    tu_gt_write_full(duo[0], big, BIG);
    free(big);
}

static void duo_peer(void *arg)
{
    char *got = malloc(BIG);
    (void)arg;
    ASSERT_NOT_NULL(got);
    tu_gt_read_full(duo[1], got, BIG);
    for (size_t i = 0; i < BIG; i++)
        if (got[i] != (char)(i * 131 >> 7))
            FAIL("byte %zu of %d differs", i, BIG);
    free(got);
    ASSERT_EQ(reader_got, 0);
    ASSERT_EQ(gt_write(duo[1], "r", 1), 1);
}

static void duo_test(void *arg)
{
    (void)arg;
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, duo));
    gt_t r = tu_spawn(duo_reader, NULL);
    gt_t w = tu_spawn(duo_writer, NULL);
    gt_yield(); /* both are parked on duo[0] now */
    gt_t p = tu_spawn(duo_peer, NULL);
    tu_join(r);
    tu_join(w);
    tu_join(p);
    ASSERT_EQ(gt_close(duo[0]), 0);
    ASSERT_EQ(gt_close(duo[1]), 0);
}

TEST_IMPL(io_read_write_same_fd)
{
    tu_run(duo_test, NULL);
    ASSERT_EQ(reader_got, 1);
}

/* ---- regular files and devices epoll cannot watch ------------------------ */

#define FILE_BYTES (256 * 1024)

static void files_test(void *arg)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    char *data = malloc(FILE_BYTES), *back = malloc(FILE_BYTES);
    size_t got = 0;
    char small[16];
    int fd;
    (void)arg;

    ASSERT_NOT_NULL(data);
    ASSERT_NOT_NULL(back);
    snprintf(path, sizeof path, "%s/gt-unit-XXXXXX",
             dir && *dir ? dir : P_tmpdir);
    fd = mkstemp(path);
    if (fd < 0)
        FAIL("mkstemp(%s): %s", path, strerror(errno));
    ASSERT_OK(unlink(path));
    for (size_t i = 0; i < FILE_BYTES; i++)
        data[i] = (char)(i ^ (i >> 8));
    tu_gt_write_full(fd, data, FILE_BYTES);
    ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
    while (got < FILE_BYTES) {
        size_t want = FILE_BYTES - got < 10000 ? FILE_BYTES - got : 10000;
        ssize_t r = gt_read(fd, back + got, want);
        ASSERT_GT(r, 0);
        got += (size_t)r;
    }
    ASSERT_EQ(got, FILE_BYTES);
    ASSERT_MEM_EQ(back, data, FILE_BYTES);
    ASSERT_EQ(gt_read(fd, small, sizeof small), 0); /* end of file */
    ASSERT_EQ(gt_close(fd), 0);
    ASSERT_ERRNO(gt_close(fd), EBADF);
    ASSERT_ERRNO(gt_read(fd, small, sizeof small), EBADF);

    /* Read-only: writing fails the way write(2) does. */
    fd = open("/dev/null", O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_ERRNO(gt_write(fd, "x", 1), EBADF);
    ASSERT_EQ(gt_read(fd, small, sizeof small), 0);
    ASSERT_EQ(gt_close(fd), 0);

    fd = open("/dev/zero", O_RDWR);
    ASSERT_GE(fd, 0);
    memset(small, 1, sizeof small);
    ASSERT_EQ(gt_read(fd, small, sizeof small), sizeof small);
    for (size_t i = 0; i < sizeof small; i++)
        ASSERT_EQ(small[i], 0);
    ASSERT_EQ(gt_write(fd, small, sizeof small), sizeof small);
    ASSERT_EQ(gt_close(fd), 0);
    free(data);
    free(back);
}

TEST_IMPL(io_regular_file)
{
    tu_run(files_test, NULL);
}

/* ---- the caller's O_NONBLOCK: EAGAIN without parking --------------------- */

static int rescue_fd, rescue_cancel;

/* Writes "RESCUE" to rescue_fd after arg milliseconds unless cancelled:
 * if a read that should fail at once parks instead, this ends it with
 * data the test recognises rather than a hang. */
static void rescue(void *arg)
{
    int steps = (int)(intptr_t)arg / 10;
    for (int i = 0; i < steps && !rescue_cancel; i++)
        ASSERT_EQ(gt_sleep_ns(10 * TU_MS), 0);
    if (!rescue_cancel)
        ASSERT_EQ(gt_write(rescue_fd, "RESCUE", 6), 6);
}


static int nb_ran;
static int blk[2];

static void note_ran(void *arg)
{
    (void)arg;
    nb_ran = 1;
}

static void fill_later(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_sleep_ns(5 * TU_MS), 0);
    ASSERT_EQ(gt_write(blk[1], "data", 4), 4);
}

static void nonblock_test(void *arg)
{
    static char buf[65536]; /* bigger than a default stack */
    int nb[2];
    (void)arg;

    ASSERT_OK(pipe2(nb, O_NONBLOCK));
    gt_t t = tu_spawn(note_ran, NULL);
    ASSERT_ERRNO(gt_read(nb[0], buf, sizeof buf), EAGAIN);
    ASSERT_EQ(nb_ran, 0);
    /* Fill the pipe, then a write fails with EAGAIN instead of parking. */
    for (;;) {
        errno = 0;
        ssize_t w = gt_write(nb[1], buf, sizeof buf);
        if (w < 0)
            break;
        ASSERT_GT(w, 0);
    }
    ASSERT_EQ(errno, EAGAIN);
    ASSERT_EQ(nb_ran, 0);
    tu_join(t);
    ASSERT_OK(gt_close(nb[0]));
    ASSERT_OK(gt_close(nb[1]));

    /* MSG_DONTWAIT asks for the same on a blocking socket. */
    int sp[2];
    ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
    rescue_fd = sp[1];
    rescue_cancel = 0;
    gt_t rs = tu_spawn(rescue, (void *)(intptr_t)2000);
    errno = 0;
    ssize_t got = gt_recv(sp[0], buf, 10, MSG_DONTWAIT);
    if (got >= 0)
        FAIL("gt_recv(MSG_DONTWAIT) on an empty blocking socket parked and "
             "returned %zd bytes 2 s later; expected -1/EAGAIN at once", got);
    ASSERT_EQ(errno, EAGAIN);
    rescue_cancel = 1;
    tu_join(rs);
    ASSERT_EQ(gt_send(sp[1], "peek", 4, 0), 4);
    ASSERT_EQ(gt_recv(sp[0], buf, 10, MSG_PEEK), 4);
    ASSERT_MEM_EQ(buf, "peek", 4);
    memset(buf, 0, 8);
    ASSERT_EQ(gt_recv(sp[0], buf, 10, 0), 4);
    ASSERT_MEM_EQ(buf, "peek", 4);
    ASSERT_OK(gt_close(sp[0]));
    ASSERT_OK(gt_close(sp[1]));

    /* A blocking pipe parks the reader until the writer comes. */
    ASSERT_OK(pipe(blk));
    gt_t f = tu_spawn(fill_later, NULL);
    ASSERT_EQ(gt_read(blk[0], buf, sizeof buf), 4);
    ASSERT_MEM_EQ(buf, "data", 4);
    tu_join(f);
    ASSERT_OK(gt_close(blk[0]));
    ASSERT_OK(gt_close(blk[1]));
}

TEST_IMPL(io_user_nonblock)
{
    tu_run(nonblock_test, NULL);
}

/* ---- gt_close forgets the fd: a new fd with the same number is new ------ */

static void close_forgets(void *arg)
{
    int p[2], q[2];
    char buf[16];
    (void)arg;

    ASSERT_OK(pipe(p));
    ASSERT_EQ(gt_write(p[1], "ab", 2), 2);
    ASSERT_EQ(gt_read(p[0], buf, sizeof buf), 2); /* the runtime knows p */
    int old_r = p[0], old_w = p[1];
    ASSERT_EQ(gt_close(p[0]), 0);
    ASSERT_EQ(gt_close(p[1]), 0);

    /* The kernel hands out the lowest free numbers: the same two. */
    ASSERT_OK(pipe2(q, O_NONBLOCK));
    ASSERT_EQ(q[0], old_r);
    ASSERT_EQ(q[1], old_w);
    rescue_fd = q[1];
    gt_t r = tu_spawn(rescue, (void *)(intptr_t)2000);
    /* The new pipe is non-blocking by the caller's choice: EAGAIN. */
    errno = 0;
    ssize_t n = gt_read(q[0], buf, sizeof buf);
    if (n >= 0)
        FAIL("gt_read on a fresh O_NONBLOCK pipe that reuses a closed fd's "
             "number parked and returned %zd bytes; expected -1/EAGAIN", n);
    ASSERT_EQ(errno, EAGAIN);
    rescue_cancel = 1;
    tu_join(r);
    ASSERT_EQ(gt_close(q[0]), 0);
    ASSERT_EQ(gt_close(q[1]), 0);

    /* And a blocking pipe reusing the numbers parks until data comes. */
    ASSERT_OK(pipe(p));
    ASSERT_EQ(p[0], old_r);
    rescue_fd = p[1];
    rescue_cancel = 0;
    r = tu_spawn(rescue, (void *)(intptr_t)10);
    ASSERT_EQ(gt_read(p[0], buf, sizeof buf), 6);
    ASSERT_MEM_EQ(buf, "RESCUE", 6);
    tu_join(r);
    ASSERT_EQ(gt_close(p[0]), 0);
    ASSERT_EQ(gt_close(p[1]), 0);
}

TEST_IMPL(io_close_forgets)
{
    tu_run(close_forgets, NULL);
}

/* ---- eventfd: an anonymous inode parks like a pipe ------------------------ */


static int efd;
static uint64_t efd_got;

static void efd_reader(void *arg)
{
    (void)arg;
    ASSERT_EQ(read(efd, &efd_got, sizeof efd_got), (ssize_t)sizeof efd_got);
}

static void efd_writer(void *arg)
{
    (void)arg;
    uint64_t v = 42;
    gt_sleep_ns(20 * TU_MS); /* runs only if the reader parked */
    ASSERT_EQ(write(efd, &v, sizeof v), (ssize_t)sizeof v);
}

static void eventfd_main(void *arg)
{
    (void)arg;
    efd = eventfd(0, 0);
    ASSERT_GE(efd, 0);
    /* If read() blocked the kernel thread, only the watchdog's write after
     * 3 s would end it, and with a different value. */
    uint64_t rescue = 7;
    struct tu_watchdog *wd = tu_watchdog_start(efd, &rescue, sizeof rescue, 3000);
    gt_t r = tu_spawn(efd_reader, NULL), w = tu_spawn(efd_writer, NULL);
    tu_join(r);
    tu_join(w);
    ASSERT_EQ(tu_watchdog_stop(wd), 0);
    ASSERT_EQ(efd_got, 42);
    /* The program never asked for O_NONBLOCK, and does not see it. */
    ASSERT_EQ(fcntl(efd, F_GETFL) & O_NONBLOCK, 0);
    close(efd);
}

TEST_IMPL(io_eventfd_parks)
{
    tu_run(eventfd_main, NULL);
}
