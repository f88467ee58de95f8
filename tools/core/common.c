/*
 * common.c - what every step of a capture uses: its error line and its
 * clock.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "core.h"

void core_err(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, CORE_ERR, fmt, ap);
    va_end(ap);
}

uint64_t core_now(int clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
