package org.sls.api.spi;

import org.sls.api.engine.CheckpointEngine;

/**
 * Decides which pages an epoch takes. Registered with property {@value #PROPERTY} = {@code full} or
 * {@code delta}. A strategy that cannot capture yet throws {@link org.sls.api.SlsException} saying so.
 */
public interface CaptureStrategy {

    String PROPERTY = "sls.capture";

    String name();

    CaptureOutcome capture(CaptureRequest request, CheckpointEngine engine);

    /** The partition is gone or its processes left it: drop whatever tracking state is kept for it. */
    default void forget(long oid) {
    }
}
