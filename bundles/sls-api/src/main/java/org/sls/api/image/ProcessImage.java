package org.sls.api.image;

import java.util.List;

/**
 * One process of a checkpoint as the engine captured it. The fields are what SLS itself needs to
 * reason about (display, delta composition, storage); {@code nativeState} carries the complete
 * machine state (registers, signal state, fds, ...) in the engine's own versioned format and is
 * handed back to the engine unchanged on restore. Page contents are never here: {@code pageRuns}
 * point into the page file of the capture.
 */
public record ProcessImage(int pid, int ppid, int pgid, int sid, String comm, String exe, int threads,
                           List<MemoryRegion> regions, List<PageRun> pageRuns,
                           List<FileDescriptorInfo> files, byte[] nativeState) {
    public ProcessImage {
        regions = List.copyOf(regions);
        pageRuns = List.copyOf(pageRuns);
        files = List.copyOf(files);
    }

    public long pageBytes() {
        long n = 0;
        for (PageRun r : pageRuns) {
            n += r.length();
        }
        return n;
    }
}
