package org.sls.itests;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;

import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * The distribution as an operator runs it, outside Pax Exam: unpacked from the tar.gz, started
 * with {@code bin/start}, driven with {@code bin/client}, stopped with {@code bin/stop} and started
 * again. Partitions and their processes must still be there: karaf.data is kept across restarts.
 */
public class DistributionRestartIT {

    private UnpackedDistribution dist;
    private Process sleeper;

    @Before
    public void unpackDistribution() throws Exception {
        dist = UnpackedDistribution.unpack("restart");
        sleeper = new ProcessBuilder("sleep", "600").start();
    }

    @After
    public void stopDistribution() throws Exception {
        if (dist != null) {
            dist.stopQuietly();
        }
        if (sleeper != null) {
            sleeper.destroyForcibly();
        }
    }

    @Test
    public void partitionsAndTheirProcessesSurviveAStopAndStartOfTheDistribution() throws Exception {
        dist.start();
        dist.clientOk("sls:partadd -o 31 -b slos -d -t 500");
        dist.clientOk("sls:partadd -o 32 -b memory");
        dist.clientOk("sls:attach -o 32 -p " + sleeper.pid());
        String before = dist.client("sls:partitions --no-format").output();
        assertTrue("partition 31 not listed: " + before, before.contains("31"));
        assertTrue("process not listed: " + before, before.contains(Long.toString(sleeper.pid())));

        dist.stop();
        assertTrue("SLS state must be under karaf.data", Files.isDirectory(dist.home().resolve("data/sls")));
        dist.start();

        assertEquals("sls:partitions after the restart", before, dist.client("sls:partitions --no-format").output());
        UnpackedDistribution.ScriptRun duplicate = dist.client("sls:partadd -o 31 -b slos");
        assertEquals("partition 31 must still exist: " + duplicate.output(), 1, duplicate.exitCode());
        assertTrue(duplicate.output(), duplicate.output().contains("partition 31 already exists"));
    }
}
