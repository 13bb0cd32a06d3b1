package org.sls.nativeengine.internal;

import static org.sls.nativeengine.internal.ImageFormat.*;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;
import org.sls.api.SlsException;
import org.sls.api.image.CheckpointImage;
import org.sls.api.image.FileDescriptorInfo;
import org.sls.api.image.MemoryRegion;
import org.sls.api.image.PageRun;
import org.sls.api.image.ProcessImage;

/**
 * Reads the engine's image file (a concatenation of process records, see sls_image.h) into the API
 * model, and writes records back for restore. Each {@link ProcessImage#nativeState()} is the complete
 * record of its process, byte for byte; the model fields are the part SLS itself reasons about.
 */
public final class ImageCodec {

    private ImageCodec() {
    }

    /** Parses every record of an image; a damaged record is an error naming its offset and pid. */
    public static CheckpointImage read(byte[] image) {
        List<ProcessImage> processes = new ArrayList<>();
        int off = 0;
        while (off < image.length) {
            int total = checkRecord(image, off);
            processes.add(readRecord(Arrays.copyOfRange(image, off, off + total)));
            off += total;
        }
        return new CheckpointImage(processes);
    }

    /** Writes the records (each a {@code nativeState}) one after another, checking each first. */
    public static void write(List<byte[]> records, OutputStream out) throws IOException {
        for (byte[] r : records) {
            if (checkRecord(r, 0) != r.length) {
                throw new SlsException("image record of pid " + pidOf(r, 0) + " has trailing bytes");
            }
            out.write(r);
        }
    }

    /** Validates the record at off (magic, version, bounds, CRC32C); returns its total length. */
    static int checkRecord(byte[] b, int off) {
        ByteBuffer h = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        if (b.length - off < HEADER_LEN) {
            throw new SlsException("image: truncated record header at offset " + off);
        }
        if (h.getInt(off + H_MAGIC) != MAGIC) {
            throw new SlsException("image: no record at offset " + off + " (bad magic)");
        }
        int version = h.getShort(off + H_VERSION) & 0xffff;
        if (version != VERSION) {
            throw new SlsException("image: record of pid " + pidOf(b, off) + " has format version "
                    + version + ", this engine reads " + VERSION);
        }
        int headerLen = h.getShort(off + H_HEADER_LEN) & 0xffff;
        long total = h.getInt(off + H_TOTAL_LEN) & 0xffffffffL;
        if (headerLen < HEADER_LEN || total < headerLen || total > b.length - off || total % ALIGN != 0) {
            throw new SlsException("image: record of pid " + pidOf(b, off) + " at offset " + off
                    + " has a bad length " + total);
        }
        CRC32C crc = new CRC32C();
        crc.update(b, off + headerLen, (int) total - headerLen);
        if ((int) crc.getValue() != h.getInt(off + H_CRC)) {
            throw new SlsException("image: record of pid " + pidOf(b, off) + " is damaged (CRC32C mismatch)");
        }
        return (int) total;
    }

    private static int pidOf(byte[] b, int off) {
        return b.length - off >= HEADER_LEN
                ? ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt(off + H_PID) : -1;
    }

    private static ProcessImage readRecord(byte[] rec) {
        ByteBuffer b = ByteBuffer.wrap(rec).order(ByteOrder.LITTLE_ENDIAN);
        int pid = b.getInt(H_PID);
        int ppid = 0, pgid = 0, sid = 0, threads = 0;
        String comm = "", exe = "";
        boolean sawProc = false;
        int threadEntries = 0;
        List<MemoryRegion> regions = new ArrayList<>();
        List<PageRun> runs = new ArrayList<>();
        List<FileDescriptorInfo> files = new ArrayList<>();
        int off = b.getShort(H_HEADER_LEN) & 0xffff;
        while (off + ENTRY_HEADER_LEN <= rec.length) {
            int tag = b.getInt(off);
            int len = b.getInt(off + 4);
            int p = off + ENTRY_HEADER_LEN;
            if (len < 0 || p + len > rec.length) {
                throw new SlsException("image: record of pid " + pid + " has an entry overrunning it");
            }
            switch (tag) {
                case TAG_PROC -> {
                    need(pid, "PROC", len, PROC_SIZE);
                    sawProc = true;
                    ppid = b.getInt(p + PROC_PPID);
                    pgid = b.getInt(p + PROC_PGID);
                    sid = b.getInt(p + PROC_SID);
                    threads = b.getInt(p + PROC_NTHREADS);
                    comm = cString(rec, p + PROC_COMM, PROC_COMM_LEN);
                    int exeAt = p + PROC_SIZE + 4 * b.getInt(p + PROC_NGROUPS);
                    int exeLen = b.getInt(p + PROC_EXE_LEN);
                    need(pid, "PROC", len, exeAt - p + exeLen);
                    exe = new String(rec, exeAt, exeLen, StandardCharsets.UTF_8);
                }
                case TAG_THREAD -> threadEntries++;
                case TAG_VMA -> {
                    need(pid, "VMA", len, VMA_SIZE);
                    int pathLen = b.getInt(p + VMA_PATH_LEN);
                    need(pid, "VMA", len, VMA_SIZE + pathLen);
                    regions.add(new MemoryRegion(b.getLong(p + VMA_START), b.getLong(p + VMA_END),
                            perms(b.getInt(p + VMA_PROT), b.getInt(p + VMA_FLAGS)), b.getLong(p + VMA_PGOFF),
                            b.getLong(p + VMA_INODE),
                            new String(rec, p + VMA_SIZE, pathLen, StandardCharsets.UTF_8)));
                }
                case TAG_PAGERUN -> {
                    for (int r = p; r + PAGERUN_SIZE <= p + len; r += PAGERUN_SIZE) {
                        runs.add(new PageRun(b.getLong(r), b.getLong(r + 8), b.getLong(r + 16)));
                    }
                }
                case TAG_FD -> files.add(readFd(b, rec, p, len, pid));
                default -> {
                    // the rest is the engine's own business (registers, signals, limits, ...)
                }
            }
            off = p + pad(len);
        }
        if (!sawProc) {
            throw new SlsException("image: record of pid " + pid + " has no PROC entry");
        }
        if (threadEntries != threads) {
            throw new SlsException("image: record of pid " + pid + " lists " + threadEntries
                    + " threads, its PROC entry says " + threads);
        }
        return new ProcessImage(pid, ppid, pgid, sid, comm, exe, threads, regions, runs, files, rec);
    }

    private static FileDescriptorInfo readFd(ByteBuffer b, byte[] rec, int p, int len, int pid) {
        need(pid, "FD", len, FD_SIZE);
        int pathLen = b.getInt(p + FD_PATH_LEN);
        int extraLen = b.getInt(p + FD_EXTRA_LEN);
        need(pid, "FD", len, FD_SIZE + pathLen + extraLen);
        int type = b.getInt(p + FD_TYPE);
        String typeName = type >= 0 && type < FD_TYPE_NAMES.length ? FD_TYPE_NAMES[type] : "unknown";
        String target = new String(rec, p + FD_SIZE, pathLen, StandardCharsets.UTF_8);
        int extra = p + FD_SIZE + pathLen;
        if ((typeName.equals("tcp") || typeName.equals("udp") || typeName.equals("unix"))
                && extraLen >= SOCK_SIZE) {
            target = socketText(b, rec, extra, typeName, target);
        }
        return new FileDescriptorInfo(b.getInt(p + FD_FD), typeName, target, b.getLong(p + FD_POS),
                b.getInt(p + FD_FILE_FLAGS));
    }

    /**
     * e.g. {@code 127.0.0.1:6379 LISTEN}, {@code /run/app.sock}, {@code @abstract},
     * {@code 10.0.0.1:6379 -> 10.0.0.2:5123 ESTABLISHED (closed on restore)}.
     */
    private static String socketText(ByteBuffer b, byte[] rec, int s, String type, String link) {
        int family = b.getInt(s + SOCK_FAMILY);
        int state = b.getInt(s + SOCK_STATE);
        int addrLen = b.getInt(s + SOCK_ADDR_LEN);
        int peerLen = b.getInt(s + SOCK_PEER_LEN);
        String local = sockaddr(rec, s + SOCK_SIZE, addrLen, family);
        String peer = sockaddr(rec, s + SOCK_SIZE + addrLen, peerLen, family);
        StringBuilder t = new StringBuilder(local.isEmpty() ? link : local);
        if (!peer.isEmpty()) {
            t.append(" -> ").append(peer);
        }
        if (type.equals("tcp") && state > 0 && state < TCP_STATES.length) {
            t.append(' ').append(TCP_STATES[state]);
        }
        if ((b.getInt(s + SOCK_FLAGS) & SOCK_CLOSED_ON_RESTORE) != 0) {
            t.append(" (closed on restore)");
        }
        return t.toString();
    }

    private static String sockaddr(byte[] rec, int at, int len, int family) {
        if (family == AF_INET && len >= 8) {
            int port = ((rec[at + 2] & 0xff) << 8) | (rec[at + 3] & 0xff);
            return (rec[at + 4] & 0xff) + "." + (rec[at + 5] & 0xff) + "." + (rec[at + 6] & 0xff) + "."
                    + (rec[at + 7] & 0xff) + ":" + port;
        }
        if (family == AF_INET6 && len >= 24) {
            int port = ((rec[at + 2] & 0xff) << 8) | (rec[at + 3] & 0xff);
            StringBuilder h = new StringBuilder("[");
            for (int i = 0; i < 16; i += 2) {
                h.append(i == 0 ? "" : ":").append(Integer.toHexString(((rec[at + 8 + i] & 0xff) << 8)
                        | (rec[at + 9 + i] & 0xff)));
            }
            return h.append("]:").append(port).toString();
        }
        if (family == AF_UNIX && len > 2) {
            if (rec[at + 2] == 0) {
                return "@" + new String(rec, at + 3, len - 3, StandardCharsets.UTF_8);
            }
            return cString(rec, at + 2, len - 2);
        }
        return "";
    }

    private static String perms(int prot, int flags) {
        return "" + ((prot & PROT_READ) != 0 ? 'r' : '-') + ((prot & PROT_WRITE) != 0 ? 'w' : '-')
                + ((prot & PROT_EXEC) != 0 ? 'x' : '-') + ((flags & VMA_SHARED) != 0 ? 's' : 'p');
    }

    private static String cString(byte[] b, int at, int max) {
        int n = 0;
        while (n < max && b[at + n] != 0) {
            n++;
        }
        return new String(b, at, n, StandardCharsets.UTF_8);
    }

    private static void need(int pid, String what, int len, int min) {
        if (len < min) {
            throw new SlsException("image: record of pid " + pid + " has a short " + what + " entry ("
                    + len + " bytes, need " + min + ")");
        }
    }
}
