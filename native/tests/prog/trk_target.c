/*
 * trk_target.c — a process with known memory that changes it on command, for the dirty-tracking
 * tests and benchmark. Commands come one per line on stdin, each answered by one line
 * "ok <hex>" (or "err <why>") on stdout; raw read/write, no stdio buffers, so the program itself
 * dirties little besides its stack.
 *
 *   big                 address of the 64 MiB region (or -m MiB), every page touched at start:
 *                       page i holds i * 1000 + 1 in its first 8 bytes
 *   small               address of a 16-page region, touched at start, never written later
 *   mmap N              maps N fresh anonymous pages (untouched), answers the address
 *   mmapshared N        maps N pages of shared anonymous memory, touched, answers the address
 *   write ADDR N        adds 1 to the first 8 bytes of N pages from ADDR
 *   unwrite ADDR N      subtracts 1 again (puts back the contents "write" changed)
 *   writeevery ADDR N K adds 1 to every K-th page of N pages (a benchmark's dirty fraction)
 *   mremap ADDR N       moves the N-page mapping at ADDR elsewhere, answers the new address
 *   dontneed ADDR N     MADV_DONTNEED on N pages
 *   unmap ADDR N        munmap N pages
 *   mmapat ADDR N       maps N fresh anonymous pages exactly at ADDR (MAP_FIXED_NOREPLACE)
 *   grow ADDR OLD NEW   mremap in place (no move) from OLD to NEW pages
 *   protect ADDR N P    mprotect N pages to P (PROT_* bits)
 *   sbrk N              grows the heap by N bytes, answers the old break
 *   sum ADDR N          sum of the first 8 bytes of N pages (a self-check of the contents)
 *   spin ADDR N         writes the N pages round-robin until the next command arrives, answers
 *                       the number of writes (used to race a collect against running writes)
 *   churn ADDR N        until the next command arrives: maps 16 pages, writes them, unmaps them,
 *                       moves them with mremap, and writes the N pages from ADDR, over and over;
 *                       answers the number of rounds (a running collect races all of it)
 *   forkcheck ADDR N    forks a child that writes N pages from ADDR, checks them and that none of its
 *                       VMAs is registered for userfaultfd write-protect ("uw" in smaps); answers
 *                       the child's exit status (0: all good, 1: bad contents, 2: registered VMA)
 *   writer ADDR N       starts a thread that adds 1 to the N pages from ADDR every millisecond, forever
 *   nofiles             lowers its open-file limit to the fds it has (0, 1, 2): no new fd, no uffd
 *   exec                execs itself again (a new address space; no answer, the new image reads on)
 *   exit                exits 0
 * Numbers are hexadecimal.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096ul

struct writer {
    uint64_t addr, npages;
};

static void *writer_main(void *arg)
{
    const struct writer *w = arg;
    struct timespec ms = { 0, 1000000 };
    for (;;) {
        for (uint64_t i = 0; i < w->npages; i++)
            *(volatile uint64_t *)(uintptr_t)(w->addr + i * PAGE) += 1;
        nanosleep(&ms, NULL);
    }
    return NULL;
}

static int read_line(char *buf, size_t len)
{
    size_t n = 0;
    while (n + 1 < len) {
        ssize_t r = read(0, buf + n, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        if (buf[n] == '\n')
            break;
        n++;
    }
    buf[n] = 0;
    return (int)n;
}

static void reply(const char *kind, uint64_t v)
{
    char out[64];
    int n = snprintf(out, sizeof(out), "%s %llx\n", kind, (unsigned long long)v);
    if (write(1, out, (size_t)n) != n)
        _exit(3);
}

static void fail(const char *why)
{
    char out[160];
    int n = snprintf(out, sizeof(out), "err %s: %s\n", why, strerror(errno));
    if (write(1, out, (size_t)n) != n)
        _exit(3);
}

int main(int argc, char **argv)
{
    size_t big_mib = argc > 2 && !strcmp(argv[1], "-m") ? strtoul(argv[2], NULL, 10) : 64;
    size_t big_pages = big_mib * 256;
    unsigned char *big = mmap(NULL, big_pages * PAGE, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *small = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                                -1, 0);
    if (big == MAP_FAILED || small == MAP_FAILED)
        return 2;
    /* 4 KiB pages, so one write dirties one page and the numbers mean what they say */
    madvise(big, big_pages * PAGE, MADV_NOHUGEPAGE);
    for (size_t i = 0; i < big_pages; i++)
        *(uint64_t *)(big + i * PAGE) = i * 1000 + 1;
    for (size_t i = 0; i < 16; i++)
        *(uint64_t *)(small + i * PAGE) = 7;

    char line[256];
    while (read_line(line, sizeof(line)) >= 0) {
        char op[16] = "";
        unsigned long long a = 0, b = 0, c = 0;
        sscanf(line, "%15s %llx %llx %llx", op, &a, &b, &c);
        volatile uint64_t *p;
        if (!strcmp(op, "big")) {
            reply("ok", (uintptr_t)big);
        } else if (!strcmp(op, "small")) {
            reply("ok", (uintptr_t)small);
        } else if (!strcmp(op, "mmap")) {
            void *m = mmap(NULL, a * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED)
                fail("mmap");
            else
                reply("ok", (uintptr_t)m);
        } else if (!strcmp(op, "mmapshared")) {
            unsigned char *m = mmap(NULL, a * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                                    -1, 0);
            if (m == MAP_FAILED) {
                fail("mmap");
            } else {
                for (uint64_t i = 0; i < a; i++)
                    m[i * PAGE] = 1;
                reply("ok", (uintptr_t)m);
            }
        } else if (!strcmp(op, "write") || !strcmp(op, "writeevery")) {
            uint64_t step = !strcmp(op, "write") ? 1 : (c ? c : 1);
            for (uint64_t i = 0; i < b; i += step) {
                p = (volatile uint64_t *)(uintptr_t)(a + i * PAGE);
                *p += 1;
            }
            reply("ok", 0);
        } else if (!strcmp(op, "unwrite")) {
            for (uint64_t i = 0; i < b; i++) {
                p = (volatile uint64_t *)(uintptr_t)(a + i * PAGE);
                *p -= 1;
            }
            reply("ok", 0);
        } else if (!strcmp(op, "mremap")) {
            /* a placeholder elsewhere, then move onto it: the region really moves */
            void *to = mmap(NULL, b * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            void *m = to == MAP_FAILED ? MAP_FAILED
                                       : mremap((void *)(uintptr_t)a, b * PAGE, b * PAGE,
                                                MREMAP_MAYMOVE | MREMAP_FIXED, to);
            if (m == MAP_FAILED)
                fail("mremap");
            else
                reply("ok", (uintptr_t)m);
        } else if (!strcmp(op, "dontneed")) {
            if (madvise((void *)(uintptr_t)a, b * PAGE, MADV_DONTNEED))
                fail("madvise");
            else
                reply("ok", 0);
        } else if (!strcmp(op, "unmap")) {
            if (munmap((void *)(uintptr_t)a, b * PAGE))
                fail("munmap");
            else
                reply("ok", 0);
        } else if (!strcmp(op, "mmapat")) {
            void *m = mmap((void *)(uintptr_t)a, b * PAGE, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
            if (m == MAP_FAILED)
                fail("mmap");
            else
                reply("ok", (uintptr_t)m);
        } else if (!strcmp(op, "protect")) {
            if (mprotect((void *)(uintptr_t)a, b * PAGE, (int)c))
                fail("mprotect");
            else
                reply("ok", 0);
        } else if (!strcmp(op, "grow")) {
            void *m = mremap((void *)(uintptr_t)a, b * PAGE, c * PAGE, 0);
            if (m == MAP_FAILED)
                fail("mremap");
            else
                reply("ok", (uintptr_t)m);
        } else if (!strcmp(op, "sbrk")) {
            void *old = sbrk((intptr_t)a);
            if (old == (void *)-1)
                fail("sbrk");
            else
                reply("ok", (uintptr_t)old);
        } else if (!strcmp(op, "sum")) {
            uint64_t s = 0;
            for (uint64_t i = 0; i < b; i++)
                s += *(volatile uint64_t *)(uintptr_t)(a + i * PAGE);
            reply("ok", s);
        } else if (!strcmp(op, "spin")) {
            struct pollfd pf = { .fd = 0, .events = POLLIN };
            uint64_t writes = 0;
            for (;;) {
                for (uint64_t i = 0; i < b; i++) {
                    p = (volatile uint64_t *)(uintptr_t)(a + i * PAGE);
                    *p += 1;
                    writes++;
                }
                if (poll(&pf, 1, 0) > 0)
                    break;
            }
            reply("ok", writes);
        } else if (!strcmp(op, "churn")) {
            struct pollfd pf = { .fd = 0, .events = POLLIN };
            uint64_t rounds = 0;
            do {
                unsigned char *m = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE,
                                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (m == MAP_FAILED)
                    break;
                for (int i = 0; i < 16; i++)
                    m[i * PAGE] = (unsigned char)rounds;
                void *to = mmap(NULL, 16 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                void *moved = mremap(m, 16 * PAGE, 16 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, to);
                munmap(moved == MAP_FAILED ? (void *)m : moved, 16 * PAGE);
                if (moved == MAP_FAILED && to != MAP_FAILED)
                    munmap(to, 16 * PAGE);
                for (uint64_t i = 0; i < b; i++) {
                    p = (volatile uint64_t *)(uintptr_t)(a + i * PAGE);
                    *p += 1;
                }
                rounds++;
            } while (poll(&pf, 1, 0) == 0);
            reply("ok", rounds);
        } else if (!strcmp(op, "forkcheck")) {
            pid_t child = fork();
            if (child == 0) {
                uint64_t before = 0, after = 0;
                for (uint64_t i = 0; i < b; i++) {
                    p = (volatile uint64_t *)(uintptr_t)(a + i * PAGE);
                    before += *p;
                    *p += 1;
                    after += *p;
                }
                if (after != before + b)
                    _exit(1);
                int fd = open("/proc/self/smaps", O_RDONLY);
                static char smaps[1 << 20];
                ssize_t n = fd >= 0 ? read(fd, smaps, sizeof(smaps) - 1) : -1, r;
                while (n > 0 && (size_t)n < sizeof(smaps) - 1 &&
                       (r = read(fd, smaps + n, sizeof(smaps) - 1 - (size_t)n)) > 0)
                    n += r;
                smaps[n > 0 ? n : 0] = 0;
                _exit(strstr(smaps, "VmFlags:") == NULL ? 3 : strstr(smaps, " uw") ? 2 : 0);
            }
            int st = 0;
            if (child < 0 || waitpid(child, &st, 0) != child)
                fail("fork");
            else
                reply("ok", WIFEXITED(st) ? (uint64_t)WEXITSTATUS(st) : 128 + (uint64_t)WTERMSIG(st));
        } else if (!strcmp(op, "writer")) {
            static struct writer w;
            static pthread_t th;
            w.addr = a;
            w.npages = b;
            if (pthread_create(&th, NULL, writer_main, &w))
                fail("pthread_create");
            else
                reply("ok", 0);
        } else if (!strcmp(op, "nofiles")) {
            struct rlimit rl = { 3, 3 };
            if (setrlimit(RLIMIT_NOFILE, &rl))
                fail("setrlimit");
            else
                reply("ok", 0);
        } else if (!strcmp(op, "exec")) {
            execl("/proc/self/exe", "trk_target", (char *)NULL);
            fail("exec");
        } else if (!strcmp(op, "exit")) {
            return 0;
        } else {
            errno = EINVAL;
            fail(op);
        }
    }
    return 0;
}
