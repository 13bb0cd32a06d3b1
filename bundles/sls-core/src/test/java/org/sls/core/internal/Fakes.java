package org.sls.core.internal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.sls.api.EpochInfo;
import org.sls.api.RestoredProcess;
import org.sls.api.SlsException;
import org.sls.api.engine.CaptureResult;
import org.sls.api.engine.CaptureSpec;
import org.sls.api.engine.CheckpointEngine;
import org.sls.api.engine.RestoreSpec;
import org.sls.api.image.CheckpointImage;
import org.sls.api.image.MemoryRegion;
import org.sls.api.image.PageRun;
import org.sls.api.image.PageSegment;
import org.sls.api.image.ProcessImage;
import org.sls.api.spi.CheckpointBackend;
import org.sls.api.spi.EpochRecord;
import org.sls.api.spi.EpochWriter;
import org.sls.api.spi.StoredEpoch;

/** Test doubles for the plug-ins the core drives. */
final class Fakes {

    private Fakes() {
    }

    /** An engine that "captures" one page per process and records what restore was asked. */
    static final class Engine implements CheckpointEngine {
        volatile long captureMillis;
        final AtomicInteger concurrent = new AtomicInteger();
        volatile int maxConcurrent;
        final AtomicInteger captures = new AtomicInteger();
        volatile RestoreSpec lastRestore;
        volatile CaptureSpec lastCapture;
        /** The PID a restored process gets, from its original one. */
        volatile java.util.function.IntUnaryOperator restoredPid = pid -> pid + 1000;
        final List<Integer> forgotten = new java.util.concurrent.CopyOnWriteArrayList<>();

        @Override
        public String version() {
            return "fake-1";
        }

        @Override
        public Map<String, String> kernelFeatures() {
            return Map.of("soft-dirty", "no");
        }

        @Override
        public CaptureResult capture(CaptureSpec spec) {
            lastCapture = spec;
            int now = concurrent.incrementAndGet();
            maxConcurrent = Math.max(maxConcurrent, now);
            try {
                if (captureMillis > 0) {
                    Thread.sleep(captureMillis);
                }
                List<ProcessImage> procs = new ArrayList<>();
                byte[] page = new byte[4096];
                long off = 0;
                for (int pid : spec.pids()) {
                    page[0] = (byte) pid;
                    Files.write(spec.pageFile(), page, java.nio.file.StandardOpenOption.APPEND);
                    procs.add(new ProcessImage(pid, 1, pid, pid, "fake", "/bin/fake", 1,
                            List.of(new MemoryRegion(0x10000, 0x11000, "rw-p", 0, 0, "")),
                            List.of(new PageRun(0x10000, 1, off)), List.of(), new byte[] {1, 2, 3}));
                    off += 4096;
                }
                captures.incrementAndGet();
                return new CaptureResult(new CheckpointImage(procs), 42_000, off);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SlsException("interrupted");
            } finally {
                concurrent.decrementAndGet();
            }
        }

        @Override
        public List<RestoredProcess> restore(RestoreSpec spec) {
            lastRestore = spec;
            return spec.processes().stream()
                    .map(p -> new RestoredProcess(p.image().pid(), restoredPid.applyAsInt(p.image().pid()))).toList();
        }

        @Override
        public void forgetTracking(List<Integer> pids) {
            forgotten.addAll(pids);
        }
    }

    /** A backend keeping records in a map and pages in files under a directory. */
    static class Backend implements CheckpointBackend {
        final Path dir;
        final Map<Long, Map<Long, EpochRecord>> records = new ConcurrentSkipListMap<>();

        Backend(Path dir) {
            this.dir = dir;
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
            Path pages = dir.resolve(oid + "-" + epoch);
            try {
                Files.deleteIfExists(pages);
                Files.createFile(pages);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return new EpochWriter() {
                boolean done;

                @Override
                public Path pageFile() {
                    return pages;
                }

                @Override
                public EpochInfo commit(EpochRecord record) {
                    done = true;
                    records.computeIfAbsent(oid, k -> new ConcurrentSkipListMap<>()).put(epoch, record);
                    return info(record);
                }

                @Override
                public void abort() {
                    done = true;
                }

                @Override
                public void close() {
                    if (!done) {
                        abort();
                    }
                }
            };
        }

        @Override
        public List<EpochInfo> epochs(long oid) {
            return records.getOrDefault(oid, Map.of()).values().stream().map(Backend::info).toList();
        }

        @Override
        public StoredEpoch open(long oid, long epoch) {
            EpochRecord r = records.get(oid).get(epoch);
            return new StoredEpoch() {
                @Override
                public EpochInfo info() {
                    return Backend.info(r);
                }

                @Override
                public CheckpointImage image() {
                    return r.image();
                }

                @Override
                public List<PageSegment> pages(int pid) {
                    return r.image().processes().stream().filter(p -> p.pid() == pid)
                            .flatMap(p -> p.pageRuns().stream())
                            .map(run -> new PageSegment(run.address(), run.length(), dir.resolve(oid + "-" + epoch), run.dataOffset()))
                            .toList();
                }

                @Override
                public void close() {
                }
            };
        }

        @Override
        public void deleteEpoch(long oid, long epoch) {
            records.get(oid).remove(epoch);
        }

        @Override
        public void deletePartition(long oid) {
            records.remove(oid);
        }

        static EpochInfo info(EpochRecord r) {
            return new EpochInfo(r.oid(), r.epoch(), Instant.EPOCH, r.mode(), r.parentEpoch(),
                    r.image().processes().size(), r.image().pageBytes(), r.image().pageBytes(), r.stopNanos());
        }
    }
}
