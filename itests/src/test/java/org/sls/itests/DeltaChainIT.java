package org.sls.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assume.assumeTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.After;
import org.junit.Test;

/**
 * Delta chains through the Karaf shell (issue 7): a program whose memory map changes in every way
 * between epochs (native/tests/prog/dlt_chain: map, write, grow, shrink, move, unmap, one step per
 * epoch) is checkpointed 26 times on a delta partition, killed, and restored at the newest epoch and
 * at an older one with {@code -e}; each time its own check compares every page with a replay of the
 * steps up to that epoch. Once per tracking mechanism this kernel offers, each forced with
 * {@code --tracking}, and once shadowed, in one container.
 */
public class DeltaChainIT extends SlsTestSupport {

    /** Steps after epoch 0: 25 delta epochs, so every region goes through all six changes once. */
    private static final int STEPS = 25;
    /** The older epoch restored with -e (the state after this step). */
    private static final int OLDER_STEP = 15;
    /** SLOS's default retainEpochs: sls:listsnaps shows that many of a partition's epochs. */
    private static final int SLOS_RETAINED = 16;
    private static final Pattern EPOCH = Pattern.compile("Checkpoint of partition \\d+: epoch (\\d+),.*", Pattern.DOTALL);
    private static final int COL_TRACKING = 10;
    private static final int COL_SHADOW = 11;

    private final List<Long> processes = new ArrayList<>();

    @After
    public void killProcessesAndRemovePartitions() {
        processes.forEach(DetachedProgram::killQuietly);
        for (List<String> row : partitionRows()) {
            if (row.get(0).matches("\\d+")) {
                executeCommand("sls:partdel -o " + row.get(0));
            }
        }
    }

    /** The mechanisms sls:info says this kernel offers ("dirty tracking available"). */
    private List<String> offeredMechanisms() {
        for (String line : executeCommand("sls:info --no-format").split("\\R")) {
            String[] cells = line.split("\t");
            if (cells.length >= 2 && cells[0].trim().equals("dirty tracking available")) {
                List<String> out = new ArrayList<>();
                for (String s : cells[1].split(",")) {
                    out.add(s.trim());
                }
                return out;
            }
        }
        throw new AssertionError("sls:info has no 'dirty tracking available' row");
    }

    @Test
    public void aMechanismTheKernelLacksOrABadCombinationIsRefusedWithOneLineAndCreatesNothing() {
        List<List<String>> before = partitionRows();
        List<String> offered = offeredMechanisms();
        assertTrue("this kernel offers uffd and digest tracking: " + offered,
                offered.contains("uffd") && offered.contains("digest"));
        if (!offered.contains("soft-dirty")) {
            String msg = executeFailingCommand("sls:partadd -o 601 -b memory -d --tracking soft-dirty");
            assertOneLine(msg);
            assertEquals("dirty tracking soft-dirty is not available on this kernel (available: "
                    + String.join(", ", offered) + "; see sls:info)", msg);
        }
        String noDelta = executeFailingCommand("sls:partadd -o 602 -b memory --tracking uffd");
        assertEquals("--tracking needs -d (a delta partition)", noDelta);
        String shadowNoDelta = executeFailingCommand("sls:partadd -o 603 -b memory --shadow");
        assertEquals("--shadow needs -d (a delta partition)", shadowNoDelta);
        String shadowDigest = executeFailingCommand("sls:partadd -o 604 -b memory -d --tracking digest --shadow");
        assertOneLine(shadowDigest);
        assertEquals("shadowing works only with userfaultfd tracking (--tracking uffd or auto), not digest", shadowDigest);
        String unknown = executeFailingCommand("sls:partadd -o 605 -b memory -d --tracking sometimes");
        assertEquals("unknown dirty tracking 'sometimes' (expected auto, uffd, soft-dirty or digest)", unknown);
        assertEquals("refused partadds must create nothing", before, partitionRows());
    }

    @Test
    public void uffdDeltaChainRestoresTheNewestAndAnOlderEpochExactly() throws Exception {
        assumeTrue("kernel offers uffd tracking", offeredMechanisms().contains("uffd"));
        chain(611, "memory", "uffd", false);
    }

    @Test
    public void digestDeltaChainRestoresTheNewestAndAnOlderEpochExactly() throws Exception {
        assumeTrue("kernel offers digest tracking", offeredMechanisms().contains("digest"));
        chain(612, "slos", "digest", false);
    }

    @Test
    public void softDirtyDeltaChainRestoresTheNewestAndAnOlderEpochExactly() throws Exception {
        assumeTrue("kernel offers soft-dirty tracking (this machine's does not)", offeredMechanisms().contains("soft-dirty"));
        chain(613, "memory", "soft-dirty", false);
    }

    /**
     * The same chain on a shadowed partition: the pages written by each step may be copied after the
     * thaw, and every restored epoch must still be exactly the state at its freeze.
     */
    @Test
    public void shadowedUffdDeltaChainRestoresTheNewestAndAnOlderEpochExactly() throws Exception {
        assumeTrue("kernel offers uffd tracking", offeredMechanisms().contains("uffd"));
        chain(614, "slos", "uffd", true);
    }

    private void chain(long oid, String backend, String mechanism, boolean shadow) throws Exception {
        Path work = Path.of(System.getProperty("karaf.data"), "itest-programs");
        DetachedProgram prog = DetachedProgram.start(work, "chain-" + mechanism, Map.of(),
                DetachedProgram.testProgram("dlt_chain").toString());
        processes.add(prog.pid());
        prog.awaitOutput("READY");
        String created = executeCommand("sls:partadd -o " + oid + " -b " + backend + " -d --tracking " + mechanism
                + (shadow ? " --shadow" : ""));
        assertTrue(created, created.contains("tracking " + mechanism + (shadow ? ", shadowing" : "")));
        executeCommand("sls:attach -o " + oid + " -p " + prog.pid());

        long[] epochOfStep = new long[STEPS + 1];
        epochOfStep[0] = checkpoint(oid);
        double complete = bytes(snapshots(oid).get(0)[5]);
        for (int k = 1; k <= STEPS; k++) {
            DetachedProgram.signal(prog.pid(), "USR1");
            prog.awaitOutput("STEP " + k + "\n");
            epochOfStep[k] = checkpoint(oid);
        }
        assertFalse(prog.outputText(), prog.outputText().contains("FAIL"));

        // Every epoch after the first is a delta of the one before it, taken with the forced mechanism.
        // SLOS lists the newest 16 (retainEpochs): the older ones the chain needs are kept, not listed.
        List<String[]> snaps = snapshots(oid);
        int listed = backend.equals("slos") ? SLOS_RETAINED : STEPS + 1;
        List<Double> deltaSizes = new ArrayList<>();
        assertEquals("epochs listed", listed, snaps.size());
        for (int i = 0; i < snaps.size(); i++) {
            String[] row = snaps.get(i);
            int k = STEPS + 1 - listed + i;
            assertEquals("epoch of step " + k, Long.toString(epochOfStep[k]), row[0]);
            if (k == 0) {
                continue;
            }
            if (i == 0 && listed < STEPS + 1) {
                // SLOS folded the oldest kept delta when its parent went: it composes its whole chain now
                assertEquals("folded epoch " + row[0] + " parent", "-", row[3]);
                continue;
            }
            assertEquals("epoch " + row[0] + " mode", "delta", row[2]);
            assertEquals("epoch " + row[0] + " parent", Long.toString(epochOfStep[k - 1]), row[3]);
            // one step changes at most a few dozen pages of the program's own; the first epoch holds them all
            deltaSizes.add(bytes(row[5]));
            assertTrue("epoch " + row[0] + " holds " + row[5] + " of pages, the complete one " + complete + " B",
                    shadow || bytes(row[5]) < complete / 2);
        }
        // Shadowed: a synchronous uffd gives no per-VMA registration check, so after a move or an unmap
        // the collect takes the whole VMA that now holds the range (here merged with the heap) as new:
        // such epochs are larger, correct all the same. The typical one must still be small.
        java.util.Collections.sort(deltaSizes);
        assertTrue("median delta " + deltaSizes.get(deltaSizes.size() / 2) + " B, the complete one " + complete + " B",
                deltaSizes.get(deltaSizes.size() / 2) < complete / 2);
        assertEquals("sls:partitions tracking column", mechanism + "\u2192" + mechanism,
                partitionRow(oid).get(COL_TRACKING));
        String shadowColumn = partitionRow(oid).get(COL_SHADOW);
        assertTrue("sls:partitions shadow column: " + shadowColumn,
                shadow ? shadowColumn.startsWith("on, ") : shadowColumn.equals("off"));

        DetachedProgram.killAndAwaitReaped(prog.pid());
        long newest = restore("sls:restore -o " + oid);
        DetachedProgram.assertRunningUntraced(newest);
        DetachedProgram.signal(newest, "USR2");
        prog.awaitOutput("PASS dlt_chain step=" + STEPS + "\n");
        // and it goes on changing its map from there
        DetachedProgram.signal(newest, "USR1");
        prog.awaitOutput("STEP " + (STEPS + 1) + "\n");
        DetachedProgram.signal(newest, "USR2");
        prog.awaitOutput("PASS dlt_chain step=" + (STEPS + 1) + "\n");
        // tracking goes on after the restore: the next epoch is a delta of the restored one
        long afterRestore = checkpoint(oid);
        List<String[]> afterSnaps = snapshots(oid);
        String[] next = afterSnaps.get(afterSnaps.size() - 1);
        assertEquals("epoch after the restore", Long.toString(afterRestore), next[0]);
        assertEquals("epoch " + afterRestore + " mode", "delta", next[2]);
        assertEquals("epoch " + afterRestore + " parent", Long.toString(epochOfStep[STEPS]), next[3]);
        assertTrue("epoch " + afterRestore + " holds " + next[5] + ", the complete one " + complete + " B",
                shadow || bytes(next[5]) < complete / 2);

        DetachedProgram.killAndAwaitReaped(newest);
        long older = restore("sls:restore -o " + oid + " -e " + epochOfStep[OLDER_STEP]);
        DetachedProgram.signal(older, "USR2");
        prog.awaitOutput("PASS dlt_chain step=" + OLDER_STEP + "\n");
        DetachedProgram.signal(older, "USR1");
        prog.awaitOutput("STEP " + (OLDER_STEP + 1) + "\n", 2);
        DetachedProgram.signal(older, "USR2");
        prog.awaitOutput("PASS dlt_chain step=" + (OLDER_STEP + 1) + "\n");

        // and the delta taken after the first restore restores right too
        DetachedProgram.killAndAwaitReaped(older);
        long again = restore("sls:restore -o " + oid + " -e " + afterRestore);
        DetachedProgram.signal(again, "USR2");
        prog.awaitOutput("PASS dlt_chain step=" + (STEPS + 1) + "\n", 2);
        assertFalse(prog.outputText(), prog.outputText().contains("FAIL"));
    }

    /** A size as Format.bytes prints it ("512 B", "1.5 KiB", "3.0 MiB"), in bytes. */
    private static double bytes(String cell) {
        String[] parts = cell.trim().split(" ");
        double n = Double.parseDouble(parts[0]);
        return switch (parts[1]) {
            case "B" -> n;
            case "KiB" -> n * 1024;
            case "MiB" -> n * 1024 * 1024;
            case "GiB" -> n * 1024 * 1024 * 1024;
            default -> throw new AssertionError("not a size: " + cell);
        };
    }

    private long checkpoint(long oid) {
        String out = executeCommand("sls:checkpoint -o " + oid).trim();
        Matcher m = EPOCH.matcher(out);
        assertTrue("unexpected checkpoint report: " + out, m.matches());
        return Long.parseLong(m.group(1));
    }

    /** Restores and returns the one restored PID (killed after the test). */
    private long restore(String command) {
        long pid = restoreLines(command).get(0).pid();
        processes.add(pid);
        return pid;
    }
}
