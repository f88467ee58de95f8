/*
 * three_locations.c - a fixture with known ground truth for registry readers.
 *
 * Usage: three_locations NA NB NC
 * Parks NA threads in wait_a (channel receive), NB in wait_b (condition
 * wait) and NC in wait_c (read() on an empty pipe, interposed), each with a
 * known name, then prints "ready <pid>" and parks its main thread in
 * hold_main (read on stdin) until stdin closes; then it releases
 * everything, joins every thread and exits 0.
 */
#include <gt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static gt_chan_t *chan_a;
static gt_mutex_t mu = GT_MUTEX_INITIALIZER;
static gt_cond_t cond_b = GT_COND_INITIALIZER;
static int released;
static int pipe_c[2];

__attribute__((noinline)) static void wait_a(void *arg)
{
    (void)arg;
    void *msg;
    if (gt_chan_recv(chan_a, &msg, GT_FOREVER) < 0)
        abort();
}

__attribute__((noinline)) static void wait_b(void *arg)
{
    (void)arg;
    gt_mutex_lock(&mu);
    while (!released)
        gt_cond_wait(&cond_b, &mu);
    gt_mutex_unlock(&mu);
}

__attribute__((noinline)) static void wait_c(void *arg)
{
    (void)arg;
    char c;
    if (read(pipe_c[0], &c, 1) != 1)
        abort();
}

__attribute__((noinline)) static void hold_main(void)
{
    char buf[64];
    while (read(0, buf, sizeof(buf)) > 0)
        ;
}

struct spec { void (*fn)(void *); const char *name; long n; };

static void main_thread(void *arg)
{
    struct spec *s = arg;
    long total = s[0].n + s[1].n + s[2].n;
    gt_t *ts = calloc((size_t)total, sizeof(*ts));
    chan_a = gt_chan_create(16);
    if (!ts || !chan_a || pipe(pipe_c) < 0)
        abort();
    long k = 0;
    for (int i = 0; i < 3; i++)
        for (long j = 0; j < s[i].n; j++) {
            gt_attr_t at = {.name = s[i].name};
            if (gt_spawn(&ts[k++], s[i].fn, NULL, &at) < 0) {
                perror("gt_spawn");
                exit(1);
            }
        }
    gt_sleep_ns(1000000); /* let every thread run to its parking point */
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    hold_main();
    for (long j = 0; j < s[0].n; j++)
        gt_chan_send(chan_a, NULL, GT_FOREVER);
    gt_mutex_lock(&mu);
    released = 1;
    gt_cond_broadcast(&cond_b);
    gt_mutex_unlock(&mu);
    for (long j = 0; j < s[2].n; j++)
        if (write(pipe_c[1], "x", 1) != 1)
            abort();
    for (long j = 0; j < total; j++)
        gt_join(ts[j]);
    printf("done\n");
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s NA NB NC\n", argv[0]);
        return 2;
    }
    struct spec s[3] = {{wait_a, "waiter-a", atol(argv[1])},
                        {wait_b, "waiter-b", atol(argv[2])},
                        {wait_c, "waiter-c", atol(argv[3])}};
    return gt_main(main_thread, s) == 0 ? 0 : 1;
}
