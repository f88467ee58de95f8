/*
 * ctx.c (x86-64) - lays out the first context of a new thread.
 */
#include "internal.h"

void gt__ctx_init(uint64_t *ctx, void *stack_top, struct gt__thread *t)
{
    /* The trampoline's call must see a 16-byte aligned sp; the words just
     * above it are a zero return address (MD_CAP_STACK's trick), so a
     * frame-pointer walk that looks past the trampoline finds 0 and stops.
     * They are not written here: stack.c hands out stacks whose top 16
     * bytes are zero, so the stack's first page is first touched when the
     * thread first runs, not at spawn (a thread spawned long before it
     * runs would otherwise take the page fault, then miss the evicted
     * lines again when it runs). */
    uint64_t *sp = (uint64_t *)(((uintptr_t)stack_top & ~(uintptr_t)15) - 16);
    ctx[GT_CTX_SP] = (uint64_t)(uintptr_t)sp;
    ctx[GT_CTX_PC] = (uint64_t)(uintptr_t)gt__ctx_trampoline + GT__CTX_FRESH_OFFSET;
    ctx[GT_CTX_RBP] = 0;
    ctx[GT_CTX_RBX] = (uint64_t)(uintptr_t)t;
    ctx[GT_CTX_R12] = (uint64_t)(uintptr_t)gt__thread_start;
    ctx[GT_CTX_R13] = ctx[GT_CTX_R14] = ctx[GT_CTX_R15] = 0;
}
