/*
 * Captures cap_state (a process with known state, see tests/prog/cap_state.c) once and checks that
 * the image reports exactly that state, and that the program keeps running correctly afterwards.
 */
#include "sls_test.h"
#include "cap_helpers.h"
#include "slsnative.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

static struct prog prog;
static struct image image;
static const struct sls_img_header *rec;
static struct sls_capture_stats stats;
static int capture_rc;
static char capture_err[512];
static char page_path[64], image_path[64];
static unsigned char *pages;
static size_t pages_len;

#define PG 4096ul

static const struct sls_img_vma *vma_at(uint64_t addr, const char **path)
{
    return record_vma_at(rec, addr, path);
}

static long page_offset(uint64_t addr)
{
    return record_page_offset(rec, addr);
}

static const struct sls_img_fd *fd_entry(int fd, const char **path, const unsigned char **extra)
{
    return record_fd(rec, fd, path, extra);
}

TEST_CASE(capture_succeeds_and_leaves_the_process_running_untraced)
{
    char why[256] = "";
    EXPECT(capture_rc == 0, "sls_capture returned %d: %s", capture_rc, capture_err);
    EXPECT(free_running(prog.pid, why, sizeof(why)), "%s", why);
    EXPECT(stats.nprocs == 1 && stats.nthreads == 3, "stats: %u procs %u threads", stats.nprocs,
           stats.nthreads);
    EXPECT(stats.page_bytes > 0 && stats.page_bytes == pages_len, "stats page_bytes %lu, file %zu",
           (unsigned long)stats.page_bytes, pages_len);
    EXPECT(stats.stop_ns > 0, "no stop time");
}

TEST_CASE(record_header_is_valid_and_checksummed)
{
    REQUIRE(rec, "no record for pid %d", prog.pid);
    EXPECT(rec->version == SLS_IMG_VERSION && rec->header_len == sizeof(*rec), "header fields");
    EXPECT(rec->total_len % 8 == 0, "record length %u not 8-aligned", rec->total_len);
    uint32_t crc = 0xffffffff;
    const unsigned char *p = (const unsigned char *)rec + rec->header_len;
    for (size_t i = 0; i < rec->total_len - rec->header_len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
    }
    EXPECT(~crc == rec->crc32c, "crc32c %#x, recomputed %#x", rec->crc32c, ~crc);
    EXPECT(image_nrecords(&image) == 1, "%zu records, want 1", image_nrecords(&image));
out:;
}

TEST_CASE(proc_entry_reports_identity_umask_limits_and_mm)
{
    REQUIRE(rec, "no record");
    const struct sls_img_entry *e = record_next(rec, NULL, SLS_TAG_PROC);
    REQUIRE(e, "no PROC entry");
    const struct sls_img_proc *pr = ENTRY_PAYLOAD(e);
    EXPECT(pr->pid == prog.pid && pr->ppid == getpid(), "pid %d ppid %d", pr->pid, pr->ppid);
    EXPECT(pr->nthreads == 3, "nthreads %u", pr->nthreads);
    EXPECT(pr->umask == 027, "umask %o, want 027", pr->umask);
    EXPECT(strcmp(pr->comm, "cap_state") == 0, "comm '%s'", pr->comm);
    EXPECT(pr->uid[0] == getuid() && pr->gid[1] == getegid(), "credentials");
    EXPECT(pr->brk >= pr->start_brk && pr->start_brk > 0, "brk %#lx start_brk %#lx",
           (unsigned long)pr->brk, (unsigned long)pr->start_brk);
    EXPECT(pr->arg_start && pr->arg_end > pr->arg_start && pr->env_end > pr->env_start, "arg/env");
    EXPECT(pr->exit_signal == SIGCHLD, "exit_signal %d", pr->exit_signal);
    const char *exe = (const char *)(pr + 1) + pr->ngroups * 4;
    EXPECT(pr->exe_len > 9 && memcmp(exe + pr->exe_len - 9, "cap_state", 9) == 0, "exe '%.*s'",
           (int)pr->exe_len, exe);
    EXPECT(pr->auxv_len > 0 && pr->auxv_len % 16 == 0, "auxv %u bytes", pr->auxv_len);
    e = record_next(rec, NULL, SLS_TAG_RLIMIT);
    REQUIRE(e && e->len == SLS_NRLIMIT * sizeof(struct sls_img_rlimit), "no RLIMIT entry");
    const struct sls_img_rlimit *rl = ENTRY_PAYLOAD(e);
    EXPECT(rl[RLIMIT_NOFILE].cur == 123 && rl[RLIMIT_NOFILE].max == 456, "NOFILE %lu/%lu",
           (unsigned long)rl[RLIMIT_NOFILE].cur, (unsigned long)rl[RLIMIT_NOFILE].max);
out:;
}

TEST_CASE(thread_entries_report_registers_syscall_state_and_thread_attributes)
{
    REQUIRE(rec, "no record");
    int n = 0, readers = 0;
    for (const struct sls_img_entry *e = record_next(rec, NULL, SLS_TAG_THREAD); e;
         e = record_next(rec, e, SLS_TAG_THREAD), n++) {
        const struct sls_img_thread *t = ENTRY_PAYLOAD(e);
        EXPECT(e->len == sizeof(*t) + t->xsave_len, "THREAD length");
        EXPECT(t->xsave_len >= 576, "xsave %u bytes", t->xsave_len);
        EXPECT(t->regs.fs_base != 0, "thread %d: no fs_base", t->tid);
        EXPECT(t->robust_list_head != 0, "thread %d: no robust list", t->tid);
        EXPECT(t->sigmask & (1ul << (SIGUSR2 - 1)), "thread %d: SIGUSR2 not blocked", t->tid);
        if (n == 0) {
            EXPECT(t->tid == prog.pid && (t->flags & SLS_THREAD_MAIN), "first thread not main");
            EXPECT(t->altstack_sp == prog_value(&prog, "altstack") &&
                   t->altstack_size == prog_value(&prog, "altsize"), "main altstack %#lx+%lu",
                   (unsigned long)t->altstack_sp, (unsigned long)t->altstack_size);
            /* it polls with a 5 ms timeout, so it is almost always inside poll */
            EXPECT(!(t->flags & SLS_THREAD_IN_SYSCALL) || t->regs.orig_rax == SYS_poll ||
                   t->regs.orig_rax == SYS_ppoll,
                   "main thread in syscall %ld, want poll", (long)t->regs.orig_rax);
        } else {
            EXPECT(t->clear_child_tid != 0, "thread %d: no clear_child_tid", t->tid);
            EXPECT(!(t->flags & SLS_THREAD_MAIN), "two main threads");
        }
        if ((t->flags & SLS_THREAD_IN_SYSCALL) && t->regs.orig_rax == SYS_read)
            readers++;
    }
    EXPECT(n == 3, "%d THREAD entries, want 3", n);
    int named = 0;
    for (const struct sls_img_entry *e = record_next(rec, NULL, SLS_TAG_TASK_COMM); e;
         e = record_next(rec, e, SLS_TAG_TASK_COMM)) {
        const struct sls_img_task_comm *tc = ENTRY_PAYLOAD(e);
        named += strcmp(tc->comm, "cap-reader") == 0 || strcmp(tc->comm, "cap-counter") == 0 ||
                 (tc->tid == prog.pid && strcmp(tc->comm, "cap_state") == 0);
    }
    EXPECT(named == 3, "%d of 3 thread names right", named);
    EXPECT(readers == 1, "%d threads stopped in read, want 1", readers);
out:;
}

TEST_CASE(signal_entries_report_handler_flags_mask_and_pending_signals)
{
    REQUIRE(rec, "no record");
    const struct sls_img_entry *e = record_next(rec, NULL, SLS_TAG_SIGACT);
    REQUIRE(e && e->len == SLS_NSIG * sizeof(struct sls_img_sigact), "no SIGACT entry");
    const struct sls_img_sigact *a = ENTRY_PAYLOAD(e);
    EXPECT(a[SIGUSR1 - 1].handler == prog_value(&prog, "handler"), "SIGUSR1 handler %#lx",
           (unsigned long)a[SIGUSR1 - 1].handler);
    EXPECT((a[SIGUSR1 - 1].flags & (SA_RESTART | SA_ONSTACK)) == (SA_RESTART | SA_ONSTACK),
           "SIGUSR1 flags %#lx", (unsigned long)a[SIGUSR1 - 1].flags);
    EXPECT(a[SIGUSR1 - 1].mask == 1ul << (SIGUSR2 - 1), "SIGUSR1 mask %#lx",
           (unsigned long)a[SIGUSR1 - 1].mask);
    EXPECT(a[SIGTERM - 1].handler == 0, "SIGTERM not default");
    int thread_usr2 = 0, shared_rt = 0;
    for (e = record_next(rec, NULL, SLS_TAG_PENDING); e; e = record_next(rec, e, SLS_TAG_PENDING)) {
        const struct sls_img_pending *p = ENTRY_PAYLOAD(e);
        const siginfo_t *si = (const siginfo_t *)(p + 1);
        EXPECT(e->len == sizeof(*p) + p->count * 128, "PENDING length");
        for (uint32_t i = 0; i < p->count; i++) {
            if (p->tid == prog.pid && si[i].si_signo == SIGUSR2)
                thread_usr2++;
            if (p->tid == 0 && si[i].si_signo == SIGRTMIN + 1 && si[i].si_value.sival_int == 42)
                shared_rt++;
        }
    }
    EXPECT(thread_usr2 == 1, "SIGUSR2 pending on the main thread %d times, want 1", thread_usr2);
    EXPECT(shared_rt == 1, "SIGRTMIN+1 (value 42) in the shared queue %d times, want 1", shared_rt);
out:;
}

TEST_CASE(memory_entries_take_exactly_the_written_pages)
{
    REQUIRE(rec && pages, "no record or page file");
    uint64_t anon = prog_value(&prog, "anon"), priv = prog_value(&prog, "priv");
    uint64_t shfile = prog_value(&prog, "shfile"), shanon = prog_value(&prog, "shanon");
    uint64_t guard = prog_value(&prog, "guard");
    for (int i = 0; i < 16; i++) {
        long off = page_offset(anon + i * PG);
        if (i < 8) {
            EXPECT(off >= 0, "written anonymous page %d not taken", i);
            if (off >= 0)
                EXPECT(pages[off] == 0x11 * (i + 1) && pages[off + PG - 1] == i,
                       "anonymous page %d contents wrong in the page file", i);
        } else {
            EXPECT(off < 0, "untouched anonymous page %d taken", i);
        }
    }
    const char *path;
    const struct sls_img_vma *v = vma_at(guard, NULL);
    EXPECT(v && v->prot == 0 && v->end == guard + PG, "guard page VMA wrong");
    long off = page_offset(guard);
    EXPECT(off >= 0 && pages[off] == 7, "PROT_NONE page not taken through /proc/PID/mem");
    v = vma_at(priv, &path);
    EXPECT(v && v->kind == SLS_VMA_FILE && !(v->flags & SLS_VMA_SHARED) && strstr(path, "cap_state."),
           "private file VMA wrong");
    EXPECT(v && v->file_size == 4 * PG && v->pgoff == 0 && v->inode != 0, "private file VMA attrs");
    EXPECT(page_offset(priv) < 0 && page_offset(priv + PG) < 0,
           "private file pages only read were copied (should be referenced)");
    off = page_offset(priv + 2 * PG);
    EXPECT(off >= 0 && pages[off] == 'z', "written (COW) private file page not taken");
    EXPECT(page_offset(priv + 3 * PG) < 0, "untouched private file page taken");
    v = vma_at(shfile, NULL);
    EXPECT(v && v->kind == SLS_VMA_FILE && (v->flags & SLS_VMA_SHARED), "shared file VMA wrong");
    EXPECT(page_offset(shfile) < 0, "shared file page copied (the file holds it)");
    v = vma_at(shanon, NULL);
    EXPECT(v && v->kind == SLS_VMA_ANON && (v->flags & SLS_VMA_SHARED), "shared anon VMA wrong");
    off = page_offset(shanon);
    EXPECT(off >= 0 && pages[off] == 0x5a, "shared anonymous page not taken");
    int stack = 0, vdso = 0, heap = 0;
    for (const struct sls_img_entry *e = record_next(rec, NULL, SLS_TAG_VMA); e;
         e = record_next(rec, e, SLS_TAG_VMA)) {
        const struct sls_img_vma *m = ENTRY_PAYLOAD(e);
        EXPECT(e->len == sizeof(*m) + m->path_len, "VMA length");
        if (m->kind == SLS_VMA_STACK)
            stack += (m->flags & SLS_VMA_GROWSDOWN) != 0;
        vdso += m->kind == SLS_VMA_VDSO;
        heap += m->kind == SLS_VMA_HEAP;
    }
    EXPECT(stack == 1 && vdso == 1, "[stack] growsdown %d, [vdso] %d", stack, vdso);
    (void)heap;
out:;
}

TEST_CASE(fd_entries_classify_files_pipes_devices_and_eventfd)
{
    REQUIRE(rec, "no record");
    const char *path;
    const unsigned char *x;
    const struct sls_img_fd *f = fd_entry((int)prog_value(&prog, "dfd"), &path, NULL);
    EXPECT(f && f->type == SLS_FD_REG && f->pos == 1234 && (f->file_flags & O_ACCMODE) == O_RDWR,
           "data file fd: type/pos/flags");
    f = fd_entry((int)prog_value(&prog, "afd"), &path, &x);
    EXPECT(f && f->type == SLS_FD_REG && (f->file_flags & O_APPEND) && f->fd_flags == FD_CLOEXEC,
           "append fd: flags");
    EXPECT(f && (f->xflags & SLS_FDX_UNLINKED) && f->extra_len == 10 && memcmp(x, "0123456789", 10) == 0,
           "unlinked file contents not in the image");
    f = fd_entry((int)prog_value(&prog, "nullfd"), &path, NULL);
    EXPECT(f && f->type == SLS_FD_CHR && f->rdev_major == 1 && f->rdev_minor == 3 &&
           strncmp(path, "/dev/null", 9) == 0, "/dev/null fd");
    f = fd_entry((int)prog_value(&prog, "dirfd"), &path, NULL);
    EXPECT(f && f->type == SLS_FD_DIR && strncmp(path, "/tmp", 4) == 0, "directory fd");
    f = fd_entry((int)prog_value(&prog, "piper"), &path, &x);
    REQUIRE(f && f->type == SLS_FD_PIPE, "pipe read end not a PIPE");
    const struct sls_img_fd_pipe *pp = (const void *)x;
    EXPECT(pp->data_len == 10 && memcmp(pp + 1, "hello pipe", 10) == 0 && pp->pipe_size >= 4096,
           "pipe bytes: %u", pp->data_len);
    uint64_t ino = pp->pipe_ino;
    f = fd_entry((int)prog_value(&prog, "pipew"), &path, &x);
    pp = (const void *)x;
    EXPECT(f && f->type == SLS_FD_PIPE && pp->pipe_ino == ino && pp->data_len == 0 &&
           (pp->pipe_flags & SLS_PIPE_DATA_ELSEWHERE), "pipe write end");
    f = fd_entry((int)prog_value(&prog, "efd"), &path, &x);
    EXPECT(f && f->type == SLS_FD_EVENTFD && ((const struct sls_img_fd_eventfd *)x)->count == 7 &&
           (f->file_flags & O_NONBLOCK), "eventfd");
    f = fd_entry(0, &path, NULL);
    EXPECT(f && f->type == SLS_FD_PIPE, "stdin not a pipe");
out:;
}

TEST_CASE(program_self_check_passes_after_thaw)
{
    char verdict[256];
    int st = prog_finish(&prog, verdict, sizeof(verdict));
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strcmp(verdict, "PASS") == 0,
           "cap_state says '%s' (status %#x)", verdict, st);
}

int main(void)
{
    snprintf(page_path, sizeof(page_path), "/tmp/test_cap_state.%d.pages", getpid());
    snprintf(image_path, sizeof(image_path), "/tmp/test_cap_state.%d.img", getpid());
    if (prog_start(&prog, "cap_state", NULL) != 0) {
        printf("FAIL cap_state_starts: could not start tests/prog/cap_state\n");
        return 1;
    }
    int32_t pid = prog.pid;
    /* main thread in poll, reader in read: the states the thread checks below rely on */
    if (wait_in_syscall(pid, SYS_poll, SYS_ppoll) != 0 || wait_in_syscall(pid, SYS_read, -1) != 0)
        printf("FAIL cap_state_blocks: its threads did not reach poll/read\n");
    capture_rc = sls_capture(&pid, 1, 0, page_path, image_path, &stats, capture_err,
                             sizeof(capture_err));
    if (capture_rc == 0 && image_load(&image, image_path) == 0)
        rec = image_record(&image, prog.pid);
    struct image pf;
    if (capture_rc == 0 && image_load(&pf, page_path) == 0) {
        pages = pf.data;
        pages_len = pf.len;
    }
    RUN(capture_succeeds_and_leaves_the_process_running_untraced);
    RUN(record_header_is_valid_and_checksummed);
    RUN(proc_entry_reports_identity_umask_limits_and_mm);
    RUN(thread_entries_report_registers_syscall_state_and_thread_attributes);
    RUN(signal_entries_report_handler_flags_mask_and_pending_signals);
    RUN(memory_entries_take_exactly_the_written_pages);
    RUN(fd_entries_classify_files_pipes_devices_and_eventfd);
    RUN(program_self_check_passes_after_thaw);
    unlink(page_path);
    unlink(image_path);
    return TEST_EXIT();
}
