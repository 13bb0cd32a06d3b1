package org.sls.backend.slos.internal;

import java.time.Instant;
import org.sls.api.CaptureMode;
import org.sls.api.EpochInfo;

/**
 * What the catalog knows about one committed epoch: its summary, where its record is, and every
 * store range its pages use (its own and the ones it shares with older epochs), so that free space
 * can be derived from the catalog alone without reading records.
 *
 * @param pageRanges {offset, length} pairs, coalesced
 */
record EpochEntry(long oid, long epoch, long parentEpoch, CaptureMode mode, long timeMillis, long stopNanos,
                  int processes, long sizeBytes, long pageBytes, long recordOffset, long recordLength, int recordCrc,
                  long[] pageRanges) {

    EpochInfo toInfo() {
        return new EpochInfo(oid, epoch, Instant.ofEpochMilli(timeMillis), mode, parentEpoch, processes, sizeBytes,
                pageBytes, stopNanos);
    }

    void addRangesTo(ExtentSet set) {
        set.add(recordOffset, Layout.roundUp(recordLength));
        for (int i = 0; i + 1 < pageRanges.length; i += 2) {
            set.add(pageRanges[i], pageRanges[i + 1]);
        }
    }
}
