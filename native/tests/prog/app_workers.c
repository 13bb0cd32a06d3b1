/*
 * app_workers — a small multi-threaded server of the usual shape, for the "real programs" restore
 * test: a timerfd (every 2 ms) makes the main thread enqueue numbered work items on a queue under a
 * mutex/condvar; 4 worker threads take them, compute a digest of the item, add it to the totals and
 * signal completion through an eventfd; the main thread's epoll watches the timerfd, the eventfd and
 * a listening unix socket (argv[1]) where a client asking "status\n" gets one line:
 *
 *   enqueued=E processed=P completions=C check=PASS|FAIL(why)
 *
 * The check is the program's own invariant: every item ever enqueued is exactly once either queued,
 * being worked on, or processed, and the digests of the processed ones add up to the digests of
 * all enqueued minus those queued or in flight; completions read from the eventfd never exceed
 * processed. Prints READY when serving.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#define NWORKERS 4
#define QCAP 4096
#define IDLE (-1)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t nonempty = PTHREAD_COND_INITIALIZER;
static int64_t queue[QCAP];
static int qhead, qlen;
static int64_t enqueued, processed;
static uint64_t processed_digest;
static int64_t in_flight[NWORKERS];
static int efd;

static uint64_t digest(int64_t item)
{
    uint64_t x = (uint64_t)item * 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 200; i++) /* some work per item */
        x = (x ^ (x >> 29)) * 0xBF58476D1CE4E5B9ull;
    return x;
}

static void *worker(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (qlen == 0)
            pthread_cond_wait(&nonempty, &lock);
        int64_t item = queue[qhead];
        qhead = (qhead + 1) % QCAP;
        qlen--;
        in_flight[me] = item;
        pthread_mutex_unlock(&lock);
        uint64_t d = digest(item);
        pthread_mutex_lock(&lock);
        processed++;
        processed_digest += d;
        in_flight[me] = IDLE;
        pthread_mutex_unlock(&lock);
        uint64_t one = 1;
        if (write(efd, &one, sizeof(one)) != sizeof(one))
            abort();
    }
    return NULL;
}

static void status_line(int64_t completions, char *out, size_t len)
{
    pthread_mutex_lock(&lock);
    uint64_t all = 0, pending = 0;
    for (int64_t i = 0; i < enqueued; i++)
        all += digest(i);
    int64_t accounted = processed + qlen;
    for (int i = 0; i < qlen; i++)
        pending += digest(queue[(qhead + i) % QCAP]);
    for (int w = 0; w < NWORKERS; w++)
        if (in_flight[w] != IDLE) {
            pending += digest(in_flight[w]);
            accounted++;
        }
    const char *check = "PASS";
    if (accounted != enqueued)
        check = "FAIL(items lost or duplicated)";
    else if (processed_digest + pending != all)
        check = "FAIL(digest sum)";
    else if (completions > processed)
        check = "FAIL(more completions than processed items)";
    snprintf(out, len, "enqueued=%lld processed=%lld completions=%lld check=%s\n", (long long)enqueued,
             (long long)processed, (long long)completions, check);
    pthread_mutex_unlock(&lock);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        printf("FAIL app_workers: usage: app_workers SOCKET_PATH\n");
        return 1;
    }
    for (int w = 0; w < NWORKERS; w++)
        in_flight[w] = IDLE;
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    int lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", argv[1]);
    unlink(sun.sun_path);
    struct itimerspec its = { .it_interval = { 0, 2000000 }, .it_value = { 0, 2000000 } };
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN };
    if (efd < 0 || tfd < 0 || lsock < 0 || ep < 0 || bind(lsock, (struct sockaddr *)&sun, sizeof(sun)) ||
        listen(lsock, 8) || timerfd_settime(tfd, 0, &its, NULL)) {
        printf("FAIL app_workers: setup: %s\n", strerror(errno));
        return 1;
    }
    ev.data.fd = efd;
    epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
    ev.data.fd = tfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
    ev.data.fd = lsock;
    epoll_ctl(ep, EPOLL_CTL_ADD, lsock, &ev);
    for (int w = 0; w < NWORKERS; w++) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, (void *)(intptr_t)w)) {
            printf("FAIL app_workers: pthread_create\n");
            return 1;
        }
    }
    printf("READY\n");
    int64_t completions = 0;
    for (;;) {
        struct epoll_event evs[8];
        int n = epoll_wait(ep, evs, 8, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            uint64_t v;
            if (fd == tfd && read(tfd, &v, sizeof(v)) == sizeof(v)) {
                pthread_mutex_lock(&lock);
                if (qlen < QCAP) { /* ticks beyond the queue's room are dropped, not queued */
                    queue[(qhead + qlen) % QCAP] = enqueued++;
                    qlen++;
                    pthread_cond_signal(&nonempty);
                }
                pthread_mutex_unlock(&lock);
            } else if (fd == efd && read(efd, &v, sizeof(v)) == sizeof(v)) {
                completions += (int64_t)v;
            } else if (fd == lsock) {
                int c = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0)
                    continue;
                char req[32] = "";
                struct timeval tv = { 2, 0 };
                setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                ssize_t r = read(c, req, sizeof(req) - 1);
                if (r > 0 && !strncmp(req, "status", 6)) {
                    char line[256];
                    status_line(completions, line, sizeof(line));
                    if (write(c, line, strlen(line)) < 0)
                        perror("write status");
                }
                close(c);
            }
        }
    }
}
