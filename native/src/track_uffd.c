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
 * Collect: a VMA that continues no region of the baseline (new, moved by mremap — the kernel drops
 * the registration of a moved VMA — or brk's new part) is registered, protected whole and reported
 * whole. Runs of VMAs that do continue one are scanned together: one PAGEMAP_SCAN with
 * PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC and category_mask = return_mask = PAGE_IS_WRITTEN (the
 * kernel's fast path) returns the written pages and protects them again in the same walk, so a
 * write racing the scan shows now or in the next collect. A scan must never reach an unregistered
 * VMA: it would fail with EPERM after having re-protected pages of the earlier ones. So each run is
 * first checked with a scan for pages lacking PAGE_IS_WPALLOWED (a per-VMA category the kernel
 * answers without walking page tables), which finds a VMA unmapped and mapped again at the same
 * place; that one is adopted like a new one and the run is split around it.
 */
#include "shadow.h"
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
/* SLS_TRACK_SYNC (shadow.c): writes wait for the engine's fault server; it is told of discards,
 * unmaps and moves, since a synchronous uffd gives no PAGE_IS_WPALLOWED to find replaced VMAs */
#define UFFD_SYNC_FEATURES (UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_EVENT_REMOVE | \
                            UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_EVENT_REMAP)
#define SCAN_VEC_LEN 1024

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
static int create_in_target(struct sls_injector *inj, pid_t pid, int sync, long *target_fd, char *err,
                            size_t errlen)
{
    long args[6] = { O_CLOEXEC | O_NONBLOCK };
    int rc = sls_injector_call(inj, SYS_userfaultfd, args, target_fd, err, errlen);
    if (rc)
        return rc;
    if (*target_fd == -EPERM && sync)
        return sls_errf(err, errlen, EPERM, "pid %d: shadowing needs a userfaultfd that also traps "
                        "kernel-mode writes, and this target may only create a user-mode one "
                        "(vm.unprivileged_userfaultfd = 0, no CAP_SYS_PTRACE)", pid);
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
    rc = create_in_target(inj, p->pid, t->sync, &target_fd, err, errlen);
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
    struct uffdio_api api = { .api = UFFD_API, .features = t->sync ? UFFD_SYNC_FEATURES : UFFD_FEATURES };
    if (ioctl(ufd, UFFDIO_API, &api)) {
        int e = errno;
        close(ufd);
        return sls_errf(err, errlen, e, "pid %d: UFFDIO_API (%s): %s", p->pid,
                        t->sync ? "WP_UNPOPULATED | EVENT_REMOVE | EVENT_UNMAP | EVENT_REMAP, synchronous"
                                : "WP_ASYNC | WP_UNPOPULATED", strerror(e));
    }
    t->uffd = ufd;
    if (t->sync && (rc = sls_fault_server_start(p->pid, ufd, &t->server, err, errlen)))
        return rc; /* the caller closes t and with it ufd */
    t->scan_vec_len = SCAN_VEC_LEN;
    t->scan_vec = malloc(SCAN_VEC_LEN * sizeof(*t->scan_vec));
    if (!t->scan_vec)
        return sls_errf(err, errlen, ENOMEM, "pid %d: out of memory for the scan vector", p->pid);
    return 0;
}

void trk_uffd_close(struct sls_tracker *t)
{
    /* the server first: it must not touch the uffd once closed (nor serve a reused fd number) */
    sls_fault_server_stop(t->server);
    t->server = NULL;
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

static int oom(struct trk_collect *c)
{
    return sls_errf(c->err, c->errlen, ENOMEM, "pid %d: out of memory", c->t->pid);
}

/* The first page in [s, e) that lies in a VMA not registered with our uffd, or 0 if every VMA
 * there is. PAGE_IS_WPALLOWED is a per-VMA category, so the kernel skips registered VMAs without
 * walking their page tables: a few microseconds even for thousands of VMAs. */
static int first_unregistered(struct trk_collect *c, uint64_t s, uint64_t e, uint64_t *at)
{
    if (c->t->sync) {
        /* no PAGE_IS_WPALLOWED on a synchronous uffd: the server's unmap/move events say instead */
        const struct sls_track_range_list *l = &c->t->sync_touched;
        *at = 0;
        for (size_t i = 0; i < l->n; i++) {
            if (l->v[i].start >= e || l->v[i].end <= s)
                continue;
            uint64_t a = l->v[i].start > s ? l->v[i].start : s;
            if (!*at || a < *at)
                *at = a;
        }
        return 0;
    }
    struct page_region r;
    struct pm_scan_arg a = {
        .size = sizeof(a), .start = s, .end = e, .vec = (uintptr_t)&r, .vec_len = 1, .max_pages = 1,
        .category_inverted = PAGE_IS_WPALLOWED, .category_mask = PAGE_IS_WPALLOWED,
        .return_mask = PAGE_IS_WPALLOWED,
    };
    long n = ioctl(c->t->pagemap_fd, PAGEMAP_SCAN, &a);
    if (n < 0)
        return sls_errf(c->err, c->errlen, errno, "pid %d: PAGEMAP_SCAN (registration check) "
                        "%#llx-%#llx: %s", c->t->pid, (unsigned long long)s, (unsigned long long)e,
                        strerror(errno));
    *at = n > 0 ? r.start : 0;
    return 0;
}

/* One PAGEMAP_SCAN over [s, e) that returns the written pages into t->acc and protects them again.
 * Returns 0, -EPERM when a VMA in the range is not registered (possible only if the maps changed
 * since we read them, i.e. while the target runs), or another negative code with err set. */
static int sync_finish_scan(struct trk_collect *c, uint64_t s, uint64_t e);

static int scan_written(struct trk_collect *c, uint64_t s, uint64_t e)
{
    struct sls_tracker *t = c->t;
    uint64_t s0 = s;
    struct pm_scan_arg a = {
        .size = sizeof(a),
        /* synchronous: WP_MATCHING would skip its VMAs; only look, sync_finish_scan re-protects */
        .flags = t->sync ? 0 : PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
        .vec = (uintptr_t)t->scan_vec,
        .vec_len = t->scan_vec_len,
        .category_mask = PAGE_IS_WRITTEN,
        .return_mask = PAGE_IS_WRITTEN,
    };
    t->nacc = 0;
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
        if (t->nacc + (size_t)n > t->acc_cap) {
            size_t nc = (t->nacc + (size_t)n) * 2;
            struct page_region *na = realloc(t->acc, nc * sizeof(*na));
            if (!na)
                return oom(c);
            t->acc = na;
            t->acc_cap = nc;
        }
        memcpy(t->acc + t->nacc, t->scan_vec, (size_t)n * sizeof(*t->acc));
        t->nacc += (size_t)n;
        /* a full vector may have stopped the walk: go on after the last reported page (walk_end
         * is not reliable once many regions were returned) */
        if ((size_t)n < t->scan_vec_len)
            break;
        s = t->scan_vec[n - 1].end;
    }
    return t->sync ? sync_finish_scan(c, s0, e) : 0;
}

static int acc_push(struct sls_tracker *t, struct page_region *out, size_t *n, uint64_t s, uint64_t e)
{
    (void)t;
    if (*n && out[*n - 1].end >= s) {
        if (e > out[*n - 1].end)
            out[*n - 1].end = e;
        return 0;
    }
    out[(*n)++] = (struct page_region){ .start = s, .end = e, .categories = PAGE_IS_WRITTEN };
    return 0;
}

/* Synchronous tracker, after the scan of [s, e): adds the pages the fault server saw written there
 * (a fault unprotected just before the freeze may not have populated its page yet, and a discarded
 * page is no longer written-looking), then write-protects everything reported again. A protect that
 * hits an unregistered VMA means the maps changed under a running collect: -EPERM, like the scan. */
static int sync_finish_scan(struct trk_collect *c, uint64_t s, uint64_t e)
{
    struct sls_tracker *t = c->t;
    const struct sls_track_range_list *w = &t->sync_written;
    size_t extra = 0;
    for (size_t i = 0; i < w->n; i++)
        if (w->v[i].start < e && w->v[i].end > s)
            extra++;
    if (extra) {
        struct page_region *m = malloc((t->nacc + extra) * sizeof(*m));
        if (!m)
            return oom(c);
        size_t n = 0, i = 0, j = 0;
        while (i < t->nacc || j < w->n) {
            if (j < w->n && (w->v[j].end <= s || w->v[j].start >= e)) {
                j++;
                continue;
            }
            if (j >= w->n || (i < t->nacc && t->acc[i].start <= w->v[j].start)) {
                acc_push(t, m, &n, t->acc[i].start, t->acc[i].end);
                i++;
            } else {
                acc_push(t, m, &n, w->v[j].start > s ? w->v[j].start : s, w->v[j].end < e ? w->v[j].end : e);
                j++;
            }
        }
        free(t->acc);
        t->acc = m;
        t->nacc = n;
        t->acc_cap = t->nacc + extra;
    }
    for (size_t i = 0; i < t->nacc; i++) {
        struct uffdio_writeprotect wp = {
            .range = { .start = t->acc[i].start, .len = t->acc[i].end - t->acc[i].start },
            .mode = UFFDIO_WRITEPROTECT_MODE_WP,
        };
        while (ioctl(t->uffd, UFFDIO_WRITEPROTECT, &wp) != 0) {
            int er = errno;
            if (er == EAGAIN)
                continue;
            if (er == ENOENT || er == ENOMEM || er == EINVAL)
                return -EPERM;
            return sls_errf(c->err, c->errlen, er, "pid %d: UFFDIO_WRITEPROTECT %#llx-%#llx: %s", t->pid,
                            (unsigned long long)t->acc[i].start, (unsigned long long)t->acc[i].end,
                            strerror(er));
        }
    }
    return 0;
}

static int range_cmp(const void *a, const void *b)
{
    const struct sls_track_range *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* A VMA the uffd does not know yet: register it, protect it whole, report it whole. */
static int adopt(struct trk_collect *c, const struct trk_vma *v)
{
    int rc = register_vma(c, v->start, v->end);
    if (rc < 0)
        return rc;
    uint32_t reason = rc == 0 ? SLS_TRACK_WHOLE_NEW : SLS_TRACK_WHOLE_UNTRACKED;
    if (trk_add_whole(c->d, v->start, v->end, reason) ||
        (rc == 0 && trk_base_add(&c->next, v->start, v->end, NULL)))
        return oom(c);
    return 0;
}

/* VMAs v[0..m), all known and registered: one scan for all of them, then each VMA gets its share of
 * the written pages (clipped to the part the previous collect watched; the rest is whole). */
static int scan_known(struct trk_collect *c, const struct trk_vma *v, size_t m)
{
    struct sls_tracker *t = c->t;
    int rc = scan_written(c, v[0].start, v[m - 1].end);
    if (rc == -EPERM) {
        /* the maps changed under a running collect: pages may have been protected again without
         * being returned, so all of these are reported whole and looked at afresh next time */
        for (size_t i = 0; i < m; i++)
            if (trk_add_whole(c->d, v[i].start, v[i].end, SLS_TRACK_WHOLE_NEW))
                return oom(c);
        return 0;
    }
    if (rc)
        return rc;
    size_t r = 0;
    for (size_t i = 0; i < m; i++) {
        struct trk_watch w;
        rc = trk_report_begin(c, &v[i], trk_anchor(&t->base, &v[i]), &w);
        for (; !rc && r < t->nacc && t->acc[r].start < v[i].end; r++) {
            rc = trk_report_dirty(c, &w, t->acc[r].start, t->acc[r].end);
            if (t->acc[r].end > v[i].end)
                break; /* a run that goes on into the next VMA */
        }
        if (!rc)
            rc = trk_report_end(c, &v[i], &w);
        if (!rc && trk_base_add(&c->next, v[i].start, v[i].end, NULL))
            rc = oom(c);
        if (rc)
            return rc;
    }
    return 0;
}

/* Known VMAs v[0..m) (each continues a region of the baseline): checks which are still registered
 * (a VMA replaced at the same place is not), scans the registered runs, adopts the others. */
static int collect_known(struct trk_collect *c, const struct trk_vma *v, size_t m)
{
    size_t k = 0;
    while (k < m) {
        uint64_t bad = 0;
        int rc = first_unregistered(c, v[k].start, v[m - 1].end, &bad);
        if (rc)
            return rc;
        size_t stop = m;
        if (bad) {
            stop = k;
            while (stop < m && v[stop].end <= bad)
                stop++;
        }
        if (stop > k && (rc = scan_known(c, v + k, stop - k)))
            return rc;
        if (stop < m && (rc = adopt(c, &v[stop])))
            return rc;
        k = stop + 1;
    }
    return 0;
}

int trk_uffd_collect(struct trk_collect *c, const struct trk_vma *v, size_t n)
{
    struct sls_tracker *t = c->t;
    size_t i = 0;
    if (t->server) {
        if (sls_fault_server_take(t->server, &t->sync_written, &t->sync_touched))
            return oom(c); /* the collect fails and forgets: nothing is lost */
        qsort(t->sync_written.v, t->sync_written.n, sizeof(*t->sync_written.v), range_cmp);
        size_t k = 0;
        for (size_t j = 0; j < t->sync_written.n; j++) {
            if (k && t->sync_written.v[k - 1].end >= t->sync_written.v[j].start) {
                if (t->sync_written.v[j].end > t->sync_written.v[k - 1].end)
                    t->sync_written.v[k - 1].end = t->sync_written.v[j].end;
            } else {
                t->sync_written.v[k++] = t->sync_written.v[j];
            }
        }
        t->sync_written.n = k;
    }
    while (i < n) {
        int rc = 0;
        if (v[i].special) {
            i++;
        } else if (v[i].shared) {
            rc = trk_add_shared(c, &v[i]);
            i++;
        } else if (trk_untracked_by_size(&v[i])) {
            rc = trk_add_whole(c->d, v[i].start, v[i].end, SLS_TRACK_WHOLE_UNTRACKED) ? oom(c) : 0;
            i++;
        } else if (!trk_anchor(&t->base, &v[i])) {
            rc = adopt(c, &v[i]);
            i++;
        } else {
            size_t j = i + 1;
            while (j < n && !v[j].special && !v[j].shared && !trk_untracked_by_size(&v[j]) &&
                   trk_anchor(&t->base, &v[j]))
                j++;
            rc = collect_known(c, v + i, j - i);
            i = j;
        }
        if (rc)
            return rc;
    }
    return 0;
}
