/*
 * capture.c — sls_capture: freeze, take every process's state and pages, thaw, write the image.
 * Records are built in memory while frozen; only page contents are copied during the stop, the
 * image file is written after the thaw.
 */
#include "capture_int.h"
#include "slsnative.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int sls_main_injector(struct sls_capture_ctx *c, struct sls_frozen_proc *p, struct sls_injector **out)
{
    return sls_frozen_injector(&p->threads[0], out, c->err, c->errlen);
}

static int capture_process(struct sls_capture_ctx *c, struct sls_frozen_proc *p, struct sls_imgbuf *b)
{
    sls_imgbuf_record_begin(b, p->pid, c->fz.started_realtime_ns);
    int rc = sls_capture_proc(c, p, b);
    if (!rc)
        rc = sls_capture_threads(c, p, b);
    if (!rc)
        rc = sls_capture_signals(c, p, b);
    if (!rc)
        rc = sls_capture_memory(c, p, b);
    if (!rc)
        rc = sls_capture_fds(c, p, b);
    if (!rc && b->oom)
        rc = CERR(c, ENOMEM, "pid %d: out of memory building its image record", p->pid);
    return rc;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int write_image(struct sls_capture_ctx *c, struct sls_imgbuf *bufs, size_t n, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return CERR(c, errno, "image file %s: %s", path, strerror(errno));
    for (size_t i = 0; i < n; i++) {
        if (sls_imgbuf_record_end(&bufs[i]) != 0) {
            close(fd);
            return CERR(c, ENOMEM, "image file %s: out of memory", path);
        }
        if (write_all(fd, bufs[i].data, bufs[i].len) != 0) {
            int e = errno;
            close(fd);
            return CERR(c, e, "image file %s: %s", path, strerror(e));
        }
    }
    if (close(fd) != 0)
        return CERR(c, errno, "image file %s: %s", path, strerror(errno));
    return 0;
}

int sls_capture(const int32_t *pids, int32_t npids, int32_t flags,
                const char *page_path, const char *image_path,
                struct sls_capture_stats *stats, char *err, size_t errlen)
{
    if (err && errlen)
        *err = 0;
    if (!pids || npids <= 0 || !page_path || !image_path)
        return sls_errf(err, errlen, EINVAL, "sls_capture: no processes, page file or image file given");
    if (flags & ~SLS_CAPTURE_RECURSIVE)
        return sls_errf(err, errlen, EINVAL, "sls_capture: unknown flags %#x", flags);

    struct sls_capture_ctx c;
    memset(&c, 0, sizeof(c));
    c.err = err;
    c.errlen = errlen;
    c.page_fd = -1;
    int rc = sls_pagefile_prepare(&c, page_path, pids, npids, flags & SLS_CAPTURE_RECURSIVE);
    if (!rc)
        rc = sls_freeze(&c.fz, pids, npids, flags & SLS_CAPTURE_RECURSIVE, err, errlen);
    if (rc) {
        sls_pagefile_finish(&c);
        return rc;
    }
    size_t nprocs = c.fz.nprocs, nthreads = 0;
    uint64_t started = c.fz.started_ns;
    struct sls_imgbuf *bufs = calloc(nprocs, sizeof(*bufs));
    if (!bufs)
        rc = CERR(&c, ENOMEM, "out of memory");
    for (size_t i = 0; i < nprocs && !rc; i++) {
        rc = capture_process(&c, &c.fz.procs[i], &bufs[i]);
        nthreads += c.fz.procs[i].nthreads;
    }
    if (!rc)
        rc = sls_copy_pages(&c);
    int trc = sls_thaw(&c.fz, rc ? NULL : err, errlen);
    uint64_t stop_ns = sls_now_ns(CLOCK_MONOTONIC) - started;
    if (!rc)
        rc = trc;
    int frc = sls_pagefile_finish(&c);
    if (!rc)
        rc = frc;
    if (!rc)
        rc = write_image(&c, bufs, nprocs, image_path);
    if (!rc && stats) {
        stats->stop_ns = stop_ns;
        stats->page_bytes = c.page_bytes;
        stats->nprocs = (uint32_t)nprocs;
        stats->nthreads = (uint32_t)nthreads;
    }
    for (size_t i = 0; bufs && i < nprocs; i++)
        sls_imgbuf_free(&bufs[i]);
    free(bufs);
    free(c.copies);
    free(c.pipes_seen);
    return rc;
}
