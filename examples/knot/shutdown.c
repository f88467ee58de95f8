/*
 * shutdown.c - graceful stop on SIGINT and SIGTERM.
 *
 * A signal handler may not touch the server, so it only writes the signal
 * number into a pipe (the self-pipe trick); the thread "signals" reads it
 * like any socket and does the work as ordinary code:
 *   1. stop accepting (shut down and close the listening socket: the
 *      accept thread wakes with EBADF and ends);
 *   2. wake the idle keep-alive connections (shutdown(SHUT_RD): their
 *      threads read end-of-file and close);
 *   3. let connections with a request in flight finish it (each answers
 *      with "Connection: close");
 *   4. after the timeout, or at a second signal, cut whatever is left.
 * gt_main returns once every thread has ended.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gt.h>

#include "conn.h"
#include "log.h"
#include "server.h"

static int signal_pipe[2] = {-1, -1};

static void on_signal(int signo)
{
    unsigned char byte = (unsigned char)signo;
    int saved = errno;
    /* The raw system call: libgt's write() would consult the scheduler,
     * which the handler may have interrupted. */
    long r = syscall(SYS_write, signal_pipe[1], &byte, 1);
    (void)r;
    errno = saved;
}

int shutdown_install_handlers(void)
{
    if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
        return -1;
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL);
}

/* Waits for a signal; returns its number. */
static int wait_for_signal(int64_t timeout_ns)
{
    unsigned char byte;
    for (;;) {
        ssize_t n = read(signal_pipe[0], &byte, 1);
        if (n == 1)
            return byte;
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (gt_wait_fd(signal_pipe[0], POLLIN, timeout_ns) < 0)
            return 0; /* timed out */
    }
}

static const char *signal_name(int signo)
{
    return signo == SIGINT ? "SIGINT" : signo == SIGTERM ? "SIGTERM" : "signal";
}

void shutdown_main(void *arg)
{
    struct server *s = arg;
    int signo = wait_for_signal(GT_FOREVER);
    if (signo < 0) {
        knot_log("signal pipe: %s; graceful shutdown unavailable", strerror(errno));
        return;
    }
    s->stopping = 1;
    /* shutdown first: it stops the socket listening even while another
     * process holds it (a supervisor keeps a copy of each worker's), so
     * that the kernel sends new connections to the other workers at once
     * instead of queueing them here while this one finishes. */
    shutdown(s->listen_fd, SHUT_RDWR);
    close(s->listen_fd);
    int idle = 0;
    for (struct conn *c = s->conn_list; c; c = c->next) {
        if (c->idle) {
            shutdown(c->fd, SHUT_RD);
            idle++;
        }
    }
    knot_log("%s: stopping: no new connections; closing %d idle, waiting for %d busy",
             signal_name(signo), idle, s->conns + s->refusing - idle);

    /* Requests in flight get the timeout to finish; a second signal cuts. */
    int64_t deadline = gt_now_ns() + s->config.timeout_ns;
    while (s->conns + s->refusing > 0) {
        int64_t left = deadline - gt_now_ns();
        int again = left > 0 ? wait_for_signal(left < 50000000 ? left : 50000000) : 0;
        if (left <= 0 || again > 0) {
            knot_log("%s: cutting %d connections still open",
                     again > 0 ? signal_name(again) : "timeout", s->conns + s->refusing);
            for (struct conn *c = s->conn_list; c; c = c->next)
                shutdown(c->fd, SHUT_RDWR);
            break;
        }
    }
    gt_mutex_lock(&s->lock);
    while (s->conns + s->refusing > 0)
        gt_cond_wait(&s->conns_changed, &s->lock);
    gt_mutex_unlock(&s->lock);
    knot_log("stopped");
}
