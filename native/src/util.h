/*
 * util.h — small helpers shared by the engine's sources: one-line error reporting, whole-file reads
 * from /proc, CRC32C, monotonic time.
 */
#ifndef SLS_UTIL_H
#define SLS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Writes one formatted line into err[errlen] (if err is not NULL) and returns -code (code > 0),
 * so callers write `return sls_errf(err, errlen, ESRCH, "pid %d: ...", pid);`. */
int sls_errf(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Reads a whole (proc) file into a malloc'd, NUL-terminated buffer. Returns its length or -errno. */
ssize_t sls_read_file(const char *path, char **out);

/* CRC32C (Castagnoli); crc starts at 0 for a fresh checksum. */
uint32_t sls_crc32c(uint32_t crc, const void *data, size_t len);

uint64_t sls_now_ns(int clock_id);

/* waitpid(tid, status, __WALL) for a tracee of ours, except that the exit of a process that is also
 * the caller's own child is only looked at (WNOWAIT), not reaped: that exit status belongs to the
 * caller's own waitpid. (A tracee that is not our child must be waited for: only then does its
 * parent hear of its exit.) Returns tid, or -1 with errno. */
pid_t sls_wait_tracee(pid_t tid, int *status);

#endif
