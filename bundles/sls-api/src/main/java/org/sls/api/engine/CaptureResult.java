package org.sls.api.engine;

import org.sls.api.image.CheckpointImage;

/** @param stopNanos time from the first freeze to the last thaw */
public record CaptureResult(CheckpointImage image, long stopNanos, long pageBytes) {
}
