/*
 * unstacked.c - threads that wait holding no stack, for gt-stacks and
 * gt-waste.
 *
 * Usage: unstacked NIDLE NSLEEP
 *
 *   NIDLE threads "idle":     idle_main -> idle_wait, which wrote IDLE_BUF
 *                             bytes of stack, then parked in
 *                             gt_wait_readable_then on its own empty pipe
 *                             (LINE:idle): no frames, its stack's pages
 *                             given back, to start over in idle_restart
 *   NSLEEP threads "sleeper": sleeper_main -> sleeper_wait, parked in
 *                             gt_chan_recv                   (LINE:sleeper)
 *   the main thread (entry main_thread) reads stdin in hold_main
 *                                                            (LINE:hold)
 * It prints "ready PID" once every thread is parked.  A line "wake" on
 * stdin writes a byte to the first idle thread's pipe: that thread starts
 * over in idle_restart, reads the byte, prints "woke ID" and parks in
 * gt_chan_recv there (LINE:restarted), with ordinary frames again.  A line
 * "crash" makes the main thread dereference NULL in crash_here
 * (LINE:crash), so the kernel writes a core.  End of stdin ends the
 * program.
 *
 * Every function the tests name is global and noinline, so a stripped
 * build linked with -rdynamic still has the names in .dynsym.
 */
#include <gt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IDLE_BUF 8192

#define NOINLINE __attribute__((noinline))

static gt_chan_t *never; /* nothing is ever sent on it */

struct idler {
    int fds[2];          /* the pipe it waits on: read end, write end */
};

static struct idler *idlers;

NOINLINE void idle_restart(void *arg)
{
    struct idler *me = arg;
    char c;
    void *msg;
    if (read(me->fds[0], &c, 1) != 1)
        abort();
    printf("woke %llu\n", (unsigned long long)gt_id(gt_self()));
    fflush(stdout);
    gt_chan_recv(never, &msg, GT_FOREVER); /* LINE:restarted */
}

NOINLINE void idle_wait(struct idler *me)
{
    /* Stack written before the wait: the wait must give all of it back. */
    volatile char buf[IDLE_BUF];
    for (size_t i = 0; i < sizeof(buf); i += 64)
        buf[i] = 1;
    if (gt_wait_readable_then(me->fds[0], GT_FOREVER, idle_restart, me) < 0) /* LINE:idle */
        abort();
    abort(); /* not reached: the pipe was empty, so the wait parked */
}

NOINLINE void idle_main(void *arg)
{
    idle_wait(arg);
    __asm__ volatile("" ::: "memory");
}

NOINLINE void sleeper_wait(void)
{
    void *msg;
    gt_chan_recv(never, &msg, GT_FOREVER); /* LINE:sleeper */
}

NOINLINE void sleeper_main(void *arg)
{
    (void)arg;
    sleeper_wait();
    __asm__ volatile("" ::: "memory");
}

static volatile int *volatile nowhere; /* NULL, opaque to the compiler */

NOINLINE void crash_here(void)
{
    *nowhere = 1; /* LINE:crash */
}

NOINLINE void hold_main(long nidle)
{
    char line[64];
    for (;;) {
        ssize_t n = read(0, line, sizeof(line) - 1); /* LINE:hold */
        if (n <= 0)
            return;
        line[n] = 0;
        if (strncmp(line, "crash", 5) == 0)
            crash_here();
        if (strncmp(line, "wake", 4) == 0 && nidle > 0 &&
            write(idlers[0].fds[1], "x", 1) != 1)
            abort();
    }
}

NOINLINE void main_thread(void *arg)
{
    long *n = arg;
    never = gt_chan_create(1);
    idlers = calloc((size_t)n[0] + 1, sizeof(*idlers));
    if (!never || !idlers)
        abort();
    for (long i = 0; i < n[0]; i++) {
        gt_attr_t at = {.name = "idle", .detached = 1};
        if (pipe(idlers[i].fds) < 0 || gt_spawn(NULL, idle_main, &idlers[i], &at) < 0) {
            perror("idle");
            exit(1);
        }
    }
    for (long i = 0; i < n[1]; i++) {
        gt_attr_t at = {.name = "sleeper", .detached = 1};
        if (gt_spawn(NULL, sleeper_main, NULL, &at) < 0) {
            perror("gt_spawn");
            exit(1);
        }
    }
    gt_sleep_ns(1000000); /* every thread runs to its parking point */
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    hold_main(n[0]);
    exit(0); /* the parked threads are never released */
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s NIDLE NSLEEP\n", argv[0]);
        return 2;
    }
    long n[2] = {atol(argv[1]), atol(argv[2])};
    return gt_main(main_thread, n) == 0 ? 0 : 1;
}
