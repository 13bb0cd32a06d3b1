package org.sls.capture.delta.internal;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.osgi.service.component.annotations.Component;
import org.sls.api.engine.CaptureResult;
import org.sls.api.engine.CaptureSpec;
import org.sls.api.engine.CheckpointEngine;
import org.sls.api.engine.DirtyTracking;
import org.sls.api.image.ProcessImage;
import org.sls.api.spi.CaptureOutcome;
import org.sls.api.spi.CaptureRequest;
import org.sls.api.spi.CaptureStrategy;

/**
 * Delta epochs: only pages written since the partition's previous epoch. The engine keeps one
 * dirty-page tracker per process across captures and says whether each capture is a delta; when it
 * is not (first epoch, a new process, after a restore or an engine restart) the epoch is complete and
 * has no parent.
 *
 * <p>A delta is only correct relative to the epoch the engine's trackers last saw. So the strategy
 * drops the engine's tracking (the next capture is then complete) when the partition has no previous
 * epoch, and when the previous capture it made was evidently not stored — the request names the same
 * previous epoch as the last one did, where a stored epoch would have become the new previous one.
 */
@Component(service = CaptureStrategy.class, property = CaptureStrategy.PROPERTY + "=delta")
public class DeltaCaptureStrategy implements CaptureStrategy {

    /** What the last capture of a partition left tracked in which engine. */
    private record Tracked(CheckpointEngine engine, List<Integer> pids, long previousEpochAtCapture) {
    }

    private final Map<Long, Tracked> tracked = new ConcurrentHashMap<>();

    @Override
    public String name() {
        return "delta";
    }

    @Override
    public CaptureOutcome capture(CaptureRequest request, CheckpointEngine engine) {
        Tracked last = tracked.remove(request.oid());
        if (last != null && (last.engine() != engine || request.previousEpoch() < 0
                || request.previousEpoch() == last.previousEpochAtCapture())) {
            last.engine().forgetTracking(last.pids());
        }
        if (request.previousEpoch() < 0) {
            engine.forgetTracking(request.pids()); // nothing to be a delta of
        }
        // The partition names the mechanism for processes the engine starts tracking; a full partition's
        // request (NONE) still gets a delta here, with whatever the engine finds best.
        DirtyTracking mechanism = request.tracking() == DirtyTracking.NONE ? DirtyTracking.AUTO : request.tracking();
        CaptureResult r = engine.capture(new CaptureSpec(request.pids(), request.recursive(), request.pageFile(),
                mechanism, request.shadow()));
        List<Integer> pids = r.image().processes().stream().map(ProcessImage::pid).toList();
        tracked.put(request.oid(), new Tracked(engine, pids, request.previousEpoch()));
        long parent = r.delta() ? request.previousEpoch() : -1;
        return new CaptureOutcome(r.image(), parent, r.stopNanos(), r.tracking(), r.shadowed(), r.shadowFaults());
    }

    @Override
    public void forget(long oid) {
        Tracked last = tracked.remove(oid);
        if (last != null) {
            last.engine().forgetTracking(last.pids());
        }
    }
}
