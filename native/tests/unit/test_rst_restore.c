/*
 * test_rst_restore.c — end to end: start a tests/prog/rst_* program, sls_capture it, kill -9 the
 * original, sls_restore it with segments built from the image's PAGERUN entries (all pages in the one
 * page file), then SIGUSR2 the restored process and read its own PASS/FAIL verdict from its results
 * file. Also: restoring twice while the original runs, and failures that must leave nothing behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sls_image.h"
#include "sls_test.h"
#include "slsnative.h"
#include "proc_wait.h"

static char build_dir[PATH_MAX / 2];  /* .../native/build */
static char seed_path[PATH_MAX];

struct run {
    char dir[64];
    char results[128];
    char pages[128];
    char image[128];
    pid_t pid;            /* the original (our child) */
    struct sls_page_segment *segs;
    int nsegs;
    int32_t pairs[16];
    int npairs;
    char err[512];
};

static int setup(struct run *r)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->dir, sizeof(r->dir), "/tmp/sls-rst-XXXXXX");
    if (!mkdtemp(r->dir))
        return -1;
    snprintf(r->results, sizeof(r->results), "%s/results", r->dir);
    snprintf(r->pages, sizeof(r->pages), "%s/pages", r->dir);
    snprintf(r->image, sizeof(r->image), "%s/image", r->dir);
    return 0;
}

/* Starts build/tests/prog/NAME ARG... with stdout and stderr appended to the results file. */
static pid_t start_prog(struct run *r, const char *name, const char *arg)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/tests/prog/%s", build_dir, name);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(r->results, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        close(null);
        setpgid(0, 0); /* out of the test runner's process group */
        execl(path, name, arg, (char *)NULL);
        _exit(127);
    }
    r->pid = pid;
    return pid;
}

/* Number of lines in the results file starting with prefix. */
static void first_line(const char *file, const char *prefix, char *out, size_t len)
{
    FILE *f = fopen(file, "r");
    out[0] = 0;
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, prefix, strlen(prefix))) {
            snprintf(out, len, "%.*s", (int)strcspn(line, "\n"), line);
            break;
        }
    fclose(f);
}

static int wait_gone(pid_t pid, double timeout_s)
{
    double end = now_s() + timeout_s;
    while (now_s() < end) {
        if (!alive(pid))
            return 1;
        sleep_ms(5);
    }
    return 0;
}

/* Processes running the seed binary (a half-built restore would leave one). */
static int count_seeds(void)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) {
        char path[300], exe[PATH_MAX];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/exe", e->d_name);
        ssize_t len = readlink(path, exe, sizeof(exe) - 1);
        if (len > 0) {
            exe[len] = 0;
            n += strstr(exe, "sls-seed") != NULL && alive(atoi(e->d_name));
        }
    }
    if (d)
        closedir(d);
    return n;
}

static int capture(struct run *r, int32_t flags)
{
    struct sls_capture_stats st;
    int32_t pid = r->pid;
    return sls_capture(&pid, 1, flags, r->pages, r->image, &st, r->err, sizeof(r->err));
}

/* One segment per PAGERUN run of every record: all pages live in files[0], the page file. */
static int build_segments(struct run *r)
{
    FILE *f = fopen(r->image, "r");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *img = malloc((size_t)len);
    if (fread(img, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        free(img);
        return -1;
    }
    fclose(f);
    free(r->segs);
    r->segs = NULL;
    r->nsegs = 0;
    for (long off = 0; off < len;) {
        struct sls_img_header *h = (void *)(img + off);
        uint32_t e = h->header_len;
        for (uint32_t i = 0; i < h->nentries; i++) {
            struct sls_img_entry *en = (void *)(img + off + e);
            if (en->tag == SLS_TAG_PAGERUN) {
                struct sls_img_pagerun *pr = (void *)(en + 1);
                size_t n = en->len / sizeof(*pr);
                r->segs = realloc(r->segs, sizeof(*r->segs) * (r->nsegs + n));
                for (size_t k = 0; k < n; k++)
                    r->segs[r->nsegs++] = (struct sls_page_segment){ .pid = h->pid, .file = 0, .addr = pr[k].addr,
                                                                     .len = pr[k].npages * 4096, .offset = pr[k].offset };
            }
            e += (uint32_t)sizeof(*en) + SLS_IMG_PAD(en->len);
        }
        off += h->total_len;
    }
    free(img);
    return 0;
}

static int restore(struct run *r, int32_t flags)
{
    const char *files[1] = { r->pages };
    int n = sls_restore(r->image, r->segs, r->nsegs, files, 1, flags, seed_path, r->pairs, 8, r->err,
                        sizeof(r->err));
    r->npairs = n > 0 ? n : 0;
    return n;
}

/* Any process, zombies included, whose process group is pgid. */
static int group_exists(pid_t pgid)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int found = 0;
    while (d && !found && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300];
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        int pg = 0;
        if (f && fscanf(f, "%*d %*s %*c %*d %d", &pg) == 1 && pg == pgid)
            found = 1;
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return found;
}

static void kill_original(struct run *r)
{
    if (r->pid > 0) {
        /* The whole group: a PID still used as a process group ID cannot be given out again. */
        kill(-r->pid, SIGKILL);
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        /* Killed children are zombies of init until it reaps them; they still hold the group. */
        for (int i = 0; i < 1000 && group_exists(r->pid); i++)
            sleep_ms(5);
        r->pid = 0;
    }
}

static void teardown(struct run *r)
{
    kill_original(r);
    for (int i = 0; i < r->npairs; i++)
        if (r->pairs[2 * i + 1] > 0 && alive(r->pairs[2 * i + 1]))
            kill(r->pairs[2 * i + 1], SIGKILL);
    free(r->segs);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", r->dir);
}

/* The common path: start, capture, kill -9, restore, check the PID, SIGUSR2, expect PASS. */
/* Rewrites the image with its records in reverse order (each record keeps its own checksum). */
static int reverse_records(const char *image)
{
    FILE *f = fopen(image, "r");
    if (!f)
        return -1;
    uint8_t *img = malloc(1 << 24);
    size_t len = fread(img, 1, 1 << 24, f);
    fclose(f);
    size_t offs[64];
    int n = 0;
    for (size_t off = 0; off < len && n < 64; off += ((struct sls_img_header *)(img + off))->total_len)
        offs[n++] = off;
    f = fopen(image, "w");
    for (int i = n - 1; i >= 0; i--)
        fwrite(img + offs[i], 1, ((struct sls_img_header *)(img + offs[i]))->total_len, f);
    fclose(f);
    free(img);
    return n;
}

static void capture_kill_restore_verify(char *case_why, const char *prog, const char *arg, int32_t cflags,
                                        int32_t rflags, int expect_procs, const char *syscall_check,
                                        int reverse)
{
    struct run r;
    REQUIRE(setup(&r) == 0, "mkdtemp failed");
    char argbuf[256];
    if (arg && !strcmp(arg, "DIR"))
        arg = r.dir;
    else if (arg && !strcmp(arg, "LOG")) {
        snprintf(argbuf, sizeof(argbuf), "%s/app.log", r.dir);
        arg = argbuf;
    }
    REQUIRE(start_prog(&r, prog, arg) > 0, "fork failed");
    REQUIRE(wait_lines(r.results, "READY", 1, 10), "%s never became ready", prog);
    sleep_ms(50); /* let it settle into its steady state (asleep, blocked, looping) */
    pid_t orig = r.pid;
    int rc = capture(&r, cflags);
    REQUIRE(rc == 0, "sls_capture: %s", r.err);
    kill_original(&r);
    REQUIRE(build_segments(&r) == 0, "cannot read the image");
    if (reverse)
        REQUIRE(reverse_records(r.image) == expect_procs, "cannot reorder the image");
    double t0 = now_s();
    rc = restore(&r, rflags);
    double dt = now_s() - t0;
    REQUIRE(rc == expect_procs, "sls_restore returned %d: %s", rc, r.err);
    REQUIRE(r.pairs[0] == orig && r.pairs[1] == orig, "restored as pid %d (pairs %d>%d %d>%d %d>%d), want the original %d", r.pairs[1], r.pairs[0], r.pairs[1], r.pairs[2], r.pairs[3], r.pairs[4], r.pairs[5], orig);
    for (int i = 0; i < rc; i++) {
        EXPECT(r.pairs[2 * i] == r.pairs[2 * i + 1], "process %d came back as %d", r.pairs[2 * i], r.pairs[2 * i + 1]);
        /* start_prog made the original its own process group leader; its children joined the group. */
        char path[64];
        int pgid = -1;
        snprintf(path, sizeof(path), "/proc/%d/stat", r.pairs[2 * i + 1]);
        FILE *f = fopen(path, "r");
        if (f && fscanf(f, "%*d %*s %*c %*d %d", &pgid) != 1)
            pgid = -1;
        if (f)
            fclose(f);
        EXPECT(pgid == orig, "restored process %d is in process group %d, want %d", r.pairs[2 * i + 1], pgid, orig);
    }
    REQUIRE(alive(orig), "the restored process died at once");
    {
        char path[64];
        int ppid = -1;
        snprintf(path, sizeof(path), "/proc/%d/stat", orig);
        FILE *f = fopen(path, "r");
        if (f && fscanf(f, "%*d %*s %*c %d", &ppid) != 1)
            ppid = -1;
        if (f)
            fclose(f);
        EXPECT(ppid != getpid() && ppid > 0, "the restored process has parent %d (the caller is %d)", ppid, getpid());
    }
    if (syscall_check) {
        /* It must be back inside its blocking call, not woken early. */
        char path[64], line[128] = "";
        snprintf(path, sizeof(path), "/proc/%d/syscall", orig);
        int inside = 0;
        for (int tries = 0; tries < 200 && !inside; tries++) {
            FILE *f = fopen(path, "r");
            if (f && fgets(line, sizeof(line), f))
                inside = atoi(line) == atoi(syscall_check) || atoi(line) == atoi(strchr(syscall_check, '/') + 1);
            if (f)
                fclose(f);
            if (!inside)
                sleep_ms(5);
        }
        EXPECT(inside, "restored process is not back in syscall %s: /proc/PID/syscall says %.40s", syscall_check, line);
    }
    kill(orig, SIGUSR2);
    int done = 0;
    double end = now_s() + 20;
    while (now_s() < end && !(done = count_lines(r.results, "PASS") + count_lines(r.results, "FAIL")))
        sleep_ms(5);
    char verdict[512];
    first_line(r.results, "FAIL", verdict, sizeof(verdict));
    REQUIRE(!verdict[0], "%s", verdict);
    REQUIRE(done, "no verdict from the restored %s within 20 s", prog);
    EXPECT(wait_gone(orig, 5), "restored process did not exit after its verdict");
    fprintf(stderr, "[%s] restore took %.1f ms\n", prog, dt * 1000);
out:
    teardown(&r);
}

TEST_CASE(counter_continues_and_checksum_stays_right)
{
    capture_kill_restore_verify(case_why, "rst_counter", NULL, 0, 0, 1, NULL, 0);
}

TEST_CASE(mappings_of_every_kind_come_back)
{
    capture_kill_restore_verify(case_why, "rst_mmaps", "DIR", 0, 0, 1, NULL, 0);
}

TEST_CASE(signal_handlers_masks_pending_and_process_state_come_back)
{
    capture_kill_restore_verify(case_why, "rst_signals", "DIR", 0, 0, 1, NULL, 0);
}

TEST_CASE(threads_with_contended_mutex_join_after_restore)
{
    capture_kill_restore_verify(case_why, "rst_threads", NULL, 0, 0, 1, NULL, 0);
}

TEST_CASE(process_in_nanosleep_sleeps_on)
{
    capture_kill_restore_verify(case_why, "rst_sleep", "nanosleep", 0, 0, 1, "230/35", 0);
}

TEST_CASE(process_blocked_in_pipe_read_keeps_waiting)
{
    capture_kill_restore_verify(case_why, "rst_sleep", "read", 0, 0, 1, "0/0", 0);
}

TEST_CASE(process_in_poll_keeps_polling)
{
    capture_kill_restore_verify(case_why, "rst_sleep", "poll", 0, 0, 1, "7/271", 0);
}

TEST_CASE(fifo_eventfd_epoll_timerfd_signalfd_memfd_and_dir_fds_come_back)
{
    capture_kill_restore_verify(case_why, "rst_fdkinds", "DIR", 0, 0, 1, NULL, 0);
}

TEST_CASE(tcp_unix_and_dual_stack_listeners_socketpair_and_udp_socket_come_back)
{
    capture_kill_restore_verify(case_why, "rst_sockets", "DIR", 0, 0, 1, NULL, 0);
}

TEST_CASE(log_appends_continue_at_the_right_offset)
{
    capture_kill_restore_verify(case_why, "rst_applog", "LOG", 0, 0, 1, NULL, 0);
}

TEST_CASE(parent_and_two_children_with_pipes_restore_as_a_tree)
{
    capture_kill_restore_verify(case_why, "rst_family", NULL, SLS_CAPTURE_RECURSIVE, 0, 3, NULL, 0);
}

static uint32_t crc32c(const uint8_t *p, size_t n)
{
    uint32_t crc = ~0u;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* Sets every uid and gid of the (single) record's PROC entry and re-seals the record's checksum. */
static int set_image_ids(const char *image, uint32_t id)
{
    FILE *f = fopen(image, "r+");
    if (!f)
        return -1;
    uint8_t *img = malloc(1 << 24);
    size_t len = fread(img, 1, 1 << 24, f);
    struct sls_img_header *h = (void *)img;
    int found = 0;
    for (uint32_t i = 0, e = h->header_len; i < h->nentries && e < len; i++) {
        struct sls_img_entry *en = (void *)(img + e);
        if (en->tag == SLS_TAG_PROC) {
            struct sls_img_proc *pr = (void *)(en + 1);
            for (int k = 0; k < 4; k++)
                pr->uid[k] = pr->gid[k] = id;
            found = 1;
        }
        e += (uint32_t)sizeof(*en) + SLS_IMG_PAD(en->len);
    }
    h->crc32c = crc32c(img + h->header_len, h->total_len - h->header_len);
    rewind(f);
    size_t w = fwrite(img, 1, len, f);
    fclose(f);
    free(img);
    return found && w == len ? 0 : -1;
}

/* A process whose image says it ran as an unprivileged user comes back as that user, without
 * capabilities, still dumpable, and still working. (The image of a root process is edited: capture
 * of another user's process fails on this machine, see main.) */
TEST_CASE(unprivileged_process_keeps_its_credentials)
{
    struct run r;
    const uid_t nobody = 65534;
    REQUIRE(setup(&r) == 0, "mkdtemp failed");
    REQUIRE(start_prog(&r, "rst_sleep", "poll") > 0, "fork failed");
    REQUIRE(wait_lines(r.results, "READY", 1, 10), "rst_sleep never became ready");
    pid_t orig = r.pid;
    REQUIRE(capture(&r, 0) == 0, "sls_capture: %s", r.err);
    kill_original(&r);
    REQUIRE(build_segments(&r) == 0, "cannot read the image");
    REQUIRE(set_image_ids(r.image, nobody) == 0, "cannot edit the image's credentials");
    REQUIRE(restore(&r, 0) == 1, "restore failed: %s", r.err);
    REQUIRE(r.pairs[1] == orig, "restored as %d, want %d", r.pairs[1], orig);
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", orig);
    FILE *f = fopen(path, "r");
    int uid_ok = 0, gid_ok = 0, caps_ok = 0;
    while (f && fgets(line, sizeof(line), f)) {
        unsigned a, b, c2, d;
        unsigned long long cap;
        if (sscanf(line, "Uid: %u %u %u %u", &a, &b, &c2, &d) == 4)
            uid_ok = a == nobody && b == nobody && c2 == nobody && d == nobody;
        if (sscanf(line, "Gid: %u %u %u %u", &a, &b, &c2, &d) == 4)
            gid_ok = a == nobody && b == nobody && c2 == nobody && d == nobody;
        if (sscanf(line, "CapEff: %llx", &cap) == 1)
            caps_ok = cap == 0;
    }
    if (f)
        fclose(f);
    EXPECT(uid_ok && gid_ok, "restored process does not run as uid/gid %u", nobody);
    EXPECT(caps_ok, "restored unprivileged process has effective capabilities");
    struct stat st;
    snprintf(path, sizeof(path), "/proc/%d/mem", orig);
    EXPECT(stat(path, &st) == 0 && st.st_uid == nobody, "restored process is not dumpable (its /proc files belong to %u)",
           st.st_uid);
    kill(orig, SIGUSR2);
    REQUIRE(wait_lines(r.results, "PASS", 1, 20), "no PASS from the unprivileged process");
    EXPECT(wait_gone(orig, 5), "restored process did not exit");
out:
    teardown(&r);
}

/* Two restores of one image while its original still runs: three independent processes, each with
 * its own PID (and TIDs), each verifying itself. */
static void restore_twice_while_running(char *case_why, const char *prog)
{
    struct run r;
    REQUIRE(setup(&r) == 0, "mkdtemp failed");
    REQUIRE(start_prog(&r, prog, NULL) > 0, "fork failed");
    REQUIRE(wait_lines(r.results, "READY", 1, 10), "%s never became ready", prog);
    REQUIRE(capture(&r, 0) == 0, "sls_capture: %s", r.err);
    REQUIRE(build_segments(&r) == 0, "cannot read the image");
    REQUIRE(restore(&r, 0) == 1, "first restore: %s", r.err);
    pid_t a = r.pairs[1];
    REQUIRE(restore(&r, 0) == 1, "second restore: %s", r.err);
    pid_t b = r.pairs[1];
    r.pairs[2] = r.pairs[0];
    r.pairs[3] = b;
    r.pairs[1] = a;
    r.npairs = 2; /* teardown kills both copies if they are still there */
    EXPECT(a != r.pid && b != r.pid && a != b, "pids original %d, copies %d and %d are not distinct", r.pid, a, b);
    REQUIRE(alive(a) && alive(b), "a copy died at once");
    kill(a, SIGUSR2);
    kill(b, SIGUSR2);
    kill(r.pid, SIGUSR2);
    REQUIRE(wait_lines(r.results, "PASS", 3, 20), "want 3 PASS verdicts (original and two copies), got %d PASS %d FAIL",
            count_lines(r.results, "PASS"), count_lines(r.results, "FAIL"));
    waitpid(r.pid, NULL, 0);
    r.pid = 0;
    EXPECT(wait_gone(a, 5) && wait_gone(b, 5), "a copy did not exit after its verdict");
out:
    teardown(&r);
}

TEST_CASE(restoring_twice_while_the_original_runs_gives_independent_copies)
{
    restore_twice_while_running(case_why, "rst_counter");
}

TEST_CASE(threaded_process_restored_twice_while_running_gets_new_tids_and_joins)
{
    restore_twice_while_running(case_why, "rst_threads");
}

/* A process whose stdin and stderr are a terminal (its controlling tty, in its own session) comes
 * back detached: those fds are /dev/null and it leads a new session. */
TEST_CASE(records_in_any_order_restore_parents_before_children)
{
    capture_kill_restore_verify(case_why, "rst_family", NULL, SLS_CAPTURE_RECURSIVE, 0, 3, NULL, 1);
}

TEST_CASE(detached_restore_puts_terminal_stdio_on_dev_null)
{
    struct run r;
    int master = -1;
    REQUIRE(setup(&r) == 0, "mkdtemp failed");
    master = posix_openpt(O_RDWR | O_NOCTTY);
    REQUIRE(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0, "no pty available");
    const char *slave = ptsname(master);
    char prog[PATH_MAX];
    snprintf(prog, sizeof(prog), "%s/tests/prog/rst_sleep", build_dir);
    pid_t pid = fork();
    if (pid == 0) {
        setsid();
        int tty = open(slave, O_RDWR);
        int out = open(r.results, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(tty, 0);
        dup2(out, 1);
        dup2(tty, 2);
        close(tty);
        close(out);
        close(master);
        execl(prog, "rst_sleep", "nanosleep", (char *)NULL);
        _exit(127);
    }
    r.pid = pid;
    REQUIRE(wait_lines(r.results, "READY", 1, 10), "rst_sleep never became ready");
    REQUIRE(capture(&r, 0) == 0, "sls_capture: %s", r.err);
    kill_original(&r);
    REQUIRE(build_segments(&r) == 0, "cannot read the image");
    REQUIRE(restore(&r, SLS_RESTORE_DETACHED) == 1, "detached restore failed: %s", r.err);
    pid_t got = r.pairs[1];
    char path[64], link[256];
    for (int fd = 0; fd <= 2; fd += 2) {
        snprintf(path, sizeof(path), "/proc/%d/fd/%d", got, fd);
        ssize_t n = readlink(path, link, sizeof(link) - 1);
        link[n > 0 ? n : 0] = 0;
        EXPECT(!strcmp(link, "/dev/null"), "fd %d of the detached process is %s, want /dev/null", fd, link);
    }
    snprintf(path, sizeof(path), "/proc/%d/stat", got);
    FILE *f = fopen(path, "r");
    int sid = 0;
    if (f && fscanf(f, "%*d %*s %*c %*d %*d %d", &sid) != 1)
        sid = 0;
    if (f)
        fclose(f);
    EXPECT(sid == got, "the detached process is in session %d, want its own (%d)", sid, got);
    kill(got, SIGUSR2);
    if (!wait_lines(r.results, "PASS", 1, 20)) { char v[512]; first_line(r.results, "FAIL", v, sizeof v); REQUIRE(0, "no PASS from the detached process (%s)", v); }
    EXPECT(wait_gone(got, 5), "restored process did not exit");
out:
    if (master >= 0)
        close(master);
    teardown(&r);
}

/* Checkpointing goes on after a restore: the restored process (here a whole tree with pipes and
 * shared memory) is captured again, killed, and restored a second time, and still verifies. */
static void restore_then_checkpoint_again(char *case_why, const char *prog, int32_t cflags, int nprocs)
{
    struct run r;
    REQUIRE(setup(&r) == 0, "mkdtemp failed");
    REQUIRE(start_prog(&r, prog, NULL) > 0, "fork failed");
    REQUIRE(wait_lines(r.results, "READY", 1, 10), "%s never became ready", prog);
    pid_t orig = r.pid;
    REQUIRE(capture(&r, cflags) == 0, "first sls_capture: %s", r.err);
    kill_original(&r);
    REQUIRE(build_segments(&r) == 0, "cannot read the image");
    REQUIRE(restore(&r, 0) == nprocs, "first restore: %s", r.err);
    REQUIRE(r.pairs[1] == orig, "first restore gave pid %d, want %d", r.pairs[1], orig);
    sleep_ms(50);
    struct sls_capture_stats st;
    int32_t again = orig;
    REQUIRE(sls_capture(&again, 1, cflags, r.pages, r.image, &st, r.err, sizeof(r.err)) == 0,
            "capture of the restored process: %s", r.err);
    for (int i = nprocs - 1; i >= 0; i--)
        kill(r.pairs[2 * i + 1], SIGKILL);
    for (int i = 0; i < nprocs; i++)
        REQUIRE(wait_gone(r.pairs[2 * i + 1], 5), "restored process %d did not die", r.pairs[2 * i + 1]);
    for (int i = 0; i < 1000 && group_exists(orig); i++)
        sleep_ms(5);
    REQUIRE(build_segments(&r) == 0, "cannot read the second image");
    REQUIRE(restore(&r, 0) == nprocs, "second restore: %s", r.err);
    REQUIRE(r.pairs[1] == orig, "second restore gave pid %d, want %d", r.pairs[1], orig);
    kill(orig, SIGUSR2);
    double end = now_s() + 20;
    while (now_s() < end && !count_lines(r.results, "PASS") && !count_lines(r.results, "FAIL"))
        sleep_ms(5);
    char verdict[512];
    first_line(r.results, "FAIL", verdict, sizeof(verdict));
    REQUIRE(!verdict[0], "%s", verdict);
    REQUIRE(count_lines(r.results, "PASS") == 1, "no verdict from the twice-restored %s", prog);
    EXPECT(wait_gone(orig, 5), "restored process did not exit after its verdict");
out:
    teardown(&r);
}

TEST_CASE(restored_process_is_checkpointed_and_restored_again)
{
    restore_then_checkpoint_again(case_why, "rst_counter", 0, 1);
}

TEST_CASE(restored_tree_is_checkpointed_and_restored_again)
{
    restore_then_checkpoint_again(case_why, "rst_family", SLS_CAPTURE_RECURSIVE, 3);
}

/* Captures rst_applog, kills it, breaks the restore with `damage`, expects failure naming `want`,
 * and checks nothing was left behind: no seed process, the original PID unused. */
static void failing_restore(char *case_why, void (*damage)(struct run *), const char *want)
{
    struct run r;
    REQUIRE(setup(&r) == 0, "mkdtemp failed");
    char log[256];
    snprintf(log, sizeof(log), "%s/app.log", r.dir);
    REQUIRE(start_prog(&r, "rst_applog", log) > 0, "fork failed");
    pid_t orig = r.pid;
    REQUIRE(wait_lines(r.results, "READY", 1, 10), "rst_applog never became ready");
    REQUIRE(capture(&r, 0) == 0, "sls_capture: %s", r.err);
    kill_original(&r);
    REQUIRE(build_segments(&r) == 0, "cannot read the image");
    int seeds_before = count_seeds();
    damage(&r);
    int rc = restore(&r, 0);
    REQUIRE(rc < 0, "restore succeeded (%d) but should have failed with \"%s\"", rc, want);
    EXPECT(strstr(r.err, want) != NULL, "error \"%s\" does not mention \"%s\"", r.err, want);
    EXPECT(!strchr(r.err, '\n'), "error is more than one line");
    EXPECT(wait_gone(orig, 2), "pid %d is alive after the failed restore", orig);
    /* A concurrent restore elsewhere shows a seed only for milliseconds (it soon runs its target's
     * executable); one of ours would stay. */
    int seeds_after = count_seeds();
    for (int i = 0; i < 100 && seeds_after > seeds_before; i++) {
        sleep_ms(10);
        seeds_after = count_seeds();
    }
    EXPECT(seeds_after <= seeds_before, "a seed process is left after the failed restore");
out:
    teardown(&r);
}

static void remove_page_file(struct run *r)
{
    unlink(r->pages);
}

static void flip_image_byte(struct run *r)
{
    int fd = open(r->image, O_RDWR);
    struct stat st;
    fstat(fd, &st);
    off_t at = st.st_size / 2;
    uint8_t b;
    if (pread(fd, &b, 1, at) == 1) {
        b ^= 0x5a;
        if (pwrite(fd, &b, 1, at) != 1)
            perror("pwrite");
    }
    close(fd);
}

TEST_CASE(missing_page_file_fails_and_leaves_nothing)
{
    failing_restore(case_why, remove_page_file, "cannot open page file");
}

TEST_CASE(corrupt_image_byte_fails_the_checksum_and_leaves_nothing)
{
    failing_restore(case_why, flip_image_byte, "checksum mismatch");
}

/* The file-change policy at restore (restore_files.c check_same_file): a file open for writing may
 * have grown, one open only for reading may not; truncation or replacement always refuses. */
static void truncate_log(struct run *r)
{
    char log[256];
    snprintf(log, sizeof(log), "%s/app.log", r->dir);
    if (truncate(log, 50) != 0)
        perror("truncate");
}

static void replace_log(struct run *r)
{
    char log[256], tmp[300], cmd[1200];
    snprintf(log, sizeof(log), "%s/app.log", r->dir);
    snprintf(tmp, sizeof(tmp), "%s.new", log);
    snprintf(cmd, sizeof(cmd), "cp -p %s %s && mv %s %s", log, tmp, tmp, log);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot replace %s\n", log);
}

TEST_CASE(truncated_written_file_refuses_without_force)
{
    failing_restore(case_why, truncate_log, "it was truncated to 50 bytes");
}

TEST_CASE(replaced_written_file_refuses_without_force)
{
    failing_restore(case_why, replace_log, "it is a different file");
}

/* The original keeps appending after the checkpoint (its lost future) before it is killed: the log
 * grew and is newer, which is no reason to refuse; the restored process writes on from its offset. */
TEST_CASE(written_file_that_grew_after_the_checkpoint_restores_without_force)
{
    struct run r;
    REQUIRE(setup(&r) == 0, "mkdtemp failed");
    char log[256];
    snprintf(log, sizeof(log), "%s/app.log", r.dir);
    REQUIRE(start_prog(&r, "rst_applog", log) > 0, "fork failed");
    REQUIRE(wait_lines(r.results, "READY", 1, 10), "rst_applog never became ready");
    REQUIRE(capture(&r, 0) == 0, "sls_capture: %s", r.err);
    pid_t orig = r.pid;
    kill_original(&r);
    int fd = open(log, O_WRONLY | O_APPEND);
    REQUIRE(fd >= 0, "cannot open the log");
    sleep_ms(10); /* a newer mtime than at the checkpoint */
    for (int i = 100; i < 150; i++) {
        char line[32];
        int n = snprintf(line, sizeof(line), "line %d\n", i);
        REQUIRE(write(fd, line, (size_t)n) == n, "cannot append to the log");
    }
    close(fd);
    REQUIRE(build_segments(&r) == 0, "cannot read the image");
    REQUIRE(restore(&r, 0) == 1, "restore of a log that only grew failed: %s", r.err);
    kill(r.pairs[1], SIGUSR2);
    REQUIRE(wait_lines(r.results, "PASS", 1, 20) || count_lines(r.results, "FAIL"), "no verdict from rst_applog");
    char verdict[256];
    first_line(r.results, "FAIL", verdict, sizeof(verdict));
    EXPECT(!*verdict, "%s", verdict);
    EXPECT(r.pairs[0] == orig, "pair names %d, want %d", r.pairs[0], orig);
out:
    teardown(&r);
}

/* stdin is a regular file the process only reads: any change to it refuses, forced restore works. */
TEST_CASE(read_only_file_that_grew_refuses_and_restores_with_force)
{
    struct run r;
    REQUIRE(setup(&r) == 0, "mkdtemp failed");
    char input[256];
    snprintf(input, sizeof(input), "%s/input", r.dir);
    int in = open(input, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(in >= 0 && write(in, "data\n", 5) == 5, "cannot create the input file");
    close(in);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/tests/prog/rst_counter", build_dir);
    pid_t pid = fork();
    if (pid == 0) {
        int out = open(r.results, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int rd = open(input, O_RDONLY);
        dup2(rd, 0);
        dup2(out, 1);
        dup2(out, 2);
        setpgid(0, 0);
        execl(path, "rst_counter", (char *)NULL);
        _exit(127);
    }
    r.pid = pid;
    REQUIRE(wait_lines(r.results, "READY", 1, 10), "never ready");
    REQUIRE(capture(&r, 0) == 0, "sls_capture: %s", r.err);
    pid_t orig = r.pid;
    kill_original(&r);
    REQUIRE(build_segments(&r) == 0, "cannot read the image");
    in = open(input, O_WRONLY | O_APPEND);
    REQUIRE(in >= 0 && write(in, "more\n", 5) == 5, "cannot grow the input file");
    close(in);
    REQUIRE(restore(&r, 0) < 0, "restore with a grown read-only file succeeded without force");
    EXPECT(strstr(r.err, "fd 0:") && strstr(r.err, "size changed from 5 to 10 bytes (open read-only)"),
           "error \"%s\"", r.err);
    REQUIRE(restore(&r, SLS_RESTORE_FORCE) == 1, "forced restore failed: %s", r.err);
    REQUIRE(r.pairs[1] == orig, "restored as %d, want %d", r.pairs[1], orig);
    kill(orig, SIGUSR2);
    REQUIRE(wait_lines(r.results, "PASS", 1, 20), "no PASS from the forced restore");
    EXPECT(wait_gone(orig, 5), "restored process did not exit");
out:
    teardown(&r);
}

int main(int argc, char **argv)
{
    (void)argc;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return 1;
    self[n] = 0;
    /* self = BUILD/tests/unit/test_rst_restore */
    snprintf(build_dir, sizeof(build_dir), "%s", dirname(dirname(dirname(self))));
    snprintf(seed_path, sizeof(seed_path), "%s/sls-seed", build_dir);
    const char *only = argc > 1 ? argv[1] : NULL;
#define MAYBE(fn) do { if (!only || strstr(#fn, only)) RUN(fn); } while (0)
    MAYBE(counter_continues_and_checksum_stays_right);
    MAYBE(mappings_of_every_kind_come_back);
    MAYBE(signal_handlers_masks_pending_and_process_state_come_back);
    MAYBE(threads_with_contended_mutex_join_after_restore);
    MAYBE(process_in_nanosleep_sleeps_on);
    MAYBE(process_blocked_in_pipe_read_keeps_waiting);
    MAYBE(process_in_poll_keeps_polling);
    MAYBE(fifo_eventfd_epoll_timerfd_signalfd_memfd_and_dir_fds_come_back);
    MAYBE(tcp_unix_and_dual_stack_listeners_socketpair_and_udp_socket_come_back);
    MAYBE(log_appends_continue_at_the_right_offset);
    MAYBE(parent_and_two_children_with_pipes_restore_as_a_tree);
    MAYBE(records_in_any_order_restore_parents_before_children);
    MAYBE(detached_restore_puts_terminal_stdio_on_dev_null);
    MAYBE(unprivileged_process_keeps_its_credentials);
    MAYBE(restoring_twice_while_the_original_runs_gives_independent_copies);
    MAYBE(threaded_process_restored_twice_while_running_gets_new_tids_and_joins);
    MAYBE(restored_process_is_checkpointed_and_restored_again);
    MAYBE(restored_tree_is_checkpointed_and_restored_again);
    MAYBE(missing_page_file_fails_and_leaves_nothing);
    MAYBE(corrupt_image_byte_fails_the_checksum_and_leaves_nothing);
    MAYBE(truncated_written_file_refuses_without_force);
    MAYBE(replaced_written_file_refuses_without_force);
    MAYBE(written_file_that_grew_after_the_checkpoint_restores_without_force);
    MAYBE(read_only_file_that_grew_refuses_and_restores_with_force);
    return TEST_EXIT();
}
