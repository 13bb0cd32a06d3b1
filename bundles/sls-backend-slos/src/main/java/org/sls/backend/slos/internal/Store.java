package org.sls.backend.slos.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import org.sls.api.EpochInfo;
import org.sls.api.SlsException;
import org.sls.api.image.PageRun;
import org.sls.backend.slos.internal.RecordCodec.StoredRecord;

/**
 * One open SLOS store: the double-buffered metadata slots, the catalog, and free space.
 *
 * <p>Free space is never stored; it is derived. A byte is in use when the current catalog or the
 * one before it (still reachable through the other slot, the fallback if the newest slot is
 * damaged) references it, when a writer has reserved it for an epoch in flight, or when a reader
 * has the epoch open. Everything else may be allocated. Hence space an epoch frees becomes
 * reusable only after the following metadata commit, and an interrupted commit never overwrites
 * anything either slot can reach. Sharing is counted exactly: each catalog entry lists every store
 * range its pages use, so a range stays in use while any epoch lists it.
 *
 * <p>Payload writes of different epochs run in parallel; metadata commits, allocation and
 * deletion are serialized by one lock.
 */
final class Store implements SlosStore, AutoCloseable {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Store.class);

    /** How to open a store. {@code capacityBytes} is where a file store stops growing. */
    record Options(Path path, long capacityBytes, int retainEpochs, Path pageDir, boolean verifyOnRestore,
                   StoreFile.WriteObserver observer) {
        Options {
            if (retainEpochs < 1) {
                throw new SlsException("SLOS retainEpochs must be at least 1, got " + retainEpochs);
            }
        }
    }

    /** Space accounting. {@code reservedBytes}: in use only by the fallback catalog, writers or readers. */
    record Stats(long capacityBytes, long referencedBytes, long reservedBytes, long freeBytes, long generation) {
    }

    static final int IO_CHUNK = 8 << 20;

    private final Options options;
    private final Path path;
    private final StoreFile file;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private final long storeId;
    private final boolean blockDevice;
    private final ReentrantLock metadataLock = new ReentrantLock();

    private volatile Catalog current;
    private Catalog fallback;
    private int currentSlot;
    private long capacity;
    private ExtentSet catalogRefs = new ExtentSet();
    private final ExtentSet inFlight = new ExtentSet();
    private final Map<EpochEntry, Integer> pins = new IdentityHashMap<>();
    private final Set<SlosEpochWriter> writers = new HashSet<>();
    private volatile boolean closed;
    private volatile String broken;
    /** Reused 8 MiB direct buffers: checkpoints every few ms must not churn direct memory. */
    private final java.util.concurrent.ConcurrentLinkedDeque<ByteBuffer> ioBuffers =
            new java.util.concurrent.ConcurrentLinkedDeque<>();

    private Store(Options options, StoreFile file, FileChannel lockChannel, FileLock lock, long storeId,
                  boolean blockDevice) {
        this.options = options;
        this.path = options.path();
        this.file = file;
        this.lockChannel = lockChannel;
        this.lock = lock;
        this.storeId = storeId;
        this.blockDevice = blockDevice;
    }

    // ---------------------------------------------------------------- open / create

    static Store open(Options options) {
        Path path = options.path().toAbsolutePath();
        Options o = new Options(path, options.capacityBytes(), options.retainEpochs(), options.pageDir(),
                options.verifyOnRestore(), options.observer());
        try {
            boolean device = Files.exists(path) && !Files.isRegularFile(path) && !Files.isDirectory(path);
            if (Files.isDirectory(path)) {
                throw new SlsException("SLOS store path " + path + " is a directory, expected a file or block device");
            }
            if (path.getParent() != null) {
                Files.createDirectories(path.getParent());
            }
            FileChannel lockChannel = FileChannel.open(StoreCreation.lockPath(path, device), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = lockChannel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                lockChannel.close();
                throw new SlsException("SLOS store " + path + " is already open (locked through "
                        + StoreCreation.lockPath(path, device) + ")");
            }
            try {
                if (!device) {
                    StoreCreation.deleteInterruptedCreations(path);
                }
                if (!Files.exists(path) || (!device && Files.size(path) == 0)) {
                    StoreCreation.createFile(path, o);
                } else if (device && StoreCreation.firstBytesAllZero(path)) {
                    StoreCreation.initialize(path, o);
                }
                StoreFile file = new StoreFile(path, o.observer());
                try {
                    return load(o, file, lockChannel, lock, device);
                } catch (RuntimeException | IOException e) {
                    file.close();
                    throw e;
                }
            } catch (RuntimeException | IOException e) {
                lock.release();
                lockChannel.close();
                throw e;
            }
        } catch (IOException e) {
            throw new SlsException("SLOS store " + path + " cannot be opened: " + e, e);
        }
    }

    private record SlotState(int index, Layout.Slot slot, Catalog catalog, String problem) {
    }

    private static Store load(Options o, StoreFile file, FileChannel lockChannel, FileLock lock, boolean device)
            throws IOException {
        Path path = o.path();
        ByteBuffer head = ByteBuffer.allocate(Layout.BLOCK);
        try {
            file.readFully(head, Layout.HEADER_OFFSET);
        } catch (IOException e) {
            throw new SlsException(path + " is not a SLOS store (shorter than its header block); refusing to use it");
        }
        Layout.HeaderCheck check = Layout.decodeHeader(head);
        long storeId;
        if (check instanceof Layout.NotAStore) {
            throw new SlsException(path + " is not a SLOS store (no SLOSSTOR magic); refusing to use or overwrite it");
        } else if (check instanceof Layout.NewerVersion v) {
            throw new SlsException(path + " is a SLOS store of format version " + v.version()
                    + ", newer than the supported version " + Layout.FORMAT_VERSION + "; refusing to open it");
        } else if (check instanceof Layout.DamagedHeader) {
            throw new SlsException("SLOS store " + path + ": header block is damaged (CRC32C mismatch); refusing to open it");
        } else {
            storeId = ((Layout.HeaderOk) check).header().storeId();
        }
        Store s = new Store(o, file, lockChannel, lock, storeId, device);
        SlotState[] slots = {s.readSlot(0), s.readSlot(1)};
        SlotState best = null;
        for (SlotState st : slots) {
            if (st.catalog() != null && (best == null || st.slot().generation() > best.slot().generation())) {
                best = st;
            }
        }
        for (SlotState st : slots) {
            // A newer bundle wrote here: falling back to the other slot would overwrite its work.
            if (st.problem() != null && st.problem().contains(Layout.NEWER_VERSION)) {
                throw new SlsException("SLOS store " + path + ": metadata slot " + st.index() + " " + st.problem()
                        + ", newer than the supported version " + Layout.FORMAT_VERSION + "; refusing to open it");
            }
        }
        if (best == null) {
            throw new SlsException("SLOS store " + path + ": no intact metadata slot (slot 0: " + slots[0].problem()
                    + "; slot 1: " + slots[1].problem() + "); refusing to open it");
        }
        for (SlotState st : slots) {
            if (st != best && st.problem() != null && !"never written".equals(st.problem())) {
                LOG.warn(
                        "SLOS store {}: metadata slot {} {}; using slot {} (generation {})", path, st.index(),
                        st.problem(), best.index(), best.slot().generation());
            }
        }
        SlotState other = slots[1 - best.index()];
        s.current = best.catalog();
        s.currentSlot = best.index();
        s.fallback = other.catalog() != null && other.slot().generation() < best.slot().generation()
                ? other.catalog() : null;
        s.rebuildCatalogRefs();
        long wanted = device ? StoreCreation.deviceSize(path) : o.capacityBytes();
        // A file store may be configured smaller later; it never shrinks below what is in use.
        long capacity = device ? wanted : Math.max(wanted, s.catalogRefs.highestEnd());
        s.capacity = capacity / Layout.BLOCK * Layout.BLOCK;
        s.deleteStalePageFiles();
        return s;
    }

    private SlotState readSlot(int index) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(Layout.BLOCK);
        try {
            file.readFully(b, Layout.SLOT_OFFSETS[index]);
        } catch (IOException e) {
            return new SlotState(index, null, null, "missing (store file too short)");
        }
        boolean allZero = true;
        for (int i = 0; i < Layout.BLOCK && allZero; i++) {
            allZero = b.get(i) == 0;
        }
        if (allZero) {
            return new SlotState(index, null, null, "never written");
        }
        Layout.SlotCheck sc = Layout.decodeSlot(b, storeId);
        if (sc.slot() == null) {
            return new SlotState(index, null, null, sc.problem());
        }
        Layout.Slot slot = sc.slot();
        if (slot.catalogLength() <= 0 || slot.catalogLength() > Integer.MAX_VALUE - 64) {
            return new SlotState(index, slot, null, "catalog length " + slot.catalogLength() + " is invalid");
        }
        byte[] blob = new byte[(int) slot.catalogLength()];
        try {
            file.readFully(ByteBuffer.wrap(blob), slot.catalogOffset());
        } catch (IOException e) {
            return new SlotState(index, slot, null, "catalog at " + slot.catalogOffset() + " unreadable: " + e.getMessage());
        }
        if (Layout.crc(blob, 0, blob.length) != slot.catalogCrc()) {
            return new SlotState(index, slot, null, "catalog at store offset " + slot.catalogOffset()
                    + " fails its CRC32C check");
        }
        try {
            Catalog c = Catalog.decode(blob, slot.catalogOffset());
            return new SlotState(index, slot, c.stored(slot.generation(), slot.catalogOffset(), blob.length), null);
        } catch (IOException | RuntimeException e) {
            return new SlotState(index, slot, null, "catalog cannot be decoded: " + e.getMessage());
        }
    }

    // ---------------------------------------------------------------- accessors

    Path path() {
        return path;
    }

    StoreFile file() {
        return file;
    }

    Options options() {
        return options;
    }

    List<EpochInfo> epochs(long oid) {
        List<EpochInfo> out = new ArrayList<>();
        for (EpochEntry e : current.epochs(oid)) {
            out.add(e.toInfo());
        }
        return out;
    }

    Catalog catalog() {
        return current;
    }

    Stats stats() {
        metadataLock.lock();
        try {
            ExtentSet referenced = current.references();
            ExtentSet used = usedNow();
            long usedBytes = used.bytes();
            return new Stats(capacity, referenced.bytes(), usedBytes - referenced.bytes(),
                    used.gapBytes(Layout.PAYLOAD_START, capacity), current.generation());
        } finally {
            metadataLock.unlock();
        }
    }

    private void ensureUsable() {
        if (closed) {
            throw new SlsException("SLOS store " + path + " is closed");
        }
        if (broken != null) {
            throw new SlsException(broken);
        }
    }

    ByteBuffer takeBuffer() {
        ByteBuffer b = ioBuffers.pollFirst();
        return b != null ? b.clear() : ByteBuffer.allocateDirect(IO_CHUNK);
    }

    void giveBuffer(ByteBuffer b) {
        if (ioBuffers.size() < 4) {
            ioBuffers.offerFirst(b);
        }
    }

    // ---------------------------------------------------------------- space

    private void rebuildCatalogRefs() {
        ExtentSet refs = current.references();
        if (fallback != null) {
            refs.addAll(fallback.references());
        }
        catalogRefs = refs;
    }

    private ExtentSet usedNow() {
        ExtentSet used = catalogRefs.copy();
        used.addAll(inFlight);
        for (EpochEntry pinned : pins.keySet()) {
            pinned.addRangesTo(used);
        }
        return used;
    }

    long freeBytes() {
        metadataLock.lock();
        try {
            return usedNow().gapBytes(Layout.PAYLOAD_START, capacity);
        } finally {
            metadataLock.unlock();
        }
    }

    long capacity() {
        return capacity;
    }

    /**
     * Reserves up to {@code wanted} bytes (a multiple of the block size) in one contiguous range,
     * fewer if no gap is that large; {offset, length}, or null when the store has no free block.
     */
    long[] allocate(long wanted, boolean wholeOnly) {
        metadataLock.lock();
        try {
            ensureUsable();
            long[] gap = usedNow().findGap(Layout.PAYLOAD_START, capacity, wanted);
            if ((gap == null || (wholeOnly && gap[1] < wanted)) && reclaimFallbackSpace()) {
                gap = usedNow().findGap(Layout.PAYLOAD_START, capacity, wanted);
            }
            if (gap == null || (wholeOnly && gap[1] < wanted)) {
                return null;
            }
            inFlight.add(gap[0], gap[1]);
            return gap;
        } finally {
            metadataLock.unlock();
        }
    }

    void release(long offset, long length) {
        metadataLock.lock();
        try {
            inFlight.remove(offset, length);
        } finally {
            metadataLock.unlock();
        }
    }

    /**
     * Space only the previous catalog references (deleted epochs, the previous blob) becomes free
     * once the previous catalog is no longer reachable: rewrite the current catalog unchanged under
     * a new generation so that both slots hold the current contents. Returns whether that freed any.
     */
    private boolean reclaimFallbackSpace() {
        if (fallback == null) {
            return false;
        }
        ExtentSet onlyFallback = fallback.references();
        onlyFallback.removeAll(current.references());
        if (onlyFallback.bytes() == 0) {
            return false;
        }
        try {
            commitMetadata(current);
            return true;
        } catch (SlsException e) {
            return false;
        }
    }

    // ---------------------------------------------------------------- pins

    EpochEntry pin(long oid, long epoch) {
        metadataLock.lock();
        try {
            ensureUsable();
            EpochEntry e = current.find(oid, epoch);
            if (e != null) {
                pins.merge(e, 1, Integer::sum);
            }
            return e;
        } finally {
            metadataLock.unlock();
        }
    }

    EpochEntry pinNewest(long oid) {
        metadataLock.lock();
        try {
            ensureUsable();
            List<EpochEntry> list = current.epochs(oid);
            if (list.isEmpty()) {
                return null;
            }
            EpochEntry e = list.get(list.size() - 1);
            pins.merge(e, 1, Integer::sum);
            return e;
        } finally {
            metadataLock.unlock();
        }
    }

    void unpin(EpochEntry e) {
        metadataLock.lock();
        try {
            pins.computeIfPresent(e, (k, n) -> n == 1 ? null : n - 1);
        } finally {
            metadataLock.unlock();
        }
    }

    // ---------------------------------------------------------------- writers

    SlosEpochWriter beginEpoch(long oid, long epoch) {
        metadataLock.lock();
        try {
            ensureUsable();
            if (current.find(oid, epoch) != null) {
                throw new SlsException("SLOS store " + path + " already holds epoch " + epoch + " of partition " + oid);
            }
            SlosEpochWriter w = new SlosEpochWriter(this, oid, epoch, createPageFile(oid, epoch));
            writers.add(w);
            return w;
        } finally {
            metadataLock.unlock();
        }
    }

    private Path createPageFile(long oid, long epoch) {
        Path dir = options.pageDir();
        try {
            Files.createDirectories(dir);
            return Files.createTempFile(dir, pageFilePrefix() + oid + "-" + epoch + "-", ".pages");
        } catch (IOException e) {
            throw new SlsException("SLOS cannot create a page file in " + dir + ": " + e, e);
        }
    }

    private String pageFilePrefix() {
        return "slos-" + Long.toHexString(storeId) + "-";
    }

    /** Page files of this store left by a process that died mid-checkpoint (we hold the store lock). */
    private void deleteStalePageFiles() {
        Path dir = options.pageDir();
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (var files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                if (p.getFileName().toString().startsWith(pageFilePrefix())) {
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException e) {
            LOG.warn("cannot clean page directory {}: {}", dir, e.toString());
        }
    }

    void writerDone(SlosEpochWriter w) {
        metadataLock.lock();
        try {
            writers.remove(w);
        } finally {
            metadataLock.unlock();
        }
    }

    /**
     * Makes a written epoch visible: checks it still fits the catalog, applies retention to its
     * partition, and commits the new catalog. The epoch's payload must already be durable.
     */
    EpochInfo commitEpoch(EpochEntry entry, ExtentSet reserved) {
        metadataLock.lock();
        try {
            ensureUsable();
            long oid = entry.oid();
            if (current.find(oid, entry.epoch()) != null) {
                throw new SlsException("SLOS store " + path + " already holds epoch " + entry.epoch()
                        + " of partition " + oid);
            }
            if (entry.parentEpoch() >= 0 && current.find(oid, entry.parentEpoch()) == null) {
                throw new SlsException("SLOS store " + path + ": delta epoch " + entry.epoch() + " of partition " + oid
                        + " needs parent epoch " + entry.parentEpoch() + ", which the store does not hold");
            }
            ExtentSet foldRecords = new ExtentSet();
            try {
                Catalog next = applyRetention(current.with(entry), oid, foldRecords);
                commitMetadata(next);
                inFlight.removeAll(reserved);
                return current.find(oid, entry.epoch()).toInfo();
            } finally {
                inFlight.removeAll(foldRecords);
            }
        } finally {
            metadataLock.unlock();
        }
    }

    /**
     * Keeps the newest {@code retainEpochs} epochs of the partition. A kept delta epoch whose parent
     * goes is folded first: it gets a new record whose segments compose its whole chain (no page
     * data moves; it references the same store ranges) and no parent, so delta chains stay bounded
     * and the old epochs' unshared space is freed. If a chain cannot be read, its epochs are kept.
     * New records are written and synced here, before the catalog that points to them.
     */
    private Catalog applyRetention(Catalog next, long oid, ExtentSet foldRecords) {
        List<EpochEntry> epochs = next.epochs(oid);
        int k = options.retainEpochs();
        if (epochs.size() <= k) {
            return next;
        }
        Map<Long, EpochEntry> byEpoch = new HashMap<>();
        epochs.forEach(e -> byEpoch.put(e.epoch(), e));
        Set<Long> keep = new HashSet<>();
        for (int i = epochs.size() - k; i < epochs.size(); i++) {
            keep.add(epochs.get(i).epoch());
        }
        boolean folded = false;
        for (int i = epochs.size() - k; i < epochs.size(); i++) {
            EpochEntry e = epochs.get(i);
            if (e.parentEpoch() < 0 || keep.contains(e.parentEpoch())) {
                continue;
            }
            try {
                EpochEntry self = fold(e, byEpoch, foldRecords);
                next = next.replaced(self);
                byEpoch.put(self.epoch(), self);
                folded = true;
            } catch (SlsException | IOException ex) {
                LOG.warn("SLOS store {}: keeping the parents of epoch {} of partition {}, folding failed: {}", path,
                        e.epoch(), oid, ex.getMessage());
                for (EpochEntry a = byEpoch.get(e.parentEpoch()); a != null && keep.add(a.epoch());
                     a = a.parentEpoch() >= 0 ? byEpoch.get(a.parentEpoch()) : null) {
                    // keep the whole chain
                }
            }
        }
        if (folded) {
            try {
                file.sync();
            } catch (IOException ex) {
                throw new SlsException("SLOS store " + path + ": syncing folded epoch records failed: " + ex, ex);
            }
        }
        List<Long> victims = new ArrayList<>();
        epochs.forEach(e -> {
            if (!keep.contains(e.epoch())) {
                victims.add(e.epoch());
            }
        });
        return next.without(oid, victims);
    }

    private EpochEntry fold(EpochEntry top, Map<Long, EpochEntry> byEpoch, ExtentSet foldRecords) throws IOException {
        List<StoredRecord> chain = new ArrayList<>();
        for (EpochEntry e = top; e != null; e = e.parentEpoch() >= 0 ? byEpoch.get(e.parentEpoch()) : null) {
            chain.add(0, readRecord(e));
            if (e.parentEpoch() >= 0 && !byEpoch.containsKey(e.parentEpoch())) {
                throw new SlsException("parent epoch " + e.parentEpoch() + " of epoch " + e.epoch() + " is missing");
            }
        }
        StoredRecord newest = chain.get(chain.size() - 1);
        List<StoredProcess> processes = new ArrayList<>();
        ExtentSet ranges = new ExtentSet();
        long ownBytes = 0;
        long pageBytes = 0;
        for (StoredProcess p : newest.processes()) {
            SegmentOverlay view = new SegmentOverlay();
            for (StoredRecord layer : chain) {
                StoredProcess lp = layer.process(p.pid());
                if (lp != null) {
                    view.overlay(lp.segments(), layer == newest);
                }
            }
            List<Segment> segments = view.within(p.captured().regions());
            for (Segment s : segments) {
                ranges.add(s.storeOffset(), s.length());
                ownBytes += s.own() ? s.length() : 0;
                pageBytes += s.length();
            }
            processes.add(new StoredProcess(p.captured(), segments));
        }
        byte[] blob = RecordCodec.encode(new StoredRecord(newest.oid(), newest.epoch(), -1, newest.mode(),
                newest.timeMillis(), newest.stopNanos(), processes));
        long need = Layout.roundUp(blob.length);
        long[] at = usedNow().findGap(Layout.PAYLOAD_START, capacity, need);
        if (at == null || at[1] < need) {
            throw new SlsException("no room for a folded record of " + need + " bytes");
        }
        inFlight.add(at[0], need);
        foldRecords.add(at[0], need);
        file.write(ByteBuffer.wrap(blob), at[0]);
        return new EpochEntry(top.oid(), top.epoch(), -1, top.mode(), top.timeMillis(), top.stopNanos(),
                processes.size(), ownBytes + need, pageBytes, at[0], blob.length, Layout.crc(blob, 0, blob.length),
                ranges.toPairs());
    }

    void deleteEpoch(long oid, long epoch) {
        metadataLock.lock();
        try {
            ensureUsable();
            if (current.find(oid, epoch) == null) {
                throw new SlsException("SLOS store " + path + " holds no epoch " + epoch + " of partition " + oid);
            }
            for (EpochEntry e : current.epochs(oid)) {
                if (e.parentEpoch() == epoch) {
                    throw new SlsException("epoch " + epoch + " of partition " + oid + " is the parent of delta epoch "
                            + e.epoch() + "; delete epoch " + e.epoch() + " first");
                }
            }
            commitMetadata(current.without(oid, List.of(epoch)));
        } finally {
            metadataLock.unlock();
        }
    }

    void deletePartition(long oid) {
        metadataLock.lock();
        try {
            ensureUsable();
            if (!current.epochs(oid).isEmpty()) {
                commitMetadata(current.withoutPartition(oid));
            }
        } finally {
            metadataLock.unlock();
        }
    }

    /**
     * The commit point. The catalog blob goes to free space and is synced; then the slot not
     * holding the current catalog gets the new generation, the blob's CRC32C and the commit flag,
     * and is synced. A crash before the slot is durable leaves the previous state in force.
     */
    private void commitMetadata(Catalog next) {
        long generation = current.generation() + 1;
        byte[] blob = next.encode(generation);
        long need = Layout.roundUp(blob.length);
        long[] at = usedNow().findGap(Layout.PAYLOAD_START, capacity, need);
        if (at == null || at[1] < need) {
            throw new SlsException("SLOS store " + path + " is full: the catalog needs " + need + " bytes, "
                    + usedNow().gapBytes(Layout.PAYLOAD_START, capacity) + " bytes free of " + capacity);
        }
        try {
            file.write(ByteBuffer.wrap(blob), at[0]);
            file.sync();
        } catch (IOException e) {
            throw new SlsException("SLOS store " + path + ": writing the catalog failed: " + e, e);
        }
        int slotIndex = 1 - currentSlot;
        try {
            file.write(Layout.encodeSlot(new Layout.Slot(Layout.FORMAT_VERSION, Layout.COMMIT_FLAG, storeId,
                    generation, capacity, at[0], blob.length, Layout.crc(blob, 0, blob.length))),
                    Layout.SLOT_OFFSETS[slotIndex]);
            file.sync();
        } catch (IOException | RuntimeException e) {
            broken = "SLOS store " + path + " stopped after a failed metadata slot write (" + e
                    + "); restart the sls-backend-slos bundle to reopen it";
            throw new SlsException(broken, e);
        }
        fallback = current;
        current = next.stored(generation, at[0], blob.length);
        currentSlot = slotIndex;
        rebuildCatalogRefs();
    }

    // ---------------------------------------------------------------- reading

    SlosStoredEpoch openEpoch(long oid, long epoch) {
        EpochEntry e = pin(oid, epoch);
        if (e == null) {
            throw new SlsException("SLOS store " + path + " holds no epoch " + epoch + " of partition " + oid);
        }
        try {
            return new SlosStoredEpoch(this, e, readRecord(e));
        } catch (RuntimeException ex) {
            unpin(e);
            throw ex;
        }
    }

    StoredRecord readRecord(EpochEntry e) {
        byte[] blob = new byte[Math.toIntExact(e.recordLength())];
        String where = "SLOS store " + path + ": partition " + e.oid() + " epoch " + e.epoch() + ": epoch record at store offset "
                + e.recordOffset();
        try {
            file.readFully(ByteBuffer.wrap(blob), e.recordOffset());
        } catch (IOException ex) {
            throw new SlsException(where + " cannot be read: " + ex.getMessage(), ex);
        }
        if (Layout.crc(blob, 0, blob.length) != e.recordCrc()) {
            throw new SlsException(where + " fails its CRC32C check");
        }
        try {
            return RecordCodec.decode(blob);
        } catch (IOException | RuntimeException ex) {
            throw new SlsException(where + " cannot be decoded: " + ex.getMessage(), ex);
        }
    }

    /** One line per damaged extent of this process's pages in this epoch; empty when all match. */
    List<String> checkPages(long oid, long epoch, StoredProcess p) {
        List<String> damage = new ArrayList<>();
        ByteBuffer buf = takeBuffer();
        try {
            checkSegments(oid, epoch, p, buf, damage);
        } finally {
            giveBuffer(buf);
        }
        return damage;
    }

    private void checkSegments(long oid, long epoch, StoredProcess p, ByteBuffer buf, List<String> damage) {
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        int pagesPerChunk = IO_CHUNK / PageRun.PAGE_SIZE;
        for (Segment s : p.segments()) {
            long bad = 0;
            long firstBad = -1;
            for (long done = 0; done < s.pageCount(); done += pagesPerChunk) {
                int n = (int) Math.min(pagesPerChunk, s.pageCount() - done);
                buf.clear().limit(n * PageRun.PAGE_SIZE);
                try {
                    file.readFully(buf, s.storeOffset() + done * PageRun.PAGE_SIZE);
                } catch (IOException ex) {
                    damage.add(describe(oid, epoch, p.pid(), s) + " cannot be read: " + ex.getMessage());
                    bad = -1;
                    break;
                }
                for (int i = 0; i < n; i++) {
                    crc.reset();
                    crc.update(buf.slice(i * PageRun.PAGE_SIZE, PageRun.PAGE_SIZE));
                    if ((int) crc.getValue() != s.crcAt(done + i)) {
                        if (firstBad < 0) {
                            firstBad = done + i;
                        }
                        bad++;
                    }
                }
            }
            if (bad > 0) {
                damage.add(describe(oid, epoch, p.pid(), s) + ": " + bad + " of " + s.pageCount()
                        + " pages fail their CRC32C check, first at address 0x"
                        + Long.toHexString(s.address() + firstBad * PageRun.PAGE_SIZE));
            }
        }
    }

    private String describe(long oid, long epoch, int pid, Segment s) {
        return "SLOS store " + path + ": partition " + oid + " epoch " + epoch + " process " + pid + ": page extent 0x"
                + Long.toHexString(s.address()) + " (" + s.pageCount() + " pages at store offset " + s.storeOffset() + ")";
    }

    // ---------------------------------------------------------------- verify

    @Override
    public List<String> verify(long oid) {
        ensureUsable();
        List<String> damage = new ArrayList<>();
        Catalog c = current;
        for (EpochEntry listed : c.epochs(oid)) {
            EpochEntry e = pin(oid, listed.epoch());
            if (e == null) {
                continue;
            }
            try {
                StoredRecord r = readRecord(e);
                for (StoredProcess p : r.processes()) {
                    damage.addAll(checkPages(oid, e.epoch(), p));
                }
            } catch (SlsException ex) {
                damage.add(ex.getMessage());
            } finally {
                unpin(e);
            }
            if (e.parentEpoch() >= 0 && c.find(oid, e.parentEpoch()) == null) {
                damage.add("SLOS store " + path + ": partition " + oid + " epoch " + e.epoch() + ": parent epoch "
                        + e.parentEpoch() + " is missing");
            }
        }
        return damage;
    }

    @Override
    public List<String> verifyAll() {
        List<String> damage = verifyMetadata();
        for (Long oid : current.partitions().keySet()) {
            damage.addAll(verify(oid));
        }
        return damage;
    }

    /** The store-wide part of verifyAll: both metadata slots (damage there belongs to no partition). */
    List<String> verifyMetadata() {
        ensureUsable();
        List<String> damage = new ArrayList<>();
        metadataLock.lock();
        try {
            for (int i = 0; i < 2; i++) {
                SlotState st = readSlot(i);
                if (st.catalog() == null && !"never written".equals(st.problem())) {
                    damage.add("SLOS store " + path + ": metadata slot " + i + ": " + st.problem()
                            + (i == currentSlot ? " (it holds the current catalog, generation " + current.generation() + ")"
                            : " (not the current slot, which is intact; the next commit rewrites it)"));
                }
            }
        } catch (IOException e) {
            damage.add("SLOS store " + path + ": metadata slots cannot be read: " + e);
        } finally {
            metadataLock.unlock();
        }
        return damage;
    }

    // ---------------------------------------------------------------- close

    /** Aborts writers in progress, waits for a metadata commit in progress, and closes the file. */
    @Override
    public void close() {
        List<SlosEpochWriter> abandoned;
        metadataLock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            abandoned = new ArrayList<>(writers);
        } finally {
            metadataLock.unlock();
        }
        abandoned.forEach(SlosEpochWriter::abortBecauseClosed);
        try {
            file.close();
        } catch (IOException e) {
            LOG.warn("closing SLOS store {}: {}", path, e.toString());
        }
        try {
            lock.release();
            lockChannel.close();
        } catch (IOException e) {
            LOG.warn("releasing the lock of SLOS store {}: {}", path,
                    e.toString());
        }
    }

    boolean isClosed() {
        return closed;
    }

    boolean blockDevice() {
        return blockDevice;
    }
}
