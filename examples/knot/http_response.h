/*
 * http_response.h - status lines, response heads and HTTP dates.
 */
#ifndef KNOT_HTTP_RESPONSE_H
#define KNOT_HTTP_RESPONSE_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define HTTP_RESPONSE_HEAD_MAX 512 /* every head we write fits in this */

/* The reason phrase for a status we send ("Not Found"). */
const char *http_reason(int status);

/* t as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into out. */
void http_format_date(char *out, size_t size, time_t t);

/* What goes into a response head besides the status. */
struct http_response_fields {
    const char *content_type;  /* NULL: no Content-Type */
    long long content_length;  /* -1: none (304); sent for HEAD too */
    const char *last_modified; /* NULL: none */
    int keep_alive;            /* 0: "Connection: close" */
    int http10_keep_alive;     /* an HTTP/1.0 client asked: "Connection: keep-alive" */
    int allow_get_head;        /* 405: "Allow: GET, HEAD" */
};

/* Writes the status line and headers, ending with the empty line, into
 * out (HTTP_RESPONSE_HEAD_MAX bytes); returns their length. */
size_t http_format_head(char *out, int status, const struct http_response_fields *fields);

/* The plain-text body of an error response: "404 Not Found\n". */
size_t http_format_error_body(char *out, size_t size, int status);

#endif
