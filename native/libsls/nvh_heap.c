/* Opening, checkpointing and closing the persistent heap; its allocator and root entry points.
 * The process has at most one heap (it lives at a fixed address), described by nvh_g. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include "nvh_internal.h"

struct nvh_state nvh_g = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = { -1, -1 } };

static char *file_name(const char *path, const char *suffix)
{
	size_t n = strlen(path) + strlen(suffix) + 1;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s", path, suffix);
	return s;
}

static int map_heap(uint64_t base, uint64_t size)
{
	void *want = (void *)(uintptr_t)base;
	void *got = mmap(want, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
	if (got == MAP_FAILED && errno == EEXIST)
		return nvh_fail(EEXIST, "cannot map the heap at %#llx-%#llx: the range is already in use "
				"in this process", (unsigned long long)base, (unsigned long long)(base + size));
	if (got == MAP_FAILED)
		return nvh_fail(errno, "cannot map %llu bytes at %#llx: %s", (unsigned long long)size,
				(unsigned long long)base, strerror(errno));
	if (got != want) { /* a kernel before 4.17 takes MAP_FIXED_NOREPLACE as a hint */
		munmap(got, size);
		return nvh_fail(EEXIST, "cannot map the heap at %#llx: the kernel placed it elsewhere",
				(unsigned long long)base);
	}
	return 0;
}

static int sync_dir_of(const char *path)
{
	char *dir = strdup(path);
	if (!dir)
		return nvh_fail(ENOMEM, "out of memory");
	char *slash = strrchr(dir, '/');
	const char *d = slash ? (slash == dir ? "/" : (*slash = '\0', dir)) : ".";
	int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = fd < 0 || fsync(fd) < 0 ? nvh_fail(errno, "cannot sync directory %s: %s", d, strerror(errno)) : 0;
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

/* A new heap: lay it out in memory and commit it as epoch 1 in PATH.1, written under a
 * temporary name and renamed, so that a crash while creating leaves no half-made heap. */
static int create_heap(const char *path, const char *name1, uint64_t size)
{
	uint64_t base = NVH_DEFAULT_BASE;
	if (map_heap(base, size) < 0)
		return -1;
	struct nvh_heap_header *heap = (struct nvh_heap_header *)(uintptr_t)base;
	heap->magic = NVH_HEAP_MAGIC;
	heap->size = size;
	heap->root = 0;
	nvh_arena_init(heap);
	char *tmp = file_name(path, ".1.tmp");
	int fd = tmp ? open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
	int rc = -1;
	if (fd < 0)
		nvh_fail(errno, "cannot create %s: %s", tmp ? tmp : path, strerror(errno));
	else if (nvh_file_write_epoch(fd, tmp, 1, base, size, 0, NULL, 0) == 0) {
		if (rename(tmp, name1) < 0)
			nvh_fail(errno, "cannot rename %s to %s: %s", tmp, name1, strerror(errno));
		else if (sync_dir_of(name1) == 0)
			rc = 0;
	}
	if (fd >= 0) {
		if (rc == 0) {
			if (nvh_g.fd[1] >= 0)
				close(nvh_g.fd[1]);
			nvh_g.fd[1] = fd;
		} else {
			close(fd);
			unlink(tmp);
		}
	}
	free(tmp);
	if (rc < 0) {
		munmap((void *)(uintptr_t)base, size);
		return -1;
	}
	nvh_g.base = base;
	nvh_g.size = size;
	nvh_g.epoch = 1;
	return 0;
}

static int heap_header_valid(const char *name, uint64_t size, char *why, size_t whylen)
{
	const struct nvh_heap_header *heap = nvh_g.heap;
	if (heap->magic != NVH_HEAP_MAGIC || heap->size != size) {
		snprintf(why, whylen, "%s: payload holds no nvh heap header", name);
		return 0;
	}
	if (nvh_arena_check(heap) < 0) {
		snprintf(why, whylen, "%s: %s", name, nvh_last_error());
		return 0;
	}
	return 1;
}

/* An existing heap: the newest committed file whose payload checksum is right. */
static int load_heap(char *names[2], uint64_t size_wanted)
{
	struct nvh_file_header hdr[2];
	char why[2][512];
	int status[2];
	for (int i = 0; i < 2; i++) {
		status[i] = nvh_file_inspect(nvh_g.fd[i], names[i], &hdr[i], why[i], sizeof why[i]);
		if (status[i] < 0)
			return -1;
		if (status[i] == NVH_FILE_COMMITTED && hdr[i].epoch % 2 != (uint64_t)i) {
			snprintf(why[i], sizeof why[i], "%s holds epoch %llu, which belongs in the other file",
				 names[i], (unsigned long long)hdr[i].epoch);
			status[i] = NVH_FILE_DAMAGED;
		}
	}
	int order[2], n = 0;
	if (status[0] == NVH_FILE_COMMITTED)
		order[n++] = 0;
	if (status[1] == NVH_FILE_COMMITTED)
		order[n++] = 1;
	if (n == 2 && hdr[order[1]].epoch > hdr[order[0]].epoch) {
		int t = order[0];
		order[0] = order[1];
		order[1] = t;
	}
	if (n == 0)
		return nvh_fail(EILSEQ, "no valid checkpoint in %s or %s (%s; %s)", names[0], names[1],
				status[0] == NVH_FILE_EMPTY ? "empty" : why[0],
				status[1] == NVH_FILE_EMPTY ? "empty" : why[1]);
	const struct nvh_file_header *newest = &hdr[order[0]];
	if (size_wanted && size_wanted != newest->size)
		return nvh_fail(EINVAL, "heap %s has %llu bytes, not the %llu requested (pass 0 to open it "
				"at its size)", names[order[0]], (unsigned long long)newest->size,
				(unsigned long long)size_wanted);
	if (n == 2 && (hdr[order[1]].base != newest->base || hdr[order[1]].size != newest->size)) {
		snprintf(why[order[1]], sizeof why[order[1]], "%s describes another heap address or size",
			 names[order[1]]);
		status[order[1]] = NVH_FILE_DAMAGED;
		n = 1;
	}
	if (map_heap(newest->base, newest->size) < 0)
		return -1;
	nvh_g.base = newest->base;
	nvh_g.size = newest->size;
	nvh_g.heap = (struct nvh_heap_header *)(uintptr_t)newest->base;
	for (int k = 0; k < n; k++) {
		int i = order[k];
		uint32_t computed;
		int rc = nvh_file_read_payload(nvh_g.fd[i], names[i], (void *)(uintptr_t)nvh_g.base,
					       nvh_g.size, hdr[i].payload_crc32c, &computed);
		if (rc < 0) {
			munmap((void *)(uintptr_t)nvh_g.base, nvh_g.size);
			return -1;
		}
		if (rc == 0 && heap_header_valid(names[i], nvh_g.size, why[i], sizeof why[i])) {
			nvh_g.epoch = hdr[i].epoch;
			int j = 1 - i;
			if (status[j] == NVH_FILE_INTERRUPTED || status[j] == NVH_FILE_DAMAGED)
				nvh_warn("%s; loaded %s (epoch %llu) instead", why[j], names[i],
					 (unsigned long long)hdr[i].epoch);
			return 0;
		}
		if (rc == 1)
			snprintf(why[i], sizeof why[i], "%s: epoch %llu payload checksum mismatch (stored "
				 "%08x, computed %08x)", names[i], (unsigned long long)hdr[i].epoch,
				 hdr[i].payload_crc32c, computed);
		status[i] = NVH_FILE_DAMAGED;
	}
	munmap((void *)(uintptr_t)nvh_g.base, nvh_g.size);
	return nvh_fail(EILSEQ, "no valid checkpoint in %s or %s (%s; %s)", names[0], names[1],
			status[0] == NVH_FILE_EMPTY ? "empty" : why[0],
			status[1] == NVH_FILE_EMPTY ? "empty" : why[1]);
}

static void close_files(void)
{
	for (int i = 0; i < 2; i++) {
		if (nvh_g.fd[i] >= 0)
			close(nvh_g.fd[i]);
		nvh_g.fd[i] = -1;
	}
	free(nvh_g.path);
	nvh_g.path = NULL;
}

void *nvh_open(const char *path, size_t size)
{
	nvh_clear_warnings();
	if (!path || !*path) {
		nvh_fail(EINVAL, "nvh_open: no path");
		return NULL;
	}
	long page = sysconf(_SC_PAGESIZE);
	uint64_t size_wanted = ((uint64_t)size + (uint64_t)page - 1) / (uint64_t)page * (uint64_t)page;
	if (size && size_wanted < 64 * 1024) {
		nvh_fail(EINVAL, "nvh_open: a heap needs at least 64 KiB, %zu bytes asked", size);
		return NULL;
	}
	pthread_mutex_lock(&nvh_g.lock);
	if (nvh_g.open) {
		nvh_fail(EBUSY, "nvh_open: heap %s is already open in this process (one heap at a time)",
			 nvh_g.path);
		pthread_mutex_unlock(&nvh_g.lock);
		return NULL;
	}
	char *names[2] = { file_name(path, ".0"), file_name(path, ".1") };
	nvh_g.path = strdup(path);
	int ok = 0;
	if (!names[0] || !names[1] || !nvh_g.path) {
		nvh_fail(ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		nvh_g.fd[i] = open(names[i], O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (nvh_g.fd[i] < 0) {
			nvh_fail(errno, "cannot open %s: %s", names[i], strerror(errno));
			goto out;
		}
		/* PATH.0's lock guards the pair against a second process (released by exec: CLOEXEC). */
		if (i == 0 && flock(nvh_g.fd[0], LOCK_EX | LOCK_NB) < 0) {
			nvh_fail(errno == EWOULDBLOCK ? EBUSY : errno, "heap %s is open in another process",
				 path);
			goto out;
		}
	}
	off_t end0 = lseek(nvh_g.fd[0], 0, SEEK_END), end1 = lseek(nvh_g.fd[1], 0, SEEK_END);
	if (end0 == 0 && end1 == 0) {
		if (!size_wanted) {
			nvh_fail(ENOENT, "heap %s does not exist and no size was given to create it", path);
			goto out;
		}
		if (create_heap(path, names[1], size_wanted) < 0)
			goto out;
		nvh_g.heap = (struct nvh_heap_header *)(uintptr_t)nvh_g.base;
	} else if (load_heap(names, size_wanted) < 0) {
		goto out;
	}
	nvh_g.guard_lo = nvh_g.guard_len = 0;
	nvh_g.run_active = 0;
	nvh_g.owner = getpid();
	nvh_g.open = 1;
	ok = 1;
out:
	if (!ok)
		close_files();
	free(names[0]);
	free(names[1]);
	pthread_mutex_unlock(&nvh_g.lock);
	return ok ? (void *)(uintptr_t)nvh_g.base : NULL;
}

int nvh_require_open(const char *fn)
{
	if (!nvh_g.open)
		return nvh_fail(EBADF, "%s: no heap is open", fn);
	/* A forked child shares the parent's files and lock: two writers would interleave
	 * checkpoints into the same files. */
	if (nvh_g.owner != getpid())
		return nvh_fail(EBUSY, "%s: the heap belongs to process %d; a forked child can only "
				"nvh_close() its copy", fn, (int)nvh_g.owner);
	return 0;
}

int nvh_close(void)
{
	pthread_mutex_lock(&nvh_g.lock);
	int forked_copy = nvh_g.open && nvh_g.owner != getpid();
	int rc = forked_copy ? 0 : nvh_require_open("nvh_close");
	if (rc == 0 && nvh_g.run_active && !forked_copy)
		rc = nvh_fail(EBUSY, "nvh_close: a persistent function is running on the heap");
	if (rc == 0) {
		munmap((void *)(uintptr_t)nvh_g.base, nvh_g.size);
		close_files();
		nvh_g.heap = NULL;
		nvh_g.base = nvh_g.size = nvh_g.epoch = 0;
		nvh_g.open = 0;
	}
	pthread_mutex_unlock(&nvh_g.lock);
	return rc;
}

void *nvh_alloc(size_t size)
{
	pthread_mutex_lock(&nvh_g.lock);
	void *p = nvh_require_open("nvh_alloc") == 0 ? nvh_alloc_locked(size) : NULL;
	pthread_mutex_unlock(&nvh_g.lock);
	return p;
}

int nvh_free(void *ptr)
{
	pthread_mutex_lock(&nvh_g.lock);
	int rc = nvh_require_open("nvh_free") == 0 ? nvh_free_locked(ptr) : -1;
	pthread_mutex_unlock(&nvh_g.lock);
	return rc;
}

void *nvh_root_get(void)
{
	pthread_mutex_lock(&nvh_g.lock);
	void *p = nvh_require_open("nvh_root_get") == 0 ? (void *)(uintptr_t)nvh_g.heap->root : NULL;
	pthread_mutex_unlock(&nvh_g.lock);
	return p;
}

int nvh_root_set(void *ptr)
{
	pthread_mutex_lock(&nvh_g.lock);
	int rc = nvh_require_open("nvh_root_set");
	uint64_t p = (uint64_t)(uintptr_t)ptr;
	if (rc == 0 && ptr && (p < nvh_g.base || p >= nvh_g.base + nvh_g.size))
		rc = nvh_fail(EINVAL, "nvh_root_set: %p is outside the heap", ptr);
	if (rc == 0)
		nvh_g.heap->root = p;
	pthread_mutex_unlock(&nvh_g.lock);
	return rc;
}

/* The C half of nvh_checkpoint (the entry point is assembly, nvh_context.c). */
int nvh__checkpoint_with_context(const struct nvh_context *caller)
{
	pthread_mutex_lock(&nvh_g.lock);
	int rc = nvh_require_open("nvh_checkpoint");
	if (rc == 0 && nvh_on_runner)
		rc = nvh__run_save_context(caller);
	else if (rc == 0 && nvh_g.run_active)
		rc = nvh_fail(EBUSY, "nvh_checkpoint: a persistent function is running; only its own "
			      "thread may checkpoint");
	if (rc == 0) {
		uint64_t epoch = nvh_g.epoch + 1;
		int i = (int)(epoch % 2);
		char *name = file_name(nvh_g.path, i ? ".1" : ".0");
		const struct nvh_run_record *run = &nvh_g.heap->run;
		struct nvh_range zeros[2];
		int nzeros = nvh__run_volatile_ranges(zeros);
		rc = name ? nvh_file_write_epoch(nvh_g.fd[i], name, epoch, nvh_g.base, nvh_g.size,
						 run->state == NVH_RUN_ACTIVE ? run->text[0].base : 0,
						 zeros, nzeros)
			  : nvh_fail(ENOMEM, "out of memory");
		free(name);
		if (rc == 0)
			nvh_g.epoch = epoch;
	}
	pthread_mutex_unlock(&nvh_g.lock);
	return rc;
}

uint64_t nvh_epoch(void)
{
	return nvh_g.open ? nvh_g.epoch : 0;
}

void *nvh_base(void)
{
	return nvh_g.open ? (void *)(uintptr_t)nvh_g.base : NULL;
}

size_t nvh_size(void)
{
	return nvh_g.open ? (size_t)nvh_g.size : 0;
}
