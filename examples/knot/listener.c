/*
 * listener.c - the accepting thread, the connection cap, and the list of
 * open connections.
 *
 * Over the cap a connection is still accepted, but by a thread that only
 * answers 503 and closes: a client learns at once that the server is full,
 * instead of waiting in the kernel's backlog behind idle keep-alive
 * connections it cannot see.  Those refusals are bounded too; past that
 * bound a connection is closed unanswered.  And neither ever takes the
 * fds kept back for opening files (see server.h): when connections and
 * streams hold all the rest, new connections wait in the backlog, and the
 * clients already in keep being served.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gt.h>

#include "conn.h"
#include "file_cache.h"
#include "log.h"
#include "server.h"

int listener_open(const struct sockaddr_in *addr, int reuseport, const char **failed)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    /* A connection is writable again once fewer than this many bytes wait
     * unsent, not once a third of its send buffer has drained.  The write
     * timeout then measures a client's lack of progress: the kernel grows
     * a send buffer to megabytes, and a client reading a large file slowly
     * but steadily would otherwise sit in one wait longer than the timeout
     * and be cut.  Accepted connections inherit it.
     * TCP_NODELAY (inherited too): each response goes out when written.
     * Under Nagle's algorithm the second of two pipelined responses waited
     * for the client to acknowledge the first, which it delays: 40 ms. */
    int notsent_lowat = 128 * 1024;
    *failed = "socket";
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
        setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &notsent_lowat,
                   sizeof notsent_lowat) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        goto fail;
    *failed = "bind";
    if (bind(fd, (const struct sockaddr *)addr, sizeof *addr) < 0)
        goto fail;
    /* The kernel caps the backlog at somaxconn; ask for all of it, so a
     * burst of connections waits for the accept thread instead of failing. */
    *failed = "listen";
    if (listen(fd, 65535) < 0)
        goto fail;
    return fd;
fail:;
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

void server_add_conn(struct server *s, struct conn *c)
{
    c->prev = NULL;
    c->next = s->conn_list;
    if (s->conn_list)
        s->conn_list->prev = c;
    s->conn_list = c;
    if (c->refuse)
        s->refusing++;
    else
        s->conns++;
}

int server_fds_exhausted(const struct server *s)
{
    return s->conns + s->refusing + file_cache_streams(s->cache) >= s->conn_fd_budget;
}

void server_remove_conn(struct server *s, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conn_list = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->refuse)
        s->refusing--;
    else
        s->conns--;
    gt_cond_broadcast(&s->conns_changed);
}

/* "conn 127.0.0.1:5555": the name every tool shows for this thread. */
static void describe_peer(struct conn *c, const struct sockaddr_in *addr)
{
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &addr->sin_addr, host, sizeof host);
    c->peer_host_len = strlen(host);
    snprintf(c->peer, sizeof c->peer, "%s:%u", host, (unsigned)ntohs(addr->sin_port));
}

/* Logs, once per episode, that the cap was reached and later left. */
static void note_cap(struct server *s, int over_cap)
{
    if (over_cap && !s->at_cap) {
        s->at_cap = 1;
        s->refused_at_cap = 0;
        knot_log("connection cap reached: %d connections open (-c %d); new connections "
                 "are answered 503 until one closes",
                 s->conns, s->config.max_conns);
    } else if (!over_cap && s->at_cap) {
        s->at_cap = 0;
        knot_log("below the connection cap again; %llu connections were refused meanwhile",
                 (unsigned long long)s->refused_at_cap);
    }
}

static void start_conn(struct server *s, int fd, const struct sockaddr_in *addr)
{
    if (server_fds_exhausted(s)) {
        close(fd); /* streams took the rest while accept4 waited */
        return;
    }
    int over_cap = s->conns >= s->config.max_conns;
    note_cap(s, over_cap);
    if (over_cap) {
        s->refused_at_cap++;
        if (s->refusing >= SERVER_MAX_REFUSING) {
            close(fd); /* even refusals are capped: a flood gets resets */
            return;
        }
    }
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->server = s;
    c->fd = fd;
    c->refuse = over_cap;
    describe_peer(c, addr);
    char name[48]; /* at most 28 used: "refuse 255.255.255.255:65535" */
    snprintf(name, sizeof name, "%s %s", over_cap ? "refuse" : "conn", c->peer);
    gt_attr_t attr = {.name = name, .detached = 1};
    server_add_conn(s, c);
    if (gt_spawn(NULL, conn_main, c, &attr) < 0) {
        knot_log("cannot start a thread for %s: %s", c->peer, strerror(errno));
        server_remove_conn(s, c);
        close(fd);
        free(c);
    }
}

#define FD_SHORTAGE_LOG_NS 1000000000LL /* at most one "out of fds" line a second */

/* Running out of fds, episode by episode: each one is logged when it
 * starts and when it ends (the next accept that works), except that a
 * start within FD_SHORTAGE_LOG_NS of the last logged one is only counted,
 * and told with the next, so a flapping limit cannot flood the log. */
struct fd_shortage {
    int active;
    int logged;            /* this episode's start was logged */
    int64_t started_ns;
    int64_t last_logged_ns;
    unsigned unlogged;     /* episodes since the last logged start */
};

static void fd_shortage_begin(struct fd_shortage *e, const struct server *s)
{
    if (e->active)
        return;
    int64_t now = gt_now_ns();
    e->active = 1;
    e->started_ns = now;
    e->logged = e->last_logged_ns == 0 || now - e->last_logged_ns >= FD_SHORTAGE_LOG_NS;
    if (!e->logged) {
        e->unlogged++;
        return;
    }
    char also[64] = "";
    if (e->unlogged)
        snprintf(also, sizeof also, " (and %u shorter times since the last message)",
                 e->unlogged);
    knot_log("out of file descriptors at %d connections%s: new connections wait; raise "
             "`ulimit -n` or lower -c", s->conns + s->refusing, also);
    e->last_logged_ns = now;
    e->unlogged = 0;
}

static void fd_shortage_end(struct fd_shortage *e, const struct server *s)
{
    e->active = 0;
    if (e->logged)
        knot_log("file descriptors free again after %.1f s, at %d connections",
                 (double)(gt_now_ns() - e->started_ns) / 1e9, s->conns + s->refusing);
}

void listener_main(void *arg)
{
    struct server *s = arg;
    struct fd_shortage shortage = {0};
    for (;;) {
        if (server_fds_exhausted(s)) {
            /* Wait in the backlog until a connection or stream ends. */
            gt_sleep_ns(10000000);
            if (s->stopping)
                break;
            continue;
        }
        struct sockaddr_in addr;
        socklen_t addr_len = sizeof addr;
        int fd = accept4(s->listen_fd, (struct sockaddr *)&addr, &addr_len,
                         SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0) {
            if (shortage.active)
                fd_shortage_end(&shortage, s);
            start_conn(s, fd, &addr);
            continue;
        }
        if (s->stopping)
            break; /* shutdown closed the listening socket */
        if (errno == EMFILE || errno == ENFILE) {
            fd_shortage_begin(&shortage, s);
            gt_sleep_ns(100000000); /* let some connection close first */
        } else if (errno != EINTR && errno != ECONNABORTED && errno != EPROTO) {
            knot_log("accept: %s", strerror(errno));
            gt_sleep_ns(10000000);
        }
    }
}
