/*
 * restore_threads.c — threads: created by an injected clone3 in the main thread with set_tid = the
 * captured TID (any TID when it is taken), then per-thread kernel state (clear_child_tid, robust
 * list, rseq, sigaltstack, scheduling), and at the very end the registers, FPU/vector state and
 * signal mask of every thread, and the detach.
 *
 * Syscall restart: the kernel, not the engine, restarts. Before its registers are set, every thread
 * is moved from the syscall-exit stop of its last injected call into a PTRACE_EVENT_STOP (interrupt
 * + continue), which sits inside get_signal(). The registers are then set exactly as captured
 * (orig_rax = the syscall, rax = -ERESTART...), and after the detach the kernel finishes
 * get_signal() and applies its own rules: no signal -> back onto the `syscall` instruction; a signal
 * with a handler arriving meanwhile -> EINTR or restart by SA_RESTART, exactly as in the original.
 * (Rewinding rip ourselves instead loses that: a handler run before the re-entered call turns an
 * interrupted sleep into a fresh one.) The one rewrite: -ERESTART_RESTARTBLOCK (relative nanosleep,
 * poll with a timeout) becomes -ERESTARTNOHAND, because the kernel's restart block did not survive
 * the checkpoint (restart_syscall in the new thread would return -EINTR); the call re-runs with its
 * original arguments, i.e. its full timeout again.
 */
#include <errno.h>
#include <elf.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "restore.h"

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

_Static_assert(sizeof(struct sls_img_regs) == sizeof(struct user_regs_struct), "regs mirror user_regs_struct");

int rst_create_threads(struct rst_ctx *c, struct rst_proc *p)
{
    int r;
    for (int i = 1; i < p->nthreads; i++) {
        struct {
            struct clone_args ca;
            pid_t set_tid[1];
        } a;
        memset(&a, 0, sizeof(a));
        a.ca.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
        a.set_tid[0] = p->threads[i].t->tid;
        uint64_t where = rst_scratch(p);
        a.ca.set_tid = where + offsetof(__typeof__(a), set_tid);
        a.ca.set_tid_size = 1;
        if ((r = rst_write_remote(c, p, where, &a, sizeof(a))))
            return r;
        long args[6] = { (long)where, sizeof(a.ca), 0, 0, 0, 0 };
        long tid;
        if ((r = rst_inject(c, p, p->new_pid, SYS_clone3, args, &tid)))
            return r;
        if (tid == -EEXIST) {
            a.ca.set_tid = 0;
            a.ca.set_tid_size = 0;
            if ((r = rst_write_remote(c, p, where, &a, sizeof(a))) ||
                (r = rst_inject(c, p, p->new_pid, SYS_clone3, args, &tid)))
                return r;
        }
        if (tid <= 0)
            return rst_fail(c, (int)-tid, "pid %d: clone3 of thread %d failed: %s", p->proc->pid,
                            p->threads[i].t->tid, strerror((int)-tid));
        p->threads[i].new_tid = (pid_t)tid;
        p->threads[i].traced = 1;
        int status;
        if ((r = rst_wait_stop(c, (pid_t)tid, &status)) || (r = rst_block_signals(c, p, (pid_t)tid)))
            return r;
    }
    return 0;
}

int rst_restore_thread_state(struct rst_ctx *c, struct rst_proc *p)
{
    int r;
    for (int i = 0; i < p->nthreads; i++) {
        const struct sls_img_thread *t = p->threads[i].t;
        pid_t tid = p->threads[i].new_tid;
        long a[6] = { (long)t->clear_child_tid, 0, 0, 0, 0, 0 };
        if ((r = rst_inject_ok(c, p, tid, SYS_set_tid_address, a, NULL, "set_tid_address")))
            return r;
        if (t->robust_list_head) {
            long b[6] = { (long)t->robust_list_head, (long)t->robust_list_len, 0, 0, 0, 0 };
            if ((r = rst_inject_ok(c, p, tid, SYS_set_robust_list, b, NULL, "set_robust_list")))
                return r;
        }
        if (t->rseq_addr) {
            long b[6] = { (long)t->rseq_addr, t->rseq_len, 0, t->rseq_sig, 0, 0 };
            if ((r = rst_inject_ok(c, p, tid, SYS_rseq, b, NULL, "rseq registration")))
                return r;
        }
        if (!(t->altstack_flags & SS_DISABLE) && t->altstack_size) {
            stack_t ss = { .ss_sp = (void *)(uintptr_t)t->altstack_sp, .ss_size = t->altstack_size,
                           .ss_flags = (int)(t->altstack_flags & SS_AUTODISARM) };
            if ((r = rst_write_remote(c, p, rst_scratch(p), &ss, sizeof(ss))))
                return r;
            long b[6] = { (long)rst_scratch(p), 0, 0, 0, 0, 0 };
            if ((r = rst_inject_ok(c, p, tid, SYS_sigaltstack, b, NULL, "sigaltstack")))
                return r;
        }
        if ((t->sched_policy == SCHED_BATCH || t->sched_policy == SCHED_IDLE)) {
            struct sched_param sp = { .sched_priority = 0 };
            if (sched_setscheduler(tid, t->sched_policy, &sp) < 0)
                return rst_fail(c, errno, "pid %d: sched_setscheduler(%d) of thread %d failed: %s", p->proc->pid,
                                t->sched_policy, tid, strerror(errno));
        }
        /* Always: the seed inherited the caller's nice value, which may differ from the captured one. */
        if (setpriority(PRIO_PROCESS, (id_t)tid, t->nice) < 0)
            return rst_fail(c, errno, "pid %d: setpriority(%d) of thread %d failed: %s", p->proc->pid, t->nice, tid,
                            strerror(errno));
    }
    return 0;
}

static void adjust_restart(struct user_regs_struct *regs)
{
    if ((long long)regs->orig_rax >= 0 && (long long)regs->rax == -ERESTART_RESTARTBLOCK)
        regs->rax = (unsigned long long)-ERESTARTNOHAND;
}

/* From a syscall-exit stop into a PTRACE_EVENT_STOP inside get_signal() (see the top comment). */
static int move_to_trap_stop(struct rst_ctx *c, struct rst_proc *p, pid_t tid)
{
    if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 || ptrace(PTRACE_CONT, tid, 0, 0) < 0)
        return rst_fail(c, errno, "pid %d: moving thread %d to its final stop failed: %s", p->proc->pid, tid,
                        strerror(errno));
    int status, r;
    if ((r = rst_wait_stop(c, tid, &status)))
        return r;
    if (status >> 16 != PTRACE_EVENT_STOP)
        return rst_fail(c, EIO, "pid %d: thread %d stopped with wait status %#x, expected its final event stop",
                        p->proc->pid, tid, status);
    return 0;
}

int rst_set_registers(struct rst_ctx *c, struct rst_proc *p)
{
    for (int i = 0; i < p->nthreads; i++) {
        const struct sls_img_thread *t = p->threads[i].t;
        pid_t tid = p->threads[i].new_tid;
        int r;
        if ((r = move_to_trap_stop(c, p, tid)))
            return r;
        struct user_regs_struct regs;
        memcpy(&regs, &t->regs, sizeof(regs));
        adjust_restart(&regs);
        struct iovec iov = { .iov_base = &regs, .iov_len = sizeof(regs) };
        if (ptrace(PTRACE_SETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0)
            return rst_fail(c, errno, "pid %d: setting the registers of thread %d failed: %s", p->proc->pid, tid,
                            strerror(errno));
        if (t->xsave_len) {
            void *xs = malloc(t->xsave_len);
            if (!xs)
                return rst_fail(c, ENOMEM, "out of memory");
            memcpy(xs, p->threads[i].xsave, t->xsave_len);
            struct iovec xv = { .iov_base = xs, .iov_len = t->xsave_len };
            long rr = ptrace(PTRACE_SETREGSET, tid, (void *)NT_X86_XSTATE, &xv);
            int e = errno;
            free(xs);
            if (rr < 0)
                return rst_fail(c, e, "pid %d: setting the XSAVE state (%u bytes) of thread %d failed: %s",
                                p->proc->pid, t->xsave_len, tid, strerror(e));
        }
        uint64_t mask = t->sigmask & ~((1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1)));
        if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(mask), &mask) < 0)
            return rst_fail(c, errno, "pid %d: setting the signal mask of thread %d failed: %s", p->proc->pid, tid,
                            strerror(errno));
    }
    return 0;
}

void rst_detach(struct rst_ctx *c, struct rst_proc *p)
{
    (void)c;
    /* A process captured in a group stop goes back into it. The SIGSTOP is queued while every thread
     * is still held under ptrace, so it is taken on the way back to user mode: sent after the detach,
     * the process ran for a moment first (and could act, or exit, in that window). */
    if (p->proc->flags & SLS_PROC_STOPPED)
        kill(p->new_pid, SIGSTOP);
    for (int i = 0; i < p->nthreads; i++) {
        if (!p->threads[i].traced)
            continue;
        ptrace(PTRACE_DETACH, p->threads[i].new_tid, 0, 0);
        p->threads[i].traced = 0;
    }
}

void rst_kill(struct rst_ctx *c, struct rst_proc *p)
{
    (void)c;
    if (!p->new_pid)
        return;
    kill(p->new_pid, SIGKILL);
    /* Last to first: the main thread (index 0) of a traced group reports its exit only after every
     * other thread has been reaped, so waiting for it first would wait forever. */
    for (int i = p->nthreads - 1; i >= 0; i--) {
        if (!p->threads[i].traced)
            continue;
        /* Reap the tracee's exit notification so no traced zombie is left behind. */
        int st;
        for (;;) {
            pid_t w = waitpid(p->threads[i].new_tid, &st, __WALL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 || WIFEXITED(st) || WIFSIGNALED(st))
                break;
        }
        p->threads[i].traced = 0;
    }
}
