/*
 * inject.h — run one chosen syscall inside a ptrace-stopped thread (capture, restore, dirty tracking).
 *
 * Preconditions: the caller has PTRACE_SEIZE'd (or attached) `tid` with PTRACE_O_TRACESYSGOOD and the
 * thread is in a ptrace stop (interrupt/group stop, or the syscall-exit stop a previous injection left
 * it in). The injection saves NT_PRSTATUS, points rip at a `syscall` instruction with orig_rax = -1
 * (so the kernel applies no restart rule to the injected registers), runs to the syscall-exit stop,
 * reads rax and puts every register back. The thread stays stopped, now in a syscall-exit stop; the
 * kernel applies the original registers' restart rules (rax = -ERESTART*) when it is finally resumed
 * or detached, exactly as if nothing had happened.
 *
 * The `syscall` instruction used is found in the target's [vdso]; when there is none, two bytes at
 * the thread's rip are replaced by `0f 05` for the duration of the call and put back afterwards.
 *
 * A signal that becomes deliverable while the thread runs the injected call would be delivered with
 * the injected registers, so it is taken out (suppressed at its signal-delivery stop) and remembered;
 * sls_injector_close() queues it again to the same thread — call it before thawing. (Re-queueing keeps
 * the siginfo of sigqueue()-style signals; a kill()/tgkill()/kernel-sent one is re-sent with tgkill,
 * so its si_code/si_pid then name the engine.)
 */
#ifndef SLS_INJECT_H
#define SLS_INJECT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SLS_INJECT_MAX_DEFERRED 16

struct sls_injector {
    pid_t tid;
    pid_t tgid;
    uint64_t gadget;        /* address of `0f 05` in the target, 0 if none found (write one at rip) */
    uint32_t ndeferred;     /* signals taken out during injected calls, to queue again on close */
    siginfo_t deferred[SLS_INJECT_MAX_DEFERRED];
};

/* Prepares injection into the stopped thread tid (finds the gadget). Never changes the target. */
int sls_injector_open(struct sls_injector *inj, pid_t tid, char *err, size_t errlen);

/* Runs syscall nr(args[0..5]) in the thread; *ret receives rax (a -errno on failure of the call
 * itself). Returns 0, or a negative code with err set when the injection itself failed (the thread's
 * registers have then been put back if the thread still exists). */
int sls_injector_call(struct sls_injector *inj, long nr, const long args[6], long *ret,
                      char *err, size_t errlen);

/* Like sls_injector_call, with a scratch buffer in the target: buf[0..len) is copied into the target's
 * memory (below the stack red zone of the thread), args[buf_arg] is replaced by its address, the call
 * runs, and the buffer is copied back into buf; the target's bytes there are restored. len <= 4096. */
int sls_injector_call_buf(struct sls_injector *inj, long nr, const long args[6], int buf_arg,
                          void *buf, size_t len, long *ret, char *err, size_t errlen);

/* Queues the deferred signals again (see above). The injector can be reused after close. */
int sls_injector_close(struct sls_injector *inj, char *err, size_t errlen);

/* One-shot form: open + call + close. */
int sls_inject_syscall(pid_t tid, long nr, const long args[6], long *ret, char *err, size_t errlen);

/* The number of syscalls this thread has injected so far (for the capture's phase statistics). */
uint32_t sls_inject_count(void);

/* Finds a `syscall` instruction in pid's [vdso]; returns its address or 0. */
uint64_t sls_find_syscall_gadget(pid_t pid);

/* The same when the [vdso] is known to be [start, end) (a map read while pid is stopped). */
uint64_t sls_find_syscall_gadget_in(pid_t pid, uint64_t start, uint64_t end);

#endif
