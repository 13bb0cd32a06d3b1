/* Unit tests of persistent execution (nvh_run + nvh_checkpoint on the persistent thread).
 *
 * nvh_run re-executes a program that runs with address randomization, so every case runs
 * its persistent function in a child: this binary started again as
 * "test_nvh_run --role ROLE HEAP", whose output the case reads. A "crash" is the child
 * calling _exit right after a checkpoint, losing everything after it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "sls.h"
#include "nvh_internal.h"

/* ------------------------------------------------------------------ child roles */

struct run_state {
	uint64_t crash_at_checkpoint;   /* _exit(42) right after this checkpoint, unless resumed */
	uint64_t checkpoints;
	uint64_t resumes;
	uint64_t canary_first, canary_resumed;
	uint64_t errno_addr_first, errno_addr_resumed;
	uint64_t self_first, self_resumed;
	uint32_t mxcsr_resumed;
	uint64_t fresh_starts;
	uint64_t result;
};

static uint64_t read_canary(void)
{
	uint64_t v;
	__asm__ volatile("movq %%fs:0x28, %0" : "=r"(v));
	return v;
}

static uint32_t read_mxcsr(void)
{
	uint32_t v;
	__asm__ volatile("stmxcsr %0" : "=m"(v));
	return v;
}

static void write_mxcsr(uint32_t v)
{
	__asm__ volatile("ldmxcsr %0" : : "m"(v));
}

#define MXCSR_ROUND_UP 0x4000u

static __attribute__((noinline)) void checkpoint_here(struct run_state *st)
{
	int rc = nvh_checkpoint();
	if (rc < 0) {
		printf("checkpoint failed: %s\n", nvh_last_error());
		exit(3);
	}
	if (rc == NVH_RESUMED) {
		st->resumes++;
		st->canary_resumed = read_canary();
		st->errno_addr_resumed = (uint64_t)(uintptr_t)&errno;
		st->self_resumed = (uint64_t)pthread_self();
		st->mxcsr_resumed = read_mxcsr();
		return;
	}
	st->checkpoints++;
	if (st->checkpoints == st->crash_at_checkpoint && st->resumes == 0) {
		fflush(stdout);
		_exit(42);
	}
}

/* Frames built with a stack-protector canary, as in programs compiled with
 * -fstack-protector*: returning through them after a resume aborts unless the resumed thread
 * adopted the canary they were built with. */
#define CANARY_CHECKED __attribute__((optimize("stack-protector-all")))

/* Many frames, each with values live across the checkpoint in callee-saved registers and
 * stack slots, integer and floating point. */
static CANARY_CHECKED __attribute__((noinline)) uint64_t descend(struct run_state *st, int depth, uint64_t acc, double f)
{
	uint64_t a = acc * 31 + (uint64_t)depth, b = acc ^ ((uint64_t)depth * UINT64_C(0x9E3779B97F4A7C15));
	uint64_t c = a * b + 7;
	double g = f * 1.25 + depth / 3.0;
	if (depth == 0) {
		for (uint64_t k = 0; k < 4; k++) {
			checkpoint_here(st);
			a += k * c;
		}
		return a ^ b ^ c ^ (uint64_t)(g * 1000.0);
	}
	uint64_t r = descend(st, depth - 1, a + b, g);
	return r + a * b + c + (uint64_t)g;
}

static CANARY_CHECKED void *recurse_fn(void *arg)
{
	struct run_state *st = arg;
	st->canary_first = read_canary();
	st->errno_addr_first = (uint64_t)(uintptr_t)&errno;
	st->self_first = (uint64_t)pthread_self();
	write_mxcsr((read_mxcsr() & ~0x6000u) | MXCSR_ROUND_UP);
	uint64_t r = descend(st, 40, 1, 0.5);
	r ^= descend(st, 10, r, 2.0); /* a second descent: checkpoints after a resumed one */
	st->result = r;
	return (void *)(uintptr_t)0x5eed;
}

static int busy_result;

static void *checkpoint_from_other_thread(void *unused)
{
	(void)unused;
	busy_result = nvh_checkpoint() == -1 && errno == EBUSY;
	return NULL;
}

static void *busy_fn(void *arg)
{
	(void)arg;
	pthread_t t;
	if (pthread_create(&t, NULL, checkpoint_from_other_thread, NULL) != 0)
		return (void *)0;
	pthread_join(t, NULL);
	int close_busy = nvh_close() == -1 && errno == EBUSY;
	int run_busy = nvh_run(busy_fn, NULL, NULL) == -1 && errno == EBUSY;
	return (void *)(uintptr_t)(busy_result && close_busy && run_busy ? 1 : 0);
}

static __attribute__((noinline)) uint64_t overflow(volatile char *prev, uint64_t depth)
{
	volatile char frame[1024];
	frame[0] = (char)depth;
	frame[1023] = prev ? prev[0] : 0;
	return depth > (1u << 20) ? (uint64_t)frame[0] : overflow(frame, depth + 1) + (uint64_t)frame[1023];
}

/* Exits 71 when the fault is in the persistent stack's guard page, 72 elsewhere. */
static void on_overflow_fault(int sig, siginfo_t *info, void *uc)
{
	(void)sig, (void)uc;
	const struct nvh_heap_header *heap = nvh_base();
	uint64_t addr = (uint64_t)(uintptr_t)info->si_addr, guard = heap->run.stack_lo;
	_exit(addr >= guard && addr < guard + 4096 ? 71 : 72);
}

static void *overflow_fn(void *arg)
{
	(void)arg;
	static char altstack[64 << 10];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack };
	struct sigaction sa = { .sa_sigaction = on_overflow_fault, .sa_flags = SA_SIGINFO | SA_ONSTACK };
	if (sigaltstack(&ss, NULL) < 0 || sigaction(SIGSEGV, &sa, NULL) < 0)
		return NULL;
	return (void *)(uintptr_t)overflow(NULL, 0);
}

static void *address_fn(void *arg)
{
	(void)arg;
	int persona = personality(0xffffffff);
	printf("fn=%p norandom=%d\n", (void *)address_fn, persona != -1 && (persona & ADDR_NO_RANDOMIZE));
	return NULL;
}

static int child_main(const char *role, const char *heap, const char *arg)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!nvh_open(heap, 1 << 20)) {
		printf("open failed: %s\n", nvh_last_error());
		return 3;
	}
	struct run_state *st = nvh_root_get();
	if (!st) {
		st = nvh_alloc(sizeof *st);
		if (!st || nvh_root_set(st) < 0)
			return 3;
		memset(st, 0, sizeof *st);
		st->crash_at_checkpoint = arg ? strtoull(arg, NULL, 0) : 0;
	}
	void *(*fn)(void *) = strcmp(role, "recurse") == 0 ? recurse_fn
			      : strcmp(role, "busy") == 0  ? busy_fn
			      : strcmp(role, "overflow") == 0 ? overflow_fn
							   : address_fn;
	void *ret = NULL;
	if (nvh_run(fn, st, &ret) < 0) {
		printf("nvh_run failed: %s\n", nvh_last_error());
		return 4;
	}
	printf("ret=%#" PRIxPTR " result=%016" PRIx64 " checkpoints=%" PRIu64 " resumes=%" PRIu64 "\n",
	       (uintptr_t)ret, st->result, st->checkpoints, st->resumes);
	if (st->resumes)
		printf("canary_same=%d errno_same=%d self_same=%d mxcsr_round_up=%d\n",
		       st->canary_first == st->canary_resumed, st->errno_addr_first == st->errno_addr_resumed,
		       st->self_first == st->self_resumed, (st->mxcsr_resumed & 0x6000u) == MXCSR_ROUND_UP);
	return 0;
}

/* ------------------------------------------------------------------ parent side */

static int failures;
static char dir[256];

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			printf("FAIL %s: ", __func__);                       \
			printf(__VA_ARGS__);                                 \
			printf("\n");                                        \
			failures++;                                          \
			return;                                              \
		}                                                            \
	} while (0)
#define PASS() printf("PASS %s\n", __func__)

struct child {
	int status;      /* exit code, or 128 + signal */
	char out[8192];  /* stdout and stderr */
};

/* Runs this binary as a child role. ENV_MARK: set NVH_REEXECED as if we had re-executed it.
 * STACK_LIMIT: RLIMIT_STACK for the child (0: inherit). */
static void run_role(struct child *c, const char *role, const char *heap, const char *arg,
		     int env_mark, rlim_t stack_limit)
{
	int fds[2];
	memset(c, 0, sizeof *c);
	if (pipe(fds) < 0) {
		c->status = -1;
		return;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		if (env_mark)
			setenv("NVH_REEXECED", "1", 1);
		if (stack_limit) {
			struct rlimit rl = { stack_limit, stack_limit };
			setrlimit(RLIMIT_STACK, &rl);
		}
		execl("/proc/self/exe", "test_nvh_run", "--role", role, heap, arg, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	size_t used = 0;
	ssize_t n;
	while ((n = read(fds[0], c->out + used, sizeof c->out - 1 - used)) > 0)
		used += (size_t)n;
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	c->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static const char *heap_path(const char *name)
{
	static char path[4][512];
	static int next;
	char *p = path[next++ % 4];
	snprintf(p, sizeof path[0], "%s/%s", dir, name);
	return p;
}

static void run_returns_the_function_result(void)
{
	struct child c;
	run_role(&c, "recurse", heap_path("plain"), "0", 0, 0);
	CHECK(c.status == 0, "status %d: %s", c.status, c.out);
	CHECK(strstr(c.out, "ret=0x5eed") && strstr(c.out, "resumes=0") && strstr(c.out, "checkpoints=8"),
	      "output: %s", c.out);
	PASS();
}

static void run_continues_from_the_last_checkpoint_after_a_crash(void)
{
	struct child whole, crashed, resumed;
	run_role(&whole, "recurse", heap_path("whole"), "0", 0, 0);
	CHECK(whole.status == 0, "uninterrupted run: status %d: %s", whole.status, whole.out);
	const char *hp = heap_path("crash");
	run_role(&crashed, "recurse", hp, "3", 0, 0);
	CHECK(crashed.status == 42, "the run was to crash after checkpoint 3: status %d: %s", crashed.status,
	      crashed.out);
	run_role(&resumed, "recurse", hp, "3", 0, 0);
	CHECK(resumed.status == 0, "resumed run: status %d: %s", resumed.status, resumed.out);
	CHECK(strstr(resumed.out, "resumes=1"), "not resumed: %s", resumed.out);
	const char *r1 = strstr(whole.out, "result="), *r2 = strstr(resumed.out, "result=");
	CHECK(r1 && r2 && strncmp(r1, r2, 23) == 0, "results differ: uninterrupted %.23s, resumed %.23s", r1, r2);
	/* 3 checkpoints before the crash (the third restored with its count 2) + 6 after */
	CHECK(strstr(resumed.out, "checkpoints=7") && strstr(resumed.out, "ret=0x5eed"), "output: %s", resumed.out);
	PASS();
}

static void resumed_thread_keeps_canary_tls_addresses_and_fp_control(void)
{
	const char *hp = heap_path("context");
	struct child crashed, resumed;
	run_role(&crashed, "recurse", hp, "2", 0, 0);
	CHECK(crashed.status == 42, "status %d: %s", crashed.status, crashed.out);
	run_role(&resumed, "recurse", hp, "2", 0, 0);
	CHECK(resumed.status == 0, "status %d: %s", resumed.status, resumed.out);
	CHECK(strstr(resumed.out, "canary_same=1"), "stack-protector canary not adopted: %s", resumed.out);
	CHECK(strstr(resumed.out, "errno_same=1") && strstr(resumed.out, "self_same=1"),
	      "thread descriptor / TLS moved: %s", resumed.out);
	CHECK(strstr(resumed.out, "mxcsr_round_up=1"), "MXCSR rounding mode not restored: %s", resumed.out);
	PASS();
}

static void checkpoint_close_and_run_from_elsewhere_are_busy_during_a_run(void)
{
	struct child c;
	run_role(&c, "busy", heap_path("busy"), NULL, 0, 0);
	CHECK(c.status == 0 && strstr(c.out, "ret=0x1 "), "status %d: %s", c.status, c.out);
	PASS();
}

static void program_runs_without_randomization_at_a_stable_address(void)
{
	struct child a, b;
	run_role(&a, "address", heap_path("addr1"), NULL, 0, 0);
	run_role(&b, "address", heap_path("addr2"), NULL, 0, 0);
	CHECK(a.status == 0 && b.status == 0, "status %d/%d: %s %s", a.status, b.status, a.out, b.out);
	char *fa = strstr(a.out, "fn="), *fb = strstr(b.out, "fn=");
	CHECK(fa && fb && strncmp(fa, fb, strcspn(fa, " ")) == 0, "function at different addresses: %s / %s", a.out,
	      b.out);
	/* after the re-exec the library hands randomization back to the program's own children */
	CHECK(strstr(a.out, "norandom=0"), "ADDR_NO_RANDOMIZE left set for children: %s", a.out);
	PASS();
}

static void persistent_stack_overflow_hits_the_guard_page(void)
{
	struct child c;
	run_role(&c, "overflow", heap_path("overflow"), NULL, 0, 0);
	CHECK(c.status == 71, "a runaway recursion on the persistent stack ended with status %d, not a fault "
	      "in the guard page (71): %s", c.status, c.out);
	PASS();
}

static void crash_then_resume(const char *hp, struct child *crashed)
{
	run_role(crashed, "recurse", hp, "2", 0, 0);
}

static void resume_is_refused_when_the_code_changed(void)
{
	const char *hp = heap_path("changed");
	struct child crashed, refused, after;
	crash_then_resume(hp, &crashed);
	CHECK(crashed.status == 42, "status %d: %s", crashed.status, crashed.out);
	/* Pretend the program was rebuilt: the recorded checksum of its code no longer matches. */
	CHECK(nvh_open(hp, 0), "open: %s", nvh_last_error());
	struct nvh_heap_header *heap = nvh_base();
	uint32_t saved = heap->run.text[0].text_crc32c;
	heap->run.text[0].text_crc32c ^= 1;
	CHECK(nvh_checkpoint() == 0 && nvh_close() == 0, "rewrite: %s", nvh_last_error());
	run_role(&refused, "recurse", hp, "2", 0, 0);
	CHECK(refused.status == 4 && strstr(refused.out, "changed since the checkpoint"),
	      "status %d: %s", refused.status, refused.out);
	/* the refusal kept the saved run: with the checksum back, it resumes */
	CHECK(nvh_open(hp, 0), "open: %s", nvh_last_error());
	heap = nvh_base();
	heap->run.text[0].text_crc32c = saved;
	CHECK(nvh_checkpoint() == 0 && nvh_close() == 0, "restore: %s", nvh_last_error());
	run_role(&after, "recurse", hp, "2", 0, 0);
	CHECK(after.status == 0 && strstr(after.out, "resumes=1"), "the refused run was lost: %d %s", after.status,
	      after.out);
	PASS();
}

static void abandoned_run_starts_again_from_the_beginning(void)
{
	const char *hp = heap_path("abandon");
	struct child crashed, fresh;
	crash_then_resume(hp, &crashed);
	CHECK(crashed.status == 42, "status %d: %s", crashed.status, crashed.out);
	CHECK(nvh_open(hp, 0), "open: %s", nvh_last_error());
	struct run_state *st = nvh_root_get();
	st->crash_at_checkpoint = 0;
	st->checkpoints = 0;
	CHECK(nvh_run_abandon() == 0 && nvh_checkpoint() == 0 && nvh_close() == 0, "abandon: %s", nvh_last_error());
	run_role(&fresh, "recurse", hp, "0", 0, 0);
	CHECK(fresh.status == 0 && strstr(fresh.out, "resumes=0") && strstr(fresh.out, "checkpoints=8"),
	      "status %d: %s", fresh.status, fresh.out);
	PASS();
}

static void resume_is_refused_when_libraries_moved(void)
{
	const char *hp = heap_path("moved");
	struct child crashed, refused, after;
	crash_then_resume(hp, &crashed);
	CHECK(crashed.status == 42, "status %d: %s", crashed.status, crashed.out);
	/* A much larger stack limit moves the mmap base, so shared libraries load elsewhere. */
	run_role(&refused, "recurse", hp, "2", 0, (rlim_t)1 << 30);
	CHECK(refused.status == 4 && strstr(refused.out, "loaded objects"), "status %d: %s", refused.status,
	      refused.out);
	run_role(&after, "recurse", hp, "2", 0, 0);
	CHECK(after.status == 0 && strstr(after.out, "resumes=1"), "status %d: %s", after.status, after.out);
	PASS();
}

static void run_is_refused_when_randomization_stays_on(void)
{
	int persona = personality(0xffffffff);
	FILE *f = fopen("/proc/sys/kernel/randomize_va_space", "r");
	int level = f && fscanf(f, "%d", &level) == 1 ? level : 2;
	if (f)
		fclose(f);
	if ((persona != -1 && (persona & ADDR_NO_RANDOMIZE)) || level == 0) {
		printf("SKIP %s: this test process runs without address randomization\n", __func__);
		return;
	}
	/* The child believes it is the product of the re-exec, yet its layout is randomized: the
	 * library must refuse rather than re-execute forever. */
	struct child c;
	run_role(&c, "recurse", heap_path("stays"), "0", 1, 0);
	CHECK(c.status == 4 && strstr(c.out, "still randomized"), "status %d: %s", c.status, c.out);
	PASS();
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "--role") == 0)
		return child_main(argv[2], argv[3], argc > 4 ? argv[4] : NULL);
	snprintf(dir, sizeof dir, "%s/test_nvh_run.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		printf("FAIL setup: mkdtemp %s: %s\n", dir, strerror(errno));
		return 1;
	}
	run_returns_the_function_result();
	run_continues_from_the_last_checkpoint_after_a_crash();
	resumed_thread_keeps_canary_tls_addresses_and_fp_control();
	checkpoint_close_and_run_from_elsewhere_are_busy_during_a_run();
	program_runs_without_randomization_at_a_stable_address();
	persistent_stack_overflow_hits_the_guard_page();
	resume_is_refused_when_the_code_changed();
	abandoned_run_starts_again_from_the_beginning();
	resume_is_refused_when_libraries_moved();
	run_is_refused_when_randomization_stays_on();
	if (failures == 0) {
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return failures ? 1 : 0;
}
