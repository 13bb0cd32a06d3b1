package org.sls.api.image;

import java.nio.file.Path;

/**
 * Where restore finds page contents: {@code length} bytes for virtual {@code address} are at
 * {@code fileOffset} in {@code file} (a backend's store or page file, read with pread by the engine,
 * never through Java objects).
 */
public record PageSegment(long address, long length, Path file, long fileOffset) {
}
