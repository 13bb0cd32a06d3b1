package org.sls.backend.slos.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sls.backend.slos.internal.Epochs.commit;
import static org.sls.backend.slos.internal.Epochs.proc;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sls.api.EpochInfo;
import org.sls.api.SlsException;
import org.sls.api.spi.EpochWriter;
import org.sls.api.spi.StoredEpoch;
import org.sls.backend.slos.internal.Epochs.Proc;

/** Failures around the store: interrupted threads, a file system that runs out of space. */
class SlosFailureTest {

    @TempDir
    Path dir;

    @Test
    void anInterruptedCheckpointFailsAloneAndTheStoreStaysUsable() throws Exception {
        Path storePath = dir.resolve("slos.store");
        Proc first = proc(100, 0x400000, 16, 1);
        try (Store s = Store.open(Epochs.options(storePath, 64L << 20, 16))) {
            commit(s::beginEpoch, 1, 1, -1, List.of(first));
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread t = new Thread(() -> {
                try (EpochWriter w = s.beginEpoch(1, 2)) {
                    var record = Epochs.record(w, 1, 2, -1, List.of(proc(100, 0x400000, 16, 2)));
                    Thread.currentThread().interrupt();
                    w.commit(record);
                } catch (Throwable e) {
                    failure.set(e);
                }
            });
            t.start();
            t.join();
            assertTrue(failure.get() instanceof SlsException, "interrupted commit: " + failure.get());
            commit(s::beginEpoch, 1, 3, -1, List.of(proc(100, 0x400000, 16, 3)));
            assertEquals(List.of(1L, 3L), s.epochs(1).stream().map(EpochInfo::epoch).toList());
            assertEquals(List.of(), s.verifyAll());
            try (StoredEpoch e = s.openEpoch(1, 1)) {
                assertTrue(Epochs.samePages(first.pages(), Epochs.readPages(e, 100)));
            }
        }
    }

    /** Needs root and a free loop device; skipped elsewhere. */
    @Test
    void aRawBlockDeviceIsUsedWholeAndHoldsItsEpochsAcrossReopen() throws Exception {
        Path image = dir.resolve("disk.img");
        try (var f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(8L << 20);
        }
        Process attach = new ProcessBuilder("losetup", "-f", "--show", image.toString()).start();
        String device = new String(attach.getInputStream().readAllBytes()).trim();
        Assumptions.assumeTrue(attach.waitFor() == 0 && device.startsWith("/dev/loop"),
                "cannot attach a loop device (needs root)");
        try {
            Path dev = Path.of(device);
            Proc first = proc(100, 0x400000, 64, 1);
            try (Store s = Store.open(Epochs.options(dev, 1L << 40, 16))) {
                assertEquals(8L << 20, s.capacity(), "a device's size is its capacity, whatever is configured");
                commit(s::beginEpoch, 1, 1, -1, List.of(first));
                SlsException full = assertThrows(SlsException.class,
                        () -> commit(s::beginEpoch, 1, 2, -1, List.of(proc(100, 0x400000, 4096, 2))));
                assertTrue(full.getMessage().contains("is full"), full.getMessage());
            }
            try (Store s = Store.open(Epochs.options(dev, 1L << 40, 16))) {
                assertEquals(List.of(1L), s.epochs(1).stream().map(EpochInfo::epoch).toList());
                try (StoredEpoch e = s.openEpoch(1, 1)) {
                    assertTrue(Epochs.samePages(first.pages(), Epochs.readPages(e, 100)));
                }
            }
        } finally {
            new ProcessBuilder("losetup", "-d", device).start().waitFor();
        }
    }

    /** Needs root to mount a 2 MiB tmpfs; skipped elsewhere. */
    @Test
    void aFullFileSystemFailsTheCheckpointCleanlyAndKeepsOlderEpochs() throws Exception {
        Path mount = dir.resolve("small");
        Files.createDirectories(mount);
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mount.toString())
                .redirectErrorStream(true).start();
        Assumptions.assumeTrue(p.waitFor() == 0, "cannot mount a small tmpfs (needs root)");
        try {
            Path storePath = mount.resolve("slos.store");
            Proc first = proc(100, 0x400000, 64, 1);
            try (Store s = Store.open(new Store.Options(storePath, 64L << 20, 16, dir.resolve("pages"), true,
                    StoreFile.NO_OBSERVER))) {
                commit(s::beginEpoch, 1, 1, -1, List.of(first));
                SlsException e = assertThrows(SlsException.class,
                        () -> commit(s::beginEpoch, 1, 2, -1, List.of(proc(100, 0x400000, 1024, 2))));
                assertTrue(e.getMessage().contains(storePath.toString()) && e.getMessage().contains("No space left")
                        && e.getMessage().contains("4194304 bytes"), e.getMessage());
                assertEquals(List.of(1L), s.epochs(1).stream().map(EpochInfo::epoch).toList());
            }
            try (Store s = Store.open(Epochs.options(storePath, 64L << 20, 16))) {
                assertEquals(List.of(1L), s.epochs(1).stream().map(EpochInfo::epoch).toList());
                try (StoredEpoch e = s.openEpoch(1, 1)) {
                    assertTrue(Epochs.samePages(first.pages(), Epochs.readPages(e, 100)));
                }
                assertEquals(List.of(), s.verifyAll());
            }
        } finally {
            new ProcessBuilder("umount", mount.toString()).start().waitFor();
        }
    }
}
