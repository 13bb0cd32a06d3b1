package org.sls.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProcessTableTest {

    @TempDir
    Path proc;

    /** A /proc/PID/stat in the kernel's layout: a command name with spaces and parentheses, the state, field 22 the start time. */
    private void stat(int pid, String state, long startTime) throws IOException {
        StringBuilder stat = new StringBuilder(pid + " (a (b) c) " + state + " 1");
        for (int field = 5; field <= 52; field++) {
            stat.append(' ').append(field == 22 ? startTime : 7);
        }
        Files.writeString(Files.createDirectories(proc.resolve(Integer.toString(pid))).resolve("stat"), stat + "\n");
    }

    @Test
    void memberIsTheSameProcessOnlyWhileItLivesWithTheStartTimeItWasAttachedWith() throws IOException {
        ProcessTable table = new ProcessTable(proc, 1);
        stat(100, "R", 5555);
        assertTrue(table.isSame(100, 5555));
        assertTrue(table.isSame(100, -1), "an unknown start time accepts any live process of the PID");
        assertFalse(table.isSame(100, 5554), "the PID was given to another process");
        assertEquals(5555, table.startTime(100));

        stat(101, "Z", 6000);
        assertFalse(table.isSame(101, 6000), "a zombie has exited");
        stat(102, "X", 6000);
        assertFalse(table.isSame(102, -1), "a dead task has exited");

        assertFalse(table.isSame(103, -1), "no such process");
        assertEquals(-1, table.startTime(103));
    }

    @Test
    void statWithoutAStartTimeMatchesOnlyAMemberWhoseStartTimeIsUnknown() throws IOException {
        Files.writeString(Files.createDirectories(proc.resolve("104")).resolve("stat"), "104 (x) S 1 2\n");
        ProcessTable table = new ProcessTable(proc, 1);
        assertFalse(table.isSame(104, 5));
        assertTrue(table.isSame(104, -1), "alive, and no start time to compare");
        assertEquals(-1, table.startTime(104));
    }
}
