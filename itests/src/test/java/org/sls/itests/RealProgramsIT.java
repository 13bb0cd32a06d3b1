package org.sls.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.After;
import org.junit.Test;

/**
 * Programs nobody here wrote (redis-server, python3) and the usual server shapes (a threaded server, a
 * pre-forking one) through the Aurora workflow typed in the Karaf shell, on both backends (issue 6):
 * {@code sls:partadd -o N -b memory|slos; sls:attach; sls:checkpoint [-r]; kill -9; sls:restore -o N -d}.
 * Each case checks the restored program's state and behaviour, and that {@code sls:restore} printed
 * the PID of every process it restored. Also a restore into a busy machine, where the original PID has
 * been taken meanwhile. One container for all cases to keep CI time low.
 */
public class RealProgramsIT extends SlsTestSupport {

    private static final String[] BACKENDS = { "memory", "slos" };
    private static final Pattern RESTORED = Pattern.compile("Restored pid (\\d+) as pid (\\d+)(.*)");
    private static final String REDIS_SERVER = "/usr/bin/redis-server";
    /** The interpreter test_apps.c uses, so the engine-level and shell-level cases run the same program. */
    private static final String PYTHON3 = "/usr/bin/python3";
    private static final int REDIS_KEYS = 100_000;

    /** Every PID a test started or restored (and the PID occupiers); killed afterwards whatever happened. */
    private final List<Long> processes = new ArrayList<>();
    private final List<Process> occupiers = new ArrayList<>();
    private final List<Path> tempDirs = new ArrayList<>();

    @After
    public void killProcessesAndRemovePartitions() throws Exception {
        processes.forEach(DetachedProgram::killQuietly);
        occupiers.forEach(SlsTestSupport::stop);
        for (long pid : processes) {
            DetachedProgram.awaitGone(pid);
        }
        for (List<String> row : partitionRows()) {
            if (row.get(0).matches("\\d+")) {
                executeCommand("sls:partdel -o " + row.get(0));
            }
        }
        for (Path dir : tempDirs) {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private Path workDir() {
        return Path.of(System.getProperty("karaf.data"), "itest-programs");
    }

    /** A short directory for unix sockets (sun_path holds 108 bytes; the exam directory is deep). */
    private Path socketDir() throws IOException {
        Path dir = Files.createTempDirectory("sls-apps-");
        tempDirs.add(dir);
        return dir;
    }

    private DetachedProgram start(String name, String... command) throws Exception {
        DetachedProgram program = DetachedProgram.start(workDir(), name, Map.of(), command);
        processes.add(program.pid());
        return program;
    }

    private record Restored(long originalPid, long pid, String rest) {
    }

    /**
     * Runs sls:restore and returns its "Restored pid X as pid Y" lines, which must be exactly one per
     * process in {@code originals}: scripts read the restored PIDs from this output.
     */
    private Map<Long, Restored> restore(String command, Set<Long> originals) {
        String output = executeCommand(command);
        Map<Long, Restored> restored = new LinkedHashMap<>();
        for (String line : output.split("\\R")) {
            Matcher m = RESTORED.matcher(line.trim());
            if (m.matches()) {
                Restored r = new Restored(Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), m.group(3));
                processes.add(r.pid());
                assertEquals("'" + command + "' printed pid " + r.originalPid() + " twice: " + output,
                        null, restored.put(r.originalPid(), r));
            }
        }
        assertEquals("'" + command + "' must print one 'Restored pid X as pid Y' line per restored process: " + output,
                originals, restored.keySet());
        for (Restored r : restored.values()) {
            assertTrue("restored pid " + r.pid() + " is not running: " + output,
                    Files.exists(Path.of("/proc", Long.toString(r.pid()))));
        }
        return restored;
    }

    /** The Aurora workflow up to the kill: partadd, attach, checkpoint (-r: with descendants). */
    private void checkpoint(long oid, String backend, long pid, boolean recursive) {
        executeCommand("sls:partadd -o " + oid + " -b " + backend);
        executeCommand("sls:attach -o " + oid + " -p " + pid);
        String report = executeCommand("sls:checkpoint -o " + oid + (recursive ? " -r" : "")).trim();
        assertTrue("unexpected checkpoint report on " + backend + ": " + report,
                report.startsWith("Checkpoint of partition " + oid + ": epoch 0, "));
    }

    private static void assertNotKarafChild(long pid) throws IOException {
        assertNotEquals("restored process " + pid + " is a child of the Karaf JVM",
                ProcessHandle.current().pid(), DetachedProgram.parentPid(pid));
    }

    private static int freeTcpPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    // ---- 1. redis-server ------------------------------------------------------------------------

    private static String redisValue(int i) {
        return "value:" + i + ":" + (i * 7919L) % 100003;
    }

    /** SET key:0..n-1 pipelined in batches of 1000. */
    private static void redisLoad(int port, int keys) throws Exception {
        try (RespClient redis = RespClient.connect(port, 10_000)) {
            for (int base = 0; base < keys; base += 1000) {
                int upto = Math.min(base + 1000, keys);
                ByteArrayOutputStream batch = new ByteArrayOutputStream();
                for (int i = base; i < upto; i++) {
                    batch.write(RespClient.encode("SET", "key:" + i, redisValue(i)));
                }
                redis.send(batch.toByteArray());
                for (int i = base; i < upto; i++) {
                    assertEquals("SET key:" + i, "+OK", redis.reply());
                }
            }
        }
    }

    /** PING, DBSIZE, 200 sampled GETs, then a SET and GET of a new key. */
    private static void redisCheck(String when, int port) throws Exception {
        try (RespClient redis = RespClient.connect(port, 10_000)) {
            assertEquals(when + ": PING", "+PONG", redis.call("PING"));
            assertEquals(when + ": DBSIZE", ":" + REDIS_KEYS, redis.call("DBSIZE"));
            for (int k = 0; k < 200; k++) {
                int i = (int) ((k * 49999L + 7) % REDIS_KEYS);
                assertEquals(when + ": GET key:" + i, redisValue(i), redis.call("GET", "key:" + i));
            }
            assertEquals(when + ": SET of a new key", "+OK", redis.call("SET", "written-" + when, "yes"));
            assertEquals(when + ": GET of the new key", "yes", redis.call("GET", "written-" + when));
            assertEquals(when + ": DEL of the new key", ":1", redis.call("DEL", "written-" + when));
        }
    }

    @Test
    public void redisWith100000KeysServesThemOnTheSamePortAfterRestoreOnBothBackends() throws Exception {
        assertTrue(REDIS_SERVER + " is not installed (.ci/run installs it)", Files.isExecutable(Path.of(REDIS_SERVER)));
        long oid = 61;
        for (String backend : BACKENDS) {
            int port = freeTcpPort();
            DetachedProgram redis = start("redis-" + backend, REDIS_SERVER, "--port", Integer.toString(port),
                    "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no",
                    "--dir", workDir().toString());
            redisLoad(port, REDIS_KEYS);
            redisCheck("before the checkpoint on " + backend, port);

            checkpoint(oid, backend, redis.pid(), false);
            DetachedProgram.killAndAwaitReaped(redis.pid());
            try (Socket probe = new Socket()) {
                probe.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 2_000);
                throw new AssertionError("port " + port + " still accepts after redis-server was killed");
            } catch (IOException expected) {
                // nobody listens any more: whatever answers after the restore is the restored server
            }

            Restored back = restore("sls:restore -o " + oid + " -d", Set.of(redis.pid())).get(redis.pid());
            assertEquals("the original PID was free", redis.pid(), back.pid());
            assertNotKarafChild(back.pid());
            redisCheck("after restore from " + backend, port);
            DetachedProgram.assertRunningUntraced(back.pid());

            DetachedProgram.killAndAwaitReaped(back.pid());
            executeCommand("sls:partdel -o " + oid);
            oid++;
        }
    }

    // ---- 2. python3 -----------------------------------------------------------------------------

    private record Progress(long step, long total) {
    }

    private static List<Progress> readProgress(Path file) throws IOException {
        List<Progress> lines = new ArrayList<>();
        if (!Files.exists(file)) {
            return lines;
        }
        Pattern p = Pattern.compile("step (\\d+) total (\\d+)");
        for (String line : Files.readAllLines(file)) {
            Matcher m = p.matcher(line);
            if (m.matches()) {
                lines.add(new Progress(Long.parseLong(m.group(1)), Long.parseLong(m.group(2))));
            }
        }
        return lines;
    }

    @Test
    public void pythonDictMutatorContinuesFromTheCheckpointAndItsCheckPassesOnBothBackends() throws Exception {
        assertTrue(PYTHON3 + " is not installed", Files.isExecutable(Path.of(PYTHON3)));
        Path script = DetachedProgram.nativeBuild().resolve("../tests/apps/dict_mutator.py").normalize();
        assertTrue(script + " is missing", Files.isRegularFile(script));
        long oid = 63;
        for (String backend : BACKENDS) {
            Path progress = workDir().resolve("python-" + backend + ".progress");
            Files.deleteIfExists(progress);
            DetachedProgram python = start("python-" + backend, PYTHON3, script.toString(), progress.toString());
            python.awaitOutput("READY");
            waitUntil("three progress lines in " + progress, () -> {
                try {
                    return readProgress(progress).size() >= 3;
                } catch (IOException e) {
                    throw new AssertionError(e);
                }
            });

            checkpoint(oid, backend, python.pid(), false);
            Thread.sleep(200); // the original's lost future: progress lines written after the checkpoint
            DetachedProgram.killAndAwaitReaped(python.pid());
            List<Progress> before = readProgress(progress);
            long lastBefore = before.get(before.size() - 1).step();

            Restored back = restore("sls:restore -o " + oid + " -d", Set.of(python.pid())).get(python.pid());
            assertNotKarafChild(back.pid());
            waitUntil("the restored interpreter to write progress past step " + lastBefore, () -> {
                try {
                    List<Progress> now = readProgress(progress);
                    return now.get(now.size() - 1).step() > lastBefore + 20_000;
                } catch (IOException e) {
                    throw new AssertionError(e);
                }
            });
            List<Progress> after = readProgress(progress);
            assertTrue("no progress lines after the restore", after.size() > before.size());
            // It continues from the checkpoint: its first line follows a step written before the kill.
            long first = after.get(before.size()).step();
            assertTrue("the restored interpreter's first progress is step " + first + ", not right after a step "
                    + "checkpointed before the kill (last before the kill: " + lastBefore + ")",
                    before.stream().anyMatch(p -> p.step() == first - 10_000));
            // Deterministic: a step written by the lost future and again by the restored one has one total.
            Map<Long, Long> totalBefore = new java.util.HashMap<>();
            before.forEach(p -> totalBefore.put(p.step(), p.total()));
            for (Progress a : after.subList(before.size(), after.size())) {
                Long b = totalBefore.get(a.step());
                if (b != null) {
                    assertEquals("total of step " + a.step() + " after restore vs before the kill", b.longValue(), a.total());
                }
            }
            DetachedProgram.signal(back.pid(), "USR1");
            waitUntil("a verdict from the restored dict_mutator", () -> python.outputText().contains("PASS dict_mutator")
                    || python.outputText().contains("FAIL dict_mutator"));
            assertFalse("the restored interpreter's own check failed:\n" + python.outputText(),
                    python.outputText().contains("FAIL"));

            DetachedProgram.killAndAwaitReaped(back.pid());
            executeCommand("sls:partdel -o " + oid);
            oid++;
        }
    }

    // ---- 3. app_workers (threads, mutex/condvar queue, unix socket, eventfd, timerfd) -----------

    private record WorkerStatus(long enqueued, long processed, long completions, String check) {
    }

    private static final Pattern WORKER_STATUS =
            Pattern.compile("enqueued=(\\d+) processed=(\\d+) completions=(\\d+) check=(\\S+)\\s*");

    /** Asks app_workers "status" on its unix socket. */
    private static WorkerStatus workerStatus(Path socket) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ch.write(ByteBuffer.wrap("status\n".getBytes(StandardCharsets.US_ASCII)));
            ByteBuffer reply = ByteBuffer.allocate(512);
            while (ch.read(reply) > 0) {
                // the server closes after one line
            }
            String line = new String(reply.array(), 0, reply.position(), StandardCharsets.US_ASCII);
            Matcher m = WORKER_STATUS.matcher(line);
            assertTrue("app_workers answered '" + line + "'", m.matches());
            return new WorkerStatus(Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), Long.parseLong(m.group(3)),
                    m.group(4));
        }
    }

    private static int threadCount(long pid) throws IOException {
        try (var tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            return (int) tasks.count();
        }
    }

    /** Checks a restored app_workers: it keeps processing from the checkpointed state and passes its check. */
    private static void assertWorkersContinue(String when, Path socket, WorkerStatus before, long pid) throws Exception {
        WorkerStatus after1 = workerStatus(socket);
        Thread.sleep(300);
        WorkerStatus after2 = workerStatus(socket);
        assertEquals(when + ": self-check right after restore", "PASS", after1.check());
        assertEquals(when + ": self-check later", "PASS", after2.check());
        assertTrue(when + ": enqueued went back from " + before.enqueued() + " to " + after1.enqueued(),
                after1.enqueued() >= before.enqueued());
        assertTrue(when + ": not processing: processed " + after1.processed() + " -> " + after2.processed()
                + ", enqueued " + after1.enqueued() + " -> " + after2.enqueued(),
                after2.processed() > after1.processed() && after2.enqueued() > after1.enqueued());
        assertTrue(when + ": eventfd completions did not advance (" + before.completions() + " -> " + after2.completions() + ")",
                after2.completions() > before.completions());
        assertEquals(when + ": threads of the restored process", 5, threadCount(pid));
    }

    private DetachedProgram startWorkers(String name, Path socket) throws Exception {
        DetachedProgram workers = start(name, DetachedProgram.testProgram("app_workers").toString(), socket.toString());
        workers.awaitOutput("READY");
        Thread.sleep(100);
        return workers;
    }

    @Test
    public void threadedWorkerServerKeepsProcessingAfterRestoreAndItsCheckPassesOnBothBackends() throws Exception {
        long oid = 65;
        for (String backend : BACKENDS) {
            Path socket = socketDir().resolve("status.sock");
            DetachedProgram workers = startWorkers("workers-" + backend, socket);
            WorkerStatus before = workerStatus(socket);
            assertEquals("self-check before the checkpoint", "PASS", before.check());
            assertTrue("nothing processed before the checkpoint", before.processed() > 0);

            checkpoint(oid, backend, workers.pid(), false);
            DetachedProgram.killAndAwaitReaped(workers.pid());
            Restored back = restore("sls:restore -o " + oid + " -d", Set.of(workers.pid())).get(workers.pid());
            assertEquals("the original PID was free", workers.pid(), back.pid());
            assertNotKarafChild(back.pid());
            assertWorkersContinue("after restore from " + backend, socket, before, back.pid());
            DetachedProgram.assertRunningUntraced(back.pid());

            DetachedProgram.killAndAwaitReaped(back.pid());
            executeCommand("sls:partdel -o " + oid);
            oid++;
        }
    }

    // ---- 4. app_prefork (parent + 2 workers sharing a TCP listener and a pipe) ------------------

    private static List<Long> children(long pid) throws IOException {
        List<Long> kids = new ArrayList<>();
        String text = Files.readString(Path.of("/proc", Long.toString(pid), "task", Long.toString(pid), "children")).trim();
        for (String s : text.split("\\s+")) {
            if (!s.isEmpty()) {
                kids.add(Long.parseLong(s));
            }
        }
        return kids;
    }

    private static void killGroup(long pgid) throws Exception {
        Process kill = new ProcessBuilder("kill", "-KILL", "--", "-" + pgid).redirectErrorStream(true).start();
        assertTrue(kill.waitFor(30, TimeUnit.SECONDS));
        assertEquals("kill -KILL -- -" + pgid + ": " + new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
                0, kill.exitValue());
    }

    private record WorkerAnswer(long pid, int served) {
    }

    private static final Pattern WORKER_ANSWER = Pattern.compile("worker (\\d+) n=(\\d+)");

    private static Socket connectTcp(int port) throws Exception {
        long deadline = System.currentTimeMillis() + 10_000;
        while (true) {
            Socket s = new Socket();
            try {
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 2_000);
                s.setSoTimeout(10_000);
                return s;
            } catch (IOException e) {
                s.close();
                if (System.currentTimeMillis() > deadline) {
                    throw new AssertionError("127.0.0.1:" + port + " does not accept connections: " + e.getMessage(), e);
                }
                Thread.sleep(20);
            }
        }
    }

    private static WorkerAnswer ask(Socket s) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write("hello\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        String line = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII)).readLine();
        Matcher m = WORKER_ANSWER.matcher(line == null ? "" : line);
        assertTrue("a prefork worker answered '" + line + "'", m.matches());
        return new WorkerAnswer(Long.parseLong(m.group(1)), Integer.parseInt(m.group(2)));
    }

    private static WorkerAnswer askOnce(int port) throws Exception {
        try (Socket s = connectTcp(port)) {
            return ask(s);
        }
    }

    @Test
    public void preforkingServerCheckpointedWithDescendantsIsRestoredAsATreeThatServesOnBothBackends() throws Exception {
        long oid = 67;
        for (String backend : BACKENDS) {
            DetachedProgram prefork = start("prefork-" + backend, DetachedProgram.testProgram("app_prefork").toString());
            prefork.awaitOutput("READY port=");
            Matcher ready = Pattern.compile("READY port=(\\d+)").matcher(prefork.outputText());
            assertTrue(ready.find());
            int port = Integer.parseInt(ready.group(1));
            List<Long> workers = children(prefork.pid());
            assertEquals("app_prefork's workers", 2, workers.size());
            processes.addAll(workers);
            for (int i = 0; i < 3; i++) {
                askOnce(port);
            }
            prefork.awaitOutput("PARENT total=3");

            checkpoint(oid, backend, prefork.pid(), true);
            killGroup(prefork.pid()); // setsid made the parent a group leader: parent and workers
            DetachedProgram.awaitGone(prefork.pid());
            for (long w : workers) {
                DetachedProgram.awaitGone(w);
            }

            Set<Long> tree = new HashSet<>(workers);
            tree.add(prefork.pid());
            Map<Long, Restored> restored = restore("sls:restore -o " + oid + " -d", tree);
            long parent = restored.get(prefork.pid()).pid();
            assertNotKarafChild(parent);
            Set<Long> restoredWorkers = new HashSet<>();
            for (long w : workers) {
                restoredWorkers.add(restored.get(w).pid());
                assertEquals("restored worker " + restored.get(w).pid() + " is not a child of the restored parent",
                        parent, DetachedProgram.parentPid(restored.get(w).pid()));
            }

            // Two connections at once: each worker accepts one and blocks reading it, so both answer.
            try (Socket s1 = connectTcp(port); Socket s2 = connectTcp(port)) {
                Thread.sleep(50);
                WorkerAnswer a1 = ask(s1);
                WorkerAnswer a2 = ask(s2);
                assertEquals("the answers must come from the two restored workers",
                        restoredWorkers, Set.of(a1.pid(), a2.pid()));
                assertEquals("worker counts after restore: 3 requests before the checkpoint + 2 now",
                        5, a1.served() + a2.served());
            }
            for (int i = 0; i < 10; i++) {
                askOnce(port);
            }
            prefork.awaitOutput("PARENT total=15");
            DetachedProgram.signal(parent, "USR1");
            prefork.awaitOutput("app_prefork workers=");
            assertFalse("the restored parent's check failed:\n" + prefork.outputText(),
                    prefork.outputText().contains("FAIL"));
            assertTrue(prefork.outputText(), prefork.outputText().contains("PASS app_prefork"));

            for (Restored r : restored.values()) {
                DetachedProgram.killAndAwaitReaped(r.pid());
            }
            executeCommand("sls:partdel -o " + oid);
            oid++;
        }
    }

    // ---- 5. restore into a busy machine -----------------------------------------------------------

    private static final Path NS_LAST_PID = Path.of("/proc/sys/kernel/ns_last_pid");

    /**
     * Takes {@code pid} with a sleeping process: sets ns_last_pid to pid - 1 and starts a process,
     * retrying since other processes on the machine (other builds) may fork in between.
     */
    private Process occupy(long pid) throws Exception {
        for (int attempt = 0; attempt < 200; attempt++) {
            Files.writeString(NS_LAST_PID, Long.toString(pid - 1));
            Process p = new ProcessBuilder("sleep", "600").redirectErrorStream(true).start();
            occupiers.add(p);
            if (p.pid() == pid) {
                return p;
            }
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        throw new AssertionError("could not make a process take pid " + pid + " in 200 attempts");
    }

    @Test
    public void restoreIntoABusyMachineTakesANewPidSaysSoAndTheProgramWorksOnBothBackends() throws Exception {
        long oid = 69;
        for (String backend : BACKENDS) {
            Path socket = socketDir().resolve("status.sock");
            DetachedProgram workers = startWorkers("busy-workers-" + backend, socket);
            WorkerStatus before = workerStatus(socket);
            assertEquals("self-check before the checkpoint", "PASS", before.check());

            checkpoint(oid, backend, workers.pid(), false);
            DetachedProgram.killAndAwaitReaped(workers.pid());
            Process occupier = occupy(workers.pid());

            Restored back = restore("sls:restore -o " + oid + " -d", Set.of(workers.pid())).get(workers.pid());
            assertNotEquals("pid " + workers.pid() + " is taken: the restore must use another", workers.pid(), back.pid());
            assertEquals("sls:restore must say the PID changed", " (new PID: " + workers.pid() + " was taken)", back.rest());
            assertTrue("the occupier of pid " + workers.pid() + " must be left alone", occupier.isAlive());
            assertNotKarafChild(back.pid());
            assertWorkersContinue("restored from " + backend + " under a new PID", socket, before, back.pid());
            DetachedProgram.assertRunningUntraced(back.pid());

            DetachedProgram.killAndAwaitReaped(back.pid());
            stop(occupier);
            occupier.waitFor(10, TimeUnit.SECONDS);
            executeCommand("sls:partdel -o " + oid);
            oid++;
        }
    }

    /**
     * After a restore under a new PID the partition must follow the restored process, not the
     * unrelated process that now owns the old PID (a next checkpoint would capture that one).
     */
    @Test
    public void restoreIntoABusyMachineLeavesThePartitionTrackingTheRestoredProcessNotTheNewOwnerOfTheOldPid()
            throws Exception {
        long oid = 71;
        Path socket = socketDir().resolve("status.sock");
        DetachedProgram workers = startWorkers("busy-tracking-workers", socket);
        checkpoint(oid, "memory", workers.pid(), false);
        DetachedProgram.killAndAwaitReaped(workers.pid());
        occupy(workers.pid());

        Restored back = restore("sls:restore -o " + oid + " -d", Set.of(workers.pid())).get(workers.pid());
        assertNotEquals(workers.pid(), back.pid());
        assertEquals("sls:partitions must list the restored process, not pid " + workers.pid()
                + " (now an unrelated sleep process)", Long.toString(back.pid()), partitionRow(oid).get(COL_PIDS));
    }
}
