#include "core/arena.h"

#include "core/alloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#define ARENA_BLOCK (64 * 1024)
#define ARENA_ALIGN 16

/*
 * Past BIG_AFTER bytes reserved, blocks are BIG_BLOCK bytes mapped on a
 * 2 MiB boundary and offered to transparent huge pages: a 10,000-machine
 * plan fills 60-70 MB of arena, and faulting that in 4 KiB pages (16,000
 * page faults) cost about as much as parsing it. Small plans never get
 * there and keep 64 KiB blocks.
 */
#define BIG_AFTER (4u << 20)
#define BIG_BLOCK (4u << 20)
#define HUGE_PAGE (2u << 20)

struct block {
	struct block *next;
	size_t size;
	size_t used;
	size_t mapped; /* bytes mmap()ed for this block, 0: malloc()ed */
	_Alignas(16) unsigned char data[];
};

struct dr_arena {
	struct block *head;
	struct block *strs; /* byte-aligned strings: blocks of their own */
	size_t used;
	size_t reserved;
	int big; /* big blocks from the first (dr_arena_new_big) */
};

dr_arena *dr_arena_new(void)
{
	return dr_xcalloc(1, sizeof(dr_arena));
}

dr_arena *dr_arena_new_big(void)
{
	dr_arena *a = dr_arena_new();

	a->big = 1;
	return a;
}

static void block_free(struct block *b)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
	if (b->mapped) {
		munmap(b, b->mapped);
		return;
	}
#endif
	free(b);
}

void dr_arena_free(dr_arena *a)
{
	struct block *b, *next;

	if (!a)
		return;
	for (b = a->head; b; b = next) {
		next = b->next;
		block_free(b);
	}
	for (b = a->strs; b; b = next) {
		next = b->next;
		block_free(b);
	}
	free(a);
}

/* A block with room for size bytes of data, or NULL to use malloc(). */
static struct block *block_map(size_t size)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
	size_t len = sizeof(struct block) + size;
	size_t want = (len + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
	unsigned char *p, *start;
	size_t head;

	/* Map one huge page more than needed and trim to a 2 MiB boundary. */
	p = mmap(NULL, want + HUGE_PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	start = (unsigned char *)(((uintptr_t)p + HUGE_PAGE - 1) &
				  ~(uintptr_t)(HUGE_PAGE - 1));
	head = (size_t)(start - p);
	if (head)
		munmap(p, head);
	munmap(start + want, HUGE_PAGE - head);
	/* Advice only: without THP the block works in small pages. */
	madvise(start, want, MADV_HUGEPAGE);
	{
		struct block *b = (struct block *)(void *)start;

		b->size = want - sizeof(struct block);
		b->mapped = want;
		return b;
	}
#else
	(void)size;
	return NULL;
#endif
}

static struct block *block_new(dr_arena *a, size_t size)
{
	struct block *b = NULL;

	/* A large object has a block of its own; from 1 MiB it is mapped
	 * too, even in a small arena (the plan's text is read into one, and
	 * the compiler's step table for 10,000 machines is 9 MB). */
	if ((a->reserved >= BIG_AFTER || a->big) && size == ARENA_BLOCK)
		b = block_map(BIG_BLOCK);
	else if (size >= (1u << 20))
		b = block_map(size);
	if (!b) {
		b = dr_xmalloc(sizeof(*b) + size);
		b->size = size;
		b->mapped = 0;
	}
	a->reserved += b->size;
	return b;
}

/*
 * Take n bytes aligned to align (1 or ARENA_ALIGN). Strings (align 1) are
 * packed in blocks of their own: a plan has hundreds of thousands of short
 * ones, and rounding each to 16 bytes between nodes would cost megabytes.
 */
static void *take(dr_arena *a, size_t n, size_t align)
{
	struct block **head = align == 1 ? &a->strs : &a->head;
	struct block *b = *head;
	size_t off = b ? (b->used + align - 1) & ~(align - 1) : 0;
	size_t need = (n + align - 1) & ~(align - 1);
	void *p;

	if (!need)
		need = align;
	if (!b || off > b->size || b->size - off < need) {
		size_t size = need > ARENA_BLOCK / 4 ? need : ARENA_BLOCK;

		if (size == need && b) {
			/* A large object gets its own block behind the current one,
			 * so the space left in the current block is not wasted. */
			struct block *big = block_new(a, size);

			big->used = need;
			big->next = b->next;
			b->next = big;
			a->used += need;
			return big->data;
		}
		b = block_new(a, size);
		b->used = 0;
		b->next = *head;
		*head = b;
		off = 0;
	}
	p = b->data + off;
	a->used += off + need - b->used;
	b->used = off + need;
	return p;
}

void *dr_arena_alloc(dr_arena *a, size_t n)
{
	return take(a, n, ARENA_ALIGN);
}

void *dr_arena_alloc8(dr_arena *a, size_t n)
{
	return take(a, n, 8);
}

void *dr_arena_zalloc(dr_arena *a, size_t n)
{
	void *p = dr_arena_alloc(a, n);

	memset(p, 0, n);
	return p;
}

char *dr_arena_strndup(dr_arena *a, const char *s, size_t n)
{
	char *p = take(a, n + 1, 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *dr_arena_strdup(dr_arena *a, const char *s)
{
	return dr_arena_strndup(a, s, strlen(s));
}

char *dr_arena_printf(dr_arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	p = take(a, (size_t)n + 1, 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

static size_t room(const struct block *b)
{
	return b->size - b->used;
}

/*
 * Add list (a chain of blocks whose first is the one its arena allocated
 * from) to *head's chain. Whichever of the two current blocks has more
 * room stays current: what is allocated next fills the part of a block
 * that is mapped already instead of faulting in a fresh one.
 */
static void splice(struct block **head, struct block *list)
{
	struct block *tail, *h = *head;

	if (!list)
		return;
	for (tail = list; tail->next; tail = tail->next)
		;
	if (!h) {
		*head = list;
	} else if (room(list) > room(h)) {
		tail->next = h;
		*head = list;
	} else {
		tail->next = h->next;
		h->next = list;
	}
}

void dr_arena_adopt(dr_arena *a, dr_arena *from)
{
	if (!from)
		return;
	splice(&a->head, from->head);
	splice(&a->strs, from->strs);
	a->used += from->used;
	a->reserved += from->reserved;
	free(from);
}

size_t dr_arena_used(const dr_arena *a)
{
	return a->used;
}

size_t dr_arena_reserved(const dr_arena *a)
{
	return a->reserved;
}
