/* freeze.c — PTRACE_SEIZE/INTERRUPT every thread of the given processes, and detach them again. */
#include "freeze.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PF_KTHREAD 0x00200000

/* thread states inside this file */
enum { T_SEIZED = 1, T_STOPPED = 2 };

struct thread_state {
    int state;
};

static int status_field(const char *status, const char *name, long *out)
{
    char key[40];
    snprintf(key, sizeof(key), "\n%s:", name);
    const char *p = strstr(status, key);
    if (!p)
        return -1;
    *out = strtol(p + strlen(key), NULL, 10);
    return 0;
}

/* Refuses what cannot or must not be frozen, with the reason. */
static int check_target(pid_t pid, int *was_stopped, int *seccomp, char *err, size_t errlen)
{
    if (pid <= 0)
        return sls_errf(err, errlen, EINVAL, "pid %d: not a valid process id", pid);
    if (pid == getpid())
        return sls_errf(err, errlen, EINVAL,
                        "pid %d is the engine's own process (the caller cannot checkpoint itself)", pid);
    char path[64], *stat = NULL, *status = NULL;
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if (sls_read_file(path, &stat) < 0)
        return sls_errf(err, errlen, ESRCH, "pid %d: no such process", pid);
    char *rp = strrchr(stat, ')');
    char state = 0;
    unsigned long flags = 0;
    if (rp)
        sscanf(rp + 2, "%c %*d %*d %*d %*d %*d %lu", &state, &flags);
    free(stat);
    if (flags & PF_KTHREAD)
        return sls_errf(err, errlen, EINVAL, "pid %d is a kernel thread: nothing to checkpoint", pid);
    if (state == 'X')
        return sls_errf(err, errlen, ESRCH, "pid %d has exited", pid);
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    if (sls_read_file(path, &status) < 0)
        return sls_errf(err, errlen, ESRCH, "pid %d: no such process", pid);
    long tgid = -1, tracer = 0, threads = 1, filter = 0;
    status_field(status, "Tgid", &tgid);
    status_field(status, "TracerPid", &tracer);
    status_field(status, "Threads", &threads);
    status_field(status, "Seccomp", &filter);
    free(status);
    if (state == 'Z' && threads <= 1)
        return sls_errf(err, errlen, ESRCH, "pid %d has exited (zombie)", pid);
    if (state == 'Z')
        return sls_errf(err, errlen, ENOTSUP, "pid %d: its main thread has exited while %ld other "
                        "threads run on; such a process is not supported", pid, threads - 1);
    if (tgid != pid)
        return sls_errf(err, errlen, EINVAL, "pid %d is a thread of process %ld, not a process", pid,
                        tgid);
    if (tracer != 0)
        return sls_errf(err, errlen, EBUSY, "pid %d is already traced by pid %ld", pid, tracer);
    *was_stopped = state == 'T';
    *seccomp = (int)filter;
    return 0;
}

static struct sls_frozen_thread *add_thread(struct sls_frozen_proc *p, pid_t tid)
{
    if (p->nthreads == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 8;
        struct sls_frozen_thread *nt = realloc(p->threads, nc * sizeof(*nt));
        if (!nt)
            return NULL;
        p->threads = nt;
        p->cap = nc;
    }
    struct sls_frozen_thread *t = &p->threads[p->nthreads++];
    memset(t, 0, sizeof(*t));
    t->tid = tid;
    t->pin_cpu = -1;
    return t;
}

static int has_thread(const struct sls_frozen_proc *p, pid_t tid)
{
    for (size_t i = 0; i < p->nthreads; i++)
        if (p->threads[i].tid == tid)
            return 1;
    return 0;
}

static void drop_thread(struct sls_frozen_proc *p, size_t i)
{
    memmove(&p->threads[i], &p->threads[i + 1], (p->nthreads - i - 1) * sizeof(p->threads[0]));
    p->nthreads--;
}

/* stop_sig doubles as our bookkeeping until the thread reached its stop: 0 = seized, not yet
 * stopped; >0 = stopped with that signal. */

/* Waits until tid is in its interrupt (or group) stop, delivering signals that come first.
 * Returns 0 stopped, 1 the thread exited, <0 error. */
static int wait_for_stop(struct sls_frozen_thread *t, char *err, size_t errlen)
{
    for (int rounds = 0; rounds < 10000; rounds++) {
        int st;
        pid_t w = sls_wait_tracee(t->tid, &st);
        if (w < 0) {
            if (errno == ECHILD)
                return 1;
            return sls_errf(err, errlen, errno, "waiting for thread %d: %s", t->tid, strerror(errno));
        }
        if (WIFEXITED(st) || WIFSIGNALED(st))
            return 1;
        if (!WIFSTOPPED(st))
            continue;
        int sig = WSTOPSIG(st), event = st >> 16;
        if (event == PTRACE_EVENT_STOP) {
            t->stop_sig = sig;
            return 0;
        }
        if (event != 0 || sig == (SIGTRAP | 0x80)) {
            /* not expected with our options; keep going to the interrupt stop */
            ptrace(PTRACE_CONT, t->tid, 0, 0);
            continue;
        }
        /* A signal arrived before the interrupt stop: deliver it as if we were not there. The
         * pending interrupt stops the thread right after. */
        if (ptrace(PTRACE_CONT, t->tid, 0, (void *)(long)sig) != 0 && errno != ESRCH)
            return sls_errf(err, errlen, errno, "re-delivering signal %d to thread %d: %s", sig,
                            t->tid, strerror(errno));
    }
    return sls_errf(err, errlen, EAGAIN, "thread %d does not stop (signal storm?)", t->tid);
}

static char thread_state(pid_t pid, pid_t tid)
{
    char path[96], *txt;
    snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
    if (sls_read_file(path, &txt) < 0)
        return 0;
    char *rp = strrchr(txt, ')');
    char state = rp && rp[1] ? rp[2] : 0;
    free(txt);
    return state;
}

/*
 * A thread in uninterruptible sleep (D) reaches no ptrace stop until it wakes, and a seized thread
 * that never stops can neither be used nor detached: it would hang the capture. The usual long D is
 * a vfork() parent waiting for its child. Give a short D (disk I/O) time to end, refuse a long one
 * before seizing anything of it.
 */
static int check_not_in_d_state(pid_t pid, pid_t tid, char *err, size_t errlen)
{
    for (int waited_ms = 0; thread_state(pid, tid) == 'D'; waited_ms++) {
        if (waited_ms >= 200) {
            char path[96], *wchan = NULL;
            snprintf(path, sizeof(path), "/proc/%d/task/%d/wchan", pid, tid);
            if (sls_read_file(path, &wchan) < 0)
                wchan = NULL;
            int rc = sls_errf(err, errlen, EBUSY, "pid %d thread %d is in uninterruptible sleep (%s) "
                              "and cannot be frozen now%s", pid, tid, wchan ? wchan : "?",
                              wchan && strcmp(wchan, "kernel_clone") == 0
                                  ? ": it waits in vfork() for its child" : "");
            free(wchan);
            return rc;
        }
        usleep(1000);
    }
    return 0;
}

/* PTRACE_SEIZE also answers EPERM for a task that is exiting: tell that apart from a real
 * permission problem by watching the process end (up to 50 ms). */
static int process_is_exiting(pid_t pid)
{
    for (int ms = 0; ms < 50; ms++) {
        char st = thread_state(pid, pid);
        if (st == 0 || st == 'Z' || st == 'X')
            return 1;
        usleep(1000);
    }
    return 0;
}

/* Seizes and stops every thread of p until /proc/PID/task shows no new one. */
static int freeze_proc(struct sls_freeze *fz, struct sls_frozen_proc *p, char *err, size_t errlen)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", p->pid);
    for (int pass = 0; pass < 1000; pass++) {
        DIR *d = opendir(path);
        if (!d)
            return sls_errf(err, errlen, ESRCH, "pid %d exited while being frozen", p->pid);
        size_t first_new = p->nthreads;
        struct dirent *de;
        int rc = 0;
        while ((de = readdir(d))) {
            pid_t tid = (pid_t)atoi(de->d_name);
            if (tid <= 0 || has_thread(p, tid))
                continue;
            if ((rc = check_not_in_d_state(p->pid, tid, err, errlen)))
                break;
            /* A seccomp filter could kill the process for an injected syscall it does not allow:
             * suspend it while we hold the thread (needs CAP_SYS_ADMIN; CRIU does the same). */
            long opts = PTRACE_O_TRACESYSGOOD | (p->seccomp ? PTRACE_O_SUSPEND_SECCOMP : 0);
            if (ptrace(PTRACE_SEIZE, tid, 0, (void *)opts) != 0) {
                if (errno == ESRCH)
                    continue; /* the thread exited meanwhile */
                if (errno == EPERM && p->nthreads > 0)
                    continue; /* we may trace its siblings: this one is exiting (PF_EXITING) */
                if (errno == EPERM && process_is_exiting(p->pid)) {
                    rc = sls_errf(err, errlen, ESRCH, "pid %d exited while being frozen", p->pid);
                    break;
                }
                errno = EPERM;
                if (errno == EPERM && p->seccomp)
                    rc = sls_errf(err, errlen, EPERM, "pid %d: uses seccomp, and suspending it while "
                                  "frozen is not permitted (needs CAP_SYS_ADMIN)", p->pid);
                else
                    rc = sls_errf(err, errlen, errno,
                                  errno == EPERM ? "pid %d: not permitted to trace thread %d (%s)"
                                                 : "pid %d: cannot seize thread %d: %s",
                                  p->pid, tid, strerror(errno));
                break;
            }
            struct sls_frozen_thread *t = add_thread(p, tid);
            if (!t) {
                ptrace(PTRACE_DETACH, tid, 0, 0);
                rc = sls_errf(err, errlen, ENOMEM, "pid %d: out of memory", p->pid);
                break;
            }
            if (!fz->started_ns) {
                fz->started_ns = sls_now_ns(CLOCK_MONOTONIC);
                fz->started_realtime_ns = sls_now_ns(CLOCK_REALTIME);
            }
            ptrace(PTRACE_INTERRUPT, tid, 0, 0);
        }
        closedir(d);
        if (rc)
            return rc;
        if (first_new == p->nthreads)
            break; /* stable: every thread listed is ours and stopped */
        for (size_t i = first_new; i < p->nthreads;) {
            int r = wait_for_stop(&p->threads[i], err, errlen);
            if (r < 0)
                return r;
            if (r == 1) {
                if (p->threads[i].tid == p->pid)
                    return sls_errf(err, errlen, ESRCH, "pid %d exited while being frozen", p->pid);
                drop_thread(p, i);
                continue;
            }
            i++;
        }
    }
    /* the main thread first: the image lists it first */
    for (size_t i = 1; i < p->nthreads; i++) {
        if (p->threads[i].tid == p->pid) {
            struct sls_frozen_thread tmp = p->threads[0];
            p->threads[0] = p->threads[i];
            p->threads[i] = tmp;
        }
    }
    if (p->nthreads == 0 || p->threads[0].tid != p->pid)
        return sls_errf(err, errlen, ESRCH, "pid %d exited while being frozen", p->pid);
    return 0;
}

static int has_proc(const struct sls_freeze *fz, pid_t pid)
{
    for (size_t i = 0; i < fz->nprocs; i++)
        if (fz->procs[i].pid == pid)
            return 1;
    return 0;
}

static int add_proc(struct sls_freeze *fz, pid_t pid, char *err, size_t errlen)
{
    if (has_proc(fz, pid))
        return 0;
    int was_stopped = 0, seccomp = 0;
    int rc = check_target(pid, &was_stopped, &seccomp, err, errlen);
    if (rc)
        return rc;
    if (fz->nprocs == fz->cap) {
        size_t nc = fz->cap ? fz->cap * 2 : 4;
        struct sls_frozen_proc *np = realloc(fz->procs, nc * sizeof(*np));
        if (!np)
            return sls_errf(err, errlen, ENOMEM, "out of memory");
        fz->procs = np;
        fz->cap = nc;
    }
    struct sls_frozen_proc *p = &fz->procs[fz->nprocs++];
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    p->was_stopped = was_stopped;
    p->seccomp = seccomp;
    return freeze_proc(fz, p, err, errlen);
}

/* Adds the children of every thread of procs[i] (they cannot fork anymore: their parent is frozen). */
static int add_children(struct sls_freeze *fz, size_t i, char *err, size_t errlen)
{
    for (size_t k = 0; k < fz->procs[i].nthreads; k++) {
        char path[96], *txt;
        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", fz->procs[i].pid,
                 fz->procs[i].threads[k].tid);
        if (sls_read_file(path, &txt) < 0)
            continue;
        char *s = txt, *end;
        for (;;) {
            long child = strtol(s, &end, 10);
            if (end == s)
                break;
            s = end;
            int rc = add_proc(fz, (pid_t)child, err, errlen);
            if (rc == -ESRCH) {
                /* a child that exits (or is a zombie) right now is simply not part of the capture */
                if (err)
                    *err = 0;
                continue;
            }
            if (rc) {
                free(txt);
                return rc;
            }
        }
        free(txt);
    }
    return 0;
}

/* Binds the calling thread to the CPU it runs on and marks every frozen thread to follow it when
 * it is injected into (see freeze.h). Best effort: without it injections are only slower. */
static void colocate(struct sls_freeze *fz)
{
    int cpu = sched_getcpu();
    cpu_set_t one;
    CPU_ZERO(&one);
    if (cpu >= 0 && cpu < CPU_SETSIZE)
        CPU_SET(cpu, &one);
    if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof(fz->engine_mask), &fz->engine_mask) != 0 ||
        sched_setaffinity(0, sizeof(one), &one) != 0)
        cpu = -1;
    fz->engine_pinned = cpu >= 0;
    for (size_t i = 0; i < fz->nprocs; i++)
        for (size_t k = 0; k < fz->procs[i].nthreads; k++)
            fz->procs[i].threads[k].pin_cpu = cpu;
}

static void pin_thread(struct sls_frozen_thread *t)
{
    if (t->pinned || t->pin_cpu < 0)
        return;
    if (sched_getaffinity(t->tid, sizeof(t->saved_mask), &t->saved_mask) != 0 ||
        !CPU_ISSET(t->pin_cpu, &t->saved_mask))
        return; /* not allowed there (cpuset): leave it where it may run */
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(t->pin_cpu, &one);
    t->pinned = sched_setaffinity(t->tid, sizeof(one), &one) == 0;
}

int sls_freeze(struct sls_freeze *fz, const int32_t *pids, int npids, int recursive,
               char *err, size_t errlen)
{
    memset(fz, 0, sizeof(*fz));
    if (npids <= 0)
        return sls_errf(err, errlen, EINVAL, "no process to checkpoint");
    int rc = 0;
    for (int i = 0; i < npids && !rc; i++)
        rc = add_proc(fz, pids[i], err, errlen);
    /* procs grows while we walk it: every added child gets its own children looked up */
    for (size_t i = 0; recursive && !rc && i < fz->nprocs; i++)
        rc = add_children(fz, i, err, errlen);
    if (rc) {
        sls_thaw(fz, NULL, 0);
        return rc;
    }
    colocate(fz);
    return 0;
}

int sls_frozen_injector(struct sls_frozen_thread *t, struct sls_injector **out, char *err,
                        size_t errlen)
{
    pin_thread(t);
    if (t->inj.tid == 0) {
        int rc = sls_injector_open(&t->inj, t->tid, err, errlen);
        if (rc) {
            t->inj.tid = 0;
            return rc;
        }
    }
    *out = &t->inj;
    return 0;
}

int sls_frozen_thread_injector(struct sls_frozen_proc *p, struct sls_frozen_thread *t,
                               struct sls_injector **out, char *err, size_t errlen)
{
    if (t->inj.tid == 0) {
        for (size_t i = 0; i < p->nthreads; i++) {
            const struct sls_injector *sib = &p->threads[i].inj;
            if (sib->tid != 0) {
                memset(&t->inj, 0, sizeof(t->inj));
                t->inj.tid = t->tid;
                t->inj.tgid = sib->tgid;
                t->inj.gadget = sib->gadget;
                break;
            }
        }
    }
    return sls_frozen_injector(t, out, err, errlen);
}

/* A thread killed while frozen (SIGKILL is the one thing that ends a ptrace stop) cannot be
 * detached: PTRACE_DETACH says ESRCH. Left there it stays a traced zombie until its tracer waits for
 * it, and its process cannot be reaped by its real parent until then: an operator's kill -9 of a
 * process caught in a checkpoint would leave a zombie that the parent waits on forever (the JVM is
 * the tracer and never exits). So the tracer waits for it here, with sls_wait_tracee: for a thread, or
 * a leader that is not our own child, that wait only unlinks the ptrace and hands the exit on to the
 * real parent; our own child's exit is left to its owner's wait. SIGKILL cannot be held off, so each
 * wait ends as soon as the thread is a zombie. Threads come before the leader, whose zombie the
 * kernel reports only once its threads are gone. */
static void release_dead_tracees(const pid_t *tids, size_t n, pid_t leader)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            if ((tids[i] == leader) != (pass == 1))
                continue;
            int st;
            /* a stop on its way out (none is expected with our options): let it go on */
            while (sls_wait_tracee(tids[i], &st) == tids[i] && WIFSTOPPED(st) &&
                   ptrace(PTRACE_DETACH, tids[i], 0, 0) != 0)
                ;
        }
    }
}

int sls_thaw(struct sls_freeze *fz, char *err, size_t errlen)
{
    int rc = 0;
    /* CPU masks back first, all of them, while nothing runs: a thread detached early must not share
     * the engine's CPU with the engine still bound to it */
    for (size_t i = 0; i < fz->nprocs; i++) {
        for (size_t k = 0; k < fz->procs[i].nthreads; k++) {
            struct sls_frozen_thread *t = &fz->procs[i].threads[k];
            if (t->pinned) /* fails only if it is gone */
                sched_setaffinity(t->tid, sizeof(t->saved_mask), &t->saved_mask);
            t->pinned = 0;
        }
    }
    if (fz->engine_pinned)
        sched_setaffinity(0, sizeof(fz->engine_mask), &fz->engine_mask);
    fz->engine_pinned = 0;
    for (size_t i = 0; i < fz->nprocs; i++) {
        struct sls_frozen_proc *p = &fz->procs[i];
        pid_t *dead = calloc(p->nthreads ? p->nthreads : 1, sizeof(*dead));
        size_t ndead = 0;
        for (size_t k = 0; k < p->nthreads; k++) {
            struct sls_frozen_thread *t = &p->threads[k];
            if (t->stop_sig == 0) {
                /* seized on an error path before we waited for it: it stops, then we let go */
                if (wait_for_stop(t, NULL, 0) != 0)
                    continue;
            }
            if (t->inj.tid) {
                int r = sls_injector_close(&t->inj, rc ? NULL : err, errlen);
                if (r && !rc)
                    rc = r;
            }
            fz->released_ns = sls_now_ns(CLOCK_MONOTONIC);
            if (ptrace(PTRACE_DETACH, t->tid, 0, 0) != 0) {
                if (errno == ESRCH) {
                    if (dead)
                        dead[ndead++] = t->tid;
                } else if (!rc) {
                    rc = sls_errf(err, errlen, errno, "detaching thread %d of pid %d: %s", t->tid, p->pid,
                                  strerror(errno));
                }
            }
        }
        if (ndead)
            release_dead_tracees(dead, ndead, p->pid);
        free(dead);
        free(p->threads);
    }
    free(fz->procs);
    uint64_t released = fz->released_ns;
    memset(fz, 0, sizeof(*fz));
    fz->released_ns = released;
    return rc;
}
