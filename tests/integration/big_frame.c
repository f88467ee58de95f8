/*
 * big_frame.c - a green thread calls a function whose frame is bigger than
 * its whole 64 KiB stack, right above another thread's stack.
 *
 *   big_frame 70     a 70,000-byte frame
 *   big_frame 200    a 200,000-byte frame (beyond any default guard)
 *
 * Three threads, their stacks carved one above the other: "main" (1),
 * "neighbour" (2), which fills PATTERN_BYTES of its frame with a known
 * pattern and parks on a mutex, and "overflower" (3), which calls the big
 * frame and writes MARK into its lowest WRITE_BYTES.  Before the call,
 * main prints (stdout):
 *   thread ID NAME STACK_LO STACK_HI GUARD_SIZE      one line per thread
 *   pattern ADDR LEN                                 the neighbour's
 * Built with -fstack-clash-protection (as gt.pc builds programs), the
 * frame's probes fault in the overflower's own guard before it writes a
 * byte: gt's report names thread 3.  A guard that the frame can jump lets
 * MARK land in a stack below instead; if the call returns, main releases
 * the neighbour, which checks its pattern and says "neighbour: pattern
 * intact", or "neighbour: pattern corrupted" and aborts.
 */
#include <gt.h>
#include <gt/registry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATTERN_BYTES 8192
#define WRITE_BYTES 64
static const char MARK[16] = "gt-overflow-mark"; /* no NUL: 16 bytes */

static gt_mutex_t gate = GT_MUTEX_INITIALIZER;
static int frame_kb;

static unsigned char pattern_byte(size_t i) { return (unsigned char)(i * 7 + 1); }

/* Fills the lowest WRITE_BYTES of buf with MARK; buf escapes, so the
 * compiler keeps the whole array in the frame. */
static void mark(char *buf)
{
    for (size_t i = 0; i < WRITE_BYTES; i++)
        buf[i] = MARK[i % sizeof MARK];
    __asm__ volatile("" : : "r"(buf) : "memory");
}

__attribute__((noinline)) static int frame_70k(void)
{
    char buf[70 * 1000];
    mark(buf);
    return buf[WRITE_BYTES / 2];
}

__attribute__((noinline)) static int frame_200k(void)
{
    char buf[200 * 1000];
    mark(buf);
    return buf[WRITE_BYTES / 2];
}

__attribute__((noinline)) static void neighbour(void *arg)
{
    unsigned char pattern[PATTERN_BYTES];
    (void)arg;
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = pattern_byte(i);
    printf("pattern %#llx %d\n", (unsigned long long)(uintptr_t)pattern,
           PATTERN_BYTES);
    fflush(stdout);
    __asm__ volatile("" : : "r"(pattern) : "memory");
    gt_mutex_lock(&gate); /* parks until main lets go */
    gt_mutex_unlock(&gate);
    __asm__ volatile("" : : "r"(pattern) : "memory");
    for (size_t i = 0; i < sizeof pattern; i++)
        if (pattern[i] != pattern_byte(i)) {
            printf("neighbour: pattern corrupted at byte %zu\n", i);
            fflush(stdout);
            abort();
        }
    printf("neighbour: pattern intact\n");
    fflush(stdout);
}

__attribute__((noinline)) static void overflower(void *arg)
{
    (void)arg;
    gt_sleep_ns(1000000); /* main prints the stacks meanwhile */
    int r = frame_kb == 70 ? frame_70k() : frame_200k();
    printf("overflower: the %d KB frame returned (%d)\n", frame_kb, r);
    fflush(stdout);
}

static void print_thread(gt_t h)
{
    const struct gt_thread_rec *r = (const struct gt_thread_rec *)h.rec;
    printf("thread %llu %s %#llx %#llx %llu\n", (unsigned long long)r->id,
           r->name, (unsigned long long)r->stack_lo,
           (unsigned long long)r->stack_hi, (unsigned long long)r->guard_size);
}

static void main_thread(void *arg)
{
    gt_attr_t na = {.name = "neighbour"}, oa = {.name = "overflower"};
    gt_t n, o;
    (void)arg;
    gt_set_name(gt_self(), "main");
    gt_mutex_lock(&gate);
    if (gt_spawn(&n, neighbour, NULL, &na) || gt_spawn(&o, overflower, NULL, &oa)) {
        perror("gt_spawn");
        exit(2);
    }
    gt_yield(); /* the neighbour fills its pattern and parks */
    print_thread(gt_self());
    print_thread(n);
    print_thread(o);
    fflush(stdout);
    gt_join(o);
    gt_mutex_unlock(&gate);
    gt_join(n);
}

int main(int argc, char **argv)
{
    frame_kb = argc > 1 ? atoi(argv[1]) : 0;
    if (frame_kb != 70 && frame_kb != 200) {
        fprintf(stderr, "usage: big_frame 70|200\n");
        return 2;
    }
    return gt_main(main_thread, NULL);
}
