/*
 * probe.c — the library's identity and the kernel features the engine relies on, detected at run
 * time (never assumed): soft-dirty, userfaultfd write-protect (async), PAGEMAP_SCAN, clone3 set_tid,
 * pidfd_getfd, ptrace, PR_SET_MM_MAP, capabilities, the vDSO areas.
 */
#include "pagemap_scan.h"
#include "slsnative.h"
#include "track.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef PR_SET_MM_MAP_SIZE
#define PR_SET_MM_MAP_SIZE 15
#endif

#define CAP_SYS_ADMIN 21
#define CAP_SYS_PTRACE 19
#define CAP_SYS_RESOURCE 24
#define CAP_CHECKPOINT_RESTORE 40

int sls_abi_version(void)
{
    return SLS_ABI_VERSION;
}

const char *sls_version(void)
{
    return "slsnative 0.1.0 (image format " "1" ")";
}

struct out {
    char *buf;
    size_t len, used;
};

__attribute__((format(printf, 2, 3)))
static void emit(struct out *o, const char *fmt, ...)
{
    if (o->used >= o->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->used += (size_t)n < o->len - o->used ? (size_t)n : o->len - o->used - 1;
}

static const char *yes_no(int v)
{
    return v ? "yes" : "no";
}

static uint64_t cap_eff(void)
{
    char *s;
    uint64_t v = 0;
    if (sls_read_file("/proc/self/status", &s) >= 0) {
        char *p = strstr(s, "\nCapEff:");
        if (p)
            v = strtoull(p + 8, NULL, 16);
        free(s);
    }
    return v;
}

static int soft_dirty(void)
{
    unsigned char *pg = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pg == MAP_FAILED)
        return 0;
    pg[0] = 1; /* a freshly written page is soft-dirty when the kernel tracks it */
    uint64_t e = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (pread(fd, &e, 8, (off_t)((uintptr_t)pg / 4096 * 8)) != 8)
            e = 0;
        close(fd);
    }
    munmap(pg, 4096);
    return (e & PM_SOFTDIRTY) != 0;
}

static uint64_t uffd_features(int *available)
{
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    *available = fd >= 0;
    if (fd < 0)
        return 0;
    struct uffdio_api api = { .api = UFFD_API, .features = 0 };
    uint64_t f = ioctl(fd, UFFDIO_API, &api) == 0 ? api.features : 0;
    close(fd);
    return f;
}

static int pagemap_scan(void)
{
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct page_region r;
    uint64_t addr = (uintptr_t)&r & ~4095ull;
    struct pm_scan_arg a = {
        .size = sizeof(a), .start = addr, .end = addr + 4096, .vec = (uintptr_t)&r, .vec_len = 1,
        .category_anyof_mask = PAGE_IS_PRESENT, .return_mask = PAGE_IS_PRESENT,
    };
    int ok = ioctl(fd, PAGEMAP_SCAN, &a) >= 0;
    close(fd);
    return ok;
}

static int pidfd_getfd_works(void)
{
    int pfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (pfd < 0)
        return 0;
    int d = (int)syscall(SYS_pidfd_getfd, pfd, pfd, 0);
    if (d >= 0)
        close(d);
    close(pfd);
    return d >= 0;
}

static void vdso_areas(struct out *o)
{
    char *maps;
    emit(o, "vdso_areas=");
    if (sls_read_file("/proc/self/maps", &maps) >= 0) {
        int first = 1;
        const char *names[] = { "[vvar]", "[vvar_vclock]", "[vdso]", "[vsyscall]" };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            char key[32];
            snprintf(key, sizeof(key), " %s\n", names[i]);
            if (strstr(maps, key)) {
                emit(o, "%s%s", first ? "" : ",", names[i]);
                first = 0;
            }
        }
        free(maps);
    }
    emit(o, "\n");
}

static void file_line(struct out *o, const char *name, const char *path)
{
    char *s;
    if (sls_read_file(path, &s) >= 0) {
        s[strcspn(s, "\n")] = 0;
        emit(o, "%s=%s\n", name, s);
        free(s);
    } else {
        emit(o, "%s=unknown\n", name);
    }
}

int sls_probe(char *buf, size_t len, char *err, size_t errlen)
{
    if (!buf || len == 0)
        return sls_errf(err, errlen, EINVAL, "sls_probe: no buffer");
    struct out o = { buf, len, 0 };
    buf[0] = 0;
    struct utsname u;
    uname(&u);
    emit(&o, "engine=%s\n", sls_version());
    emit(&o, "kernel=%s %s\n", u.release, u.machine);
    uint64_t caps = cap_eff();
    emit(&o, "cap_sys_ptrace=%s\n", yes_no(caps & (1ull << CAP_SYS_PTRACE)));
    emit(&o, "cap_checkpoint_restore=%s\n",
         yes_no(caps & ((1ull << CAP_CHECKPOINT_RESTORE) | (1ull << CAP_SYS_ADMIN))));
    emit(&o, "cap_sys_resource=%s\n", yes_no(caps & (1ull << CAP_SYS_RESOURCE)));
    file_line(&o, "ptrace_scope", "/proc/sys/kernel/yama/ptrace_scope");
    emit(&o, "soft_dirty=%s\n", yes_no(soft_dirty()));
    int uffd = 0;
    uint64_t feat = uffd_features(&uffd);
    emit(&o, "userfaultfd=%s\n", yes_no(uffd));
    emit(&o, "uffd_wp_async=%s\n", yes_no(feat & UFFD_FEATURE_WP_ASYNC));
    emit(&o, "uffd_wp_unpopulated=%s\n", yes_no(feat & UFFD_FEATURE_WP_UNPOPULATED));
    int scan = pagemap_scan();
    emit(&o, "pagemap_scan=%s\n", yes_no(scan));
    long r = syscall(SYS_clone3, NULL, 0);
    int clone3 = !(r < 0 && errno == ENOSYS);
    emit(&o, "clone3=%s\n", yes_no(clone3));
    emit(&o, "clone3_set_tid=%s\n",
         yes_no(clone3 && (caps & ((1ull << CAP_CHECKPOINT_RESTORE) | (1ull << CAP_SYS_ADMIN)))));
    int getfd = pidfd_getfd_works();
    emit(&o, "pidfd_getfd=%s\n", yes_no(getfd));
    /* SLS_CAPTURE_SHADOW (shadow.c): a synchronous write-protect uffd held by the engine, its pages
     * found by a plain PAGEMAP_SCAN */
    if (!(uffd && (feat & UFFD_FEATURE_PAGEFAULT_FLAG_WP) && (feat & UFFD_FEATURE_WP_UNPOPULATED)))
        emit(&o, "shadowing=no (needs userfaultfd write-protect with WP_UNPOPULATED)\n");
    else if (!scan || !getfd)
        emit(&o, "shadowing=no (needs PAGEMAP_SCAN and pidfd_getfd)\n");
    else
        emit(&o, "shadowing=yes (synchronous userfaultfd write-protect)\n");
    unsigned int mmsize = 0;
    int mm = prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &mmsize, 0, 0) == 0;
    emit(&o, "pr_set_mm_map=%s\n", mm ? "yes" : "no");
    if (mm)
        emit(&o, "pr_set_mm_map_size=%u\n", mmsize);
    emit(&o, "proc_children=%s\n", yes_no(access("/proc/self/task/self/children", R_OK) == 0 ||
                                      access("/proc/thread-self/children", R_OK) == 0));
    file_line(&o, "pid_max", "/proc/sys/kernel/pid_max");
    file_line(&o, "thp", "/sys/kernel/mm/transparent_hugepage/enabled");
    vdso_areas(&o);
    /* which dirty-page tracking delta captures use here (dirty_tracking=..., _available=...) */
    char track[256];
    sls_track_describe(track, sizeof(track));
    emit(&o, "%s", track);
    return (int)o.used;
}
