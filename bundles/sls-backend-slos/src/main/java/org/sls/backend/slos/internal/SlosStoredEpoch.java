package org.sls.backend.slos.internal;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.sls.api.EpochInfo;
import org.sls.api.SlsException;
import org.sls.api.image.CheckpointImage;
import org.sls.api.image.PageSegment;
import org.sls.api.image.ProcessImage;
import org.sls.api.spi.StoredEpoch;
import org.sls.backend.slos.internal.RecordCodec.StoredRecord;

/**
 * A committed epoch open for restore. Its store ranges stay reserved (pinned) until {@link #close},
 * even if the epoch is deleted meanwhile, so the segments handed out stay valid.
 */
final class SlosStoredEpoch implements StoredEpoch {

    private final Store store;
    private final EpochEntry entry;
    private final StoredRecord record;
    private final Set<Integer> verifiedPids = new HashSet<>();
    private boolean closed;

    SlosStoredEpoch(Store store, EpochEntry entry, StoredRecord record) {
        this.store = store;
        this.entry = entry;
        this.record = record;
    }

    @Override
    public EpochInfo info() {
        return entry.toInfo();
    }

    /** The image as committed, except that page runs' dataOffset is the offset in the store file. */
    @Override
    public CheckpointImage image() {
        List<ProcessImage> processes = new ArrayList<>();
        for (StoredProcess p : record.processes()) {
            processes.add(p.imageInStore());
        }
        return new CheckpointImage(processes);
    }

    /**
     * The process's pages as ranges of the store file (none for a process this epoch does not hold). With verifyOnRestore (the default) every
     * page's CRC32C is checked first; a mismatch throws naming partition, epoch and process.
     */
    @Override
    public synchronized List<PageSegment> pages(int pid) {
        if (closed) {
            throw new SlsException("SLOS epoch " + entry.epoch() + " of partition " + entry.oid() + " is closed");
        }
        StoredProcess p = record.process(pid);
        if (p == null) {
            // A process that joined the partition after this (parent) epoch: it stored nothing here.
            return List.of();
        }
        if (store.options().verifyOnRestore() && !verifiedPids.contains(pid)) {
            List<String> damage = store.checkPages(entry.oid(), entry.epoch(), p);
            if (!damage.isEmpty()) {
                throw new SlsException(damage.get(0)
                        + (damage.size() > 1 ? " (and " + (damage.size() - 1) + " more damaged extents)" : ""));
            }
            verifiedPids.add(pid);
        }
        List<PageSegment> out = new ArrayList<>(p.segments().size());
        for (Segment s : p.segments()) {
            out.add(new PageSegment(s.address(), s.length(), store.path(), s.storeOffset()));
        }
        return out;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            store.unpin(entry);
        }
    }
}
