#include "core/arena.h"

#include "core/alloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK (64 * 1024)
#define ARENA_ALIGN 16

struct block {
	struct block *next;
	size_t size;
	size_t used;
	_Alignas(16) unsigned char data[];
};

struct dr_arena {
	struct block *head;
	struct block *strs; /* byte-aligned strings: blocks of their own */
	size_t used;
	size_t reserved;
};

dr_arena *dr_arena_new(void)
{
	return dr_xcalloc(1, sizeof(dr_arena));
}

void dr_arena_free(dr_arena *a)
{
	struct block *b, *next;

	if (!a)
		return;
	for (b = a->head; b; b = next) {
		next = b->next;
		free(b);
	}
	for (b = a->strs; b; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
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
	size_t need = align == 1 ? n : (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	void *p;

	if (!need)
		need = align;
	if (!b || off > b->size || b->size - off < need) {
		size_t size = need > ARENA_BLOCK / 4 ? need : ARENA_BLOCK;

		if (size == need && b) {
			/* A large object gets its own block behind the current one,
			 * so the space left in the current block is not wasted. */
			struct block *big = dr_xmalloc(sizeof(*big) + size);

			big->size = size;
			big->used = need;
			big->next = b->next;
			b->next = big;
			a->used += need;
			a->reserved += size;
			return big->data;
		}
		b = dr_xmalloc(sizeof(*b) + size);
		b->size = size;
		b->used = 0;
		b->next = *head;
		*head = b;
		a->reserved += size;
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

size_t dr_arena_used(const dr_arena *a)
{
	return a->used;
}

size_t dr_arena_reserved(const dr_arena *a)
{
	return a->reserved;
}
