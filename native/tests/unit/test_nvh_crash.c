/* The crash test of the persistent heap: tests/prog/nvh_hashchain computes a hash chain of
 * 10^7 steps (NVH_CRASH_STEPS to change) under nvh_run, checkpointing every 10^5 steps; this
 * test kills it with SIGKILL at 50 random moments, restarting it each time, and checks that
 * the final answer equals that of a plain computation and of an uninterrupted run.
 *
 * Kills inside nvh_checkpoint are made likely by NVH_TEST_CHECKPOINT_PAUSE_US (the library
 * sleeps between the steps of each checkpoint) and proven, not guessed: the child is stopped
 * with SIGSTOP first, and /proc/PID/task/TID/syscall shows whether its persistent thread is
 * inside the checkpoint (in its pause, writing the payload, or syncing). For the kills that
 * land after WRITE_LOCK was cleared and before it is set again, the test checks that the file
 * is left with WRITE_LOCK clear and that the restart falls back to the previous epoch.
 * NVH_CRASH_SEED reproduces a run's kill times. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "sls.h"
#include "nvh_internal.h"

#define KILLS 50
#define PAUSE_US 5000
/* every AIM_EVERY-th kill waits for the child to be inside a checkpoint */
#define AIM_EVERY 5

static char dir[256];
static char prog[4096];
static int failures;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(const char *name, const char *why)
{
	printf("FAIL %s: %s\n", name, why);
	failures++;
}

/* Starts the chain program with its output in LOG; PAUSE adds the checkpoint pause. */
static pid_t start(const char *log, const char *const argv[], int pause)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		if (pause) {
			char us[32];
			snprintf(us, sizeof us, "%d", PAUSE_US);
			setenv("NVH_TEST_CHECKPOINT_PAUSE_US", us, 1);
		} else {
			unsetenv("NVH_TEST_CHECKPOINT_PAUSE_US");
		}
		execv(prog, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static int wait_exit(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void read_log(const char *log, char *buf, size_t len)
{
	buf[0] = '\0';
	FILE *f = fopen(log, "r");
	if (!f)
		return;
	size_t n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* "RESULT <hex>" of a finished run, or "" */
static void result_of(const char *out, char result[17])
{
	const char *r = strstr(out, "RESULT ");
	result[0] = '\0';
	if (r && strlen(r) >= 7 + 16) {
		memcpy(result, r + 7, 16);
		result[16] = '\0';
	}
}

enum where { OUTSIDE, IN_CHECKPOINT, IN_LOCK_WINDOW };

/* Where the stopped child is: the system call each of its threads is in. The checkpoint is
 * the only code of the program that calls pwrite64, fdatasync or (with the pause) nanosleep. */
static enum where where_stopped(pid_t pid, char *what, size_t whatlen)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", pid);
	DIR *d = opendir(path);
	enum where w = OUTSIDE;
	snprintf(what, whatlen, "computing");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char file[320], line[256] = "";
		snprintf(file, sizeof file, "/proc/%d/task/%s/syscall", pid, e->d_name);
		FILE *f = fopen(file, "r");
		if (!f)
			continue;
		if (!fgets(line, sizeof line, f))
			line[0] = '\0';
		fclose(f);
		long nr = strtol(line, NULL, 10);
		unsigned long long a[6] = { 0 };
		char *p = strchr(line, ' ');
		for (int i = 0; i < 6 && p; i++, p = strchr(p + 1, ' '))
			a[i] = strtoull(p + 1, NULL, 16);
		if (nr == SYS_clock_nanosleep || nr == SYS_nanosleep) {
			snprintf(what, whatlen, "checkpoint pause (WRITE_LOCK clear)");
			w = IN_LOCK_WINDOW;
		} else if (nr == SYS_pwrite64 && a[3] >= NVH_HEADER_SIZE) {
			snprintf(what, whatlen, "payload write (WRITE_LOCK clear)");
			w = IN_LOCK_WINDOW;
		} else if ((nr == SYS_pwrite64 || nr == SYS_fdatasync) && w == OUTSIDE) {
			snprintf(what, whatlen, "checkpoint %s", nr == SYS_fdatasync ? "fdatasync" : "lock/header write");
			w = IN_CHECKPOINT;
		}
	}
	if (d)
		closedir(d);
	return w;
}

/* 1 when a file of the heap has a valid header with WRITE_LOCK clear; 2 when only the file
 * that creates the heap (epoch 1, written under the name HEAP.1.tmp) is in that state. */
static int lock_clear_on_disk(const char *heap)
{
	static const char *suffix[] = { ".0", ".1", ".1.tmp" };
	for (int i = 0; i < 3; i++) {
		char file[600];
		struct nvh_file_header h;
		snprintf(file, sizeof file, "%s%s", heap, suffix[i]);
		int fd = open(file, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t n = pread(fd, &h, sizeof h, 0);
		close(fd);
		/* a file being written for the first time has zeros up to the cleared lock word */
		int fresh = n == (ssize_t)sizeof h && h.write_lock == 0 && h.magic[0] == 0;
		if (n == (ssize_t)sizeof h && (memcmp(h.magic, NVH_FILE_MAGIC, 8) == 0 || fresh) &&
		    h.write_lock != NVH_COMMITTED)
			return i < 2 ? 1 : 2;
	}
	return 0;
}

int main(void)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(dir, sizeof dir, "%s/test_nvh_crash.XXXXXX", tmp);
	ssize_t n = readlink("/proc/self/exe", prog, sizeof prog - 64);
	if (!mkdtemp(dir) || n <= 0) {
		printf("FAIL setup: cannot create a directory in %s or find myself\n", tmp);
		return 1;
	}
	prog[n] = '\0';
	strcpy(strrchr(prog, '/'), "/../prog/nvh_hashchain");
	if (access(prog, X_OK) != 0) {
		printf("FAIL setup: %s is not built\n", prog);
		return 1;
	}
	const char *steps = getenv("NVH_CRASH_STEPS") ? getenv("NVH_CRASH_STEPS") : "10000000";
	const char *interval = "100000";
	unsigned seed = getenv("NVH_CRASH_SEED") ? (unsigned)strtoul(getenv("NVH_CRASH_SEED"), NULL, 0)
						 : (unsigned)time(NULL) ^ (unsigned)getpid();
	char log[600], out[16384], why[1024], reference[17], result[17];

	/* 1. The answer, computed without the library. */
	snprintf(log, sizeof log, "%s/reference.log", dir);
	const char *ref_argv[] = { "nvh_hashchain", "--reference", steps, NULL };
	int rc = wait_exit(start(log, ref_argv, 0));
	read_log(log, out, sizeof out);
	result_of(out, reference);
	if (rc != 0 || !reference[0]) {
		snprintf(why, sizeof why, "reference run: status %d: %.300s", rc, out);
		fail("setup", why);
		return 1;
	}

	/* 2. One uninterrupted persistent run. */
	char heap_a[512], heap_b[512];
	snprintf(heap_a, sizeof heap_a, "%s/whole", dir);
	snprintf(heap_b, sizeof heap_b, "%s/killed", dir);
	snprintf(log, sizeof log, "%s/whole.log", dir);
	const char *a_argv[] = { "nvh_hashchain", heap_a, steps, interval, NULL };
	double t0 = now();
	rc = wait_exit(start(log, a_argv, 0));
	double whole_seconds = now() - t0;
	read_log(log, out, sizeof out);
	result_of(out, result);
	if (rc == 0 && strcmp(result, reference) == 0) {
		printf("PASS hashchain_uninterrupted_run_matches_reference\n");
	} else {
		snprintf(why, sizeof why, "status %d, result %s, reference %s: %.300s", rc, result, reference, out);
		fail("hashchain_uninterrupted_run_matches_reference", why);
	}

	/* 3. Killed KILLS times. The kill times are spread so that the chain cannot finish before
	 * the last kill: their sum is below the time an uninterrupted run with pauses takes. */
	double checkpoints = strtod(steps, NULL) / strtod(interval, NULL);
	double paused_run = whole_seconds + checkpoints * 2 * PAUSE_US / 1e6;
	double max_delay = paused_run / KILLS * 1.2;
	const char *b_argv[] = { "nvh_hashchain", heap_b, steps, interval, NULL };
	int kills = 0, in_checkpoint = 0, in_lock_window = 0, lock_clear_proven = 0;
	int fallback_expected = 0, fallbacks_seen = 0, fallbacks_unchecked = 0, finished_early = 0, early_wrong = 0;
	int created_killed = 0;
	double t1 = now();
	for (int attempt = 0; kills < KILLS && attempt < 4 * KILLS; attempt++) {
		snprintf(log, sizeof log, "%s/killed-%02d.log", dir, attempt);
		pid_t pid = start(log, b_argv, 1);
		useconds_t delay = (useconds_t)(1000 + (rand_r(&seed) / (double)RAND_MAX) * max_delay * 1e6);
		if (attempt % AIM_EVERY == AIM_EVERY - 1) {
			/* an aimed kill: wait (after the random delay) for the checkpoint pause */
			usleep(delay / 4);
			char what[128];
			double give_up = now() + 2.0;
			while (where_stopped(pid, what, sizeof what) != IN_LOCK_WINDOW && now() < give_up)
				usleep(200);
		} else {
			usleep(delay);
		}
		kill(pid, SIGSTOP);
		int status;
		while (waitpid(pid, &status, WUNTRACED) < 0 && errno == EINTR)
			;
		if (!WIFSTOPPED(status)) {
			/* The chain finished before this kill (a machine suddenly faster than during the
			 * timing run): its answer must be right too; then start a new chain. */
			read_log(log, out, sizeof out);
			result_of(out, result);
			if (strcmp(result, reference) != 0)
				early_wrong++;
			finished_early++;
			fallback_expected = 0;
			for (int i = 0; i < 2; i++) {
				char file[600];
				snprintf(file, sizeof file, "%s.%d", heap_b, i);
				unlink(file);
			}
			continue;
		}
		char what[128];
		enum where w = where_stopped(pid, what, sizeof what);
		kill(pid, SIGKILL);
		wait_exit(pid);
		kills++;
		/* the previous kill cut a checkpoint short: this run must have fallen back */
		read_log(log, out, sizeof out);
		if (fallback_expected) {
			if (strstr(out, "WRITE_LOCK clear"))
				fallbacks_seen++;
			else if (strstr(out, "resumed after"))
				fallbacks_unchecked = -1000; /* resumed without noticing: a failure */
			else
				fallbacks_unchecked++;   /* killed before it opened the heap */
		}
		fallback_expected = 0;
		if (w != OUTSIDE)
			in_checkpoint++;
		if (w == IN_LOCK_WINDOW) {
			in_lock_window++;
			int clear = lock_clear_on_disk(heap_b);
			if (clear)
				lock_clear_proven++;
			fallback_expected = clear == 1; /* a heap killed while being created is created anew */
			created_killed += clear == 2;
		}
		if (getenv("NVH_CRASH_VERBOSE"))
			printf("kill %2d after %5.1f ms: %s%s\n", kills, delay / 1000.0, what,
			       w != IN_LOCK_WINDOW ? "" : fallback_expected ? ", WRITE_LOCK clear on disk"
				   : lock_clear_on_disk(heap_b) == 2 ? ", creating the heap: WRITE_LOCK clear in .1.tmp"
								       : ", WRITE_LOCK NOT clear on disk");
	}
	double kill_seconds = now() - t1;

	/* 4. Let it finish. */
	snprintf(log, sizeof log, "%s/final.log", dir);
	rc = wait_exit(start(log, b_argv, 0));
	read_log(log, out, sizeof out);
	result_of(out, result);
	if (fallback_expected && strstr(out, "WRITE_LOCK clear"))
		fallbacks_seen++;
	else if (fallback_expected)
		fallbacks_unchecked = -1000;
	const char *resumes = strstr(out, "resumes ");
	int resumes_len = resumes ? (int)strcspn(resumes, "\n") : 1;
	printf("INFO seed %u: %d kills in %.1f s (max delay %.0f ms, %d chains finished before a kill), %d inside "
	       "nvh_checkpoint, %d with WRITE_LOCK clear (%d proven on disk, %d of them while creating the heap, "
	       "%d restarts fell back, %d unchecked); final run: %.*s\n", seed, kills, kill_seconds, max_delay * 1e3,
	       finished_early, in_checkpoint, in_lock_window, lock_clear_proven, created_killed, fallbacks_seen,
	       fallbacks_unchecked, resumes_len, resumes ? resumes : "-");
	if (kills == KILLS && rc == 0 && strcmp(result, reference) == 0 && early_wrong == 0) {
		printf("PASS hashchain_killed_%d_times_matches_reference\n", KILLS);
	} else {
		snprintf(why, sizeof why, "%d kills (%d chains ended before their kill, %d of them wrong), final "
			 "status %d, result %s, reference %s: %.300s", kills, finished_early, early_wrong, rc, result,
			 reference, out);
		fail("hashchain_killed_50_times_matches_reference", why);
	}
	if (in_checkpoint >= KILLS / AIM_EVERY && in_lock_window >= KILLS / AIM_EVERY / 2 &&
	    lock_clear_proven == in_lock_window &&
	    fallbacks_unchecked >= 0 && fallbacks_seen >= 1) {
		printf("PASS kills_inside_checkpoint_fall_back_to_the_previous_epoch\n");
	} else {
		snprintf(why, sizeof why, "%d kills inside nvh_checkpoint (want >= %d), %d in the WRITE_LOCK window "
			 "(want >= %d), %d of them left WRITE_LOCK clear on disk (want all), %d restarts fell back, "
			 "%s", in_checkpoint, KILLS / AIM_EVERY, in_lock_window, KILLS / AIM_EVERY / 2, lock_clear_proven, fallbacks_seen,
			 fallbacks_unchecked < 0 ? "a restart resumed without falling back" : "none resumed wrongly");
		fail("kills_inside_checkpoint_fall_back_to_the_previous_epoch", why);
	}
	if (failures == 0) {
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return failures ? 1 : 0;
}
