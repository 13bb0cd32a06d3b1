package org.sls.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A native test program (native/build/tests/prog/*) started the way an operator's program runs: in
 * its own session, not a child of the JVM that drives SLS. The engine refuses to capture children of
 * the Karaf JVM (the JDK's process reaper would steal their ptrace stops), so every program is started
 * through {@code setsid --fork} and its PID is read from a file the shell writes before it execs.
 * Its standard output and error are appended to {@link #output()}.
 */
final class DetachedProgram {

    private static final long TIMEOUT_MS = 30_000;

    private final long pid;
    private final Path output;

    private DetachedProgram(long pid, Path output) {
        this.pid = pid;
        this.output = output;
    }

    /** The directory of the native build, from the {@code sls.native.build} property set in itests/pom.xml. */
    static Path nativeBuild() {
        String dir = System.getProperty("sls.native.build");
        if (dir == null || dir.isEmpty()) {
            throw new IllegalStateException("system property sls.native.build is not set (Failsafe sets it in itests/pom.xml)");
        }
        return Path.of(dir);
    }

    /** A test program by name, e.g. "rst_counter"; fails if the native module has not built it. */
    static Path testProgram(String name) {
        Path program = nativeBuild().resolve("tests/prog").resolve(name);
        if (!Files.isExecutable(program)) {
            throw new IllegalStateException("test program " + program + " is missing: build native/ (make) first");
        }
        return program;
    }

    /**
     * Starts {@code command} detached, in directory {@code workDir}, with stdout and stderr appended
     * (O_APPEND, so a restored copy writing to the same file never overwrites the original's lines)
     * to {@code workDir/name.out}. The environment gets {@code extraEnv} on top of this JVM's.
     */
    static DetachedProgram start(Path workDir, String name, Map<String, String> extraEnv, String... command)
            throws IOException, InterruptedException {
        Files.createDirectories(workDir);
        Path pidFile = workDir.resolve(name + ".pid");
        Path output = workDir.resolve(name + ".out");
        Files.deleteIfExists(pidFile);
        Files.deleteIfExists(output);
        StringBuilder exec = new StringBuilder("echo $$ > \"$0\"; exec");
        for (int i = 0; i < command.length; i++) {
            exec.append(" \"${").append(i + 1).append("}\""); // ${10}, not $10 (= $1 then "0")
        }
        exec.append(" >> \"").append(output).append("\" 2>&1 < /dev/null");
        List<String> argv = new ArrayList<>(List.of("setsid", "--fork", "sh", "-c", exec.toString(), pidFile.toString()));
        argv.addAll(List.of(command));
        ProcessBuilder builder = new ProcessBuilder(argv).directory(workDir.toFile())
                .redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        builder.environment().putAll(extraEnv);
        Process launcher = builder.start();
        assertTrue("setsid did not return", launcher.waitFor(TIMEOUT_MS, TimeUnit.MILLISECONDS));
        String launcherOutput = new String(launcher.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals("setsid --fork " + String.join(" ", command) + ": " + launcherOutput, 0, launcher.exitValue());
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        while (true) {
            if (Files.exists(pidFile)) {
                String text = Files.readString(pidFile).trim();
                if (!text.isEmpty()) {
                    return new DetachedProgram(Long.parseLong(text), output);
                }
            }
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError(name + " did not write its pid file " + pidFile);
            }
            Thread.sleep(20);
        }
    }

    long pid() {
        return pid;
    }

    Path output() {
        return output;
    }

    String outputText() {
        try {
            return Files.exists(output) ? Files.readString(output) : "";
        } catch (IOException e) {
            throw new AssertionError("cannot read " + output + ": " + e.getMessage(), e);
        }
    }

    /** Waits until the program's output contains {@code text}; fails with the whole output otherwise. */
    void awaitOutput(String text) throws InterruptedException {
        awaitOutput(text, 1);
    }

    /** Waits until {@code text} occurs at least {@code times} times in the output. */
    void awaitOutput(String text, int times) throws InterruptedException {
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        while (occurrences(outputText(), text) < times) {
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("expected '" + text + "' " + times + " time(s) in " + output
                        + " within " + TIMEOUT_MS + " ms; it holds:\n" + outputText());
            }
            Thread.sleep(50);
        }
    }

    static int occurrences(String haystack, String needle) {
        int count = 0;
        for (int at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + 1)) {
            count++;
        }
        return count;
    }

    /** Sends a signal by number (e.g. 12 for SIGUSR2) to any process, with kill(1). */
    static void signal(long pid, String signal) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).redirectErrorStream(true).start();
        assertTrue(kill.waitFor(TIMEOUT_MS, TimeUnit.MILLISECONDS));
        assertEquals("kill -" + signal + " " + pid + ": "
                + new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8), 0, kill.exitValue());
    }

    /**
     * SIGKILLs a process and waits until its /proc entry is gone (it is reaped by PID 1 or a
     * subreaper, which may take a moment), so that a restore can take the same PID again.
     */
    static void killAndAwaitReaped(long pid) throws IOException, InterruptedException {
        if (Files.exists(Path.of("/proc", Long.toString(pid)))) {
            signal(pid, "KILL");
        }
        awaitGone(pid);
    }

    static void awaitGone(long pid) throws InterruptedException {
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        while (Files.exists(Path.of("/proc", Long.toString(pid)))) {
            if (System.currentTimeMillis() > deadline) {
                throw new AssertionError("process " + pid + " still exists " + TIMEOUT_MS + " ms after SIGKILL");
            }
            Thread.sleep(20);
        }
    }

    /** Kills the process if it still runs; for @After, where a failed test may have left it behind. */
    static void killQuietly(long pid) {
        try {
            if (pid > 0 && Files.exists(Path.of("/proc", Long.toString(pid)))) {
                new ProcessBuilder("kill", "-KILL", Long.toString(pid)).start().waitFor(TIMEOUT_MS, TimeUnit.MILLISECONDS);
            }
        } catch (IOException e) {
            // Nothing more to do in cleanup; the test itself reports what went wrong.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A field of /proc/PID/status, e.g. "State" or "TracerPid", without its label. */
    static String status(long pid, String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith(field + ":")) {
                return line.substring(field.length() + 1).trim();
            }
        }
        throw new AssertionError("/proc/" + pid + "/status has no " + field + " line");
    }

    /** The parent PID, from /proc/PID/stat (the field after the parenthesised command name). */
    static long parentPid(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        String afterName = stat.substring(stat.lastIndexOf(')') + 2);
        return Long.parseLong(afterName.split(" ")[1]);
    }

    /** Asserts the process runs freely: not stopped (State T/t) and not traced (TracerPid 0). */
    static void assertRunningUntraced(long pid) throws IOException {
        String state = status(pid, "State");
        assertTrue("process " + pid + " is stopped after the operation: State " + state,
                !state.startsWith("T") && !state.startsWith("t"));
        assertEquals("process " + pid + " is still traced", "0", status(pid, "TracerPid"));
    }
}
