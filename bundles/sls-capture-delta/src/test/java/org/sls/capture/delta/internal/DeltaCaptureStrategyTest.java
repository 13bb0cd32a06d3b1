package org.sls.capture.delta.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sls.api.SlsException;
import org.sls.api.spi.CaptureRequest;

class DeltaCaptureStrategyTest {

    @Test
    void refusesWithAClearLineInsteadOfPretending() {
        DeltaCaptureStrategy s = new DeltaCaptureStrategy();
        assertEquals("delta", s.name());
        SlsException e = assertThrows(SlsException.class,
                () -> s.capture(new CaptureRequest(4, List.of(1), false, Path.of("/nonexistent"), -1), null));
        assertTrue(e.getMessage().startsWith("partition 4: delta capture is not available yet"), e.getMessage());
    }
}
