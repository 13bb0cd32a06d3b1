package org.sls.core.internal;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.sls.api.image.MemoryRegion;
import org.sls.api.image.PageSegment;

/**
 * Composes the page segments of a delta chain into one set for restore: the newest version of each
 * byte wins, and nothing outside the newest epoch's memory map is kept (a page of a region unmapped
 * since an older epoch must not be written into the restored process).
 */
final class PageComposer {

    private PageComposer() {
    }

    /**
     * @param layersNewestFirst per epoch of the chain, newest first, the segments it stored itself
     * @param regions the memory map of the newest epoch
     */
    static List<PageSegment> compose(List<List<PageSegment>> layersNewestFirst, List<MemoryRegion> regions) {
        // covered: start -> end of address ranges already taken from a newer layer (disjoint, sorted)
        TreeMap<Long, Long> covered = new TreeMap<>();
        List<PageSegment> out = new ArrayList<>();
        for (List<PageSegment> layer : layersNewestFirst) {
            List<PageSegment> taken = new ArrayList<>();
            for (PageSegment s : layer) {
                for (long[] piece : uncovered(covered, s.address(), s.address() + s.length())) {
                    for (long[] clipped : clip(regions, piece[0], piece[1])) {
                        long delta = clipped[0] - s.address();
                        taken.add(new PageSegment(clipped[0], clipped[1] - clipped[0], s.file(), s.fileOffset() + delta));
                    }
                }
            }
            for (PageSegment s : taken) {
                add(covered, s.address(), s.address() + s.length());
            }
            out.addAll(taken);
        }
        out.sort(Comparator.comparingLong(PageSegment::address));
        return out;
    }

    private static List<long[]> uncovered(TreeMap<Long, Long> covered, long start, long end) {
        List<long[]> pieces = new ArrayList<>();
        long cur = start;
        Map.Entry<Long, Long> e = covered.floorEntry(cur);
        if (e != null && e.getValue() > cur) {
            cur = e.getValue();
        }
        while (cur < end) {
            Map.Entry<Long, Long> next = covered.ceilingEntry(cur);
            long stop = next == null ? end : Math.min(end, next.getKey());
            if (stop > cur) {
                pieces.add(new long[] {cur, stop});
            }
            if (next == null || next.getKey() >= end) {
                break;
            }
            cur = next.getValue();
        }
        return pieces;
    }

    private static List<long[]> clip(List<MemoryRegion> regions, long start, long end) {
        List<long[]> pieces = new ArrayList<>();
        for (MemoryRegion r : regions) {
            long s = Math.max(start, r.start());
            long e = Math.min(end, r.end());
            if (s < e) {
                pieces.add(new long[] {s, e});
            }
        }
        return pieces;
    }

    private static void add(TreeMap<Long, Long> covered, long start, long end) {
        Map.Entry<Long, Long> before = covered.floorEntry(start);
        if (before != null && before.getValue() >= start) {
            start = before.getKey();
            end = Math.max(end, before.getValue());
            covered.remove(before.getKey());
        }
        Map.Entry<Long, Long> next = covered.ceilingEntry(start);
        while (next != null && next.getKey() <= end) {
            end = Math.max(end, next.getValue());
            covered.remove(next.getKey());
            next = covered.ceilingEntry(start);
        }
        covered.put(start, end);
    }
}
