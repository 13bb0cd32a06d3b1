/*
 * bench_capture — stop time and capture throughput of sls_capture (full capture) against the
 * touched memory and thread count of the captured process, next to memcpy bandwidth measured in the
 * same run. Prints a Markdown table.
 *
 *   usage: bench_capture [runs] [page-file-dir]     (default: 10 runs, /dev/shm)
 */
#include "bench_util.h"
#include "slsnative.h"

#include <errno.h>

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 10;
    const char *dir = argc > 2 ? argv[2] : "/dev/shm";
    static const size_t sizes[] = {1, 64, 512};
    static const int threads[] = {1, 8};
    char pages[512], image[512], err[512];
    snprintf(pages, sizeof pages, "%s/bench-capture-%d.pages", dir, getpid());
    snprintf(image, sizeof image, "%s/bench-capture-%d.img", dir, getpid());

    printf("memcpy baseline: %.2f GB/s (256 MiB, best of 5)\n\n", memcpy_gbps());
    printf("| touched | threads | stop time median | stop time p99 | page bytes | capture throughput | vs memcpy |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|\n");
    double base = memcpy_gbps();
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
            pid_t pid = spawn_workload(sizes[s], threads[t]);
            if (pid < 0) {
                fprintf(stderr, "cannot start workload\n");
                return 1;
            }
            uint64_t *stop = calloc((size_t)runs, sizeof *stop);
            uint64_t bytes = 0;
            for (int r = 0; r < runs; r++) {
                struct sls_capture_stats st = {0};
                int32_t p = pid;
                int rc = sls_capture(&p, 1, 0, pages, image, &st, err, sizeof err);
                if (rc < 0) {
                    fprintf(stderr, "capture failed: %s\n", err);
                    kill_workload(pid);
                    return 1;
                }
                stop[r] = st.stop_ns;
                bytes = st.page_bytes;
            }
            unlink(pages);
            unlink(image);
            kill_workload(pid);
            uint64_t med = quantile(stop, (size_t)runs, 0.5);
            uint64_t p99 = quantile(stop, (size_t)runs, 0.99);
            double gbps = (double)bytes / (double)med;
            printf("| %zu MiB | %d | %.2f ms | %.2f ms | %.1f MiB | %.2f GB/s | %.0f%% |\n", sizes[s], threads[t],
                   (double)med / 1e6, (double)p99 / 1e6, (double)bytes / (1 << 20), gbps, 100.0 * gbps / base);
            free(stop);
        }
    }
    return 0;
}
