package org.sls.nativeengine.internal;

import com.sun.jna.Structure;
import com.sun.jna.Structure.FieldOrder;

/**
 * {@code struct sls_page_segment} of slsnative.h: the contents of {@code [addr, addr+len)} of process
 * {@code pid} (its PID at capture) are in {@code files[file]} at {@code offset}. Passed as a contiguous
 * array ({@link Structure#toArray(int)}).
 */
@FieldOrder({"pid", "file", "addr", "len", "offset"})
public class SlsPageSegment extends Structure {
    public int pid;
    public int file;
    public long addr;
    public long len;
    public long offset;
}
