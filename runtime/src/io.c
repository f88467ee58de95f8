/*
 * io.c - I/O that parks only the calling green thread.
 *
 * Every call has one shape: try the system call; on EAGAIN, park until
 * epoll says the fd is ready; try again.  See fd.c for how fds are
 * prepared and poll_epoll.c for the waiting.  Regular files cannot be
 * waited on (epoll refuses them and the kernel always calls them ready):
 * their calls go straight to the kernel, which blocks every green thread
 * for that long, so the registry counts them (file_io_calls, file_io_ns)
 * and the stall shows in every reader instead of hiding.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <limits.h>
#include <stdlib.h>

#include "internal.h"
#include "io.h"
#include "sys.h"

static ssize_t io_call(const struct gt__io *io)
{
    switch (io->op) {
    case GT__IO_READ: return sys_read(io->fd, io->buf, io->len);
    case GT__IO_WRITE: return sys_write(io->fd, io->buf, io->len);
    case GT__IO_READV: return sys_readv(io->fd, io->buf, (int)io->len);
    case GT__IO_WRITEV: return sys_writev(io->fd, io->buf, (int)io->len);
    case GT__IO_RECVFROM:
        return sys_recvfrom(io->fd, io->buf, io->len, io->flags, io->addr,
                            io->addrlen);
    case GT__IO_SENDTO:
        return sys_sendto(io->fd, io->buf, io->len, io->flags, io->addr,
                          io->addrlen_in);
    case GT__IO_ACCEPT4:
        return sys_accept4(io->fd, io->addr, io->addrlen, io->flags);
    case GT__IO_RECVMSG: return sys_recvmsg(io->fd, io->buf, io->flags);
    case GT__IO_SENDMSG: return sys_sendmsg(io->fd, io->buf, io->flags);
    case GT__IO_SENDFILE:
        return syscall(SYS_sendfile, io->fd, io->in_fd, io->offset, io->len);
    }
    errno = EINVAL;
    return -1;
}

static uint32_t io_events(enum gt__io_op op)
{
    switch (op) {
    case GT__IO_READ: case GT__IO_READV: case GT__IO_RECVFROM:
    case GT__IO_ACCEPT4: case GT__IO_RECVMSG:
        return POLLIN;
    default:
        return POLLOUT;
    }
}

/* Outside a green thread: an fd the runtime made non-blocking behind the
 * program's back must still block, as libc would. */
static bool we_made_nonblocking(int fd)
{
    struct gt__fdent *e = gt__fd_get(fd);
    if (e && e->kind == GT__FD_UNKNOWN) /* another process's runtime may
                                           have set the flag */
        return e->intent == GT__FD_INTENT_BLOCK;
    return e && e->kind == GT__FD_NONBLOCK && e->we_set;
}

static int wait_blocking(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    return sys_poll(&p, 1, -1);
}

/* Parks until fd is ready for events; 0, or an errno (EBADF: closed). */
static int wait_ready(int fd, uint32_t events, const void *fp, uint64_t deadline)
{
    struct gt__fd_waiter w = {.fd = fd, .events = events};
    return gt__fd_park(&w, 1, fp, deadline);
}

static bool is_msg_op(enum gt__io_op op)
{
    return op == GT__IO_RECVFROM || op == GT__IO_SENDTO ||
           op == GT__IO_RECVMSG || op == GT__IO_SENDMSG;
}

static ssize_t io_park_loop(struct gt__io *io, struct gt__fdent *e,
                            uint32_t events, const void *fp);
static ssize_t sendfile_all(struct gt__io *io, struct gt__fdent *e,
                            const void *fp);
static ssize_t recv_all(struct gt__io *io, struct gt__fdent *e,
                        uint32_t events, const void *fp);
static ssize_t recvmsg_all(struct gt__io *io, struct gt__fdent *e,
                           uint32_t events, const void *fp);

/* The last call that came back EAGAIN to a caller that asked not to wait
 * (MSG_DONTWAIT, O_NONBLOCK): which thread, which fd, which direction, and
 * the poller's count then.  A server that tries the read first and waits
 * only on EAGAIN (as Knot does between keep-alive requests) then waits
 * without the zero-timeout poll(2) gt__poll otherwise needs: as long as
 * the poller has not run since, any edge that came after the EAGAIN is
 * still queued in epoll and wakes the wait.  One record is enough, since
 * only the running thread can be between its EAGAIN and its wait. */
static struct {
    const struct gt__thread *t;
    int fd;
    uint32_t events;
    uint64_t polls;
} not_ready = {.fd = -1};

static void note_not_ready(int fd, uint32_t events)
{
    not_ready.t = gt__self();
    not_ready.fd = fd;
    not_ready.events = events;
    not_ready.polls = gt__reg.polls;
}

/* Did the read io just made, which returned r > 0 bytes, leave nothing
 * unread?  Then it tells a wait what an EAGAIN would: any byte that came
 * after it raised an edge still queued in epoll, as long as the poller
 * has not run since.  A program that reads a request short of its buffer
 * and then waits for the next one needs no read that fails with EAGAIN
 * first, nor a zero-timeout poll(2).  Only a stream socket's short read
 * drains it (a datagram is one message of several, a tty line one line of
 * several), and only while the peer has not ended its side: the end
 * stays readable after the data before it, and its edge may have been
 * reported with them. */
static bool read_drained(const struct gt__io *io, struct gt__fdent *e, ssize_t r)
{
    if ((size_t)r >= io->len || !e->socket || e->hung_up)
        return false;
    if (io->op == GT__IO_RECVFROM) {
        if (io->flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL | MSG_CMSG_CLOEXEC))
            return false; /* MSG_PEEK leaves the bytes, MSG_OOB is not them */
    } else if (io->op != GT__IO_READ) {
        return false;
    }
    if (e->stream == GT__FD_STREAM_UNASKED) {
        int type = 0;
        socklen_t len = sizeof(type);
        e->stream = getsockopt(io->fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
                            type == SOCK_STREAM
                        ? GT__FD_STREAM_YES
                        : GT__FD_STREAM_NO;
    }
    return e->stream == GT__FD_STREAM_YES;
}

/* True when a wait for events on fd directly follows an EAGAIN for them
 * in this thread, with no poll in between; the record is used up. */
static bool known_not_ready(int fd, uint32_t events)
{
    bool known = not_ready.t == gt__self() && not_ready.fd == fd &&
                 not_ready.events == events && not_ready.polls == gt__reg.polls;
    not_ready.fd = -1;
    return known;
}

void gt__io_after_fork(void)
{
    not_ready.t = NULL;
    not_ready.fd = -1;
}

ssize_t gt__io(struct gt__io *io, const void *fp)
{
    uint32_t events = io_events(io->op);
    if (!gt__self()) {
        for (;;) {
            ssize_t r = io_call(io);
            if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK) ||
                (is_msg_op(io->op) && (io->flags & MSG_DONTWAIT)) ||
                !we_made_nonblocking(io->fd))
                return r;
            wait_blocking(io->fd, (short)events);
        }
    }
    gt__note_depth(gt__self(), fp);
    struct gt__fdent *e = gt__fd_prepare(io->fd);
    if (!e)
        return io_call(io);
    if (e->kind == GT__FD_FILE) {
        uint64_t t0 = gt__clock();
        ssize_t r = io_call(io);
        gt__reg.file_io_calls++;
        gt__reg.file_io_ns += gt__clock() - t0;
        return r;
    }
    if (e->kind == GT__FD_SHARED && !e->user_nonblock) {
        struct pollfd p = {.fd = io->fd, .events = (short)events};
        while (sys_poll(&p, 1, 0) == 0) {
            int r = wait_ready(io->fd, events, fp, 0);
            if (r) {
                errno = r;
                return -1;
            }
        }
        return io_call(io);
    }
    /* MSG_WAITALL on a plain recv: the kernel returns short reads on a
     * non-blocking socket, so keep going as a blocking socket would. */
    if ((io->op == GT__IO_RECVFROM || io->op == GT__IO_RECVMSG) &&
        (io->flags & MSG_WAITALL) && !e->user_nonblock &&
        !(io->flags & MSG_DONTWAIT))
        return io->op == GT__IO_RECVFROM ? recv_all(io, e, events, fp)
                                         : recvmsg_all(io, e, events, fp);
    if (io->op == GT__IO_SENDFILE && !e->user_nonblock)
        return sendfile_all(io, e, fp);
    return io_park_loop(io, e, events, fp);
}

/* MSG_WAITALL waits for more only on a stream socket: a datagram comes
 * whole or not at all, and a blocking recv returns one, short or not. */
static bool is_stream(int fd)
{
    int type = 0;
    socklen_t len = sizeof(type);
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
           type == SOCK_STREAM;
}

static ssize_t recv_all(struct gt__io *io, struct gt__fdent *e,
                        uint32_t events, const void *fp)
{
    struct gt__io part = *io;
    size_t got = 0;
    while (got < io->len) {
        part.buf = (char *)io->buf + got;
        part.len = io->len - got;
        ssize_t r = io_park_loop(&part, e, events, fp);
        if (r <= 0)
            return got ? (ssize_t)got : r;
        got += (size_t)r;
        if (got < io->len && got == (size_t)r && !is_stream(io->fd))
            break;
        part.addr = NULL; /* the peer's address comes with the first */
        part.addrlen = NULL;
    }
    return (ssize_t)got;
}

/* recvmsg's form: the rest goes into what is left of the program's
 * iovecs (a copy, advanced), with no address and no control data, which
 * come with the first part; msg_flags stay the first part's. */
static ssize_t recvmsg_all(struct gt__io *io, struct gt__fdent *e,
                           uint32_t events, const void *fp)
{
    struct msghdr *msg = io->buf;
    ssize_t r = io_park_loop(io, e, events, fp);
    if (r <= 0 || !msg || msg->msg_iovlen == 0 || msg->msg_iovlen > IOV_MAX)
        return r;
    size_t total = 0, n = msg->msg_iovlen;
    for (size_t i = 0; i < n; i++) {
        if (msg->msg_iov[i].iov_len > SSIZE_MAX - total)
            return r; /* the kernel refused such a total: not reached */
        total += msg->msg_iov[i].iov_len;
    }
    if ((size_t)r >= total || !is_stream(io->fd))
        return r;
    struct iovec small[8], *iov = small;
    if (n > 8 && !(iov = malloc(n * sizeof(*iov))))
        return r; /* a short read, as a signal could have made it */
    int first_flags = msg->msg_flags;
    size_t got = (size_t)r;
    while (got < total) {
        size_t skip = got, k = 0, m = 0;
        while (skip >= msg->msg_iov[k].iov_len)
            skip -= msg->msg_iov[k++].iov_len;
        for (size_t i = k; i < n; i++, m++)
            iov[m] = msg->msg_iov[i];
        iov[0].iov_base = (char *)iov[0].iov_base + skip;
        iov[0].iov_len -= skip;
        struct msghdr part = {.msg_iov = iov, .msg_iovlen = m};
        struct gt__io p = *io;
        p.buf = &part;
        r = io_park_loop(&p, e, events, fp);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    msg->msg_flags = first_flags;
    if (iov != small)
        free(iov);
    return (ssize_t)got;
}

/* sendfile to a socket or pipe the program sees as blocking: the kernel
 * would move all `len` bytes before returning (short only at the input's
 * end, or on an error after some bytes), where the non-blocking fd
 * underneath stops when its buffer is full.  So keep going, parking on
 * the out fd; if the input is itself a pipe or socket the runtime made
 * non-blocking (Linux takes any input that splices), EAGAIN may be the
 * input's, and the wait is on the side that is not ready. */
static ssize_t sendfile_all(struct gt__io *io, struct gt__fdent *e,
                            const void *fp)
{
    size_t done = 0, len = io->len;
    (void)e;
    while (done < len) {
        io->len = len - done;
        ssize_t r = io_call(io);
        if (r > 0) {
            done += (size_t)r;
            continue;
        }
        if (r == 0)
            break; /* the input's end */
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            io->len = len;
            return done ? (ssize_t)done : -1;
        }
        int fd = io->fd;
        uint32_t ev = POLLOUT;
        struct gt__fdent *in = gt__fd_get(io->in_fd);
        if (in && in->kind == GT__FD_NONBLOCK) {
            struct pollfd p = {.fd = io->fd, .events = POLLOUT};
            if (sys_poll(&p, 1, 0) == 1 && (p.revents & POLLOUT)) {
                fd = io->in_fd;
                ev = POLLIN;
            }
        }
        int w = wait_ready(fd, ev, fp, 0);
        if (w) {
            io->len = len;
            if (done)
                return (ssize_t)done;
            errno = w;
            return -1;
        }
    }
    io->len = len;
    return (ssize_t)done;
}

static ssize_t io_park_loop(struct gt__io *io, struct gt__fdent *e,
                            uint32_t events, const void *fp)
{
    /* The caller asked for no waiting: by the fd's mode, or by this one
     * call's MSG_DONTWAIT. */
    bool dontwait = e->user_nonblock ||
                    (is_msg_op(io->op) && (io->flags & MSG_DONTWAIT));
    for (;;) {
        ssize_t r = io_call(io);
        if (r > 0 && read_drained(io, e, r))
            note_not_ready(io->fd, POLLIN);
        if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            return r;
        if (dontwait) {
            note_not_ready(io->fd, events);
            return r;
        }
        int w = wait_ready(io->fd, events, fp, 0);
        if (w) {
            errno = w;
            return -1;
        }
    }
}

int gt__connect(int fd, const struct sockaddr *a, socklen_t al, const void *fp)
{
    struct gt__fdent *e = gt__self() ? gt__fd_prepare(fd) : NULL;
    int r = sys_connect(fd, a, al);
    if (r == 0 || errno != EINPROGRESS)
        return r;
    if (e && e->user_nonblock)
        return r;
    if (e && e->kind == GT__FD_NONBLOCK) {
        int w = wait_ready(fd, POLLOUT, fp, 0);
        if (w) {
            errno = w;
            return -1;
        }
    } else if (we_made_nonblocking(fd)) {
        wait_blocking(fd, POLLOUT);
    } else {
        return r;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -1;
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

int gt__poll(struct pollfd *fds, nfds_t n, int64_t timeout_ns, const void *fp)
{
    int r;
    if (n == 1 && timeout_ns != 0 && gt__self() &&
        known_not_ready(fds[0].fd, (uint32_t)fds[0].events)) {
        fds[0].revents = 0;
        r = 0;
    } else {
        r = sys_poll(fds, n, 0);
    }
    if (r != 0 || timeout_ns == 0 || !gt__self())
        return r;
    /* Park on every valid fd at once; waiters live on this stack, as
     * parking never allocates (a huge poll set is the one exception). */
    struct gt__fd_waiter small[16], *w = small;
    if (n > 16 && !(w = calloc(n, sizeof(*w)))) {
        errno = ENOMEM;
        return -1;
    }
    int nw = 0;
    for (nfds_t i = 0; i < n; i++) {
        if (fds[i].fd < 0 || !gt__fd_prepare(fds[i].fd))
            continue;
        w[nw].fd = fds[i].fd;
        w[nw].events = (uint32_t)(fds[i].events & (POLLIN | POLLOUT | POLLPRI));
        w[nw].events |= POLLIN; /* hang-ups and errors are reported as IN */
        nw++;
    }
    uint64_t deadline = gt__deadline(timeout_ns);
    for (;;) {
        if (nw == 0) {
            /* Nothing to wait on but time, as poll(NULL, 0, t) does. */
            if (timeout_ns < 0) {
                r = gt__park(fp, GT_WAIT_POLL, 0, 0, 0);
            } else {
                r = gt__park(fp, GT_WAIT_SLEEP, 0, (uint64_t)timeout_ns, deadline);
            }
        } else {
            r = gt__fd_park(w, nw, fp, deadline);
            /* One fd woken by its event: the poller's mask answers what
             * a second poll(2) would. */
            if (n == 1 && nw == 1 && r == 0 && w[0].revents) {
                fds[0].revents = (short)(w[0].revents &
                                         ((uint32_t)fds[0].events | POLLERR | POLLHUP));
                if (fds[0].revents)
                    return 1;
            }
        }
        int ready = sys_poll(fds, n, 0);
        if (ready == 0 && r == EINTR) { /* a signal meant for this thread */
            if (w != small)
                free(w);
            errno = EINTR;
            return -1;
        }
        if (ready != 0 || r == ETIMEDOUT) {
            if (w != small)
                free(w);
            if (ready == 0 && n == 1) /* for a wait that follows */
                note_not_ready(fds[0].fd, (uint32_t)fds[0].events);
            return ready;
        }
    }
}

int gt__dup_result(int fd, int newfd)
{
    if (newfd < 0 || newfd == fd)
        return newfd;
    /* dup2/dup3 closed whatever newfd was. */
    if (gt__self())
        gt__fd_closed(newfd);
    gt__fd_forget(newfd);
    gt__fd_share(newfd, gt__fd_get(fd));
    return newfd;
}

int gt__close(int fd)
{
    if (gt__self()) {
        if (not_ready.fd == fd)
            not_ready.fd = -1; /* the number may come back as another file */
        gt__fd_closed(fd);
    }
    gt__fd_forget(fd);
    return sys_close(fd);
}

/* ---- the gt_* API -------------------------------------------------------- */

#define FP __builtin_frame_address(0)

ssize_t gt_read(int fd, void *buf, size_t len)
{
    if (!gt__self()) { errno = EPERM; return -1; }
    struct gt__io io = {.op = GT__IO_READ, .fd = fd, .buf = buf, .len = len};
    return gt__io(&io, FP);
}

ssize_t gt_write(int fd, const void *buf, size_t len)
{
    if (!gt__self()) { errno = EPERM; return -1; }
    struct gt__io io = {.op = GT__IO_WRITE, .fd = fd, .buf = (void *)buf,
                        .len = len};
    return gt__io(&io, FP);
}

ssize_t gt_recv(int fd, void *buf, size_t len, int flags)
{
    if (!gt__self()) { errno = EPERM; return -1; }
    struct gt__io io = {.op = GT__IO_RECVFROM, .fd = fd, .buf = buf,
                        .len = len, .flags = flags};
    return gt__io(&io, FP);
}

ssize_t gt_send(int fd, const void *buf, size_t len, int flags)
{
    if (!gt__self()) { errno = EPERM; return -1; }
    struct gt__io io = {.op = GT__IO_SENDTO, .fd = fd, .buf = (void *)buf,
                        .len = len, .flags = flags};
    return gt__io(&io, FP);
}

int gt_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
    if (!gt__self()) { errno = EPERM; return -1; }
    struct gt__io io = {.op = GT__IO_ACCEPT4, .fd = fd, .addr = addr,
                        .addrlen = addrlen, .flags = SOCK_CLOEXEC};
    return (int)gt__io(&io, FP);
}

int gt_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
    if (!gt__self()) { errno = EPERM; return -1; }
    return gt__keep_frame(gt__connect(fd, addr, addrlen, FP));
}

int gt_wait_fd(int fd, int events, int64_t timeout_ns)
{
    if (!gt__self()) { errno = EPERM; return -1; }
    struct pollfd p = {.fd = fd, .events = (short)events};
    int r = gt__poll(&p, 1, timeout_ns, FP);
    if (r < 0)
        return -1;
    if (r == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    if (p.revents & POLLNVAL) {
        errno = EBADF;
        return -1;
    }
    return p.revents;
}

int gt_wait_readable_then(int fd, int64_t timeout_ns, void (*fn)(void *),
                          void *arg)
{
    if (!gt__self()) { errno = EPERM; return -1; }
    if (!fn) { errno = EINVAL; return -1; }
    /* Readable already (or not a file epoll can watch, which is always
     * ready): nothing to wait for.  This poll is also what makes the
     * edge-triggered wait safe, as in gt__poll, and is skipped on the
     * same grounds (a read or a wait has just found nothing). */
    if (!known_not_ready(fd, POLLIN)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = sys_poll(&p, 1, 0);
        if (r < 0)
            return -1;
        if (p.revents & POLLNVAL) { errno = EBADF; return -1; }
        if (r > 0)
            return 0;
    }
    struct gt__fdent *e = gt__fd_prepare(fd);
    if (!e) { errno = ENOMEM; return -1; } /* no room in the fd table */
    if (e->kind == GT__FD_FILE)
        return 0;
    if (timeout_ns == 0) { errno = ETIMEDOUT; return -1; }
    errno = gt__fd_park_unstacked(fd, FP, gt__deadline(timeout_ns), fn, arg);
    return gt__keep_frame(-1);
}

int gt_close(int fd) { return gt__close(fd); }
