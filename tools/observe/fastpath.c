/*
 * fastpath.c - the frame-pointer walk, and the proof it may be used.
 *
 * libunwind steps a frame by interpreting its CFI row; at 100,000 threads
 * that costs more than the rest of a snapshot.  gt programs are built with
 * frame pointers, so at nearly every pc the CFI row says exactly: CFA =
 * rbp + 16, the caller's rbp at CFA - 16, the return address at CFA - 8.
 * This file reads that row once per distinct pc (libdw, from the same
 * .eh_frame libunwind reads) and walks rbp only where the row says so.
 * At any other pc the thread is handed to libunwind whole, so the fast
 * path computes the same frames as libunwind or is not used.
 *
 * The walk reads the stack through whatever window of it the caller
 * holds, and says when it needs the next one (at rbp): a frame-pointer
 * walk needs two words a frame, so the caller need not copy the stack.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_FRAMES 4096
#define REG_RBP 6
#define REG_RA 16

/* Register saved at CFA + off: what libdw makes of DW_CFA_offset. */
static int saved_at(Dwarf_Frame *frame, int reg, int64_t off)
{
    Dwarf_Op mem[3], *ops;
    size_t nops;
    if (dwarf_frame_register(frame, reg, mem, &ops, &nops) < 0 || !ops)
        return 0;
    if (nops == 2 && ops[0].atom == DW_OP_call_frame_cfa &&
        ops[1].atom == DW_OP_plus_uconst && (int64_t)ops[1].number == off)
        return 1;
    return 0;
}

static enum gto_fp_rule compute_rule(gto_target *t, uint64_t addr)
{
    Dwfl_Module *mod = dwfl_addrmodule(t->dwfl, addr);
    if (!mod)
        return GTO_FP_OTHER;
    Dwarf_Addr bias;
    Dwarf_CFI *cfi = dwfl_module_eh_cfi(mod, &bias);
    Dwarf_Frame *frame;
    if (!cfi || dwarf_cfi_addrframe(cfi, addr - bias, &frame) < 0)
        return GTO_FP_OTHER;
    enum gto_fp_rule rule = GTO_FP_OTHER;
    Dwarf_Op mem[3], *ops;
    size_t nops;
    if (dwarf_frame_register(frame, REG_RA, mem, &ops, &nops) == 0 && nops == 0 &&
        ops == mem) {
        rule = GTO_FP_END; /* .cfi_undefined rip: the entry trampoline */
    } else if (dwarf_frame_cfa(frame, &ops, &nops) == 0 && nops == 1 &&
               ops[0].atom == DW_OP_bregx && ops[0].number == REG_RBP &&
               ops[0].number2 == 16 && saved_at(frame, REG_RBP, -16) &&
               saved_at(frame, REG_RA, -8)) {
        rule = GTO_FP_STANDARD;
    }
    free(frame);
    return rule;
}

enum gto_fp_rule gto__fp_rule(gto_target *t, uint64_t pc, int exact)
{
    /* libunwind looks frame 0 up at its pc and callers at pc - 1 (inside
     * the call): the same here. */
    uint64_t addr = exact ? pc : pc - 1;
    if (!addr)
        return GTO_FP_OTHER;
    uint64_t v = gto_pcmap_get(&t->rules, addr);
    if (v)
        return (enum gto_fp_rule)(v - 1);
    enum gto_fp_rule rule = compute_rule(t, addr);
    gto_pcmap_put(&t->rules, addr, (uint64_t)rule + 1);
    return rule;
}

/* Appends a frame to *f (capacity *cap); -1 out of memory. */
static int push(struct gto_frame **f, size_t *n, size_t *cap, uint64_t pc,
                uint64_t sp, uint64_t cfa)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        struct gto_frame *g = realloc(*f, c * sizeof(*g));
        if (!g)
            return -1;
        *f = g;
        *cap = c;
    }
    struct gto_frame *fr = &(*f)[(*n)++];
    fr->pc = pc;
    fr->size = cfa > sp ? cfa - sp : 0;
    return 0;
}

int gto__fp_walk(gto_target *t, struct gto_fp_walk *w, uint64_t lo,
                 const uint8_t *buf, size_t len, struct gto_frame **f,
                 size_t *n, size_t *cap)
{
    while (*n < MAX_FRAMES) {
        enum gto_fp_rule rule = gto__fp_rule(t, w->pc, *n == 0);
        if (rule == GTO_FP_END)
            return push(f, n, cap, w->pc, w->sp, w->top) < 0 ? -1 : 0;
        if (rule != GTO_FP_STANDARD)
            return -1;
        /* rbp is a saved register or a stack word: any value.  One that
         * would put the CFA past 2^64 is a corrupt chain. */
        if (w->fp > UINT64_MAX - 16)
            return -1;
        uint64_t cfa = w->fp + 16, ra, next_fp;
        if (cfa <= w->sp || cfa > w->top)
            return -1;
        /* The two words this frame needs: the caller's rbp at fp and the
         * return address above it. */
        if (w->fp < lo || !gto__range_in(w->fp - lo, 16, len))
            return 1;
        memcpy(&next_fp, buf + (w->fp - lo), 8);
        memcpy(&ra, buf + (w->fp + 8 - lo), 8);
        if (push(f, n, cap, w->pc, w->sp, cfa) < 0)
            return -1;
        w->pc = ra;
        w->sp = cfa;
        w->fp = next_fp;
    }
    return -1;
}
