/*
 * bench_wake — what this host charges a process with a large touched mapping for running again
 * after it slept, with no SLS involved: the baseline for the "first injected syscall" cost that
 * dominates a 1 GiB delta stop here (BENCHMARKS.md). A child touches MiB of private memory (and,
 * with -w, writes every 100th page before each reply), then answers single bytes on a pipe; the
 * parent sleeps, sends a byte and times the round trip ("wake"), then times a second one at once
 * ("again"). On bare metal both are a few microseconds whatever the size; on a shadow-paging
 * guest the first run after a sleep can pay for the hypervisor's page tables.
 *
 *   usage: bench_wake [-s MiB]... [-n rounds] [-i sleep-ms] [-w]
 *   defaults: -s 64 -s 1024 -n 9 -i 100
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int round_trip(int to, int from)
{
    char c = 'x';
    if (write(to, &c, 1) != 1 || read(from, &c, 1) != 1)
        return -1;
    return 0;
}

static int measure(size_t mib, int rounds, int sleep_ms, int writes)
{
    int req[2], rep[2];
    if (pipe(req) || pipe(rep))
        return perror("pipe"), -1;
    pid_t pid = fork();
    if (pid < 0)
        return perror("fork"), -1;
    if (pid == 0) {
        close(req[1]); /* else the parent's close never reaches this read as EOF */
        close(rep[0]);
        size_t len = mib << 20;
        char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            _exit(1);
        memset(m, 1, len);
        char c = 'r';
        if (write(rep[1], &c, 1) != 1)
            _exit(1);
        while (read(req[0], &c, 1) == 1) {
            for (size_t i = 0; writes && i < len; i += 4096 * 100)
                m[i]++;
            if (write(rep[1], &c, 1) != 1)
                _exit(1);
        }
        _exit(0);
    }
    close(req[0]);
    close(rep[1]);
    char c;
    if (read(rep[0], &c, 1) != 1)
        return fprintf(stderr, "bench_wake: child failed to start\n"), -1;
    double *wake = calloc((size_t)rounds, sizeof(double)), *again = calloc((size_t)rounds, sizeof(double));
    int rc = wake && again ? 0 : -1;
    for (int k = 0; k < rounds && !rc; k++) {
        usleep((useconds_t)sleep_ms * 1000);
        double t0 = now_ms();
        rc = round_trip(req[1], rep[0]);
        double t1 = now_ms();
        if (!rc)
            rc = round_trip(req[1], rep[0]);
        wake[k] = t1 - t0;
        again[k] = now_ms() - t1;
    }
    close(req[1]);
    close(rep[0]);
    waitpid(pid, NULL, 0);
    if (!rc) {
        qsort(wake, (size_t)rounds, sizeof(double), cmp);
        qsort(again, (size_t)rounds, sizeof(double), cmp);
        int over1 = 0;
        for (int k = 0; k < rounds; k++)
            over1 += wake[k] > 1.0;
        printf("%zu MiB touched%s, %d ms asleep: wake median %.3f ms, max %.3f ms (%d of %d over 1 ms); "
               "again median %.3f ms\n", mib, writes ? ", 1 % written each round" : "", sleep_ms,
               wake[rounds / 2], wake[rounds - 1], over1, rounds, again[rounds / 2]);
    }
    free(wake);
    free(again);
    return rc;
}

int main(int argc, char **argv)
{
    unsigned sizes[8];
    int nsizes = 0, rounds = 9, sleep_ms = 100, writes = 0, opt;
    while ((opt = getopt(argc, argv, "s:n:i:w")) != -1) {
        switch (opt) {
        case 's': if (nsizes < 8) sizes[nsizes++] = (unsigned)atoi(optarg); break;
        case 'n': rounds = atoi(optarg); break;
        case 'i': sleep_ms = atoi(optarg); break;
        case 'w': writes = 1; break;
        default:
            fprintf(stderr, "usage: bench_wake [-s MiB]... [-n rounds] [-i sleep-ms] [-w]\n");
            return 2;
        }
    }
    if (rounds < 1 || sleep_ms < 0)
        return fprintf(stderr, "bench_wake: -n must be >= 1 and -i >= 0\n"), 2;
    if (!nsizes) {
        sizes[nsizes++] = 64;
        sizes[nsizes++] = 1024;
    }
    for (int i = 0; i < nsizes; i++)
        if (measure(sizes[i], rounds, sleep_ms, writes))
            return 1;
    return 0;
}
