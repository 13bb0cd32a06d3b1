package org.sls.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.After;
import org.junit.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.ServiceEvent;
import org.osgi.framework.ServiceListener;

/**
 * Issue 6, "hot swap under load": the SLOS backend's bundle is stopped, started and updated while
 * partitions on it take periodic checkpoints every 100 ms, one full and one delta. While the backend
 * is gone its partitions say {@code backend unavailable}, their periodic checkpoints pause without
 * filling the log with stack traces, and their programs run on untouched; when it is back the
 * checkpoints resume on the same store and the newest epoch restores a correct program.
 */
public class SlosBackendHotSwapIT extends SlsTestSupport {

    private static final String BACKEND_BUNDLE = "sls-backend-slos";
    private static final long FULL_OID = 21;
    private static final long DELTA_OID = 22;
    /** How long the backend stays away: dozens of 100 ms periods, so a storm would show. */
    private static final long OUTAGE_MS = 3_000;

    /** Every PID a test started or restored; killed afterwards whatever happened. */
    private final List<Long> processes = new ArrayList<>();

    @After
    public void killProcessesAndRemovePartitions() throws Exception {
        processes.forEach(DetachedProgram::killQuietly);
        Bundle slos = bundle(BACKEND_BUNDLE);
        if (slos.getState() != Bundle.ACTIVE) {
            slos.start();
        }
        waitUntil("the SLOS partitions to be ready for removal", () -> partitionRows().stream()
                .filter(r -> r.get(0).matches("\\d+")).allMatch(r -> "ready".equals(r.get(COL_STATE))));
        for (List<String> row : partitionRows()) {
            if (row.get(0).matches("\\d+")) {
                executeCommand("sls:partdel -o " + row.get(0));
            }
        }
    }

    @Test
    public void periodicSlosPartitionsPauseWhileTheBackendIsStoppedOrUpdatedAndResumeAfterwards() throws Exception {
        DetachedProgram full = startCounter("hotswap-full");
        DetachedProgram delta = startCounter("hotswap-delta");
        executeCommand("sls:partadd -o " + FULL_OID + " -b slos -t 100");
        executeCommand("sls:partadd -o " + DELTA_OID + " -b slos -d -t 100");
        executeCommand("sls:attach -o " + FULL_OID + " -p " + full.pid());
        executeCommand("sls:attach -o " + DELTA_OID + " -p " + delta.pid());
        awaitEpochsGrowBy(FULL_OID, 3);
        awaitEpochsGrowBy(DELTA_OID, 3);
        assertRow(partitionRow(FULL_OID), "slos", "full", "100 ms", "ready");
        assertRow(partitionRow(DELTA_OID), "slos", "delta", "100 ms", "ready");

        // bundle:stop: unavailable, paused, quiet, programs untouched.
        executeCommand("bundle:stop " + bundle(BACKEND_BUNDLE).getBundleId());
        assertPausedWhileUnavailable(full, delta);

        // bundle:start: the same partitions checkpoint again, into the store that kept their epochs.
        executeCommand("bundle:start " + bundle(BACKEND_BUNDLE).getBundleId());
        awaitResumed(FULL_OID, "full");
        awaitResumed(DELTA_OID, "delta");
        // A restore after the swap works: a second copy next to the running original passes its self-check.
        assertCopyOfNewestEpochPasses(FULL_OID, full);
        assertCopyOfNewestEpochPasses(DELTA_OID, delta);

        // bundle:update: the backend service goes away and a new one comes from the re-read bundle.
        List<Integer> backendEvents = new CopyOnWriteArrayList<>();
        ServiceListener listener = event -> backendEvents.add(event.getType());
        bundleContext.addServiceListener(listener, "(" + "sls.backend" + "=slos)");
        long exceptionsBeforeUpdate = exceptionLinesInLog();
        long updatedBefore = bundle(BACKEND_BUNDLE).getLastModified();
        try {
            executeCommand("bundle:update " + bundle(BACKEND_BUNDLE).getBundleId());
            waitUntil("the SLOS backend to be unregistered and registered again by the update",
                    () -> backendEvents.contains(ServiceEvent.UNREGISTERING) && backendEvents.contains(ServiceEvent.REGISTERED)
                            && backendEvents.lastIndexOf(ServiceEvent.REGISTERED) > backendEvents.indexOf(ServiceEvent.UNREGISTERING));
        } finally {
            bundleContext.removeServiceListener(listener);
        }
        assertNotEquals("bundle:update must have re-read the bundle", updatedBefore, bundle(BACKEND_BUNDLE).getLastModified());
        awaitResumed(FULL_OID, "full");
        awaitResumed(DELTA_OID, "delta");
        assertEquals("exception lines logged across bundle:update", exceptionsBeforeUpdate, exceptionLinesInLog());
        awaitRunningUntracedBetweenCheckpoints(full.pid());
        awaitRunningUntracedBetweenCheckpoints(delta.pid());

        // Finally the operator's case: the programs die and come back from the newest epoch.
        assertKilledProgramComesBackFromTheNewestEpoch(FULL_OID, full);
        assertKilledProgramComesBackFromTheNewestEpoch(DELTA_OID, delta);
    }

    private void assertPausedWhileUnavailable(DetachedProgram full, DetachedProgram delta) throws Exception {
        waitUntil("both partitions to report their backend unavailable",
                () -> "backend unavailable".equals(partitionRow(FULL_OID).get(COL_STATE))
                        && "backend unavailable".equals(partitionRow(DELTA_OID).get(COL_STATE)));
        // A tick that was already writing when the store closed may still end; after that nothing moves.
        Thread.sleep(500);
        long exceptionsBefore = exceptionLinesInLog();
        String fullEpochs = partitionRow(FULL_OID).get(COL_EPOCHS);
        String deltaEpochs = partitionRow(DELTA_OID).get(COL_EPOCHS);
        long fullCpu = cpuTicks(full.pid());
        long deltaCpu = cpuTicks(delta.pid());

        Thread.sleep(OUTAGE_MS);

        assertRow(partitionRow(FULL_OID), "slos", "full", "100 ms", "backend unavailable");
        assertRow(partitionRow(DELTA_OID), "slos", "delta", "100 ms", "backend unavailable");
        assertEquals("the partition keeps its process", Long.toString(full.pid()), partitionRow(FULL_OID).get(COL_PIDS));
        assertEquals("the partition keeps its process", Long.toString(delta.pid()), partitionRow(DELTA_OID).get(COL_PIDS));
        assertEquals("periodic checkpoints of the full partition must pause", fullEpochs, partitionRow(FULL_OID).get(COL_EPOCHS));
        assertEquals("periodic checkpoints of the delta partition must pause", deltaEpochs, partitionRow(DELTA_OID).get(COL_EPOCHS));
        assertEquals("exception lines logged during " + OUTAGE_MS + " ms of paused periodic checkpoints",
                exceptionsBefore, exceptionLinesInLog());
        String unavailable = "partition " + FULL_OID + ": backend unavailable (slos)";
        assertEquals(unavailable, executeFailingCommand("sls:checkpoint -o " + FULL_OID));
        assertEquals(unavailable, executeFailingCommand("sls:listsnaps -o " + FULL_OID));
        for (DetachedProgram program : List.of(full, delta)) {
            DetachedProgram.assertRunningUntraced(program.pid());
        }
        assertTrue("the full partition's program must keep computing while the backend is away", cpuTicks(full.pid()) > fullCpu);
        assertTrue("the delta partition's program must keep computing while the backend is away", cpuTicks(delta.pid()) > deltaCpu);
        assertTrue(full.outputText(), !full.outputText().contains("FAIL"));
        assertTrue(delta.outputText(), !delta.outputText().contains("FAIL"));
    }

    /** Back to ready with the same settings, and new periodic epochs are committed to the store. */
    private void awaitResumed(long oid, String mode) {
        waitUntil("partition " + oid + " to be ready again", () -> "ready".equals(partitionRow(oid).get(COL_STATE)));
        assertRow(partitionRow(oid), "slos", mode, "100 ms", "ready");
        long newestBefore = newestEpoch(oid);
        awaitEpochsGrowBy(oid, 3);
        waitUntil("partition " + oid + " to list epochs newer than " + newestBefore + " in sls:listsnaps",
                () -> newestEpoch(oid) > newestBefore);
    }

    private void assertCopyOfNewestEpochPasses(long oid, DetachedProgram original) throws Exception {
        int passesBefore = DetachedProgram.occurrences(original.outputText(), "PASS rst_counter");
        Restored copy = restore("sls:restore -o " + oid).get(0);
        assertEquals(original.pid(), copy.originalPid());
        assertNotEquals("the original still runs, so the copy must get a new PID", original.pid(), copy.pid());
        DetachedProgram.assertRunningUntraced(copy.pid()); // not attached: no periodic freeze of its own
        DetachedProgram.signal(copy.pid(), "USR2");
        original.awaitOutput("PASS rst_counter", passesBefore + 1);
        DetachedProgram.awaitGone(copy.pid());
        assertTrue(original.outputText(), !original.outputText().contains("FAIL"));
        awaitRunningUntracedBetweenCheckpoints(original.pid());
    }

    private void assertKilledProgramComesBackFromTheNewestEpoch(long oid, DetachedProgram program) throws Exception {
        int passesBefore = DetachedProgram.occurrences(program.outputText(), "PASS rst_counter");
        DetachedProgram.killAndAwaitReaped(program.pid());
        Restored restored = restore("sls:restore -o " + oid).get(0); // no -e: the newest epoch
        assertEquals(program.pid(), restored.originalPid());
        assertEquals("the original PID was free, so the restore must take it again", program.pid(), restored.pid());
        awaitRunningUntracedBetweenCheckpoints(restored.pid()); // adopted by the partition: periodic freezes again
        DetachedProgram.signal(restored.pid(), "USR2");
        program.awaitOutput("PASS rst_counter", passesBefore + 1);
        assertTrue(program.outputText(), !program.outputText().contains("FAIL"));
    }

    // ---- helpers -------------------------------------------------------------------------------

    private List<Restored> restore(String command) {
        List<Restored> restored = restoreLines(command);
        restored.forEach(r -> processes.add(r.pid()));
        return restored;
    }

    private DetachedProgram startCounter(String name) throws Exception {
        DetachedProgram counter = DetachedProgram.start(Path.of(System.getProperty("karaf.data"), "itest-programs"), name,
                Map.of(), DetachedProgram.testProgram("rst_counter").toString());
        processes.add(counter.pid());
        counter.awaitOutput("READY");
        return counter;
    }

    /** Waits until the partition's Epochs column (checkpoints taken by this container) grew by at least n. */
    private void awaitEpochsGrowBy(long oid, long n) {
        long start = Long.parseLong(partitionRow(oid).get(COL_EPOCHS));
        waitUntil(n + " more periodic epochs of partition " + oid + " (last error: "
                + partitionRow(oid).get(COL_LAST_ERROR) + ")",
                () -> Long.parseLong(partitionRow(oid).get(COL_EPOCHS)) >= start + n);
    }

    /** The newest epoch sls:listsnaps shows for a partition, -1 if none. */
    private long newestEpoch(long oid) {
        long newest = -1;
        for (String line : executeCommand("sls:listsnaps -o " + oid + " --no-format").split("\\R")) {
            if (line.trim().matches("\\d+\\t.*")) {
                newest = Math.max(newest, Long.parseLong(line.trim().split("\t")[0].trim()));
            }
        }
        return newest;
    }

    /** Lines of data/log/karaf.log that name an exception: a stack trace adds several. */
    private static long exceptionLinesInLog() throws IOException {
        Path log = Path.of(System.getProperty("karaf.log", Path.of(System.getProperty("karaf.data"), "log").toString()),
                "karaf.log");
        try (var lines = Files.lines(log)) {
            return lines.filter(l -> l.contains("Exception")).count();
        }
    }

    /**
     * A process in a periodic partition is frozen (traced, State t) for a few milliseconds every
     * period; it must be seen running and untraced between two checkpoints, not left stopped.
     */
    private static void awaitRunningUntracedBetweenCheckpoints(long pid) {
        waitUntil("process " + pid + " to be seen running and untraced between periodic checkpoints", () -> {
            try {
                DetachedProgram.assertRunningUntraced(pid);
                return true;
            } catch (IOException e) {
                throw new AssertionError("cannot read /proc/" + pid + "/status: " + e.getMessage(), e);
            }
        });
    }

    /** utime + stime of a process in clock ticks, from /proc/PID/stat. */
    private static long cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
    }
}
