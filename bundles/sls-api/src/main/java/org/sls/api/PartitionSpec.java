package org.sls.api;

import java.util.Objects;
import org.sls.api.engine.DirtyTracking;

/**
 * What an operator asked for in {@code sls:partadd}: the partition's OID, the backend that stores its
 * epochs, the capture mode, the checkpoint period (0 = checkpoints only on demand), and for delta
 * partitions the dirty-page tracking mechanism and whether the epoch's pages are copied after the thaw
 * (shadowing).
 *
 * @param tracking {@link DirtyTracking#NONE} for a full partition; for a delta partition the mechanism
 *                 asked for ({@link DirtyTracking#AUTO}: whatever the engine finds best)
 * @param shadow   copy-on-write shadowing: only for delta partitions with userfaultfd tracking (or auto)
 */
public record PartitionSpec(long oid, String backend, CaptureMode mode, long periodMs,
                            DirtyTracking tracking, boolean shadow) {
    public PartitionSpec {
        if (oid <= 0) {
            throw new SlsException("OID must be a positive integer, got " + oid);
        }
        if (backend == null || backend.isBlank()) {
            throw new SlsException("a backend is required (-b slos or -b memory)");
        }
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(tracking, "tracking");
        if (periodMs < 0) {
            throw new SlsException("checkpoint period must not be negative, got " + periodMs + " ms");
        }
        if (mode == CaptureMode.FULL && tracking != DirtyTracking.NONE) {
            throw new SlsException("dirty tracking (" + trackingName(tracking) + ") needs a delta partition (-d)");
        }
        if (mode == CaptureMode.DELTA && tracking == DirtyTracking.NONE) {
            throw new SlsException("a delta partition needs a dirty-tracking mechanism (auto, uffd, soft-dirty or digest)");
        }
        if (shadow && mode != CaptureMode.DELTA) {
            throw new SlsException("shadowing needs a delta partition (-d)");
        }
        if (shadow && tracking != DirtyTracking.AUTO && tracking != DirtyTracking.UFFD) {
            throw new SlsException("shadowing works only with userfaultfd tracking (--tracking uffd or auto), not "
                    + trackingName(tracking));
        }
    }

    /** A partition with the default tracking of its mode (auto for delta) and no shadowing. */
    public PartitionSpec(long oid, String backend, CaptureMode mode, long periodMs) {
        this(oid, backend, mode, periodMs, defaultTracking(mode), false);
    }

    public boolean periodic() {
        return periodMs > 0;
    }

    /** {@link DirtyTracking#AUTO} for delta, {@link DirtyTracking#NONE} for full. */
    public static DirtyTracking defaultTracking(CaptureMode mode) {
        return mode == CaptureMode.DELTA ? DirtyTracking.AUTO : DirtyTracking.NONE;
    }

    /** The name the shell uses for a mechanism: none, auto, uffd, soft-dirty, digest. */
    public static String trackingName(DirtyTracking t) {
        return t.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }

    /** The inverse of {@link #trackingName}. */
    public static DirtyTracking trackingFromName(String name) {
        for (DirtyTracking t : DirtyTracking.values()) {
            if (trackingName(t).equals(name)) {
                return t;
            }
        }
        throw new SlsException("unknown dirty tracking '" + name + "' (expected auto, uffd, soft-dirty or digest)");
    }
}
