/*
 * Freezing and thawing: sleepers in nanosleep, futex, select, poll and read see no EINTR and no cut
 * short sleep across many captures; a recursive capture takes the children too; a process in a
 * group stop stays stopped.
 */
#include "sls_test.h"
#include "cap_helpers.h"
#include "freeze.h"
#include "slsnative.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static char page_path[64], image_path[64];

TEST_CASE(sleepers_see_no_eintr_across_twenty_captures)
{
    struct prog p;
    REQUIRE(prog_start(&p, "cap_sleepers", NULL) == 0, "cannot start cap_sleepers");
    usleep(30000);
    int32_t pid = p.pid;
    for (int i = 0; i < 20; i++) {
        struct sls_capture_stats st;
        char err[256] = "";
        int rc = sls_capture(&pid, 1, 0, page_path, image_path, &st, err, sizeof(err));
        EXPECT(rc == 0, "capture %d: %s", i, err);
        EXPECT(rc != 0 || st.nthreads == 6, "capture %d: %u threads, want 6", i, st.nthreads);
        usleep(15000);
    }
    char why[256] = "";
    EXPECT(free_running(p.pid, why, sizeof(why)), "%s", why);
    char verdict[256];
    prog_finish(&p, verdict, sizeof(verdict));
    EXPECT(strcmp(verdict, "PASS") == 0, "cap_sleepers: %s", verdict);
out:;
}

TEST_CASE(recursive_capture_includes_children_and_plain_capture_does_not)
{
    struct prog p;
    REQUIRE(prog_start(&p, "cap_state", "fork") == 0, "cannot start cap_state fork");
    pid_t child = (pid_t)prog_value(&p, "child");
    REQUIRE(child > 0, "no child reported");
    int32_t pid = p.pid;
    struct sls_capture_stats st;
    char err[256] = "";
    int rc = sls_capture(&pid, 1, SLS_CAPTURE_RECURSIVE, page_path, image_path, &st, err, sizeof(err));
    EXPECT(rc == 0, "recursive: %s", err);
    struct image im = { 0 };
    if (rc == 0 && image_load(&im, image_path) == 0) {
        EXPECT(image_nrecords(&im) == 2 && image_record(&im, p.pid) && image_record(&im, child),
               "recursive image has %zu records", image_nrecords(&im));
        const struct sls_img_header *h = image_record(&im, child);
        const struct sls_img_entry *e = h ? record_next(h, NULL, SLS_TAG_PROC) : NULL;
        EXPECT(e && ((const struct sls_img_proc *)ENTRY_PAYLOAD(e))->ppid == p.pid, "child's ppid");
        free(im.data);
    }
    EXPECT(st.nprocs == 2, "stats: %u procs", st.nprocs);
    rc = sls_capture(&pid, 1, 0, page_path, image_path, &st, err, sizeof(err));
    EXPECT(rc == 0 && st.nprocs == 1, "plain capture: %d procs, %s", st.nprocs, err);
    EXPECT(free_running(p.pid, err, sizeof(err)), "%s", err);
    EXPECT(free_running(child, err, sizeof(err)), "%s", err);
    char verdict[256];
    prog_finish(&p, verdict, sizeof(verdict));
    EXPECT(strcmp(verdict, "PASS") == 0, "cap_state: %s", verdict);
out:;
}

static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return '?';
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *rp = strrchr(buf, ')');
    return rp ? rp[2] : '?';
}

TEST_CASE(stopped_process_is_recorded_as_stopped_and_stays_stopped)
{
    struct prog p;
    REQUIRE(prog_start(&p, "cap_sleepers", NULL) == 0, "cannot start cap_sleepers");
    kill(p.pid, SIGSTOP);
    for (int i = 0; i < 200 && proc_state(p.pid) != 'T'; i++)
        usleep(1000);
    int32_t pid = p.pid;
    struct sls_capture_stats st;
    char err[256] = "";
    int rc = sls_capture(&pid, 1, 0, page_path, image_path, &st, err, sizeof(err));
    EXPECT(rc == 0, "capture: %s", err);
    struct image im = { 0 };
    if (rc == 0 && image_load(&im, image_path) == 0) {
        const struct sls_img_header *h = image_record(&im, p.pid);
        const struct sls_img_entry *e = h ? record_next(h, NULL, SLS_TAG_PROC) : NULL;
        EXPECT(e && (((const struct sls_img_proc *)ENTRY_PAYLOAD(e))->flags & SLS_PROC_STOPPED),
               "PROC does not say stopped");
        free(im.data);
    }
    usleep(10000);
    EXPECT(proc_state(p.pid) == 'T', "state %c after capture, want T (still stopped)",
           proc_state(p.pid));
    kill(p.pid, SIGCONT);
    usleep(10000);
    EXPECT(free_running(p.pid, err, sizeof(err)), "after SIGCONT: %s", err);
    char verdict[256];
    prog_finish(&p, verdict, sizeof(verdict));
    /* a sleep that spanned the SIGSTOP period is longer, never shorter: still PASS */
    EXPECT(strcmp(verdict, "PASS") == 0, "cap_sleepers: %s", verdict);
out:;
}

static void *idle_thread(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

/* The real parent P of a three-threaded target T: reports T's pid, waits for it, exits 0 only if T
 * died of SIGKILL. */
static void run_parent_of_target(int report_fd)
{
    pid_t t = fork();
    if (t == 0) {
        pthread_t th[2];
        for (int i = 0; i < 2; i++)
            pthread_create(&th[i], NULL, idle_thread, NULL);
        idle_thread(NULL);
    }
    if (write(report_fd, &t, sizeof(t)) != (ssize_t)sizeof(t))
        _exit(3);
    int st;
    if (waitpid(t, &st, 0) != t)
        _exit(4);
    _exit(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? 0 : 5);
}

/* kill -9 of a process while it is frozen: its threads cannot be detached any more, and unless the
 * engine (its tracer) waits for them, the process stays a traced zombie its real parent never reaps
 * (seen as "process still exists after SIGKILL" with Karaf as the tracer). After the thaw the parent
 * must reap it at once. */
TEST_CASE(a_process_killed_while_frozen_is_reaped_by_its_real_parent_after_the_thaw)
{
    int fds[2];
    REQUIRE(pipe(fds) == 0, "pipe: %s", strerror(errno));
    pid_t parent = fork();
    if (parent == 0) {
        close(fds[0]);
        run_parent_of_target(fds[1]);
    }
    close(fds[1]);
    pid_t target = -1;
    REQUIRE(read(fds[0], &target, sizeof(target)) == (ssize_t)sizeof(target) && target > 0,
            "no target pid from its parent");
    usleep(50000); /* its threads are up */
    struct sls_freeze fz = { 0 };
    char err[256] = "";
    int32_t tp = target;
    REQUIRE(sls_freeze(&fz, &tp, 1, 0, err, sizeof(err)) == 0, "freeze: %s", err);
    EXPECT(fz.nprocs == 1 && fz.procs[0].nthreads == 3, "froze %zu procs, %zu threads; want 1 and 3", fz.nprocs,
           fz.nprocs ? fz.procs[0].nthreads : 0);
    kill(target, SIGKILL);
    usleep(20000);
    EXPECT(sls_thaw(&fz, err, sizeof(err)) == 0, "thaw after the kill: %s", err);
    int st = 0;
    pid_t w = 0;
    for (int ms = 0; ms < 2000 && w == 0; ms++) {
        w = waitpid(parent, &st, WNOHANG);
        if (w == 0)
            usleep(1000);
    }
    if (w == 0) {
        kill(parent, SIGKILL);
        waitpid(parent, &st, 0);
        EXPECT(0, "the real parent still waits for the killed target 2 s after the thaw");
    } else {
        EXPECT(w == parent && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the parent exited with status %#x", st);
    }
    EXPECT(kill(target, 0) != 0 && errno == ESRCH, "pid %d still exists", target);
out:
    close(fds[0]);
}

/* The calling thread's nice value, or -100 if it cannot be read. */
static int own_nice(void)
{
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    return errno ? -100 : nice;
}

/* The engine raises its own priority for the stop only: the caller's nice is back afterwards, after
 * a capture that worked and after one that failed (a pid that does not exist). */
TEST_CASE(capture_leaves_the_calling_threads_nice_value_as_it_found_it)
{
    struct prog p;
    REQUIRE(prog_start(&p, "cap_sleepers", NULL) == 0, "cannot start cap_sleepers");
    usleep(30000);
    id_t self = (id_t)syscall(SYS_gettid);
    REQUIRE(setpriority(PRIO_PROCESS, self, 3) == 0, "setpriority: %s", strerror(errno));
    int32_t pid = p.pid, dead = 0x7ffffff0;
    struct sls_capture_stats st;
    char err[256] = "";
    int rc = sls_capture(&pid, 1, 0, page_path, image_path, &st, err, sizeof(err));
    EXPECT(rc == 0, "capture: %s", err);
    int after = own_nice();
    EXPECT(after == 3, "nice %d after a capture, want 3", after);
    rc = sls_capture(&dead, 1, 0, page_path, image_path, &st, err, sizeof(err));
    EXPECT(rc != 0, "a capture of pid %d worked", dead);
    after = own_nice();
    EXPECT(after == 3, "nice %d after a failed capture, want 3", after);
    setpriority(PRIO_PROCESS, self, 0);
    char verdict[256];
    prog_finish(&p, verdict, sizeof(verdict));
    EXPECT(strcmp(verdict, "PASS") == 0, "cap_sleepers: %s", verdict);
out:;
}

/* The boost pair a caller brackets a capture and its own follow-up work with: raises the thread to
 * the capture's nice, hands back the old value, and a capture inside keeps the raised one. */
TEST_CASE(thread_boost_raises_the_calling_thread_and_unboost_puts_its_nice_back)
{
    struct prog p;
    REQUIRE(prog_start(&p, "cap_sleepers", NULL) == 0, "cannot start cap_sleepers");
    usleep(30000);
    id_t self = (id_t)syscall(SYS_gettid);
    REQUIRE(setpriority(PRIO_PROCESS, self, 2) == 0, "setpriority: %s", strerror(errno));
    int32_t saved = 99;
    int rc = sls_thread_boost(&saved);
    EXPECT(rc == 0 && saved == 2, "boost: rc %d saved %d, want 0 and 2", rc, saved);
    int during = own_nice();
    EXPECT(during > -100 && during < 0, "nice %d while boosted, want below 0", during);
    int32_t pid = p.pid;
    struct sls_capture_stats st;
    char err[256] = "";
    EXPECT(sls_capture(&pid, 1, 0, page_path, image_path, &st, err, sizeof(err)) == 0, "capture: %s", err);
    int inside = own_nice();
    EXPECT(inside == during, "nice %d after a capture inside the boost, want %d", inside, during);
    EXPECT(sls_thread_unboost(saved) == 0, "unboost: %s", strerror(errno));
    int after = own_nice();
    EXPECT(after == 2, "nice %d after unboost, want 2", after);
    EXPECT(sls_thread_boost(NULL) == -EINVAL, "boost(NULL) accepted");
    setpriority(PRIO_PROCESS, self, 0);
    char verdict[256];
    prog_finish(&p, verdict, sizeof(verdict));
    EXPECT(strcmp(verdict, "PASS") == 0, "cap_sleepers: %s", verdict);
out:;
}

int main(void)
{
    snprintf(page_path, sizeof(page_path), "/tmp/test_cap_freeze.%d.pages", getpid());
    snprintf(image_path, sizeof(image_path), "/tmp/test_cap_freeze.%d.img", getpid());
    RUN(sleepers_see_no_eintr_across_twenty_captures);
    RUN(recursive_capture_includes_children_and_plain_capture_does_not);
    RUN(stopped_process_is_recorded_as_stopped_and_stays_stopped);
    RUN(a_process_killed_while_frozen_is_reaped_by_its_real_parent_after_the_thaw);
    RUN(capture_leaves_the_calling_threads_nice_value_as_it_found_it);
    RUN(thread_boost_raises_the_calling_thread_and_unboost_puts_its_nice_back);
    unlink(page_path);
    unlink(image_path);
    return TEST_EXIT();
}
