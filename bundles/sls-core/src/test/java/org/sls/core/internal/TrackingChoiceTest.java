package org.sls.core.internal;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sls.api.CaptureMode;
import org.sls.api.PartitionSpec;
import org.sls.api.SlsException;
import org.sls.api.engine.DirtyTracking;

/** A partition's tracking mechanism and shadowing: validated, checked against the engine, persisted. */
class TrackingChoiceTest {

    private static final Map<String, String> THIS_KERNEL = Map.of(
            "dirty_tracking", "uffd", "dirty_tracking_available", "uffd,digest", "soft_dirty", "no");

    @TempDir
    Path tmp;

    private static PartitionSpec delta(DirtyTracking t, boolean shadow) {
        return new PartitionSpec(7, "memory", CaptureMode.DELTA, 10, t, shadow);
    }

    @Test
    void oldConstructorGivesAutoForDeltaAndNoneForFull() {
        assertEquals(DirtyTracking.AUTO, new PartitionSpec(1, "memory", CaptureMode.DELTA, 0).tracking());
        assertEquals(DirtyTracking.NONE, new PartitionSpec(1, "memory", CaptureMode.FULL, 0).tracking());
        assertFalse(new PartitionSpec(1, "memory", CaptureMode.DELTA, 0).shadow());
    }

    @Test
    void trackingOrShadowOnAFullPartitionIsRefused() {
        assertEquals("dirty tracking (uffd) needs a delta partition (-d)", assertThrows(SlsException.class,
                () -> new PartitionSpec(1, "memory", CaptureMode.FULL, 0, DirtyTracking.UFFD, false)).getMessage());
        assertEquals("shadowing needs a delta partition (-d)", assertThrows(SlsException.class,
                () -> new PartitionSpec(1, "memory", CaptureMode.FULL, 0, DirtyTracking.NONE, true)).getMessage());
    }

    @Test
    void shadowWithDigestOrSoftDirtyIsRefused() {
        SlsException e = assertThrows(SlsException.class, () -> delta(DirtyTracking.DIGEST, true));
        assertEquals("shadowing works only with userfaultfd tracking (--tracking uffd or auto), not digest", e.getMessage());
        assertThrows(SlsException.class, () -> delta(DirtyTracking.SOFT_DIRTY, true));
        assertDoesNotThrow(() -> delta(DirtyTracking.UFFD, true));
        assertDoesNotThrow(() -> delta(DirtyTracking.AUTO, true));
    }

    @Test
    void aMechanismTheKernelLacksIsRefusedNamingWhatIsAvailable() {
        SlsException e = assertThrows(SlsException.class,
                () -> TrackingSupport.check(delta(DirtyTracking.SOFT_DIRTY, false), THIS_KERNEL));
        assertEquals("dirty tracking soft-dirty is not available on this kernel (available: uffd, digest; see sls:info)",
                e.getMessage());
        assertDoesNotThrow(() -> TrackingSupport.check(delta(DirtyTracking.DIGEST, false), THIS_KERNEL));
        assertDoesNotThrow(() -> TrackingSupport.check(delta(DirtyTracking.UFFD, true), THIS_KERNEL));
    }

    @Test
    void shadowingIsRefusedWhereAutoPicksDigestOrTheEngineSaysNo() {
        Map<String, String> noUffd = Map.of("dirty_tracking", "digest", "dirty_tracking_available", "digest");
        assertThrows(SlsException.class, () -> TrackingSupport.check(delta(DirtyTracking.AUTO, true), noUffd));
        assertTrue(TrackingSupport.shadowing(noUffd).startsWith("no ("));
        Map<String, String> saysNo = Map.of("dirty_tracking", "uffd", "dirty_tracking_available", "uffd,digest",
                "shadowing", "no (not built)");
        SlsException e = assertThrows(SlsException.class, () -> TrackingSupport.check(delta(DirtyTracking.UFFD, true), saysNo));
        assertEquals("shadowing is not available: not built", e.getMessage());
        assertEquals("yes", TrackingSupport.shadowing(Map.of("dirty_tracking_available", "uffd", "shadowing", "yes")));
    }

    @Test
    void infoSummarisesTheMechanisms() {
        assertEquals(List.of("uffd", "digest"), TrackingSupport.available(THIS_KERNEL));
        assertEquals("uffd", TrackingSupport.auto(THIS_KERNEL));
    }

    @Test
    void trackingAndShadowSurviveTheStoreAndOldListsLoadWithDefaults() throws IOException {
        PartitionStore store = new PartitionStore(tmp.resolve("partitions.properties"));
        Partition p = new Partition(delta(DirtyTracking.DIGEST, false));
        Partition q = new Partition(new PartitionSpec(8, "memory", CaptureMode.DELTA, 0, DirtyTracking.UFFD, true));
        store.save(List.of(p, q));
        List<PartitionStore.Entry> loaded = store.load();
        assertEquals(p.spec, loaded.get(0).spec());
        assertEquals(q.spec, loaded.get(1).spec());

        Path old = tmp.resolve("old.properties");
        Files.writeString(old, "partition.3.backend=slos\npartition.3.mode=delta\npartition.3.period=500\n"
                + "partition.4.backend=memory\npartition.4.mode=full\n");
        List<PartitionStore.Entry> before = new PartitionStore(old).load();
        assertEquals(new PartitionSpec(3, "slos", CaptureMode.DELTA, 500, DirtyTracking.AUTO, false), before.get(0).spec());
        assertEquals(new PartitionSpec(4, "memory", CaptureMode.FULL, 0, DirtyTracking.NONE, false), before.get(1).spec());
    }
}
