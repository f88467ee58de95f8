/*
 * start.c - how a pthread program comes to run on gt.
 *
 * The library defines __libc_start_main, which the program's _start calls
 * (through the PLT, so a preloaded or earlier-linked definition wins).  It
 * hands glibc's own __libc_start_main a stand-in for main; glibc runs the
 * program's constructors as usual, then the stand-in, which starts gt_main
 * with the program's main as green thread 1 and calls exit() with main's
 * status from inside it: atexit handlers and destructors run on green
 * thread 1, where every pthread name still works.
 *
 * BEFORE MAIN.  A constructor runs on the kernel thread before any
 * scheduler exists.  pthread_create there does not fail: the thread is
 * queued, with the id it will have, and starts when the scheduler does
 * (made by green thread 1 before main runs, so in creation order, first
 * running when main first parks or yields).  A join before main would wait
 * forever: it returns EDEADLK with one line on stderr.
 *
 * AFTER gt_main RETURNS (main called pthread_exit and every other thread
 * has ended) the process exits with status 0 as POSIX says; atexit
 * handlers then run outside any green thread, on glibc's names.  When a
 * green thread calls exit(), gt_main never returns: leave_runtime does
 * what its return would have (the fd flags) at the end of exit().
 *
 * A GT PROGRAM (linked with libgt) starts its own runtime: its main runs
 * as it is, with one line on stderr, and the pthread names are glibc's.
 *
 * TLS.  __thread variables belong to the kernel thread, so every green
 * thread shares one copy.  The program's own TLS segment (PT_TLS of the
 * executable) says whether it has any: one line on stderr at start unless
 * GT_PTHREAD_WARN_TLS=0; GT_PTHREAD_WARN_TLS=2 names every loaded object
 * with a TLS segment as well.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pthread_gt.h"

enum gt__pt_phase gt__pt_phase = GT__PT_BEFORE;
__attribute__((tls_model("initial-exec"))) __thread bool gt__pt_on_runtime_thread;

typedef int (*main_fn)(int, char **, char **);
static main_fn program_main;
static int main_argc;
static char **main_argv, **main_envp;

void *gt__pt_next(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (!p) {
        fprintf(stderr, "gt-pthread: %s not found in the libraries after "
                        "libgt-pthread.so: %s\n", name, dlerror());
        abort();
    }
    return p;
}

void gt__pt_note_once(bool *done, const char *msg)
{
    if (*done)
        return;
    *done = true;
    fprintf(stderr, "gt-pthread: %s\n", msg);
}

/* ---- TLS ----------------------------------------------------------------- */

struct tls_scan {
    int level;       /* GT_PTHREAD_WARN_TLS */
    bool first_seen; /* the executable comes first */
};

static int tls_one(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct tls_scan *s = arg;
    bool is_program = !s->first_seen;
    s->first_seen = true;
    if (!is_program && s->level < 2)
        return 1; /* only the executable: stop */
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_TLS || ph->p_memsz == 0)
            continue;
        const char *who = is_program ? program_invocation_name
                                     : info->dlpi_name;
        fprintf(stderr,
                "gt-pthread: %s has %llu bytes of __thread variables: they "
                "belong to the kernel thread, so all green threads share "
                "them (GT_PTHREAD_WARN_TLS=0 silences this)\n",
                who && *who ? who : "(unnamed object)",
                (unsigned long long)ph->p_memsz);
    }
    return 0;
}

static void warn_tls(void)
{
    const char *e = getenv("GT_PTHREAD_WARN_TLS");
    struct tls_scan s = {1, false};
    if (e && !strcmp(e, "0"))
        return;
    if (e && !strcmp(e, "2"))
        s.level = 2;
    dl_iterate_phdr(tls_one, &s);
}

/* ---- main ---------------------------------------------------------------- */

/* Main's stack: what the kernel would have let it grow to (RLIMIT_STACK,
 * 8 MiB by default), within gt's bounds.  Untouched pages cost nothing. */
static size_t main_stack_size(void)
{
    struct rlimit rl;
    size_t size = 8u << 20;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        size = (size_t)rl.rlim_cur;
    if (size < GT_STACK_MIN)
        size = GT_STACK_MIN;
    if (size > GT_STACK_MAX)
        size = GT_STACK_MAX;
    return size;
}

/* Green thread 1. */
void gt__pt_main_thread(void *unused)
{
    (void)unused;
    /* Readers show the program's main as the thread's entry. */
    struct gt__thread *t = gt__self();
    gt__seq_begin(&t->pub.seq);
    t->pub.entry = (uint64_t)(uintptr_t)program_main;
    gt__seq_end(&t->pub.seq);
    gt__pt_start_queued();
    exit(program_main(main_argc, main_argv, main_envp));
}

/* The process that started the runtime: a forked child must not touch
 * the flags of descriptions it shares with it. */
static pid_t runtime_pid;

/* exit() from a green thread never returns to gt_main, which would put
 * back the O_NONBLOCK flags the runtime set on pipes and sockets (stdin
 * is often a pipe shared with the shell or the parent).  This destructor,
 * among the last things exit() runs, does it instead, and leaves the
 * runtime: from here on (libc's own destructors, the flush of stdio) the
 * calling thread is no green thread, so every name is plain libc's and
 * blocks as the restored flags say. */
static __attribute__((destructor)) void leave_runtime(void)
{
    if (gt__pt_phase != GT__PT_RUNNING || !gt__pt_on_runtime_thread)
        return;
    gt__pt_phase = GT__PT_AFTER;
    if (getpid() == runtime_pid)
        gt__fd_restore_all();
    gt__tls_current = NULL;
}

/* Is the program a gt program already (libgt.a linked in, or libgt.so
 * loaded)?  Its own gt_registry is then found before this library's, or
 * after it. */
static bool program_is_gt(void)
{
    void *first = dlsym(RTLD_DEFAULT, "gt_registry");
    return (first && first != (void *)&gt__reg) ||
           dlsym(RTLD_NEXT, "gt_registry") != NULL;
}

/* What glibc calls as main. */
static int start_main(int argc, char **argv, char **envp)
{
    main_argc = argc;
    main_argv = argv;
    main_envp = envp;
    if (program_is_gt()) {
        /* It starts its own runtime (with a preload inherited from a
         * parent, say): a second one around it would only be in its way.
         * Every pthread name is glibc's for it. */
        fprintf(stderr, "gt-pthread: %s runs on gt already (it links "
                        "libgt): its main runs as it is\n",
                program_invocation_name);
        gt__pt_phase = GT__PT_AFTER;
        return program_main(argc, argv, envp);
    }
    warn_tls();
    gt__main_stack_size = main_stack_size();
    gt__pt_on_runtime_thread = true;
    runtime_pid = getpid();
    gt__pt_phase = GT__PT_RUNNING;
    int rc = gt_main(gt__pt_main_thread, NULL);
    int e = errno;
    gt__pt_phase = GT__PT_AFTER;
    if (rc < 0 && e == EDEADLK)
        return 1; /* the runtime has said which threads */
    if (rc < 0) {
        fprintf(stderr, "gt-pthread: cannot start the runtime: %s\n",
                strerror(e));
        return 127;
    }
    return 0; /* main called pthread_exit, and every thread has ended */
}

GT__PUBLIC int __libc_start_main(main_fn main, int argc, char **argv,
                                 void (*init)(void), void (*fini)(void),
                                 void (*rtld_fini)(void), void *stack_end)
{
    program_main = main;
    return PT_NEXT(__libc_start_main)(start_main, argc, argv, init, fini,
                                      rtld_fini, stack_end);
}
