package org.sls.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sls.api.CaptureMode;
import org.sls.api.CheckpointResult;
import org.sls.api.PartitionInfo;
import org.sls.api.PartitionSpec;
import org.sls.api.PartitionState;
import org.sls.api.RestoreRequest;
import org.sls.api.RestoreResult;
import org.sls.api.SlsException;
import org.sls.api.spi.CaptureStrategy;

class PartitionManagerTest {

    @TempDir
    Path tmp;

    private final List<Process> started = new ArrayList<>();
    private final List<PartitionManager> managers = new ArrayList<>();
    private Fakes.Backend backend;
    private Fakes.Engine engine;
    private final CaptureStrategy full = new org.sls.api.spi.CaptureStrategy() {
        @Override
        public String name() {
            return "full";
        }

        @Override
        public org.sls.api.spi.CaptureOutcome capture(org.sls.api.spi.CaptureRequest r, org.sls.api.engine.CheckpointEngine e) {
            var res = e.capture(new org.sls.api.engine.CaptureSpec(r.pids(), r.recursive(), r.pageFile()));
            return new org.sls.api.spi.CaptureOutcome(res.image(), -1, res.stopNanos());
        }
    };

    @BeforeEach
    void setUp() {
        backend = new Fakes.Backend(tmp);
        engine = new Fakes.Engine();
    }

    @AfterEach
    void tearDown() {
        managers.forEach(PartitionManager::deactivate);
        started.forEach(Process::destroyForcibly);
    }

    private PartitionManager manager(boolean withBackend, boolean withEngine) {
        return manager(withBackend, withEngine, ProcessTable.system());
    }

    private PartitionManager manager(boolean withBackend, boolean withEngine, ProcessTable processes) {
        PartitionManager m = new PartitionManager();
        if (withBackend) {
            m.bindBackend(backend, Map.of("sls.backend", "memory"));
        }
        m.bindStrategy(full, Map.of("sls.capture", "full"));
        if (withEngine) {
            m.engine = engine;
        }
        m.start(new PartitionStore(tmp.resolve("state/partitions.properties")), processes, 2);
        managers.add(m);
        return m;
    }

    private int sleeper() throws IOException {
        Process p = new ProcessBuilder("sleep", "600").start();
        started.add(p);
        return (int) p.pid();
    }

    @Test
    void partaddListsThePartitionAndPartdelRemovesIt() {
        PartitionManager m = manager(true, true);
        PartitionInfo p = m.partadd(new PartitionSpec(3, "memory", CaptureMode.FULL, 0));
        assertEquals(PartitionState.READY, p.state());
        assertEquals(List.of(3L), m.partitions().stream().map(PartitionInfo::oid).toList());
        m.partdel(3);
        assertTrue(m.partitions().isEmpty());
    }

    @Test
    void duplicateOidIsRefusedAndChangesNothing() {
        PartitionManager m = manager(true, true);
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.FULL, 0));
        SlsException e = assertThrows(SlsException.class, () -> m.partadd(new PartitionSpec(3, "memory", CaptureMode.DELTA, 5)));
        assertEquals("partition 3 already exists", e.getMessage());
        assertEquals(CaptureMode.FULL, m.partition(3).spec().mode());
    }

    @Test
    void unknownBackendIsRefusedNamingTheAvailableOnes() {
        PartitionManager m = manager(true, true);
        SlsException e = assertThrows(SlsException.class, () -> m.partadd(new PartitionSpec(3, "foo", CaptureMode.FULL, 0)));
        assertEquals("unknown backend 'foo' (available: memory)", e.getMessage());
        assertTrue(m.partitions().isEmpty());
    }

    @Test
    void badOidsAndPeriodsAreRefusedByTheSpec() {
        assertEquals("OID must be a positive integer, got 0",
                assertThrows(SlsException.class, () -> new PartitionSpec(0, "memory", CaptureMode.FULL, 0)).getMessage());
        assertEquals("OID must be a positive integer, got -1",
                assertThrows(SlsException.class, () -> new PartitionSpec(-1, "memory", CaptureMode.FULL, 0)).getMessage());
        assertEquals("checkpoint period must not be negative, got -5 ms",
                assertThrows(SlsException.class, () -> new PartitionSpec(1, "memory", CaptureMode.FULL, -5)).getMessage());
    }

    @Test
    void unknownOidIsReportedForEveryOperation() {
        PartitionManager m = manager(true, true);
        assertEquals("partition 7 does not exist", assertThrows(SlsException.class, () -> m.partdel(7)).getMessage());
        assertEquals("partition 7 does not exist", assertThrows(SlsException.class, () -> m.attach(7, 1)).getMessage());
        assertEquals("partition 7 does not exist", assertThrows(SlsException.class, () -> m.checkpoint(7, false)).getMessage());
        assertEquals("partition 7 does not exist", assertThrows(SlsException.class, () -> m.restore(RestoreRequest.newest(7))).getMessage());
        assertEquals("partition 7 does not exist", assertThrows(SlsException.class, () -> m.epochs(7)).getMessage());
    }

    @Test
    void attachRefusesMissingKernelSelfAndDoublyAttachedProcesses() throws IOException {
        PartitionManager m = manager(true, true);
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.FULL, 0));
        m.partadd(new PartitionSpec(4, "memory", CaptureMode.FULL, 0));
        assertEquals("process 999999 does not exist", assertThrows(SlsException.class, () -> m.attach(3, 999999)).getMessage());
        assertTrue(assertThrows(SlsException.class, () -> m.attach(3, 2)).getMessage().contains("kernel thread"));
        int self = (int) ProcessHandle.current().pid();
        assertTrue(assertThrows(SlsException.class, () -> m.attach(3, self)).getMessage().contains("SLS itself"));
        int pid = sleeper();
        m.attach(4, pid);
        assertEquals("process " + pid + " is already attached to partition 4",
                assertThrows(SlsException.class, () -> m.attach(3, pid)).getMessage());
        assertEquals(List.of(), m.partition(3).pids());
        assertEquals(List.of(pid), m.partition(4).pids());
    }

    @Test
    void partitionsAndAttachedPidsSurviveARestart() throws IOException {
        PartitionManager m = manager(true, true);
        int pid = sleeper();
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.FULL, 0));
        m.partadd(new PartitionSpec(5, "memory", CaptureMode.DELTA, 250));
        m.attach(3, pid);
        m.checkpoint(3, false);
        m.deactivate();
        managers.remove(m);

        PartitionManager again = manager(false, true);
        List<PartitionInfo> parts = again.partitions();
        assertEquals(2, parts.size());
        assertEquals(List.of(pid), parts.get(0).pids());
        assertEquals(1, parts.get(0).epochsTaken(), "counters survive a clean restart");
        assertEquals(new PartitionSpec(5, "memory", CaptureMode.DELTA, 250), parts.get(1).spec());
        assertEquals(PartitionState.BACKEND_UNAVAILABLE, parts.get(0).state(), "backend not bound yet");
    }

    @Test
    void checkpointWithoutEngineSaysSoAndRecordsTheError() throws IOException {
        PartitionManager m = manager(true, false);
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.FULL, 0));
        m.attach(3, sleeper());
        SlsException e = assertThrows(SlsException.class, () -> m.checkpoint(3, false));
        assertTrue(e.getMessage().startsWith("partition 3: capture engine not available"), e.getMessage());
        assertEquals(e.getMessage(), m.partition(3).lastError());
        assertTrue(backend.epochs(3).isEmpty());
    }

    @Test
    void checkpointCommitsAnEpochAndRestorePassesItsPagesToTheEngine() throws IOException {
        PartitionManager m = manager(true, true);
        int pid = sleeper();
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.FULL, 0));
        m.attach(3, pid);
        CheckpointResult r1 = m.checkpoint(3, false);
        CheckpointResult r2 = m.checkpoint(3, false);
        assertEquals(0, r1.epoch());
        assertEquals(1, r2.epoch());
        assertEquals(4096, r2.pageBytes());
        assertEquals(2, m.partition(3).epochsTaken());
        assertEquals(42_000, m.partition(3).lastStopNanos());

        RestoreResult rr = m.restore(new RestoreRequest(3, 0, true, false));
        assertEquals(0, rr.epoch());
        assertEquals(pid + 1000, rr.processes().get(0).pid());
        var proc = engine.lastRestore.processes().get(0);
        assertEquals(pid, proc.image().pid());
        assertEquals(tmp.resolve("3-0"), proc.pages().get(0).file());
        assertTrue(engine.lastRestore.detached());
        assertEquals(List.of(pid), m.partition(3).pids(), "the original still runs: the copy is not attached");
    }

    @Test
    void restoreOfAMissingEpochIsRefused() throws IOException {
        PartitionManager m = manager(true, true);
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.FULL, 0));
        assertEquals("partition 3 has no checkpoint to restore",
                assertThrows(SlsException.class, () -> m.restore(RestoreRequest.newest(3))).getMessage());
        m.attach(3, sleeper());
        m.checkpoint(3, false);
        assertEquals("partition 3 has no epoch 9",
                assertThrows(SlsException.class, () -> m.restore(new RestoreRequest(3, 9, false, false))).getMessage());
    }

    @Test
    void stoppedBackendMakesPartitionsUnavailableUntilItReturns() throws IOException {
        PartitionManager m = manager(true, true);
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.FULL, 0));
        m.attach(3, sleeper());
        m.unbindBackend(backend, Map.of("sls.backend", "memory"));
        assertEquals(PartitionState.BACKEND_UNAVAILABLE, m.partition(3).state());
        assertEquals("partition 3: backend unavailable (memory)",
                assertThrows(SlsException.class, () -> m.checkpoint(3, false)).getMessage());
        assertEquals("partition 3: backend unavailable (memory)",
                assertThrows(SlsException.class, () -> m.epochs(3)).getMessage());
        m.bindBackend(backend, Map.of("sls.backend", "memory"));
        assertEquals(PartitionState.READY, m.partition(3).state());
        assertEquals(0, m.checkpoint(3, false).epoch());
    }

    @Test
    void unbindingAReplacedBackendKeepsTheReplacement() {
        PartitionManager m = manager(true, true);
        Fakes.Backend replacement = new Fakes.Backend(tmp);
        m.bindBackend(replacement, Map.of("sls.backend", "memory"));
        m.unbindBackend(backend, Map.of("sls.backend", "memory"));
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.FULL, 0));
        assertEquals(PartitionState.READY, m.partition(3).state());
    }

    @Test
    void exitedProcessIsDetachedAtTheNextCheckpoint() throws Exception {
        PartitionManager m = manager(true, true);
        Process p = new ProcessBuilder("sleep", "600").start();
        started.add(p);
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.FULL, 0));
        m.attach(3, (int) p.pid());
        p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        assertEquals("partition 3 has no processes attached",
                assertThrows(SlsException.class, () -> m.checkpoint(3, false)).getMessage());
        assertEquals(List.of(), m.partition(3).pids());
    }

    @Test
    void periodicCheckpointsAreNeverStackedAndSkipsAreCounted() throws Exception {
        PartitionManager m = manager(true, true);
        engine.captureMillis = 130;
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.FULL, 40));
        m.attach(3, sleeper());
        Thread.sleep(1200);
        PartitionInfo info = m.partition(3);
        assertTrue(info.epochsTaken() >= 3, "checkpoints ran: " + info.epochsTaken());
        assertTrue(info.epochsSkipped() >= info.epochsTaken(), "each slow run skips periods: " + info);
        assertEquals(1, engine.maxConcurrent, "runs of one partition never overlap");
        m.partdel(3);
        int after = engine.captures.get();
        Thread.sleep(300);
        assertTrue(engine.captures.get() <= after + 1, "no checkpoints after partdel");
    }

    @Test
    void periodicCheckpointsPauseWhileTheBackendIsAwayAndResume() throws Exception {
        PartitionManager m = manager(true, true);
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.FULL, 30));
        m.attach(3, sleeper());
        Thread.sleep(300);
        m.unbindBackend(backend, Map.of("sls.backend", "memory"));
        Thread.sleep(100);
        long taken = m.partition(3).epochsTaken();
        assertTrue(taken > 0);
        Thread.sleep(300);
        assertEquals(taken, m.partition(3).epochsTaken(), "paused while the backend is away");
        assertEquals(null, m.partition(3).lastError(), "a paused partition does not pile up errors");
        m.bindBackend(backend, Map.of("sls.backend", "memory"));
        Thread.sleep(300);
        assertTrue(m.partition(3).epochsTaken() > taken, "resumed");
    }

    @Test
    void infoNamesEngineBackendsAndStrategies() {
        PartitionManager m = manager(true, true);
        var info = m.info();
        assertEquals("fake-1", info.engineVersion());
        assertEquals(List.of("memory"), info.backends());
        assertEquals(List.of("full"), info.strategies());
        assertEquals("no", info.kernelFeatures().get("soft-dirty"));
        assertNull(manager(false, false).info().engineVersion(), "no engine registered: no version");
    }

    @Test
    void verifyReportsDamagePerPartitionAndUnavailableBackends() throws IOException {
        PartitionManager m = manager(true, true);
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.FULL, 0));
        m.attach(3, sleeper());
        m.checkpoint(3, false);
        assertEquals(List.of(), m.verify(3));
        assertEquals(List.of(), m.verify(-1));
        m.unbindBackend(backend, Map.of("sls.backend", "memory"));
        assertEquals(List.of("partition 3: not verified, backend unavailable (memory)"), m.verify(-1));
        assertEquals("partition 3: backend unavailable (memory)", assertThrows(SlsException.class, () -> m.verify(3)).getMessage());
    }

    @Test
    void verifyOfEverythingIncludesBackendWideDamage() {
        Fakes.Backend damaged = new Fakes.Backend(tmp) {
            @Override
            public List<String> verifyStore() {
                return List.of("store: metadata slot 1: checksum mismatch");
            }
        };
        PartitionManager m = manager(false, true);
        m.bindBackend(damaged, Map.of("sls.backend", "memory"));
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.FULL, 0));
        assertEquals(List.of("store: metadata slot 1: checksum mismatch"), m.verify(-1));
        assertEquals(List.of(), m.verify(3), "store-wide damage is not a partition's");
    }

    @Test
    void aCheckpointThatCannotBeStoredMakesTheStrategyForgetItsTracking() throws IOException {
        java.util.concurrent.atomic.AtomicInteger forgotten = new java.util.concurrent.atomic.AtomicInteger();
        CaptureStrategy delta = new CaptureStrategy() {
            @Override
            public String name() {
                return "delta";
            }

            @Override
            public org.sls.api.spi.CaptureOutcome capture(org.sls.api.spi.CaptureRequest r, org.sls.api.engine.CheckpointEngine e) {
                return full.capture(r, e);
            }

            @Override
            public void forget(long oid) {
                forgotten.incrementAndGet();
            }
        };
        Fakes.Backend refusing = new Fakes.Backend(tmp) {
            @Override
            public org.sls.api.spi.EpochWriter beginEpoch(long oid, long epoch) {
                org.sls.api.spi.EpochWriter w = super.beginEpoch(oid, epoch);
                return new org.sls.api.spi.EpochWriter() {
                    @Override
                    public Path pageFile() {
                        return w.pageFile();
                    }

                    @Override
                    public org.sls.api.EpochInfo commit(org.sls.api.spi.EpochRecord record) {
                        throw new SlsException("store full");
                    }

                    @Override
                    public void abort() {
                        w.abort();
                    }

                    @Override
                    public void close() {
                        w.close();
                    }
                };
            }
        };
        PartitionManager m = manager(false, true);
        m.bindBackend(refusing, Map.of("sls.backend", "memory"));
        m.bindStrategy(delta, Map.of("sls.capture", "delta"));
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.DELTA, 0));
        m.attach(3, sleeper());
        assertEquals("store full", assertThrows(SlsException.class, () -> m.checkpoint(3, false)).getMessage());
        assertEquals(1, forgotten.get());
        assertEquals(0, m.partition(3).epochsTaken());
    }

    /** A delta strategy that records what it was asked and, like the real one, takes the previous epoch as parent. */
    private static final class RecordingDelta implements CaptureStrategy {
        final List<Long> previous = new ArrayList<>();
        final java.util.concurrent.atomic.AtomicInteger forgotten = new java.util.concurrent.atomic.AtomicInteger();

        @Override
        public String name() {
            return "delta";
        }

        @Override
        public org.sls.api.spi.CaptureOutcome capture(org.sls.api.spi.CaptureRequest r, org.sls.api.engine.CheckpointEngine e) {
            previous.add(r.previousEpoch());
            var res = e.capture(new org.sls.api.engine.CaptureSpec(r.pids(), r.recursive(), r.pageFile(),
                    org.sls.api.engine.DirtyTracking.AUTO));
            return new org.sls.api.spi.CaptureOutcome(res.image(), r.previousEpoch(), res.stopNanos());
        }

        @Override
        public void forget(long oid) {
            forgotten.incrementAndGet();
        }
    }

    private static long parentOf(PartitionManager m, long oid, long epoch) {
        return m.epochs(oid).stream().filter(i -> i.epoch() == epoch).findFirst().orElseThrow().parentEpoch();
    }

    @Test
    void epochAfterARestoreOfAnOlderEpochIsADeltaOfTheRestoredEpoch() throws Exception {
        RecordingDelta delta = new RecordingDelta();
        PartitionManager m = manager(true, true);
        m.bindStrategy(delta, Map.of("sls.capture", "delta"));
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.DELTA, 0));
        Process original = new ProcessBuilder("sleep", "600").start();
        started.add(original);
        m.attach(3, (int) original.pid());
        for (int k = 0; k < 3; k++) {
            m.checkpoint(3, false);
        }
        assertEquals(List.of(-1L, 0L, 1L), delta.previous);
        original.destroyForcibly().waitFor();
        int restoredPid = sleeper(); // stands in for the restored process, alive like it
        engine.restoredPid = pid -> restoredPid;

        m.restore(new RestoreRequest(3, 1, true, false));
        assertEquals(org.sls.api.engine.DirtyTracking.AUTO, engine.lastRestore.tracking(),
                "a delta partition's restore asks the engine to track the restored processes");
        assertEquals(1, delta.forgotten.get(), "the replaced processes' tracking is dropped before the restore");
        assertEquals(List.of(restoredPid), m.partition(3).pids());

        CheckpointResult after = m.checkpoint(3, false);
        assertEquals(3, after.epoch(), "epoch numbers go on after the newest");
        assertEquals(1L, delta.previous.get(3), "the capture after the restore continues from the restored epoch");
        assertEquals(1, parentOf(m, 3, 3), "its parent is the restored epoch 1, not the newest 2");
        m.checkpoint(3, false);
        assertEquals(3L, delta.previous.get(4), "then from the epoch just taken");
        assertEquals(3, parentOf(m, 3, 4));
        assertTrue(engine.forgotten.isEmpty(), "the restored process's tracker is kept");
    }

    @Test
    void restoredCopyNextToTheRunningOriginalIsLeftUntrackedAndTheChainGoesOn() throws Exception {
        RecordingDelta delta = new RecordingDelta();
        PartitionManager m = manager(true, true);
        m.bindStrategy(delta, Map.of("sls.capture", "delta"));
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.DELTA, 0));
        int pid = sleeper();
        m.attach(3, pid);
        m.checkpoint(3, false);
        m.checkpoint(3, false);
        m.restore(new RestoreRequest(3, 0, true, false));
        assertEquals(List.of(pid + 1000), engine.forgotten, "the copy is not the partition's: its tracker goes");
        assertEquals(List.of(pid), m.partition(3).pids());
        m.checkpoint(3, false);
        assertEquals(1L, delta.previous.get(2), "the original goes on from the newest epoch");
    }

    @Test
    void restoreOfAFullPartitionAsksForNoTracking() throws IOException {
        PartitionManager m = manager(true, true);
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.FULL, 0));
        m.attach(3, sleeper());
        m.checkpoint(3, false);
        m.restore(RestoreRequest.newest(3));
        assertEquals(org.sls.api.engine.DirtyTracking.NONE, engine.lastRestore.tracking());
        assertFalse(engine.lastRestore.shadow());
    }

    @Test
    void restoreOfAShadowedPartitionAsksForTheTrackerShadowedCapturesContinueFrom() throws IOException {
        PartitionManager m = manager(true, true);
        m.bindStrategy(new RecordingDelta(), Map.of("sls.capture", "delta"));
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.DELTA, 0, org.sls.api.engine.DirtyTracking.UFFD, true));
        m.attach(3, sleeper());
        m.checkpoint(3, false);
        m.restore(RestoreRequest.newest(3));
        assertEquals(org.sls.api.engine.DirtyTracking.UFFD, engine.lastRestore.tracking());
        assertTrue(engine.lastRestore.shadow(), "a shadowed partition's restore asks for the synchronous tracker");
    }

    /** A process in a fake /proc: its status and a stat whose field 22 is the start time. */
    private static void fakeProcess(Path proc, int pid, long startTime) throws IOException {
        Path dir = java.nio.file.Files.createDirectories(proc.resolve(Integer.toString(pid)));
        java.nio.file.Files.writeString(dir.resolve("status"),
                "Name:\tsrv\nState:\tS (sleeping)\nTgid:\t" + pid + "\nPPid:\t1\nVmSize:\t1000 kB\nKthread:\t0\n");
        StringBuilder stat = new StringBuilder(pid + " (my (odd) srv) S 1");
        for (int field = 5; field <= 52; field++) {
            stat.append(' ').append(field == 22 ? startTime : 0);
        }
        java.nio.file.Files.writeString(dir.resolve("stat"), stat + "\n");
    }

    @Test
    void restoreIntoABusyMachineMakesTheRestoredProcessTheMemberNotTheNewOwnerOfTheOldPid() throws IOException {
        Path proc = tmp.resolve("proc");
        fakeProcess(proc, 100, 5000);
        PartitionManager m = manager(true, true, new ProcessTable(proc, 1));
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.FULL, 0));
        m.attach(3, 100);
        m.checkpoint(3, false);
        fakeProcess(proc, 100, 9000); // the member exited; a later fork got PID 100
        engine.restoredPid = pid -> 1100;
        fakeProcess(proc, 1100, 9100);
        RestoreResult r = m.restore(RestoreRequest.newest(3));
        assertEquals(1100, r.processes().get(0).pid());
        assertEquals(List.of(1100), m.partition(3).pids(), "the restored process replaces the member, not the newcomer");
        assertTrue(engine.forgotten.isEmpty());
    }

    @Test
    void aKilledMemberDroppedByAPeriodicCheckpointIsReplacedByItsRestoredSelfUnderTheSamePid() throws IOException {
        Path proc = tmp.resolve("proc");
        fakeProcess(proc, 100, 5000);
        PartitionManager m = manager(true, true, new ProcessTable(proc, 1));
        RecordingDelta delta = new RecordingDelta();
        m.bindStrategy(delta, Map.of("sls.capture", "delta"));
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.DELTA, 0));
        m.attach(3, 100);
        m.checkpoint(3, false);
        deleteTree(proc.resolve("100")); // kill -9; the next checkpoint (every 10 ms) drops the member
        assertThrows(SlsException.class, () -> m.checkpoint(3, false));
        assertEquals(List.of(), m.partition(3).pids());
        engine.restoredPid = pid -> pid; // the restore gets PID 100 back
        fakeProcess(proc, 100, 9000);
        m.restore(RestoreRequest.newest(3));
        assertEquals(List.of(100), m.partition(3).pids(), "the restored process is the partition's member");
        assertTrue(engine.forgotten.isEmpty(), "the restored member keeps its tracking: " + engine.forgotten);
        m.checkpoint(3, false);
        assertEquals(List.of(-1L, 0L), delta.previous, "the epoch after the restore is a delta of the restored one");
        assertEquals(List.of(100), m.partition(3).pids());
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var paths = java.nio.file.Files.walk(dir)) {
            for (Path f : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                java.nio.file.Files.delete(f);
            }
        }
    }

    @Test
    void aMemberWhosePidWasTakenByAnotherProcessIsDetachedAndTheNewcomerNeverCaptured() throws IOException {
        Path proc = tmp.resolve("proc");
        fakeProcess(proc, 100, 5000);
        fakeProcess(proc, 200, 5100);
        PartitionManager m = manager(true, true, new ProcessTable(proc, 1));
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.FULL, 0));
        m.attach(3, 100);
        m.attach(3, 200);
        fakeProcess(proc, 100, 9000);
        m.checkpoint(3, false);
        assertEquals(List.of(200), engine.lastCapture.pids(), "only the real member is captured");
        assertEquals(List.of(200), m.partition(3).pids());
        m.attach(3, 100); // the newcomer may be attached on purpose, as itself
        assertEquals(List.of(100, 200), m.partition(3).pids());
    }

    @Test
    void startTimesSurviveARestartAndAPidReusedWhileSlsWasDownIsNotAMember() throws IOException {
        Path proc = tmp.resolve("proc");
        fakeProcess(proc, 100, 5000);
        fakeProcess(proc, 200, 5100);
        PartitionManager m = manager(true, true, new ProcessTable(proc, 1));
        m.partadd(new PartitionSpec(3, "memory", CaptureMode.FULL, 0));
        m.attach(3, 100);
        m.attach(3, 200);
        m.deactivate();
        managers.remove(m);
        fakeProcess(proc, 200, 9000);
        PartitionManager again = manager(true, true, new ProcessTable(proc, 1));
        assertEquals(List.of(100), again.partition(3).pids());
    }
}
