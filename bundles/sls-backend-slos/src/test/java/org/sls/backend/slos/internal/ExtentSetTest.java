package org.sls.backend.slos.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.BitSet;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** ExtentSet against a bitmap model: one unit = one block. */
class ExtentSetTest {

    @Test
    void addRemoveAndGapsAgreeWithABitmapModel() {
        Random random = new Random(7);
        for (int round = 0; round < 200; round++) {
            ExtentSet set = new ExtentSet();
            BitSet model = new BitSet();
            for (int op = 0; op < 200; op++) {
                int start = random.nextInt(300);
                int length = 1 + random.nextInt(40);
                if (random.nextInt(3) == 0) {
                    set.remove(start, length);
                    model.clear(start, start + length);
                } else {
                    set.add(start, length);
                    model.set(start, start + length);
                }
                assertEquals(model.cardinality(), set.bytes(), "bytes after op " + op);
                long[] pairs = set.toPairs();
                BitSet fromPairs = new BitSet();
                for (int i = 0; i < pairs.length; i += 2) {
                    fromPairs.set((int) pairs[i], (int) (pairs[i] + pairs[i + 1]));
                }
                assertEquals(model, fromPairs, "ranges after op " + op);
                int low = random.nextInt(100);
                int high = low + random.nextInt(400);
                int wanted = 1 + random.nextInt(30);
                long[] gap = set.findGap(low, high, wanted);
                int firstFit = -1;
                int largest = 0;
                for (int i = low; i < high; ) {
                    if (model.get(i)) {
                        i++;
                        continue;
                    }
                    int j = i;
                    while (j < high && !model.get(j)) {
                        j++;
                    }
                    if (j - i >= wanted && firstFit < 0) {
                        firstFit = i;
                    }
                    largest = Math.max(largest, j - i);
                    i = j;
                }
                if (firstFit >= 0) {
                    assertEquals(firstFit, gap[0], "first fit");
                    assertEquals(wanted, gap[1]);
                } else if (largest == 0) {
                    assertEquals(null, gap);
                } else {
                    assertEquals(largest, gap[1], "largest gap");
                    assertEquals(0, model.get((int) gap[0], (int) (gap[0] + gap[1])).cardinality());
                }
                assertEquals(high - low - model.get(low, high).cardinality(), set.gapBytes(low, high));
            }
        }
    }
}
