/*
 * server.h - what every part of Knot shares: the configuration and the
 * state of the running server.
 *
 * One green thread per connection ("conn 1.2.3.4:5555"), one accepting
 * ("accept"), one waiting for SIGINT/SIGTERM ("signals"), and one flushing
 * the access log ("log flush").  All run on one kernel thread, so the
 * fields below are read and written without locks: a thread is never
 * interrupted between two statements that do not park.
 */
#ifndef KNOT_SERVER_H
#define KNOT_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <gt.h>

struct server_config {
    const char *bind_address;    /* IPv4 dotted quad */
    int port;                    /* 0: any free port (printed at start) */
    const char *docroot;
    int max_conns;               /* connections served at once */
    int64_t timeout_ns;          /* idle keep-alive, request read, write progress */
    const char *access_log_path; /* NULL: no access log */
    size_t cache_bytes;          /* file cache bound */
};

/* The open-file limit is split three ways: FDS_KEPT_BACK for the fixed
 * fds (stdio, the listener, the root, the log, the runtime's) and for
 * opening files, which a flood must never take; MAX_REFUSING for the
 * threads that answer 503 over the cap; and the rest for connections
 * served and the files they stream.  The listener stops accepting when
 * the last two would reach into the first. */
#define SERVER_FDS_KEPT_BACK 32
#define SERVER_MAX_REFUSING 64

struct conn;
struct sockaddr_in;
struct file_cache;
struct access_log;

struct server {
    struct server_config config;
    int listen_fd;
    int root_fd;                  /* the document root, for openat2 */
    long conn_fd_budget;          /* fds for connections (served and
                                   * refused) and streamed files together */
    struct file_cache *cache;
    struct access_log *access_log; /* NULL: none */
    int stopping;                 /* shutdown began: finish, do not start */
    int conns;                    /* connections being served (not refusals) */
    int refusing;                 /* connections being answered 503 */
    struct conn *conn_list;       /* every open connection, for shutdown */
    int at_cap;                   /* the cap was hit and not left since */
    uint64_t refused_at_cap;      /* 503s since the cap was hit */
    gt_mutex_t lock;              /* only for conns_changed */
    gt_cond_t conns_changed;      /* signalled when a connection ends */
};

/* A listening TCP socket on addr, with the options every connection
 * inherits (see listener.c); reuseport: SO_REUSEPORT, so that each worker
 * of `knot -w N` has a socket of its own on the one port.  The fd, or -1
 * with errno and *failed naming the call that failed ("socket", "bind",
 * "listen").  Plain system calls: usable before gt_main and in the
 * supervisor, which never starts it. */
int listener_open(const struct sockaddr_in *addr, int reuseport, const char **failed);

/* Thread bodies; arg is the struct server. */
void listener_main(void *server);
void shutdown_main(void *server);

/* Before gt_main: routes SIGINT and SIGTERM to shutdown_main, ignores
 * SIGPIPE (a client that closes early is an error return, not a death).
 * 0, or -1 with errno. */
int shutdown_install_handlers(void);

/* Connection bookkeeping, for the listener and the connection threads. */
void server_add_conn(struct server *s, struct conn *c);
void server_remove_conn(struct server *s, struct conn *c);

/* Would one more fd for a connection or a streamed file reach into the
 * fds kept back? */
int server_fds_exhausted(const struct server *s);

#endif
