/*
 * test_apps.c — programs nobody here wrote (and two of the usual server shapes) survive capture,
 * kill -9 and restore, driven at the engine level: start the program, load it, sls_capture, kill -9
 * the original and wait until it is reaped, sls_restore (segments from the image's PAGERUN entries),
 * then check the restored program's state AND behaviour:
 *
 *   redis-server   100 000 keys over RESP; after restore the same port serves them, writes work;
 *                  also with an idle client connection open at capture (it comes back closed, the
 *                  server drops it and keeps serving)
 *   python3        tests/apps/dict_mutator.py: a 1e6-entry dict mutated deterministically; it
 *                  continues from the checkpoint (rewrites its lost future's progress lines with the
 *                  same totals) and its own invariant check passes
 *   app_workers    threads + mutex/condvar queue + eventfd + timerfd + unix listener: keeps
 *                  processing, its self-check passes
 *   app_prefork    parent + 2 workers sharing a TCP listener and a report pipe, captured recursively
 *                  and restored as a tree: both workers serve (with their counts carried over) and
 *                  the parent gets every report
 *
 * A case whose program is not installed prints "SKIP name: why". Timings go to stdout as
 * "[name] ..." lines.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "restore_segments.h"
#include "sls_image.h"
#include "sls_test.h"
#include "slsnative.h"
#include "proc_wait.h"

#define REDIS_SERVER "/usr/bin/redis-server"
#define PYTHON3 "/usr/bin/python3"
#define REDIS_KEYS 100000

static char build_dir[PATH_MAX / 2]; /* .../native/build */
static char seed_path[PATH_MAX];

struct app {
    char dir[64];
    char results[128];   /* the program's stdout and stderr */
    char pages[128];
    char image[128];
    pid_t pid;           /* the original (our child, leader of its own process group) */
    int32_t pairs[16];
    int npairs;
    char err[512];
};

static int app_setup(struct app *a)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->dir, sizeof(a->dir), "/tmp/sls-app-XXXXXX");
    if (!mkdtemp(a->dir))
        return -1;
    snprintf(a->results, sizeof(a->results), "%s/results", a->dir);
    snprintf(a->pages, sizeof(a->pages), "%s/pages", a->dir);
    snprintf(a->image, sizeof(a->image), "%s/image", a->dir);
    return 0;
}

/* Starts argv[0] (a path) with stdin /dev/null, stdout+stderr appended to the results file, in its
 * own process group (so kill -9 reaches a whole tree and no PID stays in use as a group ID). */
static pid_t app_start(struct app *a, char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(a->results, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        close(null);
        setpgid(0, 0);
        execv(argv[0], argv);
        _exit(127);
    }
    a->pid = pid;
    return pid;
}

/* The last line of file starting with prefix (empty if none). */
static void last_line(const char *file, const char *prefix, char *out, size_t len)
{
    FILE *f = fopen(file, "r");
    out[0] = 0;
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, prefix, strlen(prefix)))
            snprintf(out, len, "%.*s", (int)strcspn(line, "\n"), line);
    fclose(f);
}

/* Any process, zombies included, in process group pgid. */
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

/* kill -9 the original's whole group and wait until every member is reaped. */
static int kill_original(struct app *a)
{
    if (a->pid <= 0)
        return 1;
    kill(-a->pid, SIGKILL);
    kill(a->pid, SIGKILL);
    waitpid(a->pid, NULL, 0);
    int gone = 0;
    for (int i = 0; i < 1000 && !(gone = !group_exists(a->pid)); i++)
        sleep_ms(5);
    a->pid = 0;
    return gone;
}

/* Captures pid (and with flags its descendants), logs the stop time and size. */
static int app_capture(struct app *a, const char *name, int32_t flags)
{
    struct sls_capture_stats st = { 0 };
    int32_t pid = a->pid;
    double t0 = now_s();
    int rc = sls_capture(&pid, 1, flags, a->pages, a->image, &st, a->err, sizeof(a->err));
    if (rc == 0)
        printf("[%s] capture: stop %.1f ms, %.1f MiB of pages, %u processes, %u threads, call %.1f ms\n", name,
               st.stop_ns / 1e6, st.page_bytes / 1048576.0, st.nprocs, st.nthreads, (now_s() - t0) * 1e3);
    return rc;
}

/* Restores every record of the image; returns the number of processes or a negative errno. */
static int app_restore(struct app *a, const char *name, int32_t flags)
{
    struct sls_page_segment *segs = NULL;
    int nsegs = sls_segments_from_image(a->image, &segs, a->err, sizeof(a->err));
    if (nsegs < 0)
        return -EINVAL;
    const char *files[1] = { a->pages };
    double t0 = now_s();
    int n = sls_restore(a->image, segs, nsegs, files, 1, flags, seed_path, a->pairs, 8, a->err, sizeof(a->err));
    free(segs);
    a->npairs = n > 0 ? n : 0;
    if (n > 0)
        printf("[%s] restore: %d processes in %.1f ms\n", name, n, (now_s() - t0) * 1e3);
    return n;
}

static pid_t restored_pid(const struct app *a, pid_t orig)
{
    for (int i = 0; i < a->npairs; i++)
        if (a->pairs[2 * i] == orig)
            return a->pairs[2 * i + 1];
    return 0;
}

static void app_teardown(struct app *a)
{
    kill_original(a);
    for (int i = 0; i < a->npairs; i++) {
        pid_t p = a->pairs[2 * i + 1];
        if (p > 0 && alive(p))
            kill(p, SIGKILL);
    }
    for (int i = 0; i < a->npairs; i++)
        for (int k = 0; k < 400 && alive(a->pairs[2 * i + 1]); k++)
            sleep_ms(5);
    fflush(stdout);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", a->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", a->dir);
}

static void print_skip(const char *name, const char *why)
{
    printf("SKIP %s: %s\n", name, why);
    fflush(stdout);
}

/* ---- a minimal RESP client ---------------------------------------------------------------------- */

struct resp {
    int fd;
    char buf[1 << 16];
    size_t len, off;
};

static int tcp_connect(int port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct timeval tv = { 10, 0 };
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(s, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        close(s);
        return -1;
    }
    return s;
}

static int connect_retry(int port, double timeout_s)
{
    double end = now_s() + timeout_s;
    for (;;) {
        int s = tcp_connect(port);
        if (s >= 0 || now_s() > end)
            return s;
        sleep_ms(10);
    }
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int resp_fill(struct resp *r)
{
    if (r->off == r->len)
        r->off = r->len = 0;
    if (r->len == sizeof(r->buf))
        return -1;
    ssize_t n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
    if (n <= 0)
        return -1;
    r->len += (size_t)n;
    return 0;
}

/* One line of a reply (without CRLF) into out. */
static int resp_line(struct resp *r, char *out, size_t outlen)
{
    for (;;) {
        char *crlf = memmem(r->buf + r->off, r->len - r->off, "\r\n", 2);
        if (crlf) {
            size_t n = (size_t)(crlf - (r->buf + r->off));
            snprintf(out, outlen, "%.*s", (int)n, r->buf + r->off);
            r->off += n + 2;
            return 0;
        }
        if (r->off > 0) {
            memmove(r->buf, r->buf + r->off, r->len - r->off);
            r->len -= r->off;
            r->off = 0;
        }
        if (resp_fill(r) < 0)
            return -1;
    }
}

/* Sends one command (argv as bulk strings) and reads its reply: a status/integer/error line as is
 * ("+OK", ":5", "-ERR ..."), a bulk string as its contents ("(nil)" for a null). */
static int resp_cmd(struct resp *r, char *out, size_t outlen, int argc, ...)
{
    char req[1024];
    size_t n = (size_t)snprintf(req, sizeof(req), "*%d\r\n", argc);
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++) {
        const char *arg = va_arg(ap, const char *);
        n += (size_t)snprintf(req + n, sizeof(req) - n, "$%zu\r\n%s\r\n", strlen(arg), arg);
    }
    va_end(ap);
    if (n >= sizeof(req) || write_all(r->fd, req, n) < 0 || resp_line(r, out, outlen) < 0)
        return -1;
    if (out[0] != '$')
        return 0;
    long len = atol(out + 1);
    if (len < 0) {
        snprintf(out, outlen, "(nil)");
        return 0;
    }
    while (r->len - r->off < (size_t)len + 2)
        if (resp_fill(r) < 0)
            return -1;
    snprintf(out, outlen, "%.*s", (int)len, r->buf + r->off);
    r->off += (size_t)len + 2;
    return 0;
}

static void redis_value(int i, char *out, size_t len)
{
    snprintf(out, len, "value:%d:%d", i, (int)((i * 7919L) % 100003));
}

/* SET key:0..count-1 pipelined in batches of 1000: one write, then 1000 "+OK" replies. */
static int redis_load(struct resp *r, int count, char *why, size_t whylen)
{
    static char batch[1000 * 96];
    for (int base = 0; base < count; base += 1000) {
        size_t n = 0;
        int upto = base + 1000 < count ? base + 1000 : count;
        for (int i = base; i < upto; i++) {
            char key[32], val[48];
            int kl = snprintf(key, sizeof(key), "key:%d", i);
            redis_value(i, val, sizeof(val));
            n += (size_t)snprintf(batch + n, sizeof(batch) - n, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%zu\r\n%s\r\n", kl,
                                  key, strlen(val), val);
        }
        if (write_all(r->fd, batch, n) < 0) {
            snprintf(why, whylen, "writing SET batch %d failed: %s", base, strerror(errno));
            return -1;
        }
        for (int i = base; i < upto; i++) {
            char line[128];
            if (resp_line(r, line, sizeof(line)) < 0 || strcmp(line, "+OK")) {
                snprintf(why, whylen, "SET key:%d answered \"%s\"", i, line);
                return -1;
            }
        }
    }
    return 0;
}

/* DBSIZE, 200 sampled GETs, SET+GET of a new key; why[] names the first mismatch. */
static int redis_check(int port, int want_keys, char *why, size_t whylen)
{
    static struct resp r;
    memset(&r, 0, sizeof(r));
    r.fd = connect_retry(port, 5);
    if (r.fd < 0) {
        snprintf(why, whylen, "port %d does not accept connections: %s", port, strerror(errno));
        return -1;
    }
    char out[256], want[64];
    int rc = -1;
    if (resp_cmd(&r, out, sizeof(out), 1, "PING") || strcmp(out, "+PONG")) {
        snprintf(why, whylen, "PING answered \"%s\"", out);
        goto done;
    }
    snprintf(want, sizeof(want), ":%d", want_keys);
    if (resp_cmd(&r, out, sizeof(out), 1, "DBSIZE") || strcmp(out, want)) {
        snprintf(why, whylen, "DBSIZE answered \"%s\", want \"%s\"", out, want);
        goto done;
    }
    for (int k = 0; k < 200; k++) {
        int i = (int)((k * 49999L + 7) % REDIS_KEYS);
        char key[32];
        snprintf(key, sizeof(key), "key:%d", i);
        redis_value(i, want, sizeof(want));
        if (resp_cmd(&r, out, sizeof(out), 2, "GET", key) || strcmp(out, want)) {
            snprintf(why, whylen, "GET %s answered \"%s\", want \"%s\"", key, out, want);
            goto done;
        }
    }
    if (resp_cmd(&r, out, sizeof(out), 3, "SET", "after-restore", "written") || strcmp(out, "+OK") ||
        resp_cmd(&r, out, sizeof(out), 2, "GET", "after-restore") || strcmp(out, "written")) {
        snprintf(why, whylen, "SET/GET of a new key after restore: \"%s\"", out);
        goto done;
    }
    if (resp_cmd(&r, out, sizeof(out), 2, "DEL", "after-restore") || strcmp(out, ":1")) {
        snprintf(why, whylen, "DEL answered \"%s\"", out);
        goto done;
    }
    rc = 0;
done:
    close(r.fd);
    return rc;
}

/* "connected_clients:N" from INFO clients, -1 on error. */
static int redis_connected_clients(int port)
{
    static struct resp r;
    memset(&r, 0, sizeof(r));
    r.fd = connect_retry(port, 5);
    if (r.fd < 0)
        return -1;
    char out[2048];
    int n = -1;
    if (resp_cmd(&r, out, sizeof(out), 2, "INFO", "clients") == 0) {
        char *p = strstr(out, "connected_clients:");
        if (p)
            n = atoi(p + strlen("connected_clients:"));
    }
    close(r.fd);
    return n;
}

static int free_tcp_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sin);
    int port = -1;
    if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) == 0 && getsockname(s, (struct sockaddr *)&sin, &len) == 0)
        port = ntohs(sin.sin_port);
    close(s);
    return port;
}

static void redis_case(char *case_why, const char *name, int idle_client)
{
    struct app a;
    static struct resp loader;
    int idle = -1;
    REQUIRE(app_setup(&a) == 0, "mkdtemp failed");
    int port = free_tcp_port();
    REQUIRE(port > 0, "no free port");
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    char *argv[] = { REDIS_SERVER, "--port", portstr, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                     "--daemonize", "no", "--dir", a.dir, NULL };
    REQUIRE(app_start(&a, argv) > 0, "fork failed");
    pid_t orig = a.pid;
    memset(&loader, 0, sizeof(loader));
    loader.fd = connect_retry(port, 10);
    REQUIRE(loader.fd >= 0, "redis-server never accepted on port %d", port);
    double t0 = now_s();
    char why[512] = "";
    REQUIRE(redis_load(&loader, REDIS_KEYS, why, sizeof(why)) == 0, "loading: %s", why);
    printf("[%s] loaded %d keys in %.0f ms\n", name, REDIS_KEYS, (now_s() - t0) * 1e3);
    close(loader.fd);
    REQUIRE(redis_check(port, REDIS_KEYS, why, sizeof(why)) == 0, "before capture: %s", why);
    if (idle_client) {
        memset(&loader, 0, sizeof(loader));
        loader.fd = idle = connect_retry(port, 5);
        char out[64];
        REQUIRE(idle >= 0 && resp_cmd(&loader, out, sizeof(out), 1, "PING") == 0 && !strcmp(out, "+PONG"),
                "idle client: no PONG");
        /* the server's accepted socket of this client is ESTABLISHED at capture */
        for (int i = 0; i < 100 && redis_connected_clients(port) != 2; i++)
            sleep_ms(10);
    }
    REQUIRE(app_capture(&a, name, 0) == 0, "sls_capture: %s", a.err);
    REQUIRE(kill_original(&a), "the original redis-server %d was not reaped", orig);
    if (idle >= 0) {
        char c;
        EXPECT(read(idle, &c, 1) <= 0, "the idle client did not see its server die");
        close(idle);
        idle = -1;
    }
    double t1 = now_s();
    REQUIRE(app_restore(&a, name, 0) == 1, "sls_restore: %s", a.err);
    pid_t now = restored_pid(&a, orig);
    int first = connect_retry(port, 5);
    printf("[%s] restore command to first accepted connection: %.1f ms\n", name, (now_s() - t1) * 1e3);
    if (first >= 0)
        close(first);
    REQUIRE(now > 0 && alive(now), "restored redis-server (%d) is not running", now);
    REQUIRE(redis_check(port, REDIS_KEYS, why, sizeof(why)) == 0, "after restore: %s", why);
    if (idle_client) {
        /* the restored copy of the idle connection read EOF and was dropped: only our INFO client */
        int clients = -1;
        for (int i = 0; i < 100 && (clients = redis_connected_clients(port)) != 1; i++)
            sleep_ms(10);
        EXPECT(clients == 1, "connected_clients %d after restore, want 1 (the closed connection is dropped)", clients);
    }
    EXPECT(alive(now), "restored redis-server died after serving");
out:
    if (idle >= 0)
        close(idle);
    app_teardown(&a);
}

TEST_CASE(redis_with_100000_keys_serves_them_on_the_same_port_after_restore)
{
    redis_case(case_why, "redis", 0);
}

TEST_CASE(redis_with_an_idle_client_connection_drops_it_and_keeps_serving_after_restore)
{
    redis_case(case_why, "redis-idle-client", 1);
}

/* INFO persistence field (e.g. "rdb_bgsave_in_progress") into out; -1 on error. */
static int redis_info_field(int port, const char *field, char *out, size_t outlen)
{
    static struct resp r;
    memset(&r, 0, sizeof(r));
    r.fd = connect_retry(port, 5);
    if (r.fd < 0)
        return -1;
    static char info[8192];
    int rc = -1;
    if (resp_cmd(&r, info, sizeof(info), 2, "INFO", "persistence") == 0) {
        char *p = strstr(info, field);
        if (p && p[strlen(field)] == ':') {
            p += strlen(field) + 1;
            snprintf(out, outlen, "%.*s", (int)strcspn(p, "\r\n"), p);
            rc = 0;
        }
    }
    close(r.fd);
    return rc;
}

/* A BGSAVE is running in a fork child (slowed down per key) at capture: captured recursively and
 * restored as a tree, the child finishes writing the RDB file and the parent reaps it and records
 * the save as done; the RDB holds every key. */
TEST_CASE(redis_with_a_bgsave_child_in_flight_restored_as_a_tree_finishes_the_save)
{
    struct app a;
    static struct resp loader;
    REQUIRE(app_setup(&a) == 0, "mkdtemp failed");
    int port = free_tcp_port();
    REQUIRE(port > 0, "no free port");
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    char *argv[] = { REDIS_SERVER, "--port", portstr, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                     "--daemonize", "no", "--dir", a.dir, "--rdb-key-save-delay", "10", NULL };
    REQUIRE(app_start(&a, argv) > 0, "fork failed");
    pid_t orig = a.pid;
    memset(&loader, 0, sizeof(loader));
    loader.fd = connect_retry(port, 10);
    REQUIRE(loader.fd >= 0, "redis-server never accepted on port %d", port);
    char why[512] = "", out[128] = "";
    REQUIRE(redis_load(&loader, REDIS_KEYS, why, sizeof(why)) == 0, "loading: %s", why);
    REQUIRE(resp_cmd(&loader, out, sizeof(out), 1, "BGSAVE") == 0 && strstr(out, "Background saving started"),
            "BGSAVE answered \"%s\"", out);
    close(loader.fd);
    sleep_ms(200);
    REQUIRE(redis_info_field(port, "rdb_bgsave_in_progress", out, sizeof(out)) == 0 && !strcmp(out, "1"),
            "no BGSAVE in progress at capture (%s)", out);
    REQUIRE(app_capture(&a, "redis-bgsave", SLS_CAPTURE_RECURSIVE) == 0, "sls_capture: %s", a.err);
    REQUIRE(kill_original(&a), "the original redis tree was not reaped");
    char rdb[160];
    snprintf(rdb, sizeof(rdb), "%s/dump.rdb", a.dir);
    unlink(rdb); /* only the restored child may produce it */
    REQUIRE(app_restore(&a, "redis-bgsave", 0) == 2, "sls_restore of the tree: %s", a.err);
    for (int i = 0; i < a.npairs; i++)
        EXPECT(a.pairs[2 * i] == a.pairs[2 * i + 1], "pid %d restored as %d: the parent would wait for the old pid",
               a.pairs[2 * i], a.pairs[2 * i + 1]);
    double end = now_s() + 20;
    do {
        sleep_ms(50);
        if (redis_info_field(port, "rdb_bgsave_in_progress", out, sizeof(out)) != 0)
            break;
    } while (strcmp(out, "0") && now_s() < end);
    EXPECT(!strcmp(out, "0"), "the BGSAVE never finished after restore (in progress: %s)", out);
    EXPECT(redis_info_field(port, "rdb_last_bgsave_status", out, sizeof(out)) == 0 && !strcmp(out, "ok"),
           "last bgsave status \"%s\"", out);
    EXPECT(redis_info_field(port, "rdb_changes_since_last_save", out, sizeof(out)) == 0 && !strcmp(out, "0"),
           "changes since last save \"%s\", want 0", out);
    struct stat st;
    EXPECT(stat(rdb, &st) == 0 && st.st_size > 1000000, "dump.rdb missing or short after the restored save");
    REQUIRE(redis_check(port, REDIS_KEYS, why, sizeof(why)) == 0, "after restore: %s", why);
    (void)orig;
out:
    app_teardown(&a);
}

/* ---- python3 ------------------------------------------------------------------------------------ */

struct progress {
    long step[4096];
    long long total[4096];
    int n;
};

static void read_progress(const char *file, struct progress *p)
{
    p->n = 0;
    FILE *f = fopen(file, "r");
    while (f && p->n < 4096 && fscanf(f, "step %ld total %lld\n", &p->step[p->n], &p->total[p->n]) == 2)
        p->n++;
    if (f)
        fclose(f);
}

TEST_CASE(python_dict_mutator_continues_from_the_checkpoint_and_its_check_passes)
{
    struct app a;
    REQUIRE(app_setup(&a) == 0, "mkdtemp failed");
    char script[PATH_MAX], progress_file[160];
    snprintf(script, sizeof(script), "%s/../tests/apps/dict_mutator.py", build_dir);
    snprintf(progress_file, sizeof(progress_file), "%s/progress", a.dir);
    char *argv[] = { PYTHON3, script, progress_file, NULL };
    REQUIRE(app_start(&a, argv) > 0, "fork failed");
    pid_t orig = a.pid;
    REQUIRE(wait_lines(a.results, "READY", 1, 60), "python never built its dict");
    static struct progress before, after;
    double end = now_s() + 20;
    do {
        sleep_ms(20);
        read_progress(progress_file, &before);
    } while (before.n < 3 && now_s() < end);
    REQUIRE(before.n >= 3, "no progress lines");
    REQUIRE(app_capture(&a, "python", 0) == 0, "sls_capture: %s", a.err);
    sleep_ms(100); /* the original's lost future: more progress lines after the checkpoint */
    REQUIRE(kill_original(&a), "the original python was not reaped");
    read_progress(progress_file, &before);
    REQUIRE(app_restore(&a, "python", 0) == 1, "sls_restore: %s", a.err);
    pid_t now = restored_pid(&a, orig);
    end = now_s() + 30;
    do {
        sleep_ms(20);
        read_progress(progress_file, &after);
    } while (after.n < before.n + 3 && now_s() < end);
    REQUIRE(after.n >= before.n + 3, "the restored interpreter wrote %d progress lines", after.n - before.n);
    /* It continues from the checkpoint: its first line follows a line written before the kill. */
    long first = after.step[before.n];
    int follows = 0;
    for (int i = 0; i < before.n; i++)
        follows |= before.step[i] == first - 10000;
    EXPECT(follows, "the restored interpreter's first progress is step %ld, not right after a checkpointed step "
           "(last before the kill: %ld)", first, before.step[before.n - 1]);
    /* Deterministic: a step written both by the lost future and by the restored one has one total. */
    for (int i = before.n; i < after.n; i++)
        for (int j = 0; j < before.n; j++)
            if (after.step[i] == before.step[j] && after.total[i] != before.total[j]) {
                EXPECT(0, "step %ld: total %lld after restore, %lld before the kill", after.step[i], after.total[i],
                       before.total[j]);
            }
    kill(now, SIGUSR1);
    REQUIRE(wait_lines(a.results, "PASS dict_mutator", 1, 20) || count_lines(a.results, "FAIL"),
            "no verdict from dict_mutator");
    char verdict[256];
    last_line(a.results, "FAIL", verdict, sizeof(verdict));
    EXPECT(!*verdict, "%s", verdict);
out:
    app_teardown(&a);
}

/* ---- app_workers -------------------------------------------------------------------------------- */

struct worker_status {
    long long enqueued, processed, completions;
    char check[128];
};

static int workers_status(const char *sock_path, struct worker_status *st)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
    struct timeval tv = { 5, 0 };
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char line[256] = "";
    int ok = connect(s, (struct sockaddr *)&sun, sizeof(sun)) == 0 && write(s, "status\n", 7) == 7;
    ssize_t n = ok ? read(s, line, sizeof(line) - 1) : -1;
    close(s);
    if (n <= 0)
        return -1;
    line[n] = 0;
    return sscanf(line, "enqueued=%lld processed=%lld completions=%lld check=%127s", &st->enqueued, &st->processed,
                  &st->completions, st->check) == 4 ? 0 : -1;
}

static int count_threads(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", pid);
    DIR *d = opendir(path);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

TEST_CASE(threaded_worker_server_keeps_processing_after_restore_and_its_check_passes)
{
    struct app a;
    REQUIRE(app_setup(&a) == 0, "mkdtemp failed");
    char prog[PATH_MAX], sock[128];
    snprintf(prog, sizeof(prog), "%s/tests/prog/app_workers", build_dir);
    snprintf(sock, sizeof(sock), "%s/status.sock", a.dir);
    char *argv[] = { prog, sock, NULL };
    REQUIRE(app_start(&a, argv) > 0, "fork failed");
    pid_t orig = a.pid;
    REQUIRE(wait_lines(a.results, "READY", 1, 10), "app_workers never became ready");
    sleep_ms(100);
    struct worker_status before, after1, after2;
    REQUIRE(workers_status(sock, &before) == 0, "no status before capture");
    REQUIRE(!strcmp(before.check, "PASS") && before.processed > 0, "before capture: processed %lld check %s",
            before.processed, before.check);
    REQUIRE(app_capture(&a, "app_workers", 0) == 0, "sls_capture: %s", a.err);
    REQUIRE(kill_original(&a), "the original was not reaped");
    REQUIRE(app_restore(&a, "app_workers", 0) == 1, "sls_restore: %s", a.err);
    pid_t now = restored_pid(&a, orig);
    sleep_ms(100);
    REQUIRE(workers_status(sock, &after1) == 0, "no status after restore");
    sleep_ms(200);
    REQUIRE(workers_status(sock, &after2) == 0, "no second status after restore");
    EXPECT(!strcmp(after1.check, "PASS") && !strcmp(after2.check, "PASS"), "self-check after restore: %s / %s",
           after1.check, after2.check);
    EXPECT(after1.enqueued >= before.enqueued, "enqueued went back from %lld to %lld: not the checkpointed state",
           before.enqueued, after1.enqueued);
    EXPECT(after2.processed > after1.processed && after2.enqueued > after1.enqueued,
           "not processing after restore: processed %lld -> %lld, enqueued %lld -> %lld", after1.processed,
           after2.processed, after1.enqueued, after2.enqueued);
    EXPECT(after2.completions > before.completions, "eventfd completions did not advance (%lld -> %lld)",
           before.completions, after2.completions);
    EXPECT(count_threads(now) == 5, "restored process has %d threads, want 5", count_threads(now));
out:
    app_teardown(&a);
}

/* A unix client connected but silent at capture: the server's main thread is blocked reading its
 * request (2 s timeout). The accepted socket's peer is not restored, so it comes back closed: the
 * read returns EOF at once, the server drops it and keeps processing. */
TEST_CASE(threaded_worker_server_waiting_on_a_silent_unix_client_drops_it_after_restore)
{
    struct app a;
    int silent = -1;
    REQUIRE(app_setup(&a) == 0, "mkdtemp failed");
    char prog[PATH_MAX], sock[128];
    snprintf(prog, sizeof(prog), "%s/tests/prog/app_workers", build_dir);
    snprintf(sock, sizeof(sock), "%s/status.sock", a.dir);
    char *argv[] = { prog, sock, NULL };
    REQUIRE(app_start(&a, argv) > 0, "fork failed");
    REQUIRE(wait_lines(a.results, "READY", 1, 10), "app_workers never became ready");
    silent = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%.100s", sock);
    REQUIRE(connect(silent, (struct sockaddr *)&sun, sizeof(sun)) == 0, "cannot connect the silent client");
    sleep_ms(50); /* accepted, the main thread now waits in read() */
    REQUIRE(app_capture(&a, "app_workers-silent-client", 0) == 0, "sls_capture: %s", a.err);
    REQUIRE(kill_original(&a), "the original was not reaped");
    close(silent);
    silent = -1;
    double t0 = now_s();
    REQUIRE(app_restore(&a, "app_workers-silent-client", 0) == 1, "sls_restore: %s", a.err);
    struct worker_status st1, st2;
    REQUIRE(workers_status(sock, &st1) == 0, "no status from the restored server");
    double answered = now_s() - t0;
    sleep_ms(100);
    REQUIRE(workers_status(sock, &st2) == 0, "no second status");
    EXPECT(answered < 1.5, "first status took %.2f s: the restored server sat out the silent client's timeout",
           answered);
    EXPECT(!strcmp(st2.check, "PASS") && st2.processed > st1.processed, "after restore: processed %lld -> %lld, %s",
           st1.processed, st2.processed, st2.check);
out:
    if (silent >= 0)
        close(silent);
    app_teardown(&a);
}

/* ---- app_prefork -------------------------------------------------------------------------------- */

/* "worker PID n=N" from one request on an already connected socket. */
static int prefork_ask(int s, int *pid, int *n)
{
    if (write(s, "hello\n", 6) != 6)
        return -1;
    char line[64] = "";
    ssize_t r = read(s, line, sizeof(line) - 1);
    return r > 0 && sscanf(line, "worker %d n=%d", pid, n) == 2 ? 0 : -1;
}

TEST_CASE(preforking_server_restored_as_a_tree_serves_from_both_workers_and_parent_gets_reports)
{
    struct app a;
    REQUIRE(app_setup(&a) == 0, "mkdtemp failed");
    char prog[PATH_MAX];
    snprintf(prog, sizeof(prog), "%s/tests/prog/app_prefork", build_dir);
    char *argv[] = { prog, NULL };
    REQUIRE(app_start(&a, argv) > 0, "fork failed");
    pid_t orig = a.pid;
    REQUIRE(wait_lines(a.results, "READY", 1, 10), "app_prefork never became ready");
    char ready[128];
    last_line(a.results, "READY", ready, sizeof(ready));
    int port = atoi(strstr(ready, "port=") + 5);
    for (int i = 0; i < 3; i++) {
        int s = connect_retry(port, 5), pid, n;
        REQUIRE(s >= 0 && prefork_ask(s, &pid, &n) == 0, "request %d before capture failed", i);
        close(s);
    }
    REQUIRE(wait_lines(a.results, "PARENT total=3", 1, 5), "parent did not count 3 reports before capture");
    REQUIRE(app_capture(&a, "app_prefork", SLS_CAPTURE_RECURSIVE) == 0, "sls_capture: %s", a.err);
    REQUIRE(kill_original(&a), "the original tree was not reaped");
    REQUIRE(app_restore(&a, "app_prefork", 0) == 3, "sls_restore of the tree: %s", a.err);
    /* Two connections at once: each worker accepts one and blocks reading it, so both answer. */
    int s1 = connect_retry(port, 5), s2 = connect_retry(port, 5);
    REQUIRE(s1 >= 0 && s2 >= 0, "the restored listener does not accept");
    sleep_ms(50);
    int p1 = 0, n1 = 0, p2 = 0, n2 = 0;
    int ok1 = prefork_ask(s1, &p1, &n1) == 0, ok2 = prefork_ask(s2, &p2, &n2) == 0;
    close(s1);
    close(s2);
    REQUIRE(ok1 && ok2, "a restored worker did not answer");
    int restored_workers = 0;
    for (int i = 0; i < a.npairs; i++)
        restored_workers += a.pairs[2 * i] != orig && (a.pairs[2 * i + 1] == p1 || a.pairs[2 * i + 1] == p2);
    EXPECT(p1 != p2 && restored_workers == 2, "answers came from %d and %d, want the two restored workers", p1, p2);
    /* Each worker's count carried over: 3 requests before, one each now. */
    EXPECT(n1 + n2 == 5, "worker counts after restore %d + %d, want 5 (3 before the checkpoint + 2)", n1, n2);
    for (int i = 0; i < 10; i++) {
        int s = connect_retry(port, 5), pid, n;
        REQUIRE(s >= 0 && prefork_ask(s, &pid, &n) == 0, "request %d after restore failed", i);
        close(s);
    }
    EXPECT(wait_lines(a.results, "PARENT total=15", 1, 5), "the restored parent did not get all 15 reports");
    pid_t parent = restored_pid(&a, orig);
    kill(parent, SIGUSR1);
    EXPECT(wait_lines(a.results, "PASS app_prefork", 1, 5), "no PASS from the restored parent");
out:
    app_teardown(&a);
}

/* ---- connections whose peer stays behind ------------------------------------------------------- */

/* stdin is one end of a socketpair the test keeps, with bytes the process never read: the peer is
 * not captured, so the connection is recorded as closed on restore (its unread bytes go with it)
 * instead of refusing the capture; the restored process reads EOF there and runs on. */
TEST_CASE(unix_connection_with_unread_bytes_to_an_uncaptured_peer_comes_back_closed)
{
    struct app a;
    int sv[2] = { -1, -1 };
    REQUIRE(app_setup(&a) == 0, "mkdtemp failed");
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair failed");
    REQUIRE(write(sv[0], "unread", 6) == 6, "cannot queue bytes");
    char prog[PATH_MAX];
    snprintf(prog, sizeof(prog), "%s/tests/prog/rst_counter", build_dir);
    pid_t pid = fork();
    if (pid == 0) {
        int out = open(a.results, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(sv[1], 0);
        dup2(out, 1);
        dup2(out, 2);
        close(sv[0]);
        close(sv[1]);
        setpgid(0, 0);
        execl(prog, "rst_counter", (char *)NULL);
        _exit(127);
    }
    close(sv[1]);
    sv[1] = -1;
    a.pid = pid;
    REQUIRE(wait_lines(a.results, "READY", 1, 10), "rst_counter never became ready");
    REQUIRE(app_capture(&a, "unread-unix", 0) == 0, "sls_capture: %s", a.err);
    REQUIRE(kill_original(&a), "the original was not reaped");
    REQUIRE(app_restore(&a, "unread-unix", 0) == 1, "sls_restore: %s", a.err);
    pid_t now = a.pairs[1];
    /* a socket cannot be opened through /proc: take a duplicate of the restored fd 0 */
    int pidfd = (int)syscall(SYS_pidfd_open, now, 0);
    int in = pidfd >= 0 ? (int)syscall(SYS_pidfd_getfd, pidfd, 0, 0) : -1;
    char c;
    struct pollfd pfd = { .fd = in, .events = POLLIN };
    EXPECT(in >= 0 && poll(&pfd, 1, 1000) == 1 && recv(in, &c, 1, MSG_DONTWAIT | MSG_PEEK) == 0,
           "the restored stdin does not read EOF");
    if (in >= 0)
        close(in);
    if (pidfd >= 0)
        close(pidfd);
    kill(now, SIGUSR2);
    EXPECT(wait_lines(a.results, "PASS", 1, 20), "no PASS from the restored rst_counter");
out:
    if (sv[0] >= 0)
        close(sv[0]);
    app_teardown(&a);
}

/* Both ends captured (a socketpair inside one process) with unread bytes: still refused, precisely. */
TEST_CASE(unix_socketpair_with_unread_bytes_inside_the_capture_is_still_refused)
{
    struct app a;
    REQUIRE(app_setup(&a) == 0, "mkdtemp failed");
    pid_t pid = fork();
    if (pid == 0) {
        int sv[2];
        setpgid(0, 0);
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || write(sv[0], "unread", 6) != 6 || dup2(sv[0], 3) < 0 ||
            dup2(sv[1], 4) < 0)
            _exit(2);
        execl("/bin/sleep", "sleep", "30", (char *)NULL);
        _exit(127);
    }
    a.pid = pid;
    char path[64], exe[64] = "";
    snprintf(path, sizeof(path), "/proc/%d/exe", pid);
    for (int i = 0; i < 200 && !strstr(exe, "sleep"); i++) {
        ssize_t n = readlink(path, exe, sizeof(exe) - 1);
        exe[n > 0 ? n : 0] = 0;
        sleep_ms(5);
    }
    int rc = app_capture(&a, "unread-socketpair", 0);
    char want[64];
    snprintf(want, sizeof(want), "pid %d fd 4: unix socket socket:[", pid);
    EXPECT(rc == -ENOTSUP, "capture returned %d, want -ENOTSUP (%s)", rc, a.err);
    EXPECT(strstr(a.err, want) && strstr(a.err, "with 6 unread bytes is not supported (its peer is captured too"),
           "error line \"%s\"", a.err);
    EXPECT(alive(pid), "the process did not survive the refused capture");
out:
    app_teardown(&a);
}

/* ---- capture of another user's process ---------------------------------------------------------- */

/* prlimit on another user's process needs CAP_SYS_RESOURCE (root lacks it here): capture reads
 * /proc/PID/limits instead and must record exactly what the process has. */
TEST_CASE(capture_of_another_users_process_records_its_resource_limits)
{
    struct app a;
    REQUIRE(app_setup(&a) == 0, "mkdtemp failed");
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit nofile = { 777, 888 }, core = { 0, RLIM_INFINITY };
        setpgid(0, 0);
        if (setrlimit(RLIMIT_NOFILE, &nofile) || setrlimit(RLIMIT_CORE, &core) || setgid(65534) ||
            setuid(65534))
            _exit(2);
        execl("/bin/sleep", "sleep", "30", (char *)NULL);
        _exit(127);
    }
    a.pid = pid;
    char path[64], exe[64] = "";
    snprintf(path, sizeof(path), "/proc/%d/exe", pid);
    for (int i = 0; i < 200; i++) {
        ssize_t n = readlink(path, exe, sizeof(exe) - 1);
        exe[n > 0 ? n : 0] = 0;
        if (strstr(exe, "sleep"))
            break;
        sleep_ms(5);
    }
    REQUIRE(strstr(exe, "sleep"), "the nobody process never ran sleep");
    REQUIRE(app_capture(&a, "nobody", 0) == 0, "sls_capture of a uid 65534 process: %s", a.err);
    uint8_t *img = NULL;
    long len = sls_read_whole_file(a.image, &img);
    REQUIRE(len > 0, "cannot read the image");
    const struct sls_img_header *h = (const void *)img;
    const struct sls_img_rlimit *rl = NULL;
    for (uint32_t i = 0, e = h->header_len; i < h->nentries && e < h->total_len; i++) {
        const struct sls_img_entry *en = (const void *)(img + e);
        if (en->tag == SLS_TAG_RLIMIT)
            rl = (const void *)(en + 1);
        e += (uint32_t)sizeof(*en) + SLS_IMG_PAD(en->len);
    }
    EXPECT(rl && rl[RLIMIT_NOFILE].cur == 777 && rl[RLIMIT_NOFILE].max == 888, "RLIMIT_NOFILE %llu/%llu, want 777/888",
           rl ? (unsigned long long)rl[RLIMIT_NOFILE].cur : 0ull, rl ? (unsigned long long)rl[RLIMIT_NOFILE].max : 0ull);
    EXPECT(rl && rl[RLIMIT_CORE].cur == 0 && rl[RLIMIT_CORE].max == RLIM_INFINITY, "RLIMIT_CORE not 0/unlimited");
    free(img);
out:
    app_teardown(&a);
}

/* ---- the sls-engine command-line tool ----------------------------------------------------------- */

/* Runs cmd with sh, stdout into out[], stderr into err[]; returns the exit status. */
static int run_tool(const char *cmd, const char *dir, char *out, size_t outlen, char *err, size_t errlen)
{
    char full[PATH_MAX + 300], errfile[256];
    snprintf(errfile, sizeof(errfile), "%s/tool.err", dir);
    snprintf(full, sizeof(full), "%s 2>%s", cmd, errfile);
    FILE *p = popen(full, "r");
    size_t n = p ? fread(out, 1, outlen - 1, p) : 0;
    out[n] = 0;
    int st = p ? pclose(p) : -1;
    FILE *e = fopen(errfile, "r");
    size_t m = e ? fread(err, 1, errlen - 1, e) : 0;
    err[m] = 0;
    if (e)
        fclose(e);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST_CASE(sls_engine_tool_captures_and_restores_a_server_and_fails_in_one_line)
{
    struct app a;
    REQUIRE(app_setup(&a) == 0, "mkdtemp failed");
    char prog[PATH_MAX], sock[128], ckdir[128];
    snprintf(prog, sizeof(prog), "%s/tests/prog/app_workers", build_dir);
    snprintf(sock, sizeof(sock), "%s/status.sock", a.dir);
    snprintf(ckdir, sizeof(ckdir), "%s/ck", a.dir);
    char *argv[] = { prog, sock, NULL };
    REQUIRE(app_start(&a, argv) > 0, "fork failed");
    pid_t orig = a.pid;
    REQUIRE(wait_lines(a.results, "READY", 1, 10), "app_workers never became ready");
    char cmd[PATH_MAX], out[512], err[512];
    snprintf(cmd, sizeof(cmd), "%s/sls-engine capture -o %s %d", build_dir, ckdir, orig);
    int rc = run_tool(cmd, a.dir, out, sizeof(out), err, sizeof(err));
    REQUIRE(rc == 0, "sls-engine capture exited %d: %s", rc, err);
    EXPECT(strstr(out, "stop ") && strstr(out, " ms") && strstr(out, "page bytes ") && strstr(out, "processes 1\n") &&
           strstr(out, "threads 5\n"), "capture output \"%s\"", out);
    REQUIRE(kill_original(&a), "the original was not reaped");
    snprintf(cmd, sizeof(cmd), "%s/sls-engine restore -i %s", build_dir, ckdir);
    rc = run_tool(cmd, a.dir, out, sizeof(out), err, sizeof(err));
    REQUIRE(rc == 0, "sls-engine restore exited %d: %s", rc, err);
    int old = 0, now = 0;
    REQUIRE(sscanf(out, "PID %d -> %d", &old, &now) == 2 && old == orig && now > 0, "restore output \"%s\"", out);
    a.pairs[0] = old;
    a.pairs[1] = now;
    a.npairs = 1;
    struct worker_status st1, st2;
    sleep_ms(50);
    REQUIRE(workers_status(sock, &st1) == 0, "no status from the restored server");
    sleep_ms(100);
    REQUIRE(workers_status(sock, &st2) == 0, "no second status from the restored server");
    EXPECT(st2.processed > st1.processed && !strcmp(st2.check, "PASS"), "restored server: processed %lld -> %lld, %s",
           st1.processed, st2.processed, st2.check);
    /* errors: non-zero exit, one line on stderr naming the problem */
    snprintf(cmd, sizeof(cmd), "%s/sls-engine restore -i %s/nothing-here", build_dir, a.dir);
    rc = run_tool(cmd, a.dir, out, sizeof(out), err, sizeof(err));
    EXPECT(rc == 1 && strstr(err, "cannot read image") && strchr(err, '\n') == err + strlen(err) - 1,
           "restore of a missing directory: exit %d, stderr \"%s\"", rc, err);
    snprintf(cmd, sizeof(cmd), "%s/sls-engine capture -o %s/ck2 12x", build_dir, a.dir);
    rc = run_tool(cmd, a.dir, out, sizeof(out), err, sizeof(err));
    EXPECT(rc == 1 && strstr(err, "not a PID: 12x"), "capture of a bad PID: exit %d, stderr \"%s\"", rc, err);
    snprintf(cmd, sizeof(cmd), "%s/sls-engine capture -o %s/ck3 999999999", build_dir, a.dir);
    rc = run_tool(cmd, a.dir, out, sizeof(out), err, sizeof(err));
    EXPECT(rc == 1 && strstr(err, "pid 999999999: no such process"), "capture of a gone PID: exit %d, stderr \"%s\"",
           rc, err);
out:
    app_teardown(&a);
}

int main(int argc, char **argv)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return 1;
    self[n] = 0;
    /* self = BUILD/tests/unit/test_apps */
    snprintf(build_dir, sizeof(build_dir), "%s", dirname(dirname(dirname(self))));
    snprintf(seed_path, sizeof(seed_path), "%s/sls-seed", build_dir);
    signal(SIGPIPE, SIG_IGN);
    const char *only = argc > 1 ? argv[1] : NULL;
#define MAYBE(fn) do { if (!only || strstr(#fn, only)) RUN(fn); } while (0)
    if (access(REDIS_SERVER, X_OK) == 0) {
        MAYBE(redis_with_100000_keys_serves_them_on_the_same_port_after_restore);
        MAYBE(redis_with_an_idle_client_connection_drops_it_and_keeps_serving_after_restore);
        MAYBE(redis_with_a_bgsave_child_in_flight_restored_as_a_tree_finishes_the_save);
    } else {
        print_skip("redis_with_100000_keys_serves_them_on_the_same_port_after_restore", REDIS_SERVER " is not installed");
        print_skip("redis_with_an_idle_client_connection_drops_it_and_keeps_serving_after_restore",
                   REDIS_SERVER " is not installed");
        print_skip("redis_with_a_bgsave_child_in_flight_restored_as_a_tree_finishes_the_save",
                   REDIS_SERVER " is not installed");
    }
    if (access(PYTHON3, X_OK) == 0)
        MAYBE(python_dict_mutator_continues_from_the_checkpoint_and_its_check_passes);
    else
        print_skip("python_dict_mutator_continues_from_the_checkpoint_and_its_check_passes", PYTHON3 " is not installed");
    MAYBE(threaded_worker_server_keeps_processing_after_restore_and_its_check_passes);
    MAYBE(threaded_worker_server_waiting_on_a_silent_unix_client_drops_it_after_restore);
    MAYBE(preforking_server_restored_as_a_tree_serves_from_both_workers_and_parent_gets_reports);
    MAYBE(unix_connection_with_unread_bytes_to_an_uncaptured_peer_comes_back_closed);
    MAYBE(unix_socketpair_with_unread_bytes_inside_the_capture_is_still_refused);
    MAYBE(capture_of_another_users_process_records_its_resource_limits);
    MAYBE(sls_engine_tool_captures_and_restores_a_server_and_fails_in_one_line);
    return TEST_EXIT();
}
