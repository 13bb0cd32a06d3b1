/*
 * cap_fds — one descriptor of each kind the engine classifies beyond plain files: a memfd (also
 * mapped shared), a timerfd, a signalfd, an epoll set, an inotify watch, a unix socketpair, a
 * listening abstract unix socket, a listening TCP socket (backlog 7), a bound UDP socket and a named
 * FIFO holding 3 bytes. READY lists the fd numbers; on "q" it checks everything still works: PASS/FAIL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int memfd = memfd_create("sls-test", 0);
    if (write(memfd, "memfd contents", 14) != 14 || ftruncate(memfd, 8192))
        return 1;
    char *mem = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    mem[4096] = 'M';

    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct itimerspec its = { .it_interval = { 5, 0 }, .it_value = { 100, 0 } };
    timerfd_settime(tfd, 0, &its, NULL);

    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGUSR2);
    sigprocmask(SIG_BLOCK, &ss, NULL);
    int sfd = signalfd(-1, &ss, SFD_NONBLOCK);

    int efd = eventfd(3, 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0x1234 };
    epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);

    int ino = inotify_init1(IN_NONBLOCK);
    int wd = inotify_add_watch(ino, "/tmp", IN_CREATE | IN_DELETE);

    int sp[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sp);

    int ul = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un ua = { .sun_family = AF_UNIX };
    snprintf(ua.sun_path + 1, sizeof(ua.sun_path) - 1, "sls-test-%d", getpid());
    socklen_t ualen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(ua.sun_path + 1));
    if (bind(ul, (struct sockaddr *)&ua, ualen) || listen(ul, 3))
        return 1;

    int tl = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in ta = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t tal = sizeof(ta);
    if (bind(tl, (struct sockaddr *)&ta, sizeof(ta)) || listen(tl, 7) ||
        getsockname(tl, (struct sockaddr *)&ta, &tal))
        return 1;

    int us = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in uda = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t udl = sizeof(uda);
    if (bind(us, (struct sockaddr *)&uda, sizeof(uda)) || getsockname(us, (struct sockaddr *)&uda, &udl))
        return 1;

    char fifo[64];
    snprintf(fifo, sizeof(fifo), "/tmp/cap_fds.%d.fifo", getpid());
    mkfifo(fifo, 0600);
    int ff = open(fifo, O_RDWR | O_NONBLOCK);
    if (write(ff, "abc", 3) != 3)
        return 1;

    printf("READY memfd=%d mem=%p tfd=%d sfd=%d efd=%d ep=%d ino=%d wd=%d sp0=%d sp1=%d ul=%d tl=%d "
           "tport=%d us=%d uport=%d ff=%d\n", memfd, (void *)mem, tfd, sfd, efd, ep, ino, wd, sp[0], sp[1],
           ul, tl, ntohs(ta.sin_port), us, ntohs(uda.sin_port), ff);

    char cmd[8];
    while (read(0, cmd, sizeof(cmd)) < 0 && errno == EINTR)
        ;
    const char *failure = NULL;
    char buf[32] = "";
    if (pread(memfd, buf, 14, 0) != 14 || memcmp(buf, "memfd contents", 14) || mem[4096] != 'M')
        failure = "memfd contents changed";
    struct itimerspec cur;
    timerfd_gettime(tfd, &cur);
    if (cur.it_interval.tv_sec != 5 || cur.it_value.tv_sec < 90)
        failure = "timerfd was disarmed or changed";
    struct epoll_event out;
    if (epoll_wait(ep, &out, 1, 0) != 1 || out.data.u64 != 0x1234)
        failure = "epoll set changed";
    if (write(sp[0], "x", 1) != 1 || read(sp[1], buf, 1) != 1 || buf[0] != 'x')
        failure = "socketpair broken";
    if (read(ff, buf, 3) != 3 || memcmp(buf, "abc", 3))
        failure = "FIFO bytes were consumed";
    unlink(fifo);
    if (failure) {
        printf("FAIL %s\n", failure);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
