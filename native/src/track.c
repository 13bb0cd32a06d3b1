/*
 * track.c — the tracker's frame: open/collect/close, the maps snapshot, and the comparison with the
 * baseline that turns new, moved and grown regions into "whole" ranges. The mechanisms only say
 * which pages of one known region were written (track_uffd.c, track_softdirty.c, track_digest.c).
 */
#include "track_int.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

const char *sls_track_mode_name(int mode)
{
    switch (mode) {
    case SLS_TRACK_AUTO: return "auto";
    case SLS_TRACK_SOFTDIRTY: return "soft-dirty";
    case SLS_TRACK_UFFD: return "uffd";
    case SLS_TRACK_DIGEST: return "digest";
    default: return "?";
    }
}

int sls_track_available(int mode)
{
    switch (mode) {
    case SLS_TRACK_AUTO: return 1;
    case SLS_TRACK_SOFTDIRTY: return trk_softdirty_available();
    case SLS_TRACK_UFFD: return trk_uffd_available();
    case SLS_TRACK_DIGEST: return 1;
    default: return 0;
    }
}

int sls_track_auto_mode(void)
{
    /* uffd first: its scan re-protects atomically, so a collect is exact while the target runs
     * (pre-copy); soft-dirty's read-then-clear_refs is not. */
    if (trk_uffd_available())
        return SLS_TRACK_UFFD;
    if (trk_softdirty_available())
        return SLS_TRACK_SOFTDIRTY;
    return SLS_TRACK_DIGEST;
}

int sls_track_describe(char *buf, size_t len)
{
    if (!buf || !len)
        return 0;
    int n = snprintf(buf, len, "dirty_tracking=%s\ndirty_tracking_available=",
                     sls_track_mode_name(sls_track_auto_mode()));
    const int order[] = { SLS_TRACK_UFFD, SLS_TRACK_SOFTDIRTY, SLS_TRACK_DIGEST };
    int first = 1;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        if (n < 0 || (size_t)n >= len)
            break;
        if (sls_track_available(order[i])) {
            n += snprintf(buf + n, len - (size_t)n, "%s%s", first ? "" : ",",
                          sls_track_mode_name(order[i]));
            first = 0;
        }
    }
    if (n >= 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, "\n");
    return n < 0 ? 0 : (size_t)n < len ? n : (int)len - 1;
}

int sls_track_mode(const struct sls_tracker *t)
{
    return t->mode;
}

pid_t sls_track_pid(const struct sls_tracker *t)
{
    return t->pid;
}

/* ---- range lists ------------------------------------------------------------------------------ */

int sls_track_range_add(struct sls_track_range_list *l, uint64_t start, uint64_t end, uint32_t reason)
{
    if (start >= end)
        return 0;
    if (l->n && l->v[l->n - 1].end == start && l->v[l->n - 1].reason == reason) {
        l->v[l->n - 1].end = end;
        return 0;
    }
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 256;
        struct sls_track_range *nv = realloc(l->v, nc * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = (struct sls_track_range){ start, end, reason };
    return 0;
}

int trk_add_dirty(struct sls_track_delta *d, uint64_t start, uint64_t end)
{
    if (start >= end)
        return 0;
    d->dirty_pages += (end - start) / TRK_PAGE;
    return sls_track_range_add(&d->dirty, start, end, 0);
}

int trk_add_whole(struct sls_track_delta *d, uint64_t start, uint64_t end, uint32_t reason)
{
    if (start >= end)
        return 0;
    d->whole_bytes += end - start;
    return sls_track_range_add(&d->whole, start, end, reason);
}

void sls_track_delta_free(struct sls_track_delta *d)
{
    if (!d)
        return;
    free(d->dirty.v);
    free(d->whole.v);
    memset(d, 0, sizeof(*d));
}

/* ---- baseline --------------------------------------------------------------------------------- */

int trk_base_add(struct trk_baseline *b, uint64_t start, uint64_t end, uint64_t *digest)
{
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 64;
        struct trk_region *nv = realloc(b->v, nc * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        b->v = nv;
        b->cap = nc;
    }
    b->v[b->n++] = (struct trk_region){ start, end, digest, NULL };
    return 0;
}

void trk_base_free(struct trk_baseline *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->v[i].digest);
        free(b->v[i].present);
    }
    free(b->v);
    memset(b, 0, sizeof(*b));
}

const struct trk_region *trk_region_at(const struct trk_baseline *b, uint64_t addr)
{
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (b->v[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < b->n && b->v[lo].start <= addr ? &b->v[lo] : NULL;
}

const struct trk_region *trk_anchor(const struct trk_baseline *b, const struct trk_vma *v)
{
    const struct trk_region *r = trk_region_at(b, v->start);
    return r ? r : trk_region_at(b, v->end - TRK_PAGE);
}

static int oom(struct trk_collect *c)
{
    return sls_errf(c->err, c->errlen, ENOMEM, "pid %d: out of memory for dirty ranges", c->t->pid);
}

int trk_report_begin(struct trk_collect *c, const struct trk_vma *v, const struct trk_region *anchor,
                     struct trk_watch *w)
{
    /* Only the part of v that the anchor region covered was watched; the rest (grown, or another
     * region's old place) is new. An old neighbour swallowed by in-place growth is new as well,
     * even though the baseline had a region there: its pages are not this region's. */
    w->lo = w->hi = v->end;
    if (anchor) {
        w->lo = anchor->start > v->start ? anchor->start : v->start;
        w->hi = anchor->end < v->end ? anchor->end : v->end;
    }
    return trk_add_whole(c->d, v->start, w->lo, SLS_TRACK_WHOLE_NEW) ? oom(c) : 0;
}

int trk_report_dirty(struct trk_collect *c, const struct trk_watch *w, uint64_t start, uint64_t end)
{
    uint64_t s = start < w->lo ? w->lo : start;
    uint64_t e = end > w->hi ? w->hi : end;
    return s < e && trk_add_dirty(c->d, s, e) ? oom(c) : 0;
}

int trk_report_end(struct trk_collect *c, const struct trk_vma *v, const struct trk_watch *w)
{
    return trk_add_whole(c->d, w->hi, v->end, SLS_TRACK_WHOLE_NEW) ? oom(c) : 0;
}

int trk_untracked_by_size(const struct trk_vma *v)
{
    uint64_t size = v->end - v->start;
    return size > TRK_MAX_TRACKED_REGION ||
           (!(v->prot & (PROT_READ | PROT_WRITE)) && size > TRK_MAX_TRACKED_INACCESSIBLE);
}

int trk_add_shared(struct trk_collect *c, const struct trk_vma *v)
{
    /* other processes write shared memory without touching our page tables */
    return trk_add_whole(c->d, v->start, v->end, SLS_TRACK_WHOLE_UNTRACKED) ? oom(c) : 0;
}

/* ---- /proc ------------------------------------------------------------------------------------ */

int trk_read_maps(pid_t pid, struct trk_vma **out, size_t *nout, char *err, size_t errlen)
{
    char path[64], *maps;
    snprintf(path, sizeof(path), "/proc/%d/maps", pid);
    ssize_t len = sls_read_file(path, &maps);
    if (len < 0)
        return sls_errf(err, errlen, (int)-len, "pid %d: cannot read %s: %s", pid, path,
                        strerror((int)-len));
    size_t cap = 64, n = 0;
    struct trk_vma *v = malloc(cap * sizeof(*v));
    if (!v) {
        free(maps);
        return sls_errf(err, errlen, ENOMEM, "pid %d: out of memory reading maps", pid);
    }
    /* parsed by hand: sscanf costs about a microsecond a line, which is most of a collect for a
     * process with thousands of VMAs */
    for (char *line = maps; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        char *q;
        uint64_t s = strtoull(line, &q, 16);
        uint64_t e = *q == '-' ? strtoull(q + 1, &q, 16) : 0;
        if (*q == ' ' && e > s && strlen(q) >= 5) {
            const char *perms = q + 1;
            /* skip perms, offset, dev, inode: the name starts after the fifth field */
            const char *name = perms;
            for (int field = 0; field < 4 && *name; field++) {
                while (*name && *name != ' ')
                    name++;
                while (*name == ' ')
                    name++;
            }
            if (n == cap) {
                cap *= 2;
                struct trk_vma *nv = realloc(v, cap * sizeof(*nv));
                if (!nv) {
                    free(v);
                    free(maps);
                    return sls_errf(err, errlen, ENOMEM, "pid %d: out of memory reading maps", pid);
                }
                v = nv;
            }
            struct trk_vma *m = &v[n++];
            m->start = s;
            m->end = e;
            m->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
                      (perms[2] == 'x' ? PROT_EXEC : 0);
            m->shared = perms[3] == 's';
            m->special = name[0] == '[' &&
                         (!strcmp(name, "[vdso]") || !strcmp(name, "[vvar]") ||
                          !strcmp(name, "[vvar_vclock]") || !strcmp(name, "[vsyscall]"));
        }
        line = nl ? nl + 1 : NULL;
    }
    free(maps);
    *out = v;
    *nout = n;
    return 0;
}

int trk_pagemap_read(struct sls_tracker *t, uint64_t start, size_t npages, uint64_t *out,
                     char *err, size_t errlen)
{
    size_t want = npages * sizeof(uint64_t), got = 0;
    off_t off = (off_t)(start / TRK_PAGE * sizeof(uint64_t));
    while (got < want) {
        ssize_t r = pread(t->pagemap_fd, (char *)out + got, want - got, off + (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return sls_errf(err, errlen, r < 0 ? errno : EIO,
                            "pid %d: pagemap read at %#llx failed: %s", t->pid,
                            (unsigned long long)start, r < 0 ? strerror(errno) : "end of file");
        got += (size_t)r;
    }
    return 0;
}

/* ---- open / collect / close ------------------------------------------------------------------- */

static int collect(struct sls_tracker *t, struct sls_track_delta *d, int flags, char *err,
                   size_t errlen);

static int open_mode(struct sls_frozen_proc *p, int mode, int lazy, int sync, struct sls_tracker **out,
                     char *err, size_t errlen)
{
    if (sync && mode != SLS_TRACK_UFFD)
        return sls_errf(err, errlen, EINVAL, "dirty tracking %s: synchronous tracking (for shadowing) "
                        "exists only for uffd", sls_track_mode_name(mode));
    if (mode != SLS_TRACK_UFFD && mode != SLS_TRACK_SOFTDIRTY && mode != SLS_TRACK_DIGEST)
        return sls_errf(err, errlen, EINVAL, "dirty tracking: unknown mode %d", mode);
    if (mode == SLS_TRACK_UFFD && !trk_uffd_available())
        return sls_errf(err, errlen, EOPNOTSUPP,
                        "dirty tracking uffd: this kernel lacks userfaultfd async write-protect "
                        "(UFFD_FEATURE_WP_ASYNC) or PAGEMAP_SCAN (Linux >= 6.7)");
    if (mode == SLS_TRACK_SOFTDIRTY && !trk_softdirty_available())
        return sls_errf(err, errlen, EOPNOTSUPP,
                        "dirty tracking soft-dirty: this kernel has no CONFIG_MEM_SOFT_DIRTY "
                        "(pagemap bit 55 never set)");
    struct sls_tracker *t = calloc(1, sizeof(*t));
    if (!t)
        return sls_errf(err, errlen, ENOMEM, "pid %d: out of memory for a tracker", p->pid);
    t->pid = p->pid;
    t->mode = mode;
    t->sync = sync;
    t->uffd = -1;
    t->mem_fd = -1;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/pagemap", p->pid);
    t->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (t->pagemap_fd < 0) {
        int e = errno;
        free(t);
        return sls_errf(err, errlen, e, "pid %d: cannot open %s: %s", p->pid, path, strerror(e));
    }
    int rc = mode == SLS_TRACK_UFFD        ? trk_uffd_open(t, p, err, errlen)
             : mode == SLS_TRACK_SOFTDIRTY ? trk_softdirty_open(t, err, errlen)
                                           : trk_digest_open(t, err, errlen);
    if (rc == 0 && !lazy) {
        /* The first pass registers/protects (uffd), clears (soft-dirty) or hashes (digest)
         * everything: its report is the baseline itself and is dropped. */
        struct sls_track_delta first = { 0 };
        rc = collect(t, &first, 0, err, errlen);
        sls_track_delta_free(&first);
    }
    if (rc) {
        sls_track_close(t);
        return rc;
    }
    *out = t;
    return 0;
}

int sls_track_open(struct sls_frozen_proc *p, int mode, struct sls_tracker **out, char *err,
                   size_t errlen)
{
    *out = NULL;
    int lazy = (mode & SLS_TRACK_LAZY) != 0, sync = (mode & SLS_TRACK_SYNC) != 0;
    mode &= ~(SLS_TRACK_LAZY | SLS_TRACK_SYNC);
    if (sync && mode == SLS_TRACK_AUTO && sls_track_auto_mode() == SLS_TRACK_UFFD)
        mode = SLS_TRACK_UFFD; /* synchronous tracking is uffd or nothing: no fallback */
    if (mode != SLS_TRACK_AUTO || sync)
        return open_mode(p, mode, lazy, sync, out, err, errlen);
    /* AUTO: the best mechanism this kernel has that also works for this process (one at its
     * open-file limit cannot be given a uffd); digest always does. Why a better one was passed
     * over is kept. */
    const int order[] = { SLS_TRACK_UFFD, SLS_TRACK_SOFTDIRTY, SLS_TRACK_DIGEST };
    char first_refusal[sizeof(((struct sls_tracker *)0)->passed_over)] = "";
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        if (!sls_track_available(order[i]))
            continue;
        rc = open_mode(p, order[i], lazy, 0, out, err, errlen);
        if (rc == 0) {
            snprintf((*out)->passed_over, sizeof((*out)->passed_over), "%s", first_refusal);
            return 0;
        }
        if (rc == -ESRCH)
            return rc; /* the process is gone: no mechanism will do */
        if (!first_refusal[0] && err)
            snprintf(first_refusal, sizeof(first_refusal), "%s: %s",
                     sls_track_mode_name(order[i]), err);
    }
    return rc;
}

struct sls_fault_server *sls_track_fault_server(const struct sls_tracker *t)
{
    return t ? t->server : NULL;
}

const char *sls_track_passed_over(const struct sls_tracker *t)
{
    return t->passed_over;
}

/* After registrations the kernel may have merged VMAs: the next baseline is the VMA structure
 * as it is now, restricted to what this collect covered. */
static int rebuild_baseline(struct trk_collect *c)
{
    struct trk_vma *v;
    size_t n;
    int rc = trk_read_maps(c->t->pid, &v, &n, c->err, c->errlen);
    if (rc)
        return rc;
    /* coalesce what was covered */
    struct trk_baseline cov = { 0 };
    for (size_t i = 0; !rc && i < c->next.n; i++) {
        if (cov.n && cov.v[cov.n - 1].end == c->next.v[i].start)
            cov.v[cov.n - 1].end = c->next.v[i].end;
        else
            rc = trk_base_add(&cov, c->next.v[i].start, c->next.v[i].end, NULL);
    }
    struct trk_baseline nb = { 0 };
    size_t k = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        if (v[i].special || v[i].shared)
            continue;
        while (k < cov.n && cov.v[k].end <= v[i].start)
            k++;
        for (size_t j = k; !rc && j < cov.n && cov.v[j].start < v[i].end; j++) {
            uint64_t s = cov.v[j].start > v[i].start ? cov.v[j].start : v[i].start;
            uint64_t e = cov.v[j].end < v[i].end ? cov.v[j].end : v[i].end;
            if (s < e)
                rc = trk_base_add(&nb, s, e, NULL);
        }
    }
    free(v);
    trk_base_free(&cov);
    if (rc) {
        trk_base_free(&nb);
        return sls_errf(c->err, c->errlen, ENOMEM, "pid %d: out of memory for the baseline",
                        c->t->pid);
    }
    trk_base_free(&c->next);
    c->next = nb;
    return 0;
}

/* The tracker (its pagemap fd, its uffd) belongs to the address space the process had at open. After
 * an exec (or exit) that one is gone and a fresh maps read would describe another: refuse, rather
 * than compare two address spaces. A one-page pagemap read answers ESRCH for a dead mm. */
static int address_space_alive(struct sls_tracker *t, char *err, size_t errlen)
{
    uint64_t entry;
    ssize_t r = pread(t->pagemap_fd, &entry, sizeof(entry), 0);
    if (r == (ssize_t)sizeof(entry))
        return 0;
    if (r < 0 && errno != ESRCH)
        return sls_errf(err, errlen, errno, "pid %d: pagemap read failed: %s", t->pid,
                        strerror(errno));
    return sls_errf(err, errlen, ESRCH, "pid %d: the address space tracked since open is gone (the "
                    "process exec'd or exited): open a new tracker", t->pid);
}

static int collect(struct sls_tracker *t, struct sls_track_delta *d, int flags, char *err,
                   size_t errlen)
{
    uint64_t t0 = sls_now_ns(CLOCK_MONOTONIC);
    d->dirty.n = d->whole.n = 0;
    d->dirty_pages = d->whole_bytes = d->tracked_bytes = d->collect_ns = 0;
    struct trk_collect c = {
        .t = t, .d = d, .running = !!(flags & SLS_TRACK_COLLECT_RUNNING), .err = err,
        .errlen = errlen,
    };
    struct trk_vma *v = NULL;
    size_t n = 0;
    int rc = address_space_alive(t, err, errlen);
    if (!rc)
        rc = trk_read_maps(t->pid, &v, &n, err, errlen);
    if (!rc && t->mode == SLS_TRACK_UFFD)
        rc = trk_uffd_collect(&c, v, n);
    for (size_t i = 0; !rc && t->mode != SLS_TRACK_UFFD && i < n; i++) {
        if (v[i].special)
            continue;
        if (v[i].shared)
            rc = trk_add_shared(&c, &v[i]);
        else if (trk_untracked_by_size(&v[i]))
            rc = trk_add_whole(d, v[i].start, v[i].end, SLS_TRACK_WHOLE_UNTRACKED)
                     ? sls_errf(err, errlen, ENOMEM, "pid %d: out of memory", t->pid)
                     : 0;
        else
            rc = t->mode == SLS_TRACK_SOFTDIRTY ? trk_softdirty_vma(&c, &v[i])
                                                : trk_digest_vma(&c, &v[i]);
    }
    free(v);
    if (!rc && t->mode == SLS_TRACK_SOFTDIRTY)
        rc = trk_softdirty_finish(&c);
    if (!rc && c.registered_any)
        rc = rebuild_baseline(&c);
    if (rc) {
        /* pages may have been re-protected or re-hashed without being reported: forget, so the
         * next collect reports every region whole */
        trk_base_free(&c.next);
        trk_base_free(&t->base);
        return rc;
    }
    for (size_t i = 0; i < c.next.n; i++)
        d->tracked_bytes += c.next.v[i].end - c.next.v[i].start;
    trk_base_free(&t->base);
    t->base = c.next;
    d->collect_ns = sls_now_ns(CLOCK_MONOTONIC) - t0;
    return 0;
}

int sls_track_collect(struct sls_tracker *t, struct sls_track_delta *d, int flags, char *err,
                      size_t errlen)
{
    if (!t || !d)
        return sls_errf(err, errlen, EINVAL, "sls_track_collect: no tracker or no delta");
    if (t->mode == SLS_TRACK_SOFTDIRTY && (flags & SLS_TRACK_COLLECT_RUNNING))
        return sls_errf(err, errlen, EINVAL,
                        "pid %d: soft-dirty cannot collect while the process runs (reading and "
                        "clearing the bits are two steps); freeze it or use uffd", t->pid);
    return collect(t, d, flags, err, errlen);
}

void sls_track_note_copied(struct sls_tracker *t, uint64_t addr, const void *buf, uint64_t len)
{
    if (t && t->mode == SLS_TRACK_DIGEST)
        trk_digest_note(t, addr, buf, len);
}

void sls_track_forget(struct sls_tracker *t)
{
    if (t)
        trk_base_free(&t->base);
}

void sls_track_close(struct sls_tracker *t)
{
    if (!t)
        return;
    if (t->mode == SLS_TRACK_UFFD)
        trk_uffd_close(t);
    if (t->mode == SLS_TRACK_DIGEST)
        trk_digest_close(t);
    if (t->pagemap_fd >= 0)
        close(t->pagemap_fd);
    if (t->mem_fd >= 0)
        close(t->mem_fd);
    trk_base_free(&t->base);
    free(t->scan_vec);
    free(t->acc);
    free(t->sync_written.v);
    free(t->sync_touched.v);
    free(t);
}
