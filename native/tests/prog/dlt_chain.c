/* Delta-chain test program: between checkpoints its memory map changes in every way a delta epoch
 * must handle — regions are mapped, written, grown (mremap), shrunk, moved (mremap MREMAP_FIXED) and
 * unmapped — and a heap region is written sparsely. The driver takes one step at a time, so the
 * program's state at each epoch is known exactly: step k is a pure function of k.
 *
 * Contract (as every rst_* program): stdout is a results file; prints "READY" once set up.
 * SIGUSR1: perform the next step, then print "STEP <k>".
 * SIGUSR2: replay steps 1..k on a model (no memory of its own state is trusted but the step number
 *          and where each region now lives) and compare every page; print
 *          "PASS dlt_chain step=<k>" or "FAIL dlt_chain step=<k>: why". */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define WORDS (PAGE / sizeof(uint64_t))
#define NSLOTS 4
#define MAXPAGES 32
#define HEAP_PAGES 256
#define NACTIONS 6

enum action { MAP, WRITE, GROW, SHRINK, MOVE, UNMAP };

/* What memory should hold: a seed per page (0: not mapped). */
struct model {
    int mapped[NSLOTS];
    unsigned npages[NSLOTS];
    uint64_t seed[NSLOTS][MAXPAGES];
    uint64_t heap_seed[HEAP_PAGES];
};

/* Where things are now (the program's own bookkeeping, restored with it). */
static volatile uint64_t step;
static char *slot_addr[NSLOTS];
static char *heap;
static volatile sig_atomic_t steps_requested, verifies_requested;

static void on_usr1(int sig)
{
    (void)sig;
    steps_requested++;
}

static void on_usr2(int sig)
{
    (void)sig;
    verifies_requested++;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static void fill(char *page, uint64_t seed)
{
    uint64_t *w = (uint64_t *)page;
    for (unsigned i = 0; i < WORDS; i++)
        w[i] = mix(seed * WORDS + i);
}

/* 0 if page holds seed's pattern; else the index of the first wrong word + 1. */
static unsigned check(const char *page, uint64_t seed)
{
    const uint64_t *w = (const uint64_t *)page;
    for (unsigned i = 0; i < WORDS; i++)
        if (w[i] != mix(seed * WORDS + i))
            return i + 1;
    return 0;
}

static uint64_t page_seed(uint64_t k, unsigned slot, unsigned page)
{
    return (k << 16) | (slot << 8) | page; /* never 0 (k >= 1): 0 means "not mapped" */
}

/* Step k on the model, and with real != 0 on memory too. Returns 0, or -1 with errno on failure. */
static int apply(uint64_t k, struct model *m, int real)
{
    unsigned s = (unsigned)((k - 1) % NSLOTS);
    enum action a = (enum action)(((k - 1) / NSLOTS) % NACTIONS);
    unsigned n = m->npages[s];
    /* the sparse heap write every step */
    unsigned hp = (unsigned)((k * 37) % HEAP_PAGES);
    m->heap_seed[hp] = k | (1ULL << 61);
    if (real)
        fill(heap + (size_t)hp * PAGE, m->heap_seed[hp]);

    switch (a) {
    case MAP:
        if (m->mapped[s])
            return 0;
        n = 3 + 2 * s;
        if (real) {
            char *p = mmap(NULL, (size_t)n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED)
                return -1;
            slot_addr[s] = p;
        }
        m->mapped[s] = 1;
        m->npages[s] = n;
        for (unsigned p = 0; p < n; p++)
            m->seed[s][p] = page_seed(k, s, p);
        break;
    case WRITE:
        if (!m->mapped[s])
            return 0;
        for (unsigned p = 0; p < n; p += 2)
            m->seed[s][p] = page_seed(k, s, p);
        break;
    case GROW: {
        if (!m->mapped[s])
            return 0;
        unsigned grown = 2 * n;
        if (real) {
            char *p = mremap(slot_addr[s], (size_t)n * PAGE, (size_t)grown * PAGE, MREMAP_MAYMOVE);
            if (p == MAP_FAILED)
                return -1;
            slot_addr[s] = p;
        }
        for (unsigned p = n; p < grown; p++)
            m->seed[s][p] = page_seed(k, s, p);
        m->npages[s] = grown;
        break;
    }
    case SHRINK: {
        if (!m->mapped[s])
            return 0;
        unsigned shrunk = n / 2 + 1;
        if (real && mremap(slot_addr[s], (size_t)n * PAGE, (size_t)shrunk * PAGE, 0) == MAP_FAILED)
            return -1;
        for (unsigned p = shrunk; p < n; p++)
            m->seed[s][p] = 0;
        m->npages[s] = shrunk;
        /* and one write in what is left, so the shrunk region is dirty too */
        m->seed[s][0] = page_seed(k, s, 0);
        break;
    }
    case MOVE:
        if (!m->mapped[s])
            return 0;
        if (real) {
            /* a fresh spot with a guard page either side, so the moved region merges with nothing */
            size_t len = (size_t)n * PAGE;
            char *spot = mmap(NULL, len + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (spot == MAP_FAILED)
                return -1;
            char *p = mremap(slot_addr[s], len, len, MREMAP_MAYMOVE | MREMAP_FIXED, spot + PAGE);
            if (p == MAP_FAILED)
                return -1;
            slot_addr[s] = p;
        }
        m->seed[s][n - 1] = page_seed(k, s, n - 1);
        break;
    case UNMAP:
        if (!m->mapped[s])
            return 0;
        if (real && munmap(slot_addr[s], (size_t)n * PAGE) != 0)
            return -1;
        m->mapped[s] = 0;
        m->npages[s] = 0;
        memset(m->seed[s], 0, sizeof(m->seed[s]));
        break;
    }
    if (real && m->mapped[s])
        for (unsigned p = 0; p < m->npages[s]; p++)
            if (m->seed[s][p] >> 16 == k)
                fill(slot_addr[s] + (size_t)p * PAGE, m->seed[s][p]);
    return 0;
}

static void initial(struct model *m)
{
    memset(m, 0, sizeof(*m));
    for (unsigned p = 0; p < HEAP_PAGES; p++)
        m->heap_seed[p] = p | (1ULL << 60);
}

/* The model every page is compared against: the bookkeeping of the program is not trusted. */
static struct model live, replay;

static int verify(uint64_t k)
{
    initial(&replay);
    for (uint64_t i = 1; i <= k; i++)
        apply(i, &replay, 0);
    for (unsigned p = 0; p < HEAP_PAGES; p++) {
        unsigned bad = check(heap + (size_t)p * PAGE, replay.heap_seed[p]);
        if (bad) {
            printf("FAIL dlt_chain step=%llu: heap page %u word %u\n", (unsigned long long)k, p, bad - 1);
            return 1;
        }
    }
    for (unsigned s = 0; s < NSLOTS; s++) {
        if (replay.mapped[s] != live.mapped[s] || replay.npages[s] != live.npages[s]) {
            printf("FAIL dlt_chain step=%llu: slot %u is %s with %u pages, should be %s with %u\n",
                   (unsigned long long)k, s, live.mapped[s] ? "mapped" : "unmapped", live.npages[s],
                   replay.mapped[s] ? "mapped" : "unmapped", replay.npages[s]);
            return 1;
        }
        for (unsigned p = 0; p < replay.npages[s]; p++) {
            unsigned bad = check(slot_addr[s] + (size_t)p * PAGE, replay.seed[s][p]);
            if (bad) {
                printf("FAIL dlt_chain step=%llu: slot %u page %u word %u\n", (unsigned long long)k, s, p, bad - 1);
                return 1;
            }
        }
    }
    printf("PASS dlt_chain step=%llu\n", (unsigned long long)k);
    return 0;
}

int main(void)
{
    signal(SIGUSR1, on_usr1);
    signal(SIGUSR2, on_usr2);
    heap = mmap(NULL, (size_t)HEAP_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (heap == MAP_FAILED) {
        perror("FAIL dlt_chain: mmap heap");
        return 1;
    }
    initial(&live);
    for (unsigned p = 0; p < HEAP_PAGES; p++)
        fill(heap + (size_t)p * PAGE, live.heap_seed[p]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("READY\n");
    sig_atomic_t steps_done = 0, verifies_done = 0;
    for (;;) {
        if (steps_requested != steps_done) {
            steps_done++;
            uint64_t k = step + 1;
            if (apply(k, &live, 1) != 0) {
                printf("FAIL dlt_chain step=%llu: %m\n", (unsigned long long)k);
                return 1;
            }
            step = k;
            printf("STEP %llu\n", (unsigned long long)k);
        }
        if (verifies_requested != verifies_done) {
            verifies_done++;
            verify(step);
        }
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
}
