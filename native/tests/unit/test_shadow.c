/*
 * Shadowed delta capture (SLS_CAPTURE_SHADOW): the dirty set is copied after the thaw while the
 * process runs, a write to a page not copied yet waits for the engine to copy it first. Checked
 * against trk_target (tests/prog/trk_target.c): a chain of shadowed deltas taken while the target
 * writes all the time holds an instant of the freeze at every epoch and composes to a complete
 * capture; writes that waited are counted; the stop of a 64 MiB / 1 % delta is printed next to the
 * unshadowed one; an engine killed mid-copy leaves the target running, untraced and without any
 * uffd write-protection; shadowing without uffd tracking is refused.
 */
#include "delta_chain.h"

#include <libgen.h>

/* Reads /proc/PID/FILE into buf (NUL-terminated); 0 or -1. */
static int read_proc(pid_t pid, const char *file, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    size_t n = 0;
    ssize_t r;
    while (n + 1 < len && (r = read(fd, buf + n, len - 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    buf[n] = 0;
    return 0;
}

/* The first word of page addr of pid, or UINT64_MAX. */
static uint64_t live_word(pid_t pid, uint64_t addr)
{
    uint64_t v = 0;
    struct iovec l = { &v, 8 }, r = { (void *)(uintptr_t)addr, 8 };
    return process_vm_readv(pid, &l, 1, &r, 1, 0) == 8 ? v : UINT64_MAX;
}

/*
 * Twelve shadowed epochs while the target's main thread rewrites its 16 MiB round-robin ("spin":
 * page i += 1, i = 0..N-1, over and over), so it writes the dirty set right after each thaw, before
 * its pages are copied (the copy is slowed down a little to make sure). Each composed epoch must be
 * an instant: "pages [0, j) counted r + 1 times, [j, N) r times" (a page copied after its write
 * breaks it). At the end the writes stop, one more shadowed delta is taken and the chain equals a
 * complete capture byte for byte.
 */
TEST_CASE(shadowed_delta_chain_while_the_process_writes_gives_instants_and_composes_to_the_complete_capture)
{
    char w[SLS_WHY_LEN] = "", err[512] = "";
    struct target t = { 0 };
    enum { N_EPOCHS = 12 };
    struct image ep[N_EPOCHS];
    struct image full = { .fd = -1 };
    int spinning = 0, shadowed = 0;
    uint64_t faults = 0;
    for (int k = 0; k < N_EPOCHS; k++)
        ep[k] = (struct image){ .fd = -1 };
    setenv("SLS_TEST_SHADOW_COPY_DELAY_US", "300", 1);
    REQUIRE(start_target(&t) == 0, "cannot start trk_target");
    uint64_t big;
    REQUIRE(cmd(&t, &big, w, "big") == 0, "%s", w);
    int32_t pid = t.pid;
    int flags = SLS_CAPTURE_DELTA | SLS_CAPTURE_TRACK(SLS_CAPTURE_TRACK_UFFD) | SLS_CAPTURE_SHADOW;
    struct sls_capture_stats st;
    char img[128], pg[128];
    for (int k = 0; k < N_EPOCHS; k++) {
        if (k == 1) {
            char line[64];
            int n = snprintf(line, sizeof(line), "spin %lx %llx\n", (unsigned long)big, BIG_PAGES);
            REQUIRE(write(t.to, line, (size_t)n) == n, "cannot send spin");
            spinning = 1;
            usleep(20000);
        }
        if (k == N_EPOCHS - 1) {
            uint64_t writes;
            REQUIRE(cmd(&t, &writes, w, "sum %lx 1", (unsigned long)big) == 0, "%s", w); /* spin's answer */
            spinning = 0;
            REQUIRE(cmd(&t, NULL, w, "sum %lx 1", (unsigned long)big) == 0, "%s", w);
            REQUIRE(writes > 2, "the target did only %lu writes while captured", (unsigned long)writes);
            kill(t.pid, SIGSTOP);
            REQUIRE(wait_stopped(t.pid) == 0, "target did not stop");
        }
        snprintf(img, sizeof(img), "%s/shadow.img.%d", work_dir, k);
        snprintf(pg, sizeof(pg), "%s/pages.%d", work_dir, k);
        REQUIRE(sls_capture(&pid, 1, flags, pg, img, &st, err, sizeof(err)) == 0, "epoch %d: %s", k, err);
        REQUIRE(st.delta == (k > 0), "epoch %d: delta=%u", k, st.delta);
        REQUIRE(st.track_mode == SLS_CAPTURE_TRACK_UFFD, "epoch %d: tracked by %d", k, st.track_mode);
        REQUIRE(st.total_ns >= st.stop_ns, "epoch %d: total %lu < stop %lu ns", k, (unsigned long)st.total_ns,
                (unsigned long)st.stop_ns);
        shadowed += st.shadowed;
        faults += st.shadow_faults;
        REQUIRE(load_image(&ep[k], img, pg) == 0, "epoch %d: cannot read its image", k);
        if (k == 0)
            continue;
        struct slot *tab = compose(ep, k + 1);
        uint64_t hi = 0, lo = UINT64_MAX;
        long first_lo = -1, bad = -1;
        for (uint64_t i = 0; i < BIG_PAGES; i++) {
            uint64_t v = composed_word(tab, ep, big + i * PAGE), n = v - (i * 1000 + 1);
            if (v == UINT64_MAX) {
                bad = (long)i;
                break;
            }
            uint64_t prev = i ? composed_word(tab, ep, big + (i - 1) * PAGE) - ((i - 1) * 1000 + 1) : n;
            if (n > hi)
                hi = n;
            if (n < lo)
                lo = n;
            if (first_lo < 0 && n < prev)
                first_lo = (long)i;
            else if (first_lo >= 0 && n != prev)
                bad = (long)i;
        }
        free(tab);
        REQUIRE(bad < 0 && hi - lo <= 1, "epoch %d: the composed big region is no instant of the writes (page %ld; "
                "counts %lu..%lu)", k, bad, (unsigned long)lo, (unsigned long)hi);
    }
    printf("# %d of %d shadowed deltas copied after the thaw, %lu writes waited for the copy\n", shadowed,
           N_EPOCHS - 1, (unsigned long)faults);
    REQUIRE(shadowed >= N_EPOCHS - 2, "only %d of %d deltas were shadowed", shadowed, N_EPOCHS - 1);
    REQUIRE(faults > 0, "the target rewrote the dirty set after every thaw, yet no write waited for the copy");
    char fimg[128], fpg[128];
    snprintf(fimg, sizeof(fimg), "%s/shadow-full.img", work_dir);
    snprintf(fpg, sizeof(fpg), "%s/shadow-full.pages", work_dir);
    REQUIRE(sls_capture(&pid, 1, 0, fpg, fimg, &st, err, sizeof(err)) == 0, "full capture: %s", err);
    REQUIRE(load_image(&full, fimg, fpg) == 0, "cannot read the complete image");
    uint64_t regions[1] = { big }, pages;
    long nbad = compare_chain(ep, N_EPOCHS, &full, t.pid, regions, 1, &pages, w);
    REQUIRE(nbad == 0, "%s (%ld pages differ)", w, nbad);
out:
    if (spinning) {
        char line[] = "sum 0 0\n";
        if (write(t.to, line, sizeof(line) - 1) < 0)
            fprintf(stderr, "# cannot stop the spin\n");
    }
    if (t.pid > 0) {
        kill(t.pid, SIGCONT);
        int32_t p = t.pid;
        sls_forget_tracking(&p, 1);
    }
    stop_target(&t);
    for (int k = 0; k < N_EPOCHS; k++)
        free_image(&ep[k]);
    free_image(&full);
    unsetenv("SLS_TEST_SHADOW_COPY_DELAY_US");
}

/* Median stop of `epochs` deltas of a 64 MiB process writing 1 % of its pages between them. */
static double median_stop_ms(struct target *t, uint64_t big, int flags, int epochs, int *shadowed, char *why)
{
    double stop[64];
    int n = 0;
    char img[128], pg[128], err[512] = "";
    snprintf(img, sizeof(img), "%s/bench.img", work_dir);
    snprintf(pg, sizeof(pg), "%s/bench.pages", work_dir);
    int32_t pid = t->pid;
    struct sls_capture_stats st;
    *shadowed = 0;
    for (int k = 0; k <= epochs && k < 64; k++) {
        if (cmd(t, NULL, why, "writeevery %lx 4000 64", (unsigned long)big))
            return -1;
        if (sls_capture(&pid, 1, flags, pg, img, &st, err, sizeof(err))) {
            snprintf(why, SLS_WHY_LEN, "epoch %d: %s", k, err);
            return -1;
        }
        if (k == 0)
            continue;
        if (!st.delta || st.page_bytes < 164 * PAGE) {
            snprintf(why, SLS_WHY_LEN, "epoch %d: delta=%u with %lu bytes for 164 written pages", k, st.delta,
                     (unsigned long)st.page_bytes);
            return -1;
        }
        *shadowed += st.shadowed;
        stop[n++] = st.stop_ns / 1e6;
    }
    return percentile(stop, n, 0.5);
}

/* Printed, not asserted (no timing assertions on a shared 2-core machine beyond sanity). Four ways,
 * each on a fresh tracker: with the default pre-copy an idle writer leaves the freeze nothing to copy
 * (or shadow), so the dirty set is shadowed whole only with SLS_PRECOPY=0. */
TEST_CASE(shadowed_stop_of_a_64_mib_one_percent_delta_is_printed_next_to_the_unshadowed_one)
{
    char w[SLS_WHY_LEN] = "";
    struct target t = { 0 };
    REQUIRE(start_target_mib(&t, "64") == 0, "cannot start trk_target");
    uint64_t big;
    REQUIRE(cmd(&t, &big, w, "big") == 0, "%s", w);
    int32_t pid = t.pid;
    int uffd = SLS_CAPTURE_DELTA | SLS_CAPTURE_TRACK(SLS_CAPTURE_TRACK_UFFD);
    const struct { int flags; const char *precopy, *label; } way[4] = {
        { uffd, "0", "unshadowed, no pre-copy" },
        { uffd | SLS_CAPTURE_SHADOW, "0", "shadowed, no pre-copy" },
        { uffd, "auto", "unshadowed, pre-copy" },
        { uffd | SLS_CAPTURE_SHADOW, "auto", "shadowed, pre-copy" },
    };
    double ms[4];
    int shadowed[4];
    for (int i = 0; i < 4; i++) {
        setenv("SLS_PRECOPY", way[i].precopy, 1);
        sls_forget_tracking(&pid, 1);
        ms[i] = median_stop_ms(&t, big, way[i].flags, 20, &shadowed[i], w);
        REQUIRE(ms[i] >= 0, "%s: %s", way[i].label, w);
        EXPECT(ms[i] < 1000, "%s: a median stop of %.1f ms", way[i].label, ms[i]);
    }
    printf("# delta of 64 MiB with 1%% written, stop median over 20 epochs: %.3f ms %s, %.3f ms %s (%d shadowed); "
           "%.3f ms %s, %.3f ms %s (%d shadowed)\n", ms[0], way[0].label, ms[1], way[1].label, shadowed[1], ms[2],
           way[2].label, ms[3], way[3].label, shadowed[3]);
    EXPECT(shadowed[0] == 0 && shadowed[2] == 0, "unshadowed deltas say they were shadowed (%d, %d)", shadowed[0],
           shadowed[2]);
    EXPECT(shadowed[1] == 20, "only %d of 20 shadowed deltas without pre-copy were shadowed", shadowed[1]);
out:
    unsetenv("SLS_PRECOPY");
    if (t.pid > 0) {
        int32_t p = t.pid;
        sls_forget_tracking(&p, 1);
    }
    stop_target(&t);
}

/*
 * An engine process (a forked child of the test) takes a complete and then a shadowed delta capture
 * of a target whose thread writes all of its 16 MiB every millisecond, with the background copy
 * slowed to about 3 s; mid-copy (the target already thawed, its pages still write-protected) the
 * engine is SIGKILLed. The kernel closes the engine's uffd: the target must go on writing, be neither
 * traced nor stopped, and no VMA may stay registered for uffd write-protect ("uw" in smaps).
 */
TEST_CASE(engine_killed_mid_shadow_copy_leaves_the_target_running_and_unprotected)
{
    char w[SLS_WHY_LEN] = "";
    static char buf[1 << 20];
    struct target t = { 0 };
    pid_t engine = -1;
    int ready[2] = { -1, -1 }, go[2] = { -1, -1 };
    REQUIRE(start_target(&t) == 0, "cannot start trk_target");
    uint64_t big;
    REQUIRE(cmd(&t, &big, w, "big") == 0, "%s", w);
    REQUIRE(cmd(&t, NULL, w, "writer %lx %llx", (unsigned long)big, BIG_PAGES) == 0, "%s", w);
    REQUIRE(pipe(ready) == 0 && pipe(go) == 0, "pipe");
    engine = fork();
    REQUIRE(engine >= 0, "fork");
    if (engine == 0) {
        close(ready[0]);
        char img[128], pg[128], err[512];
        snprintf(img, sizeof(img), "%s/death.img", work_dir);
        snprintf(pg, sizeof(pg), "%s/death.pages", work_dir);
        int32_t pid = t.pid;
        struct sls_capture_stats st;
        int flags = SLS_CAPTURE_DELTA | SLS_CAPTURE_TRACK(SLS_CAPTURE_TRACK_UFFD) | SLS_CAPTURE_SHADOW;
        if (sls_capture(&pid, 1, flags, pg, img, &st, err, sizeof(err)))
            _exit(2);
        /* the test dirties every page (each first write waits for this process's fault server) */
        if (write(ready[1], "x", 1) != 1 || read(go[0], &err[0], 1) != 1)
            _exit(3);
        /* no pre-copy: all 4096 written pages are the freeze's dirty set, shadowed in 128 chunks of
         * 32 pages, slowed to ~3 s; a write that faults waits 25 ms for its page's copy, so the
         * writer is most likely waiting in a fault when the engine dies */
        setenv("SLS_PRECOPY", "0", 1);
        setenv("SLS_TEST_SHADOW_COPY_DELAY_US", "25000", 1);
        int rc = sls_capture(&pid, 1, flags, pg, img, &st, err, sizeof(err));
        printf("# the engine's shadowed capture returned %d before it was killed: delta %u, %lu shadowed: %s\n", rc,
               st.delta, (unsigned long)st.shadowed, rc ? err : "");
        fflush(stdout);
        _exit(4); /* should have been killed long before */
    }
    close(ready[1]);
    ready[1] = -1;
    char x;
    struct pollfd pf = { .fd = ready[0], .events = POLLIN };
    REQUIRE(poll(&pf, 1, 10000) == 1 && read(ready[0], &x, 1) == 1, "the engine's first capture failed");
    /* every page written once more, for sure: the whole region is the next freeze's dirty set */
    REQUIRE(cmd(&t, NULL, w, "write %lx %llx", (unsigned long)big, BIG_PAGES) == 0, "%s", w);
    REQUIRE(cmd(&t, NULL, w, "unwrite %lx %llx", (unsigned long)big, BIG_PAGES) == 0, "%s", w);
    REQUIRE(write(go[1], "g", 1) == 1, "cannot tell the engine to go on");
    /* the stop takes milliseconds and the copy about 3 s: after 600 ms the engine must be copying —
     * the target thawed (no tracer), the engine still inside sls_capture (alive) */
    int copying = 0, st = 0;
    usleep(600000);
    for (int i = 0; i < 100 && !copying; i++) {
        REQUIRE(read_proc(t.pid, "status", buf, sizeof(buf)) == 0, "cannot read the target's status");
        char *tr = strstr(buf, "TracerPid:");
        copying = tr && atoi(tr + 10) == 0;
        if (!copying)
            usleep(10000);
    }
    REQUIRE(copying, "the target stayed traced: the engine never got past the stop");
    REQUIRE(read_proc(t.pid, "smaps", buf, sizeof(buf)) == 0, "cannot read the target's smaps");
    REQUIRE(strstr(buf, " uw"), "no VMA of the target is registered for uffd write-protect mid-copy");
    REQUIRE(waitpid(engine, &st, WNOHANG) == 0, "the engine exited (status %#x) before it could be killed", st);
    /* the writer crawls, one page per 25 ms: a write is waiting for the engine right now */
    uint64_t slow0 = live_word(t.pid, big + (BIG_PAGES - 1) * PAGE);
    usleep(50000);
    uint64_t slow1 = live_word(t.pid, big + (BIG_PAGES - 1) * PAGE);
    printf("# mid-copy the writer's last page went %lu -> %lu in 50 ms\n", (unsigned long)slow0,
           (unsigned long)slow1);
    kill(engine, SIGKILL);
    REQUIRE(waitpid(engine, &st, 0) == engine, "waitpid engine");
    engine = -1;
    REQUIRE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the engine ended with status %#x, not by SIGKILL", st);
    usleep(50000);
    /* the target: alive, running, writing, nothing registered */
    uint64_t before = live_word(t.pid, big);
    usleep(100000);
    uint64_t after = live_word(t.pid, big);
    REQUIRE(before != UINT64_MAX && after != UINT64_MAX, "cannot read the target's memory");
    EXPECT(after > before, "the target's writer made no progress after the engine died (%lu -> %lu)",
           (unsigned long)before, (unsigned long)after);
    REQUIRE(read_proc(t.pid, "status", buf, sizeof(buf)) == 0, "cannot read the target's status");
    char *state = strstr(buf, "State:"), *tracer = strstr(buf, "TracerPid:");
    REQUIRE(state && tracer, "no State/TracerPid in status");
    EXPECT(atoi(tracer + 10) == 0, "the target is still traced: %.20s", tracer);
    EXPECT(state[7] != 't' && state[7] != 'T', "the target is stopped: %.20s", state);
    REQUIRE(read_proc(t.pid, "smaps", buf, sizeof(buf)) == 0, "cannot read the target's smaps");
    char *uw = strstr(buf, " uw");
    EXPECT(!uw, "a VMA is still registered for uffd write-protect: ...%.60s", uw ? uw - 40 : "");
    uint64_t sum = 0;
    EXPECT(cmd(&t, &sum, w, "sum %lx 1", (unsigned long)big) == 0, "the target no longer answers: %s", w);
out:
    if (engine > 0) {
        kill(engine, SIGKILL);
        waitpid(engine, NULL, 0);
    }
    if (ready[0] >= 0)
        close(ready[0]);
    if (ready[1] >= 0)
        close(ready[1]);
    if (go[0] >= 0) {
        close(go[0]);
        close(go[1]);
    }
    stop_target(&t);
}

TEST_CASE(shadowing_without_delta_or_without_uffd_tracking_is_refused)
{
    char err[256] = "";
    int32_t pid = getpid();
    struct sls_capture_stats st;
    int rc = sls_capture(&pid, 1, SLS_CAPTURE_SHADOW, "/tmp/x", "/tmp/y", &st, err, sizeof(err));
    EXPECT(rc == -EINVAL && strstr(err, "SLS_CAPTURE_DELTA"), "no delta: rc %d: %s", rc, err);
    rc = sls_capture(&pid, 1, SLS_CAPTURE_SHADOW | SLS_CAPTURE_DELTA | SLS_CAPTURE_TRACK(SLS_CAPTURE_TRACK_DIGEST),
                     "/tmp/x", "/tmp/y", &st, err, sizeof(err));
    EXPECT(rc == -EOPNOTSUPP && strstr(err, "uffd") && strstr(err, "digest"), "digest: rc %d: %s", rc, err);
    rc = sls_capture(&pid, 1, SLS_CAPTURE_SHADOW | SLS_CAPTURE_DELTA | SLS_CAPTURE_TRACK(SLS_CAPTURE_TRACK_SOFTDIRTY),
                     "/tmp/x", "/tmp/y", &st, err, sizeof(err));
    EXPECT(rc == -EOPNOTSUPP && strstr(err, "soft-dirty"), "soft-dirty: rc %d: %s", rc, err);
}

/* A tracker keeps the way it was opened: a plain delta on a process tracked for shadowing (and the
 * reverse) starts its tracking over with a complete capture, then deltas follow again. Without
 * pre-copy, so the written pages are the freeze's dirty set and a shadowed delta shadows them. */
TEST_CASE(switching_between_shadowed_and_plain_deltas_starts_tracking_over)
{
    char w[SLS_WHY_LEN] = "", err[512] = "";
    struct target t = { 0 };
    setenv("SLS_PRECOPY", "0", 1);
    REQUIRE(start_target(&t) == 0, "cannot start trk_target");
    uint64_t big;
    REQUIRE(cmd(&t, &big, w, "big") == 0, "%s", w);
    char img[128], pg[128];
    snprintf(img, sizeof(img), "%s/switch.img", work_dir);
    snprintf(pg, sizeof(pg), "%s/switch.pages", work_dir);
    int32_t pid = t.pid;
    struct sls_capture_stats st;
    int plain = SLS_CAPTURE_DELTA | SLS_CAPTURE_TRACK(SLS_CAPTURE_TRACK_UFFD), shadow = plain | SLS_CAPTURE_SHADOW;
    const int seq[] = { shadow, shadow, plain, plain, shadow, shadow };
    const int want_delta[] = { 0, 1, 0, 1, 0, 1 };
    for (int k = 0; k < 6; k++) {
        REQUIRE(cmd(&t, NULL, w, "write %lx 3", (unsigned long)(big + (uint64_t)k * 7 * PAGE)) == 0, "%s", w);
        REQUIRE(sls_capture(&pid, 1, seq[k], pg, img, &st, err, sizeof(err)) == 0, "capture %d: %s", k, err);
        EXPECT(st.delta == (uint32_t)want_delta[k], "capture %d (%s): delta=%u, want %d", k,
               seq[k] & SLS_CAPTURE_SHADOW ? "shadowed" : "plain", st.delta, want_delta[k]);
        EXPECT(st.shadowed == (uint32_t)((seq[k] & SLS_CAPTURE_SHADOW) && want_delta[k]), "capture %d: shadowed=%u",
               k, st.shadowed);
    }
out:
    if (t.pid > 0) {
        int32_t p = t.pid;
        sls_forget_tracking(&p, 1);
    }
    stop_target(&t);
    unsetenv("SLS_PRECOPY");
}

/* sls:info shows what the probe says: here (6.18, uffd WP with WP_UNPOPULATED, PAGEMAP_SCAN,
 * pidfd_getfd) shadowing is available, and a capture with it is accepted. */
TEST_CASE(the_probe_reports_shadowing_when_the_kernel_has_what_it_needs)
{
    char buf[8192], err[256] = "";
    REQUIRE(sls_probe(buf, sizeof(buf), err, sizeof(err)) >= 0, "probe: %s", err);
    int needs = strstr(buf, "\nuffd_wp_unpopulated=yes") && strstr(buf, "\npagemap_scan=yes") &&
                strstr(buf, "\npidfd_getfd=yes");
    const char *line = strstr(buf, "\nshadowing=");
    REQUIRE(line, "the probe has no shadowing line");
    EXPECT(needs ? !strncmp(line, "\nshadowing=yes", 14) : !strncmp(line, "\nshadowing=no (", 15),
           "probe says %.60s", line + 1);
out:;
}

int main(void)
{
    char self[PATH_MAX / 2];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = 0;
    snprintf(build_dir, sizeof(build_dir), "%s", dirname(dirname(dirname(self))));
    snprintf(seed_path, sizeof(seed_path), "%s/sls-seed", build_dir);
    snprintf(work_dir, sizeof(work_dir), "/tmp/sls-shadow-XXXXXX");
    if (!mkdtemp(work_dir)) {
        printf("FAIL setup: cannot create a work directory\n");
        return 1;
    }
    RUN(the_probe_reports_shadowing_when_the_kernel_has_what_it_needs);
    RUN(shadowing_without_delta_or_without_uffd_tracking_is_refused);
    RUN(switching_between_shadowed_and_plain_deltas_starts_tracking_over);
    RUN(shadowed_delta_chain_while_the_process_writes_gives_instants_and_composes_to_the_complete_capture);
    RUN(shadowed_stop_of_a_64_mib_one_percent_delta_is_printed_next_to_the_unshadowed_one);
    RUN(engine_killed_mid_shadow_copy_leaves_the_target_running_and_unprotected);
    char rm[128];
    snprintf(rm, sizeof(rm), "rm -rf %s", work_dir);
    if (system(rm) != 0)
        printf("# could not remove %s\n", work_dir);
    return TEST_EXIT();
}
