/*
 * restore_segments.h — builds the sls_page_segment list sls_restore wants from the PAGERUN entries of
 * an image as one sls_capture wrote it (every page in one page file, files[0]). Header-only so the
 * command-line tools and the C tests share it without it becoming part of the engine's ABI: the
 * library itself never reads PAGERUN (the Java side composes delta chains into segments).
 */
#ifndef RESTORE_SEGMENTS_H
#define RESTORE_SEGMENTS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sls_image.h"
#include "slsnative.h"

/* Reads the whole file at path into a malloc'd buffer; returns its length or -1. */
static inline long sls_read_whole_file(const char *path, uint8_t **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
    if (!buf || (len > 0 && fread(buf, 1, (size_t)len, f) != (size_t)len)) {
        fclose(f);
        free(buf);
        return -1;
    }
    fclose(f);
    *out = buf;
    return len;
}

/*
 * One segment per PAGERUN run of every record of the image at image_path, all in file index 0.
 * Returns the number of segments (*segs malloc'd, caller frees) or -1 with why[] filled.
 */
static inline int sls_segments_from_image(const char *image_path, struct sls_page_segment **segs,
                                          char *why, size_t whylen)
{
    uint8_t *img = NULL;
    long len = sls_read_whole_file(image_path, &img);
    *segs = NULL;
    if (len < 0) {
        snprintf(why, whylen, "cannot read image %.400s", image_path);
        return -1;
    }
    int nsegs = 0;
    for (long off = 0; off < len;) {
        struct sls_img_header *h = (void *)(img + off);
        if (len - off < (long)sizeof(*h) || h->magic != SLS_IMG_MAGIC || h->total_len < h->header_len ||
            h->total_len > (uint64_t)(len - off)) {
            snprintf(why, whylen, "image %.400s: bad record at offset %ld", image_path, off);
            free(img);
            free(*segs);
            *segs = NULL;
            return -1;
        }
        uint32_t e = h->header_len;
        for (uint32_t i = 0; i < h->nentries && e + sizeof(struct sls_img_entry) <= h->total_len; i++) {
            struct sls_img_entry *en = (void *)(img + off + e);
            if (en->tag == SLS_TAG_PAGERUN) {
                struct sls_img_pagerun *pr = (void *)(en + 1);
                size_t n = en->len / sizeof(*pr);
                struct sls_page_segment *grown = realloc(*segs, sizeof(**segs) * (nsegs + n + 1));
                if (!grown) {
                    snprintf(why, whylen, "out of memory building page segments");
                    free(img);
                    free(*segs);
                    *segs = NULL;
                    return -1;
                }
                *segs = grown;
                for (size_t k = 0; k < n; k++)
                    (*segs)[nsegs++] = (struct sls_page_segment){ .pid = h->pid, .file = 0, .addr = pr[k].addr,
                                                                   .len = pr[k].npages * 4096,
                                                                   .offset = pr[k].offset };
            }
            e += (uint32_t)sizeof(*en) + SLS_IMG_PAD(en->len);
        }
        off += h->total_len;
    }
    free(img);
    return nsegs;
}

#endif
