/*
 * known_stacks.c - a fixture with known stacks, for gt-stacks and gt-waste.
 *
 * Usage: known_stacks NALPHA NBETA NRECUR DEPTH NDIVER [ticker]
 *
 *   NALPHA threads "alpha":  alpha_main -> alpha_mid -> alpha_leaf, whose
 *                            frame holds ALPHA_BUF bytes, parked in
 *                            gt_chan_recv                       (LINE:alpha)
 *   NBETA threads "beta":    beta_main -> beta_wait, frame of BETA_BUF
 *                            bytes, parked in gt_cond_wait      (LINE:beta)
 *   NRECUR threads "recur":  recur_main -> recurse x (DEPTH + 1), each
 *                            frame RECUR_BUF bytes, parked in read() on an
 *                            empty pipe at the deepest level   (LINE:recur)
 *   NDIVER threads "diver":  diver_main wrote DIVE_BUF bytes of stack in
 *                            dive() (returned), then parked in
 *                            gt_chan_recv in diver_wait        (LINE:diver)
 *   the main thread (unnamed, entry main_thread) reads stdin in hold_main
 *                                                               (LINE:hold)
 * With "ticker", one more thread "ticker" sleeps 100us in a loop, so the
 * registry's switch counter shows the program making progress (the bench
 * reads it around a tool's run).
 * It prints "ready PID" once every thread is parked.  A line "crash" on
 * stdin makes the main thread dereference NULL in crash_here (LINE:crash):
 * the runtime reports it and the kernel writes a core.  End of stdin ends
 * the program.
 *
 * Every function the tests name is global and noinline, so a stripped
 * build linked with -rdynamic still has the names in .dynsym.
 */
#include <gt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALPHA_BUF 1024
#define BETA_BUF 2048
#define RECUR_BUF 256
#define DIVE_BUF 16384

#define NOINLINE __attribute__((noinline))

static gt_chan_t *never;                 /* nothing is ever sent on it */
static gt_mutex_t mu = GT_MUTEX_INITIALIZER;
static gt_cond_t cond = GT_COND_INITIALIZER;
static int pipe_fds[2];
static int depth;

/* Keeps a buffer (and so the frame) alive across the park. */
static void touch(volatile char *buf, size_t n)
{
    for (size_t i = 0; i < n; i += 64)
        buf[i] = (char)i;
}

NOINLINE void alpha_leaf(void)
{
    volatile char buf[ALPHA_BUF];
    void *msg;
    touch(buf, sizeof(buf));
    gt_chan_recv(never, &msg, GT_FOREVER); /* LINE:alpha */
    touch(buf, sizeof(buf));
}

NOINLINE void alpha_mid(void)
{
    alpha_leaf(); /* LINE:alpha_mid */
    __asm__ volatile("" ::: "memory"); /* not a tail call */
}

NOINLINE void alpha_main(void *arg)
{
    (void)arg;
    alpha_mid(); /* LINE:alpha_main */
    __asm__ volatile("" ::: "memory");
}

NOINLINE void beta_wait(void)
{
    volatile char buf[BETA_BUF];
    touch(buf, sizeof(buf));
    gt_mutex_lock(&mu);
    gt_cond_wait(&cond, &mu); /* LINE:beta */
    gt_mutex_unlock(&mu);
    touch(buf, sizeof(buf));
}

NOINLINE void beta_main(void *arg)
{
    (void)arg;
    beta_wait(); /* LINE:beta_main */
    __asm__ volatile("" ::: "memory");
}

NOINLINE int recurse(int n)
{
    volatile char buf[RECUR_BUF];
    touch(buf, sizeof(buf));
    if (n == 0) {
        char c;
        return (int)read(pipe_fds[0], &c, 1); /* LINE:recur */
    }
    return recurse(n - 1) + buf[0]; /* LINE:recur_call */
}

NOINLINE void recur_main(void *arg)
{
    (void)arg;
    recurse(depth); /* LINE:recur_main */
    __asm__ volatile("" ::: "memory");
}

NOINLINE int dive(void)
{
    volatile char buf[DIVE_BUF];
    for (size_t i = 0; i < sizeof(buf); i += 8)
        buf[i] = 1;
    return buf[8];
}

NOINLINE void diver_wait(void)
{
    void *msg;
    gt_chan_recv(never, &msg, GT_FOREVER); /* LINE:diver */
}

NOINLINE void diver_main(void *arg)
{
    (void)arg;
    dive();
    diver_wait(); /* LINE:diver_main */
    __asm__ volatile("" ::: "memory");
}

static volatile int *volatile nowhere; /* NULL, opaque to the compiler */

NOINLINE void ticker_main(void *arg)
{
    (void)arg;
    for (;;)
        gt_sleep_ns(100000);
}

NOINLINE void crash_here(void)
{
    *nowhere = 1; /* LINE:crash */
}

NOINLINE void hold_main(void)
{
    char line[64];
    for (;;) {
        ssize_t n = read(0, line, sizeof(line) - 1); /* LINE:hold */
        if (n <= 0)
            return;
        line[n] = 0;
        if (strncmp(line, "crash", 5) == 0)
            crash_here(); /* LINE:hold_crash */
    }
}

struct spec { void (*fn)(void *); const char *name; long n; };

NOINLINE void main_thread(void *arg)
{
    struct spec *s = arg;
    never = gt_chan_create(1);
    if (!never || pipe(pipe_fds) < 0)
        abort();
    for (int i = 0; i < 4; i++)
        for (long j = 0; j < s[i].n; j++) {
            gt_attr_t at = {.name = s[i].name, .detached = 1};
            if (gt_spawn(NULL, s[i].fn, NULL, &at) < 0) {
                perror("gt_spawn");
                exit(1);
            }
        }
    if (s[4].n) {
        gt_attr_t at = {.name = "ticker", .detached = 1};
        if (gt_spawn(NULL, ticker_main, NULL, &at) < 0)
            abort();
    }
    gt_sleep_ns(1000000); /* every thread runs to its parking point */
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    hold_main(); /* LINE:main_thread */
    exit(0); /* the parked threads are never released */
}

int main(int argc, char **argv)
{
    if (argc != 6 && !(argc == 7 && strcmp(argv[6], "ticker") == 0)) {
        fprintf(stderr, "usage: %s NALPHA NBETA NRECUR DEPTH NDIVER [ticker]\n",
                argv[0]);
        return 2;
    }
    depth = atoi(argv[4]);
    struct spec s[5] = {{alpha_main, "alpha", atol(argv[1])},
                        {beta_main, "beta", atol(argv[2])},
                        {recur_main, "recur", atol(argv[3])},
                        {diver_main, "diver", atol(argv[5])},
                        {ticker_main, "ticker", argc == 7}};
    return gt_main(main_thread, s) == 0 ? 0 : 1;
}
