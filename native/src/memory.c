/*
 * memory.c — VMA entries, which pages to take, and copying them into the page file.
 *
 * Pages taken: those that exist (present or swapped), except the zero page and, in private file
 * mappings, pages that are still the file's own (the restored mapping reads them from the file).
 * Shared file mappings are not copied (their contents are the file). Shared anonymous memory, memfd
 * and unlinked-file mappings have no file to come back from: every page with data in the
 * underlying object (SEEK_DATA) is taken too.
 *
 * Copy: the page file is sized, mmap'd and pre-faulted once, then filled by process_vm_readv with up
 * to IOV_MAX runs per call straight into the mapping; unreadable (PROT_NONE) runs go through
 * /proc/PID/mem, which may read them.
 */
#include "capture_int.h"
#include "engine_tracking.h"
#include "pagemap_scan.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096ull

struct run_list {
    struct sls_img_pagerun *runs;
    size_t n, cap;
};

static int add_copy(struct sls_capture_ctx *c, pid_t pid, uint64_t addr, uint64_t len, int readable,
                    struct run_list *rl)
{
    /* extend the previous run when contiguous in memory (and so in the page file) */
    if (rl->n && c->ncopies) {
        struct sls_img_pagerun *last = &rl->runs[rl->n - 1];
        struct sls_page_copy *lc = &c->copies[c->ncopies - 1];
        if (last->addr + last->npages * PAGE == addr && lc->pid == pid && lc->readable == readable &&
            lc->offset + lc->len == c->page_bytes) {
            last->npages += len / PAGE;
            lc->len += len;
            c->page_bytes += len;
            c->copy_end = c->page_bytes;
            return 0;
        }
    }
    if (rl->n == rl->cap) {
        size_t nc = rl->cap ? rl->cap * 2 : 256;
        struct sls_img_pagerun *nr = realloc(rl->runs, nc * sizeof(*nr));
        if (!nr)
            return CERR(c, ENOMEM, "pid %d: out of memory", pid);
        rl->runs = nr;
        rl->cap = nc;
    }
    if (c->ncopies == c->copies_cap) {
        size_t nc = c->copies_cap ? c->copies_cap * 2 : 1024;
        struct sls_page_copy *ncp = realloc(c->copies, nc * sizeof(*ncp));
        if (!ncp)
            return CERR(c, ENOMEM, "pid %d: out of memory", pid);
        c->copies = ncp;
        c->copies_cap = nc;
    }
    rl->runs[rl->n++] = (struct sls_img_pagerun){ addr, len / PAGE, c->page_bytes };
    c->copies[c->ncopies++] = (struct sls_page_copy){ pid, addr, len, c->page_bytes, readable, 0, 0 };
    c->page_bytes += len;
    c->copy_end = c->page_bytes;
    return 0;
}

/* Delta: a run of pages that must read as zeros (discarded since the last epoch, or absent in a new
 * region where an older epoch may hold pages). It takes page file offsets but is never copied: the
 * page file is fresh (O_TRUNC), so those bytes are zeros, and past the last copied run they are
 * holes that cost no disk. */
static int add_zero(struct sls_capture_ctx *c, pid_t pid, uint64_t addr, uint64_t len, struct run_list *rl)
{
    if (rl->n) {
        struct sls_img_pagerun *last = &rl->runs[rl->n - 1];
        if (last->addr + last->npages * PAGE == addr && last->offset + last->npages * PAGE == c->page_bytes) {
            last->npages += len / PAGE;
            c->page_bytes += len;
            return 0;
        }
    }
    if (rl->n == rl->cap) {
        size_t nc = rl->cap ? rl->cap * 2 : 256;
        struct sls_img_pagerun *nr = realloc(rl->runs, nc * sizeof(*nr));
        if (!nr)
            return CERR(c, ENOMEM, "pid %d: out of memory", pid);
        rl->runs = nr;
        rl->cap = nc;
    }
    rl->runs[rl->n++] = (struct sls_img_pagerun){ addr, len / PAGE, c->page_bytes };
    c->page_bytes += len;
    return 0;
}

/* Per-page marks for the rare kinds that need a union of pagemap and SEEK_DATA. */
static void mark_range(unsigned char *marks, const struct sls_vma *v, uint64_t s, uint64_t e)
{
    if (s < v->img.start)
        s = v->img.start;
    if (e > v->img.end)
        e = v->img.end;
    for (uint64_t a = s & ~(PAGE - 1); a < e; a += PAGE)
        marks[(a - v->img.start) / PAGE] = 1;
}

/* Where the pages to take are, reported as [s, e) ranges through emit(). */
struct scan {
    int pagemap_fd;
    int use_scan_ioctl;   /* PAGEMAP_SCAN available (probed on first use) */
};

typedef int (*emit_fn)(void *arg, uint64_t s, uint64_t e);

/* Present or swapped pages of [start, end); file pages skipped when skip_file. */
static int scan_present(struct sls_capture_ctx *c, pid_t pid, struct scan *sc, uint64_t start,
                        uint64_t end, int skip_file, emit_fn emit, void *arg)
{
    if (sc->use_scan_ioctl) {
        struct page_region regs[512];
        uint64_t at = start;
        while (at < end) {
            struct pm_scan_arg a = {
                .size = sizeof(a), .start = at, .end = end,
                .vec = (uint64_t)(uintptr_t)regs, .vec_len = 512,
                .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
                .return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_FILE | PAGE_IS_PFNZERO,
            };
            long n = ioctl(sc->pagemap_fd, PAGEMAP_SCAN, &a);
            if (n < 0) {
                if ((errno == ENOTTY || errno == EINVAL) && at == start) {
                    sc->use_scan_ioctl = 0;
                    goto fallback;
                }
                return CERR(c, errno, "pid %d: PAGEMAP_SCAN of %#lx-%#lx: %s", pid,
                            (unsigned long)at, (unsigned long)end, strerror(errno));
            }
            for (long i = 0; i < n; i++) {
                if (regs[i].categories & PAGE_IS_PFNZERO)
                    continue; /* the shared zero page: restore reads zeros anyway */
                if (skip_file && (regs[i].categories & PAGE_IS_FILE))
                    continue; /* still the file's page */
                int rc = emit(arg, regs[i].start, regs[i].end);
                if (rc)
                    return rc;
            }
            /* a full vector: walk_end may be stale (seen past 512 regions), resume after the last
             * region returned; otherwise the walk got to walk_end */
            uint64_t next = n == 512 ? regs[511].end : a.walk_end;
            if (next <= at)
                break;
            at = next;
        }
        return 0;
    }
fallback:;
    enum { CHUNK = 8192 };
    uint64_t ent[CHUNK];
    uint64_t run_s = 0, run_e = 0;
    for (uint64_t a = start; a < end;) {
        size_t npg = (size_t)((end - a) / PAGE);
        if (npg > CHUNK)
            npg = CHUNK;
        ssize_t r = pread(sc->pagemap_fd, ent, npg * 8, (off_t)(a / PAGE * 8));
        if (r <= 0)
            return CERR(c, r < 0 ? errno : EIO, "pid %d: reading pagemap at %#lx: %s", pid,
                        (unsigned long)a, r < 0 ? strerror(errno) : "short read");
        npg = (size_t)r / 8;
        for (size_t i = 0; i < npg; i++, a += PAGE) {
            uint64_t e = ent[i];
            int take = (e & (PM_PRESENT | PM_SWAPPED)) && !(skip_file && (e & PM_FILE));
            if (take && run_e == a) {
                run_e = a + PAGE;
            } else if (take) {
                if (run_e > run_s) {
                    int rc = emit(arg, run_s, run_e);
                    if (rc)
                        return rc;
                }
                run_s = a;
                run_e = a + PAGE;
            }
        }
    }
    if (run_e > run_s)
        return emit(arg, run_s, run_e);
    return 0;
}

struct emit_copy_arg {
    struct sls_capture_ctx *c;
    pid_t pid;
    int readable;
    struct run_list *rl;
    int zero_gaps;      /* delta: pages between the copied ones become zero runs */
    uint64_t cursor;    /* end of what was emitted so far (zero_gaps) */
};

static int emit_copy(void *arg, uint64_t s, uint64_t e)
{
    struct emit_copy_arg *a = arg;
    if (a->zero_gaps && s > a->cursor) {
        int rc = add_zero(a->c, a->pid, a->cursor, s - a->cursor, a->rl);
        if (rc)
            return rc;
    }
    a->cursor = e;
    return add_copy(a->c, a->pid, s, e - s, a->readable, a->rl);
}

/* Delta: the present pages of [s, e) (file pages skipped when skip_file) and, unless no_zeros,
 * zero runs for the rest. A private file mapping's absent page reads as the file's page at restore,
 * which a zero run would hide, so there the gaps stay gaps. */
static int take_delta_range(struct sls_capture_ctx *c, pid_t pid, struct scan *sc, uint64_t s, uint64_t e,
                            int no_zeros, int skip_file, int readable, struct run_list *rl)
{
    struct emit_copy_arg ea = { c, pid, readable, rl, !no_zeros, s };
    int rc = scan_present(c, pid, sc, s, e, skip_file, emit_copy, &ea);
    if (!rc && !no_zeros && ea.cursor < e)
        rc = add_zero(c, pid, ea.cursor, e - ea.cursor, rl);
    return rc;
}

/* The present pages of one span, read with one scan (see plan_delta_private), in address order. */
struct present {
    uint64_t *v;   /* start, end pairs */
    size_t n, cap; /* pairs */
    size_t at;     /* first pair that may still matter (ranges come in address order) */
};

static int emit_present(void *arg, uint64_t s, uint64_t e)
{
    struct present *p = arg;
    if (p->n && p->v[2 * p->n - 1] == s) {
        p->v[2 * p->n - 1] = e;
        return 0;
    }
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 256;
        uint64_t *nv = realloc(p->v, nc * 2 * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        p->v = nv;
        p->cap = nc;
    }
    p->v[2 * p->n] = s;
    p->v[2 * p->n + 1] = e;
    p->n++;
    return 0;
}

/* take_delta_range with the present pages taken from p instead of a scan of their own */
static int take_delta_range_from(struct sls_capture_ctx *c, pid_t pid, struct present *p, uint64_t s,
                                 uint64_t e, int no_zeros, int readable, struct run_list *rl)
{
    struct emit_copy_arg ea = { c, pid, readable, rl, !no_zeros, s };
    while (p->at < p->n && p->v[2 * p->at + 1] <= s)
        p->at++;
    int rc = 0;
    for (size_t k = p->at; k < p->n && p->v[2 * k] < e && !rc; k++) {
        uint64_t a = p->v[2 * k] > s ? p->v[2 * k] : s, b = p->v[2 * k + 1] < e ? p->v[2 * k + 1] : e;
        rc = emit_copy(&ea, a, b);
    }
    if (!rc && !no_zeros && ea.cursor < e)
        rc = add_zero(c, pid, ea.cursor, e - ea.cursor, rl);
    return rc;
}

/* The first range of l that ends after addr (l sorted, disjoint). */
static size_t first_after(const struct sls_track_range_list *l, uint64_t addr)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->v[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Delta: the parts of [vs, ve) the tracker reported (dirty ∪ whole, both sorted and disjoint). */
static int plan_delta_private(struct sls_capture_ctx *c, pid_t pid, struct scan *sc, uint64_t vs,
                              uint64_t ve, int skip_file, int readable, struct run_list *rl)
{
    const struct sls_track_range_list *l[2] = { &c->delta->dirty, &c->delta->whole };
    size_t i[2] = { first_after(l[0], vs), first_after(l[1], vs) };
    /* Many ranges close together (1 % of a region written: one range every ~100 pages) are served
     * by one scan of their span instead of one scan each (~1 us an ioctl against ~3 ns a page). */
    size_t count = 0;
    uint64_t span_s = ve, span_e = vs;
    for (int k = 0; k < 2; k++) {
        for (size_t j = i[k]; j < l[k]->n && l[k]->v[j].start < ve; j++, count++) {
            uint64_t a = l[k]->v[j].start > vs ? l[k]->v[j].start : vs;
            uint64_t b = l[k]->v[j].end < ve ? l[k]->v[j].end : ve;
            span_s = a < span_s ? a : span_s;
            span_e = b > span_e ? b : span_e;
        }
    }
    struct present pr = { 0 };
    int use_pr = count >= 16 && span_e > span_s && (span_e - span_s) / PAGE <= count * 512;
    if (use_pr) {
        int rc = scan_present(c, pid, sc, span_s, span_e, skip_file, emit_present, &pr);
        if (rc) {
            free(pr.v);
            return rc == -ENOMEM ? CERR(c, ENOMEM, "pid %d: out of memory", pid) : rc;
        }
    }
    int rc = 0;
    for (;;) {
        /* next range in address order from either list that ends after vs */
        int pick = -1;
        for (int k = 0; k < 2; k++)
            if (i[k] < l[k]->n && (pick < 0 || l[k]->v[i[k]].start < l[pick]->v[i[pick]].start))
                pick = k;
        if (pick < 0 || l[pick]->v[i[pick]].start >= ve)
            break;
        const struct sls_track_range *r = &l[pick]->v[i[pick]++];
        if (c->precopy_pass && r->reason == SLS_TRACK_WHOLE_UNTRACKED)
            continue; /* reported whole again at the freeze: copying it now would be wasted */
        uint64_t s = r->start > vs ? r->start : vs, e = r->end < ve ? r->end : ve;
        /* Untracked regions (reported whole every epoch: huge reservations, regions that refuse
         * registration) get no zero runs: they are often large and mostly absent, and zero-filling
         * them every epoch would store their whole size each time. Gap: a page of such a region
         * discarded after an older epoch took it shows through. */
        int zeros = !skip_file && r->reason != SLS_TRACK_WHOLE_UNTRACKED;
        rc = use_pr ? take_delta_range_from(c, pid, &pr, s, e, !zeros, readable, rl)
                    : take_delta_range(c, pid, sc, s, e, !zeros, skip_file, readable, rl);
        if (rc)
            break;
    }
    free(pr.v);
    return rc;
}

struct emit_mark_arg {
    unsigned char *marks;
    const struct sls_vma *v;
};

static int emit_mark(void *arg, uint64_t s, uint64_t e)
{
    struct emit_mark_arg *a = arg;
    mark_range(a->marks, a->v, s, e);
    return 0;
}

/* shared anon / memfd / unlinked file: pagemap pages plus every page with data in the object */
static int plan_object_backed(struct sls_capture_ctx *c, pid_t pid, struct scan *sc,
                              const struct sls_vma *v, struct run_list *rl)
{
    size_t npages = (size_t)((v->img.end - v->img.start) / PAGE);
    unsigned char *marks = calloc(npages, 1);
    if (!marks)
        return CERR(c, ENOMEM, "pid %d: out of memory", pid);
    struct emit_mark_arg ma = { marks, v };
    int rc = scan_present(c, pid, sc, v->img.start, v->img.end, 0, emit_mark, &ma);
    char mf[96];
    snprintf(mf, sizeof(mf), "/proc/%d/map_files/%lx-%lx", pid, (unsigned long)v->img.start,
             (unsigned long)v->img.end);
    int fd = rc ? -1 : open(mf, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        struct stat st;
        uint64_t fsize = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
        uint64_t win_s = v->img.pgoff, win_e = v->img.pgoff + (v->img.end - v->img.start);
        if (win_e > fsize)
            win_e = fsize;
        off_t pos = (off_t)win_s;
        while ((uint64_t)pos < win_e) {
            off_t d = lseek(fd, pos, SEEK_DATA);
            if (d < 0)
                break;
            off_t h = lseek(fd, d, SEEK_HOLE);
            if (h < 0)
                h = (off_t)win_e;
            if ((uint64_t)d >= win_e)
                break;
            uint64_t he = (uint64_t)h < win_e ? (uint64_t)h : win_e;
            mark_range(marks, v, v->img.start + ((uint64_t)d - v->img.pgoff),
                       v->img.start + (he - v->img.pgoff));
            pos = h;
        }
        close(fd);
    }
    int readable = (v->img.prot & PROT_READ) != 0;
    for (size_t i = 0; i < npages && !rc;) {
        if (!marks[i]) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < npages && marks[j])
            j++;
        rc = add_copy(c, pid, v->img.start + i * PAGE, (j - i) * PAGE, readable, rl);
        i = j;
    }
    free(marks);
    return rc;
}

/* Regions whose pages a delta takes from the tracker's report (the others are taken whole). */
static int delta_planned(const struct sls_img_vma *m)
{
    return !(m->flags & SLS_VMA_SHARED) && (m->kind == SLS_VMA_FILE || m->kind == SLS_VMA_ANON ||
                                            m->kind == SLS_VMA_HEAP || m->kind == SLS_VMA_STACK);
}

static int open_scan(struct sls_capture_ctx *c, pid_t pid, struct scan *sc)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
    *sc = (struct scan){ .pagemap_fd = open(path, O_RDONLY | O_CLOEXEC), .use_scan_ioctl = 1 };
    if (sc->pagemap_fd < 0)
        return CERR(c, errno, "pid %d: cannot open %s: %s", pid, path, strerror(errno));
    return 0;
}

int sls_plan_precopy(struct sls_capture_ctx *c, struct sls_preread *pre)
{
    struct scan sc;
    int rc = open_scan(c, pre->pid, &sc);
    if (rc)
        return rc;
    struct run_list rl = { 0 };
    const struct sls_track_delta *saved = c->delta;
    c->delta = &pre->d1;
    c->precopy_pass = 1;
    for (size_t i = 0; i < pre->nvmas && !rc; i++) {
        const struct sls_img_vma *m = &pre->vmas[i].img;
        if (delta_planned(m))
            rc = plan_delta_private(c, pre->pid, &sc, m->start, m->end, m->kind == SLS_VMA_FILE,
                                    (m->prot & PROT_READ) != 0, &rl);
    }
    c->precopy_pass = 0;
    c->delta = saved;
    close(sc.pagemap_fd);
    if (rc) {
        free(rl.runs);
        return rc;
    }
    pre->runs = rl.runs;
    pre->nruns = rl.n;
    pre->runs_cap = rl.cap;
    return 0;
}

int sls_capture_memory(struct sls_capture_ctx *c, struct sls_frozen_proc *p, struct sls_imgbuf *b)
{
    struct sls_vma *v;
    size_t n;
    uint64_t t = sls_now_ns(CLOCK_MONOTONIC);
    struct sls_preread *pre = sls_preread_of(c, p->pid);
    int rc = 0;
    int borrowed = pre && pre->vmas && pre->maps_valid;
    if (borrowed) {
        v = pre->vmas; /* the early read is the map at the freeze (pre keeps it: maps cache) */
        n = pre->nvmas;
        c->ph.maps_reused++;
    } else {
        rc = sls_read_vmas(c, p->pid, &v, &n, NULL);
    }
    sls_phase_mark(c, SLS_PH_MAPS, t); /* its own phase; capture.c counts the rest as memory */
    if (rc)
        return rc;
    struct scan sc;
    unsigned char *keep = calloc(n ? n : 1, 1);
    rc = keep ? open_scan(c, p->pid, &sc) : CERR(c, ENOMEM, "pid %d: out of memory", p->pid);
    if (rc) {
        free(keep);
        if (!borrowed)
            sls_free_vmas(v, n);
        return rc;
    }
    /* a pre-copied process: what could not be read while it ran is taken now, with d2 */
    const struct sls_track_delta *saved = c->delta;
    int merge = c->delta && pre && pre->precopied;
    struct sls_track_delta both = { 0 };
    if (merge && pre->failed.n) {
        rc = sls_delta_with_dirty(&both, c->delta, &pre->failed);
        if (rc)
            rc = CERR(c, -rc, "pid %d: out of memory", p->pid);
        c->delta = &both;
    }
    struct run_list rl = { 0 };
    for (size_t i = 0; i < n && !rc; i++) {
        struct sls_img_vma *m = &v[i].img;
        sls_imgbuf_entry(b, SLS_TAG_VMA, m, sizeof(*m), v[i].path, m->path_len);
        int shared = (m->flags & SLS_VMA_SHARED) != 0;
        int readable = (m->prot & PROT_READ) != 0;
        struct emit_copy_arg ea = { c, p->pid, readable, &rl, 0, 0 };
        if (c->delta && delta_planned(m)) {
            keep[i] = 1;
            rc = plan_delta_private(c, p->pid, &sc, m->start, m->end, m->kind == SLS_VMA_FILE,
                                    readable, &rl);
            continue;
        }
        switch (m->kind) {
        case SLS_VMA_VDSO:
        case SLS_VMA_VVAR:
        case SLS_VMA_VVAR_VCLOCK:
        case SLS_VMA_VSYSCALL:
            break; /* provided by the kernel of the restoring machine */
        case SLS_VMA_FILE:
            if (!shared)
                rc = scan_present(c, p->pid, &sc, m->start, m->end, 1, emit_copy, &ea);
            break;
        case SLS_VMA_MEMFD:
        case SLS_VMA_DELETED:
            rc = plan_object_backed(c, p->pid, &sc, &v[i], &rl);
            break;
        default: /* anonymous, heap, stack */
            if (shared)
                rc = plan_object_backed(c, p->pid, &sc, &v[i], &rl);
            else
                rc = scan_present(c, p->pid, &sc, m->start, m->end, 0, emit_copy, &ea);
            break;
        }
    }
    if (!rc && merge)
        rc = sls_precopy_merge(c, pre, v, keep, n, c->delta, &rl.runs, &rl.n, &rl.cap);
    c->delta = saved;
    sls_track_delta_free(&both);
    close(sc.pagemap_fd);
    free(keep);
    if (!borrowed)
        sls_free_vmas(v, n);
    if (!rc && rl.n)
        sls_imgbuf_entry(b, SLS_TAG_PAGERUN, rl.runs, rl.n * sizeof(rl.runs[0]), NULL, 0);
    free(rl.runs);
    return rc;
}

/* Reads [addr, addr+len) of pid through /proc/PID/mem (works on PROT_NONE pages too). */
static int read_mem(struct sls_capture_ctx *c, pid_t pid, int *memfd, uint64_t addr, uint64_t len,
                    unsigned char *dst)
{
    if (*memfd < 0) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/mem", pid);
        *memfd = open(path, O_RDONLY | O_CLOEXEC);
        if (*memfd < 0)
            return CERR(c, errno, "pid %d: cannot open %s: %s", pid, path, strerror(errno));
    }
    while (len) {
        ssize_t r = pread(*memfd, dst, len, (off_t)addr);
        if (r <= 0)
            return CERR(c, r < 0 ? errno : EIO, "pid %d: reading memory at %#lx: %s", pid,
                        (unsigned long)addr, r < 0 ? strerror(errno) : "nothing there");
        addr += (uint64_t)r;
        dst += r;
        len -= (uint64_t)r;
    }
    return 0;
}

static int grow_page_file(struct sls_capture_ctx *c, uint64_t len);

static uint64_t rollup_field(const char *txt, const char *key)
{
    const char *p = strstr(txt, key);
    return p ? strtoull(p + strlen(key), NULL, 10) * 1024 : 0;
}

/* Pages a running process would give us now: anonymous (incl. COW copies), swapped, dirty shared. */
static uint64_t estimate_pages(pid_t pid)
{
    char p[64], *txt;
    snprintf(p, sizeof(p), "/proc/%d/smaps_rollup", pid);
    if (sls_read_file(p, &txt) < 0)
        return 0; /* a wrong pid is reported by the freeze */
    uint64_t n = rollup_field(txt, "\nAnonymous:") + rollup_field(txt, "\nSwap:") +
                 rollup_field(txt, "\nShared_Dirty:");
    free(txt);
    return n;
}

/* The estimate of pid and, when recursive, of its descendants as they are now (best effort: the
 * freeze finds the real set; depth-limited against pathological trees). */
static uint64_t estimate_tree(pid_t pid, int recursive, int depth)
{
    uint64_t n = estimate_pages(pid);
    if (!recursive || depth > 16)
        return n;
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%d/task", pid);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[384], *txt;
        snprintf(path, sizeof(path), "%s/%s/children", dir, e->d_name);
        if (sls_read_file(path, &txt) < 0)
            continue;
        char *s = txt, *end;
        for (long child; (child = strtol(s, &end, 10)), end != s; s = end)
            n += estimate_tree((pid_t)child, 1, depth + 1);
        free(txt);
    }
    if (d)
        closedir(d);
    return n;
}

int sls_pagefile_open(struct sls_capture_ctx *c, const char *path)
{
    c->page_path = path;
    c->page_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (c->page_fd < 0)
        return CERR(c, errno, "page file %s: %s", path, strerror(errno));
    return 0;
}

int sls_pagefile_reserve(struct sls_capture_ctx *c, const int32_t *pids, int npids, int recursive, int delta)
{
    /* a delta when every process known now has a tracker: room for what the stop will copy */
    int tracked = delta && c->npre > 0;
    uint64_t last = 0;
    for (size_t i = 0; i < c->npre && tracked; i++) {
        tracked = c->pre[i].t != NULL;
        last += c->pre[i].last_bytes;
    }
    if (tracked) {
        /* what the last stop copied (pre-copied: what was written during its pre-copy, a hot set
         * rewritten all the time; else the whole delta) and an eighth more: pre-faulting costs
         * about as much as the copy, here for every capture. Short: the file grows during the
         * stop, slower but still correct. */
        uint64_t room = last + last / 8;
        return grow_page_file(c, c->page_bytes + room + (1u << 20));
    }
    uint64_t estimate = 0;
    for (int i = 0; i < npids; i++)
        estimate += estimate_tree(pids[i], recursive, 0);
    if (estimate == 0)
        return 0;
    estimate += estimate / 8 + (2u << 20); /* slack for what is written until the freeze */
    return grow_page_file(c, c->page_bytes + estimate);
}

/* Makes the page file and its mapping at least len bytes, blocks reserved and pre-faulted. */
static int grow_page_file(struct sls_capture_ctx *c, uint64_t len)
{
    if (len <= c->page_map_len)
        return 0;
    if (ftruncate(c->page_fd, (off_t)len) != 0)
        return CERR(c, errno, "page file %s: cannot size it to %lu bytes: %s", c->page_path,
                    (unsigned long)len, strerror(errno));
    /* reserve the blocks now, so a full disk fails here and not as SIGBUS while copying */
    if (fallocate(c->page_fd, 0, (off_t)c->page_map_len, (off_t)(len - c->page_map_len)) != 0 &&
        errno != EOPNOTSUPP)
        return CERR(c, errno, "page file %s: cannot allocate %lu bytes: %s", c->page_path,
                    (unsigned long)len, strerror(errno));
    unsigned char *m = c->page_map
        ? mremap(c->page_map, c->page_map_len, len, MREMAP_MAYMOVE)
        : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c->page_fd, 0);
    if (m == MAP_FAILED)
        return CERR(c, errno, "page file %s: mapping %lu bytes: %s", c->page_path, (unsigned long)len,
                    strerror(errno));
    /* pre-fault: process_vm_readv into fresh pages is several times slower */
    madvise(m + c->page_map_len, len - c->page_map_len, MADV_POPULATE_WRITE);
    c->page_map = m;
    c->page_map_len = len;
    return 0;
}

int sls_pagefile_finish(struct sls_capture_ctx *c)
{
    int rc = 0;
    if (c->page_map)
        munmap(c->page_map, c->page_map_len);
    c->page_map = NULL;
    c->page_map_len = 0;
    if (c->page_fd >= 0) {
        if (ftruncate(c->page_fd, (off_t)c->page_bytes) != 0)
            rc = CERR(c, errno, "page file %s: %s", c->page_path, strerror(errno));
        close(c->page_fd);
    }
    c->page_fd = -1;
    return rc;
}

int sls_copy_pages(struct sls_capture_ctx *c, int running)
{
    if (c->copy_end == 0 || c->copies_done == c->ncopies)
        return 0;
    int rc = grow_page_file(c, c->copy_end);
    if (rc)
        return rc;
    unsigned char *dst = c->page_map;
    int memfd = -1;
    pid_t mem_pid = 0;
    struct iovec remote[IOV_MAX];
    for (size_t i = c->copies_done; i < c->ncopies && !rc;) {
        struct sls_page_copy *first = &c->copies[i];
        if (first->shadow) {
            i++; /* shadow.c copies it after the thaw */
            continue;
        }
        if (memfd >= 0 && mem_pid != first->pid) {
            close(memfd);
            memfd = -1;
        }
        mem_pid = first->pid;
        if (!first->readable) {
            rc = read_mem(c, first->pid, &memfd, first->addr, first->len, dst + first->offset);
            if (rc && running) {
                first->failed = 1; /* unmapped meanwhile, most likely: the freeze looks again */
                rc = 0;
            }
            i++;
            continue;
        }
        /* one batch: consecutive readable runs of the same process whose page file offsets follow
         * each other (always so in a complete capture), so one local iovec receives them all */
        size_t k = 0;
        uint64_t total = 0;
        while (i + k < c->ncopies && k < IOV_MAX && c->copies[i + k].pid == first->pid &&
               c->copies[i + k].readable && !c->copies[i + k].shadow && total < (1ull << 30) &&
               c->copies[i + k].offset == first->offset + total /* a delta's zero runs leave gaps */) {
            remote[k].iov_base = (void *)(uintptr_t)c->copies[i + k].addr;
            remote[k].iov_len = c->copies[i + k].len;
            total += c->copies[i + k].len;
            k++;
        }
        struct iovec local = { dst + first->offset, total };
        ssize_t got = process_vm_readv(first->pid, &local, 1, remote, k, 0);
        if (got < 0)
            got = 0;
        if ((uint64_t)got < total) {
            /* finish the batch run by run through /proc/PID/mem from the first short one */
            uint64_t done = 0;
            for (size_t j = 0; j < k && !rc; j++) {
                struct sls_page_copy *cp = &c->copies[i + j];
                if (done + cp->len <= (uint64_t)got) {
                    done += cp->len;
                    continue;
                }
                uint64_t skip = (uint64_t)got > done ? (uint64_t)got - done : 0;
                rc = read_mem(c, cp->pid, &memfd, cp->addr + skip, cp->len - skip,
                              dst + cp->offset + skip);
                if (rc && running) {
                    cp->failed = 1;
                    rc = 0;
                }
                done += cp->len;
            }
        }
        i += k;
    }
    if (memfd >= 0)
        close(memfd);
    if (running && c->err && c->errlen)
        *c->err = 0; /* a failed pre-copy read is no error of the capture */
    if (!rc)
        c->copies_done = c->ncopies;
    return rc;
}
