package org.sls.api.spi;

import java.util.List;
import org.sls.api.EpochInfo;
import org.sls.api.image.CheckpointImage;
import org.sls.api.image.PageSegment;

/**
 * A committed epoch opened for restore. Page segments name files the engine reads directly; they stay
 * valid until {@link #close}. Integrity failures throw {@link org.sls.api.SlsException} naming
 * partition, epoch and object.
 */
public interface StoredEpoch extends AutoCloseable {

    EpochInfo info();

    /** The image as committed; page runs refer to this epoch's own pages only. */
    CheckpointImage image();

    /** Where the pages this epoch itself stored for process {@code pid} are (not its parents'). */
    List<PageSegment> pages(int pid);

    @Override
    void close();
}
