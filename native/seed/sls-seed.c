/*
 * sls-seed — the body every restored process starts from, and its launcher.
 *
 *   sls-seed launch PID GO_FD REPORT_FD
 *       Run by sls_restore with posix_spawn (cheap even from a large JVM: no page tables are copied,
 *       unlike fork). Creates the seed with clone3 set_tid = PID (any PID when that one is taken),
 *       writes {pid, errno of set_tid} to REPORT_FD and exits, so the seed is not a child of the
 *       caller. The seed waits for one byte on GO_FD — sent once the engine has PTRACE_SEIZEd it —
 *       and execs this binary again, without arguments.
 *   sls-seed
 *       The seed proper. The engine stops it at execve's syscall-exit, before any of its code runs,
 *       unmaps all of it and rebuilds the captured process around an injection gadget
 *       (native/src/restore_seed.c). If it ever runs — the engine died between exec and rebuild,
 *       which PTRACE_O_EXITKILL normally prevents — it sleeps harmlessly.
 *
 * Static, so that nothing but its own image needs clearing away. Only raw system calls between the
 * clone3 and the exec.
 */
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static int launch(pid_t want, int go_fd, int report_fd)
{
    pid_t set_tid[1] = { want };
    struct clone_args ca;
    memset(&ca, 0, sizeof(ca));
    ca.exit_signal = SIGCHLD;
    ca.set_tid = (uint64_t)(uintptr_t)set_tid;
    ca.set_tid_size = 1;
    long pid = syscall(SYS_clone3, &ca, sizeof(ca));
    int settid_errno = 0;
    if (pid < 0) {
        settid_errno = errno;
        ca.set_tid = 0;
        ca.set_tid_size = 0;
        pid = syscall(SYS_clone3, &ca, sizeof(ca));
    }
    if (pid == 0) {
        char go;
        while (read(go_fd, &go, 1) < 0 && errno == EINTR)
            ;
        syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
        char *argv[] = { (char *)"sls-seed", NULL };
        char *envp[] = { NULL };
        execve("/proc/self/exe", argv, envp);
        _exit(127);
    }
    int32_t report[2] = { (int32_t)pid, pid < 0 ? errno : settid_errno };
    if (write(report_fd, report, sizeof(report)) != (ssize_t)sizeof(report))
        return 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "launch"))
        return launch((pid_t)atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
    for (;;)
        pause();
}
