package org.sls.control.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.sls.api.CaptureMode;
import org.sls.api.CheckpointResult;
import org.sls.api.EpochInfo;
import org.sls.api.PartitionInfo;
import org.sls.api.PartitionService;
import org.sls.api.PartitionSpec;
import org.sls.api.PartitionState;
import org.sls.api.RestoreRequest;
import org.sls.api.RestoreResult;
import org.sls.api.SlsException;
import org.sls.api.SystemInfo;

/** A partition service holding attachments in a map; checkpoints count up epochs. */
class FakePartitions implements PartitionService {
    final Map<Long, List<Integer>> pids = new ConcurrentHashMap<>();
    long epoch;

    FakePartitions with(long oid) {
        pids.put(oid, new ArrayList<>());
        return this;
    }

    private List<Integer> of(long oid) {
        List<Integer> l = pids.get(oid);
        if (l == null) {
            throw new SlsException("partition " + oid + " does not exist");
        }
        return l;
    }

    @Override
    public PartitionInfo partadd(PartitionSpec spec) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void partdel(long oid) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void attach(long oid, int pid) {
        of(oid).add(pid);
    }

    @Override
    public void detach(long oid, int pid) {
        if (!of(oid).remove((Integer) pid)) {
            throw new SlsException("process " + pid + " is not attached to partition " + oid);
        }
    }

    @Override
    public CheckpointResult checkpoint(long oid, boolean recursive) {
        of(oid);
        return new CheckpointResult(oid, epoch++, 1, 4096, 1000, 2000);
    }

    @Override
    public RestoreResult restore(RestoreRequest request) {
        throw new UnsupportedOperationException();
    }

    @Override
    public List<PartitionInfo> partitions() {
        return List.of();
    }

    @Override
    public PartitionInfo partition(long oid) {
        return new PartitionInfo(new PartitionSpec(oid, "memory", CaptureMode.FULL, 0), of(oid), PartitionState.READY,
                0, 0, -1, null, -1);
    }

    @Override
    public List<EpochInfo> epochs(long oid) {
        return List.of();
    }

    @Override
    public SystemInfo info() {
        return new SystemInfo(null, Map.of(), List.of(), List.of());
    }

    @Override
    public List<String> verify(long oid) {
        return List.of();
    }
}
