package org.sls.backend.slos.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sls.backend.slos.internal.Epochs.PAGE;
import static org.sls.backend.slos.internal.Epochs.commit;
import static org.sls.backend.slos.internal.Epochs.proc;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sls.api.EpochInfo;
import org.sls.api.SlsException;
import org.sls.api.image.ProcessImage;
import org.sls.api.spi.EpochWriter;
import org.sls.api.spi.StoredEpoch;
import org.sls.backend.slos.internal.Epochs.Proc;

class SlosStoreTest {

    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private Path storePath() {
        return dir.resolve("slos.store");
    }

    private Store open(long capacity, int retain) {
        return Store.open(Epochs.options(storePath(), capacity, retain));
    }

    private static TreeMap<Long, byte[]> read(Store s, long oid, long epoch, int pid) {
        try (StoredEpoch e = s.openEpoch(oid, epoch)) {
            return Epochs.readPages(e, pid);
        }
    }

    @Test
    void committedEpochReadsBackIdenticalAfterReopen() {
        Proc a = proc(100, 0x400000, 40, 1);
        Proc b = proc(101, 0x7f0000000000L, 3, 2);
        try (Store s = open(64 * MIB, 16)) {
            EpochInfo info = commit(s::beginEpoch, 7, 1, -1, List.of(a, b));
            assertEquals(2, info.processes());
            assertEquals(43L * PAGE, info.pageBytes());
        }
        try (Store s = open(64 * MIB, 16)) {
            assertEquals(List.of(1L), s.epochs(7).stream().map(EpochInfo::epoch).toList());
            assertTrue(Epochs.samePages(a.pages(), read(s, 7, 1, 100)));
            assertTrue(Epochs.samePages(b.pages(), read(s, 7, 1, 101)));
            try (StoredEpoch e = s.openEpoch(7, 1)) {
                assertEquals(List.of(), e.pages(555), "a process the epoch does not hold has no pages in it");
                ProcessImage p = e.image().processes().get(0);
                assertEquals(100, p.pid());
                assertEquals("proc100", p.comm());
                assertArrayEquals("native-100-1".getBytes(), p.nativeState());
                assertEquals("/dev/null", p.files().get(0).target());
                assertEquals(40L * PAGE, p.pageBytes());
            }
        }
    }

    @Test
    void unchangedPagesOfSuccessiveFullEpochsAreStoredOnce() {
        Proc p1 = proc(100, 0x400000, 64, 1);
        Proc p2 = Epochs.withChanged(p1, 0x400000 + 5 * PAGE, 99);
        try (Store s = open(64 * MIB, 16)) {
            EpochInfo first = commit(s::beginEpoch, 1, 1, -1, List.of(p1));
            long referencedAfterFirst = s.stats().referencedBytes();
            EpochInfo second = commit(s::beginEpoch, 1, 2, -1, List.of(p2));
            long growth = s.stats().referencedBytes() - referencedAfterFirst;
            assertTrue(first.sizeBytes() >= 64L * PAGE);
            assertTrue(second.sizeBytes() < 2L * PAGE + 8 * PAGE, "second epoch stored " + second.sizeBytes());
            assertTrue(growth < 3L * PAGE + 8 * PAGE, "store grew by " + growth);
            assertTrue(Epochs.samePages(p2.pages(), read(s, 1, 2, 100)));
            // Deleting the first epoch must keep the pages the second shares with it.
            s.deleteEpoch(1, 1);
            assertTrue(Epochs.samePages(p2.pages(), read(s, 1, 2, 100)));
            assertEquals(List.of(), s.verifyAll());
        }
    }

    @Test
    void retentionKeepsTheNewestEpochsAndFreesOlderOnes() {
        try (Store s = open(64 * MIB, 3)) {
            for (long e = 1; e <= 6; e++) {
                commit(s::beginEpoch, 5, e, -1, List.of(proc(100, 0x400000, 16, e)));
            }
            assertEquals(List.of(4L, 5L, 6L), s.epochs(5).stream().map(EpochInfo::epoch).toList());
            for (long e = 4; e <= 6; e++) {
                assertTrue(Epochs.samePages(proc(100, 0x400000, 16, e).pages(), read(s, 5, e, 100)));
            }
            // Three epochs of 16 distinct pages each plus records and catalogs; six would not fit this bound.
            assertTrue(s.stats().referencedBytes() < 3 * (16 + 4) * PAGE, "referenced " + s.stats().referencedBytes());
        }
    }

    @Test
    void retentionFoldsAKeptDeltaEpochWhoseParentGoesAndFreesTheRest() {
        Proc base = proc(100, 0x400000, 8, 1);
        var map = Epochs.region(0x400000, 8);
        TreeMap<Long, byte[]> expected = new TreeMap<>(base.pages());
        List<TreeMap<Long, byte[]>> views = new ArrayList<>();
        try (Store s = open(64 * MIB, 2)) {
            commit(s::beginEpoch, 9, 1, -1, List.of(new Proc(100, base.pages(), map)));
            long referencedWithBase = s.stats().referencedBytes();
            views.add(null);
            views.add(new TreeMap<>(expected));
            for (long e = 2; e <= 5; e++) {
                long address = 0x400000L + e * PAGE;
                expected.put(address, Epochs.page(e));
                commit(s::beginEpoch, 9, e, e - 1, List.of(new Proc(100,
                        new TreeMap<>(java.util.Map.of(address, Epochs.page(e))), map)));
                views.add(new TreeMap<>(expected));
            }
            assertEquals(List.of(4L, 5L), s.epochs(9).stream().map(EpochInfo::epoch).toList());
            EpochInfo oldest = s.epochs(9).get(0);
            assertEquals(-1, oldest.parentEpoch(), "the oldest kept delta epoch no longer needs a parent");
            assertEquals(8L * PAGE, oldest.pageBytes());
            // Epoch 4 alone holds everything; epoch 5 composes over it.
            assertTrue(Epochs.samePages(views.get(4), read(s, 9, 4, 100)));
            TreeMap<Long, byte[]> five = read(s, 9, 4, 100);
            five.putAll(read(s, 9, 5, 100));
            assertTrue(Epochs.samePages(views.get(5), five));
            // Kept: base pages 0, 1, 5, 6, 7 and delta pages 2, 3, 4 (through the fold) plus delta page 5.
            // Base pages 2, 3 and 4, superseded in every kept view, are no longer referenced.
            ExtentSet pagesOfPartition = new ExtentSet();
            for (EpochEntry e : s.catalog().epochs(9)) {
                pagesOfPartition.addAll(ExtentSet.ofPairs(e.pageRanges()));
            }
            assertEquals(9L * PAGE, pagesOfPartition.bytes());
            // Pages plus the two records and the catalog: one page more than the base epoch alone had.
            assertEquals(referencedWithBase + 1L * PAGE + Layout.BLOCK, s.stats().referencedBytes());
            assertEquals(List.of(), s.verifyAll());
        }
        try (Store s = open(64 * MIB, 2)) {
            assertEquals(-1, s.epochs(9).get(0).parentEpoch());
            assertTrue(Epochs.samePages(views.get(4), read(s, 9, 4, 100)));
        }
    }

    @Test
    void deletingTheParentOfAKeptDeltaEpochIsRefused() {
        try (Store s = open(64 * MIB, 16)) {
            commit(s::beginEpoch, 3, 1, -1, List.of(proc(100, 0x400000, 4, 1)));
            commit(s::beginEpoch, 3, 2, 1, List.of(proc(100, 0x400000, 1, 2)));
            SlsException e = assertThrows(SlsException.class, () -> s.deleteEpoch(3, 1));
            assertTrue(e.getMessage().contains("parent of delta epoch 2"), e.getMessage());
            s.deleteEpoch(3, 2);
            s.deleteEpoch(3, 1);
            assertEquals(List.of(), s.epochs(3));
        }
    }

    @Test
    void deletingEpochsAndPartitionsFreesTheirSpace() {
        try (Store s = open(16 * MIB, 16)) {
            long freeAtStart = s.stats().freeBytes();
            commit(s::beginEpoch, 1, 1, -1, List.of(proc(100, 0x400000, 256, 1)));
            commit(s::beginEpoch, 2, 1, -1, List.of(proc(100, 0x400000, 256, 2)));
            long freeWithTwo = s.stats().freeBytes();
            assertTrue(freeAtStart - freeWithTwo >= 512L * PAGE);
            s.deletePartition(1);
            s.deleteEpoch(2, 1);
            // The previous catalog stays reachable until one more commit; then everything is free again.
            commit(s::beginEpoch, 3, 1, -1, List.of(proc(100, 0x400000, 1, 3)));
            long free = s.stats().freeBytes();
            assertTrue(freeAtStart - free < 16L * PAGE, "still used: " + (freeAtStart - free));
        }
        try (Store s = open(16 * MIB, 16)) {
            assertEquals(List.of(), s.epochs(1));
            assertEquals(List.of(), s.epochs(2));
            assertEquals(1, s.epochs(3).size());
        }
    }

    @Test
    void fullStoreFailsTheCheckpointCleanlyAndKeepsOlderEpochs() throws IOException {
        Proc small = proc(100, 0x400000, 64, 1);
        try (Store s = open(MIB, 16)) {
            commit(s::beginEpoch, 4, 1, -1, List.of(small));
            long free = s.stats().freeBytes();
            SlsException e = assertThrows(SlsException.class,
                    () -> commit(s::beginEpoch, 4, 2, -1, List.of(proc(100, 0x400000, 400, 2))));
            assertTrue(e.getMessage().contains("is full") && e.getMessage().contains(storePath().toString())
                    && e.getMessage().contains("needs"), e.getMessage());
            assertEquals(List.of(1L), s.epochs(4).stream().map(EpochInfo::epoch).toList());
            assertEquals(free, s.stats().freeBytes());
            assertTrue(Epochs.samePages(small.pages(), read(s, 4, 1, 100)));
            commit(s::beginEpoch, 4, 3, -1, List.of(proc(100, 0x400000, 8, 3)));
        }
        try (Store s = open(MIB, 16)) {
            assertEquals(List.of(1L, 3L), s.epochs(4).stream().map(EpochInfo::epoch).toList());
            assertEquals(List.of(), s.verifyAll());
            try (var pages = Files.list(dir.resolve("pages"))) {
                assertEquals(0, pages.count(), "page files left behind");
            }
        }
    }

    @Test
    void aFlippedBitInAnExtentIsReportedAndOlderEpochsStayRestorable() throws IOException {
        Proc old = proc(100, 0x400000, 16, 1);
        Proc changed = proc(100, 0x400000, 16, 2);
        long offset;
        try (Store s = open(64 * MIB, 16)) {
            commit(s::beginEpoch, 6, 1, -1, List.of(old));
            commit(s::beginEpoch, 6, 2, -1, List.of(changed));
            try (StoredEpoch e = s.openEpoch(6, 2)) {
                offset = e.pages(100).get(0).fileOffset();
            }
        }
        flipBit(storePath(), offset + 3 * PAGE + 17);
        try (Store s = open(64 * MIB, 16)) {
            List<String> damage = s.verify(6);
            assertEquals(1, damage.size(), damage.toString());
            assertTrue(damage.get(0).contains("partition 6 epoch 2 process 100"), damage.get(0));
            try (StoredEpoch e = s.openEpoch(6, 2)) {
                SlsException ex = assertThrows(SlsException.class, () -> e.pages(100));
                assertTrue(ex.getMessage().contains("partition 6 epoch 2 process 100")
                        && ex.getMessage().contains("CRC32C"), ex.getMessage());
            }
            assertTrue(Epochs.samePages(old.pages(), read(s, 6, 1, 100)));
        }
    }

    @Test
    void aFlippedBitInAnEpochRecordIsReportedNamingTheEpoch() throws IOException {
        try (Store s = open(64 * MIB, 16)) {
            commit(s::beginEpoch, 6, 1, -1, List.of(proc(100, 0x400000, 4, 1)));
            commit(s::beginEpoch, 6, 2, -1, List.of(proc(100, 0x400000, 4, 2)));
        }
        long recordOffset;
        try (Store s = open(64 * MIB, 16)) {
            recordOffset = s.catalog().find(6, 2).recordOffset();
        }
        flipBit(storePath(), recordOffset + 40);
        try (Store s = open(64 * MIB, 16)) {
            SlsException ex = assertThrows(SlsException.class, () -> s.openEpoch(6, 2));
            assertTrue(ex.getMessage().contains("partition 6 epoch 2: epoch record"), ex.getMessage());
            assertEquals(1, s.verify(6).size());
            assertTrue(Epochs.samePages(proc(100, 0x400000, 4, 1).pages(), read(s, 6, 1, 100)));
        }
    }

    @Test
    void aFlippedBitInTheNewestMetadataSlotFallsBackToTheOlderSlot() throws IOException {
        Proc first = proc(100, 0x400000, 8, 1);
        int newestSlot;
        try (Store s = open(64 * MIB, 16)) {
            commit(s::beginEpoch, 2, 1, -1, List.of(first));
            commit(s::beginEpoch, 2, 2, -1, List.of(proc(100, 0x400000, 8, 2)));
            newestSlot = (int) (s.catalog().generation() % 2);
        }
        flipBit(storePath(), Layout.SLOT_OFFSETS[newestSlot] + 30);
        try (Store s = open(64 * MIB, 16)) {
            assertEquals(List.of(1L), s.epochs(2).stream().map(EpochInfo::epoch).toList());
            assertTrue(Epochs.samePages(first.pages(), read(s, 2, 1, 100)));
            List<String> damage = s.verifyAll();
            assertEquals(1, damage.size(), damage.toString());
            assertTrue(damage.get(0).contains("metadata slot " + newestSlot), damage.get(0));
            assertEquals(damage, s.verifyMetadata(), "slot damage is store-wide, reported by sls:verify without -o");
            assertEquals(List.of(), s.verify(2), "and belongs to no partition");
            // The next commit overwrites the damaged slot and the store is whole again.
            commit(s::beginEpoch, 2, 3, -1, List.of(proc(100, 0x400000, 8, 3)));
            assertEquals(List.of(), s.verifyAll());
        }
        try (Store s = open(64 * MIB, 16)) {
            assertEquals(List.of(1L, 3L), s.epochs(2).stream().map(EpochInfo::epoch).toList());
        }
    }

    @Test
    void aFileThatIsNotAStoreIsRefusedAndNotOverwritten() throws IOException {
        byte[] content = new byte[100_000];
        new Random(5).nextBytes(content);
        Files.write(storePath(), content);
        SlsException e = assertThrows(SlsException.class, () -> open(64 * MIB, 16));
        assertTrue(e.getMessage().contains("is not a SLOS store"), e.getMessage());
        assertArrayEquals(content, Files.readAllBytes(storePath()));
        // Released its lock: a second attempt says the same, not "already open".
        SlsException again = assertThrows(SlsException.class, () -> open(64 * MIB, 16));
        assertTrue(again.getMessage().contains("is not a SLOS store"), again.getMessage());
    }

    @Test
    void aStoreOfANewerFormatVersionIsRefusedAndNotOverwritten() throws IOException {
        try (Store s = open(64 * MIB, 16)) {
            commit(s::beginEpoch, 1, 1, -1, List.of(proc(100, 0x400000, 2, 1)));
        }
        ByteBuffer header = Layout.encodeHeader(new Layout.Header(Layout.FORMAT_VERSION + 1, Layout.BLOCK, 42, 0));
        try (FileChannel ch = FileChannel.open(storePath(), StandardOpenOption.WRITE)) {
            ch.write(header, 0);
        }
        byte[] before = Files.readAllBytes(storePath());
        SlsException e = assertThrows(SlsException.class, () -> open(64 * MIB, 16));
        assertTrue(e.getMessage().contains("format version " + (Layout.FORMAT_VERSION + 1)), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(storePath()));
    }

    @Test
    void aMetadataSlotOfANewerFormatVersionIsRefusedRatherThanOverwritten() throws IOException {
        long storeId;
        try (Store s = open(64 * MIB, 16)) {
            commit(s::beginEpoch, 1, 1, -1, List.of(proc(100, 0x400000, 2, 1)));
        }
        ByteBuffer head = ByteBuffer.allocate(Layout.BLOCK);
        try (FileChannel ch = FileChannel.open(storePath(), StandardOpenOption.READ)) {
            ch.read(head, 0);
        }
        storeId = ((Layout.HeaderOk) Layout.decodeHeader(head)).header().storeId();
        ByteBuffer slot = Layout.encodeSlot(new Layout.Slot(Layout.FORMAT_VERSION + 1, Layout.COMMIT_FLAG, storeId,
                99, 64 * MIB, Layout.PAYLOAD_START, 10, 0));
        try (FileChannel ch = FileChannel.open(storePath(), StandardOpenOption.WRITE)) {
            ch.write(slot, Layout.SLOT_OFFSETS[0]);
        }
        byte[] before = Files.readAllBytes(storePath());
        SlsException e = assertThrows(SlsException.class, () -> open(64 * MIB, 16));
        assertTrue(e.getMessage().contains("metadata slot 0") && e.getMessage().contains("newer format version 2"),
                e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(storePath()));
    }

    @Test
    void aStoreCannotBeOpenedTwice() {
        try (Store s = open(64 * MIB, 16)) {
            SlsException e = assertThrows(SlsException.class, () -> open(64 * MIB, 16));
            assertTrue(e.getMessage().contains("already open"), e.getMessage());
        }
    }

    @Test
    void concurrentCommitsOfDifferentPartitionsAllLand() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try (Store s = open(256 * MIB, 16)) {
            List<Future<?>> futures = new ArrayList<>();
            for (int oid = 1; oid <= 4; oid++) {
                long o = oid;
                futures.add(pool.submit(() -> {
                    for (long e = 1; e <= 10; e++) {
                        commit(s::beginEpoch, o, e, -1, List.of(proc(100, 0x400000, 32, o * 100 + e)));
                    }
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        try (Store s = open(256 * MIB, 16)) {
            for (long oid = 1; oid <= 4; oid++) {
                assertEquals(10, s.epochs(oid).size());
                assertTrue(Epochs.samePages(proc(100, 0x400000, 32, oid * 100 + 10).pages(), read(s, oid, 10, 100)));
            }
            assertEquals(List.of(), s.verifyAll());
        }
    }

    @Test
    void closingTheStoreAbortsAWriterInProgressAndKeepsCommittedEpochs() {
        Proc p = proc(100, 0x400000, 8, 1);
        Store s = open(64 * MIB, 16);
        commit(s::beginEpoch, 1, 1, -1, List.of(p));
        EpochWriter w = s.beginEpoch(1, 2);
        var record = Epochs.record(w, 1, 2, -1, List.of(p));
        s.close();
        SlsException e = assertThrows(SlsException.class, () -> w.commit(record));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        assertFalse(Files.exists(w.pageFile()));
        try (Store again = open(64 * MIB, 16)) {
            assertEquals(List.of(1L), again.epochs(1).stream().map(EpochInfo::epoch).toList());
            assertTrue(Epochs.samePages(p.pages(), read(again, 1, 1, 100)));
        }
    }

    @Test
    void anAbortedEpochLeavesNoTrace() {
        try (Store s = open(64 * MIB, 16)) {
            long free = s.stats().freeBytes();
            try (EpochWriter w = s.beginEpoch(1, 1)) {
                Epochs.record(w, 1, 1, -1, List.of(proc(100, 0x400000, 8, 1)));
                w.abort();
                assertFalse(Files.exists(w.pageFile()));
            }
            assertEquals(List.of(), s.epochs(1));
            assertEquals(free, s.stats().freeBytes());
        }
    }

    @Test
    void anEpochOpenForRestoreStaysReadableWhenDeleted() {
        Proc p = proc(100, 0x400000, 8, 1);
        try (Store s = open(64 * MIB, 16)) {
            commit(s::beginEpoch, 1, 1, -1, List.of(p));
            try (StoredEpoch e = s.openEpoch(1, 1)) {
                s.deleteEpoch(1, 1);
                for (long k = 2; k < 6; k++) {
                    commit(s::beginEpoch, 1, k, -1, List.of(proc(100, 0x400000, 8, k)));
                }
                assertTrue(Epochs.samePages(p.pages(), Epochs.readPages(e, 100)));
            }
        }
    }

    private static void flipBit(Path file, long offset) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(b, offset);
            b.put(0, (byte) (b.get(0) ^ 0x10));
            b.rewind();
            ch.write(b, offset);
        }
    }
}
