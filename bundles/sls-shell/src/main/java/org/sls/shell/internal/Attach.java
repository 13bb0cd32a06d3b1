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
@Command(scope = "sls", name = "attach", description = "Puts a running process into a partition")
public class Attach implements Action {

    @Option(name = "-o", aliases = "--oid", required = true, description = "Object ID of the partition")
    @Completion(OidCompleter.class)
    long oid;

    @Option(name = "-p", aliases = "--pid", required = true, description = "PID of the process to attach")
    @Completion(PidCompleter.class)
    int pid;

    @Reference
    PartitionService partitions;

    @Override
    public Object execute() {
        partitions.attach(oid, pid);
        System.out.println("Process " + pid + " attached to partition " + oid);
        return null;
    }
}
