/*
 * http_response.c - response heads, formatted by hand.
 *
 * No printf on this path: a head is a handful of copies, and a response is
 * formatted on every connection thread's stack, where snprintf's kilobytes
 * of frames would stay resident in every idle thread afterwards.
 */
#include <string.h>
#include <time.h>

#include "http_response.h"

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

void http_format_date(char *out, size_t size, time_t t)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* The Date header's value, formatted once per second. */
static const char *date_now(void)
{
    static char cached[32];
    static time_t cached_second = -1;
    time_t now = time(NULL);
    if (now != cached_second) {
        http_format_date(cached, sizeof cached, now);
        cached_second = now;
    }
    return cached;
}

static char *put(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static char *put_number(char *p, long long v)
{
    char digits[24];
    int n = 0;
    unsigned long long u = v < 0 ? 0 : (unsigned long long)v;
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (n)
        *p++ = digits[--n];
    return p;
}

size_t http_format_head(char *out, int status, const struct http_response_fields *f)
{
    char *p = out;
    p = put(p, "HTTP/1.1 ");
    p = put_number(p, status);
    *p++ = ' ';
    p = put(p, http_reason(status));
    p = put(p, "\r\nServer: knot\r\nDate: ");
    p = put(p, date_now());
    if (f->content_type) {
        p = put(p, "\r\nContent-Type: ");
        p = put(p, f->content_type);
    }
    if (f->content_length >= 0) {
        p = put(p, "\r\nContent-Length: ");
        p = put_number(p, f->content_length);
    }
    if (f->last_modified) {
        p = put(p, "\r\nLast-Modified: ");
        p = put(p, f->last_modified);
    }
    if (f->allow_get_head)
        p = put(p, "\r\nAllow: GET, HEAD");
    if (!f->keep_alive)
        p = put(p, "\r\nConnection: close");
    else if (f->http10_keep_alive)
        p = put(p, "\r\nConnection: keep-alive");
    p = put(p, "\r\n\r\n");
    return (size_t)(p - out);
}

size_t http_format_error_body(char *out, size_t size, int status)
{
    const char *reason = http_reason(status);
    size_t need = 4 + strlen(reason) + 1;
    if (need + 1 > size)
        return 0;
    char *p = put_number(out, status);
    *p++ = ' ';
    p = put(p, reason);
    *p++ = '\n';
    return (size_t)(p - out);
}
