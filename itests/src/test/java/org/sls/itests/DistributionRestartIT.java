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

import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * The distribution as an operator runs it, outside Pax Exam: unpacked from the tar.gz, started
 * with {@code bin/start}, driven with {@code bin/client}, stopped with {@code bin/stop} and started
 * again. Partitions and their processes must still be there: karaf.data is kept across restarts.
 */
public class DistributionRestartIT {

    private static final long START_TIMEOUT_MS = 180_000;
    private static final long STOP_TIMEOUT_MS = 60_000;
    private static final long SCRIPT_TIMEOUT_S = 60;

    private Path home;
    private Process sleeper;

    private record ScriptRun(int exitCode, String output) {
    }

    @Before
    public void unpackDistribution() throws Exception {
        File archive = new File(System.getProperty("sls.dist.archive"));
        assertTrue("no distribution at " + archive, archive.isFile());
        Path base = Path.of(System.getProperty("sls.exam.dir"), "restart");
        deleteRecursively(base);
        Files.createDirectories(base);
        ScriptRun untar = run(base, "tar", "xzf", archive.getAbsolutePath());
        assertEquals("tar: " + untar.output(), 0, untar.exitCode());
        try (var entries = Files.list(base)) {
            home = entries.filter(Files::isDirectory).findFirst().orElseThrow();
        }
        // Free ports, so the test runs beside another SLS or Karaf on the default ports.
        replaceInFile("etc/org.apache.karaf.shell.cfg", "sshPort = 8101", "sshPort = " + freePort());
        replaceInFile("etc/org.apache.karaf.management.cfg", "rmiRegistryPort = 1099", "rmiRegistryPort = " + freePort());
        replaceInFile("etc/org.apache.karaf.management.cfg", "rmiServerPort = 44444", "rmiServerPort = " + freePort());
        sleeper = new ProcessBuilder("sleep", "600").start();
    }

    @After
    public void stopDistribution() throws Exception {
        if (home != null && Files.exists(home.resolve("karaf.pid"))) {
            script("bin/stop");
            long pid = Long.parseLong(Files.readString(home.resolve("karaf.pid")).trim());
            ProcessHandle.of(pid).ifPresent(karaf -> {
                karaf.onExit().orTimeout(STOP_TIMEOUT_MS, TimeUnit.MILLISECONDS).exceptionally(e -> {
                    karaf.destroyForcibly();
                    return null;
                }).join();
            });
        }
        if (sleeper != null) {
            sleeper.destroyForcibly();
        }
    }

    @Test
    public void partitionsAndTheirProcessesSurviveAStopAndStartOfTheDistribution() throws Exception {
        start();
        assertClientOk("sls:partadd -o 31 -b slos -d -t 500");
        assertClientOk("sls:partadd -o 32 -b memory");
        assertClientOk("sls:attach -o 32 -p " + sleeper.pid());
        String before = client("sls:partitions --no-format").output();
        assertTrue("partition 31 not listed: " + before, before.contains("31"));
        assertTrue("process not listed: " + before, before.contains(Long.toString(sleeper.pid())));

        stop();
        assertTrue("SLS state must be under karaf.data", Files.isDirectory(home.resolve("data/sls")));
        start();

        assertEquals("sls:partitions after the restart", before, client("sls:partitions --no-format").output());
        ScriptRun duplicate = client("sls:partadd -o 31 -b slos");
        assertEquals("partition 31 must still exist: " + duplicate.output(), 1, duplicate.exitCode());
        assertTrue(duplicate.output(), duplicate.output().contains("partition 31 already exists"));
    }

    private void start() throws Exception {
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

    private void stop() throws Exception {
        long pid = Long.parseLong(Files.readString(home.resolve("karaf.pid")).trim());
        ScriptRun stopped = script("bin/stop");
        assertEquals("bin/stop: " + stopped.output(), 0, stopped.exitCode());
        ProcessHandle karaf = ProcessHandle.of(pid).orElse(null);
        if (karaf != null) {
            karaf.onExit().get(STOP_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        }
        assertFalse("Karaf still running after bin/stop", ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
    }

    private void assertClientOk(String command) throws Exception {
        ScriptRun run = client(command);
        assertEquals("bin/client \"" + command + "\": " + run.output(), 0, run.exitCode());
    }

    private ScriptRun client(String command) throws Exception {
        return script("bin/client", command);
    }

    /** Runs one of the distribution's scripts as a cron job would: no terminal, standard input closed. */
    private ScriptRun script(String script, String... args) throws Exception {
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
