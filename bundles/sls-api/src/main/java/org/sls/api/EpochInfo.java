package org.sls.api;

import java.time.Instant;

/**
 * One committed checkpoint of a partition.
 *
 * @param parentEpoch for a delta epoch, the epoch its unchanged pages come from; -1 for a full epoch
 * @param sizeBytes bytes this epoch stores itself (records + page data it did not share)
 * @param pageBytes bytes of page data the epoch's image covers
 */
public record EpochInfo(long oid, long epoch, Instant time, CaptureMode mode, long parentEpoch,
                        int processes, long sizeBytes, long pageBytes, long stopNanos) {
}
