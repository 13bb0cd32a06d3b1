package org.sls.nativeengine.internal;

import com.sun.jna.Library;
import com.sun.jna.Native;
import java.nio.file.Path;
import java.util.Map;

/**
 * libslsnative.so, mirroring native/include/slsnative.h one to one. Functions return 0 (or a count)
 * on success and a negative errno-style code on failure, with one line (NUL-terminated) in err.
 */
public interface SlsNativeLibrary extends Library {

    /** The ABI this interface was written for; {@link #sls_abi_version()} must return the same. */
    int SLS_ABI_VERSION = 5;

    int SLS_CAPTURE_RECURSIVE = 0x1;
    int SLS_CAPTURE_DELTA = 0x2;
    int SLS_CAPTURE_TRACK_AUTO = 0;
    int SLS_CAPTURE_TRACK_SOFTDIRTY = 1;
    int SLS_CAPTURE_TRACK_UFFD = 2;
    int SLS_CAPTURE_TRACK_DIGEST = 3;
    /** Copy the epoch's pages after the thaw under synchronous userfaultfd write-protect. */
    int SLS_CAPTURE_SHADOW = 0x1000;

    /** SLS_CAPTURE_TRACK(mode): the tracking mechanism in bits 8-11 of the capture flags. */
    static int captureTrack(int mode) {
        return (mode & 0xf) << 8;
    }
    int SLS_RESTORE_DETACHED = 0x1;
    int SLS_RESTORE_FORCE = 0x2;
    /** Open each restored process's dirty tracker before it runs (the next delta is relative to the restore). */
    int SLS_RESTORE_TRACK_ON = 0x4;
    /** With SLS_RESTORE_TRACK: the synchronous tracker shadowed captures continue from. */
    int SLS_RESTORE_TRACK_SHADOW = 0x8;

    /** SLS_RESTORE_TRACK(mode): SLS_RESTORE_TRACK_ON with the mechanism (SLS_CAPTURE_TRACK_*) in bits 8-11. */
    static int restoreTrack(int mode) {
        return SLS_RESTORE_TRACK_ON | ((mode & 0xf) << 8);
    }

    int sls_abi_version();

    String sls_version();

    int sls_probe(byte[] buf, SizeT len, byte[] err, SizeT errlen);

    int sls_capture(int[] pids, int npids, int flags, String pagePath, String imagePath,
                    SlsCaptureStats stats, byte[] err, SizeT errlen);

    int sls_thread_boost(int[] savedNice);

    int sls_thread_unboost(int savedNice);

    int sls_forget_tracking(int[] pids, int npids);

    int sls_tracking_mode(int pid);

    int sls_restore(String imagePath, SlsPageSegment[] segs, int nsegs, String[] files, int nfiles,
                    int flags, String seedPath, int[] pidPairs, int maxProcs, byte[] err, SizeT errlen);

    /** Loads the library JNA finds as the resource {@code linux-x86-64/libslsnative.so} of the loader. */
    static SlsNativeLibrary load(ClassLoader bundleLoader) {
        return Native.load("slsnative", SlsNativeLibrary.class,
                Map.of(Library.OPTION_CLASSLOADER, bundleLoader));
    }

    /** Loads the library from a file (tests, development). */
    static SlsNativeLibrary load(Path file) {
        return Native.load(file.toAbsolutePath().toString(), SlsNativeLibrary.class);
    }

    /** The text of a NUL-terminated error buffer. */
    static String message(byte[] err) {
        int n = 0;
        while (n < err.length && err[n] != 0) {
            n++;
        }
        return new String(err, 0, n, java.nio.charset.StandardCharsets.UTF_8);
    }
}
