/*
 * trk_bench.c — cost of dirty-page tracking (native/src/track.h) on a live process.
 *
 * For each touched size (64 MiB, 1 GiB) and dirty fraction (1 %, 10 % of the pages, written as every
 * 100th / 10th page so each dirty page is its own run — the worst case for the scan and the copy)
 * and each mechanism (uffd, digest), against native/build/tests/prog/trk_target:
 *
 *   delta stop     freeze + collect + copy the dirty pages (process_vm_readv into a pre-faulted
 *                  buffer) + thaw, with the freeze and the collect also timed on their own;
 *   pre-copy stop  collect + copy while the target runs (the "pass", not a stop); the target then
 *                  writes a hot set of 64 pages (what a process writes during the pass); then
 *                  freeze + collect + copy of those + thaw (the stop).
 *
 * Also the target's own cost: the time its "writeevery" takes per page written, before tracking and
 * while tracked (each first write after a collect takes an async write-protect fault), command
 * round trip included.
 *
 * Work-loop slowdown: the target rewrites 1 % of its pages round-robin while it is checkpointed
 * every 100, 10 and 1 ms; its write rate against the same loop before tracking.
 *
 * Baseline measured in the same run: memcpy bandwidth (256 MiB, pre-faulted).
 * Usage: trk_bench TARGET [-s MiB]... [-r rounds] [-m uffd|digest]...   (see run.sh)
 */
#include "freeze.h"
#include "track.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096ull
#define HOT_PAGES 64

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "trk_bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* ---- the target --------------------------------------------------------------------------------- */

struct target {
    pid_t pid;
    int to, from;
};

static void start_target(struct target *t, const char *path, unsigned mib)
{
    int in[2], out[2];
    if (pipe(in) || pipe(out))
        die("pipe: %s", strerror(errno));
    t->pid = fork();
    if (t->pid == 0) {
        char m[16];
        snprintf(m, sizeof(m), "%u", mib);
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]); close(in[1]); close(out[0]); close(out[1]);
        execl(path, "trk_target", "-m", m, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    t->to = in[1];
    t->from = out[0];
}

static void stop_target(struct target *t)
{
    kill(t->pid, SIGKILL);
    waitpid(t->pid, NULL, 0);
    close(t->to);
    close(t->from);
}

static void send_cmd(struct target *t, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    line[n++] = '\n';
    if (write(t->to, line, (size_t)n) != n)
        die("cannot write to the target");
}

static uint64_t reply(struct target *t)
{
    char line[256];
    size_t n = 0;
    while (n + 1 < sizeof(line)) {
        struct pollfd pf = { .fd = t->from, .events = POLLIN };
        if (poll(&pf, 1, 60000) != 1 || read(t->from, line + n, 1) != 1)
            die("target %d does not answer", t->pid);
        if (line[n] == '\n')
            break;
        n++;
    }
    line[n] = 0;
    if (strncmp(line, "ok ", 3))
        die("target said: %s", line);
    return strtoull(line + 3, NULL, 16);
}

static uint64_t cmd(struct target *t, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    send_cmd(t, "%s", line);
    return reply(t);
}

/* ---- copying what a collect reported -------------------------------------------------------------- */

struct copybuf {
    unsigned char *p;
    size_t len;
};

/* Copies the dirty ranges into cb (in order); returns the bytes copied. */
static uint64_t copy_dirty(pid_t pid, const struct sls_track_delta *d, struct copybuf *cb)
{
    struct iovec local[IOV_MAX], remote[IOV_MAX];
    uint64_t off = 0;
    size_t n = 0;
    for (size_t i = 0; i <= d->dirty.n; i++) {
        if (i < d->dirty.n) {
            uint64_t len = d->dirty.v[i].end - d->dirty.v[i].start;
            if (off + len > cb->len)
                die("copy buffer too small (%zu bytes)", cb->len);
            remote[n] = (struct iovec){ (void *)(uintptr_t)d->dirty.v[i].start, len };
            local[n] = (struct iovec){ cb->p + off, len };
            off += len;
            n++;
        }
        if (n == IOV_MAX || (i == d->dirty.n && n)) {
            uint64_t want = 0;
            for (size_t k = 0; k < n; k++)
                want += remote[k].iov_len;
            ssize_t r = process_vm_readv(pid, local, n, remote, n, 0);
            if (r != (ssize_t)want)
                die("process_vm_readv: %zd of %llu bytes: %s", r, (unsigned long long)want,
                    strerror(errno));
            n = 0;
        }
    }
    return off;
}

/* ---- statistics ------------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct series {
    uint64_t v[1024];
    size_t n;
};

static void add(struct series *s, uint64_t ns)
{
    if (s->n < 1024)
        s->v[s->n++] = ns;
}

/* median and p99 (nearest rank; with fewer than 100 samples p99 is the maximum), in µs */
static void stats(struct series *s, double *med, double *p99)
{
    qsort(s->v, s->n, sizeof(s->v[0]), cmp_u64);
    *med = s->n ? s->v[s->n / 2] / 1000.0 : 0;
    size_t r = s->n ? (size_t)((s->n * 99 + 99) / 100) - 1 : 0;
    *p99 = s->n ? s->v[r < s->n ? r : s->n - 1] / 1000.0 : 0;
}

static double median_us(struct series *s)
{
    double m, p;
    stats(s, &m, &p);
    return m;
}

/* ---- one configuration ------------------------------------------------------------------------- */

static void freeze_or_die(struct sls_freeze *fz, pid_t pid)
{
    char err[512];
    int32_t p = pid;
    memset(fz, 0, sizeof(*fz));
    if (sls_freeze(fz, &p, 1, 0, err, sizeof(err)))
        die("freeze: %s", err);
}

static void thaw_or_die(struct sls_freeze *fz)
{
    char err[512];
    if (sls_thaw(fz, err, sizeof(err)))
        die("thaw: %s", err);
}

static void collect_or_die(struct sls_tracker *tr, struct sls_track_delta *d, int flags)
{
    char err[512];
    if (sls_track_collect(tr, d, flags, err, sizeof(err)))
        die("collect: %s", err);
}

static void run(const char *target_path, unsigned mib, unsigned pct, int mode, int rounds)
{
    struct target t;
    start_target(&t, target_path, mib);
    uint64_t big = cmd(&t, "big");
    uint64_t pages = (uint64_t)mib * 256;
    uint64_t stride = 100 / pct;
    uint64_t hot = big + (pages - HOT_PAGES) * PAGE;

    struct copybuf cb = { .len = (size_t)(pages / stride + 4 * HOT_PAGES + 64) * PAGE };
    cb.p = mmap(NULL, cb.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (cb.p == MAP_FAILED)
        die("mmap copy buffer: %s", strerror(errno));

    /* the process's own cost of writing its dirty pages, before tracking (no fault) */
    uint64_t npages_written = (pages - HOT_PAGES - stride + stride - 1) / stride;
    static struct series untracked_w, tracked_w;
    untracked_w.n = tracked_w.n = 0;
    for (int r = 0; r < 7; r++) {
        uint64_t w0 = now_ns();
        cmd(&t, "writeevery %llx %llx %llx", (unsigned long long)big,
            (unsigned long long)(pages - HOT_PAGES - stride), (unsigned long long)stride);
        add(&untracked_w, now_ns() - w0);
    }

    struct sls_freeze fz;
    struct sls_tracker *tr;
    char err[512];
    freeze_or_die(&fz, t.pid);
    uint64_t o0 = now_ns();
    if (sls_track_open(&fz.procs[0], mode, &tr, err, sizeof(err)))
        die("open %s: %s", sls_track_mode_name(mode), err);
    uint64_t open_ns = now_ns() - o0;
    thaw_or_die(&fz);

    struct sls_track_delta d = { 0 };
    static struct series freeze_s, collect_s, copy_s, thaw_s, stop_s, pass_s, pstop_s, pcollect_s;
    freeze_s.n = collect_s.n = copy_s.n = thaw_s.n = stop_s.n = pass_s.n = pstop_s.n = pcollect_s.n = 0;
    uint64_t dirty_pages = 0, pre_final_pages = 0;
    int warmup = 2;

    /* delta stops, no pre-copy */
    for (int r = -warmup; r < rounds; r++) {
        uint64_t first = big + (uint64_t)((r + warmup) % (int)stride) * PAGE;
        uint64_t w0 = now_ns();
        cmd(&t, "writeevery %llx %llx %llx", (unsigned long long)first,
            (unsigned long long)(pages - HOT_PAGES - stride), (unsigned long long)stride);
        if (r >= 0)
            add(&tracked_w, now_ns() - w0);
        uint64_t t0 = now_ns();
        freeze_or_die(&fz, t.pid);
        uint64_t t1 = now_ns();
        collect_or_die(tr, &d, 0);
        uint64_t t2 = now_ns();
        copy_dirty(t.pid, &d, &cb);
        uint64_t t3 = now_ns();
        thaw_or_die(&fz);
        uint64_t t4 = now_ns();
        if (r < 0)
            continue;
        add(&freeze_s, t1 - t0);
        add(&collect_s, t2 - t1);
        add(&copy_s, t3 - t2);
        add(&thaw_s, t4 - t3);
        add(&stop_s, t4 - t0);
        dirty_pages = d.dirty_pages;
    }

    /* pre-copy stops */
    for (int r = -warmup; r < rounds; r++) {
        uint64_t first = big + (uint64_t)((r + warmup) % (int)stride) * PAGE;
        cmd(&t, "writeevery %llx %llx %llx", (unsigned long long)first,
            (unsigned long long)(pages - HOT_PAGES - stride), (unsigned long long)stride);
        uint64_t p0 = now_ns();
        collect_or_die(tr, &d, SLS_TRACK_COLLECT_RUNNING);
        copy_dirty(t.pid, &d, &cb);
        uint64_t p1 = now_ns();
        /* what the process writes while the pass runs: a hot set of HOT_PAGES pages */
        cmd(&t, "write %llx %x", (unsigned long long)hot, HOT_PAGES);
        uint64_t t0 = now_ns();
        freeze_or_die(&fz, t.pid);
        uint64_t t1 = now_ns();
        collect_or_die(tr, &d, 0);
        uint64_t t2 = now_ns();
        copy_dirty(t.pid, &d, &cb);
        thaw_or_die(&fz);
        uint64_t t4 = now_ns();
        if (r < 0)
            continue;
        add(&pass_s, p1 - p0);
        add(&pcollect_s, t2 - t1);
        add(&pstop_s, t4 - t0);
        pre_final_pages = d.dirty_pages;
    }

    double sm, sp, cm, cp, pm, pp, pcm, pcp;
    stats(&stop_s, &sm, &sp);
    stats(&collect_s, &cm, &cp);
    stats(&pstop_s, &pm, &pp);
    stats(&pcollect_s, &pcm, &pcp);
    printf("| %5u MiB | %3u %% | %-6s | %7.1f | %8.0f | %8.0f | %7.0f | %7.0f | %7.0f | %8.0f | %8.0f | %8.0f | %8.0f | %8.0f | %5llu | %5.0f → %5.0f |\n",
           mib, pct, sls_track_mode_name(mode), open_ns / 1e6, median_us(&freeze_s), cm, cp,
           median_us(&copy_s), median_us(&thaw_s), sm, sp, median_us(&pass_s), pm, pp,
           (unsigned long long)pre_final_pages, median_us(&untracked_w) * 1000 / npages_written,
           median_us(&tracked_w) * 1000 / npages_written);
    fflush(stdout);
    (void)dirty_pages;
    sls_track_delta_free(&d);
    sls_track_close(tr);
    munmap(cb.p, cb.len);
    stop_target(&t);
}

/* The reference: a full checkpoint's stop, freeze + copy of every touched page + thaw. */
static void run_full(const char *target_path, unsigned mib, int rounds)
{
    struct target t;
    start_target(&t, target_path, mib);
    uint64_t big = cmd(&t, "big");
    struct copybuf cb = { .len = (size_t)mib << 20 };
    cb.p = mmap(NULL, cb.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (cb.p == MAP_FAILED)
        die("mmap copy buffer: %s", strerror(errno));
    struct sls_track_delta all = { 0 };
    struct sls_track_range whole = { big, big + cb.len, 0 };
    all.dirty.v = &whole;
    all.dirty.n = 1;
    static struct series stop_s;
    stop_s.n = 0;
    struct sls_freeze fz;
    for (int r = -1; r < rounds; r++) {
        uint64_t t0 = now_ns();
        freeze_or_die(&fz, t.pid);
        copy_dirty(t.pid, &all, &cb);
        thaw_or_die(&fz);
        if (r >= 0)
            add(&stop_s, now_ns() - t0);
    }
    double m, p;
    stats(&stop_s, &m, &p);
    printf("| %5u MiB | %8.1f | %8.1f | %6.2f |\n", mib, m / 1000, p / 1000,
           (double)cb.len / (m * 1000));
    fflush(stdout);
    munmap(cb.p, cb.len);
    stop_target(&t);
}

/* The process's own work while it is checkpointed every period_ms (freeze + collect + copy + thaw):
 * the target writes a hot set of 1 % of its pages round-robin as fast as it can; its write rate is
 * compared with the same loop untracked and unchekpointed. */
static void run_slowdown(const char *target_path, unsigned mib, int mode)
{
    const int periods_ms[] = { 100, 10, 1 };
    const double seconds = 2.0;
    struct target t;
    start_target(&t, target_path, mib);
    uint64_t big = cmd(&t, "big");
    uint64_t hot = (uint64_t)mib * 256 / 100;
    struct copybuf cb = { .len = (size_t)(hot + 256) * PAGE };
    cb.p = mmap(NULL, cb.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (cb.p == MAP_FAILED)
        die("mmap copy buffer: %s", strerror(errno));

    send_cmd(&t, "spin %llx %llx", (unsigned long long)big, (unsigned long long)hot);
    usleep((useconds_t)(seconds * 1e6));
    send_cmd(&t, "sum %llx 1", (unsigned long long)big);
    double base_rate = reply(&t) / seconds;
    reply(&t);

    struct sls_freeze fz;
    struct sls_tracker *tr;
    char err[512];
    freeze_or_die(&fz, t.pid);
    if (sls_track_open(&fz.procs[0], mode, &tr, err, sizeof(err)))
        die("open: %s", err);
    thaw_or_die(&fz);
    struct sls_track_delta d = { 0 };
    for (size_t k = 0; k < sizeof(periods_ms) / sizeof(periods_ms[0]); k++) {
        static struct series stop_s;
        stop_s.n = 0;
        uint64_t period = (uint64_t)periods_ms[k] * 1000000ull, done = 0, skipped = 0, stops = 0;
        send_cmd(&t, "spin %llx %llx", (unsigned long long)big, (unsigned long long)hot);
        uint64_t start = now_ns(), next = start + period, end = start + (uint64_t)(seconds * 1e9);
        while (next <= end) {
            struct timespec ts = { (time_t)(next / 1000000000ull), (long)(next % 1000000000ull) };
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            uint64_t t0 = now_ns();
            freeze_or_die(&fz, t.pid);
            collect_or_die(tr, &d, 0);
            copy_dirty(t.pid, &d, &cb);
            thaw_or_die(&fz);
            uint64_t t1 = now_ns();
            add(&stop_s, t1 - t0);
            stops += t1 - t0;
            done++;
            next += period;
            while (next < now_ns()) { /* overran: skip, never queue */
                next += period;
                skipped++;
            }
        }
        double elapsed = (now_ns() - start) / 1e9;
        send_cmd(&t, "sum %llx 1", (unsigned long long)big);
        double rate = reply(&t) / elapsed;
        reply(&t);
        double m, p;
        stats(&stop_s, &m, &p);
        printf("| %5u MiB | %-6s | %4d ms | %6.0f | %4llu | %8.0f | %8.0f | %5.1f %% | %5.1f %% |\n", mib,
               sls_track_mode_name(mode), periods_ms[k], done / elapsed, (unsigned long long)skipped,
               m, p, 100.0 * (double)stops / (elapsed * 1e9), 100.0 * (1.0 - rate / base_rate));
        fflush(stdout);
    }
    sls_track_delta_free(&d);
    sls_track_close(tr);
    munmap(cb.p, cb.len);
    stop_target(&t);
}

static double memcpy_gbps(void)
{
    size_t len = 256u << 20;
    unsigned char *a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    unsigned char *b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (a == MAP_FAILED || b == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    memset(a, 1, len);
    memcpy(b, a, len);
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 5; i++) {
        uint64_t t0 = now_ns();
        memcpy(b, a, len);
        uint64_t dt = now_ns() - t0;
        if (dt < best)
            best = dt;
    }
    munmap(a, len);
    munmap(b, len);
    return (double)len / best;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        die("usage: trk_bench TARGET [-s MiB]... [-r rounds] [-m uffd|digest]...");
    const char *target = argv[1];
    unsigned sizes[8], nsizes = 0;
    int modes[4], nmodes = 0, rounds = 30;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-s") && nsizes < 8)
            sizes[nsizes++] = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "-r"))
            rounds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-m") && nmodes < 4)
            modes[nmodes++] = !strcmp(argv[i + 1], "digest") ? SLS_TRACK_DIGEST : SLS_TRACK_UFFD;
        else
            die("unknown option %s", argv[i]);
    }
    if (!nsizes) {
        sizes[nsizes++] = 64;
        sizes[nsizes++] = 1024;
    }
    if (!nmodes) {
        modes[nmodes++] = SLS_TRACK_UFFD;
        modes[nmodes++] = SLS_TRACK_DIGEST;
    }
    signal(SIGPIPE, SIG_IGN);
    struct utsname u;
    uname(&u);
    printf("# dirty-page tracking: kernel %s, %ld CPUs, %d rounds per row (+2 warm-up); "
           "times in µs unless noted, p99 = nearest rank (the maximum below 100 rounds)\n",
           u.release, sysconf(_SC_NPROCESSORS_ONLN), rounds);
    printf("# baseline: memcpy %.1f GB/s (256 MiB, best of 5)\n", memcpy_gbps());
    printf("| touched | dirty | mode | open ms | freeze | collect med | collect p99 | copy | thaw "
           "| delta stop med | delta stop p99 | pre-copy pass | pre-copy stop med | pre-copy stop p99 "
           "| pages in final collect | target's write ns/page untracked → tracked |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    fflush(stdout);
    for (unsigned s = 0; s < nsizes; s++)
        for (unsigned pct = 1; pct <= 10; pct += 9)
            for (int m = 0; m < nmodes; m++) {
                int r = rounds;
                if (modes[m] == SLS_TRACK_DIGEST && sizes[s] >= 512 && r > 8)
                    r = 8; /* a digest collect reads everything: keep the run short */
                run(target, sizes[s], pct, modes[m], r);
            }
    printf("\nWork-loop slowdown (the target rewrites 1 %% of its pages round-robin; checkpoint = freeze +"
           " collect + copy + thaw every period, 2 s per row):\n\n");
    printf("| touched | mode | period | checkpoints/s | skipped | stop med µs | stop p99 µs "
           "| time stopped | work-loop slowdown |\n|---|---|---|---|---|---|---|---|---|\n");
    for (unsigned s = 0; s < nsizes; s++)
        for (int m = 0; m < nmodes; m++)
            if (modes[m] == SLS_TRACK_UFFD || sizes[s] < 512)
                run_slowdown(target, sizes[s], modes[m]);
    printf("\nFull-checkpoint reference (freeze + process_vm_readv of every touched page + thaw, 10 rounds):\n\n");
    printf("| touched | full stop med ms | full stop p99 ms | copy GB/s |\n|---|---|---|---|\n");
    for (unsigned s = 0; s < nsizes; s++)
        run_full(target, sizes[s], 10);
    return 0;
}
