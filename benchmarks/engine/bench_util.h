/* bench_util.h — shared helpers of the engine benchmarks: clocks, statistics, the memcpy baseline,
 * and a workload process with a chosen amount of touched memory and number of threads. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v in place and returns the q-quantile (0..1). */
static inline uint64_t quantile(uint64_t *v, size_t n, double q)
{
    qsort(v, n, sizeof *v, cmp_u64);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* memcpy bandwidth in GB/s over a 256 MiB buffer (pre-faulted, best of 5): the same-run baseline. */
static inline double memcpy_gbps(void)
{
    size_t len = 256u << 20;
    char *a = malloc(len), *b = malloc(len);
    if (!a || !b) {
        return 0;
    }
    memset(a, 1, len);
    memset(b, 2, len);
    double best = 0;
    for (int i = 0; i < 5; i++) {
        uint64_t t0 = now_ns();
        memcpy(b, a, len);
        uint64_t t1 = now_ns();
        double gbps = (double)len / (double)(t1 - t0);
        if (gbps > best) {
            best = gbps;
        }
    }
    free(a);
    free(b);
    return best;
}

/* ---- workload: a child with `mib` MiB of touched anonymous memory and `threads` threads that keep
 * incrementing a counter (so it is really running while it is checkpointed). */
static volatile uint64_t workload_counter;

static void *workload_thread(void *arg)
{
    (void)arg;
    for (;;) {
        __atomic_add_fetch(&workload_counter, 1, __ATOMIC_RELAXED);
        usleep(1000);
    }
    return NULL;
}

static inline pid_t spawn_workload(size_t mib, int threads)
{
    int ready[2];
    if (pipe(ready) < 0) {
        return -1;
    }
    pid_t pid = fork();
    if (pid != 0) {
        close(ready[1]);
        char c;
        if (pid > 0 && read(ready[0], &c, 1) != 1) {
            pid = -1;
        }
        close(ready[0]);
        return pid;
    }
    close(ready[0]);
    size_t len = mib << 20;
    char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        _exit(1);
    }
    for (size_t off = 0; off < len; off += 4096) {
        mem[off] = (char)(off >> 12);
    }
    for (int i = 1; i < threads; i++) {
        pthread_t t;
        pthread_create(&t, NULL, workload_thread, NULL);
    }
    if (write(ready[1], "r", 1) != 1) {
        _exit(1);
    }
    workload_thread(NULL);
    _exit(0);
}

static inline void kill_workload(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

#endif
