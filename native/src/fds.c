/*
 * fds.c — every open descriptor of a process: position and flags from fdinfo, classified by what it
 * refers to, with the state each kind needs (see enum sls_fd_type). Regular files, directories and
 * devices are reopened by path on restore; memfds and unlinked files carry their contents; the anon
 * inode kinds carry what their fdinfo shows. Pipes and sockets live in fd_pipe.c / fd_socket.c.
 */
#include "fds_int.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define CONTENTS_MAX (256ull << 20) /* memfd / unlinked file contents kept in the image */
#define MQUEUE_MAGIC 0x19800202

int sls_fd_dup(struct sls_fd_capture *f)
{
    if (f->pidfd < 0) {
        f->pidfd = (int)syscall(SYS_pidfd_open, f->pid, 0);
        if (f->pidfd < 0)
            return FDERR(f, errno, "pid %d: pidfd_open: %s", f->pid, strerror(errno));
    }
    int d = (int)syscall(SYS_pidfd_getfd, f->pidfd, f->fd, 0);
    if (d < 0)
        return FDERR(f, errno, "pid %d fd %d: pidfd_getfd: %s", f->pid, f->fd, strerror(errno));
    return d;
}

static const char *info_field(const char *info, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = info; p && *p;) {
        if (strncmp(p, key, n) == 0)
            return p + n;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NULL;
}

/* memfd / unlinked file: its bytes go into the image (there is no other copy once it is gone) */
static int dump_contents(struct sls_fd_capture *f)
{
    if ((uint64_t)f->st.st_size > CONTENTS_MAX)
        return FDERR(f, EFBIG, "pid %d fd %d (%s): %lld bytes of file contents exceed the %llu MiB "
                     "the image keeps for memfds and unlinked files", f->pid, f->fd, f->link,
                     (long long)f->st.st_size, CONTENTS_MAX >> 20);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd/%d", f->pid, f->fd);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return FDERR(f, errno, "pid %d fd %d (%s): cannot open it to read its contents: %s", f->pid,
                     f->fd, f->link, strerror(errno));
    size_t size = (size_t)f->st.st_size;
    char *buf = malloc(size ? size : 1);
    size_t got = 0;
    while (buf && got < size) {
        ssize_t r = pread(fd, buf + got, size - got, (off_t)got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!buf || got != size) {
        free(buf);
        return FDERR(f, EIO, "pid %d fd %d (%s): could read only %zu of %zu bytes", f->pid, f->fd,
                     f->link, got, size);
    }
    sls_imgbuf_put(&f->extra, buf, size);
    free(buf);
    return 0;
}

static int dump_eventfd(struct sls_fd_capture *f)
{
    struct sls_img_fd_eventfd e = { 0 };
    const char *v = info_field(f->fdinfo, "eventfd-count:");
    if (v)
        e.count = strtoull(v, NULL, 16);
    if ((v = info_field(f->fdinfo, "eventfd-semaphore:")))
        e.semaphore = (uint32_t)strtoul(v, NULL, 10);
    sls_imgbuf_put(&f->extra, &e, sizeof(e));
    return 0;
}

static int dump_epoll(struct sls_fd_capture *f)
{
    for (const char *p = f->fdinfo; (p = strstr(p, "tfd:")); p += 4) {
        struct sls_img_fd_epoll_target t = { 0 };
        unsigned int events;
        unsigned long long data, pos = 0;
        unsigned long ino = 0;
        if (sscanf(p, "tfd: %d events: %x data: %llx pos:%llu ino:%lx", &t.tfd, &events, &data, &pos,
                   &ino) < 3)
            continue;
        t.events = events;
        t.data = data;
        t.pos = pos;
        t.tinode = ino;
        sls_imgbuf_put(&f->extra, &t, sizeof(t));
    }
    return 0;
}

static int dump_timerfd(struct sls_fd_capture *f)
{
    struct sls_img_fd_timerfd t = { 0 };
    const char *v;
    if ((v = info_field(f->fdinfo, "clockid:")))
        t.clockid = (int32_t)strtol(v, NULL, 10);
    if ((v = info_field(f->fdinfo, "ticks:")))
        t.ticks = strtoull(v, NULL, 10);
    if ((v = info_field(f->fdinfo, "settime flags:")))
        t.settime_flags = (uint32_t)strtoul(v, NULL, 8);
    unsigned long long a, b;
    if ((v = info_field(f->fdinfo, "it_value:")) && sscanf(v, " (%llu, %llu)", &a, &b) == 2) {
        t.value_sec = a;
        t.value_nsec = b;
    }
    if ((v = info_field(f->fdinfo, "it_interval:")) && sscanf(v, " (%llu, %llu)", &a, &b) == 2) {
        t.interval_sec = a;
        t.interval_nsec = b;
    }
    sls_imgbuf_put(&f->extra, &t, sizeof(t));
    return 0;
}

static int dump_signalfd(struct sls_fd_capture *f)
{
    const char *v = info_field(f->fdinfo, "sigmask:");
    uint64_t mask = v ? strtoull(v, NULL, 16) : 0;
    sls_imgbuf_put(&f->extra, &mask, sizeof(mask));
    return 0;
}

static int dump_inotify(struct sls_fd_capture *f)
{
    for (const char *p = f->fdinfo; (p = strstr(p, "inotify wd:")); p += 11) {
        struct sls_img_fd_inotify_watch w = { 0 };
        unsigned int wd, sdev, mask;
        unsigned long ino;
        if (sscanf(p, "inotify wd:%x ino:%lx sdev:%x mask:%x", &wd, &ino, &sdev, &mask) != 4)
            continue;
        w.wd = (int32_t)wd;
        w.ino = ino;
        w.sdev = sdev;
        w.mask = mask;
        sls_imgbuf_put(&f->extra, &w, sizeof(w));
    }
    return 0;
}

static int is_tty_major(unsigned int major)
{
    return major == 4 || major == 5 || (major >= 136 && major <= 143);
}

static int classify_and_dump(struct sls_fd_capture *f)
{
    const char *link = f->link;
    mode_t mode = f->st.st_mode;
    if (strncmp(link, "anon_inode:", 11) == 0) {
        const char *what = link + 11;
        if (strcmp(what, "[eventfd]") == 0)
            return f->img.type = SLS_FD_EVENTFD, dump_eventfd(f);
        if (strcmp(what, "[eventpoll]") == 0)
            return f->img.type = SLS_FD_EPOLL, dump_epoll(f);
        if (strcmp(what, "[timerfd]") == 0)
            return f->img.type = SLS_FD_TIMERFD, dump_timerfd(f);
        if (strcmp(what, "[signalfd]") == 0)
            return f->img.type = SLS_FD_SIGNALFD, dump_signalfd(f);
        if (strcmp(what, "inotify") == 0)
            return f->img.type = SLS_FD_INOTIFY, dump_inotify(f);
        return FDERR(f, ENOTSUP, "pid %d fd %d: %s is not supported", f->pid, f->fd, link);
    }
    if (S_ISFIFO(mode)) {
        f->img.type = strncmp(link, "pipe:", 5) == 0 ? SLS_FD_PIPE : SLS_FD_FIFO;
        return sls_dump_pipe(f);
    }
    if (S_ISSOCK(mode))
        return sls_dump_socket(f);
    if (S_ISDIR(mode))
        return f->img.type = SLS_FD_DIR, 0;
    if (S_ISCHR(mode)) {
        f->img.rdev_major = major(f->st.st_rdev);
        f->img.rdev_minor = minor(f->st.st_rdev);
        f->img.type = is_tty_major(f->img.rdev_major) ? SLS_FD_TTY : SLS_FD_CHR;
        return 0;
    }
    if (S_ISREG(mode)) {
        /* a POSIX message queue looks like a regular file whose path exists only in mqueuefs */
        char path[64];
        struct statfs sfs;
        snprintf(path, sizeof(path), "/proc/%d/fd/%d", f->pid, f->fd);
        if (statfs(path, &sfs) == 0 && sfs.f_type == MQUEUE_MAGIC)
            return FDERR(f, ENOTSUP, "pid %d fd %d: POSIX message queue %s is not supported", f->pid,
                         f->fd, link);
        if (strncmp(link, "/memfd:", 7) == 0)
            return f->img.type = SLS_FD_MEMFD, dump_contents(f);
        f->img.type = SLS_FD_REG;
        size_t n = strlen(link);
        if (f->st.st_nlink == 0 || (n > 10 && strcmp(link + n - 10, " (deleted)") == 0)) {
            f->img.xflags |= SLS_FDX_UNLINKED;
            return dump_contents(f);
        }
        return 0;
    }
    if (S_ISBLK(mode))
        return FDERR(f, ENOTSUP, "pid %d fd %d: block device %s is not supported", f->pid, f->fd, link);
    return FDERR(f, ENOTSUP, "pid %d fd %d: %s is not supported", f->pid, f->fd, link);
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

static int capture_one(struct sls_fd_capture *f, struct sls_imgbuf *b)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd/%d", f->pid, f->fd);
    ssize_t n = readlink(path, f->link, sizeof(f->link) - 1);
    if (n < 0)
        return errno == ENOENT ? 0 : FDERR(f, errno, "pid %d fd %d: readlink: %s", f->pid, f->fd,
                                           strerror(errno));
    f->link[n] = 0;
    if (stat(path, &f->st) != 0)
        return FDERR(f, errno, "pid %d fd %d (%s): stat: %s", f->pid, f->fd, f->link, strerror(errno));
    snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", f->pid, f->fd);
    if (sls_read_file(path, &f->fdinfo) < 0)
        return FDERR(f, ESRCH, "pid %d fd %d: cannot read %s", f->pid, f->fd, path);
    memset(&f->img, 0, sizeof(f->img));
    memset(&f->extra, 0, sizeof(f->extra));
    f->img.fd = f->fd;
    const char *v;
    if ((v = info_field(f->fdinfo, "pos:")))
        f->img.pos = strtoull(v, NULL, 10);
    if ((v = info_field(f->fdinfo, "flags:"))) {
        unsigned long fl = strtoul(v, NULL, 8);
        f->img.fd_flags = (fl & O_CLOEXEC) ? FD_CLOEXEC : 0;
        f->img.file_flags = (uint32_t)(fl & ~(unsigned long)O_CLOEXEC);
    }
    if ((v = info_field(f->fdinfo, "mnt_id:")))
        f->img.mnt_id = (uint32_t)strtoul(v, NULL, 10);
    f->img.dev = f->st.st_dev;
    f->img.inode = f->st.st_ino;
    f->img.mode = f->st.st_mode;
    f->img.size = (uint64_t)f->st.st_size;
    f->img.mtime_ns = (int64_t)f->st.st_mtim.tv_sec * 1000000000 + f->st.st_mtim.tv_nsec;
    int rc = classify_and_dump(f);
    free(f->fdinfo);
    f->fdinfo = NULL;
    if (rc == 0) {
        if (f->extra.oom) {
            rc = FDERR(f, ENOMEM, "pid %d: out of memory", f->pid);
        } else {
            f->img.path_len = (uint32_t)strlen(f->link);
            f->img.extra_len = (uint32_t)f->extra.len;
            size_t off = sls_imgbuf_entry_begin(b, SLS_TAG_FD);
            sls_imgbuf_put(b, &f->img, sizeof(f->img));
            sls_imgbuf_put(b, f->link, f->img.path_len);
            sls_imgbuf_put(b, f->extra.data, f->extra.len);
            sls_imgbuf_entry_end(b, off);
        }
    }
    sls_imgbuf_free(&f->extra);
    return rc;
}

int sls_capture_fds(struct sls_capture_ctx *c, struct sls_frozen_proc *p, struct sls_imgbuf *b)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", p->pid);
    DIR *d = opendir(path);
    if (!d)
        return CERR(c, errno, "pid %d: cannot list %s: %s", p->pid, path, strerror(errno));
    int *fds = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            int *nf = realloc(fds, cap * sizeof(int));
            if (!nf) {
                closedir(d);
                free(fds);
                return CERR(c, ENOMEM, "pid %d: out of memory", p->pid);
            }
            fds = nf;
        }
        fds[n++] = atoi(de->d_name);
    }
    closedir(d);
    qsort(fds, n, sizeof(int), cmp_int);
    struct sls_fd_capture *f = calloc(1, sizeof(*f));
    if (!f) {
        free(fds);
        return CERR(c, ENOMEM, "pid %d: out of memory", p->pid);
    }
    f->c = c;
    f->pid = p->pid;
    f->pidfd = -1;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        f->fd = fds[i];
        rc = capture_one(f, b);
    }
    if (f->pidfd >= 0)
        close(f->pidfd);
    free(f);
    free(fds);
    return rc;
}
