/* signals.c — signal actions, pending signals (per thread and shared), interval timers. */
#include "capture_int.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

static uint64_t status_mask(const char *status, const char *name)
{
    char key[32];
    snprintf(key, sizeof(key), "\n%s:", name);
    const char *p = strstr(status, key);
    return p ? strtoull(p + strlen(key), NULL, 16) : 0;
}

/*
 * Actions of signals the process catches come from an injected rt_sigaction; SIGCHLD's always does
 * (SA_NOCLDSTOP/SA_NOCLDWAIT matter even without a handler). For every other signal /proc says
 * whether it is ignored or default, and flags/mask/restorer have no effect, so they are recorded as
 * 0 — this saves ~60 injected calls per process of stop time.
 */
static int capture_sigactions(struct sls_capture_ctx *c, struct sls_frozen_proc *p,
                              struct sls_imgbuf *b)
{
    char path[64], *status;
    snprintf(path, sizeof(path), "/proc/%d/status", p->pid);
    if (sls_read_file(path, &status) < 0)
        return CERR(c, ESRCH, "pid %d: cannot read %s", p->pid, path);
    uint64_t caught = status_mask(status, "SigCgt"), ignored = status_mask(status, "SigIgn");
    free(status);

    struct sls_injector *inj;
    int rc = sls_main_injector(c, p, &inj);
    if (rc)
        return rc;
    struct sls_img_sigact acts[SLS_NSIG];
    memset(acts, 0, sizeof(acts));
    for (int sig = 1; sig <= SLS_NSIG; sig++) {
        uint64_t bit = 1ull << (sig - 1);
        struct sls_img_sigact *a = &acts[sig - 1];
        if (!(caught & bit) && sig != SIGCHLD) {
            a->handler = (ignored & bit) ? (uint64_t)(uintptr_t)SIG_IGN : (uint64_t)(uintptr_t)SIG_DFL;
            continue;
        }
        long args[6] = { sig, 0, 0, 8, 0, 0 }, ret;
        rc = sls_injector_call_buf(inj, SYS_rt_sigaction, args, 2, a, sizeof(*a), &ret, c->err,
                                   c->errlen);
        if (rc)
            return rc;
        if (ret < 0)
            return CERR(c, (int)-ret, "pid %d: rt_sigaction(%d) in the process: %s", p->pid, sig,
                        strerror((int)-ret));
    }
    sls_imgbuf_entry(b, SLS_TAG_SIGACT, acts, sizeof(acts), NULL, 0);
    return 0;
}

static int capture_itimers(struct sls_capture_ctx *c, struct sls_frozen_proc *p, struct sls_imgbuf *b)
{
    struct sls_injector *inj;
    int rc = sls_main_injector(c, p, &inj);
    if (rc)
        return rc;
    struct sls_img_itimer it[3];
    for (int which = 0; which < 3; which++) {
        struct itimerval v;
        memset(&v, 0, sizeof(v));
        long args[6] = { which, 0, 0, 0, 0, 0 }, ret;
        rc = sls_injector_call_buf(inj, SYS_getitimer, args, 1, &v, sizeof(v), &ret, c->err,
                                   c->errlen);
        if (rc)
            return rc;
        if (ret < 0)
            return CERR(c, (int)-ret, "pid %d: getitimer(%d): %s", p->pid, which, strerror((int)-ret));
        it[which].interval_sec = (uint64_t)v.it_interval.tv_sec;
        it[which].interval_usec = (uint64_t)v.it_interval.tv_usec;
        it[which].value_sec = (uint64_t)v.it_value.tv_sec;
        it[which].value_usec = (uint64_t)v.it_value.tv_usec;
    }
    sls_imgbuf_entry(b, SLS_TAG_ITIMER, it, sizeof(it), NULL, 0);
    return 0;
}

/* One PENDING entry for a queue (tid's own, or the shared one when shared). */
static int capture_queue(struct sls_capture_ctx *c, pid_t pid, pid_t tid, int shared,
                         struct sls_imgbuf *b)
{
    enum { BATCH = 32 };
    siginfo_t si[BATCH];
    size_t off = sls_imgbuf_entry_begin(b, SLS_TAG_PENDING);
    struct sls_img_pending hdr = { .tid = shared ? 0 : tid, .count = 0 };
    size_t hdr_at = b->len;
    sls_imgbuf_put(b, &hdr, sizeof(hdr));
    for (;;) {
        struct __ptrace_peeksiginfo_args a = {
            .off = hdr.count, .flags = shared ? PTRACE_PEEKSIGINFO_SHARED : 0, .nr = BATCH,
        };
        long n = ptrace(PTRACE_PEEKSIGINFO, tid, &a, si);
        if (n < 0)
            return CERR(c, errno, "pid %d thread %d: PTRACE_PEEKSIGINFO: %s", pid, tid, strerror(errno));
        if (n == 0)
            break;
        sls_imgbuf_put(b, si, (size_t)n * sizeof(siginfo_t));
        hdr.count += (uint32_t)n;
    }
    if (!b->oom)
        memcpy(b->data + hdr_at, &hdr, sizeof(hdr));
    sls_imgbuf_entry_end(b, off);
    return 0;
}

static int check_posix_timers(struct sls_capture_ctx *c, struct sls_frozen_proc *p)
{
    char path[64], *txt;
    snprintf(path, sizeof(path), "/proc/%d/timers", p->pid);
    if (sls_read_file(path, &txt) < 0)
        return 0; /* kernel without CONFIG_CHECKPOINT_RESTORE timers listing: nothing known */
    int has = strstr(txt, "ID:") != NULL;
    long id = has ? strtol(strstr(txt, "ID:") + 3, NULL, 10) : 0;
    free(txt);
    if (has)
        return CERR(c, ENOTSUP, "pid %d: POSIX timer %ld (timer_create) is not supported", p->pid, id);
    return 0;
}

int sls_capture_signals(struct sls_capture_ctx *c, struct sls_frozen_proc *p, struct sls_imgbuf *b)
{
    _Static_assert(sizeof(siginfo_t) == 128, "siginfo size");
    int rc = check_posix_timers(c, p);
    if (!rc)
        rc = capture_sigactions(c, p, b);
    if (!rc)
        rc = capture_itimers(c, p, b);
    if (!rc)
        rc = capture_queue(c, p->pid, p->pid, 1, b);
    for (size_t i = 0; i < p->nthreads && !rc; i++)
        rc = capture_queue(c, p->pid, p->threads[i].tid, 0, b);
    return rc;
}
