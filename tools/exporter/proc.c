/*
 * proc.c - see proc.h.
 */
#include "proc.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads the file PATH into BUF (NUL-terminated); its length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = 0;
    return n;
}

int proc_start_time(pid_t pid, uint64_t *out)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (read_small(path, buf, sizeof(buf)) < 0)
        return -1;
    /* The name (field 2) is any bytes in parentheses, ')' and spaces
     * too: the fields are counted from the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    for (int field = 2; field < 21; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return -1;
    }
    char *end;
    uint64_t v = strtoull(p + 1, &end, 10);
    if (end == p + 1)
        return -1;
    *out = v;
    return 0;
}

const char *proc_comm(pid_t pid, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    ssize_t n = read_small(path, buf, len);
    if (n < 0)
        n = 0;
    /* Any bytes the program set, a newline too: only the last is the
     * file's. */
    if (n && buf[n - 1] == '\n')
        n--;
    buf[n] = 0;
    return buf;
}
