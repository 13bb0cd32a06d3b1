package org.sls.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The distribution as an operator runs it, outside Pax Exam: unpacked from the tar.gz into a
 * directory of its own, started with {@code bin/start}, driven with {@code bin/client}, stopped with
 * {@code bin/stop}. karaf.data (and so SLS's state) is kept across a stop and start.
 */
final class UnpackedDistribution {

    private static final long START_TIMEOUT_MS = 180_000;
    private static final long STOP_TIMEOUT_MS = 60_000;
    private static final long SCRIPT_TIMEOUT_S = 60;

    /** What a script printed (stdout and stderr) and how it exited. */
    record ScriptRun(int exitCode, String output) {
    }

    private final Path base;
    private final Path home;

    private UnpackedDistribution(Path base, Path home) {
        this.base = base;
        this.home = home;
    }

    /**
     * Unpacks the archive named by {@code sls.dist.archive} into {@code sls.exam.dir/directoryName}
     * (emptied first), on free ports so it runs beside another SLS or Karaf on the default ports.
     */
    static UnpackedDistribution unpack(String directoryName) throws Exception {
        File archive = new File(System.getProperty("sls.dist.archive"));
        assertTrue("no distribution at " + archive, archive.isFile());
        Path base = Path.of(System.getProperty("sls.exam.dir"), directoryName);
        deleteRecursively(base);
        Files.createDirectories(base);
        ScriptRun untar = run(base, "tar", "xzf", archive.getAbsolutePath());
        assertEquals("tar: " + untar.output(), 0, untar.exitCode());
        Path home;
        try (var entries = Files.list(base)) {
            home = entries.filter(Files::isDirectory).findFirst().orElseThrow();
        }
        UnpackedDistribution dist = new UnpackedDistribution(base, home);
        dist.replaceInFile("etc/org.apache.karaf.shell.cfg", "sshPort = 8101", "sshPort = " + freePort());
        dist.replaceInFile("etc/org.apache.karaf.management.cfg", "rmiRegistryPort = 1099", "rmiRegistryPort = " + freePort());
        dist.replaceInFile("etc/org.apache.karaf.management.cfg", "rmiServerPort = 44444", "rmiServerPort = " + freePort());
        return dist;
    }

    /** The Karaf home (bin/, etc/, data/). */
    Path home() {
        return home;
    }

    /** A scratch directory beside the Karaf home, for test programs and their output. */
    Path scratch() {
        return base.resolve("scratch");
    }

    /** bin/start, then waits until SLS answers {@code sls:partitions} over bin/client. */
    void start() throws Exception {
        ScriptRun started = script("bin/start");
        assertEquals("bin/start: " + started.output(), 0, started.exitCode());
        long deadline = System.currentTimeMillis() + START_TIMEOUT_MS;
        ScriptRun last;
        do {
            Thread.sleep(2000);
            last = client("sls:partitions --no-format");
            if (last.exitCode() == 0) {
                return;
            }
        } while (System.currentTimeMillis() < deadline);
        fail("SLS did not answer sls:partitions within " + START_TIMEOUT_MS + " ms; last answer: " + last.output());
    }

    /** The PID of the running Karaf (karaf.pid). */
    long karafPid() throws IOException {
        return Long.parseLong(Files.readString(home.resolve("karaf.pid")).trim());
    }

    /** bin/stop, then waits until the Karaf JVM has exited. */
    void stop() throws Exception {
        long pid = karafPid();
        ScriptRun stopped = script("bin/stop");
        assertEquals("bin/stop: " + stopped.output(), 0, stopped.exitCode());
        ProcessHandle karaf = ProcessHandle.of(pid).orElse(null);
        if (karaf != null) {
            karaf.onExit().get(STOP_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        }
        assertFalse("Karaf still running after bin/stop", ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
    }

    /** For @After: stops Karaf if it runs, killing it if bin/stop does not end it in time. */
    void stopQuietly() throws Exception {
        if (!Files.exists(home.resolve("karaf.pid"))) {
            return;
        }
        script("bin/stop");
        ProcessHandle.of(karafPid()).ifPresent(karaf -> {
            karaf.onExit().orTimeout(STOP_TIMEOUT_MS, TimeUnit.MILLISECONDS).exceptionally(e -> {
                karaf.destroyForcibly();
                return null;
            }).join();
        });
    }

    /** Runs a shell command through bin/client and asserts it succeeded; returns what it printed. */
    String clientOk(String command) throws Exception {
        ScriptRun run = client(command);
        assertEquals("bin/client \"" + command + "\": " + run.output(), 0, run.exitCode());
        return run.output();
    }

    ScriptRun client(String command) throws Exception {
        return script("bin/client", command);
    }

    /** Runs one of the distribution's scripts as a cron job would: no terminal, standard input closed. */
    ScriptRun script(String script, String... args) throws Exception {
        String[] command = new String[args.length + 2];
        command[0] = "sh";
        command[1] = script;
        System.arraycopy(args, 0, command, 2, args.length);
        return run(home, command);
    }

    private static ScriptRun run(Path directory, String... command) throws Exception {
        ProcessBuilder builder = new ProcessBuilder(command)
                .directory(directory.toFile())
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        builder.environment().remove("KARAF_SCRIPT");
        Process process = builder.start();
        // bin/start leaves Karaf running with our pipe as its output; read only what the script printed.
        if (!process.waitFor(SCRIPT_TIMEOUT_S, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            fail(String.join(" ", command) + " did not finish within " + SCRIPT_TIMEOUT_S + " s");
        }
        byte[] output = process.getInputStream().available() > 0
                ? process.getInputStream().readNBytes(process.getInputStream().available()) : new byte[0];
        return new ScriptRun(process.exitValue(), new String(output, StandardCharsets.UTF_8).trim());
    }

    private void replaceInFile(String relative, String from, String to) throws IOException {
        Path file = home.resolve(relative);
        String text = Files.readString(file);
        assertTrue(relative + " does not contain '" + from + "'", text.contains(from));
        Files.writeString(file, text.replace(from, to));
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    private static void deleteRecursively(Path path) throws IOException {
        if (!Files.exists(path)) {
            return;
        }
        try (var paths = Files.walk(path)) {
            for (Path p : paths.sorted((a, b) -> b.compareTo(a)).toList()) {
                Files.delete(p);
            }
        }
    }
}
