package org.sls.capture.delta.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.sls.api.RestoredProcess;
import org.sls.api.engine.CaptureResult;
import org.sls.api.engine.CaptureSpec;
import org.sls.api.engine.CheckpointEngine;
import org.sls.api.engine.DirtyTracking;
import org.sls.api.engine.RestoreSpec;
import org.sls.api.image.CheckpointImage;
import org.sls.api.image.ProcessImage;
import org.sls.api.spi.CaptureOutcome;
import org.sls.api.spi.CaptureRequest;

class DeltaCaptureStrategyTest {

    /** An engine that behaves like the native one: a delta for pids it tracks, else complete + track. */
    static class TrackingEngine implements CheckpointEngine {
        final Set<Integer> trackedPids = new HashSet<>();
        final List<CaptureSpec> specs = new ArrayList<>();
        final List<List<Integer>> forgotten = new ArrayList<>();

        @Override
        public String version() {
            return "fake";
        }

        @Override
        public Map<String, String> kernelFeatures() {
            return Map.of("dirty_tracking", "uffd");
        }

        @Override
        public CaptureResult capture(CaptureSpec spec) {
            specs.add(spec);
            boolean delta = spec.tracking() != DirtyTracking.NONE && trackedPids.containsAll(spec.pids());
            if (spec.tracking() != DirtyTracking.NONE) {
                trackedPids.addAll(spec.pids());
            }
            List<ProcessImage> procs = new ArrayList<>();
            for (int pid : spec.pids()) {
                procs.add(process(pid));
            }
            return new CaptureResult(new CheckpointImage(procs), 500, 0, delta);
        }

        @Override
        public void forgetTracking(List<Integer> pids) {
            forgotten.add(List.copyOf(pids));
            trackedPids.removeAll(pids);
        }

        @Override
        public List<RestoredProcess> restore(RestoreSpec spec) {
            throw new UnsupportedOperationException();
        }
    }

    static ProcessImage process(int pid) {
        return new ProcessImage(pid, 1, pid, pid, "p", "/bin/p", 1, List.of(), List.of(), List.of(), new byte[0]);
    }

    private static CaptureRequest request(long oid, long previous) {
        return new CaptureRequest(oid, List.of(10, 11), false, Path.of("/tmp/pages"), previous);
    }

    @Test
    void firstEpochIsCompleteAndLaterOnesAreDeltasOfThePreviousEpoch() {
        TrackingEngine engine = new TrackingEngine();
        DeltaCaptureStrategy s = new DeltaCaptureStrategy();
        CaptureOutcome first = s.capture(request(4, -1), engine);
        assertEquals(-1, first.parentEpoch());
        assertEquals(DirtyTracking.AUTO, engine.specs.get(0).tracking(), "the engine is asked for a delta");
        CaptureOutcome second = s.capture(request(4, 1), engine);
        assertEquals(1, second.parentEpoch());
        CaptureOutcome third = s.capture(request(4, 2), engine);
        assertEquals(2, third.parentEpoch());
        assertEquals(500, third.stopNanos());
    }

    @Test
    void engineThatTookACompleteImageGivesAnEpochWithoutParent() {
        TrackingEngine engine = new TrackingEngine();
        DeltaCaptureStrategy s = new DeltaCaptureStrategy();
        s.capture(request(4, -1), engine);
        engine.trackedPids.clear(); // e.g. the engine restarted or a process was restored
        assertEquals(-1, s.capture(request(4, 1), engine).parentEpoch());
        assertEquals(2, s.capture(request(4, 2), engine).parentEpoch(), "tracking resumed from the complete epoch");
    }

    @Test
    void partitionWithoutPreviousEpochDropsStaleTrackingSoTheEpochIsComplete() {
        TrackingEngine engine = new TrackingEngine();
        engine.trackedPids.addAll(List.of(10, 11)); // left over from an earlier partition of these pids
        CaptureOutcome out = new DeltaCaptureStrategy().capture(request(9, -1), engine);
        assertEquals(-1, out.parentEpoch());
        assertEquals(List.of(List.of(10, 11)), engine.forgotten);
    }

    @Test
    void captureWhoseEpochWasNotStoredMakesTheNextOneComplete() {
        TrackingEngine engine = new TrackingEngine();
        DeltaCaptureStrategy s = new DeltaCaptureStrategy();
        s.capture(request(4, -1), engine);
        s.capture(request(4, 1), engine); // epoch 2 captured ... but the core failed to store it
        CaptureOutcome retry = s.capture(request(4, 1), engine);
        assertEquals(-1, retry.parentEpoch(), "a delta of epoch 1 would miss what the lost epoch held");
        assertEquals(2, s.capture(request(4, 2), engine).parentEpoch());
    }

    @Test
    void forgetDropsTheEnginesTrackingOfThePartitionsProcesses() {
        TrackingEngine engine = new TrackingEngine();
        DeltaCaptureStrategy s = new DeltaCaptureStrategy();
        s.capture(request(4, -1), engine);
        engine.forgotten.clear(); // the first epoch's own reset
        s.forget(4);
        assertEquals(List.of(List.of(10, 11)), engine.forgotten);
        s.forget(4);
        assertEquals(1, engine.forgotten.size(), "a forgotten partition has nothing left to drop");
    }

    @Test
    void thePartitionsMechanismAndShadowingReachTheEngineAndItsAnswerComesBack() {
        TrackingEngine engine = new TrackingEngine() {
            @Override
            public CaptureResult capture(CaptureSpec spec) {
                CaptureResult r = super.capture(spec);
                return new CaptureResult(r.image(), r.stopNanos(), r.pageBytes(), r.delta(), DirtyTracking.UFFD, true, 7);
            }
        };
        CaptureOutcome out = new DeltaCaptureStrategy().capture(new CaptureRequest(4, List.of(10, 11), false,
                Path.of("/tmp/pages"), -1, DirtyTracking.UFFD, true), engine);
        assertEquals(DirtyTracking.UFFD, engine.specs.get(0).tracking());
        assertTrue(engine.specs.get(0).shadow(), "shadowing is asked of the engine");
        assertEquals(DirtyTracking.UFFD, out.tracking(), "the mechanism the engine used");
        assertTrue(out.shadowed());
        assertEquals(7, out.shadowFaults());
    }

    @Test
    void digestIsAskedForWhenThePartitionWantsIt() {
        TrackingEngine engine = new TrackingEngine();
        new DeltaCaptureStrategy().capture(new CaptureRequest(4, List.of(10, 11), false,
                Path.of("/tmp/pages"), -1, DirtyTracking.DIGEST, false), engine);
        assertEquals(DirtyTracking.DIGEST, engine.specs.get(0).tracking());
        assertFalse(engine.specs.get(0).shadow());
    }
}
