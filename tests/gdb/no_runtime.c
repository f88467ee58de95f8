/* no_runtime.c - a program without gt, for the "no gt runtime" message. */
#include <stdio.h>

__attribute__((noinline)) void stop_here(void) { __asm__ volatile("" ::: "memory"); }

int main(void)
{
    stop_here();
    puts("done");
    return 0;
}
