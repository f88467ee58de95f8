/*
 * watchdog.c - who holds the CPU: a helper kernel thread that notices a
 * green thread running too long without yielding, and has the runtime's
 * kernel thread record where it is (registry.h, THE WATCHDOG'S SAMPLE).
 *
 * THE THREAD sleeps a quarter of the threshold (GT_WATCHDOG_MS), wakes,
 * and loads two words of the registry: `switches` and `current`.  While
 * switches keeps changing, that is all it ever does, so it costs the
 * runtime nothing: the runtime neither knows it exists nor takes a lock.
 * When the same slice (same `switches`, a green thread current) has
 * lasted the threshold, it is a hog, and the watchdog looks closer, in
 * /proc/self/task/<tid> of the runtime's kernel thread:
 *
 *   - `syscall` says the thread is inside a system call: the watchdog
 *     writes the sample itself from that file (the call's number, sp and
 *     pc; no other register is known) and sends no signal at all, since a
 *     signal would interrupt the call.
 *   - it says "running", and the thread has also been running at the
 *     previous look, made no voluntary context switch in between (it
 *     never blocked: `status`) and gained CPU time (it was not just
 *     waiting for a CPU), and no debugger is attached (`status` again:
 *     a debugger stops at the signal, and has the registers anyway):
 *     then the watchdog sends it SIGNAL (below), whose handler records
 *     the interrupted registers.
 *
 * The second rule is what keeps the signal from changing what a program
 * sees.  A handled signal interrupts a blocking system call; SA_RESTART
 * restarts most of them, but nanosleep, poll, epoll_wait, select and a
 * few others then fail with EINTR whatever the flags.  A thread that has
 * blocked at any time during the last quarter threshold is never
 * signalled; one that has computed for the whole of it is, and the signal
 * reaches it in user code unless it enters a blocking call in the few
 * microseconds between the watchdog's look and the signal's arrival.
 * That is the race that remains (gt.h, WATCHDOG, says so).
 *
 * The sample is repeated every threshold while the hog lasts, so its
 * stack stays fresh.
 *
 * ONE WRITER AT A TIME.  Three writers can fill the sample: this thread
 * (a system call), the signal handler and the fatal-signal handler (both
 * on the runtime's kernel thread).  Each takes sample_busy with a
 * test-and-set before it writes and gives up, writing nothing, when the
 * flag is taken.  Nobody waits for it, so no handler can deadlock against
 * the thread it interrupted, and two writers never interleave: a reader
 * sees either a whole sample or an odd seq.
 *
 * SIGNAL is SIGRTMIN + 6 (GT_WATCHDOG_SIGNAL in gt.h).  A realtime
 * signal, because the classic ones all have an owner somewhere (SIGURG is
 * Go's preemption, SIGPROF profilers', SIGUSR1/2 the programs').  Realtime
 * signals queue, so at most one is outstanding: the watchdog sends the
 * next only after the handler has served the last (requested/served).
 * The handler is installed before the thread starts, with SA_RESTART and
 * SA_ONSTACK, and stays installed for the life of the process: a signal
 * still pending when gt_main returns finds it and does nothing.
 * The thread itself blocks every signal from its first instruction (it is
 * created with them blocked), so a signal sent to the process never lands
 * on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "internal.h"
#include "sys.h"

#define SIGNAL_OFFSET 6     /* SIGNAL = SIGRTMIN + this; see gt.h */
#define THRESHOLD_DEFAULT_MS 100
#define MS_MAX 3600000      /* an hour: longer is not a watchdog */
#define NS_PER_MS 1000000ull
#define PERIOD_MIN_NS NS_PER_MS
/* A look that comes this much later than planned means the process was
 * stopped (a debugger, SIGSTOP) or the machine slept: the abort clock
 * starts again rather than blame a thread for time nobody ran. */
#define LATE_NS (50 * NS_PER_MS)
/* An abort asked for that has not ended the process after this long: the
 * handler found the hog inside a lock the fatal report needs (malloc's,
 * the loader's) and hangs there, or the runtime's thread blocks the
 * signal.  The watchdog then sends SIGABRT itself, which kills at once
 * (the fatal handler, if it runs, has reset it to the default). */
#define ABORT_GRACE_NS (2000 * NS_PER_MS)
#define THREAD_STACK (64 * 1024)
#define REPORT_PCS 16

static struct {
    bool configured;
    uint64_t threshold_ns;       /* 0: off */
    uint64_t abort_ns;           /* 0: no abort */
    uint64_t period_ns;          /* between looks */
    bool handler_installed;
    bool running;                /* the thread exists */
    pthread_t thread;
    pthread_t sched;             /* the kernel thread running gt_main */
    clockid_t sched_cpu;         /* its CPU-time clock */
    bool have_cpu;
    int syscall_fd, status_fd;   /* its /proc/self/task/<tid>/... */
    pthread_mutex_t lock;        /* guards stop, and the sleep */
    pthread_cond_t wake;
    bool stop;
    bool own_altstack;           /* installed by gt__watchdog_start */
    /* One signal outstanding at most: requested is written by the thread,
     * served by the handler. */
    _Atomic uint32_t requested, served;
    /* An abort the handler is to carry out (GT_WATCHDOG_ABORT_MS). */
    _Atomic bool abort_wanted;
    uint64_t abort_switches;     /* the hog's slice */
    uint64_t abort_ran_ns;
    bool abort_lower_bound;      /* it began with a hand-off */
} wd = {.syscall_fd = -1, .status_fd = -1};

static atomic_flag sample_busy = ATOMIC_FLAG_INIT;
static char *altstack;

static int watchdog_signal(void) { return SIGRTMIN + SIGNAL_OFFSET; }

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* ---- the sample ----------------------------------------------------------- */

/* Writes the sample unless another writer holds it (see ONE WRITER AT A
 * TIME); false then.  Async-signal-safe. */
static bool sample_write(uint64_t thread, uint64_t switches, int64_t sysno,
                         const uint64_t regs[GT_CTX_NREGS])
{
    if (atomic_flag_test_and_set_explicit(&sample_busy, memory_order_acquire))
        return false;
    uint64_t ns = now_ns();
    gt__seq_begin(&gt__reg.sample_seq);
    gt__reg.sample_thread = thread;
    gt__reg.sample_switches = switches;
    gt__reg.sample_ns = ns;
    gt__reg.sample_syscall = sysno;
    for (int i = 0; i < GT_CTX_NREGS; i++)
        gt__reg.sample_regs[i] = regs[i];
    gt__seq_end(&gt__reg.sample_seq);
    atomic_flag_clear_explicit(&sample_busy, memory_order_release);
    return true;
}

/* The interrupted registers, in GT_CTX_* order. */
static void regs_of(const ucontext_t *uc, uint64_t regs[GT_CTX_NREGS])
{
    for (int i = 0; i < GT_CTX_NREGS; i++)
        regs[i] = 0;
#if defined(__x86_64__)
    const greg_t *g = uc->uc_mcontext.gregs;
    regs[GT_CTX_SP] = (uint64_t)g[REG_RSP];
    regs[GT_CTX_PC] = (uint64_t)g[REG_RIP];
    regs[GT_CTX_RBP] = (uint64_t)g[REG_RBP];
    regs[GT_CTX_RBX] = (uint64_t)g[REG_RBX];
    regs[GT_CTX_R12] = (uint64_t)g[REG_R12];
    regs[GT_CTX_R13] = (uint64_t)g[REG_R13];
    regs[GT_CTX_R14] = (uint64_t)g[REG_R14];
    regs[GT_CTX_R15] = (uint64_t)g[REG_R15];
#elif defined(__aarch64__)
    /* d8..d15 live in the FP/SIMD record of uc_mcontext.__reserved; no
     * unwinder needs them to walk a stack, so they stay 0. */
    regs[GT_CTX_SP] = uc->uc_mcontext.sp;
    regs[GT_CTX_PC] = uc->uc_mcontext.pc;
    regs[GT_CTX_FP] = uc->uc_mcontext.regs[29];
    for (int i = 0; i < 10; i++)
        regs[GT_CTX_X19 + i] = uc->uc_mcontext.regs[19 + i];
#endif
}

/* Is the interrupted state a frame of thread t?  Not while the runtime is
 * in the middle of switching to or from it: switch_prepare publishes the
 * new `current` and `switches` before the registers move, so between the
 * two, sp is still on the previous stack (or the scheduler's), and inside
 * gt__ctx_switch the registers are half the old thread's and half the new
 * one's.  Such a state is no thread's stack: nothing is recorded.  (A
 * sample that was right when taken becomes history at the next switch;
 * readers tell by sample_switches != switches.)  slack: bytes below
 * stack_lo still taken as the thread's (its guard, for an overflow). */
static bool is_frame_of(const struct gt_thread_rec *t, const uint64_t regs[],
                        uint64_t slack)
{
    uint64_t sp = regs[GT_CTX_SP], pc = regs[GT_CTX_PC];
    if (sp + slack < t->stack_lo || sp > t->stack_hi)
        return false;
    /* gt__ctx_switch is followed by the trampoline in switch.S: that is
     * its end. */
    uintptr_t lo = (uintptr_t)gt__ctx_switch, hi = (uintptr_t)gt__ctx_trampoline;
    if (hi <= lo || hi - lo > 4096)
        hi = lo + 1;
    return pc < lo || pc >= hi;
}

void gt__watchdog_fatal_sample(void *ucv)
{
    const struct gt_thread_rec *t =
        (const struct gt_thread_rec *)(uintptr_t)gt__reg.current;
    if (!t || !ucv)
        return;
    uint64_t regs[GT_CTX_NREGS];
    regs_of(ucv, regs);
    uint64_t guard = t->guard_size ? t->guard_size : 65536;
    if (is_frame_of(t, regs, guard))
        sample_write((uint64_t)(uintptr_t)t, gt__reg.switches, -1, regs);
}

/* ---- the abort report (async-signal-safe: write(2) only) ------------------ */

struct line {
    char buf[512];
    size_t n;
};

static void put(struct line *l, const char *s)
{
    while (*s && l->n < sizeof(l->buf) - 1)
        l->buf[l->n++] = *s++;
}

static void put_dec(struct line *l, uint64_t v)
{
    char d[24];
    int i = 0;
    do
        d[i++] = (char)('0' + v % 10);
    while ((v /= 10) && i < 24);
    while (i > 0 && l->n < sizeof(l->buf) - 1)
        l->buf[l->n++] = d[--i];
}

static void put_hex(struct line *l, uint64_t v)
{
    char d[16];
    int i = 0;
    do
        d[i++] = "0123456789abcdef"[v & 15];
    while ((v >>= 4) && i < 16);
    put(l, "0x");
    while (i > 0 && l->n < sizeof(l->buf) - 1)
        l->buf[l->n++] = d[--i];
}

/* "5.0s", "300ms": as the readers print a hog's time. */
static void put_age(struct line *l, uint64_t ns)
{
    if (ns >= 1000000000u) {
        uint64_t tenths = ns / 100000000u;
        put_dec(l, tenths / 10);
        put(l, ".");
        put_dec(l, tenths % 10);
        put(l, "s");
    } else {
        put_dec(l, ns / NS_PER_MS);
        put(l, "ms");
    }
}

/* One line, then abort(): the fatal-signal handler (fault.c) prints its
 * report, notes fatal_ns, and the kernel writes the core, whose sample
 * (written just before this) shows the hog. */
static _Noreturn void report_and_abort(const struct gt_thread_rec *t,
                                       const uint64_t regs[])
{
    struct line l = {.n = 0};
    put(&l, "gt: watchdog: thread ");
    put_dec(&l, t->id);
    put(&l, " \"");
    char name[sizeof(t->name) + 1];
    memcpy(name, t->name, sizeof(t->name));
    name[sizeof(t->name)] = 0;
    put(&l, name);
    put(&l, "\" has run ");
    if (wd.abort_lower_bound)
        put(&l, ">= ");
    put_age(&l, wd.abort_ran_ns);
    put(&l, " without yielding; aborting (pcs");
    /* A frame-pointer walk, every frame inside the thread's stack and
     * each one above the last, so that no word outside it is read. */
    uint64_t pc = regs[GT_CTX_PC], fp = regs[GT_CTX_RBP];
    for (int i = 0; i < REPORT_PCS && pc; i++) {
        put(&l, " ");
        put_hex(&l, pc);
        if (fp < t->stack_lo || fp > t->stack_hi - 16 || (fp & 7))
            break;
        const uint64_t *frame = (const uint64_t *)(uintptr_t)fp;
        pc = frame[1];
        if (frame[0] <= fp)
            break;
        fp = frame[0];
    }
    put(&l, ")\n");
    (void)!sys_write(2, l.buf, l.n);
    abort();
}

/* ---- the handler ----------------------------------------------------------- */

static void on_sample(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    (void)si;
    int saved_errno = errno;
    uint32_t want = atomic_load_explicit(&wd.requested, memory_order_acquire);
    if (want == atomic_load_explicit(&wd.served, memory_order_relaxed)) {
        errno = saved_errno; /* not the watchdog's: nothing asked */
        return;
    }
    const struct gt_thread_rec *t =
        (const struct gt_thread_rec *)(uintptr_t)gt__reg.current;
    uint64_t switches = gt__reg.switches;
    uint64_t regs[GT_CTX_NREGS];
    regs_of(ucv, regs);
    if (t && is_frame_of(t, regs, 0) &&
        sample_write((uint64_t)(uintptr_t)t, switches, -1, regs))
        __atomic_fetch_add(&gt__reg.watchdog_events, 1, __ATOMIC_RELAXED);
    /* Still the slice the watchdog timed (it has not just ended)? */
    if (t && atomic_load_explicit(&wd.abort_wanted, memory_order_acquire) &&
        switches == wd.abort_switches)
        report_and_abort(t, regs);
    atomic_store_explicit(&wd.served, want, memory_order_release);
    errno = saved_errno;
}

/* ---- what /proc says of the runtime's kernel thread ------------------------ */

enum proc_state { PROC_UNKNOWN, PROC_RUNNING, PROC_SYSCALL, PROC_STOPPED };

static uint64_t parse_num(const char **p, int base)
{
    uint64_t v = 0;
    const char *s = *p;
    for (;; s++) {
        int d;
        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else
            break;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *p = s;
    return v;
}

/* "running", or "NR a1 .. a6 SP PC" in a system call, or "-1 SP PC" when
 * blocked outside one (stopped by a debugger or job control). */
static enum proc_state read_syscall(int64_t *nr, uint64_t *sp, uint64_t *pc)
{
    static char buf[256];
    ssize_t n = syscall(SYS_pread64, wd.syscall_fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return PROC_UNKNOWN;
    buf[n] = 0;
    if (strncmp(buf, "running", 7) == 0)
        return PROC_RUNNING;
    const char *p = buf;
    if (*p == '-')
        return PROC_STOPPED;
    *nr = (int64_t)parse_num(&p, 10);
    uint64_t v[8];
    int got = 0;
    while (got < 8 && p[0] == ' ' && p[1] == '0' && p[2] == 'x') {
        p += 3;
        v[got++] = parse_num(&p, 16);
    }
    if (got != 8)
        return PROC_UNKNOWN;
    *sp = v[6];
    *pc = v[7];
    return PROC_SYSCALL;
}

/* From `status`: voluntary_ctxt_switches, and whether a debugger (any
 * ptrace tracer) is attached; false when unreadable. */
static bool read_status(uint64_t *voluntary, bool *traced)
{
    static char buf[4096];
    ssize_t n = syscall(SYS_pread64, wd.status_fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return false;
    buf[n] = 0;
    static const char vkey[] = "\nvoluntary_ctxt_switches:";
    static const char tkey[] = "\nTracerPid:";
    const char *v = strstr(buf, vkey), *t = strstr(buf, tkey);
    if (!v || !t)
        return false;
    v += sizeof(vkey) - 1;
    t += sizeof(tkey) - 1;
    while (*v == ' ' || *v == '\t')
        v++;
    while (*t == ' ' || *t == '\t')
        t++;
    *voluntary = parse_num(&v, 10);
    *traced = parse_num(&t, 10) != 0;
    return true;
}

static uint64_t sched_cpu_ns(void)
{
    struct timespec ts;
    if (!wd.have_cpu || clock_gettime(wd.sched_cpu, &ts) < 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the thread -------------------------------------------------------------- */

/* What the watchdog knows of the slice it is watching. */
struct watch {
    uint64_t switches;       /* the slice: registry switches */
    uint64_t abort_from;     /* the abort clock's start, 0 not yet set */
    uint64_t last_sample;    /* when it last took or asked for one */
    bool prev_running;       /* the previous look found it running... */
    uint64_t prev_voluntary; /* ...with these counts */
    uint64_t prev_cpu;
    uint64_t abort_sent;     /* when the abort was decided, 0 not yet */
    bool abort_asked;        /* and the signal sent for it */
    bool abort_killed;       /* SIGABRT sent: once only, for a second
                              * one would find the fatal handler reset
                              * (SA_RESETHAND) and kill mid-report */
};

static bool outstanding(void)
{
    return atomic_load_explicit(&wd.requested, memory_order_relaxed) !=
           atomic_load_explicit(&wd.served, memory_order_acquire);
}

static void ask(void)
{
    uint32_t r = atomic_load_explicit(&wd.requested, memory_order_relaxed);
    atomic_store_explicit(&wd.requested, r + 1, memory_order_release);
    if (pthread_kill(wd.sched, watchdog_signal()) != 0)
        atomic_store_explicit(&wd.requested, r, memory_order_release);
}

static void look(struct watch *w, uint64_t now, bool late)
{
    uint64_t switches = load(&gt__reg.switches);
    uint64_t current = load(&gt__reg.current);
    if (switches != w->switches || !load(&gt__reg.wd_since)) {
        /* A new slice: note when it was first seen (wd_since first, so a
         * reader that sees the new wd_switches sees a wd_since at least
         * as new). */
        __atomic_store_n(&gt__reg.wd_since, now, __ATOMIC_RELAXED);
        __atomic_store_n(&gt__reg.wd_switches, switches, __ATOMIC_RELEASE);
        memset(w, 0, sizeof(*w));
        w->switches = switches;
        /* An abort asked for the last slice is void: it yielded. */
        atomic_store_explicit(&wd.abort_wanted, false, memory_order_release);
        return;
    }
    if (!current) {
        w->prev_running = false; /* the scheduler's own work: timers, I/O */
        return;
    }
    /* The slice began at run_start, or (a hand-off) at least by wd_since;
     * both were written before `switches` changed, a look ago. */
    uint64_t run_start = load(&gt__reg.run_start);
    uint64_t wd_since = load(&gt__reg.wd_since);
    bool lower_bound = !run_start || run_start > now;
    uint64_t since = lower_bound ? wd_since : run_start;
    uint64_t ran = now > since ? now - since : 0;
    if (!w->abort_from || late)
        w->abort_from = late ? now : since;

    int64_t nr = -1;
    uint64_t sp = 0, pc = 0;
    if (wd.abort_ns && now - w->abort_from >= wd.abort_ns) {
        if (!w->abort_sent) {
            /* Not while a debugger holds it stopped; in a system call or
             * not, the abort ends the program anyway. */
            if (read_syscall(&nr, &sp, &pc) == PROC_STOPPED)
                return;
            wd.abort_switches = switches;
            wd.abort_ran_ns = ran;
            wd.abort_lower_bound = lower_bound;
            atomic_store_explicit(&wd.abort_wanted, true, memory_order_release);
            w->abort_sent = now;
        }
        /* With a signal still outstanding, its handler may have looked at
         * abort_wanted already: ask once it has been served. */
        if (!w->abort_asked && !outstanding()) {
            ask();
            w->abort_asked = true;
        }
        if (!w->abort_killed && now - w->abort_sent >= ABORT_GRACE_NS) {
            pthread_kill(wd.sched, SIGABRT);
            w->abort_killed = true;
        }
        return;
    }
    if (ran < wd.threshold_ns) {
        w->prev_running = false;
        return;
    }
    enum proc_state st = read_syscall(&nr, &sp, &pc);
    bool due = !w->last_sample || now - w->last_sample >= wd.threshold_ns;
    if (st == PROC_SYSCALL) {
        w->prev_running = false;
        if (!due)
            return;
        uint64_t regs[GT_CTX_NREGS] = {0};
        regs[GT_CTX_SP] = sp;
        regs[GT_CTX_PC] = pc;
        if (sample_write(current, switches, nr, regs)) {
            __atomic_fetch_add(&gt__reg.watchdog_events, 1, __ATOMIC_RELAXED);
            w->last_sample = now;
        }
        return;
    }
    uint64_t voluntary = 0, cpu = sched_cpu_ns();
    bool traced = false;
    /* Under a debugger, no signal: GDB stops at every signal it does not
     * know (SIG40...), and it has the thread's registers anyway. */
    if (st != PROC_RUNNING || !read_status(&voluntary, &traced) || traced) {
        w->prev_running = false;
        return;
    }
    /* Computing, not just preempted: a thread that sleeps in a system
     * call over and over, but lost its CPU to another process for a whole
     * period, shows "running" twice with no voluntary switch between; it
     * gained only microseconds, and may enter its next call just as the
     * signal comes (EINTR).  A hog gains most of the period. */
    bool steady = w->prev_running && voluntary == w->prev_voluntary &&
                  (!wd.have_cpu || cpu - w->prev_cpu >= wd.period_ns / 4);
    w->prev_running = true;
    w->prev_voluntary = voluntary;
    w->prev_cpu = cpu;
    if (steady && due && !outstanding()) {
        ask();
        w->last_sample = now;
    }
}

static void *watchdog_main(void *arg)
{
    (void)arg;
    struct watch w;
    memset(&w, 0, sizeof(w));
    uint64_t last = now_ns();
    pthread_mutex_lock(&wd.lock);
    while (!wd.stop) {
        uint64_t at = last + wd.period_ns;
        struct timespec ts = {(time_t)(at / 1000000000u),
                              (long)(at % 1000000000u)};
        int rc = pthread_cond_timedwait(&wd.wake, &wd.lock, &ts);
        if (wd.stop)
            break;
        if (rc != ETIMEDOUT)
            continue;
        pthread_mutex_unlock(&wd.lock);
        uint64_t now = now_ns();
        look(&w, now, now - last > wd.period_ns + LATE_NS);
        last = now;
        pthread_mutex_lock(&wd.lock);
    }
    pthread_mutex_unlock(&wd.lock);
    return NULL;
}

/* ---- start, stop, fork ------------------------------------------------------ */

/* A child of fork has only the thread that called it: no watchdog. */
static void after_fork_in_child(void)
{
    if (!wd.running)
        return;
    wd.running = false;
    sys_close(wd.syscall_fd);
    sys_close(wd.status_fd);
    wd.syscall_fd = wd.status_fd = -1;
    atomic_store(&wd.requested, 0);
    atomic_store(&wd.served, 0);
    atomic_store(&wd.abort_wanted, false);
    gt__reg.watchdog_ns = 0;
    /* The watchdog may have been writing a sample at the fork. */
    atomic_flag_clear(&sample_busy);
    if (gt__reg.sample_seq & 1) {
        gt__reg.sample_thread = 0;
        gt__reg.sample_seq++;
    }
}

static void configure(void)
{
    wd.configured = true;
    wd.threshold_ns = gt__env_number("GT_WATCHDOG_MS", "ms", 0, MS_MAX,
                                     THRESHOLD_DEFAULT_MS) * NS_PER_MS;
    wd.abort_ns = gt__env_number("GT_WATCHDOG_ABORT_MS", "ms", 0, MS_MAX, 0) *
                  NS_PER_MS;
    if (wd.abort_ns && !wd.threshold_ns)
        fprintf(stderr, "gt: GT_WATCHDOG_ABORT_MS=%llu needs the watchdog, "
                        "which GT_WATCHDOG_MS=0 turns off; not aborting\n",
                (unsigned long long)(wd.abort_ns / NS_PER_MS));
    uint64_t shortest = wd.threshold_ns;
    if (wd.abort_ns && wd.abort_ns < shortest)
        shortest = wd.abort_ns;
    wd.period_ns = shortest / 4 > PERIOD_MIN_NS ? shortest / 4 : PERIOD_MIN_NS;
    if (!wd.threshold_ns)
        return;
    struct sigaction old, sa;
    int sig = watchdog_signal();
    if (sigaction(sig, NULL, &old) == 0 && old.sa_handler != SIG_DFL) {
        fprintf(stderr, "gt: the watchdog's signal %d (SIGRTMIN+%d) already has "
                        "a handler; watchdog off (GT_WATCHDOG_MS=0 says so "
                        "quietly)\n", sig, SIGNAL_OFFSET);
        wd.threshold_ns = 0;
        return;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sample;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) < 0) {
        wd.threshold_ns = 0;
        return;
    }
    wd.handler_installed = true;
    pthread_atfork(NULL, NULL, after_fork_in_child);
}

static int open_task_file(pid_t tid, const char *name)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%d/%s", (int)tid, name);
    return (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
}

/* The handler runs on an alternate stack, never on a green one (a thread
 * near its stack's end would overflow).  The first thread to run gt_main
 * has fault.c's, installed at init, which the two handlers share: the
 * watchdog's handler uses a few hundred bytes, and a fatal signal inside
 * it nests below it on the same stack.  A thread that runs gt_main later
 * and has none gets this file's own, for as long as gt_main runs. */
static void ensure_altstack(void)
{
    stack_t cur;
    if (sigaltstack(NULL, &cur) < 0 || !(cur.ss_flags & SS_DISABLE))
        return;
    if (!altstack && !(altstack = malloc(THREAD_STACK)))
        return;
    stack_t ss = {.ss_sp = altstack, .ss_size = THREAD_STACK};
    if (sigaltstack(&ss, NULL) == 0)
        wd.own_altstack = true;
}

void gt__watchdog_start(void)
{
    /* The bench's uninstrumented build keeps no run_start to time a slice
     * by: no watchdog there. */
    if (!GT__INSTRUMENT)
        return;
    if (!wd.configured)
        configure();
    gt__reg.watchdog_ns = 0;
    if (!wd.threshold_ns || wd.running)
        return;
    ensure_altstack();
    pid_t tid = (pid_t)syscall(SYS_gettid);
    wd.sched = pthread_self();
    wd.have_cpu = pthread_getcpuclockid(wd.sched, &wd.sched_cpu) == 0;
    /* Without /proc the watchdog cannot tell a system call from user
     * code, so it never signals; it still times slices and aborts. */
    wd.syscall_fd = open_task_file(tid, "syscall");
    wd.status_fd = open_task_file(tid, "status");
    wd.stop = false;
    atomic_store(&wd.requested, 0);
    atomic_store(&wd.served, 0);
    atomic_store(&wd.abort_wanted, false);
    gt__reg.wd_switches = 0;
    gt__reg.wd_since = 0;

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wd.wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&wd.lock, NULL);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    /* Created with every signal blocked: it inherits the mask. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&wd.thread, &attr, watchdog_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        pthread_cond_destroy(&wd.wake);
        pthread_mutex_destroy(&wd.lock);
        sys_close(wd.syscall_fd);
        sys_close(wd.status_fd);
        wd.syscall_fd = wd.status_fd = -1;
        return;
    }
    wd.running = true;
    gt__reg.watchdog_ns = wd.threshold_ns;
}

void gt__watchdog_stop(void)
{
    if (!wd.running)
        return;
    pthread_mutex_lock(&wd.lock);
    wd.stop = true;
    pthread_cond_signal(&wd.wake);
    pthread_mutex_unlock(&wd.lock);
    pthread_join(wd.thread, NULL);
    pthread_cond_destroy(&wd.wake);
    pthread_mutex_destroy(&wd.lock);
    sys_close(wd.syscall_fd);
    sys_close(wd.status_fd);
    wd.syscall_fd = wd.status_fd = -1;
    wd.running = false;
    if (wd.own_altstack) {
        /* No green thread runs any more: a signal still pending can run
         * its handler on this thread's own stack. */
        stack_t off = {.ss_flags = SS_DISABLE};
        sigaltstack(&off, NULL);
        wd.own_altstack = false;
    }
}
