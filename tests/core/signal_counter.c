/*
 * signal_counter.c - a gt program that counts what reaches it while it is
 * captured: signals, timer wakeups and lines on stdin.
 *
 * Usage: signal_counter
 *
 *   every SIGRTMIN the process receives adds one to `signals` (a real-time
 *   signal: each one sent is queued, none merges with another, so a count
 *   short of what was sent is a signal lost);
 *   a green thread "ticker" adds one to `ticks` every millisecond
 *   (gt_sleep_ns: a timer wakeup each time);
 *   the main thread reads stdin: "count" prints "count TICKS SIGNALS",
 *   "ping X" prints "pong X".
 *
 * It prints "ready PID" first, and ends at the end of stdin.
 */
#include <gt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long signals; /* any kernel thread may take the signal: atomics */
static volatile long ticks;

static void on_signal(int sig)
{
    (void)sig;
    __atomic_fetch_add(&signals, 1, __ATOMIC_RELAXED);
}

static void ticker(void *arg)
{
    (void)arg;
    for (;;) {
        gt_sleep_ns(1000000);
        ticks++;
    }
}

static void main_thread(void *arg)
{
    (void)arg;
    gt_attr_t at = {.name = "ticker", .detached = 1};
    if (gt_spawn(NULL, ticker, NULL, &at) < 0)
        abort();
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    /* read(), which parks this thread, not stdio's fgets, whose internal
     * read would hold the kernel thread and so the ticker. */
    char buf[4096];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(0, buf + have, sizeof(buf) - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = 0;
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = 0;
            if (strcmp(line, "count") == 0)
                printf("count %ld %ld\n", ticks, __atomic_load_n(&signals, __ATOMIC_RELAXED));
            else if (strncmp(line, "ping ", 5) == 0)
                printf("pong %s\n", line + 5);
            line = nl + 1;
        }
        have = strlen(line);
        memmove(buf, line, have);
        if (have == sizeof(buf) - 1)
            have = 0; /* a line too long to be a command */
        fflush(stdout);
    }
    exit(0);
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGRTMIN, &sa, NULL) < 0)
        abort();
    return gt_main(main_thread, NULL) == 0 ? 0 : 1;
}
