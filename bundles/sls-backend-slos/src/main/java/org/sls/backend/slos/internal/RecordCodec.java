package org.sls.backend.slos.internal;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.sls.api.CaptureMode;
import org.sls.api.image.FileDescriptorInfo;
import org.sls.api.image.MemoryRegion;
import org.sls.api.image.ProcessImage;

/**
 * The epoch record blob: the epoch's identity and every process (image fields, native state, page
 * segments with per-page CRC32C). Its own CRC32C lives in the catalog entry that points to it.
 */
final class RecordCodec {

    record StoredRecord(long oid, long epoch, long parentEpoch, CaptureMode mode, long timeMillis, long stopNanos,
                        List<StoredProcess> processes) {
        StoredRecord {
            processes = List.copyOf(processes);
        }

        StoredProcess process(int pid) {
            for (StoredProcess p : processes) {
                if (p.pid() == pid) {
                    return p;
                }
            }
            return null;
        }
    }

    private RecordCodec() {
    }

    static byte[] encode(StoredRecord r) {
        // Sized up front: at -t 10 a record is encoded 100 times a second, and the doubling copies of
        // a default-sized stream were the bulk of the JVM's allocation (and so of its young pauses).
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(expectedSize(r));
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.write(Layout.RECORD_MAGIC);
            out.writeInt(Layout.FORMAT_VERSION);
            out.writeLong(r.oid());
            out.writeLong(r.epoch());
            out.writeLong(r.parentEpoch());
            out.writeByte(r.mode().ordinal());
            out.writeLong(r.timeMillis());
            out.writeLong(r.stopNanos());
            out.writeInt(r.processes().size());
            for (StoredProcess sp : r.processes()) {
                ProcessImage p = sp.captured();
                out.writeInt(p.pid());
                out.writeInt(p.ppid());
                out.writeInt(p.pgid());
                out.writeInt(p.sid());
                writeString(out, p.comm());
                writeString(out, p.exe());
                out.writeInt(p.threads());
                out.writeInt(p.regions().size());
                for (MemoryRegion m : p.regions()) {
                    out.writeLong(m.start());
                    out.writeLong(m.end());
                    writeString(out, m.perms());
                    out.writeLong(m.offset());
                    out.writeLong(m.inode());
                    writeString(out, m.path());
                }
                out.writeInt(p.files().size());
                for (FileDescriptorInfo f : p.files()) {
                    out.writeInt(f.fd());
                    writeString(out, f.type());
                    writeString(out, f.target());
                    out.writeLong(f.position());
                    out.writeInt(f.flags());
                }
                byte[] ns = p.nativeState();
                out.writeInt(ns == null ? -1 : ns.length);
                if (ns != null) {
                    out.write(ns);
                }
                out.writeInt(sp.segments().size());
                for (Segment s : sp.segments()) {
                    out.writeLong(s.address());
                    out.writeLong(s.pageCount());
                    out.writeLong(s.storeOffset());
                    out.writeBoolean(s.own());
                    for (int c : s.pageCrcs()) {
                        out.writeInt(c);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** Enough for the record without growing: fixed fields, strings at their usual length, native state, page CRCs. */
    private static int expectedSize(StoredRecord r) {
        int n = 256;
        for (StoredProcess sp : r.processes()) {
            ProcessImage p = sp.captured();
            n += 512 + p.comm().length() + p.exe().length() + (p.nativeState() == null ? 0 : p.nativeState().length);
            for (MemoryRegion m : p.regions()) {
                n += 48 + m.perms().length() + m.path().length();
            }
            n += 32 * p.files().size();
            for (FileDescriptorInfo f : p.files()) {
                n += f.type().length() + f.target().length();
            }
            for (Segment s : sp.segments()) {
                n += 32 + 4 * s.pageCrcs().length;
            }
        }
        return n;
    }

    /** Decodes a record whose CRC already matched. */
    static StoredRecord decode(byte[] blob) throws IOException {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(blob));
        byte[] magic = new byte[8];
        in.readFully(magic);
        if (!Arrays.equals(magic, Layout.RECORD_MAGIC)) {
            throw new IOException("no epoch record magic");
        }
        int version = in.readInt();
        if (version > Layout.FORMAT_VERSION) {
            throw new IOException("epoch record " + Layout.NEWER_VERSION + " " + version);
        }
        long oid = in.readLong();
        long epoch = in.readLong();
        long parent = in.readLong();
        CaptureMode mode = CaptureMode.values()[in.readByte()];
        long time = in.readLong();
        long stop = in.readLong();
        int n = in.readInt();
        List<StoredProcess> processes = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int pid = in.readInt();
            int ppid = in.readInt();
            int pgid = in.readInt();
            int sid = in.readInt();
            String comm = readString(in);
            String exe = readString(in);
            int threads = in.readInt();
            int regionCount = in.readInt();
            List<MemoryRegion> regions = new ArrayList<>(regionCount);
            for (int r = 0; r < regionCount; r++) {
                regions.add(new MemoryRegion(in.readLong(), in.readLong(), readString(in), in.readLong(),
                        in.readLong(), readString(in)));
            }
            int fileCount = in.readInt();
            List<FileDescriptorInfo> files = new ArrayList<>(fileCount);
            for (int f = 0; f < fileCount; f++) {
                files.add(new FileDescriptorInfo(in.readInt(), readString(in), readString(in), in.readLong(),
                        in.readInt()));
            }
            int nsLength = in.readInt();
            byte[] nativeState = null;
            if (nsLength >= 0) {
                nativeState = new byte[nsLength];
                in.readFully(nativeState);
            }
            int segmentCount = in.readInt();
            List<Segment> segments = new ArrayList<>(segmentCount);
            for (int s = 0; s < segmentCount; s++) {
                long address = in.readLong();
                long pages = in.readLong();
                long storeOffset = in.readLong();
                boolean own = in.readBoolean();
                int[] crcs = new int[Math.toIntExact(pages)];
                for (int c = 0; c < crcs.length; c++) {
                    crcs[c] = in.readInt();
                }
                segments.add(new Segment(address, pages, storeOffset, crcs, own));
            }
            ProcessImage captured = new ProcessImage(pid, ppid, pgid, sid, comm, exe, threads, regions, List.of(),
                    files, nativeState);
            processes.add(new StoredProcess(captured, segments));
        }
        return new StoredRecord(oid, epoch, parent, mode, time, stop, processes);
    }

    private static void writeString(DataOutputStream out, String s) throws IOException {
        if (s == null) {
            out.writeInt(-1);
            return;
        }
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }

    private static String readString(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0) {
            return null;
        }
        byte[] b = new byte[n];
        in.readFully(b);
        return new String(b, StandardCharsets.UTF_8);
    }
}
