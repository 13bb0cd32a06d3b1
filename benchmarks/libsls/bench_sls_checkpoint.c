/*
 * bench_sls_checkpoint — round-trip latency of sls_checkpoint() for a small process: the caller
 * attaches itself to partition OID and times ROUNDS calls, each of which returns only once the epoch
 * is committed (so it includes freeze, capture, thaw and the backend commit). Prints median and p99.
 *
 *   SLS_CONTROL_SOCKET=<karaf>/data/sls/control.sock bench_sls_checkpoint OID [ROUNDS]
 * (the partition must exist: sls:partadd -o OID -b memory|slos)
 */
#include "sls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s OID [ROUNDS]\n", argv[0]);
        return 2;
    }
    unsigned long long oid = strtoull(argv[1], NULL, 10);
    int rounds = argc > 2 ? atoi(argv[2]) : 50;
    if (sls_attach(oid) < 0) {
        fprintf(stderr, "attach: %s\n", sls_strerror(errno));
        return 1;
    }
    double *ms = calloc((size_t)rounds, sizeof *ms);
    for (int i = 0; i < rounds; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (sls_checkpoint(oid) != 0) {
            fprintf(stderr, "checkpoint: %s\n", sls_strerror(errno));
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        ms[i] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    }
    qsort(ms, (size_t)rounds, sizeof *ms, cmp);
    printf("sls_checkpoint round trip, %d rounds: median %.2f ms, p99 %.2f ms, min %.2f ms\n", rounds,
           ms[rounds / 2], ms[(rounds * 99) / 100 < rounds ? (rounds * 99) / 100 : rounds - 1], ms[0]);
    sls_detach(oid);
    return 0;
}
