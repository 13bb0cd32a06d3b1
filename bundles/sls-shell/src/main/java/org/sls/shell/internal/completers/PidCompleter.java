package org.sls.shell.internal.completers;

import java.util.List;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.api.console.CommandLine;
import org.apache.karaf.shell.api.console.Completer;
import org.apache.karaf.shell.api.console.Session;
import org.apache.karaf.shell.support.completers.StringsCompleter;

/** Completes the PIDs of live user processes (not this JVM). */
@Service
public class PidCompleter implements Completer {

    @Override
    public int complete(Session session, CommandLine commandLine, List<String> candidates) {
        long self = ProcessHandle.current().pid();
        StringsCompleter delegate = new StringsCompleter();
        ProcessHandle.allProcesses()
                .filter(p -> p.pid() != self && p.info().command().isPresent())
                .forEach(p -> delegate.getStrings().add(Long.toString(p.pid())));
        return delegate.complete(session, commandLine, candidates);
    }
}
