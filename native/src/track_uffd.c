/*
 * track_uffd.c — dirty tracking by userfaultfd write-protect in async mode + PAGEMAP_SCAN.
 *
 * Open: userfaultfd(O_CLOEXEC | O_NONBLOCK) is injected into the frozen target (retried with
 * UFFD_USER_MODE_ONLY when the target may not trap kernel faults), pulled into the engine with
 * pidfd_getfd and closed in the target again, so the engine holds the only reference: when the
 * engine goes away, the kernel drops every registration and write-protection with it. UFFDIO_API
 * asks for WP_ASYNC (a write to a protected page just clears the protection, no message, nobody
 * waits) and WP_UNPOPULATED (pages not yet populated are protected too, so a first write shows).
 *
 * Collect, per private VMA: one PAGEMAP_SCAN over exactly that VMA with PM_SCAN_WP_MATCHING |
 * PM_SCAN_CHECK_WPASYNC and category_mask = return_mask = PAGE_IS_WRITTEN (the kernel's fast path):
 * the written pages come back and are protected again in the same walk, so a write racing the scan
 * either shows now or in the next collect. A VMA the uffd does not know (new, moved by mremap — the
 * kernel drops the registration of a moved VMA — or brk's new part) makes the scan fail with EPERM
 * before it touches anything; it is then registered, protected whole and reported whole. Scans never
 * span several VMAs: a scan reaching an unregistered one fails after having re-protected pages of
 * the earlier ones, losing them.
 */
#include "track_int.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define UFFD_FEATURES (UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED)
#define SCAN_VEC_LEN 1024

/* Registering a region costs page tables for all of it (WP_UNPOPULATED installs markers), about
 * 2 MB per GiB: huge reservations are left untracked (reported whole, which for an unpopulated
 * reservation costs the capture one cheap pagemap look). */
#define MAX_TRACKED_INACCESSIBLE (1ull << 30) /* PROT_NONE reservations (JVM heaps, guard areas) */
#define MAX_TRACKED_REGION (64ull << 30)

int trk_uffd_available(void)
{
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd < 0)
        return 0;
    struct uffdio_api api = { .api = UFFD_API, .features = 0 };
    int ok = ioctl(fd, UFFDIO_API, &api) == 0 && (api.features & UFFD_FEATURES) == UFFD_FEATURES;
    close(fd);
    if (!ok)
        return 0;
    /* PAGEMAP_SCAN: a scan of one page of our own stack */
    int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (pm < 0)
        return 0;
    struct page_region r;
    uint64_t addr = (uintptr_t)&r & ~(TRK_PAGE - 1);
    struct pm_scan_arg a = {
        .size = sizeof(a), .start = addr, .end = addr + TRK_PAGE, .vec = (uintptr_t)&r,
        .vec_len = 1, .category_anyof_mask = PAGE_IS_PRESENT, .return_mask = PAGE_IS_PRESENT,
    };
    ok = ioctl(pm, PAGEMAP_SCAN, &a) >= 0;
    close(pm);
    if (!ok)
        return 0;
    /* pidfd_getfd (5.6) to pull the target's uffd */
    int pfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (pfd < 0)
        return 0;
    int dup = (int)syscall(SYS_pidfd_getfd, pfd, pfd, 0);
    ok = dup >= 0;
    if (dup >= 0)
        close(dup);
    close(pfd);
    return ok;
}

/* Creates the uffd in the target and returns the target's fd number. */
static int create_in_target(struct sls_injector *inj, pid_t pid, long *target_fd, char *err,
                            size_t errlen)
{
    long args[6] = { O_CLOEXEC | O_NONBLOCK };
    int rc = sls_injector_call(inj, SYS_userfaultfd, args, target_fd, err, errlen);
    if (rc)
        return rc;
    if (*target_fd == -EPERM) {
        /* vm.unprivileged_userfaultfd = 0 and the target lacks CAP_SYS_PTRACE: user faults only,
         * which is all write tracking needs */
        args[0] |= UFFD_USER_MODE_ONLY;
        rc = sls_injector_call(inj, SYS_userfaultfd, args, target_fd, err, errlen);
        if (rc)
            return rc;
    }
    if (*target_fd < 0)
        return sls_errf(err, errlen, (int)-*target_fd, "pid %d: userfaultfd() in the target failed: %s",
                        pid, strerror((int)-*target_fd));
    return 0;
}

int trk_uffd_open(struct sls_tracker *t, struct sls_frozen_proc *p, char *err, size_t errlen)
{
    struct sls_injector *inj;
    int rc = sls_frozen_injector(&p->threads[0], &inj, err, errlen);
    if (rc)
        return rc;
    long target_fd;
    rc = create_in_target(inj, p->pid, &target_fd, err, errlen);
    if (rc)
        return rc;
    int ufd = -1, getfd_errno = 0;
    int pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
    if (pidfd < 0) {
        getfd_errno = errno;
    } else {
        ufd = (int)syscall(SYS_pidfd_getfd, pidfd, (int)target_fd, 0);
        if (ufd < 0)
            getfd_errno = errno;
        close(pidfd);
    }
    /* whatever happened, the target's copy goes: it must not keep tracking state of ours */
    long cargs[6] = { target_fd }, cret = 0;
    char cerr[256] = "";
    int crc = sls_injector_call(inj, SYS_close, cargs, &cret, cerr, sizeof(cerr));
    if (ufd < 0) {
        if (crc == 0 && cret == 0)
            return sls_errf(err, errlen, getfd_errno, "pid %d: pidfd_getfd of its userfaultfd %ld: %s",
                            p->pid, target_fd, strerror(getfd_errno));
        return sls_errf(err, errlen, getfd_errno,
                        "pid %d: pidfd_getfd of its userfaultfd %ld: %s, and closing it in the target "
                        "failed too (fd %ld stays open there): %s",
                        p->pid, target_fd, strerror(getfd_errno), target_fd,
                        crc ? cerr : strerror((int)-cret));
    }
    if (crc || cret) {
        close(ufd);
        return sls_errf(err, errlen, crc ? -crc : (int)-cret,
                        "pid %d: closing its userfaultfd %ld in the target failed: %s", p->pid,
                        target_fd, crc ? cerr : strerror((int)-cret));
    }
    struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURES };
    if (ioctl(ufd, UFFDIO_API, &api)) {
        int e = errno;
        close(ufd);
        return sls_errf(err, errlen, e, "pid %d: UFFDIO_API (WP_ASYNC | WP_UNPOPULATED): %s", p->pid,
                        strerror(e));
    }
    t->uffd = ufd;
    t->scan_vec_len = SCAN_VEC_LEN;
    t->scan_vec = malloc(SCAN_VEC_LEN * sizeof(*t->scan_vec));
    if (!t->scan_vec)
        return sls_errf(err, errlen, ENOMEM, "pid %d: out of memory for the scan vector", p->pid);
    return 0;
}

void trk_uffd_close(struct sls_tracker *t)
{
    if (t->uffd >= 0)
        close(t->uffd);
    t->uffd = -1;
}

/* Registers [s, e) (one VMA) for async write-protect and protects all of it. Returns 0, a positive
 * errno when the VMA refuses registration (it stays untracked), or a negative code with err set. */
static int register_vma(struct trk_collect *c, uint64_t s, uint64_t e)
{
    struct uffdio_register reg = {
        .range = { .start = s, .len = e - s }, .mode = UFFDIO_REGISTER_MODE_WP,
    };
    if (ioctl(c->t->uffd, UFFDIO_REGISTER, &reg))
        return errno; /* EINVAL: VM_DROPPABLE, VM_PFNMAP, ...; ENOMEM: gone meanwhile (running) */
    struct uffdio_writeprotect wp = {
        .range = { .start = s, .len = e - s }, .mode = UFFDIO_WRITEPROTECT_MODE_WP,
    };
    if (ioctl(c->t->uffd, UFFDIO_WRITEPROTECT, &wp)) {
        int er = errno;
        if (c->running && (er == ENOENT || er == ENOMEM || er == EINVAL))
            return er; /* the VMA changed under us: leave it untracked for this round */
        return sls_errf(c->err, c->errlen, er, "pid %d: UFFDIO_WRITEPROTECT %#llx-%#llx: %s",
                        c->t->pid, (unsigned long long)s, (unsigned long long)e, strerror(er));
    }
    c->registered_any = 1;
    return 0;
}

/* Scans [s, e): written pages are reported and protected again. Returns 0, -EPERM when the range
 * holds a VMA not registered with our uffd, or another negative code with err set. */
static int scan_vma(struct trk_collect *c, const struct trk_watch *w, uint64_t s, uint64_t e)
{
    struct sls_tracker *t = c->t;
    struct pm_scan_arg a = {
        .size = sizeof(a),
        .flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
        .vec = (uintptr_t)t->scan_vec,
        .vec_len = t->scan_vec_len,
        .category_mask = PAGE_IS_WRITTEN,
        .return_mask = PAGE_IS_WRITTEN,
    };
    while (s < e) {
        a.start = s;
        a.end = e;
        a.walk_end = 0;
        long n = ioctl(t->pagemap_fd, PAGEMAP_SCAN, &a);
        if (n < 0) {
            int er = errno;
            if (er == EPERM)
                return -EPERM;
            return sls_errf(c->err, c->errlen, er, "pid %d: PAGEMAP_SCAN %#llx-%#llx: %s", t->pid,
                            (unsigned long long)s, (unsigned long long)e, strerror(er));
        }
        for (long i = 0; i < n; i++) {
            int rc = trk_report_dirty(c, w, t->scan_vec[i].start, t->scan_vec[i].end);
            if (rc)
                return rc;
        }
        /* a full vector may have stopped the walk: go on after the last reported page (walk_end
         * is not reliable once many regions were returned) */
        if ((size_t)n < t->scan_vec_len)
            break;
        s = t->scan_vec[n - 1].end;
    }
    return 0;
}

int trk_uffd_vma(struct trk_collect *c, const struct trk_vma *v)
{
    struct sls_tracker *t = c->t;
    uint64_t size = v->end - v->start;
    if (size > MAX_TRACKED_REGION ||
        (!(v->prot & (PROT_READ | PROT_WRITE)) && size > MAX_TRACKED_INACCESSIBLE))
        return trk_add_whole(c->d, v->start, v->end, SLS_TRACK_WHOLE_UNTRACKED)
                   ? sls_errf(c->err, c->errlen, ENOMEM, "pid %d: out of memory", t->pid)
                   : 0;

    /* undo point: an EPERM (only possible while running, when the VMA changed after we read
     * the maps) turns the whole VMA into a "whole" range, replacing what the scan reported */
    struct sls_track_delta *d = c->d;
    size_t dirty_n = d->dirty.n, whole_n = d->whole.n;
    uint64_t dirty_last_end = dirty_n ? d->dirty.v[dirty_n - 1].end : 0;
    uint64_t whole_last_end = whole_n ? d->whole.v[whole_n - 1].end : 0;
    uint64_t dirty_pages = d->dirty_pages, whole_bytes = d->whole_bytes;

    struct trk_watch w;
    int rc = trk_report_begin(c, v, trk_anchor(&t->base, v), &w);
    if (!rc)
        rc = scan_vma(c, &w, v->start, v->end);
    if (!rc)
        rc = trk_report_end(c, v, &w);
    if (!rc)
        return trk_base_add(&c->next, v->start, v->end, NULL)
                   ? sls_errf(c->err, c->errlen, ENOMEM, "pid %d: out of memory", t->pid)
                   : 0;
    if (rc != -EPERM)
        return rc;

    d->dirty.n = dirty_n;
    d->whole.n = whole_n;
    if (dirty_n)
        d->dirty.v[dirty_n - 1].end = dirty_last_end;
    if (whole_n)
        d->whole.v[whole_n - 1].end = whole_last_end;
    d->dirty_pages = dirty_pages;
    d->whole_bytes = whole_bytes;

    rc = register_vma(c, v->start, v->end);
    if (rc < 0)
        return rc;
    uint32_t reason = rc == 0 ? SLS_TRACK_WHOLE_NEW : SLS_TRACK_WHOLE_UNTRACKED;
    if (trk_add_whole(d, v->start, v->end, reason) ||
        (rc == 0 && trk_base_add(&c->next, v->start, v->end, NULL)))
        return sls_errf(c->err, c->errlen, ENOMEM, "pid %d: out of memory", t->pid);
    return 0;
}
