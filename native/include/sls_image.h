/*
 * sls_image.h — the binary image format sls_capture writes and sls_restore reads.
 *
 * An image file is a plain concatenation of process records, one per captured process, in capture
 * order (a parent before its descendants). Records are self-delimiting, so a caller may split a file
 * into records, store them separately and concatenate any subset back for restore.
 *
 * Every integer is little-endian, every layout below is fixed (explicit padding, sizes asserted), and
 * every entry starts 8-byte aligned relative to the record start, so both C (by casting) and Java (by
 * offset, ByteBuffer LITTLE_ENDIAN) read it without a schema compiler.
 *
 *   record   := sls_img_header  entry*            (header.total_len bytes in all)
 *   entry    := u32 tag  u32 len  payload[len]  zero padding to a multiple of 8
 *
 * header.crc32c is the CRC32C (Castagnoli, reflected, init ~0, final ~0 — the iSCSI/ext4 one) of the
 * bytes [header_len, total_len) of the record. Readers skip entries whose tag they do not know (that
 * is how the format grows without a version bump); a change of any layout below bumps
 * SLS_IMG_VERSION.
 *
 * Entry order inside a record: PROC, RLIMIT, THREAD (main thread first), TASK_COMM, SECCOMP, SIGACT, ITIMER,
 * PENDING (shared queue first, then per thread), VMA (ascending address), PAGERUN, FD (ascending fd). Variable-length data of an entry
 * (paths, blobs) follows its fixed struct in the order the struct's *_len fields are declared.
 * Strings are not NUL-terminated; their length is given.
 *
 * Page contents are never in the image: PAGERUN entries say where each run of captured pages lives
 * in the page file of that capture. Pages that are not in any run are either absent (never touched:
 * restore leaves them unpopulated) or, for private file mappings, still the file's own page (restore
 * maps the file and the kernel reads it).
 */
#ifndef SLS_IMAGE_H
#define SLS_IMAGE_H

#include <stdint.h>

#define SLS_IMG_MAGIC   0x49534c53u /* "SLSI" as bytes */
#define SLS_IMG_VERSION 1
#define SLS_IMG_ALIGN   8

struct sls_img_header {
    uint32_t magic;       /* SLS_IMG_MAGIC */
    uint16_t version;     /* SLS_IMG_VERSION */
    uint16_t header_len;  /* sizeof(struct sls_img_header); entries start here */
    uint32_t total_len;   /* whole record, header included, multiple of 8 */
    uint32_t crc32c;      /* of bytes [header_len, total_len) */
    int32_t pid;          /* PID at capture (same as PROC.pid; here so a record is identified cheaply) */
    uint32_t nentries;
    uint64_t capture_realtime_ns; /* CLOCK_REALTIME when the process was frozen */
};

struct sls_img_entry {
    uint32_t tag;
    uint32_t len; /* payload bytes, padding excluded */
};

enum sls_img_tag {
    SLS_TAG_PROC    = 1,  /* struct sls_img_proc + groups + exe + cwd + root + auxv */
    SLS_TAG_THREAD  = 2,  /* struct sls_img_thread + xsave */
    SLS_TAG_SIGACT  = 3,  /* struct sls_img_sigact[SLS_NSIG] (index i is signal i+1) */
    SLS_TAG_PENDING = 4,  /* struct sls_img_pending + count * 128-byte siginfo_t */
    SLS_TAG_RLIMIT  = 5,  /* struct sls_img_rlimit[SLS_NRLIMIT] (RLIMIT_* order) */
    SLS_TAG_VMA     = 6,  /* struct sls_img_vma + path */
    SLS_TAG_PAGERUN = 7,  /* struct sls_img_pagerun[len / 24] */
    SLS_TAG_FD      = 8,  /* struct sls_img_fd + path + type-specific extra */
    SLS_TAG_ITIMER  = 9,  /* struct sls_img_itimer[3] (ITIMER_REAL, _VIRTUAL, _PROF) */
    SLS_TAG_TASK_COMM = 10, /* struct sls_img_task_comm: a thread's name (pthread_setname_np), one per
                             * thread, after the THREAD entries (added in version 1: readers that do
                             * not know it skip it) */
    SLS_TAG_SECCOMP = 11,   /* struct sls_img_seccomp + filters: one per thread under seccomp, after
                             * the TASK_COMM entries (added in version 1, like TASK_COMM) */
};

/* ---- PROC ------------------------------------------------------------------------------------- */

#define SLS_PROC_STOPPED 0x1 /* was in a group stop (State T) when frozen: restore leaves it stopped */

struct sls_img_proc {
    int32_t pid, ppid, pgid, sid;
    uint32_t nthreads;
    uint32_t umask;
    uint32_t personality;
    uint32_t flags;            /* SLS_PROC_* */
    char comm[16];             /* NUL-padded */
    uint32_t uid[4];           /* real, effective, saved, fs */
    uint32_t gid[4];
    uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
    uint64_t start_code, end_code, start_data, end_data;
    uint64_t start_brk, brk;   /* brk from an injected brk(0): /proc does not show it */
    uint64_t start_stack;
    uint64_t arg_start, arg_end, env_start, env_end;
    uint64_t exe_dev, exe_ino; /* to check the executable did not change */
    int32_t exit_signal;       /* signal sent to the parent on exit (usually SIGCHLD) */
    int32_t pdeath_signal;     /* PR_GET_PDEATHSIG, 0 if none */
    uint32_t dumpable;         /* PR_GET_DUMPABLE */
    uint32_t no_new_privs;     /* PR_GET_NO_NEW_PRIVS */
    uint32_t child_subreaper;  /* PR_GET_CHILD_SUBREAPER */
    uint32_t ngroups;          /* supplementary groups: ngroups * u32 follow the struct */
    uint32_t exe_len, cwd_len, root_len;
    uint32_t auxv_len;         /* bytes of /proc/PID/auxv (u64 type/value pairs, AT_NULL included) */
};

/* ---- THREAD ----------------------------------------------------------------------------------- */

/* x86-64 general registers exactly as PTRACE_GETREGSET NT_PRSTATUS returns them (user_regs_struct). */
struct sls_img_regs {
    uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
    uint64_t rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs, eflags, rsp, ss;
    uint64_t fs_base, gs_base, ds, es, fs, gs;
};

#define SLS_THREAD_MAIN       0x1 /* tid == pid */
#define SLS_THREAD_IN_SYSCALL 0x2 /* stopped inside a syscall: orig_rax >= 0; rax holds the result so
                                   * far, possibly -ERESTARTSYS(512) / -ERESTARTNOINTR(513) /
                                   * -ERESTARTNOHAND(514) / -ERESTART_RESTARTBLOCK(516) */

struct sls_img_thread {
    int32_t tid;
    uint32_t flags;             /* SLS_THREAD_* */
    struct sls_img_regs regs;   /* as captured: nothing adjusted for restart */
    uint64_t sigmask;           /* PTRACE_GETSIGMASK (the saved mask if inside sigsuspend/ppoll...) */
    uint64_t clear_child_tid;   /* PR_GET_TID_ADDRESS, injected */
    uint64_t robust_list_head;  /* get_robust_list(tid) */
    uint64_t robust_list_len;
    uint64_t rseq_addr;         /* PTRACE_GET_RSEQ_CONFIGURATION; 0 if not registered */
    uint32_t rseq_len;
    uint32_t rseq_sig;
    uint32_t rseq_flags;
    uint32_t altstack_flags;    /* stack_t.ss_flags from an injected sigaltstack(NULL, &old) */
    uint64_t altstack_sp;
    uint64_t altstack_size;
    int32_t sched_policy;       /* sched_getscheduler(tid) */
    int32_t nice;               /* getpriority(PRIO_PROCESS, tid) as the nice value */
    uint32_t reserved;
    uint32_t xsave_len;         /* bytes of NT_X86_XSTATE that follow */
};

struct sls_img_task_comm {
    int32_t tid;
    char comm[16];          /* /proc/PID/task/TID/comm, NUL-padded */
    uint32_t reserved;
};

/*
 * A thread's seccomp state (PTRACE_SECCOMP_GET_FILTER): nfilters times { struct
 * sls_img_seccomp_filter, ninsns * 8-byte struct sock_filter }, the most recently installed filter
 * first (index 0), so restore installs them in reverse order, and last of all: a filter may forbid
 * the very calls restore injects.
 */
struct sls_img_seccomp {
    int32_t tid;
    uint32_t mode;          /* 1 SECCOMP_MODE_STRICT (no filters), 2 SECCOMP_MODE_FILTER */
    uint32_t nfilters;
    uint32_t reserved;
};

struct sls_img_seccomp_filter {
    uint64_t flags;         /* PTRACE_SECCOMP_GET_METADATA flags (SECCOMP_FILTER_FLAG_LOG, ...) */
    uint32_t ninsns;
    uint32_t reserved;
};

/* ---- SIGACT, PENDING, RLIMIT, ITIMER ------------------------------------------------------------ */

#define SLS_NSIG 64

/* Kernel layout of struct sigaction for rt_sigaction on x86-64. */
struct sls_img_sigact {
    uint64_t handler; /* SIG_DFL = 0, SIG_IGN = 1, or an address */
    uint64_t flags;   /* SA_* */
    uint64_t restorer;
    uint64_t mask;
};

struct sls_img_pending {
    int32_t tid;      /* 0: the process-wide (shared) queue */
    uint32_t count;   /* count * 128-byte siginfo_t follow, oldest first (PTRACE_PEEKSIGINFO) */
};

#define SLS_NRLIMIT 16
struct sls_img_rlimit {
    uint64_t cur, max; /* RLIM_INFINITY = ~0 */
};

struct sls_img_itimer {
    uint64_t interval_sec, interval_usec, value_sec, value_usec; /* getitimer, injected */
};

/* ---- VMA -------------------------------------------------------------------------------------- */

enum sls_vma_kind {
    SLS_VMA_ANON        = 0, /* anonymous (private, or shared: MAP_SHARED|MAP_ANONYMOUS) */
    SLS_VMA_FILE        = 1, /* backed by the file at path (dev/inode/size/mtime to detect changes) */
    SLS_VMA_HEAP        = 2, /* [heap] */
    SLS_VMA_STACK       = 3, /* [stack] */
    SLS_VMA_VDSO        = 4, /* [vdso] */
    SLS_VMA_VVAR        = 5, /* [vvar] */
    SLS_VMA_VVAR_VCLOCK = 6, /* [vvar_vclock] */
    SLS_VMA_VSYSCALL    = 7, /* [vsyscall] (fixed by the kernel; nothing to restore) */
    SLS_VMA_MEMFD       = 8, /* file mapping of a memfd (path "/memfd:NAME (deleted)"): contents captured */
    SLS_VMA_DELETED     = 9, /* file mapping of an unlinked file: contents captured, path kept for info */
};

#define SLS_VMA_SHARED     0x001 /* MAP_SHARED (maps 's'), else private */
#define SLS_VMA_GROWSDOWN  0x002 /* smaps "gd" */
#define SLS_VMA_NORESERVE  0x004 /* "nr" */
#define SLS_VMA_NOHUGEPAGE 0x008 /* "nh" */
#define SLS_VMA_HUGEPAGE   0x010 /* "hg" */
#define SLS_VMA_LOCKED     0x020 /* "lo" */
#define SLS_VMA_DONTDUMP   0x040 /* "dd" */
#define SLS_VMA_DONTFORK   0x080 /* "dc" */
#define SLS_VMA_WIPEONFORK 0x100 /* "wf" */
#define SLS_VMA_MERGEABLE  0x200 /* "mg" (KSM) */
#define SLS_VMA_SEALED     0x400 /* "sl" (mseal) */

struct sls_img_vma {
    uint64_t start, end;   /* [start, end), page aligned */
    uint64_t pgoff;        /* file offset in bytes (maps column 3) */
    uint32_t dev_major, dev_minor;
    uint64_t inode;
    uint64_t file_size;    /* stat of the mapped file at capture (0 for non-files) */
    int64_t file_mtime_ns;
    uint32_t prot;         /* PROT_READ | PROT_WRITE | PROT_EXEC */
    uint32_t flags;        /* SLS_VMA_* */
    uint32_t kind;         /* enum sls_vma_kind */
    uint32_t path_len;     /* path as maps shows it (" (deleted)" included) */
};

/* ---- PAGERUN ---------------------------------------------------------------------------------- */

/* An array: one entry holds len / sizeof(struct sls_img_pagerun) runs, ascending by addr. */
struct sls_img_pagerun {
    uint64_t addr;    /* page aligned virtual address */
    uint64_t npages;  /* 4 KiB pages */
    uint64_t offset;  /* byte offset of the first page in the page file (page aligned) */
};

/* ---- FD --------------------------------------------------------------------------------------- */

enum sls_fd_type {
    SLS_FD_REG      = 1,  /* regular file (unlinked: contents in extra, see SLS_FDX_UNLINKED) */
    SLS_FD_DIR      = 2,
    SLS_FD_PIPE     = 3,  /* extra: struct sls_img_fd_pipe + buffered bytes */
    SLS_FD_FIFO     = 4,  /* named pipe; extra as PIPE */
    SLS_FD_CHR      = 5,  /* character device (/dev/null, /dev/zero, /dev/urandom, ...) */
    SLS_FD_TTY      = 6,  /* terminal or pty (path names it) */
    SLS_FD_UNIX     = 7,  /* extra: struct sls_img_fd_socket + addr + peer addr */
    SLS_FD_TCP      = 8,  /* extra: struct sls_img_fd_socket (only LISTEN or unconnected is captured) */
    SLS_FD_UDP      = 9,  /* extra: struct sls_img_fd_socket */
    SLS_FD_EVENTFD  = 10, /* extra: struct sls_img_fd_eventfd */
    SLS_FD_EPOLL    = 11, /* extra: struct sls_img_fd_epoll_target[] */
    SLS_FD_TIMERFD  = 12, /* extra: struct sls_img_fd_timerfd */
    SLS_FD_SIGNALFD = 13, /* extra: u64 sigmask */
    SLS_FD_INOTIFY  = 14, /* extra: struct sls_img_fd_inotify_watch[] */
    SLS_FD_MEMFD    = 15, /* extra: file contents (size = extra_len), name in path */
};

#define SLS_FDX_UNLINKED 0x1 /* REG: the file was unlinked; extra holds its contents */

struct sls_img_fd {
    int32_t fd;
    uint32_t fd_flags;     /* FD_CLOEXEC */
    uint32_t file_flags;   /* O_* from fdinfo "flags" (access mode, O_APPEND, O_NONBLOCK, ...) */
    uint32_t type;         /* enum sls_fd_type */
    uint64_t pos;          /* fdinfo "pos" */
    uint64_t dev;          /* st_dev of the open file (makedev encoding) */
    uint64_t inode;
    uint32_t mode;         /* st_mode */
    uint32_t mnt_id;
    uint64_t size;         /* st_size */
    int64_t mtime_ns;
    uint32_t xflags;       /* SLS_FDX_* */
    uint32_t rdev_major, rdev_minor; /* CHR/TTY: device numbers */
    uint32_t path_len;     /* readlink of /proc/PID/fd/N */
    uint32_t extra_len;    /* type-specific bytes after the path */
    uint32_t reserved;
};

struct sls_img_fd_pipe {
    uint64_t pipe_ino;     /* the same for both ends; restore pairs ends by it */
    uint32_t pipe_size;    /* F_GETPIPE_SZ */
    uint32_t data_len;     /* buffered bytes that follow; only the first fd of a pipe in the capture
                            * (lowest pid, then lowest fd) carries them, the others have 0 and
                            * SLS_PIPE_DATA_ELSEWHERE */
    uint32_t pipe_flags;   /* SLS_PIPE_* */
    uint32_t reserved;
};
#define SLS_PIPE_DATA_ELSEWHERE 0x1

struct sls_img_fd_socket {
    uint32_t family;       /* AF_UNIX, AF_INET, AF_INET6 */
    uint32_t type;         /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
    uint32_t protocol;
    uint32_t state;        /* TCP_* numbering (10 = LISTEN, 7 = CLOSE, 1 = ESTABLISHED) */
    uint64_t ino;          /* socket inode */
    uint64_t peer_ino;     /* AF_UNIX: the peer's inode (0 if none) */
    uint32_t backlog;      /* listen backlog if known (0 otherwise) */
    uint32_t addr_len;     /* struct sockaddr bytes that follow: local address */
    uint32_t peer_len;     /* then the peer address */
    uint32_t sock_flags;   /* SLS_SOCK_* (0 in images written before the flag existed) */
};
/* A connection whose peer is outside the capture (a TCP connection in any state but LISTEN/CLOSE,
 * or a unix stream connected to an unnamed peer): it cannot be carried over, so restore hands the
 * process a socket that reads EOF and fails writes with EPIPE, as if the peer had closed it. */
#define SLS_SOCK_CLOSED_ON_RESTORE 0x1
/* An AF_INET6 socket with IPV6_V6ONLY set (restore sets it again before the bind). */
#define SLS_SOCK_V6ONLY 0x2

struct sls_img_fd_eventfd {
    uint64_t count;
    uint32_t semaphore;    /* EFD_SEMAPHORE */
    uint32_t reserved;
};

struct sls_img_fd_epoll_target {
    int32_t tfd;           /* the watched fd number */
    uint32_t events;
    uint64_t data;
    uint64_t pos;          /* fdinfo "pos" of the watched file (identifies it with tinode) */
    uint64_t tinode;
};

struct sls_img_fd_timerfd {
    int32_t clockid;
    uint32_t settime_flags;
    uint64_t ticks;        /* expirations not yet read */
    uint64_t value_sec, value_nsec;       /* it_value: time to next expiry (relative) */
    uint64_t interval_sec, interval_nsec;
};

struct sls_img_fd_inotify_watch {
    int32_t wd;
    uint32_t mask;
    uint64_t ino;
    uint32_t sdev;         /* kernel dev encoding as fdinfo prints it */
    uint32_t reserved;
};

#define SLS_IMG_PAD(n) (((n) + (SLS_IMG_ALIGN - 1)) & ~(uint32_t)(SLS_IMG_ALIGN - 1))

_Static_assert(sizeof(struct sls_img_header) == 32, "header layout");
_Static_assert(sizeof(struct sls_img_entry) == 8, "entry layout");
_Static_assert(sizeof(struct sls_img_proc) == 264, "proc layout");
_Static_assert(sizeof(struct sls_img_regs) == 216, "regs layout");
_Static_assert(sizeof(struct sls_img_thread) == 312, "thread layout");
_Static_assert(sizeof(struct sls_img_task_comm) == 24, "task comm layout");
_Static_assert(sizeof(struct sls_img_seccomp) == 16, "seccomp layout");
_Static_assert(sizeof(struct sls_img_seccomp_filter) == 16, "seccomp filter layout");
_Static_assert(sizeof(struct sls_img_sigact) == 32, "sigact layout");
_Static_assert(sizeof(struct sls_img_pending) == 8, "pending layout");
_Static_assert(sizeof(struct sls_img_rlimit) == 16, "rlimit layout");
_Static_assert(sizeof(struct sls_img_itimer) == 32, "itimer layout");
_Static_assert(sizeof(struct sls_img_vma) == 72, "vma layout");
_Static_assert(sizeof(struct sls_img_pagerun) == 24, "pagerun layout");
_Static_assert(sizeof(struct sls_img_fd) == 88, "fd layout");
_Static_assert(sizeof(struct sls_img_fd_pipe) == 24, "pipe layout");
_Static_assert(sizeof(struct sls_img_fd_socket) == 48, "socket layout");
_Static_assert(sizeof(struct sls_img_fd_eventfd) == 16, "eventfd layout");
_Static_assert(sizeof(struct sls_img_fd_epoll_target) == 32, "epoll layout");
_Static_assert(sizeof(struct sls_img_fd_timerfd) == 48, "timerfd layout");
_Static_assert(sizeof(struct sls_img_fd_inotify_watch) == 24, "inotify layout");

#endif /* SLS_IMAGE_H */
