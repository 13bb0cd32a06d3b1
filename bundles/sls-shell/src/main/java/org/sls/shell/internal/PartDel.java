package org.sls.shell.internal;

import org.apache.karaf.shell.api.action.Action;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.sls.api.PartitionService;
import org.sls.shell.internal.completers.OidCompleter;

@Service
@Command(scope = "sls", name = "partdel", description = "Deletes a partition and every epoch it stored; its processes keep running")
public class PartDel implements Action {

    @Option(name = "-o", aliases = "--oid", required = true, description = "Object ID of the partition")
    @Completion(OidCompleter.class)
    long oid;

    @Reference
    PartitionService partitions;

    @Override
    public Object execute() {
        partitions.partdel(oid);
        System.out.println("Partition " + oid + " deleted");
        return null;
    }
}
