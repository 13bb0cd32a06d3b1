/*
 * Dirty-page tracking (track.h) against a live process with known memory (tests/prog/trk_target):
 * each mechanism reports exactly the pages written and the regions created, moved or grown since
 * the previous collect, leaves nothing in the target, and never outlives the engine.
 */
#include "sls_test.h"
#include "freeze.h"
#include "slsnative.h"
#include "track.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096ull
#define BIG_PAGES 16384ull /* the target's 64 MiB region */

struct target {
    pid_t pid;
    int to, from; /* command pipe into its stdin, reply pipe from its stdout */
};

static char target_path[PATH_MAX];

static void find_target(void)
{
    char self[PATH_MAX - 64];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = 0;
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = 0;
    snprintf(target_path, sizeof(target_path), "%s/../prog/trk_target", self);
}

static int start_target(struct target *t)
{
    int in[2], out[2];
    if (pipe(in) || pipe(out))
        return -1;
    t->pid = fork();
    if (t->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]); close(in[1]); close(out[0]); close(out[1]);
        execl(target_path, "trk_target", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    t->to = in[1];
    t->from = out[0];
    return t->pid > 0 ? 0 : -1;
}

static void stop_target(struct target *t)
{
    if (t->pid <= 0)
        return;
    kill(t->pid, SIGKILL);
    waitpid(t->pid, NULL, 0);
    close(t->to);
    close(t->from);
    t->pid = 0;
}

/* Reads one reply line within 5 s; 0 and *val on "ok", -1 otherwise (why in buf). */
static int read_reply(struct target *t, uint64_t *val, char *why, size_t whylen)
{
    char line[256];
    size_t n = 0;
    while (n + 1 < sizeof(line)) {
        struct pollfd pf = { .fd = t->from, .events = POLLIN };
        if (poll(&pf, 1, 5000) != 1) {
            snprintf(why, whylen, "target %d did not answer within 5 s", t->pid);
            return -1;
        }
        if (read(t->from, line + n, 1) != 1) {
            snprintf(why, whylen, "target %d closed its output", t->pid);
            return -1;
        }
        if (line[n] == '\n')
            break;
        n++;
    }
    line[n] = 0;
    if (strncmp(line, "ok ", 3)) {
        snprintf(why, whylen, "target said: %.200s", line);
        return -1;
    }
    *val = strtoull(line + 3, NULL, 16);
    return 0;
}

static int send_cmd(struct target *t, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    line[n++] = '\n';
    return write(t->to, line, (size_t)n) == n ? 0 : -1;
}

/* Sends one command and waits for its answer. */
static int cmd(struct target *t, uint64_t *val, char *why, size_t whylen, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (send_cmd(t, "%s", line)) {
        snprintf(why, whylen, "cannot send '%.200s'", line);
        return -1;
    }
    uint64_t ignored;
    return read_reply(t, val ? val : &ignored, why, whylen);
}

#define CMD(t, val, ...)                                                                           \
    do {                                                                                           \
        char why_[256];                                                                            \
        if (cmd((t), (val), why_, sizeof(why_), __VA_ARGS__))                                      \
            REQUIRE(0, "%s", why_);                                                                \
    } while (0)

/* Number of the target's fds that are a userfaultfd. */
static int uffds_in(pid_t pid)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[PATH_MAX], link[256];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        ssize_t len = readlink(path, link, sizeof(link) - 1);
        if (len > 0) {
            link[len] = 0;
            if (strstr(link, "userfaultfd"))
                n++;
        }
    }
    closedir(d);
    return n;
}

/* Number of the target's VMAs registered for userfaultfd write-protect ("uw" in VmFlags). */
static int wp_registered_vmas(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmFlags:", 8) && strstr(line, " uw"))
            n++;
    fclose(f);
    return n;
}

/* ---- checks on a delta ----------------------------------------------------------------------- */

static int well_formed(const struct sls_track_delta *d, char *why, size_t len)
{
    const struct sls_track_range_list *lists[2] = { &d->dirty, &d->whole };
    for (int l = 0; l < 2; l++) {
        for (size_t i = 0; i < lists[l]->n; i++) {
            const struct sls_track_range *r = &lists[l]->v[i];
            if (r->start >= r->end || r->start % PAGE || r->end % PAGE) {
                snprintf(why, len, "%s range %zu is %#llx-%#llx", l ? "whole" : "dirty", i,
                         (unsigned long long)r->start, (unsigned long long)r->end);
                return 0;
            }
            if (i && lists[l]->v[i - 1].end > r->start) {
                snprintf(why, len, "%s ranges unsorted or overlapping at %zu", l ? "whole" : "dirty", i);
                return 0;
            }
        }
    }
    for (size_t i = 0, j = 0; i < d->dirty.n && j < d->whole.n;) {
        const struct sls_track_range *a = &d->dirty.v[i], *b = &d->whole.v[j];
        if (a->end <= b->start) {
            i++;
        } else if (b->end <= a->start) {
            j++;
        } else {
            snprintf(why, len, "dirty %#llx-%#llx overlaps whole %#llx-%#llx",
                     (unsigned long long)a->start, (unsigned long long)a->end,
                     (unsigned long long)b->start, (unsigned long long)b->end);
            return 0;
        }
    }
    return 1;
}

/* Pages of [s, e) inside the list's ranges, written as a sorted list of page indexes from s. */
static size_t pages_in(const struct sls_track_range_list *l, uint64_t s, uint64_t e, uint64_t *idx,
                       size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++) {
        uint64_t a = l->v[i].start > s ? l->v[i].start : s;
        uint64_t b = l->v[i].end < e ? l->v[i].end : e;
        for (uint64_t p = a; p < b; p += PAGE) {
            if (n < max)
                idx[n] = (p - s) / PAGE;
            n++;
        }
    }
    return n;
}

/* 1 if [s, e) lies inside one whole range with the given reason. */
static int covered_whole(const struct sls_track_delta *d, uint64_t s, uint64_t e, uint32_t reason)
{
    for (size_t i = 0; i < d->whole.n; i++)
        if (d->whole.v[i].start <= s && e <= d->whole.v[i].end && d->whole.v[i].reason == reason)
            return 1;
    return 0;
}

static int freeze_one(struct sls_freeze *fz, pid_t pid, char *err, size_t errlen)
{
    memset(fz, 0, sizeof(*fz));
    int32_t p = pid;
    return sls_freeze(fz, &p, 1, 0, err, errlen);
}

/* ---- the scenario every mechanism must pass --------------------------------------------------- */

static const uint64_t written_big[] = { 0, 1, 7, 100, 4095, 16383 };
static const uint64_t discarded_big[] = { 200, 201, 202, 203 };

static void scenario(int mode, char *case_why)
{
    char err[512] = "";
    struct target t = { 0 };
    struct sls_freeze fz = { 0 };
    struct sls_tracker *tr = NULL;
    struct sls_track_delta d = { 0 }, again = { 0 };
    int frozen = 0;
    uint64_t big, small, moved_from, fresh, moved_to, old_brk, sum, idx[64];

    REQUIRE(start_target(&t) == 0, "cannot start %.300s", target_path);
    CMD(&t, &big, "big");
    CMD(&t, &small, "small");
    CMD(&t, &moved_from, "mmap %x", 16);
    CMD(&t, NULL, "write %llx %x", (unsigned long long)moved_from, 16);

    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    int rc = sls_track_open(&fz.procs[0], mode, &tr, err, sizeof(err));
    REQUIRE(rc == 0, "open %s: %s", sls_track_mode_name(mode), err);
    REQUIRE(sls_track_mode(tr) == mode, "tracker mode %d, want %d", sls_track_mode(tr), mode);
    REQUIRE(sls_thaw(&fz, err, sizeof(err)) == 0, "thaw: %s", err);
    frozen = 0;
    EXPECT(uffds_in(t.pid) == 0, "the target holds %d userfaultfd(s) after open", uffds_in(t.pid));

    /* the writes the collect must find */
    for (size_t i = 0; i < sizeof(written_big) / sizeof(written_big[0]); i++)
        CMD(&t, NULL, "write %llx 1", (unsigned long long)(big + written_big[i] * PAGE));
    CMD(&t, NULL, "dontneed %llx 4", (unsigned long long)(big + discarded_big[0] * PAGE));
    CMD(&t, &fresh, "mmap %x", 32);
    CMD(&t, NULL, "write %llx 1", (unsigned long long)(fresh + 3 * PAGE));
    CMD(&t, &moved_to, "mremap %llx %x", (unsigned long long)moved_from, 16);
    CMD(&t, NULL, "write %llx 1", (unsigned long long)(moved_to + 2 * PAGE));
    CMD(&t, &old_brk, "sbrk %x", 0x10000);
    uint64_t brk_lo = (old_brk + PAGE - 1) & ~(PAGE - 1), brk_hi = (old_brk + 0x10000) & ~(PAGE - 1);
    CMD(&t, NULL, "write %llx 1", (unsigned long long)brk_lo);

    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_collect(tr, &d, 0, err, sizeof(err)) == 0, "collect: %s", err);
    REQUIRE(sls_track_collect(tr, &again, 0, err, sizeof(err)) == 0, "second collect: %s", err);
    REQUIRE(sls_thaw(&fz, err, sizeof(err)) == 0, "thaw: %s", err);
    frozen = 0;

    char why[256];
    REQUIRE(well_formed(&d, why, sizeof(why)), "first collect: %s", why);
    REQUIRE(well_formed(&again, why, sizeof(why)), "second collect: %s", why);

    /* the big region: exactly the written and the discarded pages */
    size_t n = pages_in(&d.dirty, big, big + BIG_PAGES * PAGE, idx, 64);
    size_t want = sizeof(written_big) / sizeof(written_big[0]) + 4;
    uint64_t expect[16];
    size_t k = 0;
    for (size_t i = 0; i < 4; i++)
        expect[k++] = written_big[i];
    expect[k++] = 200; expect[k++] = 201; expect[k++] = 202; expect[k++] = 203;
    expect[k++] = written_big[4];
    expect[k++] = written_big[5];
    EXPECT(n == want, "%zu dirty pages in the 64 MiB region, want %zu (first %llu %llu %llu)", n, want,
           (unsigned long long)(n > 0 ? idx[0] : 0), (unsigned long long)(n > 1 ? idx[1] : 0),
           (unsigned long long)(n > 2 ? idx[2] : 0));
    for (size_t i = 0; i < n && i < want; i++)
        EXPECT(idx[i] == expect[i], "dirty page #%zu of the 64 MiB region is %llu, want %llu", i,
               (unsigned long long)idx[i], (unsigned long long)expect[i]);
    EXPECT(pages_in(&d.whole, big, big + BIG_PAGES * PAGE, idx, 64) == 0,
           "part of the 64 MiB region reported whole");
    EXPECT(pages_in(&d.dirty, small, small + 16 * PAGE, idx, 64) +
               pages_in(&d.whole, small, small + 16 * PAGE, idx, 64) == 0,
           "the untouched 16-page region was reported");
    /* new, moved and grown regions: whole */
    EXPECT(covered_whole(&d, fresh, fresh + 32 * PAGE, SLS_TRACK_WHOLE_NEW),
           "the region mapped after open is not reported whole");
    EXPECT(covered_whole(&d, moved_to, moved_to + 16 * PAGE, SLS_TRACK_WHOLE_NEW),
           "the mremap'd region is not reported whole at its new place");
    EXPECT(pages_in(&d.dirty, moved_from, moved_from + 16 * PAGE, idx, 64) +
               pages_in(&d.whole, moved_from, moved_from + 16 * PAGE, idx, 64) == 0,
           "the mremap'd region's old place is still reported");
    EXPECT(covered_whole(&d, brk_lo, brk_hi, SLS_TRACK_WHOLE_NEW),
           "the heap grown by sbrk (%#llx-%#llx) is not reported whole", (unsigned long long)brk_lo,
           (unsigned long long)brk_hi);

    /* nothing ran between the two collects */
    EXPECT(again.dirty.n == 0, "second collect with no writes reports %zu dirty ranges (first %#llx)",
           again.dirty.n, (unsigned long long)(again.dirty.n ? again.dirty.v[0].start : 0));
    for (size_t i = 0; i < again.whole.n; i++)
        EXPECT(again.whole.v[i].reason == SLS_TRACK_WHOLE_UNTRACKED,
               "second collect reports %#llx-%#llx as new", (unsigned long long)again.whole.v[i].start,
               (unsigned long long)again.whole.v[i].end);

    /* the target runs on, its memory intact, and later writes land in the newly tracked regions */
    CMD(&t, &sum, "sum %llx %llx", (unsigned long long)big, (unsigned long long)BIG_PAGES);
    uint64_t want_sum = 0;
    for (uint64_t i = 0; i < BIG_PAGES; i++)
        if (i < 200 || i > 203)
            want_sum += i * 1000 + 1;
    want_sum += sizeof(written_big) / sizeof(written_big[0]);
    EXPECT(sum == want_sum, "the 64 MiB region sums to %llu, want %llu", (unsigned long long)sum,
           (unsigned long long)want_sum);
    EXPECT(uffds_in(t.pid) == 0, "the target holds a userfaultfd");
    CMD(&t, NULL, "write %llx 1", (unsigned long long)(fresh + 5 * PAGE));
    CMD(&t, NULL, "write %llx 1", (unsigned long long)(moved_to + 9 * PAGE));
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_collect(tr, &d, 0, err, sizeof(err)) == 0, "third collect: %s", err);
    REQUIRE(sls_thaw(&fz, err, sizeof(err)) == 0, "thaw: %s", err);
    frozen = 0;
    n = pages_in(&d.dirty, fresh, fresh + 32 * PAGE, idx, 64);
    EXPECT(n == 1 && idx[0] == 5, "new region after its first collect: %zu dirty pages, want page 5", n);
    n = pages_in(&d.dirty, moved_to, moved_to + 16 * PAGE, idx, 64);
    EXPECT(n == 1 && idx[0] == 9, "moved region after its first collect: %zu dirty pages, want page 9", n);
    EXPECT(pages_in(&d.dirty, big, big + BIG_PAGES * PAGE, idx, 64) == 0,
           "64 MiB region dirty in the third collect");
    EXPECT(!covered_whole(&d, fresh, fresh + PAGE, SLS_TRACK_WHOLE_NEW) &&
               !covered_whole(&d, brk_lo, brk_lo + PAGE, SLS_TRACK_WHOLE_NEW),
           "regions seen by the previous collect are reported new again");
out:
    if (frozen)
        sls_thaw(&fz, err, sizeof(err));
    sls_track_close(tr);
    sls_track_delta_free(&d);
    sls_track_delta_free(&again);
    stop_target(&t);
}

/* Growth in place: a region grown by mremap into free space and then on into the place of a
 * neighbour that was unmapped. The grown part is new memory (the neighbour's old pages must not show
 * through), so it is reported; the old part is not. */
static void growth_scenario(int mode, char *case_why)
{
    char err[512] = "";
    struct target t = { 0 };
    struct sls_freeze fz = { 0 };
    struct sls_tracker *tr = NULL;
    struct sls_track_delta d = { 0 };
    int frozen = 0;
    uint64_t a, b, sum, idx[64];

    REQUIRE(start_target(&t) == 0, "cannot start %.300s", target_path);
    /* A = 16 pages at a, a 16-page hole, B = 16 pages at a + 32 pages */
    CMD(&t, &a, "mmap %x", 48);
    CMD(&t, NULL, "unmap %llx %x", (unsigned long long)(a + 16 * PAGE), 32);
    CMD(&t, &b, "mmapat %llx %x", (unsigned long long)(a + 32 * PAGE), 16);
    REQUIRE(b == a + 32 * PAGE, "neighbour mapped at %#llx, want %#llx", (unsigned long long)b,
            (unsigned long long)(a + 32 * PAGE));
    CMD(&t, NULL, "write %llx %x", (unsigned long long)a, 16);
    CMD(&t, NULL, "write %llx %x", (unsigned long long)b, 16);

    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_open(&fz.procs[0], mode, &tr, err, sizeof(err)) == 0, "open: %s", err);
    REQUIRE(sls_thaw(&fz, err, sizeof(err)) == 0, "thaw: %s", err);
    frozen = 0;

    CMD(&t, NULL, "grow %llx %x %x", (unsigned long long)a, 16, 32);
    CMD(&t, NULL, "write %llx 1", (unsigned long long)(a + 20 * PAGE));
    CMD(&t, NULL, "unmap %llx %x", (unsigned long long)b, 16);
    CMD(&t, NULL, "grow %llx %x %x", (unsigned long long)a, 32, 48);

    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_collect(tr, &d, 0, err, sizeof(err)) == 0, "collect: %s", err);
    REQUIRE(sls_thaw(&fz, err, sizeof(err)) == 0, "thaw: %s", err);
    frozen = 0;
    char why[256];
    REQUIRE(well_formed(&d, why, sizeof(why)), "%s", why);
    size_t grown = pages_in(&d.dirty, a + 16 * PAGE, a + 48 * PAGE, idx, 64) +
                   pages_in(&d.whole, a + 16 * PAGE, a + 48 * PAGE, idx, 64);
    EXPECT(grown == 32, "%zu of the 32 grown pages reported", grown);
    size_t old = pages_in(&d.dirty, a, a + 16 * PAGE, idx, 64) +
                 pages_in(&d.whole, a, a + 16 * PAGE, idx, 64);
    EXPECT(old == 0, "%zu of the 16 untouched old pages reported", old);
    CMD(&t, &sum, "sum %llx %x", (unsigned long long)a, 48);
    EXPECT(sum == 16 + 1, "grown region sums to %llu, want %u", (unsigned long long)sum, 16 + 1);
out:
    if (frozen)
        sls_thaw(&fz, err, sizeof(err));
    sls_track_close(tr);
    sls_track_delta_free(&d);
    stop_target(&t);
}

/* Shared memory is written by other processes without touching this one's page tables: it is never
 * "unchanged", so every collect reports it whole (untracked), in every mechanism. */
static void shared_scenario(int mode, char *case_why)
{
    char err[512] = "";
    struct target t = { 0 };
    struct sls_freeze fz = { 0 };
    struct sls_tracker *tr = NULL;
    struct sls_track_delta d = { 0 };
    int frozen = 0;
    uint64_t shm;
    REQUIRE(start_target(&t) == 0, "cannot start %.300s", target_path);
    CMD(&t, &shm, "mmapshared %x", 8);
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_open(&fz.procs[0], mode, &tr, err, sizeof(err)) == 0, "open: %s", err);
    for (int round = 0; round < 2; round++) {
        REQUIRE(sls_track_collect(tr, &d, 0, err, sizeof(err)) == 0, "collect: %s", err);
        EXPECT(covered_whole(&d, shm, shm + 8 * PAGE, SLS_TRACK_WHOLE_UNTRACKED),
               "collect %d does not report the shared mapping whole (untracked)", round + 1);
    }
out:
    if (frozen)
        sls_thaw(&fz, err, sizeof(err));
    sls_track_close(tr);
    sls_track_delta_free(&d);
    stop_target(&t);
}

/* A 2 GiB PROT_NONE reservation (a JVM heap before it is committed) is not tracked page by page
 * (uffd would allocate page tables for all of it): it is reported whole, as untracked, each time. */
static void reservation_scenario(int mode, char *case_why)
{
    char err[512] = "";
    struct target t = { 0 };
    struct sls_freeze fz = { 0 };
    struct sls_tracker *tr = NULL;
    struct sls_track_delta d = { 0 };
    int frozen = 0;
    uint64_t res, len = 2ull << 30;
    REQUIRE(start_target(&t) == 0, "cannot start %.300s", target_path);
    CMD(&t, &res, "mmap %llx", (unsigned long long)(len / PAGE));
    CMD(&t, NULL, "protect %llx %llx 0", (unsigned long long)res, (unsigned long long)(len / PAGE));
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_open(&fz.procs[0], mode, &tr, err, sizeof(err)) == 0, "open: %s", err);
    REQUIRE(sls_track_collect(tr, &d, 0, err, sizeof(err)) == 0, "collect: %s", err);
    EXPECT(covered_whole(&d, res, res + len, SLS_TRACK_WHOLE_UNTRACKED),
           "the 2 GiB reservation is not reported whole (untracked)");
    EXPECT(d.tracked_bytes < len, "%llu bytes tracked: the reservation was tracked",
           (unsigned long long)d.tracked_bytes);
out:
    if (frozen)
        sls_thaw(&fz, err, sizeof(err));
    sls_track_close(tr);
    sls_track_delta_free(&d);
    stop_target(&t);
}

TEST_CASE(huge_inaccessible_reservations_are_left_untracked)
{
    if (sls_track_available(SLS_TRACK_UFFD))
        reservation_scenario(SLS_TRACK_UFFD, case_why);
    if (!*case_why)
        reservation_scenario(SLS_TRACK_DIGEST, case_why);
}

TEST_CASE(shared_mappings_are_reported_whole_at_every_collect)
{
    if (sls_track_available(SLS_TRACK_UFFD))
        shared_scenario(SLS_TRACK_UFFD, case_why);
    if (!*case_why)
        shared_scenario(SLS_TRACK_DIGEST, case_why);
}

/* A region unmapped and mapped again at the same place with the same size between two collects:
 * the maps look the same, the memory is not. Every page whose contents changed is reported. */
static void replaced_scenario(int mode, char *case_why)
{
    char err[512] = "";
    struct target t = { 0 };
    struct sls_freeze fz = { 0 };
    struct sls_tracker *tr = NULL;
    struct sls_track_delta d = { 0 };
    int frozen = 0;
    uint64_t r, again, idx[64];
    REQUIRE(start_target(&t) == 0, "cannot start %.300s", target_path);
    CMD(&t, &r, "mmap %x", 16);
    CMD(&t, NULL, "write %llx %x", (unsigned long long)r, 16);
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_open(&fz.procs[0], mode, &tr, err, sizeof(err)) == 0, "open: %s", err);
    REQUIRE(sls_thaw(&fz, err, sizeof(err)) == 0, "thaw: %s", err);
    frozen = 0;
    CMD(&t, NULL, "unmap %llx %x", (unsigned long long)r, 16);
    CMD(&t, &again, "mmapat %llx %x", (unsigned long long)r, 16);
    REQUIRE(again == r, "remapped at %#llx, want %#llx", (unsigned long long)again, (unsigned long long)r);
    CMD(&t, NULL, "write %llx 1", (unsigned long long)(r + 3 * PAGE)); /* same value as before */
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_collect(tr, &d, 0, err, sizeof(err)) == 0, "collect: %s", err);
    char why[256];
    REQUIRE(well_formed(&d, why, sizeof(why)), "%s", why);
    size_t n = pages_in(&d.dirty, r, r + 16 * PAGE, idx, 64), w = pages_in(&d.whole, r, r + 16 * PAGE, idx, 64);
    /* 15 pages went from 1 to 0; page 3 is 1 again (digest may rightly leave it out) */
    EXPECT(n + w >= 15, "only %zu dirty + %zu whole of the 15 changed pages reported", n, w);
    if (mode == SLS_TRACK_UFFD)
        EXPECT(covered_whole(&d, r, r + 16 * PAGE, SLS_TRACK_WHOLE_NEW),
               "uffd: the replaced region is not reported whole");
out:
    if (frozen)
        sls_thaw(&fz, err, sizeof(err));
    sls_track_close(tr);
    sls_track_delta_free(&d);
    stop_target(&t);
}

TEST_CASE(a_region_replaced_at_the_same_place_is_reported)
{
    if (sls_track_available(SLS_TRACK_UFFD))
        replaced_scenario(SLS_TRACK_UFFD, case_why);
    if (!*case_why)
        replaced_scenario(SLS_TRACK_DIGEST, case_why);
}

/* uffd scans runs of neighbouring VMAs together: a VMA replaced in the middle of such a run is
 * found, reported whole, and the written pages on both sides of it are still exact. */
TEST_CASE(uffd_finds_a_replaced_region_between_tracked_neighbours)
{
    char err[512] = "";
    struct target t = { 0 };
    struct sls_freeze fz = { 0 };
    struct sls_tracker *tr = NULL;
    struct sls_track_delta d = { 0 };
    int frozen = 0;
    uint64_t x, again, idx[64];
    REQUIRE(sls_track_available(SLS_TRACK_UFFD), "uffd write-protect tracking unavailable here");
    REQUIRE(start_target(&t) == 0, "cannot start %.300s", target_path);
    /* three VMAs L | M | R, kept apart by M's different protection */
    CMD(&t, &x, "mmap %x", 48);
    CMD(&t, NULL, "write %llx %x", (unsigned long long)x, 48);
    CMD(&t, NULL, "protect %llx %x %x", (unsigned long long)(x + 16 * PAGE), 16,
        PROT_READ | PROT_WRITE | PROT_EXEC);
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_open(&fz.procs[0], SLS_TRACK_UFFD, &tr, err, sizeof(err)) == 0, "open: %s", err);
    REQUIRE(sls_thaw(&fz, err, sizeof(err)) == 0, "thaw: %s", err);
    frozen = 0;
    CMD(&t, NULL, "write %llx 1", (unsigned long long)(x + 2 * PAGE));
    CMD(&t, NULL, "write %llx 1", (unsigned long long)(x + 37 * PAGE));
    CMD(&t, NULL, "unmap %llx %x", (unsigned long long)(x + 16 * PAGE), 16);
    CMD(&t, &again, "mmapat %llx %x", (unsigned long long)(x + 16 * PAGE), 16);
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_collect(tr, &d, 0, err, sizeof(err)) == 0, "collect: %s", err);
    char why[256];
    REQUIRE(well_formed(&d, why, sizeof(why)), "%s", why);
    EXPECT(covered_whole(&d, x + 16 * PAGE, x + 32 * PAGE, SLS_TRACK_WHOLE_NEW),
           "the replaced middle region is not reported whole");
    size_t n = pages_in(&d.dirty, x, x + 48 * PAGE, idx, 64);
    EXPECT(n == 2 && idx[0] == 2 && idx[1] == 37, "%zu dirty pages around it, want pages 2 and 37", n);
    EXPECT(pages_in(&d.whole, x, x + 16 * PAGE, idx, 64) + pages_in(&d.whole, x + 32 * PAGE, x + 48 * PAGE, idx, 64) == 0,
           "a neighbour of the replaced region is reported whole");
out:
    if (frozen)
        sls_thaw(&fz, err, sizeof(err));
    sls_track_close(tr);
    sls_track_delta_free(&d);
    stop_target(&t);
}

/* Running collects race a process that maps, moves and unmaps memory all the time: none fails,
 * and afterwards tracking is still exact. */
static void churn_scenario(int mode, char *case_why)
{
    char err[512] = "";
    struct target t = { 0 };
    struct sls_freeze fz = { 0 };
    struct sls_tracker *tr = NULL;
    struct sls_track_delta d = { 0 };
    int frozen = 0;
    uint64_t big, rounds, idx[64];
    REQUIRE(start_target(&t) == 0, "cannot start %.300s", target_path);
    CMD(&t, &big, "big");
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_open(&fz.procs[0], mode, &tr, err, sizeof(err)) == 0, "open: %s", err);
    REQUIRE(sls_thaw(&fz, err, sizeof(err)) == 0, "thaw: %s", err);
    frozen = 0;
    REQUIRE(send_cmd(&t, "churn %llx %x", (unsigned long long)big, 64) == 0, "cannot send churn");
    int collects = mode == SLS_TRACK_DIGEST ? 10 : 200;
    for (int i = 0; i < collects; i++)
        REQUIRE(sls_track_collect(tr, &d, SLS_TRACK_COLLECT_RUNNING, err, sizeof(err)) == 0,
                "running collect %d during churn: %s", i, err);
    CMD(&t, &rounds, "big"); /* ends the churn: its answer is the round count */
    {
        char why[256];
        uint64_t ignored;
        REQUIRE(read_reply(&t, &ignored, why, sizeof(why)) == 0, "%s", why);
    }
    EXPECT(rounds > 0, "the target never churned");
    /* settle, then one known write */
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_collect(tr, &d, 0, err, sizeof(err)) == 0, "collect: %s", err);
    REQUIRE(sls_thaw(&fz, err, sizeof(err)) == 0, "thaw: %s", err);
    frozen = 0;
    CMD(&t, NULL, "write %llx 1", (unsigned long long)(big + 1000 * PAGE));
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_collect(tr, &d, 0, err, sizeof(err)) == 0, "collect: %s", err);
    size_t n = pages_in(&d.dirty, big, big + BIG_PAGES * PAGE, idx, 64) +
               pages_in(&d.whole, big, big + BIG_PAGES * PAGE, idx, 64);
    EXPECT(n == 1 && idx[0] == 1000, "after the churn: %zu pages of the 64 MiB region reported, "
           "want page 1000", n);
out:
    if (frozen)
        sls_thaw(&fz, err, sizeof(err));
    sls_track_close(tr);
    sls_track_delta_free(&d);
    stop_target(&t);
}

TEST_CASE(running_collects_survive_a_process_that_maps_and_unmaps_all_the_time)
{
    if (sls_track_available(SLS_TRACK_UFFD))
        churn_scenario(SLS_TRACK_UFFD, case_why);
    if (!*case_why)
        churn_scenario(SLS_TRACK_DIGEST, case_why);
}

/* A process that cannot get a userfaultfd (here: at its open-file limit): asking for uffd fails and
 * says why; AUTO falls back to the next mechanism and keeps the reason. */
TEST_CASE(auto_falls_back_when_the_process_cannot_get_a_userfaultfd)
{
    char err[512] = "";
    struct target t = { 0 };
    struct sls_freeze fz = { 0 };
    struct sls_tracker *tr = NULL;
    int frozen = 0;
    REQUIRE(sls_track_available(SLS_TRACK_UFFD), "uffd write-protect tracking unavailable here");
    REQUIRE(start_target(&t) == 0, "cannot start %.300s", target_path);
    CMD(&t, NULL, "nofiles");
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    int rc = sls_track_open(&fz.procs[0], SLS_TRACK_UFFD, &tr, err, sizeof(err));
    EXPECT(rc == -EMFILE && !tr, "uffd open at the open-file limit returned %d", rc);
    EXPECT(strstr(err, "userfaultfd()"), "refusal does not name userfaultfd: '%s'", err);
    REQUIRE(sls_track_open(&fz.procs[0], SLS_TRACK_AUTO, &tr, err, sizeof(err)) == 0, "auto open: %s", err);
    int want = sls_track_available(SLS_TRACK_SOFTDIRTY) ? SLS_TRACK_SOFTDIRTY : SLS_TRACK_DIGEST;
    EXPECT(sls_track_mode(tr) == want, "auto chose %s, want %s", sls_track_mode_name(sls_track_mode(tr)),
           sls_track_mode_name(want));
    EXPECT(!strncmp(sls_track_passed_over(tr), "uffd: ", 6) && strstr(sls_track_passed_over(tr), "userfaultfd()"),
           "passed-over reason is '%s'", sls_track_passed_over(tr));
    EXPECT(uffds_in(t.pid) == 0, "the target holds a userfaultfd");
out:
    if (frozen)
        sls_thaw(&fz, err, sizeof(err));
    sls_track_close(tr);
    stop_target(&t);
}

/* The tracked process execs: its old address space is gone, and a collect says so instead of
 * comparing the new one with the old baseline. */
TEST_CASE(collect_after_exec_refuses_and_says_to_reopen)
{
    char err[512] = "";
    struct target t = { 0 };
    struct sls_freeze fz = { 0 };
    struct sls_tracker *tr = NULL;
    struct sls_track_delta d = { 0 };
    int frozen = 0;
    REQUIRE(start_target(&t) == 0, "cannot start %.300s", target_path);
    CMD(&t, NULL, "big");
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_open(&fz.procs[0], SLS_TRACK_AUTO, &tr, err, sizeof(err)) == 0, "open: %s", err);
    REQUIRE(sls_thaw(&fz, err, sizeof(err)) == 0, "thaw: %s", err);
    frozen = 0;
    REQUIRE(send_cmd(&t, "exec") == 0, "cannot send exec");
    CMD(&t, NULL, "big"); /* answered by the new image */
    int rc = sls_track_collect(tr, &d, SLS_TRACK_COLLECT_RUNNING, err, sizeof(err));
    EXPECT(rc == -ESRCH, "collect after exec returned %d (%s), want -ESRCH", rc, err);
    EXPECT(strstr(err, "exec") && strstr(err, "new tracker"), "error does not say what to do: '%s'", err);
out:
    if (frozen)
        sls_thaw(&fz, err, sizeof(err));
    sls_track_close(tr);
    sls_track_delta_free(&d);
    stop_target(&t);
}

/* The tracked process dies: a collect fails with one line naming it, and close still works. */
TEST_CASE(collect_on_a_dead_process_fails_with_a_clear_error)
{
    char err[512] = "";
    struct target t = { 0 };
    struct sls_freeze fz = { 0 };
    struct sls_tracker *tr = NULL;
    struct sls_track_delta d = { 0 };
    int frozen = 0;
    REQUIRE(start_target(&t) == 0, "cannot start %.300s", target_path);
    CMD(&t, NULL, "small");
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_open(&fz.procs[0], SLS_TRACK_AUTO, &tr, err, sizeof(err)) == 0, "open: %s", err);
    REQUIRE(sls_thaw(&fz, err, sizeof(err)) == 0, "thaw: %s", err);
    frozen = 0;
    pid_t pid = t.pid;
    stop_target(&t);
    int rc = sls_track_collect(tr, &d, SLS_TRACK_COLLECT_RUNNING, err, sizeof(err));
    char want[32];
    snprintf(want, sizeof(want), "pid %d", pid);
    EXPECT(rc < 0, "collect on a dead process returned %d", rc);
    EXPECT(strstr(err, want) && !strchr(err, '\n'), "error does not name the process in one line: '%s'",
           err);
out:
    if (frozen)
        sls_thaw(&fz, err, sizeof(err));
    sls_track_close(tr);
    sls_track_delta_free(&d);
    stop_target(&t);
}

/* A lazy open only creates the tracker; the first collect (here while the process runs) takes
 * everything whole and sets the baseline, and from then on tracking is exact. */
static void lazy_scenario(int mode, char *case_why)
{
    char err[512] = "";
    struct target t = { 0 };
    struct sls_freeze fz = { 0 };
    struct sls_tracker *tr = NULL;
    struct sls_track_delta d = { 0 };
    int frozen = 0;
    uint64_t big, idx[64];
    REQUIRE(start_target(&t) == 0, "cannot start %.300s", target_path);
    CMD(&t, &big, "big");
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_open(&fz.procs[0], mode | SLS_TRACK_LAZY, &tr, err, sizeof(err)) == 0,
            "open: %s", err);
    REQUIRE(sls_track_mode(tr) == mode, "lazy tracker mode %d, want %d", sls_track_mode(tr), mode);
    REQUIRE(sls_thaw(&fz, err, sizeof(err)) == 0, "thaw: %s", err);
    frozen = 0;
    EXPECT(mode != SLS_TRACK_UFFD || wp_registered_vmas(t.pid) == 0,
           "a lazy open registered VMAs already");
    REQUIRE(sls_track_collect(tr, &d, SLS_TRACK_COLLECT_RUNNING, err, sizeof(err)) == 0,
            "first collect: %s", err);
    EXPECT(covered_whole(&d, big, big + BIG_PAGES * PAGE, SLS_TRACK_WHOLE_NEW),
           "the first collect after a lazy open does not report the 64 MiB region whole");
    CMD(&t, NULL, "write %llx 1", (unsigned long long)(big + 77 * PAGE));
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_collect(tr, &d, 0, err, sizeof(err)) == 0, "collect: %s", err);
    size_t n = pages_in(&d.dirty, big, big + BIG_PAGES * PAGE, idx, 64) +
               pages_in(&d.whole, big, big + BIG_PAGES * PAGE, idx, 64);
    EXPECT(n == 1 && idx[0] == 77, "%zu pages of the 64 MiB region reported, want page 77", n);
out:
    if (frozen)
        sls_thaw(&fz, err, sizeof(err));
    sls_track_close(tr);
    sls_track_delta_free(&d);
    stop_target(&t);
}

TEST_CASE(lazy_open_defers_the_first_pass_to_the_first_collect)
{
    if (sls_track_available(SLS_TRACK_UFFD))
        lazy_scenario(SLS_TRACK_UFFD, case_why);
    if (!*case_why)
        lazy_scenario(SLS_TRACK_DIGEST, case_why);
}

/* ---- the contract, end to end: a shadow composed from deltas equals the real memory ------------- */

/* The test's copy of the target's anonymous memory, built the way a delta chain is restored: a full
 * copy at open, then at each collect every reported page is taken again (absent = zero). */
#define SHADOW_SLOTS (1u << 17)
struct shadow {
    uint64_t addr[SHADOW_SLOTS]; /* page address + 1, 0 = free slot */
    unsigned char *data[SHADOW_SLOTS]; /* NULL = zeros */
};

static unsigned char **shadow_slot(struct shadow *sh, uint64_t page)
{
    uint64_t h = (page / PAGE) * 0x9E3779B97F4A7C15ull;
    for (uint32_t i = (uint32_t)(h >> 47);; i = (i + 1) & (SHADOW_SLOTS - 1)) {
        if (sh->addr[i] == page + 1)
            return &sh->data[i];
        if (sh->addr[i] == 0) {
            sh->addr[i] = page + 1;
            return &sh->data[i];
        }
    }
}

static void shadow_free(struct shadow *sh)
{
    for (uint32_t i = 0; i < SHADOW_SLOTS; i++)
        free(sh->data[i]);
    free(sh);
}

struct anon_vma {
    uint64_t start, end;
};

/* The target's private anonymous VMAs (inode 0, not [vdso]/[vvar]/[vsyscall]). */
static size_t anon_vmas(pid_t pid, struct anon_vma *out, size_t max)
{
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/%d/maps", pid);
    FILE *f = fopen(path, "r");
    size_t n = 0;
    while (f && fgets(line, sizeof(line), f)) {
        unsigned long long s, e, ino;
        char perms[8], name[256] = "";
        if (sscanf(line, "%llx-%llx %7s %*s %*s %llu %255s", &s, &e, perms, &ino, name) < 4)
            continue;
        if (ino != 0 || perms[3] != 'p' || !strcmp(name, "[vdso]") || !strcmp(name, "[vvar]") ||
            !strcmp(name, "[vvar_vclock]") || !strcmp(name, "[vsyscall]"))
            continue;
        if (n < max)
            out[n++] = (struct anon_vma){ s, e };
    }
    if (f)
        fclose(f);
    return n;
}

/* Takes [s, e) into the shadow as it is now: present pages by contents, absent ones as zeros. */
static int shadow_take(struct shadow *sh, int pagemap, int mem, uint64_t s, uint64_t e)
{
    static unsigned char page[PAGE];
    for (uint64_t a = s; a < e; a += PAGE) {
        uint64_t pm = 0;
        if (pread(pagemap, &pm, 8, (off_t)(a / PAGE * 8)) != 8)
            return -1;
        unsigned char **slot = shadow_slot(sh, a);
        if (!(pm & (3ull << 62))) {
            free(*slot);
            *slot = NULL;
            continue;
        }
        if (pread(mem, page, PAGE, (off_t)a) != (ssize_t)PAGE)
            return -1;
        if (!*slot && !(*slot = malloc(PAGE)))
            return -1;
        memcpy(*slot, page, PAGE);
    }
    return 0;
}

/* First page of an anonymous VMA whose contents differ from the shadow, or 0. */
static uint64_t shadow_mismatch(struct shadow *sh, pid_t pid, int mem)
{
    static struct anon_vma v[512];
    static unsigned char page[PAGE], zero[PAGE];
    size_t n = anon_vmas(pid, v, 512);
    for (size_t i = 0; i < n; i++) {
        for (uint64_t a = v[i].start; a < v[i].end; a += PAGE) {
            if (pread(mem, page, PAGE, (off_t)a) != (ssize_t)PAGE)
                return a;
            unsigned char **slot = shadow_slot(sh, a);
            if (memcmp(page, *slot ? *slot : zero, PAGE))
                return a;
        }
    }
    return 0;
}

static int shadow_apply(struct shadow *sh, int pagemap, int mem, const struct sls_track_delta *d)
{
    for (size_t i = 0; i < d->dirty.n; i++)
        if (shadow_take(sh, pagemap, mem, d->dirty.v[i].start, d->dirty.v[i].end))
            return -1;
    for (size_t i = 0; i < d->whole.n; i++)
        if (shadow_take(sh, pagemap, mem, d->whole.v[i].start, d->whole.v[i].end))
            return -1;
    return 0;
}

struct region {
    uint64_t addr, npages;
    int shrunk; /* shrunk in place: never grown again (a known uffd limit, see track.h) */
};

/* One epoch of random changes: writes, discards, new, moved, grown, shrunk and unmapped regions,
 * heap growth. Returns 0 or -1 with why set. */
static int random_changes(struct target *t, uint64_t big, struct region *r, size_t *nr, unsigned *seed,
                          char *why, size_t whylen)
{
    uint64_t v;
    for (int op = 0; op < 12; op++) {
        int kind = rand_r(seed) % 9;
        struct region *g = *nr ? &r[rand_r(seed) % *nr] : NULL;
        int rc = 0;
        if (kind <= 2) {
            uint64_t at = big + (uint64_t)(rand_r(seed) % BIG_PAGES) * PAGE;
            rc = cmd(t, NULL, why, whylen, "write %llx %x", (unsigned long long)at, 1 + rand_r(seed) % 3 > 2 ? 2 : 1);
        } else if (kind == 3) {
            uint64_t at = big + (uint64_t)(rand_r(seed) % (BIG_PAGES - 8)) * PAGE;
            rc = cmd(t, NULL, why, whylen, "dontneed %llx %x", (unsigned long long)at, 1 + rand_r(seed) % 8);
        } else if (kind == 4 && *nr < 64) {
            uint64_t np = 1 + rand_r(seed) % 48;
            rc = cmd(t, &v, why, whylen, "mmap %llx", (unsigned long long)np);
            if (!rc) {
                r[(*nr)++] = (struct region){ v, np, 0 };
                rc = cmd(t, NULL, why, whylen, "write %llx %llx", (unsigned long long)v,
                         (unsigned long long)(np / 2 + 1));
            }
        } else if (kind == 5 && g) {
            rc = cmd(t, &v, why, whylen, "mremap %llx %llx", (unsigned long long)g->addr,
                     (unsigned long long)g->npages);
            if (!rc)
                g->addr = v;
        } else if (kind == 6 && g && !g->shrunk) {
            /* in place; the target answers err when the next pages are taken, which is fine */
            char ignored[256];
            if (cmd(t, NULL, ignored, sizeof(ignored), "grow %llx %llx %llx", (unsigned long long)g->addr,
                    (unsigned long long)g->npages, (unsigned long long)(g->npages + 8)) == 0) {
                g->npages += 8;
                rc = cmd(t, NULL, why, whylen, "write %llx 1",
                         (unsigned long long)(g->addr + (g->npages - 2) * PAGE));
            }
        } else if (kind == 7 && g && g->npages > 2) {
            uint64_t keep = g->npages / 2;
            rc = cmd(t, NULL, why, whylen, "unmap %llx %llx", (unsigned long long)(g->addr + keep * PAGE),
                     (unsigned long long)(g->npages - keep));
            g->npages = keep;
            g->shrunk = 1;
        } else if (kind == 8 && g) {
            rc = cmd(t, NULL, why, whylen, "unmap %llx %llx", (unsigned long long)g->addr,
                     (unsigned long long)g->npages);
            *g = r[--*nr];
        } else {
            rc = cmd(t, &v, why, whylen, "sbrk %x", 0x3000);
            if (!rc)
                rc = cmd(t, NULL, why, whylen, "write %llx 1", (unsigned long long)((v + PAGE - 1) & ~(PAGE - 1)));
        }
        if (rc)
            return -1;
    }
    return 0;
}

/* Twelve epochs of random changes; after each, the shadow composed from the deltas must equal the
 * target's anonymous memory byte for byte — what a restore of a delta chain must give. With
 * precopy, each epoch is a running collect + copy, more changes, then the frozen collect + copy. */
static void chain_scenario(int mode, int precopy, char *case_why)
{
    char err[512] = "", why[256] = "";
    struct target t = { 0 };
    struct sls_freeze fz = { 0 };
    struct sls_tracker *tr = NULL;
    struct sls_track_delta d = { 0 };
    struct shadow *sh = calloc(1, sizeof(*sh));
    static struct region regions[64];
    static struct anon_vma v[512];
    size_t nregions = 0;
    int frozen = 0, pagemap = -1, mem = -1;
    unsigned seed = 7 + (unsigned)mode * 31 + (unsigned)precopy;
    uint64_t big;
    REQUIRE(sh, "out of memory");
    REQUIRE(start_target(&t) == 0, "cannot start %.300s", target_path);
    CMD(&t, &big, "big");
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/pagemap", t.pid);
    pagemap = open(path, O_RDONLY);
    snprintf(path, sizeof(path), "/proc/%d/mem", t.pid);
    mem = open(path, O_RDONLY);
    REQUIRE(pagemap >= 0 && mem >= 0, "cannot open the target's pagemap/mem");

    /* epoch 0: full */
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_open(&fz.procs[0], mode, &tr, err, sizeof(err)) == 0, "open: %s", err);
    size_t n = anon_vmas(t.pid, v, 512);
    for (size_t i = 0; i < n; i++)
        REQUIRE(shadow_take(sh, pagemap, mem, v[i].start, v[i].end) == 0, "full copy failed");
    REQUIRE(sls_thaw(&fz, err, sizeof(err)) == 0, "thaw: %s", err);
    frozen = 0;

    for (int epoch = 1; epoch <= 12; epoch++) {
        REQUIRE(random_changes(&t, big, regions, &nregions, &seed, why, sizeof(why)) == 0,
                "epoch %d: %s", epoch, why);
        if (precopy) {
            REQUIRE(sls_track_collect(tr, &d, SLS_TRACK_COLLECT_RUNNING, err, sizeof(err)) == 0,
                    "epoch %d running collect: %s", epoch, err);
            REQUIRE(shadow_apply(sh, pagemap, mem, &d) == 0, "epoch %d: pre-copy failed", epoch);
            REQUIRE(random_changes(&t, big, regions, &nregions, &seed, why, sizeof(why)) == 0,
                    "epoch %d: %s", epoch, why);
        }
        REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
        frozen = 1;
        REQUIRE(sls_track_collect(tr, &d, 0, err, sizeof(err)) == 0, "epoch %d collect: %s", epoch, err);
        REQUIRE(well_formed(&d, why, sizeof(why)), "epoch %d: %s", epoch, why);
        REQUIRE(shadow_apply(sh, pagemap, mem, &d) == 0, "epoch %d: copy failed", epoch);
        uint64_t bad = shadow_mismatch(sh, t.pid, mem);
        REQUIRE(sls_thaw(&fz, err, sizeof(err)) == 0, "thaw: %s", err);
        frozen = 0;
        REQUIRE(bad == 0, "epoch %d: page %#llx differs from the memory composed from the deltas",
                epoch, (unsigned long long)bad);
    }
out:
    if (frozen)
        sls_thaw(&fz, err, sizeof(err));
    if (pagemap >= 0)
        close(pagemap);
    if (mem >= 0)
        close(mem);
    sls_track_close(tr);
    sls_track_delta_free(&d);
    if (sh)
        shadow_free(sh);
    stop_target(&t);
}

TEST_CASE(uffd_delta_chain_composes_to_the_exact_memory)
{
    REQUIRE(sls_track_available(SLS_TRACK_UFFD), "uffd write-protect tracking unavailable here");
    chain_scenario(SLS_TRACK_UFFD, 0, case_why);
out:;
}

TEST_CASE(uffd_precopy_delta_chain_composes_to_the_exact_memory)
{
    REQUIRE(sls_track_available(SLS_TRACK_UFFD), "uffd write-protect tracking unavailable here");
    chain_scenario(SLS_TRACK_UFFD, 1, case_why);
out:;
}

TEST_CASE(digest_delta_chain_composes_to_the_exact_memory)
{
    chain_scenario(SLS_TRACK_DIGEST, 0, case_why);
}

/* ---- cases ------------------------------------------------------------------------------------ */

static int probe_says(const char *key)
{
    char buf[4096], err[256];
    if (sls_probe(buf, sizeof(buf), err, sizeof(err)) < 0)
        return -1;
    char pat[64];
    snprintf(pat, sizeof(pat), "%s=yes\n", key);
    return strstr(buf, pat) != NULL;
}

TEST_CASE(available_mechanisms_agree_with_the_kernel_probe)
{
    EXPECT(sls_track_available(SLS_TRACK_DIGEST) == 1, "digest must always be available");
    EXPECT(sls_track_available(SLS_TRACK_SOFTDIRTY) == probe_says("soft_dirty"),
           "soft-dirty available=%d but the probe says soft_dirty=%d",
           sls_track_available(SLS_TRACK_SOFTDIRTY), probe_says("soft_dirty"));
    int uffd = probe_says("uffd_wp_async") && probe_says("uffd_wp_unpopulated") &&
               probe_says("pagemap_scan") && probe_says("pidfd_getfd");
    EXPECT(sls_track_available(SLS_TRACK_UFFD) == uffd, "uffd available=%d but the probe says %d",
           sls_track_available(SLS_TRACK_UFFD), uffd);
    int want_auto = uffd ? SLS_TRACK_UFFD
                         : sls_track_available(SLS_TRACK_SOFTDIRTY) ? SLS_TRACK_SOFTDIRTY : SLS_TRACK_DIGEST;
    EXPECT(sls_track_auto_mode() == want_auto, "auto picks %s, want %s",
           sls_track_mode_name(sls_track_auto_mode()), sls_track_mode_name(want_auto));
    char lines[256], want_line[64];
    sls_track_describe(lines, sizeof(lines));
    snprintf(want_line, sizeof(want_line), "dirty_tracking=%s\n", sls_track_mode_name(want_auto));
    EXPECT(!strncmp(lines, want_line, strlen(want_line)), "describe says '%s'", lines);
    EXPECT(strstr(lines, "dirty_tracking_available=") && strstr(lines, "digest\n"),
           "describe does not list the available mechanisms: '%s'", lines);
    EXPECT(!uffd || strstr(lines, "=uffd,"), "describe omits uffd: '%s'", lines);
    goto out;
out:;
}

TEST_CASE(uffd_reports_exactly_written_pages_and_new_moved_grown_regions)
{
    REQUIRE(sls_track_available(SLS_TRACK_UFFD), "uffd write-protect tracking unavailable here");
    scenario(SLS_TRACK_UFFD, case_why);
out:;
}

TEST_CASE(digest_reports_exactly_written_pages_and_new_moved_grown_regions)
{
    scenario(SLS_TRACK_DIGEST, case_why);
}

TEST_CASE(uffd_reports_regions_grown_in_place_including_a_swallowed_neighbour)
{
    REQUIRE(sls_track_available(SLS_TRACK_UFFD), "uffd write-protect tracking unavailable here");
    growth_scenario(SLS_TRACK_UFFD, case_why);
out:;
}

TEST_CASE(digest_reports_regions_grown_in_place_including_a_swallowed_neighbour)
{
    growth_scenario(SLS_TRACK_DIGEST, case_why);
}

TEST_CASE(softdirty_works_where_present_and_is_refused_with_the_reason_elsewhere)
{
    if (sls_track_available(SLS_TRACK_SOFTDIRTY)) {
        scenario(SLS_TRACK_SOFTDIRTY, case_why);
        return;
    }
    char err[512] = "";
    struct target t = { 0 };
    struct sls_freeze fz = { 0 };
    struct sls_tracker *tr = NULL;
    int frozen = 0;
    REQUIRE(start_target(&t) == 0, "cannot start %.300s", target_path);
    CMD(&t, NULL, "small");
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    int rc = sls_track_open(&fz.procs[0], SLS_TRACK_SOFTDIRTY, &tr, err, sizeof(err));
    EXPECT(rc == -EOPNOTSUPP && tr == NULL, "open soft-dirty on a kernel without it returned %d", rc);
    EXPECT(strstr(err, "soft-dirty") && strstr(err, "CONFIG_MEM_SOFT_DIRTY"),
           "refusal does not say why: '%s'", err);
out:
    if (frozen)
        sls_thaw(&fz, err, sizeof(err));
    sls_track_close(tr);
    stop_target(&t);
}

/* A collect while the target writes (pre-copy) loses nothing: every page written before the frozen
 * collect shows in the running collect or in the frozen one. */
TEST_CASE(uffd_collect_while_running_loses_no_write)
{
    char err[512] = "";
    struct target t = { 0 };
    struct sls_freeze fz = { 0 };
    struct sls_tracker *tr = NULL;
    struct sls_track_delta run = { 0 }, stop = { 0 };
    int frozen = 0;
    uint64_t big, writes;
    REQUIRE(sls_track_available(SLS_TRACK_UFFD), "uffd write-protect tracking unavailable here");
    REQUIRE(start_target(&t) == 0, "cannot start %.300s", target_path);
    CMD(&t, &big, "big");
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_open(&fz.procs[0], SLS_TRACK_UFFD, &tr, err, sizeof(err)) == 0, "open: %s", err);
    REQUIRE(sls_thaw(&fz, err, sizeof(err)) == 0, "thaw: %s", err);
    frozen = 0;
    /* the target writes the first 4096 pages round-robin while we collect */
    REQUIRE(send_cmd(&t, "spin %llx %x", (unsigned long long)big, 1000) == 0, "cannot send spin");
    usleep(20000);
    int covered[4096] = { 0 };
    for (int round = 0; round < 20; round++) {
        REQUIRE(sls_track_collect(tr, &run, SLS_TRACK_COLLECT_RUNNING, err, sizeof(err)) == 0,
                "running collect: %s", err);
        uint64_t idx[4096];
        size_t n = pages_in(&run.dirty, big, big + 4096 * PAGE, idx, 4096);
        for (size_t i = 0; i < n && i < 4096; i++)
            covered[idx[i]] = 1;
    }
    /* stop the spinning, then freeze and collect what was written since the last running collect */
    CMD(&t, &writes, "sum %llx 1", (unsigned long long)big); /* answers spin, queues sum */
    {
        char why[256];
        uint64_t s;
        REQUIRE(read_reply(&t, &s, why, sizeof(why)) == 0, "%s", why);
    }
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_collect(tr, &stop, 0, err, sizeof(err)) == 0, "frozen collect: %s", err);
    REQUIRE(sls_thaw(&fz, err, sizeof(err)) == 0, "thaw: %s", err);
    frozen = 0;
    uint64_t idx[4096];
    size_t n = pages_in(&stop.dirty, big, big + 4096 * PAGE, idx, 4096);
    for (size_t i = 0; i < n && i < 4096; i++)
        covered[idx[i]] = 1;
    int missing = 0;
    for (int i = 0; i < 1000; i++)
        missing += !covered[i];
    EXPECT(writes >= 1000, "the target wrote only %llu pages while we collected",
           (unsigned long long)writes);
    EXPECT(missing == 0, "%d of the 1000 pages written while collecting were never reported", missing);
    size_t beyond = 0;
    for (int i = 1000; i < 4096; i++)
        beyond += covered[i];
    EXPECT(beyond == 0, "%zu pages never written were reported", beyond);
out:
    if (frozen)
        sls_thaw(&fz, err, sizeof(err));
    sls_track_close(tr);
    sls_track_delta_free(&run);
    sls_track_delta_free(&stop);
    stop_target(&t);
}

/* DIGEST pre-copy: the hash behind a page must be that of the bytes the capture copied, not of the
 * bytes the collect saw. Here a page changes between the running collect and its copy, then changes
 * back: its contents equal what the collect hashed, but not what the epoch holds — the frozen collect
 * must report it, which only sls_track_note_copied makes possible. */
TEST_CASE(digest_precopy_reports_a_page_whose_copy_is_not_what_was_hashed)
{
    char err[512] = "";
    struct target t = { 0 };
    struct sls_freeze fz = { 0 };
    struct sls_tracker *tr = NULL;
    struct sls_track_delta d = { 0 };
    int frozen = 0;
    uint64_t big, idx[64];
    static unsigned char copy[PAGE];
    REQUIRE(start_target(&t) == 0, "cannot start %.300s", target_path);
    CMD(&t, &big, "big");
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_open(&fz.procs[0], SLS_TRACK_DIGEST, &tr, err, sizeof(err)) == 0, "open: %s", err);
    REQUIRE(sls_thaw(&fz, err, sizeof(err)) == 0, "thaw: %s", err);
    frozen = 0;
    uint64_t page = big + 42 * PAGE;
    CMD(&t, NULL, "write %llx 1", (unsigned long long)page);
    REQUIRE(sls_track_collect(tr, &d, SLS_TRACK_COLLECT_RUNNING, err, sizeof(err)) == 0,
            "running collect: %s", err);
    size_t n = pages_in(&d.dirty, big, big + BIG_PAGES * PAGE, idx, 64);
    REQUIRE(n == 1 && idx[0] == 42, "running collect: %zu dirty pages, want page 42", n);
    /* the process writes the page again before the capture copies it ... */
    CMD(&t, NULL, "write %llx 1", (unsigned long long)page);
    struct iovec local = { copy, PAGE }, remote = { (void *)(uintptr_t)page, PAGE };
    REQUIRE(process_vm_readv(t.pid, &local, 1, &remote, 1, 0) == (ssize_t)PAGE, "copy: %s",
            strerror(errno));
    sls_track_note_copied(tr, page, copy, PAGE);
    /* ... and puts it back as the collect saw it */
    CMD(&t, NULL, "unwrite %llx 1", (unsigned long long)page);
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_collect(tr, &d, 0, err, sizeof(err)) == 0, "frozen collect: %s", err);
    n = pages_in(&d.dirty, big, big + BIG_PAGES * PAGE, idx, 64);
    EXPECT(n == 1 && idx[0] == 42, "frozen collect: %zu dirty pages, want page 42 (the copy is stale)", n);
out:
    if (frozen)
        sls_thaw(&fz, err, sizeof(err));
    sls_track_close(tr);
    sls_track_delta_free(&d);
    stop_target(&t);
}

/* A process with a second thread that keeps writing: open injects through the main thread while
 * both are frozen, and the writes of the other thread are tracked like any other. */
TEST_CASE(writes_of_every_thread_are_tracked)
{
    char err[512] = "";
    struct target t = { 0 };
    struct sls_freeze fz = { 0 };
    struct sls_tracker *tr = NULL;
    struct sls_track_delta d = { 0 };
    int frozen = 0;
    uint64_t big, idx[64];
    REQUIRE(start_target(&t) == 0, "cannot start %.300s", target_path);
    CMD(&t, &big, "big");
    CMD(&t, NULL, "writer %llx %x", (unsigned long long)(big + 300 * PAGE), 3);
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(fz.procs[0].nthreads == 2, "%zu threads frozen, want 2", fz.procs[0].nthreads);
    REQUIRE(sls_track_open(&fz.procs[0], SLS_TRACK_AUTO, &tr, err, sizeof(err)) == 0, "open: %s", err);
    REQUIRE(sls_thaw(&fz, err, sizeof(err)) == 0, "thaw: %s", err);
    frozen = 0;
    usleep(20000);
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_collect(tr, &d, 0, err, sizeof(err)) == 0, "collect: %s", err);
    size_t n = pages_in(&d.dirty, big, big + BIG_PAGES * PAGE, idx, 64);
    EXPECT(n == 3 && idx[0] == 300 && idx[2] == 302, "%zu dirty pages in the 64 MiB region, want 300-302 "
           "(first %llu)", n, (unsigned long long)(n ? idx[0] : 0));
out:
    if (frozen)
        sls_thaw(&fz, err, sizeof(err));
    sls_track_close(tr);
    sls_track_delta_free(&d);
    stop_target(&t);
}

/* A tracked process forks: the child inherits none of the tracking (its writes are its own, no VMA
 * of it is registered), and the parent's tracking goes on. */
TEST_CASE(uffd_tracking_is_not_inherited_by_a_forked_child)
{
    char err[512] = "";
    struct target t = { 0 };
    struct sls_freeze fz = { 0 };
    struct sls_tracker *tr = NULL;
    struct sls_track_delta d = { 0 };
    int frozen = 0;
    uint64_t big, status, idx[64];
    REQUIRE(sls_track_available(SLS_TRACK_UFFD), "uffd write-protect tracking unavailable here");
    REQUIRE(start_target(&t) == 0, "cannot start %.300s", target_path);
    CMD(&t, &big, "big");
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_open(&fz.procs[0], SLS_TRACK_UFFD, &tr, err, sizeof(err)) == 0, "open: %s", err);
    REQUIRE(sls_thaw(&fz, err, sizeof(err)) == 0, "thaw: %s", err);
    frozen = 0;
    CMD(&t, &status, "forkcheck %llx %x", (unsigned long long)big, 512);
    EXPECT(status == 0, "forked child exit status %llu (1: bad contents, 2: a VMA registered)",
           (unsigned long long)status);
    CMD(&t, NULL, "write %llx 1", (unsigned long long)(big + 9 * PAGE));
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_collect(tr, &d, 0, err, sizeof(err)) == 0, "collect: %s", err);
    size_t n = pages_in(&d.dirty, big, big + BIG_PAGES * PAGE, idx, 64);
    /* fork write-protects the parent's private pages for copy-on-write; that is not a write */
    EXPECT(n == 1 && idx[0] == 9, "parent after fork: %zu dirty pages, want page 9 only (first %llu)", n,
           (unsigned long long)(n ? idx[0] : 0));
out:
    if (frozen)
        sls_thaw(&fz, err, sizeof(err));
    sls_track_close(tr);
    sls_track_delta_free(&d);
    stop_target(&t);
}

/* The engine dies while holding the tracker (SIGKILL mid-collect): the target runs on, writes work,
 * nothing of the tracking stays (no registered VMA, no uffd in the target). */
TEST_CASE(killed_engine_leaves_target_running_and_nothing_write_protected)
{
    char why[256];
    struct target t = { 0 };
    pid_t engine = -1;
    int ready[2] = { -1, -1 };
    uint64_t big, sum;
    REQUIRE(sls_track_available(SLS_TRACK_UFFD), "uffd write-protect tracking unavailable here");
    REQUIRE(start_target(&t) == 0, "cannot start %.300s", target_path);
    CMD(&t, &big, "big");
    REQUIRE(pipe(ready) == 0, "pipe");
    engine = fork();
    if (engine == 0) {
        /* the engine: freeze, open, thaw, then collect in a loop until killed */
        char err[512];
        struct sls_freeze fz;
        struct sls_tracker *tr;
        struct sls_track_delta d = { 0 };
        if (freeze_one(&fz, t.pid, err, sizeof(err)) ||
            sls_track_open(&fz.procs[0], SLS_TRACK_UFFD, &tr, err, sizeof(err)) ||
            sls_thaw(&fz, err, sizeof(err))) {
            dprintf(ready[1], "%s\n", err);
            _exit(1);
        }
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        for (;;)
            sls_track_collect(tr, &d, SLS_TRACK_COLLECT_RUNNING, err, sizeof(err));
    }
    close(ready[1]);
    ready[1] = -1;
    char c = 0;
    REQUIRE(read(ready[0], &c, 1) == 1 && c == 'r', "engine child could not start tracking");
    int registered = wp_registered_vmas(t.pid);
    EXPECT(registered > 0, "no VMA of the target was registered while the engine lived");
    /* the target writes while the engine collects, then the engine dies mid-loop */
    CMD(&t, NULL, "write %llx %x", (unsigned long long)big, 4000);
    usleep(30000);
    kill(engine, SIGKILL);
    waitpid(engine, NULL, 0);
    engine = -1;
    /* the target keeps running and writing, and its memory is what it wrote */
    CMD(&t, NULL, "write %llx %llx", (unsigned long long)big, (unsigned long long)BIG_PAGES);
    CMD(&t, &sum, "sum %llx %llx", (unsigned long long)big, (unsigned long long)BIG_PAGES);
    uint64_t want = 0;
    for (uint64_t i = 0; i < BIG_PAGES; i++)
        want += i * 1000 + 1 + 1 + (i < 4000);
    EXPECT(sum == want, "the 64 MiB region sums to %llu, want %llu", (unsigned long long)sum,
           (unsigned long long)want);
    EXPECT(wp_registered_vmas(t.pid) == 0, "%d VMAs stay registered for write-protect after the "
           "engine died", wp_registered_vmas(t.pid));
    EXPECT(uffds_in(t.pid) == 0, "the target holds a userfaultfd");
    (void)why;
out:
    if (engine > 0) {
        kill(engine, SIGKILL);
        waitpid(engine, NULL, 0);
    }
    if (ready[0] >= 0)
        close(ready[0]);
    if (ready[1] >= 0)
        close(ready[1]);
    stop_target(&t);
}

/* A failed epoch calls forget: the next collect reports every tracked region whole. */
TEST_CASE(forget_makes_the_next_collect_report_everything_whole)
{
    char err[512] = "";
    struct target t = { 0 };
    struct sls_freeze fz = { 0 };
    struct sls_tracker *tr = NULL;
    struct sls_track_delta d = { 0 };
    int frozen = 0;
    uint64_t big;
    REQUIRE(start_target(&t) == 0, "cannot start %.300s", target_path);
    CMD(&t, &big, "big");
    REQUIRE(freeze_one(&fz, t.pid, err, sizeof(err)) == 0, "freeze: %s", err);
    frozen = 1;
    REQUIRE(sls_track_open(&fz.procs[0], SLS_TRACK_AUTO, &tr, err, sizeof(err)) == 0, "open: %s", err);
    sls_track_forget(tr);
    REQUIRE(sls_track_collect(tr, &d, 0, err, sizeof(err)) == 0, "collect: %s", err);
    EXPECT(covered_whole(&d, big, big + BIG_PAGES * PAGE, SLS_TRACK_WHOLE_NEW),
           "the 64 MiB region is not whole after forget");
    EXPECT(d.dirty.n == 0, "dirty ranges reported besides the whole regions");
    REQUIRE(sls_track_collect(tr, &d, 0, err, sizeof(err)) == 0, "collect: %s", err);
    EXPECT(d.dirty.n == 0 && !covered_whole(&d, big, big + PAGE, SLS_TRACK_WHOLE_NEW),
           "the collect after that still reports the region");
out:
    if (frozen)
        sls_thaw(&fz, err, sizeof(err));
    sls_track_close(tr);
    sls_track_delta_free(&d);
    stop_target(&t);
}

int main(void)
{
    find_target();
    signal(SIGPIPE, SIG_IGN);
    RUN(available_mechanisms_agree_with_the_kernel_probe);
    RUN(uffd_reports_exactly_written_pages_and_new_moved_grown_regions);
    RUN(digest_reports_exactly_written_pages_and_new_moved_grown_regions);
    RUN(uffd_reports_regions_grown_in_place_including_a_swallowed_neighbour);
    RUN(digest_reports_regions_grown_in_place_including_a_swallowed_neighbour);
    RUN(softdirty_works_where_present_and_is_refused_with_the_reason_elsewhere);
    RUN(uffd_collect_while_running_loses_no_write);
    RUN(digest_precopy_reports_a_page_whose_copy_is_not_what_was_hashed);
    RUN(a_region_replaced_at_the_same_place_is_reported);
    RUN(uffd_finds_a_replaced_region_between_tracked_neighbours);
    RUN(huge_inaccessible_reservations_are_left_untracked);
    RUN(shared_mappings_are_reported_whole_at_every_collect);
    RUN(writes_of_every_thread_are_tracked);
    RUN(uffd_tracking_is_not_inherited_by_a_forked_child);
    RUN(running_collects_survive_a_process_that_maps_and_unmaps_all_the_time);
    RUN(auto_falls_back_when_the_process_cannot_get_a_userfaultfd);
    RUN(collect_after_exec_refuses_and_says_to_reopen);
    RUN(collect_on_a_dead_process_fails_with_a_clear_error);
    RUN(killed_engine_leaves_target_running_and_nothing_write_protected);
    RUN(lazy_open_defers_the_first_pass_to_the_first_collect);
    RUN(uffd_delta_chain_composes_to_the_exact_memory);
    RUN(uffd_precopy_delta_chain_composes_to_the_exact_memory);
    RUN(digest_delta_chain_composes_to_the_exact_memory);
    RUN(forget_makes_the_next_collect_report_everything_whole);
    return TEST_EXIT();
}
