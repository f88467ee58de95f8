/*
 * log.h - the server's own messages, one line each on stderr.
 */
#ifndef KNOT_LOG_H
#define KNOT_LOG_H

/* "knot: " + the formatted message + newline, in one write. */
void knot_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A worker of `knot -w N` says which one it is: "knot[PID]: " from now on. */
void knot_log_set_pid(int pid);

#endif
