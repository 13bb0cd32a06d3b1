package org.sls.backend.slos.internal;

import org.sls.api.image.PageRun;

/**
 * Consecutive pages of one process stored consecutively in the store, with the CRC32C of every
 * page. {@code own} says whether this epoch wrote them or shares them with an older epoch of the
 * same process (identical content at the same address).
 */
record Segment(long address, long pageCount, long storeOffset, int[] pageCrcs, boolean own) {

    long length() {
        return pageCount * PageRun.PAGE_SIZE;
    }

    /** The CRC of the page at {@code address + i * PAGE_SIZE}. */
    int crcAt(long i) {
        return pageCrcs[(int) i];
    }
}
