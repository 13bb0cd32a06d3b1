package org.sls.backend.slos.internal;

import java.util.ArrayList;
import java.util.List;
import org.sls.api.image.PageRun;
import org.sls.api.image.ProcessImage;

/**
 * One process as an epoch record holds it: the image fields as captured, and where its pages are in
 * the store (segments replace the page runs, which pointed into a page file that is gone).
 */
record StoredProcess(ProcessImage captured, List<Segment> segments) {

    StoredProcess {
        segments = List.copyOf(segments);
    }

    int pid() {
        return captured.pid();
    }

    /** The image with page runs whose dataOffset is the offset in the store file. */
    ProcessImage imageInStore() {
        List<PageRun> runs = new ArrayList<>(segments.size());
        for (Segment s : segments) {
            runs.add(new PageRun(s.address(), s.pageCount(), s.storeOffset()));
        }
        ProcessImage c = captured;
        return new ProcessImage(c.pid(), c.ppid(), c.pgid(), c.sid(), c.comm(), c.exe(), c.threads(), c.regions(),
                runs, c.files(), c.nativeState());
    }
}
