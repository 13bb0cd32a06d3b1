/*
 * restore.c — sls_restore: the order of the restore and its all-or-nothing rollback.
 *
 *  1. read and check the image (CRC32C of every record), check every mapped and open file is
 *     still the captured one — all before any process exists, so most failures cost nothing;
 *  2. start the seeds, parents before children (restore_seed.c);
 *  3. rebuild each process by injected syscalls: fds closed, rlimits, address space and contents,
 *     mm fields, cwd/umask, files, signal actions, threads and their kernel state, credentials,
 *     gadget page removed, pending signals, registers;
 *     (with SLS_RESTORE_TRACK, each process's dirty-page tracker is opened once its memory is final,
 *     before anything of it runs: restore_track.c);
 *  4. detach every thread of every process: they all run from here on; their trackers join the
 *     engine's table, so the next delta capture is relative to this epoch.
 *
 * Until step 4 every seed is traced with PTRACE_O_EXITKILL, so even a crash of the engine leaves
 * nothing behind; on any failure the seeds are killed and their exits reaped before returning.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "restore.h"

int rst_fail(struct rst_ctx *c, int e, const char *fmt, ...)
{
    if (!c->failed) {
        c->failed = 1;
        if (c->err && c->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err, c->errlen, fmt, ap);
            va_end(ap);
        }
    }
    return -(e > 0 ? e : EIO);
}

static int rebuild(struct rst_ctx *c, struct rst_proc *p)
{
    int r;
    if ((r = rst_close_seed_fds(c, p)) || (r = rst_restore_rlimits(c, p)) || (r = rst_restore_mm(c, p)) ||
        (r = rst_set_mm_map(c, p)) || (r = rst_restore_fs_state(c, p)) || (r = rst_restore_files(c, p)) ||
        (r = rst_restore_sigactions(c, p)) || (r = rst_restore_proc_state(c, p)) || (r = rst_create_threads(c, p)) ||
        (r = rst_restore_thread_state(c, p)) || (r = rst_restore_creds(c, p)) ||
        (r = rst_restore_late_proc_state(c, p)) || (r = rst_unmap_gadget(c, p)))
        return r;
    /* memory is final now and nothing has run: the tracker's baseline is exactly the epoch */
    rst_open_tracking(c, p);
    if ((r = rst_restore_pending(c, p)) || (r = rst_set_registers(c, p)))
        return r;
    return 0;
}

static int run(struct rst_ctx *c, const char *image_path, int32_t max_procs)
{
    int r;
    if ((r = rst_parse_image(c, image_path)))
        return r;
    if (c->nprocs > max_procs)
        return rst_fail(c, ENOSPC, "the image holds %d processes but room was given for %d pid pairs", c->nprocs,
                        max_procs);
    for (int i = 0; i < c->nprocs; i++)
        if ((r = rst_check_mapped_files(c, &c->procs[i])) || (r = rst_check_files(c, &c->procs[i])))
            return r;
    if ((r = rst_choose_gadget_addr(c)))
        return r;
    c->file_maps = calloc((size_t)(c->nfiles > 0 ? c->nfiles : 1), sizeof(*c->file_maps));
    if (!c->file_maps)
        return rst_fail(c, ENOMEM, "out of memory");
    /* The parser ordered parents before their children. */
    for (int i = 0; i < c->nprocs; i++) {
        struct rst_proc *p = &c->procs[i];
        if (p->parent < 0)
            r = rst_seed_start(c, p);
        else
            r = rst_seed_fork_child(c, &c->procs[p->parent], p);
        if (r)
            return r;
        if (p->parent < 0 && (r = rst_seed_map_gadget(c, p)))
            return r;
        if ((r = rst_restore_session(c, p)))
            return r;
    }
    for (int i = 0; i < c->nprocs; i++)
        if ((r = rebuild(c, &c->procs[i])))
            return r;
    return 0;
}

static void release(struct rst_ctx *c)
{
    rst_close_tracking(c);
    rst_close_engine_objects(c);
    if (c->file_maps) {
        for (int i = 0; i < c->nfiles; i++)
            if (c->file_maps[i].base && c->file_maps[i].len)
                munmap((void *)c->file_maps[i].base, c->file_maps[i].len);
        free(c->file_maps);
    }
    for (int i = 0; i < c->nprocs; i++)
        if (c->procs[i].mem_fd >= 0)
            close(c->procs[i].mem_fd);
    rst_free_image(c);
}

int sls_restore(const char *image_path, const struct sls_page_segment *segs, int32_t nsegs,
                const char *const *files, int32_t nfiles, int32_t flags, const char *seed_path,
                int32_t *pid_pairs, int32_t max_procs, char *err, size_t errlen)
{
    struct rst_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.flags = flags;
    ctx.seed_path = seed_path;
    ctx.segs = segs;
    ctx.nsegs = nsegs;
    ctx.files = files;
    ctx.nfiles = nfiles;
    ctx.err = err;
    ctx.errlen = errlen;
    if (err && errlen)
        err[0] = 0;
    if (!image_path || !seed_path || (nsegs > 0 && !segs) || (nfiles > 0 && !files) || nsegs < 0 || nfiles < 0 ||
        (max_procs > 0 && !pid_pairs))
        return rst_fail(&ctx, EINVAL, "sls_restore: missing argument (image, seed, segments, files or pid pairs)");
    if (flags & ~(SLS_RESTORE_DETACHED | SLS_RESTORE_FORCE | SLS_RESTORE_TRACK_ON | SLS_RESTORE_TRACK_MASK |
                  SLS_RESTORE_TRACK_SHADOW))
        return rst_fail(&ctx, EINVAL, "sls_restore: unknown flags %#x", (unsigned)flags);
    if ((flags & SLS_RESTORE_TRACK_MASK) && !(flags & SLS_RESTORE_TRACK_ON))
        return rst_fail(&ctx, EINVAL, "sls_restore: a tracking mechanism without SLS_RESTORE_TRACK_ON (flags %#x)",
                        (unsigned)flags);
    int track_mode = (flags & SLS_RESTORE_TRACK_MASK) >> 8;
    if (track_mode > SLS_CAPTURE_TRACK_DIGEST)
        return rst_fail(&ctx, EINVAL, "sls_restore: unknown tracking mechanism %d", track_mode);
    if ((flags & SLS_RESTORE_TRACK_SHADOW) && (!(flags & SLS_RESTORE_TRACK_ON) ||
                                               (track_mode != SLS_CAPTURE_TRACK_AUTO && track_mode != SLS_CAPTURE_TRACK_UFFD)))
        return rst_fail(&ctx, EINVAL, "sls_restore: SLS_RESTORE_TRACK_SHADOW needs SLS_RESTORE_TRACK with uffd or "
                        "auto tracking (flags %#x)", (unsigned)flags);
    if (access(seed_path, X_OK) < 0)
        return rst_fail(&ctx, errno, "seed program %s is not executable: %s", seed_path, strerror(errno));

    int r = run(&ctx, image_path, max_procs);
    if (r) {
        /* Children first: a killed parent would hand its children to init before we reap them. */
        for (int i = ctx.nprocs - 1; i >= 0; i--)
            rst_kill(&ctx, &ctx.procs[i]);
        release(&ctx);
        return r;
    }
    /* The engine's pipe ends and memfds must be gone before anyone runs, or a reader waiting for EOF
     * would never see it. */
    rst_close_engine_objects(&ctx);
    for (int i = ctx.nprocs - 1; i >= 0; i--)
        rst_detach(&ctx, &ctx.procs[i]);
    rst_keep_tracking(&ctx);
    if (ctx.note[0] && err && errlen)
        snprintf(err, errlen, "%s", ctx.note);
    int n = ctx.nprocs;
    for (int i = 0; i < n; i++) {
        pid_pairs[2 * i] = ctx.procs[i].proc->pid;
        pid_pairs[2 * i + 1] = ctx.procs[i].new_pid;
    }
    release(&ctx);
    return n;
}
