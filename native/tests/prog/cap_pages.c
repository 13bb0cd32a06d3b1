/*
 * cap_pages — memory laid out to exercise page copying: 8192 pages of which every other one is
 * written (4096 separate runs, more than one process_vm_readv batch of IOV_MAX), each page filled
 * with a value derived from its address; a written page later made PROT_NONE inside that range;
 * and a 64 GiB PROT_NONE MAP_NORESERVE reservation with nothing in it. READY region=... reserve=...;
 * on "q" it verifies its memory: PASS/FAIL.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PG 4096ul
#define NPAGES 8192ul

static uint64_t pattern(uint64_t addr, size_t word)
{
    return (addr * 0x9E3779B97F4A7C15ull) ^ word;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    unsigned char *r = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED)
        return 1;
    madvise(r, NPAGES * PG, MADV_NOHUGEPAGE); /* keep 4 KiB pages: runs stay separate */
    for (size_t i = 0; i < NPAGES; i += 2) {
        uint64_t *w = (uint64_t *)(r + i * PG);
        for (size_t k = 0; k < PG / 8; k++)
            w[k] = pattern((uint64_t)(uintptr_t)w, k);
    }
    mprotect(r + 100 * PG, PG, PROT_NONE); /* page 100 was written: still must be taken */
    void *reserve = mmap(NULL, 64ul << 30, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    printf("READY region=%p pages=%lu reserve=%p\n", (void *)r, NPAGES, reserve);
    char cmd[8];
    while (read(0, cmd, sizeof(cmd)) < 0 && errno == EINTR)
        ;
    mprotect(r + 100 * PG, PG, PROT_READ | PROT_WRITE);
    for (size_t i = 0; i < NPAGES; i += 2) {
        uint64_t *w = (uint64_t *)(r + i * PG);
        for (size_t k = 0; k < PG / 8; k++)
            if (w[k] != pattern((uint64_t)(uintptr_t)w, k)) {
                printf("FAIL page %zu changed\n", i);
                return 1;
            }
    }
    printf("PASS\n");
    return 0;
}
