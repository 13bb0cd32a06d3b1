/*
 * app_prefork — a pre-forking server of the classic shape, for the "real programs" restore test:
 * the parent binds a listening TCP socket on 127.0.0.1 (port 0: it prints the port), makes a pipe,
 * forks 2 workers that share both, and reads the workers' reports from the pipe. A worker accepts a
 * connection, reads one line, answers "worker PID n=N\n" (N: connections it served) and reports
 * "PID\n" to the parent. The parent counts reports per worker and after each one prints
 *
 *   PARENT total=T
 *
 * Prints "READY port=P" when both workers are up. The parent's check on SIGUSR1: every report came
 * from one of its two children (printed as "PASS app_prefork" or "FAIL app_prefork: why").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t check_requested;

static void on_usr1(int sig)
{
    (void)sig;
    check_requested = 1;
}

static void serve(int lsock, int report)
{
    int served = 0;
    for (;;) {
        int c = accept(lsock, NULL, NULL);
        if (c < 0)
            continue;
        char line[64];
        ssize_t n = read(c, line, sizeof(line));
        if (n > 0) {
            served++;
            int len = snprintf(line, sizeof(line), "worker %d n=%d\n", getpid(), served);
            if (write(c, line, (size_t)len) != len)
                perror("reply");
            len = snprintf(line, sizeof(line), "%d\n", getpid());
            if (write(report, line, (size_t)len) != len) /* < PIPE_BUF: atomic */
                _exit(3);
        }
        close(c);
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int lsock = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof(a);
    int pfd[2];
    if (lsock < 0 || bind(lsock, (struct sockaddr *)&a, sizeof(a)) || listen(lsock, 16) ||
        getsockname(lsock, (struct sockaddr *)&a, &al) || pipe(pfd)) {
        printf("FAIL app_prefork: setup: %s\n", strerror(errno));
        return 1;
    }
    pid_t workers[2];
    for (int w = 0; w < 2; w++) {
        workers[w] = fork();
        if (workers[w] == 0) {
            close(pfd[0]);
            serve(lsock, pfd[1]);
        }
    }
    close(pfd[1]);
    struct sigaction sa = { .sa_handler = on_usr1 }; /* no SA_RESTART: the pipe read returns EINTR */
    sigaction(SIGUSR1, &sa, NULL);
    printf("READY port=%d\n", ntohs(a.sin_port));
    FILE *reports = fdopen(pfd[0], "r");
    int total = 0, per_worker[2] = { 0, 0 }, strangers = 0;
    char line[64];
    for (;;) {
        if (fgets(line, sizeof(line), reports)) {
            pid_t from = atoi(line);
            if (from == workers[0])
                per_worker[0]++;
            else if (from == workers[1])
                per_worker[1]++;
            else
                strangers++;
            total++;
            printf("PARENT total=%d\n", total);
        } else if (!(ferror(reports) && errno == EINTR)) {
            printf("FAIL app_prefork: the report pipe ended\n");
            return 1;
        }
        clearerr(reports);
        if (check_requested) {
            check_requested = 0;
            if (strangers)
                printf("FAIL app_prefork: %d reports from unknown pids\n", strangers);
            else
                printf("PASS app_prefork workers=%d,%d served=%d,%d\n", workers[0], workers[1], per_worker[0],
                       per_worker[1]);
        }
    }
}
