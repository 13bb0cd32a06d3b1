package org.sls.backend.slos.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.sls.backend.slos.internal.Epochs.Proc;

/**
 * The deterministic checkpoint stream of the crash test: what every epoch holds, computable from
 * the epoch number alone, so the parent can check what a killed child committed.
 *
 * <p>Process 100: 24 pages at 0x400000; page i changes every (1 + i % 4) epochs, so successive
 * full epochs share most pages. Process 200: 4 + epoch % 6 pages at 0x7f0000000000, all new each
 * epoch. Every epoch whose number is not a multiple of 3 is a delta on the previous one carrying
 * only what changed (all of process 200).
 */
final class CrashContent {

    static final long OID = 42;
    static final int PAGES_100 = 24;

    private CrashContent() {
    }

    static boolean isDelta(long epoch, long previous) {
        return previous >= 1 && epoch % 3 != 0;
    }

    private static long version100(long epoch, int page) {
        return epoch / (1 + page % 4);
    }

    /** The whole memory of every process at this epoch. */
    static Map<Integer, TreeMap<Long, byte[]>> expected(long epoch) {
        TreeMap<Long, byte[]> p100 = new TreeMap<>();
        for (int i = 0; i < PAGES_100; i++) {
            p100.put(0x400000L + (long) i * Epochs.PAGE, Epochs.page(100_000_000L * i + version100(epoch, i)));
        }
        TreeMap<Long, byte[]> p200 = new TreeMap<>();
        for (int i = 0; i < 4 + epoch % 6; i++) {
            p200.put(0x7f0000000000L + (long) i * Epochs.PAGE, Epochs.page(epoch * 977 + i + 7_000_000_000L));
        }
        return Map.of(100, p100, 200, p200);
    }

    /** What the capture of this epoch hands the backend: everything, or for a delta what changed. */
    static List<Proc> captured(long epoch, long previous) {
        Map<Integer, TreeMap<Long, byte[]>> now = expected(epoch);
        List<Proc> out = new ArrayList<>();
        var map100 = Epochs.region(0x400000L, PAGES_100);
        var map200 = Epochs.region(0x7f0000000000L, now.get(200).size());
        if (!isDelta(epoch, previous)) {
            out.add(new Proc(100, now.get(100), map100));
            out.add(new Proc(200, now.get(200), map200));
            return out;
        }
        TreeMap<Long, byte[]> changed = new TreeMap<>();
        for (int i = 0; i < PAGES_100; i++) {
            if (version100(epoch, i) != version100(previous, i)) {
                long address = 0x400000L + (long) i * Epochs.PAGE;
                changed.put(address, now.get(100).get(address));
            }
        }
        out.add(new Proc(100, changed, map100));
        out.add(new Proc(200, now.get(200), map200));
        return out;
    }
}
