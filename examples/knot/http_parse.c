/*
 * http_parse.c - HTTP/1.1 request heads (RFC 9112), strictly.
 *
 * Strict on purpose: everything a front proxy and this server might read
 * differently (bare LF line ends, folded headers, whitespace before the
 * colon, both Content-Length and Transfer-Encoding) is refused with 400
 * rather than guessed at, because a guess is how request smuggling starts.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_parse.h"

static int is_tchar(unsigned char c);

/* Is buf[s->line_checked..len), the rest of a request line that has no
 * line end yet, still the start of "method SP target SP HTTP/d.d CR"?
 * Resumable like the scan, so a trickled line costs linear work; the
 * whole line is checked again by parse_request_line once it is complete. */
static int request_line_start_ok(struct http_head_scanner *s, const char *buf, size_t len)
{
    enum { METHOD, TARGET, VERSION, END };
    if (s->line_checked < s->line_start) {
        s->line_checked = s->part_start = s->line_start;
        s->line_part = METHOD;
    }
    for (size_t i = s->line_checked; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        size_t at = i - s->part_start;
        switch (s->line_part) {
        case METHOD:
            if (c == '\r' && at == 0 && i + 1 == len) {
                s->line_checked = i; /* maybe an empty line: look again */
                return 1;
            }
            if (c == ' ' && at > 0) {
                s->line_part = TARGET;
                s->part_start = i + 1;
            } else if (!is_tchar(c)) {
                return 0;
            }
            break;
        case TARGET:
            if (c == ' ' && at > 0) {
                s->line_part = VERSION;
                s->part_start = i + 1;
            } else if (c < 0x21 || c > 0x7e) {
                return 0;
            }
            break;
        case VERSION:
            if (at < 5 ? c != (unsigned char)"HTTP/"[at]
                : at == 6 ? c != '.'
                : at == 8 ? c != '\r'
                : c < '0' || c > '9')
                return 0;
            if (at == 8)
                s->line_part = END;
            break;
        default: /* past the CR: only the LF, which ends the scan first */
            return 0;
        }
    }
    s->line_checked = len;
    return 1;
}

long http_scan_head(struct http_head_scanner *s, const char *buf, size_t len,
                    size_t capacity)
{
    while (s->scanned < len) {
        const char *lf = memchr(buf + s->scanned, '\n', len - s->scanned);
        if (!lf) {
            s->scanned = len;
            if (s->lines == 0 && !request_line_start_ok(s, buf, len))
                return -400;
            break;
        }
        size_t lf_at = (size_t)(lf - buf);
        s->scanned = lf_at + 1;
        if (lf_at == s->line_start || buf[lf_at - 1] != '\r')
            return -400; /* bare LF */
        size_t line_len = lf_at - 1 - s->line_start; /* without CRLF */
        if (line_len > HTTP_MAX_LINE)
            return s->lines == 0 ? -414 : -431;
        if (line_len == 0) {
            if (s->lines == 0) {
                /* An empty line before the request line: skip it. */
                s->line_start = s->head_start = s->scanned;
                continue;
            }
            return (long)s->scanned;
        }
        s->lines++;
        if (s->lines > HTTP_MAX_HEADERS + 1)
            return -431;
        s->line_start = s->scanned;
    }
    if (len - s->line_start > HTTP_MAX_LINE)
        return s->lines == 0 ? -414 : -431;
    if (len >= capacity)
        return s->lines == 0 ? -414 : -431;
    return 0;
}

/* Character classes by table: every byte of every header name and Host
 * value is looked up, on every request. */
#define CLASS_TCHAR 1    /* token (RFC 9110 5.6.2): header names, methods */
#define CLASS_REG_NAME 2 /* unreserved and sub-delims (RFC 3986): a Host */

static unsigned char char_class[256];

/* Filled before main, so that no caller can find it empty. */
__attribute__((constructor)) static void char_class_init(void)
{
    for (int c = 0; c < 256; c++) {
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        char_class[c] = (unsigned char)(
            (alnum || (c && strchr("!#$%&'*+-.^_`|~", c)) ? CLASS_TCHAR : 0) |
            (alnum || (c && strchr("-._~!$&'()*+,;=", c)) ? CLASS_REG_NAME : 0));
    }
}

static int is_tchar(unsigned char c)
{
    return char_class[c] & CLASS_TCHAR;
}

/* Field values may hold visible ASCII, obs-text, spaces and tabs. */
static int is_field_char(unsigned char c)
{
    return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

static int name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

/* Host (RFC 9112 3.2): uri-host [":" port], or empty.  uri-host is a
 * reg-name (unreserved, sub-delims, %-escapes) or an IP literal in
 * brackets; an IPv4 address is a reg-name's characters too. */
static int host_is_valid(const char *v, size_t len)
{
    size_t i = 0;
    if (len > 0 && v[0] == '[') {
        for (i = 1; i < len && v[i] != ']'; i++)
            if (!isxdigit((unsigned char)v[i]) && v[i] != ':' && v[i] != '.' &&
                v[i] != 'v' && v[i] != 'V')
                return 0;
        if (i == len || i == 1)
            return 0;
        i++; /* the ']' */
    } else {
        for (; i < len && v[i] != ':'; i++) {
            unsigned char c = (unsigned char)v[i];
            if (c == '%') {
                if (i + 2 >= len || !isxdigit((unsigned char)v[i + 1]) ||
                    !isxdigit((unsigned char)v[i + 2]))
                    return 0;
                i += 2;
            } else if (!(char_class[c] & CLASS_REG_NAME)) {
                return 0;
            }
        }
    }
    if (i == len)
        return 1;
    if (v[i++] != ':')
        return 0;
    for (; i < len; i++)
        if (v[i] < '0' || v[i] > '9')
            return 0;
    return 1;
}

/* Connection: a comma-separated list of options. */
static void parse_connection(const char *v, size_t len, int *saw_close, int *saw_keep_alive)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
            i++;
        if (name_is(v + start, i - start, "close"))
            *saw_close = 1;
        else if (name_is(v + start, i - start, "keep-alive"))
            *saw_keep_alive = 1;
    }
}

/* Returns 0, 400 (not 1*DIGIT) or 413 (over HTTP_MAX_BODY). */
static int parse_content_length(const char *v, size_t len, long long *out)
{
    if (len == 0)
        return 400;
    long long n = 0;
    int too_big = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 400;
        if (!too_big) {
            n = n * 10 + (v[i] - '0');
            if (n > HTTP_MAX_BODY)
                too_big = 1; /* keep checking the digits: "9x" is still 400 */
        }
    }
    if (too_big)
        return 413;
    *out = n;
    return 0;
}

static int parse_request_line(const char *line, size_t len, struct http_request *req)
{
    size_t i = 0;
    while (i < len && is_tchar((unsigned char)line[i]))
        i++;
    if (i == 0 || i >= len || line[i] != ' ')
        return 400;
    req->method_name = line;
    req->method_name_len = i;
    /* Methods are case-sensitive: "get" is some other method. */
    if (i == 3 && memcmp(line, "GET", 3) == 0)
        req->method = HTTP_METHOD_GET;
    else if (i == 4 && memcmp(line, "HEAD", 4) == 0)
        req->method = HTTP_METHOD_HEAD;
    else
        req->method = HTTP_METHOD_OTHER;

    size_t target_start = ++i;
    while (i < len && line[i] != ' ') {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x21 || c > 0x7e)
            return 400; /* controls, NUL, raw non-ASCII: never in a target */
        i++;
    }
    if (i == target_start || i >= len)
        return 400;
    req->target = line + target_start;
    req->target_len = i - target_start;

    const char *version = line + i + 1;
    size_t version_len = len - i - 1;
    if (version_len != 8 || memcmp(version, "HTTP/", 5) != 0 || version[6] != '.' ||
        version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
        return 400;
    if (version[5] != '1')
        return 505;
    req->version_minor = version[7] - '0';
    return 0;
}

int http_parse_head(const char *head, size_t len, struct http_request *req)
{
    memset(req, 0, sizeof *req);
    req->if_modified_since = -1;
    const char *end = head + len;
    const char *eol = memchr(head, '\r', len);
    if (!eol)
        return 400;
    int status = parse_request_line(head, (size_t)(eol - head), req);
    if (status)
        return status;

    int hosts = 0, saw_close = 0, saw_keep_alive = 0, saw_transfer_encoding = 0;
    int saw_content_length = 0;
    const char *line = eol + 2;
    while (line < end) {
        eol = memchr(line, '\r', (size_t)(end - line));
        if (!eol || eol + 1 >= end || eol[1] != '\n')
            return 400; /* a CR that does not end a line */
        size_t line_len = (size_t)(eol - line);
        if (line_len == 0)
            break; /* the empty line that ends the head */
        size_t name_len = 0;
        while (name_len < line_len && is_tchar((unsigned char)line[name_len]))
            name_len++;
        /* No name (obs-fold starts with a space), or a space before the colon. */
        if (name_len == 0 || name_len == line_len || line[name_len] != ':')
            return 400;
        const char *value = line + name_len + 1;
        const char *value_end = eol;
        for (const char *p = value; p < value_end; p++)
            if (!is_field_char((unsigned char)*p))
                return 400;
        while (value < value_end && (*value == ' ' || *value == '\t'))
            value++;
        while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t'))
            value_end--;
        size_t value_len = (size_t)(value_end - value);

        if (name_is(line, name_len, "Host")) {
            if (!host_is_valid(value, value_len))
                return 400;
            hosts++;
        } else if (name_is(line, name_len, "Connection")) {
            parse_connection(value, value_len, &saw_close, &saw_keep_alive);
        } else if (name_is(line, name_len, "Content-Length")) {
            long long n = 0;
            status = parse_content_length(value, value_len, &n);
            if (status)
                return status;
            if (saw_content_length && n != req->content_length)
                return 400;
            saw_content_length = 1;
            req->content_length = n;
        } else if (name_is(line, name_len, "Transfer-Encoding")) {
            saw_transfer_encoding = 1;
        } else if (name_is(line, name_len, "If-Modified-Since")) {
            req->if_modified_since = http_parse_date(value, value_len);
        }
        line = eol + 2;
    }
    if (saw_transfer_encoding)
        return saw_content_length ? 400 : 501;
    if (req->version_minor >= 1 && hosts != 1)
        return 400;
    if (hosts > 1)
        return 400;
    req->keep_alive = req->version_minor >= 1 ? !saw_close : (saw_keep_alive && !saw_close);
    return 0;
}

int64_t http_parse_date(const char *text, size_t len)
{
    static const char *const formats[] = {
        "%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
        "%A, %d-%b-%y %H:%M:%S GMT", /* RFC 850:     Sunday, 06-Nov-94 08:49:37 GMT */
        "%a %b %e %H:%M:%S %Y",      /* asctime:     Sun Nov  6 08:49:37 1994 */
    };
    char copy[64];
    if (len == 0 || len >= sizeof copy)
        return -1;
    memcpy(copy, text, len);
    copy[len] = '\0';
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        const char *rest = strptime(copy, formats[i], &tm);
        if (rest && *rest == '\0')
            return (int64_t)timegm(&tm);
    }
    return -1;
}
