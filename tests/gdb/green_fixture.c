/*
 * green_fixture.c - green threads with known ground truth for the GDB tests.
 *
 * Usage: green_fixture N [crash] [idle] [fileio] [hostile] [kthread]
 * Spawns, in this order (so thread ids are known: the main thread is 1):
 *   N "sleeper"   ids 2 .. N+1      sleep_deep: recursion depth 3, then
 *                                   gt_sleep_ns(1 hour); local marker =
 *                                   4711000 + depth at every level
 *   N "locker"    ids N+2 .. 2N+1   lock_wait: gt_mutex_lock(&mu) (main
 *                                   holds mu)
 *   N "reader"    ids 2N+2 .. 3N+1  read_wait: read() on an empty pipe
 *   N "receiver"  ids 3N+2 .. 4N+1  recv_wait: gt_chan_recv on empty chan_r
 *   N "sender"    ids 4N+2 .. 5N+1  send_wait: gt_chan_send on full chan_s
 *   N "condwait"  ids 5N+2 .. 6N+1  cond_wait_here: gt_cond_wait
 *   1 "joiner"    id 6N+2           join_wait: gt_join of thread 2
 * and, with "idle", also
 *   N "idler"     ids 6N+3 .. 7N+2  idle_wait: gt_wait_readable_then on
 *                                   its own empty pipe: parked holding no
 *                                   stack, to start over in idle_restart
 * With "fileio", the main thread first reads FILE_READS bytes of its own
 * executable, one read() each: regular-file calls the registry counts.
 * With "hostile", the first sleeper (id 2) is renamed HOSTILE_NAME, a name
 * made of what a client could send a server that names threads by peer:
 * a terminal title escape, a screen clear, a newline, bytes that are not
 * UTF-8, a C1 control, an overlong '/', a backslash and DEL.
 * With "kthread", a second kernel thread (a plain pthread, in kthread_idle)
 * waits in pause() beside the one running green threads, as the runtime's
 * watchdog or a program's own threads do.
 * Then it prints "ready <pid>", calls ready_point() (a breakpoint target) and
 * parks the main thread in hold_main (read on stdin).  With "crash", the
 * main thread dereferences a null pointer after ready_point instead, so
 * the kernel writes a core.  When stdin closes it prints "done" and exits 0
 * at once (threads parked for an hour are not unwound one by one).
 */
#include <fcntl.h>
#include <gt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static gt_mutex_t mu = GT_MUTEX_INITIALIZER;
static gt_mutex_t cmu = GT_MUTEX_INITIALIZER;
static gt_cond_t cond = GT_COND_INITIALIZER;
static gt_chan_t *chan_r, *chan_s;
static int pipe_fd[2];
static gt_t first_sleeper;

static volatile int hour = 1; /* read at run time: the compiler must not
                               * see the sleep loop as endless */

__attribute__((noinline)) static void sleep_deep(int depth)
{
    volatile long marker = 4711000 + depth;
    if (depth < 3)
        sleep_deep(depth + 1);
    else
        while (hour)
            gt_sleep_ns(3600LL * 1000000000LL);
    (void)marker;
}

static void sleeper(void *arg) { (void)arg; sleep_deep(1); }

__attribute__((noinline)) static void lock_wait(void *arg)
{
    (void)arg;
    gt_mutex_lock(&mu);
    gt_mutex_unlock(&mu);
}

__attribute__((noinline)) static void read_wait(void *arg)
{
    (void)arg;
    char c;
    if (read(pipe_fd[0], &c, 1) != 1)
        abort();
}

__attribute__((noinline)) static void recv_wait(void *arg)
{
    (void)arg;
    void *m;
    if (gt_chan_recv(chan_r, &m, GT_FOREVER) < 0)
        abort();
}

__attribute__((noinline)) static void send_wait(void *arg)
{
    (void)arg;
    if (gt_chan_send(chan_s, NULL, GT_FOREVER) < 0) /* not a tail call: */
        abort();                                    /* keep this frame */
}

__attribute__((noinline)) static void cond_wait_here(void *arg)
{
    (void)arg;
    gt_mutex_lock(&cmu);
    for (;;)
        gt_cond_wait(&cond, &cmu);
}

__attribute__((noinline)) static void join_wait(void *arg)
{
    (void)arg;
    if (gt_join(first_sleeper) < 0) /* not a tail call: keep this frame */
        abort();
}

__attribute__((noinline)) void idle_restart(void *arg)
{
    (void)arg;
    abort(); /* nothing is ever written to an idler's pipe */
}

__attribute__((noinline)) static void idle_wait(void *arg)
{
    int *fds = arg;
    if (gt_wait_readable_then(fds[0], GT_FOREVER, idle_restart, fds) < 0)
        abort();
    abort(); /* not reached: the pipe is empty, so the wait parks */
}

/* The GDB tests stop here: every other thread is parked by now. */
__attribute__((noinline)) void ready_point(void)
{
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void hold_main(void)
{
    char buf[64];
    while (read(0, buf, sizeof(buf)) > 0)
        ;
}

struct kind { void (*fn)(void *); const char *name; };

#define FILE_READS 7
#define HOSTILE_NAME "\x1b]0;pwn\x07\x1b[2J\nx\xff\xc2\x85\xc0\xaf\\\x7f\xe2\x82"

static void read_own_file(const char *path)
{
    char c;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        abort();
    for (int i = 0; i < FILE_READS; i++)
        if (read(fd, &c, 1) != 1)
            abort();
    close(fd);
}

static void main_thread(void *arg)
{
    char **argv = arg;
    long n = atol(argv[1]);
    int crash = 0, idle = 0, fileio = 0, hostile = 0;
    for (int i = 2; argv[i]; i++) {
        hostile |= strcmp(argv[i], "hostile") == 0;
        crash |= strcmp(argv[i], "crash") == 0;
        idle |= strcmp(argv[i], "idle") == 0;
        fileio |= strcmp(argv[i], "fileio") == 0;
    }
    if (fileio)
        read_own_file(argv[0]);
    static const struct kind kinds[] = {
        {sleeper, "sleeper"}, {lock_wait, "locker"}, {read_wait, "reader"},
        {recv_wait, "receiver"}, {send_wait, "sender"}, {cond_wait_here, "condwait"},
    };
    long total = 6 * n;
    gt_t *ts = calloc((size_t)total + 1, sizeof(*ts));
    chan_r = gt_chan_create(1);
    chan_s = gt_chan_create(1);
    if (!ts || !chan_r || !chan_s || pipe(pipe_fd) < 0)
        abort();
    gt_chan_send(chan_s, NULL, 0); /* full: every sender parks */
    gt_mutex_lock(&mu);
    long k = 0;
    for (int i = 0; i < 6; i++)
        for (long j = 0; j < n; j++) {
            gt_attr_t at = {.name = kinds[i].name};
            if (gt_spawn(&ts[k++], kinds[i].fn, NULL, &at) < 0) {
                perror("gt_spawn");
                exit(1);
            }
        }
    first_sleeper = ts[0];
    if (hostile && gt_set_name(first_sleeper, HOSTILE_NAME) < 0)
        abort();
    gt_attr_t at = {.name = "joiner", .detached = 1};
    if (gt_spawn(&ts[k], join_wait, NULL, &at) < 0)
        exit(1);
    for (long j = 0; idle && j < n; j++) {
        gt_attr_t ia = {.name = "idler", .detached = 1};
        int *fds = malloc(2 * sizeof(int));
        if (!fds || pipe(fds) < 0 || gt_spawn(NULL, idle_wait, fds, &ia) < 0) {
            perror("idler");
            exit(1);
        }
    }
    gt_sleep_ns(2000000); /* every thread runs to its parking point */
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    ready_point();
    if (crash)
        *(volatile int *)(uintptr_t)(k - k) = 1;
    hold_main();
    /* Threads parked for an hour are not worth unwinding one by one. */
    printf("done\n");
    fflush(stdout);
    _exit(0);
}

/* A kernel thread that runs no green thread.  pause(2) through syscall():
 * libgt's wrappers are for green threads. */
__attribute__((noinline)) static void *kthread_idle(void *arg)
{
    (void)arg;
    for (;;)
        syscall(SYS_pause);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2 || atol(argv[1]) < 1) {
        fprintf(stderr, "usage: %s N [crash]\n", argv[0]);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        pthread_t kt;
        if (strcmp(argv[i], "kthread") == 0 && pthread_create(&kt, NULL, kthread_idle, NULL))
            return 1;
    }
    return gt_main(main_thread, argv) == 0 ? 0 : 1;
}
