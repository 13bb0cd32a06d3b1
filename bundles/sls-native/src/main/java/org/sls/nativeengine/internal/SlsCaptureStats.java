package org.sls.nativeengine.internal;

import com.sun.jna.Structure;
import com.sun.jna.Structure.FieldOrder;

/** {@code struct sls_capture_stats} of slsnative.h. */
@FieldOrder({"stop_ns", "page_bytes", "nprocs", "nthreads", "delta", "track_mode", "dirty_pages", "total_ns", "shadowed", "shadow_faults"})
public class SlsCaptureStats extends Structure {
    public long stop_ns;
    public long page_bytes;
    public int nprocs;
    public int nthreads;
    /** 1: the pages are relative to the previous delta capture; 0: a complete image. */
    public int delta;
    /** SLS_CAPTURE_TRACK_* of the first process's tracker; -1 without SLS_CAPTURE_DELTA. */
    public int track_mode;
    public long dirty_pages;
    /** The whole call: first freeze to page file complete (with shadowing, longer than stop_ns). */
    public long total_ns;
    /** 1: the pages were copied after the thaw under synchronous write-protect (SLS_CAPTURE_SHADOW). */
    public int shadowed;
    /** Writes that faulted to the engine for a page it had not copied yet. */
    public int shadow_faults;
}
