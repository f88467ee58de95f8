/*
 * conn.c - one thread per connection, in plain sequential code.
 *
 *     while the client wants more:
 *         read a request          (parks until it arrives, or times out)
 *         pin the file it names   (from the cache, loaded on a miss)
 *         write the response      (parks while the client is slow)
 *         unpin the file
 *
 * Everything an event-driven server would keep in a per-connection state
 * machine (how much was read, which file, how much was written) is here
 * just local variables and the position in this code.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <gt.h>

#include "access_log.h"
#include "conn.h"
#include "conn_io.h"
#include "docroot.h"
#include "file_cache.h"
#include "http_parse.h"
#include "http_response.h"
#include "server.h"

#define CLIENT_GONE (-1)               /* read_request: close without answering */
#define LINGER_NS 2000000000LL         /* how long a closing connection drains input */
#define REFUSE_TIMEOUT_NS 1000000000LL /* a refused client's request must come this fast */
#define IDLE_GRACE_NS 100000000LL      /* idle this long, a connection's thread
                                        * gives its stack back (wait_idle) */
/* A pipelined response with a body up to this size waits in the kernel for
 * the next one (MSG_MORE, see next_request_queued); a larger one goes out
 * at once.  Holding pays for small responses, which share segments: at a
 * depth of 8 over loopback, about 0.6x the CPU per request of sending each
 * at once at 100 bytes and 0.7x at 8 KiB; but at 16 KiB, bodies that fill
 * large segments of their own, about 1.1x. */
#define HOLD_BODY_MAX 8192
/* A body up to this size is copied after its head, so that the response
 * goes out with send() from one buffer: the kernel's sendmsg copies in a
 * msghdr and an iovec array first (2% of the CPU of a 100-byte response,
 * for a copy of 100 bytes here). */
#define INLINE_BODY_MAX 512

/* The request line as received, for the access log: the first line of the
 * head, or whatever arrived of it. */
static const char *request_line(const struct conn *c, size_t *len)
{
    if (!c->buf) {
        *len = 0;
        return "";
    }
    const char *start = c->buf + c->scanner.head_start;
    size_t avail = c->len - c->scanner.head_start;
    const char *cr = memchr(start, '\r', avail);
    const char *lf = memchr(start, '\n', avail);
    const char *end = cr && (!lf || cr < lf) ? cr : lf;
    *len = end ? (size_t)(end - start) : avail;
    return start;
}

static void log_response(const struct conn *c, int status, long long body_bytes)
{
    struct access_log *log = c->server->access_log;
    if (!log)
        return;
    size_t line_len;
    const char *line = request_line(c, &line_len);
    access_log_write(log, c->peer, c->peer_host_len, line, line_len, status, body_bytes);
}

static void conn_resume(void *arg);

/* Waits for a keep-alive connection's next request.  A client that sends
 * it within IDLE_GRACE_NS finds the thread parked as usual, frames and
 * all; past that the thread waits holding no stack at all (its pages go
 * back to the kernel) and, when the request comes, starts over in
 * conn_resume with this struct: an idle connection costs its thread
 * record and its struct conn, not a stack page.  The thread is the same
 * one, at a location of its own, so every tool still shows each idle
 * connection.  Returns 0 when the client sent something (or closed), -1
 * when the timeout passed first. */
static int wait_idle(struct conn *c)
{
    c->idle = 1;
    int64_t timeout = c->server->config.timeout_ns;
    c->idle_deadline = gt_now_ns() + timeout;
    int r = conn_wait_readable_for(c, IDLE_GRACE_NS < timeout ? IDLE_GRACE_NS : timeout);
    if (r < 0 && errno == ETIMEDOUT) {
        int64_t left = c->idle_deadline - gt_now_ns();
        if (left > 0)
            r = gt_wait_readable_then(c->fd, left, conn_resume, c);
        if (r < 0 && errno == ENOMEM) /* no memory to wait unstacked */
            r = conn_wait_readable(c, c->idle_deadline);
    }
    c->idle = 0;
    return r;
}

/* Reads until a whole request head is in c->buf and parses it.  Returns 0,
 * CLIENT_GONE (closed, or idle too long: nothing to answer), or the error
 * status to answer with before closing. */
static int read_request(struct conn *c, struct http_request *req, size_t *head_len)
{
    struct server *s = c->server;
    memset(&c->scanner, 0, sizeof c->scanner);
    if (c->len == 0) {
        /* The next request may be here already: then it goes into the
         * buffer the last one used, with no wait.  If not, the EAGAIN
         * lets the wait below park without first polling the socket.
         * When the last read took all the client had sent (drained), a
         * request that came since is known to the runtime just as well
         * (an epoll edge after that read), so the wait needs no read that
         * fails first: one system call fewer per request on a keep-alive
         * connection whose client waits for each response. */
        ssize_t n = -1;
        errno = EAGAIN;
        if (!c->drained)
            n = conn_read_ready(c);
        c->drained = 0;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return CLIENT_GONE;
        if (n < 0) {
            /* Idle keep-alive: hold no buffer, and wake for the shutdown too. */
            conn_release_buffer(c);
            if (wait_idle(c) < 0)
                return CLIENT_GONE;
        }
    }
    /* The whole head must arrive within the timeout, however it is sent.
     * The clock is read only for a head that did not come whole at once
     * (no wait has happened before: the deadline is the same). */
    int64_t deadline = 0;
    for (;;) {
        long end = http_scan_head(&c->scanner, c->buf ? c->buf : "", c->len,
                                  CONN_BUFFER_SIZE);
        if (end > 0) {
            *head_len = (size_t)end;
            return http_parse_head(c->buf + c->scanner.head_start,
                                   (size_t)end - c->scanner.head_start, req);
        }
        if (end < 0)
            return (int)-end;
        if (!deadline)
            deadline = gt_now_ns() + s->config.timeout_ns;
        ssize_t n = conn_read_more(c, deadline);
        if (n == 0)
            return CLIENT_GONE;
        if (n < 0) {
            int started = c->len > c->scanner.head_start;
            return errno == ETIMEDOUT && started ? 408 : CLIENT_GONE;
        }
    }
}

/* Answers status with a short text body.  Returns 0, or -1 if the client
 * could not be written to. */
static int respond_error(struct conn *c, int status, int keep_alive, int head_only)
{
    char head[HTTP_RESPONSE_HEAD_MAX], body[64];
    size_t body_len = http_format_error_body(body, sizeof body, status);
    struct http_response_fields fields = {
        .content_type = "text/plain; charset=utf-8",
        .content_length = (long long)body_len,
        .keep_alive = keep_alive,
        .allow_get_head = status == 405,
    };
    struct iovec iov[2] = {
        {head, http_format_head(head, status, &fields)},
        {body, head_only ? 0 : body_len},
    };
    log_response(c, status, head_only ? 0 : (long long)body_len);
    return conn_write_all(c, iov, 2, c->server->config.timeout_ns);
}

/* The file the request names: 200 with it, 304, or an error status.
 * Returns 0, or -1 if the client could not be written to. */
static int respond_with_file(struct conn *c, const struct http_request *req, int keep_alive)
{
    struct server *s = c->server;
    int head_only = req->method == HTTP_METHOD_HEAD;
    /* Static, not on this stack: the path is used only until the pin below,
     * which never parks, so no other thread can run in between; and a
     * 4 KiB array here would stay resident in every idle thread's stack. */
    static char rel[DOCROOT_MAX_PATH];
    int status = docroot_resolve_target(req->target, req->target_len, rel, sizeof rel);
    if (status)
        return respond_error(c, status, keep_alive, head_only);
    struct cached_file *file = file_cache_pin(s->cache, rel, !server_fds_exhausted(s),
                                              &status);
    if (!file)
        return respond_error(c, status, keep_alive, head_only);

    int not_modified = req->if_modified_since >= 0 && file->mtime <= req->if_modified_since;
    status = not_modified ? 304 : 200;
    int send_body = !not_modified && !head_only;
    struct http_response_fields fields = {
        .content_type = not_modified ? NULL : file->content_type,
        .content_length = not_modified ? -1 : (long long)file->size,
        .last_modified = file->last_modified,
        .keep_alive = keep_alive,
        .http10_keep_alive = keep_alive && req->version_minor == 0,
    };
    char head[HTTP_RESPONSE_HEAD_MAX + INLINE_BODY_MAX];
    struct iovec iov[2] = {
        {head, http_format_head(head, status, &fields)},
        {(void *)file->data, send_body && file->data ? (size_t)file->size : 0},
    };
    if (iov[1].iov_len && iov[1].iov_len <= INLINE_BODY_MAX) {
        memcpy(head + iov[0].iov_len, iov[1].iov_base, iov[1].iov_len);
        iov[0].iov_len += iov[1].iov_len;
        iov[1].iov_len = 0;
    }
    log_response(c, status, send_body ? (long long)file->size : 0);
    /* A streamed body follows its head straight from the file (sendfile):
     * no copy of it in this process, however long the client stalls. */
    int streamed = send_body && !file->data;
    int more_queued = c->more_queued;
    if (iov[1].iov_len > HOLD_BODY_MAX)
        c->more_queued = 0;
    c->more_queued |= streamed;
    int result = conn_write_all(c, iov, 2, s->config.timeout_ns);
    c->more_queued = more_queued;
    if (result == 0 && streamed)
        result = conn_send_file(c, file->fd, file->size, s->config.timeout_ns);
    file_cache_unpin(s->cache, file);
    return result;
}

/* Reads and drops a request body we have no use for (GET with a body). */
static int skip_body(struct conn *c, long long length)
{
    int64_t deadline = gt_now_ns() + c->server->config.timeout_ns;
    while (length > 0) {
        if (c->len == 0) {
            ssize_t n = conn_read_more(c, deadline);
            if (n <= 0)
                return -1;
        }
        size_t take = (size_t)length < c->len ? (size_t)length : c->len;
        conn_consume(c, take);
        length -= (long long)take;
    }
    return 0;
}

/* What the connection does after a request. */
enum next_step {
    NEXT_REQUEST,  /* keep-alive: read the next one */
    CLOSE_LINGER,  /* we answered "Connection: close": drain, then close */
    CLOSE_NOW,     /* the client left, idled out or cannot be written to */
};

/* Does buf hold another whole request head after the first `used` bytes?
 * Then a pipelining client is waiting for that one's response too, and
 * this one can go out with it: one segment for a batch of small responses
 * instead of one each, a third of the CPU per request at a depth of 8.
 * Only a whole head counts: a response held for a request that has not
 * fully arrived would keep a client that waits for it waiting until the
 * kernel lets held data go, 200 ms later. */
static int next_request_queued(const struct conn *c, size_t used)
{
    if (c->len <= used)
        return 0;
    struct http_head_scanner scanner = {0};
    return http_scan_head(&scanner, c->buf + used, c->len - used, CONN_BUFFER_SIZE) > 0;
}

static enum next_step serve_one_request(struct conn *c)
{
    struct server *s = c->server;
    struct http_request req;
    size_t head_len = 0;
    c->more_queued = 0;
    int status = read_request(c, &req, &head_len);
    if (status == CLIENT_GONE)
        return CLOSE_NOW;
    if (status != 0) {
        /* The stream cannot be trusted past a malformed head: close. */
        return respond_error(c, status, 0, 0) == 0 ? CLOSE_LINGER : CLOSE_NOW;
    }
    int keep_alive = req.keep_alive && !s->stopping;
    c->more_queued = keep_alive && req.content_length == 0 && next_request_queued(c, head_len);
    int result = req.method == HTTP_METHOD_OTHER
                     ? respond_error(c, 405, keep_alive, 0)
                     : respond_with_file(c, &req, keep_alive);
    conn_consume(c, head_len);
    if (result < 0)
        return CLOSE_NOW;
    if (!keep_alive)
        return CLOSE_LINGER;
    return skip_body(c, req.content_length) == 0 ? NEXT_REQUEST : CLOSE_NOW;
}

/* Over the connection cap: read the request (briefly), answer 503. */
static enum next_step refuse(struct conn *c)
{
    int64_t deadline = gt_now_ns() + REFUSE_TIMEOUT_NS;
    memset(&c->scanner, 0, sizeof c->scanner);
    while (http_scan_head(&c->scanner, c->buf ? c->buf : "", c->len, CONN_BUFFER_SIZE) == 0)
        if (conn_read_more(c, deadline) <= 0)
            break;
    return respond_error(c, 503, 0, 0) == 0 ? CLOSE_LINGER : CLOSE_NOW;
}

/* Serves requests until the connection ends, then closes it and frees c.
 * step: what to do first. */
static void serve(struct conn *c, enum next_step step)
{
    struct server *s = c->server;
    while (step == NEXT_REQUEST)
        step = s->stopping ? CLOSE_NOW : serve_one_request(c);
    if (step == CLOSE_LINGER)
        conn_close_lingering(c, LINGER_NS);
    else
        close(c->fd);
    server_remove_conn(s, c);
    free(c->buf);
    free(c);
}

void conn_main(void *arg)
{
    struct conn *c = arg;
    serve(c, c->refuse ? refuse(c) : NEXT_REQUEST);
}

/* Where a thread that waited unstacked in wait_idle starts over.  The
 * wait ended because the client sent something (or closed), or because
 * the idle timeout passed: then the connection closes as after any idle
 * timeout. */
static void conn_resume(void *arg)
{
    struct conn *c = arg;
    c->idle = 0;
    serve(c, gt_now_ns() >= c->idle_deadline ? CLOSE_NOW : NEXT_REQUEST);
}
