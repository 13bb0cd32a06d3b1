/*
 * cap_sleepers — threads that each sleep 150 ms at a time in nanosleep, a futex wait
 * (pthread_cond_timedwait), select, poll and a read with nothing to read (woken only at the end), and
 * check after each sleep that it was neither interrupted (EINTR) nor cut short. Being frozen and
 * thawed any number of times must not change that. On "q": PASS or FAIL why.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#define SLEEP_MS 150

static atomic_int done;
static char failure[200];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int idle_pipe[2];
static atomic_int rounds[4];

static void fail(const char *why)
{
    if (!failure[0])
        snprintf(failure, sizeof(failure), "%s", why);
}

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void *sleeper(void *arg)
{
    int kind = (int)(long)arg;
    do { /* at least one full round, however late the thread starts */
        long t0 = now_ms();
        int rc = 0;
        if (kind == 0) {
            struct timespec ts = { 0, SLEEP_MS * 1000000L };
            rc = nanosleep(&ts, NULL);
        } else if (kind == 1) {
            struct timespec dl;
            clock_gettime(CLOCK_REALTIME, &dl);
            dl.tv_nsec += SLEEP_MS * 1000000L;
            dl.tv_sec += dl.tv_nsec / 1000000000L;
            dl.tv_nsec %= 1000000000L;
            pthread_mutex_lock(&mu);
            int r = pthread_cond_timedwait(&cv, &mu, &dl);
            pthread_mutex_unlock(&mu);
            rc = r == ETIMEDOUT ? 0 : -1;
        } else if (kind == 2) {
            struct timeval tv = { 0, SLEEP_MS * 1000 };
            rc = select(0, NULL, NULL, NULL, &tv);
        } else {
            rc = poll(NULL, 0, SLEEP_MS);
        }
        long slept = now_ms() - t0;
        if (rc != 0) {
            static const char *names[] = { "nanosleep", "futex wait", "select", "poll" };
            char why[100];
            snprintf(why, sizeof(why), "%s returned %d (errno %s)", names[kind], rc, strerror(errno));
            fail(why);
        } else if (slept < SLEEP_MS - 2) {
            fail("a sleep was cut short");
        }
        rounds[kind]++;
    } while (!done);
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    char c;
    ssize_t n = read(idle_pipe[0], &c, 1);
    if (n != 1)
        fail(n < 0 && errno == EINTR ? "read saw EINTR" : "read failed");
    return NULL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (pipe(idle_pipe))
        return 1;
    pthread_t t[5];
    for (long k = 0; k < 4; k++)
        pthread_create(&t[k], NULL, sleeper, (void *)k);
    pthread_create(&t[4], NULL, reader, NULL);
    printf("READY threads=6\n");
    char cmd[8];
    ssize_t n;
    while ((n = read(0, cmd, sizeof(cmd))) < 0 && errno == EINTR)
        fail("main read saw EINTR");
    done = 1;
    if (write(idle_pipe[1], "x", 1) != 1)
        fail("cannot wake the reader");
    for (int k = 0; k < 5; k++)
        pthread_join(t[k], NULL);
    for (int k = 0; k < 4; k++)
        if (rounds[k] == 0)
            fail("a sleeper never completed a round");
    if (failure[0]) {
        printf("FAIL %s\n", failure);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
