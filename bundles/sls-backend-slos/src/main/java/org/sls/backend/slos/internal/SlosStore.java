package org.sls.backend.slos.internal;

import java.util.List;

/**
 * Operator checks on a SLOS store (what {@code sls:verify} prints). Every line names one damaged
 * thing: the metadata slot, or partition, epoch and object; an empty list means all is intact.
 */
public interface SlosStore {

    /** Reads and checks every record and page extent of partition {@code oid}. */
    List<String> verify(long oid);

    /** Checks both metadata slots, the catalog, and every partition. */
    List<String> verifyAll();
}
