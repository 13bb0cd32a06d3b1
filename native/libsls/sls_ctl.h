/* sls_ctl.h — self-checkpoints through SLS (Aurora's libsls): a program puts itself into a
 * partition and asks for checkpoints of it, over the SLS control socket.
 *
 * The socket is $SLS_CONTROL_SOCKET (the distribution's data/sls/control.sock). Every call connects,
 * sends one request line and waits for one reply line, at most $SLS_TIMEOUT_MS milliseconds
 * (default 60000) — SLS not running is an error (ECONNREFUSED/ENOENT/ETIMEDOUT), never a hang.
 *
 * Errors: the call returns -1 and sets errno; sls_strerror(errno) gives the message SLS sent (or the
 * system's message when the error happened locally).
 */
#ifndef SLS_CTL_H
#define SLS_CTL_H

#include <stdint.h>

/* sls_checkpoint's return value in a process that runs from a restored image (like fork's 0). */
#define SLS_RESTORED 1

/* Puts the calling process into partition oid. 0 on success. */
int sls_attach(uint64_t oid);

/* Takes the calling process out of partition oid. 0 on success. */
int sls_detach(uint64_t oid);

/* Checkpoints the caller's partition oid and returns only once the epoch is committed in its backend
 * (a durability barrier): 0 in the original process, SLS_RESTORED when execution continues here in a
 * process restored from that checkpoint (or a later one), -1 on error. */
int sls_checkpoint(uint64_t oid);

/* 1 if this process runs from a restored image, 0 if it is the original, -1 on error. */
int sls_restored(void);

/* The message for an error code returned by this library in errno: what SLS said, if the last failed
 * call of this thread failed with `err`; otherwise strerror(err). */
const char *sls_strerror(int err);

#endif /* SLS_CTL_H */
