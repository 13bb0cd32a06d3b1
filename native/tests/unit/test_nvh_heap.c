/* Unit tests of the persistent heap's data side: open/create, allocator, root, checkpoint,
 * reopen, the double-buffered file protocol and its fallbacks, format version refusal.
 * (Persistent execution is in test_nvh_run.c, crash survival in test_nvh_crash.c.) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "sls.h"
#include "nvh_internal.h"

static int failures;
static char dir[256];

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			printf("FAIL %s: ", __func__);                       \
			printf(__VA_ARGS__);                                 \
			printf(" [%s]\n", nvh_last_error());                 \
			failures++;                                          \
			if (nvh_base())                                      \
				nvh_close();                                 \
			return;                                              \
		}                                                            \
	} while (0)
#define PASS() printf("PASS %s\n", __func__)

static char *heap_path(const char *name)
{
	static char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return path;
}

static char *file_of(const char *heap, int i)
{
	static char path[2][600];
	snprintf(path[i], sizeof path[i], "%s.%d", heap, i);
	return path[i];
}

static int read_header(const char *file, struct nvh_file_header *h)
{
	int fd = open(file, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = pread(fd, h, sizeof *h, 0);
	close(fd);
	return n == (ssize_t)sizeof *h ? 0 : -1;
}

static int write_at(const char *file, off_t off, const void *data, size_t len)
{
	int fd = open(file, O_WRONLY);
	if (fd < 0)
		return -1;
	ssize_t n = pwrite(fd, data, len, off);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

static off_t file_size(const char *file)
{
	struct stat st;
	return stat(file, &st) == 0 ? st.st_size : -1;
}

static void crc32c_matches_standard_vector_in_both_implementations(void)
{
	CHECK(nvh__crc32c_portable(0, "123456789", 9) == 0xE3069283u, "portable CRC32C of \"123456789\" is %08x",
	      nvh__crc32c_portable(0, "123456789", 9));
	unsigned char buf[4099];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)(i * 131 + 7);
	/* the heap's checksum is computed by nvh_checkpoint; compare it with the portable one */
	void *base = nvh_open(heap_path("crc"), 64 << 10);
	CHECK(base, "nvh_open failed");
	unsigned char *p = nvh_alloc(sizeof buf);
	CHECK(p, "nvh_alloc failed");
	memcpy(p, buf, sizeof buf);
	CHECK(nvh_checkpoint() == 0, "checkpoint failed");
	struct nvh_file_header h;
	CHECK(read_header(file_of(heap_path("crc"), 0), &h) == 0, "no header");
	uint32_t expect = nvh__crc32c_portable(0, base, nvh_size());
	CHECK(h.payload_crc32c == expect, "stored payload CRC %08x, portable CRC %08x", h.payload_crc32c, expect);
	CHECK(nvh_close() == 0, "close failed");
	PASS();
}

static void open_creates_heap_at_fixed_address_in_two_files(void)
{
	const char *hp = heap_path("create");
	void *base = nvh_open(hp, 100000);
	CHECK(base == (void *)(uintptr_t)NVH_DEFAULT_BASE, "base %p", base);
	CHECK(nvh_size() == 102400, "size %zu, want 100000 rounded up to pages", nvh_size());
	CHECK(nvh_epoch() == 1, "a new heap is epoch %llu, want 1", (unsigned long long)nvh_epoch());
	CHECK(nvh_root_get() == NULL, "new heap has a root");
	CHECK(file_size(file_of(hp, 0)) == 0, "%s has %lld bytes, want empty", file_of(hp, 0),
	      (long long)file_size(file_of(hp, 0)));
	CHECK(file_size(file_of(hp, 1)) == 4096 + 102400, "%s has %lld bytes", file_of(hp, 1),
	      (long long)file_size(file_of(hp, 1)));
	struct nvh_file_header h;
	CHECK(read_header(file_of(hp, 1), &h) == 0 && h.epoch == 1 && h.write_lock == NVH_COMMITTED &&
	      h.base == NVH_DEFAULT_BASE && h.size == 102400 && h.format_version == NVH_FORMAT_VERSION,
	      "header of epoch 1 not committed as expected");
	CHECK(nvh_close() == 0, "close failed");
	CHECK(!nvh_open(heap_path("missing"), 0) && errno == ENOENT, "opening a missing heap with size 0 "
	      "did not fail with ENOENT");
	PASS();
}

static void alloc_free_coalesce_and_reject_bad_pointers(void)
{
	CHECK(nvh_open(heap_path("alloc"), 1 << 20), "nvh_open failed");
	void *a = nvh_alloc(1), *b = nvh_alloc(1000), *c = nvh_alloc(5000);
	CHECK(a && b && c, "small allocations failed");
	CHECK((uintptr_t)a % 16 == 0 && (uintptr_t)b % 16 == 0 && (uintptr_t)c % 16 == 0, "not 16-aligned");
	CHECK((char *)a >= (char *)nvh_base() && (char *)c + 5000 <= (char *)nvh_base() + nvh_size(),
	      "allocation outside the heap");
	memset(a, 0xaa, 1);
	memset(b, 0xbb, 1000);
	memset(c, 0xcc, 5000);
	CHECK(nvh_free(b) == 0, "free b");
	CHECK(nvh_free(b) == -1 && errno == EINVAL, "double free was accepted");
	CHECK(nvh_free((char *)c + 16) == -1 && errno == EINVAL, "interior pointer was accepted");
	int stack_var;
	CHECK(nvh_free(&stack_var) == -1 && errno == EINVAL, "pointer outside the heap was accepted");
	CHECK(nvh_free(NULL) == 0, "free(NULL) failed");
	CHECK(nvh_alloc(0) == NULL && errno == EINVAL, "alloc(0) did not fail with EINVAL");
	CHECK(nvh_alloc(2u << 20) == NULL && errno == ENOMEM, "oversized alloc did not fail with ENOMEM");
	/* After freeing everything, coalescing gives back one block of nearly the whole heap. */
	CHECK(nvh_free(a) == 0 && nvh_free(c) == 0, "free a, c");
	void *big = nvh_alloc(1000000);
	CHECK(big == a, "after freeing all blocks, a 1000000-byte block is at %p, not at the first "
	      "block %p (free blocks not coalesced)", big, a);
	CHECK(nvh_free(big) == 0, "free big");
	CHECK(nvh_close() == 0, "close failed");
	PASS();
}

struct record {
	uint64_t n;
	char text[64];
	struct record *next;
};

static void root_and_data_survive_checkpoint_and_reopen(void)
{
	const char *hp = heap_path("reopen");
	CHECK(nvh_open(hp, 256 << 10), "nvh_open failed");
	struct record *head = NULL;
	for (uint64_t i = 0; i < 100; i++) {
		struct record *r = nvh_alloc(sizeof *r);
		CHECK(r, "alloc %llu", (unsigned long long)i);
		r->n = i;
		snprintf(r->text, sizeof r->text, "record %llu", (unsigned long long)i);
		r->next = head;
		head = r;
	}
	CHECK(nvh_root_set(head) == 0, "root_set");
	int local;
	CHECK(nvh_root_set(&local) == -1 && errno == EINVAL, "root outside the heap accepted");
	CHECK(nvh_checkpoint() == 0, "checkpoint");
	CHECK(nvh_epoch() == 2, "epoch %llu after one checkpoint, want 2", (unsigned long long)nvh_epoch());
	head->n = 999; /* not checkpointed: must be gone after reopening */
	CHECK(nvh_close() == 0, "close");
	CHECK(nvh_open(hp, 0), "reopen with size 0");
	CHECK(nvh_epoch() == 2, "reopened at epoch %llu, want 2", (unsigned long long)nvh_epoch());
	CHECK(nvh_root_get() == head, "root %p, want %p", nvh_root_get(), (void *)head);
	uint64_t expect = 99;
	for (struct record *r = nvh_root_get(); r; r = r->next, expect--) {
		char want[64];
		snprintf(want, sizeof want, "record %llu", (unsigned long long)expect);
		CHECK(r->n == expect && strcmp(r->text, want) == 0, "record %llu reads n=%llu text=%s",
		      (unsigned long long)expect, (unsigned long long)r->n, r->text);
	}
	CHECK(expect == (uint64_t)-1, "list ended early");
	/* the allocator state persisted too: freeing and allocating still work */
	CHECK(nvh_free(head) == 0, "free a block allocated before the reopen");
	CHECK(nvh_alloc(sizeof *head) == head, "the freed block was not reused");
	CHECK(nvh_close() == 0, "close");
	CHECK(!nvh_open(hp, 512 << 10) && errno == EINVAL, "reopen with another size was accepted");
	PASS();
}

static void checkpoints_alternate_between_the_two_files(void)
{
	const char *hp = heap_path("alternate");
	CHECK(nvh_open(hp, 64 << 10), "nvh_open");
	for (uint64_t e = 2; e <= 5; e++) {
		CHECK(nvh_checkpoint() == 0, "checkpoint");
		struct nvh_file_header now, other;
		CHECK(read_header(file_of(hp, (int)(e % 2)), &now) == 0, "read header");
		CHECK(now.epoch == e && now.write_lock == NVH_COMMITTED, "epoch %llu not committed in %s",
		      (unsigned long long)e, file_of(hp, (int)(e % 2)));
		CHECK(read_header(file_of(hp, (int)((e + 1) % 2)), &other) == 0 && other.epoch == e - 1 &&
		      other.write_lock == NVH_COMMITTED, "the previous epoch %llu is not intact",
		      (unsigned long long)(e - 1));
	}
	CHECK(nvh_close() == 0, "close");
	PASS();
}

/* Makes epochs 2 (in .0) and 3 (in .1) whose roots hold 2 and 3. */
static int two_epochs(const char *hp)
{
	if (!nvh_open(hp, 64 << 10))
		return -1;
	uint64_t *v = nvh_alloc(sizeof *v);
	if (!v || nvh_root_set(v) < 0)
		return -1;
	*v = 2;
	if (nvh_checkpoint() < 0)
		return -1;
	*v = 3;
	if (nvh_checkpoint() < 0)
		return -1;
	return nvh_close();
}

static void corrupt_newest_file_falls_back_to_older_with_warning(void)
{
	const char *hp = heap_path("corrupt");
	CHECK(two_epochs(hp) == 0, "setup");
	unsigned char junk = 0x5a;
	CHECK(write_at(file_of(hp, 1), 4096 + 30000, &junk, 1) == 0, "corrupt");
	CHECK(nvh_open(hp, 0), "open after corruption");
	CHECK(nvh_epoch() == 2, "loaded epoch %llu, want the older 2", (unsigned long long)nvh_epoch());
	CHECK(*(uint64_t *)nvh_root_get() == 2, "root value %llu, want 2",
	      (unsigned long long)*(uint64_t *)nvh_root_get());
	CHECK(strstr(nvh_last_warning(), "checksum mismatch") && strstr(nvh_last_warning(), ".1"),
	      "warning is \"%s\"", nvh_last_warning());
	/* the next checkpoint replaces the corrupted file */
	CHECK(nvh_checkpoint() == 0 && nvh_epoch() == 3, "checkpoint after fallback");
	CHECK(nvh_close() == 0, "close");
	CHECK(nvh_open(hp, 0) && nvh_epoch() == 3 && nvh_last_warning()[0] == '\0',
	      "after rewriting, epoch %llu, warning \"%s\"", (unsigned long long)nvh_epoch(), nvh_last_warning());
	CHECK(nvh_close() == 0, "close");
	PASS();
}

static void interrupted_checkpoint_falls_back_to_previous_epoch(void)
{
	const char *hp = heap_path("interrupted");
	CHECK(two_epochs(hp) == 0, "setup");
	/* what a crash after step 1 of a checkpoint leaves: WRITE_LOCK clear in the file */
	uint64_t zero = 0;
	CHECK(write_at(file_of(hp, 1), NVH_WRITE_LOCK_OFFSET, &zero, sizeof zero) == 0, "clear lock");
	CHECK(nvh_open(hp, 0), "open");
	CHECK(nvh_epoch() == 2 && *(uint64_t *)nvh_root_get() == 2, "loaded epoch %llu",
	      (unsigned long long)nvh_epoch());
	CHECK(strstr(nvh_last_warning(), "WRITE_LOCK clear"), "warning is \"%s\"", nvh_last_warning());
	CHECK(nvh_close() == 0, "close");
	PASS();
}

static void interrupted_first_checkpoint_falls_back_to_the_new_heap(void)
{
	const char *hp = heap_path("first");
	CHECK(nvh_open(hp, 64 << 10) && nvh_close() == 0, "create");
	/* step 1 of the first checkpoint into the empty PATH.0, then a crash */
	uint64_t zero = 0;
	CHECK(write_at(file_of(hp, 0), NVH_WRITE_LOCK_OFFSET, &zero, sizeof zero) == 0, "clear lock");
	CHECK(nvh_open(hp, 0) && nvh_epoch() == 1, "open: epoch %llu", (unsigned long long)nvh_epoch());
	CHECK(strstr(nvh_last_warning(), "first checkpoint into it did not finish"), "warning is \"%s\"",
	      nvh_last_warning());
	CHECK(nvh_checkpoint() == 0 && nvh_close() == 0 && nvh_open(hp, 0) && nvh_epoch() == 2,
	      "the next checkpoint did not repair it");
	CHECK(nvh_close() == 0, "close");
	PASS();
}

static void no_valid_file_is_refused(void)
{
	const char *hp = heap_path("broken");
	CHECK(two_epochs(hp) == 0, "setup");
	unsigned char junk = 0x5a;
	CHECK(write_at(file_of(hp, 0), 4096 + 100, &junk, 1) == 0 &&
	      write_at(file_of(hp, 1), 4096 + 100, &junk, 1) == 0, "corrupt");
	CHECK(!nvh_open(hp, 0) && errno == EILSEQ, "a heap with two bad files was opened");
	CHECK(strstr(nvh_last_error(), "no valid checkpoint"), "message \"%s\"", nvh_last_error());
	CHECK(nvh_base() == NULL, "heap left open");
	PASS();
}

static void unsupported_format_version_is_refused(void)
{
	const char *hp = heap_path("version");
	CHECK(two_epochs(hp) == 0, "setup");
	struct nvh_file_header h;
	CHECK(read_header(file_of(hp, 1), &h) == 0, "read");
	h.format_version = NVH_FORMAT_VERSION + 1;
	h.header_crc32c = nvh__crc32c_portable(0, &h, offsetof(struct nvh_file_header, header_crc32c));
	CHECK(write_at(file_of(hp, 1), 0, &h, sizeof h) == 0, "write");
	CHECK(!nvh_open(hp, 0) && errno == EPROTO, "a file of format version %u was accepted",
	      NVH_FORMAT_VERSION + 1);
	CHECK(strstr(nvh_last_error(), "format version 2"), "message \"%s\"", nvh_last_error());
	PASS();
}

static void second_open_is_busy_in_process_and_across_processes(void)
{
	const char *hp = heap_path("busy");
	int go[2];
	CHECK(pipe(go) == 0, "pipe");
	fflush(stdout);
	pid_t pid = fork(); /* before nvh_open: the child is a process without the heap */
	if (pid == 0) {
		char c;
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		void *p = nvh_open(hp, 0);
		_exit(!p && errno == EBUSY ? 0 : 1);
	}
	close(go[0]);
	void *base = nvh_open(hp, 64 << 10);
	if (write(go[1], "g", 1) != 1)
		base = NULL;
	close(go[1]);
	int status;
	waitpid(pid, &status, 0);
	CHECK(base, "open");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "another process opened the heap too");
	CHECK(!nvh_open(heap_path("busy2"), 64 << 10) && errno == EBUSY, "a second heap opened");
	CHECK(nvh_close() == 0, "close");
	CHECK(nvh_checkpoint() == -1 && errno == EBADF, "checkpoint without a heap did not fail with EBADF");
	PASS();
}

static void forked_child_cannot_use_the_parents_heap(void)
{
	const char *hp = heap_path("forked");
	CHECK(nvh_open(hp, 64 << 10), "open");
	uint64_t *v = nvh_alloc(sizeof *v);
	CHECK(v && nvh_root_set(v) == 0, "alloc");
	*v = 1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int alloc_busy = nvh_alloc(8) == NULL && errno == EBUSY;
		int checkpoint_busy = nvh_checkpoint() == -1 && errno == EBUSY;
		int closed = nvh_close() == 0 && nvh_base() == NULL;
		_exit(alloc_busy && checkpoint_busy && closed ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child used the heap, or could not close its copy");
	*v = 2;
	CHECK(nvh_checkpoint() == 0 && nvh_close() == 0, "the parent lost its heap");
	CHECK(nvh_open(hp, 0) && *(uint64_t *)nvh_root_get() == 2, "reopen");
	CHECK(nvh_close() == 0, "close");
	PASS();
}

static void occupied_heap_address_is_refused(void)
{
	void *block = mmap((void *)(uintptr_t)NVH_DEFAULT_BASE, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
			   MAP_FIXED_NOREPLACE, -1, 0);
	CHECK(block != MAP_FAILED, "cannot map the probe");
	void *p = nvh_open(heap_path("occupied"), 64 << 10);
	int err = errno;
	munmap(block, 4096);
	CHECK(!p && err == EEXIST, "a heap was mapped over an existing mapping");
	CHECK(strstr(nvh_last_error(), "already in use"), "message \"%s\"", nvh_last_error());
	PASS();
}

static void random_allocations_persist_across_reopen(void)
{
	const char *hp = heap_path("random");
	enum { SLOTS = 200 };
	CHECK(nvh_open(hp, 2 << 20), "open");
	unsigned char **slot = nvh_alloc(SLOTS * sizeof *slot);
	size_t *len = nvh_alloc(SLOTS * sizeof *len);
	CHECK(slot && len, "alloc tables");
	memset(slot, 0, SLOTS * sizeof *slot);
	CHECK(nvh_root_set(slot) == 0, "root");
	unsigned seed = 12345;
	for (int round = 0; round < 4000; round++) {
		int s = rand_r(&seed) % SLOTS;
		if (slot[s]) {
			CHECK(nvh_free(slot[s]) == 0, "free slot %d", s);
			slot[s] = NULL;
		} else {
			len[s] = 1 + (size_t)rand_r(&seed) % 8000;
			slot[s] = nvh_alloc(len[s]);
			CHECK(slot[s], "alloc %zu in round %d", len[s], round);
			memset(slot[s], s, len[s]);
		}
	}
	CHECK(nvh_checkpoint() == 0, "checkpoint");
	CHECK(nvh_close() == 0, "close");
	CHECK(nvh_open(hp, 0), "reopen (the allocator is validated while opening)");
	for (int s = 0; s < SLOTS; s++)
		for (size_t i = 0; slot[s] && i < len[s]; i++)
			CHECK(slot[s][i] == (unsigned char)s, "slot %d byte %zu changed", s, i);
	for (int s = 0; s < SLOTS; s++)
		CHECK(nvh_free(slot[s]) == 0, "free slot %d after reopen", s);
	CHECK(nvh_free(len) == 0 && nvh_free(slot) == 0, "free tables");
	CHECK(nvh_alloc(1900000) != NULL, "after freeing everything the heap is fragmented");
	CHECK(nvh_close() == 0, "close");
	PASS();
}

int main(void)
{
	snprintf(dir, sizeof dir, "%s/test_nvh_heap.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		printf("FAIL setup: mkdtemp %s: %s\n", dir, strerror(errno));
		return 1;
	}
	crc32c_matches_standard_vector_in_both_implementations();
	open_creates_heap_at_fixed_address_in_two_files();
	alloc_free_coalesce_and_reject_bad_pointers();
	root_and_data_survive_checkpoint_and_reopen();
	checkpoints_alternate_between_the_two_files();
	corrupt_newest_file_falls_back_to_older_with_warning();
	interrupted_checkpoint_falls_back_to_previous_epoch();
	interrupted_first_checkpoint_falls_back_to_the_new_heap();
	no_valid_file_is_refused();
	unsupported_format_version_is_refused();
	second_open_is_busy_in_process_and_across_processes();
	forked_child_cannot_use_the_parents_heap();
	occupied_heap_address_is_refused();
	random_allocations_persist_across_reopen();
	if (failures == 0) {
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return failures ? 1 : 0;
}
