package org.sls.api;

import java.util.List;

public record RestoreResult(long oid, long epoch, List<RestoredProcess> processes) {
    public RestoreResult {
        processes = List.copyOf(processes);
    }
}
