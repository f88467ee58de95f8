/*
 * test_fork.c - fork() from a green thread, and from beside the runtime.
 *
 * The child of a fork keeps only the thread that called it (POSIX): the
 * green thread that forked goes on alone in the child, its registry shows
 * that one thread only, and it can spawn, park on I/O (inherited fds and
 * new ones, through the child's own epoll instance) and sleep.  The parent
 * goes on as if nothing happened.  A child fails by an assertion (abort),
 * which the parent sees in the exit status.
 */
#include "test.h"

#include <gt/registry.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MS TU_MS

/* Live records as a reader counts them: seq even and unchanged around the
 * copy; *only gets the id of the last live one. */
static int live_records(uint64_t *only)
{
    volatile struct gt_registry *r = &gt_registry;
    struct gt_thread_rec **chunks =
        (struct gt_thread_rec **)(uintptr_t)r->thread_chunks;
    size_t size = 0;
    const struct gt_field *f = (const struct gt_field *)(uintptr_t)r->layout;
    for (uint32_t i = 0; i < r->nlayout; i++)
        if (f[i].rec == GT_REC_THREAD && f[i].id == GT_F_THR_SIZE)
            size = f[i].size;
    ASSERT_GT(size, 0);
    int n = 0;
    for (uint64_t s = 0; s < r->thread_slots; s++) {
        const volatile struct gt_thread_rec *t =
            (const void *)((const char *)chunks[s / GT_THREADS_PER_CHUNK] +
                           (s % GT_THREADS_PER_CHUNK) * size);
        uint32_t seq = t->seq;
        uint8_t state = t->state;
        uint64_t id = t->id;
        ASSERT_EQ(seq & 1, 0);
        ASSERT_EQ(t->seq, seq);
        if (state != GT_STATE_FREE) {
            n++;
            if (only)
                *only = id;
        }
    }
    return n;
}

static int pa[2];   /* thread a parks reading it; the parent writes later */
static int pc[2];   /* the child parks reading it; the parent writes */
static int rep[2];  /* the child's verdict */
static gt_mutex_t m;
static gt_cond_t cv;
static int a_done, b_done, c_done, c_go;

static void reader_a(void *arg)
{
    (void)arg;
    char c;
    ASSERT_EQ(read(pa[0], &c, 1), 1);
    a_done = 1;
}

static void sleeper_b(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_sleep_ns(30 * MS), 0);
    b_done = 1;
}

static void waiter_c(void *arg)
{
    (void)arg;
    gt_mutex_lock(&m);
    while (!c_go)
        gt_cond_wait(&cv, &m);
    gt_mutex_unlock(&m);
    c_done = 1;
}

static int child_new_ran;
static int q[2];

static void child_worker(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_sleep_ns(1 * MS), 0);
    child_new_ran++;
}

static void child_writer(void *arg)
{
    (void)arg;
    ASSERT_EQ(gt_sleep_ns(5 * MS), 0);
    ASSERT_EQ(write(q[1], "q", 1), 1);
}

/* The forking thread's life in the child. */
static void in_child(void)
{
    uint64_t only = 0;
    ASSERT_EQ(live_records(&only), 1);
    ASSERT_EQ(only, gt_id(gt_self()));
    ASSERT_EQ(gt_registry.pid, getpid());
    ASSERT_EQ(gt_registry.nstate[GT_STATE_RUNNING], 1);
    ASSERT_EQ(gt_registry.nstate[GT_STATE_PARKED], 0);
    ASSERT_EQ(gt_registry.nstate[GT_STATE_RUNNABLE], 0);
    ASSERT_EQ(gt_registry.runq_len, 0);
    /* waiter_c is gone: its queue must not hand anything to its record. */
    gt_mutex_lock(&m);
    gt_cond_broadcast(&cv);
    gt_mutex_unlock(&m);
    ASSERT_EQ(c_done, 0);

    /* New threads, sleeping (timers) and parked on a new pipe. */
    ASSERT_OK(pipe(q));
    enum { N = 2000 }; /* as a server's child starts its workers */
    static gt_t w[N];
    for (int i = 0; i < N; i++)
        w[i] = tu_spawn(child_worker, NULL);
    gt_t wr = tu_spawn(child_writer, NULL);
    ASSERT_EQ(live_records(NULL), N + 2);
    char c;
    ASSERT_EQ(read(q[0], &c, 1), 1);
    ASSERT_EQ(c, 'q');
    /* An inherited fd: the parent writes it once it has forked. */
    ASSERT_EQ(read(pc[0], &c, 1), 1);
    ASSERT_EQ(c, 'p');
    for (int i = 0; i < N; i++)
        tu_join(w[i]);
    tu_join(wr);
    ASSERT_EQ(child_new_ran, N);
    ASSERT_EQ(live_records(NULL), 1);
    ASSERT_EQ(a_done + b_done + c_done, 0); /* they never ran here */
    /* It returns: the child's last thread ends, and its gt_main returns
     * (TEST_IMPL goes on in the child). */
}

static void forker(void *arg)
{
    (void)arg;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        in_child();
        return;
    }
    /* The parent: unaffected. */
    ASSERT_EQ(write(pc[1], "p", 1), 1);
    int ok = 0;
    ASSERT_EQ(read(rep[0], &ok, sizeof ok), (ssize_t)sizeof ok);
    ASSERT_EQ(ok, 1);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ASSERT_EQ(gt_registry.pid, getpid());
    ASSERT_EQ(a_done, 0);
    ASSERT_EQ(write(pa[1], "a", 1), 1);
    gt_mutex_lock(&m);
    c_go = 1;
    gt_cond_signal(&cv);
    gt_mutex_unlock(&m);
}

static void fork_main(void *arg)
{
    (void)arg;
    gt_t a = tu_spawn(reader_a, NULL), b = tu_spawn(sleeper_b, NULL),
         c = tu_spawn(waiter_c, NULL);
    gt_yield(); /* all three are parked now */
    gt_yield();
    ASSERT_EQ(gt_registry.nstate[GT_STATE_PARKED], 3);
    gt_t f = tu_spawn(forker, NULL);
    tu_join(f);
    tu_join(a);
    tu_join(b);
    tu_join(c);
    ASSERT_EQ(a_done + b_done + c_done, 3);
    ASSERT_EQ(live_records(NULL), 1);
}

TEST_IMPL(fork_child_keeps_caller)
{
    pid_t me = getpid();
    /* No watchdog thread, as in fork_beside_runtime: a fork must not
     * catch another thread inside the allocator. */
    setenv("GT_WATCHDOG_MS", "0", 1);
    ASSERT_OK(pipe(pa));
    ASSERT_OK(pipe(pc));
    ASSERT_OK(pipe(rep));
    gt_mutex_init(&m);
    gt_cond_init(&cv);
    tu_run(fork_main, NULL);
    if (getpid() != me) {
        /* The child's gt_main has returned.  The pipe reader_a waits on
         * in the parent is one file description in both processes: the
         * child must leave the parent's O_NONBLOCK on it. */
        int fl = (int)syscall(SYS_fcntl, pa[0], F_GETFL);
        int ok = fl >= 0 && (fl & O_NONBLOCK) ? 1 : 2;
        _exit(syscall(SYS_write, rep[1], &ok, sizeof ok) == sizeof ok ? 0 : 1);
    }
}

/* ---- a fork beside the runtime: the child has none, and may start one -- */

static atomic_int beside_state; /* 1: runtime up */
static pid_t beside_child;
static int beside_status;
static int wake_main[2], wake_reader[2]; /* written once the child is reaped */

static void child_small(void *arg)
{
    (void)arg;
    gt_t t = tu_spawn(child_worker, NULL);
    tu_join(t);
    ASSERT_EQ(live_records(NULL), 1);
}

/* Whether the kernel thread TID sits in the poller's wait: then it holds
 * no lock of libc's or of the runtime's, and a fork from another thread
 * cannot leave one held in the child (which would hang there, as under
 * ASan's allocator once). */
static int in_poller_wait(pid_t tid)
{
    char path[64], buf[64] = {0};
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    long nr = n > 0 ? strtol(buf, NULL, 10) : -1;
    return nr == SYS_epoll_wait || nr == SYS_epoll_pwait || nr == 441 /* epoll_pwait2 */;
}

static void *beside(void *arg)
{
    pid_t runtime_tid = *(pid_t *)arg;
    while (atomic_load(&beside_state) != 1)
        ;
    while (!in_poller_wait(runtime_tid))
        usleep(1000);
    pid_t pid = fork();
    if (pid == 0) {
        if (live_records(NULL) != 0 || gt_registry.nstate[GT_STATE_PARKED])
            _exit(2);
        child_new_ran = 0;
        tu_run(child_small, NULL);
        _exit(child_new_ran == 1 ? 0 : 3);
    }
    beside_child = pid;
    waitpid(pid, &beside_status, 0);
    char c = 1;
    if (write(wake_reader[1], &c, 1) != 1 || write(wake_main[1], &c, 1) != 1)
        abort();
    return NULL;
}

static void parked_reader(void *arg)
{
    (void)arg;
    char c;
    ASSERT_EQ(read(wake_reader[0], &c, 1), 1);
}

static void beside_main(void *arg)
{
    (void)arg;
    gt_t s = tu_spawn(parked_reader, NULL);
    atomic_store(&beside_state, 1);
    char c;
    ASSERT_EQ(read(wake_main[0], &c, 1), 1); /* parks: the poller waits */
    tu_join(s);
}

TEST_IMPL(fork_beside_runtime)
{
    pthread_t pt;
    pid_t runtime_tid = (pid_t)syscall(SYS_gettid);
    /* No watchdog thread: it wakes on its own and may be inside the
     * allocator when the fork comes, which leaves the child with that
     * lock held for ever (seen under ASan: the child's own watchdog then
     * waited on it).  What this test forks beside is the runtime's one
     * thread, parked in the poller. */
    setenv("GT_WATCHDOG_MS", "0", 1);
    ASSERT_OK(pipe(wake_main));
    ASSERT_OK(pipe(wake_reader));
    ASSERT_EQ(pthread_create(&pt, NULL, beside, &runtime_tid), 0);
    tu_run(beside_main, NULL);
    pthread_join(pt, NULL);
    ASSERT_GT(beside_child, 0);
    ASSERT(WIFEXITED(beside_status));
    ASSERT_EQ(WEXITSTATUS(beside_status), 0);
}
