/*
 * Captures cap_fds (one descriptor of each special kind, see tests/prog/cap_fds.c) and checks each
 * FD entry's classification and kind-specific state; the program's self-check passes afterwards.
 */
#include "sls_test.h"
#include "cap_helpers.h"
#include "slsnative.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

static struct prog prog;
static struct image image, pagefile;
static const struct sls_img_header *rec;
static int capture_rc;
static char capture_err[512];

static const unsigned char *extra_of(const char *key, int type, const struct sls_img_fd **out)
{
    const unsigned char *x = NULL;
    const struct sls_img_fd *f = rec ? record_fd(rec, (int)prog_value(&prog, key), NULL, &x) : NULL;
    *out = f;
    return f && f->type == (uint32_t)type ? x : NULL;
}

TEST_CASE(capture_of_special_descriptors_succeeds)
{
    char why[256] = "";
    EXPECT(capture_rc == 0 && rec, "sls_capture returned %d: %s", capture_rc, capture_err);
    EXPECT(free_running(prog.pid, why, sizeof(why)), "%s", why);
}

TEST_CASE(memfd_carries_its_contents_and_its_shared_mapping_its_pages)
{
    const struct sls_img_fd *f;
    const char *path = "";
    const unsigned char *x = extra_of("memfd", SLS_FD_MEMFD, &f);
    REQUIRE(x, "memfd not classified as MEMFD");
    record_fd(rec, f->fd, &path, NULL);
    EXPECT(f->extra_len == 8192 && memcmp(x, "memfd contents", 14) == 0, "memfd contents (%u bytes)",
           f->extra_len);
    EXPECT(strncmp(path, "/memfd:sls-test", 15) == 0, "memfd path '%.*s'", (int)f->path_len, path);
    uint64_t mem = prog_value(&prog, "mem");
    const struct sls_img_vma *v = record_vma_at(rec, mem, NULL);
    EXPECT(v && v->kind == SLS_VMA_MEMFD && (v->flags & SLS_VMA_SHARED), "memfd mapping VMA");
    long off = record_page_offset(rec, mem + 4096);
    EXPECT(off >= 0 && pagefile.data[off] == 'M', "written page of the memfd mapping not taken");
    off = record_page_offset(rec, mem);
    EXPECT(off >= 0 && memcmp(pagefile.data + off, "memfd contents", 14) == 0,
           "memfd page with data (never touched through the mapping) not taken");
out:;
}

TEST_CASE(timerfd_reports_clock_and_remaining_time)
{
    const struct sls_img_fd *f;
    const struct sls_img_fd_timerfd *t = (const void *)extra_of("tfd", SLS_FD_TIMERFD, &f);
    REQUIRE(t, "timerfd not classified");
    EXPECT(t->clockid == 1 /* CLOCK_MONOTONIC */, "clockid %d", t->clockid);
    EXPECT(t->interval_sec == 5 && t->interval_nsec == 0, "interval %lu.%09lu",
           (unsigned long)t->interval_sec, (unsigned long)t->interval_nsec);
    EXPECT(t->value_sec >= 90 && t->value_sec <= 100, "remaining %lu s", (unsigned long)t->value_sec);
    EXPECT(f->file_flags & O_NONBLOCK, "TFD_NONBLOCK lost");
out:;
}

TEST_CASE(signalfd_reports_its_mask)
{
    const struct sls_img_fd *f;
    const uint64_t *mask = (const void *)extra_of("sfd", SLS_FD_SIGNALFD, &f);
    REQUIRE(mask, "signalfd not classified");
    EXPECT(*mask == 1ull << (SIGUSR2 - 1), "mask %#lx", (unsigned long)*mask);
out:;
}

TEST_CASE(epoll_reports_its_watched_descriptors)
{
    const struct sls_img_fd *f;
    const struct sls_img_fd_epoll_target *t = (const void *)extra_of("ep", SLS_FD_EPOLL, &f);
    REQUIRE(t, "epoll not classified");
    EXPECT(f->extra_len == sizeof(*t), "%u bytes of targets, want one", f->extra_len);
    EXPECT(t->tfd == (int)prog_value(&prog, "efd") && t->data == 0x1234 && (t->events & EPOLLIN),
           "target fd %d data %#lx events %#x", t->tfd, (unsigned long)t->data, t->events);
    EXPECT(f->fd_flags == FD_CLOEXEC, "EPOLL_CLOEXEC lost");
    const struct sls_img_fd *e;
    const struct sls_img_fd_eventfd *ev = (const void *)extra_of("efd", SLS_FD_EVENTFD, &e);
    EXPECT(ev && ev->count == 3, "eventfd count");
out:;
}

TEST_CASE(inotify_reports_its_watch)
{
    const struct sls_img_fd *f;
    const struct sls_img_fd_inotify_watch *w = (const void *)extra_of("ino", SLS_FD_INOTIFY, &f);
    REQUIRE(w, "inotify not classified");
    struct stat st;
    stat("/tmp", &st);
    EXPECT(w->wd == (int)prog_value(&prog, "wd") && w->ino == st.st_ino &&
           (w->mask & (IN_CREATE | IN_DELETE)) == (IN_CREATE | IN_DELETE), "watch wd %d ino %lu mask %#x",
           w->wd, (unsigned long)w->ino, w->mask);
out:;
}

TEST_CASE(sockets_report_family_state_addresses_and_peers)
{
    const struct sls_img_fd *f0, *f1, *f;
    const struct sls_img_fd_socket *s0 = (const void *)extra_of("sp0", SLS_FD_UNIX, &f0);
    const struct sls_img_fd_socket *s1 = (const void *)extra_of("sp1", SLS_FD_UNIX, &f1);
    REQUIRE(s0 && s1, "socketpair not classified as UNIX");
    EXPECT(s0->peer_ino == s1->ino && s1->peer_ino == s0->ino && s0->state == 1,
           "socketpair peers: %lu<->%lu, %lu<->%lu", (unsigned long)s0->ino, (unsigned long)s0->peer_ino,
           (unsigned long)s1->ino, (unsigned long)s1->peer_ino);
    const struct sls_img_fd_socket *s = (const void *)extra_of("ul", SLS_FD_UNIX, &f);
    REQUIRE(s, "unix listener not classified");
    const struct sockaddr_un *ua = (const void *)(s + 1);
    char want[64];
    snprintf(want, sizeof(want), "sls-test-%d", prog.pid);
    EXPECT(s->state == 10 && s->type == SOCK_STREAM && ua->sun_path[0] == 0 &&
           memcmp(ua->sun_path + 1, want, strlen(want)) == 0, "unix listener state %u", s->state);
    s = (const void *)extra_of("tl", SLS_FD_TCP, &f);
    REQUIRE(s, "TCP listener not classified");
    const struct sockaddr_in *ta = (const void *)(s + 1);
    EXPECT(s->state == 10 && s->backlog == 7 && s->family == AF_INET &&
           ntohs(ta->sin_port) == prog_value(&prog, "tport"), "TCP listener state %u backlog %u port %u",
           s->state, s->backlog, ntohs(ta->sin_port));
    s = (const void *)extra_of("us", SLS_FD_UDP, &f);
    REQUIRE(s, "UDP socket not classified");
    const struct sockaddr_in *uda = (const void *)(s + 1);
    EXPECT(ntohs(uda->sin_port) == prog_value(&prog, "uport") && s->peer_len == 0, "UDP address");
out:;
}

TEST_CASE(named_fifo_carries_its_buffered_bytes)
{
    const struct sls_img_fd *f;
    const struct sls_img_fd_pipe *p = (const void *)extra_of("ff", SLS_FD_FIFO, &f);
    REQUIRE(p, "FIFO not classified");
    EXPECT(p->data_len == 3 && memcmp(p + 1, "abc", 3) == 0, "FIFO bytes: %u", p->data_len);
out:;
}

TEST_CASE(program_self_check_passes_after_thaw)
{
    char verdict[256];
    int st = prog_finish(&prog, verdict, sizeof(verdict));
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strcmp(verdict, "PASS") == 0,
           "cap_fds says '%s' (status %#x)", verdict, st);
}

int main(void)
{
    char page_path[64], image_path[64];
    snprintf(page_path, sizeof(page_path), "/tmp/test_cap_fds.%d.pages", getpid());
    snprintf(image_path, sizeof(image_path), "/tmp/test_cap_fds.%d.img", getpid());
    if (prog_start(&prog, "cap_fds", NULL) != 0) {
        printf("FAIL cap_fds_starts: could not start tests/prog/cap_fds\n");
        return 1;
    }
    int32_t pid = prog.pid;
    struct sls_capture_stats stats;
    capture_rc = sls_capture(&pid, 1, 0, page_path, image_path, &stats, capture_err, sizeof(capture_err));
    if (capture_rc == 0 && image_load(&image, image_path) == 0 && image_load(&pagefile, page_path) == 0)
        rec = image_record(&image, prog.pid);
    RUN(capture_of_special_descriptors_succeeds);
    RUN(memfd_carries_its_contents_and_its_shared_mapping_its_pages);
    RUN(timerfd_reports_clock_and_remaining_time);
    RUN(signalfd_reports_its_mask);
    RUN(epoll_reports_its_watched_descriptors);
    RUN(inotify_reports_its_watch);
    RUN(sockets_report_family_state_addresses_and_peers);
    RUN(named_fifo_carries_its_buffered_bytes);
    RUN(program_self_check_passes_after_thaw);
    unlink(page_path);
    unlink(image_path);
    return TEST_EXIT();
}
