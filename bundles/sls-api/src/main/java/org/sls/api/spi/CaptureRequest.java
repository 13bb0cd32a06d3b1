package org.sls.api.spi;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import org.sls.api.engine.DirtyTracking;

/**
 * One checkpoint to capture: the partition's attached PIDs (with {@code recursive}, their descendants
 * too), the page file to write, the partition's previous epoch (-1 if none) for delta strategies, and
 * the partition's tracking mechanism and shadowing choice (which full strategies ignore).
 */
public record CaptureRequest(long oid, List<Integer> pids, boolean recursive, Path pageFile, long previousEpoch,
                             DirtyTracking tracking, boolean shadow) {
    public CaptureRequest {
        pids = List.copyOf(pids);
        Objects.requireNonNull(tracking, "tracking");
    }

    /** With the default tracking ({@link DirtyTracking#AUTO}) and no shadowing. */
    public CaptureRequest(long oid, List<Integer> pids, boolean recursive, Path pageFile, long previousEpoch) {
        this(oid, pids, recursive, pageFile, previousEpoch, DirtyTracking.AUTO, false);
    }
}
