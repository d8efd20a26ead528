#include "core/diag.h"

#include "core/alloc.h"
#include "core/strbuf.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct source {
	const char *file;
	const char *text;
	size_t len;
	size_t *lines; /* offset of each line start, built on first use */
	size_t nlines;
};

struct dr_diags {
	char *origin; /* for diagnostics added next */
	dr_diag *v;
	size_t n, alloc;
	struct source *src;
	size_t nsrc, srcalloc;
};

static void diag_release(dr_diag *g)
{
	free(g->rule);
	free(g->message);
	free(g->file);
	free(g->path);
	free(g->note);
	free(g->origin);
}

dr_diags *dr_diags_new(void)
{
	return dr_xcalloc(1, sizeof(dr_diags));
}

void dr_diags_free(dr_diags *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->n; i++)
		diag_release(&d->v[i]);
	free(d->v);
	for (i = 0; i < d->nsrc; i++)
		free(d->src[i].lines);
	free(d->src);
	free(d->origin);
	free(d);
}

dr_diag *dr_diags_add(dr_diags *d, dr_severity sev, const char *rule,
		      const char *file, int line, int col, const char *path,
		      const char *fmt, ...)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	dr_diag *g;
	va_list ap;

	va_start(ap, fmt);
	dr_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	DR_ALLOC_GROW(d->v, d->n + 1, d->alloc);
	g = &d->v[d->n++];
	g->severity = sev;
	g->rule = dr_xstrdup(rule ? rule : "");
	g->message = dr_strbuf_detach(&sb, NULL);
	g->file = file ? dr_xstrdup(file) : NULL;
	g->line = line;
	g->col = col;
	g->path = path ? dr_xstrdup(path) : NULL;
	g->note = NULL;
	g->origin = d->origin ? dr_xstrdup(d->origin) : NULL;
	return g;
}

void dr_diags_set_origin(dr_diags *d, const char *file)
{
	free(d->origin);
	d->origin = file ? dr_xstrdup(file) : NULL;
}

dr_diags *dr_diags_new_like(const dr_diags *d)
{
	dr_diags *n = dr_diags_new();

	dr_diags_set_origin(n, d->origin);
	return n;
}

void dr_diags_move(dr_diags *dst, dr_diags *src)
{
	size_t i;

	if (src->n) {
		DR_ALLOC_GROW(dst->v, dst->n + src->n, dst->alloc);
		memcpy(dst->v + dst->n, src->v, src->n * sizeof(*src->v));
		dst->n += src->n;
		src->n = 0;
	}
	for (i = 0; i < src->nsrc; i++) {
		free(src->src[i].lines);
		dr_diags_add_source(dst, src->src[i].file, src->src[i].text,
				    src->src[i].len);
	}
	src->nsrc = 0;
}

void dr_diag_note(dr_diag *g, const char *fmt, ...)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	dr_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	free(g->note);
	g->note = dr_strbuf_detach(&sb, NULL);
}

size_t dr_diags_len(const dr_diags *d)
{
	return d->n;
}

const dr_diag *dr_diags_get(const dr_diags *d, size_t i)
{
	return i < d->n ? &d->v[i] : NULL;
}

dr_diag *dr_diags_get_mut(dr_diags *d, size_t i)
{
	return i < d->n ? &d->v[i] : NULL;
}

size_t dr_diags_count(const dr_diags *d, dr_severity sev)
{
	size_t i, c = 0;

	for (i = 0; i < d->n; i++)
		c += d->v[i].severity == sev;
	return c;
}

void dr_diags_drop(dr_diags *d, dr_severity sev)
{
	size_t i, j = 0;

	for (i = 0; i < d->n; i++) {
		if (d->v[i].severity == sev)
			diag_release(&d->v[i]);
		else
			d->v[j++] = d->v[i];
	}
	d->n = j;
}

static int strcmp_null(const char *a, const char *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

static int diag_cmp(const void *pa, const void *pb)
{
	const dr_diag *a = pa, *b = pb;
	int c;

	if ((c = strcmp_null(a->file, b->file)))
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	if (a->severity != b->severity)
		return a->severity < b->severity ? -1 : 1;
	if ((c = strcmp(a->rule, b->rule)))
		return c;
	if ((c = strcmp(a->message, b->message)))
		return c;
	if ((c = strcmp_null(a->path, b->path)))
		return c;
	return strcmp_null(a->origin, b->origin);
}

/*
 * A value shared through a YAML alias or merge key is one token in the file
 * but has a JSON path per use: the same finding at the same position is
 * printed once, at its first path. Without a position the path is all that
 * tells two findings apart, so it must match too.
 */
static int same_finding(const dr_diag *a, const dr_diag *b)
{
	dr_diag ca = *a;

	/* Found while checking different plans: each plan keeps its own. */
	ca.path = b->path;
	if (diag_cmp(a->line ? &ca : a, b) != 0)
		return 0;
	return strcmp_null(a->note, b->note) == 0;
}

void dr_diags_sort(dr_diags *d)
{
	size_t i, j;

	if (d->n < 2)
		return;
	qsort(d->v, d->n, sizeof(*d->v), diag_cmp);
	for (i = 1, j = 0; i < d->n; i++) {
		if (same_finding(&d->v[j], &d->v[i])) {
			diag_release(&d->v[i]);
			continue;
		}
		d->v[++j] = d->v[i];
	}
	d->n = j + 1;
}

void dr_diags_add_source(dr_diags *d, const char *file, const char *text,
			 size_t len)
{
	DR_ALLOC_GROW(d->src, d->nsrc + 1, d->srcalloc);
	d->src[d->nsrc].file = file;
	d->src[d->nsrc].text = text;
	d->src[d->nsrc].len = len;
	d->src[d->nsrc].lines = NULL;
	d->src[d->nsrc].nlines = 0;
	d->nsrc++;
}

static void index_lines(struct source *src)
{
	size_t alloc = 0, off = 0;

	src->lines = NULL;
	DR_ALLOC_GROW(src->lines, 1, alloc);
	src->lines[src->nlines++] = 0;
	while (off < src->len) {
		const char *nl = memchr(src->text + off, '\n', src->len - off);

		if (!nl)
			break;
		off = (size_t)(nl - src->text) + 1;
		DR_ALLOC_GROW(src->lines, src->nlines + 1, alloc);
		src->lines[src->nlines++] = off;
	}
}

const char *dr_diags_source_line(const dr_diags *d, const char *file,
				 int line, size_t *len)
{
	size_t i;

	if (!file || line < 1)
		return NULL;
	for (i = 0; i < d->nsrc; i++) {
		/* The index is a cache: filling it does not change the list. */
		struct source *src = &((dr_diags *)d)->src[i];
		const char *p, *end, *eol;

		if (strcmp(src->file, file))
			continue;
		if (!src->lines)
			index_lines(src);
		if ((size_t)line > src->nlines)
			return NULL;
		p = src->text + src->lines[line - 1];
		end = src->text + src->len;
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if (eol > p && eol[-1] == '\r')
			eol--;
		*len = (size_t)(eol - p);
		return p;
	}
	return NULL;
}

const char *dr_severity_name(dr_severity sev)
{
	switch (sev) {
	case DR_SEV_ERROR: return "error";
	case DR_SEV_WARNING: return "warning";
	case DR_SEV_INFO: return "info";
	}
	return "?";
}
