package org.sls.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.After;
import org.junit.Test;

/**
 * The real engine end to end through the Karaf shell, on the memory backend: a checkpoint leaves the
 * program running and correct (issue 3), and the Aurora workflow brings a killed program back where
 * it was, as often as asked (issue 4). The programs are native/tests/prog/rst_*: each verifies its own
 * state on SIGUSR2 and prints PASS or FAIL.
 */
public class CheckpointRestoreMemoryIT extends SlsTestSupport {

    private static final String SIGUSR2 = "USR2";

    /** Every PID a test started or restored; killed afterwards whatever happened. */
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

    private Path workDir() {
        return Path.of(System.getProperty("karaf.data"), "itest-programs");
    }

    private DetachedProgram startCounter(String name) throws Exception {
        DetachedProgram counter = DetachedProgram.start(workDir(), name, Map.of(),
                DetachedProgram.testProgram("rst_counter").toString());
        processes.add(counter.pid());
        counter.awaitOutput("READY");
        return counter;
    }

    /** The "Restored pid X as pid Y" lines of a sls:restore; the restored PIDs are killed after the test. */
    private List<Restored> restore(String command) {
        List<Restored> restored = restoreLines(command);
        restored.forEach(r -> processes.add(r.pid()));
        return restored;
    }

    private static void assertNotKarafChild(long pid) throws IOException {
        long karaf = ProcessHandle.current().pid();
        assertNotEquals("restored process " + pid + " is a child of the Karaf JVM", karaf, DetachedProgram.parentPid(pid));
    }

    @Test
    public void checkpointOnMemoryRecordsAnEpochAndLeavesTheProgramRunningAndCorrect() throws Exception {
        DetachedProgram counter = startCounter("ckpt-counter");
        executeCommand("sls:partadd -o 301 -b memory");
        executeCommand("sls:attach -o 301 -p " + counter.pid());

        String checkpoint = executeCommand("sls:checkpoint -o 301").trim();
        assertTrue("unexpected checkpoint report: " + checkpoint,
                checkpoint.startsWith("Checkpoint of partition 301: epoch 0, 1 process(es), "));

        List<String[]> snaps = snapshots(301);
        assertEquals("sls:listsnaps must list exactly the one epoch", 1, snaps.size());
        String[] epoch = snaps.get(0);
        assertEquals("epoch", "0", epoch[0]);
        assertEquals("processes in the epoch", "1", epoch[4]);
        assertTrue("the epoch holds no page bytes: " + String.join(" | ", epoch),
                epoch[5].matches("[\\d.]+ (KiB|MiB|GiB)"));

        DetachedProgram.assertRunningUntraced(counter.pid());
        Thread.sleep(300); // it must keep running, not just be runnable at the instant of the check
        DetachedProgram.assertRunningUntraced(counter.pid());
        DetachedProgram.signal(counter.pid(), SIGUSR2);
        counter.awaitOutput("PASS rst_counter");
        assertTrue(counter.outputText(), !counter.outputText().contains("FAIL"));
    }

    @Test
    public void restoreAfterKillBringsTheProgramBackWhereItWasOutsideTheJvm() throws Exception {
        DetachedProgram counter = startCounter("aurora-counter");
        executeCommand("sls:partadd -o 3 -b memory");
        executeCommand("sls:attach -o 3 -p " + counter.pid());
        executeCommand("sls:checkpoint -o 3");
        DetachedProgram.killAndAwaitReaped(counter.pid());

        List<Restored> restored = restore("sls:restore -o 3");
        assertEquals("one process restored", 1, restored.size());
        Restored back = restored.get(0);
        assertEquals("original pid", counter.pid(), back.originalPid());
        assertEquals("the original PID was free, so the restore must take it again", counter.pid(), back.pid());
        assertEquals("no 'was taken' note when the PID was free", "", back.rest());

        DetachedProgram.assertRunningUntraced(back.pid());
        assertNotKarafChild(back.pid());
        DetachedProgram.signal(back.pid(), SIGUSR2);
        counter.awaitOutput("PASS rst_counter");
        assertTrue(counter.outputText(), !counter.outputText().contains("FAIL"));
    }

    @Test
    public void restoreWhileTheOriginalRunsGivesASecondIndependentCopy() throws Exception {
        DetachedProgram counter = startCounter("copy-counter");
        executeCommand("sls:partadd -o 402 -b memory");
        executeCommand("sls:attach -o 402 -p " + counter.pid());
        executeCommand("sls:checkpoint -o 402");

        Restored copy = restore("sls:restore -o 402").get(0);
        assertEquals(counter.pid(), copy.originalPid());
        assertNotEquals("the copy must get a new PID while the original runs", counter.pid(), copy.pid());
        assertEquals(" (new PID: " + counter.pid() + " was taken)", copy.rest());
        assertNotKarafChild(copy.pid());
        DetachedProgram.assertRunningUntraced(copy.pid());
        DetachedProgram.assertRunningUntraced(counter.pid());

        // Independent: the copy verifies and exits on its own, the original keeps running, then verifies too.
        DetachedProgram.signal(copy.pid(), SIGUSR2);
        counter.awaitOutput("PASS rst_counter", 1);
        DetachedProgram.assertRunningUntraced(counter.pid());
        DetachedProgram.signal(counter.pid(), SIGUSR2);
        counter.awaitOutput("PASS rst_counter", 2);
        assertTrue(counter.outputText(), !counter.outputText().contains("FAIL"));
    }

    /** A program that attached itself over the control socket and checkpoints itself in a loop. */
    private DetachedProgram startSelfCheckpointer(long oid, Path lines) throws Exception {
        Path socket = Path.of(System.getProperty("karaf.data"), "sls", "control.sock");
        waitUntil("the control socket " + socket, () -> java.nio.file.Files.exists(socket));
        DetachedProgram program = DetachedProgram.start(workDir(), "selfckpt-" + oid,
                Map.of("SLS_CONTROL_SOCKET", socket.toString()),
                DetachedProgram.testProgram("sls_selfckpt").toString(), Long.toString(oid), lines.toString());
        processes.add(program.pid());
        return program;
    }

    private static String read(Path file) {
        try {
            return java.nio.file.Files.exists(file) ? java.nio.file.Files.readString(file) : "";
        } catch (IOException e) {
            throw new AssertionError("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    @Test
    public void selfCheckpointingProgramIsRestoredAndKnowsIt() throws Exception {
        executeCommand("sls:partadd -o 801 -b memory");
        Path lines = workDir().resolve("selfckpt-801.lines");
        java.nio.file.Files.deleteIfExists(lines);
        DetachedProgram program = startSelfCheckpointer(801, lines);
        waitUntil("three self-checkpoints in " + lines, () -> DetachedProgram.occurrences(read(lines), "ckpt ") >= 3);
        assertTrue("the program reported an error: " + read(lines), !read(lines).contains("error"));
        assertEquals(Long.toString(program.pid()), partitionRow(801).get(COL_PIDS));
        DetachedProgram.killAndAwaitReaped(program.pid());

        // Its last committed checkpoint is the newest epoch; "ckpt N" was written after epoch N-1 committed.
        List<String[]> snaps = snapshots(801);
        long newest = Long.parseLong(snaps.get(snaps.size() - 1)[0]);
        int ckptLines = DetachedProgram.occurrences(read(lines), "ckpt ");
        assertTrue("epochs " + snaps.size() + " vs ckpt lines " + ckptLines, snaps.size() >= ckptLines);

        Restored back = restore("sls:restore -o 801").get(0);
        assertEquals(program.pid(), back.pid());
        assertNotKarafChild(back.pid());
        waitUntil("a 'restored N' line in " + lines, () -> read(lines).contains("restored "));
        Matcher restoredLine = Pattern.compile("restored (\\d+)").matcher(read(lines));
        assertTrue(restoredLine.find());
        assertEquals("the restored program must continue from the newest epoch's counter: " + read(lines),
                newest + 1, Long.parseLong(restoredLine.group(1)));
        DetachedProgram.assertRunningUntraced(back.pid());
        DetachedProgram.killAndAwaitReaped(back.pid());
    }

    @Test
    public void restoreOfAnOlderEpochContinuesFromThatEpoch() throws Exception {
        executeCommand("sls:partadd -o 802 -b memory");
        Path lines = workDir().resolve("selfckpt-802.lines");
        java.nio.file.Files.deleteIfExists(lines);
        DetachedProgram program = startSelfCheckpointer(802, lines);
        waitUntil("three self-checkpoints in " + lines, () -> DetachedProgram.occurrences(read(lines), "ckpt ") >= 3);
        DetachedProgram.killAndAwaitReaped(program.pid());
        assertEquals("epoch 0 is the program's first checkpoint", "0", snapshots(802).get(0)[0]);

        restore("sls:restore -o 802 -e 1");
        waitUntil("a 'restored N' line in " + lines, () -> read(lines).contains("restored "));
        assertTrue("restoring epoch 1 must resume after the program's second checkpoint: " + read(lines),
                read(lines).contains("restored 2\n"));
    }

    @Test
    public void anotherUsersProcessCannotCheckpointOrAttachAPartitionItIsNotIn() throws Exception {
        executeCommand("sls:partadd -o 803 -b memory");
        Path lines = workDir().resolve("selfckpt-803.lines");
        java.nio.file.Files.deleteIfExists(lines);
        DetachedProgram program = startSelfCheckpointer(803, lines);
        waitUntil("a self-checkpoint in " + lines, () -> read(lines).contains("ckpt "));

        // Test setup only: let an unprivileged user reach the socket (the distribution keeps it 0660, root's).
        Path socket = Path.of(System.getProperty("karaf.data"), "sls", "control.sock");
        java.nio.file.Files.setPosixFilePermissions(socket.getParent(),
                java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        java.nio.file.Files.setPosixFilePermissions(socket,
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-rw-"));
        int epochsBefore = snapshots(803).size();

        String checkpointReply = askAsNobody(socket, "CHECKPOINT 803");
        assertTrue("a process outside the partition must be denied: " + checkpointReply,
                checkpointReply.startsWith("ERR 1 ") && checkpointReply.contains("is not in partition 803"));
        String attachReply = askAsNobody(socket, "ATTACH 803 " + program.pid());
        assertTrue("another user's process must not act on the program: " + attachReply,
                attachReply.startsWith("ERR 1 ") && attachReply.contains("may not act on process " + program.pid()));
        assertTrue("the denied requests must not have taken checkpoints",
                snapshots(803).size() >= epochsBefore); // the program itself keeps checkpointing
        assertTrue("the program must keep checkpointing itself: " + read(lines), !read(lines).contains("error"));
    }

    /** Sends one request line to the control socket as user nobody (65534) and returns the reply line. */
    private String askAsNobody(Path socket, String request) throws Exception {
        String client = "import socket,sys\n"
                + "s=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM)\n"
                + "s.settimeout(20)\n"
                + "s.connect(sys.argv[1])\n"
                + "s.sendall((sys.argv[2]+'\\n').encode())\n"
                + "r=b''\n"
                + "while not r.endswith(b'\\n'):\n"
                + "  c=s.recv(4096)\n"
                + "  if not c: break\n"
                + "  r+=c\n"
                + "sys.stdout.write(r.decode())\n";
        Process python = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "/usr/bin/python3", "-c", client, socket.toString(), request).redirectErrorStream(true).start();
        assertTrue("the python client did not finish", python.waitFor(30, java.util.concurrent.TimeUnit.SECONDS));
        String reply = new String(python.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).trim();
        assertEquals("python client: " + reply, 0, python.exitValue());
        assertNotNull(reply);
        return reply;
    }
}
