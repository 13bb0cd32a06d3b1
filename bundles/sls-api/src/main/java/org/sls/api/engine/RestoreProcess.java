package org.sls.api.engine;

import java.util.List;
import org.sls.api.image.PageSegment;
import org.sls.api.image.ProcessImage;

/** One process to rebuild: its image and where every one of its pages is (delta chains already composed). */
public record RestoreProcess(ProcessImage image, List<PageSegment> pages) {
    public RestoreProcess {
        pages = List.copyOf(pages);
    }
}
