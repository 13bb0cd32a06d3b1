/*
 * fd_socket.c — sockets, examined on a duplicate taken with pidfd_getfd (getsockname, getpeername,
 * SO_DOMAIN/TYPE/PROTOCOL, TCP_INFO); the peer of a unix socket comes from sock_diag.
 * Captured: unix sockets without queued data, listening or unconnected TCP, UDP without queued
 * datagrams; TCP connections are recorded as closed on restore (SLS_SOCK_CLOSED_ON_RESTORE).
 * Anything else (netlink, packet, raw...) is refused by name.
 */
#include "fds_int.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <dirent.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void addr_text(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *a = (const void *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        snprintf(out, outlen, "%s:%u", host, ntohs(a->sin_port));
    } else if (ss->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *a = (const void *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        snprintf(out, outlen, "[%s]:%u", host, ntohs(a->sin6_port));
    } else {
        snprintf(out, outlen, "?");
    }
}

/* The inode of the peer of unix socket `ino`, 0 if none (sock_diag UNIX_DIAG_PEER). */
static uint64_t unix_peer_ino(uint64_t ino)
{
    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0)
        return 0;
    struct {
        struct nlmsghdr h;
        struct unix_diag_req r;
    } req = {
        .h = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
               .nlmsg_flags = NLM_F_REQUEST },
        .r = { .sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_ino = (uint32_t)ino,
               .udiag_show = UDIAG_SHOW_PEER, .udiag_cookie = { ~0u, ~0u } },
    };
    uint64_t peer = 0;
    if (send(nl, &req, sizeof(req), 0) == (ssize_t)sizeof(req)) {
        char buf[8192];
        ssize_t n = recv(nl, buf, sizeof(buf), 0);
        struct nlmsghdr *h = (struct nlmsghdr *)buf;
        if (n > 0 && NLMSG_OK(h, (unsigned)n) && h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
            struct unix_diag_msg *m = NLMSG_DATA(h);
            struct rtattr *a = (struct rtattr *)(m + 1);
            int alen = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
            for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen))
                if (a->rta_type == UNIX_DIAG_PEER)
                    peer = *(uint32_t *)RTA_DATA(a);
        }
    }
    close(nl);
    return peer;
}

/* The inode of the other end of TCP connection local -> peer on this host, 0 if it is not local
 * (sock_diag lookup of the reversed 4-tuple). */
static uint64_t tcp_peer_ino(const struct sockaddr_storage *local, const struct sockaddr_storage *peer)
{
    struct {
        struct nlmsghdr h;
        struct inet_diag_req_v2 r;
    } req = {
        .h = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST },
        .r = { .sdiag_family = (uint8_t)local->ss_family, .sdiag_protocol = IPPROTO_TCP, .idiag_states = ~0u,
               .id = { .idiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } } },
    };
    if (local->ss_family == AF_INET) {
        const struct sockaddr_in *l = (const void *)local, *pe = (const void *)peer;
        req.r.id.idiag_sport = pe->sin_port;
        req.r.id.idiag_dport = l->sin_port;
        memcpy(req.r.id.idiag_src, &pe->sin_addr, 4);
        memcpy(req.r.id.idiag_dst, &l->sin_addr, 4);
    } else {
        const struct sockaddr_in6 *l = (const void *)local, *pe = (const void *)peer;
        req.r.id.idiag_sport = pe->sin6_port;
        req.r.id.idiag_dport = l->sin6_port;
        memcpy(req.r.id.idiag_src, &pe->sin6_addr, 16);
        memcpy(req.r.id.idiag_dst, &l->sin6_addr, 16);
    }
    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0)
        return 0;
    uint64_t ino = 0;
    if (send(nl, &req, sizeof(req), 0) == (ssize_t)sizeof(req)) {
        char buf[8192];
        ssize_t n = recv(nl, buf, sizeof(buf), 0);
        struct nlmsghdr *h = (struct nlmsghdr *)buf;
        if (n > 0 && NLMSG_OK(h, (unsigned)n) && h->nlmsg_type == SOCK_DIAG_BY_FAMILY)
            ino = ((struct inet_diag_msg *)NLMSG_DATA(h))->idiag_inode;
    }
    close(nl);
    return ino;
}

/* Which captured process holds socket inode ino (pid, and its fd in *fd_out); 0 if none. */
static pid_t captured_holder(struct sls_capture_ctx *c, uint64_t ino, int *fd_out)
{
    char want[48];
    snprintf(want, sizeof(want), "socket:[%llu]", (unsigned long long)ino);
    for (size_t i = 0; ino && i < c->fz.nprocs; i++) {
        char dir[64];
        snprintf(dir, sizeof(dir), "/proc/%d/fd", c->fz.procs[i].pid);
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char path[384], link[64];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            ssize_t n = readlink(path, link, sizeof(link) - 1);
            if (n > 0 && (link[n] = 0, !strcmp(link, want))) {
                *fd_out = atoi(e->d_name);
                closedir(d);
                return c->fz.procs[i].pid;
            }
        }
        if (d)
            closedir(d);
    }
    return 0;
}

int sls_dump_socket(struct sls_fd_capture *f)
{
    int s = sls_fd_dup(f);
    if (s < 0)
        return s;
    struct sls_img_fd_socket so = { .ino = f->st.st_ino };
    int v;
    socklen_t l = sizeof(v);
    if (getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v, &l) == 0)
        so.family = (uint32_t)v;
    l = sizeof(v);
    if (getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l) == 0)
        so.type = (uint32_t)v;
    l = sizeof(v);
    if (getsockopt(s, SOL_SOCKET, SO_PROTOCOL, &v, &l) == 0)
        so.protocol = (uint32_t)v;
    int listening = 0;
    l = sizeof(listening);
    getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l);
    /* An IPv6 socket next to an IPv4 one on the same port (redis' default "bind * -::*") is
     * IPV6_V6ONLY: bound again without it, it would collide with the IPv4 one. */
    l = sizeof(v);
    if (so.family == AF_INET6 && getsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v, &l) == 0 && v)
        so.sock_flags |= SLS_SOCK_V6ONLY;
    struct sockaddr_storage addr, peer;
    socklen_t alen = sizeof(addr), plen = sizeof(peer);
    memset(&addr, 0, sizeof(addr));
    memset(&peer, 0, sizeof(peer));
    if (getsockname(s, (struct sockaddr *)&addr, &alen) != 0)
        alen = 0;
    int connected = getpeername(s, (struct sockaddr *)&peer, &plen) == 0;
    if (!connected)
        plen = 0;
    int queued = 0;
    if (!listening)
        ioctl(s, FIONREAD, &queued);
    int rc = 0;
    char a1[80];
    if (so.family == AF_UNIX) {
        f->img.type = SLS_FD_UNIX;
        so.state = listening ? 10 : connected ? 1 : 7;
        so.peer_ino = unix_peer_ino(so.ino);
        int peer_fd = -1;
        pid_t holder = queued > 0 && so.peer_ino ? captured_holder(f->c, so.peer_ino, &peer_fd) : 0;
        if (queued > 0 && so.type != SOCK_DGRAM && connected && !holder)
            /* the peer is not captured: the connection ends with the kill, its unread bytes with it */
            so.sock_flags |= SLS_SOCK_CLOSED_ON_RESTORE;
        else if (queued > 0)
            rc = FDERR(f, ENOTSUP, "pid %d fd %d: unix socket %s with %d unread bytes is not supported%s", f->pid,
                       f->fd, f->link, queued, holder ? " (its peer is captured too: the bytes would be lost)" : "");
    } else if ((so.family == AF_INET || so.family == AF_INET6) && so.type == SOCK_STREAM) {
        f->img.type = SLS_FD_TCP;
        struct tcp_info ti;
        memset(&ti, 0, sizeof(ti));
        l = sizeof(ti);
        getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &l);
        so.state = ti.tcpi_state;
        if (so.state == 10)
            so.backlog = ti.tcpi_sacked; /* for a listener: its max backlog */
        /* A connection (established, half-closed, or still connecting) cannot be carried over
         * without TCP_REPAIR; its peer sees it end at the kill anyway, so restore gives the process
         * a socket that reads EOF instead (unread bytes, if any, go with the connection). */
        if (so.state != 10 && so.state != 7)
            so.sock_flags |= SLS_SOCK_CLOSED_ON_RESTORE;
        /* ...unless the other end is captured too: closing it would cut the partition from itself. */
        int peer_fd = -1;
        pid_t holder = so.state != 10 && so.state != 7 && connected ?
                       captured_holder(f->c, tcp_peer_ino(&addr, &peer), &peer_fd) : 0;
        if (holder) {
            char a2[80];
            addr_text(&addr, alen, a1, sizeof(a1));
            addr_text(&peer, plen, a2, sizeof(a2));
            rc = FDERR(f, ENOTSUP, "pid %d fd %d: TCP connection %s -> %s in state %s is not supported when "
                       "both ends are captured (pid %d fd %d holds the other end; it would need TCP_REPAIR)",
                       f->pid, f->fd, a1, a2, so.state == 1 ? "ESTABLISHED" : "not LISTEN", holder, peer_fd);
        }
    } else if ((so.family == AF_INET || so.family == AF_INET6) && so.type == SOCK_DGRAM) {
        f->img.type = SLS_FD_UDP;
        so.state = connected ? 1 : 7;
        if (queued > 0) {
            addr_text(&addr, alen, a1, sizeof(a1));
            rc = FDERR(f, ENOTSUP, "pid %d fd %d: UDP socket %s with %d bytes of unread datagrams is "
                       "not supported", f->pid, f->fd, a1, queued);
        }
    } else {
        rc = FDERR(f, ENOTSUP, "pid %d fd %d: socket of family %u type %u (%s) is not supported",
                   f->pid, f->fd, so.family, so.type, f->link);
    }
    close(s);
    if (rc)
        return rc;
    so.addr_len = alen;
    so.peer_len = plen;
    sls_imgbuf_put(&f->extra, &so, sizeof(so));
    sls_imgbuf_put(&f->extra, &addr, alen);
    sls_imgbuf_put(&f->extra, &peer, plen);
    return 0;
}
