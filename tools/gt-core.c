/*
 * gt-core - an ELF core file of a live gt program, every green stack in
 * it, the program left running.
 *
 *   gt-core [-o FILE] [-f] [-c] [-n | --regs-from=FILE] [-q] PID
 *
 * GDB loads the file like a kernel core (info threads, bt, the gt
 * extension's green-thread N), and gt-stacks, gt-waste and gt-top read
 * it with --core.  The steps (tools/core/core.h names the file of each):
 *
 *   1. while the target runs: the output file, unnamed (O_TMPFILE) in
 *      FILE's directory; the target opened by libgtobserve (its registry
 *      found), its auxv; a first plan, which sizes the copy's buffer
 *      (faulted in now) and warms libgtobserve's buffers;
 *   2. stopped: every task seized and interrupted; registers; the map;
 *      the plan again (populated pages; --compact: what the readers
 *      read); the memory copied into the buffer;
 *   3. detached: the target runs on while the file is written (sparse)
 *      and given its name.
 *
 * The target is stopped only for step 2 (0.1-0.3 s at 100K threads).
 * Any failure leaves no file; the target is always detached first.
 * GT_CORE_TIMES=1 prints each step's time on stderr.
 *
 * Exit status: 0 the core was written; 1 the target could not be captured
 * (one line on stderr says why); 2 bad command line, or FILE exists
 * without -f.
 */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "core/core.h"

#include <gt.h>

#define STR_(x) #x
#define STR(x) STR_(x)
const char *argp_program_version =
    "gt-core " STR(GT_VERSION_MAJOR) "." STR(GT_VERSION_MINOR);

static const char doc[] =
    "Writes an ELF core file of the live gt program PID, with every green "
    "thread's stack, and leaves the program running: GDB loads it like a "
    "kernel core, and gt-stacks, gt-waste and gt-top read it with --core.\v"
    "The target is stopped (ptrace) only while its memory is copied; the file "
    "is written after.  A program without a gt registry gets a plain core.\n\n"
    "Exit status: 0 the core was written, 1 the target could not be captured "
    "(the message says why; no partial file is left), 2 bad command line or "
    "FILE exists without -f.";
static const char args_doc[] = "PID\n-p PID";

enum { OPT_REGS_FROM = 256 };

static const struct argp_option options[] = {
    {NULL, 0, NULL, 0, "Output:", 1},
    {"pid", 'p', "PID", 0, "the live gt program PID (the same as PID alone, as "
     "gt-stacks, gt-waste and gt-top take it)", 1},
    {"output", 'o', "FILE", 0, "the core file (default: core.PID here)", 1},
    {"force", 'f', NULL, 0, "replace FILE if it exists", 1},
    {"compact", 'c', NULL, 0, "only what debugging the green threads needs: the "
     "registry, live stack parts, kernel threads' stacks, small data", 1},
    {"quiet", 'q', NULL, 0, "no summary line", 1},
    {NULL, 0, NULL, 0, "Stopping:", 2},
    {"no-stop", 'n', NULL, 0, "copy while the target runs (best effort: the "
     "registry's own consistency only; said in the output and the core)", 2},
    {"regs-from", OPT_REGS_FROM, "FILE", 0, "kernel threads' registers from FILE; "
     "the target is already stopped by its tracer (GDB's green-gcore)", 2},
    {NULL, 'h', NULL, OPTION_HIDDEN, "give this help list", -1},
    {NULL, 0, NULL, 0, NULL, 0},
};

struct opts {
    const char *pid_arg;
    pid_t pid;
    const char *output;
    int force, compact, quiet, no_stop;
    const char *regs_from;
};

static error_t parse_opt(int key, char *arg, struct argp_state *st)
{
    struct opts *o = st->input;
    switch (key) {
    case 'o': o->output = arg; break;
    case 'f': o->force = 1; break;
    case 'c': o->compact = 1; break;
    case 'q': o->quiet = 1; break;
    case 'n': o->no_stop = 1; break;
    case OPT_REGS_FROM: o->regs_from = arg; break;
    case 'h': argp_state_help(st, stdout, ARGP_HELP_STD_HELP); break;
    case 'p':
    case ARGP_KEY_ARG:
        if (o->pid_arg)
            argp_error(st, "one PID only ('%s' is extra)", arg);
        o->pid_arg = arg;
        break;
    case ARGP_KEY_END: {
        char err[256];
        struct target_args t = {o->pid_arg, NULL, NULL};
        if (target_args_check(&t, err, sizeof(err)) < 0)
            argp_error(st, "%s", err);
        o->pid = (pid_t)strtol(o->pid_arg, NULL, 10);
        if (o->no_stop && o->regs_from)
            argp_error(st, "--no-stop and --regs-from both say how the target is "
                       "held: give one");
        if (o->output && !o->output[0])
            argp_error(st, "--output needs a file name");
        if (o->output && strlen(o->output) >= CORE_PATH_MAX - 64)
            argp_error(st, "--output: the name is too long");
        break;
    }
    default:
        return ARGP_ERR_UNKNOWN;
    }
    return 0;
}

/* The temporary file, removed by any exit that did not rename it. */
static char tmp_path[4 * CORE_PATH_MAX];

/* The capture being taken: what a signal handler must let go of. */
static struct capture *held_capture;

static void on_signal(int sig)
{
    /* Detach before dying: the kernel would detach the target anyway when
     * gt-core ends, but without the signals the stop took from it. */
    if (held_capture)
        core_detach(held_capture);
    if (tmp_path[0])
        unlink(tmp_path);
    signal(sig, SIG_DFL);
    raise(sig);
}

static uint64_t vm_rss(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return (uint64_t)kb * 1024;
}

static void read_auxv(struct capture *c)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/auxv", (int)c->pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    static uint8_t b[8192];   /* auxv is a few hundred bytes */
    ssize_t n = read(fd, b, sizeof(b));
    close(fd);
    if (n > 0 && (c->auxv = malloc((size_t)n))) {
        memcpy(c->auxv, b, (size_t)n);
        c->auxv_len = (size_t)n;
    }
}

/* --no-stop: a task's sp and pc as /proc/PID/task/TID/syscall gives them
 * for a task blocked in a system call (its registers cannot be read
 * without stopping it). */
static void regs_from_proc(struct capture *c)
{
    for (size_t i = 0; i < c->ntasks; i++) {
        struct core_task *t = &c->tasks[i];
        char path[96], line[512];
        snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)c->pid, (int)t->tid);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        unsigned long long nr, a[6], sp, pc;
        if (fgets(line, sizeof(line), f) &&
            sscanf(line, "%llu %llx %llx %llx %llx %llx %llx %llx %llx", &nr, &a[0], &a[1],
                   &a[2], &a[3], &a[4], &a[5], &sp, &pc) == 9) {
            t->regs.orig_rax = nr;
            t->regs.rdi = a[0];
            t->regs.rsi = a[1];
            t->regs.rdx = a[2];
            t->regs.r10 = a[3];
            t->regs.r8 = a[4];
            t->regs.r9 = a[5];
            t->regs.rsp = sp;
            t->regs.rip = pc;
            t->regs.cs = 0x33;
            t->regs.ss = 0x2b;
        }
        t->have_regs = 1;
        fclose(f);
    }
}

/* GT_CORE_TIMES=1: each step's time and the plan's size on stderr, for
 * measuring where a stop goes. */
static int show_times;
static uint64_t t_last;

static void step(const char *what)
{
    if (!show_times)
        return;
    uint64_t now = core_now(CLOCK_MONOTONIC);
    fprintf(stderr, "gt-core: %-8s %.3f s\n", what, (double)(now - t_last) / 1e9);
    t_last = now;
}

struct run {
    struct opts *o;
    struct capture c;
    struct green_ctx *g;
    char file[CORE_PATH_MAX];
    int fd;
    int held;                 /* the target is stopped by us */
    uint64_t t_start, t_stop0;
    uint64_t rss;             /* VmRSS when the target was stopped */
    char dir[CORE_PATH_MAX];  /* FILE's directory and name */
    char base[CORE_PATH_MAX];
    int named;                /* the file has a temporary name (tmp_path),
                               * not O_TMPFILE's none */
};

/* Gives the written file its name FILE.  Without -f the name is taken
 * only if still free (link fails on a file that appeared meanwhile, where
 * rename would replace it): -1 EEXIST.  0, or -1 with errno. */
static int name_file(struct run *r)
{
    if (r->named) {
        if (r->o->force)
            return rename(tmp_path, r->file) < 0 ? -1 : (tmp_path[0] = 0, 0);
        if (link(tmp_path, r->file) < 0)
            return -1;
        unlink(tmp_path);
        tmp_path[0] = 0;
        return 0;
    }
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", r->fd);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, r->file, AT_SYMLINK_FOLLOW) == 0)
        return 0;
    if (errno != EEXIST || !r->o->force)
        return -1;
    /* -f: a temporary name first, then renamed over FILE in one step. */
    for (unsigned i = 0; i < 100; i++) {
        snprintf(tmp_path, sizeof(tmp_path), "%s/.%s.%d.%u", r->dir, r->base,
                 (int)getpid(), i);
        if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp_path, AT_SYMLINK_FOLLOW) < 0) {
            tmp_path[0] = 0;
            if (errno == EEXIST)
                continue;
            return -1;
        }
        int rc = rename(tmp_path, r->file);
        int e = errno;
        if (rc < 0)
            unlink(tmp_path);
        tmp_path[0] = 0;
        errno = e;
        return rc;
    }
    errno = EEXIST;
    return -1;
}

static void release(struct run *r)
{
    if (r->held) {
        sigset_t block, old;
        sigemptyset(&block);
        sigaddset(&block, SIGINT);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGHUP);
        sigprocmask(SIG_BLOCK, &block, &old);
        held_capture = NULL;
        core_detach(&r->c);
        sigprocmask(SIG_SETMASK, &old, NULL);
        r->c.stopped_ns = core_now(CLOCK_MONOTONIC) - r->t_stop0;
        r->held = 0;
    }
}

/* Fails the capture: detaches, removes the file, prints ERR (with the
 * file named as removed when the target went away). */
static int fail(struct run *r, const char *err, int removed)
{
    release(r);
    if (r->fd >= 0)
        close(r->fd);
    if (tmp_path[0])
        unlink(tmp_path);
    /* The process was there when the capture began (main checked): if it
     * is gone or a zombie now, that is why whatever step failed did (a
     * zombie refuses PTRACE_SEIZE with EPERM, its maps read empty), and
     * it is what the user needs to hear. */
    char state = 0;
    pid_t tgid = 0;
    if (kill(r->o->pid, 0) < 0 ? errno == ESRCH
                               : (core_task_facts(r->o->pid, &tgid, &state),
                                  state == 'Z' || state == 'X')) {
        fprintf(stderr, "gt-core: %d exited during the capture: %s removed\n",
                (int)r->o->pid, r->file);
        return EXIT_TARGET;
    }
    if (removed)
        fprintf(stderr, "gt-core: %s: %s removed\n", err, r->file);
    else
        fprintf(stderr, "gt-core: %s\n", err);
    return EXIT_TARGET;
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    struct argp argp = {options, parse_opt, args_doc, doc, NULL, NULL, NULL};
    argp_err_exit_status = EXIT_USAGE;
    argp_parse(&argp, argc, argv, 0, NULL, &o);

    static struct run run;
    struct run *r = &run;
    struct capture *c = &r->c;
    char err[CORE_ERR] = "";
    r->o = &o;
    r->fd = -1;
    r->t_start = t_last = core_now(CLOCK_MONOTONIC);
    show_times = getenv("GT_CORE_TIMES") != NULL;
    c->pid = o.pid;
    c->mode = o.compact ? CORE_COMPACT : CORE_FULL;
    if (o.output)
        snprintf(r->file, sizeof(r->file), "%s", o.output);
    else
        snprintf(r->file, sizeof(r->file), "core.%d", (int)o.pid);

    struct stat sb;
    if (!o.force && lstat(r->file, &sb) == 0) {
        fprintf(stderr, "gt-core: %s exists: use -f to replace it or -o to name "
                "another file\n", r->file);
        return EXIT_USAGE;
    }
    char procdir[64];
    snprintf(procdir, sizeof(procdir), "/proc/%d", (int)o.pid);
    if (stat(procdir, &sb) < 0) {
        fprintf(stderr, "gt-core: no process %d: check the pid (ps -p %d)\n", (int)o.pid,
                (int)o.pid);
        return EXIT_TARGET;
    }
    /* What the pid names: a process gt-core can stop.  A thread's id
     * names its process's threads too, but the core would be the
     * process's: the process is named instead. */
    pid_t tgid = 0;
    char state = 0;
    core_task_facts(o.pid, &tgid, &state);
    if (o.pid == getpid()) {
        fprintf(stderr, "gt-core: %d is gt-core itself: give the pid of the program "
                "to capture\n", (int)o.pid);
        return EXIT_TARGET;
    }
    if (tgid && tgid != o.pid) {
        fprintf(stderr, "gt-core: %d is a thread of process %d: give %d\n", (int)o.pid,
                (int)tgid, (int)tgid);
        return EXIT_TARGET;
    }
    if (state == 'Z' || state == 'X') {
        fprintf(stderr, "gt-core: %d has exited (a zombie its parent has not reaped): "
                "there is no memory left to capture\n", (int)o.pid);
        return EXIT_TARGET;
    }
    core_comm(o.pid, c->comm, sizeof(c->comm));

    /* The file first, unnamed (O_TMPFILE) in FILE's directory: a
     * directory that cannot take it fails the capture before the target
     * is stopped, and a gt-core killed outright (SIGKILL, the OOM killer)
     * leaves nothing behind.  File systems without O_TMPFILE get a named
     * temporary file, removed on every exit gt-core sees. */
    char buf[CORE_PATH_MAX];   /* basename and dirname write into theirs */
    memcpy(buf, r->file, sizeof(buf));
    snprintf(r->base, sizeof(r->base), "%s", basename(buf));
    memcpy(buf, r->file, sizeof(buf));
    snprintf(r->dir, sizeof(r->dir), "%s", dirname(buf));
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    r->fd = open(r->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (r->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        snprintf(tmp_path, sizeof(tmp_path), "%s/.%s.XXXXXX", r->dir, r->base);
        r->fd = mkostemp(tmp_path, O_CLOEXEC);
        if (r->fd < 0)
            tmp_path[0] = 0;
        r->named = 1;
    }
    if (r->fd < 0) {
        core_err(err, "cannot create %s: %s", r->file, strerror(errno));
        return fail(r, err, 0);
    }
    fchmod(r->fd, 0600);

    int is_gt = core_green_open(c, &r->g, err) == 0;
    /* Why libgtobserve would not open it: no registry at all is the
     * common case, said plainly; any other reason is quoted. */
    char why[CORE_ERR + 16];
    if (is_gt || strstr(err, "is not a gt program"))
        snprintf(why, sizeof(why), "has no gt registry");
    else
        snprintf(why, sizeof(why), "cannot be read as a gt program (%s)", err);
    err[0] = 0;
    read_auxv(c);
    step("open");

    /* The plan made once while the target runs: it sizes the copy's
     * buffer, faulted in now, and warms libgtobserve's buffers, so that
     * the stop only re-plans and copies.  Failures here are not final:
     * the stopped target decides. */
    if (!o.regs_from && !o.no_stop && core_maps_read(c, err) == 0) {
        int ok = 1;
        if (is_gt)
            ok = core_green_count(c, r->g, err) == 0;
        if (ok && (o.compact ? is_gt && core_plan_compact(c, r->g, err) == 0
                             : core_plan_full(c, err) == 0)) {
            uint64_t want = core_copy_bytes(c);
            /* room for what the target adds before it stops */
            want += want / 8 + (4u << 20);
            if (core_copy_reserve(c, want, err) < 0)
                return fail(r, err, 0);
        }
        core_plan_reset(c);
    }
    err[0] = 0;
    step("preplan");

    /* Step 2: the target held. */
    if (o.regs_from) {
        if (core_tasks_scan(c) < 0) {
            core_err(err, "%d exited during the capture", (int)o.pid);
            return fail(r, err, 1);
        }
        if (core_regs_from_file(c, o.regs_from, err) < 0)
            return fail(r, err, 0);
        c->flags |= GT_CAPTURE_NO_FPREGS;
    } else if (o.no_stop) {
        if (core_tasks_scan(c) < 0) {
            core_err(err, "%d exited during the capture", (int)o.pid);
            return fail(r, err, 1);
        }
        regs_from_proc(c);
        c->flags |= GT_CAPTURE_NO_STOP | GT_CAPTURE_NO_FPREGS;
    } else {
        r->t_stop0 = core_now(CLOCK_MONOTONIC);
        r->held = 1;
        held_capture = c;
        if (core_stop(c, err) < 0)
            return fail(r, err, errno == ESRCH);
    }
    c->monotonic_ns = core_now(CLOCK_MONOTONIC);
    c->realtime_ns = core_now(CLOCK_REALTIME);
    r->rss = vm_rss(o.pid);   /* at capture: the process may end after */
    step("stop");
    for (size_t i = 0; show_times && i < c->ntasks; i++)
        if (c->tasks[i].resig)
            fprintf(stderr, "gt-core: task %d stopped delivering signal %d: given back "
                    "at detach\n", (int)c->tasks[i].tid, c->tasks[i].resig);
    if (r->held && core_regs_read(c, err) < 0)
        return fail(r, err, 1);
    core_tasks_stat(c);
    if (!is_gt) {
        if (o.compact) {
            core_err(err, "--compact needs a gt program: PID %d %s (drop --compact)",
                     (int)o.pid, why);
            return fail(r, err, 0);
        }
        c->flags |= GT_CAPTURE_NOT_GT;
    }
    step("regs");
    if (core_maps_read(c, err) < 0)
        return fail(r, err, errno == ESRCH);
    if (is_gt && core_green_count(c, r->g, err) < 0) {
        int gone = kill(o.pid, 0) < 0 && errno == ESRCH;
        if (gone)
            return fail(r, err, 1);
        if (o.compact) {
            size_t n = strlen(err);
            snprintf(err + n, sizeof(err) - n, ": --compact needs the registry "
                     "(capture without --compact)");
            return fail(r, err, 0);
        }
        /* A registry the reader cannot take (damaged, not yet published)
         * is when a core is wanted most: a full core is written anyway,
         * its green threads uncounted. */
        fprintf(stderr, "gt-core: %s: green threads not counted\n", err);
        err[0] = 0;
    }
    step("snapshot");
    if (o.compact) {
        c->flags |= GT_CAPTURE_COMPACT;
        if (core_plan_compact(c, r->g, err) < 0)
            return fail(r, err, 0);
    } else if (core_plan_full(c, err) < 0) {
        return fail(r, err, 0);
    }
    step("plan");
    if (show_times)
        fprintf(stderr, "gt-core: plan: %zu segments, %zu chunks, %llu bytes\n", c->nsegs,
                c->nchunks, (unsigned long long)core_copy_bytes(c));
    if (core_copy(c, err) < 0)
        return fail(r, err, errno == ESRCH);
    step("copy");
    release(r);
    step("detach");

    /* Step 3: the file. */
    uint8_t *notes;
    size_t nlen;
    if (core_notes_build(c, &notes, &nlen, err) < 0)
        return fail(r, err, 0);
    if (core_elf_write(c, r->fd, notes, nlen) < 0) {
        core_err(err, "writing %s: %s", r->file, strerror(errno));
        free(notes);
        return fail(r, err, 1);
    }
    free(notes);
    step("write");
    struct stat fs;
    fstat(r->fd, &fs);
    if (name_file(r) < 0) {
        int e = errno;
        if (e == EEXIST) {
            close(r->fd);
            if (tmp_path[0])
                unlink(tmp_path);
            fprintf(stderr, "gt-core: %s exists: use -f to replace it or -o to name "
                    "another file\n", r->file);
            return EXIT_USAGE;
        }
        core_err(err, "cannot name the core %s: %s", r->file, strerror(e));
        return fail(r, err, 0);
    }
    if (close(r->fd) < 0) {
        r->fd = -1;
        unlink(r->file);
        core_err(err, "writing %s: %s", r->file, strerror(errno));
        return fail(r, err, 1);
    }
    r->fd = -1;

    if (!is_gt) {
        char name[4 * sizeof(c->comm)];   /* the name is any bytes it set */
        gto_text_safe(c->comm, strlen(c->comm), name, sizeof(name));
        fprintf(stderr, "gt-core: PID %d (%s) %s: wrote a plain core (green threads "
                "cannot be listed)\n", (int)o.pid, name, why);
    }
    if (!o.quiet) {
        size_t ktasks = 0;
        for (size_t i = 0; i < c->ntasks; i++)
            ktasks += c->tasks[i].have_regs;
        char disk[32], rss[32], stopped[64];
        gto_fmt_bytes((uint64_t)fs.st_blocks * 512, disk, sizeof(disk));
        gto_fmt_bytes(r->rss, rss, sizeof(rss));
        if (o.regs_from)
            snprintf(stopped, sizeof(stopped), "stopped by its tracer");
        else if (o.no_stop)
            snprintf(stopped, sizeof(stopped), "not stopped");
        else
            snprintf(stopped, sizeof(stopped), "stopped %.3f s",
                     (double)c->stopped_ns / 1e9);
        printf("gt-core: wrote %s (%s%s): %llu green threads, %zu kernel thread%s; %s, "
               "%.3f s in all; %s on disk, RSS %s\n", r->file,
               o.compact ? "compact" : "full", o.no_stop ? ", not stopped: best effort" : "",
               (unsigned long long)c->green_threads, ktasks, ktasks == 1 ? "" : "s",
               stopped, (double)(core_now(CLOCK_MONOTONIC) - r->t_start) / 1e9, disk, rss);
    }
    core_green_close(r->g);
    return EXIT_OK;
}
