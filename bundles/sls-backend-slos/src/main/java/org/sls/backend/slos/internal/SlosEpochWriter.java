package org.sls.backend.slos.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.sls.api.EpochInfo;
import org.sls.api.SlsException;
import org.sls.api.image.ProcessImage;
import org.sls.api.spi.EpochRecord;
import org.sls.api.spi.EpochWriter;
import org.sls.backend.slos.internal.RecordCodec.StoredRecord;

/**
 * One epoch on its way into the store. {@link #commit} copies the pages from the page file into
 * reserved free space (sharing pages identical to the previous epoch), writes the epoch record,
 * syncs, and hands the entry to the store's metadata commit. Until that commit nothing it wrote is
 * reachable, so a failure or crash at any point leaves no trace but reserved space that is freed.
 */
final class SlosEpochWriter implements EpochWriter {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(SlosEpochWriter.class);

    private enum State { OPEN, COMMITTING, COMMITTED, ABORTED }

    private final Store store;
    private final long oid;
    private final long epoch;
    private final Path pageFile;
    private final ExtentSet reserved = new ExtentSet();
    private State state = State.OPEN;
    private volatile boolean abortedByClose;

    SlosEpochWriter(Store store, long oid, long epoch, Path pageFile) {
        this.store = store;
        this.oid = oid;
        this.epoch = epoch;
        this.pageFile = pageFile;
    }

    @Override
    public Path pageFile() {
        return pageFile;
    }

    long oid() {
        return oid;
    }

    long epoch() {
        return epoch;
    }

    boolean abortedByClose() {
        return abortedByClose;
    }

    /** Reserves store space for this epoch; the reservation ends with commit or abort. */
    long[] reserve(long wanted, boolean wholeOnly) {
        long[] r = store.allocate(wanted, wholeOnly);
        if (r != null) {
            synchronized (reserved) {
                reserved.add(r[0], r[1]);
            }
        }
        return r;
    }

    void unreserve(long offset, long length) {
        if (length <= 0) {
            return;
        }
        synchronized (reserved) {
            reserved.remove(offset, length);
        }
        store.release(offset, length);
    }

    @Override
    public EpochInfo commit(EpochRecord record) {
        synchronized (this) {
            if (state != State.OPEN) {
                checkNotClosed();
                throw new SlsException("SLOS epoch " + epoch + " of partition " + oid + " was already "
                        + state.name().toLowerCase(java.util.Locale.ROOT));
            }
            state = State.COMMITTING;
        }
        if (record.oid() != oid || record.epoch() != epoch) {
            abort();
            throw new SlsException("SLOS writer for partition " + oid + " epoch " + epoch
                    + " was given the record of partition " + record.oid() + " epoch " + record.epoch());
        }
        EpochEntry base = store.pinNewest(oid);
        try {
            StoredRecord baseRecord = readBaseQuietly(base);
            List<StoredProcess> processes = new ArrayList<>();
            ExtentSet pageRanges = new ExtentSet();
            long ownBytes = 0;
            try (PageCopier copier = new PageCopier(this, store, pageFile, record)) {
                for (ProcessImage p : record.image().processes()) {
                    StoredProcess previous = baseRecord == null ? null : baseRecord.process(p.pid());
                    StoredProcess stored = copier.copy(p, previous);
                    processes.add(stored);
                    for (Segment s : stored.segments()) {
                        pageRanges.add(s.storeOffset(), s.length());
                        ownBytes += s.own() ? s.length() : 0;
                    }
                }
                copier.releaseUnused();
            }
            long time = System.currentTimeMillis();
            byte[] blob = RecordCodec.encode(new StoredRecord(oid, epoch, record.parentEpoch(), record.mode(), time,
                    record.stopNanos(), processes));
            long need = Layout.roundUp(blob.length);
            long[] at = reserve(need, true);
            if (at == null) {
                throw new SlsException("SLOS store " + store.path() + " is full: epoch " + epoch + " of partition " + oid
                        + " needs " + need + " more bytes for its record, " + store.freeBytes() + " bytes free of "
                        + store.capacity());
            }
            checkNotClosed();
            store.file().write(ByteBuffer.wrap(blob), at[0]);
            store.file().sync();
            EpochEntry entry = new EpochEntry(oid, epoch, record.parentEpoch(), record.mode(), time,
                    record.stopNanos(), processes.size(), ownBytes + need, record.image().pageBytes(), at[0],
                    blob.length, Layout.crc(blob, 0, blob.length), pageRanges.toPairs());
            checkNotClosed();
            EpochInfo info = store.commitEpoch(entry, reservedCopy());
            synchronized (this) {
                state = State.COMMITTED;
            }
            return info;
        } catch (IOException e) {
            // ENOSPC from the file system lands here: the store file could not grow to its configured size.
            throw new SlsException("SLOS store " + store.path() + ": writing epoch " + epoch + " of partition " + oid
                    + " (" + record.image().pageBytes() + " bytes of pages) failed: " + e.getMessage()
                    + "; the epoch was not stored", e);
        } finally {
            if (base != null) {
                store.unpin(base);
            }
            if (state != State.COMMITTED) {
                abort();
            } else {
                finish();
            }
        }
    }

    private ExtentSet reservedCopy() {
        synchronized (reserved) {
            return reserved.copy();
        }
    }

    void checkNotClosed() {
        if (abortedByClose) {
            throw new SlsException("SLOS store " + store.path() + " was closed while epoch " + epoch + " of partition "
                    + oid + " was being written; the epoch was aborted");
        }
    }

    private StoredRecord readBaseQuietly(EpochEntry base) {
        if (base == null) {
            return null;
        }
        try {
            return store.readRecord(base);
        } catch (SlsException e) {
            // A damaged previous epoch only means nothing is shared with it.
            return null;
        }
    }

    @Override
    public void abort() {
        synchronized (this) {
            if (state == State.COMMITTED || state == State.ABORTED) {
                return;
            }
            state = State.ABORTED;
        }
        ExtentSet mine = reservedCopy();
        synchronized (reserved) {
            reserved.removeAll(mine);
        }
        long[] pairs = mine.toPairs();
        for (int i = 0; i < pairs.length; i += 2) {
            store.release(pairs[i], pairs[i + 1]);
        }
        finish();
    }

    void abortBecauseClosed() {
        abortedByClose = true;
        synchronized (this) {
            if (state == State.OPEN) {
                state = State.ABORTED;
                deletePageFile();
            }
        }
    }

    private void finish() {
        deletePageFile();
        store.writerDone(this);
    }

    private void deletePageFile() {
        try {
            Files.deleteIfExists(pageFile);
        } catch (IOException e) {
            LOG.warn("cannot delete page file {}: {}", pageFile,
                    e.toString());
        }
    }

    @Override
    public void close() {
        abort();
    }
}
