/*
 * capture_int.h — what the capture modules share: the capture context and one entry point per
 * kind of state (proc.c, regs.c, signals.c, maps.c, memory.c, fds.c), orchestrated by capture.c.
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
};

/* One mapping as /proc/PID/smaps describes it. */
struct sls_vma {
    struct sls_img_vma img;
    char *path;         /* malloc'd, "" for anonymous */
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
};

/* proc.c: the PROC and RLIMIT entries. */
int sls_capture_proc(struct sls_capture_ctx *c, struct sls_frozen_proc *p, struct sls_imgbuf *b);
/* regs.c: one THREAD entry per thread. */
int sls_capture_threads(struct sls_capture_ctx *c, struct sls_frozen_proc *p, struct sls_imgbuf *b);
/* signals.c: SIGACT, ITIMER and PENDING entries. */
int sls_capture_signals(struct sls_capture_ctx *c, struct sls_frozen_proc *p, struct sls_imgbuf *b);
/* maps.c: parse /proc/PID/smaps; refuses what cannot be restored. */
int sls_read_vmas(struct sls_capture_ctx *c, pid_t pid, struct sls_vma **out, size_t *n);
void sls_free_vmas(struct sls_vma *v, size_t n);
/* memory.c: VMA entries + plan the page copies (PAGERUN entries) for one process. */
int sls_capture_memory(struct sls_capture_ctx *c, struct sls_frozen_proc *p, struct sls_imgbuf *b);
/* memory.c: create the page file at path and size + pre-fault it for what the processes are likely
 * to need (their anonymous, swapped and dirty shared pages; with recursive, their descendants' too),
 * before the freeze: pre-faulting costs about as much as copying, so it must not count as stop time.
 * delta: the capture will probably be a delta; when every pid is tracked, size for twice the last
 * delta instead (pre-faulting the whole RSS would make a 4 ms-stop delta take 40 ms in all). */
int sls_pagefile_prepare(struct sls_capture_ctx *c, const char *path, const int32_t *pids, int npids,
                         int recursive, int delta);
/* memory.c: copy every planned run into the page file, growing it if the estimate was short. */
int sls_copy_pages(struct sls_capture_ctx *c);
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
