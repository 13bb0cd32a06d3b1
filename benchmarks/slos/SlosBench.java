package org.sls.backend.slos.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.SplittableRandom;
import org.sls.api.CaptureMode;
import org.sls.api.EpochInfo;
import org.sls.api.image.CheckpointImage;
import org.sls.api.image.MemoryRegion;
import org.sls.api.image.PageRun;
import org.sls.api.image.PageSegment;
import org.sls.api.image.ProcessImage;
import org.sls.api.spi.EpochRecord;
import org.sls.api.spi.EpochWriter;
import org.sls.api.spi.StoredEpoch;

/**
 * SLOS throughput: commit (page file on tmpfs -> store, CRC32C, fdatasync x3) and restore read
 * (open + CRC verification + pread of every segment) of one epoch of incompressible pages; then a
 * second full epoch with 1 % of the pages changed (sharing) and a delta epoch of that 1 %.
 *
 * <p>Arguments: store directory, MiB per epoch..., run by benchmarks/slos/run.sh.
 */
public final class SlosBench {

    private static final int PAGE = PageRun.PAGE_SIZE;

    private SlosBench() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        Files.createDirectories(dir);
        // One unreported 64 MiB round first, so the numbers measure the store, not the JIT warming up.
        run(dir, 64, false);
        for (int i = 1; i < args.length; i++) {
            run(dir, Long.parseLong(args[i]), true);
        }
    }

    private static void run(Path dir, long mib, boolean report) throws Exception {
        Path storePath = dir.resolve("bench-" + mib + ".store");
        Files.deleteIfExists(storePath);
        long bytes = mib << 20;
        Path pageDir = Path.of("/dev/shm/slos-bench-pages");
        Store.Options o = new Store.Options(storePath, 3 * bytes + (256L << 20), 16, pageDir, true,
                StoreFile.NO_OBSERVER);
        try (Store s = Store.open(o)) {
            SplittableRandom random = new SplittableRandom(mib);
            long pages = bytes / PAGE;

            long t0 = System.nanoTime();
            EpochWriter w1 = s.beginEpoch(1, 1);
            fill(w1.pageFile(), bytes, random);
            EpochRecord r1 = record(1, 1, -1, pages);
            long c0 = System.nanoTime();
            EpochInfo i1 = w1.commit(r1);
            double commitSec = (System.nanoTime() - c0) / 1e9;
            double fillSec = (c0 - t0) / 1e9;

            if (report) {
                dropCaches();
            }
            long rd0 = System.nanoTime();
            long read = restoreRead(s, 1, 1);
            double readSec = (System.nanoTime() - rd0) / 1e9;

            // Second full epoch: 1 % of the pages rewritten, the rest identical.
            EpochWriter w2 = s.beginEpoch(1, 2);
            Files.copy(pageFileOfEpoch1(s), w2.pageFile(), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            long changed = rewriteOnePercent(w2.pageFile(), pages, random);
            long c2 = System.nanoTime();
            EpochInfo i2 = w2.commit(record(1, 2, -1, pages));
            double commit2Sec = (System.nanoTime() - c2) / 1e9;

            // Delta epoch: only the changed 1 %.
            EpochWriter w3 = s.beginEpoch(1, 3);
            fill(w3.pageFile(), changed * PAGE, random);
            long c3 = System.nanoTime();
            EpochInfo i3 = w3.commit(record(1, 3, 2, changed));
            double commit3Sec = (System.nanoTime() - c3) / 1e9;

            if (report) System.out.printf("epoch %5d MiB: full commit %.3f s = %7.1f MiB/s | restore read (cold cache, CRC-verified) "
                            + "%.3f s = %7.1f MiB/s | 2nd full epoch, 1%% changed: %.3f s, stores %.1f MiB of %d MiB "
                            + "(%.1f%%) | delta epoch of 1%%: %.3f s, stores %.1f MiB | (page-file fill %.2f s not counted)%n",
                    mib, commitSec, mib / commitSec, readSec, (read >> 20) / readSec, commit2Sec,
                    i2.sizeBytes() / 1048576.0, mib, 100.0 * i2.sizeBytes() / i1.sizeBytes(), commit3Sec,
                    i3.sizeBytes() / 1048576.0, fillSec);
            if (read != bytes) {
                throw new IllegalStateException("read back " + read + " bytes, expected " + bytes);
            }
        } finally {
            Files.deleteIfExists(storePath);
            Files.deleteIfExists(storePath.resolveSibling(storePath.getFileName() + ".lock"));
        }
    }

    /** The first epoch's page file is gone after commit; rebuild an identical one from the store. */
    private static Path pageFileOfEpoch1(Store s) throws IOException {
        Path copy = Files.createTempFile(Path.of("/dev/shm"), "slos-bench-", ".pages");
        try (StoredEpoch e = s.openEpoch(1, 1); FileChannel out = FileChannel.open(copy, StandardOpenOption.WRITE);
             FileChannel in = FileChannel.open(s.path(), StandardOpenOption.READ)) {
            for (PageSegment seg : e.pages(100)) {
                in.transferTo(seg.fileOffset(), seg.length(), out.position(seg.address() - 0x10000000L));
            }
        }
        copy.toFile().deleteOnExit();
        return copy;
    }

    private static long rewriteOnePercent(Path pageFile, long pages, SplittableRandom random) throws IOException {
        long changed = Math.max(1, pages / 100);
        byte[] b = new byte[PAGE];
        try (FileChannel ch = FileChannel.open(pageFile, StandardOpenOption.WRITE)) {
            for (long i = 0; i < changed; i++) {
                random.nextBytes(b);
                ch.write(ByteBuffer.wrap(b), (i * 100) * PAGE);
            }
        }
        return changed;
    }

    private static void fill(Path file, long bytes, SplittableRandom random) throws IOException {
        ByteBuffer b = ByteBuffer.allocateDirect(8 << 20);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            for (long off = 0; off < bytes; off += b.capacity()) {
                b.clear();
                while (b.remaining() >= 8) {
                    b.putLong(random.nextLong());
                }
                b.flip().limit((int) Math.min(b.capacity(), bytes - off));
                while (b.hasRemaining()) {
                    ch.write(b, off + b.position());
                }
            }
        }
    }

    private static EpochRecord record(long oid, long epoch, long parent, long pages) {
        long base = 0x10000000L;
        ProcessImage p = new ProcessImage(100, 1, 100, 100, "bench", "/bin/bench", 1,
                List.of(new MemoryRegion(base, base + pages * PAGE, "rw-p", 0, 0, "")),
                List.of(new PageRun(base, pages, 0)), List.of(), new byte[64]);
        return new EpochRecord(oid, epoch, parent < 0 ? CaptureMode.FULL : CaptureMode.DELTA, parent, 0,
                new CheckpointImage(List.of(p)));
    }

    /** What the restorer does: segments from the store, then pread of every byte. */
    private static long restoreRead(Store s, long oid, long epoch) throws IOException {
        long total = 0;
        ByteBuffer b = ByteBuffer.allocateDirect(8 << 20);
        try (StoredEpoch e = s.openEpoch(oid, epoch);
             FileChannel ch = FileChannel.open(s.path(), StandardOpenOption.READ)) {
            for (PageSegment seg : e.pages(100)) {
                for (long off = 0; off < seg.length(); ) {
                    b.clear().limit((int) Math.min(b.capacity(), seg.length() - off));
                    int n = ch.read(b, seg.fileOffset() + off);
                    off += n;
                    total += n;
                }
            }
        }
        return total;
    }

    private static void dropCaches() {
        try {
            Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "1");
        } catch (IOException | RuntimeException e) {
            System.out.println("(cannot drop the page cache: " + e + "; read numbers are warm-cache)");
        }
    }
}
