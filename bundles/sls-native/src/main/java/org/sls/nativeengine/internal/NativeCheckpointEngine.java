package org.sls.nativeengine.internal;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.sls.api.RestoredProcess;
import org.sls.api.SlsException;
import org.sls.api.engine.CaptureResult;
import org.sls.api.engine.CaptureSpec;
import org.sls.api.engine.CheckpointEngine;
import org.sls.api.engine.DirtyTracking;
import org.sls.api.engine.RestoreProcess;
import org.sls.api.engine.RestoreSpec;
import org.sls.api.image.CheckpointImage;
import org.sls.api.image.PageSegment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engine service over libslsnative.so. Registered by {@link NativeEngineComponent} only after the
 * library loaded and passed its ABI handshake. Every native failure becomes an {@link SlsException}
 * carrying the engine's one error line.
 */
public final class NativeCheckpointEngine implements CheckpointEngine {

    private static final Logger LOG = LoggerFactory.getLogger(NativeCheckpointEngine.class);

    private static final int ERR_LEN = 1024;

    private final SlsNativeLibrary lib;
    private final Map<String, String> features;
    private final Path seed;

    /**
     * @param seed the sls-seed binary restore starts processes from, or null if this build has none
     *             (then restore says so; capture works)
     */
    public NativeCheckpointEngine(SlsNativeLibrary lib, Map<String, String> features, Path seed) {
        this.lib = lib;
        this.features = Collections.unmodifiableMap(new LinkedHashMap<>(features));
        this.seed = seed;
    }

    /** Runs sls_probe and parses its "name=value" lines. */
    public static Map<String, String> probe(SlsNativeLibrary lib) {
        byte[] buf = new byte[8192];
        byte[] err = new byte[ERR_LEN];
        int n = lib.sls_probe(buf, new SizeT(buf.length), err, new SizeT(err.length));
        if (n < 0) {
            throw new SlsException(errorLine("probe", n, err));
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (String line : new String(buf, 0, n, java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                out.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        return out;
    }

    @Override
    public String version() {
        return lib.sls_version();
    }

    @Override
    public Map<String, String> kernelFeatures() {
        return features;
    }

    @Override
    public CaptureResult capture(CaptureSpec spec) {
        if (spec.pids().isEmpty()) {
            throw new SlsException("capture: no process given");
        }
        refuseChildrenOfThisJvm(spec.pids());
        Path page = spec.pageFile().toAbsolutePath();
        Path image;
        try {
            image = Files.createTempFile(page.getParent(), page.getFileName() + ".", ".img");
        } catch (IOException e) {
            throw new SlsException("capture: cannot create a temporary image file next to " + page + ": "
                    + e.getMessage(), e);
        }
        try {
            int[] pids = spec.pids().stream().mapToInt(Integer::intValue).toArray();
            SlsCaptureStats stats = new SlsCaptureStats();
            byte[] err = new byte[ERR_LEN];
            int flags = (spec.recursive() ? SlsNativeLibrary.SLS_CAPTURE_RECURSIVE : 0) | trackingFlags(spec.tracking())
                    | (spec.shadow() ? SlsNativeLibrary.SLS_CAPTURE_SHADOW : 0);
            // Boosted through the image read, not only the native capture: right after the thaw the
            // target runs again, and at the JVM's normal nice this thread waited 6-8 ms for the CPU
            // behind it in one epoch out of four at -t 10 (two scheduler threads), which costs periods.
            int[] savedNice = new int[1];
            boolean boosted = lib.sls_thread_boost(savedNice) == 0;
            CheckpointImage parsed;
            try {
                int rc = lib.sls_capture(pids, pids.length, flags,
                        page.toString(), image.toString(), stats, err, new SizeT(err.length));
                if (rc < 0) {
                    deleteQuietly(page);
                    throw new SlsException(errorLine("capture", rc, err));
                }
                parsed = ImageCodec.read(Files.readAllBytes(image));
            } finally {
                if (boosted) {
                    lib.sls_thread_unboost(savedNice[0]);
                }
            }
            return new CaptureResult(parsed, stats.stop_ns, stats.page_bytes, stats.delta != 0,
                    spec.tracking() == DirtyTracking.NONE ? DirtyTracking.NONE : trackingOfMode(stats.track_mode),
                    stats.shadowed != 0, Integer.toUnsignedLong(stats.shadow_faults));
        } catch (IOException e) {
            deleteQuietly(page);
            throw new SlsException("capture: cannot read the image file " + image + ": " + e.getMessage(), e);
        } finally {
            deleteQuietly(image);
        }
    }

    /** The sls_capture flags for a tracking choice: none, or SLS_CAPTURE_DELTA with the mechanism. */
    static int trackingFlags(DirtyTracking tracking) {
        int mode = switch (tracking) {
            case NONE -> -1;
            case AUTO -> SlsNativeLibrary.SLS_CAPTURE_TRACK_AUTO;
            case SOFT_DIRTY -> SlsNativeLibrary.SLS_CAPTURE_TRACK_SOFTDIRTY;
            case UFFD -> SlsNativeLibrary.SLS_CAPTURE_TRACK_UFFD;
            case DIGEST -> SlsNativeLibrary.SLS_CAPTURE_TRACK_DIGEST;
        };
        return mode < 0 ? 0 : SlsNativeLibrary.SLS_CAPTURE_DELTA | SlsNativeLibrary.captureTrack(mode);
    }

    /** The sls_restore flags for a tracking choice: none, or SLS_RESTORE_TRACK with the mechanism. */
    static int restoreTrackingFlags(DirtyTracking tracking) {
        int capture = trackingFlags(tracking);
        return capture == 0 ? 0 : SlsNativeLibrary.restoreTrack((capture >> 8) & 0xf);
    }

    @Override
    public void forgetTracking(List<Integer> pids) {
        if (!pids.isEmpty()) {
            int[] p = pids.stream().mapToInt(Integer::intValue).toArray();
            lib.sls_forget_tracking(p, p.length);
        }
    }

    /** The mechanism tracking pid now, or empty if the engine keeps no tracker for it. */
    public java.util.Optional<DirtyTracking> trackingOf(int pid) {
        DirtyTracking t = trackingOfMode(lib.sls_tracking_mode(pid));
        return t == DirtyTracking.NONE ? java.util.Optional.empty() : java.util.Optional.of(t);
    }

    /** An SLS_CAPTURE_TRACK_* value as the engine reports it; NONE for anything else (-1, -ENOENT). */
    static DirtyTracking trackingOfMode(int mode) {
        return switch (mode) {
            case SlsNativeLibrary.SLS_CAPTURE_TRACK_SOFTDIRTY -> DirtyTracking.SOFT_DIRTY;
            case SlsNativeLibrary.SLS_CAPTURE_TRACK_UFFD -> DirtyTracking.UFFD;
            case SlsNativeLibrary.SLS_CAPTURE_TRACK_DIGEST -> DirtyTracking.DIGEST;
            default -> DirtyTracking.NONE;
        };
    }

    @Override
    public List<RestoredProcess> restore(RestoreSpec spec) {
        if (spec.processes().isEmpty()) {
            return List.of();
        }
        if (seed == null) {
            throw new SlsException("restore: this sls-native build ships no sls-seed binary");
        }
        Path dir;
        try {
            dir = Files.createTempDirectory("sls-restore-");
        } catch (IOException e) {
            throw new SlsException("restore: cannot create a temporary directory: " + e.getMessage(), e);
        }
        try {
            Path image = dir.resolve("image");
            List<byte[]> records = new ArrayList<>();
            for (RestoreProcess p : spec.processes()) {
                records.add(p.image().nativeState());
            }
            try (OutputStream out = Files.newOutputStream(image)) {
                ImageCodec.write(records, out);
            }
            Map<Path, Integer> fileIndex = new LinkedHashMap<>();
            int nsegs = spec.processes().stream().mapToInt(p -> p.pages().size()).sum();
            SlsPageSegment[] segs = nsegs == 0 ? null : (SlsPageSegment[]) new SlsPageSegment().toArray(nsegs);
            int i = 0;
            for (RestoreProcess p : spec.processes()) {
                for (PageSegment s : p.pages()) {
                    SlsPageSegment seg = segs[i++];
                    seg.pid = p.image().pid();
                    seg.file = fileIndex.computeIfAbsent(s.file().toAbsolutePath(), f -> fileIndex.size());
                    seg.addr = s.address();
                    seg.len = s.length();
                    seg.offset = s.fileOffset();
                }
            }
            String[] files = fileIndex.keySet().stream().map(Path::toString).toArray(String[]::new);
            int flags = (spec.detached() ? SlsNativeLibrary.SLS_RESTORE_DETACHED : 0)
                    | (spec.force() ? SlsNativeLibrary.SLS_RESTORE_FORCE : 0) | restoreTrackingFlags(spec.tracking())
                    | (spec.shadow() ? SlsNativeLibrary.SLS_RESTORE_TRACK_SHADOW : 0);
            int[] pairs = new int[2 * spec.processes().size()];
            byte[] err = new byte[ERR_LEN];
            int rc = lib.sls_restore(image.toString(), segs, nsegs, files, files.length, flags, seed.toString(),
                    pairs, spec.processes().size(), err, new SizeT(err.length));
            if (rc < 0) {
                throw new SlsException(errorLine("restore", rc, err));
            }
            String note = SlsNativeLibrary.message(err);
            if (!note.isEmpty()) {
                // a process left untracked: restored all the same, its next delta epoch is complete
                LOG.warn("restore: {}", note);
            }
            List<RestoredProcess> restored = new ArrayList<>(rc);
            for (int k = 0; k < rc; k++) {
                restored.add(new RestoredProcess(pairs[2 * k], pairs[2 * k + 1]));
            }
            return restored;
        } catch (IOException e) {
            throw new SlsException("restore: cannot write the image file in " + dir + ": " + e.getMessage(), e);
        } finally {
            deleteTree(dir);
        }
    }

    /**
     * A child of this JVM cannot be frozen safely: the JDK's process reaper thread waits for it with
     * waitpid() and would take the ptrace stops the engine waits for (the tracer is the whole JVM).
     */
    private static void refuseChildrenOfThisJvm(List<Integer> pids) {
        long self = ProcessHandle.current().pid();
        for (int pid : pids) {
            boolean child = ProcessHandle.of(pid).flatMap(ProcessHandle::parent)
                    .map(p -> p.pid() == self).orElse(false);
            if (child) {
                throw new SlsException("pid " + pid + " is a child of the SLS JVM itself and cannot be "
                        + "frozen (the JVM reaps its children's stop events); start it detached");
            }
        }
    }

    static String errorLine(String op, int rc, byte[] err) {
        String msg = SlsNativeLibrary.message(err);
        return msg.isEmpty() ? op + ": the native engine failed with code " + rc : msg;
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // best effort: a leftover temporary file is not worth hiding the real outcome
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(NativeCheckpointEngine::deleteQuietly);
        } catch (IOException ignored) {
            // best effort, as above
        }
    }
}
