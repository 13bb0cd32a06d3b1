/*
 * fds_int.h — one open descriptor being captured, and the dumper of each kind (one file per kind:
 * fds.c for files/dirs/devices/anon inodes, fd_pipe.c, fd_socket.c). A dumper fills the kind-specific
 * fields of fd->img and appends its extra bytes to fd->extra, or refuses with one precise line.
 */
#ifndef SLS_FDS_INT_H
#define SLS_FDS_INT_H

#include "capture_int.h"

#include <sys/stat.h>

struct sls_fd_capture {
    struct sls_capture_ctx *c;
    pid_t pid;
    int fd;
    int pidfd;               /* pidfd_open(pid), for pidfd_getfd; -1 until needed */
    struct stat st;
    char link[4096];         /* readlink of /proc/PID/fd/N */
    char *fdinfo;            /* text of /proc/PID/fdinfo/N */
    struct sls_img_fd img;
    struct sls_imgbuf extra; /* the kind-specific bytes after the path */
};

int sls_dump_pipe(struct sls_fd_capture *f);
int sls_dump_socket(struct sls_fd_capture *f);

/* A duplicate of the target's descriptor in the engine (pidfd_getfd); close it after use. */
int sls_fd_dup(struct sls_fd_capture *f);

#define FDERR(f, code, ...) CERR((f)->c, (code), __VA_ARGS__)

#endif
