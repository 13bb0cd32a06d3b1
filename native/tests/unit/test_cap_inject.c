/* Syscall injection: the injected call runs in the target and nothing of the target changes. */
#include "sls_test.h"
#include "inject.h"

#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void on_usr1(int sig) { (void)sig; }

/* Child: installs a SIGUSR1 handler, tells the parent, then sleeps 400 ms in one nanosleep and exits
 * 0 only if that sleep was neither interrupted nor cut short. */
static pid_t start_sleeper(void)
{
    int p[2];
    if (pipe(p))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
        sigemptyset(&sa.sa_mask);
        sigaddset(&sa.sa_mask, SIGUSR2);
        sigaction(SIGUSR1, &sa, NULL);
        struct timespec t0, t1, d = { 0, 400 * 1000000L };
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (write(p[1], "r", 1) != 1)
            _exit(3);
        int rc = nanosleep(&d, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        _exit(rc != 0 ? 1 : ms < 395 ? 2 : 0);
    }
    char c;
    close(p[1]);
    if (read(p[0], &c, 1) != 1)
        pid = -1;
    close(p[0]);
    usleep(50 * 1000); /* let it enter nanosleep */
    return pid;
}

static int seize_and_stop(pid_t pid)
{
    if (ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)PTRACE_O_TRACESYSGOOD))
        return -errno;
    if (ptrace(PTRACE_INTERRUPT, pid, 0, 0))
        return -errno;
    int st;
    if (waitpid(pid, &st, __WALL) != pid || !WIFSTOPPED(st))
        return -ECHILD;
    return 0;
}

static int get_regs(pid_t tid, struct user_regs_struct *r)
{
    struct iovec iov = { r, sizeof(*r) };
    return ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &iov);
}

TEST_CASE(injected_getpid_returns_target_pid_and_registers_are_unchanged)
{
    char err[256] = "";
    pid_t pid = start_sleeper();
    REQUIRE(pid > 0, "could not start the sleeper");
    int rc = seize_and_stop(pid);
    REQUIRE(rc == 0, "seize/interrupt: %s", strerror(-rc));
    struct user_regs_struct before, after;
    get_regs(pid, &before);
    long args[6] = { 0 }, ret = 0;
    rc = sls_inject_syscall(pid, SYS_getpid, args, &ret, err, sizeof(err));
    EXPECT(rc == 0, "inject: %s", err);
    EXPECT(ret == pid, "getpid in target returned %ld, want %d", ret, pid);
    get_regs(pid, &after);
    EXPECT(memcmp(&before, &after, sizeof(before)) == 0, "registers differ after injection");
    EXPECT(before.orig_rax == SYS_nanosleep || before.orig_rax == SYS_clock_nanosleep,
           "target was not stopped in its sleep (orig_rax %lld)", (long long)before.orig_rax);
    ptrace(PTRACE_DETACH, pid, 0, 0);
    int st;
    waitpid(pid, &st, 0);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0,
           "sleeper saw its nanosleep disturbed (status %#x: 1 = EINTR, 2 = cut short)", st);
out:;
}

TEST_CASE(injected_rt_sigaction_reads_the_handler_through_a_scratch_buffer)
{
    char err[256] = "";
    pid_t pid = start_sleeper();
    REQUIRE(pid > 0, "could not start the sleeper");
    int rc = seize_and_stop(pid);
    REQUIRE(rc == 0, "seize/interrupt: %s", strerror(-rc));
    struct sls_injector inj;
    rc = sls_injector_open(&inj, pid, err, sizeof(err));
    REQUIRE(rc == 0, "open: %s", err);
    EXPECT(inj.gadget != 0, "no syscall instruction found in [vdso]");
    struct { unsigned long handler, flags, restorer, mask; } act;
    memset(&act, 0xaa, sizeof(act));
    long args[6] = { SIGUSR1, 0, 0, 8, 0, 0 }, ret = -1;
    rc = sls_injector_call_buf(&inj, SYS_rt_sigaction, args, 2, &act, sizeof(act), &ret, err,
                               sizeof(err));
    EXPECT(rc == 0 && ret == 0, "rt_sigaction: rc %d ret %ld %s", rc, ret, err);
    EXPECT(act.handler == (unsigned long)on_usr1, "handler %#lx, want %#lx", act.handler,
           (unsigned long)on_usr1);
    EXPECT(act.flags & SA_RESTART, "SA_RESTART missing from flags %#lx", act.flags);
    EXPECT(act.mask == 1ul << (SIGUSR2 - 1), "mask %#lx", act.mask);
    sls_injector_close(&inj, err, sizeof(err));
    ptrace(PTRACE_DETACH, pid, 0, 0);
    int st;
    waitpid(pid, &st, 0);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "sleeper disturbed (status %#x)", st);
out:;
}

TEST_CASE(signal_sent_while_frozen_is_delivered_once_after_detach)
{
    char err[256] = "";
    pid_t pid = start_sleeper();
    REQUIRE(pid > 0, "could not start the sleeper");
    int rc = seize_and_stop(pid);
    REQUIRE(rc == 0, "seize/interrupt: %s", strerror(-rc));
    kill(pid, SIGTERM); /* default action: terminate. It must survive the injection and act after. */
    long args[6] = { 0 }, ret = 0;
    rc = sls_inject_syscall(pid, SYS_getpid, args, &ret, err, sizeof(err));
    EXPECT(rc == 0 && ret == pid, "inject: rc %d ret %ld %s", rc, ret, err);
    ptrace(PTRACE_DETACH, pid, 0, 0);
    int st;
    waitpid(pid, &st, 0);
    EXPECT(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "SIGTERM was lost (status %#x)", st);
out:;
}

int main(void)
{
    RUN(injected_getpid_returns_target_pid_and_registers_are_unchanged);
    RUN(injected_rt_sigaction_reads_the_handler_through_a_scratch_buffer);
    RUN(signal_sent_while_frozen_is_delivered_once_after_detach);
    return TEST_EXIT();
}
