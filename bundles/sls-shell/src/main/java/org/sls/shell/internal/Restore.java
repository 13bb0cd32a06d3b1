package org.sls.shell.internal;

import org.apache.karaf.shell.api.action.Action;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.sls.api.PartitionService;
import org.sls.api.RestoreRequest;
import org.sls.api.RestoreResult;
import org.sls.api.RestoredProcess;
import org.sls.shell.internal.completers.OidCompleter;

@Service
@Command(scope = "sls", name = "restore", description = "Restores the processes of a partition from an epoch (the newest by default); prints the PID of every restored process")
public class Restore implements Action {

    @Option(name = "-o", aliases = "--oid", required = true, description = "Object ID of the partition")
    @Completion(OidCompleter.class)
    long oid;

    @Option(name = "-d", aliases = "--daemon", description = "Detach the restored processes from all terminals (stdio on a terminal goes to /dev/null)")
    boolean detached;

    @Option(name = "-e", aliases = "--epoch", description = "Epoch to restore (see sls:listsnaps; default: the newest)")
    long epoch = -1;

    @Option(name = "-f", aliases = "--force", description = "Restore even if a file the processes use changed since the checkpoint")
    boolean force;

    @Reference
    PartitionService partitions;

    @Override
    public Object execute() {
        RestoreResult r = partitions.restore(new RestoreRequest(oid, epoch, detached, force));
        for (RestoredProcess p : r.processes()) {
            System.out.println("Restored pid " + p.originalPid() + " as pid " + p.pid()
                    + (p.samePid() ? "" : " (new PID: " + p.originalPid() + " was taken)"));
        }
        return null;
    }
}
