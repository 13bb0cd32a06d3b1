/*
 * sls_test.h — the C test contract: each case prints "PASS name" or "FAIL name: why"; the binary
 * exits non-zero if any case failed (tests/run-unit.sh counts the lines).
 *
 *   TEST_CASE(capture_reports_threads) { ...; EXPECT(n == 3, "threads %d, want 3", n); }
 *   int main(void) { RUN(capture_reports_threads); return TEST_EXIT(); }
 */
#ifndef SLS_TEST_H
#define SLS_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLS_WHY_LEN 1024

static int sls_test_failures;

/* Records the first failed expectation of the current case. */
#define EXPECT(cond, ...)                                                                  \
    do {                                                                                   \
        if (!(cond) && !*case_why)                                                         \
            snprintf(case_why, SLS_WHY_LEN, __VA_ARGS__);                                  \
    } while (0)

/* Like EXPECT, but leaves the case at once (no point going on). */
#define REQUIRE(cond, ...)                                                                 \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            if (!*case_why)                                                                \
                snprintf(case_why, SLS_WHY_LEN, __VA_ARGS__);                              \
            goto out;                                                                      \
        }                                                                                  \
    } while (0)

#define TEST_CASE(name) static void name(char *case_why)

static inline void sls_run_case(const char *name, void (*fn)(char *))
{
    char why[SLS_WHY_LEN] = "";
    fn(why);
    if (*why) {
        printf("FAIL %s: %s\n", name, why);
        sls_test_failures++;
    } else {
        printf("PASS %s\n", name);
    }
    fflush(stdout);
}

#define RUN(fn) sls_run_case(#fn, fn)
#define TEST_EXIT() (sls_test_failures ? 1 : 0)

#endif
