/*
 * restore_image.c — reads an image file (records as sls_capture wrote them, sls_image.h) into the
 * restorer's index. The image is read whole into memory; the index points into it. Every record's
 * CRC32C is checked before anything of it is used, and every length is bounds-checked, so a corrupt
 * image fails here with a line naming the record and what is wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "restore.h"

/* CRC32C (Castagnoli, reflected, init ~0, final ~0): SSE4.2 instruction where present. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t n)
{
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        crc = (uint32_t)__builtin_ia32_crc32di(crc, v);
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = __builtin_ia32_crc32qi(crc, *p++);
    return crc;
}

static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t n)
{
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return crc;
}

uint32_t rst_crc32c(const void *data, size_t len)
{
    uint32_t crc = ~0u;
    if (__builtin_cpu_supports("sse4.2"))
        crc = crc32c_hw(crc, data, len);
    else
        crc = crc32c_sw(crc, data, len);
    return ~crc;
}

static int read_whole(struct rst_ctx *c, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rst_fail(c, errno, "cannot open image %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return rst_fail(c, e, "cannot stat image %s: %s", path, strerror(e));
    }
    c->image_len = (size_t)st.st_size;
    c->image = malloc(c->image_len ? c->image_len : 1);
    if (!c->image) {
        close(fd);
        return rst_fail(c, ENOMEM, "out of memory reading image %s (%zu bytes)", path, c->image_len);
    }
    size_t got = 0;
    while (got < c->image_len) {
        ssize_t n = read(fd, c->image + got, c->image_len - got);
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            close(fd);
            return rst_fail(c, e, "cannot read image %s: %s", path, n < 0 ? strerror(e) : "short file");
        }
        got += (size_t)n;
    }
    close(fd);
    return 0;
}

#define GROW(arr, n)                                                                               \
    do {                                                                                           \
        void *g_ = realloc((arr), sizeof(*(arr)) * (size_t)((n) + 1));                             \
        if (!g_)                                                                                   \
            return rst_fail(c, ENOMEM, "out of memory indexing image");                            \
        (arr) = g_;                                                                                \
    } while (0)

/* Indexes one record whose CRC and header are already checked. */
static int index_record(struct rst_ctx *c, struct rst_proc *p, const uint8_t *rec, uint32_t total)
{
    const struct sls_img_header *h = (const void *)rec;
    uint32_t off = h->header_len;
    memset(p, 0, sizeof(*p));
    p->hdr = h;
    p->parent = -1;
    p->mem_fd = -1;
    p->engine_pidfd_in_target = -1;
    for (uint32_t i = 0; i < h->nentries; i++) {
        if (off + sizeof(struct sls_img_entry) > total)
            return rst_fail(c, EINVAL, "image record of pid %d: entry %u runs past the record", h->pid, i);
        const struct sls_img_entry *e = (const void *)(rec + off);
        const uint8_t *pl = rec + off + sizeof(*e);
        if ((uint64_t)off + sizeof(*e) + e->len > total)
            return rst_fail(c, EINVAL, "image record of pid %d: entry %u (tag %u) length %u runs past the record",
                            h->pid, i, e->tag, e->len);
        uint32_t len = e->len;
#define NEED(sz, what)                                                                             \
    do {                                                                                           \
        if ((uint64_t)(sz) > len)                                                                  \
            return rst_fail(c, EINVAL, "image record of pid %d: %s entry too short (%u bytes)",      \
                            h->pid, what, len);                                                    \
    } while (0)
        switch (e->tag) {
        case SLS_TAG_PROC: {
            NEED(sizeof(struct sls_img_proc), "PROC");
            const struct sls_img_proc *pr = (const void *)pl;
            uint64_t var = (uint64_t)pr->ngroups * 4 + pr->exe_len + pr->cwd_len + pr->root_len + pr->auxv_len;
            NEED(sizeof(*pr) + var, "PROC");
            p->proc = pr;
            const uint8_t *q = pl + sizeof(*pr);
            p->groups = (const void *)q;
            q += pr->ngroups * 4;
            p->exe = (const char *)q;
            q += pr->exe_len;
            p->cwd = (const char *)q;
            q += pr->cwd_len;
            p->root = (const char *)q;
            q += pr->root_len;
            p->auxv = (const void *)q; /* may be unaligned: only copied byte-wise */
            break;
        }
        case SLS_TAG_THREAD: {
            NEED(sizeof(struct sls_img_thread), "THREAD");
            const struct sls_img_thread *t = (const void *)pl;
            NEED(sizeof(*t) + (uint64_t)t->xsave_len, "THREAD");
            GROW(p->threads, p->nthreads);
            p->threads[p->nthreads++] = (struct rst_thread){ .t = t, .xsave = pl + sizeof(*t) };
            break;
        }
        case SLS_TAG_SIGACT:
            NEED(sizeof(struct sls_img_sigact) * SLS_NSIG, "SIGACT");
            p->sigact = (const void *)pl;
            break;
        case SLS_TAG_RLIMIT:
            NEED(sizeof(struct sls_img_rlimit) * SLS_NRLIMIT, "RLIMIT");
            p->rlimit = (const void *)pl;
            break;
        case SLS_TAG_ITIMER:
            NEED(sizeof(struct sls_img_itimer) * 3, "ITIMER");
            p->itimer = (const void *)pl;
            break;
        case SLS_TAG_PENDING: {
            NEED(sizeof(struct sls_img_pending), "PENDING");
            const struct sls_img_pending *pe = (const void *)pl;
            NEED(sizeof(*pe) + (uint64_t)pe->count * 128, "PENDING");
            GROW(p->pending, p->npending);
            p->pending[p->npending++] = (struct rst_pending){ .p = pe, .siginfo = pl + sizeof(*pe) };
            break;
        }
        case SLS_TAG_VMA: {
            NEED(sizeof(struct sls_img_vma), "VMA");
            const struct sls_img_vma *v = (const void *)pl;
            NEED(sizeof(*v) + (uint64_t)v->path_len, "VMA");
            if (v->start >= v->end || (v->start | v->end) & 4095 ||
                (p->nvmas && p->vmas[p->nvmas - 1].v->end > v->start))
                return rst_fail(c, EINVAL, "image record of pid %d: bad or unordered VMA range %#llx-%#llx", h->pid,
                                (unsigned long long)v->start, (unsigned long long)v->end);
            GROW(p->vmas, p->nvmas);
            p->vmas[p->nvmas++] = (struct rst_vma){ .v = v, .path = (const char *)(pl + sizeof(*v)) };
            break;
        }
        case SLS_TAG_FD: {
            NEED(sizeof(struct sls_img_fd), "FD");
            const struct sls_img_fd *f = (const void *)pl;
            NEED(sizeof(*f) + (uint64_t)f->path_len + f->extra_len, "FD");
            GROW(p->fds, p->nfds);
            p->fds[p->nfds++] = (struct rst_fd){ .f = f, .path = (const char *)(pl + sizeof(*f)),
                                                .extra = pl + sizeof(*f) + f->path_len };
            break;
        }
        default: /* PAGERUN (contents come from the caller's segments) and unknown tags */
            break;
        }
#undef NEED
        off += (uint32_t)sizeof(*e) + SLS_IMG_PAD(e->len);
    }
    if (!p->proc)
        return rst_fail(c, EINVAL, "image record of pid %d has no PROC entry", h->pid);
    if (p->proc->pid != h->pid)
        return rst_fail(c, EINVAL, "image record of pid %d: PROC says pid %d", h->pid, p->proc->pid);
    if (p->nthreads == 0 || p->threads[0].t->tid != h->pid)
        return rst_fail(c, EINVAL, "image record of pid %d: the main thread is not its first THREAD", h->pid);
    if (p->nvmas == 0)
        return rst_fail(c, EINVAL, "image record of pid %d has no VMA entries", h->pid);
    return 0;
}

int rst_find_proc(const struct rst_ctx *c, pid_t old_pid)
{
    for (int i = 0; i < c->nprocs; i++)
        if (c->procs[i].proc->pid == old_pid)
            return i;
    return -1;
}

int rst_parse_image(struct rst_ctx *c, const char *image_path)
{
    int r = read_whole(c, image_path);
    if (r)
        return r;
    size_t off = 0;
    while (off < c->image_len) {
        const uint8_t *rec = c->image + off;
        struct sls_img_header h;
        if (c->image_len - off < sizeof(h))
            return rst_fail(c, EINVAL, "image %s: truncated record header at offset %zu", image_path, off);
        memcpy(&h, rec, sizeof(h));
        if (h.magic != SLS_IMG_MAGIC)
            return rst_fail(c, EINVAL, "image %s: bad magic %#x at offset %zu", image_path, h.magic, off);
        if (h.version != SLS_IMG_VERSION)
            return rst_fail(c, EINVAL, "image %s: record version %u, this engine reads %u", image_path,
                            h.version, SLS_IMG_VERSION);
        if (h.header_len < sizeof(h) || h.total_len < h.header_len || h.total_len % SLS_IMG_ALIGN ||
            h.total_len > c->image_len - off)
            return rst_fail(c, EINVAL, "image %s: record at offset %zu has bad lengths (header %u, total %u)",
                            image_path, off, h.header_len, h.total_len);
        uint32_t crc = rst_crc32c(rec + h.header_len, h.total_len - h.header_len);
        if (crc != h.crc32c)
            return rst_fail(c, EINVAL, "image %s: checksum mismatch in the record of pid %d (stored %08x, computed %08x)",
                            image_path, h.pid, h.crc32c, crc);
        if (((uintptr_t)rec) % SLS_IMG_ALIGN)
            return rst_fail(c, EINVAL, "image %s: record at offset %zu is not 8-byte aligned", image_path, off);
        GROW(c->procs, c->nprocs);
        c->nprocs++;
        r = index_record(c, &c->procs[c->nprocs - 1], rec, h.total_len);
        if (r)
            return r;
        off += h.total_len;
    }
    if (c->nprocs == 0)
        return rst_fail(c, EINVAL, "image %s holds no process record", image_path);
    for (int i = 0; i < c->nprocs; i++)
        for (int j = 0; j < i; j++)
            if (c->procs[j].proc->pid == c->procs[i].proc->pid)
                return rst_fail(c, EINVAL, "image %s holds two records of pid %d", image_path, c->procs[i].proc->pid);
    /* Parents before their children (a caller may concatenate records in any order): a stable
     * selection of every process whose parent is already placed or not in the image. */
    size_t count = (size_t)(unsigned)c->nprocs;
    struct rst_proc *ordered = malloc(sizeof(*ordered) * count);
    char *placed = calloc(count, 1);
    if (!ordered || !placed) {
        free(ordered);
        free(placed);
        return rst_fail(c, ENOMEM, "out of memory ordering the image");
    }
    int n = 0;
    while (n < c->nprocs) {
        int progress = 0;
        for (int i = 0; i < c->nprocs; i++) {
            if (placed[i])
                continue;
            int parent = rst_find_proc(c, c->procs[i].proc->ppid);
            if (parent >= 0 && parent != i && !placed[parent])
                continue;
            ordered[n++] = c->procs[i];
            placed[i] = 1;
            progress = 1;
        }
        if (!progress) {
            free(ordered);
            free(placed);
            return rst_fail(c, EINVAL, "image %s: the parent links of its processes form a cycle", image_path);
        }
    }
    memcpy(c->procs, ordered, sizeof(*ordered) * count);
    free(ordered);
    free(placed);
    for (int i = 0; i < c->nprocs; i++) {
        c->procs[i].parent = rst_find_proc(c, c->procs[i].proc->ppid);
        if (c->procs[i].parent == i)
            c->procs[i].parent = -1;
    }
    return 0;
}

void rst_free_image(struct rst_ctx *c)
{
    for (int i = 0; i < c->nprocs; i++) {
        free(c->procs[i].threads);
        free(c->procs[i].pending);
        free(c->procs[i].vmas);
        free(c->procs[i].fds);
    }
    free(c->procs);
    free(c->image);
    c->procs = NULL;
    c->image = NULL;
}
