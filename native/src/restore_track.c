/*
 * restore_track.c — SLS_RESTORE_TRACK: give every restored process its dirty-page tracker before it
 * runs, so the epoch after a restore is a delta relative to the restored epoch.
 *
 * A tracker opened after the process ran would miss what it wrote in between, so it is opened here,
 * while the seed is still held under ptrace with its memory exactly the restored epoch's (after the
 * gadget page is gone, before pending signals and final registers: every later write of the
 * restorer is then seen by the tracker, and all signals are still blocked, so the tracker's injected
 * calls take none). The tracker is the same kind capture opens (track.c) and goes into the same
 * table (engine_tracking.c) once the restore has succeeded; a failed restore closes it.
 *
 * Opening it is best effort: a process the tracker cannot be opened for is restored all the same
 * and runs untracked (its next delta capture is complete); the restore's note says which and why.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "engine_tracking.h"
#include "restore.h"
#include "track.h"

static void note_untracked(struct rst_ctx *c, struct rst_proc *p, const char *why)
{
    if (c->nuntracked++ == 0)
        snprintf(c->note, sizeof(c->note),
                 "pid %d restored untracked (its next delta capture is complete): %s",
                 p->new_pid, why);
}

void rst_open_tracking(struct rst_ctx *c, struct rst_proc *p)
{
    if (!(c->flags & SLS_RESTORE_TRACK_ON) || p->nthreads < 1)
        return;
    int mode = (c->flags & SLS_RESTORE_TRACK_MASK) >> 8;
    if (c->flags & SLS_RESTORE_TRACK_SHADOW)
        mode |= SLS_TRACK_SYNC; /* the tracker a shadowed capture continues from (shadow.c) */
    /* The main thread stands in for a frozen one: it is in the syscall-exit stop of the restorer's
     * last injection, which the capture's injector accepts. No CPU binding (pin_cpu -1). */
    struct sls_frozen_thread th;
    memset(&th, 0, sizeof(th));
    th.tid = p->threads[0].new_tid;
    th.stop_sig = SIGTRAP;
    th.pin_cpu = -1;
    struct sls_frozen_proc fp = { .pid = p->new_pid, .nthreads = 1, .cap = 1, .threads = &th };
    char why[256] = "";
    int rc = sls_track_open(&fp, mode, &p->tracker, why, sizeof(why));
    if (th.inj.tid) {
        char cerr[256] = "";
        if (sls_injector_close(&th.inj, cerr, sizeof(cerr)) && !rc) {
            /* a signal the injection took out could not be queued again: the tracker stays, the
             * process must not lose the signal silently */
            snprintf(why, sizeof(why), "%s", cerr);
            rc = -1;
            sls_track_close(p->tracker);
            p->tracker = NULL;
        }
    }
    if (rc) {
        p->tracker = NULL;
        note_untracked(c, p, why[0] ? why : "could not be opened");
    }
}

void rst_keep_tracking(struct rst_ctx *c)
{
    for (int i = 0; i < c->nprocs; i++) {
        struct rst_proc *p = &c->procs[i];
        if (!p->tracker)
            continue;
        /* sls_trackers_put closes a stale tracker of the same pid (the dead original's) */
        if (sls_trackers_put(p->tracker))
            note_untracked(c, p, "out of memory for the tracker table");
        p->tracker = NULL;
    }
    if (c->nuntracked > 1) {
        size_t n = strlen(c->note);
        snprintf(c->note + n, sizeof(c->note) - n, " (and %d more untracked)", c->nuntracked - 1);
    }
}

void rst_close_tracking(struct rst_ctx *c)
{
    for (int i = 0; i < c->nprocs; i++) {
        if (c->procs[i].tracker) {
            sls_track_close(c->procs[i].tracker);
            c->procs[i].tracker = NULL;
        }
    }
}
