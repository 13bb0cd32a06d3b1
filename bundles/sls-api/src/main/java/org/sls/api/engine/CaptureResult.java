package org.sls.api.engine;

import org.sls.api.image.CheckpointImage;

/**
 * @param stopNanos time from the first freeze to the last thaw
 * @param delta     true if the pages are only those written since the engine's previous delta capture
 *                  of the same processes (the image needs that epoch as its parent); false for a
 *                  complete image
 */
public record CaptureResult(CheckpointImage image, long stopNanos, long pageBytes, boolean delta) {

    /** A complete image. */
    public CaptureResult(CheckpointImage image, long stopNanos, long pageBytes) {
        this(image, stopNanos, pageBytes, false);
    }
}
