package org.sls.nativeengine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.Dictionary;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceRegistration;
import org.sls.api.engine.CheckpointEngine;

/**
 * The component registers the engine only when the library loads from the bundle's resource layout
 * and passes its handshake, and installs the seed executable into the bundle's data area.
 * BundleContext and Bundle are stand-ins recording what the component asks of them.
 */
class NativeEngineComponentTest {

    private static final Path BUILD = Path.of(System.getProperty("sls.native.build", "../../native/build"));

    @TempDir
    Path tmp;

    private final List<Object> registered = new ArrayList<>();
    private final List<Dictionary<String, ?>> properties = new ArrayList<>();
    private boolean unregistered;

    @SuppressWarnings("unchecked")
    private BundleContext context(URL seedEntry) {
        Bundle bundle = (Bundle) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Bundle.class},
                (proxy, m, args) -> m.getName().equals("getEntry") ? seedEntry : null);
        ServiceRegistration<CheckpointEngine> reg = (ServiceRegistration<CheckpointEngine>) Proxy.newProxyInstance(
                getClass().getClassLoader(), new Class<?>[] {ServiceRegistration.class}, (proxy, m, args) -> {
                    if (m.getName().equals("unregister")) {
                        unregistered = true;
                    }
                    return null;
                });
        return (BundleContext) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {BundleContext.class},
                (proxy, m, args) -> switch (m.getName()) {
                    case "getBundle" -> bundle;
                    case "getDataFile" -> tmp.resolve("data").resolve((String) args[0]).toFile();
                    case "registerService" -> {
                        registered.add(args[1]);
                        properties.add((Dictionary<String, ?>) args[2]);
                        yield reg;
                    }
                    default -> null;
                });
    }

    /** A class loader holding the library exactly where the bundle carries it. */
    private ClassLoader bundleLayout() throws Exception {
        Path lib = BUILD.resolve("libslsnative.so");
        assertTrue(Files.isRegularFile(lib), "build the native module first: no " + lib.toAbsolutePath());
        Path root = tmp.resolve("bundle");
        Files.createDirectories(root.resolve("linux-x86-64"));
        Files.copy(lib, root.resolve("linux-x86-64/libslsnative.so"));
        return new URLClassLoader(new URL[] {root.toUri().toURL()}, null);
    }

    @Test
    void registersTheEngineAfterTheHandshakeAndInstallsTheSeedExecutable() throws Exception {
        Files.createDirectories(tmp.resolve("data"));
        Path seed = tmp.resolve("seed-in-bundle");
        Files.write(seed, new byte[] {0x7f, 'E', 'L', 'F'});
        NativeEngineComponent component = new NativeEngineComponent();
        component.activate(context(seed.toUri().toURL()), bundleLayout());

        assertEquals(1, registered.size(), "engine not registered");
        CheckpointEngine engine = (CheckpointEngine) registered.get(0);
        assertEquals("native", properties.get(0).get("sls.engine"));
        assertEquals(engine.version(), properties.get(0).get("sls.engine.version"));
        assertTrue(engine.kernelFeatures().containsKey("kernel"), engine.kernelFeatures().toString());
        assertNotNull(engine.kernelFeatures().get("pagemap_scan"));
        Path installed = tmp.resolve("data/sls-seed");
        assertTrue(Files.isRegularFile(installed), "seed not installed into the data area");
        assertTrue(Files.getPosixFilePermissions(installed).contains(PosixFilePermission.OTHERS_EXECUTE));

        component.deactivate();
        assertTrue(unregistered, "deactivation did not unregister the engine");
    }

    @Test
    void registersNothingWhenTheLibraryIsNotInTheBundle() {
        NativeEngineComponent component = new NativeEngineComponent();
        component.activate(context(null), new URLClassLoader(new URL[0], null));
        assertEquals(List.of(), registered);
        component.deactivate();
        assertTrue(!unregistered, "nothing registered, so nothing to unregister");
    }

    @Test
    void engineWithoutSeedStillRegistersAndSaysSoOnRestore() throws Exception {
        NativeEngineComponent component = new NativeEngineComponent();
        component.activate(context(null), bundleLayout());
        assertEquals(1, registered.size());
        CheckpointEngine engine = (CheckpointEngine) registered.get(0);
        org.sls.api.image.ProcessImage image = new org.sls.api.image.ProcessImage(1, 0, 1, 1, "x", "/x", 1,
                List.of(), List.of(), List.of(), new byte[0]);
        org.sls.api.SlsException e = org.junit.jupiter.api.Assertions.assertThrows(org.sls.api.SlsException.class,
                () -> engine.restore(new org.sls.api.engine.RestoreSpec(
                        List.of(new org.sls.api.engine.RestoreProcess(image, List.of())), false, false)));
        assertEquals("restore: this sls-native build ships no sls-seed binary", e.getMessage());
        component.deactivate();
    }
}
