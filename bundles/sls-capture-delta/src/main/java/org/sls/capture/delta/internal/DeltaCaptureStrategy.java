package org.sls.capture.delta.internal;

import org.osgi.service.component.annotations.Component;
import org.sls.api.SlsException;
import org.sls.api.engine.CheckpointEngine;
import org.sls.api.spi.CaptureOutcome;
import org.sls.api.spi.CaptureRequest;
import org.sls.api.spi.CaptureStrategy;

/**
 * Delta epochs: only pages written since the partition's previous epoch. The engine has no
 * dirty-page tracking yet (userfaultfd write-protect + PAGEMAP_SCAN, or page digests), so this
 * strategy refuses instead of silently taking full copies under a delta label.
 */
@Component(service = CaptureStrategy.class, property = CaptureStrategy.PROPERTY + "=delta")
public class DeltaCaptureStrategy implements CaptureStrategy {

    static final String NOT_AVAILABLE = "delta capture is not available yet: the engine has no dirty-page"
            + " tracking; create the partition without -d for full checkpoints";

    @Override
    public String name() {
        return "delta";
    }

    @Override
    public CaptureOutcome capture(CaptureRequest request, CheckpointEngine engine) {
        throw new SlsException("partition " + request.oid() + ": " + NOT_AVAILABLE);
    }
}
