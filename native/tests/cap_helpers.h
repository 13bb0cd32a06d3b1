/*
 * cap_helpers.h — shared by the capture tests: start a test program from build/tests/prog and talk to
 * it over its stdin/stdout, read an image back, check that a process is neither stopped nor traced.
 */
#ifndef SLS_CAP_HELPERS_H
#define SLS_CAP_HELPERS_H

#include "sls_image.h"

#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct prog {
    pid_t pid;
    FILE *out;     /* its stdout */
    int in;        /* its stdin */
    char ready[1024];
};

/* Starts build/tests/prog/NAME ARG and waits for its READY line. */
static inline int prog_start(struct prog *p, const char *name, const char *arg)
{
    char self[PATH_MAX], path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0)
        return -1;
    self[n] = 0;
    snprintf(path, sizeof(path), "%s/../prog/%s", dirname(self), name);
    int in[2], out[2];
    if (pipe(in) || pipe(out))
        return -1;
    p->pid = fork();
    if (p->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]); close(in[1]); close(out[0]); close(out[1]);
        execl(path, name, arg, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    p->in = in[1];
    p->out = fdopen(out[0], "r");
    if (!fgets(p->ready, sizeof(p->ready), p->out) || strncmp(p->ready, "READY", 5) != 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        return -1;
    }
    return 0;
}

/* Value of key=... in the READY line (hex with 0x, else decimal). */
static inline unsigned long prog_value(const struct prog *p, const char *key)
{
    char k[64];
    snprintf(k, sizeof(k), " %s=", key);
    const char *s = strstr(p->ready, k);
    return s ? strtoul(s + strlen(k), NULL, 0) : 0;
}

/* Waits (up to 2 s) until some thread of pid sits in syscall nr (or nr2), as /proc/PID/task/TID/syscall
 * shows it; a READY line is printed before the program reaches its blocking calls. */
static inline int wait_in_syscall(pid_t pid, long nr, long nr2)
{
    for (int i = 0; i < 2000; i++) {
        char cmd[96], line[256];
        snprintf(cmd, sizeof(cmd), "cat /proc/%d/task/*/syscall 2>/dev/null", pid);
        FILE *f = popen(cmd, "r");
        int found = 0;
        while (f && fgets(line, sizeof(line), f)) {
            long n = strtol(line, NULL, 10);
            if (line[0] != 'r' && (n == nr || n == nr2))
                found = 1;
        }
        if (f)
            pclose(f);
        if (found)
            return 0;
        usleep(1000);
    }
    return -1;
}

/* Sends "q", returns its verdict line (PASS or FAIL why) in line[len]; reaps it. */
static inline int prog_finish(struct prog *p, char *line, size_t len)
{
    if (write(p->in, "q\n", 2) != 2)
        snprintf(line, len, "could not write to it");
    else if (!fgets(line, (int)len, p->out))
        snprintf(line, len, "no verdict (it died?)");
    line[strcspn(line, "\n")] = 0;
    int st = 0;
    waitpid(p->pid, &st, 0);
    close(p->in);
    fclose(p->out);
    return st;
}

static inline void prog_kill(struct prog *p)
{
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    close(p->in);
    fclose(p->out);
}

/* 1 if every thread of pid runs freely: not stopped (T/t) and TracerPid 0. why says otherwise. */
static inline int free_running(pid_t pid, char *why, size_t len)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", pid);
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(why, len, "pid %d is gone", pid);
        return 0;
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "cat /proc/%d/task/*/status 2>/dev/null", pid);
    FILE *f = popen(cmd, "r");
    char line[256];
    int ok = 1;
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "State:", 6) == 0 && (strchr(line, 'T') || strstr(line, "t (")))
            ok = 0, snprintf(why, len, "pid %d has a thread in %.60s", pid, line);
        if (strncmp(line, "TracerPid:", 10) == 0 && atoi(line + 10) != 0)
            ok = 0, snprintf(why, len, "pid %d has a thread still traced (%.60s)", pid, line);
    }
    if (f)
        pclose(f);
    return ok;
}

/* ---- image reading ---- */

struct image {
    unsigned char *data;
    size_t len;
};

static inline int image_load(struct image *im, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    im->len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    im->data = malloc(im->len + 1);
    size_t got = fread(im->data, 1, im->len, f);
    fclose(f);
    return got == im->len ? 0 : -1;
}

/* The record of pid, or NULL. */
static inline const struct sls_img_header *image_record(const struct image *im, pid_t pid)
{
    for (size_t off = 0; off + sizeof(struct sls_img_header) <= im->len;) {
        const struct sls_img_header *h = (const void *)(im->data + off);
        if (h->magic != SLS_IMG_MAGIC || h->total_len == 0)
            return NULL;
        if (h->pid == pid)
            return h;
        off += h->total_len;
    }
    return NULL;
}

static inline size_t image_nrecords(const struct image *im)
{
    size_t n = 0;
    for (size_t off = 0; off + sizeof(struct sls_img_header) <= im->len; n++) {
        const struct sls_img_header *h = (const void *)(im->data + off);
        if (h->magic != SLS_IMG_MAGIC || h->total_len == 0)
            break;
        off += h->total_len;
    }
    return n;
}

/* Iterates entries: pass prev = NULL first; returns the next entry with that tag (0 = any). */
static inline const struct sls_img_entry *record_next(const struct sls_img_header *h,
                                                      const struct sls_img_entry *prev, uint32_t tag)
{
    const unsigned char *base = (const unsigned char *)h;
    size_t off = prev ? (size_t)((const unsigned char *)prev - base) + sizeof(*prev) +
                            SLS_IMG_PAD(prev->len)
                      : h->header_len;
    while (off + sizeof(struct sls_img_entry) <= h->total_len) {
        const struct sls_img_entry *e = (const void *)(base + off);
        if (tag == 0 || e->tag == tag)
            return e;
        off += sizeof(*e) + SLS_IMG_PAD(e->len);
    }
    return NULL;
}

#define ENTRY_PAYLOAD(e) ((const void *)((const unsigned char *)(e) + sizeof(struct sls_img_entry)))

/* The VMA entry holding addr (path after it), or NULL. */
static inline const struct sls_img_vma *record_vma_at(const struct sls_img_header *rec, uint64_t addr,
                                                      const char **path)
{
    for (const struct sls_img_entry *e = record_next(rec, NULL, SLS_TAG_VMA); e;
         e = record_next(rec, e, SLS_TAG_VMA)) {
        const struct sls_img_vma *v = ENTRY_PAYLOAD(e);
        if (v->start <= addr && addr < v->end) {
            if (path)
                *path = (const char *)(v + 1);
            return v;
        }
    }
    return NULL;
}

/* Page file offset of the captured page at addr, or -1 if the page was not taken. */
static inline long record_page_offset(const struct sls_img_header *rec, uint64_t addr)
{
    for (const struct sls_img_entry *e = record_next(rec, NULL, SLS_TAG_PAGERUN); e;
         e = record_next(rec, e, SLS_TAG_PAGERUN)) {
        const struct sls_img_pagerun *r = ENTRY_PAYLOAD(e);
        for (size_t i = 0; i < e->len / sizeof(*r); i++)
            if (r[i].addr <= addr && addr < r[i].addr + r[i].npages * 4096)
                return (long)(r[i].offset + (addr - r[i].addr));
    }
    return -1;
}

/* The FD entry of fd (its path and extra bytes after it), or NULL. */
static inline const struct sls_img_fd *record_fd(const struct sls_img_header *rec, int fd,
                                                 const char **path, const unsigned char **extra)
{
    for (const struct sls_img_entry *e = record_next(rec, NULL, SLS_TAG_FD); e;
         e = record_next(rec, e, SLS_TAG_FD)) {
        const struct sls_img_fd *f = ENTRY_PAYLOAD(e);
        if (f->fd == fd) {
            if (path)
                *path = (const char *)(f + 1);
            if (extra)
                *extra = (const unsigned char *)(f + 1) + f->path_len;
            return f;
        }
    }
    return NULL;
}

#endif
