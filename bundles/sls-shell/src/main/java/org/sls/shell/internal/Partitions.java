package org.sls.shell.internal;

import org.apache.karaf.shell.api.action.Action;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.support.table.ShellTable;
import org.sls.api.PartitionInfo;
import org.sls.api.PartitionService;

@Service
@Command(scope = "sls", name = "partitions", description = "Lists the partitions, their processes and checkpoint statistics")
public class Partitions implements Action {

    @Option(name = "--no-format", description = "Plain output for scripts (no table borders)")
    boolean noFormat;

    @Reference
    PartitionService partitions;

    @Override
    public Object execute() {
        ShellTable table = new ShellTable();
        table.column("OID").alignRight();
        table.column("Backend");
        table.column("Mode");
        table.column("Period").alignRight();
        table.column("State");
        table.column("PIDs");
        table.column("Epochs").alignRight();
        table.column("Skipped").alignRight();
        table.column("Last stop").alignRight();
        table.column("Last error");
        table.column("Tracking");
        table.column("Shadow");
        for (PartitionInfo p : partitions.partitions()) {
            table.addRow().addContent(p.oid(), p.spec().backend(), p.spec().mode().strategyName(),
                    Format.period(p.spec().periodMs()), p.state().label(), Format.pids(p.pids()), p.epochsTaken(),
                    p.epochsSkipped(), Format.nanos(p.lastStopNanos()), p.lastError() == null ? "-" : p.lastError(),
                    Format.tracking(p), Format.shadow(p));
        }
        table.print(System.out, !noFormat);
        return null;
    }
}
