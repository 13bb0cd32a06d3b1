package org.sls.backend.slos.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.sls.api.CaptureMode;
import org.sls.api.EpochInfo;
import org.sls.api.image.CheckpointImage;
import org.sls.api.image.FileDescriptorInfo;
import org.sls.api.image.MemoryRegion;
import org.sls.api.image.PageRun;
import org.sls.api.image.PageSegment;
import org.sls.api.image.ProcessImage;
import org.sls.api.spi.EpochRecord;
import org.sls.api.spi.EpochWriter;
import org.sls.api.spi.StoredEpoch;

/** Builds epochs with known page contents and reads them back through the restore path. */
final class Epochs {

    static final int PAGE = PageRun.PAGE_SIZE;

    /**
     * A process's pages to capture: address -> one page of content, and its memory map (null: one
     * region spanning the captured pages; a delta capture names the whole map, as /proc/PID/maps would).
     */
    record Proc(int pid, TreeMap<Long, byte[]> pages, List<MemoryRegion> regions) {
        Proc(int pid, TreeMap<Long, byte[]> pages) {
            this(pid, pages, null);
        }
    }

    private Epochs() {
    }

    static Store.Options options(Path store, long capacityBytes, int retain) {
        return new Store.Options(store, capacityBytes, retain, store.resolveSibling("pages"), true,
                StoreFile.NO_OBSERVER);
    }

    static byte[] page(long seed) {
        byte[] b = new byte[PAGE];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** {@code count} pages at consecutive addresses from {@code base}, content from {@code seed}. */
    static Proc proc(int pid, long base, int count, long seed) {
        TreeMap<Long, byte[]> pages = new TreeMap<>();
        for (int i = 0; i < count; i++) {
            pages.put(base + (long) i * PAGE, page(seed * 1_000_003L + i));
        }
        return new Proc(pid, pages);
    }

    static List<MemoryRegion> region(long start, int pages) {
        return List.of(new MemoryRegion(start, start + (long) pages * PAGE, "rw-p", 0, 0, ""));
    }

    static Proc withChanged(Proc p, long address, long seed) {
        TreeMap<Long, byte[]> pages = new TreeMap<>(p.pages());
        pages.put(address, page(seed));
        return new Proc(p.pid(), pages, p.regions());
    }

    /** Writes the pages into the writer's page file as the engine would and commits. */
    static EpochInfo commit(CheckpointBackendLike backend, long oid, long epoch, long parent, List<Proc> procs) {
        try (EpochWriter w = backend.beginEpoch(oid, epoch)) {
            return w.commit(record(w, oid, epoch, parent, procs));
        }
    }

    /** The CheckpointBackend methods the tests drive, so they run against Store or SlosBackend alike. */
    interface CheckpointBackendLike {
        EpochWriter beginEpoch(long oid, long epoch);
    }

    static EpochRecord record(EpochWriter w, long oid, long epoch, long parent, List<Proc> procs) {
        List<ProcessImage> images = new ArrayList<>();
        try (FileChannel ch = FileChannel.open(w.pageFile(), StandardOpenOption.WRITE)) {
            long offset = 0;
            for (Proc p : procs) {
                List<PageRun> runs = new ArrayList<>();
                long runStart = -1;
                long runOffset = 0;
                long runPages = 0;
                for (Map.Entry<Long, byte[]> e : p.pages().entrySet()) {
                    if (runStart >= 0 && e.getKey() != runStart + runPages * PAGE) {
                        runs.add(new PageRun(runStart, runPages, runOffset));
                        runStart = -1;
                    }
                    if (runStart < 0) {
                        runStart = e.getKey();
                        runOffset = offset;
                        runPages = 0;
                    }
                    ByteBuffer b = ByteBuffer.wrap(e.getValue());
                    while (b.hasRemaining()) {
                        ch.write(b, offset + b.position());
                    }
                    offset += PAGE;
                    runPages++;
                }
                if (runStart >= 0) {
                    runs.add(new PageRun(runStart, runPages, runOffset));
                }
                long lo = p.pages().isEmpty() ? 0x10000 : p.pages().firstKey();
                long hi = p.pages().isEmpty() ? 0x11000 : p.pages().lastKey() + PAGE;
                List<MemoryRegion> regions = p.regions() != null ? p.regions()
                        : List.of(new MemoryRegion(lo, hi, "rw-p", 0, 0, ""));
                images.add(new ProcessImage(p.pid(), 1, p.pid(), p.pid(), "proc" + p.pid(), "/bin/proc" + p.pid(), 1,
                        regions, runs,
                        List.of(new FileDescriptorInfo(0, "chr", "/dev/null", 0, 2)), ("native-" + p.pid() + "-" + epoch)
                        .getBytes()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new EpochRecord(oid, epoch, parent < 0 ? CaptureMode.FULL : CaptureMode.DELTA, parent, 1234,
                new CheckpointImage(images));
    }

    /** The pages of one process as the restorer would pread them from the segments. */
    static TreeMap<Long, byte[]> readPages(StoredEpoch stored, int pid) {
        TreeMap<Long, byte[]> out = new TreeMap<>();
        for (PageSegment s : stored.pages(pid)) {
            try (FileChannel ch = FileChannel.open(s.file(), StandardOpenOption.READ)) {
                for (long off = 0; off < s.length(); off += PAGE) {
                    ByteBuffer b = ByteBuffer.allocate(PAGE);
                    while (b.hasRemaining()) {
                        if (ch.read(b, s.fileOffset() + off + b.position()) < 0) {
                            throw new IOException("short store file");
                        }
                    }
                    out.put(s.address() + off, b.array());
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return out;
    }

    static boolean samePages(TreeMap<Long, byte[]> a, TreeMap<Long, byte[]> b) {
        if (!a.keySet().equals(b.keySet())) {
            return false;
        }
        for (Map.Entry<Long, byte[]> e : a.entrySet()) {
            if (!java.util.Arrays.equals(e.getValue(), b.get(e.getKey()))) {
                return false;
            }
        }
        return true;
    }
}
