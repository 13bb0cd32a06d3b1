/*
 * capture_int.h — what the capture modules share: the capture context and one entry point per
 * kind of state (proc.c, regs.c, signals.c, maps.c, memory.c, fds.c) plus what is read before the
 * freeze (precopy.c), orchestrated by capture.c.
 * Every function appends entries to the process's record buffer and returns 0 or a negative code
 * with ctx->err set to one line naming the pid (and fd/region) and the problem.
 */
#ifndef SLS_CAPTURE_INT_H
#define SLS_CAPTURE_INT_H

#include "capture_phases.h"
#include "freeze.h"
#include "imgbuf.h"
#include "sls_image.h"
#include "track.h"

#include <stddef.h>
#include <stdint.h>

/* One run of pages to copy into the page file. */
struct sls_page_copy {
    pid_t pid;
    uint64_t addr;
    uint64_t len;
    uint64_t offset;    /* in the page file */
    int readable;       /* PROT_READ: process_vm_readv works; else /proc/PID/mem (FOLL_FORCE) */
    int failed;         /* pre-copy only: could not be read while the process ran */
    int shadow;         /* SLS_CAPTURE_SHADOW: copied after the thaw (shadow.c), not in the stop */
};

/* One mapping as /proc/PID/smaps describes it. */
struct sls_vma {
    struct sls_img_vma img;
    char *path;         /* malloc'd, "" for anonymous */
};

/*
 * What is read of one process before the freeze, while it runs (precopy.c): its memory map (smaps,
 * validated at the freeze against /proc/PID/maps) and, for a delta capture whose tracker can collect
 * while the process runs, the pre-copy: the pages written since the last epoch (d1) copied into the
 * page file. At the freeze the tracker is collected again (d2: written since d1) and the epoch is
 * d1's runs minus what d2 covers, plus d2's runs, clipped to the regions at the freeze.
 */
struct sls_preread {
    pid_t pid;
    struct sls_vma *vmas;        /* NULL: not read (or refused: the freeze reads it again) */
    size_t nvmas;
    char *maps_text;             /* the maps lines of that read */
    int maps_valid;              /* checked at the freeze: /proc/PID/maps still shows maps_text */
    uint64_t maps_read_ns;       /* when vmas were read from smaps (maybe by an earlier capture) */
    uint64_t process_start;      /* /proc/PID/stat starttime (delta captures; keys the maps cache) */
    struct sls_tracker *t;       /* taken from the engine's table before the freeze, or NULL */
    uint64_t last_bytes;         /* what t's last stop copied (sizes the page file) */
    struct sls_track_delta d1;   /* the pre-copy collect */
    int precopied;               /* d1's pages are in the page file, runs below */
    struct sls_img_pagerun *runs;/* pre-copied runs (copied and zero), address order */
    size_t nruns, runs_cap;
    struct sls_track_range_list failed; /* d1 ranges not pre-copied (hot set, unreadable): the freeze takes them */
    struct sls_track_range_list copyfail; /* runs that could not be read while running (then merged into failed) */
};

struct sls_capture_ctx {
    struct sls_freeze fz;
    char *err;
    size_t errlen;
    struct sls_page_copy *copies;
    size_t ncopies, copies_cap;
    uint64_t page_bytes;        /* also the next free offset in the page file */
    uint64_t *pipes_seen;       /* pipe inodes whose buffered bytes are already in the image */
    size_t npipes, pipes_cap;
    /* the page file, sized and pre-faulted before the freeze from an estimate (memory.c) */
    const char *page_path;
    int page_fd;
    unsigned char *page_map;
    uint64_t page_map_len;
    /* delta capture: what the tracker of the process being captured reported (NULL: take every
     * page). copy_end: end of the last run that is really copied; zero runs after it stay holes. */
    const struct sls_track_delta *delta;
    uint64_t copy_end;
    struct sls_capture_phases ph; /* where the time goes (capture_phases.h) */
    size_t copies_done;         /* copies[0..copies_done) are in the page file already */
    /* read before the freeze, one per process known then (precopy.c) */
    struct sls_preread *pre;
    size_t npre;
    int precopy_pass;           /* planning d1 while the process runs (skip untracked ranges) */
};

/* proc.c: the PROC and RLIMIT entries. */
int sls_capture_proc(struct sls_capture_ctx *c, struct sls_frozen_proc *p, struct sls_imgbuf *b);
/* regs.c: one THREAD entry per thread. */
int sls_capture_threads(struct sls_capture_ctx *c, struct sls_frozen_proc *p, struct sls_imgbuf *b);
/* signals.c: SIGACT, ITIMER and PENDING entries. */
int sls_capture_signals(struct sls_capture_ctx *c, struct sls_frozen_proc *p, struct sls_imgbuf *b);
/* maps.c: parse /proc/PID/smaps; refuses what cannot be restored. maps_text (may be NULL): the
 * maps lines of this read, as /proc/PID/maps shows them, malloc'd. */
int sls_read_vmas(struct sls_capture_ctx *c, pid_t pid, struct sls_vma **out, size_t *n,
                  char **maps_text);
void sls_free_vmas(struct sls_vma *v, size_t n);
/* maps.c: 1 if /proc/PID/maps shows exactly maps_text now. */
int sls_maps_unchanged(pid_t pid, const char *maps_text);
/* memory.c: VMA entries + plan the page copies (PAGERUN entries) for one process. */
int sls_capture_memory(struct sls_capture_ctx *c, struct sls_frozen_proc *p, struct sls_imgbuf *b);
/* memory.c: create (truncate) the page file at path. */
int sls_pagefile_open(struct sls_capture_ctx *c, const char *path);
/* memory.c: after the pre-read, before the freeze: size the page file and pre-fault it for what the
 * stop will copy, so the stop copies into ready pages (pre-faulting costs about as much as copying).
 * A delta of tracked processes: room for what the last stop copied and an eighth more (pre-copied:
 * what was written during the pre-copy). Otherwise the processes' anonymous, swapped and
 * dirty shared pages (with recursive, their descendants' too). */
int sls_pagefile_reserve(struct sls_capture_ctx *c, const int32_t *pids, int npids, int recursive, int delta);
/* memory.c: copy every planned run not copied yet into the page file, growing it if the estimate
 * was short. running: the processes run (pre-copy): a run that cannot be read is marked failed
 * instead of failing the capture. */
int sls_copy_pages(struct sls_capture_ctx *c, int running);
/* memory.c: plans the pre-copy of one process: the pages of pre->d1 in its pre-read private
 * regions, into pre->runs. */
int sls_plan_precopy(struct sls_capture_ctx *c, struct sls_preread *pre);
/* precopy.c: before the freeze: pre-reads (and for delta, pre-copies) pids and, when recursive,
 * their descendants as they are now. Never fails the capture: whatever cannot be read early is
 * read at the freeze. */
void sls_preread_all(struct sls_capture_ctx *c, const int32_t *pids, int npids, int recursive,
                     int delta);
/* precopy.c: the pre-read entry of pid, or NULL. */
struct sls_preread *sls_preread_of(struct sls_capture_ctx *c, pid_t pid);
/* precopy.c: at the freeze, for a pre-copied process planned with delta d2 into runs rl (address
 * order): adds the pre-copied runs that d2 does not cover, clipped to the delta-planned regions
 * vmas[0..n) (keep[i] != 0), keeping address order. */
int sls_precopy_merge(struct sls_capture_ctx *c, struct sls_preread *pre, const struct sls_vma *vmas,
                      const unsigned char *keep, size_t n, const struct sls_track_delta *d2,
                      struct sls_img_pagerun **runs, size_t *nruns, size_t *cap);
/* precopy.c: after a successful delta: what the freeze's collect d2 reported for pid is its hot set
 * for the next pre-copy (engine_tracking.h). */
void sls_precopy_keep_hot_set(struct sls_capture_ctx *c, pid_t pid, const struct sls_track_delta *d2);
/* precopy.c: out = d with the ranges of extra added as dirty (where d has no whole range). */
int sls_delta_with_dirty(struct sls_track_delta *out, const struct sls_track_delta *d,
                         const struct sls_track_range_list *extra);
/* precopy.c: after the capture: trackers not handed to the freeze go back to the table (forgotten:
 * their collect's pages are in no stored epoch); keep_maps: maps valid at the freeze go to the
 * engine's maps cache for the next delta (engine_tracking.h); everything else freed. */
void sls_preread_free(struct sls_capture_ctx *c, int keep_maps);
/* memory.c: after the thaw: unmap, cut the file to exactly the bytes written, close. */
int sls_pagefile_finish(struct sls_capture_ctx *c);
/* fds.c: one FD entry per open descriptor. */
int sls_capture_fds(struct sls_capture_ctx *c, struct sls_frozen_proc *p, struct sls_imgbuf *b);

/* capture.c: the injector of the process's main thread (for process-wide calls). */
int sls_main_injector(struct sls_capture_ctx *c, struct sls_frozen_proc *p, struct sls_injector **out);

/* capture.c: adds the time since `since` to phase and returns now (the next phase's start). */
uint64_t sls_phase_mark(struct sls_capture_ctx *c, int phase, uint64_t since);

#define CERR(c, code, ...) sls_errf((c)->err, (c)->errlen, (code), __VA_ARGS__)

#endif
