package org.sls.shell.internal;

import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import org.apache.karaf.shell.api.action.Action;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Completion;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.support.table.ShellTable;
import org.sls.api.EpochInfo;
import org.sls.api.PartitionService;
import org.sls.shell.internal.completers.OidCompleter;

@Service
@Command(scope = "sls", name = "listsnaps", description = "Lists the committed epochs (checkpoints) of a partition")
public class ListSnaps implements Action {

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS").withZone(ZoneId.systemDefault());

    @Option(name = "-o", aliases = "--oid", required = true, description = "Object ID of the partition")
    @Completion(OidCompleter.class)
    long oid;

    @Option(name = "--no-format", description = "Plain output for scripts (no table borders)")
    boolean noFormat;

    @Reference
    PartitionService partitions;

    @Override
    public Object execute() {
        ShellTable table = new ShellTable();
        table.column("Epoch").alignRight();
        table.column("Time");
        table.column("Mode");
        table.column("Parent").alignRight();
        table.column("Processes").alignRight();
        table.column("Pages").alignRight();
        table.column("Stored").alignRight();
        table.column("Stop time").alignRight();
        for (EpochInfo e : partitions.epochs(oid)) {
            table.addRow().addContent(e.epoch(), TIME.format(e.time()), e.mode().strategyName(),
                    e.parentEpoch() < 0 ? "-" : Long.toString(e.parentEpoch()), e.processes(),
                    Format.bytes(e.pageBytes()), Format.bytes(e.sizeBytes()), Format.nanos(e.stopNanos()));
        }
        table.print(System.out, !noFormat);
        return null;
    }
}
