package org.sls.backend.slos.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.sls.backend.slos.internal.Epochs.proc;

import java.lang.annotation.Annotation;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sls.api.EpochInfo;
import org.sls.api.SlsException;
import org.sls.api.spi.EpochWriter;
import org.sls.api.spi.StoredEpoch;
import org.sls.backend.slos.internal.Epochs.Proc;

/** The DS component's life cycle as Karaf drives it: activate, deactivate, activate again. */
class SlosBackendTest {

    @TempDir
    Path dir;

    private SlosConfiguration config(String storePath) {
        return new SlosConfiguration() {
            @Override
            public Class<? extends Annotation> annotationType() {
                return SlosConfiguration.class;
            }

            @Override
            public String storePath() {
                return storePath;
            }

            @Override
            public long storeSizeMb() {
                return 64;
            }

            @Override
            public int retainEpochs() {
                return 16;
            }

            @Override
            public String pageDir() {
                return dir.resolve("pages").toString();
            }

            @Override
            public boolean verifyOnRestore() {
                return true;
            }
        };
    }

    @Test
    void restartingTheComponentKeepsEveryCommittedEpochAndAbortsAWriterInProgress() {
        String path = dir.resolve("data/sls/slos.store").toString();
        Proc p = proc(100, 0x400000, 8, 1);
        SlosBackend backend = new SlosBackend(config(path));
        assertEquals("slos", backend.name());
        assertTrue(backend.persistent());
        Epochs.commit(backend::beginEpoch, 11, 1, -1, List.of(p));
        EpochWriter inProgress = backend.beginEpoch(11, 2);
        var record = Epochs.record(inProgress, 11, 2, -1, List.of(proc(100, 0x400000, 8, 2)));
        backend.deactivate();
        assertThrows(SlsException.class, () -> inProgress.commit(record));

        SlosBackend again = new SlosBackend(config(path));
        try {
            assertEquals(List.of(1L), again.epochs(11).stream().map(EpochInfo::epoch).toList());
            try (StoredEpoch e = again.open(11, 1)) {
                assertTrue(Epochs.samePages(p.pages(), Epochs.readPages(e, 100)));
            }
            assertEquals(List.of(), again.verify(11));
            assertEquals(List.of(), again.verifyAll());
            again.deletePartition(11);
            assertEquals(List.of(), again.epochs(11));
        } finally {
            again.deactivate();
        }
    }

    @Test
    void theDefaultStoreIsUnderKarafData() {
        String before = System.getProperty("karaf.data");
        System.setProperty("karaf.data", dir.toString());
        try {
            assertEquals(dir.resolve("sls/slos.store"), SlosBackend.defaultStorePath());
        } finally {
            if (before == null) {
                System.clearProperty("karaf.data");
            } else {
                System.setProperty("karaf.data", before);
            }
        }
    }
}
