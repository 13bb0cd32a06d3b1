package org.sls.core.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.sls.api.image.MemoryRegion;
import org.sls.api.image.PageSegment;

class PageComposerTest {

    private static final Path OLD = Path.of("/old");
    private static final Path NEW = Path.of("/new");

    @Test
    void newestVersionOfEachPageWins() {
        List<PageSegment> older = List.of(new PageSegment(0x1000, 0x4000, OLD, 0));
        List<PageSegment> newer = List.of(new PageSegment(0x2000, 0x1000, NEW, 0x9000));
        List<PageSegment> out = PageComposer.compose(List.of(newer, older),
                List.of(new MemoryRegion(0x1000, 0x5000, "rw-p", 0, 0, "")));
        assertEquals(List.of(
                new PageSegment(0x1000, 0x1000, OLD, 0),
                new PageSegment(0x2000, 0x1000, NEW, 0x9000),
                new PageSegment(0x3000, 0x2000, OLD, 0x2000)), out);
    }

    @Test
    void pagesOutsideTheNewestMemoryMapAreDropped() {
        List<PageSegment> older = List.of(new PageSegment(0x1000, 0x4000, OLD, 0));
        List<PageSegment> out = PageComposer.compose(List.of(List.of(), older),
                List.of(new MemoryRegion(0x2000, 0x3000, "rw-p", 0, 0, ""),
                        new MemoryRegion(0x4000, 0x6000, "rw-p", 0, 0, "")));
        assertEquals(List.of(
                new PageSegment(0x2000, 0x1000, OLD, 0x1000),
                new PageSegment(0x4000, 0x1000, OLD, 0x3000)), out);
    }

    @Test
    void aSingleFullEpochPassesThroughUnchanged() {
        List<PageSegment> full = List.of(new PageSegment(0x1000, 0x1000, NEW, 0),
                new PageSegment(0x8000, 0x2000, NEW, 0x1000));
        assertEquals(full, PageComposer.compose(List.of(full),
                List.of(new MemoryRegion(0x1000, 0x2000, "r--p", 0, 0, ""), new MemoryRegion(0x8000, 0xa000, "rw-p", 0, 0, ""))));
    }
}
