/*
 * Capture error paths: each fails with one clear line naming the pid (and fd) and leaves nothing
 * stopped or traced; a process the engine refuses keeps running correctly.
 */
#include "sls_test.h"
#include "cap_helpers.h"
#include "slsnative.h"

#include <errno.h>
#include <mqueue.h>
#include <pthread.h>
#include <sys/ptrace.h>
#include <time.h>
#include <sys/syscall.h>

static char page_path[64], image_path[64];

static int capture1(pid_t pid, int flags, char *err, size_t errlen)
{
    int32_t p = pid;
    struct sls_capture_stats st;
    return sls_capture(&p, 1, flags, page_path, image_path, &st, err, errlen);
}

TEST_CASE(vanished_pid_fails_with_no_such_process)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    char err[256] = "";
    int rc = capture1(pid, 0, err, sizeof(err));
    char want[64];
    snprintf(want, sizeof(want), "pid %d", pid);
    EXPECT(rc == -ESRCH, "rc %d, want -ESRCH (%s)", rc, err);
    EXPECT(strstr(err, want) && strstr(err, "no such process"), "error line '%s'", err);
}

TEST_CASE(kernel_thread_pid_fails_clearly)
{
    char err[256] = "";
    int rc = capture1(2, 0, err, sizeof(err)); /* kthreadd */
    EXPECT(rc < 0 && strstr(err, "pid 2 is a kernel thread"), "rc %d '%s'", rc, err);
    EXPECT(free_running(2, err, sizeof(err)), "%s", err);
}

TEST_CASE(own_pid_fails_clearly)
{
    char err[256] = "";
    int rc = capture1(getpid(), 0, err, sizeof(err));
    EXPECT(rc == -EINVAL && strstr(err, "engine's own process"), "rc %d '%s'", rc, err);
}

TEST_CASE(thread_id_instead_of_pid_fails_clearly)
{
    struct prog p;
    REQUIRE(prog_start(&p, "cap_sleepers", NULL) == 0, "cannot start cap_sleepers");
    char err[256] = "", cmd[96];
    pid_t tid = 0;
    FILE *f;
    snprintf(cmd, sizeof(cmd), "ls /proc/%d/task | sort -n | tail -1", p.pid);
    f = popen(cmd, "r");
    if (f && fscanf(f, "%d", &tid) != 1)
        tid = 0;
    if (f)
        pclose(f);
    REQUIRE(tid > 0 && tid != p.pid, "no second thread found");
    int rc = capture1(tid, 0, err, sizeof(err));
    char want[80];
    snprintf(want, sizeof(want), "pid %d is a thread of process %d", tid, p.pid);
    EXPECT(rc == -EINVAL && strstr(err, want), "rc %d '%s'", rc, err);
    EXPECT(free_running(p.pid, err, sizeof(err)), "%s", err);
    char verdict[256];
    prog_finish(&p, verdict, sizeof(verdict));
    EXPECT(strcmp(verdict, "PASS") == 0, "cap_sleepers: %s", verdict);
out:;
}

TEST_CASE(already_traced_process_fails_and_stays_with_its_tracer)
{
    struct prog p;
    REQUIRE(prog_start(&p, "cap_sleepers", NULL) == 0, "cannot start cap_sleepers");
    /* another "debugger": a forked helper seizes it and waits to be told to let go */
    int go[2];
    REQUIRE(pipe(go) == 0, "pipe");
    int ready[2];
    REQUIRE(pipe(ready) == 0, "pipe");
    pid_t dbg = fork();
    if (dbg == 0) {
        int ok = ptrace(PTRACE_SEIZE, p.pid, 0, 0) == 0;
        if (write(ready[1], &ok, sizeof(ok)) != sizeof(ok))
            _exit(1);
        char c;
        if (read(go[0], &c, 1) != 1)
            _exit(1);
        _exit(0); /* exiting detaches */
    }
    int ok = 0;
    REQUIRE(read(ready[0], &ok, sizeof(ok)) == sizeof(ok) && ok, "helper could not seize");
    char err[256] = "", want[80];
    int rc = capture1(p.pid, 0, err, sizeof(err));
    snprintf(want, sizeof(want), "pid %d is already traced by pid %d", p.pid, dbg);
    EXPECT(rc == -EBUSY && strstr(err, want), "rc %d '%s'", rc, err);
    if (write(go[1], "x", 1) != 1)
        EXPECT(0, "cannot release the helper");
    waitpid(dbg, NULL, 0);
    usleep(20000);
    EXPECT(free_running(p.pid, err, sizeof(err)), "%s", err);
    char verdict[256];
    prog_finish(&p, verdict, sizeof(verdict));
    EXPECT(strcmp(verdict, "PASS") == 0, "cap_sleepers: %s", verdict);
out:;
}

TEST_CASE(unprivileged_caller_is_not_permitted_and_target_is_untouched)
{
    struct prog p;
    REQUIRE(prog_start(&p, "cap_sleepers", NULL) == 0, "cannot start cap_sleepers");
    int out[2];
    REQUIRE(pipe(out) == 0, "pipe");
    pid_t helper = fork();
    if (helper == 0) {
        char err[256] = "";
        /* files of its own: the ones of the root test are not writable for nobody */
        snprintf(page_path, sizeof(page_path), "/tmp/test_cap_errors.%d.nobody.pages", getpid());
        snprintf(image_path, sizeof(image_path), "/tmp/test_cap_errors.%d.nobody.img", getpid());
        if (setgid(65534) || setuid(65534))
            snprintf(err, sizeof(err), "setuid failed");
        else
            capture1(p.pid, 0, err, sizeof(err));
        unlink(page_path);
        unlink(image_path);
        if (write(out[1], err, sizeof(err)) != sizeof(err))
            _exit(1);
        _exit(0);
    }
    char err[256] = "";
    if (read(out[0], err, sizeof(err)) != sizeof(err))
        snprintf(err, sizeof(err), "no answer from the helper");
    waitpid(helper, NULL, 0);
    char want[80];
    snprintf(want, sizeof(want), "pid %d: not permitted to trace", p.pid);
    EXPECT(strstr(err, want), "error line '%s'", err);
    EXPECT(free_running(p.pid, err, sizeof(err)), "%s", err);
    char verdict[256];
    prog_finish(&p, verdict, sizeof(verdict));
    EXPECT(strcmp(verdict, "PASS") == 0, "cap_sleepers: %s", verdict);
    close(out[0]);
    close(out[1]);
out:;
}

TEST_CASE(established_tcp_connection_is_refused_naming_the_fd_and_the_process_runs_on)
{
    struct prog p;
    REQUIRE(prog_start(&p, "cap_tcp", NULL) == 0, "cannot start cap_tcp");
    char err[256] = "", want[64];
    int rc = capture1(p.pid, 0, err, sizeof(err));
    snprintf(want, sizeof(want), "pid %d fd %lu: TCP connection 127.0.0.1:", p.pid,
             prog_value(&p, "fd"));
    if (rc == 0) {
        /* say what the engine saw instead, fd by fd */
        struct image im = { 0 };
        char seen[200] = "";
        if (image_load(&im, image_path) == 0 && image_record(&im, p.pid)) {
            const struct sls_img_header *h = image_record(&im, p.pid);
            for (const struct sls_img_entry *e = record_next(h, NULL, SLS_TAG_FD); e;
                 e = record_next(h, e, SLS_TAG_FD)) {
                const struct sls_img_fd *f = ENTRY_PAYLOAD(e);
                const struct sls_img_fd_socket *so = (const void *)((const char *)(f + 1) + f->path_len);
                size_t n = strlen(seen);
                snprintf(seen + n, sizeof(seen) - n, " fd%d:type%u:state%u", f->fd, f->type,
                         f->type == SLS_FD_TCP ? so->state : 0);
            }
        }
        free(im.data);
        EXPECT(0, "capture succeeded; the image shows%s", seen);
    }
    EXPECT(rc == -ENOTSUP, "rc %d, want -ENOTSUP (%s)", rc, err);
    EXPECT(strstr(err, want) && strstr(err, "ESTABLISHED is not supported"), "error line '%s'", err);
    EXPECT(free_running(p.pid, err, sizeof(err)), "%s", err);
    usleep(20000);
    char verdict[256];
    prog_finish(&p, verdict, sizeof(verdict));
    EXPECT(strcmp(verdict, "PASS") == 0, "cap_tcp after the refused capture: %s", verdict);
out:;
}

TEST_CASE(seccomp_filter_is_suspended_so_injected_calls_do_not_kill_the_process)
{
    struct prog p;
    REQUIRE(prog_start(&p, "cap_seccomp", NULL) == 0, "cannot start cap_seccomp");
    char err[256] = "";
    int rc = capture1(p.pid, 0, err, sizeof(err));
    EXPECT(rc == 0, "capture: %s", err);
    struct image im = { 0 };
    if (rc == 0 && image_load(&im, image_path) == 0) {
        /* the filter itself is in the image: mode 2, one filter of 4 instructions naming getitimer */
        const struct sls_img_header *h = image_record(&im, p.pid);
        const struct sls_img_entry *e = h ? record_next(h, NULL, SLS_TAG_SECCOMP) : NULL;
        const struct sls_img_seccomp *sc = e ? ENTRY_PAYLOAD(e) : NULL;
        const struct sls_img_seccomp_filter *f = sc ? (const void *)(sc + 1) : NULL;
        const uint32_t *insn = f ? (const void *)(f + 1) : NULL; /* {u16 code, u8 jt, u8 jf, u32 k} */
        EXPECT(sc && sc->tid == p.pid && sc->mode == 2 && sc->nfilters == 1, "SECCOMP entry");
        EXPECT(f && f->ninsns == 4 && e->len == sizeof(*sc) + sizeof(*f) + 4 * 8, "filter size");
        EXPECT(insn && insn[3] == SYS_getitimer, "second instruction does not test getitimer");
        free(im.data);
    }
    EXPECT(free_running(p.pid, err, sizeof(err)), "%s", err);
    char verdict[256];
    int st = prog_finish(&p, verdict, sizeof(verdict));
    EXPECT(strcmp(verdict, "PASS") == 0, "cap_seccomp: '%s' (status %#x: killed by its filter?)",
           verdict, st);
out:;
}

TEST_CASE(vfork_parent_is_refused_at_once_instead_of_hanging_the_capture)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (vfork() == 0) {
            usleep(1500 * 1000);
            _exit(0);
        }
        _exit(0);
    }
    usleep(100 * 1000); /* in vfork now */
    char err[256] = "", want[80];
    int rc = capture1(pid, 0, err, sizeof(err));
    snprintf(want, sizeof(want), "pid %d thread %d is in uninterruptible sleep", pid, pid);
    EXPECT(rc == -EBUSY && strstr(err, want) && strstr(err, "vfork"), "rc %d '%s'", rc, err);
    char why[256] = "";
    EXPECT(free_running(pid, why, sizeof(why)) || strstr(why, "gone"), "%s", why);
    int st;
    waitpid(pid, &st, 0);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "vfork parent did not finish normally (%#x)", st);
}

TEST_CASE(posix_message_queue_is_refused_naming_the_fd)
{
    char name[64];
    snprintf(name, sizeof(name), "/sls-test-%d", getpid());
    int ready[2];
    REQUIRE(pipe(ready) == 0, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        mqd_t q = mq_open(name, O_CREAT | O_RDWR, 0600, NULL);
        if (write(ready[1], &q, sizeof(q)) != sizeof(q))
            _exit(1);
        pause();
        _exit(0);
    }
    mqd_t q = -1;
    REQUIRE(read(ready[0], &q, sizeof(q)) == sizeof(q) && q >= 0, "child could not open a queue");
    char err[256] = "", want[200];
    int rc = capture1(pid, 0, err, sizeof(err));
    snprintf(want, sizeof(want), "pid %d fd %d: POSIX message queue %s is not supported", pid, (int)q, name);
    EXPECT(rc == -ENOTSUP && strcmp(err, want) == 0, "rc %d '%s'", rc, err);
    EXPECT(free_running(pid, err, sizeof(err)), "%s", err);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    mq_unlink(name);
    close(ready[0]);
    close(ready[1]);
out:;
}

/* A process that keeps creating and joining threads and exits after ~300 ms; captured over and over
 * until it is gone. Every capture either succeeds or fails cleanly; none hangs or crashes. */
static void *short_thread(void *arg)
{
    return arg;
}

TEST_CASE(process_that_churns_threads_and_exits_mid_capture_fails_cleanly)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do {
            pthread_t th;
            pthread_create(&th, NULL, short_thread, NULL);
            pthread_join(th, NULL);
            clock_gettime(CLOCK_MONOTONIC, &t);
        } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 300);
        _exit(0);
    }
    int ok = 0, failed = 0;
    char err[256] = "", bad[256] = "", first[256] = "";
    for (int i = 0; i < 200; i++) {
        int rc = capture1(pid, 0, err, sizeof(err));
        if (rc == 0) {
            ok++;
            continue;
        }
        failed++;
        if (!*first)
            snprintf(first, sizeof(first), "%s", err);
        if (!strstr(err, "exited") && !strstr(err, "no such process") && !strstr(err, "zombie") &&
            !*bad)
            snprintf(bad, sizeof(bad), "%s", err);
        if (rc == -ESRCH)
            break;
    }
    int st;
    waitpid(pid, &st, 0);
    EXPECT(!*bad, "unclear error while it exited: '%s'", bad);
    EXPECT(ok > 0, "no capture succeeded while it ran (first error: '%s')", first);
    EXPECT(failed > 0, "it never exited");
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "it did not exit normally (status %#x)", st);
}

int main(void)
{
    snprintf(page_path, sizeof(page_path), "/tmp/test_cap_errors.%d.pages", getpid());
    snprintf(image_path, sizeof(image_path), "/tmp/test_cap_errors.%d.img", getpid());
    RUN(vanished_pid_fails_with_no_such_process);
    RUN(kernel_thread_pid_fails_clearly);
    RUN(own_pid_fails_clearly);
    RUN(thread_id_instead_of_pid_fails_clearly);
    RUN(already_traced_process_fails_and_stays_with_its_tracer);
    RUN(unprivileged_caller_is_not_permitted_and_target_is_untouched);
    RUN(established_tcp_connection_is_refused_naming_the_fd_and_the_process_runs_on);
    RUN(seccomp_filter_is_suspended_so_injected_calls_do_not_kill_the_process);
    RUN(vfork_parent_is_refused_at_once_instead_of_hanging_the_capture);
    RUN(posix_message_queue_is_refused_naming_the_fd);
    RUN(process_that_churns_threads_and_exits_mid_capture_fails_cleanly);
    unlink(page_path);
    unlink(image_path);
    return TEST_EXIT();
}
