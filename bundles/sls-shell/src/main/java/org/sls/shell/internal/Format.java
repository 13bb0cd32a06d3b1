package org.sls.shell.internal;

import java.util.List;

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
}
