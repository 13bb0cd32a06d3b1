package org.sls.core.internal;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;
import org.sls.api.CaptureMode;
import org.sls.api.CheckpointResult;
import org.sls.api.EpochInfo;
import org.sls.api.PartitionInfo;
import org.sls.api.PartitionService;
import org.sls.api.PartitionSpec;
import org.sls.api.PartitionState;
import org.sls.api.RestoreRequest;
import org.sls.api.RestoreResult;
import org.sls.api.RestoredProcess;
import org.sls.api.SlsException;
import org.sls.api.SystemInfo;
import org.sls.api.engine.CheckpointEngine;
import org.sls.api.engine.DirtyTracking;
import org.sls.api.engine.RestoreProcess;
import org.sls.api.engine.RestoreSpec;
import org.sls.api.image.CheckpointImage;
import org.sls.api.image.PageSegment;
import org.sls.api.image.ProcessImage;
import org.sls.api.spi.CaptureOutcome;
import org.sls.api.spi.CaptureRequest;
import org.sls.api.spi.CaptureStrategy;
import org.sls.api.spi.CheckpointBackend;
import org.sls.api.spi.EpochRecord;
import org.sls.api.spi.EpochWriter;
import org.sls.api.spi.StoredEpoch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The partition service: owns the partitions, resolves their backend and strategy by name at each
 * operation (so plug-ins may come and go), runs checkpoints and restores under the partition's lock.
 */
@Component(service = PartitionService.class, configurationPid = "org.sls.core")
@Designate(ocd = CoreConfig.class)
public class PartitionManager implements PartitionService {

    private static final Logger LOG = LoggerFactory.getLogger(PartitionManager.class);

    private final PluginRegistry<CheckpointBackend> backends = new PluginRegistry<>(CheckpointBackend.PROPERTY);
    private final PluginRegistry<CaptureStrategy> strategies = new PluginRegistry<>(CaptureStrategy.PROPERTY);
    private final Map<Long, Partition> partitions = new ConcurrentSkipListMap<>();
    /** Partitions whose periodic checkpoints found their backend missing: logged once, not per tick. */
    private final Map<Long, Boolean> pausedLogged = new ConcurrentHashMap<>();

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    volatile CheckpointEngine engine;

    private ProcessTable processes = ProcessTable.system();
    private PartitionStore store;
    private CheckpointScheduler scheduler;

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindBackend(CheckpointBackend backend, Map<String, Object> props) {
        String name = backends.bind(backend, props);
        LOG.info("SLS backend '{}' available", name);
        refreshEpochs(name);
    }

    void unbindBackend(CheckpointBackend backend, Map<String, Object> props) {
        LOG.info("SLS backend '{}' gone; its partitions are unavailable until it returns", backends.unbind(backend, props));
    }

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void bindStrategy(CaptureStrategy strategy, Map<String, Object> props) {
        strategies.bind(strategy, props);
    }

    void unbindStrategy(CaptureStrategy strategy, Map<String, Object> props) {
        strategies.unbind(strategy, props);
    }

    @Activate
    void activate(CoreConfig config) {
        String dir = config.stateDirectory();
        if (dir == null || dir.isBlank()) {
            dir = Path.of(System.getProperty("karaf.data", System.getProperty("java.io.tmpdir")), "sls").toString();
        }
        start(new PartitionStore(Path.of(dir, "partitions.properties")), ProcessTable.system(),
                Math.max(1, config.schedulerThreads()));
    }

    /** Starts with the given collaborators; used by activate and by tests. */
    void start(PartitionStore partitionStore, ProcessTable processTable, int schedulerThreads) {
        this.store = partitionStore;
        this.processes = processTable;
        this.scheduler = new CheckpointScheduler(schedulerThreads, new CheckpointScheduler.Job() {
            @Override
            public void run(long oid) {
                periodicCheckpoint(oid);
            }

            @Override
            public void skipped(long oid, long count) {
                Partition p = partitions.get(oid);
                if (p != null) {
                    p.epochsSkipped += count;
                }
            }
        });
        for (PartitionStore.Entry e : store.load()) {
            Partition p = new Partition(e.spec());
            p.epochsTaken = e.epochsTaken();
            p.epochsSkipped = e.epochsSkipped();
            for (int pid : e.pids()) {
                if (processes.isSame(pid, e.startTimeOf(pid))) {
                    // a list without start times: the live process is taken as the member from now on
                    p.addPid(pid, e.startTimeOf(pid) >= 0 ? e.startTimeOf(pid) : processes.startTime(pid));
                } else {
                    LOG.info("partition {}: process {} exited while SLS was down; detached", p.oid(), pid);
                }
            }
            partitions.put(p.oid(), p);
            refreshEpochs(p);
            if (p.spec.periodic()) {
                scheduler.start(p.oid(), p.spec.periodMs());
            }
        }
        LOG.info("SLS core started with {} partition(s) from {}", partitions.size(), store.file());
    }

    @Deactivate
    void deactivate() {
        scheduler.shutdown();
        CheckpointEngine tracking = engine;
        for (Partition p : partitions.values()) {
            if (tracking != null && p.restoredEpoch >= 0) {
                // which epoch the engine's trackers continue from is not saved: a core started later
                // would take their deltas as relative to the newest epoch, so its next epoch is complete
                tracking.forgetTracking(List.copyOf(p.pids));
            }
        }
        synchronized (partitions) {
            try {
                store.save(partitions.values()); // keeps the counters across a clean restart
            } catch (RuntimeException e) {
                LOG.warn("cannot save partition counters: {}", e.getMessage());
            }
        }
    }

    // ---- PartitionService ----------------------------------------------------------------------

    @Override
    public PartitionInfo partadd(PartitionSpec spec) {
        if (backends.get(spec.backend()) == null && !isKnownBackendName(spec.backend())) {
            throw new SlsException("unknown backend '" + spec.backend() + "' (available: "
                    + String.join(", ", backends.names()) + ")");
        }
        CheckpointEngine current = engine;
        if (current != null) {
            TrackingSupport.check(spec, current.kernelFeatures());
        }
        Partition p = new Partition(spec);
        synchronized (partitions) {
            if (partitions.putIfAbsent(spec.oid(), p) != null) {
                throw new SlsException("partition " + spec.oid() + " already exists");
            }
            try {
                store.save(partitions.values());
            } catch (RuntimeException e) {
                partitions.remove(spec.oid());
                throw new SlsException("partition " + spec.oid() + " not created: " + e.getMessage(), e);
            }
        }
        refreshEpochs(p);
        if (spec.periodic()) {
            scheduler.start(spec.oid(), spec.periodMs());
        }
        return p.info(state(p));
    }

    @Override
    public void partdel(long oid) {
        Partition p = get(oid);
        scheduler.stop(oid);
        p.lock.lock();
        try {
            CheckpointBackend backend = backends.get(p.spec.backend());
            if (backend == null) {
                if (p.spec.periodic()) {
                    scheduler.start(oid, p.spec.periodMs());
                }
                throw unavailable(p);
            }
            backend.deletePartition(oid);
            CaptureStrategy strategy = strategies.get(p.spec.mode().strategyName());
            if (strategy != null) {
                strategy.forget(oid);
            }
            synchronized (partitions) {
                partitions.remove(oid);
                p.deleted = true;
                store.save(partitions.values());
            }
        } finally {
            p.lock.unlock();
        }
    }

    @Override
    public void attach(long oid, int pid) {
        Partition p = get(oid);
        processes.checkAttachable(pid);
        synchronized (partitions) {
            for (Partition other : partitions.values()) {
                if (other.pids.contains(pid) && processes.isSame(pid, other.startTimeOf(pid))) {
                    throw new SlsException(other == p ? "process " + pid + " is already attached to partition " + oid
                            : "process " + pid + " is already attached to partition " + other.oid());
                }
            }
            for (Partition other : partitions.values()) {
                other.removePid(pid); // a member that exited and whose PID the kernel gave to this process
            }
            p.addPid(pid, processes.startTime(pid));
            saveOrUndo(() -> p.removePid(pid));
        }
    }

    @Override
    public void detach(long oid, int pid) {
        Partition p = get(oid);
        synchronized (partitions) {
            long startTime = p.startTimeOf(pid);
            if (!p.removePid(pid)) {
                throw new SlsException("process " + pid + " is not attached to partition " + oid);
            }
            saveOrUndo(() -> p.addPid(pid, startTime));
        }
    }

    @Override
    public CheckpointResult checkpoint(long oid, boolean recursive) {
        Partition p = get(oid);
        p.lock.lock();
        try {
            CheckpointBackend backend = backends.get(p.spec.backend());
            if (backend == null) {
                SlsException ex = unavailable(p);
                p.lastError = ex.getMessage();
                throw ex;
            }
            return checkpointLocked(p, backend, recursive);
        } finally {
            p.lock.unlock();
        }
    }

    @Override
    public RestoreResult restore(RestoreRequest request) {
        Partition p = get(request.oid());
        p.lock.lock();
        try {
            return restoreLocked(p, request);
        } finally {
            p.lock.unlock();
        }
    }

    @Override
    public List<PartitionInfo> partitions() {
        List<PartitionInfo> out = new ArrayList<>();
        for (Partition p : partitions.values()) {
            out.add(p.info(state(p)));
        }
        return out;
    }

    @Override
    public PartitionInfo partition(long oid) {
        Partition p = get(oid);
        return p.info(state(p));
    }

    @Override
    public List<EpochInfo> epochs(long oid) {
        Partition p = get(oid);
        CheckpointBackend backend = backends.get(p.spec.backend());
        if (backend == null) {
            throw unavailable(p);
        }
        return backend.epochs(oid);
    }

    @Override
    public SystemInfo info() {
        CheckpointEngine e = engine;
        Map<String, String> features = e == null ? Map.of() : e.kernelFeatures();
        return new SystemInfo(e == null ? null : e.version(), features, backends.names(), strategies.names(),
                TrackingSupport.available(features), TrackingSupport.auto(features),
                e == null ? "no (no engine)" : TrackingSupport.shadowing(features));
    }

    @Override
    public List<String> verify(long oid) {
        List<Partition> targets = oid == -1 ? List.copyOf(partitions.values()) : List.of(get(oid));
        List<String> damage = new ArrayList<>();
        if (oid == -1) {
            for (String name : backends.names()) {
                CheckpointBackend backend = backends.get(name);
                if (backend != null) {
                    damage.addAll(backend.verifyStore());
                }
            }
        }
        for (Partition p : targets) {
            CheckpointBackend backend = backends.get(p.spec.backend());
            if (backend == null) {
                if (oid != -1) {
                    throw unavailable(p);
                }
                damage.add("partition " + p.oid() + ": not verified, backend unavailable (" + p.spec.backend() + ")");
                continue;
            }
            p.lock.lock();
            try {
                damage.addAll(backend.verify(p.oid()));
            } finally {
                p.lock.unlock();
            }
        }
        return damage;
    }

    // ---- checkpoint and restore ----------------------------------------------------------------

    /**
     * Takes one checkpoint with the backend the caller resolved: a periodic tick that saw the backend
     * present must not turn its departure a moment later into a recorded error (it is a pause).
     */
    private CheckpointResult checkpointLocked(Partition p, CheckpointBackend backend, boolean recursive) {
        long started = System.nanoTime();
        try {
            String mode = p.spec.mode().strategyName();
            CaptureStrategy strategy = strategies.get(mode);
            if (strategy == null) {
                throw new SlsException("partition " + p.oid() + ": capture strategy '" + mode + "' is not installed");
            }
            CheckpointEngine e = engine;
            if (e == null) {
                throw new SlsException("partition " + p.oid() + ": capture engine not available (the sls-native bundle is not active or failed to load its library; see sls:info and the log)");
            }
            List<Integer> pids = liveProcesses(p);
            if (pids.isEmpty()) {
                throw new SlsException("partition " + p.oid() + " has no processes attached");
            }
            long epoch = nextEpoch(p, backend);
            try (EpochWriter writer = backend.beginEpoch(p.oid(), epoch)) {
                CaptureOutcome outcome = strategy.capture(
                        new CaptureRequest(p.oid(), pids, recursive, writer.pageFile(), p.previousEpoch(),
                                p.spec.tracking(), p.spec.shadow()), e);
                EpochInfo info;
                try {
                    info = writer.commit(new EpochRecord(p.oid(), epoch, p.spec.mode(), outcome.parentEpoch(),
                            outcome.stopNanos(), outcome.image()));
                } catch (RuntimeException ex) {
                    // The pages captured were not stored: a delta strategy's dirty tracking has already
                    // moved past them, so the next epoch must be taken whole.
                    strategy.forget(p.oid());
                    throw ex;
                }
                p.lastEpoch = info.epoch();
                p.restoredEpoch = -1;
                p.epochsTaken++;
                p.lastStopNanos = outcome.stopNanos();
                p.lastTracking = outcome.tracking();
                p.lastShadowed = outcome.shadowed();
                p.lastShadowFaults = outcome.shadowFaults();
                p.lastError = null;
                return new CheckpointResult(p.oid(), info.epoch(), outcome.image().processes().size(),
                        outcome.image().pageBytes(), outcome.stopNanos(), System.nanoTime() - started);
            }
        } catch (SlsException ex) {
            p.lastError = ex.getMessage();
            throw ex;
        } catch (RuntimeException ex) {
            String msg = "partition " + p.oid() + ": checkpoint failed: " + describe(ex);
            p.lastError = msg;
            throw new SlsException(msg, ex);
        }
    }

    private RestoreResult restoreLocked(Partition p, RestoreRequest request) {
        CheckpointBackend backend = backends.get(p.spec.backend());
        if (backend == null) {
            throw unavailable(p);
        }
        List<EpochInfo> epochs = backend.epochs(p.oid());
        if (epochs.isEmpty()) {
            throw new SlsException("partition " + p.oid() + " has no checkpoint to restore");
        }
        long epoch = request.epoch() < 0 ? epochs.get(epochs.size() - 1).epoch() : request.epoch();
        if (epochs.stream().noneMatch(i -> i.epoch() == epoch)) {
            throw new SlsException("partition " + p.oid() + " has no epoch " + epoch);
        }
        CheckpointEngine e = engine;
        if (e == null) {
            throw new SlsException("partition " + p.oid() + ": restore engine not available (the sls-native bundle is not active or failed to load its library; see sls:info and the log)");
        }
        List<StoredEpoch> chain = new ArrayList<>();
        try {
            long next = epoch;
            while (next >= 0) {
                StoredEpoch s = backend.open(p.oid(), next);
                chain.add(s);
                next = s.info().parentEpoch();
                if (chain.size() > 100_000) {
                    throw new SlsException("partition " + p.oid() + ": epoch " + epoch + " has a cyclic delta chain");
                }
            }
            CheckpointImage image = chain.get(0).image();
            List<RestoreProcess> procs = new ArrayList<>();
            for (ProcessImage proc : image.processes()) {
                List<List<PageSegment>> layers = new ArrayList<>();
                for (StoredEpoch s : chain) {
                    layers.add(s.pages(proc.pid()));
                }
                procs.add(new RestoreProcess(proc, PageComposer.compose(layers, proc.regions())));
            }
            boolean delta = p.spec.mode() == CaptureMode.DELTA;
            CaptureStrategy strategy = strategies.get(p.spec.mode().strategyName());
            if (delta && strategy != null) {
                // The trackers of the processes being replaced describe writes since lastEpoch, not
                // since this epoch; dropped before the restore, so the restored processes' new trackers
                // (opened by the engine before they run) are the only ones left for this partition.
                strategy.forget(p.oid());
            }
            List<RestoredProcess> restored = e.restore(new RestoreSpec(procs, request.detached(), request.force(),
                    delta ? p.spec.tracking() : DirtyTracking.NONE, delta && p.spec.shadow()));
            List<Integer> copies = adoptRestored(p, restored);
            if (delta) {
                if (copies.isEmpty()) {
                    p.restoredEpoch = epoch; // the next delta continues from the restored epoch
                } else {
                    // copies next to running originals are not the partition's: nobody captures them
                    e.forgetTracking(copies);
                }
            }
            return new RestoreResult(p.oid(), epoch, restored);
        } catch (SlsException ex) {
            throw ex;
        } catch (RuntimeException ex) {
            throw new SlsException("partition " + p.oid() + ": restore of epoch " + epoch + " failed: " + describe(ex), ex);
        } finally {
            Collections.reverse(chain);
            for (StoredEpoch s : chain) {
                s.close();
            }
        }
    }

    /**
     * Restored processes replace originals that are gone - exited, or exited with their PID given to
     * another process since (a restore into a busy machine: the newcomer is not the partition's); a
     * copy made while the original runs is not attached. Returns the PIDs of such copies.
     * <p>
     * Only a member can be "still running": a killed member is dropped by the next periodic
     * checkpoint (10 ms later at {@code -t 10}), and then whatever holds its PID - the restored
     * process itself, or a newcomer - is not the original, so the restored process is adopted.
     */
    private List<Integer> adoptRestored(Partition p, List<RestoredProcess> restored) {
        List<Integer> copies = new ArrayList<>();
        synchronized (partitions) {
            boolean changed = false;
            for (RestoredProcess r : restored) {
                int original = r.originalPid();
                boolean originalRuns = r.pid() != original && p.pids.contains(original)
                        && processes.isSame(original, p.startTimeOf(original));
                if (!originalRuns) {
                    changed |= p.removePid(r.originalPid());
                    changed |= p.addPid(r.pid(), processes.startTime(r.pid()));
                } else {
                    copies.add(r.pid());
                }
            }
            if (changed) {
                store.save(partitions.values());
            }
        }
        return copies;
    }

    private void periodicCheckpoint(long oid) {
        Partition p = partitions.get(oid);
        if (p == null || p.deleted) {
            return;
        }
        CheckpointBackend backend = backends.get(p.spec.backend());
        if (backend == null) {
            if (pausedLogged.putIfAbsent(oid, Boolean.TRUE) == null) {
                LOG.warn("partition {}: backend '{}' unavailable; periodic checkpoints paused", oid, p.spec.backend());
            }
            return;
        }
        if (pausedLogged.remove(oid) != null) {
            LOG.info("partition {}: backend '{}' is back; periodic checkpoints resume", oid, p.spec.backend());
        }
        if (!p.lock.tryLock()) {
            p.epochsSkipped++; // an on-demand checkpoint or restore holds the partition: do not queue behind it
            return;
        }
        try {
            if (liveProcesses(p).isEmpty()) {
                return; // nothing attached (yet): periodic checkpointing starts when a process is attached
            }
            checkpointLocked(p, backend, false);
        } catch (SlsException ex) {
            LOG.debug("partition {}: periodic checkpoint failed: {}", oid, ex.getMessage());
        } catch (RuntimeException ex) {
            LOG.warn("partition {}: periodic checkpoint failed", oid, ex);
        } finally {
            p.lock.unlock();
        }
    }

    // ---- helpers -------------------------------------------------------------------------------

    /** Drops attached processes that exited (with one log line each) and returns the live ones. */
    private List<Integer> liveProcesses(Partition p) {
        List<Integer> live = new ArrayList<>();
        boolean changed = false;
        for (int pid : p.pids) {
            if (processes.isSame(pid, p.startTimeOf(pid))) {
                live.add(pid);
            } else {
                p.removePid(pid);
                changed = true;
                // never capture a process that merely got the member's PID after it exited
                LOG.info("partition {}: process {} exited; detached", p.oid(), pid);
            }
        }
        if (changed) {
            synchronized (partitions) {
                store.save(partitions.values());
            }
        }
        return live;
    }

    private long nextEpoch(Partition p, CheckpointBackend backend) {
        if (p.lastEpoch < 0) {
            List<EpochInfo> known = backend.epochs(p.oid());
            if (!known.isEmpty()) {
                p.lastEpoch = known.get(known.size() - 1).epoch();
            }
        }
        return p.lastEpoch + 1;
    }

    private void refreshEpochs(String backendName) {
        for (Partition p : partitions.values()) {
            if (p.spec.backend().equals(backendName)) {
                refreshEpochs(p);
            }
        }
    }

    private void refreshEpochs(Partition p) {
        CheckpointBackend backend = backends.get(p.spec.backend());
        if (backend == null) {
            return;
        }
        try {
            List<EpochInfo> known = backend.epochs(p.oid());
            long newest = known.isEmpty() ? -1 : known.get(known.size() - 1).epoch();
            p.lastEpoch = Math.max(p.lastEpoch, newest);
        } catch (RuntimeException ex) {
            LOG.warn("partition {}: cannot list epochs of backend '{}': {}", p.oid(), p.spec.backend(), ex.getMessage());
        }
    }

    private boolean isKnownBackendName(String name) {
        // A backend that is merely stopped right now is still a valid choice for a partition whose
        // other partitions already use it (hot swap); a name nothing has ever used is not.
        for (Partition p : partitions.values()) {
            if (p.spec.backend().equals(name)) {
                return true;
            }
        }
        return false;
    }

    private PartitionState state(Partition p) {
        return backends.get(p.spec.backend()) == null ? PartitionState.BACKEND_UNAVAILABLE : PartitionState.READY;
    }

    private Partition get(long oid) {
        if (oid <= 0) {
            throw new SlsException("OID must be a positive integer, got " + oid);
        }
        Partition p = partitions.get(oid);
        if (p == null) {
            throw new SlsException("partition " + oid + " does not exist");
        }
        return p;
    }

    private SlsException unavailable(Partition p) {
        return new SlsException("partition " + p.oid() + ": backend unavailable (" + p.spec.backend() + ")");
    }

    private void saveOrUndo(Runnable undo) {
        try {
            store.save(partitions.values());
        } catch (RuntimeException e) {
            undo.run();
            throw new SlsException(e.getMessage(), e);
        }
    }

    private static String describe(Throwable t) {
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
    }
}
