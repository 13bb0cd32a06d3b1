package org.sls.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.After;
import org.junit.Test;

/**
 * Continuous checkpointing every 10 ms (issue 7): a delta partition with {@code -t 10} keeps up with a
 * running program on this 2-core machine, every period is either a taken epoch or a counted skip (an
 * overrun is never queued behind), and the program comes back right from the newest epoch after a
 * kill -9, with checkpoints resuming on the restored process.
 */
public class ContinuousCheckpointIT extends SlsTestSupport {

    private static final long OID = 701;
    private static final long PERIOD_MS = 10;
    private static final long RUN_MS = 3000;
    private static final int COL_SKIPPED = 7;

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

    /** Epochs taken plus skipped so far, and the time they were read. */
    private record Count(long taken, long skipped, long nanos) {
        long periods() {
            return taken + skipped;
        }
    }

    private Count count() {
        long before = System.nanoTime();
        List<String> row = partitionRow(OID);
        long after = System.nanoTime();
        return new Count(Long.parseLong(row.get(COL_EPOCHS)), Long.parseLong(row.get(COL_SKIPPED)),
                (before + after) / 2);
    }

    @Test
    public void tenMillisecondDeltaCheckpointsKeepUpCountEverySkipAndRestoreTheNewestEpoch() throws Exception {
        Path work = Path.of(System.getProperty("karaf.data"), "itest-programs");
        DetachedProgram prog = DetachedProgram.start(work, "continuous-counter", Map.of(),
                DetachedProgram.testProgram("rst_counter").toString());
        processes.add(prog.pid());
        prog.awaitOutput("READY");
        executeCommand("sls:partadd -o " + OID + " -b memory -d -t " + PERIOD_MS);
        executeCommand("sls:attach -o " + OID + " -p " + prog.pid());
        waitUntil("the first periodic epoch", () -> count().taken() > 0);

        Count start = count();
        Thread.sleep(RUN_MS);
        Count end = count();
        double elapsedPeriods = (end.nanos() - start.nanos()) / (PERIOD_MS * 1e6);
        long taken = end.taken() - start.taken(), skipped = end.skipped() - start.skipped();
        System.out.printf("-t %d for %.0f periods: %d epochs taken, %d skipped%n", PERIOD_MS, elapsedPeriods, taken,
                skipped);
        assertTrue("only " + taken + " epochs taken in " + elapsedPeriods + " periods of " + PERIOD_MS + " ms",
                taken >= 0.5 * elapsedPeriods);
        // every period is a run or a skip: reading the table costs a few ms at each end, so allow two
        // periods either way
        assertTrue("taken + skipped = " + (taken + skipped) + ", but " + elapsedPeriods + " periods elapsed",
                Math.abs(taken + skipped - elapsedPeriods) <= 2 + 0.02 * elapsedPeriods);
        List<String> row = partitionRow(OID);
        assertEquals("last error while checkpointing every 10 ms", "-", row.get(COL_LAST_ERROR));
        assertFalse(prog.outputText(), prog.outputText().contains("FAIL"));

        DetachedProgram.killAndAwaitReaped(prog.pid());
        long restored = restore("sls:restore -o " + OID);
        // the restored process is the partition's member now: periodic epochs go on with it
        long takenAtRestore = count().taken();
        waitUntil("periodic epochs of the restored process", () -> count().taken() >= takenAtRestore + 20);
        assertEquals("members after the restore", Long.toString(restored), partitionRow(OID).get(COL_PIDS));
        // its self-check after being restored and then checkpointed 20 more times (it exits after it)
        DetachedProgram.signal(restored, "USR2");
        prog.awaitOutput("PASS rst_counter");
        assertFalse(prog.outputText(), prog.outputText().contains("FAIL"));
    }

    /** Restores and returns the one restored PID (killed after the test). */
    private long restore(String command) {
        long pid = restoreLines(command).get(0).pid();
        processes.add(pid);
        return pid;
    }
}
