/*
 * alloc.h - allocation helpers.
 *
 * Running out of memory is not bad input: a runner that cannot allocate a
 * few bytes cannot journal safely either, so dr_xmalloc() and friends print
 * a message and abort. Caps on untrusted sizes (plan files, HTTP bodies, Lua
 * heaps) are enforced before allocating, and those are ordinary errors.
 */
#ifndef DR_ALLOC_H
#define DR_ALLOC_H

#include <stddef.h>

void *dr_xmalloc(size_t n);
void *dr_xcalloc(size_t nmemb, size_t size);
void *dr_xrealloc(void *p, size_t n);
char *dr_xstrdup(const char *s);
char *dr_xstrndup(const char *s, size_t n);

/* Grow *arr (of *alloc elements of size elem) so that it holds at least need. */
#define DR_ALLOC_GROW(arr, need, alloc)                                        \
	do {                                                                   \
		if ((need) > (alloc)) {                                        \
			size_t dr_ag_n = (alloc) ? (alloc) * 2 : 8;            \
			while (dr_ag_n < (need))                               \
				dr_ag_n *= 2;                                  \
			(arr) = dr_xrealloc((arr), dr_ag_n * sizeof(*(arr)));  \
			(alloc) = dr_ag_n;                                     \
		}                                                              \
	} while (0)

#define DR_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
