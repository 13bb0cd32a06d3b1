/* Restore test program: sockets — a TCP listener on a loopback port, a unix listener bound to a
 * path in argv[1], a unix socketpair, a bound UDP socket, and (where the kernel has IPv6) an IPv4
 * and an IPV6_V6ONLY IPv6 wildcard listener on one port, as redis' default "bind * -::*" makes.
 * After restore each must work: new TCP (both families) and unix connections are accepted, the
 * pair carries bytes both ways, and a datagram sent to the UDP socket's own address arrives. Prints READY, then PASS/FAIL as every rst_* program. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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
    printf("FAIL rst_sockets: %s\n", why);
    fflush(stdout);
    return 1;
}

/* Connects to a restored listener at addr, accepts, and sends msg through: NULL, or what failed. */
static const char *echo_through(int listener, const struct sockaddr *addr, socklen_t len,
                                const char *msg, const char *name)
{
    static char why[96];
    char buf[16] = { 0 };
    size_t n = strlen(msg) + 1;
    int c = socket(addr->sa_family, SOCK_STREAM, 0);
    if (c < 0 || connect(c, addr, len)) {
        snprintf(why, sizeof(why), "cannot connect to the restored %s listener", name);
        return why;
    }
    int a = accept(listener, NULL, NULL);
    if (a < 0 || write(c, msg, n) != (ssize_t)n || read(a, buf, sizeof(buf)) != (ssize_t)n || strcmp(buf, msg)) {
        snprintf(why, sizeof(why), "the restored %s listener does not accept", name);
        return why;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return fail("usage: rst_sockets DIR");
    signal(SIGUSR2, on_usr2);
    struct sockaddr_in tcp_addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(tcp_addr);
    int tcp = socket(AF_INET, SOCK_STREAM, 0);
    if (tcp < 0 || bind(tcp, (struct sockaddr *)&tcp_addr, sizeof(tcp_addr)) || listen(tcp, 8) ||
        getsockname(tcp, (struct sockaddr *)&tcp_addr, &len))
        return fail("TCP listener setup failed");
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    snprintf(un.sun_path, sizeof(un.sun_path), "%s/listener.sock", argv[1]);
    int ul = socket(AF_UNIX, SOCK_STREAM, 0);
    if (ul < 0 || bind(ul, (struct sockaddr *)&un, sizeof(un)) || listen(ul, 8))
        return fail("unix listener setup failed");
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair))
        return fail("socketpair failed");
    struct sockaddr_in udp_addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    len = sizeof(udp_addr);
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    if (udp < 0 || bind(udp, (struct sockaddr *)&udp_addr, sizeof(udp_addr)) ||
        getsockname(udp, (struct sockaddr *)&udp_addr, &len))
        return fail("UDP setup failed");
    /* dual stack: 0.0.0.0:P and [::]:P with IPV6_V6ONLY */
    struct sockaddr_in any4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
    struct sockaddr_in6 any6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
    int l4 = socket(AF_INET, SOCK_STREAM, 0), l6 = socket(AF_INET6, SOCK_STREAM, 0), one = 1;
    len = sizeof(any4);
    if (l4 < 0 || bind(l4, (struct sockaddr *)&any4, sizeof(any4)) || listen(l4, 8) ||
        getsockname(l4, (struct sockaddr *)&any4, &len))
        return fail("IPv4 wildcard listener setup failed");
    if (l6 >= 0) {
        any6.sin6_port = any4.sin_port;
        if (setsockopt(l6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) ||
            bind(l6, (struct sockaddr *)&any6, sizeof(any6)) || listen(l6, 8))
            return fail("IPv6 V6ONLY listener on the IPv4 listener's port: setup failed");
    }
    printf("READY\n");
    fflush(stdout);
    while (!verify_requested) {
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&tcp_addr, sizeof(tcp_addr)))
        return fail("cannot connect to the restored TCP listener");
    int a = accept(tcp, NULL, NULL);
    char buf[16] = "";
    if (a < 0 || write(c, "tcp", 4) != 4 || read(a, buf, sizeof(buf)) != 4 || strcmp(buf, "tcp"))
        return fail("the restored TCP listener does not accept");
    int uc = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(uc, (struct sockaddr *)&un, sizeof(un)))
        return fail("cannot connect to the restored unix listener");
    int ua = accept(ul, NULL, NULL);
    if (ua < 0 || write(uc, "unix", 5) != 5 || read(ua, buf, sizeof(buf)) != 5 || strcmp(buf, "unix"))
        return fail("the restored unix listener does not accept");
    if (write(pair[0], "ping", 5) != 5 || read(pair[1], buf, sizeof(buf)) != 5 || strcmp(buf, "ping") ||
        write(pair[1], "pong", 5) != 5 || read(pair[0], buf, sizeof(buf)) != 5 || strcmp(buf, "pong"))
        return fail("the socketpair is not a pair any more");
    if (sendto(udp, "udp", 4, 0, (struct sockaddr *)&udp_addr, sizeof(udp_addr)) != 4 ||
        recv(udp, buf, sizeof(buf), 0) != 4 || strcmp(buf, "udp"))
        return fail("the UDP socket lost its address");
    if (l6 >= 0) {
        int v = 0;
        socklen_t vl = sizeof(v);
        if (getsockopt(l6, IPPROTO_IPV6, IPV6_V6ONLY, &v, &vl) || !v)
            return fail("the restored IPv6 listener is no longer IPV6_V6ONLY");
        struct sockaddr_in6 lo6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT,
                                    .sin6_port = any4.sin_port };
        const char *why = echo_through(l6, (struct sockaddr *)&lo6, sizeof(lo6), "six", "IPv6");
        if (why)
            return fail(why);
    }
    struct sockaddr_in lo4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                               .sin_port = any4.sin_port };
    const char *why = echo_through(l4, (struct sockaddr *)&lo4, sizeof(lo4), "four", "IPv4 wildcard");
    if (why)
        return fail(why);
    printf("PASS rst_sockets\n");
    fflush(stdout);
    return 0;
}
