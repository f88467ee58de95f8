/*
 * switch.S (AArch64) - the context switch and the thread entry trampoline.
 *
 * A context is the array of GT_CTX_* slots in gt/registry.h: sp, pc (the
 * link register), fp (x29), x19-x28, d8-d15: the AAPCS64 callee-saved set.
 * As on x86-64, the saved pc and sp describe the caller of gt__ctx_switch
 * just after the call returns, so readers unwind from a normal frame state.
 */
	.text

/* void gt__ctx_switch(uint64_t *from, const uint64_t *to) */
	.globl	gt__ctx_switch
	.hidden	gt__ctx_switch
	.type	gt__ctx_switch, %function
	.p2align 4
gt__ctx_switch:
	.cfi_startproc
	mov	x9, sp
	str	x9, [x0, #0]
	str	x30, [x0, #8]
	str	x29, [x0, #16]
	stp	x19, x20, [x0, #24]
	stp	x21, x22, [x0, #40]
	stp	x23, x24, [x0, #56]
	stp	x25, x26, [x0, #72]
	stp	x27, x28, [x0, #88]
	stp	d8, d9, [x0, #104]
	stp	d10, d11, [x0, #120]
	stp	d12, d13, [x0, #136]
	stp	d14, d15, [x0, #152]
	ldr	x9, [x1, #0]
	mov	sp, x9
	ldr	x30, [x1, #8]
	ldr	x29, [x1, #16]
	ldp	x19, x20, [x1, #24]
	ldp	x21, x22, [x1, #40]
	ldp	x23, x24, [x1, #56]
	ldp	x25, x26, [x1, #72]
	ldp	x27, x28, [x1, #88]
	ldp	d8, d9, [x1, #104]
	ldp	d10, d11, [x1, #120]
	ldp	d12, d13, [x1, #136]
	ldp	d14, d15, [x1, #152]
	/* ret through x30 keeps the return predictor in step, as push+ret
	 * does on x86-64. */
	ret
	.cfi_endproc
	.size	gt__ctx_switch, .-gt__ctx_switch

/* First code of every thread: x19 holds the thread, x20 gt__thread_start.
 * A zero frame pointer and link register, and CFI that calls the return
 * address undefined, end every unwinder's walk here.  A new thread's
 * context starts GT__CTX_FRESH_OFFSET bytes in, past the first instruction
 * (its x29 is 0 already), so that its pc read as a return address, as
 * readers read every saved pc, still names the trampoline (see the x86-64
 * file). */
	.globl	gt__ctx_trampoline
	.hidden	gt__ctx_trampoline
	.type	gt__ctx_trampoline, %function
	.p2align 4
gt__ctx_trampoline:
	.cfi_startproc
	.cfi_undefined x30
	mov	x29, #0
.Lfresh:	/* no symbol here: a reader would name the frame after it */
	.if .Lfresh - gt__ctx_trampoline != 4
	.error "GT__CTX_FRESH_OFFSET (internal.h) must be .Lfresh's offset"
	.endif
	mov	x30, #0
	mov	x0, x19
	blr	x20
	/* gt__thread_start returned {cur, next} in x0, x1: the exited
	 * thread's last switch is gt__switch_to(cur, GT_STATE_EXITED, next),
	 * entered by a branch without link so that it leaves a single return
	 * address on the return-stack predictor (see gt__exit_switch).  Its
	 * link register is zero: it never returns, and unwinders stop there. */
	mov	x2, x1
	mov	w1, #4			/* GT_STATE_EXITED, an ABI constant */
	mov	x30, #0
	b	gt__switch_to
	.cfi_endproc
	.size	gt__ctx_trampoline, .-gt__ctx_trampoline

	.section .note.GNU-stack,"",%progbits
