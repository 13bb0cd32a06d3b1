package org.sls.api;

import java.util.List;

/**
 * A partition as {@code sls:partitions} shows it.
 *
 * @param lastStopNanos stop time (freeze to thaw) of the newest checkpoint, or -1 if none
 * @param lastError the last checkpoint error, or null
 * @param lastEpoch the newest committed epoch, or -1 if none
 */
public record PartitionInfo(PartitionSpec spec, List<Integer> pids, PartitionState state,
                            long epochsTaken, long epochsSkipped, long lastStopNanos,
                            String lastError, long lastEpoch) {
    public PartitionInfo {
        pids = List.copyOf(pids);
    }

    public long oid() {
        return spec.oid();
    }
}
