package org.sls.shell.internal;

import org.apache.karaf.shell.api.action.Action;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.sls.api.CaptureMode;
import org.sls.api.PartitionInfo;
import org.sls.api.PartitionService;
import org.sls.api.PartitionSpec;
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

    @Option(name = "-t", aliases = "--period", description = "Checkpoint continuously every <ms> milliseconds once a process is attached (default: on demand only)")
    long periodMs;

    @Reference
    PartitionService partitions;

    @Override
    public Object execute() {
        PartitionInfo p = partitions.partadd(new PartitionSpec(oid, backend, delta ? CaptureMode.DELTA : CaptureMode.FULL, periodMs));
        System.out.println("Partition " + p.oid() + " created (backend " + p.spec().backend() + ", "
                + p.spec().mode().strategyName() + ", period " + Format.period(p.spec().periodMs()) + ")");
        return null;
    }
}
