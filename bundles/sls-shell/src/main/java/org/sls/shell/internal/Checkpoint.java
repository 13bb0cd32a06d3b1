package org.sls.shell.internal;

import org.apache.karaf.shell.api.action.Action;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.sls.api.CheckpointResult;
import org.sls.api.PartitionService;
import org.sls.shell.internal.completers.OidCompleter;

@Service
@Command(scope = "sls", name = "checkpoint", description = "Checkpoints every process of a partition; returns once the epoch is committed")
public class Checkpoint implements Action {

    @Option(name = "-o", aliases = "--oid", required = true, description = "Object ID of the partition")
    @Completion(OidCompleter.class)
    long oid;

    @Option(name = "-r", aliases = "--recursive", description = "Also checkpoint the descendants of the attached processes")
    boolean recursive;

    @Reference
    PartitionService partitions;

    @Override
    public Object execute() {
        CheckpointResult r = partitions.checkpoint(oid, recursive);
        System.out.println("Checkpoint of partition " + r.oid() + ": epoch " + r.epoch() + ", " + r.processes()
                + " process(es), " + Format.bytes(r.pageBytes()) + " of pages, stop time " + Format.nanos(r.stopNanos())
                + ", total " + Format.nanos(r.durationNanos()));
        return null;
    }
}
