/*
 * sls-engine — the engine's public API (slsnative.h) on the command line, for engineers and
 * benchmarks. No Karaf, no SLOS: one capture goes to a directory (DIR/pages, DIR/image) and is
 * restored from there.
 *
 *   sls-engine capture [-r] -o DIR PID...    freeze, capture, thaw; prints stop time, bytes, processes
 *   sls-engine restore [-d] [-f] [-s SEED] -i DIR
 *                                            rebuild every process of DIR/image; prints "PID old -> new"
 *   sls-engine deltas [-r] [-S] [-n N] [-p MS] -o DIR PID...
 *                                            one complete capture, then N delta captures MS apart
 *                                            (default 5, 100) in this one process, which keeps the
 *                                            dirty trackers between them; one line per epoch (stop,
 *                                            whole call, page bytes, dirty pages). DIR/pages and
 *                                            DIR/image hold the last epoch only: this measures, it
 *                                            does not keep a chain (sls:checkpoint does that).
 *   sls-engine probe                         kernel features the engine found
 *
 * -S: shadowed deltas (SLS_CAPTURE_SHADOW); -r: also every descendant; -d: detached (stdio of a terminal -> /dev/null, new session);
 * -f: restore even if an open/mapped file changed; -s: the sls-seed binary (default: next to this tool).
 * Exit status 0 on success; otherwise one line on stderr saying what is wrong and status 1 (2 for usage).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "restore_segments.h"
#include "slsnative.h"

#define MAX_RESTORED_PROCS 4096

static int usage(void)
{
    fprintf(stderr, "usage: sls-engine capture [-r] -o DIR PID... | deltas [-r] [-S] [-n N] [-p MS] -o DIR PID... |\n"
                    "       restore [-d] [-f] [-s SEED] -i DIR | probe\n");
    return 2;
}

static int fail(const char *what, const char *why)
{
    fprintf(stderr, "sls-engine %s: %s\n", what, why);
    return 1;
}

/* epochs < 0: one capture (sls-engine capture); otherwise sls-engine deltas. */
static int cmd_capture(int argc, char **argv, int epochs)
{
    int32_t flags = epochs >= 0 ? SLS_CAPTURE_DELTA : 0;
    const char *dir = NULL;
    int opt;
    long period_ms = 100;
    while ((opt = getopt(argc, argv, epochs >= 0 ? "rSn:p:o:" : "ro:")) != -1) {
        if (opt == 'r')
            flags |= SLS_CAPTURE_RECURSIVE;
        else if (opt == 'S')
            flags |= SLS_CAPTURE_SHADOW;
        else if (opt == 'n' && (epochs = atoi(optarg)) >= 0)
            continue;
        else if (opt == 'p' && (period_ms = atol(optarg)) >= 0)
            continue;
        else if (opt == 'o')
            dir = optarg;
        else
            return usage();
    }
    if (!dir || optind >= argc)
        return usage();
    int npids = argc - optind;
    int32_t *pids = calloc((size_t)npids, sizeof(*pids));
    for (int i = 0; i < npids; i++) {
        char *end;
        long pid = strtol(argv[optind + i], &end, 10);
        if (*end || pid <= 0 || pid > INT32_MAX) {
            char why[160];
            snprintf(why, sizeof(why), "not a PID: %s", argv[optind + i]);
            free(pids);
            return fail("capture", why);
        }
        pids[i] = (int32_t)pid;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        char why[PATH_MAX + 64];
        snprintf(why, sizeof(why), "cannot create %s: %s", dir, strerror(errno));
        free(pids);
        return fail("capture", why);
    }
    char pages[PATH_MAX], image[PATH_MAX], err[1024] = "";
    snprintf(pages, sizeof(pages), "%s/pages", dir);
    snprintf(image, sizeof(image), "%s/image", dir);
    struct sls_capture_stats st = { 0 };
    if (epochs >= 0) {
        int rc = 0;
        for (int k = 0; k <= epochs && rc == 0; k++) {
            if (k)
                usleep((useconds_t)period_ms * 1000);
            rc = sls_capture(pids, npids, flags, pages, image, &st, err, sizeof(err));
            if (rc == 0)
                printf("epoch %d delta %u stop %.3f ms call %.3f ms page bytes %llu dirty pages %llu "
                       "shadowed %u shadow faults %u\n", k, st.delta, st.stop_ns / 1e6, st.total_ns / 1e6,
                       (unsigned long long)st.page_bytes, (unsigned long long)st.dirty_pages, st.shadowed,
                       st.shadow_faults);
            fflush(stdout);
        }
        sls_forget_tracking(pids, npids); /* the processes go on untracked (and unregistered) */
        free(pids);
        return rc < 0 ? fail("deltas", err) : 0;
    }
    int rc = sls_capture(pids, npids, flags, pages, image, &st, err, sizeof(err));
    free(pids);
    if (rc < 0) {
        unlink(pages);
        unlink(image);
        return fail("capture", err);
    }
    struct stat ist = { 0 };
    stat(image, &ist);
    printf("stop %.3f ms\npage bytes %llu\nimage bytes %lld\nprocesses %u\nthreads %u\n", st.stop_ns / 1e6,
           (unsigned long long)st.page_bytes, (long long)ist.st_size, st.nprocs, st.nthreads);
    return 0;
}

/* build/sls-seed next to this tool (the Makefile puts tools and the seed in the same directory). */
static int default_seed(char *out, size_t len)
{
    char self[PATH_MAX - 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = 0;
    snprintf(out, len, "%s/sls-seed", self);
    return 0;
}

static int cmd_restore(int argc, char **argv)
{
    int32_t flags = 0;
    const char *dir = NULL;
    char seed[PATH_MAX] = "";
    int opt;
    while ((opt = getopt(argc, argv, "dfi:s:")) != -1) {
        if (opt == 'd')
            flags |= SLS_RESTORE_DETACHED;
        else if (opt == 'f')
            flags |= SLS_RESTORE_FORCE;
        else if (opt == 'i')
            dir = optarg;
        else if (opt == 's')
            snprintf(seed, sizeof(seed), "%s", optarg);
        else
            return usage();
    }
    if (!dir || optind != argc)
        return usage();
    if (!*seed && default_seed(seed, sizeof(seed)) != 0)
        return fail("restore", "cannot locate sls-seed next to this tool (give -s SEED)");
    char pages[PATH_MAX], image[PATH_MAX], err[1024] = "";
    snprintf(pages, sizeof(pages), "%s/pages", dir);
    snprintf(image, sizeof(image), "%s/image", dir);
    struct sls_page_segment *segs = NULL;
    int nsegs = sls_segments_from_image(image, &segs, err, sizeof(err));
    if (nsegs < 0)
        return fail("restore", err);
    const char *files[1] = { pages };
    static int32_t pairs[2 * MAX_RESTORED_PROCS];
    int n = sls_restore(image, segs, nsegs, files, 1, flags, seed, pairs, MAX_RESTORED_PROCS, err, sizeof(err));
    free(segs);
    if (n < 0)
        return fail("restore", err);
    for (int i = 0; i < n; i++)
        printf("PID %d -> %d\n", pairs[2 * i], pairs[2 * i + 1]);
    return 0;
}

static int cmd_probe(void)
{
    char buf[8192], err[512] = "";
    int n = sls_probe(buf, sizeof(buf), err, sizeof(err));
    if (n < 0)
        return fail("probe", err);
    printf("version %s (abi %d)\n%s", sls_version(), sls_abi_version(), buf);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *cmd = argv[1];
    optind = 2;
    if (!strcmp(cmd, "capture"))
        return cmd_capture(argc, argv, -1);
    if (!strcmp(cmd, "deltas"))
        return cmd_capture(argc, argv, 5);
    if (!strcmp(cmd, "restore"))
        return cmd_restore(argc, argv);
    if (!strcmp(cmd, "probe") && argc == 2)
        return cmd_probe();
    return usage();
}
