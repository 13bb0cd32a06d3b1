/*
 * restore_sockets.c — sockets as sls_capture records them (fd_socket.c: no queued data on unix or
 * UDP sockets; TCP connections only flagged SLS_SOCK_CLOSED_ON_RESTORE): unix socket pairs whose two ends are both in the image become one socketpair again;
 * a unix socket connected to something outside the image is connected anew to the peer's bound
 * path; listening sockets are bound again (a stale unix socket file of the dead original, refusing
 * connections, is replaced) and listen; unconnected ones are made and bound; UDP sockets are bound
 * and connected as they were. One engine socket per captured socket inode, handed to every fd that
 * held it, like pipes. A connection whose peer is not restored with it (SLS_SOCK_CLOSED_ON_RESTORE,
 * or an accepted unix stream whose client is gone) comes back as closed by its peer; a TCP
 * listener's port still held by the killed original's TIME_WAIT connections is freed first.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "restore.h"

static int *sock_slot(struct rst_ctx *c, uint64_t ino)
{
    for (int i = 0; i < c->nsocks; i++)
        if (c->socks[i].ino == ino)
            return &c->socks[i].fd;
    return NULL;
}

static int remember(struct rst_ctx *c, uint64_t ino, int fd)
{
    void *g = realloc(c->socks, sizeof(*c->socks) * (size_t)(c->nsocks + 1));
    if (!g)
        return rst_fail(c, ENOMEM, "out of memory");
    c->socks = g;
    c->socks[c->nsocks++] = (struct rst_sock){ .ino = ino, .fd = fd };
    return 0;
}

static int in_image(const struct rst_ctx *c, uint64_t ino)
{
    for (int i = 0; i < c->nprocs; i++)
        for (int j = 0; j < c->procs[i].nfds; j++) {
            const struct rst_fd *rf = &c->procs[i].fds[j];
            if (rf->f->type == SLS_FD_UNIX && rf->f->extra_len >= sizeof(struct sls_img_fd_socket)) {
                struct sls_img_fd_socket so;
                memcpy(&so, rf->extra, sizeof(so));
                if (so.ino == ino)
                    return 1;
            }
        }
    return 0;
}

/* A unix socket file nobody listens on any more (its owner was killed) may be replaced. */
static int unlink_stale_unix(const struct sockaddr_un *sun, socklen_t len, int type)
{
    if (len <= sizeof(sa_family_t) || sun->sun_path[0] == 0)
        return 0; /* unbound or abstract: no file */
    struct stat st;
    if (stat(sun->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
        return 0;
    int probe = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return 0;
    int r = connect(probe, (const struct sockaddr *)sun, len);
    int e = errno;
    close(probe);
    if (r < 0 && e == ECONNREFUSED)
        unlink(sun->sun_path);
    return 0;
}

/*
 * The killed original's accepted connections linger in TIME_WAIT on its listening port, owned by no
 * process; if its listener did not set SO_REUSEADDR they keep the port from being bound again for a
 * minute (SO_REUSEADDR on our side is not enough: both sides must have it, and TCP_REPAIR's forced
 * reuse would leave the listener, and every connection it accepts, in repair mode). So: destroy the
 * TIME_WAIT sockets of exactly that local address and port (sock_diag SOCK_DESTROY), nothing
 * else; a live socket on the port still makes the bind fail. Returns how many were destroyed.
 */
static int destroy_time_wait(const struct sockaddr *addr)
{
    struct {
        struct nlmsghdr h;
        struct inet_diag_req_v2 r;
    } req = {
        .h = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
        .r = { .sdiag_family = (uint8_t)addr->sa_family, .sdiag_protocol = IPPROTO_TCP,
               .idiag_states = 1u << TCP_TIME_WAIT },
    };
    uint16_t port;
    const void *host;
    size_t hostlen;
    if (addr->sa_family == AF_INET) {
        port = ((const struct sockaddr_in *)addr)->sin_port;
        host = &((const struct sockaddr_in *)addr)->sin_addr;
        hostlen = 4;
    } else if (addr->sa_family == AF_INET6) {
        port = ((const struct sockaddr_in6 *)addr)->sin6_port;
        host = &((const struct sockaddr_in6 *)addr)->sin6_addr;
        hostlen = 16;
    } else {
        return 0;
    }
    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0)
        return 0;
    struct inet_diag_sockid victims[256];
    int nvictims = 0, done = 0;
    if (send(nl, &req, sizeof(req), 0) != (ssize_t)sizeof(req))
        done = 1;
    static const uint8_t any[16];
    while (!done) {
        char buf[16384];
        ssize_t n = recv(nl, buf, sizeof(buf), 0);
        if (n <= 0)
            break;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
                done = 1;
                break;
            }
            const struct inet_diag_msg *m = NLMSG_DATA(h);
            /* our port, on our address (a wildcard listener's connections had the concrete one) */
            if (m->id.idiag_sport == port && (!memcmp(host, any, hostlen) || !memcmp(m->id.idiag_src, host, hostlen)) &&
                nvictims < (int)(sizeof(victims) / sizeof(victims[0])))
                victims[nvictims++] = m->id;
        }
    }
    int destroyed = 0;
    for (int i = 0; i < nvictims; i++) {
        req.h.nlmsg_type = SOCK_DESTROY;
        req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        req.r.id = victims[i];
        char ack[512];
        if (send(nl, &req, sizeof(req), 0) == (ssize_t)sizeof(req) && recv(nl, ack, sizeof(ack), 0) > 0) {
            const struct nlmsghdr *h = (const void *)ack;
            const struct nlmsgerr *e = NLMSG_DATA(h);
            destroyed += h->nlmsg_type == NLMSG_ERROR && e->error == 0;
        }
    }
    close(nl);
    return destroyed;
}

static int make_socket(struct rst_ctx *c, struct rst_proc *p, const struct sls_img_fd *f,
                       const struct sls_img_fd_socket *so, const uint8_t *addr, const uint8_t *peer, int *out)
{
    int s = socket((int)so->family, (int)so->type | SOCK_CLOEXEC, (int)so->protocol);
    if (s < 0)
        return rst_fail(c, errno, "pid %d fd %d: socket(%u, %u) failed: %s", p->proc->pid, f->fd, so->family,
                        so->type, strerror(errno));
    int r = 0;
    int bound = so->addr_len > sizeof(sa_family_t);
    if (bound && so->family != AF_UNIX) {
        /* An INET address with port 0 was never bound. */
        const struct sockaddr_in *in = (const void *)addr;
        bound = in->sin_port != 0;
    }
    if (so->family != AF_UNIX) {
        int one = 1;
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    if (so->family == AF_INET6 && (so->sock_flags & SLS_SOCK_V6ONLY)) {
        int one = 1;
        if (setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
            r = rst_fail(c, errno, "pid %d fd %d: setting IPV6_V6ONLY again failed: %s", p->proc->pid, f->fd,
                         strerror(errno));
            goto out;
        }
    }
    if (bound) {
        if (so->family == AF_UNIX)
            unlink_stale_unix((const void *)addr, so->addr_len, (int)so->type);
        int b = bind(s, (const struct sockaddr *)addr, so->addr_len);
        if (b < 0 && errno == EADDRINUSE && so->family != AF_UNIX && so->type == SOCK_STREAM &&
            destroy_time_wait((const struct sockaddr *)addr) > 0)
            b = bind(s, (const struct sockaddr *)addr, so->addr_len);
        if (b < 0) {
            int e = errno;
            r = rst_fail(c, e, "pid %d fd %d: binding the socket again failed: %s%s", p->proc->pid, f->fd, strerror(e),
                         e == EADDRINUSE ? " (a live socket holds the address: is the original, or another "
                                           "restored copy, still running?)" : "");
            goto out;
        }
    }
    if (so->state == 10 && listen(s, so->backlog ? (int)so->backlog : 128) < 0) {
        r = rst_fail(c, errno, "pid %d fd %d: listen failed: %s", p->proc->pid, f->fd, strerror(errno));
        goto out;
    }
    if (so->state == 1 && so->peer_len > sizeof(sa_family_t) &&
        connect(s, (const struct sockaddr *)peer, so->peer_len) < 0) {
        r = rst_fail(c, errno, "pid %d fd %d: connecting the socket to its peer again failed: %s", p->proc->pid,
                     f->fd, strerror(errno));
        goto out;
    }
    if (so->state == 1 && so->peer_len <= sizeof(sa_family_t) && so->type != SOCK_DGRAM) {
        r = rst_fail(c, ENOTSUP, "pid %d fd %d: unix socket connected to an unnamed peer outside the image "
                     "cannot be restored", p->proc->pid, f->fd);
        goto out;
    }
out:
    if (r) {
        close(s);
        return r;
    }
    *out = s;
    return 0;
}

/*
 * The policy for a connection whose peer is not restored with it (the peer saw it end when the
 * original was killed): one end of a socketpair of the same type whose other end is already closed.
 * The process reads EOF, a write fails with EPIPE (SIGPIPE unless ignored), poll/epoll report
 * EPOLLIN|EPOLLRDHUP|EPOLLHUP — what a server sees when a client hangs up, so it drops the
 * connection and keeps serving. getsockname on it says AF_UNIX even for a former TCP connection.
 */
static int make_closed_connection(struct rst_ctx *c, struct rst_proc *p, const struct sls_img_fd *f,
                                  const struct sls_img_fd_socket *so, int *out)
{
    int type = so->type == SOCK_SEQPACKET ? SOCK_SEQPACKET : SOCK_STREAM;
    int sv[2];
    if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0)
        return rst_fail(c, errno, "pid %d fd %d: socketpair for a connection closed on restore failed: %s",
                        p->proc->pid, f->fd, strerror(errno));
    close(sv[1]);
    *out = sv[0];
    return 0;
}

int rst_open_socket(struct rst_ctx *c, struct rst_proc *p, const struct rst_fd *rf, int *out)
{
    const struct sls_img_fd *f = rf->f;
    struct sls_img_fd_socket so;
    if (f->extra_len < sizeof(so))
        return rst_fail(c, EINVAL, "pid %d fd %d: socket entry without socket data", p->proc->pid, f->fd);
    memcpy(&so, rf->extra, sizeof(so));
    if (sizeof(so) + (uint64_t)so.addr_len + so.peer_len > f->extra_len || so.addr_len > sizeof(struct sockaddr_storage) ||
        so.peer_len > sizeof(struct sockaddr_storage))
        return rst_fail(c, EINVAL, "pid %d fd %d: socket addresses run past their entry", p->proc->pid, f->fd);
    const uint8_t *addr = rf->extra + sizeof(so), *peer = addr + so.addr_len;
    int *have = sock_slot(c, so.ino);
    int r, s_closed = -1;
    /* An accepted unix stream whose client is not restored has no name to reconnect to: like a TCP
     * connection (SLS_SOCK_CLOSED_ON_RESTORE from capture) it comes back closed by its peer. */
    int unnamed_peer_gone = so.family == AF_UNIX && so.state == 1 && so.type != SOCK_DGRAM &&
                            so.peer_len <= sizeof(sa_family_t) && !(so.peer_ino && in_image(c, so.peer_ino));
    if (!have && ((so.sock_flags & SLS_SOCK_CLOSED_ON_RESTORE) || unnamed_peer_gone)) {
        if ((r = make_closed_connection(c, p, f, &so, &s_closed)))
            return r;
        if ((r = remember(c, so.ino, s_closed))) {
            close(s_closed);
            return r;
        }
        have = sock_slot(c, so.ino);
    }
    if (!have) {
        if (so.family == AF_UNIX && so.state == 1 && so.peer_ino && in_image(c, so.peer_ino)) {
            int sv[2];
            if (socketpair(AF_UNIX, (int)so.type | SOCK_CLOEXEC, 0, sv) < 0)
                return rst_fail(c, errno, "pid %d fd %d: socketpair failed: %s", p->proc->pid, f->fd, strerror(errno));
            if ((r = remember(c, so.ino, sv[0])) || (r = remember(c, so.peer_ino, sv[1]))) {
                close(sv[0]);
                close(sv[1]);
                return r;
            }
        } else {
            int s = -1;
            if ((r = make_socket(c, p, f, &so, addr, peer, &s)))
                return r;
            if ((r = remember(c, so.ino, s))) {
                close(s);
                return r;
            }
        }
        have = sock_slot(c, so.ino);
    }
    int fd = dup(*have);
    if (fd < 0)
        return rst_fail(c, errno, "pid %d fd %d: dup of a socket failed: %s", p->proc->pid, f->fd, strerror(errno));
    if (fcntl(fd, F_SETFL, (int)(f->file_flags & (O_NONBLOCK | O_ASYNC))) < 0) {
        int e = errno;
        close(fd);
        return rst_fail(c, e, "pid %d fd %d: setting socket flags failed: %s", p->proc->pid, f->fd, strerror(e));
    }
    *out = fd;
    return 0;
}

void rst_close_sockets(struct rst_ctx *c)
{
    for (int i = 0; i < c->nsocks; i++)
        close(c->socks[i].fd);
    free(c->socks);
    c->socks = NULL;
    c->nsocks = 0;
}
