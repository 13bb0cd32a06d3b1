package org.sls.capture.full.internal;

import org.osgi.service.component.annotations.Component;
import org.sls.api.engine.CaptureResult;
import org.sls.api.engine.CaptureSpec;
import org.sls.api.engine.CheckpointEngine;
import org.sls.api.engine.DirtyTracking;
import org.sls.api.spi.CaptureOutcome;
import org.sls.api.spi.CaptureRequest;
import org.sls.api.spi.CaptureStrategy;

/** Every epoch is self-contained: the engine takes every present page of every process. */
@Component(service = CaptureStrategy.class, property = CaptureStrategy.PROPERTY + "=full")
public class FullCaptureStrategy implements CaptureStrategy {

    @Override
    public String name() {
        return "full";
    }

    @Override
    public CaptureOutcome capture(CaptureRequest request, CheckpointEngine engine) {
        CaptureResult r = engine.capture(new CaptureSpec(request.pids(), request.recursive(), request.pageFile()));
        return new CaptureOutcome(r.image(), -1, r.stopNanos(), DirtyTracking.NONE, false, 0);
    }
}
