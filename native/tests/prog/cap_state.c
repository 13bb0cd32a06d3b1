/*
 * cap_state — a process with known state for the capture tests (CRIU zdtm contract: set up state,
 * wait for the command, verify, print PASS/FAIL).
 *
 * Sets up: 3 threads (main in poll on stdin, one blocked in read on a pipe, one counting in a
 * select/nanosleep loop), an anonymous region with 8 of 16 pages written, a guard page, a private
 * file mapping with one page written (COW) and two only read, a shared file mapping, shared anonymous
 * memory, files at known offsets (one O_APPEND), /dev/null, a directory, a pipe with 10 unread
 * bytes, an eventfd holding 7, a SIGUSR1 handler (SA_RESTART|SA_ONSTACK, mask SIGUSR2) with an
 * altstack, SIGUSR2 blocked and pending on the main thread, SIGRTMIN+1 blocked and queued to the
 * process with value 42, RLIMIT_NOFILE 123/456, umask 027, optionally a child (argument "fork").
 *
 * Prints one line "READY key=value ..." with the addresses and fds, then checks itself every few ms:
 * memory contents unchanged, counter advancing, no EINTR anywhere. On "q" on stdin it wakes the reader,
 * checks once more and prints "PASS" or "FAIL why", exiting 0 or 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG 4096

static char failure[256];
static atomic_long counter;
static atomic_int stop_counting;
static int wake_pipe[2];
static atomic_int reader_result = -1; /* 0 read its byte, 1 EINTR or error */
static unsigned char *anon, *priv, *shanon;

static void fail(const char *why)
{
    if (!failure[0])
        snprintf(failure, sizeof(failure), "%s", why);
}

static void on_usr1(int sig)
{
    (void)sig;
}

static void *reader(void *arg)
{
    (void)arg;
    char c;
    ssize_t n = read(wake_pipe[0], &c, 1);
    reader_result = (n == 1 && c == 'w') ? 0 : 1;
    return NULL;
}

static void *count(void *arg)
{
    (void)arg;
    while (!stop_counting) {
        struct timeval tv = { 0, 1000 };
        if (select(0, NULL, NULL, NULL, &tv) < 0)
            fail("select failed in the counting thread (EINTR?)");
        struct timespec ts = { 0, 1000000 };
        if (nanosleep(&ts, NULL) != 0)
            fail("nanosleep returned early in the counting thread (EINTR)");
        counter++;
    }
    return NULL;
}

static void check_memory(void)
{
    for (int i = 0; i < 8; i++)
        if (anon[i * PG] != (unsigned char)(0x11 * (i + 1)) || anon[i * PG + PG - 1] != (unsigned char)i)
            fail("anonymous page contents changed");
    if (priv[0] != 'A' || priv[PG] != 'B' || priv[2 * PG] != 'z' || priv[3 * PG] != 'D')
        fail("private file mapping contents changed");
    if (shanon[0] != 0x5a)
        fail("shared anonymous page changed");
}

int main(int argc, char **argv)
{
    int do_fork = argc > 1 && strcmp(argv[1], "fork") == 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    umask(027);
    struct rlimit rl = { 123, 456 };
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        printf("FAIL setrlimit: %s\n", strerror(errno));
        return 1;
    }

    anon = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < 8; i++) {
        anon[i * PG] = (unsigned char)(0x11 * (i + 1));
        anon[i * PG + PG - 1] = (unsigned char)i;
    }
    unsigned char *guarded = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(guarded, 7, 4 * PG);
    mprotect(guarded, PG, PROT_NONE); /* a guard page below a small "stack" */

    char dpath[64];
    snprintf(dpath, sizeof(dpath), "/tmp/cap_state.%d.dat", getpid());
    int dfd = open(dpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
    unsigned char page[PG];
    for (int i = 0; i < 4; i++) {
        memset(page, 'A' + i, PG);
        if (write(dfd, page, PG) != PG)
            return 1;
    }
    priv = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, dfd, 0);
    volatile unsigned char sink = priv[0] + priv[PG]; /* read: still the file's pages */
    (void)sink;
    priv[2 * PG] = 'z';                                /* written: a private copy */
    unsigned char *shfile = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0);
    (void)shfile[0];
    shanon = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    shanon[0] = 0x5a;

    lseek(dfd, 1234, SEEK_SET);
    char apath[64];
    snprintf(apath, sizeof(apath), "/tmp/cap_state.%d.log", getpid());
    int afd = open(apath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (write(afd, "0123456789", 10) != 10)
        return 1;
    unlink(apath);
    int nullfd = open("/dev/null", O_RDWR);
    int dirfd = open("/tmp", O_RDONLY | O_DIRECTORY);
    int data_pipe[2];
    if (pipe(data_pipe) != 0 || write(data_pipe[1], "hello pipe", 10) != 10)
        return 1;
    int efd = eventfd(7, EFD_NONBLOCK);
    if (pipe(wake_pipe) != 0)
        return 1;

    static char altstack[64 * 1024];
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
    sigaltstack(&ss, NULL);
    struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART | SA_ONSTACK };
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    sigaddset(&block, SIGRTMIN + 1);
    pthread_sigmask(SIG_BLOCK, &block, NULL); /* threads created below inherit it */

    pthread_t tr, tc;
    pthread_create(&tr, NULL, reader, NULL);
    pthread_create(&tc, NULL, count, NULL);
    pthread_setname_np(tr, "cap-reader");
    pthread_setname_np(tc, "cap-counter");
    raise(SIGUSR2); /* pending on the main thread */
    union sigval v = { .sival_int = 42 };
    sigqueue(getpid(), SIGRTMIN + 1, v); /* pending on the process */

    pid_t child = 0;
    if (do_fork) {
        child = fork();
        if (child == 0) {
            for (;;)
                pause();
        }
    }
    usleep(20000); /* let the threads block */
    printf("READY anon=%p guard=%p priv=%p shfile=%p shanon=%p dfd=%d afd=%d nullfd=%d dirfd=%d "
           "piper=%d pipew=%d efd=%d handler=%p altstack=%p altsize=%zu child=%d\n",
           (void *)anon, (void *)guarded, (void *)priv, (void *)shfile, (void *)shanon, dfd, afd,
           nullfd, dirfd, data_pipe[0], data_pipe[1], efd, (void *)on_usr1, (void *)altstack,
           sizeof(altstack), child);

    long last = counter;
    for (;;) {
        struct pollfd pfd = { 0, POLLIN, 0 };
        int n = poll(&pfd, 1, 5);
        if (n < 0)
            fail(errno == EINTR ? "poll saw a spurious EINTR" : "poll failed");
        check_memory();
        if (n > 0) {
            char cmd[16];
            ssize_t r = read(0, cmd, sizeof(cmd));
            if (r <= 0 || cmd[0] == 'q')
                break;
        }
    }
    usleep(20000);
    if (counter <= last)
        fail("counting thread stopped counting");
    stop_counting = 1;
    if (write(wake_pipe[1], "w", 1) != 1)
        fail("cannot wake the reader");
    pthread_join(tr, NULL);
    pthread_join(tc, NULL);
    if (reader_result != 0)
        fail("the thread blocked in read saw EINTR or wrong data");
    char buf[16] = "";
    if (read(data_pipe[0], buf, sizeof(buf)) != 10 || memcmp(buf, "hello pipe", 10) != 0)
        fail("pipe bytes were consumed or changed");
    if (lseek(dfd, 0, SEEK_CUR) != 1234)
        fail("file offset changed");
    sigset_t pend;
    sigpending(&pend);
    if (!sigismember(&pend, SIGUSR2) || !sigismember(&pend, SIGRTMIN + 1))
        fail("a pending signal was lost");
    check_memory();
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
    }
    unlink(dpath);
    if (failure[0]) {
        printf("FAIL %s\n", failure);
        return 1;
    }
    printf("PASS\n");
    return 0;
}
