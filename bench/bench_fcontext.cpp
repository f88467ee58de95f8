/*
 * bench_fcontext.cpp - Boost.Context's bare fcontext API (make_fcontext /
 * jump_fcontext) as the floor for a user-level switch: no scheduler, no
 * run queue, no bookkeeping, only callee-saved registers and the stack
 * pointer.  gt's targets are stated against it.  C++ only because the
 * declarations live in a C++ header; the code is plain C in spirit.
 *
 * Scenarios:
 *   yield    two contexts jump back and forth; ns per jump (a hand-off)
 *   spawn    make a context on a reused stack, jump in, jump back out;
 *            ns per "thread"
 *   touch1k  n contexts on stacks carved from one mmap arena; each touches
 *            1 KiB of its stack and jumps back, staying suspended (parked);
 *            ns per context, first-touch page faults included, one fresh
 *            process per repetition
 */
#include "bench_util.h"

#include <boost/context/detail/fcontext.hpp>

#include <string.h>
#include <sys/mman.h>

using boost::context::detail::fcontext_t;
using boost::context::detail::jump_fcontext;
using boost::context::detail::make_fcontext;
using boost::context::detail::transfer_t;

/* The same usable stack size gt gives a thread by default, so the touch1k
 * arena has the same layout (one slot per thread, 64 KiB apart). */
static const size_t STACK_SIZE = 64 * 1024;

static char *map_stacks(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        bench_die_errno("mmap of %zu bytes of stacks", bytes);
    return static_cast<char *>(p);
}

/* ---- yield --------------------------------------------------------------- */

static void pingpong_entry(transfer_t t)
{
    for (;;)
        t = jump_fcontext(t.fctx, nullptr);
}

static void bench_yield(const bench_args_t *a)
{
    long handoffs = bench_n(a, 4000000);
    int reps = bench_reps(a, 11);
    char *stack = map_stacks(STACK_SIZE);
    fcontext_t peer = make_fcontext(stack + STACK_SIZE, STACK_SIZE, pingpong_entry);
    double ns[BENCH_MAX_REPS];

    for (int r = -1; r < reps; r++) { /* r == -1: warm-up, not recorded */
        int64_t t0 = bench_now_ns();
        for (long i = 0; i < handoffs / 2; i++)
            peer = jump_fcontext(peer, nullptr).fctx; /* there and back: 2 */
        int64_t t1 = bench_now_ns();
        if (r >= 0)
            ns[r] = (double)(t1 - t0) / (double)(handoffs / 2 * 2);
    }
    bench_report("yield", "fcontext", "ns", ns, reps, handoffs, nullptr);
}

/* ---- spawn --------------------------------------------------------------- */

/* A context function must never return (that exits the process), so a
 * "trivial thread" is one that jumps back to its creator at once. */
static void trivial_entry(transfer_t t)
{
    jump_fcontext(t.fctx, nullptr);
}

static void bench_spawn(const bench_args_t *a)
{
    long threads = bench_n(a, 100000);
    int reps = bench_reps(a, 11);
    char *stack = map_stacks(STACK_SIZE);
    double ns[BENCH_MAX_REPS];

    for (int r = -1; r < reps; r++) {
        int64_t t0 = bench_now_ns();
        for (long i = 0; i < threads; i++) {
            fcontext_t c = make_fcontext(stack + STACK_SIZE, STACK_SIZE, trivial_entry);
            jump_fcontext(c, nullptr);
        }
        int64_t t1 = bench_now_ns();
        if (r >= 0)
            ns[r] = (double)(t1 - t0) / (double)threads;
    }
    bench_report("spawn", "fcontext", "ns", ns, reps, threads, nullptr);
}

/* ---- touch1k ------------------------------------------------------------- */

static void touch_entry(transfer_t t)
{
    char buf[1024];
    bench_touch(buf, sizeof buf);
    /* Park: suspend here for good; the creator keeps our context. */
    jump_fcontext(t.fctx, nullptr);
}

static long touch_threads;

static bench_sample_t touch_once(void *)
{
    long n = touch_threads;
    char *arena = map_stacks((size_t)n * STACK_SIZE);
    fcontext_t *parked = static_cast<fcontext_t *>(
        mmap(NULL, (size_t)n * sizeof *parked, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0));
    if (parked == MAP_FAILED)
        bench_die_errno("mmap of the parked-context table");

    int64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        char *top = arena + (size_t)(i + 1) * STACK_SIZE;
        fcontext_t c = make_fcontext(top, STACK_SIZE, touch_entry);
        parked[i] = jump_fcontext(c, nullptr).fctx;
    }
    int64_t t1 = bench_now_ns();

    bench_sample_t s;
    memset(&s, 0, sizeof s);
    s.v[0] = (double)(t1 - t0) / (double)n;
    return s;
}

static void bench_touch1k(const bench_args_t *a)
{
    touch_threads = bench_n(a, 100000);
    int reps = bench_reps(a, 7);
    bench_sample_t s[BENCH_MAX_REPS];
    double ns[BENCH_MAX_REPS];
    bench_forked_reps(reps, touch_once, nullptr, s);
    for (int r = 0; r < reps; r++)
        ns[r] = s[r].v[0];
    bench_report("touch1k", "fcontext", "ns", ns, reps, touch_threads, nullptr);
}

int main(int argc, char **argv)
{
    bench_args_t a;
    bench_parse_args(argc, argv, "yield spawn touch1k", &a);
    if (!strcmp(a.scenario, "yield"))
        bench_yield(&a);
    else if (!strcmp(a.scenario, "spawn"))
        bench_spawn(&a);
    else if (!strcmp(a.scenario, "touch1k"))
        bench_touch1k(&a);
    else
        bench_die("unknown scenario '%s' (yield spawn touch1k)", a.scenario);
    return 0;
}
