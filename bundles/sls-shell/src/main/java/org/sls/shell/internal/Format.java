package org.sls.shell.internal;

import java.util.List;
import org.sls.api.PartitionInfo;
import org.sls.api.PartitionSpec;
import org.sls.api.engine.DirtyTracking;

/** Small formatting helpers shared by the commands. */
final class Format {

    private Format() {
    }

    static String period(long ms) {
        return ms > 0 ? ms + " ms" : "on demand";
    }

    static String nanos(long ns) {
        if (ns < 0) {
            return "-";
        }
        if (ns < 10_000_000L) {
            return String.format("%.3f ms", ns / 1e6);
        }
        return String.format("%.1f ms", ns / 1e6);
    }

    static String bytes(long b) {
        if (b < 1024) {
            return b + " B";
        }
        if (b < 1024 * 1024) {
            return String.format("%.1f KiB", b / 1024.0);
        }
        if (b < 1024L * 1024 * 1024) {
            return String.format("%.1f MiB", b / (1024.0 * 1024));
        }
        return String.format("%.2f GiB", b / (1024.0 * 1024 * 1024));
    }

    static String pids(List<Integer> pids) {
        return pids.isEmpty() ? "-" : String.join(",", pids.stream().map(String::valueOf).toList());
    }

    /** ", tracking uffd, shadowing" for a delta partition's partadd answer; empty for a full one. */
    static String trackingRequested(PartitionSpec spec) {
        if (spec.tracking() == DirtyTracking.NONE) {
            return "";
        }
        return ", tracking " + PartitionSpec.trackingName(spec.tracking()) + (spec.shadow() ? ", shadowing" : "");
    }

    /**
     * The tracking asked for and, after a checkpoint, the one the engine used: "auto→uffd"; "-" for a
     * full partition; "auto→none" when the newest epoch was complete without a tracker.
     */
    static String tracking(PartitionInfo p) {
        DirtyTracking asked = p.spec().tracking();
        if (asked == DirtyTracking.NONE) {
            return "-";
        }
        String name = PartitionSpec.trackingName(asked);
        return p.lastTracking() == null ? name : name + "→" + PartitionSpec.trackingName(p.lastTracking());
    }

    /** "off", "on", or after a checkpoint whether the newest one was shadowed and how many writes faulted. */
    static String shadow(PartitionInfo p) {
        if (!p.spec().shadow()) {
            return "off";
        }
        if (p.lastTracking() == null) {
            return "on";
        }
        return p.lastShadowed() ? "on, " + p.lastShadowFaults() + " faults" : "on, not used last epoch";
    }
}
