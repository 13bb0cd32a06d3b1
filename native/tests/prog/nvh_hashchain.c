/* A long computation made persistent with libsls's heap: a hash chain of STEPS steps whose
 * state lives in the heap and whose loop runs under nvh_run(), checkpointing every INTERVAL
 * steps. The loop counter lives only on the persistent stack (in registers or frames saved by
 * nvh_checkpoint), so the program gets the right answer after being killed only if the
 * library really continues the function where it checkpointed.
 *
 *   nvh_hashchain HEAP [STEPS [INTERVAL]]    run or continue the chain kept in HEAP.0/HEAP.1
 *   nvh_hashchain --reference [STEPS]        the same chain in plain memory, no libsls
 *
 * Prints "RESULT <hex> steps <n> resumes <n> epoch <n>" on success (resumes: how many times
 * the loop continued from a checkpoint after a restart); exit status 2 on any error.
 * Used by tests/unit/test_nvh_crash.c, which kills it with SIGKILL many times. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sls.h"

#define HEAP_SIZE (1u << 20)
#define CHAIN_MAGIC UINT64_C(0x4e49414843485341) /* "ASHCHAIN" */

struct chain {
	uint64_t magic;
	uint64_t steps, interval;
	uint64_t state[4];
	uint64_t resumes;
	uint64_t finished;
	uint64_t result;
};

static inline uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

/* One link of the chain: state <- H(state, i). A few mixing rounds per step keep 10^7 steps
 * around a second, long enough to be killed at many points. */
static inline void chain_step(uint64_t s[4], uint64_t i)
{
	for (int r = 0; r < 40; r++) {
		s[0] += s[1] ^ i;
		s[1] = rotl(s[1] ^ s[2], 23) * UINT64_C(0x9E3779B97F4A7C15);
		s[2] += s[3] ^ s[0];
		s[3] = rotl(s[3] ^ s[0], 41) * UINT64_C(0xBF58476D1CE4E5B9);
	}
}

static void chain_init(struct chain *c, uint64_t steps, uint64_t interval)
{
	memset(c, 0, sizeof *c);
	c->magic = CHAIN_MAGIC;
	c->steps = steps;
	c->interval = interval;
	c->state[0] = UINT64_C(0x736c732d6e766821);
	c->state[1] = steps;
	c->state[2] = UINT64_C(0x0123456789abcdef);
	c->state[3] = UINT64_C(0xfedcba9876543210);
}

static uint64_t chain_fold(const uint64_t s[4])
{
	return s[0] ^ rotl(s[1], 16) ^ rotl(s[2], 32) ^ rotl(s[3], 48);
}

/* The persistent function: `i` is never stored in the heap by this code. */
static void *chain_run(void *arg)
{
	struct chain *c = arg;
	for (uint64_t i = 0; i < c->steps; i++) {
		chain_step(c->state, i);
		if ((i + 1) % c->interval == 0) {
			int rc = nvh_checkpoint();
			if (rc < 0) {
				fprintf(stderr, "nvh_hashchain: checkpoint at step %" PRIu64 " failed: %s\n",
					i + 1, nvh_last_error());
				exit(2);
			}
			if (rc == NVH_RESUMED) {
				c->resumes++;
				fprintf(stderr, "nvh_hashchain: resumed after step %" PRIu64 " (epoch %" PRIu64 ")\n",
					i + 1, nvh_epoch());
			}
		}
	}
	c->result = chain_fold(c->state);
	return NULL;
}

static int run_reference(uint64_t steps)
{
	struct chain c;
	chain_init(&c, steps, steps);
	for (uint64_t i = 0; i < steps; i++)
		chain_step(c.state, i);
	printf("RESULT %016" PRIx64 " steps %" PRIu64 " resumes 0 epoch 0\n", chain_fold(c.state), steps);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s HEAP [STEPS [INTERVAL]] | --reference [STEPS]\n", argv[0]);
		return 2;
	}
	uint64_t steps = argc > 2 ? strtoull(argv[2], NULL, 0) : 10000000;
	uint64_t interval = argc > 3 ? strtoull(argv[3], NULL, 0) : 100000;
	if (!steps || !interval) {
		fprintf(stderr, "nvh_hashchain: STEPS and INTERVAL must be positive\n");
		return 2;
	}
	if (strcmp(argv[1], "--reference") == 0)
		return run_reference(steps);

	if (!nvh_open(argv[1], HEAP_SIZE)) {
		fprintf(stderr, "nvh_hashchain: %s\n", nvh_last_error());
		return 2;
	}
	struct chain *c = nvh_root_get();
	if (!c) {
		c = nvh_alloc(sizeof *c);
		if (!c || nvh_root_set(c) < 0) {
			fprintf(stderr, "nvh_hashchain: %s\n", nvh_last_error());
			return 2;
		}
		chain_init(c, steps, interval);
	}
	if (c->magic != CHAIN_MAGIC || c->steps != steps || c->interval != interval) {
		fprintf(stderr, "nvh_hashchain: heap %s holds another chain (%" PRIu64 " steps, every %" PRIu64 ")\n",
			argv[1], c->steps, c->interval);
		return 2;
	}
	if (!c->finished) {
		if (nvh_run(chain_run, c, NULL) < 0) {
			fprintf(stderr, "nvh_hashchain: %s\n", nvh_last_error());
			return 2;
		}
		c->finished = 1;
		if (nvh_checkpoint() < 0) {
			fprintf(stderr, "nvh_hashchain: final checkpoint: %s\n", nvh_last_error());
			return 2;
		}
	}
	printf("RESULT %016" PRIx64 " steps %" PRIu64 " resumes %" PRIu64 " epoch %" PRIu64 "\n",
	       c->result, c->steps, c->resumes, nvh_epoch());
	return 0;
}
