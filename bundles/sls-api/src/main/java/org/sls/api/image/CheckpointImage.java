package org.sls.api.image;

import java.util.List;

/** Every process of a partition captured at one instant. */
public record CheckpointImage(List<ProcessImage> processes) {
    public CheckpointImage {
        processes = List.copyOf(processes);
    }

    public long pageBytes() {
        long n = 0;
        for (ProcessImage p : processes) {
            n += p.pageBytes();
        }
        return n;
    }
}
