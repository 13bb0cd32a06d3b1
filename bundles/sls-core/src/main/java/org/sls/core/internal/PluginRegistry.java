package org.sls.core.internal;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Plug-ins (backends, strategies) keyed by the value of their selecting service property. Unbinding
 * removes only the very service that is going away, so a replacement registered first is kept.
 */
final class PluginRegistry<T> {

    private final String property;
    private final ConcurrentMap<String, T> byName = new ConcurrentHashMap<>();

    PluginRegistry(String property) {
        this.property = property;
    }

    String bind(T service, Map<String, Object> props) {
        String name = name(props);
        if (name != null) {
            byName.put(name, service);
        }
        return name;
    }

    String unbind(T service, Map<String, Object> props) {
        String name = name(props);
        if (name != null) {
            byName.remove(name, service);
        }
        return name;
    }

    T get(String name) {
        return byName.get(name);
    }

    List<String> names() {
        return byName.keySet().stream().sorted().toList();
    }

    private String name(Map<String, Object> props) {
        Object v = props.get(property);
        return v == null ? null : v.toString();
    }
}
