/* Restore test program: a counter that must continue from its checkpointed value and an array
 * traversal whose running checksum must stay right across the restore; afterwards the heap must
 * still grow (brk), the stack must still grow down (deep recursion), and vDSO time calls must still
 * work.
 *
 * Contract (as every rst_* program): stdout is a results file; prints "READY" once set up, keeps
 * working, and on SIGUSR2 verifies and prints "PASS rst_counter" or "FAIL rst_counter: why". */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NWORDS (2u << 20) /* 16 MiB of array */
#define NSMALL 2000

static volatile sig_atomic_t verify_requested;

static void on_usr2(int sig)
{
    (void)sig;
    verify_requested = 1;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

/* Uses about depth KiB of stack: far past the captured [stack] VMA, which must still grow down. */
static __attribute__((noinline)) uint64_t deep(int depth)
{
    volatile char frame[1024];
    frame[0] = (char)depth;
    if (depth == 0)
        return frame[0];
    return deep(depth - 1) + frame[0];
}

static int fail(const char *why, unsigned long long a, unsigned long long b)
{
    printf("FAIL rst_counter: %s (%llu vs %llu)\n", why, a, b);
    fflush(stdout);
    return 1;
}

int main(void)
{
    signal(SIGUSR2, on_usr2);
    uint64_t *arr = malloc(NWORDS * sizeof(uint64_t));
    char *small[NSMALL];
    uint64_t expected = 0;
    for (uint32_t i = 0; i < NWORDS; i++) {
        arr[i] = mix(i);
        expected += arr[i];
    }
    for (int i = 0; i < NSMALL; i++) { /* small blocks live in the brk heap */
        small[i] = malloc(48);
        snprintf(small[i], 48, "small block %d", i);
    }
    struct timespec t0;
    clock_gettime(CLOCK_REALTIME, &t0);
    uint64_t counter = 0, shadow = 0, running = 0, passes = 0;
    uint32_t idx = 0;
    printf("READY\n");
    fflush(stdout);
    while (!verify_requested) {
        for (int k = 0; k < 4096; k++) {
            running += arr[idx];
            if (++idx == NWORDS) {
                if (running != expected)
                    return fail("array checksum wrong after a full traversal", running, expected);
                running = 0;
                idx = 0;
                passes++;
            }
        }
        counter++;
        if (counter != shadow + 1)
            return fail("counter jumped", counter, shadow);
        shadow = counter;
    }
    /* Finish the traversal in progress: its checksum spans the checkpoint. */
    while (idx != 0) {
        running += arr[idx];
        if (++idx == NWORDS) {
            if (running != expected)
                return fail("array checksum wrong across the restore", running, expected);
            idx = 0;
        }
    }
    for (int i = 0; i < NSMALL; i++) {
        char want[48];
        snprintf(want, sizeof(want), "small block %d", i);
        if (strcmp(small[i], want))
            return fail("a small heap block changed", (unsigned long long)i, 0);
    }
    void *brk_before = sbrk(0);
    for (int i = 0; i < 4000; i++) { /* ~16 MiB in small blocks: brk must grow */
        char *p = malloc(4000);
        if (!p)
            return fail("malloc failed after restore", (unsigned long long)i, 0);
        memset(p, i, 4000);
    }
    if ((char *)sbrk(0) <= (char *)brk_before)
        return fail("brk did not grow", (unsigned long long)(uintptr_t)sbrk(0), (unsigned long long)(uintptr_t)brk_before);
    if (deep(4096) == 0) /* 4 MiB of stack */
        return fail("deep recursion returned nothing", 0, 0);
    struct timespec t1;
    clock_gettime(CLOCK_REALTIME, &t1);
    if (t1.tv_sec < t0.tv_sec)
        return fail("clock_gettime went backwards", (unsigned long long)t1.tv_sec, (unsigned long long)t0.tv_sec);
    printf("PASS rst_counter counter=%llu passes=%llu\n", (unsigned long long)counter, (unsigned long long)passes);
    fflush(stdout);
    return 0;
}
