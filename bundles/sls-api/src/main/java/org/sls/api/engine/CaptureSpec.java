package org.sls.api.engine;

import java.nio.file.Path;
import java.util.List;

/**
 * One capture for the engine: freeze {@code pids} (with {@code recursive}, their descendants too),
 * take their state and every present page into {@code pageFile}, thaw.
 */
public record CaptureSpec(List<Integer> pids, boolean recursive, Path pageFile) {
    public CaptureSpec {
        pids = List.copyOf(pids);
    }
}
