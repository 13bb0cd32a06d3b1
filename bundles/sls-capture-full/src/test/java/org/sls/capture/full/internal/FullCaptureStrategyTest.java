package org.sls.capture.full.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.sls.api.RestoredProcess;
import org.sls.api.engine.CaptureResult;
import org.sls.api.engine.CaptureSpec;
import org.sls.api.engine.CheckpointEngine;
import org.sls.api.engine.RestoreSpec;
import org.sls.api.image.CheckpointImage;
import org.sls.api.spi.CaptureOutcome;
import org.sls.api.spi.CaptureRequest;

class FullCaptureStrategyTest {

    @Test
    void asksTheEngineForEveryPageAndProducesASelfContainedEpoch() {
        AtomicReference<CaptureSpec> seen = new AtomicReference<>();
        CheckpointImage image = new CheckpointImage(List.of());
        CheckpointEngine engine = new CheckpointEngine() {
            @Override
            public String version() {
                return "test";
            }

            @Override
            public Map<String, String> kernelFeatures() {
                return Map.of();
            }

            @Override
            public CaptureResult capture(CaptureSpec spec) {
                seen.set(spec);
                return new CaptureResult(image, 1234, 0);
            }

            @Override
            public List<RestoredProcess> restore(RestoreSpec spec) {
                throw new UnsupportedOperationException();
            }
        };
        CaptureOutcome out = new FullCaptureStrategy().capture(
                new CaptureRequest(3, List.of(10, 11), true, Path.of("/tmp/pages"), 7), engine);
        assertEquals(List.of(10, 11), seen.get().pids());
        assertEquals(true, seen.get().recursive());
        assertEquals(Path.of("/tmp/pages"), seen.get().pageFile());
        assertSame(image, out.image());
        assertEquals(-1, out.parentEpoch(), "a full epoch depends on no other epoch");
        assertEquals(1234, out.stopNanos());
    }
}
