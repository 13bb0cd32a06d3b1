/*
 * restore_files.c — file descriptors, cwd, root and umask.
 *
 * Every open file is opened (or made: pipes, eventfds, memfds) by the engine itself, checked, and then
 * pulled into the target with an injected pidfd_getfd() and dup3()'d to its captured number. So a
 * file is checked exactly once, with fstat on the very object the target gets, and pipes shared by
 * several processes of the image become one pipe again (the engine holds both ends until every
 * process has its copy, then drops them).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "restore.h"

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif

/* The target's pidfd of the engine lives above every fd number the image uses. */
static int ensure_engine_pidfd(struct rst_ctx *c, struct rst_proc *p)
{
    if (p->engine_pidfd_in_target >= 0)
        return 0;
    int r;
    long pidfd, high;
    long a[6] = { getpid(), 0, 0, 0, 0, 0 };
    if ((r = rst_inject_ok(c, p, p->new_pid, SYS_pidfd_open, a, &pidfd, "pidfd_open of the engine")))
        return r;
    int maxfd = 2;
    for (int i = 0; i < p->nfds; i++)
        if (p->fds[i].f->fd > maxfd)
            maxfd = p->fds[i].f->fd;
    long b[6] = { pidfd, F_DUPFD_CLOEXEC, maxfd + 1, 0, 0, 0 };
    if ((r = rst_inject_ok(c, p, p->new_pid, SYS_fcntl, b, &high, "fcntl(F_DUPFD) of the engine pidfd")))
        return r;
    long d[6] = { pidfd, 0, 0, 0, 0, 0 };
    if ((r = rst_inject_ok(c, p, p->new_pid, SYS_close, d, NULL, "close of a temporary fd")))
        return r;
    p->engine_pidfd_in_target = (int)high;
    return 0;
}

int rst_pull_fd(struct rst_ctx *c, struct rst_proc *p, int engine_fd, long *target_fd)
{
    int r;
    if ((r = ensure_engine_pidfd(c, p)))
        return r;
    long a[6] = { p->engine_pidfd_in_target, engine_fd, 0, 0, 0, 0 };
    return rst_inject_ok(c, p, p->new_pid, SYS_pidfd_getfd, a, target_fd, "pidfd_getfd of a file from the engine");
}

/* The seed inherited the caller's stdio (and nothing else: close_range before exec): the restored
 * process gets exactly the fds of its image. */
int rst_close_seed_fds(struct rst_ctx *c, struct rst_proc *p)
{
    long a[6] = { 0, ~0U, 0, 0, 0, 0 };
    return rst_inject_ok(c, p, p->new_pid, SYS_close_range, a, NULL, "close_range of the seed's fds");
}

static char *path_of(const struct rst_fd *rf)
{
    char *s = malloc(rf->f->path_len + 1);
    if (s) {
        memcpy(s, rf->path, rf->f->path_len);
        s[rf->f->path_len] = 0;
    }
    return s;
}

/* Flags to open a captured file again: access mode and status flags, never create/truncate. */
static int reopen_flags(const struct sls_img_fd *f)
{
    return (int)(f->file_flags & ~(uint32_t)(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC)) | O_CLOEXEC;
}

/*
 * Is the file at fd still the one the process had open? The policy, as an operator expects it:
 * - always refused (unless forced): a different file under the path (device/inode changed);
 * - a regular file the process had open for WRITING (O_WRONLY/O_RDWR) may have grown and have a
 *   newer modification time: the process itself, or its lost future between the checkpoint and
 *   the kill, wrote it (a log it appends to). Refused only if it shrank below the size at the
 *   checkpoint or below the captured offset (someone truncated it: the process would write
 *   past a hole or re-read vanished data), or its mtime went back in time (replaced by a copy);
 * - a file only open for reading stays strict: any size or mtime change refuses, since the
 *   process's view of the data (offset, what it already parsed) would no longer match.
 * Mapped files (executables, libraries, data files) are checked just as strictly in restore_mm.c.
 */
static int check_same_file(struct rst_ctx *c, struct rst_proc *p, const struct rst_fd *rf, int fd, const char *path)
{
    if (c->flags & SLS_RESTORE_FORCE)
        return 0;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return rst_fail(c, errno, "pid %d fd %d: cannot stat %s: %s", p->proc->pid, rf->f->fd, path, strerror(errno));
    const struct sls_img_fd *f = rf->f;
    const char *what = NULL;
    char detail[160];
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    uint64_t size = (uint64_t)st.st_size;
    int written = (f->file_flags & O_ACCMODE) != O_RDONLY;
    if (st.st_ino != f->inode || (uint64_t)st.st_dev != f->dev) {
        what = "it is a different file (device/inode)";
    } else if (f->type == SLS_FD_REG && written) {
        if (size < f->size || size < f->pos) {
            snprintf(detail, sizeof(detail), "it was truncated to %llu bytes, below its size %llu / offset %llu at "
                     "the checkpoint", (unsigned long long)size, (unsigned long long)f->size,
                     (unsigned long long)f->pos);
            what = detail;
        } else if (mtime < f->mtime_ns) {
            what = "its modification time went back (replaced by an older copy?)";
        }
    } else if (f->type == SLS_FD_REG && size != f->size) {
        snprintf(detail, sizeof(detail), "its size changed from %llu to %llu bytes (open read-only)",
                 (unsigned long long)f->size, (unsigned long long)size);
        what = detail;
    } else if (f->type == SLS_FD_REG && mtime != f->mtime_ns) {
        what = "its modification time changed (open read-only)";
    }
    if (what)
        return rst_fail(c, ESTALE, "pid %d fd %d: %s changed since the checkpoint: %s (restore with force to ignore)",
                        p->proc->pid, f->fd, path, what);
    return 0;
}

static struct rst_pipe *pipe_for(struct rst_ctx *c, uint64_t ino)
{
    for (int i = 0; i < c->npipes; i++)
        if (c->pipes[i].ino == ino)
            return &c->pipes[i];
    return NULL;
}

static int open_pipe_end(struct rst_ctx *c, struct rst_proc *p, const struct rst_fd *rf, int *out)
{
    const struct sls_img_fd *f = rf->f;
    if (f->extra_len < sizeof(struct sls_img_fd_pipe))
        return rst_fail(c, EINVAL, "pid %d fd %d: pipe entry without pipe data", p->proc->pid, f->fd);
    struct sls_img_fd_pipe pi;
    memcpy(&pi, rf->extra, sizeof(pi));
    if (sizeof(pi) + (uint64_t)pi.data_len > f->extra_len)
        return rst_fail(c, EINVAL, "pid %d fd %d: pipe data runs past its entry", p->proc->pid, f->fd);
    struct rst_pipe *pp = pipe_for(c, pi.pipe_ino);
    if (!pp) {
        void *g = realloc(c->pipes, sizeof(*c->pipes) * (size_t)(c->npipes + 1));
        if (!g)
            return rst_fail(c, ENOMEM, "out of memory");
        c->pipes = g;
        pp = &c->pipes[c->npipes];
        pp->ino = pi.pipe_ino;
        pp->rfd = pp->wfd = -1;
        int fds[2];
        if (f->type == SLS_FD_FIFO) {
            char *path = path_of(rf);
            if (!path)
                return rst_fail(c, ENOMEM, "out of memory");
            /* O_RDWR never blocks on a FIFO; the real ends are reopened from it below. */
            int h = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
            if (h < 0) {
                int e = errno;
                int r = rst_fail(c, e, "pid %d fd %d: FIFO %s cannot be opened: %s", p->proc->pid, f->fd, path, strerror(e));
                free(path);
                return r;
            }
            free(path);
            fds[0] = h;
            fds[1] = -1;
        } else if (pipe2(fds, O_CLOEXEC) < 0) {
            return rst_fail(c, errno, "pid %d fd %d: pipe2 failed: %s", p->proc->pid, f->fd, strerror(errno));
        }
        pp->rfd = fds[0];
        pp->wfd = fds[1];
        c->npipes++;
        if (pi.pipe_size && fcntl(pp->rfd, F_SETPIPE_SZ, (int)pi.pipe_size) < 0)
            return rst_fail(c, errno, "pid %d fd %d: F_SETPIPE_SZ %u failed: %s", p->proc->pid, f->fd, pi.pipe_size,
                            strerror(errno));
    }
    if (pi.data_len && !(pi.pipe_flags & SLS_PIPE_DATA_ELSEWHERE)) {
        int wfd = pp->wfd >= 0 ? pp->wfd : pp->rfd;
        const uint8_t *d = rf->extra + sizeof(pi);
        size_t left = pi.data_len;
        while (left) {
            ssize_t n = write(wfd, d, left);
            if (n <= 0)
                return rst_fail(c, n < 0 ? errno : EIO, "pid %d fd %d: putting %u buffered bytes back into the pipe failed: %s",
                                p->proc->pid, f->fd, pi.data_len, n < 0 ? strerror(errno) : "short write");
            d += n;
            left -= (size_t)n;
        }
    }
    int acc = (int)(f->file_flags & O_ACCMODE);
    int fd;
    if (f->type == SLS_FD_FIFO) {
        char self[64];
        snprintf(self, sizeof(self), "/proc/self/fd/%d", pp->rfd);
        fd = open(self, acc | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            return rst_fail(c, errno, "pid %d fd %d: reopening the FIFO failed: %s", p->proc->pid, f->fd, strerror(errno));
    } else {
        /* Both processes of a pipe share one open file description per end, as after fork(). */
        fd = dup(acc == O_WRONLY ? pp->wfd : pp->rfd);
        if (fd < 0)
            return rst_fail(c, errno, "pid %d fd %d: dup of a pipe end failed: %s", p->proc->pid, f->fd, strerror(errno));
    }
    if (fcntl(fd, F_SETFL, (int)(f->file_flags & (O_NONBLOCK | O_APPEND | O_ASYNC | O_DIRECT))) < 0) {
        int e = errno;
        close(fd);
        return rst_fail(c, e, "pid %d fd %d: setting pipe flags failed: %s", p->proc->pid, f->fd, strerror(e));
    }
    *out = fd;
    return 0;
}

/* An open file that was unlinked comes back as an unnamed file (O_TMPFILE) in the directory it was
 * in, holding the captured contents, opened with the captured flags at the captured offset: still
 * a regular file on the same filesystem, still without a name. */
static int open_unlinked(struct rst_ctx *c, struct rst_proc *p, const struct rst_fd *rf, const char *path, int *out)
{
    const struct sls_img_fd *f = rf->f;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *del = strstr(dir, " (deleted)");
    if (del)
        *del = 0;
    char *slash = strrchr(dir, '/');
    if (!slash)
        return rst_fail(c, EINVAL, "pid %d fd %d: unlinked file %s has no directory", p->proc->pid, f->fd, path);
    if (slash == dir)
        slash[1] = 0;
    else
        *slash = 0;
    int tmp = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, (mode_t)(f->mode & 07777));
    if (tmp < 0)
        return rst_fail(c, errno, "pid %d fd %d: cannot make an unnamed file in %s for unlinked %s: %s", p->proc->pid,
                        f->fd, dir, path, strerror(errno));
    const uint8_t *d = rf->extra;
    size_t left = f->extra_len;
    while (left) {
        ssize_t n = write(tmp, d, left);
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            close(tmp);
            return rst_fail(c, e, "pid %d fd %d: writing the contents of unlinked %s failed: %s", p->proc->pid, f->fd,
                            path, strerror(e));
        }
        d += n;
        left -= (size_t)n;
    }
    char self[64];
    snprintf(self, sizeof(self), "/proc/self/fd/%d", tmp);
    int fd = open(self, reopen_flags(f));
    int e = errno;
    close(tmp);
    if (fd < 0)
        return rst_fail(c, e, "pid %d fd %d: reopening unlinked %s failed: %s", p->proc->pid, f->fd, path, strerror(e));
    if (lseek(fd, (off_t)f->pos, SEEK_SET) < 0) {
        e = errno;
        close(fd);
        return rst_fail(c, e, "pid %d fd %d: seeking unlinked %s failed: %s", p->proc->pid, f->fd, path, strerror(e));
    }
    *out = fd;
    return 0;
}

/* Opens (or makes) in the engine the object a captured fd refers to. */
static int open_fd_object(struct rst_ctx *c, struct rst_proc *p, const struct rst_fd *rf, int *out)
{
    const struct sls_img_fd *f = rf->f;
    int r = 0, fd = -1;
    char *path = path_of(rf);
    if (!path)
        return rst_fail(c, ENOMEM, "out of memory");
    switch (f->type) {
    case SLS_FD_REG:
    case SLS_FD_DIR:
    case SLS_FD_CHR:
        if (f->xflags & SLS_FDX_UNLINKED) {
            r = open_unlinked(c, p, rf, path, &fd);
            break;
        }
        /* O_NONBLOCK for devices: some (serial lines, tapes) block in open; the captured flags are
         * set back right after. */
        fd = open(path, reopen_flags(f) | (f->type == SLS_FD_DIR ? O_DIRECTORY : 0) |
                            (f->type == SLS_FD_CHR ? O_NONBLOCK : 0));
        if (fd >= 0 && f->type == SLS_FD_CHR && !(f->file_flags & O_NONBLOCK))
            fcntl(fd, F_SETFL, (int)(f->file_flags & ~(uint32_t)O_NONBLOCK) & ~O_ACCMODE);
        if (fd < 0) {
            r = rst_fail(c, errno, "pid %d fd %d: %s cannot be opened: %s", p->proc->pid, f->fd, path, strerror(errno));
            break;
        }
        if ((r = check_same_file(c, p, rf, fd, path)))
            break;
        if (f->type != SLS_FD_CHR && lseek(fd, (off_t)f->pos, SEEK_SET) < 0)
            r = rst_fail(c, errno, "pid %d fd %d: seeking %s to %llu failed: %s", p->proc->pid, f->fd, path,
                         (unsigned long long)f->pos, strerror(errno));
        break;
    case SLS_FD_TTY:
        if (c->flags & SLS_RESTORE_DETACHED) {
            fd = open("/dev/null", (int)(f->file_flags & O_ACCMODE) | O_CLOEXEC);
        } else {
            fd = open(path, reopen_flags(f) | O_NOCTTY | O_NONBLOCK);
            if (fd >= 0 && !(f->file_flags & O_NONBLOCK))
                fcntl(fd, F_SETFL, (int)(f->file_flags & ~(uint32_t)O_NONBLOCK) & ~O_ACCMODE);
        }
        if (fd < 0)
            r = rst_fail(c, errno, "pid %d fd %d: terminal %s cannot be opened: %s (restore detached to use /dev/null)",
                         p->proc->pid, f->fd, c->flags & SLS_RESTORE_DETACHED ? "/dev/null" : path, strerror(errno));
        break;
    case SLS_FD_PIPE:
    case SLS_FD_FIFO:
        r = open_pipe_end(c, p, rf, &fd);
        break;
    case SLS_FD_EVENTFD: {
        struct sls_img_fd_eventfd ev;
        if (f->extra_len < sizeof(ev)) {
            r = rst_fail(c, EINVAL, "pid %d fd %d: eventfd entry without its count", p->proc->pid, f->fd);
            break;
        }
        memcpy(&ev, rf->extra, sizeof(ev));
        if (ev.count > 0xffffffffu) {
            r = rst_fail(c, ENOTSUP, "pid %d fd %d: eventfd count %llu does not fit eventfd()", p->proc->pid, f->fd,
                         (unsigned long long)ev.count);
            break;
        }
        fd = eventfd((unsigned)ev.count, EFD_CLOEXEC | (ev.semaphore ? EFD_SEMAPHORE : 0) |
                                             (f->file_flags & O_NONBLOCK ? EFD_NONBLOCK : 0));
        if (fd < 0)
            r = rst_fail(c, errno, "pid %d fd %d: eventfd failed: %s", p->proc->pid, f->fd, strerror(errno));
        break;
    }
    case SLS_FD_SIGNALFD: {
        uint64_t mask;
        if (f->extra_len < sizeof(mask)) {
            r = rst_fail(c, EINVAL, "pid %d fd %d: signalfd entry without its mask", p->proc->pid, f->fd);
            break;
        }
        memcpy(&mask, rf->extra, sizeof(mask));
        fd = (int)syscall(SYS_signalfd4, -1, &mask, sizeof(mask),
                          SFD_CLOEXEC | (f->file_flags & O_NONBLOCK ? SFD_NONBLOCK : 0));
        if (fd < 0)
            r = rst_fail(c, errno, "pid %d fd %d: signalfd failed: %s", p->proc->pid, f->fd, strerror(errno));
        break;
    }
    case SLS_FD_UNIX:
    case SLS_FD_TCP:
    case SLS_FD_UDP:
        r = rst_open_socket(c, p, rf, &fd);
        break;
    case SLS_FD_EPOLL:
        /* Made empty here; its watches are added in the target once every fd exists (add_epoll_watches). */
        fd = epoll_create1(EPOLL_CLOEXEC);
        if (fd < 0)
            r = rst_fail(c, errno, "pid %d fd %d: epoll_create1 failed: %s", p->proc->pid, f->fd, strerror(errno));
        break;
    case SLS_FD_TIMERFD: {
        struct sls_img_fd_timerfd t;
        if (f->extra_len < sizeof(t)) {
            r = rst_fail(c, EINVAL, "pid %d fd %d: timerfd entry without its timer", p->proc->pid, f->fd);
            break;
        }
        memcpy(&t, rf->extra, sizeof(t));
        fd = timerfd_create(t.clockid, TFD_CLOEXEC | (f->file_flags & O_NONBLOCK ? TFD_NONBLOCK : 0));
        if (fd < 0) {
            r = rst_fail(c, errno, "pid %d fd %d: timerfd_create(%d) failed: %s", p->proc->pid, f->fd, t.clockid,
                         strerror(errno));
            break;
        }
        /* fdinfo shows the time left, so the timer is re-armed relative to now. A periodic timer
         * that expired and was not read yet shows 0 left (the kernel re-arms it only when it is
         * read): arm it one interval from now, else it would never fire again; its unread
         * expirations come back through TFD_IOC_SET_TICKS below. */
        struct itimerspec its = { .it_interval = { (time_t)t.interval_sec, (long)t.interval_nsec },
                                  .it_value = { (time_t)t.value_sec, (long)t.value_nsec } };
        if (!t.value_sec && !t.value_nsec)
            its.it_value = its.it_interval;
        if ((its.it_value.tv_sec || its.it_value.tv_nsec) && timerfd_settime(fd, 0, &its, NULL) < 0) {
            r = rst_fail(c, errno, "pid %d fd %d: timerfd_settime failed: %s", p->proc->pid, f->fd, strerror(errno));
            break;
        }
        uint64_t ticks = t.ticks;
        if (ticks && ioctl(fd, TFD_IOC_SET_TICKS, &ticks) < 0)
            r = rst_fail(c, errno, "pid %d fd %d: putting back %llu timerfd expirations failed: %s", p->proc->pid,
                         f->fd, (unsigned long long)ticks, strerror(errno));
        break;
    }
    case SLS_FD_MEMFD: {
        const char *nm = path;
        if (!strncmp(nm, "/memfd:", 7))
            nm += 7;
        char name[250];
        snprintf(name, sizeof(name), "%s", nm);
        char *del = strstr(name, " (deleted)");
        if (del)
            *del = 0;
        fd = memfd_create(name, MFD_CLOEXEC);
        if (fd < 0) {
            r = rst_fail(c, errno, "pid %d fd %d: memfd_create failed: %s", p->proc->pid, f->fd, strerror(errno));
            break;
        }
        size_t left = f->extra_len;
        const uint8_t *d = rf->extra;
        while (left && !r) {
            ssize_t n = write(fd, d, left);
            if (n <= 0)
                r = rst_fail(c, n < 0 ? errno : EIO, "pid %d fd %d: filling the memfd failed", p->proc->pid, f->fd);
            else {
                d += n;
                left -= (size_t)n;
            }
        }
        if (!r && lseek(fd, (off_t)f->pos, SEEK_SET) < 0)
            r = rst_fail(c, errno, "pid %d fd %d: seeking the memfd failed: %s", p->proc->pid, f->fd, strerror(errno));
        break;
    }
    default:
        r = rst_fail(c, ENOTSUP, "pid %d fd %d (%s): restoring this kind of file (type %u) is not supported",
                     p->proc->pid, f->fd, path, f->type);
        break;
    }
    free(path);
    if (r) {
        if (fd >= 0)
            close(fd);
        return r;
    }
    *out = fd;
    return 0;
}

int rst_check_files(struct rst_ctx *c, struct rst_proc *p)
{
    for (int i = 0; i < p->nfds; i++) {
        const struct sls_img_fd *f = p->fds[i].f;
        if (f->type != SLS_FD_REG && f->type != SLS_FD_DIR && f->type != SLS_FD_CHR)
            continue;
        int fd, r;
        if ((r = open_fd_object(c, p, &p->fds[i], &fd)))
            return r;
        close(fd);
    }
    return 0;
}

/* Is fd number tfd of this process the file (inode) an epoll watch was registered for? */
static int holds_watched_file(const struct rst_proc *p, int tfd, uint64_t tinode)
{
    for (int i = 0; i < p->nfds; i++)
        if (p->fds[i].f->fd == tfd)
            return !tinode || p->fds[i].f->inode == tinode;
    return 0;
}

/*
 * Epoll watches refer to fds by number in the owning process: added there, after every fd exists.
 * A watch whose fd number here is another file (or no file) was registered through another fd
 * table: an epoll instance inherited over fork lists the parent's watches in the child too (a
 * redis BGSAVE child has closed the listener its parent's watch names), or the process closed the
 * fd while a dup kept the file open. Such a watch is not re-added in this process: each restored
 * process gets its own epoll instance, with the watches its own fd table explains.
 */
static int add_epoll_watches(struct rst_ctx *c, struct rst_proc *p)
{
    int r;
    for (int i = 0; i < p->nfds; i++) {
        const struct sls_img_fd *f = p->fds[i].f;
        if (f->type != SLS_FD_EPOLL)
            continue;
        size_t n = f->extra_len / sizeof(struct sls_img_fd_epoll_target);
        for (size_t k = 0; k < n; k++) {
            struct sls_img_fd_epoll_target t;
            memcpy(&t, p->fds[i].extra + k * sizeof(t), sizeof(t));
            if (!holds_watched_file(p, t.tfd, t.tinode))
                continue;
            struct epoll_event ev = { .events = t.events, .data.u64 = t.data };
            if ((r = rst_write_remote(c, p, rst_scratch(p), &ev, sizeof(ev))))
                return r;
            long a[6] = { f->fd, EPOLL_CTL_ADD, t.tfd, (long)rst_scratch(p), 0, 0 };
            long v;
            if ((r = rst_inject(c, p, p->new_pid, SYS_epoll_ctl, a, &v)))
                return r;
            if (v < 0)
                return rst_fail(c, (int)-v, "pid %d: re-adding fd %d to epoll fd %d failed: %s", p->proc->pid, t.tfd,
                                f->fd, strerror((int)-v));
        }
    }
    return 0;
}

int rst_restore_files(struct rst_ctx *c, struct rst_proc *p)
{
    int r;
    for (int i = 0; i < p->nfds; i++) {
        const struct sls_img_fd *f = p->fds[i].f;
        int efd;
        if ((r = open_fd_object(c, p, &p->fds[i], &efd)))
            return r;
        long tfd;
        r = rst_pull_fd(c, p, efd, &tfd);
        close(efd);
        if (r)
            return r;
        int cloexec = (f->fd_flags & FD_CLOEXEC) != 0;
        if (tfd != f->fd) {
            long a[6] = { tfd, f->fd, cloexec ? O_CLOEXEC : 0, 0, 0, 0 };
            if ((r = rst_inject_ok(c, p, p->new_pid, SYS_dup3, a, NULL, "dup3 of a restored fd")))
                return r;
            long b[6] = { tfd, 0, 0, 0, 0, 0 };
            if ((r = rst_inject_ok(c, p, p->new_pid, SYS_close, b, NULL, "close of a temporary fd")))
                return r;
        } else if (!cloexec) {
            long a[6] = { tfd, F_SETFD, 0, 0, 0, 0 }; /* pidfd_getfd always sets FD_CLOEXEC */
            if ((r = rst_inject_ok(c, p, p->new_pid, SYS_fcntl, a, NULL, "fcntl(F_SETFD) of a restored fd")))
                return r;
        }
    }
    if ((r = add_epoll_watches(c, p)))
        return r;
    if (p->engine_pidfd_in_target >= 0) {
        long a[6] = { p->engine_pidfd_in_target, 0, 0, 0, 0, 0 };
        if ((r = rst_inject_ok(c, p, p->new_pid, SYS_close, a, NULL, "close of the engine pidfd")))
            return r;
        p->engine_pidfd_in_target = -1;
    }
    return 0;
}

static int inject_path_call(struct rst_ctx *c, struct rst_proc *p, long nr, const char *s, uint32_t len,
                            const char *what)
{
    if (len >= RST_GADGET_SIZE - RST_SCRATCH_OFF)
        return rst_fail(c, ENAMETOOLONG, "pid %d: %s path too long", p->proc->pid, what);
    char *buf = malloc(len + 1);
    if (!buf)
        return rst_fail(c, ENOMEM, "out of memory");
    memcpy(buf, s, len);
    buf[len] = 0;
    int r = rst_write_remote(c, p, rst_scratch(p), buf, len + 1);
    if (!r) {
        long a[6] = { (long)rst_scratch(p), 0, 0, 0, 0, 0 };
        long v;
        r = rst_inject(c, p, p->new_pid, nr, a, &v);
        if (!r && v < 0)
            r = rst_fail(c, (int)-v, "pid %d: %s %s failed: %s", p->proc->pid, what, buf, strerror((int)-v));
    }
    free(buf);
    return r;
}

int rst_restore_fs_state(struct rst_ctx *c, struct rst_proc *p)
{
    const struct sls_img_proc *pr = p->proc;
    int r;
    if (pr->root_len && !(pr->root_len == 1 && p->root[0] == '/') &&
        (r = inject_path_call(c, p, SYS_chroot, p->root, pr->root_len, "chroot to")))
        return r;
    if (pr->cwd_len && (r = inject_path_call(c, p, SYS_chdir, p->cwd, pr->cwd_len, "chdir to")))
        return r;
    long a[6] = { (long)pr->umask, 0, 0, 0, 0, 0 };
    return rst_inject_ok(c, p, p->new_pid, SYS_umask, a, NULL, "umask");
}

void rst_close_engine_objects(struct rst_ctx *c)
{
    for (int i = 0; i < c->npipes; i++) {
        if (c->pipes[i].rfd >= 0)
            close(c->pipes[i].rfd);
        if (c->pipes[i].wfd >= 0)
            close(c->pipes[i].wfd);
    }
    free(c->pipes);
    c->pipes = NULL;
    c->npipes = 0;
    rst_close_sockets(c);
    for (int i = 0; i < c->nshms; i++)
        close(c->shms[i].fd);
    free(c->shms);
    c->shms = NULL;
    c->nshms = 0;
}
