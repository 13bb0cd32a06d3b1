/*
 * restore_seed.c — starting and holding the seed processes, and the syscall injection the whole
 * restorer is built on.
 *
 * A root seed (one whose parent is not in the image) is started through a launcher so that it is not
 * a child of the caller (the Karaf JVM): the engine posix_spawns `sls-seed launch` (vfork-cheap, no
 * fork of a large JVM), which clone3()s the seed with set_tid = the captured PID (falling back to any
 * PID when it is taken), reports it and exits. The seed
 * waits on a pipe until the engine has PTRACE_SEIZEd it (root may seize any process), then execs
 * build/sls-seed. The engine follows it to the exec event and one step further, to execve's
 * syscall-exit stop: injecting earlier makes the first call "return" -ENOSYS (DESIGN.md §3). The seed
 * is never started with SIGSTOP (a group stop would survive the final detach).
 *
 * A seed whose parent is in the image is forked by the parent's seed (an injected clone3, so the
 * parent/child tree comes back) right after the gadget page exists, and is auto-attached by
 * PTRACE_O_TRACEFORK.
 *
 * Injection: registers := rip at a `syscall` instruction, rax = nr, args, orig_rax = -1 (so no
 * restart logic touches them), PTRACE_SYSCALL to the entry stop, PTRACE_SYSCALL to the exit stop,
 * rax is the result. The registers are not put back: the final ones are set once, at the end.
 * This primitive is private to the restorer rather than the capture engineer's sls_inject_syscall
 * because the restorer owns its gadget page and must also step through the clone/fork event stops
 * its own injected clone3 calls produce.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "restore.h"

#define SEED_PTRACE_OPTIONS                                                                        \
    (PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE |          \
     PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK)

uint64_t rst_scratch(const struct rst_proc *p)
{
    return p->gadget + RST_SCRATCH_OFF;
}

int rst_wait_stop(struct rst_ctx *c, pid_t tid, int *status)
{
    for (;;) {
        pid_t w = waitpid(tid, status, __WALL);
        if (w == tid)
            break;
        if (w < 0 && errno == EINTR)
            continue;
        return rst_fail(c, errno, "waitpid(%d) failed: %s", tid, strerror(errno));
    }
    if (WIFEXITED(*status))
        return rst_fail(c, ECHILD, "seed thread %d exited with status %d", tid, WEXITSTATUS(*status));
    if (WIFSIGNALED(*status))
        return rst_fail(c, ECHILD, "seed thread %d was killed by signal %d", tid, WTERMSIG(*status));
    return 0;
}

int rst_seed_start(struct rst_ctx *c, struct rst_proc *p)
{
    int go[2], rep[2];
    if (pipe2(go, O_CLOEXEC) < 0)
        return rst_fail(c, errno, "pipe2 for the seed: %s", strerror(errno));
    if (pipe2(rep, O_CLOEXEC) < 0) {
        int e = errno;
        close(go[0]);
        close(go[1]);
        return rst_fail(c, e, "pipe2 for the seed: %s", strerror(e));
    }
    int r = 0;
    /* The launcher gets the seed's end of each pipe at the same number, inheritable (a dup2 onto
     * itself clears FD_CLOEXEC in posix_spawn). */
    char want[16], gofd[16], repfd[16];
    snprintf(want, sizeof(want), "%d", p->proc->pid);
    snprintf(gofd, sizeof(gofd), "%d", go[0]);
    snprintf(repfd, sizeof(repfd), "%d", rep[1]);
    char *argv[] = { (char *)"sls-seed", (char *)"launch", want, gofd, repfd, NULL };
    char *envp[] = { NULL };
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, go[0], go[0]);
    posix_spawn_file_actions_adddup2(&fa, rep[1], rep[1]);
    pid_t launcher;
    int se = posix_spawn(&launcher, c->seed_path, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(rep[1]);
    close(go[0]);
    if (se) {
        r = rst_fail(c, se, "cannot start the seed launcher %s: %s", c->seed_path, strerror(se));
        goto out;
    }
    int32_t report[2] = { -1, 0 };
    ssize_t n;
    while ((n = read(rep[0], report, sizeof(report))) < 0 && errno == EINTR)
        ;
    int st;
    while (waitpid(launcher, &st, 0) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof(report) || report[0] <= 0) {
        r = rst_fail(c, report[1] ? report[1] : EIO, "clone3 of the seed for pid %d failed: %s", p->proc->pid,
                     n == (ssize_t)sizeof(report) ? strerror(report[1]) : "the launcher reported nothing");
        goto out;
    }
    p->new_pid = report[0];
    p->threads[0].new_tid = p->new_pid;
    if (ptrace(PTRACE_SEIZE, p->new_pid, 0, (void *)(long)SEED_PTRACE_OPTIONS) < 0) {
        r = rst_fail(c, errno, "PTRACE_SEIZE of seed %d failed: %s", p->new_pid, strerror(errno));
        kill(p->new_pid, SIGKILL);
        goto out;
    }
    p->threads[0].traced = 1;
    char one = 1;
    if (write(go[1], &one, 1) != 1) {
        r = rst_fail(c, errno, "cannot release seed %d: %s", p->new_pid, strerror(errno));
        goto out;
    }
    int status;
    if ((r = rst_wait_stop(c, p->new_pid, &status)))
        goto out;
    if (status >> 8 != (SIGTRAP | (PTRACE_EVENT_EXEC << 8))) {
        r = rst_fail(c, EIO, "seed %d: expected the exec event of %s, got wait status %#x", p->new_pid,
                     c->seed_path, status);
        goto out;
    }
    if (ptrace(PTRACE_SYSCALL, p->new_pid, 0, 0) < 0 || (r = rst_wait_stop(c, p->new_pid, &status))) {
        if (!r)
            r = rst_fail(c, errno, "seed %d: PTRACE_SYSCALL failed: %s", p->new_pid, strerror(errno));
        goto out;
    }
    if (!WIFSTOPPED(status) || WSTOPSIG(status) != (SIGTRAP | 0x80)) {
        r = rst_fail(c, EIO, "seed %d: expected execve's syscall-exit stop, got wait status %#x", p->new_pid, status);
        goto out;
    }
    r = rst_block_signals(c, p, p->new_pid);
out:
    close(go[1]);
    close(rep[0]);
    return r;
}

static int open_mem(struct rst_ctx *c, struct rst_proc *p)
{
    if (p->mem_fd >= 0)
        return 0;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/mem", p->new_pid);
    p->mem_fd = open(path, O_RDWR | O_CLOEXEC);
    if (p->mem_fd < 0)
        return rst_fail(c, errno, "cannot open %s: %s", path, strerror(errno));
    return 0;
}

/* Through /proc/PID/mem: works on read-only pages too (the kernel writes with FOLL_FORCE). */
int rst_write_remote(struct rst_ctx *c, struct rst_proc *p, uint64_t addr, const void *buf, size_t len)
{
    int r = open_mem(c, p);
    if (r)
        return r;
    ssize_t n = pwrite(p->mem_fd, buf, len, (off_t)addr);
    if (n != (ssize_t)len)
        return rst_fail(c, n < 0 ? errno : EIO, "writing %zu bytes at %#llx of pid %d failed: %s", len,
                        (unsigned long long)addr, p->new_pid, n < 0 ? strerror(errno) : "short write");
    return 0;
}

int rst_read_remote(struct rst_ctx *c, struct rst_proc *p, uint64_t addr, void *buf, size_t len)
{
    int r = open_mem(c, p);
    if (r)
        return r;
    ssize_t n = pread(p->mem_fd, buf, len, (off_t)addr);
    if (n != (ssize_t)len)
        return rst_fail(c, n < 0 ? errno : EIO, "reading %zu bytes at %#llx of pid %d failed: %s", len,
                        (unsigned long long)addr, p->new_pid, n < 0 ? strerror(errno) : "short read");
    return 0;
}

/* Resumes tid with PTRACE_SYSCALL until its next syscall stop, stepping over ptrace event stops
 * (clone/fork events of injected clone3). Any other stop is unexpected in a seed. */
static int resume_to_syscall_stop(struct rst_ctx *c, pid_t tid)
{
    for (;;) {
        if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0)
            return rst_fail(c, errno, "PTRACE_SYSCALL on %d failed: %s", tid, strerror(errno));
        int status, r;
        if ((r = rst_wait_stop(c, tid, &status)))
            return r;
        if (WSTOPSIG(status) == (SIGTRAP | 0x80))
            return 0;
        if (WSTOPSIG(status) == SIGTRAP && (status >> 16) != 0)
            continue; /* PTRACE_EVENT_CLONE / _FORK stop of the parent: go on to the syscall exit */
        return rst_fail(c, EIO, "seed thread %d stopped unexpectedly (wait status %#x) during an injected syscall",
                        tid, status);
    }
}

/* Seeds run with every signal blocked until the final registers (and masks) are set: a signal sent
 * to a half-built process stays pending instead of stopping an injected call. */
int rst_block_signals(struct rst_ctx *c, struct rst_proc *p, pid_t tid)
{
    uint64_t all = ~0ull;
    if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(all), &all) < 0)
        return rst_fail(c, errno, "pid %d: PTRACE_SETSIGMASK on thread %d failed: %s", p->proc->pid, tid, strerror(errno));
    return 0;
}

int rst_inject(struct rst_ctx *c, struct rst_proc *p, pid_t tid, long nr, const long args[6], long *ret)
{
    struct user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, tid, 0, &regs) < 0)
        return rst_fail(c, errno, "PTRACE_GETREGS on %d failed: %s", tid, strerror(errno));
    regs.rip = p->gadget;
    regs.rax = (unsigned long long)nr;
    regs.orig_rax = (unsigned long long)-1;
    regs.rdi = (unsigned long long)args[0];
    regs.rsi = (unsigned long long)args[1];
    regs.rdx = (unsigned long long)args[2];
    regs.r10 = (unsigned long long)args[3];
    regs.r8 = (unsigned long long)args[4];
    regs.r9 = (unsigned long long)args[5];
    if (ptrace(PTRACE_SETREGS, tid, 0, &regs) < 0)
        return rst_fail(c, errno, "PTRACE_SETREGS on %d failed: %s", tid, strerror(errno));
    int r;
    if ((r = resume_to_syscall_stop(c, tid)) || (r = resume_to_syscall_stop(c, tid)))
        return r;
    if (ptrace(PTRACE_GETREGS, tid, 0, &regs) < 0)
        return rst_fail(c, errno, "PTRACE_GETREGS on %d failed: %s", tid, strerror(errno));
    *ret = (long)regs.rax;
    return 0;
}

int rst_inject_ok(struct rst_ctx *c, struct rst_proc *p, pid_t tid, long nr, const long args[6], long *ret,
                  const char *what)
{
    long v;
    int r = rst_inject(c, p, tid, nr, args, &v);
    if (r)
        return r;
    if (v < 0 && v > -4096)
        return rst_fail(c, (int)-v, "restoring pid %d: %s failed: %s", p->proc->pid, what, strerror((int)-v));
    if (ret)
        *ret = v;
    return 0;
}

/* A `syscall` instruction (0f 05) anywhere in the seed's executable mappings serves the first
 * injection, the one that maps the gadget page. */
static int find_seed_syscall(struct rst_ctx *c, struct rst_proc *p, uint64_t *addr)
{
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/%d/maps", p->new_pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return rst_fail(c, errno, "cannot open %s: %s", path, strerror(errno));
    int r = open_mem(c, p);
    if (r) {
        fclose(f);
        return r;
    }
    int found = 0;
    while (!found && fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) != 3 || perms[2] != 'x' || strstr(line, "[vsyscall]"))
            continue;
        size_t len = hi - lo;
        uint8_t *buf = malloc(len);
        if (!buf)
            break;
        if (pread(p->mem_fd, buf, len, (off_t)lo) == (ssize_t)len) {
            uint8_t *hit = memmem(buf, len, "\x0f\x05", 2);
            if (hit) {
                *addr = lo + (uint64_t)(hit - buf);
                found = 1;
            }
        }
        free(buf);
    }
    fclose(f);
    if (!found)
        return rst_fail(c, ENOEXEC, "no syscall instruction found in seed %d (%s)", p->new_pid, c->seed_path);
    return 0;
}

int rst_seed_map_gadget(struct rst_ctx *c, struct rst_proc *p)
{
    int r = find_seed_syscall(c, p, &p->gadget);
    if (r)
        return r;
    long args[6] = { (long)c->gadget_addr, RST_GADGET_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0 };
    long got;
    if ((r = rst_inject_ok(c, p, p->new_pid, SYS_mmap, args, &got, "mmap of the restorer's gadget page")))
        return r;
    if ((uint64_t)got != c->gadget_addr)
        return rst_fail(c, EEXIST, "gadget page of pid %d landed at %#lx, not %#llx", p->proc->pid, got,
                        (unsigned long long)c->gadget_addr);
    static const uint8_t code[] = { 0x0f, 0x05, 0xcc }; /* syscall; int3 */
    if ((r = rst_write_remote(c, p, c->gadget_addr, code, sizeof(code))))
        return r;
    p->gadget = c->gadget_addr;
    return 0;
}

/* The parent's seed forks the child's seed: clone3 with set_tid = the captured PID (or any PID when
 * it is taken), exit_signal as captured. The child is auto-attached (PTRACE_O_TRACEFORK/CLONE). */
int rst_seed_fork_child(struct rst_ctx *c, struct rst_proc *parent, struct rst_proc *child)
{
    struct {
        struct clone_args ca;
        pid_t set_tid[1];
    } a;
    memset(&a, 0, sizeof(a));
    int sig = child->proc->exit_signal;
    a.ca.exit_signal = (uint64_t)(sig > 0 && sig < 65 ? sig : SIGCHLD);
    a.set_tid[0] = child->proc->pid;
    uint64_t where = rst_scratch(parent);
    a.ca.set_tid = where + offsetof(__typeof__(a), set_tid);
    a.ca.set_tid_size = 1;
    int r;
    if ((r = rst_write_remote(c, parent, where, &a, sizeof(a))))
        return r;
    long args[6] = { (long)where, sizeof(a.ca), 0, 0, 0, 0 };
    long pid;
    if ((r = rst_inject(c, parent, parent->new_pid, SYS_clone3, args, &pid)))
        return r;
    if (pid == -EEXIST) {
        a.ca.set_tid = 0;
        a.ca.set_tid_size = 0;
        if ((r = rst_write_remote(c, parent, where, &a, sizeof(a))))
            return r;
        if ((r = rst_inject(c, parent, parent->new_pid, SYS_clone3, args, &pid)))
            return r;
    }
    if (pid <= 0)
        return rst_fail(c, (int)-pid, "clone3 of the seed for child %d of %d failed: %s", child->proc->pid,
                        parent->proc->pid, strerror((int)-pid));
    child->new_pid = (pid_t)pid;
    child->threads[0].new_tid = (pid_t)pid;
    child->threads[0].traced = 1;
    child->gadget = parent->gadget;
    int status;
    if ((r = rst_wait_stop(c, child->new_pid, &status)))
        return r;
    return rst_block_signals(c, child, child->new_pid);
}
