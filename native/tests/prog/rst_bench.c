/*
 * rst_bench — restore latency benchmark (issue 4, "Measure").
 *
 *   rst_bench [DIR]                   run the benchmark; page and image files go to DIR (default /tmp)
 *   rst_bench target MIB THREADS      (internal) the measured program
 *
 * For 1, 64 and 512 MiB of touched anonymous memory and 1 and 8 threads: start the target, capture
 * it with sls_capture, kill -9 it, and time sls_restore from the call to its return — at which
 * point every thread of the restored process is running (detached). Each configuration is restored
 * REPS times (the copy is verified by its own checksum, then killed, before the next restore); the
 * minimum and the median are printed. The same-run baseline is memcpy bandwidth of the same size,
 * into pre-faulted memory and into fresh memory (which pays the page faults a restore also pays).
 *
 * The engine is reached with dlopen (tests/prog binaries are not linked with it): build/libslsnative.so
 * next to build/tests/prog/, seed build/sls-seed.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sls_image.h"
#include "slsnative.h"

#define REPS 5

static volatile sig_atomic_t verify_requested;

static void on_usr2(int sig)
{
    (void)sig;
    verify_requested = 1;
}

static void *idle_thread(void *arg)
{
    (void)arg;

    for (;;)
        pause();
    return NULL;
}

static int target(size_t mib, int threads)
{
    signal(SIGUSR2, on_usr2);
    size_t len = mib << 20;
    uint64_t *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return 2;
    uint64_t sum = 0;
    for (size_t i = 0; i < len / 8; i++) {
        mem[i] = i * 0x9E3779B97F4A7C15ULL;
        sum += mem[i];
    }
    sigset_t usr2; /* SIGUSR2 is for the main thread: the idle threads inherit it blocked */
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &usr2, NULL);
    for (int i = 1; i < threads; i++) {
        pthread_t t;
        pthread_create(&t, NULL, idle_thread, NULL);
    }
    printf("READY\n");
    fflush(stdout);
    sigset_t none;
    sigemptyset(&none);
    while (!verify_requested)
        sigsuspend(&none); /* SIGUSR2 stays blocked between the check and the wait */
    uint64_t again = 0;
    for (size_t i = 0; i < len / 8; i++)
        again += mem[i];
    printf(again == sum ? "PASS rst_bench\n" : "FAIL rst_bench: checksum\n");
    fflush(stdout);
    _exit(again == sum ? 0 : 1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int count_prefix(const char *file, const char *prefix)
{
    FILE *f = fopen(file, "r");
    char line[256];
    int n = 0;
    while (f && fgets(line, sizeof(line), f))
        n += !strncmp(line, prefix, strlen(prefix));
    if (f)
        fclose(f);
    return n;
}

static int wait_prefix(const char *file, const char *prefix, int n, double timeout)
{
    double end = now_s() + timeout;
    while (now_s() < end) {
        if (count_prefix(file, prefix) >= n)
            return 1;
        usleep(2000);
    }
    return 0;
}

static void wait_pid_free(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d", pid);
    for (int i = 0; i < 2000 && access(path, F_OK) == 0; i++)
        usleep(1000);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef int (*capture_fn)(const int32_t *, int32_t, int32_t, const char *, const char *, struct sls_capture_stats *,
                          char *, size_t);
typedef int (*restore_fn)(const char *, const struct sls_page_segment *, int32_t, const char *const *, int32_t, int32_t,
                          const char *, int32_t *, int32_t, char *, size_t);

static struct sls_page_segment *segments_of(const char *image, int *nsegs)
{
    int fd = open(image, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return NULL;
    uint8_t *img = malloc((size_t)st.st_size);
    if (read(fd, img, (size_t)st.st_size) != st.st_size) {
        close(fd);
        free(img);
        return NULL;
    }
    close(fd);
    struct sls_page_segment *segs = NULL;
    int n = 0;
    for (off_t off = 0; off < st.st_size;) {
        struct sls_img_header *h = (void *)(img + off);
        uint32_t e = h->header_len;
        for (uint32_t i = 0; i < h->nentries; i++) {
            struct sls_img_entry *en = (void *)(img + off + e);
            if (en->tag == SLS_TAG_PAGERUN) {
                struct sls_img_pagerun *pr = (void *)(en + 1);
                size_t k = en->len / sizeof(*pr);
                segs = realloc(segs, sizeof(*segs) * (n + k));
                for (size_t j = 0; j < k; j++)
                    segs[n++] = (struct sls_page_segment){ h->pid, 0, pr[j].addr, pr[j].npages * 4096, pr[j].offset };
            }
            e += (uint32_t)sizeof(*en) + SLS_IMG_PAD(en->len);
        }
        off += h->total_len;
    }
    free(img);
    *nsegs = n;
    return segs;
}

static double memcpy_gibs(size_t len, int fresh)
{
    char *src = malloc(len), *dst = malloc(len);
    memset(src, 1, len);
    if (!fresh)
        memset(dst, 2, len);
    double t0 = now_s();
    memcpy(dst, src, len);
    double t = now_s() - t0;
    volatile char sink = dst[len - 1];
    (void)sink;
    free(src);
    free(dst);
    return (double)len / (1 << 30) / t;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "target"))
        return target((size_t)atol(argv[2]), atoi(argv[3]));
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char self[PATH_MAX], build[PATH_MAX], lib[PATH_MAX + 32], seed[PATH_MAX + 32];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (sl <= 0)
        return 2;
    self[sl] = 0;
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", self);
    snprintf(build, sizeof(build), "%s", dirname(dirname(dirname(tmp)))); /* BUILD/tests/prog/rst_bench */
    snprintf(lib, sizeof(lib), "%s/libslsnative.so", build);
    snprintf(seed, sizeof(seed), "%s/sls-seed", build);
    void *h = dlopen(lib, RTLD_NOW);
    if (!h) {
        fprintf(stderr, "rst_bench: %s\n", dlerror());
        return 2;
    }
    capture_fn capture = (capture_fn)dlsym(h, "sls_capture");
    restore_fn restore = (restore_fn)dlsym(h, "sls_restore");
    if (!capture || !restore) {
        fprintf(stderr, "rst_bench: %s lacks sls_capture/sls_restore\n", lib);
        return 2;
    }
    char results[PATH_MAX], pages[PATH_MAX], image[PATH_MAX];
    snprintf(results, sizeof(results), "%s/rst_bench.results", dir);
    snprintf(pages, sizeof(pages), "%s/rst_bench.pages", dir);
    snprintf(image, sizeof(image), "%s/rst_bench.image", dir);
    static const size_t sizes[] = { 1, 64, 512 };
    static const int nthreads[] = { 1, 8 };
    printf("# restore latency: sls_restore call to return (all threads running), %d restores each\n", REPS);
    printf("%-8s %-8s %12s %12s %12s %14s %14s\n", "MiB", "threads", "min_ms", "median_ms", "GiB/s(min)",
           "memcpy_GiB/s", "memcpy_fresh");
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        for (size_t ti = 0; ti < 2; ti++) {
            size_t mib = sizes[si];
            unlink(results);
            pid_t pid = fork();
            if (pid == 0) {
                int fd = open(results, O_WRONLY | O_CREAT | O_APPEND, 0644);
                dup2(fd, 1);
                setpgid(0, 0);
                char m[32], t[32];
                snprintf(m, sizeof(m), "%zu", mib);
                snprintf(t, sizeof(t), "%d", nthreads[ti]);
                execl(self, "rst_bench", "target", m, t, (char *)NULL);
                _exit(127);
            }
            char err[512] = "target never ready";
            struct sls_capture_stats st;
            int32_t p32 = pid;
            if (!wait_prefix(results, "READY", 1, 60) || capture(&p32, 1, 0, pages, image, &st, err, sizeof(err))) {
                fprintf(stderr, "rst_bench: %s\n", err);
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                return 1;
            }
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            int nsegs = 0;
            struct sls_page_segment *segs = segments_of(image, &nsegs);
            const char *files[1] = { pages };
            double ms[REPS];
            for (int rep = 0; rep < REPS; rep++) {
                int32_t pairs[2];
                double t0 = now_s();
                /* FORCE: each verified copy appends its verdict to the results file the image has open. */
                int n = restore(image, segs, nsegs, files, 1, SLS_RESTORE_FORCE, seed, pairs, 1, err, sizeof(err));
                ms[rep] = (now_s() - t0) * 1000;
                if (n != 1) {
                    fprintf(stderr, "rst_bench: restore: %s\n", err);
                    return 1;
                }
                kill(pairs[1], SIGUSR2);
                if (!wait_prefix(results, "PASS", rep + 1, 60)) {
                    fprintf(stderr, "rst_bench: restored copy %d did not verify\n", rep);
                    kill(pairs[1], SIGKILL);
                    return 1;
                }
                kill(pairs[1], SIGKILL);
                wait_pid_free(pairs[1]);
            }
            free(segs);
            qsort(ms, REPS, sizeof(ms[0]), cmp_double);
            size_t len = mib << 20;
            printf("%-8zu %-8d %12.2f %12.2f %12.2f %14.2f %14.2f\n", mib, nthreads[ti], ms[0], ms[REPS / 2],
                   (double)len / (1 << 30) / (ms[0] / 1000), memcpy_gibs(len, 0), memcpy_gibs(len, 1));
            fflush(stdout);
        }
    }
    unlink(results);
    unlink(pages);
    unlink(image);
    return 0;
}
