/*
 * bench_touch.c - bench_touch() on its own, so that no compiler sees the
 * caller's stack buffer die and drops the stores that make the page
 * resident: the "touch 1 KiB of stack" benchmarks measure exactly that.
 */
#include "bench_util.h"

#include <string.h>

void bench_touch(char *p, size_t len)
{
    memset(p, 0xa5, len);
}
