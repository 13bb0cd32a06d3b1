package org.sls.api.engine;

import java.util.List;

/**
 * @param detached terminal stdin/stdout/stderr go to /dev/null and the processes get a new session
 * @param force restore even if a file changed since the checkpoint
 */
public record RestoreSpec(List<RestoreProcess> processes, boolean detached, boolean force) {
    public RestoreSpec {
        processes = List.copyOf(processes);
    }
}
