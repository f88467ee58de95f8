/*
 * access_log.c - the access log, buffered, never in the way of serving.
 *
 * Writes to a regular file cannot park: each one holds up every green
 * thread for the length of the system call.  So lines collect in memory
 * and go out in 64 KiB writes, or once a second, whichever comes first.
 *
 * A log on a pipe or a terminal can stop draining.  A write that waited
 * for it would park the thread serving a request, then every thread that
 * logs after it: the whole server.  So the log's fd is non-blocking, a
 * write takes what fits and the rest waits in the buffer, and a line that
 * finds the buffer full is dropped and counted.  Each line is written at
 * most once, and whole lines are dropped, never parts.  Dropping is
 * reported on stderr once when it starts and, with the count, once the
 * log has drained (checked once a second), and at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gt.h>

#include "access_log.h"
#include "log.h"

#define LOG_BUFFER_SIZE 65536
#define LOG_LINE_MAX 1024 /* a longer request line is cut */

struct access_log {
    int fd;
    int dropping;          /* lines are being dropped; reported at its start */
    int mid_line;          /* the buffer starts with the rest of a line
                            * that a write sent part of */
    uint64_t dropped;      /* lines dropped and not yet reported */
    size_t used;
    char buffer[LOG_BUFFER_SIZE];
};

/* The fd for "-": stdout reopened when it can be, so the O_NONBLOCK set
 * below is on a description of Knot's own, not on one it shares with the
 * shell that started it (a terminal, a pipe). */
static int open_stdout(void)
{
    int fd = open("/proc/self/fd/1", O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
    return fd >= 0 ? fd : fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0);
}

struct access_log *access_log_open(const char *path)
{
    int fd = strcmp(path, "-") == 0
                 ? open_stdout()
                 : open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0644);
    if (fd < 0)
        return NULL;
    struct stat st;
    int flags = fcntl(fd, F_GETFL);
    if (fstat(fd, &st) < 0 || flags < 0 ||
        (!S_ISREG(st.st_mode) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)) {
        int err = errno;
        close(fd);
        errno = err;
        return NULL;
    }
    struct access_log *log = malloc(sizeof *log);
    if (!log) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    log->fd = fd;
    log->dropping = 0;
    log->dropped = 0;
    log->mid_line = 0;
    log->used = 0;
    return log;
}

static void drop_lines(struct access_log *log, uint64_t lines)
{
    if (!log->dropping)
        knot_log("access log: it is not keeping up; dropping lines until it drains");
    log->dropping = 1;
    log->dropped += lines;
}

/* Drops buffer[from..used): the lines in it, less one a write has begun. */
static void drop_buffered(struct access_log *log, size_t from)
{
    uint64_t lines = 0;
    for (size_t i = from; i < log->used; i++)
        lines += log->buffer[i] == '\n';
    int begun = from > 0 ? log->buffer[from - 1] != '\n' : log->mid_line;
    if (begun && lines)
        lines--; /* counts as logged: part of it is out */
    if (lines)
        drop_lines(log, lines);
    log->used = from;
}

static void report_dropped(struct access_log *log)
{
    if (log->dropped)
        knot_log("access log: %llu lines dropped (it could not keep up)",
                 (unsigned long long)log->dropped);
    log->dropped = 0;
    log->dropping = 0;
}

void access_log_flush(struct access_log *log)
{
    size_t done = 0;
    while (done < log->used) {
        ssize_t n = write(log->fd, log->buffer + done, log->used - done);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break; /* full: the rest waits for the next flush */
        /* A full disk, a closed pipe: lose the lines, never requests. */
        drop_buffered(log, done);
    }
    if (done > 0) {
        log->mid_line = log->buffer[done - 1] != '\n';
        memmove(log->buffer, log->buffer + done, log->used - done);
        log->used -= done;
    }
}

/* "[10/Oct/2000:13:55:36 +0000]", formatted once per second. */
static const char *clf_now(void)
{
    static char cached[40];
    static time_t cached_second = -1;
    time_t now = time(NULL);
    if (now != cached_second) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(cached, sizeof cached, "[%d/%b/%Y:%H:%M:%S +0000]", &tm);
        cached_second = now;
    }
    return cached;
}

static char *put_bytes(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static char *put_uint(char *p, unsigned long long v)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = digits[--n];
    return p;
}

void access_log_write(struct access_log *log, const char *host, size_t host_len,
                      const char *request_line, size_t request_line_len, int status,
                      long long body_bytes)
{
    if (log->used + LOG_LINE_MAX > LOG_BUFFER_SIZE) {
        access_log_flush(log);
        if (log->used + LOG_LINE_MAX > LOG_BUFFER_SIZE) {
            drop_lines(log, 1);
            return;
        }
    }
    char *start = log->buffer + log->used;
    char *p = start;
    char *limit = start + LOG_LINE_MAX - 80; /* room for what follows the request */
    if (host_len > 64)
        host_len = 64;
    p = put_bytes(p, host, host_len);
    p = put_bytes(p, " - - ", 5);
    const char *date = clf_now();
    p = put_bytes(p, date, strlen(date));
    p = put_bytes(p, " \"", 2);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < request_line_len && p < limit; i++) {
        unsigned char c = (unsigned char)request_line[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            *p++ = (char)c;
        } else {
            *p++ = '\\';
            *p++ = 'x';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    p = put_bytes(p, "\" ", 2);
    p = put_uint(p, (unsigned long long)status);
    *p++ = ' ';
    if (body_bytes > 0)
        p = put_uint(p, (unsigned long long)body_bytes);
    else
        *p++ = '-';
    *p++ = '\n';
    log->used += (size_t)(p - start);
}

void access_log_flusher_main(void *arg)
{
    struct access_log_flusher *flusher = arg;
    struct access_log *log = flusher->log;
    while (!*flusher->stop) {
        gt_sleep_ns(100000000); /* look at the stop flag ten times a second */
        static int ticks;
        if (++ticks % 10 == 0 || *flusher->stop) {
            access_log_flush(log);
            if (log->dropping && log->used == 0)
                report_dropped(log); /* drained */
        }
    }
    access_log_flush(log);
}

void access_log_close(struct access_log *log)
{
    /* Nothing is served any more: the log may have a second to drain. */
    int64_t deadline = gt_now_ns() + 1000000000LL;
    access_log_flush(log);
    for (int64_t left; log->used && (left = deadline - gt_now_ns()) > 0;) {
        struct pollfd pfd = {.fd = log->fd, .events = POLLOUT};
        if (poll(&pfd, 1, (int)(left / 1000000) + 1) < 0 && errno != EINTR)
            break;
        access_log_flush(log);
    }
    drop_buffered(log, 0); /* still full: what is left is lost */
    report_dropped(log);
    close(log->fd);
    free(log);
}
