package org.sls.api;

/**
 * {@code sls:restore}.
 *
 * @param epoch the epoch to restore, or -1 for the newest
 * @param detached stdin/stdout/stderr that pointed at a terminal go to /dev/null, new session
 * @param force restore even if a file changed since the checkpoint
 */
public record RestoreRequest(long oid, long epoch, boolean detached, boolean force) {
    public static RestoreRequest newest(long oid) {
        return new RestoreRequest(oid, -1, false, false);
    }
}
