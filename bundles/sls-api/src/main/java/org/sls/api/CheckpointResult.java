package org.sls.api;

/** What one checkpoint did; returned only after the backend committed the epoch. */
public record CheckpointResult(long oid, long epoch, int processes, long pageBytes,
                               long stopNanos, long durationNanos) {
}
