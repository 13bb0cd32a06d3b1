package org.sls.api.spi;

import org.sls.api.engine.DirtyTracking;
import org.sls.api.image.CheckpointImage;

/**
 * What a strategy captured. {@code parentEpoch} is -1 for a self-contained (full) image.
 * {@code tracking}, {@code shadowed} and {@code shadowFaults} say how the engine took it
 * (see {@link org.sls.api.engine.CaptureResult}).
 */
public record CaptureOutcome(CheckpointImage image, long parentEpoch, long stopNanos,
                             DirtyTracking tracking, boolean shadowed, long shadowFaults) {

    /** A capture without tracking details. */
    public CaptureOutcome(CheckpointImage image, long parentEpoch, long stopNanos) {
        this(image, parentEpoch, stopNanos, DirtyTracking.NONE, false, 0);
    }
}
