/*
 * supervisor.h - `knot -w N`: N worker processes on one port, and the
 * plain process (no gt runtime) that starts them, restarts one that dies
 * and passes SIGINT/SIGTERM on.
 */
#ifndef KNOT_SUPERVISOR_H
#define KNOT_SUPERVISOR_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/types.h>

#define SUPERVISOR_MAX_WORKERS 1024

/* One worker's place: the process filling it now (if any) and the
 * listening socket it serves. */
struct worker_slot {
    pid_t pid;              /* 0: none running (in back-off, or stopped) */
    int listen_fd;          /* -1: closed while the slot waits to restart */
    int64_t started_ns;     /* CLOCK_MONOTONIC at the last fork */
    int64_t backoff_ns;     /* the last delay before a restart; 0: none */
    int64_t restart_at_ns;  /* when pid is 0 and not stopping: fork then */
};

struct supervisor {
    int workers;
    struct sockaddr_in addr;  /* what every listening socket binds: the
                               * port is the one chosen, never 0 */
    int reserve_fd;           /* bound, never listening: holds the port
                               * even while no worker has it */
    pid_t pid;                /* the supervisor's own */
    char comm[16];            /* the program's name, which workers keep */
    struct worker_slot slots[SUPERVISOR_MAX_WORKERS];
};

/* Binds the port (0: the kernel picks one, then every worker gets that
 * one) and opens one SO_REUSEPORT listening socket per worker, so that
 * the port accepts connections as soon as this returns.  0, or -1 with
 * errno and *failed naming the call that failed; nothing stays open then. */
int supervisor_open(struct supervisor *sv, int workers, const struct sockaddr_in *addr,
                    const char **failed);

/* Starts the workers, each a fork of this process that runs
 * worker_main(its listening fd, arg) and exits with what it returns, and
 * supervises them until a SIGINT or SIGTERM has stopped them all.
 * worker_main starts with SIGINT, SIGTERM and SIGCHLD blocked, so that a
 * stop passed on to a worker still starting waits for its handlers: it
 * calls supervisor_worker_ready() once they are in place.
 * Returns the supervisor's exit status: 0 when every worker stopped
 * cleanly, 1 when one failed while stopping. */
int supervisor_run(struct supervisor *sv, int (*worker_main)(int listen_fd, void *arg),
                   void *arg);

/* In a worker: unblocks the signals (see supervisor_run). */
void supervisor_worker_ready(void);

#endif
