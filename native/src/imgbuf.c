/* imgbuf.c — in-memory writer of one image record. */
#include "imgbuf.h"
#include "sls_image.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void reserve(struct sls_imgbuf *b, size_t n)
{
    if (b->oom || b->len + n <= b->cap)
        return;
    size_t nc = b->cap ? b->cap : 4096;
    while (nc < b->len + n)
        nc *= 2;
    unsigned char *nd = realloc(b->data, nc);
    if (!nd) {
        b->oom = 1;
        return;
    }
    b->data = nd;
    b->cap = nc;
}

void sls_imgbuf_put(struct sls_imgbuf *b, const void *p, size_t n)
{
    reserve(b, n);
    if (b->oom || n == 0)
        return;
    if (p)
        memcpy(b->data + b->len, p, n);
    else
        memset(b->data + b->len, 0, n);
    b->len += n;
}

void sls_imgbuf_record_begin(struct sls_imgbuf *b, pid_t pid, uint64_t realtime_ns)
{
    memset(b, 0, sizeof(*b));
    struct sls_img_header h = {
        .magic = SLS_IMG_MAGIC,
        .version = SLS_IMG_VERSION,
        .header_len = sizeof(struct sls_img_header),
        .pid = pid,
        .capture_realtime_ns = realtime_ns,
    };
    sls_imgbuf_put(b, &h, sizeof(h));
}

size_t sls_imgbuf_entry_begin(struct sls_imgbuf *b, uint32_t tag)
{
    size_t off = b->len;
    struct sls_img_entry e = { .tag = tag, .len = 0 };
    sls_imgbuf_put(b, &e, sizeof(e));
    return off;
}

void sls_imgbuf_entry_end(struct sls_imgbuf *b, size_t off)
{
    if (b->oom)
        return;
    uint32_t len = (uint32_t)(b->len - off - sizeof(struct sls_img_entry));
    memcpy(b->data + off + offsetof(struct sls_img_entry, len), &len, sizeof(len));
    size_t pad = SLS_IMG_PAD(b->len) - b->len;
    sls_imgbuf_put(b, NULL, pad);
    b->nentries++;
}

void sls_imgbuf_entry(struct sls_imgbuf *b, uint32_t tag, const void *fixed, size_t fixed_len,
                      const void *tail, size_t tail_len)
{
    size_t off = sls_imgbuf_entry_begin(b, tag);
    sls_imgbuf_put(b, fixed, fixed_len);
    if (tail_len)
        sls_imgbuf_put(b, tail, tail_len);
    sls_imgbuf_entry_end(b, off);
}

int sls_imgbuf_record_end(struct sls_imgbuf *b)
{
    if (b->oom)
        return -ENOMEM;
    struct sls_img_header *h = (struct sls_img_header *)b->data;
    h->total_len = (uint32_t)b->len;
    h->nentries = b->nentries;
    h->crc32c = sls_crc32c(0, b->data + h->header_len, b->len - h->header_len);
    return 0;
}

void sls_imgbuf_free(struct sls_imgbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}
