/*
 * engine_tracking.h — the per-pid tracker table behind SLS_CAPTURE_DELTA (engine_tracking.c).
 */
#ifndef SLS_ENGINE_TRACKING_H
#define SLS_ENGINE_TRACKING_H

#include "track.h"

/* Removes pid's tracker from the table and hands it to the caller; NULL if there is none. */
struct sls_tracker *sls_trackers_take(pid_t pid);

/* Puts t back under its pid (closing any other tracker of that pid). On -ENOMEM t is closed. */
int sls_trackers_put(struct sls_tracker *t);

/* Records how many page bytes pid's last delta copied (a page file estimate for the next one). */
void sls_trackers_note_bytes(pid_t pid, uint64_t bytes);

/* 1 and the sum of the pids' last delta sizes in *bytes if every pid has a tracker, else 0. */
int sls_trackers_last_bytes(const int32_t *pids, int npids, uint64_t *bytes);

/*
 * The memory map (smaps, classified) of the last delta capture of each tracked pid, so the next one
 * need not walk smaps again (2 ms per 64 MiB, 30 ms per GiB) when /proc/PID/maps shows the same
 * lines and the read is less than SLS_MAPS_CACHE_NS old. process_start identifies the process (a
 * reused pid is another one). take: 1 and the entry (the caller owns text and vmas) or 0; put: the
 * table owns them from then on (freed if it cannot keep them). Forgetting a pid's tracking drops it.
 */
#define SLS_MAPS_CACHE_NS 1000000000ull
struct sls_vma;
int sls_maps_cache_take(pid_t pid, uint64_t process_start, uint64_t *read_ns, char **maps_text,
                        struct sls_vma **vmas, size_t *nvmas);
void sls_maps_cache_put(pid_t pid, uint64_t process_start, uint64_t read_ns, char *maps_text,
                        struct sls_vma *vmas, size_t nvmas);

/*
 * The pages the last stop of each tracked pid had to copy (written during its pre-copy): its hot
 * set. The next pre-copy leaves those to the stop instead of copying them twice. Same keys and
 * ownership rules as the maps cache; a stale or missing entry only costs time.
 */
int sls_hot_take(pid_t pid, uint64_t process_start, struct sls_track_range_list *out);
void sls_hot_put(pid_t pid, uint64_t process_start, struct sls_track_range_list *l);

#endif
