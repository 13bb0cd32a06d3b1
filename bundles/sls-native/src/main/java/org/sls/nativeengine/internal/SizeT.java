package org.sls.nativeengine.internal;

import com.sun.jna.IntegerType;
import com.sun.jna.Native;

/** C {@code size_t}: JNA's core jar has no such type (jna-platform does; not worth a dependency). */
public final class SizeT extends IntegerType {
    private static final long serialVersionUID = 1L;

    public SizeT() {
        this(0);
    }

    public SizeT(long value) {
        super(Native.SIZE_T_SIZE, value, true);
    }
}
