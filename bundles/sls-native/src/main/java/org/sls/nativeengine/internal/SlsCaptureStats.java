package org.sls.nativeengine.internal;

import com.sun.jna.Structure;
import com.sun.jna.Structure.FieldOrder;

/** {@code struct sls_capture_stats} of slsnative.h. */
@FieldOrder({"stop_ns", "page_bytes", "nprocs", "nthreads"})
public class SlsCaptureStats extends Structure {
    public long stop_ns;
    public long page_bytes;
    public int nprocs;
    public int nthreads;
}
