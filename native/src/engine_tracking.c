/*
 * engine_tracking.c — the engine's dirty-page trackers, kept across sls_capture calls, one per pid.
 *
 * A delta capture (SLS_CAPTURE_DELTA) takes each frozen process's tracker out of this table for the
 * duration of the capture and puts it back afterwards, so two captures never share a tracker. The
 * table is the only state the library keeps between calls; it lives as long as the engine process
 * (when the engine dies, every uffd it holds closes and the kernel drops the tracking with it, so a
 * restarted engine simply starts with full images again).
 */
#include "engine_tracking.h"
#include "capture_int.h"
#include "slsnative.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct tracker_slot {
    pid_t pid;
    struct sls_tracker *t;
    uint64_t last_bytes; /* page bytes this pid's last delta copied while stopped: sizes the next page file */
};

/* Process-wide by necessity: the JVM calls the engine from any thread, and a tracker must outlive
 * the call that opened it. Guarded by table_lock. */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tracker_slot *table;
static size_t table_n, table_cap;

struct sls_tracker *sls_trackers_take(pid_t pid)
{
    struct sls_tracker *t = NULL;
    pthread_mutex_lock(&table_lock);
    for (size_t i = 0; i < table_n; i++) {
        if (table[i].pid == pid) {
            t = table[i].t;
            table[i] = table[--table_n];
            break;
        }
    }
    pthread_mutex_unlock(&table_lock);
    return t;
}

int sls_trackers_put(struct sls_tracker *t)
{
    pid_t pid = sls_track_pid(t);
    struct sls_tracker *old = sls_trackers_take(pid);
    if (old)
        sls_track_close(old); /* a stale one (pid reused): the newer tracker is the truth */
    pthread_mutex_lock(&table_lock);
    if (table_n == table_cap) {
        size_t nc = table_cap ? table_cap * 2 : 16;
        struct tracker_slot *nt = realloc(table, nc * sizeof(*nt));
        if (!nt) {
            pthread_mutex_unlock(&table_lock);
            sls_track_close(t);
            return -ENOMEM;
        }
        table = nt;
        table_cap = nc;
    }
    table[table_n++] = (struct tracker_slot){ pid, t, 0 };
    pthread_mutex_unlock(&table_lock);
    return 0;
}

void sls_trackers_note_bytes(pid_t pid, uint64_t bytes)
{
    pthread_mutex_lock(&table_lock);
    for (size_t i = 0; i < table_n; i++)
        if (table[i].pid == pid)
            table[i].last_bytes = bytes;
    pthread_mutex_unlock(&table_lock);
}

int sls_trackers_last_bytes(const int32_t *pids, int npids, uint64_t *bytes)
{
    int all = 1;
    *bytes = 0;
    pthread_mutex_lock(&table_lock);
    for (int k = 0; k < npids && all; k++) {
        int found = 0;
        for (size_t i = 0; i < table_n && !found; i++) {
            if (table[i].pid == pids[k]) {
                found = 1;
                *bytes += table[i].last_bytes;
            }
        }
        all = found;
    }
    pthread_mutex_unlock(&table_lock);
    return all;
}

/* ---- the maps cache (guarded by table_lock too) ------------------------------------------------ */

struct maps_slot {
    pid_t pid;
    uint64_t process_start, read_ns;
    char *text;
    struct sls_vma *v;
    size_t n;
};

static struct maps_slot *maps;
static size_t maps_n, maps_cap;

/* Removes pid's entry; returns it in *out (or frees it when out is NULL). 0 if there was none. */
static int maps_remove(pid_t pid, struct maps_slot *out)
{
    int found = 0;
    pthread_mutex_lock(&table_lock);
    for (size_t i = 0; i < maps_n; i++) {
        if (maps[i].pid == pid) {
            struct maps_slot m = maps[i];
            maps[i] = maps[--maps_n];
            found = 1;
            if (out) {
                *out = m;
            } else {
                free(m.text);
                sls_free_vmas(m.v, m.n);
            }
            break;
        }
    }
    pthread_mutex_unlock(&table_lock);
    return found;
}

int sls_maps_cache_take(pid_t pid, uint64_t process_start, uint64_t *read_ns, char **maps_text,
                        struct sls_vma **vmas, size_t *nvmas)
{
    struct maps_slot m;
    if (!maps_remove(pid, &m))
        return 0;
    if (m.process_start != process_start) {
        free(m.text);
        sls_free_vmas(m.v, m.n);
        return 0;
    }
    *read_ns = m.read_ns;
    *maps_text = m.text;
    *vmas = m.v;
    *nvmas = m.n;
    return 1;
}

void sls_maps_cache_put(pid_t pid, uint64_t process_start, uint64_t read_ns, char *maps_text,
                        struct sls_vma *vmas, size_t nvmas)
{
    maps_remove(pid, NULL);
    pthread_mutex_lock(&table_lock);
    if (maps_n == maps_cap) {
        size_t nc = maps_cap ? maps_cap * 2 : 16;
        struct maps_slot *nm = realloc(maps, nc * sizeof(*nm));
        if (!nm) {
            pthread_mutex_unlock(&table_lock);
            free(maps_text);
            sls_free_vmas(vmas, nvmas);
            return;
        }
        maps = nm;
        maps_cap = nc;
    }
    maps[maps_n++] = (struct maps_slot){ pid, process_start, read_ns, maps_text, vmas, nvmas };
    pthread_mutex_unlock(&table_lock);
}

/* ---- hot sets (guarded by table_lock too) --------------------------------------------------------- */

struct hot_slot {
    pid_t pid;
    uint64_t process_start;
    struct sls_track_range_list l;
};

static struct hot_slot *hots;
static size_t hots_n, hots_cap;

static int hot_remove(pid_t pid, struct hot_slot *out)
{
    int found = 0;
    pthread_mutex_lock(&table_lock);
    for (size_t i = 0; i < hots_n && !found; i++) {
        if (hots[i].pid == pid) {
            struct hot_slot h = hots[i];
            hots[i] = hots[--hots_n];
            found = 1;
            if (out)
                *out = h;
            else
                free(h.l.v);
        }
    }
    pthread_mutex_unlock(&table_lock);
    return found;
}

int sls_hot_take(pid_t pid, uint64_t process_start, struct sls_track_range_list *out)
{
    struct hot_slot h;
    if (!hot_remove(pid, &h))
        return 0;
    if (h.process_start != process_start) {
        free(h.l.v);
        return 0;
    }
    *out = h.l;
    return 1;
}

void sls_hot_put(pid_t pid, uint64_t process_start, struct sls_track_range_list *l)
{
    hot_remove(pid, NULL);
    pthread_mutex_lock(&table_lock);
    if (hots_n == hots_cap) {
        size_t nc = hots_cap ? hots_cap * 2 : 16;
        struct hot_slot *nh = realloc(hots, nc * sizeof(*nh));
        if (!nh) {
            pthread_mutex_unlock(&table_lock);
            free(l->v);
            memset(l, 0, sizeof(*l));
            return;
        }
        hots = nh;
        hots_cap = nc;
    }
    hots[hots_n++] = (struct hot_slot){ pid, process_start, *l };
    memset(l, 0, sizeof(*l));
    pthread_mutex_unlock(&table_lock);
}

int sls_forget_tracking(const int32_t *pids, int32_t npids)
{
    int closed = 0;
    for (int32_t i = 0; pids && i < npids; i++) {
        maps_remove(pids[i], NULL);
        hot_remove(pids[i], NULL);
        struct sls_tracker *t = sls_trackers_take(pids[i]);
        if (t) {
            sls_track_close(t);
            closed++;
        }
    }
    return closed;
}

int sls_tracking_mode(int32_t pid)
{
    int mode = -ENOENT;
    pthread_mutex_lock(&table_lock);
    for (size_t i = 0; i < table_n; i++)
        if (table[i].pid == pid)
            mode = sls_track_mode(table[i].t);
    pthread_mutex_unlock(&table_lock);
    return mode;
}
