/*
 * poll_epoll.c - readiness through epoll, and parking on fds.
 *
 * Each fd joins the epoll set once, edge-triggered, for both directions.
 * That is safe because every parking I/O call first tries the operation
 * and parks only after EAGAIN: the edge that ends the wait always comes
 * after the park began (or is already queued in epoll's ready list, which
 * the next epoll_wait returns).  Waits that do not start with the
 * operation (gt_wait_fd, poll) check readiness with a zero-timeout poll
 * first for the same reason, unless the operation has just failed with
 * EAGAIN and nothing has polled since (io.c keeps that record).
 *
 * Waiters are struct gt__fd_waiter on the parked thread's own stack (on
 * the heap for an unstacked wait, whose stack is gone), in a list per fd;
 * a ready fd wakes the waiters whose events it satisfies.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <valgrind/valgrind.h>

#include "internal.h"
#include "sys.h"

#define S gt__sched
#define MAX_EVENTS 512
/* Every fd is watched for everything, edge-triggered (see above). */
#define WATCHED (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET)

int gt__poller_init(void)
{
    S.epfd = epoll_create1(EPOLL_CLOEXEC);
    return S.epfd < 0 ? -1 : 0;
}

void gt__poller_fini(void)
{
    if (S.epfd >= 0)
        sys_close(S.epfd);
    S.epfd = -1;
}

/* The parent's instance is the same kernel object as this copy of its
 * fd: the child takes a new one under the same number (fork.c). */
void gt__poller_after_fork(void)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0 || (fd != S.epfd && dup3(fd, S.epfd, O_CLOEXEC) < 0)) {
        /* Without one, a wait on an fd would find it "always ready" and
         * spin: better to say so and stop here. */
        fprintf(stderr, "gt: fork: no epoll instance for the child: %s\n",
                strerror(errno));
        _exit(127);
    }
    if (fd != S.epfd)
        sys_close(fd);
}

/* 0, or -1 when epoll cannot watch the fd (a regular file: always ready). */
static int watch(int fd, struct gt__fdent *e)
{
    if (e->registered)
        return 0;
    struct epoll_event ev = {.events = WATCHED, .data.fd = fd};
    if (epoll_ctl(S.epfd, EPOLL_CTL_ADD, fd, &ev) < 0 && errno != EEXIST)
        return -1;
    e->registered = true;
    return 0;
}

/* Takes w off its fd's waiter list; a wait whose fd was closed under it
 * (gt__fd_closed) is on no list any more. */
static void unlink_waiter(struct gt__fd_waiter *w)
{
    struct gt__fdent *e = w->fd >= 0 ? gt__fd_get(w->fd) : NULL;
    if (e)
        gt__list_remove(GT__FD_WAITERS_LIST, &e->waiters, &e->waiters_tail, w);
}

/* Puts w, a wait of self's, at the tail of e's waiter list. */
static void link_waiter(struct gt__fdent *e, struct gt__fd_waiter *w,
                        struct gt__thread *self)
{
    w->t = self;
    w->revents = 0;
    gt__list_push(GT__FD_WAITERS_LIST, &e->waiters, &e->waiters_tail, w);
}

int gt__fd_park(struct gt__fd_waiter *w, int n, const void *fp,
                uint64_t deadline)
{
    struct gt__thread *self = gt__self();
    int linked = 0;
    for (int i = 0; i < n; i++) {
        struct gt__fdent *e = gt__fd_get(w[i].fd);
        if (!e || watch(w[i].fd, e) < 0) {
            /* Not pollable: such an fd is always ready, as poll() says. */
            for (int j = 0; j < linked; j++)
                unlink_waiter(&w[j]);
            return 0;
        }
        link_waiter(e, &w[i], self);
        linked++;
    }
    S.fd_waiters += (uint64_t)n;
    int r = gt__park(fp, n == 1 ? GT_WAIT_FD : GT_WAIT_POLL,
                     (uint64_t)w[0].fd, n == 1 ? w[0].events : (uint64_t)n,
                     deadline);
    S.fd_waiters -= (uint64_t)n;
    for (int i = 0; i < n; i++)
        unlink_waiter(&w[i]);
    return r;
}

int gt__fd_park_unstacked(int fd, const void *fp, uint64_t deadline,
                          void (*fn)(void *), void *arg)
{
    struct gt__thread *self = gt__self();
    struct gt__fdent *e = gt__fd_get(fd);
    if (!e || watch(fd, e) < 0)
        return EINVAL; /* the caller has prepared fd and polled it */
    /* The waiter cannot live on a stack that is about to go. */
    struct gt__fd_waiter *w = malloc(sizeof(*w));
    if (!w)
        return ENOMEM;
    *w = (struct gt__fd_waiter){.fd = fd, .events = POLLIN};
    link_waiter(e, w, self);
    self->fdw = w;
    S.fd_waiters++;
    int r = gt__park_unstacked(fp, GT_WAIT_FD, (uint64_t)fd, POLLIN, deadline,
                               fn, arg);
    gt__fd_unstacked_resumed(self); /* it could not park */
    return r;
}

void gt__fd_unstacked_resumed(struct gt__thread *t)
{
    S.fd_waiters--;
    unlink_waiter(t->fdw);
    free(t->fdw);
    t->fdw = NULL;
}

void gt__fd_closed(int fd)
{
    struct gt__fdent *e = gt__fd_get(fd);
    if (!e)
        return;
    for (struct gt__fd_waiter *w = e->waiters; w; w = w->next)
        gt__wake(w->t, EBADF);
    /* The woken threads unlink themselves; they must not find this entry
     * reused by a new fd first, so detach the whole list now. */
    for (struct gt__fd_waiter *w = e->waiters, *next; w; w = next) {
        next = w->next;
        w->next = w->prev = NULL;
        w->fd = -1;
    }
    e->waiters = e->waiters_tail = NULL;
}

/* Puts fd's readiness back in epoll's ready list.  The periodic poll runs
 * in a thread that has just resumed from a park (gt__switch_to), before
 * it has unlinked the waiters of the wait it is returning from: an edge
 * for one of them finds the thread running, and gt__wake ignores it.
 * Were that edge dropped, edge-triggered epoll would never report the fd
 * again and the thread's next wait on it could sleep forever.
 * EPOLL_CTL_MOD polls the fd afresh and queues it again if it is ready. */
static void requeue(int fd)
{
    struct epoll_event ev = {.events = WATCHED, .data.fd = fd};
    epoll_ctl(S.epfd, EPOLL_CTL_MOD, fd, &ev);
}

int gt__poller_poll(int64_t timeout_ns)
{
    /* Not on the stack: the periodic poll runs on whichever green thread
     * resumes when it is due, and 6 KiB of events there would be memory
     * that thread never asked for, and "touched" a reader would blame on
     * it.  One kernel thread runs the scheduler, and a poll never runs
     * inside another. */
    static struct epoll_event evs[MAX_EVENTS];
    struct timespec ts, *tp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        tp = &ts;
    }
    /* epoll_pwait2 (Linux 5.11) sleeps to the nanosecond; without it (or
     * under valgrind, which does not know it) round up to milliseconds. */
    static bool no_pwait2 = false;
    if (!no_pwait2 && RUNNING_ON_VALGRIND)
        no_pwait2 = true;
    /* A blocking wait is idle time; idle_since publishes the one under
     * way, so a reader sees it before it ends (registry.h, TIME).  The
     * kernel's own reading, not the cheap one that may lag it: a reader
     * subtracts it from its own clock, and it becomes clock_now too, the
     * last the runtime knows of the time until the wait ends. */
    uint64_t before = 0;
    if (timeout_ns) {
        before = gt__clock_exact();
        gt__reg.idle_since = before;
    }
    int n = -1;
    if (!no_pwait2) {
        n = sys_epoll_pwait2(S.epfd, evs, MAX_EVENTS, tp, NULL);
        if (n < 0 && errno == ENOSYS)
            no_pwait2 = true;
    }
    if (no_pwait2) {
        int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
        n = sys_epoll_pwait(S.epfd, evs, MAX_EVENTS, ms, NULL);
    }
    uint64_t now = gt__clock();
    gt__reg.polls++;
    if (timeout_ns) {
        /* Cleared first: a reader between the two stores counts the wait
         * not at all rather than twice. */
        gt__reg.idle_since = 0;
        gt__reg.idle_ns += now - before;
    }
    S.slice_start = now;
    int woken = 0;
    for (int i = 0; i < n; i++) {
        struct gt__fdent *e = gt__fd_get(evs[i].data.fd);
        if (!e)
            continue;
        uint32_t ev = evs[i].events;
        uint32_t ready = ((ev & (EPOLLIN | EPOLLRDHUP)) ? POLLIN : 0) |
                         ((ev & EPOLLPRI) ? POLLPRI : 0) |
                         ((ev & EPOLLOUT) ? POLLOUT : 0);
        bool all = ev & (EPOLLERR | EPOLLHUP);
        if (ev & (EPOLLRDHUP | EPOLLERR | EPOLLHUP))
            e->hung_up = true; /* io.c: a short read no longer drains it */
        uint32_t seen = ready | ((ev & EPOLLERR) ? POLLERR : 0) |
                        ((ev & EPOLLHUP) ? POLLHUP : 0);
        bool rearm = false;
        for (struct gt__fd_waiter *w = e->waiters; w; w = w->next) {
            if (all || (w->events & ready)) {
                w->revents |= seen;
                if (w->t == gt__self()) {
                    rearm = true;
                } else {
                    gt__wake(w->t, 0);
                    woken++;
                }
            }
        }
        if (rearm)
            requeue(evs[i].data.fd);
    }
    gt__timer_expire(now);
    return woken;
}
