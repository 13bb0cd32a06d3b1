package org.sls.api.spi;

import org.sls.api.image.CheckpointImage;

/**
 * What a strategy captured. {@code parentEpoch} is -1 for a self-contained (full) image.
 */
public record CaptureOutcome(CheckpointImage image, long parentEpoch, long stopNanos) {
}
