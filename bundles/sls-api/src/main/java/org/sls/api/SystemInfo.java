package org.sls.api;

import java.util.List;
import java.util.Map;

/**
 * What {@code sls:info} shows.
 *
 * @param engineVersion the native engine's version, or null when no engine is registered
 * @param kernelFeatures feature name to what was detected ("yes", "no", or a detail); empty without engine
 */
public record SystemInfo(String engineVersion, Map<String, String> kernelFeatures,
                         List<String> backends, List<String> strategies) {
    public SystemInfo {
        kernelFeatures = Map.copyOf(kernelFeatures);
        backends = List.copyOf(backends);
        strategies = List.copyOf(strategies);
    }
}
