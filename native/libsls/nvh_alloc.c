/* The allocator inside the heap: first fit over one doubly linked free list, with boundary
 * tags so that freeing coalesces with both neighbours. All of its state (block headers, the
 * list, the counters) lives in the heap and is stored as offsets from the heap base, so it is
 * saved by every checkpoint and valid again after nvh_open(). Every block header carries a
 * tag that says whether it is allocated or free: nvh_free() rejects pointers that are not
 * the start of an allocated block instead of corrupting the heap. */
#include <errno.h>
#include <string.h>
#include "nvh_internal.h"

/* size_tag: bits 0..47 block size (header included, multiple of 16), bits 48..63 tag. */
struct nvh_block {
	uint64_t size_tag;
	uint64_t prev_size;      /* size of the physically previous block, 0 for the first */
	uint64_t next_free;      /* free blocks only: offsets of list neighbours, 0 = none */
	uint64_t prev_free;
};

#define BLOCK_HEADER 16u
#define BLOCK_MIN 32u
#define TAG_SHIFT 48
#define SIZE_MASK ((UINT64_C(1) << TAG_SHIFT) - 1)
#define TAG_USED UINT64_C(0xA110)
#define TAG_FREE UINT64_C(0xF7EE)
#define TAG_END UINT64_C(0xE0D0)

#define HEAP (nvh_g.heap)
#define AT(off) ((struct nvh_block *)(uintptr_t)(nvh_g.base + (off)))

static uint64_t bsize(const struct nvh_block *b) { return b->size_tag & SIZE_MASK; }
static uint64_t btag(const struct nvh_block *b) { return b->size_tag >> TAG_SHIFT; }
static void bset(struct nvh_block *b, uint64_t size, uint64_t tag) { b->size_tag = size | (tag << TAG_SHIFT); }
static uint64_t off_of(const struct nvh_block *b) { return (uint64_t)(uintptr_t)b - nvh_g.base; }

static void list_remove(struct nvh_block *b)
{
	if (b->prev_free)
		AT(b->prev_free)->next_free = b->next_free;
	else
		HEAP->free_head = b->next_free;
	if (b->next_free)
		AT(b->next_free)->prev_free = b->prev_free;
}

static void list_push(struct nvh_block *b)
{
	b->prev_free = 0;
	b->next_free = HEAP->free_head;
	if (HEAP->free_head)
		AT(HEAP->free_head)->prev_free = off_of(b);
	HEAP->free_head = off_of(b);
}

void nvh_arena_init(struct nvh_heap_header *heap)
{
	uint64_t base = (uint64_t)(uintptr_t)heap;
	uint64_t first = (sizeof *heap + 63) & ~UINT64_C(63);
	uint64_t end = heap->size - BLOCK_HEADER;
	struct nvh_block *b = (struct nvh_block *)(uintptr_t)(base + first);
	struct nvh_block *sentinel = (struct nvh_block *)(uintptr_t)(base + end);
	heap->arena_offset = first;
	bset(b, end - first, TAG_FREE);
	b->prev_size = 0;
	b->next_free = b->prev_free = 0;
	bset(sentinel, 0, TAG_END);
	sentinel->prev_size = end - first;
	heap->free_head = first;
	heap->used_bytes = 0;
}

int nvh_arena_check(const struct nvh_heap_header *heap)
{
	uint64_t base = (uint64_t)(uintptr_t)heap, off = heap->arena_offset, prev = 0;
	uint64_t free_blocks = 0, used = 0, listed = 0;
	for (;;) {
		if (off % 16 || off < sizeof *heap || off > heap->size - BLOCK_HEADER)
			return nvh_fail(EILSEQ, "heap allocator damaged: block offset %llu out of the arena",
					(unsigned long long)off);
		const struct nvh_block *b = (const struct nvh_block *)(uintptr_t)(base + off);
		if (b->prev_size != prev)
			return nvh_fail(EILSEQ, "heap allocator damaged: block at offset %llu has a wrong "
					"previous size", (unsigned long long)off);
		if (btag(b) == TAG_END && off == heap->size - BLOCK_HEADER)
			break;
		if ((btag(b) != TAG_USED && btag(b) != TAG_FREE) || bsize(b) < BLOCK_MIN || bsize(b) % 16)
			return nvh_fail(EILSEQ, "heap allocator damaged: bad block header at offset %llu",
					(unsigned long long)off);
		if (btag(b) == TAG_FREE)
			free_blocks++;
		else
			used += bsize(b);
		prev = bsize(b);
		off += bsize(b);
	}
	for (uint64_t f = heap->free_head; f; f = ((const struct nvh_block *)(uintptr_t)(base + f))->next_free) {
		if (++listed > free_blocks || f % 16 || f > heap->size - BLOCK_MIN ||
		    btag((const struct nvh_block *)(uintptr_t)(base + f)) != TAG_FREE)
			return nvh_fail(EILSEQ, "heap allocator damaged: free list broken at offset %llu",
					(unsigned long long)f);
	}
	if (listed != free_blocks || used != heap->used_bytes)
		return nvh_fail(EILSEQ, "heap allocator damaged: %llu free blocks but %llu listed",
				(unsigned long long)free_blocks, (unsigned long long)listed);
	return 0;
}

void *nvh_alloc_locked(size_t size)
{
	if (size == 0) {
		nvh_fail(EINVAL, "nvh_alloc: size 0");
		return NULL;
	}
	if (size > nvh_g.size) {
		nvh_fail(ENOMEM, "nvh_alloc: %zu bytes do not fit in a heap of %llu bytes", size,
			 (unsigned long long)nvh_g.size);
		return NULL;
	}
	uint64_t need = ((uint64_t)size + 15) / 16 * 16 + BLOCK_HEADER;
	for (uint64_t f = HEAP->free_head; f; f = AT(f)->next_free) {
		struct nvh_block *b = AT(f);
		uint64_t have = bsize(b);
		if (have < need)
			continue;
		list_remove(b);
		if (have - need >= BLOCK_MIN) {
			struct nvh_block *rest = AT(f + need);
			bset(rest, have - need, TAG_FREE);
			rest->prev_size = need;
			AT(f + have)->prev_size = have - need;
			list_push(rest);
			have = need;
		}
		bset(b, have, TAG_USED);
		HEAP->used_bytes += have;
		return (char *)b + BLOCK_HEADER;
	}
	nvh_fail(ENOMEM, "nvh_alloc: no free block of %llu bytes (heap %llu bytes, %llu in use)",
		 (unsigned long long)need, (unsigned long long)nvh_g.size,
		 (unsigned long long)HEAP->used_bytes);
	return NULL;
}

int nvh_free_locked(void *ptr)
{
	if (!ptr)
		return 0;
	uint64_t p = (uint64_t)(uintptr_t)ptr;
	if (p < nvh_g.base + HEAP->arena_offset + BLOCK_HEADER || p >= nvh_g.base + nvh_g.size || p % 16)
		return nvh_fail(EINVAL, "nvh_free: %p is not a block of the heap", ptr);
	struct nvh_block *b = (struct nvh_block *)(uintptr_t)(p - BLOCK_HEADER);
	uint64_t off = off_of(b), size = bsize(b);
	if (btag(b) != TAG_USED || size < BLOCK_MIN || off + size > nvh_g.size - BLOCK_HEADER ||
	    AT(off + size)->prev_size != size)
		return nvh_fail(EINVAL, "nvh_free: %p is not an allocated block (freed twice, or not "
				"returned by nvh_alloc)", ptr);
	HEAP->used_bytes -= size;
	struct nvh_block *next = AT(off + size);
	if (btag(next) == TAG_FREE) {
		list_remove(next);
		size += bsize(next);
	}
	if (b->prev_size) {
		struct nvh_block *prev = AT(off - b->prev_size);
		if (btag(prev) == TAG_FREE) {
			list_remove(prev);
			size += bsize(prev);
			off -= bsize(prev);
			b = prev;
		}
	}
	bset(b, size, TAG_FREE);
	AT(off + size)->prev_size = size;
	list_push(b);
	return 0;
}
