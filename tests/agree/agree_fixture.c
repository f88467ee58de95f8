/*
 * agree_fixture.c - one program whose every observable number is known, so
 * that all readers (gt-stacks, gt-waste, gt-top, the GDB commands) can be
 * held to it and to each other.
 *
 * Usage: agree_fixture   (stdin: commands; stdout: ground truth)
 *
 * Phase 1 ("idle"): every thread parks, then the poller blocks in
 * epoll_wait until stdin says more: an idle stretch that started at
 * ready_ns.  Threads (name, entry, count, where they wait):
 *
 *   "reader"   reader_main -> read_deep x (READ_DEPTH + 1), read() of an
 *              empty pipe at the deepest level       3  fd     (LINE:read)
 *   "sleeper"  sleeper_main -> sleep_here, gt_sleep_ns(SLEEP_NS)
 *                                                    2  sleep  (LINE:sleep)
 *   "holder"   holder_main -> holder_wait: holds crit_mu, then receives on
 *              `never` (joinable: the joiner joins it) 1  chan_recv
 *                                                              (LINE:holder)
 *   "crit"     crit_left_main -> crit_left, and crit_right_main ->
 *              crit_right, both with critical() inlined, which locks
 *              crit_mu: two locations told apart only by their inline
 *              chains                          2 + 1  mutex   (LINE:critical)
 *   "condwait" cond_main -> cond_here, gt_cond_wait    2  cond   (LINE:cond)
 *   "joiner"   joiner_main -> join_here, gt_join(holder) 1 join  (LINE:join)
 *   "sender"   sender_main -> send_here, gt_chan_send on the full channel
 *              `full`                                2  chan_send (LINE:send)
 *   "receiver" receiver_main -> recv_here, gt_chan_recv on `never`
 *                                                    2  chan_recv (LINE:recv)
 *   "idle"     idle_main -> idle_wait, gt_wait_readable_then on its own
 *              empty pipe: no stack, entry becomes idle_restart
 *                                                    2  fd     (LINE:idle)
 *   "conn 127.0.0.1:4000N"  conn_main -> conn_wait, which wrote CONN_BUF
 *              bytes of stack, read() of an empty pipe: one class by entry
 *                                                    4  fd     (LINE:conn)
 *   "zombie"   zombie_main returns at once, joinable, never joined
 *                                                    1  exited
 *   "main"     main_thread: FILE_IO_CALLS read()s of a regular file,
 *              SETTLE_N sleeps of SETTLE_NS at one location (LINE:settle),
 *              then hold: read() of stdin          1  fd     (LINE:hold)
 *
 * It prints one line "truth {JSON}" when every thread has parked: the
 * clock readings that bound every age, the ids of each group, the wait
 * objects.  A line "go" on stdin starts phase 2 ("busy"): the main thread
 * spawns NFRESH threads "fresh" (entry fresh_main), which never run, and
 * blocks in a raw read(2) of stdin, never giving the CPU back: 1 running,
 * NFRESH runnable, the poller not blocked.  It prints "truth2 {JSON}"
 * first.  A SIGABRT then makes the runtime write down the moment and the
 * kernel a core.  End of stdin ends the program.
 *
 * Every function the tests name is global and noinline (but critical),
 * and no thread's last call is a tail call.
 */
#include <fcntl.h>
#include <gt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define KEEP() __asm__ volatile("" ::: "memory") /* not a tail call */

#define READ_DEPTH 3
#define SLEEP_NS (3600ll * 1000000000ll)
#define SETTLE_NS (3ll * 1000000)   /* one log2 bucket: [2^21, 2^22) ns */
#define SETTLE_N 4
#define FILE_IO_CALLS 5
#define CONN_BUF 6000
#define NFRESH 3

enum { G_READER, G_SLEEPER, G_HOLDER, G_CRIT_LEFT, G_CRIT_RIGHT, G_COND,
       G_JOINER, G_SENDER, G_RECEIVER, G_IDLE, G_CONN, G_ZOMBIE, G_COUNT };

static gt_chan_t *never;                  /* nothing is ever sent on it */
static gt_chan_t *full;                   /* capacity 1, holds a message */
static gt_mutex_t crit_mu = GT_MUTEX_INITIALIZER;
static gt_mutex_t cond_mu = GT_MUTEX_INITIALIZER;
static gt_cond_t cond = GT_COND_INITIALIZER;
static int read_pipe[2], conn_pipe[2];
static int idle_pipes[2][2];
static gt_t holder;

/* ---- the threads ------------------------------------------------------- */

NOINLINE int read_deep(int n)
{
    volatile char pad[64];
    pad[0] = (char)n;
    if (n == 0) {
        char c;
        return (int)read(read_pipe[0], &c, 1); /* LINE:read */
    }
    return read_deep(n - 1) + pad[0]; /* LINE:read_deep */
}

NOINLINE void reader_main(void *arg)
{
    (void)arg;
    read_deep(READ_DEPTH); /* LINE:reader_main */
    KEEP();
}

NOINLINE void sleep_here(void)
{
    gt_sleep_ns(SLEEP_NS); /* LINE:sleep */
    KEEP();
}

NOINLINE void sleeper_main(void *arg)
{
    (void)arg;
    sleep_here(); /* LINE:sleeper_main */
    KEEP();
}

NOINLINE void holder_wait(void)
{
    void *msg;
    gt_mutex_lock(&crit_mu);
    gt_chan_recv(never, &msg, GT_FOREVER); /* LINE:holder */
    gt_mutex_unlock(&crit_mu);
}

NOINLINE void holder_main(void *arg)
{
    (void)arg;
    holder_wait(); /* LINE:holder_main */
    KEEP();
}

static inline __attribute__((always_inline)) void critical(void)
{
    gt_mutex_lock(&crit_mu); /* LINE:critical */
    gt_mutex_unlock(&crit_mu);
}

NOINLINE void crit_left(void)
{
    critical(); /* LINE:crit_left */
    KEEP();
}

NOINLINE void crit_right(void)
{
    KEEP();
    critical(); /* LINE:crit_right */
    KEEP();
}

NOINLINE void crit_left_main(void *arg)
{
    (void)arg;
    crit_left(); /* LINE:crit_left_main */
    KEEP();
}

NOINLINE void crit_right_main(void *arg)
{
    (void)arg;
    crit_right(); /* LINE:crit_right_main */
    KEEP();
}

NOINLINE void cond_here(void)
{
    gt_mutex_lock(&cond_mu);
    gt_cond_wait(&cond, &cond_mu); /* LINE:cond */
    gt_mutex_unlock(&cond_mu);
}

NOINLINE void cond_main(void *arg)
{
    (void)arg;
    cond_here(); /* LINE:cond_main */
    KEEP();
}

NOINLINE void join_here(void)
{
    gt_join(holder); /* LINE:join */
    KEEP();
}

NOINLINE void joiner_main(void *arg)
{
    (void)arg;
    join_here(); /* LINE:joiner_main */
    KEEP();
}

NOINLINE void send_here(void)
{
    gt_chan_send(full, NULL, GT_FOREVER); /* LINE:send */
    KEEP();
}

NOINLINE void sender_main(void *arg)
{
    (void)arg;
    send_here(); /* LINE:sender_main */
    KEEP();
}

NOINLINE void recv_here(void)
{
    void *msg;
    gt_chan_recv(never, &msg, GT_FOREVER); /* LINE:recv */
    KEEP();
}

NOINLINE void receiver_main(void *arg)
{
    (void)arg;
    recv_here(); /* LINE:receiver_main */
    KEEP();
}

NOINLINE void idle_restart(void *arg)
{
    (void)arg;
    abort(); /* the idle pipes are never written */
}

NOINLINE void idle_wait(int *fds)
{
    gt_wait_readable_then(fds[0], GT_FOREVER, idle_restart, fds); /* LINE:idle */
    abort(); /* not reached: the pipe is empty, so the wait parks */
}

NOINLINE void idle_main(void *arg)
{
    idle_wait(arg); /* LINE:idle_main */
    KEEP();
}

NOINLINE void conn_wait(void)
{
    volatile char buf[CONN_BUF];
    char c;
    for (size_t i = 0; i < sizeof(buf); i += 64)
        buf[i] = 1;
    buf[sizeof(buf) - 1] = 1;
    if (read(conn_pipe[0], &c, 1) != 1) /* LINE:conn */
        abort();
    buf[0] = c;
}

NOINLINE void conn_main(void *arg)
{
    (void)arg;
    conn_wait(); /* LINE:conn_main */
    KEEP();
}

NOINLINE void zombie_main(void *arg)
{
    (void)arg;
}

NOINLINE void fresh_main(void *arg)
{
    (void)arg;
    abort(); /* never runs: the main thread never gives the CPU back */
}

/* ---- the main thread --------------------------------------------------- */

struct group {
    const char *key, *name;
    void (*fn)(void *);
    int n, detached;
    uint64_t ids[4];
};

static struct group groups[G_COUNT] = {
    [G_READER] = {"reader", "reader", reader_main, 3, 1, {0}},
    [G_SLEEPER] = {"sleeper", "sleeper", sleeper_main, 2, 1, {0}},
    [G_HOLDER] = {"holder", "holder", holder_main, 1, 0, {0}},
    [G_CRIT_LEFT] = {"crit_left", "crit", crit_left_main, 2, 1, {0}},
    [G_CRIT_RIGHT] = {"crit_right", "crit", crit_right_main, 1, 1, {0}},
    [G_COND] = {"condwait", "condwait", cond_main, 2, 1, {0}},
    [G_JOINER] = {"joiner", "joiner", joiner_main, 1, 1, {0}},
    [G_SENDER] = {"sender", "sender", sender_main, 2, 1, {0}},
    [G_RECEIVER] = {"receiver", "receiver", receiver_main, 2, 1, {0}},
    [G_IDLE] = {"idle", "idle", idle_main, 2, 1, {0}},
    [G_CONN] = {"conn", NULL, conn_main, 4, 1, {0}},
    [G_ZOMBIE] = {"zombie", "zombie", zombie_main, 1, 0, {0}},
};

static int64_t main_ns; /* before gt_main: at or before the runtime began */
static volatile int settle_n = SETTLE_N;

NOINLINE void settle(void)
{
    gt_sleep_ns(SETTLE_NS); /* LINE:settle */
    KEEP();
}

NOINLINE int hold(void)
{
    char line[64];
    ssize_t n = read(0, line, sizeof(line) - 1); /* LINE:hold */
    return n > 0 && strncmp(line, "go", 2) == 0;
}

/* Regular-file calls the registry must count: FILE_IO_CALLS read()s of
 * the program's own file, from a green thread. */
static void file_io(void)
{
    char buf[64];
    int fd = open("/proc/self/exe", O_RDONLY);
    if (fd < 0)
        abort();
    for (int i = 0; i < FILE_IO_CALLS; i++)
        if (read(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
            abort();
    close(fd);
}

static void print_ids(const char *key, const uint64_t *ids, int n)
{
    printf("\"%s\": [", key);
    for (int i = 0; i < n; i++)
        printf("%s%llu", i ? ", " : "", (unsigned long long)ids[i]);
    printf("]");
}

NOINLINE void main_thread(void *arg)
{
    (void)arg;
    int64_t first_ns = gt_now_ns(); /* at or after the runtime began */
    gt_set_name(gt_self(), "main");
    never = gt_chan_create(1);
    full = gt_chan_create(1);
    if (!never || !full || gt_chan_send(full, NULL, 0) < 0 || pipe(read_pipe) < 0 ||
        pipe(conn_pipe) < 0 || pipe(idle_pipes[0]) < 0 || pipe(idle_pipes[1]) < 0)
        abort();
    file_io();
    int64_t spawn_ns = gt_now_ns(); /* every wait began after this */
    for (int g = 0; g < G_COUNT; g++)
        for (int i = 0; i < groups[g].n; i++) {
            char name[GT_NAME_MAX];
            if (groups[g].name)
                snprintf(name, sizeof(name), "%s", groups[g].name);
            else
                snprintf(name, sizeof(name), "conn 127.0.0.1:%d", 40001 + i);
            gt_attr_t at = {.name = name, .detached = groups[g].detached};
            void *targ = g == G_IDLE ? (void *)idle_pipes[i] : NULL;
            gt_t t;
            if (gt_spawn(&t, groups[g].fn, targ, &at) < 0) {
                perror("gt_spawn");
                exit(1);
            }
            groups[g].ids[i] = gt_id(t);
            if (g == G_HOLDER)
                holder = t;
        }
    /* Every thread runs to its parking point during these sleeps. */
    for (int i = 0; i < settle_n; i++) /* volatile: one call site, not four */
        settle(); /* LINE:main_settle */
    int64_t ready_ns = gt_now_ns(); /* every thread but main parked before */

    printf("truth {\"pid\": %d, \"main_ns\": %lld, \"first_ns\": %lld, "
           "\"spawn_ns\": %lld, \"ready_ns\": %lld, \"sleep_ns\": %lld, "
           "\"settle_ns\": %lld, \"settle_n\": %d, \"file_io_calls\": %d, "
           "\"read_depth\": %d, \"conn_buf\": %d, \"read_fd\": %d, "
           "\"conn_fd\": %d, \"idle_fds\": [%d, %d], \"never\": %llu, "
           "\"full\": %llu, \"crit_mu\": %llu, \"cond\": %llu, "
           "\"cond_mu\": %llu, "
           "\"main_id\": %llu, \"ids\": {",
           (int)getpid(), (long long)main_ns, (long long)first_ns,
           (long long)spawn_ns, (long long)ready_ns, (long long)SLEEP_NS,
           (long long)SETTLE_NS, SETTLE_N, FILE_IO_CALLS, READ_DEPTH,
           CONN_BUF, read_pipe[0], conn_pipe[0], idle_pipes[0][0],
           idle_pipes[1][0], (unsigned long long)(uintptr_t)never,
           (unsigned long long)(uintptr_t)full,
           (unsigned long long)(uintptr_t)&crit_mu,
           (unsigned long long)(uintptr_t)&cond,
           (unsigned long long)(uintptr_t)&cond_mu,
           (unsigned long long)gt_id(gt_self()));
    for (int g = 0; g < G_COUNT; g++) {
        printf("%s", g ? ", " : "");
        print_ids(groups[g].key, groups[g].ids, groups[g].n);
    }
    printf("}}\n");
    fflush(stdout);

    if (!hold()) /* LINE:main_hold */
        exit(0);

    /* Phase 2: threads that never start, and a main thread that keeps the
     * CPU in a system call the runtime does not see. */
    int64_t go_ns = gt_now_ns();
    uint64_t fresh[NFRESH];
    for (int i = 0; i < NFRESH; i++) {
        gt_attr_t at = {.name = "fresh", .detached = 1};
        gt_t t;
        if (gt_spawn(&t, fresh_main, NULL, &at) < 0)
            abort();
        fresh[i] = gt_id(t);
    }
    printf("truth2 {\"go_ns\": %lld, ", (long long)go_ns);
    print_ids("fresh", fresh, NFRESH);
    printf("}\n");
    fflush(stdout);
    /* The runtime made stdin non-blocking when hold() read it; the system
     * calls here go around it, so they block the kernel thread. */
    long fl = syscall(SYS_fcntl, 0, F_GETFL);
    if (fl < 0 || syscall(SYS_fcntl, 0, F_SETFL, fl & ~(long)O_NONBLOCK) < 0)
        abort();
    char c;
    while (syscall(SYS_read, 0, &c, 1) > 0)
        continue;
    exit(0);
}

int main(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    main_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    return gt_main(main_thread, NULL) == 0 ? 0 : 1;
}
