#include "plan/ynode.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/strbuf.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#define TAG_PREFIX "tag:yaml.org,2002:"

/*
 * Alias copies may cost at most this many nodes per event parsed plus a
 * constant: a real plan reuses a few anchors a few thousand times, an alias
 * bomb asks for exponentially many copies from a few hundred bytes.
 */
#define ALIAS_BUDGET_PER_EVENT 100u
#define ALIAS_BUDGET_BASE 10000u

/* A collection being built: its children are on the shared kids stack. */
struct frame {
	dr_ynode *node;
	size_t base;          /* first slot of this collection in kids */
	const char *anchor;   /* arena copy, or NULL */
	dr_ynode *merge_key;  /* the first plain "<<" key, or NULL */
};

struct anchor {
	const char *name; /* NULL: empty slot */
	size_t len;
	uint64_t hash;
	dr_ynode *node;
	int complete;     /* 0 while the anchored collection is being built */
};

/* Interned mapping keys: a plan repeats a few dozen keys many times. */
struct istr {
	const char *s; /* arena copy; NULL: empty slot */
	size_t len;
	uint64_t hash;
};

/* Open-addressing set of key nodes, reused for every mapping. */
struct keyset {
	dr_ynode **slot;
	size_t cap; /* power of two */
};

struct loader {
	dr_arena *a;
	dr_diags *diags;
	const char *file;
	const char *text;
	size_t len;
	int errors;
	int fatal;

	/* libyaml marks count characters; ours count bytes. */
	int ascii;
	size_t bom;
	size_t cur_ci, cur_bi;  /* a character index and its byte offset */
	size_t cur_line;        /* 0-based line of cur_bi, counting LFs */
	size_t cur_ls;          /* byte offset where that line starts */

	struct frame *frames;
	size_t nframes, framealloc;
	dr_ynode **kids;
	size_t nkids, kidalloc;

	struct anchor *anchors;
	size_t nanchors, anchorcap;

	struct keyset ks;
	struct istr *keystr;
	size_t nkeystr, keystrcap; /* keystrcap: power of two */
	dr_ynode **ok, **ov; /* scratch for mapping entries */
	size_t oalloc;

	unsigned long long events;
	unsigned long long nodes;
	unsigned long long copied;
	unsigned long long aliases;
	dr_ynode *root;
	int docs;

	/* For a half of a text split in two (parse_split): */
	size_t line_off;     /* lines of the text before this half's input */
	dr_ynode *first_seq; /* the first and last sequences at the top, */
	dr_ynode *last_seq;  /* values of the root mapping, */
	int first_seq_plain; /* ...whether each is block style without */
	int last_seq_plain;  /* a tag or an anchor */
	int root_merge;      /* the root mapping had a merge key */
	int *give_up;        /* shared by both halves: one pass will do */
};

/* ---- positions ---- */

static size_t u8len(unsigned char c)
{
	if (c < 0xC0)
		return 1;
	if (c < 0xE0)
		return 2;
	if (c < 0xF0)
		return 3;
	return c < 0xF8 ? 4 : 1;
}

/*
 * libyaml counts characters and also breaks lines at a lone CR, NEL, LS and
 * PS; we count bytes and break lines at LF only, like editors and
 * dr_diags_source_line(). For plain ASCII text without a lone CR the two
 * agree; otherwise a cursor walks the text from mark to mark (they mostly
 * move forward, so the walk is linear overall).
 */
static void mark_to_pos(struct loader *L, const yaml_mark_t *m, int *line,
			int *col)
{
	const unsigned char *t = (const unsigned char *)L->text;
	size_t k;

	if (L->ascii) {
		size_t l = m->line + 1 + L->line_off;

		*line = l > INT_MAX ? INT_MAX : (int)l;
		*col = m->column + 1 > INT_MAX ? INT_MAX : (int)m->column + 1;
		return;
	}
	while (L->cur_ci < m->index && L->cur_bi < L->len) {
		if (t[L->cur_bi] == '\n') {
			L->cur_line++;
			L->cur_ls = L->cur_bi + 1;
		}
		L->cur_bi += u8len(t[L->cur_bi]);
		L->cur_ci++;
	}
	if (L->cur_bi > L->len)
		L->cur_bi = L->len;
	while (L->cur_ci > m->index && L->cur_bi > L->bom) {
		L->cur_bi--;
		while (L->cur_bi > L->bom && (t[L->cur_bi] & 0xC0) == 0x80)
			L->cur_bi--;
		L->cur_ci--;
		if (t[L->cur_bi] == '\n') {
			/* Back onto the previous line: find where it starts. */
			L->cur_line--;
			L->cur_ls = L->cur_bi;
			while (L->cur_ls > L->bom && t[L->cur_ls - 1] != '\n')
				L->cur_ls--;
		}
	}
	*line = L->cur_line + 1 > INT_MAX ? INT_MAX : (int)L->cur_line + 1;
	k = L->cur_bi - L->cur_ls + 1;
	*col = k > INT_MAX ? INT_MAX : (int)k;
}

/* Line and column (bytes) of a byte offset, for reader errors. */
static void offset_to_pos(const struct loader *L, size_t off, int *line,
			  int *col)
{
	size_t i, ls = 0;
	int l = 1;

	if (off > L->len)
		off = L->len;
	for (i = 0; i < off; i++) {
		if (L->text[i] == '\n') {
			l++;
			ls = i + 1;
		}
	}
	if (l == 1 && ls < L->bom)
		ls = off >= L->bom ? L->bom : 0;
	*line = l;
	*col = (int)(off - ls + 1);
}

/* ---- diagnostics ---- */

static dr_diag *lerr(struct loader *L, dr_severity sev, const char *rule,
		     int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static dr_diag *lerr(struct loader *L, dr_severity sev, const char *rule,
		     int line, int col, const char *fmt, ...)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	dr_diag *g;
	va_list ap;

	va_start(ap, fmt);
	dr_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	g = dr_diags_add(L->diags, sev, rule, L->file, line, col, NULL, "%s",
			 sb.buf);
	dr_strbuf_release(&sb);
	if (sev == DR_SEV_ERROR)
		L->errors++;
	return g;
}

/* Append s for a message: quoted, escaped, and cut when long. */
static void add_quoted(dr_strbuf *sb, const char *s, size_t len)
{
	size_t i, max = 64;

	dr_strbuf_addch(sb, '"');
	for (i = 0; i < len && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			dr_strbuf_addf(sb, "\\%c", c);
		else if (c == '\n')
			dr_strbuf_addstr(sb, "\\n");
		else if (c == '\t')
			dr_strbuf_addstr(sb, "\\t");
		else if (c < 0x20 || c == 0x7f)
			dr_strbuf_addf(sb, "\\x%02x", c);
		else
			dr_strbuf_addch(sb, c);
	}
	if (i < len) {
		/* Do not cut a UTF-8 sequence in half. */
		while (sb->len > 1 &&
		       ((unsigned char)sb->buf[sb->len - 1] & 0xC0) == 0x80)
			sb->len--;
		if (((unsigned char)sb->buf[sb->len - 1] & 0xC0) == 0xC0)
			sb->len--;
		sb->buf[sb->len] = '\0';
		dr_strbuf_addstr(sb, "...");
	}
	dr_strbuf_addch(sb, '"');
}

static const char *quoted(struct loader *L, const char *s, size_t len)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	char *r;

	add_quoted(&sb, s, len);
	r = dr_arena_strndup(L->a, sb.buf, sb.len);
	dr_strbuf_release(&sb);
	return r;
}

/* "tag:yaml.org,2002:int" is written "!!int" in a file. */
static const char *tag_display(struct loader *L, const char *tag)
{
	if (!strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)))
		return dr_arena_printf(L->a, "!!%s", tag + strlen(TAG_PREFIX));
	return tag;
}

/* ---- scalar typing (YAML 1.2 core schema) ---- */

static int is_null_text(const char *s, size_t n)
{
	return n == 0 || (n == 1 && s[0] == '~') ||
	       (n == 4 && (!strcmp(s, "null") || !strcmp(s, "Null") ||
			   !strcmp(s, "NULL")));
}

static int bool_text(const char *s, size_t n, int *v)
{
	if (n == 4 && !strncasecmp(s, "true", 4)) {
		*v = 1;
		return 1;
	}
	if (n == 5 && !strncasecmp(s, "false", 5)) {
		*v = 0;
		return 1;
	}
	return 0;
}

static int digit_val(int c, int base)
{
	int v;

	if (c >= '0' && c <= '9')
		v = c - '0';
	else if (c >= 'a' && c <= 'f')
		v = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		v = c - 'A' + 10;
	else
		return -1;
	return v < base ? v : -1;
}

/*
 * Integer forms: [-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+. Returns 0 when s is
 * not an integer, 1 when it is, -1 when it is one outside long long.
 */
static int int_text(const char *s, size_t n, long long *out)
{
	unsigned long long v = 0, lim = (unsigned long long)LLONG_MAX;
	int base = 10, neg = 0, d;
	size_t i = 0, start;

	if (n >= 3 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
		base = s[1] == 'x' ? 16 : 8;
		i = 2;
	} else if (n && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (neg)
		lim++;
	start = i;
	if (i >= n)
		return 0;
	for (; i < n; i++) {
		if ((d = digit_val((unsigned char)s[i], base)) < 0)
			return 0;
	}
	for (i = start; i < n; i++) {
		d = digit_val((unsigned char)s[i], base);
		if (v > (lim - (unsigned)d) / (unsigned)base)
			return -1;
		v = v * (unsigned)base + (unsigned)d;
	}
	if (neg)
		*out = v == lim ? LLONG_MIN : -(long long)v;
	else
		*out = (long long)v;
	return 1;
}

static size_t digits(const char *s, size_t i, size_t n)
{
	size_t j = i;

	while (j < n && s[j] >= '0' && s[j] <= '9')
		j++;
	return j - i;
}

/* Float forms of the core schema, including .inf and .nan. */
static int float_text(const char *s, size_t n, double *out)
{
	size_t i = 0, d1, d2 = 0;
	int neg = 0;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	if (n - i == 4 && s[i] == '.' &&
	    (!strcmp(s + i + 1, "inf") || !strcmp(s + i + 1, "Inf") ||
	     !strcmp(s + i + 1, "INF"))) {
		*out = neg ? -HUGE_VAL : HUGE_VAL;
		return 1;
	}
	if (n == 4 && (!strcmp(s, ".nan") || !strcmp(s, ".NaN") ||
		       !strcmp(s, ".NAN"))) {
		*out = NAN;
		return 1;
	}
	d1 = digits(s, i, n);
	i += d1;
	if (i < n && s[i] == '.') {
		i++;
		d2 = digits(s, i, n);
		i += d2;
	}
	if (!d1 && !d2)
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		if (!digits(s, i, n))
			return 0;
		i += digits(s, i, n);
	}
	if (i != n)
		return 0;
	*out = strtod(s, NULL);
	return 1;
}

/* Type a plain untagged scalar. Returns -1 for an out-of-range integer. */
static int resolve_plain(dr_ynode *n)
{
	const char *s = n->str;
	size_t len = n->len;
	int r;

	n->type = DR_YSCALAR_STRING;
	if (!len) {
		n->type = DR_YSCALAR_NULL;
		return 0;
	}
	switch (s[0]) {
	case '~': case 'n': case 'N':
		if (is_null_text(s, len))
			n->type = DR_YSCALAR_NULL;
		return 0;
	case 't': case 'T': case 'f': case 'F':
		if (bool_text(s, len, &n->boolean))
			n->type = DR_YSCALAR_BOOL;
		return 0;
	case '0': case '1': case '2': case '3': case '4': case '5': case '6':
	case '7': case '8': case '9': case '-': case '+': case '.':
		r = int_text(s, len, &n->integer);
		if (r > 0) {
			n->type = DR_YSCALAR_INT;
			return 0;
		}
		if (r < 0)
			return -1;
		if (float_text(s, len, &n->real))
			n->type = DR_YSCALAR_FLOAT;
		return 0;
	default:
		return 0;
	}
}

/* "a mapping", "an integer": a node's type with its article. */
static const char *a_type(const dr_ynode *n)
{
	switch (n->kind) {
	case DR_YNODE_SEQ: return "a sequence";
	case DR_YNODE_MAP: return "a mapping";
	case DR_YNODE_SCALAR: break;
	}
	switch (n->type) {
	case DR_YSCALAR_NULL: return "null";
	case DR_YSCALAR_BOOL: return "a boolean";
	case DR_YSCALAR_INT: return "an integer";
	case DR_YSCALAR_FLOAT: return "a number";
	case DR_YSCALAR_STRING: break;
	}
	return "a string";
}

/* ---- building ---- */

static dr_ynode *new_node(struct loader *L, dr_ynode_kind kind,
			  const yaml_mark_t *m)
{
	dr_ynode *n = dr_arena_alloc8(L->a, sizeof(*n));

	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->file = L->file;
	mark_to_pos(L, m, &n->line, &n->col);
	L->nodes++;
	return n;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static struct anchor *anchor_find(struct loader *L, const char *name,
				  size_t len, uint64_t h)
{
	size_t i, mask = L->anchorcap - 1;

	if (!L->anchorcap)
		return NULL;
	for (i = h & mask;; i = (i + 1) & mask) {
		struct anchor *an = &L->anchors[i];

		if (!an->name)
			return an;
		if (an->hash == h && an->len == len &&
		    !memcmp(an->name, name, len))
			return an;
	}
}

static void anchor_set(struct loader *L, const char *name, dr_ynode *n,
		       int complete)
{
	size_t len = strlen(name), i;
	uint64_t h = hash_bytes(name, len);
	struct anchor *an;

	if ((L->nanchors + 1) * 2 > L->anchorcap) {
		struct anchor *old = L->anchors;
		size_t oldcap = L->anchorcap;

		L->anchorcap = oldcap ? oldcap * 2 : 64;
		L->anchors = dr_xcalloc(L->anchorcap, sizeof(*L->anchors));
		for (i = 0; i < oldcap; i++) {
			if (old[i].name)
				*anchor_find(L, old[i].name, old[i].len,
					     old[i].hash) = old[i];
		}
		free(old);
	}
	an = anchor_find(L, name, len, h);
	if (!an->name) {
		an->name = dr_arena_strndup(L->a, name, len);
		an->len = len;
		an->hash = h;
		L->nanchors++;
	}
	an->node = n;
	an->complete = complete;
}

static void keyset_reset(struct keyset *ks, size_t n)
{
	size_t want = 16;

	while (want < n * 2)
		want *= 2;
	if (want > ks->cap) {
		free(ks->slot);
		ks->slot = dr_xcalloc(want, sizeof(*ks->slot));
		ks->cap = want;
	} else {
		memset(ks->slot, 0, ks->cap * sizeof(*ks->slot));
	}
}

/*
 * The key node equal to k, or NULL after adding k. Every key's text is
 * interned (intern_key), so equal keys share their str pointer.
 */
static dr_ynode *keyset_add(struct keyset *ks, dr_ynode *k)
{
	size_t mask = ks->cap - 1, i;
	uint64_t h = (uint64_t)(uintptr_t)k->str * 0x9E3779B97F4A7C15ull;

	for (i = (size_t)(h >> 32) & mask;; i = (i + 1) & mask) {
		dr_ynode *o = ks->slot[i];

		if (!o) {
			ks->slot[i] = k;
			return NULL;
		}
		if (o->str == k->str)
			return o;
	}
}

/* A word-at-a-time hash for key texts (FNV-1a goes a byte at a time). */
static uint64_t hash_key(const char *s, size_t n)
{
	uint64_t h = 0x9E3779B97F4A7C15ull ^ n, w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 29);
}

/*
 * One arena copy per distinct key text: saves the memory of the repeats and
 * keeps the key strings that validation and the model read hot in cache.
 */
static const char *intern_key(struct loader *L, const char *s, size_t len)
{
	uint64_t h = hash_key(s, len);
	size_t i, mask;

	if ((L->nkeystr + 1) * 2 > L->keystrcap) {
		struct istr *old = L->keystr;
		size_t oldcap = L->keystrcap, k;

		L->keystrcap = oldcap ? oldcap * 2 : 256;
		L->keystr = dr_xcalloc(L->keystrcap, sizeof(*L->keystr));
		mask = L->keystrcap - 1;
		for (k = 0; k < oldcap; k++) {
			if (!old[k].s)
				continue;
			for (i = old[k].hash & mask; L->keystr[i].s; i = (i + 1) & mask)
				;
			L->keystr[i] = old[k];
		}
		free(old);
	}
	mask = L->keystrcap - 1;
	for (i = h & mask; L->keystr[i].s; i = (i + 1) & mask) {
		const struct istr *e = &L->keystr[i];

		if (e->hash == h && e->len == len && !memcmp(e->s, s, len))
			return e->s;
	}
	L->keystr[i].s = dr_arena_strndup(L->a, s, len);
	L->keystr[i].len = len;
	L->keystr[i].hash = h;
	L->nkeystr++;
	return L->keystr[i].s;
}

/* Whether the next node is a key of the mapping being built. */
static int at_key(const struct loader *L)
{
	const struct frame *f = L->nframes ? &L->frames[L->nframes - 1] : NULL;

	return f && f->node->kind == DR_YNODE_MAP && (L->nkids - f->base) % 2 == 0;
}

static dr_ynode *copy_tree(struct loader *L, const dr_ynode *src, size_t depth)
{
	dr_ynode *n;
	size_t i;

	if (L->fatal)
		return NULL;
	if (L->nodes >= DR_YAML_MAX_NODES ||
	    L->copied >= L->events * ALIAS_BUDGET_PER_EVENT + ALIAS_BUDGET_BASE) {
		L->fatal = 1;
		return NULL;
	}
	if (src->kind != DR_YNODE_SCALAR && depth > DR_YAML_MAX_DEPTH) {
		L->fatal = 2;
		return NULL;
	}
	n = dr_arena_alloc8(L->a, sizeof(*n));
	*n = *src;
	L->nodes++;
	L->copied++;
	if (src->kind == DR_YNODE_SCALAR || !src->n)
		return n;
	n->items = dr_arena_alloc(L->a, src->n * sizeof(*n->items));
	if (src->kind == DR_YNODE_MAP)
		n->keys = dr_arena_alloc(L->a, src->n * sizeof(*n->keys));
	for (i = 0; i < src->n; i++) {
		if (n->keys) {
			n->keys[i] = copy_tree(L, src->keys[i], depth + 1);
			if (!n->keys[i])
				return NULL;
			n->keys[i]->parent = n;
		}
		n->items[i] = copy_tree(L, src->items[i], depth + 1);
		if (!n->items[i])
			return NULL;
		n->items[i]->parent = n;
	}
	return n;
}

static void push_kid(struct loader *L, dr_ynode *n)
{
	DR_ALLOC_GROW(L->kids, L->nkids + 1, L->kidalloc);
	L->kids[L->nkids++] = n;
}

/*
 * Attach a finished node to the collection being built (or make it the
 * root). A key that cannot be one is replaced by NULL so that the entry is
 * dropped when the mapping ends.
 */
enum {
	ADD_MERGE = 1,       /* a plain "<<": a merge key in key position */
	ADD_PLACEHOLDER = 2, /* stands in for a bad alias, already reported */
	ADD_INTERNED = 4,    /* its text is interned already */
};

static void add_node(struct loader *L, dr_ynode *n, int flags)
{
	struct frame *f;

	if (!L->nframes) {
		L->root = n;
		return;
	}
	f = &L->frames[L->nframes - 1];
	if (f->node->kind == DR_YNODE_MAP && (L->nkids - f->base) % 2 == 0) {
		if (flags & ADD_PLACEHOLDER) {
			n = NULL;
		} else if (n->kind != DR_YNODE_SCALAR) {
			lerr(L, DR_SEV_ERROR, "YAML-KEY-TYPE", n->line, n->col,
			     "%s cannot be a mapping key; use a plain "
			     "string as the key",
			     a_type(n));
			n = NULL;
		} else if (memchr(n->str, '\0', n->len)) {
			n = NULL; /* reported when the scalar was read */
		} else {
			/* An alias copy used as a key: its text was a value's. */
			if (!(flags & ADD_INTERNED))
				n->str = intern_key(L, n->str, n->len);
			if (!(flags & ADD_MERGE)) {
				/* an ordinary key */
			} else if (!f->merge_key) {
				f->merge_key = n;
			} else {
				lerr(L, DR_SEV_ERROR, "YAML-DUPLICATE-KEY",
				     n->line, n->col,
				     "duplicate key \"<<\" (first defined at "
				     "line %d); merge several mappings with "
				     "<<: [*a, *b]",
				     f->merge_key->line);
				n = NULL;
			}
		}
	}
	push_kid(L, n);
}

static void set_child(dr_ynode *parent, dr_ynode *k, dr_ynode *v, size_t i)
{
	v->parent = parent;
	v->index = i;
	if (k) {
		k->parent = parent;
		k->index = i;
	}
}

static void grow_scratch(struct loader *L, size_t need)
{
	size_t alloc = L->oalloc;

	DR_ALLOC_GROW(L->ok, need, alloc);
	alloc = L->oalloc;
	DR_ALLOC_GROW(L->ov, need, alloc);
	L->oalloc = alloc;
}

/* Add the entries of merge source m that the mapping does not have yet. */
static size_t merge_from(struct loader *L, const dr_ynode *m, size_t no)
{
	size_t i;

	grow_scratch(L, no + m->n);
	for (i = 0; i < m->n; i++) {
		if (keyset_add(&L->ks, m->keys[i]))
			continue;
		L->ok[no] = m->keys[i];
		L->ov[no] = m->items[i];
		no++;
	}
	return no;
}

static void finish_map(struct loader *L, struct frame *f)
{
	dr_ynode *map = f->node, **kv = L->kids ? L->kids + f->base : NULL;
	size_t npairs = (L->nkids - f->base) / 2, i, j, no = 0, total = npairs;
	dr_ynode *mval = NULL;

	keyset_reset(&L->ks, npairs);
	/* Own keys first: they win over merged ones and catch duplicates. */
	for (i = 0; i < npairs; i++) {
		dr_ynode *k = kv[2 * i], *o;

		if (!k)
			continue;
		if (k == f->merge_key) {
			mval = kv[2 * i + 1];
			continue;
		}
		if ((o = keyset_add(&L->ks, k))) {
			dr_strbuf sb = DR_STRBUF_INIT;

			add_quoted(&sb, k->str, k->len);
			lerr(L, DR_SEV_ERROR, "YAML-DUPLICATE-KEY", k->line,
			     k->col,
			     "duplicate key %s (first defined at line %d); "
			     "remove one of them",
			     sb.buf, o->line);
			dr_strbuf_release(&sb);
			kv[2 * i] = NULL;
		}
	}
	if (mval) {
		if (mval->kind == DR_YNODE_MAP) {
			total += mval->n;
		} else if (mval->kind == DR_YNODE_SEQ) {
			for (j = 0; j < mval->n; j++) {
				if (mval->items[j]->kind == DR_YNODE_MAP)
					total += mval->items[j]->n;
			}
		}
	}
	/* Grow the table if merged keys may not fit. */
	if (total * 2 > L->ks.cap) {
		keyset_reset(&L->ks, total);
		for (i = 0; i < npairs; i++) {
			if (kv[2 * i] && kv[2 * i] != f->merge_key)
				keyset_add(&L->ks, kv[2 * i]);
		}
	}
	grow_scratch(L, npairs);
	for (i = 0; i < npairs; i++) {
		dr_ynode *k = kv[2 * i], *v = kv[2 * i + 1];

		if (!k)
			continue;
		if (k != f->merge_key) {
			grow_scratch(L, no + 1);
			L->ok[no] = k;
			L->ov[no] = v;
			no++;
			continue;
		}
		/* Merged entries go where the "<<" was; earlier sources win. */
		if (v->kind == DR_YNODE_MAP) {
			no = merge_from(L, v, no);
		} else if (v->kind == DR_YNODE_SEQ) {
			for (j = 0; j < v->n; j++) {
				const dr_ynode *m = v->items[j];

				if (m->kind == DR_YNODE_MAP) {
					no = merge_from(L, m, no);
					continue;
				}
				lerr(L, DR_SEV_ERROR, "YAML-MERGE", m->line,
				     m->col,
				     "a merge key (<<) can only merge "
				     "mappings, not %s; use an alias of a "
				     "mapping such as *defaults",
				     a_type(m));
			}
		} else {
			lerr(L, DR_SEV_ERROR, "YAML-MERGE", v->line, v->col,
			     "the value of a merge key (<<) must be a mapping "
			     "or a list of mappings, not %s; use an alias "
			     "such as *defaults",
			     a_type(v));
		}
	}
	map->n = no;
	if (no) {
		map->keys = dr_arena_alloc(L->a, no * sizeof(*map->keys));
		map->items = dr_arena_alloc(L->a, no * sizeof(*map->items));
		memcpy(map->keys, L->ok, no * sizeof(*map->keys));
		memcpy(map->items, L->ov, no * sizeof(*map->items));
	}
	for (i = 0; i < no; i++)
		set_child(map, map->keys[i], map->items[i], i);
}

static void finish_seq(struct loader *L, struct frame *f)
{
	dr_ynode *seq = f->node;
	size_t n = L->nkids - f->base, i;

	seq->n = n;
	if (!n)
		return;
	seq->items = dr_arena_alloc(L->a, n * sizeof(*seq->items));
	memcpy(seq->items, L->kids + f->base, n * sizeof(*seq->items));
	for (i = 0; i < n; i++)
		set_child(seq, NULL, seq->items[i], i);
}

static void check_collection_tag(struct loader *L, dr_ynode *n,
				 const char *tag)
{
	const char *want = n->kind == DR_YNODE_MAP ? TAG_PREFIX "map"
						   : TAG_PREFIX "seq";

	if (!tag || !strcmp(tag, want) || !strcmp(tag, "!"))
		return;
	lerr(L, DR_SEV_WARNING, "YAML-TAG", n->line, n->col,
	     "tag %s is not supported on %s and is ignored; remove it",
	     tag_display(L, tag), a_type(n));
}

static int start_collection(struct loader *L, const yaml_event_t *ev)
{
	int map = ev->type == YAML_MAPPING_START_EVENT;
	const yaml_char_t *anchor =
		map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
	const yaml_char_t *tag =
		map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
	dr_ynode *n;
	struct frame *f;

	n = new_node(L, map ? DR_YNODE_MAP : DR_YNODE_SEQ, &ev->start_mark);
	if (L->nframes >= DR_YAML_MAX_DEPTH) {
		lerr(L, DR_SEV_ERROR, "YAML-DEPTH", n->line, n->col,
		     "the document nests deeper than %d levels; flatten it",
		     DR_YAML_MAX_DEPTH);
		return -1;
	}
	check_collection_tag(L, n, (const char *)tag);
	if (!map && L->nframes == 1) {
		int plain = !tag && !anchor &&
			    ev->data.sequence_start.style ==
				    YAML_BLOCK_SEQUENCE_STYLE;

		if (!L->first_seq) {
			L->first_seq = n;
			L->first_seq_plain = plain;
		}
		L->last_seq = n;
		L->last_seq_plain = plain;
	}
	DR_ALLOC_GROW(L->frames, L->nframes + 1, L->framealloc);
	f = &L->frames[L->nframes++];
	f->node = n;
	f->base = L->nkids;
	f->anchor = NULL;
	f->merge_key = NULL;
	if (anchor) {
		f->anchor = dr_arena_strdup(L->a, (const char *)anchor);
		anchor_set(L, f->anchor, n, 0);
	}
	return 0;
}

static void end_collection(struct loader *L)
{
	struct frame *f = &L->frames[L->nframes - 1];

	if (f->node->kind == DR_YNODE_MAP) {
		if (L->nframes == 1 && f->merge_key)
			L->root_merge = 1;
		finish_map(L, f);
	}
	else
		finish_seq(L, f);
	L->nkids = f->base;
	if (f->anchor) {
		struct anchor *an = anchor_find(
			L, f->anchor, strlen(f->anchor),
			hash_bytes(f->anchor, strlen(f->anchor)));

		if (an && an->name && an->node == f->node)
			an->complete = 1;
	}
	L->nframes--;
	add_node(L, f->node, 0);
}

/* Type a tagged scalar; unknown tags only warn. */
static void resolve_tagged(struct loader *L, dr_ynode *n, const char *tag,
			   int plain)
{
	const char *t;
	int ok = 1, r;

	if (!strcmp(tag, "!")) {
		n->type = DR_YSCALAR_STRING;
		return;
	}
	if (strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX))) {
		lerr(L, DR_SEV_WARNING, "YAML-TAG", n->line, n->col,
		     "unknown tag %s is ignored; remove it", tag);
		if (!plain)
			n->type = DR_YSCALAR_STRING;
		else if (resolve_plain(n) < 0)
			goto range;
		return;
	}
	t = tag + strlen(TAG_PREFIX);
	if (!strcmp(t, "str")) {
		n->type = DR_YSCALAR_STRING;
	} else if (!strcmp(t, "null")) {
		n->type = DR_YSCALAR_NULL;
		ok = is_null_text(n->str, n->len);
	} else if (!strcmp(t, "bool")) {
		n->type = DR_YSCALAR_BOOL;
		ok = bool_text(n->str, n->len, &n->boolean);
	} else if (!strcmp(t, "int")) {
		n->type = DR_YSCALAR_INT;
		r = int_text(n->str, n->len, &n->integer);
		if (r < 0)
			goto range;
		ok = r > 0;
	} else if (!strcmp(t, "float")) {
		long long iv = 0;

		n->type = DR_YSCALAR_FLOAT;
		/* integer and real share storage: read the integer first. */
		r = int_text(n->str, n->len, &iv);
		if (r != 0)
			n->real = strtod(n->str, NULL);
		ok = r != 0 || float_text(n->str, n->len, &n->real);
		if (r > 0 && (n->str[1] == 'x' || n->str[1] == 'o'))
			n->real = (double)iv;
	} else {
		lerr(L, DR_SEV_WARNING, "YAML-TAG", n->line, n->col,
		     "tag %s is not supported and is ignored; remove it",
		     tag_display(L, tag));
		if (!plain)
			n->type = DR_YSCALAR_STRING;
		else if (resolve_plain(n) < 0)
			goto range;
		return;
	}
	if (!ok) {
		lerr(L, DR_SEV_ERROR, "YAML-TAG", n->line, n->col,
		     "%s is not a valid %s value; fix the value or remove "
		     "the tag",
		     quoted(L, n->str, n->len), tag_display(L, tag));
		n->type = DR_YSCALAR_STRING;
	}
	return;
range:
	lerr(L, DR_SEV_ERROR, "YAML-NUMBER", n->line, n->col,
	     "the integer %s is out of range (%lld to %lld); quote it if it "
	     "is meant as text",
	     quoted(L, n->str, n->len), LLONG_MIN, LLONG_MAX);
	n->type = DR_YSCALAR_STRING;
}

static int scalar(struct loader *L, const yaml_event_t *ev)
{
	const char *tag = (const char *)ev->data.scalar.tag;
	const char *anchor = (const char *)ev->data.scalar.anchor;
	int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	int key = at_key(L);
	dr_ynode *n = new_node(L, DR_YNODE_SCALAR, &ev->start_mark);

	if (ev->data.scalar.length > DR_YAML_MAX_SCALAR) {
		lerr(L, DR_SEV_ERROR, "YAML-SIZE", n->line, n->col,
		     "this value is longer than %u bytes; shorten it",
		     DR_YAML_MAX_SCALAR);
		return -1;
	}
	n->len = (uint32_t)ev->data.scalar.length;
	if (key)
		n->str = intern_key(L, (const char *)ev->data.scalar.value, n->len);
	else
		n->str = dr_arena_strndup(L->a, (const char *)ev->data.scalar.value,
					  n->len);
	if (memchr(n->str, '\0', n->len)) {
		lerr(L, DR_SEV_ERROR, "YAML-ENCODING", n->line, n->col,
		     "this string contains a NUL character (\\0); remove it");
		n->type = DR_YSCALAR_STRING;
	} else if (tag) {
		resolve_tagged(L, n, tag, plain);
	} else if (!plain) {
		n->type = DR_YSCALAR_STRING;
	} else if (resolve_plain(n) < 0) {
		lerr(L, DR_SEV_ERROR, "YAML-NUMBER", n->line, n->col,
		     "the integer %s is out of range (%lld to %lld); quote it "
		     "if it is meant as text",
		     quoted(L, n->str, n->len), LLONG_MIN, LLONG_MAX);
		n->type = DR_YSCALAR_STRING;
	}
	if (anchor)
		anchor_set(L, anchor, n, 1);
	add_node(L, n,
		 (plain && !tag && n->len == 2 && n->str[0] == '<' &&
				  n->str[1] == '<'
			  ? ADD_MERGE
			  : 0) | (key ? ADD_INTERNED : 0));
	return 0;
}

static int alias(struct loader *L, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	size_t len = strlen(name);
	struct anchor *an = anchor_find(L, name, len, hash_bytes(name, len));
	yaml_mark_t m = ev->start_mark;
	dr_ynode *n;
	int line, col;

	L->aliases++;
	mark_to_pos(L, &m, &line, &col);
	if (!an || !an->name || !an->complete) {
		if (an && an->name)
			lerr(L, DR_SEV_ERROR, "YAML-ALIAS", line, col,
			     "alias *%s refers to the node that contains it; "
			     "a node cannot include itself",
			     name);
		else
			lerr(L, DR_SEV_ERROR, "YAML-ALIAS", line, col,
			     "unknown alias *%s; define the anchor &%s before "
			     "using it",
			     name, name);
		n = new_node(L, DR_YNODE_SCALAR, &m);
		n->str = "";
		n->type = DR_YSCALAR_NULL;
		add_node(L, n, ADD_PLACEHOLDER);
		return 0;
	}
	n = copy_tree(L, an->node, L->nframes + 1);
	if (!n) {
		if (L->fatal == 2)
			lerr(L, DR_SEV_ERROR, "YAML-DEPTH", line, col,
			     "alias *%s makes the document nest deeper than %d "
			     "levels; flatten it",
			     name, DR_YAML_MAX_DEPTH);
		else
			lerr(L, DR_SEV_ERROR, "YAML-ALIAS", line, col,
			     "alias *%s expands to more nodes than allowed "
			     "(%llu); this looks like an alias bomb, use "
			     "fewer aliases",
			     name, L->copied);
		return -1;
	}
	/* The copy is positioned at the alias; its children at the anchor. */
	n->line = line;
	n->col = col;
	add_node(L, n, 0);
	return 0;
}

/* ---- errors from libyaml ---- */

static void syntax_error(struct loader *L, yaml_parser_t *p)
{
	int line, col;
	dr_diag *g;

	if (p->error == YAML_READER_ERROR) {
		size_t off = p->problem_offset;

		/* Point at the broken character, not at its bad tail. */
		if (p->problem && strstr(p->problem, "trailing") &&
		    off <= L->len) {
			while (off > 0 &&
			       ((unsigned char)L->text[off - 1] & 0xC0) == 0x80)
				off--;
			if (off > 0 && (unsigned char)L->text[off - 1] >= 0xC0)
				off--;
		}
		offset_to_pos(L, off, &line, &col);
		if (p->problem_value == 0 && p->problem &&
		    strstr(p->problem, "control"))
			g = lerr(L, DR_SEV_ERROR, "YAML-ENCODING", line, col,
				 "the file contains a NUL byte; a YAML file "
				 "must be text, remove it");
		else if (p->problem && strstr(p->problem, "control"))
			g = lerr(L, DR_SEV_ERROR, "YAML-ENCODING", line, col,
				 "control character U+%04X is not allowed in "
				 "YAML; remove it",
				 (unsigned)p->problem_value);
		else if (p->problem && strstr(p->problem, "UTF-8"))
			g = lerr(L, DR_SEV_ERROR, "YAML-ENCODING", line, col,
				 "the file is not valid UTF-8 (%s); save it as "
				 "UTF-8",
				 p->problem);
		else
			g = lerr(L, DR_SEV_ERROR, "YAML-ENCODING", line, col,
				 "%s; save the file as UTF-8",
				 p->problem ? p->problem : "unreadable input");
		(void)g;
		return;
	}
	if (p->error == YAML_MEMORY_ERROR) {
		lerr(L, DR_SEV_ERROR, "YAML-SYNTAX", 0, 0,
		     "out of memory while parsing the file");
		return;
	}
	mark_to_pos(L, &p->problem_mark, &line, &col);
	{
		dr_strbuf sb = DR_STRBUF_INIT;
		const char *problem = p->problem ? p->problem : "syntax error";
		size_t off;

		dr_strbuf_addstr(&sb, problem);
		if (p->context) {
			int cl, cc;

			mark_to_pos(L, &p->context_mark, &cl, &cc);
			if (cl == line && cc == col)
				dr_strbuf_addf(&sb, " (%s)", p->context);
			else
				dr_strbuf_addf(&sb, " (%s that starts at line "
					       "%d, column %d)",
					       p->context, cl, cc);
		}
		g = lerr(L, DR_SEV_ERROR, "YAML-SYNTAX", line, col, "%s",
			 sb.buf);
		dr_strbuf_release(&sb);
		/* Hints for the mistakes people make most. */
		off = L->ascii ? L->bom + p->problem_mark.index : L->cur_bi;
		if (!strcmp(problem, "found character that cannot start any "
				     "token") &&
		    off < L->len && L->text[off] == '\t')
			dr_diag_note(g, "YAML does not allow tabs for "
					"indentation; indent with spaces");
		else if (!strcmp(problem, "mapping values are not allowed in "
					  "this context"))
			dr_diag_note(g, "a value cannot contain \": \" unless "
					"it is quoted; quote the value or fix "
					"the indentation");
		else if (!strcmp(problem, "did not find expected key") ||
			 !strcmp(problem, "did not find expected '-' "
					  "indicator"))
			dr_diag_note(g, "check the indentation of this line");
		else if (!strcmp(problem, "could not find expected ':'"))
			dr_diag_note(g, "a key must be followed by \": \"; "
					"check the line above");
	}
}

static int precheck(struct loader *L)
{
	const unsigned char *t = (const unsigned char *)L->text;
	const char *nul;
	size_t i;
	int line, col;

	if (L->len >= 2 && ((t[0] == 0xFF && t[1] == 0xFE) ||
			    (t[0] == 0xFE && t[1] == 0xFF))) {
		lerr(L, DR_SEV_ERROR, "YAML-ENCODING", 1, 1,
		     "the file is UTF-16; save it as UTF-8");
		return -1;
	}
	if ((nul = memchr(L->text, '\0', L->len))) {
		offset_to_pos(L, (size_t)(nul - L->text), &line, &col);
		lerr(L, DR_SEV_ERROR, "YAML-ENCODING", line, col,
		     "the file contains a NUL byte; a YAML file must be "
		     "text, remove it");
		return -1;
	}
	if (L->len >= 3 && t[0] == 0xEF && t[1] == 0xBB && t[2] == 0xBF)
		L->bom = 3;
	L->ascii = 1;
	i = L->bom;
	if (!memchr(t + i, '\r', L->len - i)) {
		/* No CR at all (the usual case): only look for high bits,
		 * a word at a time. */
		for (; i + 8 <= L->len; i += 8) {
			uint64_t w;

			memcpy(&w, t + i, 8);
			if (w & 0x8080808080808080ull)
				break;
		}
	}
	for (; i < L->len; i++) {
		if ((t[i] & 0x80) ||
		    (t[i] == '\r' && (i + 1 == L->len || t[i + 1] != '\n'))) {
			L->ascii = 0;
			break;
		}
	}
	L->cur_bi = L->cur_ls = L->bom;
	return 0;
}

static int handle(struct loader *L, const yaml_event_t *ev)
{
	int line, col;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++L->docs > 1) {
			yaml_mark_t m = ev->start_mark;

			mark_to_pos(L, &m, &line, &col);
			lerr(L, DR_SEV_ERROR, "YAML-MULTI-DOC", line, col,
			     "the file holds more than one YAML document; "
			     "keep one document per file");
			return -1;
		}
		return 0;
	case YAML_SCALAR_EVENT:
		return scalar(L, ev);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		return start_collection(L, ev);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (L->nframes)
			end_collection(L);
		return 0;
	case YAML_ALIAS_EVENT:
		return alias(L, ev);
	default:
		return 0;
	}
}

/* One event taken in: 0 to go on, 1 at the end of the stream, -1 to stop. */
static int take_event(struct loader *L, const yaml_event_t *ev)
{
	int end = ev->type == YAML_STREAM_END_EVENT;

	L->events++;
	if (L->give_up) {
		/* A half stops at the first thing that sends the text to one
		 * pass, and makes the other half stop too. */
		if (__atomic_load_n(L->give_up, __ATOMIC_RELAXED))
			return -1;
		if (handle(L, ev) < 0 || L->aliases ||
		    dr_diags_len(L->diags) || L->nodes > DR_YAML_MAX_NODES) {
			__atomic_store_n(L->give_up, 1, __ATOMIC_RELAXED);
			return -1;
		}
		return end;
	}
	if (handle(L, ev) < 0)
		return -1;
	if (L->nodes > DR_YAML_MAX_NODES) {
		lerr(L, DR_SEV_ERROR, "YAML-SIZE", 0, 0,
		     "the document has more than %u nodes; split it",
		     DR_YAML_MAX_NODES);
		return -1;
	}
	return end;
}

/* Parse and build in turn; returns whether the stream ended. */
static int parse_inline(struct loader *L, yaml_parser_t *p)
{
	yaml_event_t ev;
	int rc;

	for (;;) {
		if (!yaml_parser_parse(p, &ev)) {
			syntax_error(L, p);
			return 0;
		}
		rc = take_event(L, &ev);
		yaml_event_delete(&ev);
		if (rc)
			return rc > 0;
	}
}

/*
 * A large file is parsed by libyaml on a second thread while this one
 * builds the tree from the events, in the same order: the tree, the
 * diagnostics and every limit are those of parse_inline (the events are
 * numbered and taken one after the other; a syntax error is reported when
 * the builder reaches it). libyaml's own parse is two thirds of loading a
 * 10,000-machine plan, and the builder the other third: on two cores they
 * overlap. The parser thread also frees the events it made (glibc frees
 * a block fastest on the thread that allocated it).
 */
static size_t pipe_min_bytes = DR_YAML_PIPE_MIN;

size_t dr_yaml_set_pipe_min(size_t bytes)
{
	size_t old = pipe_min_bytes;

	pipe_min_bytes = bytes;
	return old;
}

#define PIPE_RING 4096u /* events in flight, a power of two */
#define PIPE_BATCH 512u /* events per hand-over: fewer wake-ups */

struct pipe {
	yaml_parser_t *p;
	yaml_event_t *ring;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* Under mu: */
	size_t head;   /* events parsed and handed over */
	size_t tail;   /* events taken by the builder (their slots are free) */
	int failed;    /* the parse failed after head events */
	int finished;  /* the parser thread parses no more */
	int stop;      /* the builder wants no more */
	int waiting;   /* a thread waits on cv */
	size_t want;   /* the builder waits for head to reach this */
};

static void *pipe_parse(void *arg)
{
	struct pipe *q = arg;
	size_t i = 0, limit = 0, handed = 0;
	int failed = 0;

	for (;;) {
		yaml_event_t *ev;
		int end;

		if (i == limit) {
			pthread_mutex_lock(&q->mu);
			q->head = handed = i;
			if (q->waiting)
				pthread_cond_broadcast(&q->cv);
			while (!q->stop && q->tail + PIPE_RING == i) {
				q->waiting++;
				pthread_cond_wait(&q->cv, &q->mu);
				q->waiting--;
			}
			limit = q->tail + PIPE_RING;
			if (q->stop) {
				pthread_mutex_unlock(&q->mu);
				break;
			}
			pthread_mutex_unlock(&q->mu);
		}
		ev = &q->ring[i % PIPE_RING];
		/* The builder is done with the event that held this slot. */
		yaml_event_delete(ev);
		if (!yaml_parser_parse(q->p, ev)) {
			failed = 1;
			break;
		}
		end = ev->type == YAML_STREAM_END_EVENT;
		i++;
		if (end)
			break;
		if (i - handed >= PIPE_BATCH) {
			pthread_mutex_lock(&q->mu);
			q->head = handed = i;
			if (q->waiting && i >= q->want)
				pthread_cond_broadcast(&q->cv);
			pthread_mutex_unlock(&q->mu);
		}
	}
	pthread_mutex_lock(&q->mu);
	q->head = i;
	q->failed = failed;
	q->finished = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* parse_inline on two threads; -1 if the thread cannot be started. */
static int parse_piped(struct loader *L, yaml_parser_t *p)
{
	struct pipe q;
	pthread_t th;
	size_t c = 0, avail = 0, released = 0, k;
	int rc = 0, failed = 0;

	memset(&q, 0, sizeof(q));
	q.p = p;
	q.ring = dr_xcalloc(PIPE_RING, sizeof(*q.ring));
	pthread_mutex_init(&q.mu, NULL);
	pthread_cond_init(&q.cv, NULL);
	if (pthread_create(&th, NULL, pipe_parse, &q)) {
		pthread_cond_destroy(&q.cv);
		pthread_mutex_destroy(&q.mu);
		free(q.ring);
		return -1;
	}
	for (;;) {
		if (c == avail || c - released >= PIPE_BATCH) {
			pthread_mutex_lock(&q.mu);
			q.tail = released = c;
			if (q.waiting)
				pthread_cond_broadcast(&q.cv);
			/* Run dry: let the parser get well ahead before
			 * waking up again, each wake-up is a context switch. */
			q.want = c + PIPE_RING / 2;
			while (q.head == c && !q.finished) {
				q.waiting++;
				pthread_cond_wait(&q.cv, &q.mu);
				q.waiting--;
			}
			avail = q.head;
			failed = q.finished && q.failed;
			pthread_mutex_unlock(&q.mu);
			if (c == avail)
				break; /* finished: failed, or stopped early */
		}
		rc = take_event(L, &q.ring[c % PIPE_RING]);
		c++;
		if (rc)
			break;
	}
	pthread_mutex_lock(&q.mu);
	q.stop = 1;
	pthread_cond_broadcast(&q.cv);
	pthread_mutex_unlock(&q.mu);
	pthread_join(th, NULL);
	/* The parser has stopped: its state is this thread's to read. */
	if (!rc && c == avail && failed)
		syntax_error(L, p);
	for (k = 0; k < PIPE_RING; k++)
		yaml_event_delete(&q.ring[k]);
	free(q.ring);
	pthread_cond_destroy(&q.cv);
	pthread_mutex_destroy(&q.mu);
	return rc > 0;
}

static void loader_release(struct loader *L)
{
	free(L->frames);
	free(L->kids);
	free(L->anchors);
	free(L->ks.slot);
	free(L->keystr);
	free(L->ok);
	free(L->ov);
}

/*
 * ---- a large text in two halves ----
 *
 * A big plan is mostly one long block sequence under a key at the top
 * ("machines:"). From DR_YAML_PIPE_MIN bytes the text is cut at an item of
 * that sequence near the middle, and two threads each parse and build one
 * half with a libyaml parser and a loader of their own: the first half is
 * the text before the cut, the second is "KEY:\n" followed by the text from
 * the cut. The two trees are joined into the tree one parse builds: the
 * items of the second half's sequence are appended to the first half's,
 * and the second half's other keys to the root. Both halves' arenas become
 * the caller's.
 *
 * Why the join is exact. The cut is at a line that has k spaces and then a
 * "- " item indicator, where k is the indentation of the sequence's first
 * item, and no line between the key and the cut is less indented (or a
 * second key at the top). If the first half parses without any diagnostic,
 * it did not end inside a quoted scalar or a flow collection (libyaml
 * reports an unterminated one at the end of the input); its root is a
 * mapping whose last entry is KEY with a block sequence at column k + 1, so
 * at the cut one parse is in that sequence after a complete item: deeper
 * nodes end at a less indented line, plain and block scalars included.
 * From there one parse and the second half see the same text in the same
 * state (a root mapping, in KEY's block sequence at indentation k, at a
 * line start), so they produce the same events. The first half ends with
 * the k spaces of the cut line, so that its end is where one parse finds
 * the next token, the "-". Lines of the second half are offset by the
 * lines before the cut; columns are unchanged.
 *
 * What one parse would see differently is refused: any diagnostic in either
 * half (errors, warnings, a second document), an alias (its anchor may be
 * in the other half, and the alias budget counts events of the whole text),
 * a merge key in the root mapping, a key at the top in both halves, a tag or
 * an anchor on the sequence, or too many nodes together. Then the halves are
 * thrown away and the text is loaded in one pass, which reports exactly
 * what it finds. Costs nothing but a scan when a text has no such shape.
 */
static size_t split_min_bytes = DR_YAML_PIPE_MIN;
static unsigned long split_count;

size_t dr_yaml_set_split_min(size_t bytes)
{
	size_t old = split_min_bytes;

	split_min_bytes = bytes;
	return old;
}

unsigned long dr_yaml_split_count(void)
{
	return __atomic_load_n(&split_count, __ATOMIC_RELAXED);
}

#define SPLIT_KEY_MAX 128

struct cut {
	size_t at;     /* offset of the item line that starts the second half */
	size_t indent; /* k: spaces before the items' "-" */
	size_t lines;  /* line breaks before at */
	char key[SPLIT_KEY_MAX + 3]; /* "KEY:\n" */
	size_t keylen;               /* bytes of key[] */
};

/* Whether t[i] starts a block sequence item: "-" then a blank or the end. */
static int item_at(const char *t, size_t i, size_t len)
{
	return i < len && t[i] == '-' &&
	       (i + 1 == len || t[i + 1] == ' ' || t[i + 1] == '\n' ||
		t[i + 1] == '\r');
}

/* Whether the line whose first non-space byte is t[i] is empty or a comment. */
static int empty_at(const char *t, size_t i, size_t len)
{
	return i == len || t[i] == '\n' || t[i] == '\r' || t[i] == '#';
}

static size_t spaces(const char *t, size_t i, size_t len)
{
	size_t j = i;

	while (j < len && t[j] == ' ')
		j++;
	return j - i;
}

static size_t next_line(const char *t, size_t i, size_t len)
{
	const char *nl = memchr(t + i, '\n', len - i);

	return nl ? (size_t)(nl - t) + 1 : len;
}

/*
 * A plain key at the start of a line: [A-Za-z0-9_][A-Za-z0-9_.-]*, ":",
 * and nothing after it but blanks and a comment. Its length, or 0.
 */
static size_t key_line(const char *t, size_t i, size_t len)
{
	size_t j = i, n;

	while (j < len && j - i <= SPLIT_KEY_MAX &&
	       ((t[j] >= 'a' && t[j] <= 'z') || (t[j] >= 'A' && t[j] <= 'Z') ||
		(t[j] >= '0' && t[j] <= '9') || t[j] == '_' ||
		(j > i && (t[j] == '-' || t[j] == '.'))))
		j++;
	n = j - i;
	if (!n || n > SPLIT_KEY_MAX || j >= len || t[j] != ':')
		return 0;
	j++;
	if (j < len && (t[j] == ' ' || t[j] == '\t')) {
		while (j < len && (t[j] == ' ' || t[j] == '\t'))
			j++;
		if (j < len && t[j] == '#')
			return n;
	}
	if (j < len && t[j] == '\r' && j + 1 < len)
		j++;
	return j == len || t[j] == '\n' ? n : 0;
}

/* Where to cut the text, or 0 when it has no long sequence at the top. */
static int find_cut(const struct loader *L, struct cut *c)
{
	const char *t = L->text;
	size_t len = L->len, start = L->bom, ls, key = (size_t)-1, i, n, k;
	int dash0 = 0;

	/* Back from the middle to the nearest key at column 1. */
	ls = start + (len - start) / 2;
	while (ls > start && t[ls - 1] != '\n')
		ls--;
	for (i = ls;;) {
		if (i < len && t[i] != ' ' && !empty_at(t, i, len)) {
			if (!item_at(t, i, len)) {
				key = i;
				break;
			}
			dash0 = 1;
		}
		if (i == start)
			return 0;
		for (i--; i > start && t[i - 1] != '\n'; i--)
			;
	}
	if (!(n = key_line(t, key, len)))
		return 0;
	/* The first item gives the indentation of the sequence. */
	for (i = next_line(t, key, len); i < len; i = next_line(t, i, len)) {
		k = spaces(t, i, len);
		if (!empty_at(t, i + k, len))
			break;
	}
	if (i >= len || !item_at(t, i + k, len) || (dash0 && k))
		return 0;
	/* Forward from the middle (past the first item) to an item. */
	for (i = next_line(t, ls > i ? ls : i, len); i < len;
	     i = next_line(t, i, len)) {
		size_t j = spaces(t, i, len);

		if (empty_at(t, i + j, len) || j > k)
			continue;
		if (j < k || !item_at(t, i + j, len))
			return 0; /* the sequence ends before an item is found */
		break;
	}
	if (i >= len)
		return 0;
	c->at = i;
	c->indent = k;
	c->lines = 0;
	for (k = 0; k < i; k++)
		c->lines += t[k] == '\n';
	memcpy(c->key, t + key, n);
	c->key[n] = ':';
	c->key[n + 1] = '\n';
	c->key[n + 2] = '\0';
	c->keylen = n + 2;
	return 1;
}

/* The second half's input: the key line, then the text from the cut. */
struct half_input {
	const char *head, *rest;
	size_t nhead, nrest, off;
};

static int read_half(void *data, unsigned char *buf, size_t size,
		     size_t *got)
{
	struct half_input *in = data;
	size_t n = 0, m;

	if (in->off < in->nhead) {
		m = in->nhead - in->off < size ? in->nhead - in->off : size;
		memcpy(buf, in->head + in->off, m);
		in->off += m;
		n = m;
	}
	if (n < size && in->off >= in->nhead) {
		size_t r = in->off - in->nhead;

		m = in->nrest - r < size - n ? in->nrest - r : size - n;
		memcpy(buf + n, in->rest + r, m);
		in->off += m;
		n += m;
	}
	*got = n;
	return 1;
}

struct half {
	struct loader L;
	yaml_parser_t p;
	struct half_input in;
	int done;
};

static void *half_run(void *arg)
{
	struct half *h = arg;

	h->done = parse_inline(&h->L, &h->p);
	if (!h->done)
		__atomic_store_n(h->L.give_up, 1, __ATOMIC_RELAXED);
	return NULL;
}

static int half_init(struct half *h, const struct loader *L, int *give_up)
{
	memset(h, 0, sizeof(*h));
	h->L.give_up = give_up;
	if (!yaml_parser_initialize(&h->p))
		return -1;
	/* Only texts of DR_YAML_PIPE_MIN bytes or more are split in normal
	 * use: each half builds megabytes of tree. */
	h->L.a = L->len >= DR_YAML_PIPE_MIN ? dr_arena_new_big() : dr_arena_new();
	h->L.diags = dr_diags_new();
	h->L.file = L->file;
	h->L.ascii = L->ascii;
	return 0;
}

static void half_release(struct half *h)
{
	yaml_parser_delete(&h->p);
	loader_release(&h->L);
	dr_diags_free(h->L.diags);
	dr_arena_free(h->L.a);
}

static int half_clean(const struct half *h)
{
	const struct loader *H = &h->L;

	return h->done && H->root && H->root->kind == DR_YNODE_MAP &&
	       H->root->n && !H->errors && !H->fatal && !H->aliases &&
	       !H->root_merge && H->docs == 1 && !dr_diags_len(H->diags);
}

/* Join the halves into one tree (see above); 0, or -1 if they do not fit. */
static int join_halves(struct loader *L, struct half *h1, struct half *h2,
		       const struct cut *c)
{
	dr_ynode *r1 = h1->L.root, *r2 = h2->L.root, *v1, *v2;
	size_t n, i, j, keylen = c->keylen - 2;

	if (!half_clean(h1) || !half_clean(h2))
		return -1;
	v1 = r1->items[r1->n - 1];
	v2 = r2->items[0];
	if (v1 != h1->L.last_seq || !h1->L.last_seq_plain ||
	    v2 != h2->L.first_seq || !h2->L.first_seq_plain ||
	    r1->keys[r1->n - 1]->len != keylen ||
	    memcmp(r1->keys[r1->n - 1]->str, c->key, keylen) ||
	    r2->keys[0]->len != keylen ||
	    memcmp(r2->keys[0]->str, c->key, keylen) ||
	    v1->col != (int)c->indent + 1 || v2->col != (int)c->indent + 1 ||
	    v2->line != (int)c->lines + 1 || !v1->n || !v2->n)
		return -1;
	/* A key at the top in both halves is a duplicate for one parse. */
	for (j = 1; j < r2->n; j++) {
		for (i = 0; i < r1->n; i++) {
			if (!strcmp(r1->keys[i]->str, r2->keys[j]->str))
				return -1;
		}
	}
	if (h1->L.nodes + h2->L.nodes - 3 > DR_YAML_MAX_NODES)
		return -1;

	n = v1->n + v2->n;
	{
		dr_ynode **items = dr_arena_alloc(L->a, n * sizeof(*items));

		memcpy(items, v1->items, v1->n * sizeof(*items));
		memcpy(items + v1->n, v2->items, v2->n * sizeof(*items));
		for (i = v1->n; i < n; i++)
			set_child(v1, NULL, items[i], i);
		v1->items = items;
		v1->n = (uint32_t)n;
	}
	n = r1->n + r2->n - 1;
	{
		dr_ynode **keys = dr_arena_alloc(L->a, n * sizeof(*keys));
		dr_ynode **items = dr_arena_alloc(L->a, n * sizeof(*items));

		memcpy(keys, r1->keys, r1->n * sizeof(*keys));
		memcpy(items, r1->items, r1->n * sizeof(*items));
		for (i = r1->n, j = 1; j < r2->n; i++, j++) {
			keys[i] = r2->keys[j];
			items[i] = r2->items[j];
			set_child(r1, keys[i], items[i], i);
		}
		r1->keys = keys;
		r1->items = items;
		r1->n = (uint32_t)n;
	}
	L->root = r1;
	L->nodes = h1->L.nodes + h2->L.nodes - 3;
	L->docs = 1;
	dr_arena_adopt(L->a, h1->L.a);
	dr_arena_adopt(L->a, h2->L.a);
	h1->L.a = h2->L.a = NULL;
	return 0;
}

/* 1 when the text was loaded in two halves, -1 to load it in one pass. */
static int parse_split(struct loader *L)
{
	struct half h1, h2;
	struct cut c;
	pthread_t th;
	int threaded, rc, give_up = 0;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2 && split_min_bytes)
		return -1;
	if (!find_cut(L, &c))
		return -1;
	if (half_init(&h1, L, &give_up) < 0)
		return -1;
	if (half_init(&h2, L, &give_up) < 0) {
		half_release(&h1);
		return -1;
	}
	/* First half: the text before the cut and the cut line's spaces. */
	h1.L.text = L->text;
	h1.L.len = c.at + c.indent;
	h1.L.bom = L->bom;
	h1.L.cur_bi = h1.L.cur_ls = L->bom;
	yaml_parser_set_input_string(&h1.p, (const unsigned char *)h1.L.text,
				     h1.L.len);
	/* Second half: "KEY:\n" and the rest, lines counted from the cut. */
	h2.L.text = L->text + c.at;
	h2.L.len = L->len - c.at;
	h2.L.line_off = c.lines - 1;
	h2.L.cur_ci = c.keylen;
	h2.L.cur_line = c.lines;
	h2.in.head = c.key;
	h2.in.nhead = c.keylen;
	h2.in.rest = h2.L.text;
	h2.in.nrest = h2.L.len;
	yaml_parser_set_input(&h2.p, read_half, &h2.in);

	threaded = !pthread_create(&th, NULL, half_run, &h2);
	half_run(&h1);
	if (threaded)
		pthread_join(th, NULL);
	else
		half_run(&h2);
	rc = join_halves(L, &h1, &h2, &c);
	half_release(&h1);
	half_release(&h2);
	if (rc < 0)
		return -1;
	__atomic_fetch_add(&split_count, 1, __ATOMIC_RELAXED);
	return 1;
}

int dr_yaml_load(dr_arena *a, const char *file, const char *text, size_t len,
		 dr_diags *diags, dr_ynode **out)
{
	struct loader L;
	yaml_parser_t p;
	int done = -1;

	*out = NULL;
	memset(&L, 0, sizeof(L));
	L.a = a;
	L.diags = diags;
	L.file = file ? dr_arena_strdup(a, file) : NULL;
	L.text = text ? text : "";
	L.len = text ? len : 0;
	if (precheck(&L) < 0)
		return DR_EINVAL;
	if (L.len >= split_min_bytes && parse_split(&L) > 0) {
		*out = L.root;
		return 0;
	}
	if (!yaml_parser_initialize(&p)) {
		return dr_error_set(DR_ENOMEM, "cannot initialise libyaml");
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)L.text, L.len);
	if (L.len >= pipe_min_bytes)
		done = parse_piped(&L, &p);
	if (done < 0)
		done = parse_inline(&L, &p);
	yaml_parser_delete(&p);
	loader_release(&L);
	if (done && !L.root) {
		/* An empty stream is an empty document: null. */
		yaml_mark_t m = { 0, 0, 0 };

		L.root = new_node(&L, DR_YNODE_SCALAR, &m);
		L.root->str = "";
		L.root->type = DR_YSCALAR_NULL;
	}
	if (!done && L.docs <= 1)
		L.root = NULL;
	*out = L.root;
	return L.errors || !L.root ? DR_EINVAL : 0;
}

/* ---- queries ---- */

const dr_ynode *dr_ynode_key(const dr_ynode *map, const char *key)
{
	size_t i;

	if (!map || map->kind != DR_YNODE_MAP || !key)
		return NULL;
	for (i = 0; i < map->n; i++) {
		const char *k = map->keys[i]->str;

		if (k[0] == key[0] && !strcmp(k, key))
			return map->keys[i];
	}
	return NULL;
}

const dr_ynode *dr_ynode_get(const dr_ynode *map, const char *key)
{
	size_t i;

	if (!map || map->kind != DR_YNODE_MAP || !key)
		return NULL;
	/* The model asks for every field by name: skip the call to strcmp
	 * for keys that differ in their first byte. */
	for (i = 0; i < map->n; i++) {
		const char *k = map->keys[i]->str;

		if (k[0] == key[0] && !strcmp(k, key))
			return map->items[i];
	}
	return NULL;
}

const dr_ynode *dr_ynode_at(const dr_ynode *root, const char *pointer)
{
	const dr_ynode *n = root;
	dr_strbuf tok = DR_STRBUF_INIT;
	const char *p = pointer;

	if (!root || !pointer)
		return NULL;
	if (!*p)
		return root;
	if (*p != '/')
		return NULL;
	while (n && *p == '/') {
		p++;
		dr_strbuf_reset(&tok);
		while (*p && *p != '/') {
			if (*p == '~') {
				if (p[1] == '0')
					dr_strbuf_addch(&tok, '~');
				else if (p[1] == '1')
					dr_strbuf_addch(&tok, '/');
				else
					goto fail;
				p += 2;
			} else {
				dr_strbuf_addch(&tok, *p++);
			}
		}
		if (n->kind == DR_YNODE_MAP) {
			n = dr_ynode_get(n, tok.buf);
		} else if (n->kind == DR_YNODE_SEQ) {
			size_t i = 0, k;

			if (!tok.len || tok.len > 19 ||
			    (tok.buf[0] == '0' && tok.len > 1))
				goto fail;
			for (k = 0; k < tok.len; k++) {
				if (tok.buf[k] < '0' || tok.buf[k] > '9')
					goto fail;
				i = i * 10 + (size_t)(tok.buf[k] - '0');
			}
			n = i < n->n ? n->items[i] : NULL;
		} else {
			goto fail;
		}
	}
	dr_strbuf_release(&tok);
	return n;
fail:
	dr_strbuf_release(&tok);
	return NULL;
}

char *dr_ynode_path(dr_arena *a, const dr_ynode *n)
{
	const dr_ynode *up[DR_YAML_MAX_DEPTH + 2];
	dr_strbuf sb = DR_STRBUF_INIT;
	size_t depth = 0, i;
	char *r;

	/* Key nodes carry the key of their entry: same path as the value. */
	for (; n && n->parent && depth < DR_ARRAY_SIZE(up); n = n->parent)
		up[depth++] = n;
	/* Thousands of warnings each carry a path: no printf, and the
	 * key text is copied a run at a time between escapes. */
	dr_strbuf_grow(&sb, 64);
	for (i = depth; i-- > 0;) {
		const dr_ynode *c = up[i];

		dr_strbuf_addch(&sb, '/');
		if (c->parent->kind == DR_YNODE_MAP) {
			const char *k = dr_ynode_name(c);

			for (;;) {
				size_t run = strcspn(k, "~/");

				dr_strbuf_add(&sb, k, run);
				k += run;
				if (!*k)
					break;
				dr_strbuf_add(&sb, *k == '~' ? "~0" : "~1", 2);
				k++;
			}
		} else {
			char num[24];
			size_t at = sizeof(num), v = (size_t)c->index;

			do {
				num[--at] = (char)('0' + v % 10);
				v /= 10;
			} while (v);
			dr_strbuf_add(&sb, num + at, sizeof(num) - at);
		}
	}
	if (!a)
		return dr_strbuf_detach(&sb, NULL);
	r = dr_arena_strndup(a, sb.buf, sb.len);
	dr_strbuf_release(&sb);
	return r;
}

json_t *dr_ynode_to_json(const dr_ynode *n)
{
	json_t *j, *c;
	size_t i;

	if (!n)
		return json_null();
	switch (n->kind) {
	case DR_YNODE_SCALAR:
		switch (n->type) {
		case DR_YSCALAR_NULL:
			return json_null();
		case DR_YSCALAR_BOOL:
			return json_boolean(n->boolean);
		case DR_YSCALAR_INT:
			return json_integer(n->integer);
		case DR_YSCALAR_FLOAT:
			if (isfinite(n->real))
				return json_real(n->real);
			return json_stringn_nocheck(n->str, n->len);
		case DR_YSCALAR_STRING:
		default:
			/* libyaml hands out valid UTF-8 only. */
			return json_stringn_nocheck(n->str, n->len);
		}
	case DR_YNODE_SEQ:
		if (!(j = json_array()))
			return NULL;
		for (i = 0; i < n->n; i++) {
			if (!(c = dr_ynode_to_json(n->items[i])) ||
			    json_array_append_new(j, c)) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	case DR_YNODE_MAP:
		if (!(j = json_object()))
			return NULL;
		for (i = 0; i < n->n; i++) {
			/* Keys are unique and NUL-free after loading. */
			if (!(c = dr_ynode_to_json(n->items[i])) ||
			    json_object_setn_new_nocheck(j, n->keys[i]->str,
							 n->keys[i]->len, c)) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	}
	return NULL;
}

const char *dr_ynode_type_name(const dr_ynode *n)
{
	if (!n)
		return "null";
	if (n->kind == DR_YNODE_SEQ)
		return "sequence";
	if (n->kind == DR_YNODE_MAP)
		return "mapping";
	switch (n->type) {
	case DR_YSCALAR_NULL: return "null";
	case DR_YSCALAR_BOOL: return "boolean";
	case DR_YSCALAR_INT: return "integer";
	case DR_YSCALAR_FLOAT: return "number";
	case DR_YSCALAR_STRING: return "string";
	}
	return "string";
}

dr_diag *dr_diag_at(dr_diags *d, const dr_ynode *n, dr_severity sev,
		    const char *rule, const char *fmt, ...)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	char *path = n ? dr_ynode_path(NULL, n) : NULL;
	dr_diag *g;
	va_list ap;

	va_start(ap, fmt);
	dr_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	g = dr_diags_add(d, sev, rule, n ? n->file : NULL, n ? n->line : 0,
			 n ? n->col : 0, path, "%s", sb.buf);
	dr_strbuf_release(&sb);
	free(path);
	return g;
}
