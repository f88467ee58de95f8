/*
 * tail_call.c - a thread whose last statement is a blocking call, built
 * with exactly the flags gt.pc gives (tools/tools.mk, test_tail_call.py).
 *
 * Usage: tail_call NSLEEP
 *
 *   NSLEEP threads "sleeper": entry sleeper_entry, whose last statement
 *                             is gt_sleep_ns                (LINE:tail)
 *   the main thread (main_thread) reads stdin                 (LINE:hold)
 *
 * At -O2 a compiler makes that last call a jump (a sibling call): the
 * caller's frame is gone before gt_sleep_ns runs, and every reader shows
 * the thread parked under gt__thread_start, its own function missing.
 * gt.pc's -fno-optimize-sibling-calls keeps it; the same program built
 * with -foptimize-sibling-calls after those flags shows the loss.
 * It prints "ready PID" once every thread is parked; end of stdin ends it.
 */
#include <gt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static volatile long started;

/* A thread function whose last statement is the park: a sibling call
 * when the compiler may make one. */
NOINLINE void sleeper_entry(void *arg)
{
    (void)arg;
    started++;
    gt_sleep_ns(3600L * 1000 * 1000 * 1000); /* LINE:tail */
}

NOINLINE void hold_main(void)
{
    char c;
    while (read(0, &c, 1) > 0) /* LINE:hold */
        ;
}

NOINLINE void main_thread(void *arg)
{
    long n = *(long *)arg;
    for (long i = 0; i < n; i++) {
        gt_attr_t at = {.name = "sleeper", .detached = 1};
        if (gt_spawn(NULL, sleeper_entry, NULL, &at) < 0) {
            perror("gt_spawn");
            exit(1);
        }
    }
    gt_sleep_ns(1000000); /* every thread runs to its parking point */
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    hold_main();
    exit(0); /* the sleepers are never released */
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 0;
    if (n < 1) {
        fprintf(stderr, "usage: tail_call NSLEEP\n");
        return 64;
    }
    return gt_main(main_thread, &n) == 0 ? 0 : 1;
}
