/*
 * http.c - see http.h.
 *
 * One thread serves every connection with poll: a connection is either
 * reading a request (into a fixed buffer of HTTP_REQUEST_MAX bytes) or
 * writing a response (a buffer made whole before the first byte goes
 * out).  Requests carry no body here: a request announcing one is
 * answered and its connection closed, rather than read on into memory.
 * Every state has a deadline fixed when it is entered, not moved by
 * progress, so a client sending a byte every second (or reading one)
 * still loses its slot after the deadline: slots are few on purpose, and
 * a full house only delays the next accept (the kernel's backlog holds
 * it), it never refuses one.
 */
#include "http.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

/* CONN_DRAIN: the response is out and the connection half closed; what
 * the client still sends is read and dropped until it closes too (or a
 * short deadline), since closing a socket with unread bytes resets the
 * connection, and a reset can destroy the response before the client
 * has read it (a 431 after a head too large, say). */
enum conn_state { CONN_FREE, CONN_READ, CONN_WRITE, CONN_DRAIN };
#define DRAIN_TIMEOUT_MS 2000

struct http_conn {
    int fd;
    enum conn_state state;
    char req[HTTP_REQUEST_MAX];
    size_t got;            /* bytes in req */
    char *out;             /* the response, head and body */
    size_t out_len, out_off;
    int close_after;       /* close once the response is written */
    uint64_t deadline;     /* ms, CLOCK_MONOTONIC */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the listening socket ---------------------------------------------- */

int http_listen(const char *spec, char *err, size_t len)
{
    char host[256], port[16];
    const char *colon;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof(host))
            goto bad;
        snprintf(host, sizeof(host), "%.*s", (int)(close - spec - 1), spec + 1);
        colon = close + 1;
    } else {
        colon = strrchr(spec, ':');
        if (!colon || (size_t)(colon - spec) >= sizeof(host))
            goto bad;
        snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
        if (strchr(host, ':'))
            goto bad;   /* an IPv6 address wants its brackets */
    }
    const char *p = colon + 1;
    if (!*p || strlen(p) > 5 || strspn(p, "0123456789") != strlen(p) || atol(p) > 65535)
        goto bad;
    snprintf(port, sizeof(port), "%s", p);

    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
                             .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (rc) {
        snprintf(err, len, "--listen %s: cannot resolve '%s': %s", spec, host,
                 gai_strerror(rc));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        /* A restarted exporter gets its port back at once, past the old
         * connections' TIME_WAIT; a port another socket listens on still
         * fails (no SO_REUSEPORT). */
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 64) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(err, len, "cannot listen on %s: %s%s", spec, strerror(saved),
                 saved == EADDRINUSE ? " (another program has that port: pick another "
                                       "with --listen HOST:PORT)"
                 : saved == EADDRNOTAVAIL ? " (not an address of this machine)"
                 : saved == EACCES ? " (ports below 1024 need privileges)" : "");
        return -1;
    }
    return fd;
bad:
    snprintf(err, len, "--listen wants HOST:PORT, [IPV6]:PORT or :PORT "
             "(127.0.0.1:9464), not '%s'", spec);
    return -2;
}

const char *http_local_address(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char a[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
            port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
            port = ntohs(in6->sin6_port);
            snprintf(buf, len, "[%s]:%d", a, port);
            return buf;
        }
    }
    snprintf(buf, len, "%s:%d", a, port);
    return buf;
}

/* ---- connections ------------------------------------------------------- */

int http_server_init(struct http_server *s, int fd, http_handler h, void *ctx)
{
    memset(s, 0, sizeof(*s));
    s->conns = calloc(HTTP_CONN_MAX, sizeof(*s->conns));
    if (!s->conns)
        return -1;
    s->fd = fd;
    s->handler = h;
    s->ctx = ctx;
    return 0;
}

static void conn_close(struct http_conn *c)
{
    close(c->fd);
    free(c->out);
    c->out = NULL;
    c->state = CONN_FREE;
}

void http_server_close(struct http_server *s)
{
    for (int i = 0; s->conns && i < HTTP_CONN_MAX; i++)
        if (s->conns[i].state != CONN_FREE)
            conn_close(&s->conns[i]);
    free(s->conns);
    if (s->fd >= 0)
        close(s->fd);
    s->conns = NULL;
    s->fd = -1;
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 505: return "HTTP Version Not Supported";
    default: return "Internal Server Error";
    }
}

/* Makes C's response: the head, then BODY unless HEAD_ONLY (whose
 * Content-Length is still the body's, as HEAD asks). */
static void respond(struct http_conn *c, int status, const char *type, const char *body,
                    size_t body_len, int head_only)
{
    free(c->out);
    c->out = NULL;
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "%sConnection: %s\r\n\r\n",
                     status, reason(status), type, body_len,
                     status == 405 ? "Allow: GET, HEAD\r\n" : "",
                     c->close_after ? "close" : "keep-alive");
    size_t total = (size_t)n + (head_only ? 0 : body_len);
    c->out = malloc(total);
    if (!c->out) {
        c->out_len = c->out_off = 0;
        c->close_after = 1;
        return;
    }
    memcpy(c->out, head, (size_t)n);
    if (!head_only)
        memcpy(c->out + n, body, body_len);
    c->out_len = total;
    c->out_off = 0;
}

static void respond_text(struct http_conn *c, int status, const char *text, int head_only)
{
    respond(c, status, "text/plain; charset=utf-8", text, strlen(text), head_only);
}

/* The end of the head of the request in C (the byte after its blank
 * line), 0 when it has not all come. */
static size_t head_end(const struct http_conn *c)
{
    for (size_t i = 0; i + 1 < c->got; i++) {
        if (c->req[i] != '\n')
            continue;
        if (c->req[i + 1] == '\n')
            return i + 2;
        if (i + 2 < c->got && c->req[i + 1] == '\r' && c->req[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* Whether header line LINE (LEN bytes, no end of line) is NAME. */
static int header_is(const char *line, size_t len, const char *name, const char **value)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return 0;
    const char *v = line + n + 1;
    while (v < line + len && (*v == ' ' || *v == '\t'))
        v++;
    *value = v;
    return 1;
}

/* Answers the request whose head is C->req[0, END). */
static void handle(struct http_server *s, struct http_conn *c, size_t end)
{
    char line[HTTP_REQUEST_MAX];
    size_t ll = 0;
    while (ll < end && c->req[ll] != '\r' && c->req[ll] != '\n')
        ll++;
    memcpy(line, c->req, ll);
    line[ll] = 0;
    char *method = line, *target = strchr(line, ' '), *version = NULL;
    if (target) {
        *target++ = 0;
        version = strchr(target, ' ');
        if (version)
            *version++ = 0;
    }
    int head_only = method && strcmp(method, "HEAD") == 0;
    if (!target || !version || strchr(version, ' ') || strncmp(version, "HTTP/", 5) != 0 ||
        target[0] != '/') {
        c->close_after = 1;
        respond_text(c, 400, "bad request\n", head_only);
        return;
    }
    if (strncmp(version, "HTTP/1.", 7) != 0) {
        c->close_after = 1;
        respond_text(c, 505, "HTTP/1.1 only\n", head_only);
        return;
    }
    /* HTTP/1.0 closes after each response; 1.1 keeps the connection
     * unless asked not to.  A body is not read: the connection closes
     * after the answer rather than take it for the next request. */
    if (strcmp(version, "HTTP/1.0") == 0)
        c->close_after = 1;
    for (size_t i = ll; i < end;) {
        while (i < end && (c->req[i] == '\r' || c->req[i] == '\n'))
            i++;
        size_t j = i;
        while (j < end && c->req[j] != '\r' && c->req[j] != '\n')
            j++;
        const char *v;
        if (header_is(c->req + i, j - i, "Connection", &v) && strncasecmp(v, "close", 5) == 0)
            c->close_after = 1;
        else if (header_is(c->req + i, j - i, "Content-Length", &v) && *v != '0')
            c->close_after = 1;
        else if (header_is(c->req + i, j - i, "Transfer-Encoding", &v))
            c->close_after = 1;
        i = j;
    }
    if (strcmp(method, "GET") != 0 && !head_only) {
        respond_text(c, 405, "GET or HEAD only\n", 0);
        return;
    }
    char *query = strchr(target, '?');
    if (query)
        *query = 0;
    struct http_response r = {404, "text/plain; charset=utf-8", NULL};
    char *body = NULL;
    size_t body_len = 0;
    r.body = open_memstream(&body, &body_len);
    if (!r.body) {
        c->close_after = 1;
        respond_text(c, 500, "out of memory\n", head_only);
        return;
    }
    s->handler(s->ctx, target, &r);
    if (fclose(r.body) != 0 || !body) {
        free(body);
        c->close_after = 1;
        respond_text(c, 500, "out of memory\n", head_only);
        return;
    }
    respond(c, r.status, r.content_type, body, body_len, head_only);
    free(body);
}

/* A request has come whole at END (or the buffer is full without one):
 * answer it and start writing. */
static void start_response(struct http_server *s, struct http_conn *c, size_t end)
{
    if (!end) {
        c->close_after = 1;
        respond_text(c, 431, "request head too large\n", 0);
        c->got = 0;
    } else {
        handle(s, c, end);
        /* What follows is the next (pipelined) request. */
        memmove(c->req, c->req + end, c->got - end);
        c->got -= end;
    }
    s->requests++;
    c->state = CONN_WRITE;
    c->deadline = now_ms() + HTTP_WRITE_TIMEOUT_MS;
}

static void conn_write(struct http_server *s, struct http_conn *c);

static void conn_read(struct http_server *s, struct http_conn *c)
{
    ssize_t n = recv(c->fd, c->req + c->got, sizeof(c->req) - c->got, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        conn_close(c);
        return;
    }
    if (n < 0)
        return;
    if (c->got == 0)
        c->deadline = now_ms() + HTTP_REQUEST_TIMEOUT_MS;
    c->got += (size_t)n;
    size_t end = head_end(c);
    if (end || c->got == sizeof(c->req)) {
        start_response(s, c, end);
        conn_write(s, c);   /* most responses go out at once */
    }
}

/* Writes C's response; once it is out, answers the next request already
 * buffered (pipelining) in the same loop, never by recursion: a head
 * buffer holds hundreds of tiny requests. */
static void conn_write(struct http_server *s, struct http_conn *c)
{
    for (;;) {
        while (c->out_off < c->out_len) {
            ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                             MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN)
                return;
            if (n <= 0) {
                conn_close(c);
                return;
            }
            c->out_off += (size_t)n;
        }
        free(c->out);
        c->out = NULL;
        if (c->close_after) {
            shutdown(c->fd, SHUT_WR);
            c->state = CONN_DRAIN;
            c->deadline = now_ms() + DRAIN_TIMEOUT_MS;
            return;
        }
        c->state = CONN_READ;
        c->deadline = now_ms() + (c->got ? HTTP_REQUEST_TIMEOUT_MS : HTTP_IDLE_TIMEOUT_MS);
        size_t end = head_end(c);
        if (!end && c->got < sizeof(c->req))
            return;
        start_response(s, c, end);
    }
}

static void conn_drain(struct http_conn *c)
{
    char scratch[4096];
    ssize_t n = recv(c->fd, scratch, sizeof(scratch), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        conn_close(c);
}

static void accept_all(struct http_server *s)
{
    for (int i = 0; i < HTTP_CONN_MAX; i++) {
        struct http_conn *c = &s->conns[i];
        if (c->state != CONN_FREE)
            continue;
        int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;   /* EAGAIN: none left; anything else: the next poll */
        c->fd = fd;
        c->state = CONN_READ;
        c->got = 0;
        c->close_after = 0;
        c->deadline = now_ms() + HTTP_REQUEST_TIMEOUT_MS;
    }
}

void http_server_poll(struct http_server *s, int timeout_ms)
{
    struct pollfd p[HTTP_CONN_MAX + 1];
    int who[HTTP_CONN_MAX + 1];
    nfds_t n = 0;
    int room = 0;
    uint64_t now = now_ms(), first = now + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
    for (int i = 0; i < HTTP_CONN_MAX; i++) {
        struct http_conn *c = &s->conns[i];
        if (c->state == CONN_FREE) {
            room = 1;
            continue;
        }
        p[n] = (struct pollfd){c->fd, c->state == CONN_WRITE ? POLLOUT : POLLIN, 0};
        who[n++] = i;
        if (c->deadline < first)
            first = c->deadline;
    }
    /* A full house leaves new connections in the backlog until a slot
     * frees. */
    if (room) {
        p[n] = (struct pollfd){s->fd, POLLIN, 0};
        who[n++] = -1;
    }
    int wait = first > now ? (int)(first - now) : 0;
    if (poll(p, n, wait) < 0)
        return;   /* EINTR: a signal the caller looks at */
    for (nfds_t k = 0; k < n; k++) {
        if (!p[k].revents)
            continue;
        if (who[k] < 0) {
            accept_all(s);
            continue;
        }
        struct http_conn *c = &s->conns[who[k]];
        if (c->state == CONN_READ)
            conn_read(s, c);
        else if (c->state == CONN_WRITE)
            conn_write(s, c);
        else if (c->state == CONN_DRAIN)
            conn_drain(c);
    }
    now = now_ms();
    for (int i = 0; i < HTTP_CONN_MAX; i++) {
        struct http_conn *c = &s->conns[i];
        if (c->state != CONN_FREE && c->deadline <= now)
            conn_close(c);
    }
}
