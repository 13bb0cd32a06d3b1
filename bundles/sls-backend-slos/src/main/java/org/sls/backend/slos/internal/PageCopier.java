package org.sls.backend.slos.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;
import org.sls.api.SlsException;
import org.sls.api.image.PageRun;
import org.sls.api.image.ProcessImage;
import org.sls.api.spi.EpochRecord;

/**
 * Copies an epoch's pages from the page file into the store in large sequential chunks.
 *
 * <p>Sharing: a page is stored once when the previous epoch of the partition holds the same
 * process (same pid) with identical content at the same address. Candidates are found by
 * (address, CRC32C) against the previous epoch's segments and confirmed by comparing the bytes
 * (so a CRC collision can never alias two different pages); a confirmed page is referenced where
 * the previous epoch keeps it instead of being written again. Comparing against the same address
 * keeps the index to the previous record itself (no global hash table) and catches exactly the
 * common case: the untouched majority of a process's memory between two full epochs.
 */
final class PageCopier implements AutoCloseable {

    private static final int PAGE = PageRun.PAGE_SIZE;
    private static final int CHUNK_PAGES = Store.IO_CHUNK / PAGE;
    /** Largest single reservation, so one big epoch does not hold all free space while in flight. */
    private static final long MAX_RESERVATION = 256L << 20;

    private final SlosEpochWriter writer;
    private final Store store;
    private final Path pageFilePath;
    private final FileChannel pages;
    private final ByteBuffer data;
    private final ByteBuffer stored;
    private final CRC32C crc = new CRC32C();
    private long remainingUpperBound;
    private long cursor = -1;
    private long cursorEnd = -1;

    PageCopier(SlosEpochWriter writer, Store store, Path pageFile, EpochRecord record) throws IOException {
        this.writer = writer;
        this.store = store;
        this.pageFilePath = pageFile;
        this.pages = FileChannel.open(pageFile, StandardOpenOption.READ);
        this.data = store.takeBuffer();
        this.stored = store.takeBuffer();
        this.remainingUpperBound = record.image().pageBytes();
    }

    /** Previous epoch's segments of one process, sorted by address, for (address, CRC) lookup. */
    private static final class BaseIndex {
        private final Segment[] segments;
        private final long[] starts;

        BaseIndex(StoredProcess previous) {
            segments = previous == null ? new Segment[0] : previous.segments().toArray(new Segment[0]);
            Arrays.sort(segments, (a, b) -> Long.compare(a.address(), b.address()));
            starts = new long[segments.length];
            for (int i = 0; i < segments.length; i++) {
                starts[i] = segments[i].address();
            }
        }

        /** Store offset of the previous page at this address if its CRC equals {@code crc}, else -1. */
        long candidate(long address, int crc) {
            int i = Arrays.binarySearch(starts, address);
            if (i < 0) {
                i = -i - 2;
            }
            if (i < 0) {
                return -1;
            }
            Segment s = segments[i];
            long index = (address - s.address()) / PAGE;
            if (index >= s.pageCount() || s.crcAt(index) != crc) {
                return -1;
            }
            return s.storeOffset() + index * PAGE;
        }
    }

    /** Accumulates consecutive pages into as few segments as possible. */
    private static final class SegmentList {
        private final List<Segment> done = new ArrayList<>();
        private long address;
        private long storeOffset;
        private boolean own;
        private int[] crcs = new int[64];
        private int count;

        void add(long pageAddress, long pageStoreOffset, int pageCrc, boolean pageOwn) {
            if (count > 0 && (pageOwn != own || pageAddress != address + (long) count * PAGE
                    || pageStoreOffset != storeOffset + (long) count * PAGE)) {
                flush();
            }
            if (count == 0) {
                address = pageAddress;
                storeOffset = pageStoreOffset;
                own = pageOwn;
            }
            if (count == crcs.length) {
                crcs = Arrays.copyOf(crcs, crcs.length * 2);
            }
            crcs[count++] = pageCrc;
        }

        void flush() {
            if (count > 0) {
                done.add(new Segment(address, count, storeOffset, Arrays.copyOf(crcs, count), own));
                count = 0;
            }
        }

        List<Segment> finish() {
            flush();
            return done;
        }
    }

    StoredProcess copy(ProcessImage p, StoredProcess previous) throws IOException {
        BaseIndex base = new BaseIndex(previous);
        SegmentList out = new SegmentList();
        int[] crcs = new int[CHUNK_PAGES];
        long[] sharedAt = new long[CHUNK_PAGES];
        for (PageRun run : p.pageRuns()) {
            for (long done = 0; done < run.pageCount(); done += CHUNK_PAGES) {
                writer.checkNotClosed();
                int n = (int) Math.min(CHUNK_PAGES, run.pageCount() - done);
                long firstAddress = run.address() + done * PAGE;
                readPageFile(run, done, n, p.pid());
                for (int i = 0; i < n; i++) {
                    crc.reset();
                    crc.update(data.slice(i * PAGE, PAGE));
                    crcs[i] = (int) crc.getValue();
                    sharedAt[i] = base.candidate(firstAddress + (long) i * PAGE, crcs[i]);
                }
                confirmCandidates(sharedAt, n);
                int i = 0;
                while (i < n) {
                    int j = i + 1;
                    if (sharedAt[i] >= 0) {
                        out.add(firstAddress + (long) i * PAGE, sharedAt[i], crcs[i], false);
                        i = j;
                        continue;
                    }
                    while (j < n && sharedAt[j] < 0) {
                        j++;
                    }
                    writeNewPages(out, firstAddress, crcs, i, j);
                    i = j;
                }
                remainingUpperBound -= (long) n * PAGE;
            }
        }
        return new StoredProcess(p, out.finish());
    }

    private void readPageFile(PageRun run, long donePages, int n, int pid) throws IOException {
        data.clear().limit(n * PAGE);
        long pos = run.dataOffset() + donePages * PAGE;
        while (data.hasRemaining()) {
            int r = pages.read(data, pos);
            if (r < 0) {
                throw new SlsException("page file " + pageFilePath + " ends at " + pos + " but process " + pid
                        + "'s page run at 0x" + Long.toHexString(run.address()) + " needs "
                        + (run.dataOffset() + run.length()) + " bytes");
            }
            pos += r;
        }
    }

    /** Keeps a candidate only where the stored bytes equal the new page; groups contiguous reads. */
    private void confirmCandidates(long[] sharedAt, int n) throws IOException {
        int i = 0;
        while (i < n) {
            if (sharedAt[i] < 0) {
                i++;
                continue;
            }
            int j = i + 1;
            while (j < n && sharedAt[j] >= 0 && sharedAt[j] == sharedAt[j - 1] + PAGE) {
                j++;
            }
            stored.clear().limit((j - i) * PAGE);
            store.file().readFully(stored, sharedAt[i]);
            for (int k = i; k < j; k++) {
                if (data.slice(k * PAGE, PAGE).mismatch(stored.slice((k - i) * PAGE, PAGE)) != -1) {
                    sharedAt[k] = -1;
                }
            }
            i = j;
        }
    }

    private void writeNewPages(SegmentList out, long firstAddress, int[] crcs, int from, int to) throws IOException {
        int i = from;
        while (i < to) {
            if (cursor < 0 || cursor == cursorEnd) {
                reserveMore((long) (to - i) * PAGE);
            }
            int fit = (int) Math.min(to - i, (cursorEnd - cursor) / PAGE);
            store.file().write(data.slice(i * PAGE, fit * PAGE), cursor);
            for (int k = 0; k < fit; k++) {
                out.add(firstAddress + (long) (i + k) * PAGE, cursor + (long) k * PAGE, crcs[i + k], true);
            }
            cursor += (long) fit * PAGE;
            i += fit;
        }
    }

    private void reserveMore(long atLeast) {
        long wanted = Math.min(Math.max(atLeast, remainingUpperBound), MAX_RESERVATION);
        wanted = Math.max(Layout.roundUp(wanted), Layout.BLOCK);
        long[] r = writer.reserve(wanted, false);
        if (r == null) {
            throw new SlsException("SLOS store " + store.path() + " is full: epoch " + writer.epoch() + " of partition "
                    + writer.oid() + " needs up to " + remainingUpperBound + " more bytes, " + store.freeBytes()
                    + " bytes free of " + store.capacity());
        }
        cursor = r[0];
        cursorEnd = r[0] + r[1];
    }

    /** Gives back the unused end of the last reservation. */
    void releaseUnused() {
        if (cursor >= 0 && cursor < cursorEnd) {
            writer.unreserve(cursor, cursorEnd - cursor);
        }
        cursor = cursorEnd;
    }

    @Override
    public void close() throws IOException {
        store.giveBuffer(data);
        store.giveBuffer(stored);
        pages.close();
    }
}
