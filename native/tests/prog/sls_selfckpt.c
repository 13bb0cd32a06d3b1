/* sls_selfckpt — a program that persists itself through SLS (libsls part A).
 *
 *   sls_selfckpt OID OUTFILE
 * Attaches itself to partition OID, then loops: counter++, sls_checkpoint(OID). Each line it appends
 * to OUTFILE says what happened: "ckpt N" after a committed checkpoint in the original, "restored N"
 * the first time sls_checkpoint returns SLS_RESTORED (N continues from the checkpointed counter), and
 * "error ..." on failure. After a restore it keeps looping (and checkpointing) until killed. */
#include "sls_ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void say(const char *path, const char *fmt, long long n, const char *extra)
{
    char line[512];
    int len = snprintf(line, sizeof line, fmt, n, extra);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        if (write(fd, line, (size_t)len) < 0) {
            perror("write");
        }
        close(fd);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s OID OUTFILE\n", argv[0]);
        return 2;
    }
    uint64_t oid = strtoull(argv[1], NULL, 10);
    const char *out = argv[2];
    if (sls_attach(oid) < 0) {
        say(out, "error %lld attach: %s\n", errno, sls_strerror(errno));
        return 1;
    }
    long long counter = 0;
    int reported_restore = 0;
    for (;;) {
        counter++;
        int rc = sls_checkpoint(oid);
        if (rc == SLS_RESTORED) {
            if (!reported_restore) {
                say(out, "restored %lld%s\n", counter, "");
                reported_restore = 1;
            }
        } else if (rc == 0) {
            if (!reported_restore) {
                say(out, "ckpt %lld%s\n", counter, "");
            }
        } else {
            say(out, "error %lld checkpoint: %s\n", errno, sls_strerror(errno));
        }
        usleep(200000);
    }
}
