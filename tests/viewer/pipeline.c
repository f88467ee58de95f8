/*
 * pipeline.c - a fixture for gt-top: threads that move through two known
 * parking points, so the blocking graph has known edges, and threads that
 * wait at one point for ever, so a queue has a known length.
 *
 * Usage: pipeline NLOOP NIDLE [NSHARED [NFILEIO [IDLE_NAME]]]
 *
 *   NLOOP threads "looper": loop { stage_a: sleep 2ms (LINE:stage_a);
 *                                  stage_b: sleep 3ms (LINE:stage_b) }
 *                           edges stage_a -> stage_b and stage_b -> stage_a
 *   NIDLE threads "idler":  parked in gt_chan_recv for ever  (LINE:idle)
 *                           (named IDLE_NAME instead when given: a name
 *                           longer than a column's width)
 *   the main thread reads stdin                              (LINE:hold)
 *   NSHARED threads "left" and NSHARED "right": both park in one helper,
 *   wait_forever (LINE:shared), called from left_main and right_main, so
 *   two locations share one call site and differ in their callers
 *   NFILEIO: the main thread reads its own program, a regular file, one
 *   byte per read() NFILEIO times before "ready": the registry counts
 *   exactly NFILEIO file I/O calls (stdin and stdout are pipes)
 *
 * It prints "ready PID" once every thread has started.  End of stdin ends
 * the program.
 */
#include <fcntl.h>
#include <gt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define STAGE_A_NS 2000000
#define STAGE_B_NS 3000000

static gt_chan_t *never;   /* nothing is ever sent on it */
static long nloop, nidle, nshared, nfileio;
static const char *idle_name = "idler";

NOINLINE void stage_a(void)
{
    gt_sleep_ns(STAGE_A_NS); /* LINE:stage_a */
    __asm__ volatile("" ::: "memory");
}

NOINLINE void stage_b(void)
{
    gt_sleep_ns(STAGE_B_NS); /* LINE:stage_b */
    __asm__ volatile("" ::: "memory");
}

NOINLINE void looper_main(void *arg)
{
    (void)arg;
    for (;;) {
        stage_a();
        stage_b();
    }
}

NOINLINE void idler_main(void *arg)
{
    void *msg;
    (void)arg;
    gt_chan_recv(never, &msg, GT_FOREVER); /* LINE:idle */
}

NOINLINE void wait_forever(void)
{
    void *msg;
    gt_chan_recv(never, &msg, GT_FOREVER); /* LINE:shared */
    __asm__ volatile("" ::: "memory");
}

NOINLINE void left_main(void *arg)
{
    (void)arg;
    wait_forever();
    __asm__ volatile("" ::: "memory");
}

NOINLINE void right_main(void *arg)
{
    (void)arg;
    wait_forever();
    __asm__ volatile("" ::: "memory");
}

NOINLINE void spawn_all(long n, void (*fn)(void *), const char *name)
{
    for (long i = 0; i < n; i++) {
        gt_attr_t at = {.name = name, .detached = 1};
        if (gt_spawn(NULL, fn, NULL, &at) < 0) {
            perror("gt_spawn");
            exit(1);
        }
    }
}

NOINLINE void read_own_program(long n)
{
    char c;
    int fd = open("/proc/self/exe", O_RDONLY);
    if (fd < 0) {
        perror("open /proc/self/exe");
        exit(1);
    }
    for (long i = 0; i < n; i++)
        if (read(fd, &c, 1) != 1) {
            perror("read /proc/self/exe");
            exit(1);
        }
    close(fd);
}

NOINLINE void main_thread(void *arg)
{
    char line[64];
    (void)arg;
    read_own_program(nfileio);
    never = gt_chan_create(1);
    if (!never)
        abort();
    spawn_all(nloop, looper_main, "looper");
    spawn_all(nidle, idler_main, idle_name);
    spawn_all(nshared, left_main, "left");
    spawn_all(nshared, right_main, "right");
    gt_sleep_ns(1000000);
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    for (;;) {
        ssize_t n = read(0, line, sizeof(line)); /* LINE:hold */
        if (n <= 0)
            exit(0);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 6) {
        fprintf(stderr, "usage: %s NLOOP NIDLE [NSHARED [NFILEIO [IDLE_NAME]]]\n", argv[0]);
        return 2;
    }
    nloop = atol(argv[1]);
    nidle = atol(argv[2]);
    nshared = argc >= 4 ? atol(argv[3]) : 0;
    nfileio = argc >= 5 ? atol(argv[4]) : 0;
    if (argc >= 6)
        idle_name = argv[5];
    return gt_main(main_thread, NULL);
}
