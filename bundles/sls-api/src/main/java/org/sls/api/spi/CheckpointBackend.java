package org.sls.api.spi;

import java.util.List;
import org.sls.api.EpochInfo;

/**
 * Where epochs are stored. Registered as an OSGi service with property {@value #PROPERTY} = its name
 * ({@code memory}, {@code slos}); the core selects backends by that property.
 */
public interface CheckpointBackend {

    String PROPERTY = "sls.backend";

    String name();

    /** Whether epochs survive the container (and the machine) going down. */
    boolean persistent();

    EpochWriter beginEpoch(long oid, long epoch);

    /** Committed epochs of a partition, oldest first; empty for an unknown partition. */
    List<EpochInfo> epochs(long oid);

    StoredEpoch open(long oid, long epoch);

    /** Frees an epoch (and what nothing else references). A parent of a kept delta epoch is refused. */
    void deleteEpoch(long oid, long epoch);

    void deletePartition(long oid);

    /**
     * Checks every committed epoch of a partition (records and page data against their checksums)
     * and returns one line per damaged object, naming partition, epoch and object; empty when all is
     * intact. The default opens each epoch, which verifies it; stores with finer checks override.
     */
    default List<String> verify(long oid) {
        List<String> damage = new java.util.ArrayList<>();
        for (EpochInfo e : epochs(oid)) {
            try (StoredEpoch s = open(oid, e.epoch())) {
                s.image();
            } catch (org.sls.api.SlsException ex) {
                damage.add(ex.getMessage());
            }
        }
        return damage;
    }

    /**
     * Checks what belongs to the backend as a whole rather than to a partition (SLOS: its metadata
     * slots); one line per damaged thing. {@code sls:verify} without an OID includes it.
     */
    default List<String> verifyStore() {
        return List.of();
    }
}
