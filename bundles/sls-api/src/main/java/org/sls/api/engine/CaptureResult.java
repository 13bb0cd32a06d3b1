package org.sls.api.engine;

import org.sls.api.image.CheckpointImage;

/**
 * @param stopNanos time from the first freeze to the last thaw
 * @param delta     true if the pages are only those written since the engine's previous delta capture
 *                  of the same processes (the image needs that epoch as its parent); false for a
 *                  complete image
 * @param tracking  the mechanism tracking the (first) process after this capture; {@link DirtyTracking#NONE}
 *                  for a capture that asked for no tracking
 * @param shadowed  the pages were copied after the thaw (shadowing took effect)
 * @param shadowFaults writes that faulted to the engine for a page it had not copied yet
 */
public record CaptureResult(CheckpointImage image, long stopNanos, long pageBytes, boolean delta,
                            DirtyTracking tracking, boolean shadowed, long shadowFaults) {

    /** Without tracking details. */
    public CaptureResult(CheckpointImage image, long stopNanos, long pageBytes, boolean delta) {
        this(image, stopNanos, pageBytes, delta, DirtyTracking.NONE, false, 0);
    }

    /** A complete image. */
    public CaptureResult(CheckpointImage image, long stopNanos, long pageBytes) {
        this(image, stopNanos, pageBytes, false);
    }
}
