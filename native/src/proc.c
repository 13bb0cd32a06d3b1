/* proc.c — the per-process fields: identity, credentials, mm layout, exe/cwd/root, auxv, rlimits. */
#include "capture_int.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *field(const char *status, const char *name)
{
    char key[40];
    snprintf(key, sizeof(key), "\n%s:", name);
    const char *p = strstr(status, key);
    return p ? p + strlen(key) : NULL;
}

static char *read_link(pid_t pid, const char *what, uint32_t *len)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
    char *buf = malloc(PATH_MAX);
    if (!buf)
        return NULL;
    ssize_t n = readlink(path, buf, PATH_MAX - 1);
    if (n < 0)
        n = 0;
    buf[n] = 0;
    *len = (uint32_t)n;
    return buf;
}

/* Runs a process-wide query in the main thread. */
static int inject(struct sls_capture_ctx *c, struct sls_frozen_proc *p, long nr, long a0, long a1,
                  long *ret)
{
    struct sls_injector *inj;
    int rc = sls_main_injector(c, p, &inj);
    if (rc)
        return rc;
    long args[6] = { a0, a1, 0, 0, 0, 0 };
    return sls_injector_call(inj, nr, args, ret, c->err, c->errlen);
}

static int inject_int_out(struct sls_capture_ctx *c, struct sls_frozen_proc *p, long option,
                          int *out)
{
    struct sls_injector *inj;
    int rc = sls_main_injector(c, p, &inj);
    if (rc)
        return rc;
    long args[6] = { option, 0, 0, 0, 0, 0 }, ret;
    *out = 0;
    rc = sls_injector_call_buf(inj, SYS_prctl, args, 1, out, sizeof(*out), &ret, c->err, c->errlen);
    if (rc == 0 && ret < 0)
        return CERR(c, (int)-ret, "pid %d: prctl(%ld) in the process: %s", p->pid, option,
                    strerror((int)-ret));
    return rc;
}

/*
 * The resource limits from /proc/PID/limits, one row per RLIMIT_* in index order ("Max cpu time",
 * soft and hard column, "unlimited" = RLIM_INFINITY). Not prlimit(pid): on another user's process
 * that needs CAP_SYS_RESOURCE, which root lacks here, while reading the file only needs ptrace access.
 */
static int read_rlimits(struct sls_capture_ctx *c, pid_t pid, struct sls_img_rlimit rl[SLS_NRLIMIT])
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/limits", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return CERR(c, errno, "pid %d: cannot read %s: %s", pid, path, strerror(errno));
    memset(rl, 0, sizeof(*rl) * SLS_NRLIMIT);
    int n = 0;
    if (!fgets(line, sizeof(line), f)) /* the column header */
        n = -1;
    /* "Max cpu time              unlimited            unlimited            seconds": the name is
     * the first 26 columns, then soft and hard separated by blanks. */
    while (n >= 0 && n < SLS_NRLIMIT && fgets(line, sizeof(line), f)) {
        char soft[32], hard[32];
        if (strlen(line) < 27 || sscanf(line + 26, "%31s %31s", soft, hard) != 2)
            break;
        rl[n].cur = strcmp(soft, "unlimited") ? strtoull(soft, NULL, 10) : RLIM_INFINITY;
        rl[n].max = strcmp(hard, "unlimited") ? strtoull(hard, NULL, 10) : RLIM_INFINITY;
        n++;
    }
    fclose(f);
    if (n != SLS_NRLIMIT)
        return CERR(c, EINVAL, "pid %d: %s has %d readable limit rows, want %d", pid, path, n < 0 ? 0 : n,
                    SLS_NRLIMIT);
    return 0;
}

int sls_capture_proc(struct sls_capture_ctx *c, struct sls_frozen_proc *p, struct sls_imgbuf *b)
{
    struct sls_img_proc pr;
    memset(&pr, 0, sizeof(pr));
    pr.pid = p->pid;
    pr.nthreads = (uint32_t)p->nthreads;
    pr.flags = p->was_stopped ? SLS_PROC_STOPPED : 0;

    char path[64], *stattxt = NULL, *status = NULL;
    snprintf(path, sizeof(path), "/proc/%d/stat", p->pid);
    if (sls_read_file(path, &stattxt) < 0)
        return CERR(c, ESRCH, "pid %d: cannot read %s", p->pid, path);
    char *lp = strchr(stattxt, '('), *rp = strrchr(stattxt, ')');
    if (lp && rp) {
        size_t n = (size_t)(rp - lp - 1);
        memcpy(pr.comm, lp + 1, n < sizeof(pr.comm) - 1 ? n : sizeof(pr.comm) - 1);
    }
    /* fields from 3 (state) on; indices below are the proc(5) field numbers */
    unsigned long long f[53] = { 0 };
    char *s = rp ? rp + 2 : stattxt;
    s = strchr(s, ' '); /* skip state */
    for (int i = 4; s && i <= 52; i++) {
        char *end;
        f[i] = strtoull(s, &end, 10);
        s = end;
    }
    free(stattxt);
    pr.ppid = (int32_t)f[4];
    pr.pgid = (int32_t)f[5];
    pr.sid = (int32_t)f[6];
    pr.start_code = f[26];
    pr.end_code = f[27];
    pr.start_stack = f[28];
    pr.exit_signal = (int32_t)f[38];
    pr.start_data = f[45];
    pr.end_data = f[46];
    pr.start_brk = f[47];
    pr.arg_start = f[48];
    pr.arg_end = f[49];
    pr.env_start = f[50];
    pr.env_end = f[51];

    snprintf(path, sizeof(path), "/proc/%d/status", p->pid);
    if (sls_read_file(path, &status) < 0)
        return CERR(c, ESRCH, "pid %d: cannot read %s", p->pid, path);
    const char *v;
    if ((v = field(status, "Umask")))
        pr.umask = (uint32_t)strtoul(v, NULL, 8);
    if ((v = field(status, "Uid")))
        sscanf(v, "%u %u %u %u", &pr.uid[0], &pr.uid[1], &pr.uid[2], &pr.uid[3]);
    if ((v = field(status, "Gid")))
        sscanf(v, "%u %u %u %u", &pr.gid[0], &pr.gid[1], &pr.gid[2], &pr.gid[3]);
    uint64_t *caps[] = { &pr.cap_inh, &pr.cap_prm, &pr.cap_eff, &pr.cap_bnd, &pr.cap_amb };
    const char *capnames[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
    for (int i = 0; i < 5; i++)
        if ((v = field(status, capnames[i])))
            *caps[i] = strtoull(v, NULL, 16);
    /* NoNewPrivs is in status since Linux 4.10: one injected prctl less in the stop */
    if ((v = field(status, "NoNewPrivs")))
        pr.no_new_privs = (uint32_t)strtoul(v, NULL, 10);
    uint32_t groups[256];
    if ((v = field(status, "Groups"))) {
        char *end;
        while (pr.ngroups < 256) {
            unsigned long g = strtoul(v, &end, 10);
            if (end == v)
                break;
            groups[pr.ngroups++] = (uint32_t)g;
            v = end;
        }
    }
    free(status);

    char *pers = NULL;
    snprintf(path, sizeof(path), "/proc/%d/personality", p->pid);
    if (sls_read_file(path, &pers) >= 0) {
        pr.personality = (uint32_t)strtoul(pers, NULL, 16);
        free(pers);
    }

    struct stat st;
    snprintf(path, sizeof(path), "/proc/%d/exe", p->pid);
    if (stat(path, &st) == 0) {
        pr.exe_dev = st.st_dev;
        pr.exe_ino = st.st_ino;
    }

    /* What only the process can tell. */
    long ret;
    int rc = inject(c, p, SYS_brk, 0, 0, &ret);
    if (rc)
        return rc;
    pr.brk = (uint64_t)ret;
    int val;
    if ((rc = inject_int_out(c, p, PR_GET_PDEATHSIG, &val)))
        return rc;
    pr.pdeath_signal = val;
    if ((rc = inject_int_out(c, p, PR_GET_CHILD_SUBREAPER, &val)))
        return rc;
    pr.child_subreaper = (uint32_t)val;
    if ((rc = inject(c, p, SYS_prctl, PR_GET_DUMPABLE, 0, &ret)))
        return rc;
    pr.dumpable = ret < 0 ? 0 : (uint32_t)ret;

    char *exe = read_link(p->pid, "exe", &pr.exe_len);
    char *cwd = read_link(p->pid, "cwd", &pr.cwd_len);
    char *root = read_link(p->pid, "root", &pr.root_len);
    char *auxv = NULL;
    snprintf(path, sizeof(path), "/proc/%d/auxv", p->pid);
    ssize_t auxv_len = sls_read_file(path, &auxv);
    pr.auxv_len = auxv_len > 0 ? (uint32_t)auxv_len : 0;
    if (!exe || !cwd || !root) {
        free(exe);
        free(cwd);
        free(root);
        free(auxv);
        return CERR(c, ENOMEM, "pid %d: out of memory", p->pid);
    }

    size_t off = sls_imgbuf_entry_begin(b, SLS_TAG_PROC);
    sls_imgbuf_put(b, &pr, sizeof(pr));
    sls_imgbuf_put(b, groups, pr.ngroups * sizeof(uint32_t));
    sls_imgbuf_put(b, exe, pr.exe_len);
    sls_imgbuf_put(b, cwd, pr.cwd_len);
    sls_imgbuf_put(b, root, pr.root_len);
    sls_imgbuf_put(b, auxv, pr.auxv_len);
    sls_imgbuf_entry_end(b, off);
    free(exe);
    free(cwd);
    free(root);
    free(auxv);

    struct sls_img_rlimit rl[SLS_NRLIMIT];
    int r = read_rlimits(c, p->pid, rl);
    if (r)
        return r;
    sls_imgbuf_entry(b, SLS_TAG_RLIMIT, rl, sizeof(rl), NULL, 0);
    return 0;
}
