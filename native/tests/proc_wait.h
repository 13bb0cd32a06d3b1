/* proc_wait.h — small helpers the restore and application tests share: clocks, waiting for a
 * process or for lines a test program writes to its output file. */
#ifndef SLS_PROC_WAIT_H
#define SLS_PROC_WAIT_H

#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Whether pid exists and has not exited (zombies count as exited). */
static inline int alive(pid_t pid)
{
    char path[64], state = 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int ok = fscanf(f, "%*d %*s %c", &state) == 1;
    fclose(f);
    return ok && state != 'Z' && state != 'X';
}

static inline int count_lines(const char *file, const char *prefix)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return 0;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        n += !strncmp(line, prefix, strlen(prefix));
    fclose(f);
    return n;
}

static inline int wait_lines(const char *file, const char *prefix, int n, double timeout_s)
{
    double end = now_s() + timeout_s;
    while (now_s() < end) {
        if (count_lines(file, prefix) >= n)
            return 1;
        sleep_ms(5);
    }
    return 0;
}

#endif
