/*
 * shadow.c — SLS_CAPTURE_SHADOW: user-space copy-on-write with a synchronous userfaultfd.
 *
 * Why this shape (probed on this kernel, 6.18, by a throwaway program first):
 *   - A VMA is registered with one uffd only, and the async tracker's uffd (WP_ASYNC) resolves writes
 *     in the kernel: nobody could make a write wait. So a process captured with shadowing is tracked
 *     by a *synchronous* WP uffd from its first epoch on (track_uffd.c, SLS_TRACK_SYNC); switching
 *     trackers at each freeze would cost a full unregister/register/protect pass inside the stop.
 *   - UFFDIO_API accepts WP_UNPOPULATED without WP_ASYNC (so unpopulated pages fault too), together
 *     with EVENT_REMOVE / EVENT_UNMAP / EVENT_REMAP. PAGEMAP_SCAN with PM_SCAN_WP_MATCHING silently
 *     skips VMAs of a synchronous uffd (PM_SCAN_CHECK_WPASYNC fails with EPERM, PAGE_IS_WPALLOWED is
 *     never set), but a plain scan for PAGE_IS_WRITTEN (pte without the uffd-wp bit) works. So a
 *     synchronous collect scans, adds the pages this file's fault server saw written, and then
 *     re-protects them with UFFDIO_WRITEPROTECT; the collect is exact frozen, and also while the
 *     process runs because the pre-copy reads a page only after re-protecting it.
 *   - Every first write to a page after a collect therefore waits for the engine: about 60 us here
 *     on a loaded 2-core machine (async: 1-2 us). That is the price of shadowing, paid only by
 *     processes that asked for it.
 *   - The server records each fault before it unprotects (under one lock that the collect takes to
 *     hand the list over): a fault unprotected just before the freeze whose write has not landed yet
 *     (the page is still unpopulated, so PAGE_IS_WRITTEN misses it) is still reported and
 *     re-protected. MADV_DONTNEED (EVENT_REMOVE) is recorded as written (zeros); munmap and mremap
 *     (EVENT_UNMAP / EVENT_REMAP) mark their ranges touched, so the next collect adopts those VMAs as
 *     new (the synchronous uffd gives no PAGE_IS_WPALLOWED to find a VMA replaced in place).
 *   - The engine holds the only reference to the uffd (the target's copy is closed right after
 *     pidfd_getfd). If the engine dies, the kernel closes it, wakes every waiting fault and drops all
 *     registrations and protections: the target runs on (test_shadow checks smaps shows no "uw").
 *
 * The shadow copy of one capture: at the freeze the collect has write-protected the whole dirty set
 * (d2, the pages left over from the pre-copy, and new regions, which adopt protects whole), so the
 * copies of those pages wait until after the thaw; untracked regions (shared, refusing registration,
 * huge) and unreadable pages are copied in the stop as before. After the thaw sls_shadow_copy copies
 * in chunks under the shadow's lock while the fault servers copy a faulting page first, so every
 * page in the page file is its content at the freeze. A page the process unmaps or discards before it
 * was copied cannot be had any more: the capture fails with one line (the process is unharmed).
 */
#include "shadow.h"
#include "capture_int.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#define SH_PAGE 4096ull
#define SH_CHUNK_PAGES 32 /* background copy: pages per lock hold (about 80 us) */

struct sls_fault_server {
    pid_t pid;
    int uffd;
    int wake_fd;
    pthread_t thread;
    pthread_mutex_t mu;
    struct sls_track_range_list written;
    struct sls_track_range_list touched;
    int oom;
    struct sls_shadow *sh; /* during a shadow copy */
};

struct shadow_run {
    pid_t pid;
    uint64_t addr, len, offset;
    uint64_t bit0; /* index of its first page in done */
};

struct sls_shadow {
    pthread_mutex_t mu;
    unsigned char *page_map;
    struct shadow_run *runs; /* sorted by pid, then addr */
    size_t nruns;
    uint64_t *done;
    uint64_t npages;
    uint64_t faults;
    int lost;
    char lost_why[256];
    struct sls_fault_server **servers;
    size_t nservers;
    int armed;
    useconds_t test_delay_us; /* SLS_TEST_SHADOW_COPY_DELAY_US */
};

/* ---- shadow state, used by the servers under sh->mu ---------------------------------------- */

static int is_done(const struct sls_shadow *sh, uint64_t bit)
{
    return (sh->done[bit / 64] >> (bit % 64)) & 1;
}

static void set_done(struct sls_shadow *sh, uint64_t bit)
{
    sh->done[bit / 64] |= 1ull << (bit % 64);
}

/* The first run of pid ending after addr (runs sorted by pid, addr), or nruns. */
static size_t run_after(const struct sls_shadow *sh, pid_t pid, uint64_t addr)
{
    size_t lo = 0, hi = sh->nruns;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct shadow_run *r = &sh->runs[mid];
        if (r->pid < pid || (r->pid == pid && r->addr + r->len <= addr))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void lose(struct sls_shadow *sh, pid_t pid, uint64_t addr, const char *what)
{
    if (sh->lost)
        return;
    sh->lost = 1;
    snprintf(sh->lost_why, sizeof(sh->lost_why), "pid %d: shadowing: the page at %#llx %s before "
             "it was copied; this epoch cannot be taken", pid, (unsigned long long)addr, what);
}

/* Copies pages [p0, p0 + np) of run r (not done ones) into the page file. */
static void copy_run_pages(struct sls_shadow *sh, const struct shadow_run *r, uint64_t p0, uint64_t np)
{
    uint64_t p = p0;
    while (p < p0 + np) {
        if (is_done(sh, r->bit0 + p)) {
            p++;
            continue;
        }
        uint64_t q = p;
        while (q < p0 + np && !is_done(sh, r->bit0 + q))
            q++;
        struct iovec local = { sh->page_map + r->offset + p * SH_PAGE, (q - p) * SH_PAGE };
        struct iovec remote = { (void *)(uintptr_t)(r->addr + p * SH_PAGE), (q - p) * SH_PAGE };
        ssize_t got = process_vm_readv(r->pid, &local, 1, &remote, 1, 0);
        if (got != (ssize_t)local.iov_len)
            lose(sh, r->pid, r->addr + p * SH_PAGE + (got > 0 ? (uint64_t)got : 0),
                 "was unmapped by the process");
        for (uint64_t k = p; k < q; k++)
            set_done(sh, r->bit0 + k);
        p = q;
    }
}

/* A write fault of pid at page: copy it first if it is shadowed and not copied yet. */
static void shadow_fault(struct sls_shadow *sh, pid_t pid, uint64_t page)
{
    pthread_mutex_lock(&sh->mu);
    size_t i = run_after(sh, pid, page);
    if (i < sh->nruns && sh->runs[i].pid == pid && sh->runs[i].addr <= page) {
        const struct shadow_run *r = &sh->runs[i];
        uint64_t p = (page - r->addr) / SH_PAGE;
        if (!is_done(sh, r->bit0 + p)) {
            if (sh->test_delay_us)
                usleep(sh->test_delay_us); /* a test kills the engine while a write waits here */
            copy_run_pages(sh, r, p, 1);
            sh->faults++;
        }
    }
    pthread_mutex_unlock(&sh->mu);
}

/* The process discards or unmaps [s, e): any shadowed page there not copied yet is lost. */
static void shadow_gone(struct sls_shadow *sh, pid_t pid, uint64_t s, uint64_t e, const char *what)
{
    pthread_mutex_lock(&sh->mu);
    for (size_t i = run_after(sh, pid, s); i < sh->nruns && sh->runs[i].pid == pid &&
                                           sh->runs[i].addr < e; i++) {
        const struct shadow_run *r = &sh->runs[i];
        uint64_t a = s > r->addr ? s : r->addr, b = e < r->addr + r->len ? e : r->addr + r->len;
        for (uint64_t x = a; x < b; x += SH_PAGE)
            if (!is_done(sh, r->bit0 + (x - r->addr) / SH_PAGE)) {
                lose(sh, pid, x, what);
                break;
            }
    }
    pthread_mutex_unlock(&sh->mu);
}

/* ---- fault server ------------------------------------------------------------------------- */

static void unprotect(struct sls_fault_server *s, uint64_t page)
{
    struct uffdio_writeprotect wp = { .range = { .start = page, .len = SH_PAGE }, .mode = 0 };
    while (ioctl(s->uffd, UFFDIO_WRITEPROTECT, &wp) != 0 && errno == EAGAIN)
        ; /* the mm is changing (an event on its way): try again */
}

static void serve(struct sls_fault_server *s, const struct uffd_msg *m)
{
    pthread_mutex_lock(&s->mu);
    switch (m->event) {
    case UFFD_EVENT_PAGEFAULT: {
        uint64_t page = m->arg.pagefault.address & ~(SH_PAGE - 1);
        if (s->sh)
            shadow_fault(s->sh, s->pid, page);
        if (sls_track_range_add(&s->written, page, page + SH_PAGE, 0))
            s->oom = 1;
        if (m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) {
            unprotect(s, page);
        } else {
            struct uffdio_range r = { page, SH_PAGE };
            ioctl(s->uffd, UFFDIO_WAKE, &r);
        }
        break;
    }
    case UFFD_EVENT_REMOVE:
        if (s->sh)
            shadow_gone(s->sh, s->pid, m->arg.remove.start, m->arg.remove.end, "was discarded (MADV_DONTNEED)");
        if (sls_track_range_add(&s->written, m->arg.remove.start, m->arg.remove.end, 0))
            s->oom = 1;
        break;
    case UFFD_EVENT_UNMAP:
        if (s->sh)
            shadow_gone(s->sh, s->pid, m->arg.remove.start, m->arg.remove.end, "was unmapped");
        if (sls_track_range_add(&s->touched, m->arg.remove.start, m->arg.remove.end, 0))
            s->oom = 1;
        break;
    case UFFD_EVENT_REMAP: {
        uint64_t from = m->arg.remap.from, to = m->arg.remap.to, len = m->arg.remap.len;
        if (s->sh)
            shadow_gone(s->sh, s->pid, from, from + len, "was moved (mremap)");
        if (sls_track_range_add(&s->touched, from, from + len, 0) ||
            sls_track_range_add(&s->touched, to, to + len, 0))
            s->oom = 1;
        break;
    }
    default:
        break;
    }
    pthread_mutex_unlock(&s->mu);
}

static void *server_main(void *arg)
{
    struct sls_fault_server *s = arg;
    struct uffd_msg msgs[32];
    for (;;) {
        struct pollfd p[2] = { { s->uffd, POLLIN, 0 }, { s->wake_fd, POLLIN, 0 } };
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL))
            break;
        ssize_t r = read(s->uffd, msgs, sizeof(msgs));
        if (r < 0)
            continue; /* EAGAIN: another wakeup took it */
        for (size_t i = 0; i < (size_t)r / sizeof(msgs[0]); i++)
            serve(s, &msgs[i]);
    }
    return NULL;
}

int sls_fault_server_start(pid_t pid, int uffd, struct sls_fault_server **out, char *err, size_t errlen)
{
    struct sls_fault_server *s = calloc(1, sizeof(*s));
    if (!s)
        return sls_errf(err, errlen, ENOMEM, "pid %d: out of memory for the fault server", pid);
    s->pid = pid;
    s->uffd = uffd;
    s->wake_fd = eventfd(0, EFD_CLOEXEC);
    if (s->wake_fd < 0) {
        int e = errno;
        free(s);
        return sls_errf(err, errlen, e, "pid %d: eventfd for the fault server: %s", pid, strerror(e));
    }
    pthread_mutex_init(&s->mu, NULL);
    int e = pthread_create(&s->thread, NULL, server_main, s);
    if (e) {
        close(s->wake_fd);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return sls_errf(err, errlen, e, "pid %d: starting the fault server thread: %s", pid, strerror(e));
    }
    *out = s;
    return 0;
}

void sls_fault_server_stop(struct sls_fault_server *s)
{
    if (!s)
        return;
    uint64_t one = 1;
    if (write(s->wake_fd, &one, sizeof(one)) != sizeof(one))
        pthread_cancel(s->thread);
    pthread_join(s->thread, NULL);
    close(s->wake_fd);
    pthread_mutex_destroy(&s->mu);
    free(s->written.v);
    free(s->touched.v);
    free(s);
}

int sls_fault_server_take(struct sls_fault_server *s, struct sls_track_range_list *written,
                          struct sls_track_range_list *touched)
{
    pthread_mutex_lock(&s->mu);
    struct sls_track_range_list w = *written, t = *touched;
    *written = s->written;
    *touched = s->touched;
    /* the caller's old lists (emptied) become the server's, so their memory is reused */
    w.n = t.n = 0;
    s->written = w;
    s->touched = t;
    int oom = s->oom;
    s->oom = 0;
    pthread_mutex_unlock(&s->mu);
    return oom ? -ENOMEM : 0;
}

/* ---- one capture's shadow copy ---------------------------------------------------------------- */

static int run_cmp(const void *a, const void *b)
{
    const struct shadow_run *x = a, *y = b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int overlaps_untracked(const struct sls_track_delta *d, uint64_t s, uint64_t e)
{
    for (size_t i = 0; i < d->whole.n; i++)
        if (d->whole.v[i].reason == SLS_TRACK_WHOLE_UNTRACKED && d->whole.v[i].start < e &&
            d->whole.v[i].end > s)
            return 1;
    return 0;
}

int sls_shadow_begin(struct sls_capture_ctx *c, struct sls_tracker *const *trackers,
                     const struct sls_track_delta *deltas, size_t n, struct sls_shadow **out)
{
    *out = NULL;
    size_t nrun = 0;
    for (size_t k = c->copies_done; k < c->ncopies; k++) {
        struct sls_page_copy *cp = &c->copies[k];
        cp->shadow = 0;
        if (!cp->readable)
            continue;
        for (size_t i = 0; i < n; i++) {
            if (!trackers[i] || sls_track_pid(trackers[i]) != cp->pid || !sls_track_fault_server(trackers[i]))
                continue;
            if (!overlaps_untracked(&deltas[i], cp->addr, cp->addr + cp->len)) {
                cp->shadow = 1;
                nrun++;
            }
            break;
        }
    }
    if (nrun == 0)
        return 0;
    struct sls_shadow *sh = calloc(1, sizeof(*sh));
    if (sh)
        pthread_mutex_init(&sh->mu, NULL);
    if (!sh || !(sh->runs = calloc(nrun, sizeof(*sh->runs))) ||
        !(sh->servers = calloc(n, sizeof(*sh->servers)))) {
        sls_shadow_free(sh);
        for (size_t k = c->copies_done; k < c->ncopies; k++)
            c->copies[k].shadow = 0;
        return CERR(c, ENOMEM, "out of memory for the shadow copy");
    }
    for (size_t k = c->copies_done; k < c->ncopies; k++) {
        struct sls_page_copy *cp = &c->copies[k];
        if (cp->shadow)
            sh->runs[sh->nruns++] = (struct shadow_run){ cp->pid, cp->addr, cp->len, cp->offset, 0 };
    }
    qsort(sh->runs, sh->nruns, sizeof(*sh->runs), run_cmp);
    for (size_t i = 0; i < sh->nruns; i++) {
        sh->runs[i].bit0 = sh->npages;
        sh->npages += sh->runs[i].len / SH_PAGE;
    }
    sh->done = calloc((sh->npages + 63) / 64, sizeof(*sh->done));
    if (!sh->done) {
        sls_shadow_free(sh);
        for (size_t k = c->copies_done; k < c->ncopies; k++)
            c->copies[k].shadow = 0;
        return CERR(c, ENOMEM, "out of memory for the shadow copy");
    }
    for (size_t i = 0; i < n; i++)
        if (trackers[i] && sls_track_fault_server(trackers[i]))
            sh->servers[sh->nservers++] = sls_track_fault_server(trackers[i]);
    *out = sh;
    return 0;
}

/* Still frozen, after the stop copied the other pages (the page file is mapped for good now): the
 * fault servers start copying before unprotecting. */
void sls_shadow_arm(struct sls_shadow *sh, unsigned char *page_map)
{
    /* for tests only: slow the copy down (each background chunk and each copy a fault makes), so a
     * test can write, or kill the engine, while pages are still waiting */
    const char *delay = getenv("SLS_TEST_SHADOW_COPY_DELAY_US");
    sh->test_delay_us = delay ? (useconds_t)strtoul(delay, NULL, 10) : 0;
    sh->page_map = page_map;
    for (size_t i = 0; i < sh->nservers; i++) {
        pthread_mutex_lock(&sh->servers[i]->mu);
        sh->servers[i]->sh = sh;
        pthread_mutex_unlock(&sh->servers[i]->mu);
    }
    sh->armed = 1;
}

static void disarm(struct sls_shadow *sh)
{
    for (size_t i = 0; sh->armed && i < sh->nservers; i++) {
        pthread_mutex_lock(&sh->servers[i]->mu);
        sh->servers[i]->sh = NULL;
        pthread_mutex_unlock(&sh->servers[i]->mu);
    }
    sh->armed = 0;
}

int sls_shadow_copy(struct sls_capture_ctx *c, struct sls_shadow *sh)
{
    useconds_t delay_us = sh->test_delay_us;
    for (size_t i = 0; i < sh->nruns; i++) {
        const struct shadow_run *r = &sh->runs[i];
        for (uint64_t p = 0; p < r->len / SH_PAGE; p += SH_CHUNK_PAGES) {
            uint64_t np = r->len / SH_PAGE - p < SH_CHUNK_PAGES ? r->len / SH_PAGE - p : SH_CHUNK_PAGES;
            pthread_mutex_lock(&sh->mu);
            copy_run_pages(sh, r, p, np);
            pthread_mutex_unlock(&sh->mu);
            if (delay_us)
                usleep(delay_us);
        }
    }
    disarm(sh);
    if (sh->lost)
        return CERR(c, EFAULT, "%s", sh->lost_why);
    return 0;
}

void sls_shadow_free(struct sls_shadow *sh)
{
    if (!sh)
        return;
    disarm(sh);
    pthread_mutex_destroy(&sh->mu);
    free(sh->runs);
    free(sh->done);
    free(sh->servers);
    free(sh);
}

uint64_t sls_shadow_faults(const struct sls_shadow *sh)
{
    return sh ? sh->faults : 0;
}

uint64_t sls_shadow_pages(const struct sls_shadow *sh)
{
    return sh ? sh->npages : 0;
}
