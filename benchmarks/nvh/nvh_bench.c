/* nvh_checkpoint latency and throughput for one heap size, plus the time nvh_open takes to
 * load (and checksum) the heap again.
 *
 *   nvh_bench DIR SIZE_MIB REPS
 *
 * Fills the whole heap with non-zero data (every page present, as in a heap in real use),
 * changes one byte per page before each checkpoint, and prints one line of key=value pairs:
 *   size_mib, reps, ckpt_min_ms, ckpt_median_ms, ckpt_max_ms, ckpt_mib_s (from the median):
 *     checkpoints back to back;
 *   idle_median_ms: checkpoints 50 ms apart (a program checkpointing periodically; on the
 *     virtual disk this was measured on, a flush after an idle gap costs several ms more);
 *   open_ms (nvh_open of the existing heap: read both headers, read and checksum the payload). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "sls.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s DIR SIZE_MIB REPS\n", argv[0]);
		return 2;
	}
	size_t mib = strtoul(argv[2], NULL, 10);
	int reps = atoi(argv[3]);
	if (!mib || reps < 1) {
		fprintf(stderr, "nvh_bench: SIZE_MIB and REPS must be positive\n");
		return 2;
	}
	char heap[4096];
	snprintf(heap, sizeof heap, "%s/bench-%zu", argv[1], mib);
	for (int i = 0; i < 2; i++) {
		char f[4200];
		snprintf(f, sizeof f, "%s.%d", heap, i);
		unlink(f);
	}
	size_t size = mib << 20;
	if (!nvh_open(heap, size)) {
		fprintf(stderr, "nvh_bench: %s\n", nvh_last_error());
		return 1;
	}
	/* nearly all of the heap in one block (the allocator's header and block headers aside) */
	size_t data_len = size - (64 << 10);
	unsigned char *data = nvh_alloc(data_len);
	if (!data) {
		fprintf(stderr, "nvh_bench: %s\n", nvh_last_error());
		return 1;
	}
	uint64_t x = 0x9E3779B97F4A7C15u;
	for (size_t i = 0; i + 8 <= data_len; i += 8) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(data + i, &x, 8);
	}
	/* two warm-up checkpoints: both files exist at full size before measuring */
	if (nvh_checkpoint() < 0 || nvh_checkpoint() < 0) {
		fprintf(stderr, "nvh_bench: %s\n", nvh_last_error());
		return 1;
	}
	double *ms = calloc((size_t)reps, sizeof *ms);
	for (int r = 0; r < reps; r++) {
		for (size_t i = 0; i < data_len; i += 4096)
			data[i]++;
		double t0 = now_ms();
		if (nvh_checkpoint() < 0) {
			fprintf(stderr, "nvh_bench: %s\n", nvh_last_error());
			return 1;
		}
		ms[r] = now_ms() - t0;
	}
	qsort(ms, (size_t)reps, sizeof *ms, cmp_double);
	double median = ms[reps / 2];
	double *idle = calloc((size_t)reps, sizeof *idle);
	for (int r = 0; r < reps; r++) {
		for (size_t i = 0; i < data_len; i += 4096)
			data[i]++;
		struct timespec gap = { 0, 50 * 1000 * 1000 };
		nanosleep(&gap, NULL);
		double t1 = now_ms();
		if (nvh_checkpoint() < 0) {
			fprintf(stderr, "nvh_bench: %s\n", nvh_last_error());
			return 1;
		}
		idle[r] = now_ms() - t1;
	}
	qsort(idle, (size_t)reps, sizeof *idle, cmp_double);
	nvh_close();
	double t0 = now_ms();
	if (!nvh_open(heap, 0)) {
		fprintf(stderr, "nvh_bench: reopen: %s\n", nvh_last_error());
		return 1;
	}
	double open_ms = now_ms() - t0;
	nvh_close();
	printf("size_mib=%zu reps=%d ckpt_min_ms=%.2f ckpt_median_ms=%.2f ckpt_max_ms=%.2f ckpt_mib_s=%.0f "
	       "idle_median_ms=%.2f open_ms=%.2f\n", mib, reps, ms[0], median, ms[reps - 1], mib / (median / 1e3),
	       idle[reps / 2], open_ms);
	for (int i = 0; i < 2; i++) {
		char f[4200];
		snprintf(f, sizeof f, "%s.%d", heap, i);
		unlink(f);
	}
	free(ms);
	free(idle);
	return 0;
}
