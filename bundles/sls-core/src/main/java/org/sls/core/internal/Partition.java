package org.sls.core.internal;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.locks.ReentrantLock;
import org.sls.api.PartitionInfo;
import org.sls.api.PartitionSpec;
import org.sls.api.PartitionState;
import org.sls.api.engine.DirtyTracking;

/**
 * The run-time state of one partition. Its lock serializes every operation on the partition
 * (checkpoint, restore, attach, partdel); counters are only written while holding it.
 */
final class Partition {
    final PartitionSpec spec;
    final ReentrantLock lock = new ReentrantLock();
    final Set<Integer> pids = new ConcurrentSkipListSet<>();
    /** Each member's start time (ProcessTable#startTime; -1 unknown): tells it from a later owner of its PID. */
    final Map<Integer, Long> startTimes = new ConcurrentHashMap<>();

    volatile long epochsTaken;
    volatile long epochsSkipped;
    volatile long lastStopNanos = -1;
    volatile String lastError;
    /** Newest committed epoch, -1 if none (known from the backend when it is present). */
    volatile long lastEpoch = -1;
    /**
     * The epoch a restore brought this partition's processes back to, while no epoch was committed
     * since: the engine tracks their writes from that epoch, so it is the next delta's parent (it may be
     * older than {@link #lastEpoch}). -1 otherwise.
     */
    volatile long restoredEpoch = -1;
    volatile boolean deleted;
    /** How the engine took the newest checkpoint (null: none since SLS started). */
    volatile DirtyTracking lastTracking;
    volatile boolean lastShadowed;
    volatile long lastShadowFaults;

    Partition(PartitionSpec spec) {
        this.spec = spec;
    }

    /** Makes pid a member; false if it was one already. */
    boolean addPid(int pid, long startTime) {
        startTimes.put(pid, startTime);
        return pids.add(pid);
    }

    /** Drops pid; false if it was no member. */
    boolean removePid(int pid) {
        startTimes.remove(pid);
        return pids.remove(pid);
    }

    long startTimeOf(int pid) {
        return startTimes.getOrDefault(pid, -1L);
    }

    /** The epoch the next capture continues from: the restored one, else the newest committed. */
    long previousEpoch() {
        long restored = restoredEpoch;
        return restored >= 0 ? restored : lastEpoch;
    }

    long oid() {
        return spec.oid();
    }

    PartitionInfo info(PartitionState state) {
        return new PartitionInfo(spec, List.copyOf(pids), state, epochsTaken, epochsSkipped,
                lastStopNanos, lastError, lastEpoch, lastTracking, lastShadowed, lastShadowFaults);
    }
}
