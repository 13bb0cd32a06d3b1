/*
 * restore.h — internals of sls_restore (the "puppet" restorer, DESIGN.md §3).
 *
 * A tiny static seed process is started for each process of the image (the root ones through the
 * `sls-seed launch` helper so they are not children of the caller, the others forked by their
 * restored parent), held
 * under ptrace, and rebuilt from outside by injected syscalls: memory map, memory contents, vDSO,
 * mm fields, files, signal state, threads and finally registers; then every thread is detached.
 *
 * Files: restore.c (entry point, order, rollback), restore_image.c (record parsing, CRC32C),
 * restore_seed.c (seed start, syscall injection), restore_mm.c (mappings, contents, vDSO,
 * PR_SET_MM_MAP), restore_files.c (fds, cwd), restore_sockets.c (sockets), restore_signals.c
 * (sigactions, pending signals, session, rlimits, credentials), restore_threads.c (clone3 of threads, per-thread kernel state, registers, detach).
 *
 * All state of one restore lives in struct rst_ctx (no static mutable state: calls may run
 * concurrently on different threads).
 */
#ifndef SLS_RESTORE_H
#define SLS_RESTORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sls_image.h"
#include "slsnative.h"

struct sls_tracker;

/* The page the restorer maps into every seed: a `syscall` instruction at offset 0 (the injection
 * gadget) followed by scratch space for the arguments of injected calls (paths, structs). */
#define RST_GADGET_SIZE   (64 * 1024)
#define RST_SCRATCH_OFF   64

struct rst_vma {
    const struct sls_img_vma *v;
    const char *path;     /* path_len bytes, not NUL-terminated */
};

struct rst_fd {
    const struct sls_img_fd *f;
    const char *path;     /* path_len bytes */
    const uint8_t *extra; /* f->extra_len bytes */
};

struct rst_pending {
    const struct sls_img_pending *p;
    const uint8_t *siginfo; /* p->count * 128 bytes */
};

struct rst_thread {
    const struct sls_img_thread *t;
    const uint8_t *xsave;   /* t->xsave_len bytes */
    pid_t new_tid;          /* 0 until created */
    int traced;             /* seized and in a ptrace stop */
};

struct rst_proc {
    const struct sls_img_header *hdr;
    const struct sls_img_proc *proc;
    const uint32_t *groups;
    const char *exe, *cwd, *root;
    const uint64_t *auxv;
    struct rst_thread *threads;
    int nthreads;
    const struct sls_img_sigact *sigact;    /* SLS_NSIG entries or NULL */
    const struct sls_img_rlimit *rlimit;    /* SLS_NRLIMIT entries or NULL */
    const struct sls_img_itimer *itimer;    /* 3 entries or NULL */
    struct rst_pending *pending;
    int npending;
    struct rst_vma *vmas;
    int nvmas;
    struct rst_fd *fds;
    int nfds;

    int parent;              /* index of the parent process in the image, -1 if not restored */
    pid_t new_pid;           /* 0 until the seed exists */
    int mem_fd;              /* /proc/PID/mem of the seed, -1 if not open */
    int engine_pidfd_in_target; /* the target's pidfd of the engine (pidfd_getfd source), -1 */
    uint64_t gadget;         /* address of the injection `syscall` in this process */
    struct sls_tracker *tracker; /* SLS_RESTORE_TRACK: opened before it runs, NULL if none */
};

/* Pipes the engine creates once per captured pipe inode and hands to every process holding an end. */
struct rst_pipe {
    uint64_t ino;
    int rfd, wfd;
};

/* Shared memory objects (shared anonymous, memfd) made once per captured inode, mapped by all. */
struct rst_shm {
    uint64_t ino;
    int fd;
};

/* Sockets the engine makes once per captured socket inode (both ends of a pair at once). */
struct rst_sock {
    uint64_t ino;
    int fd;
};

struct rst_file_map {
    const uint8_t *base;
    size_t len;
};

struct rst_ctx {
    int32_t flags;                      /* SLS_RESTORE_* */
    const char *seed_path;
    uint8_t *image;                     /* the whole image file */
    size_t image_len;
    struct rst_proc *procs;
    int nprocs;
    const struct sls_page_segment *segs;
    int32_t nsegs;
    const char *const *files;
    int32_t nfiles;
    struct rst_file_map *file_maps;     /* mmap of files[i], lazily */
    uint64_t gadget_addr;               /* where the gadget page goes in every process */
    struct rst_pipe *pipes;
    int npipes;
    struct rst_shm *shms;
    int nshms;
    struct rst_sock *socks;
    int nsocks;
    char *err;
    size_t errlen;
    int failed;                         /* the first error is kept, later ones are consequences */
    char note[384];                     /* on success: why some process was left untracked */
    int nuntracked;
};

/* Records the first error (one line, printf format) and returns -e (e > 0 is an errno). */
int rst_fail(struct rst_ctx *c, int e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* restore_image.c */
uint32_t rst_crc32c(const void *data, size_t len);
int rst_parse_image(struct rst_ctx *c, const char *image_path);
void rst_free_image(struct rst_ctx *c);
int rst_find_proc(const struct rst_ctx *c, pid_t old_pid);

/* restore_seed.c */
int rst_seed_start(struct rst_ctx *c, struct rst_proc *p);
int rst_seed_fork_child(struct rst_ctx *c, struct rst_proc *parent, struct rst_proc *child);
int rst_seed_map_gadget(struct rst_ctx *c, struct rst_proc *p);
int rst_inject(struct rst_ctx *c, struct rst_proc *p, pid_t tid, long nr, const long args[6], long *ret);
/* Injects and fails with a message naming `what` when the call returns an error. */
int rst_inject_ok(struct rst_ctx *c, struct rst_proc *p, pid_t tid, long nr, const long args[6],
                  long *ret, const char *what);
int rst_write_remote(struct rst_ctx *c, struct rst_proc *p, uint64_t addr, const void *buf, size_t len);
int rst_read_remote(struct rst_ctx *c, struct rst_proc *p, uint64_t addr, void *buf, size_t len);
int rst_block_signals(struct rst_ctx *c, struct rst_proc *p, pid_t tid);
int rst_wait_stop(struct rst_ctx *c, pid_t tid, int *status);
uint64_t rst_scratch(const struct rst_proc *p);

/* restore_mm.c */
int rst_choose_gadget_addr(struct rst_ctx *c);
int rst_check_mapped_files(struct rst_ctx *c, struct rst_proc *p);
int rst_restore_mm(struct rst_ctx *c, struct rst_proc *p);
int rst_switch_gadget_to_target(struct rst_ctx *c, struct rst_proc *p);
int rst_unmap_gadget(struct rst_ctx *c, struct rst_proc *p);
int rst_set_mm_map(struct rst_ctx *c, struct rst_proc *p);

/* restore_files.c */
int rst_check_files(struct rst_ctx *c, struct rst_proc *p);
int rst_restore_files(struct rst_ctx *c, struct rst_proc *p);
int rst_restore_fs_state(struct rst_ctx *c, struct rst_proc *p);
int rst_pull_fd(struct rst_ctx *c, struct rst_proc *p, int engine_fd, long *target_fd);
int rst_close_seed_fds(struct rst_ctx *c, struct rst_proc *p);
void rst_close_engine_objects(struct rst_ctx *c);

/* restore_sockets.c */
int rst_open_socket(struct rst_ctx *c, struct rst_proc *p, const struct rst_fd *rf, int *out);
void rst_close_sockets(struct rst_ctx *c);

/* restore_signals.c */
int rst_restore_sigactions(struct rst_ctx *c, struct rst_proc *p);
int rst_restore_pending(struct rst_ctx *c, struct rst_proc *p);
int rst_restore_proc_state(struct rst_ctx *c, struct rst_proc *p);
int rst_restore_session(struct rst_ctx *c, struct rst_proc *p);
int rst_restore_rlimits(struct rst_ctx *c, struct rst_proc *p);
int rst_restore_late_proc_state(struct rst_ctx *c, struct rst_proc *p);
int rst_restore_creds(struct rst_ctx *c, struct rst_proc *p);

/* restore_track.c: open (never fails the restore), hand to the engine's table, or close on failure */
void rst_open_tracking(struct rst_ctx *c, struct rst_proc *p);
void rst_keep_tracking(struct rst_ctx *c);
void rst_close_tracking(struct rst_ctx *c);

/* restore_threads.c */
int rst_create_threads(struct rst_ctx *c, struct rst_proc *p);
int rst_restore_thread_state(struct rst_ctx *c, struct rst_proc *p);
int rst_set_registers(struct rst_ctx *c, struct rst_proc *p);
void rst_detach(struct rst_ctx *c, struct rst_proc *p);
void rst_kill(struct rst_ctx *c, struct rst_proc *p);

#endif /* SLS_RESTORE_H */
