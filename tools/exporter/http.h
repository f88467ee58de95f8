/*
 * http.h - the exporter's HTTP/1.1 server: a listening socket and its
 * connections, on one thread, with poll.  Small on purpose: GET and HEAD
 * of a handful of paths, a bounded request, a deadline on every request,
 * so that no client, slow or hostile, can hold the exporter up or make it
 * allocate without bound.  What a path answers is the caller's (a
 * handler); this file knows only the protocol.
 */
#ifndef GT_EXPORTER_HTTP_H
#define GT_EXPORTER_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HTTP_REQUEST_MAX 8192     /* request line and headers, bytes */
#define HTTP_CONN_MAX 32          /* connections served at once */
#define HTTP_REQUEST_TIMEOUT_MS 10000  /* from a request's first byte (or
                                        * the connection) to its last */
#define HTTP_WRITE_TIMEOUT_MS 10000    /* for a response to be taken */
#define HTTP_IDLE_TIMEOUT_MS 60000     /* a kept-alive connection at rest */

/* What a handler answers: STATUS (200, 404...), its content type and
 * body.  The body is written into BODY, a stream the server owns. */
struct http_response {
    int status;
    const char *content_type;
    FILE *body;
};

/* Answers a GET (or HEAD: the server drops the body) of PATH, the
 * request target without its query string.  Fills R's status and content
 * type and writes the body. */
typedef void (*http_handler)(void *ctx, const char *path, struct http_response *r);

struct http_conn;

struct http_server {
    int fd;                        /* listening socket */
    struct http_conn *conns;       /* HTTP_CONN_MAX slots */
    http_handler handler;
    void *ctx;
    uint64_t requests;             /* answered, any status */
};

/* Opens a listening socket on SPEC, "HOST:PORT", "[V6ADDR]:PORT" or
 * ":PORT" (every address), non-blocking.  PORT 0 takes a free port.
 * Returns the socket, or -1 with one line in ERR naming what failed and
 * the fix (-2 when SPEC is not an address at all). */
int http_listen(const char *spec, char *err, size_t len);

/* The address FD listens on, "127.0.0.1:9464" or "[::1]:9464", in BUF. */
const char *http_local_address(int fd, char *buf, size_t len);

/* Takes over the listening socket FD; -1 on ENOMEM. */
int http_server_init(struct http_server *s, int fd, http_handler h, void *ctx);
void http_server_close(struct http_server *s);

/* Waits up to TIMEOUT_MS for connections, requests and room to write,
 * and serves what came: accepts, reads, answers, writes, closes the
 * connections past their deadline.  Returns early when a signal comes
 * (the caller then looks at its flags). */
void http_server_poll(struct http_server *s, int timeout_ms);

#endif
