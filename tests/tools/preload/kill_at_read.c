/*
 * kill_at_read.c - LD_PRELOAD into a reader: the target dies at a chosen
 * read, deterministically.
 *
 * With GT_TEST_KILL_AT_READ=N in the reader's environment, the N-th call
 * of process_vm_readv first sends SIGKILL to the process it reads and
 * waits until that process is dead (a zombie, or gone), then reads: every
 * read from there on finds no process.  So a test can end its target
 * between any two reads of a snapshot (say, after the registry's header)
 * without the reader knowing it is tested.  GT_TEST_READ_COUNT=PATH writes
 * the number of calls made to PATH at exit, so a test can choose N among
 * the reads a snapshot really makes.
 *
 * With GT_TEST_EXEC_AT_READ=N instead, the N-th call first makes the
 * process exec another program: it writes "exec" to the process's stdin
 * (through /proc/PID/fd/0, a pipe the target reads commands from; see
 * bad_registry.c) and waits until /proc/PID/exe names another file.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

typedef ssize_t readv_fn(pid_t, const struct iovec *, unsigned long,
                         const struct iovec *, unsigned long, unsigned long);

static unsigned long calls;

/* Whether PID's thread group holds a task other than its leader: a
 * leader is a zombie as soon as it exits, but its parent cannot reap it
 * (waitpid says it still runs) until every other task has exited too. */
static int other_tasks(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int others = 0;
    for (struct dirent *e; (e = readdir(d)) && !others;)
        others = e->d_name[0] != '.' && atoi(e->d_name) != (int)pid;
    closedir(d);
    return others;
}

/* Dead: a zombie ('Z') with no task left but itself, reaped already, or
 * gone from /proc. */
static int dead(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = NULL;
    for (char *q = buf; (q = strstr(q, ") ")); q++)
        p = q;
    return !p || ((p[2] == 'Z' || p[2] == 'X') && !other_tasks(pid));
}

static void write_count(void)
{
    const char *path = getenv("GT_TEST_READ_COUNT");
    FILE *f = path ? fopen(path, "we") : NULL;
    if (f) {
        fprintf(f, "%lu\n", calls);
        fclose(f);
    }
}

__attribute__((constructor)) static void init(void)
{
    atexit(write_count);
}

static void exec_target(pid_t pid)
{
    char path[64], before[4096] = "", now[4096];
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(path, before, sizeof(before) - 1);
    before[n > 0 ? n : 0] = 0;
    snprintf(path, sizeof(path), "/proc/%d/fd/0", (int)pid);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "exec\n", 5) != 5)
        abort();
    close(fd);
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 10000; i++) {
        n = readlink(path, now, sizeof(now) - 1);
        now[n > 0 ? n : 0] = 0;
        if (n > 0 && strcmp(now, before) != 0)
            return;
        nanosleep(&ms, NULL);
    }
    abort();
}

ssize_t process_vm_readv(pid_t pid, const struct iovec *local, unsigned long nl,
                         const struct iovec *remote, unsigned long nr,
                         unsigned long flags)
{
    static readv_fn *real;
    if (!real)
        real = (readv_fn *)dlsym(RTLD_NEXT, "process_vm_readv");
    const char *ex = getenv("GT_TEST_EXEC_AT_READ");
    if (ex && ++calls == strtoul(ex, NULL, 10))
        exec_target(pid);
    const char *at = ex ? NULL : getenv("GT_TEST_KILL_AT_READ");
    if (at && ++calls == strtoul(at, NULL, 10)) {
        kill(pid, SIGKILL);
        struct timespec ms = {0, 1000000};
        for (int i = 0; i < 10000 && !dead(pid); i++)
            nanosleep(&ms, NULL);
    } else if (!at && !ex) {
        calls++;
    }
    return real(pid, local, nl, remote, nr, flags);
}
