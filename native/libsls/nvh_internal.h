/* nvh internals shared by the nvh_*.c files (and by white-box unit tests). */
#ifndef SLS_NVH_INTERNAL_H
#define SLS_NVH_INTERNAL_H

#include <pthread.h>
#include <sys/types.h>
#include <stdint.h>
#include <stddef.h>
#include "nvh.h"

/* Everything below is internal to libsls.so, except what a declaration marks NVH_TESTED. */
#pragma GCC visibility push(hidden)
#define NVH_TESTED __attribute__((visibility("default")))

/* ---- on-disk format (one 4 KiB header page, then the payload) ---- */

#define NVH_FILE_MAGIC "SLS-NVH\n"
#define NVH_HEADER_SIZE 4096u
/* WRITE_LOCK value of a committed file; anything else (0 while a checkpoint writes it) is not. */
#define NVH_COMMITTED UINT64_C(0x444554494d4d4f43) /* "COMMITED" little-endian */
/* Where the heap goes unless an existing heap recorded another address. */
#define NVH_DEFAULT_BASE UINT64_C(0x100000000000)

struct nvh_file_header {
	char magic[8];
	uint32_t format_version;
	uint32_t header_size;
	uint64_t epoch;            /* always written to file (epoch % 2) */
	uint64_t base;             /* heap address */
	uint64_t size;             /* payload bytes == heap size */
	uint64_t text_base;        /* load address of the persistent function's object, 0 if none */
	uint32_t payload_crc32c;
	uint32_t header_crc32c;    /* CRC32C of bytes [0, offsetof(header_crc32c)) */
	uint64_t write_lock;       /* NVH_COMMITTED, or 0 while the file is being rewritten */
};
#define NVH_WRITE_LOCK_OFFSET offsetof(struct nvh_file_header, write_lock)

/* ---- register context of the persistent thread (nvh_context.c) ---- */

/* What survives a function call by the x86-64 SysV ABI: the callee-saved registers, the stack
 * pointer and return address, the MXCSR/x87 control words; plus the stack-protector canary the
 * frames on the stack were built with (%fs:0x28). Field offsets are used by the assembly. */
struct nvh_context {
	uint64_t rbx, rbp, r12, r13, r14, r15; /* 0..40 */
	uint64_t rsp;                          /* 48: the caller's stack pointer after return */
	uint64_t rip;                          /* 56: the return address */
	uint32_t mxcsr;                        /* 64 */
	uint16_t x87_cw;                       /* 68 */
	uint16_t pad;
	uint64_t canary;                       /* 72 */
};

/* Switches to CTX as if its saving call returned VALUE. */
__attribute__((noreturn)) void nvh__context_resume(const struct nvh_context *ctx, int value);
/* Saves the caller's context; returns 0, and VALUE when later resumed with it. */
__attribute__((returns_twice)) int nvh__context_save(struct nvh_context *ctx);
/* Calls FN(ARG) with the stack pointer at STACK_TOP (16-aligned); when FN returns, calls
 * nvh__run_returned(result), which must not return. */
__attribute__((noreturn)) void nvh__context_start(void *(*fn)(void *), void *arg, void *stack_top);
__attribute__((noreturn)) void nvh__run_returned(void *result);
/* The C half of nvh_checkpoint(), given the caller's context (nvh_heap.c). */
int nvh__checkpoint_with_context(const struct nvh_context *caller);
/* Records the persistent thread's context in the heap's run record (nvh_run.c). */
int nvh__run_save_context(const struct nvh_context *caller);
/* Set on the persistent thread of nvh_run(). */
extern __thread int nvh_on_runner;
/* Address FN's frame returns to; nvh_run rewrites the slot below the stack top with it on resume. */
void nvh__context_start_return(void);

/* ---- heap header, at the heap's base (part of the payload, so it persists; its layout,
 * the allocator's blocks and the run record are part of NVH_FORMAT_VERSION) ---- */

#define NVH_HEAP_MAGIC UINT64_C(0x31504145484c534e) /* "NSLHEAP1" */
#define NVH_TEXT_OBJECTS 2

/* One loaded object whose code a saved context depends on. */
struct nvh_text_object {
	uint64_t base;            /* load address (dli_fbase), 0 = unused slot */
	uint64_t text_size;       /* bytes of its executable segments */
	uint32_t text_crc32c;     /* CRC32C of its executable segments */
	uint32_t pad;
	char path[240];
};

enum nvh_run_state { NVH_RUN_IDLE = 0, NVH_RUN_ACTIVE = 1 };

struct nvh_run_record {
	uint32_t state;           /* enum nvh_run_state */
	uint32_t has_context;     /* ctx holds a checkpoint of the active run */
	uint64_t fn;              /* address of the persistent function */
	uint64_t arg;
	uint64_t stack_lo;        /* page-aligned start of [guard page | frames | launch area] */
	uint64_t stack_size;
	uint64_t frames_top;      /* FN is entered with rsp here; the launch area starts here */
	struct nvh_context ctx;
	struct nvh_text_object text[NVH_TEXT_OBJECTS];
	/* Every object loaded when the run started (name and address): compilers keep addresses
	 * of library data in callee-saved registers, so all of them must be where they were. */
	uint32_t layout_crc32c;
	uint32_t layout_objects;
};

struct nvh_heap_header {
	uint64_t magic;
	uint64_t size;            /* heap size; equals the file header's */
	uint64_t root;            /* nvh_root pointer */
	uint64_t arena_offset;    /* first block */
	uint64_t free_head;       /* offset of the first free block, 0 = none */
	uint64_t used_bytes;      /* bytes in allocated blocks, headers included */
	struct nvh_run_record run;
};

/* ---- the process's open heap (one at a time; nvh_heap.c) ---- */

struct nvh_state {
	pthread_mutex_t lock;     /* alloc/free/root/checkpoint */
	int open;
	pid_t owner;              /* the process that opened it; a forked child may only close it */
	char *path;
	int fd[2];
	uint64_t epoch;
	uint64_t base, size;
	struct nvh_heap_header *heap;
	/* a page inside the heap mapped PROT_NONE while a persistent function runs (its stack's
	 * guard), 0/0 otherwise */
	uint64_t guard_lo, guard_len;
	int run_active;           /* nvh_run is executing a function in this process */
};
extern struct nvh_state nvh_g;
/* 0 when the heap is open and belongs to this process; else fails (EBADF, EBUSY) naming FN. */
int nvh_require_open(const char *fn);

/* ---- helpers ---- */

/* CRC32C continuing from CRC (start with 0); the table version is exposed to test the other. */
uint32_t nvh_crc32c(uint32_t crc, const void *data, size_t len);
NVH_TESTED uint32_t nvh__crc32c_portable(uint32_t crc, const void *data, size_t len);

/* Records a failure: formats the message for nvh_last_error(), sets errno, returns -1. */
int nvh_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void nvh_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void nvh_clear_warnings(void);

/* Allocator (nvh_alloc.c): lays out an empty arena in a new heap; validates a loaded one. */
void nvh_arena_init(struct nvh_heap_header *heap);
int nvh_arena_check(const struct nvh_heap_header *heap);
void *nvh_alloc_locked(size_t size);
int nvh_free_locked(void *ptr);

/* Files (nvh_file.c). */
enum nvh_file_status {
	NVH_FILE_EMPTY,        /* never written (size 0) */
	NVH_FILE_COMMITTED,    /* header valid and WRITE_LOCK set; payload not yet verified */
	NVH_FILE_INTERRUPTED,  /* header readable but WRITE_LOCK clear: a checkpoint was cut short */
	NVH_FILE_DAMAGED,      /* short, wrong magic, or header checksum mismatch */
};
/* Classifies one file; -1 with EPROTO when it is ours but in an unsupported format version.
 * WHY receives a reason for DAMAGED/INTERRUPTED. */
int nvh_file_inspect(int fd, const char *name, struct nvh_file_header *hdr, char *why, size_t whylen);
/* Reads the payload into memory at BASE, checking it against CRC; 0 ok, 1 checksum mismatch
 * (*computed set), -1 error. */
int nvh_file_read_payload(int fd, const char *name, void *base, uint64_t size, uint32_t crc,
			  uint32_t *computed);
/* Heap addresses [lo, hi). */
struct nvh_range {
	uint64_t lo, hi;
};
/* The checkpoint protocol for one file (the older one): see nvh_checkpoint(). Reads the heap
 * from memory at BASE, writing zeros for the NZEROS ranges ZEROS (ascending, disjoint).
 * Test hook: NVH_TEST_CHECKPOINT_PAUSE_US=N sleeps N microseconds after steps 1 and 2, so
 * that a crash test can land its kills inside the window where WRITE_LOCK is clear. */
int nvh_file_write_epoch(int fd, const char *name, uint64_t epoch, uint64_t base, uint64_t size,
			 uint64_t text_base, const struct nvh_range *zeros, int nzeros);
/* What a checkpoint must not read as heap data: the persistent stack below the caller of
 * nvh_checkpoint (dead, and changing under the writer's own frames), its guard page
 * (unreadable) and the launch area (the running thread's descriptor, which glibc updates
 * during system calls). Returns the number of ranges (nvh_run.c). */
int nvh__run_volatile_ranges(struct nvh_range out[2]);
/* CRC32C of the header fields it covers (all before header_crc32c). */
uint32_t nvh_file_header_crc(const struct nvh_file_header *hdr);

#pragma GCC visibility pop

#endif /* SLS_NVH_INTERNAL_H */
