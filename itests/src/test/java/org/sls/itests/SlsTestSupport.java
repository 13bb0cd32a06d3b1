package org.sls.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.configureConsole;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.editConfigurationFilePut;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.karafDistributionConfiguration;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.keepRuntimeFolder;
import static org.ops4j.pax.exam.karaf.options.KarafDistributionOption.logLevel;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.security.PrivilegedExceptionAction;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;

import javax.inject.Inject;
import javax.security.auth.Subject;

import org.apache.karaf.features.BootFinished;
import org.apache.karaf.jaas.boot.principal.RolePrincipal;
import org.apache.karaf.shell.api.console.Session;
import org.apache.karaf.shell.api.console.SessionFactory;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.karaf.options.LogLevelOption.LogLevel;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.ops4j.pax.exam.util.Filter;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceReference;
import org.osgi.util.tracker.ServiceTracker;

/**
 * Boots the real SLS distribution (the tar.gz the reactor just built) once per test class and gives
 * the tests the Karaf shell, as an operator would use it. Modelled on Karaf's own KarafTestSupport.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public abstract class SlsTestSupport {

    static final long COMMAND_TIMEOUT_MS = 30_000;
    static final long SERVICE_TIMEOUT_MS = 60_000;
    static final long CONDITION_TIMEOUT_MS = 30_000;

    /** Commands run as an administrator, as they would over bin/client with the dist's karaf user. */
    private static final RolePrincipal[] ADMIN_ROLES = {
        new RolePrincipal("admin"), new RolePrincipal("manager"), new RolePrincipal("viewer"),
        new RolePrincipal("systembundles"), new RolePrincipal("ssh")
    };

    @Inject
    protected BundleContext bundleContext;

    @Inject
    protected SessionFactory sessionFactory;

    /** Injection waits until Karaf has installed every boot feature (sls and sls-backend-slos among them). */
    @Inject
    @Filter(timeout = 120_000)
    protected BootFinished bootFinished;

    @Configuration
    public Option[] config() throws IOException {
        String archive = requiredProperty("sls.dist.archive");
        File distribution = new File(archive);
        if (!distribution.isFile()) {
            throw new IllegalStateException("SLS distribution " + distribution
                    + " not found: build karaf-dist first (mvn verify from the repository root does)");
        }
        String sshPort = Integer.toString(freePort());
        String rmiRegistryPort = Integer.toString(freePort());
        String rmiServerPort = Integer.toString(freePort());
        // -Dsls.exam.keep=true keeps each container's directory (data/log/karaf.log, the programs' output) for a post-mortem.
        Option keep = Boolean.getBoolean("sls.exam.keep") ? keepRuntimeFolder() : new org.ops4j.pax.exam.options.DefaultCompositeOption();
        return new Option[] {
            keep,
            karafDistributionConfiguration()
                .frameworkUrl(distribution.toURI().toString())
                .name("SLS")
                .unpackDirectory(new File(requiredProperty("sls.exam.dir")))
                .useDeployFolder(false),
            configureConsole().ignoreLocalConsole(),
            logLevel(LogLevel.WARN),
            editConfigurationFilePut("etc/org.apache.karaf.shell.cfg", "sshPort", sshPort),
            editConfigurationFilePut("etc/org.apache.karaf.management.cfg", "rmiRegistryPort", rmiRegistryPort),
            editConfigurationFilePut("etc/org.apache.karaf.management.cfg", "rmiServerPort", rmiServerPort),
            // The tests run inside the container: hand them where the native test programs are.
            systemProperty("sls.native.build").value(requiredProperty("sls.native.build")),
        };
    }

    private static String requiredProperty(String name) {
        String value = System.getProperty(name);
        if (value == null || value.isEmpty()) {
            throw new IllegalStateException("system property " + name + " is not set (Failsafe sets it in itests/pom.xml)");
        }
        return value;
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        }
    }

    /** Runs a shell command and returns what it printed; fails the test if the command throws. */
    protected String executeCommand(String command) {
        try {
            return run(command);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw new AssertionError("'" + command + "' failed: " + cause, cause);
        }
    }

    /**
     * Runs a shell command that must fail and returns the message of what it threw (the line the
     * operator sees). Fails the test if the command succeeds.
     */
    protected String executeFailingCommand(String command) {
        String output;
        try {
            output = run(command);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            assertNotNull("'" + command + "' threw an exception without a message", cause.getMessage());
            return cause.getMessage();
        }
        throw new AssertionError("'" + command + "' was expected to fail but printed: " + output);
    }

    private String run(String command) throws ExecutionException {
        waitForCommand(command);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        Session session = sessionFactory.create(System.in, out, out);
        FutureTask<String> task = new FutureTask<>(() -> {
            Subject admin = new Subject();
            admin.getPrincipals().addAll(Arrays.asList(ADMIN_ROLES));
            return Subject.doAs(admin, (PrivilegedExceptionAction<String>) () -> {
                Object result = session.execute(command);
                if (result != null) {
                    session.getConsole().println(result.toString());
                }
                out.flush();
                return bytes.toString(StandardCharsets.UTF_8);
            });
        });
        Thread runner = new Thread(task, "itest: " + command);
        runner.start();
        try {
            return task.get(COMMAND_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while running '" + command + "'", e);
        } catch (TimeoutException e) {
            runner.interrupt();
            throw new AssertionError("'" + command + "' did not finish within " + COMMAND_TIMEOUT_MS + " ms");
        } catch (ExecutionException e) {
            // Subject.doAs wraps checked exceptions; show the command's own exception.
            Throwable cause = e.getCause();
            if (cause instanceof java.security.PrivilegedActionException && cause.getCause() != null) {
                throw new ExecutionException(cause.getCause());
            }
            throw e;
        } finally {
            session.close();
        }
    }

    /** Commands register asynchronously once their services are there; wait for the one we need. */
    private void waitForCommand(String command) {
        String name = command.trim().split("\\s+", 2)[0];
        int colon = name.indexOf(':');
        if (colon < 0) {
            return;
        }
        String scope = name.substring(0, colon);
        String function = name.substring(colon + 1);
        waitUntil("command " + name + " to be registered",
                () -> sessionFactory.getRegistry().getCommand(scope, function) != null);
    }

    /**
     * Waits for a service and returns it. The probe keeps it (no ungetService): a service factory
     * such as ConfigurationAdmin would otherwise hand out an object that is already released.
     */
    protected <T> T getOsgiService(Class<T> type) {
        ServiceTracker<T, T> tracker = new ServiceTracker<>(bundleContext, type, null);
        tracker.open();
        try {
            if (tracker.waitForService(SERVICE_TIMEOUT_MS) == null) {
                throw new AssertionError("no " + type.getName() + " service within " + SERVICE_TIMEOUT_MS + " ms");
            }
            ServiceReference<T> reference = tracker.getServiceReference();
            T service = bundleContext.getService(reference);
            if (service == null) {
                throw new AssertionError(type.getName() + " service went away while it was being fetched");
            }
            return service;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while waiting for " + type.getName(), e);
        } finally {
            tracker.close();
        }
    }

    protected Bundle bundle(String symbolicName) {
        for (Bundle b : bundleContext.getBundles()) {
            if (symbolicName.equals(b.getSymbolicName())) {
                return b;
            }
        }
        throw new AssertionError("bundle " + symbolicName + " is not installed");
    }

    /**
     * Polls until the condition holds. A condition that throws (a command not registered again
     * yet after a bundle restart, a service being replaced) counts as "not yet"; its last error
     * is reported if time runs out.
     */
    protected static void waitUntil(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CONDITION_TIMEOUT_MS);
        Throwable lastError = null;
        while (true) {
            try {
                if (condition.getAsBoolean()) {
                    return;
                }
            } catch (RuntimeException | AssertionError e) {
                lastError = e;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + CONDITION_TIMEOUT_MS + " ms waiting for " + what
                        + (lastError == null ? "" : "; last error: " + lastError.getMessage()), lastError);
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting for " + what, e);
            }
        }
    }

    private static final java.util.regex.Pattern RESTORED =
            java.util.regex.Pattern.compile("Restored pid (\\d+) as pid (\\d+)(.*)");

    /** One "Restored pid X as pid Y[ (new PID: ...)]" line of sls:restore; {@code rest} is what follows Y. */
    protected record Restored(long originalPid, long pid, String rest) {
    }

    /**
     * Runs a sls:restore and returns its "Restored pid X as pid Y" lines, at least one (scripts read
     * the restored PIDs from them). The caller kills the restored processes after the test.
     */
    protected List<Restored> restoreLines(String command) {
        String output = executeCommand(command);
        List<Restored> restored = new ArrayList<>();
        for (String line : output.split("\\R")) {
            java.util.regex.Matcher m = RESTORED.matcher(line.trim());
            if (m.matches()) {
                restored.add(new Restored(Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), m.group(3)));
            }
        }
        if (restored.isEmpty()) {
            throw new AssertionError("'" + command + "' printed no 'Restored pid X as pid Y' line: " + output);
        }
        return restored;
    }

    /** Rows of sls:listsnaps --no-format: Epoch, Time, Mode, Parent, Processes, Pages, Stored, Stop time. */
    protected List<String[]> snapshots(long oid) {
        List<String[]> rows = new ArrayList<>();
        for (String line : executeCommand("sls:listsnaps -o " + oid + " --no-format").split("\\R")) {
            if (!line.isBlank() && line.trim().matches("\\d+\\t.*")) {
                String[] cells = line.split("\t");
                for (int i = 0; i < cells.length; i++) {
                    cells[i] = cells[i].trim();
                }
                rows.add(cells);
            }
        }
        return rows;
    }

    /** The rows of {@code sls:partitions --no-format}, each split into its tab-separated cells. */
    protected List<List<String>> partitionRows() {
        List<List<String>> rows = new ArrayList<>();
        String[] lines = executeCommand("sls:partitions --no-format").split("\\R");
        for (String line : lines) {
            if (line.isBlank()) {
                continue;
            }
            List<String> cells = new ArrayList<>();
            for (String cell : line.split("\t")) {
                cells.add(cell.trim());
            }
            rows.add(cells);
        }
        return rows;
    }

    /** The row of one partition in {@code sls:partitions --no-format}, or null if it is not listed. */
    protected List<String> partitionRow(long oid) {
        for (List<String> row : partitionRows()) {
            if (row.get(0).equals(Long.toString(oid))) {
                return row;
            }
        }
        return null;
    }

    /** Column index in {@code sls:partitions}: OID, Backend, Mode, Period, State, PIDs, Epochs, ... */
    protected static final int COL_BACKEND = 1;
    protected static final int COL_MODE = 2;
    protected static final int COL_PERIOD = 3;
    protected static final int COL_STATE = 4;
    protected static final int COL_PIDS = 5;
    protected static final int COL_EPOCHS = 6;
    protected static final int COL_LAST_ERROR = 9;

    /** An error the operator sees must be one line naming the problem, never a stack trace. */
    protected static void assertOneLine(String message) {
        assertFalse("error message spans several lines: " + message, message.contains("\n"));
        assertFalse("error message looks like a stack trace: " + message, message.contains("\tat "));
        assertFalse("error message names a Java exception class: " + message,
                message.matches(".*\\b(java|org)\\.[a-z]+\\.[A-Za-z.]*Exception.*"));
    }

    /** A process owned by the test (a sleeping child of the Karaf JVM) to attach to partitions. */
    protected static Process startSleeper() {
        try {
            return new ProcessBuilder("sleep", "600").redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new AssertionError("cannot start a test process: " + e.getMessage(), e);
        }
    }

    protected static void stop(Process process) {
        if (process != null) {
            process.destroyForcibly();
        }
    }

    protected static void assertRow(List<String> row, String backend, String mode, String period, String state) {
        assertNotNull("partition missing from sls:partitions", row);
        assertEquals("backend", backend, row.get(COL_BACKEND));
        assertEquals("mode", mode, row.get(COL_MODE));
        assertEquals("period", period, row.get(COL_PERIOD));
        assertEquals("state", state, row.get(COL_STATE));
    }
}
