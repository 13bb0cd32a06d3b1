package org.sls.shell.internal;

import org.apache.karaf.shell.api.action.Action;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.support.completers.StringsCompleter;
import org.sls.api.CaptureMode;
import org.sls.api.PartitionInfo;
import org.sls.api.PartitionService;
import org.sls.api.PartitionSpec;
import org.sls.api.SlsException;
import org.sls.api.engine.DirtyTracking;
import org.sls.shell.internal.completers.BackendCompleter;

@Service
@Command(scope = "sls", name = "partadd", description = "Creates an empty partition: a group of processes checkpointed together")
public class PartAdd implements Action {

    @Option(name = "-o", aliases = "--oid", required = true, description = "Unique object ID of the new partition (a positive integer)")
    long oid;

    @Option(name = "-b", aliases = "--backend", required = true, description = "Where epochs are stored: slos (on disk, crash-consistent) or memory")
    @Completion(BackendCompleter.class)
    String backend;

    @Option(name = "-d", aliases = "--delta", description = "Incremental checkpoints: each epoch stores only pages written since the previous one")
    boolean delta;

    @Option(name = "--tracking", description = "With -d: how written pages are found: auto (the best this kernel has, see sls:info), uffd (userfaultfd write-protect), soft-dirty, digest (page digests, always works)")
    @Completion(value = StringsCompleter.class, values = {"auto", "uffd", "soft-dirty", "digest"})
    String tracking;

    @Option(name = "--shadow", description = "With -d and uffd (or auto) tracking: copy each epoch's pages after the processes resume (copy-on-write), so the stop does not grow with the dirty memory")
    boolean shadow;

    @Option(name = "-t", aliases = "--period", description = "Checkpoint continuously every <ms> milliseconds once a process is attached (default: on demand only)")
    long periodMs;

    @Reference
    PartitionService partitions;

    @Override
    public Object execute() {
        if (tracking != null && !delta) {
            throw new SlsException("--tracking needs -d (a delta partition)");
        }
        if (shadow && !delta) {
            throw new SlsException("--shadow needs -d (a delta partition)");
        }
        CaptureMode mode = delta ? CaptureMode.DELTA : CaptureMode.FULL;
        DirtyTracking t = tracking == null ? PartitionSpec.defaultTracking(mode) : PartitionSpec.trackingFromName(tracking);
        PartitionInfo p = partitions.partadd(new PartitionSpec(oid, backend, mode, periodMs, t, shadow));
        System.out.println("Partition " + p.oid() + " created (backend " + p.spec().backend() + ", "
                + p.spec().mode().strategyName() + Format.trackingRequested(p.spec())
                + ", period " + Format.period(p.spec().periodMs()) + ")");
        return null;
    }
}
