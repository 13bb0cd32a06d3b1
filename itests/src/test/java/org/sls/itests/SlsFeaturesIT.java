package org.sls.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.apache.karaf.features.Feature;
import org.apache.karaf.features.FeaturesService;
import org.junit.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.ServiceReference;
import org.osgi.service.cm.Configuration;
import org.osgi.service.cm.ConfigurationAdmin;
import org.osgi.service.component.runtime.ServiceComponentRuntime;
import org.osgi.service.component.runtime.dto.ComponentConfigurationDTO;
import org.osgi.service.component.runtime.dto.ComponentDescriptionDTO;

/** The distribution boots with the SLS features installed and every SLS component running. */
public class SlsFeaturesIT extends SlsTestSupport {

    /** Bundles that must contribute at least one Declarative Services component. */
    private static final String[] BUNDLES_WITH_COMPONENTS = {
        "sls-core", "sls-capture-full", "sls-capture-delta", "sls-backend-memory", "sls-backend-slos", "sls-control"
    };

    /**
     * Asks the features service that is registered at the time of each look: Karaf re-creates it
     * when its configuration is touched after boot (as Pax Exam's own provisioning may do), and
     * an instance held from before answers with an empty repository list.
     */
    @Test
    public void slsSlosAndControlFeaturesAreInstalledAtBoot() {
        for (String name : new String[] {"sls", "sls-backend-slos", "sls-control"}) {
            waitUntil("feature " + name + " to be listed as installed", () -> isInstalled(name));
        }
    }

    private boolean isInstalled(String featureName) {
        ServiceReference<FeaturesService> reference = bundleContext.getServiceReference(FeaturesService.class);
        if (reference == null) {
            return false;
        }
        FeaturesService features = bundleContext.getService(reference);
        try {
            Feature feature = features == null ? null : features.getFeature(featureName);
            return feature != null && features.isInstalled(feature);
        } catch (Exception e) {
            return false; // the service is being replaced; look again
        } finally {
            bundleContext.ungetService(reference);
        }
    }

    /** The bundles of the features the distribution boots; a later feature may add more sls-* bundles. */
    private static final List<String> SLS_BUNDLES = List.of("sls-api", "sls-native", "sls-core", "sls-capture-full",
            "sls-capture-delta", "sls-backend-memory", "sls-backend-slos", "sls-shell", "sls-control");

    @Test
    public void everySlsBundleIsActive() {
        List<String> notActive = new ArrayList<>();
        List<String> installed = new ArrayList<>();
        for (Bundle b : bundleContext.getBundles()) {
            if (b.getSymbolicName() != null && b.getSymbolicName().startsWith("sls-")) {
                installed.add(b.getSymbolicName());
                if (b.getState() != Bundle.ACTIVE) {
                    notActive.add(b.getSymbolicName() + " (state " + b.getState() + ")");
                }
            }
        }
        assertTrue("SLS bundles missing: installed are " + installed, installed.containsAll(SLS_BUNDLES));
        assertTrue("SLS bundles not active: " + notActive, notActive.isEmpty());
    }

    /**
     * Every component description of every sls-* bundle has a configuration that is ACTIVE or
     * SATISFIED (a delayed component nobody uses yet); an UNSATISFIED_REFERENCE,
     * UNSATISFIED_CONFIGURATION or FAILED_ACTIVATION component fails the test with its name.
     */
    @Test
    public void everySlsComponentIsActiveOrSatisfied() {
        ServiceComponentRuntime scr = getOsgiService(ServiceComponentRuntime.class);
        Map<String, String> problems = new TreeMap<>();
        waitUntil("every SLS component to be active or satisfied", () -> {
            problems.clear();
            problems.putAll(componentProblems(scr));
            return problems.isEmpty();
        });
        assertTrue("SLS components not running: " + problems, problems.isEmpty());

        for (String symbolicName : BUNDLES_WITH_COMPONENTS) {
            assertFalse(symbolicName + " registers no DS component",
                    scr.getComponentDescriptionDTOs(bundle(symbolicName)).isEmpty());
        }
    }

    private Map<String, String> componentProblems(ServiceComponentRuntime scr) {
        Map<String, String> problems = new TreeMap<>();
        for (Bundle b : bundleContext.getBundles()) {
            if (b.getSymbolicName() == null || !b.getSymbolicName().startsWith("sls-")) {
                continue;
            }
            for (ComponentDescriptionDTO description : scr.getComponentDescriptionDTOs(b)) {
                String name = b.getSymbolicName() + "/" + description.name;
                if (!scr.isComponentEnabled(description)) {
                    problems.put(name, "disabled");
                    continue;
                }
                var configurations = scr.getComponentConfigurationDTOs(description);
                if (configurations.isEmpty()) {
                    problems.put(name, "no configuration (configuration policy " + description.configurationPolicy + ")");
                }
                for (ComponentConfigurationDTO configuration : configurations) {
                    if (configuration.state != ComponentConfigurationDTO.ACTIVE
                            && configuration.state != ComponentConfigurationDTO.SATISFIED) {
                        problems.put(name, describe(configuration));
                    }
                }
            }
        }
        return problems;
    }

    private static String describe(ComponentConfigurationDTO configuration) {
        switch (configuration.state) {
            case ComponentConfigurationDTO.UNSATISFIED_CONFIGURATION:
                return "unsatisfied configuration";
            case ComponentConfigurationDTO.UNSATISFIED_REFERENCE:
                List<String> missing = new ArrayList<>();
                for (var ref : configuration.unsatisfiedReferences) {
                    missing.add(ref.name + " " + ref.target);
                }
                return "unsatisfied references " + missing;
            case ComponentConfigurationDTO.FAILED_ACTIVATION:
                return "failed activation: " + configuration.failure;
            default:
                return "state " + configuration.state;
        }
    }

    @Test
    public void infoListsBothBackendsAndBothStrategies() {
        String info = executeCommand("sls:info");
        assertTrue("sls:info does not list the backends: " + info, info.matches("(?s).*backends\\s*\\|\\s*memory, slos.*"));
        assertTrue("sls:info does not list the strategies: " + info,
                info.matches("(?s).*capture strategies\\s*\\|\\s*delta, full.*"));
    }

    /** The sls-backend-slos feature ships its configuration, with ${karaf.data} resolved. */
    @Test
    public void slosConfigurationComesFromTheFeatureWithItsDefaults() throws Exception {
        ConfigurationAdmin configAdmin = getOsgiService(ConfigurationAdmin.class);
        Configuration[] configurations = configAdmin.listConfigurations("(service.pid=org.sls.backend.slos)");
        assertNotNull("no configuration org.sls.backend.slos", configurations);
        var properties = configurations[0].getProcessedProperties(null);
        String expectedStore = new File(System.getProperty("karaf.data"), "sls/slos.store").getPath();
        assertEquals(expectedStore, new File(String.valueOf(properties.get("storePath"))).getPath());
        assertEquals("4096", String.valueOf(properties.get("storeSizeMb")));
        assertEquals("16", String.valueOf(properties.get("retainEpochs")));
        assertTrue("SLOS store file was not created at " + expectedStore, new File(expectedStore).isFile());
    }
}
