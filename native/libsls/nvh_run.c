/* Persistent execution: a function whose stack lives in the heap, so that the register
 * context saved by nvh_checkpoint() together with the heap is enough to continue it in a later
 * process (seed 000's setjmp/longjmp idea).
 *
 * The stack block inside the heap is [guard page | frames ... | launch area]. The launch area
 * is what pthread_attr_setstack() gets: glibc puts the new thread's descriptor and static TLS
 * at its top, so a resumed thread's descriptor, TLS block and pthread_self() land at the same
 * addresses as the saving thread's (with fresh contents). The thread then switches to the
 * frames area and calls the function there; the frames area is never touched by glibc, so
 * the frames saved at a checkpoint are intact when the thread jumps back into them.
 *
 * Saved return addresses point into the program's code, so that code must be at the same
 * address, and be the same code, when a run is resumed: nvh_run records the objects holding
 * the function and the caller of nvh_checkpoint (address, size and CRC32C of their executable
 * segments), re-executes a program that runs with address-space randomization with it
 * disabled (personality ADDR_NO_RANDOMIZE), and refuses to resume when they differ. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include "nvh_internal.h"

#define RUN_STACK_DEFAULT (256u << 10)
#define LAUNCH_AREA (64u << 10)
#define GUARD_PAGE 4096u
#define REEXEC_MARK "NVH_REEXECED"

__thread int nvh_on_runner;
static __thread struct nvh_context launch_context;
static __thread void *runner_result;

/* Set at load time: whether this process's address layout is randomized, and whether it is
 * the product of our own re-exec (then a still randomized layout means personality() had no
 * effect, and re-executing again would loop). */
static int layout_randomized;
static int reexec_attempted;

static int randomization_on(void)
{
	int persona = personality(0xffffffff);
	if (persona != -1 && (persona & ADDR_NO_RANDOMIZE))
		return 0;
	char c = '2';
	int fd = open("/proc/sys/kernel/randomize_va_space", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &c, 1) != 1)
			c = '2';
		close(fd);
	}
	return c != '0';
}

__attribute__((constructor)) static void nvh_run_startup(void)
{
	layout_randomized = randomization_on();
	if (getenv(REEXEC_MARK)) {
		reexec_attempted = 1;
		unsetenv(REEXEC_MARK);
		/* This layout is fixed now; programs we start get randomization back. */
		int persona = personality(0xffffffff);
		if (persona != -1 && (persona & ADDR_NO_RANDOMIZE))
			personality((unsigned long)persona & ~(unsigned long)ADDR_NO_RANDOMIZE);
	}
}

/* Re-executes the program with randomization disabled; returns only on failure. */
static int reexec_without_randomization(void)
{
	if (reexec_attempted)
		return nvh_fail(ENOEXEC, "nvh_run: addresses are still randomized after re-executing with "
				"ADDR_NO_RANDOMIZE; the program's code cannot be at the addresses a persistent "
				"run needs");
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return nvh_fail(ENOEXEC, "nvh_run: cannot re-execute without address randomization: "
				"/proc/self/cmdline: %s", strerror(errno));
	static char cmdline[65536];
	ssize_t n = read(fd, cmdline, sizeof cmdline - 1);
	close(fd);
	if (n <= 0 || n == (ssize_t)sizeof cmdline - 1)
		return nvh_fail(ENOEXEC, "nvh_run: cannot re-execute: unreadable or oversized command line");
	cmdline[n] = '\0';
	size_t argc = 0;
	for (ssize_t i = 0; i < n; i++)
		argc += cmdline[i] == '\0';
	char **argv = calloc(argc + 1, sizeof *argv);
	if (!argv)
		return nvh_fail(ENOMEM, "out of memory");
	for (size_t a = 0, off = 0; a < argc; a++, off += strlen(cmdline + off) + 1)
		argv[a] = cmdline + off;
	int persona = personality(0xffffffff);
	if (persona == -1 || personality((unsigned long)persona | ADDR_NO_RANDOMIZE) == -1) {
		free(argv);
		return nvh_fail(ENOEXEC, "nvh_run: cannot disable address randomization: personality: %s",
				strerror(errno));
	}
	setenv(REEXEC_MARK, "1", 1);
	fflush(NULL);
	execv("/proc/self/exe", argv);
	int err = errno;
	unsetenv(REEXEC_MARK);
	personality((unsigned long)persona);
	free(argv);
	return nvh_fail(ENOEXEC, "nvh_run: cannot re-execute /proc/self/exe without address "
			"randomization: %s", strerror(err));
}

struct segment_search {
	uint64_t addr;
	uint64_t text_size;
	uint32_t crc;
	int found;
};

static int checksum_text_of(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct segment_search *s = data;
	int contains = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && s->addr >= lo && s->addr < lo + ph->p_memsz)
			contains = 1;
	}
	if (!contains)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			s->crc = nvh_crc32c(s->crc, (const void *)(uintptr_t)(info->dlpi_addr + ph->p_vaddr),
					    ph->p_memsz);
			s->text_size += ph->p_memsz;
		}
	}
	s->found = 1;
	return 1;
}

/* Describes the loaded object containing ADDR. */
static int text_object_of(uint64_t addr, struct nvh_text_object *out)
{
	Dl_info info;
	memset(out, 0, sizeof *out);
	if (!dladdr((void *)(uintptr_t)addr, &info) || !info.dli_fbase)
		return nvh_fail(ENOEXEC, "address %#llx is not in the code of any loaded object",
				(unsigned long long)addr);
	struct segment_search s = { .addr = addr };
	dl_iterate_phdr(checksum_text_of, &s);
	if (!s.found)
		return nvh_fail(ENOEXEC, "address %#llx is not in the code of any loaded object",
				(unsigned long long)addr);
	out->base = (uint64_t)(uintptr_t)info.dli_fbase;
	out->text_size = s.text_size;
	out->text_crc32c = s.crc;
	const char *name = info.dli_fname && *info.dli_fname ? info.dli_fname : "(main program)";
	snprintf(out->path, sizeof out->path, "%s", name);
	return 0;
}

struct layout_fingerprint {
	uint32_t crc;
	uint32_t objects;
};

static int fingerprint_object(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct layout_fingerprint *f = data;
	uint64_t addr = info->dlpi_addr;
	const char *name = info->dlpi_name ? info->dlpi_name : "";
	f->crc = nvh_crc32c(f->crc, &addr, sizeof addr);
	f->crc = nvh_crc32c(f->crc, name, strlen(name) + 1);
	f->objects++;
	return 0;
}

static struct layout_fingerprint layout_now(void)
{
	struct layout_fingerprint f = { 0, 0 };
	dl_iterate_phdr(fingerprint_object, &f);
	return f;
}

/* The code the saved context needs is where, and what, it was. */
static int text_objects_unchanged(const struct nvh_run_record *run)
{
	for (int i = 0; i < NVH_TEXT_OBJECTS; i++) {
		const struct nvh_text_object *want = &run->text[i];
		struct nvh_text_object now;
		if (!want->base)
			continue;
		if (text_object_of(want->base, &now) < 0 || now.base != want->base)
			return nvh_fail(ENOEXEC, "nvh_run: cannot resume: %s was loaded at %#llx when the "
					"heap was checkpointed and is not there now", want->path,
					(unsigned long long)want->base);
		if (now.text_size != want->text_size || now.text_crc32c != want->text_crc32c)
			return nvh_fail(ENOEXEC, "nvh_run: cannot resume: the code of %s changed since the "
					"checkpoint (text CRC32C %08x, now %08x): a rebuilt program cannot "
					"continue a saved run", want->path, want->text_crc32c, now.text_crc32c);
	}
	struct layout_fingerprint f = layout_now();
	if (f.crc != run->layout_crc32c || f.objects != run->layout_objects)
		return nvh_fail(ENOEXEC, "nvh_run: cannot resume: the %u loaded objects are not the %u "
				"of the checkpointed run at the same addresses (another LD_PRELOAD or "
				"LD_LIBRARY_PATH, a different stack size limit, or a library loaded with "
				"dlopen before nvh_run?)", f.objects, run->layout_objects);
	return 0;
}

int nvh__run_save_context(const struct nvh_context *caller)
{
	struct nvh_run_record *run = &nvh_g.heap->run;
	if (caller->rsp <= run->stack_lo + GUARD_PAGE || caller->rsp > run->frames_top)
		return nvh_fail(EINVAL, "nvh_checkpoint: called on the persistent thread but not on its "
				"persistent stack (a signal handler on an alternate stack?)");
	/* The caller's object: usually the function's own; kept in the second slot otherwise
	 * (checksummed only when it changes, so steady checkpoints do not read code again). */
	Dl_info info;
	if (!dladdr((void *)(uintptr_t)caller->rip, &info) || !info.dli_fbase)
		return nvh_fail(ENOEXEC, "nvh_checkpoint: called from %#llx, which is in no loaded object",
				(unsigned long long)caller->rip);
	uint64_t caller_base = (uint64_t)(uintptr_t)info.dli_fbase;
	if (caller_base == run->text[0].base)
		memset(&run->text[1], 0, sizeof run->text[1]);
	else if (caller_base != run->text[1].base && text_object_of(caller->rip, &run->text[1]) < 0)
		return -1;
	run->ctx = *caller;
	run->has_context = 1;
	return 0;
}

int nvh__run_volatile_ranges(struct nvh_range out[2])
{
	const struct nvh_run_record *run = &nvh_g.heap->run;
	if (!nvh_g.run_active)
		return 0;
	/* Only the persistent thread checkpoints while a run is active, so its context was just
	 * saved: everything below the caller's stack pointer is the checkpoint's own frames. */
	out[0].lo = run->stack_lo;
	out[0].hi = run->ctx.rsp;
	out[1].lo = run->frames_top;
	out[1].hi = run->stack_lo + run->stack_size;
	return 2;
}

struct runner_start {
	void *(*fn)(void *);
	void *arg;
	int resume;
};

static void *runner_main(void *p)
{
	struct runner_start *start = p;
	nvh_on_runner = 1;
	if (nvh__context_save(&launch_context) == 0) {
		const struct nvh_run_record *run = &nvh_g.heap->run;
		if (start->resume)
			nvh__context_resume(&run->ctx, NVH_RESUMED);
		nvh__context_start(start->fn, start->arg, (void *)(uintptr_t)run->frames_top);
	}
	/* Back from nvh__run_returned: the function returned. */
	nvh_on_runner = 0;
	return runner_result;
}

void nvh__run_returned(void *result)
{
	runner_result = result;
	nvh__context_resume(&launch_context, 1);
}

static uint64_t run_stack_size(void)
{
	const char *s = getenv("NVH_RUN_STACK_SIZE");
	unsigned long long v = s && *s ? strtoull(s, NULL, 0) : RUN_STACK_DEFAULT;
	if (v < 2 * LAUNCH_AREA)
		v = 2 * LAUNCH_AREA;
	return (v + 4095) & ~UINT64_C(4095);
}

/* Lays out [guard | frames | launch] in a new heap block. */
static int allocate_run_stack(struct nvh_run_record *run)
{
	uint64_t size = run_stack_size();
	void *block = nvh_alloc_locked(size + GUARD_PAGE);
	if (!block)
		return nvh_fail(ENOMEM, "nvh_run: no room in the heap for a %llu-byte persistent stack "
				"(NVH_RUN_STACK_SIZE)", (unsigned long long)size);
	uint64_t lo = ((uint64_t)(uintptr_t)block + GUARD_PAGE - 1) & ~(uint64_t)(GUARD_PAGE - 1);
	run->stack_lo = lo;
	run->stack_size = size;
	run->frames_top = lo + size - LAUNCH_AREA;
	return 0;
}

int nvh_run(void *(*fn)(void *), void *arg, void **result)
{
	if (!fn)
		return nvh_fail(EINVAL, "nvh_run: no function");
	pthread_mutex_lock(&nvh_g.lock);
	int rc = nvh_require_open("nvh_run");
	if (rc == 0 && nvh_g.run_active)
		rc = nvh_fail(EBUSY, "nvh_run: a persistent function is already running");
	if (rc == 0 && layout_randomized) {
		pthread_mutex_unlock(&nvh_g.lock);
		return reexec_without_randomization();
	}
	struct nvh_run_record *run = rc == 0 ? &nvh_g.heap->run : NULL;
	int resume = run && run->state == NVH_RUN_ACTIVE && run->has_context;
	if (resume && run->fn != (uint64_t)(uintptr_t)fn)
		rc = nvh_fail(EINVAL, "nvh_run: the heap holds a saved run of the function at %#llx, not "
			      "of %p", (unsigned long long)run->fn, (void *)fn);
	if (resume && rc == 0)
		rc = text_objects_unchanged(run);
	if (rc == 0 && !resume) {
		if (!run->stack_lo)
			rc = allocate_run_stack(run);
		if (rc == 0)
			rc = text_object_of((uint64_t)(uintptr_t)fn, &run->text[0]);
		if (rc == 0) {
			memset(&run->text[1], 0, sizeof run->text[1]);
			memset(&run->ctx, 0, sizeof run->ctx);
			struct layout_fingerprint f = layout_now();
			run->layout_crc32c = f.crc;
			run->layout_objects = f.objects;
			run->fn = (uint64_t)(uintptr_t)fn;
			run->arg = (uint64_t)(uintptr_t)arg;
			run->has_context = 0;
			run->state = NVH_RUN_ACTIVE;
		}
	}
	if (rc < 0) {
		pthread_mutex_unlock(&nvh_g.lock);
		return -1;
	}
	if (resume) /* FN's frame returns into this process's copy of nvh__context_start */
		*(uint64_t *)(uintptr_t)(run->frames_top - 8) = (uint64_t)(uintptr_t)nvh__context_start_return;
	if (mprotect((void *)(uintptr_t)run->stack_lo, GUARD_PAGE, PROT_NONE) == 0) {
		nvh_g.guard_lo = run->stack_lo;
		nvh_g.guard_len = GUARD_PAGE;
	}
	nvh_g.run_active = 1;
	pthread_mutex_unlock(&nvh_g.lock);

	struct runner_start start = { fn, arg, resume };
	pthread_attr_t attr;
	pthread_t thread;
	void *ret = NULL;
	pthread_attr_init(&attr);
	rc = pthread_attr_setstack(&attr, (void *)(uintptr_t)run->frames_top,
				   run->stack_lo + run->stack_size - run->frames_top);
	if (rc == 0)
		rc = pthread_create(&thread, &attr, runner_main, &start);
	pthread_attr_destroy(&attr);
	if (rc == 0)
		pthread_join(thread, &ret);

	pthread_mutex_lock(&nvh_g.lock);
	if (nvh_g.guard_len)
		mprotect((void *)(uintptr_t)nvh_g.guard_lo, nvh_g.guard_len, PROT_READ | PROT_WRITE);
	nvh_g.guard_lo = nvh_g.guard_len = 0;
	nvh_g.run_active = 0;
	/* The run is over once FN returned; a run that could not even start is no run; a resume
	 * that could not start keeps its saved context for the next attempt. */
	if (rc == 0 || !resume) {
		run->state = NVH_RUN_IDLE;
		run->has_context = 0;
	}
	pthread_mutex_unlock(&nvh_g.lock);
	if (rc != 0)
		return nvh_fail(rc, "nvh_run: cannot start the persistent thread: %s (static TLS larger "
				"than the %u-byte launch area?)", strerror(rc), LAUNCH_AREA);
	if (result)
		*result = ret;
	return 0;
}

int nvh_run_abandon(void)
{
	pthread_mutex_lock(&nvh_g.lock);
	int rc = nvh_require_open("nvh_run_abandon");
	if (rc == 0 && nvh_g.run_active)
		rc = nvh_fail(EBUSY, "nvh_run_abandon: a persistent function is running");
	if (rc == 0) {
		struct nvh_run_record *run = &nvh_g.heap->run;
		run->state = NVH_RUN_IDLE;
		run->has_context = 0;
		memset(&run->ctx, 0, sizeof run->ctx);
	}
	pthread_mutex_unlock(&nvh_g.lock);
	return rc;
}
