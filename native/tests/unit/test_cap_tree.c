/*
 * test_cap_tree.c — a recursive delta capture (SLS_CAPTURE_RECURSIVE | SLS_CAPTURE_DELTA, with the
 * engine's pre-copy) is one instant for the whole process tree.
 *
 * tests/prog/cap_pingpong: a parent and its child pass a counter back and forth through two pipes
 * while both keep writing their memory. The tree is captured recursively several times while it
 * runs; epochs 0 (complete), 2 and the last are then restored from the composed delta chain (newest
 * run of each page of each process wins, clipped to that epoch's map of the process) as a second
 * copy of the tree next to the running original. A snapshot of the two processes and the two pipes
 * at one instant goes on passing the counter, and each restored process's own check (counter from
 * the pipe = its own counter + 1, its memory holds its last 1024 counters) passes; two instants
 * would show a message lost or doubled, or a counter ahead of what its memory holds.
 */
#include "proc_wait.h"
#include "sls_image.h"
#include "sls_test.h"
#include "slsnative.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096ull
#define EPOCHS 6

static char build_dir[PATH_MAX / 2];
static char seed_path[PATH_MAX];
static char work_dir[64];

/* ---- composing a chain of multi-process images ---------------------------------------------------- */

struct page_ref {
    int32_t pid;
    int epoch;
    uint64_t addr, offset;
};

struct vma_ref {
    int32_t pid;
    uint64_t start, end;
};

static int by_pid_addr_newest(const void *a, const void *b)
{
    const struct page_ref *x = a, *y = b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    return y->epoch - x->epoch;
}

static uint8_t *read_all(const char *path, long *len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*len > 0 ? (size_t)*len : 1);
    if (b && fread(b, 1, (size_t)*len, f) != (size_t)*len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

/* Appends every page of every PAGERUN of the image (epoch) to refs; with vmas, every VMA too. */
static int scan_image(const char *path, int epoch, struct page_ref **refs, size_t *nrefs, size_t *cap,
                      struct vma_ref **vmas, size_t *nvmas)
{
    long len;
    uint8_t *img = read_all(path, &len);
    if (!img)
        return -1;
    for (long off = 0; off + (long)sizeof(struct sls_img_header) <= len;) {
        struct sls_img_header *h = (void *)(img + off);
        if (h->magic != SLS_IMG_MAGIC || h->total_len == 0)
            break;
        uint32_t e = h->header_len;
        for (uint32_t i = 0; i < h->nentries; i++) {
            struct sls_img_entry *en = (void *)(img + off + e);
            if (en->tag == SLS_TAG_PAGERUN) {
                struct sls_img_pagerun *r = (void *)(en + 1);
                for (size_t k = 0; k < en->len / sizeof(*r); k++)
                    for (uint64_t p = 0; p < r[k].npages; p++) {
                        if (*nrefs == *cap)
                            *refs = realloc(*refs, (*cap = *cap ? *cap * 2 : 4096) * sizeof(**refs));
                        (*refs)[(*nrefs)++] = (struct page_ref){ h->pid, epoch, r[k].addr + p * PAGE,
                                                                 r[k].offset + p * PAGE };
                    }
            }
            if (en->tag == SLS_TAG_VMA && vmas) {
                struct sls_img_vma *v = (void *)(en + 1);
                *vmas = realloc(*vmas, (*nvmas + 1) * sizeof(**vmas));
                (*vmas)[(*nvmas)++] = (struct vma_ref){ h->pid, v->start, v->end };
            }
            e += (uint32_t)sizeof(*en) + SLS_IMG_PAD(en->len);
        }
        off += h->total_len;
    }
    free(img);
    return 0;
}

static int in_vmas(const struct vma_ref *v, size_t n, int32_t pid, uint64_t addr)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].pid == pid && addr >= v[i].start && addr < v[i].end)
            return 1;
    return 0;
}

/* Restores epoch k from the chain 0..k; the (original, restored) pid pairs go to pairs. */
static int restore_epoch(int k, int32_t *pairs, int max, char *why)
{
    struct page_ref *refs = NULL;
    struct vma_ref *vmas = NULL;
    size_t nrefs = 0, cap = 0, nvmas = 0;
    char img[128], names[EPOCHS][128];
    const char *files[EPOCHS];
    for (int e = 0; e <= k; e++) {
        snprintf(img, sizeof(img), "%s/image.%d", work_dir, e);
        snprintf(names[e], sizeof(names[e]), "%s/pages.%d", work_dir, e);
        files[e] = names[e];
        if (scan_image(img, e, &refs, &nrefs, &cap, e == k ? &vmas : NULL, &nvmas) != 0) {
            snprintf(why, SLS_WHY_LEN, "cannot read %s", img);
            return -1;
        }
    }
    qsort(refs, nrefs, sizeof(*refs), by_pid_addr_newest);
    struct sls_page_segment *segs = malloc((nrefs ? nrefs : 1) * sizeof(*segs));
    int nsegs = 0;
    for (size_t i = 0; i < nrefs; i++) {
        if (i > 0 && refs[i].pid == refs[i - 1].pid && refs[i].addr == refs[i - 1].addr)
            continue; /* an older epoch's copy of a page a newer one holds */
        if (!in_vmas(vmas, nvmas, refs[i].pid, refs[i].addr))
            continue; /* unmapped by epoch k */
        struct sls_page_segment *l = nsegs ? &segs[nsegs - 1] : NULL;
        if (l && l->pid == refs[i].pid && l->file == refs[i].epoch && l->addr + l->len == refs[i].addr &&
            l->offset + l->len == refs[i].offset) {
            l->len += PAGE;
            continue;
        }
        segs[nsegs++] = (struct sls_page_segment){ refs[i].pid, refs[i].epoch, refs[i].addr, PAGE, refs[i].offset };
    }
    snprintf(img, sizeof(img), "%s/image.%d", work_dir, k);
    char err[512] = "";
    int rc = sls_restore(img, segs, nsegs, files, k + 1, 0, seed_path, pairs, max, err, sizeof(err));
    free(refs);
    free(vmas);
    free(segs);
    if (rc < 0)
        snprintf(why, SLS_WHY_LEN, "restore of epoch %d: %s", k, err);
    return rc;
}

TEST_CASE(recursive_delta_capture_is_one_instant_for_parent_child_and_pipes)
{
    char out[128], prog[PATH_MAX];
    snprintf(out, sizeof(out), "%s/out", work_dir);
    snprintf(prog, sizeof(prog), "%s/tests/prog/cap_pingpong", build_dir);
    int32_t restored[4 * EPOCHS];
    int nrestored = 0, passes = 0, child = 0;
    pid_t pid = -1;
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    REQUIRE(fd >= 0, "cannot create %s", out);
    pid = fork();
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        dup2(nul, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        setsid();
        execl(prog, "cap_pingpong", (char *)NULL);
        _exit(127);
    }
    close(fd);
    REQUIRE(pid > 0 && wait_lines(out, "READY", 1, 5), "cap_pingpong never became ready");
    FILE *rf = fopen(out, "r");
    if (rf && fscanf(rf, "READY child=%d", &child) != 1)
        child = 0;
    if (rf)
        fclose(rf);
    for (int k = 0; k < EPOCHS; k++) {
        sleep_ms(30);
        char img[128], pg[128], err[512] = "";
        snprintf(img, sizeof(img), "%s/image.%d", work_dir, k);
        snprintf(pg, sizeof(pg), "%s/pages.%d", work_dir, k);
        struct sls_capture_stats st;
        int32_t p = pid;
        REQUIRE(sls_capture(&p, 1, SLS_CAPTURE_RECURSIVE | SLS_CAPTURE_DELTA, pg, img, &st, err, sizeof(err)) == 0,
                "epoch %d: %s", k, err);
        REQUIRE(st.nprocs == 2, "epoch %d: %u processes captured, want the parent and its child", k, st.nprocs);
        REQUIRE(st.delta == (k > 0), "epoch %d: delta=%u", k, st.delta);
        printf("# epoch %d: stop %.3f ms, %lu page bytes\n", k, st.stop_ns / 1e6, (unsigned long)st.page_bytes);
    }
    REQUIRE(count_lines(out, "FAIL") == 0, "the original tree failed its own check while captured");
    const int check[] = { 0, 2, EPOCHS - 1 };
    for (size_t c = 0; c < sizeof(check) / sizeof(check[0]); c++) {
        char w[SLS_WHY_LEN] = "";
        int32_t pairs[8];
        int n = restore_epoch(check[c], pairs, 4, w);
        REQUIRE(n == 2, "%s (%d processes restored)", w, n);
        for (int i = 0; i < n; i++)
            restored[nrestored++] = pairs[2 * i + 1];
        passes += 2;
        int ok = wait_lines(out, "PASS", passes, 10);
        char line[256] = "";
        FILE *f = fopen(out, "r");
        while (f && fgets(line, sizeof(line), f))
            if (!strncmp(line, "FAIL", 4))
                break;
        if (f)
            fclose(f);
        REQUIRE(count_lines(out, "FAIL") == 0, "restored epoch %d: %s", check[c], line);
        if (!ok && getenv("SLS_TEST_DEBUG")) {
            char cmdline[256];
            snprintf(cmdline, sizeof(cmdline), "cat %s >&2; for p in %d %d; do cat /proc/$p/stack /proc/$p/wchan >&2; echo >&2; done",
                     out, pairs[1], n > 1 ? pairs[3] : 0);
            if (system(cmdline) != 0)
                fprintf(stderr, "# cannot show %s\n", out);
        }
        REQUIRE(ok, "restored epoch %d: the tree did not go on passing its counter (%d of %d PASS lines)",
                check[c], count_lines(out, "PASS"), passes);
        for (int i = 0; i < n; i++)
            kill(pairs[2 * i + 1], SIGKILL);
    }
out:
    for (int i = 0; i < nrestored; i++)
        kill(restored[i], SIGKILL);
    if (pid > 0) {
        int32_t p[2] = { pid, child };
        sls_forget_tracking(p, child > 0 ? 2 : 1);
        kill(-pid, SIGKILL); /* its session: the parent and its child */
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

int main(void)
{
    char self[PATH_MAX / 2];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = 0;
    snprintf(build_dir, sizeof(build_dir), "%s", dirname(dirname(dirname(self))));
    snprintf(seed_path, sizeof(seed_path), "%s/sls-seed", build_dir);
    snprintf(work_dir, sizeof(work_dir), "/tmp/sls-tree-XXXXXX");
    if (!mkdtemp(work_dir)) {
        printf("FAIL setup: cannot create a work directory\n");
        return 1;
    }
    RUN(recursive_delta_capture_is_one_instant_for_parent_child_and_pipes);
    char rm[128];
    snprintf(rm, sizeof(rm), "rm -rf %s", work_dir);
    if (system(rm) != 0)
        printf("# could not remove %s\n", work_dir);
    return TEST_EXIT();
}
