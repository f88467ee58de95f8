/*
 * test_watchdog.c - the watchdog (GT_WATCHDOG_MS): a thread that spins is
 * sampled where it spins; nothing else is, and no system call the program
 * makes sees the watchdog.
 *
 * Ground truth: the spinning function and the thread body that calls it
 * each live in a section of their own, so "the sampled pc is in the
 * spinning function" is an address comparison, and so is "the frame above
 * it returns into the body".  Every test sets the watchdog's variables
 * itself: the runtime reads them once, at the first gt_main of the
 * process, and the runner forks a process per test.
 */
#include <signal.h>

#include "test.h"

#include <dirent.h>
#include <gt/registry.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS TU_MS

/* Kernel threads of this process now. */
static int task_count(void)
{
    DIR *d = opendir("/proc/self/task");
    ASSERT_NOT_NULL(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* The kernel threads once a joined one has gone: pthread_join returns
 * when the kernel clears the thread's id, a moment before the thread
 * leaves /proc/self/task, so a count taken at once can still see it.
 * Waits for the count to reach WANT, a second at most. */
static int task_count_settled(int want)
{
    int n = task_count();
    for (int i = 0; i < 1000 && n != want; i++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        n = task_count();
    }
    return n;
}

/* A copy of the sample, taken as a reader would: seq even and unchanged. */
struct sample {
    uint64_t thread, switches, ns;
    int64_t sysno;
    uint64_t regs[GT_CTX_NREGS];
};

static inline __attribute__((always_inline)) struct sample read_sample(void)
{
    volatile struct gt_registry *r = &gt_registry;
    for (;;) {
        uint32_t seq = r->sample_seq;
        atomic_thread_fence(memory_order_acquire);
        struct sample s = {r->sample_thread, r->sample_switches, r->sample_ns,
                           r->sample_syscall, {0}};
        for (int i = 0; i < GT_CTX_NREGS; i++)
            s.regs[i] = r->sample_regs[i];
        atomic_thread_fence(memory_order_acquire);
        if (!(seq & 1) && r->sample_seq == seq)
            return s;
    }
}

/* ---- a spinner is sampled where it spins --------------------------------- */

static _Atomic int spin_stop;

extern const char __start_gt_wd_spin[], __stop_gt_wd_spin[];
extern const char __start_gt_wd_body[], __stop_gt_wd_body[];

struct spin_truth {
    uint64_t switches, switches_after;
    int64_t t0, t1;
    const struct gt_thread_rec *rec;
    uint64_t frame; /* spinner's frame pointer */
    struct sample last; /* the sample, right after the spin... */
    uint64_t at_sp, at_fp[2]; /* ...and the stack words it points at */
};

/* Spins until told to stop, then, before it returns (its return address
 * is still on the stack, and no call has reused the words below), keeps
 * the sample and the stack words the sample's sp and fp point at. */
__attribute__((noinline, section("gt_wd_spin"))) static void
spin_here(struct spin_truth *s)
{
    /* At least 400 ms, and on until the sample has been repeated: on a
     * loaded machine, or under valgrind, the watchdog thread may get the
     * CPU late.  No call in the loop (a sample taken inside a callee,
     * such as the clock's, is not in this section), so it is bounded by
     * a count, not a clock: 2^33 turns, 10 s or more; then the test
     * fails on the count. */
    const volatile uint64_t *events = &gt_registry.watchdog_events;
    uint64_t turns = 0;
    while ((!atomic_load_explicit(&spin_stop, memory_order_relaxed) || *events < 2) &&
           turns++ < (UINT64_C(1) << 33))
        ;
    s->last = read_sample();
    uint64_t sp = s->last.regs[GT_CTX_SP], fp = s->last.regs[GT_CTX_RBP];
    if (sp >= s->rec->stack_lo && sp + 8 <= s->rec->stack_hi)
        s->at_sp = *(const uint64_t *)(uintptr_t)sp;
    if (fp >= s->rec->stack_lo && fp + 16 <= s->rec->stack_hi) {
        s->at_fp[0] = ((const uint64_t *)(uintptr_t)fp)[0];
        s->at_fp[1] = ((const uint64_t *)(uintptr_t)fp)[1];
    }
}

__attribute__((noinline, section("gt_wd_body"))) static void spinner(void *arg)
{
    struct spin_truth *s = arg;
    s->rec = (const void *)gt_self().rec; /* the record comes first */
    s->frame = (uint64_t)(uintptr_t)__builtin_frame_address(0);
    s->switches = gt_registry.switches;
    s->t0 = tu_now_ns();
    spin_here(s);
    s->t1 = tu_now_ns();
    s->switches_after = gt_registry.switches;
}

static void stop_spinning(void *arg)
{
    (void)arg;
    atomic_store(&spin_stop, 1);
}

static void spin_main(void *arg)
{
    struct tu_watchdog *w = tu_watchdog_call(400, stop_spinning, NULL);
    tu_join(tu_spawn_named(spinner, arg, "spinner"));
    tu_watchdog_stop(w);
}

TEST_IMPL(watchdog_samples_spinner)
{
    setenv("GT_WATCHDOG_MS", "50", 1);
    struct spin_truth s = {0};
    tu_run(spin_main, &s);
    ASSERT_EQ(gt_registry.watchdog_ns, 50 * MS);
    /* The sample is repeated while the hog lasts (400 ms, 50 ms each). */
    ASSERT_GE(gt_registry.watchdog_events, 2);
    struct sample p = read_sample();
    ASSERT_MEM_EQ(&p, &s.last, sizeof(p)); /* none since the spin */
    ASSERT_PTR_EQ((void *)(uintptr_t)p.thread, s.rec);
    /* It never switched while it spun: the sample is of that slice. */
    ASSERT_EQ(s.switches_after, s.switches);
    ASSERT_EQ(p.switches, s.switches);
    ASSERT_EQ(p.sysno, -1);
    /* Taken during the spin, and not before the threshold had passed. */
    ASSERT_GE((int64_t)p.ns, s.t0 + 50 * MS);
    ASSERT_LE((int64_t)p.ns, s.t1);
    uint64_t pc = p.regs[GT_CTX_PC], sp = p.regs[GT_CTX_SP];
    if (pc < (uintptr_t)__start_gt_wd_spin || pc >= (uintptr_t)__stop_gt_wd_spin)
        FAIL("sampled pc %#llx is not in spin_here [%p, %p)",
             (unsigned long long)pc, (void *)__start_gt_wd_spin,
             (void *)__stop_gt_wd_spin);
    ASSERT_GE(sp, s.rec->stack_lo);
    ASSERT_LT(sp, s.rec->stack_hi);
    /* Every register is the interrupted one: the frame pointer is
     * spinner's frame, or (if the compiler gave spin_here a frame of its
     * own) leads to it; either way the return address found above
     * the leaf is in spinner. */
    uint64_t fp = p.regs[GT_CTX_RBP];
    ASSERT_GE(fp, sp);
    ASSERT_LT(fp + 16, s.rec->stack_hi);
    uint64_t ret;
    if (fp == s.frame) {
        ret = s.at_sp; /* spin_here kept no frame: its return address */
    } else {
        ASSERT_EQ(s.at_fp[0], s.frame);
        ret = s.at_fp[1];
    }
    if (ret < (uintptr_t)__start_gt_wd_body || ret >= (uintptr_t)__stop_gt_wd_body)
        FAIL("the sampled frame returns to %#llx, not into spinner [%p, %p)",
             (unsigned long long)ret, (void *)__start_gt_wd_body,
             (void *)__stop_gt_wd_body);
}

/* ---- no hog, no sample, the same results --------------------------------- */

/* A ring of RING threads passing a token through channels; each holder
 * parks for 1 to 3 ms before it passes it on, and takes a mutex shared by
 * all to fold the pass into a checksum.  The order of passes is forced
 * by the token, so the checksum is the same whenever nothing changes the
 * program's behaviour. */
#define RING 8
#define PASSES 800

struct ring {
    gt_chan_t *ch[RING];
    gt_mutex_t lock;
    uint64_t checksum;
    int passes[RING];
    int tasks; /* kernel threads seen during the run */
};

struct ring_member {
    struct ring *r;
    int i;
};

static void ring_member(void *arg)
{
    struct ring_member *m = arg;
    struct ring *r = m->r;
    for (;;) {
        void *msg;
        ASSERT_OK(gt_chan_recv(r->ch[m->i], &msg, GT_FOREVER));
        uintptr_t n = (uintptr_t)msg;
        if (n >= PASSES) {
            ASSERT_OK(gt_chan_send(r->ch[(m->i + 1) % RING], msg, GT_FOREVER));
            return;
        }
        ASSERT_OK(gt_sleep_ns((int64_t)(1 + n % 3) * MS));
        ASSERT_OK(gt_mutex_lock(&r->lock));
        r->checksum = r->checksum * 1000003u + (uint64_t)(m->i * 131 + (int)n);
        r->passes[m->i]++;
        ASSERT_OK(gt_mutex_unlock(&r->lock));
        ASSERT_OK(gt_chan_send(r->ch[(m->i + 1) % RING], (void *)(n + 1), GT_FOREVER));
    }
}

/* Then CPU-bound work handed back and forth with gt_yield, never
 * parking: the runtime's kernel thread computes the whole time, and no
 * slice lasts long.  (A hand-off reads no clock: the watchdog times those
 * slices by its own looks.) */
#define YIELD_ROUNDS 6000

struct yielder {
    struct ring *r;
    uint64_t x;
};

static void yielder(void *arg)
{
    struct yielder *y = arg;
    for (int round = 0; round < YIELD_ROUNDS; round++) {
        for (int i = 0; i < 20000; i++) { /* tens of microseconds */
            y->x ^= y->x << 13;
            y->x ^= y->x >> 7;
            y->x ^= y->x << 17;
        }
        y->r->checksum = y->r->checksum * 1000003u + y->x;
        gt_yield();
    }
}

static void ring_main(void *arg)
{
    struct ring *r = arg;
    struct ring_member m[RING];
    gt_t t[RING];
    r->tasks = task_count();
    for (int i = 0; i < RING; i++) {
        r->ch[i] = gt_chan_create(1);
        ASSERT_NOT_NULL(r->ch[i]);
        m[i] = (struct ring_member){r, i};
        t[i] = tu_spawn(ring_member, &m[i]);
    }
    ASSERT_OK(gt_chan_send(r->ch[0], (void *)(uintptr_t)0, GT_FOREVER));
    for (int i = 0; i < RING; i++)
        tu_join(t[i]);
    for (int i = 0; i < RING; i++)
        gt_chan_destroy(r->ch[i]);
    struct yielder y[2] = {{r, 1}, {r, 2}};
    gt_t a = tu_spawn(yielder, &y[0]), b = tu_spawn(yielder, &y[1]);
    tu_join(a);
    tu_join(b);
}

struct ring_result {
    uint64_t checksum;
    int passes[RING];
    int tasks;
    uint64_t watchdog_ns, events;
};

/* Runs the ring in a child process under GT_WATCHDOG_MS=ms. */
static struct ring_result ring_run(const char *ms)
{
    int fds[2];
    ASSERT_OK(pipe(fds));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        setenv("GT_WATCHDOG_MS", ms, 1);
        static struct ring r;
        gt_mutex_init(&r.lock);
        tu_run(ring_main, &r);
        struct ring_result res = {r.checksum, {0}, r.tasks,
                                  gt_registry.watchdog_ns,
                                  gt_registry.watchdog_events};
        memcpy(res.passes, r.passes, sizeof(res.passes));
        ssize_t n = write(fds[1], &res, sizeof(res));
        _exit(n == (ssize_t)sizeof(res) ? 0 : 1);
    }
    close(fds[1]);
    struct ring_result res;
    ASSERT_EQ(read(fds[0], &res, sizeof(res)), (ssize_t)sizeof(res));
    close(fds[0]);
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return res;
}

TEST_IMPL(watchdog_no_hog_no_sample)
{
    struct ring_result on = ring_run("20"), off = ring_run("0");
    ASSERT_EQ(on.watchdog_ns, 20 * MS);
    ASSERT_EQ(on.tasks, 2); /* the watchdog ran beside it... */
    ASSERT_EQ(off.watchdog_ns, 0);
    ASSERT_EQ(off.tasks, 1);
    /* ...and never took a sample: nobody held the CPU 20 ms. */
    ASSERT_EQ(on.events, 0);
    ASSERT_EQ(on.checksum, off.checksum);
    ASSERT_MEM_EQ(on.passes, off.passes, sizeof(on.passes));
    ASSERT_EQ(on.passes[0], PASSES / RING);
}

/* ---- system calls the program makes are left alone ----------------------- */

#define CHUNKS 20
#define CHUNK 100

struct slow_pipe {
    int rfd, wfd;
    int eintr;        /* reads that failed with EINTR */
    int failed;       /* reads that failed otherwise */
    int reads;
    char got[CHUNKS * CHUNK];
};

static char pattern_byte(int i) { return (char)('a' + i % 23); }

/* A plain pthread: CHUNKS writes, 10 ms apart. */
static void *slow_writer(void *arg)
{
    struct slow_pipe *p = arg;
    char buf[CHUNK];
    for (int c = 0; c < CHUNKS; c++) {
        struct timespec ts = {0, 10 * MS};
        syscall(SYS_nanosleep, &ts, NULL);
        for (int i = 0; i < CHUNK; i++)
            buf[i] = pattern_byte(c * CHUNK + i);
        if (syscall(SYS_write, p->wfd, buf, CHUNK) != CHUNK)
            return (void *)1;
    }
    return NULL;
}

/* A hog: it never parks, it blocks its kernel thread in read(2) itself. */
static void raw_reader(void *arg)
{
    struct slow_pipe *p = arg;
    size_t have = 0;
    while (have < sizeof(p->got)) {
        long n = syscall(SYS_read, p->rfd, p->got + have, sizeof(p->got) - have);
        if (n < 0 && errno == EINTR)
            p->eintr++;
        else if (n <= 0)
            p->failed++;
        if (n <= 0)
            break;
        p->reads++;
        have += (size_t)n;
    }
}

static void raw_read_main(void *arg)
{
    struct slow_pipe *p = arg;
    pthread_t w;
    ASSERT_EQ(pthread_create(&w, NULL, slow_writer, p), 0);
    tu_join(tu_spawn_named(raw_reader, p, "raw-reader"));
    void *rc;
    ASSERT_EQ(pthread_join(w, &rc), 0);
    ASSERT_PTR_EQ(rc, NULL);
}

TEST_IMPL(watchdog_blocking_read_not_interrupted)
{
    setenv("GT_WATCHDOG_MS", "5", 1);
    static struct slow_pipe p;
    int fds[2];
    ASSERT_OK(pipe(fds));
    p.rfd = fds[0];
    p.wfd = fds[1];
    tu_run(raw_read_main, &p);
    ASSERT_EQ(p.eintr, 0);
    ASSERT_EQ(p.failed, 0);
    for (int i = 0; i < CHUNKS * CHUNK; i++)
        if (p.got[i] != pattern_byte(i))
            FAIL("byte %d of the pipe is %d, not %d", i, p.got[i], pattern_byte(i));
    /* The reader held the CPU 200 ms, blocked in read: the watchdog saw
     * it there, from /proc, and left the call alone. */
    ASSERT_GE(gt_registry.watchdog_events, 1);
    struct sample s = read_sample();
    ASSERT_EQ(s.sysno, SYS_read);
    ASSERT_NE(s.regs[GT_CTX_PC], 0);
    ASSERT_NE(s.regs[GT_CTX_SP], 0);
    ASSERT_EQ(s.regs[GT_CTX_RBP], 0); /* only sp and pc are known */
}

struct sleeper {
    int eintr, calls;
    int64_t until;
};

/* A hog that sleeps in nanosleep(2) itself, 50 us at a time: in and out
 * of the call thousands of times, and in it most of the time. */
static void raw_sleeper(void *arg)
{
    struct sleeper *s = arg;
    while (tu_now_ns() < s->until) {
        struct timespec ts = {0, 50000};
        if (syscall(SYS_nanosleep, &ts, NULL) < 0 && errno == EINTR)
            s->eintr++;
        s->calls++;
    }
}

static void raw_sleep_main(void *arg)
{
    struct sleeper *s = arg;
    s->until = tu_now_ns() + 1000 * MS;
    tu_join(tu_spawn_named(raw_sleeper, s, "raw-sleeper"));
}

/* nanosleep fails with EINTR when any handler runs, SA_RESTART or not:
 * so the watchdog must never signal a thread that sleeps in it. */
TEST_IMPL(watchdog_nanosleep_not_interrupted)
{
    setenv("GT_WATCHDOG_MS", "5", 1);
    struct sleeper s = {0};
    tu_run(raw_sleep_main, &s);
    ASSERT_GT(s.calls, 1000);
    ASSERT_EQ(s.eintr, 0);
    ASSERT_GE(gt_registry.watchdog_events, 1);
    struct sample p = read_sample();
    ASSERT_EQ(p.sysno, SYS_nanosleep);
}

/* SA_RESTART: the watchdog's signal itself, sent at a thread blocked in a
 * restartable read(2), leaves the read to go on. */
struct restart {
    pthread_t sched;
    pid_t sched_tid;
    int rfd, wfd;
    long got;
    int eintr;
    char buf[8];
};

/* Is the kernel thread in read(2) (number 0 on x86-64, 63 on AArch64)? */
static bool in_read(pid_t tid)
{
    char path[64], line[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool yes = fgets(line, sizeof line, f) && atol(line) == SYS_read &&
               line[0] != 'r';
    fclose(f);
    return yes;
}

static void *signaller(void *arg)
{
    struct restart *r = arg;
    while (!in_read(r->sched_tid)) {
        struct timespec ts = {0, 1 * MS};
        syscall(SYS_nanosleep, &ts, NULL);
    }
    for (int i = 0; i < 5; i++) {
        pthread_kill(r->sched, GT_WATCHDOG_SIGNAL);
        struct timespec ts = {0, 2 * MS};
        syscall(SYS_nanosleep, &ts, NULL);
    }
    syscall(SYS_write, r->wfd, "restart", 8);
    return NULL;
}

static void restart_reader(void *arg)
{
    struct restart *r = arg;
    r->got = syscall(SYS_read, r->rfd, r->buf, sizeof r->buf);
    if (r->got < 0 && errno == EINTR)
        r->eintr++;
}

static void restart_main(void *arg)
{
    struct restart *r = arg;
    r->sched_tid = (pid_t)syscall(SYS_gettid);
    pthread_t s;
    ASSERT_EQ(pthread_create(&s, NULL, signaller, r), 0);
    tu_join(tu_spawn(restart_reader, r));
    pthread_join(s, NULL);
}

TEST_IMPL(watchdog_signal_restarts_read)
{
    setenv("GT_WATCHDOG_MS", "100", 1);
    struct restart r = {.sched = pthread_self()};
    int fds[2];
    ASSERT_OK(pipe(fds));
    r.rfd = fds[0];
    r.wfd = fds[1];
    tu_run(restart_main, &r);
    ASSERT_EQ(r.eintr, 0);
    ASSERT_EQ(r.got, 8);
    ASSERT_STR_EQ(r.buf, "restart");
    /* Nobody asked for these: the handler took no sample. */
    ASSERT_EQ(gt_registry.watchdog_events, 0);
}

/* ---- on, off, and its thread's life ------------------------------------- */

static void count_tasks(void *arg)
{
    *(int *)arg = task_count();
}

TEST_IMPL(watchdog_off_no_thread)
{
    setenv("GT_WATCHDOG_MS", "0", 1);
    int during = 0;
    ASSERT_EQ(task_count_settled(1), 1); /* an earlier test's is gone */
    tu_run(count_tasks, &during);
    ASSERT_EQ(during, 1);
    ASSERT_EQ(gt_registry.watchdog_ns, 0);
}

TEST_IMPL(watchdog_thread_lives_with_gt_main)
{
    unsetenv("GT_WATCHDOG_MS");
    int during = 0;
    ASSERT_EQ(task_count_settled(1), 1); /* an earlier test's is gone */
    tu_run(count_tasks, &during);
    ASSERT_EQ(during, 2);
    ASSERT_EQ(gt_registry.watchdog_ns, 100 * MS); /* the default */
    ASSERT_EQ(task_count_settled(1), 1);          /* stopped and joined */
    tu_run(count_tasks, &during);                 /* and again */
    ASSERT_EQ(during, 2);
    ASSERT_EQ(task_count_settled(1), 1);
}

/* A child of fork has one kernel thread: it says it has no watchdog. */
static void fork_in_thread(void *arg)
{
    int *child_saw = arg;
    int fds[2];
    ASSERT_OK(pipe(fds));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        int v[2] = {task_count(), (int)(gt_registry.watchdog_ns / MS)};
        _exit(syscall(SYS_write, fds[1], v, sizeof v) == sizeof v ? 0 : 1);
    }
    ASSERT_EQ(syscall(SYS_read, fds[0], child_saw, 2 * sizeof(int)),
              (long)(2 * sizeof(int)));
    int status;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    close(fds[0]);
    close(fds[1]);
}

TEST_IMPL(watchdog_fork_child_has_none)
{
    unsetenv("GT_WATCHDOG_MS");
    int child_saw[2] = {-1, -1};
    tu_run(fork_in_thread, child_saw);
    ASSERT_EQ(child_saw[0], 1);
    ASSERT_EQ(child_saw[1], 0);
    ASSERT_EQ(gt_registry.watchdog_ns, 100 * MS);
}
