package org.sls.api.spi;

import org.sls.api.CaptureMode;
import org.sls.api.image.CheckpointImage;

/**
 * What a backend commits for one epoch: the image (whose page runs point into the writer's
 * {@link EpochWriter#pageFile()}), and for a delta epoch the epoch its other pages come from.
 */
public record EpochRecord(long oid, long epoch, CaptureMode mode, long parentEpoch, long stopNanos,
                          CheckpointImage image) {
}
