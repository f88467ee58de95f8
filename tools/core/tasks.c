/*
 * tasks.c - the kernel threads of the target, from /proc/PID/task, and
 * what /proc says of each (state, times) for their NT_PRSTATUS notes.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static int have_task(const struct capture *c, pid_t tid)
{
    for (size_t i = 0; i < c->ntasks; i++)
        if (c->tasks[i].tid == tid)
            return 1;
    return 0;
}

int core_tasks_scan(struct capture *c)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)c->pid);
    DIR *d = opendir(path);
    if (!d) {
        if (errno == ENOENT)
            errno = ESRCH;
        return -1;
    }
    int added = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long tid = strtol(e->d_name, &end, 10);
        if (*end || end == e->d_name || tid <= 0 || tid > 0x3fffffff ||
            have_task(c, (pid_t)tid))
            continue;
        if (c->ntasks >= CORE_TASKS_MAX) {
            closedir(d);
            errno = E2BIG;
            return -1;
        }
        if (c->ntasks == c->captasks) {
            size_t cap = c->captasks ? c->captasks * 2 : 16;
            struct core_task *t = realloc(c->tasks, cap * sizeof(*t));
            if (!t) {
                closedir(d);
                errno = ENOMEM;
                return -1;
            }
            c->tasks = t;
            c->captasks = cap;
        }
        struct core_task *t = &c->tasks[c->ntasks++];
        memset(t, 0, sizeof(*t));
        t->tid = (pid_t)tid;
        added++;
    }
    closedir(d);
    /* The main thread first: GDB and the readers take the first
     * NT_PRSTATUS as the process's. */
    for (size_t i = 1; i < c->ntasks; i++)
        if (c->tasks[i].tid == c->pid) {
            struct core_task m = c->tasks[i];
            c->tasks[i] = c->tasks[0];
            c->tasks[0] = m;
        }
    if (!c->ntasks) {
        errno = ESRCH;
        return -1;
    }
    return added;
}

void core_tasks_stat(struct capture *c)
{
    for (size_t i = 0; i < c->ntasks; i++) {
        struct core_task *t = &c->tasks[i];
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)c->pid, (int)t->tid);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        /* The name is in parentheses and may hold anything: parse after
         * the last ')'. */
        char *p = strrchr(buf, ')');
        unsigned long long ut = 0, st = 0;
        char state = '?';
        if (p && sscanf(p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                        &state, &ut, &st) == 3) {
            t->state = state;
            t->utime = ut;
            t->stime = st;
        }
    }
}

pid_t core_tracer_of(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    long tracer = 0;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "TracerPid: %ld", &tracer) == 1)
            break;
    if (f)
        fclose(f);
    return tracer > 0 && tracer <= 0x3fffffff ? (pid_t)tracer : 0;
}

void core_comm(pid_t pid, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "re");
    snprintf(buf, len, "?");
    if (!f)
        return;
    if (fgets(buf, (int)len, f))
        buf[strcspn(buf, "\n")] = 0;
    fclose(f);
}

void core_task_facts(pid_t pid, pid_t *tgid, char *state)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    long v;
    char st;
    while (f && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "Tgid: %ld", &v) == 1 && v > 0 && v <= 0x3fffffff)
            *tgid = (pid_t)v;
        else if (sscanf(line, "State: %c", &st) == 1)
            *state = st;
    }
    if (f)
        fclose(f);
}
