package org.sls.api.image;

/**
 * Consecutive captured pages: {@code pageCount} pages starting at virtual {@code address}, stored
 * contiguously at {@code dataOffset} in the page file the capture wrote.
 */
public record PageRun(long address, long pageCount, long dataOffset) {
    public static final int PAGE_SIZE = 4096;

    public long length() {
        return pageCount * PAGE_SIZE;
    }
}
