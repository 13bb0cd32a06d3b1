/*
 * slsnative.h — the public interface of libslsnative.so, the SLS capture/restore engine.
 *
 * This is the only header the Java side binds: bundles/sls-native mirrors it one to one with JNA
 * (SlsNativeLibrary). Change it and bump SLS_ABI_VERSION; the Java side refuses a library whose
 * sls_abi_version() differs from the one it was built for.
 *
 * Conventions: functions return 0 (or a count) on success and a negative errno-style code on
 * failure, and then write one human-readable line (no newline) into err[errlen]. Nothing in the
 * library calls exit() or prints to stdout. All ptrace work of one call happens on the calling
 * thread (ptrace attaches to a thread, and the JVM may call from any thread).
 */
#ifndef SLSNATIVE_H
#define SLSNATIVE_H

#include <stddef.h>
#include <stdint.h>

#define SLS_ABI_VERSION 5

int sls_abi_version(void);
const char *sls_version(void);

/* Kernel features found at run time as "name=value\n" lines (value: yes, no, or a detail).
 * Returns the number of bytes written (excluding the NUL). */
int sls_probe(char *buf, size_t len, char *err, size_t errlen);

/* ---- capture ---------------------------------------------------------------------------- */

#define SLS_CAPTURE_RECURSIVE 0x1 /* also every descendant of the given processes */
/*
 * Delta capture: take only the pages each process wrote since the previous SLS_CAPTURE_DELTA capture
 * of it by this engine. The engine keeps one dirty-page tracker per pid across calls. When some
 * process has none (its first epoch, after a restore, after the engine restarted, after
 * sls_forget_tracking, or its tracker failed), the capture takes a complete image of every process
 * instead, starts tracking the ones without a tracker, and says so: stats->delta == 0. With
 * stats->delta == 1, every process's PAGERUNs hold exactly its pages written since its previous
 * delta capture plus every page of regions that are new (or untracked: shared memory); pages of
 * those sets that are no longer there (discarded) are runs of zeros in the page file, so composing
 * the chain (newest run wins, clipped to this capture's VMAs) gives the memory at this capture.
 * Gap: a page of a private FILE mapping that was written and then discarded (MADV_DONTNEED) reads
 * as the file again, which a delta cannot express; an older epoch's copy shows through.
 */
#define SLS_CAPTURE_DELTA     0x2
/* The tracking mechanism for trackers this capture opens, in bits 8-11 (SLS_CAPTURE_TRACK(m)). An
 * existing tracker keeps the mechanism it was opened with. */
#define SLS_CAPTURE_TRACK_AUTO      0 /* uffd write-protect if available, else soft-dirty, else digest */
#define SLS_CAPTURE_TRACK_SOFTDIRTY 1
#define SLS_CAPTURE_TRACK_UFFD      2
#define SLS_CAPTURE_TRACK_DIGEST    3
#define SLS_CAPTURE_TRACK(mode)     (((mode) & 0xf) << 8)
#define SLS_CAPTURE_TRACK_MASK      0xf00
/*
 * Shadowing (with SLS_CAPTURE_DELTA, uffd tracking only): the pages of the epoch are not copied
 * while the processes are stopped. At the freeze the pages to take are write-protected with a
 * synchronous userfaultfd held by the engine, the processes are thawed at once, and the engine copies
 * those pages while they run; a write to a page not yet copied faults to the engine, which copies it
 * first and then lets the write proceed (user-space copy-on-write). The same faults are the dirty
 * tracking for the next epoch. sls_capture returns when every page is in the page file; stop_ns is
 * the stop only, total_ns the whole call. If the engine dies mid-copy its uffd closes and the kernel
 * drops every protection: the processes keep running. A tracker keeps the way it was opened (async
 * or synchronous): asking for shadowing on a process tracked without it (or the reverse) starts its
 * tracking over with a complete capture.
 */
#define SLS_CAPTURE_SHADOW          0x1000

struct sls_capture_stats {
    uint64_t stop_ns;    /* first freeze to last thaw */
    uint64_t page_bytes; /* bytes of page data written to the page file */
    uint32_t nprocs;
    uint32_t nthreads;
    uint32_t delta;       /* 1: the pages are relative to the previous delta capture; 0: complete */
    int32_t track_mode;   /* SLS_CAPTURE_TRACK_* of the first process's tracker; -1 without DELTA */
    uint64_t dirty_pages; /* delta: pages the trackers reported written (before zero/absent split) */
    uint64_t total_ns;    /* the whole call: first freeze to page file complete */
    uint32_t shadowed;    /* 1: pages were copied after the thaw (SLS_CAPTURE_SHADOW took effect) */
    uint32_t shadow_faults; /* writes that faulted to the engine for a page not yet copied */
};

/*
 * Freeze every thread of pids[0..npids) (and descendants with SLS_CAPTURE_RECURSIVE), capture their
 * complete state, thaw. Page data goes to page_path (created or truncated); the image — one record
 * per process, format in sls_image.h — goes to image_path. On failure every process has been thawed
 * unharmed (not stopped, not traced) and the caller deletes both files.
 */
int sls_capture(const int32_t *pids, int32_t npids, int32_t flags,
                const char *page_path, const char *image_path,
                struct sls_capture_stats *stats, char *err, size_t errlen);

/*
 * Raise the calling thread (only it: nice is per thread on Linux) to the nice value sls_capture
 * runs at, storing its previous nice in *saved_nice; sls_thread_unboost(saved) puts it back.
 * sls_capture boosts itself for its own duration; a caller whose work right after it (reading the
 * image it wrote) would otherwise wait behind the just-thawed target for the same CPU brackets both
 * with this pair. Returns 0, or a negative errno with nothing changed (no CAP_SYS_NICE: -EACCES or
 * -EPERM); a thread already at or above that priority is left as it is and reports 0.
 */
int sls_thread_boost(int32_t *saved_nice);

/* Sets the calling thread's nice back to saved_nice (from sls_thread_boost). 0 or a negative errno. */
int sls_thread_unboost(int32_t saved_nice);

/* Stops tracking pids[0..npids) (a partition forgot them): the next delta capture of such a pid is
 * complete. Returns the number of trackers closed (pids without one are ignored). */
int sls_forget_tracking(const int32_t *pids, int32_t npids);

/* The SLS_CAPTURE_TRACK_* mechanism tracking pid now, or -ENOENT if it has no tracker. */
int sls_tracking_mode(int32_t pid);

/* ---- restore ---------------------------------------------------------------------------- */

#define SLS_RESTORE_DETACHED 0x1 /* terminal stdio -> /dev/null, new session */
#define SLS_RESTORE_FORCE    0x2 /* restore even if a mapped/open file changed since capture */
/*
 * Re-establish dirty-page tracking (since ABI 4): every restored process gets the engine's tracker
 * (the table SLS_CAPTURE_DELTA uses) while it is still held under ptrace, before it runs a single
 * instruction, so its memory as restored is the baseline and the next SLS_CAPTURE_DELTA of it is a
 * delta relative to the restored epoch. The mechanism is in bits 8-11 (SLS_CAPTURE_TRACK_* values),
 * as for capture: SLS_RESTORE_TRACK(SLS_CAPTURE_TRACK_AUTO). A tracker that cannot be opened does
 * not fail the restore: that process runs untracked (its next delta capture is complete) and, on
 * success, err holds one line naming it and why (err is "" when every process is tracked).
 */
#define SLS_RESTORE_TRACK_ON 0x4
#define SLS_RESTORE_TRACK(mode) (SLS_RESTORE_TRACK_ON | (((mode) & 0xf) << 8))
#define SLS_RESTORE_TRACK_MASK 0xf00
/* With SLS_RESTORE_TRACK (uffd or auto): the synchronous tracker SLS_CAPTURE_SHADOW captures use, so
 * the next shadowed delta of a restored process continues the chain (an async tracker would make it
 * start over with a complete epoch). */
#define SLS_RESTORE_TRACK_SHADOW 0x8

/* Where the contents of [addr, addr+len) of process `pid` (its PID at capture) are: files[file] at offset. */
struct sls_page_segment {
    int32_t pid;
    int32_t file;
    uint64_t addr;
    uint64_t len;
    uint64_t offset;
};

/*
 * Rebuild every process whose record is in image_path (records as sls_capture wrote them, possibly a
 * subset). Page contents come only from segs (a delta chain is already composed by the caller); the
 * page runs inside the records are ignored. seed_path is the sls-seed binary. On success writes
 * (original pid, new pid) pairs into pid_pairs[2*max_procs] and returns the number of processes; the
 * processes run, are not traced and are not children of the caller. On failure nothing of them
 * remains. On success err is "" or a note (SLS_RESTORE_TRACK: a process left untracked).
 */
int sls_restore(const char *image_path,
                const struct sls_page_segment *segs, int32_t nsegs,
                const char *const *files, int32_t nfiles,
                int32_t flags, const char *seed_path,
                int32_t *pid_pairs, int32_t max_procs,
                char *err, size_t errlen);

#endif /* SLSNATIVE_H */
