/*
 * bench_ucontext.c - glibc's swapcontext, the portable switch many small
 * coroutine libraries are built on.  It saves and restores the signal mask
 * with a rt_sigprocmask system call on every switch, which is why runtimes
 * that care (gt, ST, Boost.Context) write their own switch instead.
 *
 * Scenario:
 *   yield  the main context and one other swap back and forth; ns per swap
 */
#include "bench_util.h"

#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#define STACK_SIZE (64 * 1024)

static ucontext_t main_ctx, peer_ctx;

static void peer_entry(void)
{
    for (;;)
        if (swapcontext(&peer_ctx, &main_ctx) < 0)
            bench_die_errno("swapcontext");
}

static void bench_yield(const bench_args_t *a)
{
    long handoffs = bench_n(a, 1000000);
    int reps = bench_reps(a, 11);
    double ns[BENCH_MAX_REPS];
    void *stack = malloc(STACK_SIZE);
    if (!stack)
        bench_die_errno("malloc of a stack");
    if (getcontext(&peer_ctx) < 0)
        bench_die_errno("getcontext");
    peer_ctx.uc_stack.ss_sp = stack;
    peer_ctx.uc_stack.ss_size = STACK_SIZE;
    peer_ctx.uc_link = NULL; /* peer_entry never returns */
    makecontext(&peer_ctx, peer_entry, 0);

    for (int r = -1; r < reps; r++) { /* r == -1: warm-up, not recorded */
        int64_t t0 = bench_now_ns();
        for (long i = 0; i < handoffs / 2; i++)
            if (swapcontext(&main_ctx, &peer_ctx) < 0) /* there and back: 2 */
                bench_die_errno("swapcontext");
        int64_t t1 = bench_now_ns();
        if (r >= 0)
            ns[r] = (double)(t1 - t0) / (double)(handoffs / 2 * 2);
    }
    bench_report("yield", "ucontext", "ns", ns, reps, handoffs / 2 * 2, NULL);
}

int main(int argc, char **argv)
{
    bench_args_t a;
    bench_parse_args(argc, argv, "yield", &a);
    if (!strcmp(a.scenario, "yield"))
        bench_yield(&a);
    else
        bench_die("unknown scenario '%s' (yield)", a.scenario);
    return 0;
}
