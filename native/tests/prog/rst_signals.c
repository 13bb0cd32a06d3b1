/* Restore test program: signal and process state — a SIGUSR1 handler that still fires on demand,
 * on an alternate signal stack, SIGTERM ignored, SIGRTMIN blocked with one queued instance (value 42) still pending, plus umask,
 * cwd (argv[1]), a soft RLIMIT_NOFILE of 777 and an armed ITIMER_REAL (1000 s). Prints READY, then PASS/FAIL as every rst_*
 * program. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t verify_requested, usr1_count, usr1_on_altstack;
static char altstack[64 * 1024];

static void on_usr2(int sig)
{
    (void)sig;
    verify_requested = 1;
}

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    if (si->si_code == SI_TKILL || si->si_code == SI_USER)
        usr1_count++;
    char here;
    if (&here >= altstack && &here < altstack + sizeof(altstack))
        usr1_on_altstack++;
}

static int fail(const char *why)
{
    printf("FAIL rst_signals: %s\n", why);
    fflush(stdout);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || chdir(argv[1]))
        return fail("usage: rst_signals DIR");
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
    if (sigaltstack(&ss, NULL))
        return fail("sigaltstack failed");
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigaddset(&sa.sa_mask, SIGUSR2);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGTERM, SIG_IGN);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &block, NULL);
    union sigval v = { .sival_int = 42 };
    sigqueue(getpid(), SIGRTMIN, v);
    umask(027);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = 777;
    setrlimit(RLIMIT_NOFILE, &rl);
    struct itimerval armed = { .it_value = { 1000, 0 } };
    setitimer(ITIMER_REAL, &armed, NULL);
    char cwd_before[4096];
    if (!getcwd(cwd_before, sizeof(cwd_before)))
        return fail("getcwd failed");
    printf("READY\n");
    fflush(stdout);
    while (!verify_requested) {
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    raise(SIGUSR1);
    raise(SIGUSR1);
    if (usr1_count != 2)
        return fail("the SIGUSR1 handler did not fire twice");
    if (usr1_on_altstack != 2)
        return fail("the SIGUSR1 handler did not run on the alternate signal stack");
    struct sigaction old;
    sigaction(SIGUSR1, NULL, &old);
    if (!(old.sa_flags & SA_SIGINFO) || !(old.sa_flags & SA_RESTART) || !sigismember(&old.sa_mask, SIGUSR2))
        return fail("SIGUSR1 action flags or mask lost");
    sigaction(SIGTERM, NULL, &old);
    if (old.sa_handler != SIG_IGN)
        return fail("SIGTERM is no longer ignored");
    sigset_t cur, pend;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    if (!sigismember(&cur, SIGRTMIN))
        return fail("SIGRTMIN is no longer blocked");
    sigpending(&pend);
    if (!sigismember(&pend, SIGRTMIN))
        return fail("the queued SIGRTMIN is no longer pending");
    siginfo_t si;
    struct timespec zero = { 0, 0 };
    if (sigtimedwait(&block, &si, &zero) != SIGRTMIN || si.si_value.sival_int != 42 || si.si_code != SI_QUEUE)
        return fail("the pending SIGRTMIN lost its value");
    mode_t m = umask(0);
    if (m != 027)
        return fail("umask lost");
    char cwd[4096];
    if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, cwd_before))
        return fail("cwd lost");
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur != 777)
        return fail("RLIMIT_NOFILE lost");
    struct itimerval left;
    getitimer(ITIMER_REAL, &left);
    if (left.it_value.tv_sec <= 0 || left.it_value.tv_sec > 1000)
        return fail("ITIMER_REAL is no longer armed");
    printf("PASS rst_signals\n");
    fflush(stdout);
    return 0;
}
