/*
 * track.h — dirty-page tracking for delta epochs and pre-copy (internal engine API, not JNA).
 *
 * One tracker per process. It answers one question per collect: which pages of the process may
 * differ from what the previous collect (or the open) saw. Three mechanisms, chosen at open:
 *
 *   SLS_TRACK_UFFD       userfaultfd write-protect in async mode + PAGEMAP_SCAN (Linux >= 6.7).
 *                        A uffd is created inside the target by syscall injection, pulled into the
 *                        engine with pidfd_getfd and closed in the target (nothing stays in its fd
 *                        table); every private region that accepts it is registered MODE_WP and
 *                        write-protected. A collect is one PAGEMAP_SCAN per run of registered VMAs
 *                        that returns the written pages and re-protects them atomically, so it is
 *                        exact even while the target runs. Writes are never blocked (async mode), and when
 *                        the engine dies its uffd closes and the kernel drops all tracking.
 *   SLS_TRACK_SOFTDIRTY  clear_refs "4" + pagemap bit 55, where the kernel has CONFIG_MEM_SOFT_DIRTY.
 *                        Reading the bits and clearing them are two steps, so a collect needs the
 *                        target frozen (SLS_TRACK_COLLECT_RUNNING is refused).
 *   SLS_TRACK_DIGEST     a 64-bit hash of every page, compared at each collect; works everywhere,
 *                        costs a full read of the present pages per collect.
 *   SLS_TRACK_AUTO       UFFD if available, else SOFTDIRTY, else DIGEST. UFFD is preferred over
 *                        soft-dirty because its scan-and-reprotect is atomic (pre-copy while running).
 *                        A process the better one fails for (one at its open-file limit cannot
 *                        be given a uffd) gets the next; sls_track_passed_over says why.
 *
 * What a collect reports (struct sls_track_delta), page-aligned, sorted, disjoint from each other:
 *   dirty  pages written since the last collect, inside regions the tracker already knew. A dirty
 *          page that is not present now was discarded (MADV_DONTNEED and the like): it reads as
 *          zeros and the epoch must say so.
 *   whole  regions the previous collect did not describe — new, moved (mremap), grown, or replaced
 *          at the same address — and regions the tracker cannot track (shared mappings, regions that
 *          refuse registration, huge reservations). Take every present page of these; pages older
 *          epochs hold at these addresses must not show through (absent = zero).
 * Everything outside dirty ∪ whole is unchanged since the last collect (or was unmapped: the
 * capture's own map of this epoch says which regions exist). DIGEST judges by contents, so it
 * reports a replaced or regrown region's changed pages as dirty rather than the region as whole —
 * as correct, since every page it does not report is byte for byte what the last collect saw. [vdso], [vvar], [vvar_vclock] and
 * [vsyscall] are never reported.
 *
 * How capture uses it
 *   First (full) epoch:   freeze; sls_track_open(proc); capture everything; thaw.
 *     or, shorter stops:  at attach: freeze; sls_track_open(proc, mode | SLS_TRACK_LAZY); thaw;
 *                         sls_track_collect(RUNNING) (drop the report: all whole). First epoch:
 *                         freeze; sls_track_collect (drop it); capture everything; thaw.
 *   Delta epoch:          freeze; sls_track_collect(t, &d, 0); capture process state and the pages
 *                         in d.dirty ∪ d.whole (present pages only; dirty-but-absent = zero); thaw.
 *   Pre-copy epoch:       while running: sls_track_collect(t, &d1, SLS_TRACK_COLLECT_RUNNING), copy
 *                         d1's pages into the epoch's staging area (DIGEST: then call
 *                         sls_track_note_copied for each copied run); freeze; sls_track_collect(t,
 *                         &d2, 0); copy d2's pages over the staged ones (d2 is small: only what was
 *                         written meanwhile); capture process state; thaw. The epoch is d1 ∪ d2 with
 *                         d2's copies winning, restricted to the VMAs that exist at the freeze.
 *   Failed epoch:         sls_track_forget(t): the next collect reports everything as whole.
 *   After a restore:      freeze the restored process, sls_track_open, thaw (its memory is the
 *                         restored epoch, so the next delta is relative to it).
 *
 * Costs (benchmarks/tracking/run.sh on this 2-core machine, shared and loaded; see
 * benchmarks/tracking/results.md): uffd open (initial protect) 1-2 ms for 64 MiB, 13-35 ms for
 * 1 GiB (with SLS_TRACK_LAZY the open's stop is the injection only); uffd collect 60-200 us for
 * 64 MiB, 0.6-1.8 ms for 1 GiB; digest collect 23-40 ms for 64 MiB, 0.35-0.9 s for 1 GiB (a full
 * read). A tracked process pays an async write-protect fault, about 1-2 us, for the first write to
 * each page after a collect. Closing a uffd tracker makes the kernel clear its protections (about
 * 25-45 ms per GiB): close outside a freeze.
 *
 * Limits: shared mappings are always whole (other processes write them unseen); uffd tracking
 * splits transparent huge pages; a registered region shrunk and regrown in place by mremap between
 * two collects is not seen as changed by uffd/soft-dirty (the regrown pages read as zeros but are not
 * reported; digest sees it); a process that execs needs a new tracker (collects on the old one fail
 * with -ESRCH and say so).
 *
 * Threads: sls_track_open injects through the frozen process's main thread, so it must run on the
 * thread that froze it. Collect and close use no ptrace and can run on any thread, frozen or not.
 * Errors: functions return 0 (or a count) or a negative errno code with one line in err.
 */
#ifndef SLS_TRACK_H
#define SLS_TRACK_H

#include "freeze.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SLS_TRACK_AUTO      0
#define SLS_TRACK_SOFTDIRTY 1
#define SLS_TRACK_UFFD      2
#define SLS_TRACK_DIGEST    3

/* Or'ed into the mode of sls_track_open: only create the tracker (uffd: two injected syscalls) and
 * leave the first pass — registering and protecting every region (uffd, 13-35 ms per GiB), hashing
 * every page (digest) — to the first collect, which then reports everything whole and can run while
 * the process runs. Use it when tracking starts at attach time (1 GiB: 5 ms stop instead of 34). */
#define SLS_TRACK_LAZY 0x100

/* Or'ed into the mode of sls_track_open, UFFD only: a synchronous write-protect uffd (no WP_ASYNC)
 * whose faults a fault server thread of the engine serves for as long as the tracker lives, so a
 * capture can shadow (SLS_CAPTURE_SHADOW, shadow.c). Every first write to a page after a collect
 * waits for the engine (~60 us instead of 1-2). Refused (EPERM) for a target whose uffd could only
 * trap user-mode faults: a kernel-mode write (read(2) into a protected buffer) would fail EFAULT. */
#define SLS_TRACK_SYNC 0x200

/* Collect flags. */
#define SLS_TRACK_COLLECT_RUNNING 0x1 /* the target is not frozen (pre-copy pass) */

/* Why a whole range is reported. */
#define SLS_TRACK_WHOLE_NEW       1 /* new, moved, grown or replaced since the last collect */
#define SLS_TRACK_WHOLE_UNTRACKED 2 /* shared, refuses tracking, or a huge reservation: every time */

struct sls_track_range {
    uint64_t start;
    uint64_t end;    /* exclusive, page-aligned */
    uint32_t reason; /* whole ranges: SLS_TRACK_WHOLE_*; dirty ranges: 0 */
};

struct sls_track_range_list {
    struct sls_track_range *v;
    size_t n, cap;
};

/* Appends [start, end) with reason to l, merging it into the last range when it continues it with
 * the same reason. 0, or -ENOMEM (l unchanged). */
int sls_track_range_add(struct sls_track_range_list *l, uint64_t start, uint64_t end, uint32_t reason);

struct sls_track_delta {
    struct sls_track_range_list dirty;
    struct sls_track_range_list whole;
    uint64_t dirty_pages;  /* pages in dirty */
    uint64_t whole_bytes;  /* bytes in whole (address space, not necessarily present) */
    uint64_t tracked_bytes;/* address space the tracker watched in this collect */
    uint64_t collect_ns;   /* time the collect took */
};

struct sls_tracker;
struct sls_fault_server;

/* 1 if mode works on this kernel for this engine (SLS_TRACK_AUTO: if any does, i.e. always). */
int sls_track_available(int mode);

/* "uffd", "soft-dirty", "digest", "auto"; "?" for anything else. */
const char *sls_track_mode_name(int mode);

/* The mechanism AUTO resolves to on this kernel. */
int sls_track_auto_mode(void);

/* Probe lines for sls_probe / sls:info, e.g.
 *   "dirty_tracking=uffd\ndirty_tracking_available=uffd,digest\n"
 * Writes at most len bytes (NUL-terminated); returns the length written. */
int sls_track_describe(char *buf, size_t len);

/*
 * Starts tracking process p, which must be frozen by the calling thread (sls_freeze). Everything
 * the process holds now is the baseline: the first collect reports what changes after this call.
 * mode: SLS_TRACK_*, optionally | SLS_TRACK_LAZY; an unavailable mode is refused with a line
 * saying why.
 */
int sls_track_open(struct sls_frozen_proc *p, int mode, struct sls_tracker **out,
                   char *err, size_t errlen);

/* The mechanism an open tracker uses (never AUTO) and the pid it tracks. */
int sls_track_mode(const struct sls_tracker *t);
pid_t sls_track_pid(const struct sls_tracker *t);

/* The fault server of a SLS_TRACK_SYNC tracker, or NULL (shadow.h). */
struct sls_fault_server *sls_track_fault_server(const struct sls_tracker *t);

/* AUTO only: "" if the best available mechanism was taken, else one line saying which better one
 * failed for this process and why (e.g. "uffd: pid 12: userfaultfd() in the target failed: Too
 * many open files"), for the partition's status. */
const char *sls_track_passed_over(const struct sls_tracker *t);

/*
 * Reports into d (its lists are reset, their memory reused) what changed since the last collect or
 * the open, and makes the current state the new baseline. flags: SLS_TRACK_COLLECT_*.
 * When a collect fails part-way the tracker has forgotten its baseline (as sls_track_forget), so the
 * next successful collect reports everything as whole: no change is ever lost. (A refused call —
 * no tracker, or RUNNING in soft-dirty mode — changes nothing.)
 */
int sls_track_collect(struct sls_tracker *t, struct sls_track_delta *d, int flags,
                      char *err, size_t errlen);

/*
 * DIGEST pre-copy: the capture copied [addr, addr + len) (page-aligned) into buf while the process
 * ran; the baseline for those pages becomes exactly these bytes, so a write racing the copy is
 * reported by the next collect. Other modes need no such note (no-op).
 */
void sls_track_note_copied(struct sls_tracker *t, uint64_t addr, const void *buf, uint64_t len);

/* Drops the baseline: the next collect reports every region as whole (use after a failed epoch). */
void sls_track_forget(struct sls_tracker *t);

/* Stops tracking and frees t (UFFD: closing the engine's uffd makes the kernel drop all tracking). */
void sls_track_close(struct sls_tracker *t);

void sls_track_delta_free(struct sls_track_delta *d);

#endif
