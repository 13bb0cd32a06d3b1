package org.sls.backend.memory.internal;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.metatype.annotations.Designate;
import org.sls.api.EpochInfo;
import org.sls.api.SlsException;
import org.sls.api.image.PageRun;
import org.sls.api.image.PageSegment;
import org.sls.api.image.ProcessImage;
import org.sls.api.spi.CheckpointBackend;
import org.sls.api.spi.EpochRecord;
import org.sls.api.spi.EpochWriter;
import org.sls.api.spi.StoredEpoch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The in-memory backend: every epoch of a partition is kept until {@code partdel}. Page data lives on
 * tmpfs (off the Java heap, readable by the native restorer with pread), one file per epoch, with a
 * record file beside it. The directory belongs to this JVM, so stopping and starting (or updating)
 * the bundle loses nothing; a container restart starts empty, as memory does.
 */
@Component(service = CheckpointBackend.class, property = CheckpointBackend.PROPERTY + "=memory",
        configurationPid = "org.sls.backend.memory")
@Designate(ocd = MemoryBackendConfig.class)
public class MemoryBackend implements CheckpointBackend {

    private static final Logger LOG = LoggerFactory.getLogger(MemoryBackend.class);
    private static final String PREFIX = "sls-memory-";

    /**
     * What is known of each committed epoch without reading its record file. The record (the parsed
     * image: every region, fd and path of every process) stays on tmpfs and is decoded only when the
     * epoch is opened: holding it on the heap for every epoch made each young collection copy a live
     * set that grows by tens of KB per epoch, i.e. pauses of 20-30 ms every few seconds at -t 10.
     */
    private final Map<Long, NavigableMap<Long, EpochInfo>> epochs = new ConcurrentHashMap<>();
    private Path root;

    @Activate
    void activate(MemoryBackendConfig config) {
        Path dir;
        if (config.directory() == null || config.directory().isBlank()) {
            Path shm = Path.of("/dev/shm");
            Path base = Files.isDirectory(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
            removeDirectoriesOfDeadJvms(base);
            dir = base.resolve(PREFIX + ProcessHandle.current().pid());
        } else {
            dir = Path.of(config.directory());
        }
        open(dir);
    }

    /** Opens (or creates) the backend directory and loads the epochs already in it. */
    void open(Path dir) {
        this.root = dir;
        try {
            Files.createDirectories(dir);
            try (DirectoryStream<Path> parts = Files.newDirectoryStream(dir, Files::isDirectory)) {
                for (Path part : parts) {
                    loadPartition(part);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("memory backend: cannot use " + dir + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String name() {
        return "memory";
    }

    @Override
    public boolean persistent() {
        return false;
    }

    @Override
    public EpochWriter beginEpoch(long oid, long epoch) {
        NavigableMap<Long, EpochInfo> list = epochs.get(oid);
        if (list != null && list.containsKey(epoch)) {
            throw new SlsException("partition " + oid + ": epoch " + epoch + " already exists");
        }
        Path dir = root.resolve(Long.toString(oid));
        try {
            Files.createDirectories(dir);
            Path partial = dir.resolve(epoch + ".pages.partial");
            Files.deleteIfExists(partial);
            Files.createFile(partial);
            return new Writer(oid, epoch, dir, partial);
        } catch (IOException e) {
            throw new SlsException("memory backend: cannot create page file in " + dir + ": " + e.getMessage(), e);
        }
    }

    @Override
    public List<EpochInfo> epochs(long oid) {
        NavigableMap<Long, EpochInfo> list = epochs.get(oid);
        return list == null ? List.of() : List.copyOf(list.values());
    }

    @Override
    public StoredEpoch open(long oid, long epoch) {
        info(oid, epoch);
        RecordCodec.StoredRecord r;
        Path file = recordFile(oid, epoch);
        try {
            r = RecordCodec.decode(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            throw new SlsException("partition " + oid + " epoch " + epoch + ": record file " + file + " is missing");
        } catch (IOException e) {
            throw new SlsException("partition " + oid + " epoch " + epoch + ": record file " + file + " is damaged: "
                    + e.getMessage(), e);
        }
        Path pages = pagesFile(oid, epoch);
        verifyPages(r, pages);
        return new Stored(r, pages);
    }

    @Override
    public void deleteEpoch(long oid, long epoch) {
        info(oid, epoch);
        for (EpochInfo other : epochs.get(oid).values()) {
            if (other.parentEpoch() == epoch) {
                throw new SlsException("partition " + oid + ": epoch " + epoch + " is the base of delta epoch "
                        + other.epoch() + " and cannot be deleted");
            }
        }
        epochs.get(oid).remove(epoch);
        deleteQuietly(recordFile(oid, epoch));
        deleteQuietly(pagesFile(oid, epoch));
    }

    @Override
    public void deletePartition(long oid) {
        epochs.remove(oid);
        Path dir = root.resolve(Long.toString(oid));
        if (Files.exists(dir)) {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(MemoryBackend::deleteQuietly);
            } catch (IOException e) {
                throw new SlsException("memory backend: cannot delete " + dir + ": " + e.getMessage(), e);
            }
        }
    }

    // ---- internals ----------------------------------------------------------------------------

    private EpochInfo info(long oid, long epoch) {
        NavigableMap<Long, EpochInfo> list = epochs.get(oid);
        EpochInfo r = list == null ? null : list.get(epoch);
        if (r == null) {
            throw new SlsException("partition " + oid + " has no epoch " + epoch + " in the memory backend");
        }
        return r;
    }

    private Path pagesFile(long oid, long epoch) {
        return root.resolve(Long.toString(oid)).resolve(epoch + ".pages");
    }

    private Path recordFile(long oid, long epoch) {
        return root.resolve(Long.toString(oid)).resolve(epoch + ".record");
    }

    private void loadPartition(Path part) throws IOException {
        long oid;
        try {
            oid = Long.parseLong(part.getFileName().toString());
        } catch (NumberFormatException e) {
            return;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(part)) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (name.endsWith(".partial") || name.endsWith(".tmp")) {
                    deleteQuietly(f); // an epoch that never committed
                } else if (name.endsWith(".record")) {
                    try {
                        RecordCodec.StoredRecord r = RecordCodec.decode(Files.readAllBytes(f));
                        epochs.computeIfAbsent(oid, k -> new ConcurrentSkipListMap<>()).put(r.info().epoch(), r.info());
                    } catch (IOException e) {
                        LOG.warn("memory backend: partition {}: ignoring damaged epoch record {}: {}", oid, f, e.getMessage());
                    }
                }
            }
        }
    }

    private static void verifyPages(RecordCodec.StoredRecord r, Path pages) {
        EpochInfo info = r.info();
        int i = 0;
        try (FileChannel ch = FileChannel.open(pages, StandardOpenOption.READ)) {
            for (ProcessImage p : r.image().processes()) {
                for (PageRun run : p.pageRuns()) {
                    if (crc(ch, run.dataOffset(), run.length()) != r.runCrcs()[i++]) {
                        throw new SlsException(String.format("partition %d epoch %d: page data of process %d at 0x%x"
                                + " (%d pages) is damaged (checksum mismatch)", info.oid(), info.epoch(), p.pid(),
                                run.address(), run.pageCount()));
                    }
                }
            }
        } catch (NoSuchFileException e) {
            throw new SlsException("partition " + info.oid() + " epoch " + info.epoch() + ": page data file " + pages + " is missing");
        } catch (IOException e) {
            throw new SlsException("partition " + info.oid() + " epoch " + info.epoch() + ": cannot read " + pages + ": " + e.getMessage(), e);
        }
    }

    /** CRC32C of a range of a file, read through a mapping in large pieces (no per-page objects). */
    static long crc(FileChannel ch, long offset, long length) throws IOException {
        CRC32C crc = new CRC32C();
        long done = 0;
        while (done < length) {
            long n = Math.min(length - done, 1L << 30);
            MappedByteBuffer m = ch.map(FileChannel.MapMode.READ_ONLY, offset + done, n);
            crc.update(m);
            done += n;
        }
        return crc.getValue();
    }

    private static void removeDirectoriesOfDeadJvms(Path base) {
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(base, PREFIX + "*")) {
            for (Path d : dirs) {
                String pid = d.getFileName().toString().substring(PREFIX.length());
                boolean alive;
                try {
                    alive = ProcessHandle.of(Long.parseLong(pid)).map(ProcessHandle::isAlive).orElse(false);
                } catch (NumberFormatException e) {
                    continue;
                }
                if (!alive) {
                    try (Stream<Path> files = Files.walk(d)) {
                        files.sorted(Comparator.reverseOrder()).forEach(MemoryBackend::deleteQuietly);
                    }
                    LOG.info("memory backend: removed {} left by a JVM that is gone", d);
                }
            }
        } catch (IOException e) {
            LOG.warn("memory backend: cannot clean {}: {}", base, e.getMessage());
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            LOG.warn("memory backend: cannot delete {}: {}", p, e.getMessage());
        }
    }

    private final class Writer implements EpochWriter {
        private final long oid;
        private final long epoch;
        private final Path dir;
        private final Path partial;
        private boolean finished;

        Writer(long oid, long epoch, Path dir, Path partial) {
            this.oid = oid;
            this.epoch = epoch;
            this.dir = dir;
            this.partial = partial;
        }

        @Override
        public Path pageFile() {
            return partial;
        }

        @Override
        public EpochInfo commit(EpochRecord record) {
            if (finished) {
                throw new IllegalStateException("epoch " + epoch + " already finished");
            }
            try {
                List<Long> crcs = new ArrayList<>();
                long size;
                try (FileChannel ch = FileChannel.open(partial, StandardOpenOption.READ)) {
                    size = ch.size();
                    for (ProcessImage p : record.image().processes()) {
                        for (PageRun run : p.pageRuns()) {
                            if (run.dataOffset() + run.length() > size) {
                                throw new SlsException("partition " + oid + " epoch " + epoch + ": page run of process "
                                        + p.pid() + " lies beyond the page file (" + size + " bytes)");
                            }
                            crcs.add(crc(ch, run.dataOffset(), run.length()));
                        }
                    }
                }
                EpochInfo info = new EpochInfo(oid, epoch, Instant.now(), record.mode(), record.parentEpoch(),
                        record.image().processes().size(), size, record.image().pageBytes(), record.stopNanos());
                RecordCodec.StoredRecord stored = new RecordCodec.StoredRecord(info, record.image(),
                        crcs.stream().mapToLong(Long::longValue).toArray());
                Files.move(partial, pagesFile(oid, epoch), StandardCopyOption.REPLACE_EXISTING);
                Path tmp = dir.resolve(epoch + ".record.tmp");
                try (OutputStream out = Files.newOutputStream(tmp)) {
                    RecordCodec.encode(stored).writeTo(out); // the encoder's own buffer, not a copy of it
                }
                try {
                    Files.move(tmp, recordFile(oid, epoch), StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, recordFile(oid, epoch));
                }
                epochs.computeIfAbsent(oid, k -> new ConcurrentSkipListMap<>()).put(epoch, info);
                finished = true;
                return info;
            } catch (IOException e) {
                abort();
                throw new SlsException("memory backend: partition " + oid + " epoch " + epoch + " not committed: "
                        + e.getMessage(), e);
            } catch (RuntimeException e) {
                abort();
                throw e;
            }
        }

        @Override
        public void abort() {
            finished = true;
            deleteQuietly(partial);
            deleteQuietly(pagesFile(oid, epoch));
            deleteQuietly(dir.resolve(epoch + ".record.tmp"));
        }

        @Override
        public void close() {
            if (!finished) {
                abort();
            }
        }
    }

    private static final class Stored implements StoredEpoch {
        private final RecordCodec.StoredRecord record;
        private final Path pages;

        Stored(RecordCodec.StoredRecord record, Path pages) {
            this.record = record;
            this.pages = pages;
        }

        @Override
        public EpochInfo info() {
            return record.info();
        }

        @Override
        public org.sls.api.image.CheckpointImage image() {
            return record.image();
        }

        @Override
        public List<PageSegment> pages(int pid) {
            List<PageSegment> out = new ArrayList<>();
            for (ProcessImage p : record.image().processes()) {
                if (p.pid() == pid) {
                    for (PageRun run : p.pageRuns()) {
                        out.add(new PageSegment(run.address(), run.length(), pages, run.dataOffset()));
                    }
                }
            }
            return out;
        }

        @Override
        public void close() {
            // page files stay until the epoch is deleted
        }
    }
}
