/*
 * ctx.c (AArch64) - lays out the first context of a new thread.
 */
#include "internal.h"

void gt__ctx_init(uint64_t *ctx, void *stack_top, struct gt__thread *t)
{
    /* sp stays 16-byte aligned (AAPCS64); the zero words above it are an
     * empty frame record, so a frame-pointer walk that looks past the
     * trampoline finds 0 and stops.  stack.c hands out stacks whose top
     * 16 bytes are zero, so nothing touches the stack before the thread
     * first runs. */
    uint64_t *sp = (uint64_t *)(((uintptr_t)stack_top & ~(uintptr_t)15) - 16);
    for (int i = 0; i < GT_CTX_NREGS; i++)
        ctx[i] = 0;
    ctx[GT_CTX_SP] = (uint64_t)(uintptr_t)sp;
    ctx[GT_CTX_PC] = (uint64_t)(uintptr_t)gt__ctx_trampoline + GT__CTX_FRESH_OFFSET;
    ctx[GT_CTX_X19] = (uint64_t)(uintptr_t)t;
    ctx[GT_CTX_X19 + 1] = (uint64_t)(uintptr_t)gt__thread_start;
}
