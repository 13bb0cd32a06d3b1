package org.sls.nativeengine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sls.api.SlsException;
import org.sls.api.image.CheckpointImage;
import org.sls.api.image.FileDescriptorInfo;
import org.sls.api.image.MemoryRegion;
import org.sls.api.image.PageRun;
import org.sls.api.image.ProcessImage;

class ImageCodecTest {

    private static byte[] serverRecord() {
        return new RecordBuilder(4242)
                .proc(1, 4242, 4242, 2, "server", "/usr/bin/server")
                .thread(4242)
                .thread(4243)
                .entry(99, new byte[] {1, 2, 3}) // a tag this reader does not know: skipped
                .vma(0x400000, 0x402000, 5, false, 0, 77, "/usr/bin/server")
                .vma(0x7f0000000000L, 0x7f0000010000L, 3, false, 0, 0, "")
                .vma(0x7f0000020000L, 0x7f0000021000L, 3, true, 4096, 0, "/dev/zero (deleted)")
                .pageRuns(0x7f0000000000L, 4, 0, 0x7f0000008000L, 2, 16384)
                .fd(0, 6, 0, 2, "/dev/pts/0", new byte[0])
                .fd(3, 1, 1234, 02002, "/var/lib/server/data", new byte[0])
                .fd(4, 8, 0, 2, "socket:[999]", RecordBuilder.tcpListener(127, 0, 0, 1, 6379))
                .fd(5, 8, 0, 2, "socket:[1000]", RecordBuilder.tcpConnection(new int[] {10, 0, 0, 1}, 6379,
                        new int[] {10, 0, 0, 2}, 5123))
                .build();
    }

    @Test
    void readsProcessFieldsRegionsPageRunsAndFilesFromARecord() {
        CheckpointImage image = ImageCodec.read(serverRecord());
        assertEquals(1, image.processes().size());
        ProcessImage p = image.processes().get(0);
        assertEquals(4242, p.pid());
        assertEquals(1, p.ppid());
        assertEquals(4242, p.pgid());
        assertEquals(4242, p.sid());
        assertEquals("server", p.comm());
        assertEquals("/usr/bin/server", p.exe());
        assertEquals(2, p.threads());
        assertEquals(List.of(
                new MemoryRegion(0x400000, 0x402000, "r-xp", 0, 77, "/usr/bin/server"),
                new MemoryRegion(0x7f0000000000L, 0x7f0000010000L, "rw-p", 0, 0, ""),
                new MemoryRegion(0x7f0000020000L, 0x7f0000021000L, "rw-s", 4096, 0, "/dev/zero (deleted)")),
                p.regions());
        assertEquals(List.of(new PageRun(0x7f0000000000L, 4, 0), new PageRun(0x7f0000008000L, 2, 16384)),
                p.pageRuns());
        assertEquals(6 * PageRun.PAGE_SIZE, p.pageBytes());
        assertEquals(List.of(
                new FileDescriptorInfo(0, "tty", "/dev/pts/0", 0, 2),
                new FileDescriptorInfo(3, "file", "/var/lib/server/data", 1234, 02002),
                new FileDescriptorInfo(4, "tcp", "127.0.0.1:6379 LISTEN", 0, 2),
                new FileDescriptorInfo(5, "tcp", "10.0.0.1:6379 -> 10.0.0.2:5123 ESTABLISHED (closed on restore)",
                        0, 2)),
                p.files());
    }

    @Test
    void nativeStateIsTheWholeRecordAndWritesBackByteForByte() throws IOException {
        byte[] a = serverRecord();
        byte[] b = new RecordBuilder(7).proc(4242, 4242, 4242, 1, "child", "/bin/child").thread(7).build();
        byte[] file = concat(a, b);
        CheckpointImage image = ImageCodec.read(file);
        assertEquals(2, image.processes().size());
        assertArrayEquals(a, image.processes().get(0).nativeState());
        assertArrayEquals(b, image.processes().get(1).nativeState());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageCodec.write(List.of(image.processes().get(1).nativeState(), image.processes().get(0).nativeState()), out);
        assertArrayEquals(concat(b, a), out.toByteArray());
        CheckpointImage again = ImageCodec.read(out.toByteArray());
        assertEquals(List.of(7, 4242), again.processes().stream().map(ProcessImage::pid).toList());
    }

    @Test
    void damagedRecordIsRefusedNamingItsPid() {
        byte[] r = serverRecord();
        r[r.length - 20] ^= 0x40;
        SlsException e = assertThrows(SlsException.class, () -> ImageCodec.read(r));
        assertEquals("image: record of pid 4242 is damaged (CRC32C mismatch)", e.getMessage());
    }

    @Test
    void recordOfAnotherFormatVersionIsRefused() {
        byte[] r = serverRecord();
        r[4] = 9;
        SlsException e = assertThrows(SlsException.class, () -> ImageCodec.read(r));
        assertTrue(e.getMessage().contains("format version 9"), e.getMessage());
    }

    @Test
    void truncatedImageIsRefused() {
        byte[] r = serverRecord();
        byte[] cut = java.util.Arrays.copyOf(r, r.length - 8);
        SlsException e = assertThrows(SlsException.class, () -> ImageCodec.read(cut));
        assertTrue(e.getMessage().contains("bad length"), e.getMessage());
    }

    @Test
    void recordWhoseThreadCountDisagreesWithItsThreadEntriesIsRefused() {
        byte[] r = new RecordBuilder(5).proc(1, 5, 5, 3, "x", "/x").thread(5).build();
        SlsException e = assertThrows(SlsException.class, () -> ImageCodec.read(r));
        assertEquals("image: record of pid 5 lists 1 threads, its PROC entry says 3", e.getMessage());
    }

    @Test
    void writingARecordWithTrailingBytesIsRefused() {
        byte[] r = concat(serverRecord(), new byte[8]);
        assertThrows(SlsException.class, () -> ImageCodec.write(List.of(r), new ByteArrayOutputStream()));
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
