/*
 * precopy.c — what sls_capture reads of the processes before it freezes them, so the stop only
 * checks it and takes the rest (capture_int.h, struct sls_preread):
 *
 *   memory map   smaps is read early; at the freeze /proc/PID/maps must show the same lines, else
 *                smaps is read again there (maps.c).
 *   pre-copy     (delta captures) the process's tracker is collected while it runs (d1) and d1's
 *                pages are copied into the page file; at the freeze the collect (d2) reports only
 *                what was written since, and only that is copied in the stop. The epoch is d1's runs
 *                minus d2 (d2 wins: a page written during the pre-copy may have been copied torn),
 *                clipped to the regions the freeze finds, plus d2's runs. d1 pages are exact at the
 *                freeze: any write after d1's collect re-marks the page (uffd: the collect re-protects
 *                atomically; digest: sls_track_note_copied hashes exactly the bytes copied).
 *
 * Which trackers pre-copy: SLS_PRECOPY unset or "auto" — uffd ones (a running collect of 64 MiB costs
 * ~0.1 ms); "all" — digest ones too (each epoch then hashes every page twice, once running and once
 * stopped, to save only the copy of d1 from the stop); "0" — none. Soft-dirty cannot collect while the
 * process runs. The pages the last stop had to copy (written during its pre-copy: the hot set) are
 * not pre-copied, the stop takes them (SLS_PRECOPY_HOT=0: pre-copy them too, for tests). Nothing
 * here fails a capture: whatever cannot be read early is read at the freeze.
 */
#include "capture_int.h"
#include "engine_tracking.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- range lists (sorted, disjoint) ---------------------------------------------------------- */

static int range_push(struct sls_track_range_list *l, uint64_t s, uint64_t e, uint32_t reason)
{
    if (s >= e)
        return 0;
    if (l->n && l->v[l->n - 1].end >= s && l->v[l->n - 1].reason == reason) {
        if (e > l->v[l->n - 1].end)
            l->v[l->n - 1].end = e;
        return 0;
    }
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        struct sls_track_range *nv = realloc(l->v, nc * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = (struct sls_track_range){ s, e, reason };
    return 0;
}

/* out = (a ∪ b) \ minus, as dirty ranges (reason 0). */
static int union_minus(struct sls_track_range_list *out, const struct sls_track_range_list *a,
                       const struct sls_track_range_list *b, const struct sls_track_range_list *minus)
{
    struct sls_track_range_list u = { 0 };
    size_t i = 0, j = 0;
    int rc = 0;
    while (!rc && (i < a->n || j < b->n)) {
        const struct sls_track_range *r =
            j >= b->n || (i < a->n && a->v[i].start <= b->v[j].start) ? &a->v[i++] : &b->v[j++];
        rc = range_push(&u, r->start, r->end, 0);
    }
    size_t k = 0;
    for (size_t x = 0; x < u.n && !rc; x++) {
        uint64_t s = u.v[x].start, e = u.v[x].end;
        while (k < minus->n && minus->v[k].end <= s)
            k++;
        for (size_t m = k; m < minus->n && minus->v[m].start < e && !rc; m++) {
            if (minus->v[m].start > s)
                rc = range_push(out, s, minus->v[m].start, 0);
            if (minus->v[m].end > s)
                s = minus->v[m].end;
        }
        if (!rc && s < e)
            rc = range_push(out, s, e, 0);
    }
    free(u.v);
    return rc;
}

/* out = a ∩ b (both sorted, disjoint), as dirty ranges. */
static int intersect(struct sls_track_range_list *out, const struct sls_track_range_list *a,
                     const struct sls_track_range_list *b)
{
    size_t i = 0, j = 0;
    int rc = 0;
    while (!rc && i < a->n && j < b->n) {
        uint64_t s = a->v[i].start > b->v[j].start ? a->v[i].start : b->v[j].start;
        uint64_t e = a->v[i].end < b->v[j].end ? a->v[i].end : b->v[j].end;
        if (s < e)
            rc = range_push(out, s, e, 0);
        if (a->v[i].end < b->v[j].end)
            i++;
        else
            j++;
    }
    return rc;
}

int sls_delta_with_dirty(struct sls_track_delta *out, const struct sls_track_delta *d,
                         const struct sls_track_range_list *extra)
{
    memset(out, 0, sizeof(*out));
    int rc = union_minus(&out->dirty, &d->dirty, extra, &d->whole);
    for (size_t i = 0; i < d->whole.n && !rc; i++)
        rc = range_push(&out->whole, d->whole.v[i].start, d->whole.v[i].end, d->whole.v[i].reason);
    for (size_t i = 0; i < out->dirty.n; i++)
        out->dirty_pages += (out->dirty.v[i].end - out->dirty.v[i].start) / 4096;
    out->whole_bytes = d->whole_bytes;
    if (rc)
        sls_track_delta_free(out);
    return rc;
}

/* ---- page runs ------------------------------------------------------------------------------- */

struct runs {
    struct sls_img_pagerun *v;
    size_t n, cap;
};

static int run_push(struct runs *r, uint64_t addr, uint64_t end, uint64_t offset)
{
    if (addr >= end)
        return 0;
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 64;
        struct sls_img_pagerun *nv = realloc(r->v, nc * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        r->v = nv;
        r->cap = nc;
    }
    r->v[r->n++] = (struct sls_img_pagerun){ addr, (end - addr) / 4096, offset };
    return 0;
}

/* in \ l into out (l sorted, disjoint); each piece keeps its page file offset. */
static int runs_minus(struct runs *out, const struct runs *in, const struct sls_track_range_list *l)
{
    size_t k = 0;
    for (size_t i = 0; i < in->n; i++) {
        uint64_t a = in->v[i].addr, e = a + in->v[i].npages * 4096, off = in->v[i].offset, s = a;
        while (k < l->n && l->v[k].end <= s)
            k++;
        for (size_t m = k; m < l->n && l->v[m].start < e; m++) {
            if (l->v[m].start > s && run_push(out, s, l->v[m].start, off + (s - a)))
                return -ENOMEM;
            if (l->v[m].end > s)
                s = l->v[m].end;
        }
        if (s < e && run_push(out, s, e, off + (s - a)))
            return -ENOMEM;
    }
    return 0;
}

int sls_precopy_merge(struct sls_capture_ctx *c, struct sls_preread *pre, const struct sls_vma *vmas,
                      const unsigned char *keep, size_t n, const struct sls_track_delta *d2,
                      struct sls_img_pagerun **runs, size_t *nruns, size_t *cap)
{
    /* What the pre-copied runs must not cover: d2 (it wins; d2 is the delta the freeze planned
     * with, what failed early included) and everything outside the regions at the freeze whose
     * pages the delta took from the tracker. One list, so the (many) runs are walked once. */
    struct sls_track_range_list none = { 0 }, gaps = { 0 }, d2all = { 0 }, cover = { 0 };
    uint64_t at = 0;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!keep[i])
            continue;
        if (vmas[i].img.start > at)
            rc = range_push(&gaps, at, vmas[i].img.start, 0);
        if (vmas[i].img.end > at)
            at = vmas[i].img.end;
    }
    if (!rc)
        rc = range_push(&gaps, at, UINT64_MAX & ~4095ull, 0);
    if (!rc)
        rc = union_minus(&d2all, &d2->dirty, &d2->whole, &none);
    if (!rc)
        rc = union_minus(&cover, &d2all, &gaps, &none);
    struct runs a = { pre->runs, pre->nruns, pre->runs_cap }, b = { 0 }, m = { 0 };
    b.cap = a.n + cover.n + 1;
    b.v = rc ? NULL : malloc(b.cap * sizeof(*b.v));
    if (!rc && !b.v)
        rc = -ENOMEM;
    if (!rc)
        rc = runs_minus(&b, &a, &cover);
    /* merge with the freeze's runs, both in address order */
    m.cap = *nruns + b.n + 1;
    m.v = rc ? NULL : malloc(m.cap * sizeof(*m.v));
    if (!rc && !m.v)
        rc = -ENOMEM;
    size_t i = 0, j = 0;
    while (!rc && (i < *nruns || j < b.n)) {
        const struct sls_img_pagerun *r =
            j >= b.n || (i < *nruns && (*runs)[i].addr <= b.v[j].addr) ? &(*runs)[i++] : &b.v[j++];
        m.v[m.n++] = *r;
    }
    free(b.v);
    free(gaps.v);
    free(d2all.v);
    free(cover.v);
    if (rc) {
        free(m.v);
        return CERR(c, ENOMEM, "pid %d: out of memory", pre->pid);
    }
    free(*runs);
    *runs = m.v;
    *nruns = m.n;
    *cap = m.cap;
    return 0;
}

/* ---- before the freeze ---------------------------------------------------------------------- */

static int precopy_allowed(int mode)
{
    const char *p = getenv("SLS_PRECOPY");
    if (p && strcmp(p, "0") == 0)
        return 0;
    if (p && strcmp(p, "all") == 0)
        return mode == SLS_TRACK_UFFD || mode == SLS_TRACK_DIGEST;
    return mode == SLS_TRACK_UFFD;
}

struct sls_preread *sls_preread_of(struct sls_capture_ctx *c, pid_t pid)
{
    for (size_t i = 0; i < c->npre; i++)
        if (c->pre[i].pid == pid)
            return &c->pre[i];
    return NULL;
}

static struct sls_preread *add_pre(struct sls_capture_ctx *c, pid_t pid, size_t *cap)
{
    struct sls_preread *p = sls_preread_of(c, pid);
    if (p)
        return NULL; /* listed already */
    if (c->npre == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        struct sls_preread *np = realloc(c->pre, nc * sizeof(*np));
        if (!np)
            return NULL;
        c->pre = np;
        *cap = nc;
    }
    p = &c->pre[c->npre++];
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    return p;
}

/* pid and (recursive) its descendants as they are now; the freeze finds the real set. */
static void list_tree(struct sls_capture_ctx *c, pid_t pid, int recursive, int depth, size_t *cap)
{
    if (!add_pre(c, pid, cap) || !recursive || depth > 16)
        return;
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
            list_tree(c, (pid_t)child, 1, depth + 1, cap);
        free(txt);
    }
    if (d)
        closedir(d);
}

/* Field 22 of /proc/PID/stat: when the process started (tells a reused pid from the process). */
static uint64_t process_start(pid_t pid)
{
    char path[64], *txt;
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if (sls_read_file(path, &txt) < 0)
        return 0;
    char *p = strrchr(txt, ')');
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    uint64_t v = p ? strtoull(p + 1, NULL, 10) : 0;
    free(txt);
    return v;
}

/* The map of p: the last delta's (cached by the engine) if /proc/PID/maps shows the same lines and
 * it is young enough, else smaps read now. Left NULL if smaps refuses something: the freeze reads
 * it again and says so. Gap of the cache: a VmFlags-only change of a whole region (maps.c) is seen
 * up to SLS_MAPS_CACHE_NS late instead of a few ms. */
static void read_map(struct sls_capture_ctx *c, struct sls_preread *p, int delta)
{
    uint64_t now = sls_now_ns(CLOCK_MONOTONIC), read_ns;
    p->process_start = delta ? process_start(p->pid) : 0;
    char path[64], *text = NULL, *ctext;
    struct sls_vma *cv;
    size_t cn;
    snprintf(path, sizeof(path), "/proc/%d/maps", p->pid);
    if (p->process_start && sls_maps_cache_take(p->pid, p->process_start, &read_ns, &ctext, &cv, &cn)) {
        if (now - read_ns < SLS_MAPS_CACHE_NS && sls_read_file(path, &text) >= 0 && strcmp(text, ctext) == 0) {
            p->vmas = cv;
            p->nvmas = cn;
            p->maps_text = ctext;
            p->maps_read_ns = read_ns;
            free(text);
            return;
        }
        free(text);
        free(ctext);
        sls_free_vmas(cv, cn);
    }
    p->maps_read_ns = now;
    if (sls_read_vmas(c, p->pid, &p->vmas, &p->nvmas, &p->maps_text) != 0) {
        p->vmas = NULL;
        p->nvmas = 0;
        p->maps_text = NULL;
    }
}

/* The pages of d1 the last stop had to copy anyway (its hot set) are left to this stop: they go to
 * p->failed, which the freeze takes with d2, instead of being copied twice. */
static void leave_hot_set(struct sls_preread *p)
{
    struct sls_track_range_list hot = { 0 }, none = { 0 }, rest = { 0 };
    if (!p->process_start || !sls_hot_take(p->pid, p->process_start, &hot))
        return;
    const char *env = getenv("SLS_PRECOPY_HOT");
    if (env && strcmp(env, "0") == 0) {
        free(hot.v); /* told to pre-copy the hot set too (tests racing the pre-copy) */
        return;
    }
    if (intersect(&p->failed, &p->d1.dirty, &hot) == 0 && p->failed.n &&
        union_minus(&rest, &p->d1.dirty, &none, &hot) == 0) {
        free(p->d1.dirty.v);
        p->d1.dirty = rest;
        p->d1.dirty_pages = 0;
        for (size_t i = 0; i < rest.n; i++)
            p->d1.dirty_pages += (rest.v[i].end - rest.v[i].start) / 4096;
    } else {
        free(rest.v);
        p->failed.n = 0; /* nothing hot in d1, or out of memory: copy d1 whole as usual */
    }
    free(hot.v);
}

void sls_precopy_keep_hot_set(struct sls_capture_ctx *c, pid_t pid, const struct sls_track_delta *d2)
{
    struct sls_preread *p = sls_preread_of(c, pid);
    if (!p || !p->precopied || !p->process_start)
        return;
    struct sls_track_range_list hot = { 0 }, none = { 0 };
    if (union_minus(&hot, &d2->dirty, &none, &none) == 0)
        sls_hot_put(pid, p->process_start, &hot);
    free(hot.v);
}

/* d1's ranges become "take them at the freeze" (the pre-copy cannot hold them). If even that list
 * cannot be built, the tracker forgets its baseline: the freeze's collect then reports everything. */
static void precopy_failed_whole(struct sls_preread *p)
{
    struct sls_track_range_list none = { 0 }, d1 = { 0 }, all = { 0 };
    p->nruns = 0;
    /* d1 (what is left of it after the hot set went to failed) plus failed */
    if (union_minus(&d1, &p->d1.dirty, &p->d1.whole, &none) != 0 ||
        union_minus(&all, &d1, &p->failed, &none) != 0) {
        free(all.v);
        sls_track_forget(p->t);
        p->precopied = 0;
    } else {
        free(p->failed.v);
        p->failed = all;
    }
    free(d1.v);
}

void sls_preread_all(struct sls_capture_ctx *c, const int32_t *pids, int npids, int recursive,
                     int delta)
{
    size_t cap = 0;
    for (int i = 0; i < npids; i++)
        if (pids[i] > 0)
            list_tree(c, pids[i], recursive, 0, &cap);
    int any = 0;
    for (size_t i = 0; i < c->npre; i++) {
        struct sls_preread *p = &c->pre[i];
        char why[256];
        uint64_t t = sls_now_ns(CLOCK_MONOTONIC);
        int32_t pid32 = p->pid;
        if (delta)
            sls_trackers_last_bytes(&pid32, 1, &p->last_bytes);
        if (delta && (p->t = sls_trackers_take(p->pid)) && precopy_allowed(sls_track_mode(p->t)) &&
            sls_track_collect(p->t, &p->d1, SLS_TRACK_COLLECT_RUNNING, why, sizeof(why)) == 0)
            p->precopied = 1; /* from here on d1 must reach the epoch (or the tracker forget it) */
        t = sls_phase_mark(c, SLS_PH_PRECOPY, t);
        /* after the collect: registering new regions may have merged VMAs */
        read_map(c, p, delta);
        t = sls_phase_mark(c, SLS_PH_PREREAD, t);
        if (p->precopied)
            leave_hot_set(p);
        if (p->precopied && (!p->vmas || sls_plan_precopy(c, p) != 0))
            precopy_failed_whole(p);
        sls_phase_mark(c, SLS_PH_PRECOPY, t);
        any |= p->precopied;
        if (c->err && c->errlen)
            *c->err = 0;
    }
    if (!any)
        return;
    uint64_t t = sls_now_ns(CLOCK_MONOTONIC);
    if (sls_copy_pages(c, 1) != 0) {
        for (size_t i = 0; i < c->npre; i++)
            if (c->pre[i].precopied)
                precopy_failed_whole(&c->pre[i]);
        c->copies_done = c->ncopies;
        if (c->err && c->errlen)
            *c->err = 0;
    }
    for (size_t k = 0; k < c->ncopies; k++) {
        const struct sls_page_copy *cp = &c->copies[k];
        struct sls_preread *p = sls_preread_of(c, cp->pid);
        if (!p || !p->precopied || !p->nruns)
            continue;
        if (cp->failed) {
            if (range_push(&p->copyfail, cp->addr, cp->addr + cp->len, 0) != 0)
                precopy_failed_whole(p);
        } else {
            sls_track_note_copied(p->t, cp->addr, c->page_map + cp->offset, cp->len);
        }
    }
    for (size_t i = 0; i < c->npre; i++) {
        struct sls_preread *p = &c->pre[i];
        struct sls_track_range_list merged = { 0 }, none = { 0 };
        if (!p->precopied || !p->copyfail.n)
            continue;
        if (union_minus(&merged, &p->failed, &p->copyfail, &none) != 0) {
            free(merged.v);
            precopy_failed_whole(p);
            continue;
        }
        free(p->failed.v);
        p->failed = merged;
    }
    c->ph.precopy_bytes = c->copy_end;
    sls_phase_mark(c, SLS_PH_PRECOPY, t);
}

void sls_preread_free(struct sls_capture_ctx *c, int keep_maps)
{
    for (size_t i = 0; i < c->npre; i++) {
        struct sls_preread *p = &c->pre[i];
        if (p->t) {
            /* not handed to the freeze (the capture failed first, or the process is gone): its
             * running collect's pages are in no stored epoch */
            sls_track_forget(p->t);
            sls_trackers_put(p->t);
        }
        if (keep_maps && p->maps_valid && p->vmas && p->process_start) {
            sls_maps_cache_put(p->pid, p->process_start, p->maps_read_ns, p->maps_text, p->vmas, p->nvmas);
        } else {
            sls_free_vmas(p->vmas, p->nvmas);
            free(p->maps_text);
        }
        sls_track_delta_free(&p->d1);
        free(p->runs);
        free(p->failed.v);
        free(p->copyfail.v);
    }
    free(c->pre);
    c->pre = NULL;
    c->npre = 0;
}
