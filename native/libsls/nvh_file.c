/* The double-buffered files of a heap: classifying a file, loading its payload, and the
 * checkpoint protocol that rewrites the older file (seed 000's WRITE_LOCK scheme). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "nvh_internal.h"

#define NVH_IO_CHUNK (8u << 20)

static int read_full(int fd, void *buf, size_t len, off_t off, size_t *got)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*got = done;
	return 0;
}

static int write_full(int fd, const void *buf, size_t len, off_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

uint32_t nvh_file_header_crc(const struct nvh_file_header *hdr)
{
	return nvh_crc32c(0, hdr, offsetof(struct nvh_file_header, header_crc32c));
}

int nvh_file_inspect(int fd, const char *name, struct nvh_file_header *hdr, char *why, size_t whylen)
{
	struct stat st;
	size_t got;
	why[0] = '\0';
	if (fstat(fd, &st) < 0)
		return nvh_fail(errno, "cannot stat %s: %s", name, strerror(errno));
	if (st.st_size == 0)
		return NVH_FILE_EMPTY;
	if (read_full(fd, hdr, sizeof *hdr, 0, &got) < 0)
		return nvh_fail(errno, "cannot read the header of %s: %s", name, strerror(errno));
	if (got < sizeof *hdr) {
		snprintf(why, whylen, "%s is shorter than its header (%zu bytes)", name, got);
		return NVH_FILE_DAMAGED;
	}
	if (memcmp(hdr->magic, NVH_FILE_MAGIC, sizeof hdr->magic) != 0) {
		/* The first checkpoint into a file starts by writing the cleared lock word into the
		 * empty file: a crash before its header is written leaves zeros up to it. */
		static const char zeros[NVH_WRITE_LOCK_OFFSET];
		if (memcmp(hdr, zeros, sizeof zeros) == 0 && hdr->write_lock == 0) {
			snprintf(why, whylen, "%s: WRITE_LOCK clear, the first checkpoint into it did not finish",
				 name);
			return NVH_FILE_INTERRUPTED;
		}
		snprintf(why, whylen, "%s has no nvh header (bad magic)", name);
		return NVH_FILE_DAMAGED;
	}
	if (hdr->format_version != NVH_FORMAT_VERSION)
		return nvh_fail(EPROTO, "%s is in nvh format version %u; this libsls reads only version %u",
				name, hdr->format_version, NVH_FORMAT_VERSION);
	uint32_t crc = nvh_file_header_crc(hdr);
	if (crc != hdr->header_crc32c || hdr->header_size != NVH_HEADER_SIZE) {
		snprintf(why, whylen, "%s: header checksum mismatch (stored %08x, computed %08x)",
			 name, hdr->header_crc32c, crc);
		return NVH_FILE_DAMAGED;
	}
	if (hdr->write_lock != NVH_COMMITTED) {
		snprintf(why, whylen, "%s: WRITE_LOCK clear, the checkpoint that was replacing epoch %llu "
			 "did not finish", name, (unsigned long long)hdr->epoch);
		return NVH_FILE_INTERRUPTED;
	}
	if ((uint64_t)st.st_size < NVH_HEADER_SIZE + hdr->size) {
		snprintf(why, whylen, "%s: truncated (%lld bytes, the header says %llu)", name,
			 (long long)st.st_size, (unsigned long long)(NVH_HEADER_SIZE + hdr->size));
		return NVH_FILE_DAMAGED;
	}
	return NVH_FILE_COMMITTED;
}

int nvh_file_read_payload(int fd, const char *name, void *base, uint64_t size, uint32_t crc,
			  uint32_t *computed)
{
	uint32_t c = 0;
	for (uint64_t off = 0; off < size; off += NVH_IO_CHUNK) {
		size_t len = size - off < NVH_IO_CHUNK ? (size_t)(size - off) : NVH_IO_CHUNK;
		size_t got;
		if (read_full(fd, (char *)base + off, len, (off_t)(NVH_HEADER_SIZE + off), &got) < 0)
			return nvh_fail(errno, "cannot read %s: %s", name, strerror(errno));
		if (got < len)
			return nvh_fail(EIO, "%s: payload truncated at byte %llu", name,
					(unsigned long long)(off + got));
		c = nvh_crc32c(c, (char *)base + off, len);
	}
	*computed = c;
	return c == crc ? 0 : 1;
}

/* NVH_TEST_CHECKPOINT_PAUSE_US: a crash test widens the window between the steps of a
 * checkpoint so that its kills provably land inside it. */
static void test_pause(void)
{
	const char *us = getenv("NVH_TEST_CHECKPOINT_PAUSE_US");
	if (!us || !*us)
		return;
	long v = strtol(us, NULL, 10);
	if (v <= 0)
		return;
	struct timespec ts = { v / 1000000, (v % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Writes [from, to) of the heap to the file, checksumming what is written. */
static int write_range(int fd, const char *name, uint64_t base, uint64_t from, uint64_t to,
		       int zeros, uint32_t *crc)
{
	static const char zero_page[64 << 10];
	for (uint64_t off = from; off < to;) {
		size_t len;
		const void *src;
		if (zeros) {
			len = to - off < sizeof zero_page ? (size_t)(to - off) : sizeof zero_page;
			src = zero_page;
		} else {
			len = to - off < NVH_IO_CHUNK ? (size_t)(to - off) : NVH_IO_CHUNK;
			src = (const void *)(uintptr_t)(base + off);
		}
		*crc = nvh_crc32c(*crc, src, len);
		if (write_full(fd, src, len, (off_t)(NVH_HEADER_SIZE + off)) < 0)
			return nvh_fail(errno, "cannot write %s: %s", name, strerror(errno));
		off += len;
	}
	return 0;
}

int nvh_file_write_epoch(int fd, const char *name, uint64_t epoch, uint64_t base, uint64_t size,
			 uint64_t text_base, const struct nvh_range *zeros, int nzeros)
{
	/* 1. This file stops being a valid checkpoint before any of its payload changes. */
	uint64_t unlocked = 0;
	if (write_full(fd, &unlocked, sizeof unlocked, NVH_WRITE_LOCK_OFFSET) < 0 || fdatasync(fd) < 0)
		return nvh_fail(errno, "cannot clear WRITE_LOCK of %s: %s", name, strerror(errno));
	test_pause();

	/* 2. The payload; ranges that are unreadable or change while we write are zeros. */
	uint32_t crc = 0;
	uint64_t at = 0;
	for (int z = 0; z <= nzeros; z++) {
		uint64_t zlo = z < nzeros ? zeros[z].lo - base : size;
		uint64_t zhi = z < nzeros ? zeros[z].hi - base : size;
		if (write_range(fd, name, base, at, zlo, 0, &crc) < 0 ||
		    write_range(fd, name, base, zlo, zhi, 1, &crc) < 0)
			return -1;
		at = zhi;
	}
	if (fdatasync(fd) < 0)
		return nvh_fail(errno, "cannot sync %s: %s", name, strerror(errno));
	test_pause();

	/* 3. Commit: one header-page write carrying the new epoch, the checksum and WRITE_LOCK. */
	union {
		struct nvh_file_header h;
		char page[NVH_HEADER_SIZE];
	} hdr;
	memset(&hdr, 0, sizeof hdr);
	memcpy(hdr.h.magic, NVH_FILE_MAGIC, sizeof hdr.h.magic);
	hdr.h.format_version = NVH_FORMAT_VERSION;
	hdr.h.header_size = NVH_HEADER_SIZE;
	hdr.h.epoch = epoch;
	hdr.h.base = base;
	hdr.h.size = size;
	hdr.h.text_base = text_base;
	hdr.h.payload_crc32c = crc;
	hdr.h.header_crc32c = nvh_file_header_crc(&hdr.h);
	hdr.h.write_lock = NVH_COMMITTED;
	if (write_full(fd, hdr.page, sizeof hdr.page, 0) < 0 || fdatasync(fd) < 0)
		return nvh_fail(errno, "cannot commit %s: %s", name, strerror(errno));
	return 0;
}
