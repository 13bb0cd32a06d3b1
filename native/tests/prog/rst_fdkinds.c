/* Restore test program: file descriptors of the kinds the restorer makes itself — a FIFO with
 * buffered bytes, an eventfd with a count, an epoll set watching it (with its data word), an armed
 * timerfd and an expired one with an unread tick, a signalfd, a memfd with contents and an offset,
 * a directory fd, /dev/null and a regular file that was unlinked while open. argv[1] is a directory for the FIFO. Prints READY, then PASS/FAIL as
 * every rst_* program. */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t verify_requested;

static void on_usr2(int sig)
{
    (void)sig;
    verify_requested = 1;
}

static int fail(const char *why)
{
    printf("FAIL rst_fdkinds: %s\n", why);
    fflush(stdout);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return fail("usage: rst_fdkinds DIR");
    signal(SIGUSR2, on_usr2);
    char fifo[4096];
    snprintf(fifo, sizeof(fifo), "%s/fifo", argv[1]);
    static const char fifo_msg[] = "bytes waiting in the fifo";
    static const char memfd_msg[] = "contents of the memfd";
    if (mkfifo(fifo, 0600))
        return fail("mkfifo failed");
    int fifo_r = open(fifo, O_RDONLY | O_NONBLOCK);
    int fifo_w = open(fifo, O_WRONLY);
    int efd = eventfd(5, EFD_NONBLOCK);
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x1234 };
    int armed = timerfd_create(CLOCK_MONOTONIC, 0);
    int expired = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct itimerspec in1000 = { .it_interval = { 1, 0 }, .it_value = { 1000, 0 } };
    struct itimerspec soon = { .it_value = { 0, 1000000 } };
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, NULL);
    int sfd = signalfd(-1, &usr1, SFD_NONBLOCK);
    int mfd = memfd_create("rst-memfd", 0);
    int dirfd = open(argv[1], O_RDONLY | O_DIRECTORY);
    int devnull = open("/dev/null", O_WRONLY);
    static const char unlinked_msg[] = "contents of an unlinked file";
    char unlinked_path[4200];
    snprintf(unlinked_path, sizeof(unlinked_path), "%s/unlinked", argv[1]);
    int unl = open(unlinked_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (unl < 0 || write(unl, unlinked_msg, sizeof(unlinked_msg)) != (ssize_t)sizeof(unlinked_msg) ||
        unlink(unlinked_path) || lseek(unl, 3, SEEK_SET) != 3)
        return fail("setting up the unlinked file failed");
    if (fifo_r < 0 || fifo_w < 0 || efd < 0 || ep < 0 || armed < 0 || expired < 0 || sfd < 0 || mfd < 0 ||
        dirfd < 0 || devnull < 0)
        return fail("setting up the fds failed");
    if (write(fifo_w, fifo_msg, sizeof(fifo_msg)) != (ssize_t)sizeof(fifo_msg) ||
        epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) || timerfd_settime(armed, 0, &in1000, NULL) ||
        timerfd_settime(expired, 0, &soon, NULL) || write(mfd, memfd_msg, sizeof(memfd_msg)) != (ssize_t)sizeof(memfd_msg) ||
        lseek(mfd, 9, SEEK_SET) != 9)
        return fail("filling the fds failed");
    struct stat dir_before;
    fstat(dirfd, &dir_before);
    struct timespec wait_tick = { 0, 20 * 1000 * 1000 };
    nanosleep(&wait_tick, NULL); /* the expired timer now holds one unread tick */
    printf("READY\n");
    fflush(stdout);
    while (!verify_requested) {
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    char buf[64] = "";
    if (read(fifo_r, buf, sizeof(buf)) != (ssize_t)sizeof(fifo_msg) || memcmp(buf, fifo_msg, sizeof(fifo_msg)))
        return fail("the FIFO lost its buffered bytes");
    struct epoll_event got;
    if (epoll_wait(ep, &got, 1, 1000) != 1 || got.data.u64 != 0x1234 || !(got.events & EPOLLIN))
        return fail("the epoll set does not report the eventfd");
    uint64_t count = 0;
    if (read(efd, &count, sizeof(count)) != sizeof(count) || count != 5)
        return fail("the eventfd count is not 5");
    struct itimerspec left;
    if (timerfd_gettime(armed, &left) || left.it_value.tv_sec <= 0 || left.it_value.tv_sec > 1000 ||
        left.it_interval.tv_sec != 1)
        return fail("the armed timerfd is not armed any more");
    uint64_t ticks = 0;
    if (read(expired, &ticks, sizeof(ticks)) != sizeof(ticks) || ticks != 1)
        return fail("the expired timerfd lost its tick");
    raise(SIGUSR1);
    struct signalfd_siginfo si;
    if (read(sfd, &si, sizeof(si)) != sizeof(si) || si.ssi_signo != SIGUSR1)
        return fail("the signalfd does not deliver SIGUSR1");
    char mbuf[64] = "";
    if (read(mfd, mbuf, sizeof(mbuf)) != (ssize_t)sizeof(memfd_msg) - 9 || strcmp(mbuf, memfd_msg + 9))
        return fail("the memfd lost its contents or offset");
    struct stat dir_after;
    if (fstat(dirfd, &dir_after) || dir_after.st_ino != dir_before.st_ino)
        return fail("the directory fd points elsewhere");
    if (write(devnull, "x", 1) != 1)
        return fail("/dev/null is not writable");
    struct stat ust;
    char ubuf[64] = "";
    if (fstat(unl, &ust) || ust.st_nlink != 0 || !S_ISREG(ust.st_mode))
        return fail("the unlinked file is not an unlinked regular file any more");
    if (read(unl, ubuf, sizeof(ubuf)) != (ssize_t)sizeof(unlinked_msg) - 3 || strcmp(ubuf, unlinked_msg + 3))
        return fail("the unlinked file lost its contents or offset");
    printf("PASS rst_fdkinds\n");
    fflush(stdout);
    return 0;
}
