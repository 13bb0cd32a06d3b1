package org.sls.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * Issue 5 end to end: a program checkpointed to SLOS is restored by a fresh Karaf container after
 * the whole container was stopped, and continues correctly. Runs the distribution as an operator
 * does (bin/start, bin/client, bin/stop), so the second container really is a new JVM on the same
 * data directory.
 */
public class SlosRestartRestoreIT {

    private static final Pattern RESTORED = Pattern.compile("Restored pid (\\d+) as pid (\\d+)(.*)");

    private UnpackedDistribution dist;
    private final List<Long> processes = new ArrayList<>();

    @Before
    public void unpackDistribution() throws Exception {
        dist = UnpackedDistribution.unpack("slos-restart");
    }

    @After
    public void stopDistributionAndPrograms() throws Exception {
        processes.forEach(DetachedProgram::killQuietly);
        if (dist != null) {
            dist.stopQuietly();
        }
    }

    /**
     * OID, backend, mode, period and state of each partition, and its PIDs where they still run:
     * what must survive a restart. The Epochs column (PartitionInfo.epochsTaken) counts the
     * checkpoints this container took and starts again at 0 in a new container; the durable epochs
     * are compared through sls:listsnaps instead. A PID that died before the stop is dropped by the
     * new container (it cannot be checkpointed any more), so PIDs are compared only for partition 6,
     * whose program runs on across the restart.
     */
    private List<String> durablePartitionColumns() throws Exception {
        List<String> rows = new ArrayList<>();
        for (String line : dist.clientOk("sls:partitions --no-format").split("\\R")) {
            String[] cells = line.split("\t");
            if (cells.length > 6 && cells[0].trim().matches("\\d+")) {
                String oid = cells[0].trim();
                rows.add(oid + " " + cells[1].trim() + " " + cells[2].trim() + " " + cells[3].trim() + " " + cells[4].trim()
                        + (oid.equals("6") ? " pids " + cells[5].trim() : ""));
            }
        }
        return rows;
    }

    @Test
    public void programCheckpointedToSlosIsRestoredByAFreshContainerAndContinuesCorrectly() throws Exception {
        dist.start();
        DetachedProgram counter = DetachedProgram.start(dist.scratch(), "slos-counter", Map.of(),
                DetachedProgram.testProgram("rst_counter").toString());
        processes.add(counter.pid());
        counter.awaitOutput("READY");

        // Partition 6: incremental, with a period too long to tick during the test (its settings must
        // survive, its snapshot list must not move), and a program that keeps running across the restart.
        DetachedProgram survivor = DetachedProgram.start(dist.scratch(), "slos-survivor", Map.of(),
                DetachedProgram.testProgram("rst_counter").toString());
        processes.add(survivor.pid());
        survivor.awaitOutput("READY");

        dist.clientOk("sls:partadd -o 5 -b slos");
        dist.clientOk("sls:attach -o 5 -p " + counter.pid());
        dist.clientOk("sls:partadd -o 6 -b slos -d -t 600000");
        dist.clientOk("sls:attach -o 6 -p " + survivor.pid());
        assertTrue(dist.clientOk("sls:checkpoint -o 5").startsWith("Checkpoint of partition 5: epoch 0, 1 process(es)"));
        assertTrue(dist.clientOk("sls:checkpoint -o 5").startsWith("Checkpoint of partition 5: epoch 1, 1 process(es)"));
        assertTrue(dist.clientOk("sls:checkpoint -o 6").startsWith("Checkpoint of partition 6: epoch 0, 1 process(es)"));
        assertTrue(dist.clientOk("sls:checkpoint -o 6").startsWith("Checkpoint of partition 6: epoch 1, 1 process(es)"));
        DetachedProgram.killAndAwaitReaped(counter.pid());
        List<String> partitionsBefore = durablePartitionColumns();
        String snapsBefore = dist.clientOk("sls:listsnaps -o 5 --no-format");
        String deltaSnapsBefore = dist.clientOk("sls:listsnaps -o 6 --no-format");
        assertEquals("partitions before the restart", List.of("5 slos full on demand ready",
                "6 slos delta 600000 ms ready pids " + survivor.pid()), partitionsBefore);
        assertEquals("two epochs listed before the restart: " + snapsBefore, 2,
                snapsBefore.lines().filter(l -> l.trim().matches("\\d+\\t.*")).count());
        assertEquals("two epochs of partition 6 listed before the restart: " + deltaSnapsBefore, 2,
                deltaSnapsBefore.lines().filter(l -> l.trim().matches("\\d+\\t.*")).count());

        long firstKaraf = dist.karafPid();
        dist.stop();
        dist.start();
        assertNotEquals("a fresh container must be running", firstKaraf, dist.karafPid());

        assertEquals("sls:partitions after the restart", partitionsBefore, durablePartitionColumns());
        assertEquals("sls:listsnaps after the restart", snapsBefore, dist.clientOk("sls:listsnaps -o 5 --no-format"));
        assertEquals("sls:listsnaps of partition 6 after the restart", deltaSnapsBefore,
                dist.clientOk("sls:listsnaps -o 6 --no-format"));
        String verify = dist.clientOk("sls:verify -o 5");
        assertTrue("sls:verify must find the store intact: " + verify, verify.endsWith("no damage found"));

        String output = dist.clientOk("sls:restore -o 5");
        Matcher m = RESTORED.matcher(output);
        assertTrue("sls:restore printed no 'Restored pid X as pid Y' line: " + output, m.find());
        long restoredPid = Long.parseLong(m.group(2));
        processes.add(restoredPid);
        assertEquals("original pid", counter.pid(), Long.parseLong(m.group(1)));
        assertEquals("the original PID was free, so the restore must take it again", counter.pid(), restoredPid);

        DetachedProgram.assertRunningUntraced(restoredPid);
        assertNotEquals("the restored process must not be a child of Karaf", dist.karafPid(),
                DetachedProgram.parentPid(restoredPid));
        DetachedProgram.signal(restoredPid, "USR2");
        counter.awaitOutput("PASS rst_counter");
        assertTrue(counter.outputText(), !counter.outputText().contains("FAIL"));

        // The fresh container carries partition 6's epoch numbering on (epoch 2 follows the stored 0
        // and 1), and the program it kept comes back correctly from that newest epoch.
        DetachedProgram.assertRunningUntraced(survivor.pid());
        assertTrue(dist.clientOk("sls:checkpoint -o 6").startsWith("Checkpoint of partition 6: epoch 2, 1 process(es)"));
        DetachedProgram.killAndAwaitReaped(survivor.pid());
        Matcher survivorRestore = RESTORED.matcher(dist.clientOk("sls:restore -o 6"));
        assertTrue("sls:restore -o 6 printed no 'Restored pid X as pid Y' line", survivorRestore.find());
        long survivorPid = Long.parseLong(survivorRestore.group(2));
        processes.add(survivorPid);
        assertEquals("the original PID was free, so the restore must take it again", survivor.pid(), survivorPid);
        DetachedProgram.assertRunningUntraced(survivorPid);
        DetachedProgram.signal(survivorPid, "USR2");
        survivor.awaitOutput("PASS rst_counter");
        assertTrue(survivor.outputText(), !survivor.outputText().contains("FAIL"));
    }
}
