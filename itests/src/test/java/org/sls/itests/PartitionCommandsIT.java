package org.sls.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.List;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * The partition commands through the Karaf shell: the round trip an operator does, and every bad
 * input, each of which must give one clear line and leave {@code sls:partitions} exactly as it was.
 */
public class PartitionCommandsIT extends SlsTestSupport {

    private Process sleeper;

    @Before
    public void startTestProcess() {
        sleeper = startSleeper();
    }

    @After
    public void removePartitionsAndProcess() {
        for (List<String> row : partitionRows()) {
            if (row.get(0).matches("\\d+")) {
                executeCommand("sls:partdel -o " + row.get(0));
            }
        }
        stop(sleeper);
    }

    private long pid() {
        return sleeper.pid();
    }

    @Test
    public void partaddPartitionsPartdelRoundTrip() {
        assertEquals("Partition 101 created (backend memory, full, period on demand)",
                executeCommand("sls:partadd -o 101 -b memory").trim());
        assertEquals("Partition 102 created (backend slos, delta, tracking auto, period 250 ms)",
                executeCommand("sls:partadd -o 102 -b slos -d -t 250").trim());

        assertRow(partitionRow(101), "memory", "full", "on demand", "ready");
        assertRow(partitionRow(102), "slos", "delta", "250 ms", "ready");
        assertEquals("-", partitionRow(101).get(COL_PIDS));
        assertEquals("0", partitionRow(101).get(COL_EPOCHS));

        String table = executeCommand("sls:partitions");
        assertTrue("formatted table lacks its header: " + table,
                table.matches("(?s)\\s*OID\\s*\\|\\s*Backend\\s*\\|\\s*Mode\\s*\\|\\s*Period\\s*\\|\\s*State\\s*\\|\\s*PIDs"
                        + "\\s*\\|\\s*Epochs\\s*\\|\\s*Skipped\\s*\\|\\s*Last stop\\s*\\|\\s*Last error.*"));

        assertEquals("Partition 101 deleted", executeCommand("sls:partdel -o 101").trim());
        assertNull("partition 101 still listed after partdel", partitionRow(101));
        assertRow(partitionRow(102), "slos", "delta", "250 ms", "ready");
        executeCommand("sls:partdel -o 102");
        assertNull("partition 102 still listed after partdel", partitionRow(102));
    }

    @Test
    public void attachAndDetachShowInPartitions() {
        executeCommand("sls:partadd -o 103 -b memory");
        assertEquals("Process " + pid() + " attached to partition 103",
                executeCommand("sls:attach -o 103 -p " + pid()).trim());
        assertEquals(Long.toString(pid()), partitionRow(103).get(COL_PIDS));
        assertTrue("the attached process must keep running", sleeper.isAlive());

        assertEquals("Process " + pid() + " detached from partition 103",
                executeCommand("sls:detach -o 103 -p " + pid()).trim());
        assertEquals("-", partitionRow(103).get(COL_PIDS));
        assertTrue("the detached process must keep running", sleeper.isAlive());
    }

    /** Runs a command that must fail with exactly {@code expected} and must not change any partition. */
    private void assertRejected(String command, String expected) {
        List<List<String>> before = partitionRows();
        String message = executeFailingCommand(command);
        assertOneLine(message);
        assertEquals("message of '" + command + "'", expected, message);
        assertEquals("'" + command + "' changed sls:partitions", before, partitionRows());
    }

    /** As {@link #assertRejected} for errors Karaf's own argument parsing reports (wording is Karaf's). */
    private void assertRejectedMentioning(String command, String... fragments) {
        List<List<String>> before = partitionRows();
        String message = executeFailingCommand(command);
        assertOneLine(message);
        for (String fragment : fragments) {
            assertTrue("message of '" + command + "' does not mention '" + fragment + "': " + message,
                    message.contains(fragment));
        }
        assertEquals("'" + command + "' changed sls:partitions", before, partitionRows());
    }

    @Test
    public void unknownOidIsRejected() {
        executeCommand("sls:partadd -o 3 -b memory");
        assertRejected("sls:partdel -o 7", "partition 7 does not exist");
        assertRejected("sls:attach -o 7 -p " + pid(), "partition 7 does not exist");
        assertRejected("sls:detach -o 7 -p " + pid(), "partition 7 does not exist");
        assertRejected("sls:listsnaps -o 7", "partition 7 does not exist");
        assertRejected("sls:checkpoint -o 7", "partition 7 does not exist");
        assertRejected("sls:restore -o 7", "partition 7 does not exist");
    }

    @Test
    public void duplicateOidIsRejected() {
        executeCommand("sls:partadd -o 3 -b memory");
        assertRejected("sls:partadd -o 3 -b slos", "partition 3 already exists");
        assertRejected("sls:partadd -o 3 -b memory -d -t 100", "partition 3 already exists");
        assertRow(partitionRow(3), "memory", "full", "on demand", "ready");
    }

    @Test
    public void oidThatIsNotAPositiveIntegerIsRejected() {
        executeCommand("sls:partadd -o 3 -b memory");
        assertRejected("sls:partadd -o 0 -b memory", "OID must be a positive integer, got 0");
        assertRejected("sls:partadd --oid=-1 -b memory", "OID must be a positive integer, got -1");
        assertRejectedMentioning("sls:partadd -o abc -b memory", "-o", "abc");
        assertRejectedMentioning("sls:partdel -o abc", "-o", "abc");
    }

    @Test
    public void missingOrUnknownBackendIsRejected() {
        executeCommand("sls:partadd -o 3 -b memory");
        assertRejectedMentioning("sls:partadd -o 4", "-b", "required");
        assertRejected("sls:partadd -o 4 -b foo", "unknown backend 'foo' (available: memory, slos)");
    }

    @Test
    public void negativePeriodIsRejected() {
        executeCommand("sls:partadd -o 3 -b memory");
        assertRejected("sls:partadd -o 4 -b memory --period=-5", "checkpoint period must not be negative, got -5 ms");
    }

    @Test
    public void pidThatDoesNotExistIsRejected() {
        executeCommand("sls:partadd -o 3 -b memory");
        // pid_max is at most 4194304 on Linux, so this PID can never exist.
        assertRejected("sls:attach -o 3 -p 99999999", "process 99999999 does not exist");
        assertRejected("sls:detach -o 3 -p " + pid(), "process " + pid() + " is not attached to partition 3");
        assertRejectedMentioning("sls:attach -o 3 -p abc", "-p", "abc");
    }

    @Test
    public void pidAttachedToAnotherPartitionIsRejected() {
        executeCommand("sls:partadd -o 3 -b memory");
        executeCommand("sls:partadd -o 4 -b memory");
        executeCommand("sls:attach -o 3 -p " + pid());
        assertRejected("sls:attach -o 4 -p " + pid(), "process " + pid() + " is already attached to partition 3");
        assertEquals(Long.toString(pid()), partitionRow(3).get(COL_PIDS));
        assertEquals("-", partitionRow(4).get(COL_PIDS));
    }

    /**
     * Checkpoint and restore with nothing to work on fail with one line and take no epoch. (The
     * partition's "Last error" column may record the failed checkpoint; nothing else changes.)
     */
    @Test
    public void checkpointAndRestoreWithNothingToDoAreRejected() {
        executeCommand("sls:partadd -o 3 -b memory");
        List<String> before = partitionRow(3);
        String checkpoint = executeFailingCommand("sls:checkpoint -o 3");
        assertOneLine(checkpoint);
        assertTrue("checkpoint error does not name the partition: " + checkpoint, checkpoint.startsWith("partition 3"));
        String restore = executeFailingCommand("sls:restore -o 3");
        assertOneLine(restore);
        assertTrue("restore error does not name the partition: " + restore, restore.startsWith("partition 3"));
        List<String> after = partitionRow(3);
        assertEquals(before.subList(0, COL_LAST_ERROR), after.subList(0, COL_LAST_ERROR));
        assertEquals("0", after.get(COL_EPOCHS));
    }
}
