/*
 * switch.S (x86-64) - the context switch and the thread entry trampoline.
 *
 * A context is the array of GT_CTX_* slots in gt/registry.h: sp, pc, rbp,
 * rbx, r12-r15.  Only callee-saved state is kept (SysV ABI); the x87
 * control word and MXCSR are left alone, as no thread of ours changes them.
 * Readers unwind a parked thread from exactly these slots, so the saved pc
 * is the return address into the caller of gt__ctx_switch and the saved sp
 * is the caller's sp after that return: a normal call-site frame state.
 */
	.text

/* void gt__ctx_switch(uint64_t *from, const uint64_t *to) */
	.globl	gt__ctx_switch
	.hidden	gt__ctx_switch
	.type	gt__ctx_switch, @function
	.p2align 4
gt__ctx_switch:
	.cfi_startproc
	movq	(%rsp), %rax
	leaq	8(%rsp), %rcx
	movq	%rcx, 0(%rdi)
	movq	%rax, 8(%rdi)
	movq	%rbp, 16(%rdi)
	movq	%rbx, 24(%rdi)
	movq	%r12, 32(%rdi)
	movq	%r13, 40(%rdi)
	movq	%r14, 48(%rdi)
	movq	%r15, 56(%rdi)
	movq	0(%rsi), %rsp
	movq	16(%rsi), %rbp
	movq	24(%rsi), %rbx
	movq	32(%rsi), %r12
	movq	40(%rsi), %r13
	movq	48(%rsi), %r14
	movq	56(%rsi), %r15
	/* push + ret, not jmp: the ret consumes the return-stack entry our
	 * caller's call pushed, and since nearly every switch goes through
	 * the same call site, the prediction (and all the rets above it)
	 * stay right; a jmp leaves the return stack one entry off and every
	 * ret of the resumed thread mispredicts. */
	pushq	8(%rsi)
	ret
	.cfi_endproc
	.size	gt__ctx_switch, .-gt__ctx_switch

/* First code of every thread: rbx holds the thread, r12 gt__thread_start.
 * The return address slot above the first frame is zero and the CFI says
 * the caller's pc is undefined, so GDB, libunwind and frame-pointer walks
 * all end here.
 *
 * A new thread's context starts GT__CTX_FRESH_OFFSET bytes in, past the
 * first instruction (its rbp is 0 already).  Every reader takes a saved
 * pc for a return address and looks up the byte before it; from the first
 * instruction that byte would belong to whatever function precedes this
 * one, and its name, line and unwind rule with it.  From here it is still
 * the trampoline's. */
	.globl	gt__ctx_trampoline
	.hidden	gt__ctx_trampoline
	.type	gt__ctx_trampoline, @function
	.p2align 4
gt__ctx_trampoline:
	.cfi_startproc
	.cfi_undefined rip
	xorl	%ebp, %ebp
.Lfresh:	/* no symbol here: a reader would name the frame after it */
	.if .Lfresh - gt__ctx_trampoline != 2
	.error "GT__CTX_FRESH_OFFSET (internal.h) must be .Lfresh's offset"
	.endif
	movq	%rbx, %rdi
	callq	*%r12
	/* gt__thread_start returned {cur, next} in rax:rdx: the exited
	 * thread's last switch is gt__switch_to(cur, GT_STATE_EXITED, next),
	 * entered by a jump so that it leaves a single return address on the
	 * return-stack predictor (see gt__exit_switch).  The pushed zero is
	 * its return address: it never returns, and unwinders stop there. */
	movq	%rax, %rdi
	movl	$4, %esi		/* GT_STATE_EXITED, an ABI constant */
	pushq	$0
	jmp	gt__switch_to
	.cfi_endproc
	.size	gt__ctx_trampoline, .-gt__ctx_trampoline

	.section .note.GNU-stack,"",@progbits
