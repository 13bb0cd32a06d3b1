package org.sls.api;

import java.util.List;

/**
 * The partition operations of SLS (Aurora's slsctl). Every method either does all it says or changes
 * nothing and throws {@link SlsException} with one line naming what is wrong. Operations on one
 * partition are serialized; different partitions proceed in parallel.
 */
public interface PartitionService {

    PartitionInfo partadd(PartitionSpec spec);

    /** Removes the partition and every epoch it stored. Attached processes keep running. */
    void partdel(long oid);

    void attach(long oid, int pid);

    void detach(long oid, int pid);

    /** Checkpoints every attached process (and with {@code recursive} their descendants). */
    CheckpointResult checkpoint(long oid, boolean recursive);

    RestoreResult restore(RestoreRequest request);

    List<PartitionInfo> partitions();

    PartitionInfo partition(long oid);

    List<EpochInfo> epochs(long oid);

    SystemInfo info();

    /**
     * Verifies the stored epochs of one partition, or of every partition when {@code oid} is -1.
     * Returns one line per damaged object (empty: everything intact).
     */
    List<String> verify(long oid);
}
