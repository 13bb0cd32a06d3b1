/*
 * restore_signals.c — signal dispositions, pending signals, and the per-process kernel state set
 * early (session and process group, so that forked children inherit them) or late (rlimits,
 * prctl flags, credentials).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "restore.h"

/* Signals the seed ignores (inherited across exec from the caller): those must be reset too. */
static uint64_t seed_ignored(struct rst_proc *p)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", p->new_pid);
    FILE *f = fopen(path, "re");
    uint64_t ign = ~0ull; /* unknown: treat every signal as needing a reset */
    if (!f)
        return ign;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "SigIgn:", 7))
            ign = strtoull(line + 7, NULL, 16);
    fclose(f);
    return ign;
}

int rst_restore_sigactions(struct rst_ctx *c, struct rst_proc *p)
{
    if (!p->sigact)
        return 0;
    int r;
    uint64_t where = rst_scratch(p);
    if ((r = rst_write_remote(c, p, where, p->sigact, sizeof(struct sls_img_sigact) * SLS_NSIG)))
        return r;
    uint64_t ign = seed_ignored(p);
    for (int sig = 1; sig <= SLS_NSIG; sig++) {
        const struct sls_img_sigact *a = &p->sigact[sig - 1];
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (a->handler == 0 && a->flags == 0 && a->mask == 0 && !(ign & (1ull << (sig - 1))))
            continue; /* already the default in the freshly exec'd seed */
        long args[6] = { sig, (long)(where + (uint64_t)(sig - 1) * sizeof(*a)), 0, 8, 0, 0 };
        long v;
        if ((r = rst_inject(c, p, p->new_pid, SYS_rt_sigaction, args, &v)))
            return r;
        if (v < 0 && !(sig >= 32 && sig <= 33 && v == -EINVAL)) /* glibc-internal signals may refuse */
            return rst_fail(c, (int)-v, "pid %d: rt_sigaction(%d) failed: %s", p->proc->pid, sig, strerror((int)-v));
    }
    return 0;
}

/* Session and process group, set before the children's seeds are forked so they inherit them. */
int rst_restore_session(struct rst_ctx *c, struct rst_proc *p)
{
    const struct sls_img_proc *pr = p->proc;
    long none[6] = { 0 };
    if (pr->sid == pr->pid || (p->parent < 0 && (c->flags & SLS_RESTORE_DETACHED)))
        return rst_inject_ok(c, p, p->new_pid, SYS_setsid, none, NULL, "setsid");
    if (pr->pgid == pr->pid) {
        long a[6] = { 0, 0, 0, 0, 0, 0 };
        return rst_inject_ok(c, p, p->new_pid, SYS_setpgid, a, NULL, "setpgid(0, 0)");
    }
    int leader = rst_find_proc(c, pr->pgid);
    if (leader >= 0 && c->procs[leader].new_pid) {
        long a[6] = { 0, c->procs[leader].new_pid, 0, 0, 0, 0 };
        return rst_inject_ok(c, p, p->new_pid, SYS_setpgid, a, NULL, "setpgid to the group of its leader");
    }
    return 0; /* group leader not restored: stays in the group it was started in */
}

int rst_restore_rlimits(struct rst_ctx *c, struct rst_proc *p)
{
    if (!p->rlimit)
        return 0;
    for (int res = 0; res < SLS_NRLIMIT && res < RLIM_NLIMITS; res++) {
        struct rlimit64 rl = { .rlim_cur = p->rlimit[res].cur, .rlim_max = p->rlimit[res].max };
        if (prlimit64(p->new_pid, (enum __rlimit_resource)res, &rl, NULL) < 0)
            return rst_fail(c, errno, "pid %d: prlimit(%d, %llu/%llu) failed: %s", p->proc->pid, res,
                            (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, strerror(errno));
    }
    return 0;
}

int rst_restore_proc_state(struct rst_ctx *c, struct rst_proc *p)
{
    const struct sls_img_proc *pr = p->proc;
    int r;
    if (pr->pdeath_signal) {
        long a[6] = { PR_SET_PDEATHSIG, pr->pdeath_signal, 0, 0, 0, 0 };
        if ((r = rst_inject_ok(c, p, p->new_pid, SYS_prctl, a, NULL, "prctl(PR_SET_PDEATHSIG)")))
            return r;
    }
    if (pr->child_subreaper) {
        long a[6] = { PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0, 0 };
        if ((r = rst_inject_ok(c, p, p->new_pid, SYS_prctl, a, NULL, "prctl(PR_SET_CHILD_SUBREAPER)")))
            return r;
    }
    {
        /* The seed inherited the caller's personality; the captured one replaces it. */
        long a[6] = { (long)pr->personality, 0, 0, 0, 0, 0 };
        if ((r = rst_inject_ok(c, p, p->new_pid, SYS_personality, a, NULL, "personality")))
            return r;
    }
    for (int which = 0; p->itimer && which < 3; which++) {
        const struct sls_img_itimer *it = &p->itimer[which];
        if (!it->value_sec && !it->value_usec)
            continue; /* disarmed, as in the fresh seed */
        struct itimerval iv = { .it_interval = { (time_t)it->interval_sec, (suseconds_t)it->interval_usec },
                                .it_value = { (time_t)it->value_sec, (suseconds_t)it->value_usec } };
        if ((r = rst_write_remote(c, p, rst_scratch(p), &iv, sizeof(iv))))
            return r;
        long a[6] = { which, (long)rst_scratch(p), 0, 0, 0, 0 };
        if ((r = rst_inject_ok(c, p, p->new_pid, SYS_setitimer, a, NULL, "setitimer")))
            return r;
    }
    if (pr->comm[0]) {
        char comm[16];
        memcpy(comm, pr->comm, sizeof(comm));
        comm[15] = 0;
        if ((r = rst_write_remote(c, p, rst_scratch(p), comm, sizeof(comm))))
            return r;
        long a[6] = { PR_SET_NAME, (long)rst_scratch(p), 0, 0, 0, 0 };
        if ((r = rst_inject_ok(c, p, p->new_pid, SYS_prctl, a, NULL, "prctl(PR_SET_NAME)")))
            return r;
    }
    return 0;
}

/* Late, irreversible process state: no_new_privs and dumpable — after the credentials, because a
 * change of euid resets dumpable to the system's suid_dumpable. */
int rst_restore_late_proc_state(struct rst_ctx *c, struct rst_proc *p)
{
    const struct sls_img_proc *pr = p->proc;
    int r;
    if (pr->no_new_privs) {
        long a[6] = { PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0 };
        if ((r = rst_inject_ok(c, p, p->new_pid, SYS_prctl, a, NULL, "prctl(PR_SET_NO_NEW_PRIVS)")))
            return r;
    }
    {
        long a[6] = { PR_SET_DUMPABLE, pr->dumpable ? 1 : 0, 0, 0, 0, 0 };
        if ((r = rst_inject_ok(c, p, p->new_pid, SYS_prctl, a, NULL, "prctl(PR_SET_DUMPABLE)")))
            return r;
    }
    return 0;
}

/* Credentials are per thread in the kernel: every thread drops to the captured ids. Only when they
 * differ from the seed's (root), and after all threads exist (clone3 set_tid needs the privilege). */
int rst_restore_creds(struct rst_ctx *c, struct rst_proc *p)
{
    const struct sls_img_proc *pr = p->proc;
    int all_root = 1;
    for (int i = 0; i < 4; i++)
        all_root &= pr->uid[i] == 0 && pr->gid[i] == 0;
    if (all_root)
        return 0;
    int r;
    if (pr->ngroups && (r = rst_write_remote(c, p, rst_scratch(p), p->groups, pr->ngroups * 4)))
        return r;
    for (int i = 0; i < p->nthreads; i++) {
        pid_t tid = p->threads[i].new_tid;
        long g[6] = { pr->ngroups, (long)rst_scratch(p), 0, 0, 0, 0 };
        long gid[6] = { pr->gid[0], pr->gid[1], pr->gid[2], 0, 0, 0 };
        long uid[6] = { pr->uid[0], pr->uid[1], pr->uid[2], 0, 0, 0 };
        long v;
        if ((r = rst_inject(c, p, tid, SYS_setgroups, g, &v)) || (v < 0 && (r = rst_fail(c, (int)-v, "pid %d: setgroups failed", pr->pid))) ||
            (r = rst_inject(c, p, tid, SYS_setresgid, gid, &v)) || (v < 0 && (r = rst_fail(c, (int)-v, "pid %d: setresgid failed", pr->pid))) ||
            (r = rst_inject(c, p, tid, SYS_setresuid, uid, &v)) || (v < 0 && (r = rst_fail(c, (int)-v, "pid %d: setresuid failed", pr->pid))))
            return r;
    }
    return 0;
}

/* Pending signals are queued last: a queued, unblocked signal would be taken (a signal-delivery
 * stop) by the next injected call in a thread that can receive it. siginfo goes to the scratch area
 * below the thread's red zone on its restored stack, memory the ABI treats as dead. Queued by the
 * target to itself, so any si_code is accepted. */
int rst_restore_pending(struct rst_ctx *c, struct rst_proc *p)
{
    int r;
    if (p->npending == 0)
        return 0;
    /* Every thread has all signals blocked until its final registers are set (rst_block_signals),
     * so no injected call takes a queued signal. */
    /* Per-thread queues first, the shared queue last. */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < p->npending; i++) {
            const struct rst_pending *pe = &p->pending[i];
            if ((pass == 0) != (pe->p->tid != 0))
                continue;
            int ti = 0;
            for (int k = 0; k < p->nthreads; k++)
                if (p->threads[k].t->tid == pe->p->tid)
                    ti = k;
            pid_t tid = p->threads[ti].new_tid;
            uint64_t where = ((p->threads[ti].t->regs.rsp - 128 - 256) & ~15ull);
            for (uint32_t k = 0; k < pe->p->count; k++) {
                const uint8_t *si = pe->siginfo + (size_t)k * 128;
                int32_t signo;
                memcpy(&signo, si, 4);
                if ((r = rst_write_remote(c, p, where, si, 128)))
                    return r;
                long v;
                if (pe->p->tid) {
                    long a[6] = { p->new_pid, tid, signo, (long)where, 0, 0 };
                    r = rst_inject(c, p, tid, SYS_rt_tgsigqueueinfo, a, &v);
                } else {
                    long a[6] = { p->new_pid, signo, (long)where, 0, 0, 0 };
                    r = rst_inject(c, p, tid, SYS_rt_sigqueueinfo, a, &v);
                }
                if (r)
                    return r;
                if (v < 0)
                    return rst_fail(c, (int)-v, "pid %d: re-queueing pending signal %d failed: %s", p->proc->pid, signo,
                                    strerror((int)-v));
            }
        }
    }
    return 0;
}
