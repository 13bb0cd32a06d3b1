package org.sls.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import org.osgi.framework.Bundle;

/**
 * Backends are plug-ins: stopping the memory backend's bundle must not lose or wedge anything.
 * Its partitions report {@code backend unavailable} and refuse work with that message, other
 * backends' partitions carry on, and starting the bundle again brings everything back.
 */
public class MemoryBackendHotSwapIT extends SlsTestSupport {

    private Process sleeper;

    @Before
    public void createPartitions() {
        sleeper = startSleeper();
        executeCommand("sls:partadd -o 11 -b memory");
        executeCommand("sls:partadd -o 12 -b slos");
        executeCommand("sls:attach -o 11 -p " + sleeper.pid());
    }

    @After
    public void removePartitions() throws Exception {
        Bundle memory = bundle("sls-backend-memory");
        if (memory.getState() != Bundle.ACTIVE) {
            memory.start();
        }
        waitUntil("partition 11 to be ready", () -> partitionRow(11) == null || "ready".equals(partitionRow(11).get(COL_STATE)));
        for (long oid : new long[] {11, 12, 13}) {
            if (partitionRow(oid) != null) {
                executeCommand("sls:partdel -o " + oid);
            }
        }
        stop(sleeper);
    }

    @Test
    public void stoppingTheMemoryBackendMakesItsPartitionsUnavailableAndStartingItRestoresThem() throws Exception {
        Bundle memory = bundle("sls-backend-memory");
        memory.stop();
        waitUntil("partition 11 to report its backend unavailable",
                () -> "backend unavailable".equals(partitionRow(11).get(COL_STATE)));

        assertRow(partitionRow(11), "memory", "full", "on demand", "backend unavailable");
        assertEquals("the partition keeps its processes", Long.toString(sleeper.pid()), partitionRow(11).get(COL_PIDS));
        assertRow(partitionRow(12), "slos", "full", "on demand", "ready");

        String unavailable = "partition 11: backend unavailable (memory)";
        assertEquals(unavailable, executeFailingCommand("sls:checkpoint -o 11"));
        assertEquals(unavailable, executeFailingCommand("sls:restore -o 11"));
        assertEquals(unavailable, executeFailingCommand("sls:listsnaps -o 11"));
        // A known backend that is merely stopped is accepted: the partition waits for it.
        executeCommand("sls:partadd -o 13 -b memory");
        assertRow(partitionRow(13), "memory", "full", "on demand", "backend unavailable");
        assertTrue("the attached process must keep running", sleeper.isAlive());

        memory.start();
        waitUntil("partition 11 to be ready again", () -> "ready".equals(partitionRow(11).get(COL_STATE)));
        assertRow(partitionRow(11), "memory", "full", "on demand", "ready");
        assertEquals(Long.toString(sleeper.pid()), partitionRow(11).get(COL_PIDS));
        assertRow(partitionRow(12), "slos", "full", "on demand", "ready");
        assertRow(partitionRow(13), "memory", "full", "on demand", "ready");
        executeCommand("sls:listsnaps -o 11");
    }

    /** Partitions are persisted: restarting the core (as a container restart would) brings them all back. */
    @Test
    public void partitionsAndTheirProcessesSurviveACoreRestart() throws Exception {
        String before = executeCommand("sls:partitions --no-format");
        Bundle core = bundle("sls-core");
        core.stop();
        core.start();
        waitUntil("partition 11 to be listed again after the core restarted", () -> partitionRow(11) != null);
        assertEquals(before, executeCommand("sls:partitions --no-format"));
    }
}
