/*
 * ctx.c (x86-64) - lays out the first context of a new thread.
 */
#include "internal.h"

void gt__ctx_init(uint64_t *ctx, void *stack_top, struct gt__thread *t)
{
    /* The trampoline's call must see a 16-byte aligned sp; the word just
     * above it is a zero return address (MD_CAP_STACK's trick), so a
     * frame-pointer walk that looks past the trampoline finds 0 and stops. */
    uint64_t *sp = (uint64_t *)(((uintptr_t)stack_top & ~(uintptr_t)15) - 16);
    sp[0] = 0;
    sp[1] = 0;
    ctx[GT_CTX_SP] = (uint64_t)(uintptr_t)sp;
    ctx[GT_CTX_PC] = (uint64_t)(uintptr_t)gt__ctx_trampoline;
    ctx[GT_CTX_RBP] = 0;
    ctx[GT_CTX_RBX] = (uint64_t)(uintptr_t)t;
    ctx[GT_CTX_R12] = (uint64_t)(uintptr_t)gt__thread_start;
    ctx[GT_CTX_R13] = ctx[GT_CTX_R14] = ctx[GT_CTX_R15] = 0;
}
