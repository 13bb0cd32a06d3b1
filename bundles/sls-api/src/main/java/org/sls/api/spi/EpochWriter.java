package org.sls.api.spi;

import java.nio.file.Path;
import org.sls.api.EpochInfo;

/**
 * One epoch being written. The engine writes page data into {@link #pageFile()}; then exactly one of
 * {@link #commit} (atomic: the epoch appears whole, durably for persistent backends, or not at all)
 * or {@link #abort} (nothing of it remains). {@link #close} aborts if neither happened.
 */
public interface EpochWriter extends AutoCloseable {

    /** A file the engine fills with page data (created empty; the engine grows it). */
    Path pageFile();

    EpochInfo commit(EpochRecord record);

    void abort();

    @Override
    void close();
}
