package org.sls.shell.internal.completers;

import java.util.List;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.api.console.CommandLine;
import org.apache.karaf.shell.api.console.Completer;
import org.apache.karaf.shell.api.console.Session;
import org.apache.karaf.shell.support.completers.StringsCompleter;
import org.sls.api.PartitionService;

/** Completes the OIDs of existing partitions. */
@Service
public class OidCompleter implements Completer {

    @Reference
    PartitionService partitions;

    @Override
    public int complete(Session session, CommandLine commandLine, List<String> candidates) {
        StringsCompleter delegate = new StringsCompleter();
        partitions.partitions().forEach(p -> delegate.getStrings().add(Long.toString(p.oid())));
        return delegate.complete(session, commandLine, candidates);
    }
}
