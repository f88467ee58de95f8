/*
 * queue_order.c - a fixture for the exporter's oldest waits: N threads
 * park at one location (LINE:queue) one after another, in an order that
 * is not the order of their slots, so that the oldest wait there is the
 * first parked's, not the first slot's.
 *
 * Usage: queue_order N
 *
 *   Thread i (0..N-1, spawned in that order) first waits at LINE:gate
 *   until the main thread lets it through, then at LINE:queue until it
 *   is woken, and exits.  The main thread lets them through in the order
 *   i = (3 * k + 1) mod N, k = 0..N-1 (N not a multiple of 3), a
 *   millisecond apart, so that each parks at LINE:queue before the next
 *   is let through.
 *
 * It prints "parked I0 I1 ..." (the threads in the order they parked at
 * LINE:queue) and "ready PID", then reads stdin (LINE:hold): each line
 * "wake" wakes the thread at the head of the queue (the longest parked
 * of those left) and prints "woke I" once it has exited.  End of stdin
 * ends the program.  At rest (between two lines) every thread is parked
 * and the scheduler waits in the poller.
 */
#include <gt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define MAXN 64

static long n;
static gt_mutex_t m = GT_MUTEX_INITIALIZER;
static gt_cond_t gate[MAXN], queue[MAXN];
static int let_through[MAXN], woken[MAXN];
static gt_t threads[MAXN];

NOINLINE void wait_gate(long i)
{
    while (!let_through[i])
        gt_cond_wait(&gate[i], &m); /* LINE:gate */
}

NOINLINE void wait_queue(long i)
{
    while (!woken[i])
        gt_cond_wait(&queue[i], &m); /* LINE:queue */
}

NOINLINE void waiter_main(void *arg)
{
    long i = (long)arg;
    gt_mutex_lock(&m);
    wait_gate(i);
    wait_queue(i);
    gt_mutex_unlock(&m);
}

NOINLINE void main_thread(void *arg)
{
    long order[MAXN];
    char line[64];
    (void)arg;
    for (long i = 0; i < n; i++) {
        gt_cond_init(&gate[i]);
        gt_cond_init(&queue[i]);
        gt_attr_t at = {.name = "waiter"};
        if (gt_spawn(&threads[i], waiter_main, (void *)i, &at) < 0) {
            perror("gt_spawn");
            exit(1);
        }
    }
    gt_sleep_ns(1000000); /* every waiter at its gate */
    printf("parked");
    for (long k = 0; k < n; k++) {
        order[k] = (3 * k + 1) % n;
        gt_mutex_lock(&m);
        let_through[order[k]] = 1;
        gt_cond_signal(&gate[order[k]]);
        gt_mutex_unlock(&m);
        gt_sleep_ns(1000000); /* it parks at LINE:queue meanwhile */
        printf(" %ld", order[k]);
    }
    printf("\nready %d\n", (int)getpid());
    fflush(stdout);
    long next = 0;
    for (;;) {
        ssize_t r = read(0, line, sizeof(line) - 1); /* LINE:hold */
        if (r <= 0)
            exit(0);
        line[r] = 0;
        if (strncmp(line, "wake", 4) != 0 || next == n)
            continue;
        long i = order[next++];
        gt_mutex_lock(&m);
        woken[i] = 1;
        gt_cond_signal(&queue[i]);
        gt_mutex_unlock(&m);
        gt_join(threads[i]);
        printf("woke %ld\n", i);
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2 || (n = atol(argv[1])) < 1 || n > MAXN || n % 3 == 0) {
        fprintf(stderr, "usage: %s N (1 to %d, not a multiple of 3)\n", argv[0], MAXN);
        return 2;
    }
    return gt_main(main_thread, NULL);
}
