/*
 * bench_delta — what a real sls_capture costs the captured process, full against delta (uffd
 * tracking, with the engine's pre-copy), on native/build/tests/prog/trk_target with 64 MiB / 1 GiB
 * touched and 1 % / 10 % of its pages written between captures (every 100th / 10th page, so each
 * dirty page is its own run: the worst case for scan and copy).
 *
 * Per size and dirty fraction: stop time (median, p99), whole call (median), page bytes per epoch,
 * and where the median delta stop went phase by phase (capture_phases.h; engine-internal).
 * Then the slowdown of the target's own work loop (rewriting 1 % of its pages as fast as it can,
 * trk_target "spin") while a driver thread delta-captures it every 10, 100 and 1000 ms, against
 * the same loop uncaptured: segments of 2 periods (at least 0.4 s) alternate between captured and
 * not, -w seconds of each, and the medians of their write rates are compared.
 *
 * Same-run baselines: memcpy bandwidth, and fork() of a process with the same touched memory (the
 * stop an injected-fork shadow would cost at least).
 *
 *   usage: bench_delta [-s MiB]... [-d pct]... [-r rounds] [-f full-rounds] [-w loop-seconds]
 *                      [-p period-ms]... [-o page-dir] [-P]     (-P: phases of every delta round)
 *   defaults: -s 64 -s 1024 -d 1 -d 10 -r 30 -f 5 -w 3 -p 10 -p 100 -p 1000 -o /dev/shm
 */
#include "bench_util.h"
#include "capture_phases.h"
#include "slsnative.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/syscall.h>

#define PAGE 4096ull

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_delta: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* ---- the target (trk_target: one command a line, "ok HEX" answers) -------------------------- */

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

static void send_cmd(struct target *t, const char *fmt, ...)
{
    char line[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    line[n++] = '\n';
    if (write(t->to, line, (size_t)n) != n)
        die("target %d: cannot send a command", t->pid);
}

static uint64_t read_reply(struct target *t, int timeout_ms)
{
    char reply[128];
    size_t k = 0;
    while (k + 1 < sizeof(reply)) {
        struct pollfd pf = { .fd = t->from, .events = POLLIN };
        if (poll(&pf, 1, timeout_ms) != 1 || read(t->from, reply + k, 1) != 1)
            die("target %d does not answer", t->pid);
        if (reply[k] == '\n')
            break;
        k++;
    }
    reply[k] = 0;
    if (strncmp(reply, "ok ", 3))
        die("target %d: %s", t->pid, reply);
    return strtoull(reply + 3, NULL, 16);
}

static uint64_t cmd(struct target *t, const char *fmt, ...)
{
    char line[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    send_cmd(t, "%s", line);
    return read_reply(t, 120000);
}

static void stop_target(struct target *t)
{
    int32_t p = t->pid;
    sls_forget_tracking(&p, 1);
    kill(t->pid, SIGKILL);
    waitpid(t->pid, NULL, 0);
    close(t->to);
    close(t->from);
}

/* ---- captures ------------------------------------------------------------------------------ */

static char page_path[PATH_MAX], image_path[PATH_MAX];

static void capture(pid_t pid, int flags, struct sls_capture_stats *st, uint64_t *wall)
{
    char err[512] = "";
    int32_t p = pid;
    uint64_t t0 = now_ns();
    if (sls_capture(&p, 1, flags, page_path, image_path, st, err, sizeof(err)) != 0)
        die("capture of %d: %s", pid, err);
    if (wall)
        *wall = now_ns() - t0;
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

/* Median of each phase over n rounds. */
static void print_phases(struct sls_capture_phases *ph, int n)
{
    uint64_t *v = calloc((size_t)n, sizeof(*v));
    printf("  phases (median us):");
    for (int p = 0; p < SLS_PH_N; p++) {
        for (int i = 0; i < n; i++)
            v[i] = ph[i].ns[p];
        printf(" %s %.0f", sls_capture_phase_name(p), (double)quantile(v, (size_t)n, 0.5) / 1e3);
    }
    for (int i = 0; i < n; i++)
        v[i] = ph[i].injected;
    printf("; injected syscalls %lu", (unsigned long)quantile(v, (size_t)n, 0.5));
    for (int i = 0; i < n; i++)
        v[i] = ph[i].precopy_bytes;
    printf("; pre-copied %.0f KiB", (double)quantile(v, (size_t)n, 0.5) / 1024);
    for (int i = 0; i < n; i++)
        v[i] = ph[i].stop_bytes;
    printf(", copied stopped %.0f KiB\n", (double)quantile(v, (size_t)n, 0.5) / 1024);
    free(v);
}

struct row {
    unsigned mib, pct;
    const char *kind;
    double stop_med, stop_p99, wall_med, epoch_kib;
    double shadowed, faults; /* per epoch: share copied after the thaw (stats.shadowed is 0/1), writes that waited */
};

static struct row rows[64];
static int nrows;

static void run_captures(struct target *t, uint64_t big, unsigned mib, unsigned pct, int flags, int rounds,
                         int verbose)
{
    uint64_t pages = (uint64_t)mib * 256, step = 100 / pct;
    uint64_t *stop = calloc((size_t)rounds, sizeof(*stop)), *wall = calloc((size_t)rounds, sizeof(*wall));
    struct sls_capture_phases *ph = calloc((size_t)rounds, sizeof(*ph));
    uint64_t bytes = 0, shadowed = 0, faults = 0;
    struct sls_capture_stats st;
    int delta = (flags & SLS_CAPTURE_DELTA) != 0;
    int32_t pid = t->pid;
    sls_forget_tracking(&pid, 1); /* a shadowed chain has its own (synchronous) tracker: start each kind afresh */
    if (delta) { /* a complete epoch starts the chain; one more so the page file estimate settles */
        capture(t->pid, flags, &st, NULL);
        cmd(t, "writeevery %lx %lx %lx", (unsigned long)big, (unsigned long)pages, (unsigned long)step);
        capture(t->pid, flags, &st, NULL);
    }
    for (int r = 0; r < rounds; r++) {
        cmd(t, "writeevery %lx %lx %lx", (unsigned long)big, (unsigned long)pages, (unsigned long)step);
        capture(t->pid, flags, &st, &wall[r]);
        if (delta && !st.delta)
            die("%u MiB: round %d was not a delta", mib, r);
        stop[r] = st.stop_ns;
        bytes += st.page_bytes;
        shadowed += st.shadowed;
        faults += st.shadow_faults;
        sls_capture_last_phases(&ph[r]);
        if (verbose) {
            printf("  round %d: stop %.3f ms,", r, ms(st.stop_ns));
            print_phases(&ph[r], 1);
        }
    }
    struct row *w = &rows[nrows++];
    w->mib = mib;
    w->pct = pct;
    w->kind = (flags & SLS_CAPTURE_SHADOW) ? "delta + shadow" : delta ? "delta" : "full";
    w->stop_med = ms(quantile(stop, (size_t)rounds, 0.5));
    w->stop_p99 = ms(quantile(stop, (size_t)rounds, 0.99));
    w->wall_med = ms(quantile(wall, (size_t)rounds, 0.5));
    w->epoch_kib = (double)bytes / rounds / 1024;
    w->shadowed = (double)shadowed / rounds;
    w->faults = (double)faults / rounds;
    printf("%u MiB, %u %% dirty, %s: stop median %.3f ms, p99 %.3f ms, call median %.3f ms, %.0f KiB an epoch, "
           "%.0f %% of epochs shadowed, %.1f shadow faults an epoch (%d rounds)\n",
           mib, pct, w->kind, w->stop_med, w->stop_p99, w->wall_med, w->epoch_kib, w->shadowed * 100, w->faults,
           rounds);
    print_phases(ph, rounds);
    fflush(stdout);
    free(stop);
    free(wall);
    free(ph);
}

/* ---- work-loop slowdown -------------------------------------------------------------------- */

struct driver {
    pid_t pid;
    int flags; /* SLS_CAPTURE_DELTA, with or without SLS_CAPTURE_SHADOW */
    unsigned period_ms;
    volatile int stop;
    unsigned captures, late;
    uint64_t stop_sum;
    uint64_t cpu_sum;    /* the driver thread's CPU time in sls_capture */
    uint64_t faults;     /* shadow faults: writes of the loop that waited for the engine's copy */
};

static void *driver_main(void *arg)
{
    struct driver *d = arg;
    uint64_t next = now_ns();
    while (!d->stop) {
        next += (uint64_t)d->period_ms * 1000000;
        uint64_t now = now_ns();
        if (now < next) {
            struct timespec ts = { (time_t)((next - now) / 1000000000), (long)((next - now) % 1000000000) };
            nanosleep(&ts, NULL);
        } else {
            d->late++; /* the previous capture ran past this tick: it is skipped, not queued */
            next = now;
        }
        if (d->stop)
            break;
        struct sls_capture_stats st;
        struct timespec c0, c1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
        capture(d->pid, d->flags, &st, NULL);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
        d->faults += st.shadow_faults;
        d->cpu_sum += (uint64_t)(c1.tv_sec - c0.tv_sec) * 1000000000ull + (uint64_t)c1.tv_nsec - (uint64_t)c0.tv_nsec;
        d->captures++;
        d->stop_sum += st.stop_ns;
    }
    return NULL;
}

/* Writes per second of one "spin" over 1 % of the pages for secs seconds. */
static double spin_rate(struct target *t, uint64_t big, unsigned mib, double secs)
{
    uint64_t n = (uint64_t)mib * 256 / 100;
    send_cmd(t, "spin %lx %lx", (unsigned long)big, (unsigned long)n);
    uint64_t t0 = now_ns();
    struct timespec ts = { (time_t)secs, (long)((secs - (time_t)secs) * 1e9) };
    nanosleep(&ts, NULL);
    send_cmd(t, "sum %lx 1", (unsigned long)big); /* any command ends the spin */
    uint64_t writes = read_reply(t, 120000);
    uint64_t t1 = now_ns();
    read_reply(t, 120000); /* the sum's answer */
    return (double)writes / ((double)(t1 - t0) / 1e9);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Slowdown (%) of the spin loop while a driver delta-captures the target every period_ms, against
 * the same loop uncaptured: segments of each kind alternate (so a change of the machine's load hits
 * both alike) and the medians of their rates are compared. secs: total seconds per kind. */
static double loop_slowdown(struct target *t, uint64_t big, unsigned mib, unsigned period_ms, double secs,
                            int flags, struct driver *d, double *base_rate, double *rate)
{
    double seg = 2.0 * period_ms / 1000;
    if (seg < 0.4)
        seg = 0.4;
    int nseg = (int)(secs / seg + 0.5);
    if (nseg < 3)
        nseg = 3;
    double *b = calloc((size_t)nseg, sizeof(*b)), *c = calloc((size_t)nseg, sizeof(*c));
    memset(d, 0, sizeof(*d));
    d->pid = t->pid;
    d->flags = flags;
    int32_t pid = t->pid;
    sls_forget_tracking(&pid, 1);
    d->period_ms = period_ms;
    for (int i = 0; i < nseg; i++) {
        b[i] = spin_rate(t, big, mib, seg);
        d->stop = 0;
        pthread_t th;
        if (pthread_create(&th, NULL, driver_main, d))
            die("pthread_create");
        c[i] = spin_rate(t, big, mib, seg);
        d->stop = 1;
        pthread_join(th, NULL);
    }
    qsort(b, (size_t)nseg, sizeof(*b), cmp_double);
    qsort(c, (size_t)nseg, sizeof(*c), cmp_double);
    *base_rate = b[nseg / 2];
    *rate = c[nseg / 2];
    free(b);
    free(c);
    return 100.0 * (1 - *rate / *base_rate);
}

/* ---- baselines ----------------------------------------------------------------------------- */

/* Nanoseconds of one trivial syscall (getppid, median of 9 runs of 100000): what every injected
 * syscall, ptrace stop and page-table walk of the engine pays on top; it differs between hosts
 * (PTI, virtualization) far more than memcpy does, so runs are compared with it in view. */
static double syscall_ns(void)
{
    uint64_t v[9];
    for (int i = 0; i < 9; i++) {
        uint64_t t0 = now_ns();
        for (int k = 0; k < 100000; k++)
            syscall(SYS_getppid);
        v[i] = (now_ns() - t0) / 100000;
    }
    return (double)quantile(v, 9, 0.5);
}

/* Median fork() time (parent side, to the return in the parent) of this process with mib MiB touched. */
static double fork_ms(unsigned mib)
{
    size_t len = (size_t)mib << 20;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -1;
    madvise(m, len, MADV_NOHUGEPAGE); /* 4 KiB pages like the target */
    for (size_t o = 0; o < len; o += PAGE)
        m[o] = 1;
    uint64_t v[7];
    for (int i = 0; i < 7; i++) {
        uint64_t t0 = now_ns();
        pid_t c = fork();
        if (c == 0)
            _exit(0);
        v[i] = now_ns() - t0;
        waitpid(c, NULL, 0);
    }
    munmap(m, len);
    return ms(quantile(v, 7, 0.5));
}

int main(int argc, char **argv)
{
    unsigned sizes[8], pcts[8], periods[8];
    int nsizes = 0, npcts = 0, nperiods = 0, rounds = 30, full_rounds = 5, verbose = 0, shadow = 0;
    double loop_secs = 3;
    const char *dir = "/dev/shm";
    int opt;
    while ((opt = getopt(argc, argv, "s:d:r:f:w:p:o:PS")) != -1) {
        switch (opt) {
        case 's': if (nsizes < 8) sizes[nsizes++] = (unsigned)atoi(optarg); break;
        case 'd': if (npcts < 8) pcts[npcts++] = (unsigned)atoi(optarg); break;
        case 'p': if (nperiods < 8) periods[nperiods++] = (unsigned)atoi(optarg); break;
        case 'r': rounds = atoi(optarg); break;
        case 'f': full_rounds = atoi(optarg); break;
        case 'w': loop_secs = atof(optarg); break;
        case 'o': dir = optarg; break;
        case 'P': verbose = 1; break;
        case 'S': shadow = 1; break; /* also every delta row and work loop with SLS_CAPTURE_SHADOW */
        default: die("usage: bench_delta [-s MiB]... [-d pct]... [-r rounds] [-f full-rounds] [-w secs] "
                     "[-p ms]... [-o dir] [-P] [-S]");
        }
    }
    if (!nsizes) { sizes[nsizes++] = 64; sizes[nsizes++] = 1024; }
    if (!npcts) { pcts[npcts++] = 1; pcts[npcts++] = 10; }
    if (!nperiods) { periods[nperiods++] = 10; periods[nperiods++] = 100; periods[nperiods++] = 1000; }

    char self[PATH_MAX], target_path[PATH_MAX + 64];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[sl > 0 ? sl : 0] = 0;
    *strrchr(self, '/') = 0;
    snprintf(target_path, sizeof(target_path), "%s/../../../native/build/tests/prog/trk_target", self);
    if (access(target_path, X_OK))
        die("%s not built (make -C native)", target_path);
    snprintf(page_path, sizeof(page_path), "%s/bench-delta-%d.pages", dir, getpid());
    snprintf(image_path, sizeof(image_path), "%s/bench-delta-%d.img", dir, getpid());

    FILE *up = fopen("/proc/loadavg", "r");
    char load[64] = "?";
    if (up && fgets(load, sizeof(load), up))
        load[strcspn(load, "\n")] = 0;
    if (up)
        fclose(up);
    printf("load average at start: %s\n", load);
    printf("memcpy baseline: %.2f GB/s (256 MiB, best of 5)\n", memcpy_gbps());
    printf("syscall baseline: %.0f ns a getppid (median of 9 x 100000)\n", syscall_ns());
    for (int s = 0; s < nsizes; s++)
        printf("fork() of a process with %u MiB touched (4 KiB pages): %.2f ms (median of 7)\n", sizes[s],
               fork_ms(sizes[s]));
    printf("\n");

    struct {
        unsigned mib, period, captures, late;
        int shadow;
        double slowdown, stop_avg, cpu_avg, faults_avg;
    } loops[32];
    int nloops = 0;
    for (int s = 0; s < nsizes; s++) {
        struct target t;
        start_target(&t, target_path, sizes[s]);
        uint64_t big = cmd(&t, "big");
        for (int d = 0; d < npcts; d++)
            if (full_rounds > 0)
                run_captures(&t, big, sizes[s], pcts[d], 0, full_rounds, 0);
        for (int d = 0; d < npcts; d++)
            run_captures(&t, big, sizes[s], pcts[d], SLS_CAPTURE_DELTA, rounds, verbose);
        for (int d = 0; d < npcts && shadow; d++)
            run_captures(&t, big, sizes[s], pcts[d], SLS_CAPTURE_DELTA | SLS_CAPTURE_SHADOW, rounds, verbose);
        for (int k = 0; k < nperiods * (shadow ? 2 : 1) && loop_secs > 0 && nloops < 32; k++) {
            int p = k % nperiods, flags = SLS_CAPTURE_DELTA | (k >= nperiods ? SLS_CAPTURE_SHADOW : 0);
            struct driver dr;
            double base, rate;
            double slow = loop_slowdown(&t, big, sizes[s], periods[p], loop_secs, flags, &dr, &base, &rate);
            loops[nloops].shadow = (flags & SLS_CAPTURE_SHADOW) != 0;
            loops[nloops].faults_avg = dr.captures ? (double)dr.faults / dr.captures : 0;
            loops[nloops].mib = sizes[s];
            loops[nloops].period = periods[p];
            loops[nloops].captures = dr.captures;
            loops[nloops].late = dr.late;
            loops[nloops].slowdown = slow;
            loops[nloops].stop_avg = dr.captures ? ms(dr.stop_sum / dr.captures) : 0;
            loops[nloops].cpu_avg = dr.captures ? ms(dr.cpu_sum / dr.captures) : 0;
            printf("%u MiB work loop, %s every %u ms: %.1f %% slower (median %.3g vs %.3g writes/s), %u captures, "
                   "%u ticks late, mean stop %.3f ms, engine CPU %.3f ms a capture, %.1f shadow faults a capture\n",
                   sizes[s], loops[nloops].shadow ? "delta + shadow" : "delta", periods[p], slow, rate, base,
                   dr.captures, dr.late, loops[nloops].stop_avg, loops[nloops].cpu_avg, loops[nloops].faults_avg);
            fflush(stdout);
            nloops++;
        }
        stop_target(&t);
    }
    unlink(page_path);
    unlink(image_path);

    printf("\n| touched | dirty | capture | stop median | stop p99 | whole call median | epoch size | shadow faults an epoch |\n");
    printf("|---|---|---|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < nrows; i++)
        printf("| %u MiB | %u %% | %s | %.3f ms | %.3f ms | %.3f ms | %.0f KiB | %.1f |\n", rows[i].mib, rows[i].pct,
               rows[i].kind, rows[i].stop_med, rows[i].stop_p99, rows[i].wall_med, rows[i].epoch_kib, rows[i].faults);
    if (nloops) {
        printf("\n| touched | capture | every | work-loop slowdown | captures | late ticks | mean stop | engine CPU a capture | shadow faults a capture |\n");
        printf("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (int i = 0; i < nloops; i++)
            printf("| %u MiB | %s | %u ms | %.1f %% | %u | %u | %.3f ms | %.2f ms | %.1f |\n", loops[i].mib,
                   loops[i].shadow ? "delta + shadow" : "delta", loops[i].period, loops[i].slowdown, loops[i].captures,
                   loops[i].late, loops[i].stop_avg, loops[i].cpu_avg, loops[i].faults_avg);
    }
    return 0;
}
