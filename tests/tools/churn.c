/*
 * churn.c - many short-lived threads: slots freed and reused all the
 * time, for readers that must never list a freed slot.
 *
 * Usage: churn NALIVE
 *
 *   the main thread keeps NALIVE threads "short" alive: each sleeps
 *   0 to 2 ms (gt_sleep_ns) and returns, and the main thread spawns a new
 *   one for each that ended, every 100 us.
 *
 * It prints "ready PID" once the first NALIVE are spawned, and runs until
 * killed.  Thread ids count up from 1, so every id a reader lists is at
 * most the number of threads spawned so far plus one (the main thread).
 */
#include <gt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static long alive;      /* threads "short" not yet returned */
static unsigned seed = 1;

static void short_main(void *arg)
{
    gt_sleep_ns((int64_t)(uintptr_t)arg);
    alive--;
}

static void main_thread(void *arg)
{
    long nalive = *(long *)arg;
    for (int first = 1;; first = 0) {
        while (alive < nalive) {
            gt_attr_t at = {.name = "short", .detached = 1, .stack_size = 16384};
            seed = seed * 1103515245u + 12345u;
            uintptr_t ns = (seed >> 8) % 2000000u;
            if (gt_spawn(NULL, short_main, (void *)ns, &at) < 0) {
                perror("gt_spawn");
                exit(1);
            }
            alive++;
        }
        if (first) {
            printf("ready %d\n", (int)getpid());
            fflush(stdout);
        }
        gt_sleep_ns(100000);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s NALIVE\n", argv[0]);
        return 2;
    }
    long n = atol(argv[1]);
    return gt_main(main_thread, &n) == 0 ? 0 : 1;
}
