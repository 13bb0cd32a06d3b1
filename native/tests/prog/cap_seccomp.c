/*
 * cap_seccomp — runs under a seccomp filter that kills the process on getitimer(2), one of the calls
 * the engine injects while capturing. The engine must suspend the filter while it holds the process.
 * READY, then on "q": PASS (being alive is the check: a filter hit would have killed it).
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sock_filter prog[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getitimer, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog fp = { .len = sizeof(prog) / sizeof(prog[0]), .filter = prog };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp)) {
        printf("FAIL seccomp: %d\n", errno);
        return 1;
    }
    printf("READY filtered=getitimer\n");
    char cmd[8];
    while (read(0, cmd, sizeof(cmd)) < 0 && errno == EINTR)
        ;
    printf("PASS\n");
    return 0;
}
