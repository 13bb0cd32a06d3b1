/* sls_ctl.c — the client side of the SLS control socket (see sls_ctl.h). */
#include "sls_ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static __thread char last_message[512];
static __thread int last_errno;

/* The start time of this process (field 22 of /proc/self/stat) when the library was loaded. It lives in
 * the process's memory, so a process restored from a checkpoint still holds the original's value while
 * the kernel reports the start of the restored process: that difference is how sls_restored() knows. */
static unsigned long long loaded_starttime;

static unsigned long long read_starttime(void)
{
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* comm may contain spaces */
    if (!p) {
        return 0;
    }
    p += 2; /* field 3 starts here */
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p) {
            p++;
        }
    }
    return p ? strtoull(p, NULL, 10) : 0;
}

__attribute__((constructor)) static void sls_ctl_init(void)
{
    loaded_starttime = read_starttime();
}

static int fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    last_errno = err;
    errno = err;
    return -1;
}

const char *sls_strerror(int err)
{
    if (err == last_errno && last_message[0]) {
        return last_message;
    }
    return strerror(err);
}

int sls_restored(void)
{
    unsigned long long now = read_starttime();
    if (now == 0 || loaded_starttime == 0) {
        return fail(EIO, "cannot read the process start time from /proc/self/stat");
    }
    return now != loaded_starttime;
}

static int timeout_ms(void)
{
    const char *t = getenv("SLS_TIMEOUT_MS");
    int v = t ? atoi(t) : 0;
    return v > 0 ? v : 60000;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int connect_control(void)
{
    const char *path = getenv("SLS_CONTROL_SOCKET");
    if (!path || !*path) {
        return fail(ENOENT, "SLS control socket unknown: set SLS_CONTROL_SOCKET (e.g. <karaf>/data/sls/control.sock)");
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) {
        return fail(ENAMETOOLONG, "SLS control socket path too long: %s", path);
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return fail(errno, "socket: %s", strerror(errno));
    }
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        int e = errno;
        close(fd);
        return fail(e, "SLS is not reachable at %s: %s", path, strerror(e));
    }
    return fd;
}

/* exchange()'s return when watch_restore is set and the process turned out to run from a restored
 * image while it waited (see sls_checkpoint). */
#define EXCHANGE_RESTORED 1

/* Sends one request and reads one reply line into reply. Returns 0, or -1 with errno set; a
 * connection that ends before a reply sets ECONNRESET. With watch_restore, the wait is cut into
 * short slices and ends with EXCHANGE_RESTORED as soon as sls_restored() says so. */
static int exchange(const char *request, char *reply, size_t len, int watch_restore)
{
    int fd = connect_control();
    if (fd < 0) {
        return -1;
    }
    size_t n = strlen(request), off = 0;
    while (off < n) {
        ssize_t w = send(fd, request + off, n - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            int e = errno;
            close(fd);
            return fail(e ? e : EIO, "sending to SLS failed: %s", strerror(e ? e : EIO));
        }
        off += (size_t)w;
    }
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms();
    size_t got = 0;
    for (;;) {
        uint64_t now = now_ms();
        if (now >= deadline) {
            close(fd);
            return fail(ETIMEDOUT, "SLS did not answer within %d ms", timeout_ms());
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        uint64_t slice = deadline - now;
        if (watch_restore && slice > 100) {
            slice = 100;
        }
        int r = poll(&p, 1, (int)slice);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            /* A restored process may come back waiting here on a connection the engine rebuilt to
             * the SLS socket, which will never answer this request: notice the restore itself. */
            if (watch_restore && sls_restored() == 1) {
                close(fd);
                return EXCHANGE_RESTORED;
            }
            continue;
        }
        ssize_t rd = read(fd, reply + got, len - 1 - got);
        if (rd < 0 && errno == EINTR) {
            continue;
        }
        if (rd <= 0) {
            close(fd);
            return fail(ECONNRESET, "SLS closed the connection before answering");
        }
        got += (size_t)rd;
        reply[got] = '\0';
        char *nl = strchr(reply, '\n');
        if (nl) {
            *nl = '\0';
            break;
        }
        if (got == len - 1) {
            close(fd);
            return fail(EPROTO, "SLS answered with an overlong line");
        }
    }
    close(fd);
    return 0;
}

/* Parses "OK [value]" (returns 0, value in *value) or "ERR errno message" (returns -1, errno set). */
static int parse_reply(const char *reply, long long *value)
{
    if (strncmp(reply, "OK", 2) == 0) {
        if (value) {
            *value = reply[2] == ' ' ? atoll(reply + 3) : 0;
        }
        return 0;
    }
    if (strncmp(reply, "ERR ", 4) == 0) {
        char *end;
        long e = strtol(reply + 4, &end, 10);
        return fail(e > 0 ? (int)e : EIO, "%s", *end == ' ' ? end + 1 : reply);
    }
    return fail(EPROTO, "unexpected answer from SLS: %.200s", reply);
}

static int simple(const char *verb, uint64_t oid)
{
    char req[64], reply[1024];
    snprintf(req, sizeof req, "%s %llu\n", verb, (unsigned long long)oid);
    if (exchange(req, reply, sizeof reply, 0) < 0) {
        return -1;
    }
    return parse_reply(reply, NULL);
}

int sls_attach(uint64_t oid)
{
    return simple("ATTACH", oid);
}

int sls_detach(uint64_t oid)
{
    return simple("DETACH", oid);
}

int sls_checkpoint(uint64_t oid)
{
    char req[64], reply[1024];
    snprintf(req, sizeof req, "CHECKPOINT %llu\n", (unsigned long long)oid);
    int rc = exchange(req, reply, sizeof reply, 1);
    /* A restored process wakes up in the read above on a connection that no longer exists (the peer was
     * the SLS of the original); whatever the read then reports, the start time tells where we are. */
    int restored = sls_restored();
    if (restored == 1) {
        last_message[0] = '\0';
        return SLS_RESTORED;
    }
    if (rc < 0) {
        return -1;
    }
    long long epoch;
    return parse_reply(reply, &epoch);
}
