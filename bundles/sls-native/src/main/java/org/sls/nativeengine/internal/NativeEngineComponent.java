package org.sls.nativeengine.internal;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Hashtable;
import java.util.Map;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.sls.api.engine.CheckpointEngine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads libslsnative.so from this bundle, checks its ABI and probes the kernel, and only then
 * registers the {@link CheckpointEngine} service.
 *
 * <p>Why an immediate component that registers the service by hand instead of a DS component that
 * provides it: DS registers a component's service before activating it (delayed components are
 * only activated on first use), so a library that fails to load or has the wrong ABI would be
 * visible to sls-core as an engine and fail later, on the first checkpoint. Registering after the
 * handshake keeps the rule "the engine is either fully usable or absent" — when absent, core says
 * so for every operation. DS still owns the lifecycle: stopping the bundle deactivates this
 * component, which unregisters the service.
 */
@Component(immediate = true)
public final class NativeEngineComponent {

    private static final Logger LOG = LoggerFactory.getLogger(NativeEngineComponent.class);
    private static final String SEED_RESOURCE = "seed/sls-seed";

    private ServiceRegistration<CheckpointEngine> registration;

    @Activate
    void activate(BundleContext context) {
        activate(context, NativeEngineComponent.class.getClassLoader());
    }

    /** @param libraryLoader where JNA finds linux-x86-64/libslsnative.so (this bundle's loader) */
    void activate(BundleContext context, ClassLoader libraryLoader) {
        SlsNativeLibrary lib;
        try {
            lib = SlsNativeLibrary.load(libraryLoader);
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            LOG.error("sls-native: cannot load libslsnative.so ({}); no checkpoint engine registered",
                    e.getMessage());
            return;
        }
        int abi = lib.sls_abi_version();
        if (abi != SlsNativeLibrary.SLS_ABI_VERSION) {
            LOG.error("sls-native: libslsnative.so has ABI version {}, this bundle needs {}; "
                    + "no checkpoint engine registered", abi, SlsNativeLibrary.SLS_ABI_VERSION);
            return;
        }
        Map<String, String> features;
        try {
            features = NativeCheckpointEngine.probe(lib);
        } catch (RuntimeException e) {
            LOG.error("sls-native: kernel probe failed ({}); no checkpoint engine registered", e.getMessage());
            return;
        }
        Path seed = installSeed(context);
        NativeCheckpointEngine engine = new NativeCheckpointEngine(lib, features, seed);
        Hashtable<String, Object> props = new Hashtable<>();
        props.put("sls.engine", "native");
        props.put("sls.engine.version", engine.version());
        registration = context.registerService(CheckpointEngine.class, engine, props);
        LOG.info("sls-native: {} registered (kernel {})", engine.version(), features.get("kernel"));
    }

    @Deactivate
    void deactivate() {
        if (registration != null) {
            registration.unregister();
            registration = null;
        }
    }

    /** Extracts the seed into the bundle's data area (chmod 755); null with a warning if absent. */
    private static Path installSeed(BundleContext context) {
        URL url = context.getBundle().getEntry(SEED_RESOURCE);
        if (url == null) {
            LOG.warn("sls-native: this bundle carries no {}; restore will be unavailable", SEED_RESOURCE);
            return null;
        }
        try {
            java.io.File data = context.getDataFile("sls-seed");
            Path target = data != null ? data.toPath() : Files.createTempFile("sls-seed", "");
            try (InputStream in = url.openStream()) {
                Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
            }
            Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwxr-xr-x"));
            return target;
        } catch (IOException e) {
            LOG.warn("sls-native: cannot install the seed binary ({}); restore will be unavailable",
                    e.getMessage());
            return null;
        }
    }
}
