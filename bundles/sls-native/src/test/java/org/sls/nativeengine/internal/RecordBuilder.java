package org.sls.nativeengine.internal;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/** Builds image records in Java, laid out as sls_image.h says, for codec tests. */
final class RecordBuilder {
    private final int pid;
    private final ByteArrayOutputStream entries = new ByteArrayOutputStream();
    private int nentries;

    RecordBuilder(int pid) {
        this.pid = pid;
    }

    private static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    RecordBuilder entry(int tag, byte[] payload) {
        ByteBuffer h = le(8).putInt(tag).putInt(payload.length);
        entries.writeBytes(h.array());
        entries.writeBytes(payload);
        entries.writeBytes(new byte[ImageFormat.pad(payload.length) - payload.length]);
        nentries++;
        return this;
    }

    RecordBuilder proc(int ppid, int pgid, int sid, int nthreads, String comm, String exe) {
        byte[] exeBytes = exe.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = le(ImageFormat.PROC_SIZE + exeBytes.length);
        b.putInt(0, pid).putInt(4, ppid).putInt(8, pgid).putInt(12, sid).putInt(16, nthreads);
        byte[] c = comm.getBytes(StandardCharsets.UTF_8);
        b.put(ImageFormat.PROC_COMM, c, 0, Math.min(c.length, 15));
        b.putInt(ImageFormat.PROC_EXE_LEN, exeBytes.length);
        b.put(ImageFormat.PROC_SIZE, exeBytes);
        return entry(ImageFormat.TAG_PROC, b.array());
    }

    RecordBuilder thread(int tid) {
        ByteBuffer b = le(312);
        b.putInt(0, tid);
        return entry(ImageFormat.TAG_THREAD, b.array());
    }

    RecordBuilder vma(long start, long end, int prot, boolean shared, long pgoff, long inode, String path) {
        byte[] p = path.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = le(ImageFormat.VMA_SIZE + p.length);
        b.putLong(0, start).putLong(8, end).putLong(16, pgoff).putLong(32, inode);
        b.putInt(56, prot).putInt(60, shared ? 1 : 0).putInt(68, p.length);
        b.put(ImageFormat.VMA_SIZE, p);
        return entry(ImageFormat.TAG_VMA, b.array());
    }

    RecordBuilder pageRuns(long... addrPagesOffset) {
        ByteBuffer b = le(addrPagesOffset.length * 8);
        for (long v : addrPagesOffset) {
            b.putLong(v);
        }
        return entry(ImageFormat.TAG_PAGERUN, b.array());
    }

    RecordBuilder fd(int fd, int type, long pos, int fileFlags, String path, byte[] extra) {
        byte[] p = path.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = le(ImageFormat.FD_SIZE + p.length + extra.length);
        b.putInt(0, fd).putInt(8, fileFlags).putInt(12, type).putLong(16, pos);
        b.putInt(76, p.length).putInt(80, extra.length);
        b.put(ImageFormat.FD_SIZE, p);
        b.put(ImageFormat.FD_SIZE + p.length, extra);
        return entry(ImageFormat.TAG_FD, b.array());
    }

    /** A listening IPv4 TCP socket's extra bytes (sls_img_fd_socket + sockaddr_in). */
    static byte[] tcpListener(int a, int b, int c, int d, int port) {
        ByteBuffer s = le(ImageFormat.SOCK_SIZE + 16);
        s.putInt(0, 2).putInt(4, 1).putInt(12, 10).putInt(36, 16).putInt(40, 0);
        sockaddrIn(s, ImageFormat.SOCK_SIZE, new int[] {a, b, c, d}, port);
        return s.array();
    }

    /** An established IPv4 TCP connection recorded as closed on restore. */
    static byte[] tcpConnection(int[] local, int localPort, int[] peer, int peerPort) {
        ByteBuffer s = le(ImageFormat.SOCK_SIZE + 32);
        s.putInt(0, 2).putInt(4, 1).putInt(12, 1).putInt(36, 16).putInt(40, 16)
                .putInt(ImageFormat.SOCK_FLAGS, ImageFormat.SOCK_CLOSED_ON_RESTORE);
        sockaddrIn(s, ImageFormat.SOCK_SIZE, local, localPort);
        sockaddrIn(s, ImageFormat.SOCK_SIZE + 16, peer, peerPort);
        return s.array();
    }

    private static void sockaddrIn(ByteBuffer s, int at, int[] ip, int port) {
        s.put(at, (byte) 2).put(at + 1, (byte) 0).put(at + 2, (byte) (port >> 8)).put(at + 3, (byte) port);
        for (int i = 0; i < 4; i++) {
            s.put(at + 4 + i, (byte) ip[i]);
        }
    }

    byte[] build() {
        byte[] body = entries.toByteArray();
        CRC32C crc = new CRC32C();
        crc.update(body);
        ByteBuffer h = le(ImageFormat.HEADER_LEN);
        h.putInt(ImageFormat.MAGIC).putShort((short) ImageFormat.VERSION).putShort((short) ImageFormat.HEADER_LEN)
                .putInt(ImageFormat.HEADER_LEN + body.length).putInt((int) crc.getValue()).putInt(pid)
                .putInt(nentries).putLong(1234L);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(h.array());
        out.writeBytes(body);
        return out.toByteArray();
    }
}
