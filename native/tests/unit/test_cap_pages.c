/*
 * Page copying: thousands of separate runs (several process_vm_readv batches) land in the page file
 * byte for byte at the offsets their PAGERUN entries give, a PROT_NONE page among them too; untouched
 * pages and an empty 64 GiB reservation cost nothing.
 */
#include "sls_test.h"
#include "cap_helpers.h"
#include "slsnative.h"

#define PG 4096ul

static uint64_t pattern(uint64_t addr, size_t word)
{
    return (addr * 0x9E3779B97F4A7C15ull) ^ word;
}

TEST_CASE(every_written_page_is_in_the_page_file_at_its_run_offset)
{
    struct prog p;
    REQUIRE(prog_start(&p, "cap_pages", NULL) == 0, "cannot start cap_pages");
    char page_path[64], image_path[64], err[256] = "";
    snprintf(page_path, sizeof(page_path), "/tmp/test_cap_pages.%d.pages", getpid());
    snprintf(image_path, sizeof(image_path), "/tmp/test_cap_pages.%d.img", getpid());
    int32_t pid = p.pid;
    struct sls_capture_stats st;
    int rc = sls_capture(&pid, 1, 0, page_path, image_path, &st, err, sizeof(err));
    EXPECT(rc == 0, "capture: %s", err);
    struct image im = { 0 }, pf = { 0 };
    if (rc == 0 && image_load(&im, image_path) == 0 && image_load(&pf, page_path) == 0) {
        const struct sls_img_header *rec = image_record(&im, p.pid);
        uint64_t region = prog_value(&p, "region"), npages = prog_value(&p, "pages");
        size_t bad = 0, missing = 0, extra = 0;
        for (uint64_t i = 0; i < npages; i++) {
            uint64_t addr = region + i * PG;
            long off = rec ? record_page_offset(rec, addr) : -1;
            if (i % 2) {
                extra += off >= 0;
                continue;
            }
            if (off < 0) {
                missing++;
                continue;
            }
            const uint64_t *w = (const uint64_t *)(pf.data + off);
            for (size_t k = 0; k < PG / 8; k++)
                if (w[k] != pattern(addr, k)) {
                    bad++;
                    break;
                }
        }
        uint64_t last_end = 0;
        size_t overlaps = 0, nruns = 0;
        for (const struct sls_img_entry *e = rec ? record_next(rec, NULL, SLS_TAG_PAGERUN) : NULL; e;
             e = record_next(rec, e, SLS_TAG_PAGERUN)) {
            const struct sls_img_pagerun *r = ENTRY_PAYLOAD(e);
            for (size_t i = 0; i < e->len / sizeof(*r); i++, nruns++) {
                overlaps += r[i].addr < last_end;
                last_end = r[i].addr + r[i].npages * PG;
            }
        }
        EXPECT(overlaps == 0, "%zu of %zu page runs overlap or go backwards", overlaps, nruns);
        EXPECT(missing == 0 && bad == 0, "%zu written pages missing, %zu with wrong contents", missing, bad);
        EXPECT(extra == 0, "%zu untouched pages taken", extra);
        uint64_t reserve = prog_value(&p, "reserve");
        const struct sls_img_vma *v = rec ? record_vma_at(rec, reserve, NULL) : NULL;
        EXPECT(v && v->prot == 0 && (v->flags & SLS_VMA_NORESERVE) && v->end - v->start == 64ul << 30,
               "64 GiB reservation VMA");
        EXPECT(rec && record_page_offset(rec, reserve) < 0, "page taken from the empty reservation");
        EXPECT(st.page_bytes == pf.len, "stats %lu bytes, page file %zu", (unsigned long)st.page_bytes,
               pf.len);
    }
    free(im.data);
    free(pf.data);
    EXPECT(free_running(p.pid, err, sizeof(err)), "%s", err);
    char verdict[256];
    prog_finish(&p, verdict, sizeof(verdict));
    EXPECT(strcmp(verdict, "PASS") == 0, "cap_pages: %s", verdict);
    unlink(page_path);
    unlink(image_path);
out:;
}

int main(void)
{
    RUN(every_written_page_is_in_the_page_file_at_its_run_offset);
    return TEST_EXIT();
}
