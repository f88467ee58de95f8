/*
 * access_log.c - the access log, buffered.
 *
 * Writes to a regular file cannot park: each one holds up every green
 * thread for the length of the system call.  So lines collect in memory
 * and go out in 64 KiB writes, or once a second, whichever comes first.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gt.h>

#include "access_log.h"

#define LOG_BUFFER_SIZE 65536
#define LOG_LINE_MAX 1024 /* a longer request line is cut */

struct access_log {
    int fd;
    size_t used;
    char buffer[LOG_BUFFER_SIZE];
};

struct access_log *access_log_open(const char *path)
{
    int fd = strcmp(path, "-") == 0
                 ? dup(STDOUT_FILENO)
                 : open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return NULL;
    struct access_log *log = malloc(sizeof *log);
    if (!log) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    log->fd = fd;
    log->used = 0;
    return log;
}

void access_log_flush(struct access_log *log)
{
    size_t done = 0;
    while (done < log->used) {
        ssize_t n = write(log->fd, log->buffer + done, log->used - done);
        if (n <= 0)
            break; /* a full disk loses log lines, never requests */
        done += (size_t)n;
    }
    log->used = 0;
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
    if (log->used + LOG_LINE_MAX > LOG_BUFFER_SIZE)
        access_log_flush(log);
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
    while (!*flusher->stop) {
        gt_sleep_ns(100000000); /* look at the stop flag ten times a second */
        static int ticks;
        if (++ticks % 10 == 0 || *flusher->stop)
            access_log_flush(flusher->log);
    }
    access_log_flush(flusher->log);
}
