package org.sls.api.engine;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * One capture for the engine: freeze {@code pids} (with {@code recursive}, their descendants too),
 * take their state and pages into {@code pageFile}, thaw. With {@code tracking} other than
 * {@link DirtyTracking#NONE} the engine takes only the pages written since its previous delta capture
 * of these processes when it can, and says in {@link CaptureResult#delta()} whether it did. With
 * {@code shadow} (delta with userfaultfd tracking only) the pages are copied after the thaw under
 * synchronous write-protect.
 */
public record CaptureSpec(List<Integer> pids, boolean recursive, Path pageFile, DirtyTracking tracking,
                          boolean shadow) {
    public CaptureSpec {
        pids = List.copyOf(pids);
        Objects.requireNonNull(tracking, "tracking");
        if (shadow && tracking == DirtyTracking.NONE) {
            throw new IllegalArgumentException("shadowing needs a delta capture (tracking other than NONE)");
        }
    }

    /** Without shadowing. */
    public CaptureSpec(List<Integer> pids, boolean recursive, Path pageFile, DirtyTracking tracking) {
        this(pids, recursive, pageFile, tracking, false);
    }

    /** A complete capture: every present page. */
    public CaptureSpec(List<Integer> pids, boolean recursive, Path pageFile) {
        this(pids, recursive, pageFile, DirtyTracking.NONE, false);
    }
}
