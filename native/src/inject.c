/* inject.c — syscall injection into a ptrace-stopped thread; see inject.h for the contract. */
#include "inject.h"
#include "util.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static int get_regs(pid_t tid, struct user_regs_struct *r)
{
    struct iovec iov = { r, sizeof(*r) };
    return ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &iov) == 0 ? 0 : -errno;
}

static int set_regs(pid_t tid, const struct user_regs_struct *r)
{
    struct iovec iov = { (void *)r, sizeof(*r) };
    return ptrace(PTRACE_SETREGSET, tid, (void *)NT_PRSTATUS, &iov) == 0 ? 0 : -errno;
}

static pid_t tgid_of(pid_t tid)
{
    char path[64], *txt;
    snprintf(path, sizeof(path), "/proc/%d/status", tid);
    if (sls_read_file(path, &txt) < 0)
        return -1;
    pid_t tgid = -1;
    char *p = strstr(txt, "\nTgid:");
    if (p)
        tgid = (pid_t)strtol(p + 6, NULL, 10);
    free(txt);
    return tgid;
}

uint64_t sls_find_syscall_gadget(pid_t pid)
{
    char path[64], *maps;
    snprintf(path, sizeof(path), "/proc/%d/maps", pid);
    if (sls_read_file(path, &maps) < 0)
        return 0;
    uint64_t start = 0, end = 0;
    for (char *line = maps; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        if (strstr(line, "[vdso]")) {
            unsigned long s, e;
            if (sscanf(line, "%lx-%lx", &s, &e) == 2) {
                start = s;
                end = e;
            }
            break;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(maps);
    return sls_find_syscall_gadget_in(pid, start, end);
}

uint64_t sls_find_syscall_gadget_in(pid_t pid, uint64_t start, uint64_t end)
{
    if (!start || end <= start || end - start > (1u << 20))
        return 0;
    size_t len = end - start;
    unsigned char *buf = malloc(len);
    if (!buf)
        return 0;
    struct iovec local = { buf, len }, remote = { (void *)start, len };
    uint64_t found = 0;
    if (process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len) {
        for (size_t i = 0; i + 1 < len; i++) {
            if (buf[i] == 0x0f && buf[i + 1] == 0x05) {
                found = start + i;
                break;
            }
        }
    }
    free(buf);
    return found;
}

int sls_injector_open(struct sls_injector *inj, pid_t tid, char *err, size_t errlen)
{
    memset(inj, 0, sizeof(*inj));
    inj->tid = tid;
    inj->tgid = tgid_of(tid);
    if (inj->tgid <= 0)
        return sls_errf(err, errlen, ESRCH, "inject: thread %d does not exist", tid);
    inj->gadget = sls_find_syscall_gadget(inj->tgid);
    return 0;
}

/* Resumes until the injected syscall's exit stop; signals that show up meanwhile are taken out and
 * remembered. Returns 0 or -errno (the thread died or ptrace failed). */
static int run_to_syscall_exit(struct sls_injector *inj, char *err, size_t errlen)
{
    int entered = 0;
    for (int rounds = 0; rounds < 1000; rounds++) {
        if (ptrace(PTRACE_SYSCALL, inj->tid, 0, 0) != 0)
            return sls_errf(err, errlen, errno, "inject: PTRACE_SYSCALL on thread %d: %s", inj->tid,
                            strerror(errno));
        int st;
        pid_t w = sls_wait_tracee(inj->tid, &st);
        if (w < 0)
            return sls_errf(err, errlen, errno, "inject: waiting for thread %d: %s", inj->tid,
                            strerror(errno));
        if (WIFEXITED(st) || WIFSIGNALED(st))
            return sls_errf(err, errlen, ESRCH, "inject: thread %d exited during an injected syscall",
                            inj->tid);
        if (!WIFSTOPPED(st))
            continue;
        int sig = WSTOPSIG(st), event = st >> 16;
        if (sig == (SIGTRAP | 0x80)) {
            if (entered)
                return 0;
            entered = 1;
            continue;
        }
        if (event != 0)
            continue; /* PTRACE_EVENT_STOP (interrupt or group stop) or another event: go on */
        /* signal-delivery stop: take the signal out, re-queue it on close */
        siginfo_t si;
        if (ptrace(PTRACE_GETSIGINFO, inj->tid, 0, &si) != 0) {
            memset(&si, 0, sizeof(si));
            si.si_signo = sig;
            si.si_code = SI_TKILL;
        }
        if (inj->ndeferred < SLS_INJECT_MAX_DEFERRED)
            inj->deferred[inj->ndeferred++] = si;
        else if (sig != SIGSTOP && sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU)
            return sls_errf(err, errlen, EAGAIN,
                            "inject: thread %d received more than %d signals during injection",
                            inj->tid, SLS_INJECT_MAX_DEFERRED);
    }
    return sls_errf(err, errlen, EAGAIN, "inject: thread %d never reached the syscall exit", inj->tid);
}

static int do_call(struct sls_injector *inj, long nr, const long args[6], long *ret,
                   char *err, size_t errlen)
{
    struct user_regs_struct saved, regs, after;
    int rc = get_regs(inj->tid, &saved);
    if (rc)
        return sls_errf(err, errlen, -rc, "inject: reading registers of thread %d: %s", inj->tid,
                        strerror(-rc));
    uint64_t pc = inj->gadget;
    long saved_word = 0;
    int wrote = 0;
    if (!pc) {
        /* No gadget: put `syscall` over the two bytes at rip for this one call. */
        pc = saved.rip;
        errno = 0;
        saved_word = ptrace(PTRACE_PEEKTEXT, inj->tid, (void *)pc, 0);
        if (errno)
            return sls_errf(err, errlen, errno, "inject: reading code of thread %d at %#lx: %s",
                            inj->tid, (unsigned long)pc, strerror(errno));
        long patched = (saved_word & ~0xffffL) | 0x050fL;
        if (ptrace(PTRACE_POKETEXT, inj->tid, (void *)pc, (void *)patched) != 0)
            return sls_errf(err, errlen, errno, "inject: writing code of thread %d at %#lx: %s",
                            inj->tid, (unsigned long)pc, strerror(errno));
        wrote = 1;
    }
    regs = saved;
    regs.rip = pc;
    regs.rax = (unsigned long)nr;
    regs.orig_rax = (unsigned long)-1L; /* no restart rule may touch the injected registers */
    regs.rdi = (unsigned long)args[0];
    regs.rsi = (unsigned long)args[1];
    regs.rdx = (unsigned long)args[2];
    regs.r10 = (unsigned long)args[3];
    regs.r8 = (unsigned long)args[4];
    regs.r9 = (unsigned long)args[5];
    rc = set_regs(inj->tid, &regs);
    if (rc) {
        sls_errf(err, errlen, -rc, "inject: setting registers of thread %d: %s", inj->tid,
                 strerror(-rc));
    } else {
        rc = run_to_syscall_exit(inj, err, errlen);
        if (rc == 0) {
            rc = get_regs(inj->tid, &after);
            if (rc)
                sls_errf(err, errlen, -rc, "inject: reading result of thread %d: %s", inj->tid,
                         strerror(-rc));
            else
                *ret = (long)after.rax;
        }
    }
    /* Put everything back, whatever happened (the thread may be gone: then nothing to restore). */
    int rc2 = set_regs(inj->tid, &saved);
    if (wrote && ptrace(PTRACE_POKETEXT, inj->tid, (void *)pc, (void *)saved_word) != 0 && !rc)
        rc = sls_errf(err, errlen, errno, "inject: restoring code of thread %d: %s", inj->tid,
                      strerror(errno));
    if (!rc && rc2)
        rc = sls_errf(err, errlen, -rc2, "inject: restoring registers of thread %d: %s", inj->tid,
                      strerror(-rc2));
    return rc;
}

/* Injected calls made by this thread so far (each costs a few context switches of stop time). */
static __thread uint32_t injected_calls;

uint32_t sls_inject_count(void)
{
    return injected_calls;
}

int sls_injector_call(struct sls_injector *inj, long nr, const long args[6], long *ret,
                      char *err, size_t errlen)
{
    injected_calls++;
    return do_call(inj, nr, args, ret, err, errlen);
}

int sls_injector_call_buf(struct sls_injector *inj, long nr, const long args[6], int buf_arg,
                          void *buf, size_t len, long *ret, char *err, size_t errlen)
{
    if (len > 4096 || buf_arg < 0 || buf_arg > 5)
        return sls_errf(err, errlen, EINVAL, "inject: scratch buffer of %zu bytes in argument %d",
                        len, buf_arg);
    struct user_regs_struct r;
    int rc = get_regs(inj->tid, &r);
    if (rc)
        return sls_errf(err, errlen, -rc, "inject: reading registers of thread %d: %s", inj->tid,
                        strerror(-rc));
    /* Below the 128-byte red zone nothing of the thread's is live; the old bytes go back anyway. */
    uint64_t scratch = (r.rsp - 128 - len) & ~63ull;
    unsigned char old[4096];
    struct iovec lo = { old, len }, re = { (void *)scratch, len };
    if (process_vm_readv(inj->tid, &lo, 1, &re, 1, 0) != (ssize_t)len)
        return sls_errf(err, errlen, EFAULT, "inject: no scratch memory below the stack of thread %d",
                        inj->tid);
    struct iovec in = { buf, len };
    if (process_vm_writev(inj->tid, &in, 1, &re, 1, 0) != (ssize_t)len)
        return sls_errf(err, errlen, errno, "inject: writing scratch memory of thread %d: %s",
                        inj->tid, strerror(errno));
    long a[6];
    memcpy(a, args, sizeof(a));
    a[buf_arg] = (long)scratch;
    injected_calls++;
    rc = do_call(inj, nr, a, ret, err, errlen);
    if (rc == 0 && process_vm_readv(inj->tid, &in, 1, &re, 1, 0) != (ssize_t)len)
        rc = sls_errf(err, errlen, errno, "inject: reading scratch memory of thread %d: %s",
                      inj->tid, strerror(errno));
    struct iovec back = { old, len };
    if (process_vm_writev(inj->tid, &back, 1, &re, 1, 0) != (ssize_t)len && rc == 0)
        rc = sls_errf(err, errlen, errno, "inject: restoring scratch memory of thread %d: %s",
                      inj->tid, strerror(errno));
    return rc;
}

int sls_injector_close(struct sls_injector *inj, char *err, size_t errlen)
{
    int rc = 0;
    for (uint32_t i = 0; i < inj->ndeferred; i++) {
        siginfo_t *si = &inj->deferred[i];
        long r;
        if (si->si_code < 0 && si->si_code != SI_TKILL)
            r = syscall(SYS_rt_tgsigqueueinfo, inj->tgid, inj->tid, si->si_signo, si);
        else
            r = syscall(SYS_tgkill, inj->tgid, inj->tid, si->si_signo);
        if (r != 0 && errno != ESRCH && rc == 0)
            rc = sls_errf(err, errlen, errno, "inject: re-queueing signal %d to thread %d: %s",
                          si->si_signo, inj->tid, strerror(errno));
    }
    inj->ndeferred = 0;
    return rc;
}

int sls_inject_syscall(pid_t tid, long nr, const long args[6], long *ret, char *err, size_t errlen)
{
    struct sls_injector inj;
    int rc = sls_injector_open(&inj, tid, err, errlen);
    if (rc)
        return rc;
    rc = sls_injector_call(&inj, nr, args, ret, err, errlen);
    int rc2 = sls_injector_close(&inj, rc ? NULL : err, errlen);
    return rc ? rc : rc2;
}
