/*
 * access_log.h - one line per response, in the Common Log Format.
 */
#ifndef KNOT_ACCESS_LOG_H
#define KNOT_ACCESS_LOG_H

#include <stddef.h>

struct access_log;

/* Opens path for appending ("-" is stdout); NULL with errno on failure. */
struct access_log *access_log_open(const char *path);

/* Adds one line: host - - [date] "request line" status bytes.  The request
 * line is escaped (\xHH for anything but printable ASCII), so a client
 * cannot forge log lines.  Never waits: when the log cannot keep up and
 * the buffer is full, the line is dropped and counted. */
void access_log_write(struct access_log *log, const char *host, size_t host_len,
                      const char *request_line, size_t request_line_len, int status,
                      long long body_bytes);

/* Writes out what is buffered and what the log takes without waiting;
 * the rest waits for the next flush. */
void access_log_flush(struct access_log *log);

/* Flushes what the log takes now, reports the lines dropped on stderr,
 * and closes the log. */
void access_log_close(struct access_log *log);

/* Green thread: flushes once a second until *stop is set, then once more. */
struct access_log_flusher {
    struct access_log *log;
    const int *stop;
};
void access_log_flusher_main(void *flusher);

#endif
