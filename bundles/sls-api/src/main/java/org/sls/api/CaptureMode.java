package org.sls.api;

import java.util.Locale;

/** How a partition's epochs are captured: every present page, or only pages written since the previous epoch. */
public enum CaptureMode {
    FULL, DELTA;

    /** The strategy name a {@link org.sls.api.spi.CaptureStrategy} registers under ({@code sls.capture}). */
    public String strategyName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static CaptureMode fromStrategyName(String name) {
        for (CaptureMode m : values()) {
            if (m.strategyName().equals(name)) {
                return m;
            }
        }
        throw new SlsException("unknown capture mode '" + name + "' (expected full or delta)");
    }
}
