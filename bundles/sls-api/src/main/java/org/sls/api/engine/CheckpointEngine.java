package org.sls.api.engine;

import java.util.List;
import java.util.Map;
import org.sls.api.RestoredProcess;

/**
 * The capture/restore engine (native, in sls-native). Registered only when it loaded and passed its
 * version handshake; when absent, every checkpoint and restore says so.
 */
public interface CheckpointEngine {

    String version();

    /** Kernel features detected at start (name to "yes", "no" or a detail). */
    Map<String, String> kernelFeatures();

    /** Freezes, captures, thaws. On failure the processes keep running unharmed and nothing is returned. */
    CaptureResult capture(CaptureSpec spec);

    /**
     * Drops the dirty-page tracking kept for these processes (their partition forgot them, or an epoch
     * captured as a delta was not stored): their next delta capture is complete. Engines that keep no
     * tracking have nothing to drop.
     */
    default void forgetTracking(List<Integer> pids) {
    }

    /** Rebuilds every process; on failure nothing of them is left behind. */
    List<RestoredProcess> restore(RestoreSpec spec);
}
