package org.sls.nativeengine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sls.api.SlsException;
import org.sls.api.engine.CaptureResult;
import org.sls.api.engine.CaptureSpec;
import org.sls.api.engine.DirtyTracking;
import org.sls.api.image.MemoryRegion;
import org.sls.api.image.ProcessImage;

/**
 * Loads the real libslsnative.so from native/build and captures native/build/tests/prog/cap_state,
 * a program with known state (this machine runs the tests as root). The program is started detached
 * (not a child of this JVM, see NativeCheckpointEngine) and driven through a FIFO on its stdin.
 */
class NativeCaptureTest {

    private static final Path BUILD = Path.of(System.getProperty("sls.native.build", "../../native/build"));

    @TempDir
    Path tmp;

    private NativeCheckpointEngine engine;
    private long pid;
    private OutputStream stdin;
    private Path stdout;
    private Map<String, String> ready;

    @BeforeEach
    void startProgram() throws Exception {
        Path lib = BUILD.resolve("libslsnative.so");
        Path prog = BUILD.resolve("tests/prog/cap_state");
        assertTrue(Files.isRegularFile(lib), "build the native module first: no " + lib.toAbsolutePath());
        assertTrue(Files.isExecutable(prog), "build the native module first: no " + prog.toAbsolutePath());
        SlsNativeLibrary native_ = SlsNativeLibrary.load(lib);
        assertEquals(SlsNativeLibrary.SLS_ABI_VERSION, native_.sls_abi_version());
        engine = new NativeCheckpointEngine(native_, NativeCheckpointEngine.probe(native_), null);

        Path fifo = tmp.resolve("stdin");
        stdout = tmp.resolve("stdout");
        run("mkfifo", fifo.toString());
        // stdout first: the background shell blocks opening the FIFO and must not hold our pipe then
        Process sh = new ProcessBuilder("sh", "-c", "\"$0\" > \"$2\" 2>&1 < \"$1\" & echo $!",
                prog.toAbsolutePath().toString(), fifo.toString(), stdout.toString()).start();
        String pidLine = new java.io.BufferedReader(new java.io.InputStreamReader(sh.getInputStream(),
                StandardCharsets.UTF_8)).readLine().trim();
        sh.waitFor(5, TimeUnit.SECONDS);
        pid = Long.parseLong(pidLine);
        stdin = Files.newOutputStream(fifo); // opens once the program opened its end
        ready = parseReady(awaitLine("READY"));
    }

    @AfterEach
    void stopProgram() throws IOException {
        if (stdin != null) {
            stdin.close();
        }
        if (pid > 0) { // never 0: kill(0) would hit this JVM's whole process group
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    @Test
    void captureReportsTheProcessAndLeavesItRunningCorrectly() throws Exception {
        Path pages = tmp.resolve("pages");
        CaptureResult result = engine.capture(new CaptureSpec(List.of((int) pid), false, pages));

        assertEquals(1, result.image().processes().size());
        ProcessImage p = result.image().processes().get(0);
        assertEquals(pid, p.pid());
        assertEquals("cap_state", p.comm());
        assertTrue(p.exe().endsWith("/cap_state"), p.exe());
        assertEquals(3, p.threads());
        long anon = Long.decode(ready.get("anon"));
        MemoryRegion region = p.regions().stream().filter(r -> r.start() <= anon && anon < r.end())
                .findFirst().orElseThrow(() -> new AssertionError("no region holds the mapping at " + ready.get("anon")));
        assertEquals("rw-p", region.perms());
        assertTrue(p.pageRuns().stream().anyMatch(r -> r.address() <= anon && anon < r.address() + r.length()),
                "the written page at " + ready.get("anon") + " is in no page run");
        assertTrue(result.pageBytes() > 0);
        assertEquals(result.pageBytes(), p.pageBytes());
        assertEquals(result.pageBytes(), Files.size(pages));
        assertTrue(result.stopNanos() > 0);
        assertTrue(p.files().stream().anyMatch(f -> f.fd() == Integer.parseInt(ready.get("piper"))
                && f.type().equals("pipe")), p.files().toString());
        try (var images = Files.list(tmp)) {
            assertEquals(List.of(), images.filter(f -> f.toString().endsWith(".img")).toList(),
                    "the temporary image file was not deleted");
        }

        assertRunningAndUntraced();
        stdin.write("q\n".getBytes(StandardCharsets.UTF_8));
        stdin.flush();
        assertEquals("PASS", awaitLine("PASS", "FAIL"));
    }

    @Test
    void deltaCapturesAreCompleteFirstThenOnlyTheWrittenPagesUntilTrackingIsForgotten() throws Exception {
        assertTrue(engine.kernelFeatures().containsKey("dirty_tracking"), engine.kernelFeatures().toString());
        List<Integer> pids = List.of((int) pid);
        CaptureResult first = engine.capture(new CaptureSpec(pids, false, tmp.resolve("p0"), DirtyTracking.AUTO));
        assertEquals(false, first.delta(), "nothing tracked this process before: a complete image");
        assertTrue(engine.trackingOf((int) pid).isPresent(), "the engine keeps a tracker after the first epoch");
        CaptureResult second = engine.capture(new CaptureSpec(pids, false, tmp.resolve("p1"), DirtyTracking.AUTO));
        assertEquals(true, second.delta());
        assertTrue(second.pageBytes() < first.pageBytes() / 4,
                "an idle process's delta holds " + second.pageBytes() + " of " + first.pageBytes() + " bytes");
        assertEquals(second.pageBytes(), Files.size(tmp.resolve("p1")));
        assertRunningAndUntraced();

        engine.forgetTracking(pids);
        assertTrue(engine.trackingOf((int) pid).isEmpty());
        CaptureResult third = engine.capture(new CaptureSpec(pids, false, tmp.resolve("p2"), DirtyTracking.AUTO));
        assertEquals(false, third.delta(), "after forgetting, the next epoch is complete again");
        engine.forgetTracking(pids);

        stdin.write("q\n".getBytes(StandardCharsets.UTF_8));
        stdin.flush();
        assertEquals("PASS", awaitLine("PASS", "FAIL"), "the program's self-check after three tracked epochs");
    }

    @Test
    void failedCaptureIsOneLineNamingThePidAndTheProcessRunsOn() throws Exception {
        Path pages = tmp.resolve("pages");
        int self = (int) ProcessHandle.current().pid();
        SlsException e = org.junit.jupiter.api.Assertions.assertThrows(SlsException.class,
                () -> engine.capture(new CaptureSpec(List.of((int) pid, self), false, pages)));
        assertEquals("pid " + self + " is the engine's own process (the caller cannot checkpoint itself)",
                e.getMessage());
        assertTrue(Files.notExists(pages), "page file left behind after a failed capture");
        assertRunningAndUntraced();
        stdin.write("q\n".getBytes(StandardCharsets.UTF_8));
        stdin.flush();
        assertEquals("PASS", awaitLine("PASS", "FAIL"));
    }

    /** The capture runs boosted (nice -15) through the image read; the scheduler thread must not keep it. */
    @Test
    void captureAndFailedCaptureLeaveTheCallingThreadsNiceAsTheyFoundIt() throws Exception {
        long before = threadNice();
        engine.capture(new CaptureSpec(List.of((int) pid), false, tmp.resolve("p")));
        assertEquals(before, threadNice(), "nice after a capture");
        int self = (int) ProcessHandle.current().pid();
        org.junit.jupiter.api.Assertions.assertThrows(SlsException.class,
                () -> engine.capture(new CaptureSpec(List.of((int) pid, self), false, tmp.resolve("q"))));
        assertEquals(before, threadNice(), "nice after a failed capture");
        assertRunningAndUntraced();
    }

    /** Field 19 of /proc/thread-self/stat: the calling thread's nice value. */
    private static long threadNice() throws Exception {
        String stat = Files.readString(Path.of("/proc/thread-self/stat"));
        String[] after = stat.substring(stat.lastIndexOf(')') + 1).trim().split("\\s+");
        return Long.parseLong(after[19 - 3]);
    }

    @Test
    void childOfThisJvmIsRefusedBeforeAnythingIsFrozen() throws Exception {
        Process child = new ProcessBuilder("sleep", "30").start();
        try {
            SlsException e = org.junit.jupiter.api.Assertions.assertThrows(SlsException.class,
                    () -> engine.capture(new CaptureSpec(List.of((int) child.pid()), false, tmp.resolve("p"))));
            assertEquals("pid " + child.pid() + " is a child of the SLS JVM itself and cannot be frozen "
                    + "(the JVM reaps its children's stop events); start it detached", e.getMessage());
            assertTrue(child.isAlive());
        } finally {
            child.destroyForcibly();
        }
    }

    private void assertRunningAndUntraced() throws IOException {
        try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path t : tasks.toList()) {
                String status = Files.readString(t.resolve("status"));
                String state = line(status, "State:");
                assertTrue(!state.startsWith("T") && !state.startsWith("t"), t + " is " + state);
                assertEquals("0", line(status, "TracerPid:"), t + " is still traced");
            }
        }
    }

    private static String line(String status, String key) {
        return status.lines().filter(l -> l.startsWith(key)).map(l -> l.substring(key.length()).trim())
                .findFirst().orElse("");
    }

    private String awaitLine(String... prefixes) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            for (String l : Files.readAllLines(stdout)) {
                for (String prefix : prefixes) {
                    if (l.startsWith(prefix)) {
                        return l;
                    }
                }
            }
            Thread.sleep(10);
        }
        fail("cap_state printed none of " + List.of(prefixes) + ": " + Files.readString(stdout));
        return null;
    }

    private static Map<String, String> parseReady(String line) {
        Map<String, String> m = new HashMap<>();
        for (String kv : line.split(" ")) {
            int eq = kv.indexOf('=');
            if (eq > 0) {
                m.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
        }
        return m;
    }

    private static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        assertEquals(0, p.waitFor(), String.join(" ", cmd));
    }
}
