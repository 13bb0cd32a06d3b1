/*
 * Freezing and thawing: sleepers in nanosleep, futex, select, poll and read see no EINTR and no cut
 * short sleep across many captures; a recursive capture takes the children too; a process in a
 * group stop stays stopped.
 */
#include "sls_test.h"
#include "cap_helpers.h"
#include "slsnative.h"

#include <errno.h>
#include <signal.h>

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

int main(void)
{
    snprintf(page_path, sizeof(page_path), "/tmp/test_cap_freeze.%d.pages", getpid());
    snprintf(image_path, sizeof(image_path), "/tmp/test_cap_freeze.%d.img", getpid());
    RUN(sleepers_see_no_eintr_across_twenty_captures);
    RUN(recursive_capture_includes_children_and_plain_capture_does_not);
    RUN(stopped_process_is_recorded_as_stopped_and_stays_stopped);
    unlink(page_path);
    unlink(image_path);
    return TEST_EXIT();
}
