/*
 * conn_io.c - timed socket I/O for connection threads.
 *
 * MSG_DONTWAIT makes each call return EAGAIN instead of parking inside
 * libc's name; the thread then parks in gt_wait_fd with the time it has
 * left.  One system call when data is there, as in any event loop.  The
 * sockets are non-blocking too (the listener accepts them so), for the
 * sendfile calls, which take no flags.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gt.h>

#include "conn.h"
#include "conn_io.h"

/* A streamed file goes out at most this much per sendfile call, what the
 * kernel moves through its internal pipe at once anyway: each call stays
 * short, and the writes and waits come as they did when the body was
 * copied out in 64 KiB pieces (the write timeout's tests were tuned to
 * that; one call for the whole rest let a steady slow reader be cut, now
 * and then, on a loaded machine). */
#define SEND_FILE_CHUNK 65536

int conn_wait_readable(struct conn *c, int64_t deadline_ns)
{
    return conn_wait_readable_for(c, deadline_ns - gt_now_ns());
}

int conn_wait_readable_for(struct conn *c, int64_t timeout_ns)
{
    if (timeout_ns <= 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    return gt_wait_fd(c->fd, POLLIN, timeout_ns) < 0 ? -1 : 0;
}

ssize_t conn_read_ready(struct conn *c)
{
    if (!c->buf || c->len == CONN_BUFFER_SIZE) {
        errno = EAGAIN;
        return -1;
    }
    size_t room = CONN_BUFFER_SIZE - c->len;
    ssize_t n;
    do
        n = recv(c->fd, c->buf + c->len, room, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n > 0)
        c->len += (size_t)n;
    /* Less than there was room for: the client had sent no more. */
    c->drained = n > 0 && (size_t)n < room;
    return n;
}

ssize_t conn_read_more(struct conn *c, int64_t deadline_ns)
{
    if (!c->buf && !(c->buf = malloc(CONN_BUFFER_SIZE)))
        return -1;
    if (c->len == CONN_BUFFER_SIZE) {
        errno = ENOBUFS;
        return -1;
    }
    for (;;) {
        ssize_t n = conn_read_ready(c);
        if (n >= 0)
            return n;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        /* Straight after the EAGAIN: gt_wait_fd parks without polling. */
        if (conn_wait_readable(c, deadline_ns) < 0)
            return -1;
    }
}

void conn_consume(struct conn *c, size_t n)
{
    if (n >= c->len) {
        c->len = 0;
        return;
    }
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

void conn_release_buffer(struct conn *c)
{
    if (c->len == 0) {
        free(c->buf);
        c->buf = NULL;
    }
}

int conn_write_all(struct conn *c, struct iovec *iov, int iovcnt, int64_t timeout_ns)
{
    while (iovcnt > 0 && iov[iovcnt - 1].iov_len == 0)
        iovcnt--;
    while (iovcnt > 0) {
        int flags = MSG_DONTWAIT | MSG_NOSIGNAL | (c->more_queued ? MSG_MORE : 0);
        ssize_t n;
        if (iovcnt == 1) { /* the lighter call: no msghdr, no iovec array */
            n = send(c->fd, iov->iov_base, iov->iov_len, flags);
        } else {
            struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
            n = sendmsg(c->fd, &msg, flags);
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -1; /* EPIPE, ECONNRESET: the client left */
            if (gt_wait_fd(c->fd, POLLOUT, timeout_ns) < 0)
                return -1; /* ETIMEDOUT: it stopped reading */
            continue;
        }
        while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

int conn_send_file(struct conn *c, int in_fd, off_t size, int64_t timeout_ns)
{
    off_t offset = 0;
    while (offset < size) {
        size_t want = size - offset < SEND_FILE_CHUNK ? (size_t)(size - offset)
                                                      : SEND_FILE_CHUNK;
        ssize_t n = sendfile(c->fd, in_fd, &offset, want);
        if (n > 0)
            continue;
        if (n == 0)
            return -1; /* the file shrank: the response cannot be completed */
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        if (gt_wait_fd(c->fd, POLLOUT, timeout_ns) < 0)
            return -1;
    }
    return 0;
}

void conn_close_lingering(struct conn *c, int64_t linger_ns)
{
    if (shutdown(c->fd, SHUT_WR) == 0) {
        int64_t deadline = gt_now_ns() + linger_ns;
        char sink[512];
        size_t dropped = 0;
        while (dropped < (1u << 20)) {
            ssize_t n = recv(c->fd, sink, sizeof sink, MSG_DONTWAIT);
            if (n > 0) {
                dropped += (size_t)n;
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EINTR))
                break;
            if (conn_wait_readable(c, deadline) < 0)
                break;
        }
    }
    close(c->fd);
    c->fd = -1;
}
