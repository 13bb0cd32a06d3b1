package org.sls.backend.slos.internal;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;
import org.sls.api.EpochInfo;
import org.sls.api.SlsException;
import org.sls.api.spi.CheckpointBackend;
import org.sls.api.spi.EpochWriter;
import org.sls.api.spi.StoredEpoch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * CheckpointBackend "slos". Activation opens the store (creating it on first use); deactivation
 * (bundle stop, update, configuration change) aborts writers in progress and closes it, so every
 * committed epoch is there again on the next activation.
 */
@Component(service = CheckpointBackend.class, property = CheckpointBackend.PROPERTY + "=slos",
        configurationPid = "org.sls.backend.slos")
@Designate(ocd = SlosConfiguration.class)
public final class SlosBackend implements CheckpointBackend, SlosStore {

    private static final Logger LOG = LoggerFactory.getLogger(SlosBackend.class);

    private final Store store;

    @Activate
    public SlosBackend(SlosConfiguration config) {
        this.store = Store.open(options(config));
        Store.Stats s = store.stats();
        LOG.info("SLOS store {} open: generation {}, {} of {} bytes free", store.path(), s.generation(), s.freeBytes(),
                s.capacityBytes());
    }

    /** For tests and tools: a backend over an already opened store. */
    SlosBackend(Store store) {
        this.store = store;
    }

    static Store.Options options(SlosConfiguration config) {
        Path storePath = config.storePath().isBlank() ? defaultStorePath() : Path.of(config.storePath());
        if (config.storeSizeMb() < 1) {
            throw new SlsException("SLOS storeSizeMb must be at least 1, got " + config.storeSizeMb());
        }
        Path pageDir = config.pageDir().isBlank() ? defaultPageDir(storePath) : Path.of(config.pageDir());
        return new Store.Options(storePath, config.storeSizeMb() << 20, config.retainEpochs(), pageDir,
                config.verifyOnRestore(), StoreFile.NO_OBSERVER);
    }

    static Path defaultStorePath() {
        String data = System.getProperty("karaf.data");
        Path base = data == null || data.isBlank() ? Path.of(System.getProperty("java.io.tmpdir")) : Path.of(data);
        return base.resolve("sls").resolve("slos.store");
    }

    /** Page files live on tmpfs when there is one: they are transient and read right back. */
    static Path defaultPageDir(Path storePath) {
        Path shm = Path.of("/dev/shm");
        if (Files.isDirectory(shm) && Files.isWritable(shm)) {
            return shm.resolve("sls-slos-pages");
        }
        return storePath.toAbsolutePath().getParent().resolve("slos-pages");
    }

    @Deactivate
    void deactivate() {
        store.close();
        LOG.info("SLOS store {} closed", store.path());
    }

    Store store() {
        return store;
    }

    @Override
    public String name() {
        return "slos";
    }

    @Override
    public boolean persistent() {
        return true;
    }

    @Override
    public EpochWriter beginEpoch(long oid, long epoch) {
        return store.beginEpoch(oid, epoch);
    }

    @Override
    public List<EpochInfo> epochs(long oid) {
        return store.epochs(oid);
    }

    @Override
    public StoredEpoch open(long oid, long epoch) {
        return store.openEpoch(oid, epoch);
    }

    @Override
    public void deleteEpoch(long oid, long epoch) {
        store.deleteEpoch(oid, epoch);
    }

    @Override
    public void deletePartition(long oid) {
        store.deletePartition(oid);
    }

    /** Checks records and every page extent against their CRC32C, without building images. */
    @Override
    public List<String> verify(long oid) {
        return store.verify(oid);
    }

    @Override
    public List<String> verifyAll() {
        return store.verifyAll();
    }

    /** Both metadata slots: damage there belongs to no partition, so sls:verify asks for it separately. */
    @Override
    public List<String> verifyStore() {
        return store.verifyMetadata();
    }
}
