/*
 * maps.c — the memory map from /proc/PID/smaps (maps lines + VmFlags), classified for restore.
 *
 * smaps costs a page-table walk per region (about 2 ms for 64 MiB touched, 8 ms for 1 GiB), so the
 * capture reads it before the freeze and, while frozen, only checks that /proc/PID/maps (no walk,
 * ~20 us) still shows exactly the lines smaps had: then the early read is the map at the freeze.
 * What that check cannot see: a VmFlags-only change of a whole region (madvise DONTFORK/DONTDUMP/
 * HUGEPAGE/WIPEONFORK/MERGEABLE, mlock, mseal on exactly one whole VMA) made between the early
 * read and the freeze; such a capture records the flags as they were before the freeze. Delta
 * captures also reuse the previous capture's read while the maps lines stay the same, for at most
 * SLS_MAPS_CACHE_NS (1 s, engine_tracking.h): that is how late such a change can be seen.
 */
#include "capture_int.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

static const struct {
    const char *name;
    uint32_t kind;
} special[] = {
    { "[heap]", SLS_VMA_HEAP },       { "[stack]", SLS_VMA_STACK },
    { "[vdso]", SLS_VMA_VDSO },       { "[vvar]", SLS_VMA_VVAR },
    { "[vvar_vclock]", SLS_VMA_VVAR_VCLOCK }, { "[vsyscall]", SLS_VMA_VSYSCALL },
};

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int has_flag(const char *vmflags, const char *f)
{
    for (const char *p = vmflags; (p = strstr(p, f)); p += 2)
        if ((p == vmflags || p[-1] == ' ') && (p[2] == ' ' || p[2] == '\n' || p[2] == 0))
            return 1;
    return 0;
}

/* Sets kind and refuses what the engine cannot rebuild; vmflags is the VmFlags line. */
static int classify(struct sls_capture_ctx *c, pid_t pid, struct sls_vma *v, const char *vmflags)
{
    const char *path = v->path;
    struct sls_img_vma *m = &v->img;
    if (has_flag(vmflags, "ht"))
        return CERR(c, ENOTSUP, "pid %d: region %#lx-%#lx (%s): hugetlbfs mappings are not supported",
                    pid, (unsigned long)m->start, (unsigned long)m->end, path);
    if (path[0] == '[') {
        for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
            if (strcmp(path, special[i].name) == 0) {
                m->kind = special[i].kind;
                return 0;
            }
        }
        if (strncmp(path, "[anon:", 6) == 0 || strncmp(path, "[anon_shmem:", 12) == 0) {
            m->kind = SLS_VMA_ANON; /* a named anonymous region (PR_SET_VMA_ANON_NAME) */
            return 0;
        }
        return CERR(c, ENOTSUP, "pid %d: region %#lx-%#lx %s is not supported", pid,
                    (unsigned long)m->start, (unsigned long)m->end, path);
    }
    if (has_flag(vmflags, "io") || has_flag(vmflags, "pf"))
        return CERR(c, ENOTSUP, "pid %d: region %#lx-%#lx (%s): device (I/O or PFN) mappings are not "
                    "supported", pid, (unsigned long)m->start, (unsigned long)m->end, path);
    if (path[0] == 0) {
        m->kind = SLS_VMA_ANON;
        return 0;
    }
    if (strncmp(path, "/SYSV", 5) == 0)
        return CERR(c, ENOTSUP, "pid %d: region %#lx-%#lx: SysV shared memory segment %s is not "
                    "supported", pid, (unsigned long)m->start, (unsigned long)m->end, path);
    if (strcmp(path, "/dev/zero (deleted)") == 0 || strcmp(path, "/dev/zero") == 0) {
        m->kind = SLS_VMA_ANON; /* MAP_ANONYMOUS|MAP_SHARED (shmem) or a private /dev/zero map */
        return 0;
    }
    if (strncmp(path, "anon_inode:", 11) == 0)
        return CERR(c, ENOTSUP, "pid %d: region %#lx-%#lx: mapping of %s is not supported", pid,
                    (unsigned long)m->start, (unsigned long)m->end, path);
    if (strncmp(path, "/memfd:", 7) == 0) {
        m->kind = SLS_VMA_MEMFD;
        return 0;
    }
    /* stat what is really mapped (the path may name another file by now) */
    char mf[96];
    snprintf(mf, sizeof(mf), "/proc/%d/map_files/%lx-%lx", pid, (unsigned long)m->start,
             (unsigned long)m->end);
    struct stat st;
    if (stat(mf, &st) == 0) {
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
            return CERR(c, ENOTSUP, "pid %d: region %#lx-%#lx: mapping of device %s is not supported",
                        pid, (unsigned long)m->start, (unsigned long)m->end, path);
        m->file_size = (uint64_t)st.st_size;
        m->file_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    }
    m->kind = ends_with(path, " (deleted)") ? SLS_VMA_DELETED : SLS_VMA_FILE;
    return 0;
}

static uint32_t vm_flags(const char *vmflags, int shared)
{
    static const struct {
        const char *f;
        uint32_t bit;
    } map[] = {
        { "gd", SLS_VMA_GROWSDOWN }, { "nr", SLS_VMA_NORESERVE }, { "nh", SLS_VMA_NOHUGEPAGE },
        { "hg", SLS_VMA_HUGEPAGE },  { "lo", SLS_VMA_LOCKED },    { "dd", SLS_VMA_DONTDUMP },
        { "dc", SLS_VMA_DONTFORK },  { "wf", SLS_VMA_WIPEONFORK }, { "mg", SLS_VMA_MERGEABLE },
        { "sl", SLS_VMA_SEALED },
    };
    uint32_t flags = shared ? SLS_VMA_SHARED : 0;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (has_flag(vmflags, map[i].f))
            flags |= map[i].bit;
    return flags;
}

void sls_free_vmas(struct sls_vma *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].path);
    free(v);
}

int sls_read_vmas(struct sls_capture_ctx *c, pid_t pid, struct sls_vma **out, size_t *nout,
                  char **maps_text)
{
    char path[64], *txt;
    snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
    ssize_t len = sls_read_file(path, &txt);
    if (len < 0)
        return CERR(c, ESRCH, "pid %d: cannot read %s", pid, path);
    /* the maps lines are copied out as they go by: they are what /proc/PID/maps shows */
    char *lines = maps_text ? malloc((size_t)len + 1) : NULL;
    size_t lines_len = 0;
    if (maps_text && !lines) {
        free(txt);
        return CERR(c, ENOMEM, "pid %d: out of memory", pid);
    }
    struct sls_vma *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    char perms[8];
    for (char *line = txt; line && *line && !rc;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        unsigned long start, end, off, ino;
        unsigned int maj, min;
        int name_at = 0;
        /* a maps line starts with a hex digit; smaps' field lines with a capital letter */
        if (((*line >= '0' && *line <= '9') || (*line >= 'a' && *line <= 'f')) &&
            sscanf(line, "%lx-%lx %7s %lx %x:%x %lu %n", &start, &end, perms, &off, &maj, &min, &ino,
                   &name_at) >= 7) {
            if (lines) {
                size_t l = strlen(line);
                memcpy(lines + lines_len, line, l);
                lines[lines_len + l] = '\n';
                lines_len += l + 1;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                struct sls_vma *nv = realloc(v, cap * sizeof(*v));
                if (!nv) {
                    rc = CERR(c, ENOMEM, "pid %d: out of memory", pid);
                    break;
                }
                v = nv;
            }
            struct sls_vma *m = &v[n++];
            memset(m, 0, sizeof(*m));
            m->path = strdup(name_at ? line + name_at : "");
            if (!m->path) {
                rc = CERR(c, ENOMEM, "pid %d: out of memory", pid);
                break;
            }
            m->img.start = start;
            m->img.end = end;
            m->img.pgoff = off;
            m->img.dev_major = maj;
            m->img.dev_minor = min;
            m->img.inode = ino;
            m->img.prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
                          (perms[2] == 'x' ? PROT_EXEC : 0);
            m->img.flags = perms[3] == 's' ? SLS_VMA_SHARED : 0;
        } else if (strncmp(line, "VmFlags:", 8) == 0 && n > 0) {
            struct sls_vma *m = &v[n - 1];
            m->img.flags = vm_flags(line + 8, m->img.flags & SLS_VMA_SHARED);
            rc = classify(c, pid, m, line + 8);
            m->img.path_len = (uint32_t)strlen(m->path);
        }
        line = nl ? nl + 1 : NULL;
    }
    free(txt);
    if (rc) {
        sls_free_vmas(v, n);
        free(lines);
        return rc;
    }
    if (lines) {
        lines[lines_len] = 0;
        *maps_text = lines;
    }
    *out = v;
    *nout = n;
    return 0;
}

int sls_maps_unchanged(pid_t pid, const char *maps_text)
{
    char path[64], *now;
    snprintf(path, sizeof(path), "/proc/%d/maps", pid);
    if (sls_read_file(path, &now) < 0)
        return 0;
    int same = strcmp(now, maps_text) == 0;
    free(now);
    return same;
}
