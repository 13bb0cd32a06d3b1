/* Restore test program: a process blocked in a restartable syscall — `nanosleep`, `read` on a pipe
 * or `poll` (argv[1]) — must be back inside it after restore, not woken early. On SIGUSR2 the handler
 * (installed without SA_RESTART) sets a flag and writes one byte to the wake pipe; the call must then
 * return because of that, and the buffered bytes left in a second pipe before the checkpoint must
 * still be there. Prints READY, then PASS/FAIL as every rst_* program. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t verify_requested;
static int wake[2], buffered[2];

static void on_usr2(int sig)
{
    (void)sig;
    verify_requested = 1;
    char x = 'x';
    ssize_t n = write(wake[1], &x, 1);
    (void)n;
}

static int fail(const char *mode, const char *why)
{
    printf("FAIL rst_sleep_%s: %s\n", mode, why);
    fflush(stdout);
    return 1;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "nanosleep";
    if (pipe(wake) || pipe(buffered))
        return fail(mode, "pipe failed");
    static const char msg[] = "bytes buffered across the checkpoint";
    if (write(buffered[1], msg, sizeof(msg)) != (ssize_t)sizeof(msg))
        return fail(mode, "write failed");
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    printf("READY\n");
    fflush(stdout);
    if (!strcmp(mode, "nanosleep")) {
        struct timespec ts = { .tv_sec = 3600 };
        int r = nanosleep(&ts, &ts);
        if (r == 0)
            return fail(mode, "nanosleep(3600 s) returned 0");
        if (errno != EINTR || !verify_requested)
            return fail(mode, "nanosleep woke without SIGUSR2");
    } else if (!strcmp(mode, "read")) {
        char c = 0;
        ssize_t n = read(wake[0], &c, 1);
        if (n < 0 && errno == EINTR) {
            if (!verify_requested)
                return fail(mode, "read interrupted without SIGUSR2");
            n = read(wake[0], &c, 1);
        }
        if (n != 1 || c != 'x' || !verify_requested)
            return fail(mode, "read returned without the wake byte");
    } else if (!strcmp(mode, "poll")) {
        struct pollfd pfd = { .fd = wake[0], .events = POLLIN };
        int r = poll(&pfd, 1, 3600 * 1000);
        if (r < 0 && errno == EINTR) {
            if (!verify_requested)
                return fail(mode, "poll interrupted without SIGUSR2");
        } else if (r != 1 || !verify_requested) {
            return fail(mode, "poll returned without SIGUSR2");
        }
    } else {
        return fail(mode, "unknown mode");
    }
    char got[sizeof(msg)] = "";
    if (read(buffered[0], got, sizeof(got)) != (ssize_t)sizeof(msg) || memcmp(got, msg, sizeof(msg)))
        return fail(mode, "the buffered pipe bytes are gone");
    printf("PASS rst_sleep_%s\n", mode);
    fflush(stdout);
    return 0;
}
