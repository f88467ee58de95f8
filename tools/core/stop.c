/*
 * stop.c - stopping the target and letting it go.
 *
 * Every task of /proc/PID/task is seized (PTRACE_SEIZE: no signal is sent,
 * unlike PTRACE_ATTACH's SIGSTOP, so nothing is left for the target to
 * see) and interrupted (PTRACE_INTERRUPT), then waited for; the task list
 * is read again until it holds no task not yet seized, since a task can
 * clone another until it is stopped itself.
 *
 * A task may report a signal-delivery-stop instead of the interrupt: the
 * signal was being delivered when it stopped.  ptrace takes it from the
 * target; it is given back at PTRACE_DETACH, so the target never loses
 * one.  A task in a group-stop (the process was stopped by SIGSTOP before)
 * stays stopped after the detach, as it was.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "gtobserve.h"

#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif

/* Drops task I (it exited on its own while being stopped). */
static void drop(struct capture *c, size_t i)
{
    c->tasks[i] = c->tasks[--c->ntasks];
}

static int seize_error(struct capture *c, pid_t tid, int e, char *err)
{
    if (e == EPERM) {
        pid_t tracer = core_tracer_of(c->pid);
        if (tracer && tracer != getpid()) {
            char raw[64], comm[256];   /* the name is any bytes it set */
            core_comm(tracer, raw, sizeof(raw));
            gto_text_safe(raw, strlen(raw), comm, sizeof(comm));
            core_err(err, "%d is traced by pid %d (%s): run green-gcore in that "
                     "debugger, or detach it", (int)c->pid, (int)tracer, comm);
        } else {
            core_err(err, "cannot attach to %d: permission denied: run as the "
                     "target's user with ptrace allowed (kernel.yama.ptrace_scope) "
                     "or with CAP_SYS_PTRACE", (int)c->pid);
        }
        errno = EPERM;
        return -1;
    }
    core_err(err, "cannot attach to task %d of %d: %s", (int)tid, (int)c->pid,
             strerror(e));
    errno = e;
    return -1;
}

int core_stop(struct capture *c, char *err)
{
    for (int round = 0;; round++) {
        int added = core_tasks_scan(c);
        if (added < 0) {
            /* The caller saw the process before: it went away since. */
            if (errno == ESRCH)
                core_err(err, "%d exited during the capture", (int)c->pid);
            else
                core_err(err, "cannot list the tasks of %d: %s", (int)c->pid,
                         strerror(errno));
            return -1;
        }
        if (round > 0 && added == 0)
            break;
        /* Seize and interrupt every new task first, then wait: the
         * interrupts travel together and the stop is as short as the
         * slowest task, not the sum. */
        for (size_t i = 0; i < c->ntasks; i++) {
            struct core_task *t = &c->tasks[i];
            if (t->seized)
                continue;
            if (ptrace(PTRACE_SEIZE, t->tid, 0, 0) < 0) {
                int e = errno;
                if (e == ESRCH && t->tid != c->pid) {
                    drop(c, i--);   /* it exited: it has nothing to dump */
                    continue;
                }
                if (e == ESRCH) {
                    core_err(err, "%d exited during the capture", (int)c->pid);
                    errno = ESRCH;
                    return -1;
                }
                return seize_error(c, t->tid, e, err);
            }
            t->seized = 1;
            if (ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0 && errno != ESRCH) {
                core_err(err, "cannot interrupt task %d of %d: %s", (int)t->tid,
                         (int)c->pid, strerror(errno));
                return -1;
            }
        }
        for (size_t i = 0; i < c->ntasks; i++) {
            struct core_task *t = &c->tasks[i];
            if (!t->seized || t->stopped)
                continue;
            int st;
            pid_t r;
            do
                r = waitpid(t->tid, &st, __WALL);
            while (r < 0 && errno == EINTR);
            if (r < 0 || WIFEXITED(st) || WIFSIGNALED(st)) {
                if (t->tid == c->pid) {
                    errno = ESRCH;
                    core_err(err, "%d exited during the capture", (int)c->pid);
                    return -1;
                }
                drop(c, i--);
                continue;
            }
            t->stopped = 1;
            /* A stop that is not PTRACE_EVENT_STOP is a signal being
             * delivered: keep it for the detach. */
            if (WIFSTOPPED(st) && (st >> 16) != PTRACE_EVENT_STOP)
                t->resig = WSTOPSIG(st);
        }
    }
    return 0;
}

void core_detach(struct capture *c)
{
    for (size_t i = 0; i < c->ntasks; i++) {
        struct core_task *t = &c->tasks[i];
        if (t->seized)
            ptrace(PTRACE_DETACH, t->tid, 0, (void *)(long)t->resig);
        t->seized = t->stopped = 0;
    }
}
