/*
 * capture_phases.h — where the time of an sls_capture call went, phase by phase (engine-internal:
 * for the benchmarks and for finding what lengthens the stop; not part of the ABI in slsnative.h).
 *
 * The phases before SLS_PH_FREEZE and after SLS_PH_THAW run while the processes run; everything in
 * between is stop time. sls_capture_last_phases() gives the last call made on the calling thread.
 * With SLS_CAPTURE_PHASES=1 in the environment each call also prints one line of them to stderr.
 */
#ifndef SLS_CAPTURE_PHASES_H
#define SLS_CAPTURE_PHASES_H

#include <stdint.h>

enum sls_capture_phase {
    SLS_PH_PREPARE,   /* running: page file sized and pre-faulted */
    SLS_PH_PREREAD,   /* running: /proc state read ahead of the freeze (maps, fds, ...) */
    SLS_PH_PRECOPY,   /* running: pre-copy collect + copy of the collected pages */
    SLS_PH_FREEZE,    /* stopped from here: seize + interrupt every thread, wait for the stops */
    SLS_PH_TRACK,     /* tracker collects (or opens) */
    SLS_PH_PROC,      /* proc.c: /proc stat/status/limits, injected brk/prctl */
    SLS_PH_THREADS,   /* regs.c: registers, xsave, injected tid address / altstack */
    SLS_PH_SIGNALS,   /* signals.c */
    SLS_PH_MAPS,      /* maps.c: the memory map (smaps, or the pre-read one validated) */
    SLS_PH_MEMORY,    /* memory.c: VMA entries, pagemap scans, page run planning */
    SLS_PH_FDS,       /* fds.c */
    SLS_PH_COPY,      /* page copy into the page file */
    SLS_PH_THAW,      /* detach every thread (the stop ends here) */
    SLS_PH_FINISH,    /* running: page file cut, image written, trackers put back */
    SLS_PH_N
};

struct sls_capture_phases {
    uint64_t ns[SLS_PH_N];
    uint64_t stop_ns;        /* = stats.stop_ns */
    uint64_t precopy_bytes;  /* bytes copied before the freeze */
    uint64_t stop_bytes;     /* bytes copied while stopped */
    uint32_t injected;       /* syscalls injected while stopped */
    uint32_t maps_reused;    /* processes whose pre-read memory map was still valid at the freeze */
};

const char *sls_capture_phase_name(int phase);

/* The phases of the last sls_capture on this thread (zeros before the first). */
void sls_capture_last_phases(struct sls_capture_phases *out);

#endif
