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

#endif
