/*
 * restore_mm.c — the address space: the seed's own mappings go, [vvar]/[vvar_vclock]/[vdso] move to
 * their captured addresses, every captured VMA is mapped again at its address with its flags, page
 * contents are written from the caller's segments, protections are set, and PR_SET_MM_MAP restores
 * the mm fields (code/data/brk/stack/arg/env bounds, auxv, exe link).
 *
 * Contents: process_vm_writev from an mmap of the segment files, in batches of up to 1024 iovecs,
 * into mappings that are temporarily writable; the final mprotect follows. The alternative — the
 * target pread()ing the page file itself, by injection — was measured on this machine (2 cores,
 * loaded; 256 MiB from a page-cache-hot file into fresh anonymous memory of another process):
 * one 256 MiB run 317 ms by process_vm_writev vs 322 ms by the target's own pread; 4 KiB runs
 * 530 ms vs 544 ms — and that pread figure still excludes the 15-110 us each injected call costs
 * (65536 runs -> seconds). Both are bound by the target's first-touch page faults, so
 * process_vm_writev is the only path.
 * Private file mappings are re-mapped from the file (its pages come from the page cache) and the
 * captured pages are written over them. Shared file mappings are mapped from the file and never
 * written (their contents are the file). Shared anonymous, memfd and deleted-file shared mappings
 * become one engine-made memfd per captured inode, shared by every process of the image that maps it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "restore.h"

#define RST_STAGING_SIZE (1024 * 1024) /* after the gadget page: where vDSO areas wait if needed */

static int overlaps(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1)
{
    return a0 < b1 && b0 < a1;
}

int rst_choose_gadget_addr(struct rst_ctx *c)
{
    uint64_t need = RST_GADGET_SIZE + RST_STAGING_SIZE;
    for (uint64_t cand = 0x100000000000ull; cand < 0x7f0000000000ull; cand += 0x10000000000ull) {
        int clash = 0;
        for (int i = 0; i < c->nprocs && !clash; i++)
            for (int j = 0; j < c->procs[i].nvmas && !clash; j++)
                clash = overlaps(cand, cand + need, c->procs[i].vmas[j].v->start, c->procs[i].vmas[j].v->end);
        if (!clash) {
            c->gadget_addr = cand;
            return 0;
        }
    }
    return rst_fail(c, ENOMEM, "no free address range for the restorer's gadget page");
}

static int is_special(uint32_t kind)
{
    return kind == SLS_VMA_VDSO || kind == SLS_VMA_VVAR || kind == SLS_VMA_VVAR_VCLOCK || kind == SLS_VMA_VSYSCALL;
}

/* Mapped with an engine-made memfd (one per captured inode) so processes share it. */
static int uses_shm(const struct sls_img_vma *v)
{
    if (!(v->flags & SLS_VMA_SHARED))
        return 0;
    return v->kind == SLS_VMA_ANON || v->kind == SLS_VMA_MEMFD || v->kind == SLS_VMA_DELETED;
}

static int is_file_backed(const struct sls_img_vma *v)
{
    return v->kind == SLS_VMA_FILE;
}

static char *dup_path(const char *s, uint32_t len)
{
    char *p = malloc(len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = 0;
    }
    return p;
}

/* Opens the file of a file VMA in the engine and checks it is the captured one. */
static int open_vma_file(struct rst_ctx *c, struct rst_proc *p, const struct rst_vma *rv, int *fd_out)
{
    const struct sls_img_vma *v = rv->v;
    char *path = dup_path(rv->path, v->path_len);
    if (!path)
        return rst_fail(c, ENOMEM, "out of memory");
    int mode = (v->flags & SLS_VMA_SHARED) && (v->prot & PROT_WRITE) ? O_RDWR : O_RDONLY;
    int fd = open(path, mode | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        int r = rst_fail(c, e, "pid %d: mapped file %s cannot be opened: %s", p->proc->pid, path, strerror(e));
        free(path);
        return r;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && !(c->flags & SLS_RESTORE_FORCE)) {
        int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        const char *what = NULL;
        if (st.st_ino != v->inode || major(st.st_dev) != v->dev_major || minor(st.st_dev) != v->dev_minor)
            what = "it is a different file (device/inode)";
        else if ((uint64_t)st.st_size != v->file_size)
            what = "its size changed";
        else if (mtime != v->file_mtime_ns)
            what = "its modification time changed";
        if (what) {
            close(fd);
            int r = rst_fail(c, ESTALE, "pid %d: mapped file %s changed since the checkpoint: %s (restore with force to ignore)",
                             p->proc->pid, path, what);
            free(path);
            return r;
        }
    }
    free(path);
    *fd_out = fd;
    return 0;
}

int rst_check_mapped_files(struct rst_ctx *c, struct rst_proc *p)
{
    const char *prev = NULL;
    uint32_t prev_len = 0;
    for (int i = 0; i < p->nvmas; i++) {
        const struct rst_vma *rv = &p->vmas[i];
        if (!is_file_backed(rv->v))
            continue;
        if (prev && prev_len == rv->v->path_len && !memcmp(prev, rv->path, prev_len))
            continue;
        int fd, r;
        if ((r = open_vma_file(c, p, rv, &fd)))
            return r;
        close(fd);
        prev = rv->path;
        prev_len = rv->v->path_len;
    }
    return 0;
}

static int shm_fd_for(struct rst_ctx *c, struct rst_proc *p, const struct sls_img_vma *v, int *fd_out)
{
    for (int i = 0; i < c->nshms; i++)
        if (c->shms[i].ino == v->inode) {
            *fd_out = c->shms[i].fd;
            return 0;
        }
    /* Size: the furthest offset any VMA of any process maps of this inode. */
    uint64_t size = 0;
    for (int i = 0; i < c->nprocs; i++)
        for (int j = 0; j < c->procs[i].nvmas; j++) {
            const struct sls_img_vma *w = c->procs[i].vmas[j].v;
            if (uses_shm(w) && w->inode == v->inode && w->pgoff + (w->end - w->start) > size)
                size = w->pgoff + (w->end - w->start);
        }
    int fd = memfd_create("sls-shm", MFD_CLOEXEC);
    if (fd < 0)
        return rst_fail(c, errno, "pid %d: memfd_create for shared memory failed: %s", p->proc->pid, strerror(errno));
    if (ftruncate(fd, (off_t)size) < 0) {
        int e = errno;
        close(fd);
        return rst_fail(c, e, "pid %d: sizing shared memory to %llu bytes failed: %s", p->proc->pid,
                        (unsigned long long)size, strerror(e));
    }
    void *g = realloc(c->shms, sizeof(*c->shms) * (size_t)(c->nshms + 1));
    if (!g) {
        close(fd);
        return rst_fail(c, ENOMEM, "out of memory");
    }
    c->shms = g;
    c->shms[c->nshms++] = (struct rst_shm){ .ino = v->inode, .fd = fd };
    *fd_out = fd;
    return 0;
}

struct seed_area {
    uint64_t start, end;
    char name[32];
};

static int read_seed_maps(struct rst_ctx *c, struct rst_proc *p, struct seed_area *a, int max, int *n)
{
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/%d/maps", p->new_pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return rst_fail(c, errno, "cannot open %s: %s", path, strerror(errno));
    *n = 0;
    while (fgets(line, sizeof(line), f) && *n < max) {
        unsigned long lo, hi;
        int name_at = 0;
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &name_at) < 2)
            continue;
        a[*n].start = lo;
        a[*n].end = hi;
        snprintf(a[*n].name, sizeof(a[*n].name), "%s", name_at ? line + name_at : "");
        a[*n].name[strcspn(a[*n].name, "\n")] = 0;
        (*n)++;
    }
    fclose(f);
    return 0;
}

static const char *special_name(uint32_t kind)
{
    switch (kind) {
    case SLS_VMA_VDSO: return "[vdso]";
    case SLS_VMA_VVAR: return "[vvar]";
    case SLS_VMA_VVAR_VCLOCK: return "[vvar_vclock]";
    default: return NULL;
    }
}

static int inject_mremap(struct rst_ctx *c, struct rst_proc *p, uint64_t from, uint64_t len, uint64_t to,
                         const char *what)
{
    long args[6] = { (long)from, (long)len, (long)len, MREMAP_MAYMOVE | MREMAP_FIXED, (long)to, 0 };
    return rst_inject_ok(c, p, p->new_pid, SYS_mremap, args, NULL, what);
}

/* Removes everything of the seed but the gadget page and the vDSO areas, then moves those to their
 * captured addresses (all of them together: a [vdso] without its [vvar] crashes the first
 * clock_gettime). */
static int replace_seed_layout(struct rst_ctx *c, struct rst_proc *p)
{
    struct seed_area a[64];
    int n = 0, r;
    if ((r = read_seed_maps(c, p, a, 64, &n)))
        return r;
    uint64_t gad0 = c->gadget_addr, gad1 = c->gadget_addr + RST_GADGET_SIZE;
    for (int i = 0; i < n; i++) {
        if (overlaps(a[i].start, a[i].end, gad0, gad1) || !strcmp(a[i].name, "[vdso]") ||
            !strcmp(a[i].name, "[vvar]") || !strcmp(a[i].name, "[vvar_vclock]") || !strcmp(a[i].name, "[vsyscall]"))
            continue;
        long args[6] = { (long)a[i].start, (long)(a[i].end - a[i].start), 0, 0, 0, 0 };
        if ((r = rst_inject_ok(c, p, p->new_pid, SYS_munmap, args, NULL, "munmap of the seed's own mapping")))
            return r;
    }
    /* Pair each seed area with the captured one of the same name. */
    uint64_t staging = gad1;
    int need_staging = 0;
    for (int i = 0; i < n; i++) {
        int special = !strcmp(a[i].name, "[vdso]") || !strcmp(a[i].name, "[vvar]") || !strcmp(a[i].name, "[vvar_vclock]");
        if (!special)
            continue;
        for (int j = 0; j < p->nvmas; j++) {
            const struct sls_img_vma *v = p->vmas[j].v;
            if (is_special(v->kind) && v->kind != SLS_VMA_VSYSCALL &&
                overlaps(a[i].start, a[i].end, v->start, v->end) &&
                !(v->start == a[i].start && !strcmp(special_name(v->kind), a[i].name)))
                need_staging = 1;
        }
    }
    for (int i = 0; i < n; i++) {
        int special = !strcmp(a[i].name, "[vdso]") || !strcmp(a[i].name, "[vvar]") || !strcmp(a[i].name, "[vvar_vclock]");
        if (!special)
            continue;
        const struct sls_img_vma *target = NULL;
        for (int j = 0; j < p->nvmas; j++)
            if (special_name(p->vmas[j].v->kind) && !strcmp(special_name(p->vmas[j].v->kind), a[i].name))
                target = p->vmas[j].v;
        uint64_t len = a[i].end - a[i].start;
        if (!target) {
            long args[6] = { (long)a[i].start, (long)len, 0, 0, 0, 0 };
            if ((r = rst_inject_ok(c, p, p->new_pid, SYS_munmap, args, NULL, "munmap of a vDSO area the image lacks")))
                return r;
            a[i].name[0] = 0;
            continue;
        }
        if (target->end - target->start != len)
            return rst_fail(c, EINVAL, "pid %d: %s is %llu bytes here but was %llu at the checkpoint (different kernel?)",
                            p->proc->pid, a[i].name, (unsigned long long)len,
                            (unsigned long long)(target->end - target->start));
        if (need_staging) {
            if (staging + len > gad1 + RST_STAGING_SIZE)
                return rst_fail(c, ENOMEM, "pid %d: vDSO areas do not fit the staging range", p->proc->pid);
            if ((r = inject_mremap(c, p, a[i].start, len, staging, "mremap of a vDSO area to staging")))
                return r;
            a[i].start = staging;
            a[i].end = staging + len;
            staging += len;
        }
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < p->nvmas; j++) {
            const struct sls_img_vma *v = p->vmas[j].v;
            if (!special_name(v->kind) || strcmp(special_name(v->kind), a[i].name) || v->start == a[i].start)
                continue;
            if ((r = inject_mremap(c, p, a[i].start, v->end - v->start, v->start, "mremap of a vDSO area")))
                return r;
        }
    }
    for (int j = 0; j < p->nvmas; j++) {
        const char *nm = special_name(p->vmas[j].v->kind);
        int found = 0;
        for (int i = 0; nm && i < n; i++)
            found |= !strcmp(a[i].name, nm);
        if (nm && !found)
            return rst_fail(c, EINVAL, "pid %d: the image has %s but this kernel gave the seed none", p->proc->pid, nm);
    }
    return 0;
}

static int close_target_fd(struct rst_ctx *c, struct rst_proc *p, long fd)
{
    long args[6] = { fd, 0, 0, 0, 0, 0 };
    return rst_inject_ok(c, p, p->new_pid, SYS_close, args, NULL, "close of a temporary fd");
}

static int map_vma(struct rst_ctx *c, struct rst_proc *p, const struct rst_vma *rv, long *file_fd,
                   const struct rst_vma **file_of)
{
    const struct sls_img_vma *v = rv->v;
    int r;
    long prot = PROT_READ | PROT_WRITE;
    long flags = MAP_FIXED_NOREPLACE;
    long fd = -1;
    if (v->flags & SLS_VMA_GROWSDOWN)
        flags |= MAP_GROWSDOWN;
    if (v->flags & SLS_VMA_NORESERVE)
        flags |= MAP_NORESERVE;
    if (uses_shm(v)) {
        int efd = -1;
        if ((r = shm_fd_for(c, p, v, &efd)) || (r = rst_pull_fd(c, p, efd, &fd)))
            return r;
        flags |= MAP_SHARED;
    } else if (is_file_backed(v)) {
        /* Consecutive VMAs of one file (text, data, relro...) share one opened fd. */
        if (!*file_of || (*file_of)->v->path_len != v->path_len || memcmp((*file_of)->path, rv->path, v->path_len) ||
            ((*file_of)->v->flags & SLS_VMA_SHARED) != (v->flags & SLS_VMA_SHARED)) {
            if (*file_fd >= 0 && (r = close_target_fd(c, p, *file_fd)))
                return r;
            *file_fd = -1;
            *file_of = NULL;
            int efd;
            if ((r = open_vma_file(c, p, rv, &efd)))
                return r;
            r = rst_pull_fd(c, p, efd, file_fd);
            close(efd);
            if (r)
                return r;
            *file_of = rv;
        }
        fd = *file_fd;
        if (v->flags & SLS_VMA_SHARED) {
            flags |= MAP_SHARED;
            prot = v->prot; /* contents are the file: mapped as captured, never written */
        } else {
            flags |= MAP_PRIVATE;
        }
    } else {
        flags |= MAP_PRIVATE | MAP_ANONYMOUS;
    }
    long args[6] = { (long)v->start, (long)(v->end - v->start), prot, flags, fd, fd >= 0 ? (long)v->pgoff : 0 };
    long got;
    if ((r = rst_inject(c, p, p->new_pid, SYS_mmap, args, &got)))
        return r;
    if (uses_shm(v) && (r = close_target_fd(c, p, fd)))
        return r;
    if (got < 0 && got > -4096)
        return rst_fail(c, (int)-got, "pid %d: mmap of %#llx-%#llx (%.*s) failed: %s", p->proc->pid,
                        (unsigned long long)v->start, (unsigned long long)v->end, (int)v->path_len, rv->path,
                        strerror((int)-got));
    if ((uint64_t)got != v->start)
        return rst_fail(c, EEXIST, "pid %d: mmap of %#llx landed at %#lx", p->proc->pid, (unsigned long long)v->start, got);
    static const struct {
        uint32_t flag;
        int advice;
    } advices[] = {
        { SLS_VMA_NOHUGEPAGE, MADV_NOHUGEPAGE }, { SLS_VMA_HUGEPAGE, MADV_HUGEPAGE },
        { SLS_VMA_DONTDUMP, MADV_DONTDUMP },     { SLS_VMA_DONTFORK, MADV_DONTFORK },
        { SLS_VMA_WIPEONFORK, MADV_WIPEONFORK }, { SLS_VMA_MERGEABLE, MADV_MERGEABLE },
    };
    for (size_t i = 0; i < sizeof(advices) / sizeof(advices[0]); i++) {
        if (!(v->flags & advices[i].flag))
            continue;
        long a2[6] = { (long)v->start, (long)(v->end - v->start), advices[i].advice, 0, 0, 0 };
        if ((r = rst_inject_ok(c, p, p->new_pid, SYS_madvise, a2, NULL, "madvise of a restored mapping")))
            return r;
    }
    return 0;
}

static int map_file(struct rst_ctx *c, int32_t idx, const struct rst_file_map **out)
{
    if (idx < 0 || idx >= c->nfiles)
        return rst_fail(c, EINVAL, "page segment names file %d, but only %d files were given", idx, c->nfiles);
    struct rst_file_map *m = &c->file_maps[idx];
    if (!m->base) {
        int fd = open(c->files[idx], O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return rst_fail(c, errno, "cannot open page file %s: %s", c->files[idx], strerror(errno));
        struct stat st;
        if (fstat(fd, &st) < 0) {
            int e = errno;
            close(fd);
            return rst_fail(c, e, "cannot stat page file %s: %s", c->files[idx], strerror(e));
        }
        m->len = (size_t)st.st_size;
        if (m->len) {
            void *base = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
            if (base == MAP_FAILED) {
                int e = errno;
                close(fd);
                return rst_fail(c, e, "cannot map page file %s: %s", c->files[idx], strerror(e));
            }
            madvise(base, m->len, MADV_SEQUENTIAL);
            m->base = base;
        } else {
            m->base = (const uint8_t *)"";
        }
        close(fd);
    }
    *out = m;
    return 0;
}

/* Is [addr, addr+len) inside mappings whose contents come from segments? VMAs are sorted (the
 * image lists them ascending), so the first candidate is found by binary search: delta restores
 * can bring hundreds of thousands of single-page segments. */
static int segment_target_ok(const struct rst_proc *p, uint64_t addr, uint64_t len)
{
    int lo = 0, hi = p->nvmas;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (p->vmas[mid].v->end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint64_t at = addr, end = addr + len;
    for (int i = lo; i < p->nvmas && at < end; i++) {
        const struct sls_img_vma *v = p->vmas[i].v;
        if (v->start > at || is_special(v->kind) || (is_file_backed(v) && (v->flags & SLS_VMA_SHARED)))
            return 0;
        at = v->end;
    }
    return at >= end;
}

static int fill_memory(struct rst_ctx *c, struct rst_proc *p)
{
    enum { BATCH = 1024 };
    struct iovec local[BATCH], remote[BATCH];
    int n = 0, r;
    size_t batch_bytes = 0;
    for (int32_t i = 0; i <= c->nsegs; i++) {
        int flush = i == c->nsegs || n == BATCH;
        if (flush && n) {
            ssize_t w = process_vm_writev(p->new_pid, local, (unsigned long)n, remote, (unsigned long)n, 0);
            if (w != (ssize_t)batch_bytes)
                return rst_fail(c, w < 0 ? errno : EFAULT, "pid %d: writing %zu bytes of page contents wrote %zd: %s",
                                p->proc->pid, batch_bytes, w, w < 0 ? strerror(errno) : "target not mapped there");
            n = 0;
            batch_bytes = 0;
        }
        if (i == c->nsegs)
            break;
        const struct sls_page_segment *s = &c->segs[i];
        if (s->pid != p->proc->pid || s->len == 0)
            continue;
        if (!segment_target_ok(p, s->addr, s->len))
            return rst_fail(c, EINVAL, "pid %d: page segment %#llx+%llu is not inside a restorable mapping of the image",
                            p->proc->pid, (unsigned long long)s->addr, (unsigned long long)s->len);
        const struct rst_file_map *m = NULL;
        if ((r = map_file(c, s->file, &m)))
            return r;
        if (s->offset > m->len || s->len > m->len - s->offset)
            return rst_fail(c, EINVAL, "page segment %#llx+%llu at offset %llu lies beyond the end of %s (%zu bytes)",
                            (unsigned long long)s->addr, (unsigned long long)s->len, (unsigned long long)s->offset,
                            c->files[s->file], m->len);
        local[n].iov_base = (void *)(m->base + s->offset);
        local[n].iov_len = s->len;
        remote[n].iov_base = (void *)(uintptr_t)s->addr;
        remote[n].iov_len = s->len;
        batch_bytes += s->len;
        n++;
    }
    return 0;
}

/* Final protections, one mprotect per run of adjacent VMAs that end up with the same protection. */
static int set_protections(struct rst_ctx *c, struct rst_proc *p)
{
    int r;
    for (int i = 0; i < p->nvmas;) {
        const struct sls_img_vma *v = p->vmas[i].v;
        if (is_special(v->kind) || (is_file_backed(v) && (v->flags & SLS_VMA_SHARED)) ||
            v->prot == (PROT_READ | PROT_WRITE)) {
            i++;
            continue;
        }
        uint64_t start = v->start, end = v->end;
        int j = i + 1;
        while (j < p->nvmas && p->vmas[j].v->start == end && p->vmas[j].v->prot == v->prot &&
               !is_special(p->vmas[j].v->kind) &&
               !(is_file_backed(p->vmas[j].v) && (p->vmas[j].v->flags & SLS_VMA_SHARED)))
            end = p->vmas[j++].v->end;
        long args[6] = { (long)start, (long)(end - start), (long)v->prot, 0, 0, 0 };
        if ((r = rst_inject_ok(c, p, p->new_pid, SYS_mprotect, args, NULL, "mprotect of a restored mapping")))
            return r;
        i = j;
    }
    for (int i = 0; i < p->nvmas; i++) {
        const struct sls_img_vma *v = p->vmas[i].v;
        if (!(v->flags & SLS_VMA_SEALED))
            continue;
        long args[6] = { (long)v->start, (long)(v->end - v->start), 0, 0, 0, 0 };
        if ((r = rst_inject_ok(c, p, p->new_pid, 462 /* mseal */, args, NULL, "mseal of a restored mapping")))
            return r;
    }
    return 0;
}

int rst_restore_mm(struct rst_ctx *c, struct rst_proc *p)
{
    int r;
    if ((r = replace_seed_layout(c, p)))
        return r;
    long file_fd = -1;
    const struct rst_vma *file_of = NULL;
    for (int i = 0; i < p->nvmas; i++) {
        if (is_special(p->vmas[i].v->kind))
            continue;
        if ((r = map_vma(c, p, &p->vmas[i], &file_fd, &file_of)))
            return r;
    }
    if (file_fd >= 0 && (r = close_target_fd(c, p, file_fd)))
        return r;
    if ((r = fill_memory(c, p)))
        return r;
    return set_protections(c, p);
}

/* Any `syscall` instruction in the restored executable mappings takes over from the gadget page, so
 * the gadget page itself can be unmapped by an injected call. Read in small chunks, file-backed text
 * (libc) first: a JIT code cache can be hundreds of MiB. */
int rst_switch_gadget_to_target(struct rst_ctx *c, struct rst_proc *p)
{
    enum { CHUNK = 64 * 1024 };
    uint8_t *buf = malloc(CHUNK + 1);
    if (!buf)
        return rst_fail(c, ENOMEM, "out of memory");
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < p->nvmas; i++) {
            const struct sls_img_vma *v = p->vmas[i].v;
            if (!(v->prot & PROT_EXEC) || is_special(v->kind) || (pass == 0) != is_file_backed(v))
                continue;
            for (uint64_t at = v->start; at < v->end; at += CHUNK) {
                size_t len = v->end - at < CHUNK ? (size_t)(v->end - at) : CHUNK;
                if (len < 2)
                    continue;
                int r = rst_read_remote(c, p, at, buf, len);
                if (r) {
                    free(buf);
                    return r;
                }
                /* A `syscall` split over two chunks is missed; the next one will do. */
                uint8_t *hit = memmem(buf, len, "\x0f\x05", 2);
                if (hit) {
                    p->gadget = at + (uint64_t)(hit - buf);
                    free(buf);
                    return 0;
                }
            }
        }
    }
    free(buf);
    return rst_fail(c, ENOEXEC, "pid %d: no syscall instruction in the restored executable mappings", p->proc->pid);
}

int rst_unmap_gadget(struct rst_ctx *c, struct rst_proc *p)
{
    int r;
    if ((r = rst_switch_gadget_to_target(c, p)))
        return r;
    long args[6] = { (long)c->gadget_addr, RST_GADGET_SIZE, 0, 0, 0, 0 };
    return rst_inject_ok(c, p, p->new_pid, SYS_munmap, args, NULL, "munmap of the gadget page");
}

int rst_set_mm_map(struct rst_ctx *c, struct rst_proc *p)
{
    const struct sls_img_proc *pr = p->proc;
    char *exe = dup_path(p->exe, pr->exe_len);
    if (!exe)
        return rst_fail(c, ENOMEM, "out of memory");
    int efd = open(exe, O_RDONLY | O_CLOEXEC);
    if (efd < 0) {
        int e = errno;
        int r = rst_fail(c, e, "pid %d: executable %s cannot be opened: %s", pr->pid, exe, strerror(e));
        free(exe);
        return r;
    }
    struct stat st;
    if (!(c->flags & SLS_RESTORE_FORCE) && fstat(efd, &st) == 0 &&
        (st.st_ino != pr->exe_ino || (uint64_t)st.st_dev != pr->exe_dev)) {
        close(efd);
        int r = rst_fail(c, ESTALE, "pid %d: executable %s changed since the checkpoint (different inode)", pr->pid, exe);
        free(exe);
        return r;
    }
    free(exe);
    long tfd;
    int r = rst_pull_fd(c, p, efd, &tfd);
    close(efd);
    if (r)
        return r;
    struct prctl_mm_map mm;
    memset(&mm, 0, sizeof(mm));
    mm.start_code = pr->start_code;
    mm.end_code = pr->end_code;
    mm.start_data = pr->start_data;
    mm.end_data = pr->end_data;
    mm.start_brk = pr->start_brk;
    mm.brk = pr->brk;
    mm.start_stack = pr->start_stack;
    mm.arg_start = pr->arg_start;
    mm.arg_end = pr->arg_end;
    mm.env_start = pr->env_start;
    mm.env_end = pr->env_end;
    uint64_t where = rst_scratch(p);
    uint32_t auxv_len = pr->auxv_len;
    if (auxv_len > 512)
        auxv_len = 512; /* the kernel keeps at most AT_VECTOR_SIZE longs; more is EINVAL */
    mm.auxv = (__u64 *)(uintptr_t)(where + sizeof(mm));
    mm.auxv_size = auxv_len;
    mm.exe_fd = (uint32_t)tfd;
    if ((r = rst_write_remote(c, p, where, &mm, sizeof(mm))) ||
        (auxv_len && (r = rst_write_remote(c, p, where + sizeof(mm), p->auxv, auxv_len))))
        return r;
    long args[6] = { PR_SET_MM, PR_SET_MM_MAP, (long)where, sizeof(mm), 0, 0 };
    if ((r = rst_inject_ok(c, p, p->new_pid, SYS_prctl, args, NULL, "prctl(PR_SET_MM_MAP)")))
        return r;
    return close_target_fd(c, p, tfd);
}
