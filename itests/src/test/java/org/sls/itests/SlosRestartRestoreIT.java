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
     * OID, backend, mode and period of each partition: what must survive a restart. The Epochs
     * column (PartitionInfo.epochsTaken) counts the checkpoints this container took and starts again
     * at 0 in a new container; the durable epochs are compared through sls:listsnaps instead.
     */
    private List<String> durablePartitionColumns() throws Exception {
        List<String> rows = new ArrayList<>();
        for (String line : dist.clientOk("sls:partitions --no-format").split("\\R")) {
            String[] cells = line.split("\t");
            if (cells.length > 6 && cells[0].trim().matches("\\d+")) {
                rows.add(cells[0].trim() + " " + cells[1].trim() + " " + cells[2].trim() + " " + cells[3].trim());
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

        dist.clientOk("sls:partadd -o 5 -b slos");
        dist.clientOk("sls:attach -o 5 -p " + counter.pid());
        assertTrue(dist.clientOk("sls:checkpoint -o 5").startsWith("Checkpoint of partition 5: epoch 0, 1 process(es)"));
        assertTrue(dist.clientOk("sls:checkpoint -o 5").startsWith("Checkpoint of partition 5: epoch 1, 1 process(es)"));
        DetachedProgram.killAndAwaitReaped(counter.pid());
        List<String> partitionsBefore = durablePartitionColumns();
        String snapsBefore = dist.clientOk("sls:listsnaps -o 5 --no-format");
        assertEquals("partitions before the restart", List.of("5 slos full on demand"), partitionsBefore);
        assertEquals("two epochs listed before the restart: " + snapsBefore, 2,
                snapsBefore.lines().filter(l -> l.trim().matches("\\d+\\t.*")).count());

        long firstKaraf = dist.karafPid();
        dist.stop();
        dist.start();
        assertNotEquals("a fresh container must be running", firstKaraf, dist.karafPid());

        assertEquals("sls:partitions after the restart", partitionsBefore, durablePartitionColumns());
        assertEquals("sls:listsnaps after the restart", snapsBefore, dist.clientOk("sls:listsnaps -o 5 --no-format"));
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
    }
}
