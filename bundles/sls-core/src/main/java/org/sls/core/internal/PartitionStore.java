package org.sls.core.internal;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.sls.api.CaptureMode;
import org.sls.api.PartitionSpec;

/**
 * Persists the partitions and their attached PIDs so that they survive a restart of the container.
 * The file is replaced atomically (write a temporary file, fsync, rename, fsync the directory):
 * a crash leaves either the old or the new list, never a torn one.
 */
final class PartitionStore {

    /**
     * A partition as persisted. The counters are written whenever the list is saved (attach, detach,
     * partadd, partdel and a clean shutdown), not at every checkpoint: after a crash they may lag.
     */
    record Entry(PartitionSpec spec, List<Integer> pids, long epochsTaken, long epochsSkipped,
                 Map<Integer, Long> startTimes) {
        Entry(PartitionSpec spec, List<Integer> pids, long epochsTaken, long epochsSkipped) {
            this(spec, pids, epochsTaken, epochsSkipped, Map.of());
        }

        /** The start time saved with pid, -1 if the list predates start times. */
        long startTimeOf(int pid) {
            return startTimes.getOrDefault(pid, -1L);
        }
    }

    private final Path file;

    PartitionStore(Path file) {
        this.file = file;
    }

    Path file() {
        return file;
    }

    List<Entry> load() {
        if (!Files.exists(file)) {
            return List.of();
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read partition list " + file + ": " + e.getMessage(), e);
        }
        Map<Long, Entry> entries = new TreeMap<>();
        for (String key : p.stringPropertyNames()) {
            if (!key.startsWith("partition.") || !key.endsWith(".backend")) {
                continue;
            }
            long oid = Long.parseLong(key.substring("partition.".length(), key.length() - ".backend".length()));
            String prefix = "partition." + oid + ".";
            CaptureMode mode = CaptureMode.fromStrategyName(p.getProperty(prefix + "mode", "full"));
            // Lists written before tracking and shadowing existed lack them: the defaults of the mode.
            String tracking = p.getProperty(prefix + "tracking");
            PartitionSpec spec = new PartitionSpec(oid, p.getProperty(prefix + "backend"), mode,
                    Long.parseLong(p.getProperty(prefix + "period", "0")),
                    tracking == null ? PartitionSpec.defaultTracking(mode) : PartitionSpec.trackingFromName(tracking),
                    Boolean.parseBoolean(p.getProperty(prefix + "shadow", "false")));
            // "pid@starttime" entries; lists written before start times were kept hold bare PIDs
            List<Integer> pids = new ArrayList<>();
            Map<Integer, Long> starts = new java.util.HashMap<>();
            for (String s : p.getProperty(prefix + "pids", "").split(",")) {
                if (!s.isBlank()) {
                    String[] pidAt = s.trim().split("@", 2);
                    int pid = Integer.parseInt(pidAt[0]);
                    pids.add(pid);
                    if (pidAt.length == 2) {
                        starts.put(pid, Long.parseLong(pidAt[1]));
                    }
                }
            }
            entries.put(oid, new Entry(spec, pids, Long.parseLong(p.getProperty(prefix + "epochsTaken", "0")),
                    Long.parseLong(p.getProperty(prefix + "epochsSkipped", "0")), Map.copyOf(starts)));
        }
        return List.copyOf(entries.values());
    }

    void save(Collection<Partition> partitions) {
        Properties p = new Properties();
        for (Partition part : partitions) {
            String prefix = "partition." + part.oid() + ".";
            p.setProperty(prefix + "backend", part.spec.backend());
            p.setProperty(prefix + "mode", part.spec.mode().strategyName());
            p.setProperty(prefix + "period", Long.toString(part.spec.periodMs()));
            p.setProperty(prefix + "tracking", PartitionSpec.trackingName(part.spec.tracking()));
            p.setProperty(prefix + "shadow", Boolean.toString(part.spec.shadow()));
            p.setProperty(prefix + "pids", String.join(",", part.pids.stream()
                    .map(pid -> part.startTimeOf(pid) < 0 ? String.valueOf(pid) : pid + "@" + part.startTimeOf(pid))
                    .toList()));
            p.setProperty(prefix + "epochsTaken", Long.toString(part.epochsTaken));
            p.setProperty(prefix + "epochsSkipped", Long.toString(part.epochsSkipped));
        }
        try {
            Files.createDirectories(file.getParent());
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                p.store(w, "SLS partitions (written by sls-core; do not edit while SLS runs)");
            }
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
            try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
                dir.force(true);
            } catch (IOException ignored) {
                // Some file systems refuse fsync on a directory; the rename itself is still atomic.
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write partition list " + file + ": " + e.getMessage(), e);
        }
    }
}
