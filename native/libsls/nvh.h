/* nvh — the persistent heap of libsls (seed 000: "persistent user programs").
 *
 * A heap mapped at a fixed address and backed by two files, PATH.0 and PATH.1, written
 * alternately: epoch E is always written into PATH.(E % 2), so a checkpoint only ever
 * overwrites the older of the two committed states and a crash in the middle of a
 * checkpoint leaves the newer one intact. Each file holds a METADATA header (magic, format
 * version, epoch, WRITE_LOCK commit word, CRC32C of the payload, heap base address and size,
 * text base of the persistent program) followed by the PAYLOAD, an image of the heap.
 *
 * Persistent execution: nvh_run() runs a function on a thread whose stack lives inside the
 * heap; nvh_checkpoint() called on that thread also saves the thread's register context, and
 * after a crash nvh_open() + nvh_run() continue the function where it last checkpointed.
 *
 * One heap per process at a time. Every function returns -1 (or NULL) on failure, sets errno
 * and leaves a one-line message for nvh_last_error(). Warnings (a damaged or interrupted
 * checkpoint file that nvh_open() fell back from) are written to stderr as "nvh: warning: ..."
 * and kept for nvh_last_warning().
 */
#ifndef SLS_NVH_H
#define SLS_NVH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* On-disk format version written and accepted by this library. */
#define NVH_FORMAT_VERSION 1

/* nvh_checkpoint() result on the persistent thread when it continues after a restart. */
#define NVH_RESUMED 1

/* Opens the heap backed by PATH.0/PATH.1, creating it with SIZE bytes (rounded up to the
 * page size) when neither file exists. SIZE 0 opens an existing heap at its recorded size;
 * a non-zero SIZE that differs from an existing heap's size is an error (EINVAL).
 * Returns the heap's base address. Errors: EBUSY (a heap is already open in this process, or
 * another process has this heap open), EEXIST (the heap's address range is already in use),
 * EPROTO (a file has an unsupported format version), EILSEQ (no file holds a valid
 * checkpoint), and the errno of failed file operations. */
void *nvh_open(const char *path, size_t size);

/* Unmaps the heap and closes its files. Changes since the last nvh_checkpoint() are lost.
 * Fails with EBUSY while a persistent function started by nvh_run() is running. A child
 * created by fork() inherits the heap but may only nvh_close() its copy: every other call
 * fails there with EBUSY (the files belong to the parent). */
int nvh_close(void);

/* Allocates SIZE bytes (16-byte aligned) inside the heap; NULL with ENOMEM when no free
 * block is large enough, EINVAL for SIZE 0. */
void *nvh_alloc(size_t size);

/* Frees a block returned by nvh_alloc(); NULL is a no-op. EINVAL for a pointer that is not
 * the start of an allocated block (outside the heap, misaligned, or already freed). */
int nvh_free(void *ptr);

/* The root pointer: the one address stored in the heap's own header, from which a program
 * finds its data again after nvh_open(). NULL in a new heap. nvh_root_set() fails with
 * EINVAL for a non-NULL pointer outside the heap. */
void *nvh_root_get(void);
int nvh_root_set(void *ptr);

/* Writes the heap into the older file and commits it: clear WRITE_LOCK (durable), write the
 * payload, fdatasync, write the header with the new epoch and CRC32C and WRITE_LOCK set,
 * fdatasync. Returns 0 once the new epoch is durable.
 * On the persistent thread (inside nvh_run()) it also saves the thread's register context,
 * and returns NVH_RESUMED when the function continues from this point after a restart.
 * Other threads may call it too (the heap data is saved, no context), but not while a
 * persistent function is running (EBUSY): its stack would be written mid-change. The caller
 * ensures no thread modifies the heap while it runs. */
int nvh_checkpoint(void);

/* Runs FN(ARG) on a new thread whose stack lives inside the heap and waits for it to return;
 * stores FN's result in *RESULT when RESULT is not NULL. If the heap holds a context saved by
 * nvh_checkpoint() on a persistent thread of FN that had not returned, FN continues from
 * that checkpoint instead (ARG is then ignored: the saved stack holds the original one).
 * Addresses must be the same as in the run that saved the context: when the process runs with
 * address-space randomization, nvh_run() re-executes the program (/proc/self/exe, same
 * argv and environment, stdio flushed) with randomization disabled, which discards
 * everything since the last checkpoint exactly as a crash would. It fails with ENOEXEC when
 * the program's code is not where (or not what) it was at the checkpoint, or when
 * randomization cannot be disabled, and EBUSY when a persistent function is already running.
 * Contract for FN: no pointers to thread-local data, file descriptors, locks, malloc()
 * memory or other non-heap state kept across a checkpoint; every function on the persistent
 * stack at a checkpoint lives in FN's object (or in the caller of nvh_checkpoint's object);
 * FN returns normally (no pthread_exit, no longjmp out of it). */
int nvh_run(void *(*fn)(void *), void *arg, void **result);

/* Forgets the saved context of a persistent run, so that the next nvh_run() starts its
 * function from the beginning: the way out when nvh_run() refuses to resume (ENOEXEC) after
 * the program was rebuilt. Takes effect in the files at the next nvh_checkpoint(). No-op
 * when there is no saved run; EBUSY while a persistent function is running. */
int nvh_run_abandon(void);

/* The epoch of the heap's current state: the last committed checkpoint (or the one loaded),
 * 1 for a new heap; 0 when no heap is open. */
uint64_t nvh_epoch(void);

/* The heap's base address and size, NULL/0 when no heap is open. */
void *nvh_base(void);
size_t nvh_size(void);

/* The message of the last failed nvh_* call in this thread ("" if none). */
const char *nvh_last_error(void);

/* The warnings of the last nvh_open() in this thread, one per line ("" if none). */
const char *nvh_last_warning(void);

#ifdef __cplusplus
}
#endif

#endif /* SLS_NVH_H */
