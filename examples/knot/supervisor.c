/*
 * supervisor.c - `knot -w N`: the process that starts N workers on one
 * port, restarts a worker that dies, and stops them all on SIGINT/SIGTERM.
 *
 * The supervisor is plain C: it never calls gt_main, so it has no green
 * threads, no poller and no watchdog, and nothing of the runtime crosses a
 * fork.  Everything Knot checks or opens before serving (options, the
 * document root, the access log, the file cache, the fd limit) is done
 * once, before the first fork; a worker, first or restarted, is a fork of
 * that state and loads nothing again.  Each worker is then an ordinary
 * gt process: gt-top, gt-stacks and GDB read it by its pid.
 *
 * The port: each worker accepts on a listening socket of its own, all of
 * them bound to the same address with SO_REUSEPORT, and the kernel spreads
 * new connections over them by a hash of the client's address and port.
 * The supervisor opens those sockets, not the workers, so the port accepts
 * as soon as the start-up line is printed, and a socket outlives a worker
 * that dies: a worker restarted at once accepts the connections that were
 * waiting in its predecessor's queue.  A worker that died young restarts
 * only after a back-off, and its socket is closed meanwhile, so that the
 * other workers get all the new connections instead of a queue nobody
 * reads.  A worker stopped gracefully on its own (SIGTERM to its pid)
 * shuts its socket down, which stops it for every holder at once, and its
 * successor gets a new one.  One more socket, bound but never listening
 * (so it never gets a connection), keeps the port for as long as the
 * supervisor runs, even with every worker down.
 *
 * Signals: SIGINT, SIGTERM and SIGCHLD stay blocked here and are taken
 * with sigtimedwait, so the loop below is ordinary sequential code.  A
 * stop signal closes the supervisor's copies of the listening sockets (a
 * worker's own close then really stops the accepting) and is passed on to
 * every worker, which stops as a single Knot does: requests in flight
 * finish, and a second signal cuts.  Workers run in a process group of
 * their own, so a Ctrl-C from the terminal reaches the supervisor alone
 * and each worker gets it once, from the supervisor.  Should the
 * supervisor die without a stop, each worker gets SIGTERM from the kernel
 * (PR_SET_PDEATHSIG) and stops gracefully: no worker outlives it.
 *
 * Names: the supervisor calls itself "knot-supervisor" in /proc/PID/comm
 * (what ps, top and the gt tools show), the workers keep the program's
 * name.  A tool that picks gt processes by name then finds the workers,
 * not the supervisor, in which the runtime never starts.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "supervisor.h"

/* A worker that ran this long before it died was healthy: restart it at
 * once.  One that died younger restarts after a delay that starts at
 * BACKOFF_MIN_NS and doubles with each early death, up to BACKOFF_MAX_NS,
 * so a worker that cannot start costs a fork every few seconds, not a CPU. */
#define SUPERVISOR_NAME "knot-supervisor" /* 15 bytes: all comm holds */
#define NS_PER_S 1000000000LL
#define NS_PER_MS 1000000LL
#define HEALTHY_NS (5 * NS_PER_S)
#define BACKOFF_MIN_NS (250 * NS_PER_MS)
#define BACKOFF_MAX_NS (8 * NS_PER_S)

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

int supervisor_open(struct supervisor *sv, int workers, const struct sockaddr_in *addr,
                    const char **failed)
{
    sv->workers = workers;
    sv->addr = *addr;
    sv->pid = getpid();
    for (int i = 0; i < workers; i++)
        sv->slots[i] = (struct worker_slot){.listen_fd = -1};

    /* First a plain bind, without SO_REUSEPORT, which fails if anything
     * has the port: SO_REUSEPORT alone would let this Knot share a port
     * with another server of the same user (another `knot -w` say) and
     * take half its connections without a word.  With -p 0 it also picks
     * the port.  Then the sockets that keep it, all with SO_REUSEPORT. */
    int one = 1;
    *failed = "socket";
    int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return -1;
    *failed = "bind";
    socklen_t len = sizeof sv->addr;
    if (setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(probe, (struct sockaddr *)&sv->addr, sizeof sv->addr) < 0 ||
        getsockname(probe, (struct sockaddr *)&sv->addr, &len) < 0) {
        int saved = errno;
        close(probe);
        errno = saved;
        return -1;
    }
    close(probe);

    *failed = "socket";
    sv->reserve_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sv->reserve_fd < 0)
        return -1;
    if (setsockopt(sv->reserve_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(sv->reserve_fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        goto fail;
    *failed = "bind";
    if (bind(sv->reserve_fd, (struct sockaddr *)&sv->addr, sizeof sv->addr) < 0)
        goto fail;
    for (int i = 0; i < workers; i++)
        if ((sv->slots[i].listen_fd = listener_open(&sv->addr, 1, failed)) < 0)
            goto fail;
    return 0;
fail:;
    int saved = errno;
    for (int i = 0; i < workers; i++)
        close_fd(&sv->slots[i].listen_fd);
    close_fd(&sv->reserve_fd);
    errno = saved;
    return -1;
}

static const char *signal_abbrev(int signo)
{
    const char *name = sigabbrev_np(signo);
    return name ? name : "?";
}

static sigset_t worker_mask; /* the signal mask the supervisor started with */

void supervisor_worker_ready(void)
{
    sigprocmask(SIG_SETMASK, &worker_mask, NULL);
}

/* A worker that stopped gracefully on its own (a SIGTERM sent to it
 * alone) shut its socket down for every process holding it, this one's
 * copy included (see shutdown.c): such a socket must be opened anew. */
static int still_listening(int fd)
{
    int on = 0;
    socklen_t len = sizeof on;
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

/* Forks the worker of slot i.  In the child this never returns. */
static void start_worker(struct supervisor *sv, int i, int (*worker_main)(int, void *),
                         void *arg)
{
    struct worker_slot *w = &sv->slots[i];
    const char *failed;
    if (w->listen_fd >= 0 && !still_listening(w->listen_fd))
        close_fd(&w->listen_fd);
    if (w->listen_fd < 0 && (w->listen_fd = listener_open(&sv->addr, 1, &failed)) < 0) {
        knot_log("worker %d: cannot listen again (%s: %s); trying again in %.2g s", i + 1,
                 failed, strerror(errno), (double)BACKOFF_MAX_NS / NS_PER_S);
        w->restart_at_ns = now_ns() + BACKOFF_MAX_NS;
        return;
    }
    /* The child inherits the name: give it the program's for the fork, so
     * that it never shows as the supervisor, even for a moment. */
    prctl(PR_SET_NAME, sv->comm);
    pid_t pid = fork();
    if (pid != 0)
        prctl(PR_SET_NAME, SUPERVISOR_NAME);
    if (pid < 0) {
        knot_log("worker %d: fork: %s; trying again in %.2g s", i + 1, strerror(errno),
                 (double)BACKOFF_MAX_NS / NS_PER_S);
        w->restart_at_ns = now_ns() + BACKOFF_MAX_NS;
        return;
    }
    if (pid == 0) {
        /* Dies with the supervisor, gracefully; checked after asking, in
         * case the supervisor died in between. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != sv->pid)
            _exit(1);
        setpgid(0, 0);
        knot_log_set_pid(getpid());
        /* Only its own socket: a socket another worker still held open
         * after that worker died would keep taking connections. */
        close(sv->reserve_fd);
        for (int j = 0; j < sv->workers; j++)
            if (j != i && sv->slots[j].listen_fd >= 0)
                close(sv->slots[j].listen_fd);
        exit(worker_main(w->listen_fd, arg));
    }
    setpgid(pid, pid); /* as the child does: whichever runs first */
    w->pid = pid;
    w->started_ns = now_ns();
    knot_log("worker %d started: pid %d", i + 1, (int)pid);
}

/* "exited with status 1" or "was killed by signal 9 (SIGKILL)". */
static void describe_status(char *out, size_t size, int status)
{
    if (WIFSIGNALED(status))
        snprintf(out, size, "was killed by signal %d (SIG%s)%s", WTERMSIG(status),
                 signal_abbrev(WTERMSIG(status)), WCOREDUMP(status) ? ", core dumped" : "");
    else
        snprintf(out, size, "exited with status %d", WEXITSTATUS(status));
}

/* Handles the end of slot i's worker.  Returns 1 if it failed while the
 * workers were being stopped. */
static int worker_ended(struct supervisor *sv, int i, int status, int stopping)
{
    struct worker_slot *w = &sv->slots[i];
    char how[80];
    describe_status(how, sizeof how, status);
    int64_t now = now_ns();
    double ran = (double)(now - w->started_ns) / NS_PER_S;
    pid_t pid = w->pid;
    w->pid = 0;
    if (stopping) {
        int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (clean)
            knot_log("worker %d (pid %d) stopped", i + 1, (int)pid);
        else
            knot_log("worker %d (pid %d) %s while stopping", i + 1, (int)pid, how);
        return !clean;
    }
    if (now - w->started_ns >= HEALTHY_NS) {
        w->backoff_ns = 0;
        w->restart_at_ns = now;
        knot_log("worker %d (pid %d) %s after %.1f s; restarting it", i + 1, (int)pid, how,
                 ran);
        return 0;
    }
    w->backoff_ns = w->backoff_ns ? w->backoff_ns * 2 : BACKOFF_MIN_NS;
    if (w->backoff_ns > BACKOFF_MAX_NS)
        w->backoff_ns = BACKOFF_MAX_NS;
    w->restart_at_ns = now + w->backoff_ns;
    close_fd(&w->listen_fd);
    knot_log("worker %d (pid %d) %s after %.1f s; restarting it in %.2g s", i + 1, (int)pid,
             how, ran, (double)w->backoff_ns / NS_PER_S);
    return 0;
}

int supervisor_run(struct supervisor *sv, int (*worker_main)(int, void *), void *arg)
{
    sigset_t handled;
    sigemptyset(&handled);
    sigaddset(&handled, SIGCHLD);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGTERM);
    sigprocmask(SIG_BLOCK, &handled, &worker_mask);
    /* See the top of the file: the workers get the name back. */
    prctl(PR_GET_NAME, sv->comm);
    prctl(PR_SET_NAME, SUPERVISOR_NAME);

    for (int i = 0; i < sv->workers; i++)
        start_worker(sv, i, worker_main, arg);

    int stopping = 0, failed = 0;
    for (;;) {
        int status, running = 0;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            for (int i = 0; i < sv->workers; i++)
                if (sv->slots[i].pid == pid)
                    failed |= worker_ended(sv, i, status, stopping);
        }
        int64_t now = now_ns(), next = INT64_MAX;
        for (int i = 0; i < sv->workers; i++) {
            struct worker_slot *w = &sv->slots[i];
            if (!stopping && !w->pid && w->restart_at_ns <= now)
                start_worker(sv, i, worker_main, arg);
            if (w->pid)
                running++;
            else if (!stopping && w->restart_at_ns < next)
                next = w->restart_at_ns;
        }
        if (stopping && !running)
            break;

        siginfo_t info;
        struct timespec wait;
        int64_t left = next == INT64_MAX ? 0 : next - now_ns();
        if (left < 0)
            left = 0;
        wait.tv_sec = left / NS_PER_S;
        wait.tv_nsec = left % NS_PER_S;
        int signo = sigtimedwait(&handled, &info, next == INT64_MAX ? NULL : &wait);
        if (signo != SIGINT && signo != SIGTERM)
            continue; /* SIGCHLD, a restart due, or EINTR: look again */
        if (!stopping) {
            stopping = 1;
            for (int i = 0; i < sv->workers; i++)
                close_fd(&sv->slots[i].listen_fd);
            close_fd(&sv->reserve_fd);
            knot_log("SIG%s: stopping %d worker%s (a second signal cuts their connections)",
                     signal_abbrev(signo), running, running == 1 ? "" : "s");
        } else {
            knot_log("SIG%s again: passing it on", signal_abbrev(signo));
        }
        for (int i = 0; i < sv->workers; i++)
            if (sv->slots[i].pid)
                kill(sv->slots[i].pid, signo);
    }
    sigprocmask(SIG_SETMASK, &worker_mask, NULL);
    knot_log("stopped");
    return failed;
}
