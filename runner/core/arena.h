/*
 * arena.h - bump allocator for data that lives as long as one plan.
 *
 * Everything the loader, the model and the compiler build for a plan is
 * allocated here and released at once by dr_arena_free(); nothing allocated
 * from an arena is freed individually. Allocations are 16-byte aligned
 * (8 with dr_arena_alloc8); strings from dr_arena_strdup/strndup/printf are
 * not aligned.
 */
#ifndef DR_ARENA_H
#define DR_ARENA_H

#include <stddef.h>

typedef struct dr_arena dr_arena;

dr_arena *dr_arena_new(void);
/*
 * An arena known to grow past a few MiB (half of a big plan's tree): big
 * blocks from the first allocation, without the small blocks an arena
 * starts with.
 */
dr_arena *dr_arena_new_big(void);
void dr_arena_free(dr_arena *a);

void *dr_arena_alloc(dr_arena *a, size_t n);
void *dr_arena_zalloc(dr_arena *a, size_t n);
/*
 * 8-byte aligned, for many small objects of pointers and 64-bit numbers
 * (YAML nodes): no rounding of each to 16 bytes.
 */
void *dr_arena_alloc8(dr_arena *a, size_t n);
char *dr_arena_strdup(dr_arena *a, const char *s);
char *dr_arena_strndup(dr_arena *a, const char *s, size_t n);
char *dr_arena_printf(dr_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Move everything allocated from "from" into a and free "from": what was
 * built in an arena of its own (on another thread) lives as long as a.
 */
void dr_arena_adopt(dr_arena *a, dr_arena *from);

/* Bytes handed out and bytes reserved from the system, for benchmarks. */
size_t dr_arena_used(const dr_arena *a);
size_t dr_arena_reserved(const dr_arena *a);

#endif
