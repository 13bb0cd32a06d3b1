package org.sls.backend.memory.internal;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.sls.api.CaptureMode;
import org.sls.api.EpochInfo;
import org.sls.api.image.CheckpointImage;
import org.sls.api.image.FileDescriptorInfo;
import org.sls.api.image.MemoryRegion;
import org.sls.api.image.PageRun;
import org.sls.api.image.ProcessImage;

/**
 * The memory backend's epoch record: everything of an epoch but its page data, followed by the
 * CRC32C of the page data of every page run and a CRC32C of the whole record. Kept as a file next to
 * the page data so that a stopped or updated backend bundle finds its epochs again.
 */
final class RecordCodec {

    private static final long MAGIC = 0x534c534d454d3031L; // "SLSMEM01"

    /** An epoch as stored: its info, its image, and one CRC32C per page run (in image order). */
    record StoredRecord(EpochInfo info, CheckpointImage image, long[] runCrcs) {
    }

    private RecordCodec() {
    }

    /**
     * The encoded record in one presized buffer, written out with writeTo(): at -t 10 a record is
     * encoded 100 times a second, and the growing copies of a default ByteArrayOutputStream plus two
     * toByteArray() calls were most of what the whole JVM allocated (young collections, each a
     * stop of several milliseconds for the checkpoint thread, came every 3 s).
     */
    static final class Encoded extends ByteArrayOutputStream {
        Encoded(int expected) {
            super(expected);
        }

        long crcSoFar() {
            CRC32C crc = new CRC32C();
            crc.update(buf, 0, count);
            return crc.getValue();
        }
    }

    /** Enough for the record without growing: fixed fields, strings at their usual length, the native state. */
    private static int expectedSize(StoredRecord r) {
        int n = 256 + 8 * r.runCrcs().length;
        for (ProcessImage p : r.image().processes()) {
            n += 512 + p.comm().length() + p.exe().length() + p.nativeState().length;
            for (MemoryRegion m : p.regions()) {
                n += 40 + m.perms().length() + m.path().length();
            }
            n += 24 * p.pageRuns().size();
            for (FileDescriptorInfo f : p.files()) {
                n += 24 + f.type().length() + f.target().length();
            }
        }
        return n;
    }

    static Encoded encode(StoredRecord r) {
        try {
            Encoded bytes = new Encoded(expectedSize(r));
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeLong(MAGIC);
            EpochInfo i = r.info();
            out.writeLong(i.oid());
            out.writeLong(i.epoch());
            out.writeLong(i.time().toEpochMilli());
            out.writeUTF(i.mode().name());
            out.writeLong(i.parentEpoch());
            out.writeInt(i.processes());
            out.writeLong(i.sizeBytes());
            out.writeLong(i.pageBytes());
            out.writeLong(i.stopNanos());
            out.writeInt(r.image().processes().size());
            for (ProcessImage p : r.image().processes()) {
                out.writeInt(p.pid());
                out.writeInt(p.ppid());
                out.writeInt(p.pgid());
                out.writeInt(p.sid());
                out.writeUTF(p.comm());
                out.writeUTF(p.exe());
                out.writeInt(p.threads());
                out.writeInt(p.regions().size());
                for (MemoryRegion m : p.regions()) {
                    out.writeLong(m.start());
                    out.writeLong(m.end());
                    out.writeUTF(m.perms());
                    out.writeLong(m.offset());
                    out.writeLong(m.inode());
                    out.writeUTF(m.path());
                }
                out.writeInt(p.pageRuns().size());
                for (PageRun run : p.pageRuns()) {
                    out.writeLong(run.address());
                    out.writeLong(run.pageCount());
                    out.writeLong(run.dataOffset());
                }
                out.writeInt(p.files().size());
                for (FileDescriptorInfo f : p.files()) {
                    out.writeInt(f.fd());
                    out.writeUTF(f.type());
                    out.writeUTF(f.target());
                    out.writeLong(f.position());
                    out.writeInt(f.flags());
                }
                out.writeInt(p.nativeState().length);
                out.write(p.nativeState());
            }
            out.writeInt(r.runCrcs().length);
            for (long c : r.runCrcs()) {
                out.writeLong(c);
            }
            out.flush();
            out.writeLong(bytes.crcSoFar());
            out.flush();
            return bytes;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Decodes a record; throws IOException naming what is wrong if it is damaged. */
    static StoredRecord decode(byte[] data) throws IOException {
        if (data.length < 16) {
            throw new IOException("record is truncated (" + data.length + " bytes)");
        }
        CRC32C crc = new CRC32C();
        crc.update(data, 0, data.length - 8);
        long stored = ByteBuffer.wrap(data, data.length - 8, 8).getLong();
        if (crc.getValue() != stored) {
            throw new IOException("record checksum mismatch");
        }
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(data, 0, data.length - 8));
        if (in.readLong() != MAGIC) {
            throw new IOException("not a memory-backend epoch record");
        }
        long oid = in.readLong();
        long epoch = in.readLong();
        Instant time = Instant.ofEpochMilli(in.readLong());
        CaptureMode mode = CaptureMode.valueOf(in.readUTF());
        long parent = in.readLong();
        int processes = in.readInt();
        long size = in.readLong();
        long pageBytes = in.readLong();
        long stop = in.readLong();
        int n = in.readInt();
        List<ProcessImage> procs = new ArrayList<>(n);
        for (int k = 0; k < n; k++) {
            int pid = in.readInt();
            int ppid = in.readInt();
            int pgid = in.readInt();
            int sid = in.readInt();
            String comm = in.readUTF();
            String exe = in.readUTF();
            int threads = in.readInt();
            int nr = in.readInt();
            List<MemoryRegion> regions = new ArrayList<>(nr);
            for (int j = 0; j < nr; j++) {
                regions.add(new MemoryRegion(in.readLong(), in.readLong(), in.readUTF(), in.readLong(), in.readLong(), in.readUTF()));
            }
            int np = in.readInt();
            List<PageRun> runs = new ArrayList<>(np);
            for (int j = 0; j < np; j++) {
                runs.add(new PageRun(in.readLong(), in.readLong(), in.readLong()));
            }
            int nf = in.readInt();
            List<FileDescriptorInfo> files = new ArrayList<>(nf);
            for (int j = 0; j < nf; j++) {
                files.add(new FileDescriptorInfo(in.readInt(), in.readUTF(), in.readUTF(), in.readLong(), in.readInt()));
            }
            byte[] state = new byte[in.readInt()];
            in.readFully(state);
            procs.add(new ProcessImage(pid, ppid, pgid, sid, comm, exe, threads, regions, runs, files, state));
        }
        long[] crcs = new long[in.readInt()];
        for (int j = 0; j < crcs.length; j++) {
            crcs[j] = in.readLong();
        }
        EpochInfo info = new EpochInfo(oid, epoch, time, mode, parent, processes, size, pageBytes, stop);
        return new StoredRecord(info, new CheckpointImage(procs), crcs);
    }
}
