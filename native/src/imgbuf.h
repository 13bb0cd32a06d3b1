/*
 * imgbuf.h — builds one process record of the image (sls_image.h) in memory: header, tagged
 * entries with 8-byte padding, CRC32C over the entries.
 */
#ifndef SLS_IMGBUF_H
#define SLS_IMGBUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sls_imgbuf {
    unsigned char *data;
    size_t len, cap;
    uint32_t nentries;
    int oom;            /* an allocation failed: record_end reports it */
};

void sls_imgbuf_record_begin(struct sls_imgbuf *b, pid_t pid, uint64_t realtime_ns);
/* Starts an entry; returns its offset for sls_imgbuf_entry_end. */
size_t sls_imgbuf_entry_begin(struct sls_imgbuf *b, uint32_t tag);
void sls_imgbuf_put(struct sls_imgbuf *b, const void *p, size_t n);
void sls_imgbuf_entry_end(struct sls_imgbuf *b, size_t entry_off);
/* Whole entry at once: fixed struct + one variable tail (may be NULL/0). */
void sls_imgbuf_entry(struct sls_imgbuf *b, uint32_t tag, const void *fixed, size_t fixed_len,
                      const void *tail, size_t tail_len);
/* Finishes the record (length, CRC). Returns 0 or -ENOMEM. */
int sls_imgbuf_record_end(struct sls_imgbuf *b);
void sls_imgbuf_free(struct sls_imgbuf *b);

#endif
