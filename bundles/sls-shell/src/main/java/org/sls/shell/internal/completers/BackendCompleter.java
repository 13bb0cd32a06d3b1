package org.sls.shell.internal.completers;

import java.util.List;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.api.console.CommandLine;
import org.apache.karaf.shell.api.console.Completer;
import org.apache.karaf.shell.api.console.Session;
import org.apache.karaf.shell.support.completers.StringsCompleter;
import org.sls.api.PartitionService;

/** Completes the names of the backends registered right now. */
@Service
public class BackendCompleter implements Completer {

    @Reference
    PartitionService partitions;

    @Override
    public int complete(Session session, CommandLine commandLine, List<String> candidates) {
        return new StringsCompleter(partitions.info().backends()).complete(session, commandLine, candidates);
    }
}
