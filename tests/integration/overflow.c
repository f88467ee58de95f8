/*
 * overflow.c - a green thread named "deep-diver" recurses until its stack
 * overflows, after parking once in park_here (so it has a location).
 * Expected: gt's crash report on stderr, then death by SIGSEGV and a core.
 */
#include <gt.h>
#include <unistd.h>

__attribute__((noinline)) static int dive(int n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    return n < 1000000 ? dive(n + 1) + pad[0] : 0;
}

__attribute__((noinline)) static void park_here(void)
{
    usleep(1000);
}

__attribute__((noinline)) static void diver(void *arg)
{
    (void)arg;
    park_here();
    if (dive(0) == 42) /* used, so the call is not a tail call */
        park_here();
}

static void main_thread(void *arg)
{
    (void)arg;
    gt_t t;
    gt_attr_t at = {.name = "deep-diver"};
    if (gt_spawn(&t, diver, NULL, &at) == 0)
        gt_join(t);
}

int main(void) { return gt_main(main_thread, NULL); }
