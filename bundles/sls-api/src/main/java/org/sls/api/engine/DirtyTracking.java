package org.sls.api.engine;

/**
 * How a capture relates to the previous one of the same processes. {@link #NONE}: a complete image.
 * The others ask for a delta (only pages written since the previous delta capture of each process)
 * and name the mechanism the engine uses for processes it starts tracking: {@link #AUTO} picks the
 * best the kernel has (userfaultfd write-protect, else soft-dirty, else page digests).
 */
public enum DirtyTracking {
    NONE, AUTO, SOFT_DIRTY, UFFD, DIGEST
}
