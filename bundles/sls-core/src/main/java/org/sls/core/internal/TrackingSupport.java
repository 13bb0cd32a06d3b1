package org.sls.core.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.sls.api.PartitionSpec;
import org.sls.api.SlsException;
import org.sls.api.engine.DirtyTracking;

/**
 * Which dirty-tracking mechanisms and whether shadowing the engine offers, read from its kernel
 * features ({@code dirty_tracking} = what auto picks, {@code dirty_tracking_available} = the list,
 * {@code shadowing} = yes/no when the engine reports it), and whether a partition's choice fits.
 */
final class TrackingSupport {

    static final String AUTO_KEY = "dirty_tracking";
    static final String AVAILABLE_KEY = "dirty_tracking_available";
    static final String SHADOWING_KEY = "shadowing";

    private TrackingSupport() {
    }

    /** The mechanisms offered, best first (shell names); empty when the engine does not say. */
    static List<String> available(Map<String, String> features) {
        List<String> out = new ArrayList<>();
        String list = features.get(AVAILABLE_KEY);
        if (list != null) {
            for (String s : list.split(",")) {
                if (!s.isBlank()) {
                    out.add(s.trim());
                }
            }
        }
        return out;
    }

    static String auto(Map<String, String> features) {
        return features.get(AUTO_KEY);
    }

    /**
     * "yes" or "no (why)". Shadowing needs userfaultfd tracking; an engine that reports
     * {@code shadowing} itself has the last word, one that does not is taken at its word at capture.
     */
    static String shadowing(Map<String, String> features) {
        if (!available(features).contains("uffd")) {
            return "no (needs userfaultfd write-protect tracking, which this kernel lacks)";
        }
        String reported = features.get(SHADOWING_KEY);
        if (reported == null) {
            return "not reported by the engine (tried at the first checkpoint)";
        }
        if (reported.startsWith("yes")) {
            return "yes";
        }
        return reported.equals("no") || reported.startsWith("no (") ? reported : "no (" + reported + ")";
    }

    /** Refuses a delta partition whose mechanism or shadowing this engine cannot give, in one line. */
    static void check(PartitionSpec spec, Map<String, String> features) {
        if (spec.tracking() == DirtyTracking.NONE || !features.containsKey(AVAILABLE_KEY)) {
            return; // full partition, or an engine that does not tell: the capture will say
        }
        List<String> offered = available(features);
        String asked = PartitionSpec.trackingName(spec.tracking());
        if (spec.tracking() != DirtyTracking.AUTO && !offered.contains(asked)) {
            throw new SlsException("dirty tracking " + asked + " is not available on this kernel (available: "
                    + (offered.isEmpty() ? "none" : String.join(", ", offered)) + "; see sls:info)");
        }
        if (spec.shadow()) {
            if (spec.tracking() == DirtyTracking.AUTO && !"uffd".equals(auto(features))) {
                throw new SlsException("shadowing needs userfaultfd tracking, but auto picks "
                        + auto(features) + " on this kernel (see sls:info)");
            }
            String s = shadowing(features);
            if (s.equals("no") || s.startsWith("no (")) {
                throw new SlsException("shadowing is not available: " + s.substring(2).trim().replaceAll("^\\((.*)\\)$", "$1"));
            }
        }
    }
}
