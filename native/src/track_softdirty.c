/*
 * track_softdirty.c — dirty tracking by the kernel's soft-dirty bits (CONFIG_MEM_SOFT_DIRTY).
 *
 * Writing "4" to /proc/PID/clear_refs clears every soft-dirty bit of the process (and
 * write-protects its pages so the next write sets the bit again); bit 55 of a /proc/PID/pagemap
 * entry says the page was written since. New VMAs carry VM_SOFTDIRTY, so all their pages read as
 * soft-dirty until the next clear — the frame reports them whole anyway.
 *
 * Discarding a page (MADV_DONTNEED) clears its pte and with it the soft-dirty bit, so the tracker
 * also keeps which pages existed at the last collect: a page that existed then and not now is
 * reported (it now reads as zeros).
 *
 * A collect reads the bits of every VMA, then clears them: two steps, so the target must be frozen
 * (a write between them would be lost); the frame refuses SLS_TRACK_COLLECT_RUNNING for this mode.
 */
#include "track_int.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHUNK_PAGES 4096 /* pagemap entries read per pread: 32 KiB */

int trk_softdirty_available(void)
{
    if (access("/proc/self/clear_refs", W_OK) != 0)
        return 0;
    unsigned char *pg = mmap(NULL, TRK_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pg == MAP_FAILED)
        return 0;
    *(volatile unsigned char *)pg = 1; /* a fresh, written page is soft-dirty where the kernel tracks it */
    uint64_t e = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (pread(fd, &e, sizeof(e), (off_t)((uintptr_t)pg / TRK_PAGE * sizeof(e))) != sizeof(e))
            e = 0;
        close(fd);
    }
    munmap(pg, TRK_PAGE);
    return (e & PM_PRESENT) && (e & PM_SOFTDIRTY);
}

int trk_softdirty_open(struct sls_tracker *t, char *err, size_t errlen)
{
    (void)t;
    (void)err;
    (void)errlen;
    return 0; /* the open's first collect clears the bits */
}

static int bit(const uint64_t *bm, size_t i)
{
    return (int)((bm[i / 64] >> (i % 64)) & 1);
}

int trk_softdirty_vma(struct trk_collect *c, const struct trk_vma *v)
{
    struct sls_tracker *t = c->t;
    const struct trk_region *anchor = trk_anchor(&t->base, v);
    struct trk_watch w;
    int rc = trk_report_begin(c, v, anchor, &w);
    size_t npages = (v->end - v->start) / TRK_PAGE;
    uint64_t *present = calloc((npages + 63) / 64, sizeof(uint64_t));
    uint64_t *pm = malloc(CHUNK_PAGES * sizeof(*pm));
    if (!rc && (!present || !pm))
        rc = sls_errf(c->err, c->errlen, ENOMEM, "pid %d: out of memory", t->pid);
    /* the whole VMA is read (not only the watched part): the next collect needs to know which of
     * its pages exist now */
    for (uint64_t at = v->start; !rc && at < v->end;) {
        size_t n = (v->end - at) / TRK_PAGE;
        if (n > CHUNK_PAGES)
            n = CHUNK_PAGES;
        rc = trk_pagemap_read(t, at, n, pm, c->err, c->errlen);
        for (size_t i = 0; !rc && i < n; i++) {
            uint64_t a = at + i * TRK_PAGE;
            size_t idx = (a - v->start) / TRK_PAGE;
            int now = (pm[i] & (PM_PRESENT | PM_SWAPPED)) != 0;
            if (now)
                present[idx / 64] |= 1ull << (idx % 64);
            if (a < w.lo || a >= w.hi)
                continue; /* reported whole already */
            int was = anchor->present && bit(anchor->present, (a - anchor->start) / TRK_PAGE);
            if ((pm[i] & PM_SOFTDIRTY) || (was && !now))
                rc = trk_report_dirty(c, &w, a, a + TRK_PAGE);
        }
        at += n * TRK_PAGE;
    }
    free(pm);
    if (!rc)
        rc = trk_report_end(c, v, &w);
    if (!rc && trk_base_add(&c->next, v->start, v->end, NULL))
        rc = sls_errf(c->err, c->errlen, ENOMEM, "pid %d: out of memory", t->pid);
    if (rc) {
        free(present);
        return rc;
    }
    c->next.v[c->next.n - 1].present = present;
    return 0;
}

int trk_softdirty_finish(struct trk_collect *c)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/clear_refs", c->t->pid);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "4", 1) != 1) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return sls_errf(c->err, c->errlen, e, "pid %d: clearing soft-dirty bits (%s): %s", c->t->pid,
                        path, strerror(e));
    }
    close(fd);
    return 0;
}
