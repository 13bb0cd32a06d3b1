/*
 * cap_pingpong.c — a parent and its child pass a counter back and forth through two pipes as fast
 * as they can, for the test that a recursive (delta) capture is one instant for the whole tree.
 *
 * Parent: x = ++P; write x to the child; read y back; y must be x. Child: read x; x must be C + 1;
 * C = x; write x back. Each also stores every counter value k it reaches in its own 4 MiB buffer, at
 * page k % 1024 (so every epoch dirties pages all over it). A snapshot of both processes and both
 * pipes taken at one instant continues cleanly; one taken at two instants (a counter ahead of the
 * pipe, a message lost or doubled) makes a check fail or both wait forever.
 *
 * After a restore (its start time in /proc/self/stat changed) each process checks that its buffer
 * holds its last 1024 counter values, goes on for 20000 more rounds, and prints
 * "PASS parent|child restored at N" (or "FAIL ..." and exits 1). Prints "READY" once at start.
 * Writes only to stdout, which should be opened O_APPEND (both copies may write the same file).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGES 1024
#define WORDS_PER_PAGE 512

static uint64_t *buf;

static unsigned long long start_time(void)
{
    char b[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, b, sizeof(b) - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return 0;
    b[n] = 0;
    char *p = strrchr(b, ')');
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (write(1, line, (size_t)n) != n)
        _exit(3);
}

static int full_read(int fd, uint64_t *v)
{
    size_t got = 0;
    while (got < sizeof(*v)) {
        ssize_t r = read(fd, (char *)v + got, sizeof(*v) - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static void full_write(int fd, uint64_t v)
{
    if (write(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
        _exit(4);
}

/* After a restore: the last PAGES counter values up to k are where they were written. */
static int buffer_holds(uint64_t k)
{
    for (uint64_t j = k >= PAGES ? k - PAGES + 1 : 1; j <= k; j++)
        if (buf[(j % PAGES) * WORDS_PER_PAGE] != j)
            return 0;
    return 1;
}

static void run(const char *who, int in, int out, int parent)
{
    unsigned long long born = start_time();
    uint64_t k = 0, restored_at = 0;
    for (;;) {
        uint64_t x;
        if (parent) {
            x = k + 1;
            full_write(out, x);
            uint64_t y;
            if (full_read(in, &y) != 0)
                _exit(5);
            if (y != x) {
                say("FAIL parent sent %llu, got %llu back\n", (unsigned long long)x, (unsigned long long)y);
                _exit(1);
            }
        } else {
            if (full_read(in, &x) != 0)
                _exit(5);
            if (x != k + 1) {
                say("FAIL child expected %llu, got %llu\n", (unsigned long long)(k + 1), (unsigned long long)x);
                _exit(1);
            }
            full_write(out, x);
        }
        k = x;
        buf[(k % PAGES) * WORDS_PER_PAGE] = k;
        if (!restored_at && k % 1024 == 0 && start_time() != born) {
            restored_at = k;
            if (!buffer_holds(k)) {
                say("FAIL %s: its buffer does not hold its last counters at %llu\n", who, (unsigned long long)k);
                _exit(1);
            }
        }
        if (restored_at && k == restored_at + 20000) {
            say("PASS %s restored at %llu\n", who, (unsigned long long)restored_at);
        }
    }
}

int main(void)
{
    buf = mmap(NULL, PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int p2c[2], c2p[2];
    if (buf == MAP_FAILED || pipe(p2c) || pipe(c2p))
        return 2;
    memset(buf, 0, PAGES * 4096);
    pid_t child = fork();
    if (child < 0)
        return 2;
    if (child == 0) {
        close(p2c[1]);
        close(c2p[0]);
        run("child", p2c[0], c2p[1], 0);
    }
    close(p2c[0]);
    close(c2p[1]);
    say("READY child=%d\n", (int)child);
    run("parent", c2p[0], p2c[1], 1);
    return 0;
}
