/*
 * fd_pipe.c — pipes and FIFOs with the bytes still buffered in them.
 *
 * Reading the buffer would consume it, so the bytes are duplicated with tee(2) from a second read end
 * (opening /proc/PID/fd/N of a pipe gives a new end of the same pipe) into a pipe of the engine's own,
 * and read from there. A pipe's bytes are stored once, with the first of its descriptors captured.
 */
#include "fds_int.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int seen_before(struct sls_capture_ctx *c, uint64_t ino)
{
    for (size_t i = 0; i < c->npipes; i++)
        if (c->pipes_seen[i] == ino)
            return 1;
    if (c->npipes == c->pipes_cap) {
        size_t nc = c->pipes_cap ? c->pipes_cap * 2 : 16;
        uint64_t *n = realloc(c->pipes_seen, nc * sizeof(*n));
        if (!n)
            return -1;
        c->pipes_seen = n;
        c->pipes_cap = nc;
    }
    c->pipes_seen[c->npipes++] = ino;
    return 0;
}

int sls_dump_pipe(struct sls_fd_capture *f)
{
    struct sls_img_fd_pipe pp = { .pipe_ino = f->st.st_ino };
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd/%d", f->pid, f->fd);
    int rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (rfd < 0)
        return FDERR(f, errno, "pid %d fd %d (%s): cannot open a read end to look into it: %s",
                     f->pid, f->fd, f->link, strerror(errno));
    int size = fcntl(rfd, F_GETPIPE_SZ);
    pp.pipe_size = size > 0 ? (uint32_t)size : 0;
    int queued = 0;
    ioctl(rfd, FIONREAD, &queued);
    int seen = seen_before(f->c, pp.pipe_ino);
    if (seen < 0) {
        close(rfd);
        return FDERR(f, ENOMEM, "pid %d: out of memory", f->pid);
    }
    char *data = NULL;
    if (seen) {
        pp.pipe_flags |= SLS_PIPE_DATA_ELSEWHERE;
    } else if (queued > 0) {
        int tmp[2];
        if (pipe2(tmp, O_NONBLOCK | O_CLOEXEC) != 0) {
            close(rfd);
            return FDERR(f, errno, "pid %d fd %d: pipe2: %s", f->pid, f->fd, strerror(errno));
        }
        if (size > 0)
            fcntl(tmp[1], F_SETPIPE_SZ, size);
        ssize_t dup = tee(rfd, tmp[1], (size_t)queued, SPLICE_F_NONBLOCK);
        data = malloc((size_t)queued);
        ssize_t got = (dup > 0 && data) ? read(tmp[0], data, (size_t)dup) : -1;
        close(tmp[0]);
        close(tmp[1]);
        if (got != queued) {
            free(data);
            close(rfd);
            return FDERR(f, EIO, "pid %d fd %d (%s): could copy only %zd of its %d buffered bytes",
                         f->pid, f->fd, f->link, got, queued);
        }
        pp.data_len = (uint32_t)queued;
    }
    close(rfd);
    sls_imgbuf_put(&f->extra, &pp, sizeof(pp));
    sls_imgbuf_put(&f->extra, data, pp.data_len);
    free(data);
    return 0;
}
