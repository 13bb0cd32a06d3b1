package org.sls.backend.slos.internal;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.sls.api.CaptureMode;

/**
 * One immutable version of the store's metadata: every partition's committed epochs. Each metadata
 * commit writes a new catalog blob into free payload space and points the other slot at it, so
 * a catalog on disk is never modified in place.
 *
 * @param blobOffset where this version's blob is stored (-1 before it is written)
 */
record Catalog(long generation, Map<Long, List<EpochEntry>> partitions, long blobOffset, long blobLength) {

    Catalog {
        TreeMap<Long, List<EpochEntry>> copy = new TreeMap<>();
        partitions.forEach((oid, list) -> {
            if (!list.isEmpty()) {
                copy.put(oid, List.copyOf(list));
            }
        });
        partitions = Collections.unmodifiableMap(copy);
    }

    static Catalog empty() {
        return new Catalog(0, Map.of(), -1, 0);
    }

    List<EpochEntry> epochs(long oid) {
        return partitions.getOrDefault(oid, List.of());
    }

    EpochEntry find(long oid, long epoch) {
        for (EpochEntry e : epochs(oid)) {
            if (e.epoch() == epoch) {
                return e;
            }
        }
        return null;
    }

    Catalog with(EpochEntry entry) {
        TreeMap<Long, List<EpochEntry>> next = new TreeMap<>(partitions);
        List<EpochEntry> list = new ArrayList<>(epochs(entry.oid()));
        list.add(entry);
        list.sort((a, b) -> Long.compare(a.epoch(), b.epoch()));
        next.put(entry.oid(), list);
        return new Catalog(generation, next, -1, 0);
    }

    /** This catalog with {@code entry} in place of the entry of the same partition and epoch. */
    Catalog replaced(EpochEntry entry) {
        TreeMap<Long, List<EpochEntry>> next = new TreeMap<>(partitions);
        List<EpochEntry> list = new ArrayList<>(epochs(entry.oid()));
        list.replaceAll(e -> e.epoch() == entry.epoch() ? entry : e);
        next.put(entry.oid(), list);
        return new Catalog(generation, next, -1, 0);
    }

    Catalog without(long oid, List<Long> epochs) {
        TreeMap<Long, List<EpochEntry>> next = new TreeMap<>(partitions);
        List<EpochEntry> list = new ArrayList<>(epochs(oid));
        list.removeIf(e -> epochs.contains(e.epoch()));
        next.put(oid, list);
        return new Catalog(generation, next, -1, 0);
    }

    Catalog withoutPartition(long oid) {
        TreeMap<Long, List<EpochEntry>> next = new TreeMap<>(partitions);
        next.remove(oid);
        return new Catalog(generation, next, -1, 0);
    }

    Catalog stored(long newGeneration, long offset, long length) {
        return new Catalog(newGeneration, partitions, offset, length);
    }

    /** Every store range this version keeps alive: epoch records, their pages, and its own blob. */
    ExtentSet references() {
        ExtentSet refs = new ExtentSet();
        partitions.values().forEach(list -> list.forEach(e -> e.addRangesTo(refs)));
        if (blobOffset >= 0) {
            refs.add(blobOffset, Layout.roundUp(blobLength));
        }
        return refs;
    }

    byte[] encode(long forGeneration) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.write(Layout.CATALOG_MAGIC);
            out.writeInt(Layout.FORMAT_VERSION);
            out.writeLong(forGeneration);
            out.writeInt(partitions.size());
            for (Map.Entry<Long, List<EpochEntry>> p : partitions.entrySet()) {
                out.writeLong(p.getKey());
                out.writeInt(p.getValue().size());
                for (EpochEntry e : p.getValue()) {
                    out.writeLong(e.epoch());
                    out.writeLong(e.parentEpoch());
                    out.writeByte(e.mode().ordinal());
                    out.writeLong(e.timeMillis());
                    out.writeLong(e.stopNanos());
                    out.writeInt(e.processes());
                    out.writeLong(e.sizeBytes());
                    out.writeLong(e.pageBytes());
                    out.writeLong(e.recordOffset());
                    out.writeLong(e.recordLength());
                    out.writeInt(e.recordCrc());
                    out.writeInt(e.pageRanges().length);
                    for (long v : e.pageRanges()) {
                        out.writeLong(v);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** Decodes a blob whose CRC already matched; a structural problem means a newer or foreign writer. */
    static Catalog decode(byte[] blob, long offset) throws IOException {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(blob));
        byte[] magic = new byte[8];
        in.readFully(magic);
        if (!Arrays.equals(magic, Layout.CATALOG_MAGIC)) {
            throw new IOException("catalog blob has no catalog magic");
        }
        int version = in.readInt();
        if (version > Layout.FORMAT_VERSION) {
            throw new IOException("catalog " + Layout.NEWER_VERSION + " " + version);
        }
        long generation = in.readLong();
        int partitionCount = in.readInt();
        TreeMap<Long, List<EpochEntry>> partitions = new TreeMap<>();
        for (int p = 0; p < partitionCount; p++) {
            long oid = in.readLong();
            int n = in.readInt();
            List<EpochEntry> list = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                long epoch = in.readLong();
                long parent = in.readLong();
                CaptureMode mode = CaptureMode.values()[in.readByte()];
                long time = in.readLong();
                long stop = in.readLong();
                int processes = in.readInt();
                long size = in.readLong();
                long pageBytes = in.readLong();
                long recOff = in.readLong();
                long recLen = in.readLong();
                int recCrc = in.readInt();
                long[] ranges = new long[in.readInt()];
                for (int r = 0; r < ranges.length; r++) {
                    ranges[r] = in.readLong();
                }
                list.add(new EpochEntry(oid, epoch, parent, mode, time, stop, processes, size, pageBytes, recOff,
                        recLen, recCrc, ranges));
            }
            partitions.put(oid, list);
        }
        return new Catalog(generation, partitions, offset, blob.length);
    }
}
