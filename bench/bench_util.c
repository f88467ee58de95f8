/*
 * bench_util.c - command line, clock, medians, memory readings and forked
 * repetitions for the benchmark programs (see bench_util.h).
 *
 * Nothing here allocates or reads files while a measurement is timed; the
 * /proc readers are called only between timed sections.
 */
#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *progname(void)
{
    return program_invocation_short_name;
}

static _Noreturn void vdie(int err, const char *fmt, va_list ap)
{
    fflush(stdout);
    fprintf(stderr, "%s: error: ", progname());
    vfprintf(stderr, fmt, ap);
    if (err)
        fprintf(stderr, ": %s", strerror(err));
    fputc('\n', stderr);
    exit(1);
}

void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdie(0, fmt, ap);
}

void bench_die_errno(const char *fmt, ...)
{
    int err = errno;
    va_list ap;
    va_start(ap, fmt);
    vdie(err, fmt, ap);
}

static long parse_count(const char *key, const char *text)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end != '\0' || v <= 0) {
        fprintf(stderr, "%s: %s=%s: expected a positive integer\n",
                progname(), key, text);
        exit(2);
    }
    return v;
}

void bench_parse_args(int argc, char **argv, const char *scenarios,
                      bench_args_t *a)
{
    memset(a, 0, sizeof *a);
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr,
                "usage: %s SCENARIO [n=COUNT] [reps=COUNT] [parked=COUNT]\n"
                "scenarios: %s\n",
                progname(), scenarios);
        exit(2);
    }
    a->scenario = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "%s: '%s': expected key=value (n=, reps=, parked=)\n",
                    progname(), argv[i]);
            exit(2);
        }
        size_t klen = (size_t)(eq - argv[i]);
        if (klen == 1 && argv[i][0] == 'n')
            a->n = parse_count("n", eq + 1);
        else if (klen == 4 && !strncmp(argv[i], "reps", 4))
            a->reps = (int)parse_count("reps", eq + 1);
        else if (klen == 6 && !strncmp(argv[i], "parked", 6))
            a->parked = parse_count("parked", eq + 1);
        else {
            fprintf(stderr, "%s: unknown option '%s' (n=, reps=, parked=)\n",
                    progname(), argv[i]);
            exit(2);
        }
    }
}

long bench_n(const bench_args_t *a, long dflt)
{
    return a->n ? a->n : dflt;
}

int bench_reps(const bench_args_t *a, int dflt)
{
    int r = a->reps ? a->reps : dflt;
    return r > BENCH_MAX_REPS ? BENCH_MAX_REPS : r;
}

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int count)
{
    qsort(v, (size_t)count, sizeof *v, cmp_double);
    if (count % 2)
        return v[count / 2];
    return (v[count / 2 - 1] + v[count / 2]) / 2;
}

void bench_report(const char *bench, const char *impl, const char *unit,
                  double *samples, int count, long n, const char *extra)
{
    if (count <= 0)
        bench_die("%s/%s: no samples to report", bench, impl);
    double med = bench_median(samples, count);
    printf("RESULT bench=%s impl=%s unit=%s median=%.6g min=%.6g max=%.6g "
           "reps=%d n=%ld%s%s\n",
           bench, impl, unit, med, samples[0], samples[count - 1], count, n,
           extra ? " " : "", extra ? extra : "");
    fflush(stdout);
}

/* Reads a small /proc file whole into buf (NUL-terminated). */
static void read_proc(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        bench_die_errno("open %s", path);
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, size - 1 - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            bench_die_errno("read %s", path);
        }
        if (r == 0 || (got += (size_t)r) == size - 1)
            break;
    }
    close(fd);
    buf[got] = '\0';
}

long bench_rss_bytes(void)
{
    char buf[256];
    long size_pages, resident_pages;
    read_proc("/proc/self/statm", buf, sizeof buf);
    if (sscanf(buf, "%ld %ld", &size_pages, &resident_pages) != 2)
        bench_die("/proc/self/statm: unexpected contents '%s'", buf);
    return resident_pages * sysconf(_SC_PAGESIZE);
}

/* The value in kB of "field:" in a /proc file of "Name:   123 kB" lines. */
static long proc_kib_field(const char *path, const char *field)
{
    static char buf[16384];
    read_proc(path, buf, sizeof buf);
    size_t flen = strlen(field);
    for (char *line = buf; line && *line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (!strncmp(line, field, flen) && line[flen] == ':')
            return strtol(line + flen + 1, NULL, 10) * 1024;
    }
    bench_die("%s has no field '%s'", path, field);
}

long bench_peak_rss_bytes(void)
{
    return proc_kib_field("/proc/self/status", "VmHWM");
}

long bench_meminfo_bytes(const char *field)
{
    return proc_kib_field("/proc/meminfo", field);
}

void bench_forked_reps(int reps, bench_sample_t (*fn)(void *arg), void *arg,
                       bench_sample_t *out)
{
    for (int i = 0; i < reps; i++) {
        int pipefd[2];
        if (pipe(pipefd) < 0)
            bench_die_errno("pipe");
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid < 0)
            bench_die_errno("fork");
        if (pid == 0) {
            close(pipefd[0]);
            bench_sample_t s = fn(arg);
            if (write(pipefd[1], &s, sizeof s) != (ssize_t)sizeof s)
                _exit(3);
            fflush(stdout);
            _exit(0);
        }
        close(pipefd[1]);
        bench_sample_t s;
        size_t got = 0;
        while (got < sizeof s) {
            ssize_t r = read(pipefd[0], (char *)&s + got, sizeof s - got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        close(pipefd[0]);
        int status;
        while (waitpid(pid, &status, 0) < 0)
            if (errno != EINTR)
                bench_die_errno("waitpid");
        if (WIFSIGNALED(status))
            bench_die("repetition %d of %d: child killed by signal %d (%s)",
                      i + 1, reps, WTERMSIG(status), strsignal(WTERMSIG(status)));
        if (WEXITSTATUS(status) != 0)
            bench_die("repetition %d of %d: child exited with status %d",
                      i + 1, reps, WEXITSTATUS(status));
        if (got != sizeof s)
            bench_die("repetition %d of %d: child returned no result", i + 1, reps);
        out[i] = s;
    }
}
