package org.sls.shell.internal;

import org.apache.karaf.shell.api.action.Action;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.sls.api.PartitionService;
import org.sls.shell.internal.completers.OidCompleter;
import org.sls.shell.internal.completers.PidCompleter;

@Service
@Command(scope = "sls", name = "detach", description = "Takes a process out of a partition; it keeps running and is no longer checkpointed")
public class Detach implements Action {

    @Option(name = "-o", aliases = "--oid", required = true, description = "Object ID of the partition")
    @Completion(OidCompleter.class)
    long oid;

    @Option(name = "-p", aliases = "--pid", required = true, description = "PID of the attached process")
    @Completion(PidCompleter.class)
    int pid;

    @Reference
    PartitionService partitions;

    @Override
    public Object execute() {
        partitions.detach(oid, pid);
        System.out.println("Process " + pid + " detached from partition " + oid);
        return null;
    }
}
