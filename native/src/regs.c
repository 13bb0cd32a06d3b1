/* regs.c — per-thread state: registers, XSAVE, sigmask, rseq, robust list, clear_child_tid, altstack. */
#include "capture_int.h"
#include "util.h"

#include <elf.h>
#include <linux/filter.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <unistd.h>

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

#define XSAVE_MAX (64 * 1024)

static int capture_thread(struct sls_capture_ctx *c, struct sls_frozen_proc *p,
                          struct sls_frozen_thread *t, struct sls_imgbuf *b, void *xsave)
{
    pid_t tid = t->tid;
    struct sls_img_thread th;
    memset(&th, 0, sizeof(th));
    th.tid = tid;
    if (tid == p->pid)
        th.flags |= SLS_THREAD_MAIN;

    struct iovec iov = { &th.regs, sizeof(th.regs) };
    if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &iov) != 0)
        return CERR(c, errno, "pid %d thread %d: reading registers: %s", p->pid, tid, strerror(errno));
    if ((int64_t)th.regs.orig_rax >= 0)
        th.flags |= SLS_THREAD_IN_SYSCALL;

    struct iovec xiov = { xsave, XSAVE_MAX };
    if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_XSTATE, &xiov) != 0)
        return CERR(c, errno, "pid %d thread %d: reading XSAVE state: %s", p->pid, tid,
                    strerror(errno));
    th.xsave_len = (uint32_t)xiov.iov_len;

    if (ptrace(PTRACE_GETSIGMASK, tid, (void *)sizeof(uint64_t), &th.sigmask) != 0)
        return CERR(c, errno, "pid %d thread %d: reading signal mask: %s", p->pid, tid,
                    strerror(errno));

    struct __ptrace_rseq_configuration rs;
    memset(&rs, 0, sizeof(rs));
    if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, (void *)sizeof(rs), &rs) >= 0) {
        th.rseq_addr = rs.rseq_abi_pointer;
        th.rseq_len = rs.rseq_abi_size;
        th.rseq_sig = rs.signature;
        th.rseq_flags = rs.flags;
    }

    void *head = NULL;
    size_t hlen = 0;
    if (syscall(SYS_get_robust_list, tid, &head, &hlen) != 0)
        return CERR(c, errno, "pid %d thread %d: get_robust_list: %s", p->pid, tid, strerror(errno));
    th.robust_list_head = (uint64_t)(uintptr_t)head;
    th.robust_list_len = hlen;

    th.sched_policy = sched_getscheduler(tid);
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, (id_t)tid);
    th.nice = errno ? 0 : nice;

    /* clear_child_tid and the altstack are known only to the thread itself */
    struct sls_injector *inj;
    int rc = sls_frozen_thread_injector(p, t, &inj, c->err, c->errlen);
    if (rc)
        return rc;
    uint64_t tidaddr = 0;
    long args[6] = { PR_GET_TID_ADDRESS, 0, 0, 0, 0, 0 }, ret;
    rc = sls_injector_call_buf(inj, SYS_prctl, args, 1, &tidaddr, sizeof(tidaddr), &ret, c->err,
                               c->errlen);
    if (rc)
        return rc;
    if (ret < 0)
        return CERR(c, (int)-ret, "pid %d thread %d: PR_GET_TID_ADDRESS: %s", p->pid, tid,
                    strerror((int)-ret));
    th.clear_child_tid = tidaddr;

    stack_t ss;
    memset(&ss, 0, sizeof(ss));
    long sargs[6] = { 0, 0, 0, 0, 0, 0 };
    rc = sls_injector_call_buf(inj, SYS_sigaltstack, sargs, 1, &ss, sizeof(ss), &ret, c->err,
                               c->errlen);
    if (rc)
        return rc;
    if (ret < 0)
        return CERR(c, (int)-ret, "pid %d thread %d: sigaltstack: %s", p->pid, tid,
                    strerror((int)-ret));
    th.altstack_sp = (uint64_t)(uintptr_t)ss.ss_sp;
    th.altstack_size = ss.ss_size;
    th.altstack_flags = (uint32_t)ss.ss_flags;

    sls_imgbuf_entry(b, SLS_TAG_THREAD, &th, sizeof(th), xsave, th.xsave_len);
    return 0;
}

/* Thread names (pthread_setname_np) are per thread; the process comm in PROC is the main thread's. */
static void capture_task_comm(pid_t pid, pid_t tid, struct sls_imgbuf *b)
{
    struct sls_img_task_comm tc;
    memset(&tc, 0, sizeof(tc));
    tc.tid = tid;
    char path[64], *txt;
    snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
    if (sls_read_file(path, &txt) >= 0) {
        txt[strcspn(txt, "\n")] = 0;
        strncpy(tc.comm, txt, sizeof(tc.comm) - 1);
        free(txt);
    }
    sls_imgbuf_entry(b, SLS_TAG_TASK_COMM, &tc, sizeof(tc), NULL, 0);
}

/* Seccomp filters are per thread; read back as BPF (needs CAP_SYS_ADMIN, like suspending them). */
static int capture_seccomp(struct sls_capture_ctx *c, pid_t pid, pid_t tid, struct sls_imgbuf *b)
{
    char path[96], *txt;
    snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
    if (sls_read_file(path, &txt) < 0)
        return CERR(c, ESRCH, "pid %d thread %d: cannot read %s", pid, tid, path);
    const char *v = strstr(txt, "\nSeccomp:");
    uint32_t mode = v ? (uint32_t)strtoul(v + 9, NULL, 10) : 0;
    free(txt);
    if (mode == 0)
        return 0;
    size_t off = sls_imgbuf_entry_begin(b, SLS_TAG_SECCOMP);
    struct sls_img_seccomp hdr = { .tid = tid, .mode = mode };
    size_t hdr_at = b->len;
    sls_imgbuf_put(b, &hdr, sizeof(hdr));
    for (unsigned long i = 0; mode == 2; i++) {
        long n = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)i, NULL);
        if (n < 0 && errno == ENOENT)
            break;
        if (n < 0)
            return CERR(c, errno, "pid %d thread %d: reading its seccomp filter %lu: %s", pid, tid, i,
                        strerror(errno));
        struct sock_filter *insns = calloc((size_t)n, sizeof(*insns));
        if (!insns)
            return CERR(c, ENOMEM, "pid %d: out of memory", pid);
        if (ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)i, insns) != n) {
            free(insns);
            return CERR(c, EIO, "pid %d thread %d: seccomp filter %lu changed while read", pid, tid, i);
        }
        struct __ptrace_seccomp_metadata md = { .filter_off = i };
        struct sls_img_seccomp_filter f = { .ninsns = (uint32_t)n };
        if (ptrace(PTRACE_SECCOMP_GET_METADATA, tid, (void *)sizeof(md), &md) > 0)
            f.flags = md.flags;
        sls_imgbuf_put(b, &f, sizeof(f));
        sls_imgbuf_put(b, insns, (size_t)n * sizeof(*insns));
        free(insns);
        hdr.nfilters++;
    }
    if (!b->oom)
        memcpy(b->data + hdr_at, &hdr, sizeof(hdr));
    sls_imgbuf_entry_end(b, off);
    return 0;
}

int sls_capture_threads(struct sls_capture_ctx *c, struct sls_frozen_proc *p, struct sls_imgbuf *b)
{
    void *xsave = malloc(XSAVE_MAX);
    if (!xsave)
        return CERR(c, ENOMEM, "pid %d: out of memory", p->pid);
    int rc = 0;
    for (size_t i = 0; i < p->nthreads && !rc; i++)
        rc = capture_thread(c, p, &p->threads[i], b, xsave);
    free(xsave);
    for (size_t i = 0; i < p->nthreads && !rc; i++)
        capture_task_comm(p->pid, p->threads[i].tid, b);
    for (size_t i = 0; i < p->nthreads && !rc && p->seccomp; i++)
        rc = capture_seccomp(c, p->pid, p->threads[i].tid, b);
    return rc;
}
