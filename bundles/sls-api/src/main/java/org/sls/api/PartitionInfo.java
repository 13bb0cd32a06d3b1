package org.sls.api;

import java.util.List;
import org.sls.api.engine.DirtyTracking;

/**
 * A partition as {@code sls:partitions} shows it.
 *
 * @param lastStopNanos stop time (freeze to thaw) of the newest checkpoint, or -1 if none
 * @param lastError the last checkpoint error, or null
 * @param lastEpoch the newest committed epoch, or -1 if none
 * @param lastTracking the mechanism the engine used for the newest checkpoint ({@link DirtyTracking#NONE}
 *                     for a complete capture, null if this partition has no checkpoint since SLS started)
 * @param lastShadowed whether the newest checkpoint copied its pages after the thaw
 * @param lastShadowFaults writes that faulted to the engine during the newest checkpoint's shadow copy
 */
public record PartitionInfo(PartitionSpec spec, List<Integer> pids, PartitionState state,
                            long epochsTaken, long epochsSkipped, long lastStopNanos,
                            String lastError, long lastEpoch, DirtyTracking lastTracking,
                            boolean lastShadowed, long lastShadowFaults) {
    public PartitionInfo {
        pids = List.copyOf(pids);
    }

    /** Without a record of the newest checkpoint's tracking. */
    public PartitionInfo(PartitionSpec spec, List<Integer> pids, PartitionState state,
                         long epochsTaken, long epochsSkipped, long lastStopNanos,
                         String lastError, long lastEpoch) {
        this(spec, pids, state, epochsTaken, epochsSkipped, lastStopNanos, lastError, lastEpoch, null, false, 0);
    }

    public long oid() {
        return spec.oid();
    }
}
