package org.sls.backend.slos.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sls.api.EpochInfo;
import org.sls.api.spi.StoredEpoch;

/**
 * Kills a child JVM committing checkpoints (SIGKILL at random moments), optionally tears or
 * garbles the writes it had not synced yet, and checks after every kill that the store opens,
 * that no epoch the child reported committed is missing, that the newest epoch reads back
 * byte-identical (composing its delta chain), and that every stored checksum matches.
 *
 * <p>{@code -Dslos.soak.kills=N} sets the number of kills (default 200);
 * {@code -Dslos.crash.seed=S} replays a run.
 */
class SlosCrashTest {

    private static final int RETAIN = 4;

    @TempDir
    Path dir;

    private record Event(char kind, long position, long length) {
    }

    private record ChildRun(List<Event> events, TreeSet<Long> reported) {
    }

    @Test
    void everyCommittedEpochSurvivesSigkillAndTornWrites() throws Exception {
        int kills = Integer.getInteger("slos.soak.kills", 200);
        long seed = Long.getLong("slos.crash.seed", System.nanoTime());
        Random random = new Random(seed);
        Path store = dir.resolve("crash.store");
        TreeSet<Long> committed = new TreeSet<>();
        int tornWrites = 0;
        int garbledUnsynced = 0;
        int truncations = 0;
        int midCommitKills = 0;
        int slotWritesHit = 0;
        int foldedSeen = 0;
        long verifiedEpochs = 0;
        for (int kill = 1; kill <= kills; kill++) {
            ChildRun run = runAndKill(store, random);
            committed.addAll(run.reported());
            List<Event> unsynced = unsyncedWrites(run.events());
            String simulated = "none";
            if (!unsynced.isEmpty()) {
                midCommitKills++;
                if (unsynced.get(unsynced.size() - 1).position() < Layout.PAYLOAD_START) {
                    slotWritesHit++;
                }
                switch (random.nextInt(3)) {
                    case 0 -> {
                        simulated = "torn tail of " + tearTail(store, unsynced.get(unsynced.size() - 1), random);
                        tornWrites++;
                    }
                    case 1 -> {
                        for (Event w : unsynced) {
                            garble(store, w.position(), w.length(), random);
                        }
                        simulated = "garbled " + unsynced;
                        garbledUnsynced++;
                    }
                    default -> {
                        if (truncateIfAtEnd(store, unsynced.get(unsynced.size() - 1), random)) {
                            truncations++;
                        }
                        simulated = "truncated or garbled " + unsynced.get(unsynced.size() - 1);
                    }
                }
            }
            List<Event> events = run.events();
            String context = "kill " + kill + " (seed " + seed + "; simulated: " + simulated + "; last events "
                    + events.subList(Math.max(0, events.size() - 24), events.size()) + ")";
            try (Store s = Store.open(Epochs.options(store, 64L << 20, RETAIN))) {
              try {
                List<EpochInfo> epochs = s.epochs(CrashContent.OID);
                if (committed.isEmpty()) {
                    continue;
                }
                assertTrue(!epochs.isEmpty(), context + ": no epoch left, child reported " + committed.last());
                long newest = epochs.get(epochs.size() - 1).epoch();
                assertTrue(newest == committed.last() || newest == committed.last() + 1,
                        context + ": newest epoch " + newest + " but the child reported " + committed.last());
                // A commit that landed after the child's last report is committed from now on.
                committed.add(newest);
                TreeSet<Long> present = new TreeSet<>();
                epochs.forEach(e -> present.add(e.epoch()));
                for (long e : committed.tailSet(newest - RETAIN + 1)) {
                    assertTrue(present.contains(e), context + ": committed epoch " + e + " is missing, store has "
                            + present);
                }
                if (epochs.stream().anyMatch(e -> e.mode() == org.sls.api.CaptureMode.DELTA && e.parentEpoch() < 0)) {
                    foldedSeen++;
                }
                checkReadsBack(s, newest, context);
                verifiedEpochs++;
                // A torn slot write leaves the non-current slot unreadable until the next commit rewrites
                // it; that is the one damage a crash may legitimately leave.
                List<String> damage = new ArrayList<>(s.verifyAll());
                damage.removeIf(line -> line.contains("not the current slot, which is intact"));
                assertEquals(List.of(), damage, context);
              } catch (RuntimeException | AssertionError e) {
                throw new AssertionError(context + "; catalog " + describe(s.catalog()) + ": " + e.getMessage(), e);
              }
            }
        }
        System.out.printf("SLOS crash test: %d kills (%d with unsynced writes, %d of them last writing a metadata slot), "
                        + "%d committed epochs, %d newest epochs verified byte-identical, torn writes survived: "
                        + "%d torn tails, %d garbled unsynced write sets, %d truncations; %d reopens found a folded "
                        + "delta epoch (seed %d)%n", kills, midCommitKills, slotWritesHit, committed.size(),
                verifiedEpochs, tornWrites, garbledUnsynced, truncations, foldedSeen, seed);
        assertTrue(committed.size() > kills / 4, "too few commits to mean anything: " + committed.size());
        if (kills >= 100) {
            assertTrue(tornWrites + garbledUnsynced + truncations > 0, "no kill landed between a write and its sync");
        }
    }

    private ChildRun runAndKill(Path store, Random random) throws Exception {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(javaBin, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx64m",
                "-XX:-UsePerfData", "-Xshare:auto", "-cp", System.getProperty("java.class.path"),
                CrashChild.class.getName(), store.toString(), Integer.toString(RETAIN));
        pb.redirectError(dir.resolve("child.err").toFile());
        Process child = pb.start();
        List<Event> events = new ArrayList<>();
        TreeSet<Long> reported = new TreeSet<>();
        Object opened = new Object();
        boolean[] isOpen = new boolean[1];
        // Half the kills are aimed at a store write or sync of a commit (the child runs on a bit while
        // the signal is delivered, which spreads them); the others land at a random time.
        int killAtEvent = random.nextBoolean() ? 1 + random.nextInt(50) : -1;
        Thread reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(child.getInputStream(),
                    StandardCharsets.US_ASCII))) {
                String line;
                while ((line = in.readLine()) != null) {
                    if (events.size() + 1 == killAtEvent) {
                        child.toHandle().destroyForcibly();
                    }
                    String[] f = line.split(" ");
                    switch (f[0]) {
                        case "W" -> events.add(new Event('W', Long.parseLong(f[1]), Long.parseLong(f[2])));
                        case "S" -> events.add(new Event('S', 0, 0));
                        case "C" -> {
                            events.add(new Event('C', Long.parseLong(f[1]), 0));
                            reported.add(Long.parseLong(f[1]));
                        }
                        case "OPEN" -> {
                            synchronized (opened) {
                                isOpen[0] = true;
                                opened.notifyAll();
                            }
                        }
                        default -> {
                            // a torn last line of a killed child
                        }
                    }
                }
            } catch (IOException | NumberFormatException e) {
                // the pipe breaks when the child dies mid-line
            }
        });
        reader.start();
        if (killAtEvent > 0) {
            child.waitFor(20, TimeUnit.SECONDS);
        } else if (random.nextInt(100) < 10) {
            // Sometimes during JVM start, store creation or open.
            Thread.sleep(random.nextInt(400));
        } else {
            synchronized (opened) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (!isOpen[0] && child.isAlive() && System.nanoTime() < deadline) {
                    opened.wait(50);
                }
            }
            if (!isOpen[0]) {
                child.toHandle().destroyForcibly();
                child.waitFor();
                reader.join();
                fail("crash child did not open the store: " + Files.readString(dir.resolve("child.err")));
            }
            Thread.sleep(random.nextInt(150));
        }
        // SIGKILL through the handle: Process.destroyForcibly() would also close our end of the pipe and
        // lose what the child printed last, making synced writes look unsynced (and then garbled).
        child.toHandle().destroyForcibly();
        child.waitFor();
        reader.join();
        if (child.exitValue() != 137 && !isOpen[0]) {
            // exited by itself before the kill: only acceptable as the SIGKILL status
            fail("crash child exited with " + child.exitValue() + ": " + Files.readString(dir.resolve("child.err")));
        }
        return new ChildRun(events, reported);
    }

    /** The writes issued after the last fdatasync: the only ones a crash may leave torn. */
    private static List<Event> unsyncedWrites(List<Event> events) {
        List<Event> out = new ArrayList<>();
        for (Event e : events) {
            if (e.kind() == 'W') {
                out.add(e);
            } else {
                out.clear();
            }
        }
        return out;
    }

    private static String tearTail(Path store, Event w, Random random) throws IOException {
        long keep = w.length() <= 1 ? 0 : random.nextLong(w.length());
        garble(store, w.position() + keep, w.length() - keep, random);
        return w + " from " + (w.position() + keep);
    }

    private static String describe(Catalog c) {
        StringBuilder b = new StringBuilder("generation " + c.generation() + " at " + c.blobOffset() + ":");
        for (EpochEntry e : c.epochs(CrashContent.OID)) {
            b.append(" [epoch ").append(e.epoch()).append(" parent ").append(e.parentEpoch()).append(" record ")
                    .append(e.recordOffset()).append(" ranges ").append(java.util.Arrays.toString(e.pageRanges()))
                    .append(']');
        }
        return b.toString();
    }

    private static void garble(Path store, long position, long length, Random random) throws IOException {
        try (FileChannel ch = FileChannel.open(store, StandardOpenOption.WRITE)) {
            long end = Math.min(position + length, ch.size());
            byte[] junk = new byte[(int) Math.min(1 << 20, Math.max(0, end - position))];
            for (long p = position; p < end; p += junk.length) {
                random.nextBytes(junk);
                ByteBuffer b = ByteBuffer.wrap(junk, 0, (int) Math.min(junk.length, end - p));
                while (b.hasRemaining()) {
                    ch.write(b, p + b.position());
                }
            }
        }
    }

    /** A write that extended the file may be lost partly: cut the file inside it. */
    private static boolean truncateIfAtEnd(Path store, Event w, Random random) throws IOException {
        try (FileChannel ch = FileChannel.open(store, StandardOpenOption.WRITE)) {
            if (w.position() + w.length() < ch.size()) {
                garble(store, w.position(), w.length(), random);
                return false;
            }
            ch.truncate(w.position() + random.nextLong(Math.max(1, w.length())));
            return true;
        }
    }

    private static void checkReadsBack(Store s, long epoch, String context) {
        List<Long> chain = new ArrayList<>();
        for (long e = epoch; e >= 0; ) {
            chain.add(0, e);
            EpochEntry entry = s.catalog().find(CrashContent.OID, e);
            assertTrue(entry != null, context + ": epoch " + e + " of the chain of " + epoch + " is missing");
            e = entry.parentEpoch();
        }
        Map<Integer, TreeMap<Long, byte[]>> expected = CrashContent.expected(epoch);
        for (int pid : expected.keySet()) {
            TreeMap<Long, byte[]> composed = new TreeMap<>();
            for (long e : chain) {
                try (StoredEpoch stored = s.openEpoch(CrashContent.OID, e)) {
                    composed.putAll(Epochs.readPages(stored, pid));
                }
            }
            composed.keySet().retainAll(expected.get(pid).keySet());
            assertTrue(Epochs.samePages(expected.get(pid), composed),
                    context + ": epoch " + epoch + " process " + pid + " does not read back identical (chain " + chain + ")");
        }
    }
}
