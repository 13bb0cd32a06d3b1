package org.sls.shell.internal;

import java.util.List;
import org.apache.karaf.shell.api.action.Action;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.sls.api.PartitionService;
import org.sls.api.SlsException;
import org.sls.shell.internal.completers.OidCompleter;

@Service
@Command(scope = "sls", name = "verify", description = "Checks every stored epoch (records and page data against their checksums) of one partition, or of all; fails if anything is damaged")
public class Verify implements Action {

    @Option(name = "-o", aliases = "--oid", description = "Object ID of the partition (default: every partition)")
    @Completion(OidCompleter.class)
    long oid = -1;

    @Reference
    PartitionService partitions;

    @Override
    public Object execute() {
        List<String> damage = partitions.verify(oid);
        String what = oid == -1 ? "all partitions" : "partition " + oid;
        if (damage.isEmpty()) {
            System.out.println("Verified " + what + ": no damage found");
            return null;
        }
        damage.forEach(System.out::println);
        throw new SlsException("verify " + what + ": " + damage.size() + " damaged object(s)");
    }
}
