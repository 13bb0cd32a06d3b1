package org.sls.shell.internal;

import java.util.Map;
import java.util.TreeMap;
import org.apache.karaf.shell.api.action.Action;
import org.apache.karaf.shell.api.action.Command;
import org.apache.karaf.shell.api.action.Option;
import org.apache.karaf.shell.api.action.lifecycle.Reference;
import org.apache.karaf.shell.api.action.lifecycle.Service;
import org.apache.karaf.shell.support.table.ShellTable;
import org.sls.api.PartitionService;
import org.sls.api.SystemInfo;

@Service
@Command(scope = "sls", name = "info", description = "Shows the engine, the kernel features it found, and the backends and capture strategies present")
public class Info implements Action {

    @Option(name = "--no-format", description = "Plain output for scripts (no table borders)")
    boolean noFormat;

    @Reference
    PartitionService partitions;

    @Override
    public Object execute() {
        SystemInfo info = partitions.info();
        ShellTable table = new ShellTable();
        table.column("Item");
        table.column("Value");
        table.addRow().addContent("engine", info.engineVersion() == null ? "not available" : info.engineVersion());
        table.addRow().addContent("backends", info.backends().isEmpty() ? "none" : String.join(", ", info.backends()));
        table.addRow().addContent("capture strategies", info.strategies().isEmpty() ? "none" : String.join(", ", info.strategies()));
        table.addRow().addContent("dirty tracking available",
                info.trackingAvailable().isEmpty() ? "unknown" : String.join(", ", info.trackingAvailable()));
        table.addRow().addContent("dirty tracking auto picks", info.trackingAuto() == null ? "unknown" : info.trackingAuto());
        table.addRow().addContent("shadowing", info.shadowing());
        for (Map.Entry<String, String> f : new TreeMap<>(info.kernelFeatures()).entrySet()) {
            table.addRow().addContent("kernel: " + f.getKey(), f.getValue());
        }
        table.print(System.out, !noFormat);
        return null;
    }
}
