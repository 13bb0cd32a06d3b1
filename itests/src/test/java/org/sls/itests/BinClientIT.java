package org.sls.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.After;
import org.junit.Test;

/**
 * Scripts drive SLS through the distribution's own {@code bin/client}: it must log in without
 * asking for anything, work with no standard input, print the command's output, and exit non-zero
 * with one readable line when the command fails.
 */
public class BinClientIT extends SlsTestSupport {

    private static final long CLIENT_TIMEOUT_S = 60;

    private record ClientRun(int exitCode, String output) {
    }

    @After
    public void removePartitions() {
        for (List<String> row : partitionRows()) {
            if (row.get(0).matches("\\d+")) {
                executeCommand("sls:partdel -o " + row.get(0));
            }
        }
    }

    /** Runs {@code bin/client <command>} of this container with standard input at end of file, as cron or CI would. */
    private ClientRun client(String command) throws IOException, InterruptedException {
        File home = new File(System.getProperty("karaf.home"));
        ProcessBuilder builder = new ProcessBuilder("sh", new File(home, "bin/client").getPath(), command)
                .directory(home)
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        // As root's cron would: no JAVA_HOME (bin/setenv finds java on the PATH), no inherited script name.
        builder.environment().remove("JAVA_HOME");
        builder.environment().remove("KARAF_SCRIPT");
        Process process = builder.start();
        byte[] output = process.getInputStream().readAllBytes();
        if (!process.waitFor(CLIENT_TIMEOUT_S, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("bin/client \"" + command + "\" did not exit within " + CLIENT_TIMEOUT_S + " s");
        }
        return new ClientRun(process.exitValue(), withoutAnsi(new String(output, StandardCharsets.UTF_8)));
    }

    private static String withoutAnsi(String s) {
        return s.replaceAll("\u001B\\[[0-9;]*m", "");
    }

    /** What the client printed; nothing but the command's own output may appear. */
    private static String commandOutput(ClientRun run) {
        return run.output().trim();
    }

    @Test
    public void clientRunsACommandWithoutCredentialsOrInput() throws Exception {
        ClientRun run = client("sls:partadd -o 21 -b memory");
        assertEquals("exit code, output: " + run.output(), 0, run.exitCode());
        assertEquals("Partition 21 created (backend memory, full, period on demand)", commandOutput(run));

        ClientRun list = client("sls:partitions --no-format");
        assertEquals("exit code, output: " + list.output(), 0, list.exitCode());
        String[] cells = commandOutput(list).split("\t");
        assertTrue("partition 21 not listed: " + list.output(), cells.length > COL_MODE
                && cells[0].trim().equals("21") && cells[COL_BACKEND].trim().equals("memory")
                && cells[COL_MODE].trim().equals("full"));
    }

    @Test
    public void clientExitsNonZeroWithOneLineWhenTheCommandFails() throws Exception {
        executeCommand("sls:partadd -o 22 -b memory");
        ClientRun duplicate = client("sls:partadd -o 22 -b memory");
        assertEquals("exit code, output: " + duplicate.output(), 1, duplicate.exitCode());
        String line = commandOutput(duplicate);
        assertTrue("not the core's message: " + line, line.endsWith("partition 22 already exists"));
        assertFalse("more than one line: " + line, line.contains("\n"));

        ClientRun badNumber = client("sls:partadd -o abc -b memory");
        assertEquals("exit code, output: " + badNumber.output(), 1, badNumber.exitCode());
        assertFalse("more than one line: " + badNumber.output(), commandOutput(badNumber).contains("\n"));

        ClientRun unknownCommand = client("sls:nosuchcommand");
        assertEquals("exit code, output: " + unknownCommand.output(), 1, unknownCommand.exitCode());
    }
}
