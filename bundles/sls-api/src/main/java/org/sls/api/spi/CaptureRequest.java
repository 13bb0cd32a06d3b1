package org.sls.api.spi;

import java.nio.file.Path;
import java.util.List;

/**
 * One checkpoint to capture: the partition's attached PIDs (with {@code recursive}, their descendants
 * too), the page file to write, and the partition's previous epoch (-1 if none) for delta strategies.
 */
public record CaptureRequest(long oid, List<Integer> pids, boolean recursive, Path pageFile, long previousEpoch) {
    public CaptureRequest {
        pids = List.copyOf(pids);
    }
}
