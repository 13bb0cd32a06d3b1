package org.sls.api.engine;

import java.util.List;
import java.util.Objects;

/**
 * @param detached terminal stdin/stdout/stderr go to /dev/null and the processes get a new session
 * @param force restore even if a file changed since the checkpoint
 * @param tracking {@link DirtyTracking#NONE}, or the mechanism with which the engine starts tracking
 *                 each restored process's written pages before it runs, so that its next delta capture
 *                 is relative to the restored epoch (an engine that cannot leaves it untracked: that
 *                 capture is then complete)
 * @param shadow   the partition's captures are shadowed: track with the synchronous tracker those use,
 *                 so the next shadowed delta continues the chain (needs uffd or auto tracking)
 */
public record RestoreSpec(List<RestoreProcess> processes, boolean detached, boolean force, DirtyTracking tracking,
                          boolean shadow) {
    public RestoreSpec {
        processes = List.copyOf(processes);
        Objects.requireNonNull(tracking, "tracking");
        if (shadow && tracking != DirtyTracking.AUTO && tracking != DirtyTracking.UFFD) {
            throw new IllegalArgumentException("a shadowed restore needs uffd or auto tracking, not " + tracking);
        }
    }

    /** A restore that tracks without shadowing. */
    public RestoreSpec(List<RestoreProcess> processes, boolean detached, boolean force, DirtyTracking tracking) {
        this(processes, detached, force, tracking, false);
    }

    /** A restore that leaves the processes untracked. */
    public RestoreSpec(List<RestoreProcess> processes, boolean detached, boolean force) {
        this(processes, detached, force, DirtyTracking.NONE);
    }
}
