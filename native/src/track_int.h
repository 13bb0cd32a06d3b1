/*
 * track_int.h — what the tracker's sources share: the tracker itself, the maps snapshot, the
 * baseline (regions the previous collect watched), range-list helpers, and one entry point per
 * mechanism (track_uffd.c, track_softdirty.c, track_digest.c), orchestrated by track.c.
 */
#ifndef SLS_TRACK_INT_H
#define SLS_TRACK_INT_H

#include "track.h"
#include "track_uapi.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TRK_PAGE 4096ull

/* One line of /proc/PID/maps. */
struct trk_vma {
    uint64_t start, end;
    int prot;     /* PROT_READ | PROT_WRITE | PROT_EXEC */
    int shared;   /* 's' */
    int special;  /* [vdso], [vvar], [vvar_vclock], [vsyscall]: never tracked, never reported */
};

/* A region the previous collect watched. DIGEST: digest holds one hash per page. SOFTDIRTY:
 * present is a bitmap of the pages that existed (present or swapped), so a page discarded since
 * (MADV_DONTNEED clears the pte, and with it the soft-dirty bit) is still reported. */
struct trk_region {
    uint64_t start, end;
    uint64_t *digest;
    uint64_t *present;
};

struct trk_baseline {
    struct trk_region *v;
    size_t n, cap;
};

struct sls_tracker {
    pid_t pid;
    int mode;
    int pagemap_fd;             /* /proc/PID/pagemap */
    int mem_fd;                 /* /proc/PID/mem, DIGEST only, opened on first unreadable region */
    int uffd;                   /* UFFD: the engine's copy of the target's userfaultfd */
    struct trk_baseline base;   /* sorted by start, disjoint */
    struct page_region *scan_vec;
    size_t scan_vec_len;
    struct page_region *acc;    /* UFFD: written ranges of one batched scan */
    size_t nacc, acc_cap;
    unsigned char *buf;         /* DIGEST: read buffer, pre-faulted */
    size_t buf_len;
    uint64_t zero_hash;         /* DIGEST: the hash of a page of zeros (= an absent page) */
    char passed_over[200];      /* AUTO: why a better mechanism was refused for this process */
    int sync;                   /* UFFD opened with SLS_TRACK_SYNC (no WP_ASYNC) */
    struct sls_fault_server *server; /* sync: serves the write faults (shadow.c) */
    struct sls_track_range_list sync_written; /* sync, during a collect: pages the server saw written */
    struct sls_track_range_list sync_touched; /* sync, during a collect: ranges unmapped or moved */
};

/* Per-collect context handed to the mechanisms. */
struct trk_collect {
    struct sls_tracker *t;
    struct sls_track_delta *d;
    struct trk_baseline next;   /* becomes t->base when the collect succeeds */
    int running;
    int registered_any;         /* UFFD: a region was registered (VMAs may have merged) */
    char *err;
    size_t errlen;
};

/* track.c helpers */
int trk_read_maps(pid_t pid, struct trk_vma **out, size_t *n, char *err, size_t errlen);
int trk_add_dirty(struct sls_track_delta *d, uint64_t start, uint64_t end);
int trk_add_whole(struct sls_track_delta *d, uint64_t start, uint64_t end, uint32_t reason);
int trk_base_add(struct trk_baseline *b, uint64_t start, uint64_t end, uint64_t *digest);
void trk_base_free(struct trk_baseline *b);
/* The baseline region holding addr, or NULL. */
const struct trk_region *trk_region_at(const struct trk_baseline *b, uint64_t addr);
/* The baseline region a current VMA continues: the one holding v's first page, else its last page
 * (a stack grown down). NULL if none: v is new. */
const struct trk_region *trk_anchor(const struct trk_baseline *b, const struct trk_vma *v);

/* Reporting one VMA: only v ∩ anchor was watched; the rest of v is reported whole (NEW). begin
 * adds the new part before the watched one, dirty adds a written range clipped to the watched
 * part, end adds the new part after it. Each returns 0 or a negative code with c->err set. */
struct trk_watch {
    uint64_t lo, hi;
};
int trk_report_begin(struct trk_collect *c, const struct trk_vma *v, const struct trk_region *anchor,
                     struct trk_watch *w);
int trk_report_dirty(struct trk_collect *c, const struct trk_watch *w, uint64_t start, uint64_t end);
int trk_report_end(struct trk_collect *c, const struct trk_vma *v, const struct trk_watch *w);

int trk_pagemap_read(struct sls_tracker *t, uint64_t start, size_t npages, uint64_t *out,
                     char *err, size_t errlen);

/* Huge regions the mechanisms leave alone (reported whole every time): registering a region costs
 * uffd page tables for all of it (WP_UNPOPULATED installs markers, about 2 MB per GiB), and
 * soft-dirty and digest read a pagemap entry per page. An unpopulated reservation reported whole
 * costs the capture one cheap pagemap look. */
#define TRK_MAX_TRACKED_INACCESSIBLE (1ull << 30) /* PROT_NONE reservations (JVM heaps, guards) */
#define TRK_MAX_TRACKED_REGION (64ull << 30)
int trk_untracked_by_size(const struct trk_vma *v);

/* A shared VMA: reported whole (untracked) every time. */
int trk_add_shared(struct trk_collect *c, const struct trk_vma *v);

/* Mechanisms. open: set up t (target frozen, p given); vma: one private, non-special VMA per call
 * (returns 0 or a negative code); finish: after all VMAs. uffd takes the whole list at once (it
 * scans runs of VMAs together) and handles special and shared VMAs with the frame's rules. */
int trk_uffd_available(void);
int trk_uffd_open(struct sls_tracker *t, struct sls_frozen_proc *p, char *err, size_t errlen);
int trk_uffd_collect(struct trk_collect *c, const struct trk_vma *v, size_t n);
void trk_uffd_close(struct sls_tracker *t);

int trk_softdirty_available(void);
int trk_softdirty_open(struct sls_tracker *t, char *err, size_t errlen);
int trk_softdirty_vma(struct trk_collect *c, const struct trk_vma *v);
int trk_softdirty_finish(struct trk_collect *c);

int trk_digest_open(struct sls_tracker *t, char *err, size_t errlen);
int trk_digest_vma(struct trk_collect *c, const struct trk_vma *v);
void trk_digest_note(struct sls_tracker *t, uint64_t addr, const void *buf, uint64_t len);
void trk_digest_close(struct sls_tracker *t);

#endif
