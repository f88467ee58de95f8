/*
 * fault.c - a crash in a green thread says which thread, where, and how.
 *
 * Fatal signals run on an alternate signal stack (an overflowing thread has
 * no stack left), print the thread's id, name, location, stack bounds, the
 * faulting address (and whether it hit the thread's guard), and a backtrace
 * through libunwind; then the default action is restored and the signal
 * re-raised, so the process dies as it would have and leaves a core, whose
 * registry says when that was (fatal_ns).
 */
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sys.h"

#define ALTSTACK_SIZE (64 * 1024)

static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};

static void say(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(buf) - 1)
        n = (int)sizeof(buf) - 1;
    if (n > 0)
        (void)!sys_write(2, buf, (size_t)n);
}

/* One pc with the symbol the dynamic linker knows, if any. */
static void say_pc(const char *indent, int i, uint64_t pc)
{
    Dl_info info;
    if (dladdr((void *)(uintptr_t)(pc - 1), &info) && info.dli_sname)
        say("%s#%-2d 0x%016llx %s+0x%llx\n", indent, i, (unsigned long long)pc,
            info.dli_sname,
            (unsigned long long)(pc - (uint64_t)(uintptr_t)info.dli_saddr));
    else
        say("%s#%-2d 0x%016llx\n", indent, i, (unsigned long long)pc);
}

/* Prints the backtrace, folding runs of the same pc (deep recursion is
 * the usual overflow) into one line, so the thread's entry still shows. */
static void backtrace_from(ucontext_t *uc)
{
    unw_cursor_t cur;
    if (unw_init_local2(&cur, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME) < 0) {
        say("  (no backtrace: libunwind could not start)\n");
        return;
    }
    unw_word_t last = 0;
    int repeats = 0, printed = 0;
    for (int i = 0; i < 100000 && printed < 64; i++) {
        unw_word_t pc = 0, off = 0;
        char name[128];
        unw_get_reg(&cur, UNW_REG_IP, &pc);
        if (!pc)
            break;
        if (pc == last) {
            repeats++;
        } else {
            if (repeats)
                say("      ... the same frame %d more times\n", repeats);
            repeats = 0;
            last = pc;
            if (unw_get_proc_name(&cur, name, sizeof(name), &off) == 0)
                say("  #%-2d 0x%016llx %s+0x%llx\n", i, (unsigned long long)pc,
                    name, (unsigned long long)off);
            else
                say("  #%-2d 0x%016llx ?\n", i, (unsigned long long)pc);
            printed++;
        }
        if (unw_step(&cur) <= 0)
            break;
    }
    if (repeats)
        say("      ... the same frame %d more times\n", repeats);
}

/* Publishes when the process met its fatal signal (registry.h, TIME):
 * the core it is about to leave then says when it was written, however
 * long ago the runtime last read the clock.  clock_gettime is
 * async-signal-safe. */
static void note_fatal_time(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
        return;
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    gt__reg.fatal_ns = ns;
    gt__reg.clock_now = ns;
}

static void on_fatal(int sig, siginfo_t *si, void *ucv)
{
    struct gt__thread *t = gt__tls_current;
    /* The time first too, in case the report is cut short (another
     * fatal signal finds the handler reset); again last, below. */
    note_fatal_time();
    /* First, before anything that could fail: the core then holds the
     * interrupted thread's exact registers (registry.h, THE WATCHDOG'S
     * SAMPLE), a spinning thread's included, whose saved context is
     * stale.  Only on the runtime's kernel thread (t), and only for a
     * frame of the current thread (watchdog.c checks that). */
    if (t)
        gt__watchdog_fatal_sample(ucv);
    /* The report is the runtime's, not the thread's: libunwind reads ELF
     * files through the interposed read, which inside a green thread would
     * count them as the program's regular-file I/O and read the runtime's
     * clock.  Outside a green thread the interposed calls are plain libc. */
    gt__tls_current = NULL;
    if (t) {
        uintptr_t addr = (uintptr_t)si->si_addr;
        uintptr_t lo = (uintptr_t)t->pub.stack_lo;
        /* In the thread's guard (or, under the canary policy, as far
         * below as one would reach): its own overflow. */
        uintptr_t guard = t->pub.guard_size ? (uintptr_t)t->pub.guard_size
                                            : 65536;
        bool overflow = (sig == SIGSEGV || sig == SIGBUS) &&
                        addr < lo && addr + guard >= lo;
        say("gt: %s in green thread %llu \"%s\"%s\n", strsignal(sig),
            (unsigned long long)t->pub.id, t->pub.name,
            overflow ? ": stack overflow" : "");
        if (sig == SIGSEGV || sig == SIGBUS)
            say("  fault address %p%s\n", si->si_addr,
                overflow ? " (below the stack: in its guard)" : "");
        say("  stack %#llx..%#llx (%llu bytes; raise gt_attr_t.stack_size "
            "or GT_STACK_SIZE if it is too small)\n",
            (unsigned long long)t->pub.stack_lo,
            (unsigned long long)t->pub.stack_hi,
            (unsigned long long)(t->pub.stack_hi - t->pub.stack_lo));
        const struct gt_location_rec *l = gt__location_get(t->prev_loc);
        if (l) {
            say("  location (where it last parked):\n");
            for (uint32_t d = 0; d < l->depth; d++)
                say_pc("    ", d, l->pcs[d]);
        } else {
            say("  location: none (it never parked)\n");
        }
        say("  backtrace:\n");
        backtrace_from(ucv);
    }
    /* Last: the core is written right after it. */
    note_fatal_time();
    /* Die the way the signal meant: the default action makes the core. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigaction(sig, &sa, NULL);
    raise(sig);
}

int gt__fault_init(void)
{
    static char *altstack;
    if (!altstack) {
        altstack = malloc(ALTSTACK_SIZE);
        if (!altstack)
            return -1;
    }
    stack_t ss = {.ss_sp = altstack, .ss_size = ALTSTACK_SIZE};
    if (sigaltstack(&ss, NULL) < 0)
        return -1;
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
        struct sigaction old, sa;
        /* A program's own handler wins: it has asked for the signal. */
        if (sigaction(fatal[i], NULL, &old) == 0 && old.sa_handler != SIG_DFL)
            continue;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_fatal;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER | SA_RESETHAND;
        sigemptyset(&sa.sa_mask);
        sigaction(fatal[i], &sa, NULL);
    }
    return 0;
}
