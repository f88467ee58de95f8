/*
 * log.c - server messages on stderr.
 *
 * One write(2) per line, so lines from different threads never interleave
 * and a pipe reader (a test, a supervisor) sees whole lines.
 */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"

static int worker_pid; /* 0: "knot: ", else "knot[PID]: " */

void knot_log_set_pid(int pid)
{
    worker_pid = pid;
}

void knot_log(const char *fmt, ...)
{
    char line[512];
    int n = worker_pid ? snprintf(line, sizeof line, "knot[%d]: ", worker_pid)
                       : snprintf(line, sizeof line, "knot: ");
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w; /* nowhere left to report a failing stderr */
}
