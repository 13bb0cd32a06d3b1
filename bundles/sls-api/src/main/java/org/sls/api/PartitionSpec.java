package org.sls.api;

import java.util.Objects;

/**
 * What an operator asked for in {@code sls:partadd}: the partition's OID, the backend that stores its
 * epochs, the capture mode and the checkpoint period (0 = checkpoints only on demand).
 */
public record PartitionSpec(long oid, String backend, CaptureMode mode, long periodMs) {
    public PartitionSpec {
        if (oid <= 0) {
            throw new SlsException("OID must be a positive integer, got " + oid);
        }
        if (backend == null || backend.isBlank()) {
            throw new SlsException("a backend is required (-b slos or -b memory)");
        }
        Objects.requireNonNull(mode, "mode");
        if (periodMs < 0) {
            throw new SlsException("checkpoint period must not be negative, got " + periodMs + " ms");
        }
    }

    public boolean periodic() {
        return periodMs > 0;
    }
}
