/* Restore test program: memory mappings of every kind the restorer rebuilds — anonymous private
 * (with untouched holes), a private file mapping with some pages written (overlaid on the file),
 * a shared file mapping (writes reach the file), shared anonymous memory, a read-only page with
 * contents, and a PROT_NONE guard page between two writable ones. argv[1] is a directory for the
 * two backing files. Prints READY, then PASS/FAIL as every rst_* program. */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PG 4096
static volatile sig_atomic_t verify_requested;

static void on_usr2(int sig)
{
    (void)sig;
    verify_requested = 1;
}

static int fail(const char *why)
{
    printf("FAIL rst_mmaps: %s\n", why);
    fflush(stdout);
    return 1;
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(i * 31 + seed);
}

static int same(const uint8_t *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != (uint8_t)(i * 31 + seed))
            return 0;
    return 1;
}

static int is_zero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return 0;
    return 1;
}

/* The protection maps shows for the mapping holding addr. */
static int perms_of(void *addr, char out[5])
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int found = 0;
    while (f && fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && lo <= (uintptr_t)addr && (uintptr_t)addr < hi) {
            memcpy(out, perms, 5);
            found = 1;
        }
    }
    if (f)
        fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return fail("usage: rst_mmaps DIR");
    signal(SIGUSR2, on_usr2);
    char priv_path[4096], shared_path[4096];
    snprintf(priv_path, sizeof(priv_path), "%s/private.bin", argv[1]);
    snprintf(shared_path, sizeof(shared_path), "%s/shared.bin", argv[1]);
    uint8_t filebuf[16 * PG];
    fill(filebuf, sizeof(filebuf), 7);
    int pf = open(priv_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    int sf = open(shared_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (pf < 0 || sf < 0 || write(pf, filebuf, sizeof(filebuf)) != (ssize_t)sizeof(filebuf) ||
        write(sf, filebuf, 4 * PG) != 4 * PG)
        return fail("cannot create the backing files");

    uint8_t *anon = mmap(NULL, 256 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < 256; i += 2) /* odd pages stay untouched: zero after restore */
        fill(anon + (size_t)i * PG, PG, (unsigned)i);
    uint8_t *fpriv = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, pf, 0);
    fill(fpriv + 2 * PG, PG, 99); /* overlay: page 2 differs from the file */
    uint8_t *fshared = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, sf, 0);
    fill(fshared + PG, PG, 55); /* reaches the file */
    uint8_t *shanon = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    fill(shanon, 8 * PG, 33);
    uint8_t *ro = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    fill(ro, PG, 11);
    mprotect(ro, PG, PROT_READ);
    uint8_t *guarded = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    fill(guarded, PG, 1);
    fill(guarded + 2 * PG, PG, 3);
    mprotect(guarded + PG, PG, PROT_NONE);
    if (anon == MAP_FAILED || fpriv == MAP_FAILED || fshared == MAP_FAILED || shanon == MAP_FAILED ||
        ro == MAP_FAILED || guarded == MAP_FAILED)
        return fail("mmap failed");
    close(pf);
    close(sf);
    printf("READY\n");
    fflush(stdout);
    while (!verify_requested) {
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < 256; i++) {
        int ok = i % 2 == 0 ? same(anon + (size_t)i * PG, PG, (unsigned)i) : is_zero(anon + (size_t)i * PG, PG);
        if (!ok)
            return fail("anonymous private page wrong");
    }
    for (int i = 0; i < 16; i++) {
        int ok = i == 2 ? same(fpriv + 2 * PG, PG, 99) : !memcmp(fpriv + (size_t)i * PG, filebuf + (size_t)i * PG, PG);
        if (!ok)
            return fail("private file mapping page wrong");
    }
    if (!same(fshared + PG, PG, 55) || memcmp(fshared, filebuf, PG))
        return fail("shared file mapping contents wrong");
    fill(fshared + 3 * PG, PG, 77); /* a write after restore must reach the file */
    uint8_t back[PG];
    int sfd = open(shared_path, O_RDONLY);
    if (sfd < 0 || pread(sfd, back, PG, 3 * PG) != PG || !same(back, PG, 77))
        return fail("a write to the shared file mapping did not reach the file");
    close(sfd);
    if (!same(shanon, 8 * PG, 33))
        return fail("shared anonymous memory wrong");
    if (!same(ro, PG, 11))
        return fail("read-only page contents wrong");
    char perms[5];
    if (!perms_of(ro, perms) || strncmp(perms, "r--p", 4))
        return fail("read-only page is not r--p");
    if (!perms_of(guarded + PG, perms) || strncmp(perms, "---p", 4))
        return fail("guard page is not ---p");
    if (!same(guarded, PG, 1) || !same(guarded + 2 * PG, PG, 3))
        return fail("pages around the guard page wrong");
    printf("PASS rst_mmaps\n");
    fflush(stdout);
    return 0;
}
