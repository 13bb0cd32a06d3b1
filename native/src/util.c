/* util.c — error lines, /proc reads, CRC32C (hardware crc32 instruction when present). */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

int sls_errf(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        /* one line: the Java side prints it as is */
        for (char *p = err; *p; p++)
            if (*p == '\n')
                *p = ' ';
    }
    return code > 0 ? -code : (code == 0 ? -EIO : code);
}

ssize_t sls_read_file(const char *path, char **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    for (;;) {
        if (cap - len < 4096) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                close(fd);
                return -ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            return -e;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = 0;
    *out = buf;
    return (ssize_t)len;
}

static uint32_t crc32c_sw(uint32_t crc, const unsigned char *p, size_t len)
{
    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    }
    return crc;
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const unsigned char *p, size_t len)
{
    uint64_t c = crc;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}

uint32_t sls_crc32c(uint32_t crc, const void *data, size_t len)
{
    crc = ~crc;
    if (__builtin_cpu_supports("sse4.2"))
        crc = crc32c_hw(crc, data, len);
    else
        crc = crc32c_sw(crc, data, len);
    return ~crc;
}

uint64_t sls_now_ns(int clock_id)
{
    struct timespec ts;
    clock_gettime(clock_id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* tid is a thread-group leader whose parent is this process */
static int own_child_process(pid_t tid)
{
    char path[64], *txt;
    snprintf(path, sizeof(path), "/proc/%d/stat", tid);
    if (sls_read_file(path, &txt) < 0)
        return 0;
    char *rp = strrchr(txt, ')');
    int ppid = 0;
    if (rp)
        sscanf(rp + 2, "%*c %d", &ppid);
    free(txt);
    snprintf(path, sizeof(path), "/proc/%d/status", tid);
    if (ppid != getpid() || sls_read_file(path, &txt) < 0)
        return 0;
    char *t = strstr(txt, "\nTgid:");
    int leader = t && strtol(t + 6, NULL, 10) == tid;
    free(txt);
    return leader;
}

pid_t sls_wait_tracee(pid_t tid, int *status)
{
    siginfo_t si;
    for (;;) {
        memset(&si, 0, sizeof(si));
        if (waitid(P_PID, (id_t)tid, &si, WEXITED | WSTOPPED | __WALL | WNOWAIT) == 0)
            break;
        if (errno != EINTR)
            return -1;
    }
    int exited = si.si_code == CLD_EXITED || si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED;
    if (exited && own_child_process(tid)) {
        *status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 : (si.si_status & 0x7f);
        return tid;
    }
    for (;;) {
        pid_t w = waitpid(tid, status, __WALL);
        if (w >= 0 || errno != EINTR)
            return w;
    }
}
