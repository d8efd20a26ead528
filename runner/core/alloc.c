#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
	fprintf(stderr, "drplan: fatal: out of memory allocating %zu bytes\n", n);
	abort();
}

void *dr_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom(n);
	return p;
}

void *dr_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (!p)
		oom(nmemb * size);
	return p;
}

void *dr_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		oom(n);
	return q;
}

char *dr_xstrdup(const char *s)
{
	return dr_xstrndup(s, strlen(s));
}

char *dr_xstrndup(const char *s, size_t n)
{
	char *p = dr_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}
