package org.sls.api;

import java.util.List;
import java.util.Map;

/**
 * What {@code sls:info} shows.
 *
 * @param engineVersion the native engine's version, or null when no engine is registered
 * @param kernelFeatures feature name to what was detected ("yes", "no", or a detail); empty without engine
 * @param trackingAvailable the dirty-tracking mechanisms this kernel and engine offer (shell names:
 *                          uffd, soft-dirty, digest), best first; empty when unknown
 * @param trackingAuto the mechanism {@code --tracking auto} picks, or null when unknown
 * @param shadowing whether copy-on-write shadowing is available: "yes", or "no" with the reason
 */
public record SystemInfo(String engineVersion, Map<String, String> kernelFeatures,
                         List<String> backends, List<String> strategies,
                         List<String> trackingAvailable, String trackingAuto, String shadowing) {
    public SystemInfo {
        kernelFeatures = Map.copyOf(kernelFeatures);
        backends = List.copyOf(backends);
        strategies = List.copyOf(strategies);
        trackingAvailable = List.copyOf(trackingAvailable);
    }

    /** Without the tracking summary. */
    public SystemInfo(String engineVersion, Map<String, String> kernelFeatures,
                      List<String> backends, List<String> strategies) {
        this(engineVersion, kernelFeatures, backends, strategies, List.of(), null, "unknown");
    }
}
