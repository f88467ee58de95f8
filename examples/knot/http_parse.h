/*
 * http_parse.h - reading an HTTP/1.1 request head out of a byte buffer.
 *
 * Two steps, because bytes arrive in pieces: http_scan_head() finds where
 * the head ends (resumably, so a client that sends one byte at a time costs
 * linear work), then http_parse_head() checks and decodes the whole head at
 * once.  Neither allocates; the request points into the caller's buffer.
 */
#ifndef KNOT_HTTP_PARSE_H
#define KNOT_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEAD 16384   /* request line + headers: a larger head is 431 */
#define HTTP_MAX_LINE 8192    /* one line: 414 for the request line, else 431 */
#define HTTP_MAX_HEADERS 100  /* header lines: more is 431 */
#define HTTP_MAX_BODY 65536   /* a request body we read and drop; more is 413 */

/* Where http_scan_head() stopped; zero it for each new request. */
struct http_head_scanner {
    size_t scanned;    /* bytes already looked at */
    size_t line_start; /* offset of the line being scanned */
    size_t head_start; /* offset of the request line (empty lines before
                        * it are skipped, as RFC 9112 2.2 allows) */
    int lines;         /* complete lines of the head so far */
    size_t line_checked; /* the request line is a valid start up to here */
    int line_part;       /* where line_checked is: method, target, version */
    size_t part_start;   /* where that part began */
};

/* Looks for the empty line that ends the head in buf[0..len); capacity is
 * the most the caller's buffer can ever hold.  Returns the offset just past
 * the head's final CRLF when it is complete, 0 when more bytes are needed,
 * or minus an HTTP status when no valid head can follow: -400 for a bare LF
 * line end or a request line that has begun wrong (a TLS handshake, binary
 * junk: answered at once, not at a line end that may never come), -414
 * for a request line over HTTP_MAX_LINE, -431 for a header line over it,
 * more than HTTP_MAX_HEADERS lines, or a head that will not fit in
 * capacity. */
long http_scan_head(struct http_head_scanner *scanner, const char *buf, size_t len,
                    size_t capacity);

enum http_method {
    HTTP_METHOD_GET,
    HTTP_METHOD_HEAD,
    HTTP_METHOD_OTHER, /* a well-formed method we do not serve: 405 */
};

struct http_request {
    enum http_method method;
    const char *method_name; /* into the buffer, method_name_len bytes */
    size_t method_name_len;
    const char *target;      /* the request-target as sent, not decoded */
    size_t target_len;
    int version_minor;       /* HTTP/1.<version_minor>: 0 or 1 */
    int keep_alive;          /* the client allows another request after this */
    long long content_length; /* body bytes that follow the head; 0 if none */
    int64_t if_modified_since; /* seconds since the epoch; -1: absent or invalid */
};

/* Parses head[0..len) (request line and headers, as delimited by
 * http_scan_head, starting at its head_start).  Returns 0, or the status to
 * answer with: 400 (malformed request line or header, missing or repeated
 * Host on HTTP/1.1, a Host that is not host[:port], bad Content-Length), 413 (Content-Length over
 * HTTP_MAX_BODY), 501 (Transfer-Encoding), 505 (HTTP major version not 1).
 * On error *req holds whatever was parsed before it (for the access log). */
int http_parse_head(const char *head, size_t len, struct http_request *req);

/* An HTTP-date (IMF-fixdate, RFC 850 or asctime form) as seconds since the
 * epoch, or -1. */
int64_t http_parse_date(const char *text, size_t len);

#endif
