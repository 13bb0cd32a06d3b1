package org.sls.backend.slos.internal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.sls.api.image.MemoryRegion;
import org.sls.api.image.PageRun;

/**
 * Composes the page segments of a delta chain into one self-contained view: newer layers replace
 * older ones page by page, and only pages inside the newest image's memory regions are kept (a
 * region unmapped since is not carried forward). Used to fold a kept delta epoch whose parent
 * retention removes; no page data moves, the folded epoch references the same store ranges.
 */
final class SegmentOverlay {

    private static final int PAGE = PageRun.PAGE_SIZE;

    private final TreeMap<Long, Segment> byAddress = new TreeMap<>();

    /** Lays {@code segments} over what is there; {@code own} marks what the folded epoch wrote itself. */
    void overlay(List<Segment> segments, boolean own) {
        for (Segment s : segments) {
            cut(s.address(), s.address() + s.length());
            Segment placed = own == s.own() ? s : new Segment(s.address(), s.pageCount(), s.storeOffset(), s.pageCrcs(),
                    own && s.own());
            byAddress.put(placed.address(), placed);
        }
    }

    /** Removes [from, to) from the view, keeping the parts of segments outside it. */
    private void cut(long from, long to) {
        Map.Entry<Long, Segment> before = byAddress.lowerEntry(from);
        if (before != null && end(before.getValue()) > from) {
            Segment s = before.getValue();
            byAddress.put(s.address(), slice(s, 0, (from - s.address()) / PAGE));
            if (end(s) > to) {
                Segment right = slice(s, (to - s.address()) / PAGE, (end(s) - to) / PAGE);
                byAddress.put(right.address(), right);
            }
        }
        Map.Entry<Long, Segment> e = byAddress.ceilingEntry(from);
        while (e != null && e.getKey() < to) {
            Segment s = e.getValue();
            byAddress.remove(e.getKey());
            if (end(s) > to) {
                Segment right = slice(s, (to - s.address()) / PAGE, (end(s) - to) / PAGE);
                byAddress.put(right.address(), right);
            }
            e = byAddress.ceilingEntry(from);
        }
    }

    /** The composed segments inside the regions (all of them when there are no regions), by address. */
    List<Segment> within(List<MemoryRegion> regions) {
        List<Segment> out = new ArrayList<>();
        if (regions.isEmpty()) {
            out.addAll(byAddress.values());
            return out;
        }
        List<MemoryRegion> sorted = new ArrayList<>(regions);
        sorted.sort((a, b) -> Long.compare(a.start(), b.start()));
        for (Segment s : byAddress.values()) {
            for (MemoryRegion r : sorted) {
                long a = Math.max(s.address(), r.start());
                long b = Math.min(end(s), r.end());
                if (a < b) {
                    out.add(slice(s, (a - s.address()) / PAGE, (b - a) / PAGE));
                }
            }
        }
        return out;
    }

    private static long end(Segment s) {
        return s.address() + s.length();
    }

    static Segment slice(Segment s, long fromPage, long pages) {
        if (fromPage == 0 && pages == s.pageCount()) {
            return s;
        }
        int from = Math.toIntExact(fromPage);
        return new Segment(s.address() + fromPage * PAGE, pages, s.storeOffset() + fromPage * PAGE,
                Arrays.copyOfRange(s.pageCrcs(), from, from + Math.toIntExact(pages)), s.own());
    }
}
