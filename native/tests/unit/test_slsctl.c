/* test_slsctl — the libsls control client against a scripted server on a temporary socket:
 * request lines, OK/ERR parsing, errno and sls_strerror, SLS not running, timeouts, sls_restored. */
#include "sls_ctl.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int failures;
#define CHECK(name, cond, ...)                                                                       \
    do {                                                                                             \
        if (cond) {                                                                                  \
            printf("PASS %s\n", name);                                                               \
        } else {                                                                                     \
            failures++;                                                                              \
            printf("FAIL %s: ", name);                                                               \
            printf(__VA_ARGS__);                                                                     \
            printf("\n");                                                                            \
        }                                                                                            \
    } while (0)

struct script {
    int listen_fd;
    const char *reply;   /* NULL: close without answering; "" : never answer */
    char request[256];
};

static void *serve_one(void *arg)
{
    struct script *s = arg;
    int c = accept(s->listen_fd, NULL, NULL);
    if (c < 0) {
        return NULL;
    }
    ssize_t n = read(c, s->request, sizeof s->request - 1);
    s->request[n > 0 ? n : 0] = '\0';
    if (s->reply && *s->reply) {
        if (write(c, s->reply, strlen(s->reply)) < 0) {
            perror("write");
        }
    } else if (s->reply) {
        sleep(2); /* never answer within the client's timeout */
    }
    close(c);
    return NULL;
}

static int listen_at(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4) < 0) {
        perror("bind/listen");
        exit(2);
    }
    return fd;
}

static int run(struct script *s, int (*call)(uint64_t), uint64_t oid)
{
    pthread_t t;
    pthread_create(&t, NULL, serve_one, s);
    int rc = call(oid);
    int e = errno;
    pthread_join(t, NULL);
    errno = e;
    return rc;
}

int main(void)
{
    char path[108];
    snprintf(path, sizeof path, "/tmp/test-slsctl-%d.sock", getpid());

    unsetenv("SLS_CONTROL_SOCKET");
    int rc = sls_attach(3);
    CHECK("unconfigured socket is a clear error", rc == -1 && errno == ENOENT &&
          strstr(sls_strerror(errno), "SLS_CONTROL_SOCKET"), "rc=%d errno=%d %s", rc, errno, sls_strerror(errno));

    setenv("SLS_CONTROL_SOCKET", path, 1);
    unlink(path);
    rc = sls_checkpoint(3);
    CHECK("SLS not running is an error, not a hang", rc == -1 && (errno == ENOENT || errno == ECONNREFUSED) &&
          strstr(sls_strerror(errno), "not reachable"), "rc=%d errno=%d %s", rc, errno, sls_strerror(errno));

    struct script s = {.listen_fd = listen_at(path), .reply = "OK\n"};
    rc = run(&s, sls_attach, 7);
    CHECK("attach sends ATTACH with the oid", rc == 0 && strcmp(s.request, "ATTACH 7\n") == 0,
          "rc=%d request='%s'", rc, s.request);

    s.reply = "ERR 2 partition 9 does not exist\n";
    rc = run(&s, sls_detach, 9);
    CHECK("server errors come back as errno and message", rc == -1 && errno == 2 &&
          strcmp(sls_strerror(errno), "partition 9 does not exist") == 0 && strcmp(s.request, "DETACH 9\n") == 0,
          "rc=%d errno=%d msg=%s", rc, errno, sls_strerror(errno));
    CHECK("other codes give the system message", strcmp(sls_strerror(EPERM), strerror(EPERM)) == 0, "%s",
          sls_strerror(EPERM));

    s.reply = "OK 12\n";
    rc = run(&s, sls_checkpoint, 3);
    CHECK("checkpoint in the original returns 0 once committed", rc == 0 && strcmp(s.request, "CHECKPOINT 3\n") == 0,
          "rc=%d request=%s", rc, s.request);

    s.reply = NULL;
    rc = run(&s, sls_checkpoint, 3);
    CHECK("a connection lost during checkpoint in the original is an error", rc == -1 && errno == ECONNRESET,
          "rc=%d errno=%d", rc, errno);

    setenv("SLS_TIMEOUT_MS", "300", 1);
    s.reply = "";
    rc = run(&s, sls_checkpoint, 3);
    CHECK("no answer within SLS_TIMEOUT_MS is ETIMEDOUT", rc == -1 && errno == ETIMEDOUT, "rc=%d errno=%d", rc, errno);
    unsetenv("SLS_TIMEOUT_MS");

    CHECK("the original process is not restored", sls_restored() == 0, "sls_restored()=%d", sls_restored());

    close(s.listen_fd);
    unlink(path);
    return failures ? 1 : 0;
}
