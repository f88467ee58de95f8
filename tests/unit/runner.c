/*
 * runner.c - runs the unit tests named in list.h, one process each.
 *
 *   runner [-l] [-v] [-t SECONDS] [PATTERN...]
 *
 * Each test runs in a forked child, in its own process group, with its
 * stdout and stderr captured in memory and a timeout (list.h gives the
 * seconds, 0 meaning the default; -t replaces the default).  A PATTERN is
 * a shell glob matched against test names (fnmatch), e.g. 'chan_*'; with
 * none, every test runs, in list order.  -l only lists the names; -v
 * also shows the output of tests that pass.
 *
 * One line per test: "ok NAME 12ms" or "FAIL NAME: REASON" followed by the
 * test's captured output, indented.  The reason is the first assertion
 * message, sanitizer report or "killed by SIGSEGV" / "timed out after
 * 60 s".  The last line is exactly "N passed, N failed"; the exit status
 * is 1 if a test failed or no test matched, 0 otherwise.
 *
 * The runner is linked with libgt.a like the tests, so it avoids the libc
 * names libgt interposes where it can: it reads the captured output
 * through stdio and waits for children with sigtimedwait.
 */
#include "test.h"

#include <fnmatch.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "list.h"

#define DEFAULT_TIMEOUT_S 60
#define OUTPUT_LINES_MAX 200 /* lines of a failed test's output shown */

#define X(name, timeout_s) void test_##name(void);
TEST_LIST(X)
#undef X

static const struct test {
    const char *name;
    void (*fn)(void);
    int timeout_s; /* 0: the default */
} tests[] = {
#define X(name, timeout_s) {#name, test_##name, timeout_s},
    TEST_LIST(X)
#undef X
};

#define NTESTS (sizeof tests / sizeof tests[0])

static int verbose; /* -v: show the output of passing tests too */

/* Sanitizer builds: let allocations fail with NULL (the ENOMEM test needs
 * it), leave fatal signals to libgt's own handler (it names the green
 * thread, which is what threads_overflow_reported checks), and stop at
 * the first undefined-behaviour report.  Unused otherwise. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:handle_segv=0:handle_sigbus=0";
}
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The child: output to `out`, default signal state, no core files. */
static _Noreturn void run_child(const struct test *t, int out)
{
    struct rlimit no_core = {0, 0};
    sigset_t none;

    setpgid(0, 0);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    setrlimit(RLIMIT_CORE, &no_core);
    if (dup2(out, STDOUT_FILENO) < 0 || dup2(out, STDERR_FILENO) < 0)
        _exit(125);
    close(out);
    setvbuf(stdout, NULL, _IOLBF, 0);
    t->fn();
    fflush(stdout);
    exit(0);
}

struct outcome {
    int passed;
    char reason[512];
};

/* Finds the line that best explains a failure in the captured output. */
static int find_reason(FILE *f, char *reason, size_t cap)
{
    static const char *const marks[] = {
        "Assertion failed", "ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
        "runtime error:",
    };
    char line[1024];

    for (size_t m = 0; m < sizeof marks / sizeof marks[0]; m++) {
        rewind(f);
        while (fgets(line, sizeof line, f) != NULL) {
            char *at = strstr(line, marks[m]);
            if (at != NULL) {
                line[strcspn(line, "\n")] = '\0';
                snprintf(reason, cap, "%s", at);
                return 1;
            }
        }
    }
    return 0;
}

static void print_output(FILE *f)
{
    char line[1024];
    int n = 0;

    rewind(f);
    while (fgets(line, sizeof line, f) != NULL) {
        if (++n > OUTPUT_LINES_MAX) {
            printf("    | ... (output cut after %d lines)\n",
                   OUTPUT_LINES_MAX);
            break;
        }
        line[strcspn(line, "\n")] = '\0';
        printf("    | %s\n", line);
    }
}

/* Waits for pid until deadline_ms; returns 1 with *status set, 0 on
 * timeout.  SIGCHLD is blocked in the runner, so sigtimedwait sees it. */
static int wait_child(pid_t pid, int64_t deadline_ms, int *status)
{
    sigset_t chld;

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 1;
        if (r < 0 && errno != EINTR) {
            perror("waitpid");
            exit(2);
        }
        int64_t left = deadline_ms - now_ms();
        if (left <= 0)
            return 0;
        struct timespec ts = {left / 1000, (left % 1000) * 1000000};
        sigtimedwait(&chld, NULL, &ts);
    }
}

static void run_one(const struct test *t, int default_timeout_s,
                    struct outcome *o)
{
    int64_t start = now_ms();
    int timeout_s = t->timeout_s ? t->timeout_s : default_timeout_s;
    int out = memfd_create("gt-test-output", MFD_CLOEXEC);
    int status = 0, finished;
    FILE *f;
    pid_t pid;

    if (out < 0) {
        perror("memfd_create");
        exit(2);
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0)
        run_child(t, out);
    setpgid(pid, pid); /* whichever of parent and child runs first */

    finished = wait_child(pid, now_ms() + (int64_t)timeout_s * 1000,
                          &status);
    kill(-pid, SIGKILL); /* anything the test left behind */
    if (!finished)
        waitpid(pid, &status, 0);

    f = fdopen(out, "r");
    if (f == NULL) {
        perror("fdopen");
        exit(2);
    }
    o->passed = finished && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    o->reason[0] = '\0';
    if (!finished) {
        snprintf(o->reason, sizeof o->reason, "timed out after %d s",
                 timeout_s);
    } else if (!o->passed) {
        char what[64];
        if (WIFSIGNALED(status)) {
            const char *sig = sigabbrev_np(WTERMSIG(status));
            snprintf(what, sizeof what, "killed by SIG%s",
                     sig ? sig : "?");
        } else {
            snprintf(what, sizeof what, "exit status %d",
                     WEXITSTATUS(status));
        }
        char line[sizeof o->reason - sizeof what - 8];
        if (find_reason(f, line, sizeof line))
            snprintf(o->reason, sizeof o->reason, "%s (%s)", line, what);
        else
            snprintf(o->reason, sizeof o->reason, "%s", what);
    } else {
        /* A clean exit with a sanitizer report is still a failure. */
        char line[sizeof o->reason];
        if (find_reason(f, line, sizeof line)) {
            o->passed = 0;
            snprintf(o->reason, sizeof o->reason, "%s", line);
        }
    }
    if (!o->passed) {
        printf("FAIL %s: %s\n", t->name, o->reason);
        print_output(f);
    } else {
        printf("ok %s %" PRId64 "ms\n", t->name, now_ms() - start);
        if (verbose)
            print_output(f);
    }
    fclose(f);
}

static int selected(const struct test *t, int npat, char **pat)
{
    if (npat == 0)
        return 1;
    for (int i = 0; i < npat; i++)
        if (fnmatch(pat[i], t->name, 0) == 0)
            return 1;
    return 0;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: runner [-l] [-v] [-t SECONDS] [PATTERN...]\n"
                "       runner -x NAME\n"
                "  -l          list the test names and exit\n"
                "  -x NAME     run that one test in this process, no fork\n"
                "              and no timeout (for emulators whose fork\n"
                "              does not work); exit status 0 if it passed\n"
                "  -v          show the output of passing tests too\n"
                "  -t SECONDS  default timeout per test (now %d)\n"
                "  PATTERN     shell glob of test names to run\n",
            DEFAULT_TIMEOUT_S);
}

int main(int argc, char **argv)
{
    int default_timeout_s = DEFAULT_TIMEOUT_S, list = 0, opt;
    const char *in_process = NULL;
    int passed = 0, failed = 0;
    sigset_t chld;

    while ((opt = getopt(argc, argv, "hlvt:x:")) != -1) {
        switch (opt) {
        case 'x':
            in_process = optarg;
            break;
        case 'l':
            list = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        case 't':
            default_timeout_s = atoi(optarg);
            if (default_timeout_s <= 0) {
                fprintf(stderr, "runner: -t needs a positive number of "
                                "seconds, not '%s'\n", optarg);
                return 64;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 64;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (in_process) {
        for (size_t i = 0; i < NTESTS; i++)
            if (!strcmp(tests[i].name, in_process)) {
                tests[i].fn(); /* a failed assertion aborts */
                printf("ok %s\n", tests[i].name);
                return 0;
            }
        fprintf(stderr, "runner: no test named '%s'; see runner -l\n",
                in_process);
        return 64;
    }
    if (list) {
        for (size_t i = 0; i < NTESTS; i++)
            if (selected(&tests[i], argc - optind, argv + optind))
                printf("%s\n", tests[i].name);
        return 0;
    }

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);

    for (size_t i = 0; i < NTESTS; i++) {
        const struct test *t = &tests[i];
        struct outcome o;

        if (!selected(t, argc - optind, argv + optind))
            continue;
        run_one(t, default_timeout_s, &o);
        if (o.passed)
            passed++;
        else
            failed++;
    }
    if (passed + failed == 0) {
        fprintf(stderr, "runner: no test matches the given pattern(s); "
                        "see runner -l\n");
        printf("0 passed, 0 failed\n");
        return 1;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
