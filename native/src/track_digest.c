/*
 * track_digest.c — dirty tracking by page digests, the mechanism that works on every kernel.
 *
 * The baseline holds a 64-bit hash per page of every private region. A collect reads all present
 * (or swapped) pages — pagemap for which exist, process_vm_readv in batches of up to IOV_MAX runs
 * into one pre-faulted buffer, /proc/PID/mem for unreadable regions — hashes them and reports every
 * page whose hash changed. An absent page hashes as a page of zeros, so a discarded page with data
 * is reported (it now reads as zeros) and a discarded zero page is not. Pages at addresses no
 * baseline region covered are new and reported whole. The hash is 0 only for "unknown" (a read
 * failed), which never compares equal, so an unreadable page is always reported.
 */
#include "track_int.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define BUF_PAGES 1024 /* 4 MiB read per batch */

/* xxHash64-style: four independent lanes per 32 bytes, then an avalanche. Not cryptographic: it
 * tells a changed page from an unchanged one. */
#define P1 0x9E3779B185EBCA87ull
#define P2 0xC2B2AE3D27D4EB4Full
#define P3 0x165667B19E3779F9ull

static inline uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t lane(uint64_t acc, uint64_t in)
{
    acc += in * P2;
    acc = rotl(acc, 31);
    return acc * P1;
}

static uint64_t page_hash(const void *page)
{
    const uint64_t *w = page;
    uint64_t a = P1 + P2, b = P2, c = 0, d = 0 - P1;
    for (size_t i = 0; i < TRK_PAGE / 8; i += 4) {
        a = lane(a, w[i]);
        b = lane(b, w[i + 1]);
        c = lane(c, w[i + 2]);
        d = lane(d, w[i + 3]);
    }
    uint64_t h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18);
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h ? h : 1; /* 0 means unknown */
}

int trk_digest_open(struct sls_tracker *t, char *err, size_t errlen)
{
    t->buf_len = BUF_PAGES * TRK_PAGE;
    t->buf = mmap(NULL, t->buf_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                  -1, 0);
    if (t->buf == MAP_FAILED) {
        int e = errno;
        t->buf = NULL;
        return sls_errf(err, errlen, e, "pid %d: cannot map the digest read buffer: %s", t->pid,
                        strerror(e));
    }
    memset(t->buf, 0, TRK_PAGE);
    t->zero_hash = page_hash(t->buf);
    return 0;
}

void trk_digest_close(struct sls_tracker *t)
{
    if (t->buf)
        munmap(t->buf, t->buf_len);
    t->buf = NULL;
}

void trk_digest_note(struct sls_tracker *t, uint64_t addr, const void *buf, uint64_t len)
{
    for (uint64_t off = 0; off + TRK_PAGE <= len; off += TRK_PAGE) {
        const struct trk_region *r = trk_region_at(&t->base, addr + off);
        if (r && r->digest)
            r->digest[(addr + off - r->start) / TRK_PAGE] = page_hash((const char *)buf + off);
    }
}

static int read_mem(struct sls_tracker *t, uint64_t addr, void *dst, size_t len)
{
    if (t->mem_fd < 0) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/mem", t->pid);
        t->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (t->mem_fd < 0)
            return -errno;
    }
    return pread(t->mem_fd, dst, len, (off_t)addr) == (ssize_t)len ? 0 : -EIO;
}

/* Hashes pages [at, at + n pages) of v into h[]; pm[] are their pagemap entries. */
static void hash_chunk(struct sls_tracker *t, const struct trk_vma *v, uint64_t at, size_t n,
                       const uint64_t *pm, uint64_t *h)
{
    struct iovec remote[IOV_MAX];
    size_t first_page[IOV_MAX];
    size_t nruns = 0;
    for (size_t i = 0; i < n;) {
        if (!(pm[i] & (PM_PRESENT | PM_SWAPPED))) {
            h[i++] = t->zero_hash;
            continue;
        }
        size_t j = i + 1;
        while (j < n && (pm[j] & (PM_PRESENT | PM_SWAPPED)))
            j++;
        remote[nruns] = (struct iovec){ (void *)(uintptr_t)(at + i * TRK_PAGE), (j - i) * TRK_PAGE };
        first_page[nruns++] = i;
        i = j;
        if (nruns == IOV_MAX && i < n) {
            /* rare (a chunk alternating present/absent pages): hash what we have, go on */
            break;
        }
    }
    /* read every run into the buffer at its page's slot, so buf page k = page at + k */
    size_t done_runs = 0;
    if (v->prot & PROT_READ) {
        struct iovec local[IOV_MAX];
        size_t total = 0;
        for (size_t r = 0; r < nruns; r++) {
            local[r] = (struct iovec){ t->buf + first_page[r] * TRK_PAGE, remote[r].iov_len };
            total += remote[r].iov_len;
        }
        ssize_t got = nruns ? process_vm_readv(t->pid, local, nruns, remote, nruns, 0) : 0;
        if (got == (ssize_t)total) {
            done_runs = nruns;
        } else if (got > 0) {
            for (size_t r = 0; r < nruns && (size_t)got >= remote[r].iov_len; r++) {
                got -= (ssize_t)remote[r].iov_len;
                done_runs++;
            }
        }
    }
    for (size_t r = 0; r < nruns; r++) {
        size_t np = remote[r].iov_len / TRK_PAGE;
        unsigned char *dst = t->buf + first_page[r] * TRK_PAGE;
        int ok = r < done_runs;
        if (!ok)
            ok = read_mem(t, (uint64_t)(uintptr_t)remote[r].iov_base, dst, remote[r].iov_len) == 0;
        for (size_t k = 0; k < np; k++)
            h[first_page[r] + k] = ok ? page_hash(dst + k * TRK_PAGE) : 0;
    }
    /* pages past an IOV_MAX cut-off: hash them one run at a time */
    size_t tail = nruns ? first_page[nruns - 1] + remote[nruns - 1].iov_len / TRK_PAGE : n;
    for (size_t i = tail; i < n; i++) {
        if (!(pm[i] & (PM_PRESENT | PM_SWAPPED)))
            h[i] = t->zero_hash;
        else
            h[i] = read_mem(t, at + i * TRK_PAGE, t->buf, TRK_PAGE) == 0 ? page_hash(t->buf) : 0;
    }
}

int trk_digest_vma(struct trk_collect *c, const struct trk_vma *v)
{
    struct sls_tracker *t = c->t;
    size_t npages = (v->end - v->start) / TRK_PAGE;
    uint64_t *h = malloc(npages * sizeof(*h));
    uint64_t *pm = malloc(BUF_PAGES * sizeof(*pm));
    if (!h || !pm) {
        free(h);
        free(pm);
        return sls_errf(c->err, c->errlen, ENOMEM, "pid %d: out of memory for %zu page digests",
                        t->pid, npages);
    }
    int rc = 0;
    size_t k = 0; /* cursor into the baseline: pages come in address order */
    for (size_t at = 0; !rc && at < npages;) {
        size_t n = npages - at > BUF_PAGES ? BUF_PAGES : npages - at;
        uint64_t addr = v->start + at * TRK_PAGE;
        rc = trk_pagemap_read(t, addr, n, pm, c->err, c->errlen);
        if (rc)
            break;
        hash_chunk(t, v, addr, n, pm, h + at);
        for (size_t i = 0; !rc && i < n; i++) {
            uint64_t a = addr + i * TRK_PAGE;
            while (k < t->base.n && t->base.v[k].end <= a)
                k++;
            const struct trk_region *r = k < t->base.n && t->base.v[k].start <= a ? &t->base.v[k] : NULL;
            if (!r || !r->digest) {
                if (trk_add_whole(c->d, a, a + TRK_PAGE, SLS_TRACK_WHOLE_NEW))
                    rc = -ENOMEM;
                continue;
            }
            uint64_t old = r->digest[(a - r->start) / TRK_PAGE];
            uint64_t now = h[at + i];
            if ((old == 0 || now == 0 || old != now) && trk_add_dirty(c->d, a, a + TRK_PAGE))
                rc = -ENOMEM;
        }
        if (rc == -ENOMEM)
            rc = sls_errf(c->err, c->errlen, ENOMEM, "pid %d: out of memory for dirty ranges", t->pid);
        at += n;
    }
    free(pm);
    if (!rc && trk_base_add(&c->next, v->start, v->end, h))
        rc = sls_errf(c->err, c->errlen, ENOMEM, "pid %d: out of memory", t->pid);
    if (rc)
        free(h);
    return rc;
}
