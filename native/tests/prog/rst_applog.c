/* Restore test program: appends numbered lines to a log file (argv[1], written through a plain
 * O_WRONLY fd, so the file offset matters) — 100 before the checkpoint, 100 after SIGUSR2 — and then
 * checks the file holds exactly lines 0..199 in order: the restored fd continued at the right
 * offset. Prints READY, then PASS/FAIL as every rst_* program. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t verify_requested;

static void on_usr2(int sig)
{
    (void)sig;
    verify_requested = 1;
}

static int fail(const char *why)
{
    printf("FAIL rst_applog: %s\n", why);
    fflush(stdout);
    return 1;
}

static int put_line(int fd, int i)
{
    char line[32];
    int n = snprintf(line, sizeof(line), "line %d\n", i);
    return write(fd, line, (size_t)n) == n ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return fail("usage: rst_applog LOGFILE");
    signal(SIGUSR2, on_usr2);
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return fail("cannot create the log");
    for (int i = 0; i < 100; i++)
        if (put_line(fd, i))
            return fail("write failed");
    printf("READY\n");
    fflush(stdout);
    while (!verify_requested) {
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    for (int i = 100; i < 200; i++)
        if (put_line(fd, i))
            return fail("write after restore failed");
    off_t pos = lseek(fd, 0, SEEK_CUR);
    FILE *f = fopen(argv[1], "r");
    if (!f)
        return fail("cannot reopen the log");
    char line[64];
    int expect = 0;
    while (fgets(line, sizeof(line), f)) {
        char want[32];
        snprintf(want, sizeof(want), "line %d\n", expect);
        if (strcmp(line, want)) {
            printf("FAIL rst_applog: line %d reads \"%.*s\"\n", expect, (int)strcspn(line, "\n"), line);
            return 1;
        }
        expect++;
    }
    long size = ftell(f);
    fclose(f);
    if (expect != 200)
        return fail("the log does not hold 200 lines");
    if (pos != size)
        return fail("the fd offset is not the end of the log");
    printf("PASS rst_applog\n");
    fflush(stdout);
    return 0;
}
