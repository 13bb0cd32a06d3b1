/*
 * capture.c — sls_capture: read ahead, freeze, take every process's state and pages, thaw, write
 * the image. While the processes still run: their memory maps are read (and, for a delta, the
 * written pages pre-copied) and the page file is sized (precopy.c, memory.c). While frozen: the
 * early reads are checked, process state is read, the pages written since are copied. After the
 * thaw: the page file is cut and the image written. Where the time goes: capture_phases.h.
 */
#include "capture_int.h"
#include "engine_tracking.h"
#include "shadow.h"
#include "slsnative.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int sls_main_injector(struct sls_capture_ctx *c, struct sls_frozen_proc *p, struct sls_injector **out)
{
    struct sls_frozen_thread *t = &p->threads[0];
    struct sls_preread *pre = sls_preread_of(c, p->pid);
    if (t->inj.tid == 0 && pre && pre->maps_valid) {
        /* the map at the freeze is known: no maps read for the [vdso] (saves ~40 us of stop) */
        for (size_t i = 0; i < pre->nvmas; i++) {
            if (pre->vmas[i].img.kind == SLS_VMA_VDSO) {
                memset(&t->inj, 0, sizeof(t->inj));
                t->inj.tid = t->tid;
                t->inj.tgid = p->pid;
                t->inj.gadget = sls_find_syscall_gadget_in(p->pid, pre->vmas[i].img.start, pre->vmas[i].img.end);
                break;
            }
        }
    }
    return sls_frozen_injector(t, out, c->err, c->errlen);
}

/* ---- phase statistics (capture_phases.h) ---------------------------------------------------- */

static const char *const phase_names[SLS_PH_N] = {
    "prepare", "preread", "precopy", "freeze", "track", "proc", "threads", "signals", "maps",
    "memory", "fds", "copy", "thaw", "finish",
};

static __thread struct sls_capture_phases last_phases;

const char *sls_capture_phase_name(int phase)
{
    return phase >= 0 && phase < SLS_PH_N ? phase_names[phase] : "?";
}

void sls_capture_last_phases(struct sls_capture_phases *out)
{
    *out = last_phases;
}

uint64_t sls_phase_mark(struct sls_capture_ctx *c, int phase, uint64_t since)
{
    uint64_t now = sls_now_ns(CLOCK_MONOTONIC);
    c->ph.ns[phase] += now - since;
    return now;
}

static void phases_publish(const struct sls_capture_phases *ph)
{
    last_phases = *ph;
    const char *env = getenv("SLS_CAPTURE_PHASES");
    if (!env || strcmp(env, "1") != 0)
        return;
    char line[768];
    int n = snprintf(line, sizeof(line), "sls_capture phases (us):");
    for (int i = 0; i < SLS_PH_N && n > 0 && (size_t)n < sizeof(line); i++)
        n += snprintf(line + n, sizeof(line) - (size_t)n, " %s=%.1f", phase_names[i], ph->ns[i] / 1e3);
    if (n > 0 && (size_t)n < sizeof(line))
        snprintf(line + n, sizeof(line) - (size_t)n, " | stop=%.1f injected=%u precopy_bytes=%lu stop_bytes=%lu "
                 "maps_reused=%u\n", ph->stop_ns / 1e3, ph->injected, (unsigned long)ph->precopy_bytes,
                 (unsigned long)ph->stop_bytes, ph->maps_reused);
    fputs(line, stderr);
}

static int capture_process(struct sls_capture_ctx *c, struct sls_frozen_proc *p, struct sls_imgbuf *b)
{
    sls_imgbuf_record_begin(b, p->pid, c->fz.started_realtime_ns);
    uint64_t t = sls_now_ns(CLOCK_MONOTONIC);
    /* first: is the map read before the freeze still the map? (memory.c and the injector use it) */
    struct sls_preread *pre = sls_preread_of(c, p->pid);
    if (pre)
        pre->maps_valid = pre->vmas && sls_maps_unchanged(p->pid, pre->maps_text);
    t = sls_phase_mark(c, SLS_PH_MAPS, t);
    int rc = sls_capture_proc(c, p, b);
    t = sls_phase_mark(c, SLS_PH_PROC, t);
    if (!rc)
        rc = sls_capture_threads(c, p, b);
    t = sls_phase_mark(c, SLS_PH_THREADS, t);
    if (!rc)
        rc = sls_capture_signals(c, p, b);
    t = sls_phase_mark(c, SLS_PH_SIGNALS, t);
    uint64_t maps0 = c->ph.ns[SLS_PH_MAPS];
    if (!rc)
        rc = sls_capture_memory(c, p, b); /* marks SLS_PH_MAPS itself */
    uint64_t now = sls_now_ns(CLOCK_MONOTONIC);
    c->ph.ns[SLS_PH_MEMORY] += now - t - (c->ph.ns[SLS_PH_MAPS] - maps0);
    t = now;
    if (!rc)
        rc = sls_capture_fds(c, p, b);
    sls_phase_mark(c, SLS_PH_FDS, t);
    if (!rc && b->oom)
        rc = CERR(c, ENOMEM, "pid %d: out of memory building its image record", p->pid);
    return rc;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int write_image(struct sls_capture_ctx *c, struct sls_imgbuf *bufs, size_t n, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return CERR(c, errno, "image file %s: %s", path, strerror(errno));
    for (size_t i = 0; i < n; i++) {
        if (sls_imgbuf_record_end(&bufs[i]) != 0) {
            close(fd);
            return CERR(c, ENOMEM, "image file %s: out of memory", path);
        }
        if (write_all(fd, bufs[i].data, bufs[i].len) != 0) {
            int e = errno;
            close(fd);
            return CERR(c, e, "image file %s: %s", path, strerror(e));
        }
    }
    if (close(fd) != 0)
        return CERR(c, errno, "image file %s: %s", path, strerror(errno));
    return 0;
}

/*
 * Delta capture, inside the freeze: every process's tracker is taken from the engine's table and
 * collected. If each process had one and each collect worked, the capture is a delta (memory.c takes
 * only the reported pages). Otherwise it is complete: collected trackers have their baseline reset by
 * that collect (its report is dropped, the complete image covers it), and processes without one get a
 * new tracker opened now, not lazily — a lazy tracker's first pass would run after the thaw and miss
 * what the process writes in between. Collect and open of uffd trackers take 0.1-2 ms per 64 MiB in
 * the stop (track.h).
 */
struct delta_state {
    struct sls_tracker **t;     /* per frozen process, NULL if none */
    struct sls_track_delta *d;  /* per frozen process */
    int delta;                  /* 1: every process has a collected tracker */
    int32_t first_mode;
    uint64_t dirty_pages;
    struct sls_tracker **stale; /* trackers whose collect failed: closed after the thaw */
    size_t nstale;
};

static int delta_begin(struct sls_capture_ctx *c, struct delta_state *ds, int track_mode, int shadow)
{
    size_t n = c->fz.nprocs;
    ds->first_mode = -1;
    ds->t = calloc(n, sizeof(*ds->t));
    ds->d = calloc(n, sizeof(*ds->d));
    ds->stale = calloc(n, sizeof(*ds->stale));
    if (!ds->t || !ds->d || !ds->stale)
        return CERR(c, ENOMEM, "out of memory");
    int all = 1;
    for (size_t i = 0; i < n; i++) {
        struct sls_preread *pre = sls_preread_of(c, c->fz.procs[i].pid);
        struct sls_tracker *t = pre && pre->t ? pre->t : sls_trackers_take(c->fz.procs[i].pid);
        if (pre)
            pre->t = NULL; /* the freeze has it now */
        if (t && !!sls_track_fault_server(t) != shadow) {
            /* opened for the other way (async, or synchronous for shadowing): start over */
            ds->stale[ds->nstale++] = t;
            t = NULL;
        }
        if (t) {
            char why[256];
            if (sls_track_collect(t, &ds->d[i], 0, why, sizeof(why)) < 0) {
                ds->stale[ds->nstale++] = t; /* e.g. the pid was reused: start over */
                t = NULL;
            }
        }
        ds->t[i] = t;
        if (!t)
            all = 0;
    }
    for (size_t i = 0; i < n && !all; i++) {
        if (ds->t[i])
            continue;
        int rc = sls_track_open(&c->fz.procs[i], track_mode | (shadow ? SLS_TRACK_SYNC : 0), &ds->t[i],
                                c->err, c->errlen);
        if (rc)
            return rc;
    }
    ds->delta = all;
    for (size_t i = 0; i < n && all; i++) {
        struct sls_preread *pre = sls_preread_of(c, c->fz.procs[i].pid);
        ds->dirty_pages += ds->d[i].dirty_pages + (pre && pre->precopied ? pre->d1.dirty_pages : 0);
    }
    if (!all) {
        /* complete after all: what was pre-copied is not used, the page file starts over */
        for (size_t i = 0; i < c->npre; i++)
            c->pre[i].precopied = 0;
        c->ncopies = c->copies_done = 0;
        c->page_bytes = c->copy_end = 0;
        c->ph.precopy_bytes = 0;
    }
    if (n && ds->t[0])
        ds->first_mode = sls_track_mode(ds->t[0]);
    return 0;
}

/* After the thaw: trackers go back to the table. After a failed capture their baseline is dropped,
 * since the epoch they were collected for is not stored: the next delta takes everything. */
static void delta_end(struct delta_state *ds, size_t n, int failed, uint64_t copied)
{
    for (size_t i = 0; i < n; i++) {
        if (!ds->t[i])
            continue;
        if (failed)
            sls_track_forget(ds->t[i]);
        pid_t pid = sls_track_pid(ds->t[i]);
        if (sls_trackers_put(ds->t[i]) == 0)
            /* the next page file's room: this stop's share (a complete capture: unknown, 0) */
            sls_trackers_note_bytes(pid, ds->delta && !failed ? copied / n : 0);
        ds->t[i] = NULL;
    }
}

static void delta_free(struct delta_state *ds, size_t n)
{
    for (size_t i = 0; ds->stale && i < ds->nstale; i++)
        sls_track_close(ds->stale[i]);
    for (size_t i = 0; ds->d && i < n; i++)
        sls_track_delta_free(&ds->d[i]);
    free(ds->t);
    free(ds->d);
    free(ds->stale);
}

/* The nice value sls_capture runs at (see there). */
#define CAPTURE_NICE (-15)

static int capture_all(const int32_t *pids, int32_t npids, int32_t flags,
                       const char *page_path, const char *image_path,
                       struct sls_capture_stats *stats, char *err, size_t errlen)
{
    if (err && errlen)
        *err = 0;
    if (!pids || npids <= 0 || !page_path || !image_path)
        return sls_errf(err, errlen, EINVAL, "sls_capture: no processes, page file or image file given");
    if (flags & ~(SLS_CAPTURE_RECURSIVE | SLS_CAPTURE_DELTA | SLS_CAPTURE_TRACK_MASK | SLS_CAPTURE_SHADOW))
        return sls_errf(err, errlen, EINVAL, "sls_capture: unknown flags %#x", flags);
    int track_mode = (flags & SLS_CAPTURE_TRACK_MASK) >> 8, shadow = (flags & SLS_CAPTURE_SHADOW) != 0;
    if (shadow && !(flags & SLS_CAPTURE_DELTA))
        return sls_errf(err, errlen, EINVAL, "sls_capture: SLS_CAPTURE_SHADOW needs SLS_CAPTURE_DELTA (the "
                        "synchronous uffd that shadows is also the dirty tracker)");
    if (shadow && track_mode != SLS_TRACK_UFFD &&
        (track_mode != SLS_TRACK_AUTO || sls_track_auto_mode() != SLS_TRACK_UFFD))
        return sls_errf(err, errlen, EOPNOTSUPP, "sls_capture: shadowing needs uffd dirty tracking, "
                        "not %s", sls_track_mode_name(track_mode == SLS_TRACK_AUTO ? sls_track_auto_mode() : track_mode));
    if ((flags & SLS_CAPTURE_TRACK_MASK) && !(flags & SLS_CAPTURE_DELTA))
        return sls_errf(err, errlen, EINVAL, "sls_capture: a tracking mechanism was given without SLS_CAPTURE_DELTA");
    if ((flags & SLS_CAPTURE_DELTA) && (track_mode > SLS_TRACK_DIGEST || !sls_track_available(track_mode)))
        return sls_errf(err, errlen, EOPNOTSUPP, "sls_capture: dirty tracking by %s is not available on this kernel",
                        sls_track_mode_name(track_mode));

    struct sls_capture_ctx c;
    memset(&c, 0, sizeof(c));
    c.err = err;
    c.errlen = errlen;
    c.page_fd = -1;
    uint64_t t = sls_now_ns(CLOCK_MONOTONIC);
    int recursive = flags & SLS_CAPTURE_RECURSIVE, delta = (flags & SLS_CAPTURE_DELTA) != 0;
    int rc = sls_pagefile_open(&c, page_path);
    if (!rc) {
        sls_preread_all(&c, pids, npids, recursive, delta); /* marks its own phases */
        t = sls_now_ns(CLOCK_MONOTONIC);
        rc = sls_pagefile_reserve(&c, pids, npids, recursive, delta);
        t = sls_phase_mark(&c, SLS_PH_PREPARE, t);
        /* For tests only: widen the gap between the pre-copy and the freeze, so a writer racing
         * the capture surely writes pages in it (a hot set) on a fast, or a loaded, machine. */
        const char *gap = getenv("SLS_TEST_PRECOPY_GAP_US");
        if (gap && delta)
            usleep((useconds_t)strtoul(gap, NULL, 10));
    }
    if (!rc)
        rc = sls_freeze(&c.fz, pids, npids, recursive, err, errlen);
    if (rc) {
        sls_pagefile_finish(&c);
        sls_preread_free(&c, 0);
        free(c.copies);
        return rc;
    }
    size_t nprocs = c.fz.nprocs, nthreads = 0;
    uint64_t started = c.fz.started_ns;
    uint32_t injected0 = sls_inject_count();
    t = sls_phase_mark(&c, SLS_PH_FREEZE, started);
    struct sls_imgbuf *bufs = calloc(nprocs, sizeof(*bufs));
    struct delta_state ds = { 0 };
    if (!bufs)
        rc = CERR(&c, ENOMEM, "out of memory");
    if (!rc && (flags & SLS_CAPTURE_DELTA))
        rc = delta_begin(&c, &ds, track_mode, shadow);
    t = sls_phase_mark(&c, SLS_PH_TRACK, t);
    for (size_t i = 0; i < nprocs && !rc; i++) {
        c.delta = ds.delta ? &ds.d[i] : NULL;
        rc = capture_process(&c, &c.fz.procs[i], &bufs[i]);
        nthreads += c.fz.procs[i].nthreads;
    }
    c.delta = NULL;
    t = sls_now_ns(CLOCK_MONOTONIC);
    struct sls_shadow *sh = NULL;
    if (!rc && shadow && ds.delta)
        /* the dirty set is write-protected (the collect did it): its copies wait for the thaw */
        rc = sls_shadow_begin(&c, ds.t, ds.d, nprocs, &sh);
    if (!rc)
        rc = sls_copy_pages(&c, 0);
    if (!rc && sh)
        sls_shadow_arm(sh, c.page_map);
    t = sls_phase_mark(&c, SLS_PH_COPY, t);
    c.ph.stop_bytes = c.copy_end - c.ph.precopy_bytes - sls_shadow_pages(sh) * 4096;
    c.ph.injected = sls_inject_count() - injected0;
    int trc = sls_thaw(&c.fz, rc ? NULL : err, errlen);
    uint64_t released = c.fz.released_ns ? c.fz.released_ns : sls_now_ns(CLOCK_MONOTONIC);
    c.ph.ns[SLS_PH_THAW] += released - t;
    t = sls_now_ns(CLOCK_MONOTONIC);
    uint64_t stop_ns = released - started;
    c.ph.stop_ns = stop_ns;
    if (!rc)
        rc = trc;
    if (!rc && sh)
        rc = sls_shadow_copy(&c, sh); /* the processes run: writes to pages not copied yet wait */
    uint64_t shadow_faults = sls_shadow_faults(sh), shadowed = sls_shadow_pages(sh);
    sls_shadow_free(sh);
    int frc = sls_pagefile_finish(&c);
    if (!rc)
        rc = frc;
    if (!rc)
        rc = write_image(&c, bufs, nprocs, image_path);
    for (size_t i = 0; !rc && ds.delta && i < nprocs; i++)
        if (ds.t[i])
            sls_precopy_keep_hot_set(&c, sls_track_pid(ds.t[i]), &ds.d[i]);
    if (ds.t)
        /* the next page file's room: what this stop copied (all of it without pre-copy) */
        delta_end(&ds, nprocs, rc != 0, c.copy_end - c.ph.precopy_bytes);
    sls_preread_free(&c, !rc && delta);
    sls_phase_mark(&c, SLS_PH_FINISH, t);
    if (!rc && stats) {
        stats->stop_ns = stop_ns;
        stats->page_bytes = c.page_bytes;
        stats->nprocs = (uint32_t)nprocs;
        stats->nthreads = (uint32_t)nthreads;
        stats->delta = (uint32_t)ds.delta;
        stats->track_mode = ds.first_mode;
        stats->dirty_pages = ds.dirty_pages;
        stats->total_ns = sls_now_ns(CLOCK_MONOTONIC) - started;
        stats->shadowed = shadowed > 0;
        stats->shadow_faults = (uint32_t)shadow_faults;
    }
    phases_publish(&c.ph);
    delta_free(&ds, nprocs);
    for (size_t i = 0; bufs && i < nprocs; i++)
        sls_imgbuf_free(&bufs[i]);
    free(bufs);
    free(c.copies);
    free(c.pipes_seen);
    return rc;
}

/*
 * The capture runs at nice -15 (the calling thread only: on Linux the nice value is per thread) and
 * then goes back to the caller's nice. Most of a stop is the engine and the frozen target passing
 * the CPU back and forth through ptrace (every injected syscall is two such round trips); a JVM
 * thread (GC, JIT, logging) that got the engine's CPU in between made single stops at -t 10 last
 * 5-30 ms instead of about 1.5 ms. Without CAP_SYS_NICE the setpriority fails and the capture runs
 * at the caller's priority, as before.
 */
int sls_capture(const int32_t *pids, int32_t npids, int32_t flags,
                const char *page_path, const char *image_path,
                struct sls_capture_stats *stats, char *err, size_t errlen)
{
    int32_t nice0;
    int boosted = sls_thread_boost(&nice0) == 0;
    int rc = capture_all(pids, npids, flags, page_path, image_path, stats, err, errlen);
    if (boosted)
        sls_thread_unboost(nice0);
    return rc;
}

int sls_thread_boost(int32_t *saved_nice)
{
    if (!saved_nice)
        return -EINVAL;
    id_t self = (id_t)syscall(SYS_gettid);
    errno = 0;
    int nice0 = getpriority(PRIO_PROCESS, self);
    if (errno)
        return -errno;
    *saved_nice = nice0;
    if (nice0 <= CAPTURE_NICE)
        return 0;
    return setpriority(PRIO_PROCESS, self, CAPTURE_NICE) == 0 ? 0 : -errno;
}

int sls_thread_unboost(int32_t saved_nice)
{
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), saved_nice) == 0 ? 0 : -errno;
}
