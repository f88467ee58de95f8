/*
 * million_stacks.c - the readers' scale fixture: a million parked threads
 * in three known stacks (bench/scale_bench.py reads it).
 *
 * Usage: million_stacks NSLEEP NDEEP NREAD
 *
 *   NSLEEP threads "sleeper": sleeper_main -> sleeper_wait, parked in
 *                             usleep(1 hour)
 *   NDEEP threads "deep":     deep_main -> deep_level x DEEP_LEVELS, parked
 *                             in gt_chan_recv at the deepest level: ten
 *                             frames of the program's own, counting the
 *                             park
 *   NREAD threads "reader":   reader_main -> reader_wait, parked in read()
 *                             on an empty pipe
 *   the main thread (entry main_thread) reads stdin in hold_main
 *
 * It prints "ready PID" once every thread has reached its parking point,
 * and ends at the end of stdin.  Run with GT_STACK_SIZE=16384: a million
 * stacks of the default 64 KiB would not fit the bench machine, and each
 * thread touches only its stack's top page.
 */
#include <gt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define DEEP_LEVELS 8   /* deep_main + 8 levels + the park's caller = 10 */

static gt_chan_t *never;   /* nothing is ever sent on it */
static int pipe_fds[2];    /* nothing is ever written to it */
static long arrived;       /* threads at their parking point */

NOINLINE void sleeper_wait(void)
{
    arrived++;
    usleep(3600u * 1000000u);
    __asm__ volatile("" ::: "memory"); /* not a tail call */
}

NOINLINE void sleeper_main(void *arg)
{
    (void)arg;
    sleeper_wait();
    __asm__ volatile("" ::: "memory"); /* not a tail call */
}

NOINLINE int deep_level(int n)
{
    if (n == 0) {
        void *msg;
        arrived++;
        return gt_chan_recv(never, &msg, GT_FOREVER);
    }
    int r = deep_level(n - 1);
    __asm__ volatile("" ::: "memory");
    return r + n;
}

NOINLINE void deep_main(void *arg)
{
    (void)arg;
    deep_level(DEEP_LEVELS - 1);
    __asm__ volatile("" ::: "memory");
}

NOINLINE void reader_wait(void)
{
    char c;
    arrived++;
    if (read(pipe_fds[0], &c, 1) < 0)
        abort();
}

NOINLINE void reader_main(void *arg)
{
    (void)arg;
    reader_wait();
    __asm__ volatile("" ::: "memory");
}

NOINLINE void hold_main(void)
{
    char line[64];
    while (read(0, line, sizeof(line)) > 0)
        ;
}

struct spec { void (*fn)(void *); const char *name; long n; };

NOINLINE void main_thread(void *arg)
{
    struct spec *s = arg;
    long total = 0;
    never = gt_chan_create(1);
    if (!never || pipe(pipe_fds) < 0)
        abort();
    for (int i = 0; i < 3; i++) {
        total += s[i].n;
        for (long j = 0; j < s[i].n; j++) {
            gt_attr_t at = {.name = s[i].name, .detached = 1};
            if (gt_spawn(NULL, s[i].fn, NULL, &at) < 0) {
                perror("gt_spawn");
                exit(1);
            }
        }
    }
    /* Every spawned thread runs before the main thread comes back from a
     * sleep; the count makes sure of it, and the yield lets the last one
     * finish parking. */
    while (arrived < total)
        gt_sleep_ns(1000000);
    gt_yield();
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    hold_main();
    exit(0); /* the parked threads are never released */
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s NSLEEP NDEEP NREAD\n", argv[0]);
        return 2;
    }
    struct spec s[3] = {{sleeper_main, "sleeper", atol(argv[1])},
                        {deep_main, "deep", atol(argv[2])},
                        {reader_main, "reader", atol(argv[3])}};
    return gt_main(main_thread, s) == 0 ? 0 : 1;
}
