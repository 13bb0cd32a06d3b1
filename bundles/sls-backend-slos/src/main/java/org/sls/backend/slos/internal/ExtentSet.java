package org.sls.backend.slos.internal;

import java.util.Map;
import java.util.TreeMap;

/**
 * Disjoint byte ranges of the store, merged when they touch. Not thread-safe: the store guards it
 * with its metadata lock.
 */
final class ExtentSet {

    private final TreeMap<Long, Long> startToEnd = new TreeMap<>();

    void add(long start, long length) {
        if (length <= 0) {
            return;
        }
        long end = start + length;
        Map.Entry<Long, Long> before = startToEnd.floorEntry(start);
        if (before != null && before.getValue() >= start) {
            start = before.getKey();
            end = Math.max(end, before.getValue());
        }
        Map.Entry<Long, Long> next = startToEnd.ceilingEntry(start);
        while (next != null && next.getKey() <= end) {
            end = Math.max(end, next.getValue());
            startToEnd.remove(next.getKey());
            next = startToEnd.ceilingEntry(start);
        }
        startToEnd.put(start, end);
    }

    void addAll(ExtentSet other) {
        other.startToEnd.forEach((s, e) -> add(s, e - s));
    }

    void remove(long start, long length) {
        if (length <= 0) {
            return;
        }
        long end = start + length;
        Map.Entry<Long, Long> e = startToEnd.lowerEntry(end);
        while (e != null && e.getValue() > start) {
            long s0 = e.getKey();
            long e0 = e.getValue();
            startToEnd.remove(s0);
            if (s0 < start) {
                startToEnd.put(s0, start);
            }
            if (e0 > end) {
                startToEnd.put(end, e0);
            }
            e = startToEnd.lowerEntry(Math.min(s0, end));
        }
    }

    void removeAll(ExtentSet other) {
        other.startToEnd.forEach((s, e) -> remove(s, e - s));
    }

    ExtentSet copy() {
        ExtentSet c = new ExtentSet();
        c.startToEnd.putAll(startToEnd);
        return c;
    }

    /** Whether every byte of [start, start+length) is in the set. */
    boolean covers(long start, long length) {
        Map.Entry<Long, Long> e = startToEnd.floorEntry(start);
        return e != null && e.getValue() >= start + length;
    }

    boolean overlaps(long start, long length) {
        Map.Entry<Long, Long> e = startToEnd.lowerEntry(start + length);
        return e != null && e.getValue() > start;
    }

    long bytes() {
        long n = 0;
        for (Map.Entry<Long, Long> e : startToEnd.entrySet()) {
            n += e.getValue() - e.getKey();
        }
        return n;
    }

    long highestEnd() {
        return startToEnd.isEmpty() ? 0 : startToEnd.lastEntry().getValue();
    }

    int rangeCount() {
        return startToEnd.size();
    }

    /** Free bytes in [low, high) outside the set. */
    long gapBytes(long low, long high) {
        return Math.max(0, high - low) - clipped(low, high).bytes();
    }

    private ExtentSet clipped(long low, long high) {
        ExtentSet c = new ExtentSet();
        startToEnd.forEach((s, e) -> {
            long a = Math.max(s, low);
            long b = Math.min(e, high);
            if (a < b) {
                c.startToEnd.put(a, b);
            }
        });
        return c;
    }

    /**
     * A free range in [low, high) outside the set: the first gap holding {@code wanted} bytes, else the
     * largest gap (shorter than wanted); null when there is no gap at all. Returns {offset, length}.
     */
    long[] findGap(long low, long high, long wanted) {
        long cursor = low;
        long bestStart = -1;
        long bestLength = 0;
        for (Map.Entry<Long, Long> e : startToEnd.entrySet()) {
            long s = e.getKey();
            if (e.getValue() <= cursor) {
                continue;
            }
            if (s >= high) {
                break;
            }
            if (s > cursor) {
                long gap = s - cursor;
                if (gap >= wanted) {
                    return new long[] {cursor, wanted};
                }
                if (gap > bestLength) {
                    bestStart = cursor;
                    bestLength = gap;
                }
            }
            cursor = Math.max(cursor, e.getValue());
        }
        if (cursor < high) {
            long gap = high - cursor;
            if (gap >= wanted) {
                return new long[] {cursor, wanted};
            }
            if (gap > bestLength) {
                bestStart = cursor;
                bestLength = gap;
            }
        }
        return bestLength == 0 ? null : new long[] {bestStart, bestLength};
    }

    /** The ranges as {offset, length} pairs in one array (for serialization). */
    long[] toPairs() {
        long[] out = new long[startToEnd.size() * 2];
        int i = 0;
        for (Map.Entry<Long, Long> e : startToEnd.entrySet()) {
            out[i++] = e.getKey();
            out[i++] = e.getValue() - e.getKey();
        }
        return out;
    }

    static ExtentSet ofPairs(long[] pairs) {
        ExtentSet s = new ExtentSet();
        for (int i = 0; i + 1 < pairs.length; i += 2) {
            s.add(pairs[i], pairs[i + 1]);
        }
        return s;
    }
}
