/*
 * SLS_RESTORE_TRACK: a restore re-establishes dirty-page tracking before the restored process runs,
 * so the next SLS_CAPTURE_DELTA of it is a delta relative to the restored epoch (also an older one
 * than the newest), holding exactly the pages it wrote since the restore; composing that delta on the
 * restored epoch's chain equals a complete capture at the same instant, and restoring the new epoch
 * gives the process whose memory is that composition. A tracker that cannot be opened leaves the
 * restore successful, with a note, and the next delta capture complete.
 *
 * The target (tests/prog/trk_target) talks over two FIFOs: the restorer reopens FIFOs by path, so
 * the test keeps talking to the restored process through the same ends it used for the original.
 */
#include "sls_test.h"
#include "sls_image.h"
#include "slsnative.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096ull
#define BIG_PAGES 4096ull /* the target runs with -m 16 */
#define CHAIN 4           /* epochs 0, 1, 2 of the original, then the one after the restore */

static char build_dir[PATH_MAX / 2];
static char seed_path[PATH_MAX];
static char work_dir[64];

struct target {
    pid_t pid; /* the process the test talks to now (the original, then the restored one) */
    int to, from;
    int child; /* the original is our child: reap it */
};

static int start_target(struct target *t, const char *tag)
{
    char in[128], out[128], path[PATH_MAX];
    snprintf(in, sizeof(in), "%s/%s.in", work_dir, tag);
    snprintf(out, sizeof(out), "%s/%s.out", work_dir, tag);
    snprintf(path, sizeof(path), "%s/tests/prog/trk_target", build_dir);
    if (mkfifo(in, 0600) || mkfifo(out, 0600))
        return -1;
    t->pid = fork();
    if (t->pid == 0) {
        int i = open(in, O_RDWR), o = open(out, O_RDWR); /* O_RDWR: never blocks on a FIFO */
        if (i < 0 || o < 0)
            _exit(126);
        dup2(i, 0);
        dup2(o, 1);
        close(i);
        close(o);
        execl(path, "trk_target", "-m", "16", (char *)NULL);
        _exit(127);
    }
    t->child = 1;
    t->to = open(in, O_WRONLY);
    t->from = open(out, O_RDONLY);
    return t->pid > 0 && t->to >= 0 && t->from >= 0 ? 0 : -1;
}

static void kill_target(struct target *t)
{
    if (t->pid <= 0)
        return;
    kill(t->pid, SIGKILL);
    if (t->child)
        waitpid(t->pid, NULL, 0);
    else
        for (int i = 0; i < 500 && kill(t->pid, 0) == 0; i++)
            usleep(2000);
    t->pid = 0;
    t->child = 0;
}

static void close_target(struct target *t)
{
    kill_target(t);
    if (t->to > 0)
        close(t->to);
    if (t->from > 0)
        close(t->from);
    t->to = t->from = -1;
}

/* Sends one command, waits up to 5 s for "ok HEX"; 0 and *val on success, else why is set. */
static int cmd(struct target *t, uint64_t *val, char *why, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    line[n++] = '\n';
    if (write(t->to, line, (size_t)n) != n) {
        snprintf(why, SLS_WHY_LEN, "cannot send a command to the target");
        return -1;
    }
    char reply[256];
    size_t k = 0;
    while (k + 1 < sizeof(reply)) {
        struct pollfd pf = { .fd = t->from, .events = POLLIN };
        if (poll(&pf, 1, 5000) != 1 || read(t->from, reply + k, 1) != 1) {
            snprintf(why, SLS_WHY_LEN, "target %d did not answer '%.*s'", t->pid, n - 1, line);
            return -1;
        }
        if (reply[k] == '\n')
            break;
        k++;
    }
    reply[k] = 0;
    if (strncmp(reply, "ok", 2)) {
        snprintf(why, SLS_WHY_LEN, "target answered '%.*s' with: %.200s", n - 1, line, reply);
        return -1;
    }
    if (val)
        *val = strtoull(reply + 3, NULL, 16);
    return 0;
}

static int wait_stopped(pid_t pid)
{
    for (int i = 0; i < 500; i++) {
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        int fd = open(path, O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
        if (fd >= 0)
            close(fd);
        if (n > 0) {
            buf[n] = 0;
            char *p = strrchr(buf, ')');
            if (p && p[2] == 'T')
                return 0;
        }
        usleep(2000);
    }
    return -1;
}

/* ---- images and their composition (as the core's PageComposer does it) ---------------------- */

struct image {
    uint8_t *data;
    size_t len;
    struct sls_img_vma *vmas[512];
    int nvmas;
    struct sls_img_pagerun *runs;
    size_t nruns;
    int fd; /* its page file */
    char pages[128];
};

static int load_image(struct image *im, const char *image_path, const char *page_path)
{
    memset(im, 0, sizeof(*im));
    snprintf(im->pages, sizeof(im->pages), "%s", page_path);
    im->fd = open(page_path, O_RDONLY);
    FILE *f = fopen(image_path, "r");
    if (!f || im->fd < 0) {
        if (f)
            fclose(f);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    im->len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    im->data = malloc(im->len);
    size_t got = fread(im->data, 1, im->len, f);
    fclose(f);
    if (got != im->len)
        return -1;
    struct sls_img_header *h = (void *)im->data;
    uint32_t e = h->header_len;
    for (uint32_t i = 0; i < h->nentries; i++) {
        struct sls_img_entry *en = (void *)(im->data + e);
        if (en->tag == SLS_TAG_VMA && im->nvmas < 512)
            im->vmas[im->nvmas++] = (void *)(en + 1);
        if (en->tag == SLS_TAG_PAGERUN) {
            im->runs = (void *)(en + 1);
            im->nruns = en->len / sizeof(*im->runs);
        }
        e += (uint32_t)sizeof(*en) + SLS_IMG_PAD(en->len);
    }
    return 0;
}

static void free_image(struct image *im)
{
    if (im->fd >= 0)
        close(im->fd);
    free(im->data);
    memset(im, 0, sizeof(*im));
    im->fd = -1;
}

struct slot {
    uint64_t addr; /* 0: empty */
    int epoch;
    uint64_t offset;
};

#define SLOTS (1u << 18)

static struct slot *slot_of(struct slot *tab, uint64_t addr)
{
    uint64_t h = (addr / PAGE) * 0x9E3779B97F4A7C15ull;
    for (uint32_t i = (uint32_t)(h >> 46);; i = (i + 1) & (SLOTS - 1))
        if (tab[i].addr == addr || tab[i].addr == 0)
            return &tab[i];
}

/* Composes the chain ep[0..n): the newest run of a page wins. */
static struct slot *compose(struct image *const *ep, int n)
{
    struct slot *tab = calloc(SLOTS, sizeof(*tab));
    for (int k = 0; k < n; k++)
        for (size_t r = 0; r < ep[k]->nruns; r++)
            for (uint64_t p = 0; p < ep[k]->runs[r].npages; p++) {
                struct slot *s = slot_of(tab, ep[k]->runs[r].addr + p * PAGE);
                *s = (struct slot){ ep[k]->runs[r].addr + p * PAGE, k, ep[k]->runs[r].offset + p * PAGE };
            }
    return tab;
}

static int comparable(const struct sls_img_vma *v)
{
    if (v->kind == SLS_VMA_VDSO || v->kind == SLS_VMA_VVAR || v->kind == SLS_VMA_VVAR_VCLOCK ||
        v->kind == SLS_VMA_VSYSCALL)
        return 0;
    return !(v->kind == SLS_VMA_FILE && (v->flags & SLS_VMA_SHARED));
}

static const struct sls_img_vma *vma_holding(const struct image *im, uint64_t addr)
{
    for (int i = 0; i < im->nvmas; i++)
        if (addr >= im->vmas[i]->start && addr < im->vmas[i]->end)
            return im->vmas[i];
    return NULL;
}

/* A page's contents as the chain holds it, or as the complete image holds it (full: n == 1). */
static int chain_page(struct slot *tab, struct image *const *ep, uint64_t addr, uint8_t *out)
{
    struct slot *s = slot_of(tab, addr);
    memset(out, 0, PAGE);
    if (s->addr != addr)
        return 0; /* anonymous and held by no epoch: zeros */
    return pread(ep[s->epoch]->fd, out, PAGE, (off_t)s->offset) == (ssize_t)PAGE ? 0 : -1;
}

/*
 * The kernel itself writes each thread's struct rseq (cpu_id_start, cpu_id, mm_cid) whenever the
 * thread returns to user space on another CPU than before - which the capture's own injected calls
 * make it do (the engine pins injected threads to its CPU) after that epoch's pages were taken.
 * A complete capture taken after a delta therefore sees a CPU number the delta's instant never
 * had; restore registers rseq again and the kernel rewrites those fields before the program runs,
 * so they are no part of the state the comparison is about and are left out of it.
 */
static void mask_rseq(const struct image *full, uint64_t page, uint8_t *a, uint8_t *b)
{
    struct sls_img_header *h = (void *)full->data;
    uint32_t e = h->header_len;
    for (uint32_t i = 0; i < h->nentries; i++) {
        struct sls_img_entry *en = (void *)(full->data + e);
        if (en->tag == SLS_TAG_THREAD) {
            const struct sls_img_thread *t = (const void *)(en + 1);
            uint64_t len = t->rseq_len ? t->rseq_len : 32;
            if (t->rseq_addr >= page && t->rseq_addr + len <= page + PAGE) {
                memset(a + (t->rseq_addr - page), 0, len);
                memset(b + (t->rseq_addr - page), 0, len);
            }
        }
        e += (uint32_t)sizeof(*en) + SLS_IMG_PAD(en->len);
    }
}

/* Pages [start, end) composed from the chain equal the complete capture's, page by page (rseq aside). */
static long compare_region(struct image *const *ep, int n, struct image *full, uint64_t start, uint64_t end,
                           char *why)
{
    struct image *one[1] = { full };
    struct slot *a_tab = compose(ep, n), *b_tab = compose(one, 1);
    static uint8_t a[PAGE], b[PAGE];
    long bad = 0;
    for (uint64_t addr = start; addr < end; addr += PAGE) {
        int unread = chain_page(a_tab, ep, addr, a) || chain_page(b_tab, one, addr, b);
        mask_rseq(full, addr, a, b);
        if (unread || memcmp(a, b, PAGE)) {
            if (bad++ == 0)
                snprintf(why, SLS_WHY_LEN, "page %#lx: composed %#lx, complete %#lx", (unsigned long)addr,
                         (unsigned long)*(uint64_t *)a, (unsigned long)*(uint64_t *)b);
        }
    }
    free(a_tab);
    free(b_tab);
    return bad;
}

/* Restores the newest epoch of ep[0..n) (its image at image_path) from the composed chain. */
static int restore_chain(struct image *const *ep, int n, const char *image_path, int flags, int32_t *new_pid,
                         char *note, size_t notelen, char *why)
{
    struct image *newest = ep[n - 1];
    struct slot *tab = compose(ep, n);
    size_t cap = 4096, nsegs = 0;
    struct sls_page_segment *segs = malloc(cap * sizeof(*segs));
    int32_t pid = ((struct sls_img_header *)newest->data)->pid;
    for (int i = 0; i < newest->nvmas; i++) {
        struct sls_img_vma *v = newest->vmas[i];
        if (!comparable(v))
            continue;
        for (uint64_t addr = v->start; addr < v->end; addr += PAGE) {
            struct slot *s = slot_of(tab, addr);
            if (s->addr != addr)
                continue;
            struct sls_page_segment *last = nsegs ? &segs[nsegs - 1] : NULL;
            if (last && last->file == s->epoch && last->addr + last->len == addr &&
                last->offset + last->len == s->offset) {
                last->len += PAGE;
                continue;
            }
            if (nsegs == cap)
                segs = realloc(segs, (cap *= 2) * sizeof(*segs));
            segs[nsegs++] = (struct sls_page_segment){ pid, s->epoch, addr, PAGE, s->offset };
        }
    }
    const char *files[CHAIN];
    for (int k = 0; k < n; k++)
        files[k] = ep[k]->pages;
    int32_t pairs[2] = { 0, 0 };
    note[0] = 0;
    int rc = sls_restore(image_path, segs, (int32_t)nsegs, files, n, flags, seed_path, pairs, 1, note, notelen);
    free(segs);
    free(tab);
    if (rc != 1) {
        snprintf(why, SLS_WHY_LEN, "restore: %d: %s", rc, note);
        return -1;
    }
    *new_pid = pairs[1];
    return 0;
}

static int capture(struct target *t, int flags, const char *name, struct image *im, struct sls_capture_stats *st,
                   char *why)
{
    char img[128], pg[128], err[512] = "";
    snprintf(img, sizeof(img), "%s/%s.img", work_dir, name);
    snprintf(pg, sizeof(pg), "%s/%s.pages", work_dir, name);
    int32_t pid = t->pid;
    if (sls_capture(&pid, 1, flags, pg, img, st, err, sizeof(err)) != 0) {
        snprintf(why, SLS_WHY_LEN, "capture %s: %s", name, err);
        return -1;
    }
    if (load_image(im, img, pg)) {
        snprintf(why, SLS_WHY_LEN, "capture %s: cannot read its image", name);
        return -1;
    }
    return 0;
}

/*
 * Epochs 0, 1, 2 of the original (deltas), kill, restore epoch 1 (older than the newest) with
 * tracking, the restored process writes 3 known pages, delta capture: delta == 1, in the big region
 * exactly those 3 pages, little else; the chain 0, 1, new equals a complete capture; a restore of
 * the new epoch answers with the memory sum of epoch 1 plus the 3 writes.
 */
static void restored_epoch_case(char *case_why, int track_mode, const char *tag, int shadow)
{
    char w[SLS_WHY_LEN] = "", note[512] = "";
    struct target t = { .to = -1, .from = -1 };
    struct image ep[CHAIN], full = { .fd = -1 };
    for (int k = 0; k < CHAIN; k++)
        ep[k] = (struct image){ .fd = -1 };
    uint64_t model[BIG_PAGES], at_epoch1[BIG_PAGES];
    for (uint64_t i = 0; i < BIG_PAGES; i++)
        model[i] = i * 1000 + 1;
    REQUIRE(start_target(&t, tag) == 0, "cannot start trk_target");
    uint64_t big;
    REQUIRE(cmd(&t, &big, w, "big") == 0, "%s", w);
    int dflags = SLS_CAPTURE_DELTA | SLS_CAPTURE_TRACK(track_mode) | (shadow ? SLS_CAPTURE_SHADOW : 0);
    int rflags = SLS_RESTORE_TRACK(track_mode) | (shadow ? SLS_RESTORE_TRACK_SHADOW : 0);
    struct sls_capture_stats st;
    for (int k = 0; k < 3; k++) {
        uint64_t first = 10 + (uint64_t)k * 20;
        REQUIRE(cmd(&t, NULL, w, "write %lx 5", (unsigned long)(big + first * PAGE)) == 0, "%s", w);
        for (int i = 0; i < 5; i++)
            model[first + i]++;
        char name[32];
        snprintf(name, sizeof(name), "%s.%d", tag, k);
        REQUIRE(capture(&t, dflags, name, &ep[k], &st, w) == 0, "%s", w);
        REQUIRE(st.delta == (k > 0), "epoch %d: delta=%u", k, st.delta);
        if (k == 1)
            memcpy(at_epoch1, model, sizeof(model));
    }
    int32_t orig = t.pid;
    sls_forget_tracking(&orig, 1);
    kill_target(&t);

    /* restore epoch 1 (chain 0, 1) with tracking */
    char img1[128];
    snprintf(img1, sizeof(img1), "%s/%s.1.img", work_dir, tag);
    struct image *chain1[2] = { &ep[0], &ep[1] };
    int32_t restored;
    REQUIRE(restore_chain(chain1, 2, img1, rflags, &restored, note, sizeof(note), w) == 0,
            "%s", w);
    t.pid = restored;
    REQUIRE(note[0] == 0, "restored with a note: %s", note);
    int mode = sls_tracking_mode(restored);
    REQUIRE(mode >= 0, "no tracker for restored pid %d (%d)", restored, mode);
    REQUIRE(track_mode == SLS_CAPTURE_TRACK_AUTO || mode == track_mode, "tracked by %d, asked for %d", mode,
            track_mode);

    /* the restored process writes 3 known pages, then stops for the captures */
    const uint64_t wpage = 300;
    REQUIRE(cmd(&t, NULL, w, "write %lx 3", (unsigned long)(big + wpage * PAGE)) == 0, "restored: %s", w);
    memcpy(model, at_epoch1, sizeof(model));
    for (int i = 0; i < 3; i++)
        model[wpage + i]++;
    kill(t.pid, SIGSTOP);
    REQUIRE(wait_stopped(t.pid) == 0, "restored target did not stop");
    char name[32];
    snprintf(name, sizeof(name), "%s.after", tag);
    REQUIRE(capture(&t, dflags, name, &ep[2 + 1], &st, w) == 0, "%s", w);
    struct image *after = &ep[3];
    REQUIRE(st.delta == 1, "the capture after the restore is not a delta (delta=%u)", st.delta);
    uint64_t in_big = 0, outside = 0;
    int exact = 1;
    for (size_t r = 0; r < after->nruns; r++)
        for (uint64_t p = 0; p < after->runs[r].npages; p++) {
            uint64_t a = after->runs[r].addr + p * PAGE;
            if (a >= big && a < big + BIG_PAGES * PAGE) {
                in_big++;
                uint64_t i = (a - big) / PAGE;
                exact &= i >= wpage && i < wpage + 3;
            } else {
                outside++;
            }
        }
    REQUIRE(in_big == 3 && exact, "the delta holds %lu pages of the big region, want exactly pages %lu..%lu",
            (unsigned long)in_big, (unsigned long)wpage, (unsigned long)wpage + 2);
    REQUIRE(outside <= 32, "the delta holds %lu pages besides the 3 written (stack and libc only expected)",
            (unsigned long)outside);
    printf("# %s: delta after restore of epoch 1: 3 written pages + %lu others, %lu bytes\n", tag,
           (unsigned long)outside, (unsigned long)st.page_bytes);

    /* composing 0, 1, after equals a complete capture now */
    snprintf(name, sizeof(name), "%s.full", tag);
    REQUIRE(capture(&t, 0, name, &full, &st, w) == 0, "%s", w);
    struct image *chain2[3] = { &ep[0], &ep[1], after };
    long bad = compare_region(chain2, 3, &full, big, big + BIG_PAGES * PAGE, w);
    REQUIRE(bad == 0, "composed chain 0, 1, after-restore differs from the complete capture: %s (%ld pages)", w,
            bad);
    for (int i = 0; i < full.nvmas; i++) {
        const struct sls_img_vma *v = full.vmas[i];
        if (comparable(v) && v->kind != SLS_VMA_FILE && vma_holding(after, v->start)) {
            bad = compare_region(chain2, 3, &full, v->start, v->end, w);
            REQUIRE(bad == 0, "anonymous VMA %#lx-%#lx: %s (%ld pages)", (unsigned long)v->start,
                    (unsigned long)v->end, w, bad);
        }
    }

    /* the new epoch restores to a process that holds epoch 1 plus the 3 writes, and runs on */
    int32_t gone = t.pid;
    sls_forget_tracking(&gone, 1);
    kill_target(&t);
    char img_after[128];
    snprintf(img_after, sizeof(img_after), "%s/%s.after.img", work_dir, tag);
    REQUIRE(restore_chain(chain2, 3, img_after, 0, &restored, note, sizeof(note), w) == 0, "%s", w);
    t.pid = restored;
    for (uint64_t i = 0; i < BIG_PAGES; i++) {
        uint64_t v = 0;
        struct iovec l = { &v, 8 }, r = { (void *)(uintptr_t)(big + i * PAGE), 8 };
        REQUIRE(process_vm_readv(restored, &l, 1, &r, 1, 0) == 8 && v == model[i],
                "restored after-epoch: big page %lu holds %lu, the program wrote %lu", (unsigned long)i,
                (unsigned long)v, (unsigned long)model[i]);
    }
    kill(restored, SIGCONT); /* it was stopped at capture */
    uint64_t sum = 0, want = 0;
    for (uint64_t i = 0; i < BIG_PAGES; i++)
        want += model[i];
    REQUIRE(cmd(&t, &sum, w, "sum %lx %llx", (unsigned long)big, BIG_PAGES) == 0, "restored after-epoch: %s", w);
    EXPECT(sum == want, "restored after-epoch: its own sum %#lx, want %#lx", (unsigned long)sum,
           (unsigned long)want);
out:
    close_target(&t);
    for (int k = 0; k < CHAIN; k++)
        free_image(&ep[k]);
    free_image(&full);
}

TEST_CASE(delta_after_restore_of_an_older_epoch_holds_only_the_pages_written_since)
{
    restored_epoch_case(case_why, SLS_CAPTURE_TRACK_AUTO, "auto", 0);
}

/* The same on a shadowed chain: the restore opens the synchronous tracker shadowed captures use, so
 * the capture after it is a delta too, not a complete epoch. */
TEST_CASE(shadowed_delta_after_restore_holds_only_the_pages_written_since)
{
    restored_epoch_case(case_why, SLS_CAPTURE_TRACK_UFFD, "shadow", 1);
}

TEST_CASE(delta_after_restore_with_digest_tracking_holds_only_the_pages_written_since)
{
    restored_epoch_case(case_why, SLS_CAPTURE_TRACK_DIGEST, "digest", 0);
}

/* A tracker that cannot be opened (here soft-dirty, which this kernel lacks: no CONFIG_MEM_SOFT_DIRTY)
 * leaves the restore successful: the process runs untracked, the restore's note says so, and its next
 * delta capture is complete. */
TEST_CASE(tracker_that_cannot_be_opened_leaves_the_restore_successful_and_the_next_capture_complete)
{
    char w[SLS_WHY_LEN] = "", note[512] = "", probe[4096] = "", perr[256];
    struct target t = { .to = -1, .from = -1 };
    struct image ep = { .fd = -1 }, after = { .fd = -1 };
    sls_probe(probe, sizeof(probe), perr, sizeof(perr));
    char *avail = strstr(probe, "dirty_tracking_available=");
    if (avail && strstr(avail, "soft-dirty") && strchr(avail, '\n') > strstr(avail, "soft-dirty")) {
        printf("# skipped: this kernel has soft-dirty, so opening it cannot be made to fail this way\n");
        return;
    }
    REQUIRE(start_target(&t, "untracked") == 0, "cannot start trk_target");
    uint64_t big;
    REQUIRE(cmd(&t, &big, w, "big") == 0, "%s", w);
    struct sls_capture_stats st;
    REQUIRE(capture(&t, 0, "untracked.0", &ep, &st, w) == 0, "%s", w);
    kill_target(&t);
    char img[128];
    snprintf(img, sizeof(img), "%s/untracked.0.img", work_dir);
    struct image *chain[1] = { &ep };
    int32_t restored;
    REQUIRE(restore_chain(chain, 1, img, SLS_RESTORE_TRACK(SLS_CAPTURE_TRACK_SOFTDIRTY), &restored, note,
                          sizeof(note), w) == 0, "%s", w);
    t.pid = restored;
    printf("# note: %s\n", note);
    REQUIRE(strstr(note, "untracked") && strstr(note, "soft-dirty"), "no note about the missing tracker: '%s'", note);
    REQUIRE(sls_tracking_mode(restored) == -ENOENT, "pid %d has a tracker after all", restored);
    REQUIRE(cmd(&t, NULL, w, "write %lx 1", (unsigned long)big) == 0, "restored untracked: %s", w);
    REQUIRE(capture(&t, SLS_CAPTURE_DELTA | SLS_CAPTURE_TRACK(SLS_CAPTURE_TRACK_DIGEST), "untracked.1", &after, &st,
                    w) == 0, "%s", w);
    EXPECT(st.delta == 0, "the capture after an untracked restore is a delta");
out:
    if (t.pid > 0) {
        int32_t p = t.pid;
        sls_forget_tracking(&p, 1);
    }
    close_target(&t);
    free_image(&ep);
    free_image(&after);
}

TEST_CASE(tracking_mechanism_without_the_track_flag_is_refused)
{
    char err[256] = "";
    int32_t pairs[2];
    int rc = sls_restore("/nonexistent", NULL, 0, NULL, 0, SLS_CAPTURE_TRACK(SLS_CAPTURE_TRACK_DIGEST), seed_path,
                         pairs, 1, err, sizeof(err));
    EXPECT(rc == -EINVAL && strstr(err, "SLS_RESTORE_TRACK_ON"), "rc %d: %s", rc, err);
    rc = sls_restore("/nonexistent", NULL, 0, NULL, 0,
                     SLS_RESTORE_TRACK(SLS_CAPTURE_TRACK_DIGEST) | SLS_RESTORE_TRACK_SHADOW, seed_path, pairs, 1, err,
                     sizeof(err));
    EXPECT(rc == -EINVAL && strstr(err, "SLS_RESTORE_TRACK_SHADOW needs"), "shadow with digest: rc %d: %s", rc, err);
}

int main(void)
{
    char self[PATH_MAX / 2];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = 0;
    snprintf(build_dir, sizeof(build_dir), "%s", dirname(dirname(dirname(self))));
    snprintf(seed_path, sizeof(seed_path), "%s/sls-seed", build_dir);
    snprintf(work_dir, sizeof(work_dir), "/tmp/sls-rtrack-XXXXXX");
    if (!mkdtemp(work_dir)) {
        printf("FAIL setup: cannot create a work directory\n");
        return 1;
    }
    RUN(delta_after_restore_of_an_older_epoch_holds_only_the_pages_written_since);
    RUN(delta_after_restore_with_digest_tracking_holds_only_the_pages_written_since);
    RUN(shadowed_delta_after_restore_holds_only_the_pages_written_since);
    RUN(tracker_that_cannot_be_opened_leaves_the_restore_successful_and_the_next_capture_complete);
    RUN(tracking_mechanism_without_the_track_flag_is_refused);
    char rm[128];
    snprintf(rm, sizeof(rm), "rm -rf %s", work_dir);
    if (system(rm) != 0)
        printf("# could not remove %s\n", work_dir);
    return TEST_EXIT();
}
