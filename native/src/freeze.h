/*
 * freeze.h — stop every thread of a set of processes under ptrace, and let them go again.
 *
 * Freeze: PTRACE_SEIZE (PTRACE_O_TRACESYSGOOD) + PTRACE_INTERRUPT on every thread, rescanning
 * /proc/PID/task until no new thread shows up; with recursion, the children of every frozen thread
 * (/proc/PID/task/TID/children) are frozen too, parent before child, so nothing forks unseen.
 * A signal that arrives before a thread reaches its interrupt stop is delivered (PTRACE_CONT with it)
 * and the thread stops right after, so no signal is lost or invented. A process that was in a group
 * stop stays in it: PTRACE_DETACH re-enters the group stop by itself.
 *
 * Thaw: signals taken out by injections are queued again, then every thread is detached. Thaw is
 * also the cleanup of a failed freeze: after sls_thaw nothing is stopped or traced by us.
 *
 * Co-location: while frozen, the calling thread and every thread it injects into are bound to one
 * CPU (the caller's), so each ptrace stop of an injected syscall is a local context switch instead
 * of a wake-up of the other CPU (here ~40 us an injected call across CPUs, ~17 us on one). Both get
 * their CPU masks back at the thaw, before the threads run again, so the process never runs bound.
 * Limit: if the engine dies while the process is frozen (ptrace lets the threads go by itself), the
 * injected threads keep the one-CPU mask: they run correctly, only bound to that CPU.
 */
#ifndef SLS_FREEZE_H
#define SLS_FREEZE_H

#include "inject.h"

#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sls_frozen_thread {
    pid_t tid;
    int stop_sig;              /* SIGTRAP: interrupt stop; SIGSTOP/SIGTSTP/...: a group stop */
    struct sls_injector inj;   /* opened lazily by the capture code (inj.tid == 0 until then) */
    int pin_cpu;               /* the CPU to bind it to when an injector opens, -1: none */
    int pinned;                /* bound: saved_mask goes back at the thaw */
    cpu_set_t saved_mask;
};

struct sls_frozen_proc {
    pid_t pid;
    int was_stopped;           /* State T before we seized it */
    int seccomp;               /* /proc "Seccomp:" mode (1 strict, 2 filter): seized with SUSPEND_SECCOMP */
    size_t nthreads, cap;
    struct sls_frozen_thread *threads; /* threads[0] is the main thread */
};

struct sls_freeze {
    size_t nprocs, cap;
    struct sls_frozen_proc *procs;
    uint64_t started_ns;       /* CLOCK_MONOTONIC at the first PTRACE_INTERRUPT */
    uint64_t started_realtime_ns;
    uint64_t released_ns;      /* CLOCK_MONOTONIC just before the last PTRACE_DETACH (kept by sls_thaw):
                                * the end of the stop, whatever the caller's thread does next (a
                                * released thread that shares its CPU may well run first) */
    int engine_pinned;         /* the calling thread is bound to one CPU until the thaw */
    cpu_set_t engine_mask;     /* its mask before */
};

/* Freezes pids[0..npids) (and descendants when recursive). On failure everything seized so far has
 * been thawed again and err names the pid and the reason. */
int sls_freeze(struct sls_freeze *fz, const int32_t *pids, int npids, int recursive,
               char *err, size_t errlen);

/* Detaches everything sls_freeze seized (safe on a partly built or empty freeze), frees it.
 * Returns 0, or a negative code with err set if some thread could not be released cleanly. */
int sls_thaw(struct sls_freeze *fz, char *err, size_t errlen);

/* The injector of a frozen thread, opened on first use (a caller that knows the thread group and
 * gadget may fill t->inj itself first: then only the CPU binding is done here). */
int sls_frozen_injector(struct sls_frozen_thread *t, struct sls_injector **out, char *err,
                        size_t errlen);

/* The same for thread t of p, reusing what a sibling's open injector already found (the threads
 * share one address space, so one gadget search per process is enough). */
int sls_frozen_thread_injector(struct sls_frozen_proc *p, struct sls_frozen_thread *t,
                               struct sls_injector **out, char *err, size_t errlen);

#endif
