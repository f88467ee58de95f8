/*
 * conn.h - one client connection and the thread that serves it.
 */
#ifndef KNOT_CONN_H
#define KNOT_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "http_parse.h"

struct server;

struct conn {
    struct server *server;
    int fd;
    int refuse;              /* over the cap: answer 503 and close */
    int idle;                /* waiting for a request's first byte */
    int64_t idle_deadline;   /* gt_now_ns: when an idle wait times out */
    int more_queued;         /* a whole next request is already in buf: the
                              * response may wait in the kernel to go out
                              * with the next one's (MSG_MORE) */
    int drained;             /* the last read left nothing unread in the
                              * socket: the next wait for a request needs
                              * no read first (conn_read_ready) */
    char peer[32];           /* "127.0.0.1:5555" */
    size_t peer_host_len;    /* the address part of peer */
    struct conn *prev, *next; /* the server's list */
    char *buf;               /* received, not yet consumed; NULL while idle */
    size_t len;              /* bytes in buf */
    struct http_head_scanner scanner;
};

#define CONN_BUFFER_SIZE HTTP_MAX_HEAD

/* Thread body: serves requests on conn (malloc'd, on the server's list)
 * until the client leaves, a timeout or an error ends the connection, or
 * the server stops; then closes the fd, leaves the list and frees conn.
 * conn lives on the heap, not on the thread's stack, because an idle
 * connection's thread gives its stack back (see wait_idle in conn.c). */
void conn_main(void *conn);

#endif
