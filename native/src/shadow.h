/*
 * shadow.h — SLS_CAPTURE_SHADOW: synchronous userfaultfd write-protect copy-on-write (shadow.c).
 *
 * Two halves:
 *   fault server  one thread per synchronous uffd tracker (track_uffd.c opens it with SLS_TRACK_SYNC)
 *                 that serves the target's write faults for as long as the tracker lives: every
 *                 fault is recorded as a written page (the dirty tracking of the next collect) and
 *                 unprotected; during a shadow copy a fault on a page not yet copied copies it first.
 *   shadow copy   one per sls_capture: after the stop planned the page copies, the ones inside
 *                 protected regions are left to shadow_copy, which runs after the thaw.
 */
#ifndef SLS_SHADOW_H
#define SLS_SHADOW_H

#include "track.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sls_fault_server;
struct sls_shadow;
struct sls_capture_ctx;

/* Starts serving uffd (the engine's copy, registered MODE_WP without WP_ASYNC) of pid. */
int sls_fault_server_start(pid_t pid, int uffd, struct sls_fault_server **out, char *err, size_t errlen);
/* Stops the thread and frees the server (does not close uffd). */
void sls_fault_server_stop(struct sls_fault_server *s);
/* Hands over (and empties) what happened since the last call: pages written (faulted, or discarded
 * by MADV_DONTNEED: reported as written) and ranges unmapped or moved away (their VMAs are new to the
 * next collect). Returns 0 or -ENOMEM (then both lists are dropped and *lost is set: forget). */
int sls_fault_server_take(struct sls_fault_server *s, struct sls_track_range_list *written,
                          struct sls_track_range_list *touched);

/*
 * Inside the freeze, after every process's copies were planned: marks the copies that can wait
 * (readable, of a process with a synchronous tracker, outside every untracked whole range of its
 * delta) as shadowed and hands them to the processes' fault servers. trackers[i]/deltas[i]: per
 * frozen process (NULL trackers are skipped). *out is NULL when nothing is shadowed.
 */
int sls_shadow_begin(struct sls_capture_ctx *c, struct sls_tracker *const *trackers,
                     const struct sls_track_delta *deltas, size_t n, struct sls_shadow **out);
/* Still frozen, after the other copies (the page file is mapped for good): the fault servers copy
 * a shadowed page before they let a write to it proceed. */
void sls_shadow_arm(struct sls_shadow *sh, unsigned char *page_map);
/* After the thaw: copies every shadowed page not copied by a fault yet, then takes the copies back
 * from the fault servers. Returns 0 or a negative code with c->err set (a page that went away —
 * unmapped or discarded by the process before it was copied — fails the capture). */
int sls_shadow_copy(struct sls_capture_ctx *c, struct sls_shadow *sh);
/* Frees sh (after sls_shadow_copy, or on a failed capture before the thaw: takes the copies back). */
void sls_shadow_free(struct sls_shadow *sh);
uint64_t sls_shadow_faults(const struct sls_shadow *sh);
uint64_t sls_shadow_pages(const struct sls_shadow *sh);

#endif
