package org.sls.backend.memory.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sls.api.CaptureMode;
import org.sls.api.EpochInfo;
import org.sls.api.SlsException;
import org.sls.api.image.CheckpointImage;
import org.sls.api.image.FileDescriptorInfo;
import org.sls.api.image.MemoryRegion;
import org.sls.api.image.PageRun;
import org.sls.api.image.PageSegment;
import org.sls.api.image.ProcessImage;
import org.sls.api.spi.EpochRecord;
import org.sls.api.spi.EpochWriter;
import org.sls.api.spi.StoredEpoch;

class MemoryBackendTest {

    @TempDir
    Path dir;

    /** Damages a stored file the way a stray write would: the bits of mask flipped in one byte. */
    private static void flipBits(Path file, int offset, int mask) throws IOException {
        byte[] data = Files.readAllBytes(file);
        data[offset] ^= (byte) mask;
        Files.write(file, data);
    }

    private MemoryBackend backend() {
        MemoryBackend b = new MemoryBackend();
        b.open(dir);
        return b;
    }

    /** Writes {@code pages} pages of pattern bytes for pid 100 at 0x400000 and commits the epoch. */
    private static EpochInfo commit(MemoryBackend b, long oid, long epoch, long parent, int pages, int pattern) throws IOException {
        try (EpochWriter w = b.beginEpoch(oid, epoch)) {
            byte[] data = new byte[pages * 4096];
            java.util.Arrays.fill(data, (byte) pattern);
            Files.write(w.pageFile(), data);
            ProcessImage p = new ProcessImage(100, 1, 100, 100, "prog", "/usr/bin/prog", 2,
                    List.of(new MemoryRegion(0x400000, 0x400000 + pages * 4096L, "rw-p", 0, 0, "")),
                    List.of(new PageRun(0x400000, pages, 0)),
                    List.of(new FileDescriptorInfo(3, "file", "/tmp/log", 77, 0x401)), new byte[] {9, 8, 7});
            return w.commit(new EpochRecord(oid, epoch, parent < 0 ? CaptureMode.FULL : CaptureMode.DELTA, parent, 5000,
                    new CheckpointImage(List.of(p))));
        }
    }

    @Test
    void committedEpochReadsBackWithItsImageAndPageSegments() throws IOException {
        MemoryBackend b = backend();
        EpochInfo info = commit(b, 3, 0, -1, 4, 0x5a);
        assertEquals(4 * 4096, info.pageBytes());
        assertEquals(1, info.processes());
        try (StoredEpoch s = b.open(3, 0)) {
            ProcessImage p = s.image().processes().get(0);
            assertEquals(100, p.pid());
            assertArrayEquals(new byte[] {9, 8, 7}, p.nativeState());
            assertEquals(77, p.files().get(0).position());
            List<PageSegment> segs = s.pages(100);
            assertEquals(1, segs.size());
            byte[] back = new byte[4096];
            try (RandomAccessFile f = new RandomAccessFile(segs.get(0).file().toFile(), "r")) {
                f.seek(segs.get(0).fileOffset() + 4096);
                f.readFully(back);
            }
            assertEquals(0x5a, back[100]);
        }
    }

    @Test
    void epochsSurviveAStopAndStartOfTheBackend() throws IOException {
        commit(backend(), 3, 0, -1, 2, 1);
        commit(backend(), 3, 1, -1, 2, 2);
        MemoryBackend again = backend();
        assertEquals(List.of(0L, 1L), again.epochs(3).stream().map(EpochInfo::epoch).toList());
        try (StoredEpoch s = again.open(3, 1)) {
            assertEquals(2, s.image().processes().get(0).threads());
        }
    }

    @Test
    void anAbortedOrUnclosedEpochLeavesNothing() throws IOException {
        MemoryBackend b = backend();
        try (EpochWriter w = b.beginEpoch(3, 0)) {
            Files.write(w.pageFile(), new byte[4096]);
        }
        assertTrue(b.epochs(3).isEmpty());
        try (var files = Files.walk(dir)) {
            assertEquals(0, files.filter(Files::isRegularFile).count());
        }
    }

    @Test
    void damagedPageDataIsReportedNamingPartitionEpochAndProcess() throws IOException {
        MemoryBackend b = backend();
        commit(b, 3, 0, -1, 2, 1);
        commit(b, 3, 1, -1, 2, 2);
        Path pages = dir.resolve("3").resolve("1.pages");
        flipBits(pages, 5000, 0x10);
        SlsException e = assertThrows(SlsException.class, () -> b.open(3, 1));
        assertEquals("partition 3 epoch 1: page data of process 100 at 0x400000 (2 pages) is damaged (checksum mismatch)", e.getMessage());
        b.open(3, 0).close(); // the older epoch stays restorable
        assertEquals(List.of(e.getMessage()), b.verify(3));
    }

    @Test
    void recordDamagedOrRemovedAfterCommitIsReportedWhenTheEpochIsOpened() throws IOException {
        // The image of an epoch is read from its record file when the epoch is opened, not kept on the heap.
        MemoryBackend b = backend();
        commit(b, 3, 0, -1, 1, 1);
        commit(b, 3, 1, -1, 1, 2);
        commit(b, 3, 2, -1, 1, 3);
        Path rec = dir.resolve("3").resolve("1.record");
        flipBits(rec, 20, 1);
        SlsException damaged = assertThrows(SlsException.class, () -> b.open(3, 1));
        assertTrue(damaged.getMessage().startsWith("partition 3 epoch 1: record file " + rec + " is damaged"),
                damaged.getMessage());
        Path gone = dir.resolve("3").resolve("2.record");
        Files.delete(gone);
        SlsException missing = assertThrows(SlsException.class, () -> b.open(3, 2));
        assertEquals("partition 3 epoch 2: record file " + gone + " is missing", missing.getMessage());
        try (StoredEpoch s = b.open(3, 0)) {
            assertEquals(100, s.image().processes().get(0).pid());
        }
        assertEquals(List.of(0L, 1L, 2L), b.epochs(3).stream().map(EpochInfo::epoch).toList());
    }

    @Test
    void damagedRecordIsIgnoredOnReloadAndOthersRemain() throws IOException {
        commit(backend(), 3, 0, -1, 1, 1);
        commit(backend(), 3, 1, -1, 1, 1);
        Path rec = dir.resolve("3").resolve("1.record");
        flipBits(rec, 20, 1);
        assertEquals(List.of(0L), backend().epochs(3).stream().map(EpochInfo::epoch).toList());
    }

    @Test
    void baseOfADeltaEpochCannotBeDeletedButThePartitionCan() throws IOException {
        MemoryBackend b = backend();
        commit(b, 3, 0, -1, 1, 1);
        commit(b, 3, 1, 0, 1, 2);
        assertEquals("partition 3: epoch 0 is the base of delta epoch 1 and cannot be deleted",
                assertThrows(SlsException.class, () -> b.deleteEpoch(3, 0)).getMessage());
        b.deleteEpoch(3, 1);
        b.deleteEpoch(3, 0);
        assertTrue(b.epochs(3).isEmpty());
        commit(b, 3, 2, -1, 1, 1);
        b.deletePartition(3);
        assertTrue(b.epochs(3).isEmpty());
        assertFalse(Files.exists(dir.resolve("3")));
    }

    @Test
    void pageRunBeyondThePageFileIsRefusedAtCommit() throws IOException {
        MemoryBackend b = backend();
        try (EpochWriter w = b.beginEpoch(3, 0)) {
            Files.write(w.pageFile(), new byte[4096]);
            ProcessImage p = new ProcessImage(100, 1, 100, 100, "p", "/p", 1, List.of(),
                    List.of(new PageRun(0x1000, 2, 0)), List.of(), new byte[0]);
            SlsException e = assertThrows(SlsException.class, () -> w.commit(new EpochRecord(3, 0, CaptureMode.FULL, -1, 0,
                    new CheckpointImage(List.of(p)))));
            assertTrue(e.getMessage().contains("beyond the page file"), e.getMessage());
        }
        assertTrue(b.epochs(3).isEmpty());
    }
}
