/* Restore test program: a parent and two children in a ring of pipes (parent -> child1 -> child2 ->
 * parent), captured recursively, sharing one page of anonymous shared memory. child2 leaves a
 * greeting buffered in its pipe to the parent before the checkpoint. After SIGUSR2 the parent reads
 * the greeting, stores 100 in the shared page, sends 40 around the ring (child1 adds the shared value
 * plus one, child2 adds one), expects 142 back (the page is still shared after restore), closes its end so the children see EOF and exit 0, and reaps them
 * with waitpid: the restored children must still be its children. Prints READY, then PASS/FAIL as
 * every rst_* program. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t verify_requested;
static const char greeting[] = "hello from child2";

static void on_usr2(int sig)
{
    (void)sig;
    verify_requested = 1;
}

static volatile int *shared_page;

static int relay(int in, int out, int add_shared)
{
    int v;
    for (;;) {
        ssize_t n = read(in, &v, sizeof(v));
        if (n == 0)
            return 0;
        if (n != sizeof(v))
            return 1;
        v += 1 + (add_shared ? *shared_page : 0);
        if (write(out, &v, sizeof(v)) != sizeof(v))
            return 1;
    }
}

static int fail(const char *why)
{
    printf("FAIL rst_family: %s\n", why);
    fflush(stdout);
    return 1;
}

int main(void)
{
    int p2c1[2], c1c2[2], c2p[2];
    shared_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared_page == MAP_FAILED)
        return fail("mmap failed");
    *shared_page = 0;
    if (pipe(p2c1) || pipe(c1c2) || pipe(c2p))
        return fail("pipe failed");
    pid_t c1 = fork();
    if (c1 == 0) {
        close(p2c1[1]);
        close(c1c2[0]);
        close(c2p[0]);
        close(c2p[1]);
        _exit(relay(p2c1[0], c1c2[1], 1));
    }
    pid_t c2 = fork();
    if (c2 == 0) {
        close(p2c1[0]);
        close(p2c1[1]);
        close(c1c2[1]);
        close(c2p[0]);
        if (write(c2p[1], greeting, sizeof(greeting)) != (ssize_t)sizeof(greeting))
            _exit(1);
        _exit(relay(c1c2[0], c2p[1], 0));
    }
    signal(SIGUSR2, on_usr2);
    close(p2c1[0]);
    close(c1c2[0]);
    close(c1c2[1]);
    close(c2p[1]);
    /* Both children must be blocked in read (and child2's greeting written) before READY. */
    for (int tries = 0; tries < 1000; tries++) {
        char path[64], state = 0;
        int blocked = 0;
        pid_t kids[2] = { c1, c2 };
        for (int k = 0; k < 2; k++) {
            snprintf(path, sizeof(path), "/proc/%d/stat", kids[k]);
            FILE *f = fopen(path, "r");
            if (f && fscanf(f, "%*d %*s %c", &state) == 1 && state == 'S')
                blocked++;
            if (f)
                fclose(f);
        }
        if (blocked == 2)
            break;
        struct timespec ts = { 0, 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    printf("READY children %d %d\n", c1, c2);
    fflush(stdout);
    while (!verify_requested) {
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    char got[sizeof(greeting)];
    if (read(c2p[0], got, sizeof(got)) != (ssize_t)sizeof(got) || memcmp(got, greeting, sizeof(got)))
        return fail("child2's buffered greeting is gone");
    *shared_page = 100;
    int v = 40;
    if (write(p2c1[1], &v, sizeof(v)) != sizeof(v))
        return fail("write to child1 failed");
    if (read(c2p[0], &v, sizeof(v)) != sizeof(v) || v != 142)
        return fail(v == 42 ? "child1 does not see the parent's write to the shared page" : "the ring did not return 142");
    close(p2c1[1]);
    int st1, st2;
    if (waitpid(c1, &st1, 0) != c1 || waitpid(c2, &st2, 0) != c2)
        return fail("the children are not the parent's children any more");
    if (!WIFEXITED(st1) || WEXITSTATUS(st1) || !WIFEXITED(st2) || WEXITSTATUS(st2))
        return fail("a child did not exit cleanly");
    printf("PASS rst_family\n");
    fflush(stdout);
    return 0;
}
