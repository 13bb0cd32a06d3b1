/* Register contexts of the persistent thread (x86-64 SysV only).
 *
 * Why not setjmp/longjmp or getcontext: glibc's jmp_buf stores the stack pointer and return
 * address mangled with a per-process random pointer guard, so a jmp_buf saved by one process
 * is garbage in the next one; ucontext additionally carries the signal mask and pointers into
 * the saving thread. These routines save exactly what a function call preserves by the ABI —
 * rbx, rbp, r12–r15, the stack pointer and return address, the MXCSR and x87 control words —
 * plus the stack-protector canary (%fs:0x28), because the frames on the persistent stack were
 * built against the canary of the thread that made them: a resumed thread adopts it, or the
 * first function to return through an old frame would abort with "stack smashing detected".
 * The thread pointer (%fs base) is not saved: a resumed thread is a new pthread with its own.
 */
#include "nvh_internal.h"

#if !defined(__x86_64__)
#error "nvh persistent execution is implemented for x86-64 only"
#endif

_Static_assert(__builtin_offsetof(struct nvh_context, rsp) == 48, "asm offsets");
_Static_assert(__builtin_offsetof(struct nvh_context, rip) == 56, "asm offsets");
_Static_assert(__builtin_offsetof(struct nvh_context, mxcsr) == 64, "asm offsets");
_Static_assert(__builtin_offsetof(struct nvh_context, x87_cw) == 68, "asm offsets");
_Static_assert(__builtin_offsetof(struct nvh_context, canary) == 72, "asm offsets");
_Static_assert(sizeof(struct nvh_context) == 80, "asm offsets");

__asm__(
	".text\n"

	/* int nvh_checkpoint(void): records the caller's context in an 80-byte frame and hands
	 * it to the C side; the recorded rsp/rip are those the caller sees after the call
	 * returns, so a resume continues in the caller and never needs this frame again. */
	".globl nvh_checkpoint\n"
	".type nvh_checkpoint,@function\n"
	"nvh_checkpoint:\n"
	"	.cfi_startproc\n"
	"	endbr64\n"
	"	subq $88, %rsp\n"
	"	.cfi_adjust_cfa_offset 88\n"
	"	movq %rbx, 0(%rsp)\n"
	"	movq %rbp, 8(%rsp)\n"
	"	movq %r12, 16(%rsp)\n"
	"	movq %r13, 24(%rsp)\n"
	"	movq %r14, 32(%rsp)\n"
	"	movq %r15, 40(%rsp)\n"
	"	leaq 96(%rsp), %rax\n"
	"	movq %rax, 48(%rsp)\n"
	"	movq 88(%rsp), %rax\n"
	"	movq %rax, 56(%rsp)\n"
	"	stmxcsr 64(%rsp)\n"
	"	fnstcw 68(%rsp)\n"
	"	movq %fs:0x28, %rax\n"
	"	movq %rax, 72(%rsp)\n"
	"	movq %rsp, %rdi\n"
	"	call nvh__checkpoint_with_context@PLT\n"
	"	addq $88, %rsp\n"
	"	.cfi_adjust_cfa_offset -88\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size nvh_checkpoint, .-nvh_checkpoint\n"

	/* int nvh__context_save(struct nvh_context *ctx): setjmp without pointer mangling. */
	".globl nvh__context_save\n"
	".hidden nvh__context_save\n"
	".type nvh__context_save,@function\n"
	"nvh__context_save:\n"
	"	.cfi_startproc\n"
	"	endbr64\n"
	"	movq %rbx, 0(%rdi)\n"
	"	movq %rbp, 8(%rdi)\n"
	"	movq %r12, 16(%rdi)\n"
	"	movq %r13, 24(%rdi)\n"
	"	movq %r14, 32(%rdi)\n"
	"	movq %r15, 40(%rdi)\n"
	"	leaq 8(%rsp), %rax\n"
	"	movq %rax, 48(%rdi)\n"
	"	movq (%rsp), %rax\n"
	"	movq %rax, 56(%rdi)\n"
	"	stmxcsr 64(%rdi)\n"
	"	fnstcw 68(%rdi)\n"
	"	movq %fs:0x28, %rax\n"
	"	movq %rax, 72(%rdi)\n"
	"	xorl %eax, %eax\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size nvh__context_save, .-nvh__context_save\n"

	/* void nvh__context_resume(const struct nvh_context *ctx, int value) */
	".globl nvh__context_resume\n"
	".hidden nvh__context_resume\n"
	".type nvh__context_resume,@function\n"
	"nvh__context_resume:\n"
	"	.cfi_startproc\n"
	"	endbr64\n"
	"	movq 0(%rdi), %rbx\n"
	"	movq 8(%rdi), %rbp\n"
	"	movq 16(%rdi), %r12\n"
	"	movq 24(%rdi), %r13\n"
	"	movq 32(%rdi), %r14\n"
	"	movq 40(%rdi), %r15\n"
	"	ldmxcsr 64(%rdi)\n"
	"	fldcw 68(%rdi)\n"
	"	movq 72(%rdi), %rax\n"
	"	movq %rax, %fs:0x28\n"
	"	movq 48(%rdi), %rsp\n"
	"	movl %esi, %eax\n"
	"	jmpq *56(%rdi)\n"
	"	.cfi_endproc\n"
	".size nvh__context_resume, .-nvh__context_resume\n"

	/* void nvh__context_start(fn, arg, stack_top): the outermost frame of the persistent
	 * stack. The return address FN's frame holds (stack_top - 8) points at
	 * nvh__context_start_return; nvh_run rewrites that slot on resume, so this code may be
	 * at another address in the resuming process. rip is marked undefined to end unwinding. */
	".globl nvh__context_start\n"
	".hidden nvh__context_start\n"
	".type nvh__context_start,@function\n"
	"nvh__context_start:\n"
	"	.cfi_startproc\n"
	"	.cfi_undefined rip\n"
	"	endbr64\n"
	"	movq %rdx, %rsp\n"
	"	xorl %ebp, %ebp\n"
	"	movq %rdi, %rax\n"
	"	movq %rsi, %rdi\n"
	"	call *%rax\n"
	".globl nvh__context_start_return\n"
	".hidden nvh__context_start_return\n"
	"nvh__context_start_return:\n"
	"	movq %rax, %rdi\n"
	"	call nvh__run_returned@PLT\n"
	"	ud2\n"
	"	.cfi_endproc\n"
	".size nvh__context_start, .-nvh__context_start\n"
);
