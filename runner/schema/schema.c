/*
 * schema.c - compile a draft-07 JSON Schema into a node tree and validate
 * jansson values against it.
 *
 * Compilation first indexes every "$id" of the root and of the registered
 * resources, then compiles nodes on demand starting from the root; "$ref"
 * targets are compiled through a cache keyed by the json_t of the target,
 * so recursive references become cycles in the node graph. Each node knows
 * its canonical location ("#/definitions/machine"), used as schema path.
 *
 * Validation runs in one of two modes: quiet (stop at the first failure,
 * build no messages: used by anyOf, oneOf, not, if, contains) or collecting
 * (append errors to a vector). Errors inside a failed anyOf branch are
 * removed by truncating the vector.
 */
#include "schema/schema.h"
#include "schema/schema-int.h"

#include "core/alloc.h"
#include "core/arena.h"
#include "core/error.h"
#include "core/parse.h"
#include "core/strbuf.h"

#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	T_NULL = 1, T_BOOL = 2, T_INT = 4, T_NUM = 8, T_STR = 16, T_ARR = 32, T_OBJ = 64,
};

static const char *const type_names[] = {
	"null", "boolean", "integer", "number", "string", "array", "object",
};

enum format {
	F_NONE, F_IPV4, F_DATE_TIME, F_DURATION, F_CIDR, F_EMAIL, F_HOSTNAME, F_URI,
	F_REGEX,
};

#define MAX_DEPTH 400

struct node;

struct prop {
	const char *name;
	size_t len;
	uint32_t hash;
	int required; /* also listed in "required" */
	struct node *n;
};

/* A compiled pattern: the fast matcher when the pattern is simple. */
struct re {
	regex_t posix;
	struct dr_schema_sre *fast;
};

struct pattern_prop {
	struct re *re;
	struct node *n;
};

struct dep {
	const char *name;
	const char **req; /* array form */
	size_t nreq;
	struct node *n;   /* schema form */
};

struct node {
	const char *loc;
	int boolean; /* -1: an object schema; 0: false; 1: true */
	struct node *ref;
	const char *title;
	const char *errmsg;

	unsigned types;
	unsigned char type_order[8]; /* type_names indexes as written */
	json_t *enum_;
	json_t *konst;

	json_t *minimum, *maximum, *xminimum, *xmaximum, *multiple;

	long min_len, max_len; /* -1: absent */
	struct re *pattern;
	const char *pattern_src;
	enum format format;
	const char *format_name;

	struct node *items;
	struct node **tuple;
	size_t ntuple;
	struct node *addl_items;
	struct node *contains;
	long min_items, max_items;
	int unique;

	struct prop *props;
	size_t nprops;
	uint32_t *ptab; /* open addressing: index + 1 into props, 0 empty */
	uint32_t pmask;
	struct pattern_prop *pprops;
	size_t npprops;
	struct node *addl_props;
	struct node *prop_names;
	const char **required;
	size_t nrequired;
	int required_declared; /* every required name is in properties */
	long min_props, max_props;
	struct dep *deps;
	size_t ndeps;

	struct node **all_of, **any_of, **one_of;
	size_t nall_of, nany_of, none_of;
	struct node *not_, *if_, *then_, *else_;
};

struct dr_schema {
	dr_arena *arena;
	struct node *root;
	struct re **regexes;
	size_t nregexes, aregexes;
	json_t **docs; /* referenced documents */
	size_t ndocs;
};

/* ---- compile ------------------------------------------------------------- */

struct ident {
	const char *uri; /* absolute; with "#name" for plain-name fragments */
	json_t *json;
	const char *base;
	const char *loc;
};

struct cache_ent {
	const json_t *key;
	struct node *n;
};

struct cc {
	dr_schema *s;
	struct ident *ids;
	size_t nids, aids;
	struct cache_ent *cache;
	size_t ncache, acache; /* acache: power of two */
	struct node **nodes;   /* object schemas in compile order */
	size_t nnodes, anodes;
	dr_strbuf err;
	int depth;
};

static int cc_fail(struct cc *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int cc_fail(struct cc *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->err.len) {
		va_start(ap, fmt);
		dr_strbuf_vaddf(&c->err, fmt, ap);
		va_end(ap);
	}
	return DR_EINVAL;
}

static uint32_t hash_bytes(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static size_t ptr_hash(const void *p)
{
	uintptr_t v = (uintptr_t)p;

	v ^= v >> 17;
	v *= 0x9E3779B97F4A7C15ull;
	return (size_t)(v >> 7);
}

static struct node *cache_get(struct cc *c, const json_t *key)
{
	size_t i;

	if (!c->acache)
		return NULL;
	for (i = ptr_hash(key) & (c->acache - 1); c->cache[i].key;
	     i = (i + 1) & (c->acache - 1))
		if (c->cache[i].key == key)
			return c->cache[i].n;
	return NULL;
}

static void cache_put(struct cc *c, const json_t *key, struct node *n)
{
	size_t i;

	if ((c->ncache + 1) * 2 > c->acache) {
		struct cache_ent *old = c->cache;
		size_t oldn = c->acache, k;

		c->acache = c->acache ? c->acache * 2 : 64;
		c->cache = dr_xcalloc(c->acache, sizeof(*c->cache));
		c->ncache = 0;
		for (k = 0; k < oldn; k++)
			if (old[k].key)
				cache_put(c, old[k].key, old[k].n);
		free(old);
	}
	for (i = ptr_hash(key) & (c->acache - 1); c->cache[i].key;
	     i = (i + 1) & (c->acache - 1))
		;
	c->cache[i].key = key;
	c->cache[i].n = n;
	c->ncache++;
}

static char *resolve(struct cc *c, const char *base, const char *ref)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	char *r;

	dr_schema_uri_resolve(base, ref, &sb);
	r = dr_arena_strdup(c->s->arena, sb.buf);
	dr_strbuf_release(&sb);
	return r;
}

static char *strip_fragment(struct cc *c, const char *uri)
{
	const char *h = strchr(uri, '#');

	return h ? dr_arena_strndup(c->s->arena, uri, (size_t)(h - uri))
		 : dr_arena_strdup(c->s->arena, uri);
}

static const struct ident *find_ident(const struct cc *c, const char *uri)
{
	size_t i;

	for (i = 0; i < c->nids; i++)
		if (!strcmp(c->ids[i].uri, uri))
			return &c->ids[i];
	return NULL;
}

static void add_ident(struct cc *c, const char *uri, json_t *j, const char *base,
		      const char *loc)
{
	struct ident *id;

	if (find_ident(c, uri))
		return; /* the first definition wins: deterministic */
	DR_ALLOC_GROW(c->ids, c->nids + 1, c->aids);
	id = &c->ids[c->nids++];
	id->uri = uri;
	id->json = j;
	id->base = base;
	id->loc = loc;
}

/* Append s escaped as a JSON pointer segment. */
static void add_pointer_seg(dr_strbuf *sb, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '~')
			dr_strbuf_addstr(sb, "~0");
		else if (s[i] == '/')
			dr_strbuf_addstr(sb, "~1");
		else
			dr_strbuf_addch(sb, s[i]);
	}
}

static const char *child_loc(struct cc *c, const char *loc, const char *a, const char *b)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	const char *r;

	dr_strbuf_addstr(&sb, loc);
	dr_strbuf_addch(&sb, '/');
	add_pointer_seg(&sb, a, strlen(a));
	if (b) {
		dr_strbuf_addch(&sb, '/');
		add_pointer_seg(&sb, b, strlen(b));
	}
	r = dr_arena_strdup(c->s->arena, sb.buf);
	dr_strbuf_release(&sb);
	return r;
}

/* The base URI inside object j, whose enclosing base is base. */
static const char *node_base(struct cc *c, const json_t *j, const char *base)
{
	const json_t *id = json_object_get(j, "$id");

	/* In draft-07 "$ref" makes every sibling, "$id" included, ignored. */
	if (json_is_string(id) && !json_is_string(json_object_get(j, "$ref"))) {
		char *r = resolve(c, base, json_string_value(id));

		return strip_fragment(c, r);
	}
	return base;
}

static const char *const schema_kw[] = {
	"additionalItems", "additionalProperties", "contains", "propertyNames",
	"not", "if", "then", "else", "items",
};
static const char *const schema_map_kw[] = {
	"properties", "patternProperties", "definitions", "dependencies",
};
static const char *const schema_arr_kw[] = { "allOf", "anyOf", "oneOf", "items" };

/* Record every "$id" found in schema positions of j. */
static void index_ids(struct cc *c, json_t *j, const char *base, const char *loc, int depth)
{
	const json_t *id;
	size_t i;

	if (!json_is_object(j) || depth > MAX_DEPTH)
		return;
	id = json_object_get(j, "$id");
	if (json_is_string(id) && !json_is_string(json_object_get(j, "$ref"))) {
		char *abs = resolve(c, base, json_string_value(id));
		char *hash = strchr(abs, '#');
		const char *outer = base;

		/* Idents record the enclosing base: compile_node() applies
		 * the schema's own "$id". */
		base = strip_fragment(c, abs);
		if (hash && hash[1])
			add_ident(c, abs, j, outer, loc);
		else
			add_ident(c, base, j, outer, loc);
	}
	for (i = 0; i < DR_ARRAY_SIZE(schema_kw); i++) {
		json_t *v = json_object_get(j, schema_kw[i]);

		if (json_is_object(v))
			index_ids(c, v, base, child_loc(c, loc, schema_kw[i], NULL),
				  depth + 1);
	}
	for (i = 0; i < DR_ARRAY_SIZE(schema_map_kw); i++) {
		json_t *m = json_object_get(j, schema_map_kw[i]), *v;
		const char *k;

		if (!json_is_object(m))
			continue;
		json_object_foreach(m, k, v)
			index_ids(c, v, base, child_loc(c, loc, schema_map_kw[i], k),
				  depth + 1);
	}
	for (i = 0; i < DR_ARRAY_SIZE(schema_arr_kw); i++) {
		json_t *a = json_object_get(j, schema_arr_kw[i]), *v;
		size_t k;
		char num[32];

		if (!json_is_array(a))
			continue;
		json_array_foreach(a, k, v) {
			snprintf(num, sizeof(num), "%zu", k);
			index_ids(c, v, base, child_loc(c, loc, schema_arr_kw[i], num),
				  depth + 1);
		}
	}
}

static int percent_decode(const char *s, dr_strbuf *out)
{
	for (; *s; s++) {
		if (*s == '%') {
			int h, l;

			h = s[1] >= '0' && s[1] <= '9' ? s[1] - '0' :
			    (s[1] | 32) >= 'a' && (s[1] | 32) <= 'f' ? (s[1] | 32) - 'a' + 10 : -1;
			l = !s[1] ? -1 : s[2] >= '0' && s[2] <= '9' ? s[2] - '0' :
			    (s[2] | 32) >= 'a' && (s[2] | 32) <= 'f' ? (s[2] | 32) - 'a' + 10 : -1;
			if (h < 0 || l < 0)
				return DR_EINVAL;
			dr_strbuf_addch(out, h * 16 + l);
			s += 2;
		} else {
			dr_strbuf_addch(out, *s);
		}
	}
	return 0;
}

/*
 * Walk JSON pointer ptr (already percent-decoded) from j, tracking the base
 * URI through the "$id"s passed on the way and the canonical location. On
 * return *base is the base enclosing the target, as compile_node() wants.
 */
static int walk_pointer(struct cc *c, const char *ptr, json_t **j, const char **base,
			const char **loc)
{
	dr_strbuf seg = DR_STRBUF_INIT, l = DR_STRBUF_INIT;
	const char *p = ptr;
	int rc = 0;

	dr_strbuf_addstr(&l, *loc);
	while (*p == '/') {
		json_t *next;

		p++;
		dr_strbuf_reset(&seg);
		for (; *p && *p != '/'; p++) {
			if (*p == '~' && p[1] == '0') {
				dr_strbuf_addch(&seg, '~');
				p++;
			} else if (*p == '~' && p[1] == '1') {
				dr_strbuf_addch(&seg, '/');
				p++;
			} else {
				dr_strbuf_addch(&seg, *p);
			}
		}
		if (json_is_object(*j)) {
			*base = node_base(c, *j, *base);
			next = json_object_get(*j, seg.buf);
		} else if (json_is_array(*j)) {
			char *end;
			unsigned long idx = strtoul(seg.buf, &end, 10);

			next = seg.len && !*end && seg.buf[0] != '-'
				       ? json_array_get(*j, idx) : NULL;
		} else {
			next = NULL;
		}
		if (!next) {
			rc = DR_ENOTFOUND;
			break;
		}
		*j = next;
		dr_strbuf_addch(&l, '/');
		add_pointer_seg(&l, seg.buf, seg.len);
	}
	if (!rc && *p)
		rc = DR_ENOTFOUND;
	if (!rc)
		*loc = dr_arena_strdup(c->s->arena, l.buf);
	dr_strbuf_release(&seg);
	dr_strbuf_release(&l);
	return rc;
}

static int compile_node(struct cc *c, json_t *j, const char *base, const char *loc,
			struct node **out);

static int compile_ref(struct cc *c, const char *base, const char *ref, struct node **out)
{
	char *abs = resolve(c, base, ref);
	char *hash = strchr(abs, '#');
	const char *frag = hash ? hash + 1 : "";
	const char *doc = strip_fragment(c, abs);
	const struct ident *id;
	json_t *j;
	const char *tbase, *tloc;

	if (*frag && *frag != '/') {
		id = find_ident(c, abs);
		if (!id)
			return cc_fail(c, "cannot resolve $ref \"%s\"", ref);
		return compile_node(c, id->json, id->base, id->loc, out);
	}
	id = find_ident(c, doc);
	if (!id)
		return cc_fail(c, "cannot resolve $ref \"%s\" (unknown document \"%s\")",
			       ref, doc);
	j = id->json;
	tbase = id->base;
	tloc = id->loc;
	if (*frag) {
		dr_strbuf dec = DR_STRBUF_INIT;
		int rc = percent_decode(frag, &dec);

		if (!rc)
			rc = walk_pointer(c, dec.buf, &j, &tbase, &tloc);
		dr_strbuf_release(&dec);
		if (rc)
			return cc_fail(c, "cannot resolve $ref \"%s\"", ref);
	}
	return compile_node(c, j, tbase, tloc, out);
}

static int get_count(struct cc *c, const json_t *j, const char *kw, const char *loc,
		     long *out)
{
	const json_t *v = json_object_get(j, kw);
	double d;

	*out = -1;
	if (!v)
		return 0;
	if (!json_is_number(v))
		return cc_fail(c, "%s/%s: expected a non-negative integer", loc, kw);
	d = json_number_value(v);
	if (d < 0 || d != floor(d) || d > 1e15)
		return cc_fail(c, "%s/%s: expected a non-negative integer", loc, kw);
	*out = (long)d;
	return 0;
}

static int add_regex(struct cc *c, const char *src, const char *loc, struct re **out)
{
	dr_strbuf ere = DR_STRBUF_INIT;
	const char *why;
	struct re *re;
	int rc;

	if (dr_schema_regex_translate(src, &ere, &why)) {
		dr_strbuf_release(&ere);
		return cc_fail(c, "%s: unsupported regular expression \"%s\": %s", loc, src,
			       why);
	}
	re = dr_xmalloc(sizeof(*re));
	rc = regcomp(&re->posix, ere.buf, REG_EXTENDED | REG_NOSUB);
	dr_strbuf_release(&ere);
	if (rc) {
		free(re);
		return cc_fail(c, "%s: invalid regular expression \"%s\"", loc, src);
	}
	re->fast = dr_schema_sre_compile(src);
	DR_ALLOC_GROW(c->s->regexes, c->s->nregexes + 1, c->s->aregexes);
	c->s->regexes[c->s->nregexes++] = re;
	*out = re;
	return 0;
}

static int compile_sub(struct cc *c, json_t *j, const char *kw, const char *base,
		       const char *loc, struct node **out)
{
	json_t *v = json_object_get(j, kw);

	*out = NULL;
	if (!v)
		return 0;
	return compile_node(c, v, base, child_loc(c, loc, kw, NULL), out);
}

static int compile_list(struct cc *c, json_t *j, const char *kw, const char *base,
			const char *loc, struct node ***out, size_t *n)
{
	json_t *a = json_object_get(j, kw), *v;
	size_t i;
	char num[32];
	int rc;

	*out = NULL;
	*n = 0;
	if (!a)
		return 0;
	if (!json_is_array(a) || (!json_array_size(a) && strcmp(kw, "items")))
		return cc_fail(c, "%s/%s: expected a non-empty array of schemas", loc, kw);
	*out = dr_arena_zalloc(c->s->arena, (json_array_size(a) + 1) * sizeof(**out));
	json_array_foreach(a, i, v) {
		snprintf(num, sizeof(num), "%zu", i);
		rc = compile_node(c, v, base, child_loc(c, loc, kw, num), &(*out)[i]);
		if (rc)
			return rc;
	}
	*n = json_array_size(a);
	return 0;
}

static int parse_type(struct cc *c, const json_t *t, const char *loc, struct node *n)
{
	size_t i, k, count;
	const json_t *v;

	if (json_is_string(t)) {
		for (k = 0; k < DR_ARRAY_SIZE(type_names); k++)
			if (!strcmp(json_string_value(t), type_names[k])) {
				if (n->types & (1u << k))
					return 0;
				for (count = 0; n->type_order[count]; count++)
					;
				n->type_order[count] = (unsigned char)(k + 1);
				n->types |= 1u << k;
				return 0;
			}
		return cc_fail(c, "%s/type: unknown type \"%s\"", loc, json_string_value(t));
	}
	if (!json_is_array(t))
		return cc_fail(c, "%s/type: expected a string or an array", loc);
	json_array_foreach(t, i, v) {
		if (!json_is_string(v) || parse_type(c, v, loc, n))
			return cc_fail(c, "%s/type: expected type names", loc);
	}
	return 0;
}

static int compile_object_kws(struct cc *c, json_t *j, struct node *n, const char *base,
			      const char *loc)
{
	json_t *m, *v;
	const char *k;
	size_t i;
	int rc;

	m = json_object_get(j, "properties");
	if (m) {
		size_t size;

		if (!json_is_object(m))
			return cc_fail(c, "%s/properties: expected an object", loc);
		n->nprops = json_object_size(m);
		n->props = dr_arena_zalloc(c->s->arena, (n->nprops + 1) * sizeof(*n->props));
		for (size = 4; size < n->nprops * 2; size *= 2)
			;
		n->ptab = dr_arena_zalloc(c->s->arena, size * sizeof(*n->ptab));
		n->pmask = (uint32_t)(size - 1);
		i = 0;
		json_object_foreach(m, k, v) {
			struct prop *p = &n->props[i];
			uint32_t h;

			p->name = k;
			p->len = strlen(k);
			p->hash = hash_bytes(k, p->len);
			rc = compile_node(c, v, base, child_loc(c, loc, "properties", k), &p->n);
			if (rc)
				return rc;
			for (h = p->hash & n->pmask; n->ptab[h]; h = (h + 1) & n->pmask)
				;
			n->ptab[h] = (uint32_t)(i + 1);
			i++;
		}
	}
	m = json_object_get(j, "patternProperties");
	if (m) {
		if (!json_is_object(m))
			return cc_fail(c, "%s/patternProperties: expected an object", loc);
		n->pprops = dr_arena_zalloc(c->s->arena,
					    (json_object_size(m) + 1) * sizeof(*n->pprops));
		json_object_foreach(m, k, v) {
			struct pattern_prop *pp = &n->pprops[n->npprops++];
			const char *l = child_loc(c, loc, "patternProperties", k);

			rc = add_regex(c, k, l, &pp->re);
			if (!rc)
				rc = compile_node(c, v, base, l, &pp->n);
			if (rc)
				return rc;
		}
	}
	if ((rc = compile_sub(c, j, "additionalProperties", base, loc, &n->addl_props)) ||
	    (rc = compile_sub(c, j, "propertyNames", base, loc, &n->prop_names)))
		return rc;
	m = json_object_get(j, "required");
	if (m) {
		if (!json_is_array(m))
			return cc_fail(c, "%s/required: expected an array of strings", loc);
		n->required = dr_arena_zalloc(c->s->arena,
					      (json_array_size(m) + 1) * sizeof(char *));
		json_array_foreach(m, i, v) {
			if (!json_is_string(v))
				return cc_fail(c, "%s/required: expected an array of strings", loc);
			n->required[n->nrequired++] = json_string_value(v);
		}
	}
	if (n->nrequired && n->nprops) {
		n->required_declared = 1;
		for (i = 0; i < n->nrequired; i++) {
			size_t q;

			for (q = 0; q < n->nprops; q++)
				if (!strcmp(n->props[q].name, n->required[i]))
					break;
			if (q == n->nprops || n->props[q].required)
				n->required_declared = 0; /* undeclared or listed twice */
			else
				n->props[q].required = 1;
		}
	}
	if ((rc = get_count(c, j, "minProperties", loc, &n->min_props)) ||
	    (rc = get_count(c, j, "maxProperties", loc, &n->max_props)))
		return rc;
	m = json_object_get(j, "dependencies");
	if (m) {
		if (!json_is_object(m))
			return cc_fail(c, "%s/dependencies: expected an object", loc);
		n->deps = dr_arena_zalloc(c->s->arena,
					  (json_object_size(m) + 1) * sizeof(*n->deps));
		json_object_foreach(m, k, v) {
			struct dep *d = &n->deps[n->ndeps++];

			d->name = k;
			if (json_is_array(v)) {
				json_t *r;
				size_t ri;

				d->req = dr_arena_zalloc(c->s->arena,
							 (json_array_size(v) + 1) * sizeof(char *));
				json_array_foreach(v, ri, r) {
					if (!json_is_string(r))
						return cc_fail(c, "%s/dependencies: expected names", loc);
					d->req[d->nreq++] = json_string_value(r);
				}
			} else {
				rc = compile_node(c, v, base,
						  child_loc(c, loc, "dependencies", k), &d->n);
				if (rc)
					return rc;
			}
		}
	}
	return 0;
}

static int check_number(struct cc *c, json_t *j, const char *kw, const char *loc,
			json_t **out)
{
	json_t *v = json_object_get(j, kw);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_number(v))
		return cc_fail(c, "%s/%s: expected a number", loc, kw);
	*out = v;
	return 0;
}

static int compile_node(struct cc *c, json_t *j, const char *base, const char *loc,
			struct node **out)
{
	struct node *n;
	json_t *v;
	int rc;

	if (json_is_boolean(j)) {
		/* Not cached: json_true() is a shared singleton, and the
		 * location of a boolean schema is where it appears. */
		n = dr_arena_zalloc(c->s->arena, sizeof(*n));
		n->boolean = json_is_true(j);
		n->loc = loc;
		*out = n;
		return 0;
	}
	if (!json_is_object(j))
		return cc_fail(c, "%s: a schema must be an object or a boolean", loc);
	n = cache_get(c, j);
	if (n) {
		*out = n;
		return 0;
	}
	if (++c->depth > MAX_DEPTH) {
		c->depth--;
		return cc_fail(c, "%s: schema nested too deeply", loc);
	}
	n = dr_arena_zalloc(c->s->arena, sizeof(*n));
	n->boolean = -1;
	n->loc = loc;
	n->min_len = n->max_len = n->min_items = n->max_items = -1;
	n->min_props = n->max_props = -1;
	*out = n;
	cache_put(c, j, n);
	DR_ALLOC_GROW(c->nodes, c->nnodes + 1, c->anodes);
	c->nodes[c->nnodes++] = n;

	v = json_object_get(j, "errorMessage");
	if (json_is_string(v))
		n->errmsg = json_string_value(v);
	v = json_object_get(j, "$ref");
	if (json_is_string(v)) {
		rc = compile_ref(c, base, json_string_value(v), &n->ref);
		c->depth--;
		return rc;
	}
	base = node_base(c, j, base);
	rc = 0;
	v = json_object_get(j, "title");
	if (json_is_string(v))
		n->title = json_string_value(v);
	v = json_object_get(j, "type");
	if (v && (rc = parse_type(c, v, loc, n)))
		goto out;
	v = json_object_get(j, "enum");
	if (v) {
		if (!json_is_array(v)) {
			rc = cc_fail(c, "%s/enum: expected an array", loc);
			goto out;
		}
		n->enum_ = v;
	}
	n->konst = json_object_get(j, "const");
	if ((rc = check_number(c, j, "minimum", loc, &n->minimum)) ||
	    (rc = check_number(c, j, "maximum", loc, &n->maximum)) ||
	    (rc = check_number(c, j, "exclusiveMinimum", loc, &n->xminimum)) ||
	    (rc = check_number(c, j, "exclusiveMaximum", loc, &n->xmaximum)) ||
	    (rc = check_number(c, j, "multipleOf", loc, &n->multiple)))
		goto out;
	if (n->multiple && json_number_value(n->multiple) <= 0) {
		rc = cc_fail(c, "%s/multipleOf: must be greater than 0", loc);
		goto out;
	}
	if ((rc = get_count(c, j, "minLength", loc, &n->min_len)) ||
	    (rc = get_count(c, j, "maxLength", loc, &n->max_len)))
		goto out;
	v = json_object_get(j, "pattern");
	if (v) {
		if (!json_is_string(v)) {
			rc = cc_fail(c, "%s/pattern: expected a string", loc);
			goto out;
		}
		n->pattern_src = json_string_value(v);
		if ((rc = add_regex(c, n->pattern_src, child_loc(c, loc, "pattern", NULL),
				    &n->pattern)))
			goto out;
	}
	v = json_object_get(j, "format");
	if (json_is_string(v)) {
		static const struct { const char *name; enum format f; } fmts[] = {
			{ "ipv4", F_IPV4 }, { "date-time", F_DATE_TIME },
			{ "dr-duration", F_DURATION }, { "ipv4-cidr", F_CIDR },
			{ "email", F_EMAIL }, { "hostname", F_HOSTNAME }, { "uri", F_URI },
			{ "regex", F_REGEX },
		};
		size_t i;

		for (i = 0; i < DR_ARRAY_SIZE(fmts); i++)
			if (!strcmp(json_string_value(v), fmts[i].name))
				n->format = fmts[i].f;
		n->format_name = json_string_value(v);
	}
	v = json_object_get(j, "items");
	if (json_is_array(v))
		rc = compile_list(c, j, "items", base, loc, &n->tuple, &n->ntuple);
	else
		rc = compile_sub(c, j, "items", base, loc, &n->items);
	if (rc)
		goto out;
	if (n->tuple && (rc = compile_sub(c, j, "additionalItems", base, loc, &n->addl_items)))
		goto out;
	if ((rc = compile_sub(c, j, "contains", base, loc, &n->contains)) ||
	    (rc = get_count(c, j, "minItems", loc, &n->min_items)) ||
	    (rc = get_count(c, j, "maxItems", loc, &n->max_items)))
		goto out;
	n->unique = json_is_true(json_object_get(j, "uniqueItems"));
	if ((rc = compile_object_kws(c, j, n, base, loc)))
		goto out;
	if ((rc = compile_list(c, j, "allOf", base, loc, &n->all_of, &n->nall_of)) ||
	    (rc = compile_list(c, j, "anyOf", base, loc, &n->any_of, &n->nany_of)) ||
	    (rc = compile_list(c, j, "oneOf", base, loc, &n->one_of, &n->none_of)) ||
	    (rc = compile_sub(c, j, "not", base, loc, &n->not_)))
		goto out;
	if (json_object_get(j, "if")) {
		if ((rc = compile_sub(c, j, "if", base, loc, &n->if_)) ||
		    (rc = compile_sub(c, j, "then", base, loc, &n->then_)) ||
		    (rc = compile_sub(c, j, "else", base, loc, &n->else_)))
			goto out;
	}
out:
	c->depth--;
	return rc;
}

/* A "$ref" chain that never reaches a real schema would loop forever. */
static int check_ref_cycles(struct cc *c)
{
	size_t i;

	for (i = 0; i < c->nnodes; i++) {
		struct node *n = c->nodes[i], *slow, *fast;

		slow = fast = n;
		while (fast && fast->ref && fast->ref->ref) {
			slow = slow->ref;
			fast = fast->ref->ref;
			if (slow == fast)
				return cc_fail(c, "%s: $ref cycle", n->loc);
		}
	}
	return 0;
}

int dr_schema_compile_with(const json_t *root, const char *base_uri,
			   const dr_schema_resource *res, size_t nres, dr_schema **out,
			   char **errmsg)
{
	struct cc c;
	dr_schema *s;
	const char *base;
	size_t i;
	int rc;

	*out = NULL;
	if (errmsg)
		*errmsg = NULL;
	if (!root)
		return DR_EINVAL;
	for (i = 0; i < nres; i++) {
		if (!res[i].uri || !res[i].doc) {
			if (errmsg)
				*errmsg = dr_xstrdup("schema resource without a URI or a document");
			return DR_EINVAL;
		}
	}
	memset(&c, 0, sizeof(c));
	dr_strbuf_init(&c.err, 0);
	s = dr_xcalloc(1, sizeof(*s));
	s->arena = dr_arena_new();
	s->docs = dr_xcalloc(nres + 1, sizeof(*s->docs));
	c.s = s;

	s->docs[s->ndocs++] = json_incref((json_t *)root);
	base = strip_fragment(&c, base_uri ? base_uri : "");
	add_ident(&c, base, (json_t *)root, base, "#");
	index_ids(&c, (json_t *)root, base, "#", 0);
	for (i = 0; i < nres; i++) {
		const char *u = strip_fragment(&c, res[i].uri);

		s->docs[s->ndocs++] = json_incref((json_t *)res[i].doc);
		add_ident(&c, u, (json_t *)res[i].doc, u,
			  dr_arena_printf(s->arena, "%s#", u));
		index_ids(&c, (json_t *)res[i].doc, u, dr_arena_printf(s->arena, "%s#", u),
			  0);
	}
	rc = compile_node(&c, (json_t *)root, base, "#", &s->root);
	if (!rc)
		rc = check_ref_cycles(&c);
	free(c.ids);
	free(c.cache);
	free(c.nodes);
	if (rc) {
		if (errmsg)
			*errmsg = dr_xstrdup(c.err.len ? c.err.buf : "invalid schema");
		dr_strbuf_release(&c.err);
		dr_schema_free(s);
		return rc;
	}
	dr_strbuf_release(&c.err);
	*out = s;
	return 0;
}

int dr_schema_compile(const json_t *root, const char *base_uri, dr_schema **out,
		      char **errmsg)
{
	return dr_schema_compile_with(root, base_uri, NULL, 0, out, errmsg);
}

void dr_schema_free(dr_schema *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->nregexes; i++) {
		regfree(&s->regexes[i]->posix);
		free(s->regexes[i]->fast);
		free(s->regexes[i]);
	}
	free(s->regexes);
	for (i = 0; i < s->ndocs; i++)
		json_decref(s->docs[i]);
	free(s->docs);
	dr_arena_free(s->arena);
	free(s);
}

/* ---- validate ------------------------------------------------------------ */

/* The instance path as a chain on the C stack: built only for errors. */
struct seg {
	const struct seg *up;
	const char *key; /* NULL: an array index */
	size_t idx;
};

struct verr {
	char *ipath, *spath, *msg;
	const char *kw;
	int at_key;
};

struct vc {
	const dr_schema_ops *ops; /* reads the instance */
	int quiet; /* > 0: stop at the first failure, record nothing */
	struct verr *errs;
	size_t n, alloc;
	size_t peak; /* the most errors n has held */
	size_t max, per_loc;
	int depth;
	int helper; /* validating half of an array on another thread */
};

static const struct node *deref(const struct node *n)
{
	while (n->ref)
		n = n->ref;
	return n;
}

/* ---- instance access ----------------------------------------------------- */

static dr_schema_vtype js_type(const void *p)
{
	const json_t *j = p;

	switch (json_typeof(j)) {
	case JSON_NULL: return DR_SV_NULL;
	case JSON_TRUE: case JSON_FALSE: return DR_SV_BOOL;
	case JSON_INTEGER: return DR_SV_INT;
	case JSON_REAL: return DR_SV_REAL;
	case JSON_STRING: return DR_SV_STRING;
	case JSON_ARRAY: return DR_SV_ARRAY;
	case JSON_OBJECT: return DR_SV_OBJECT;
	}
	return DR_SV_NULL;
}

static size_t js_size(const void *p)
{
	const json_t *j = p;

	return json_is_array(j) ? json_array_size(j) : json_object_size(j);
}

static const void *js_array_get(const void *p, size_t i)
{
	return json_array_get(p, i);
}

static const void *js_object_get(const void *p, const char *key)
{
	return json_object_get(p, key);
}

static void *js_object_next(const void *p, void *it, const char **key, size_t *klen,
			    const void **val)
{
	json_t *j = (json_t *)p;

	it = it ? json_object_iter_next(j, it) : json_object_iter(j);
	if (it) {
		*key = json_object_iter_key(it);
		*klen = json_object_iter_key_len(it);
		*val = json_object_iter_value(it);
	}
	return it;
}

static const char *js_string(const void *p, size_t *len)
{
	*len = json_string_length(p);
	return json_string_value(p);
}

static long long js_integer(const void *p)
{
	return (long long)json_integer_value(p);
}

static double js_real(const void *p)
{
	return json_real_value(p);
}

static int js_boolean(const void *p)
{
	return json_is_true((const json_t *)p);
}

const dr_schema_ops dr_schema_json_ops = {
	js_type, js_size, js_array_get, js_object_get, js_object_next,
	js_string, js_integer, js_real, js_boolean,
};

#define JS (&dr_schema_json_ops)

/* A lone string (a key checked against propertyNames). */
struct kstr {
	const char *s;
	size_t len;
};

static dr_schema_vtype ks_type(const void *p)
{
	(void)p;
	return DR_SV_STRING;
}

static const char *ks_string(const void *p, size_t *len)
{
	const struct kstr *k = p;

	*len = k->len;
	return k->s;
}

static const dr_schema_ops key_ops = {
	ks_type, NULL, NULL, NULL, NULL, ks_string, NULL, NULL, NULL,
};

static double num_value(const dr_schema_ops *o, const void *j)
{
	return o->type(j) == DR_SV_INT ? (double)o->integer(j) : o->real(j);
}

static unsigned type_bits(const dr_schema_ops *o, const void *j)
{
	double d;

	switch (o->type(j)) {
	case DR_SV_NULL: return T_NULL;
	case DR_SV_BOOL: return T_BOOL;
	case DR_SV_INT: return T_INT | T_NUM;
	case DR_SV_REAL:
		d = o->real(j);
		return isfinite(d) && d == floor(d) ? T_INT | T_NUM : T_NUM;
	case DR_SV_STRING: return T_STR;
	case DR_SV_ARRAY: return T_ARR;
	case DR_SV_OBJECT: return T_OBJ;
	}
	return 0;
}

static const char *type_name(const dr_schema_ops *o, const void *j)
{
	switch (o->type(j)) {
	case DR_SV_NULL: return "null";
	case DR_SV_BOOL: return "boolean";
	case DR_SV_INT: return "integer";
	case DR_SV_REAL: return "number";
	case DR_SV_STRING: return "string";
	case DR_SV_ARRAY: return "array";
	case DR_SV_OBJECT: return "object";
	}
	return "?";
}

static void add_number(dr_strbuf *sb, const dr_schema_ops *o, const void *j)
{
	char buf[40];
	double d;
	int prec;

	if (o->type(j) == DR_SV_INT) {
		dr_strbuf_addf(sb, "%lld", o->integer(j));
		return;
	}
	d = o->real(j);
	/* The shortest form that reads back as the same double. */
	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	dr_strbuf_addstr(sb, buf);
}

/* A jansson copy of an instance value, for json_dumps() in messages. */
static json_t *to_json(const dr_schema_ops *o, const void *j)
{
	json_t *r = NULL, *c;
	const char *k, *s;
	const void *val;
	size_t i, n, klen;
	void *it;

	switch (o->type(j)) {
	case DR_SV_NULL: return json_null();
	case DR_SV_BOOL: return json_boolean(o->boolean(j));
	case DR_SV_INT: return json_integer(o->integer(j));
	case DR_SV_REAL: return json_real(o->real(j));
	case DR_SV_STRING:
		s = o->string(j, &n);
		return json_stringn_nocheck(s, n);
	case DR_SV_ARRAY:
		r = json_array();
		for (i = 0, n = o->size(j); r && i < n; i++)
			if (!(c = to_json(o, o->array_get(j, i))) || json_array_append_new(r, c))
				goto fail;
		return r;
	case DR_SV_OBJECT:
		r = json_object();
		for (it = NULL; r && (it = o->object_next(j, it, &k, &klen, &val));)
			if (!(c = to_json(o, val)) || json_object_setn_new_nocheck(r, k, klen, c))
				goto fail;
		return r;
	}
fail:
	json_decref(r);
	return NULL;
}

static char *dump(const dr_schema_ops *o, const void *j, size_t flags)
{
	json_t *c;
	char *d;

	if (o == JS)
		return json_dumps(j, flags);
	c = to_json(o, j);
	d = c ? json_dumps(c, flags) : NULL;
	json_decref(c);
	return d;
}

#define RENDER_MAX 60

/* A short, one-line rendering of a value for messages. */
static void render(dr_strbuf *sb, const dr_schema_ops *o, const void *j)
{
	switch (o->type(j)) {
	case DR_SV_STRING: {
		size_t len, i, cut;
		const char *s = o->string(j, &len);
		dr_strbuf tmp = DR_STRBUF_INIT;

		cut = len;
		if (len > RENDER_MAX) {
			cut = RENDER_MAX;
			while (cut && ((unsigned char)s[cut] & 0xC0) == 0x80)
				cut--;
		}
		for (i = 0; i < cut && s[i]; i++)
			dr_strbuf_addch(&tmp, s[i]);
		dr_strbuf_addch(sb, '"');
		dr_strbuf_add_json_escaped(sb, tmp.buf);
		dr_strbuf_addstr(sb, cut < len ? "...\"" : "\"");
		dr_strbuf_release(&tmp);
		break;
	}
	case DR_SV_INT: case DR_SV_REAL:
		add_number(sb, o, j);
		break;
	case DR_SV_BOOL: dr_strbuf_addstr(sb, o->boolean(j) ? "true" : "false"); break;
	case DR_SV_NULL: dr_strbuf_addstr(sb, "null"); break;
	case DR_SV_ARRAY: {
		char *d = dump(o, j, JSON_COMPACT | JSON_ENCODE_ANY);

		if (d && strlen(d) <= RENDER_MAX)
			dr_strbuf_addstr(sb, d);
		else
			dr_strbuf_addf(sb, "an array of %zu items", o->size(j));
		free(d);
		break;
	}
	case DR_SV_OBJECT: {
		char *d = dump(o, j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);

		if (d && strlen(d) <= RENDER_MAX)
			dr_strbuf_addstr(sb, d);
		else
			dr_strbuf_addstr(sb, "an object");
		free(d);
		break;
	}
	}
}

static void add_path(dr_strbuf *sb, const struct seg *seg)
{
	const struct seg *stack[MAX_DEPTH + 8];
	size_t n = 0;

	for (; seg && n < DR_ARRAY_SIZE(stack); seg = seg->up)
		stack[n++] = seg;
	while (n--) {
		dr_strbuf_addch(sb, '/');
		if (stack[n]->key)
			add_pointer_seg(sb, stack[n]->key, strlen(stack[n]->key));
		else
			dr_strbuf_addf(sb, "%zu", stack[n]->idx);
	}
}

/* Takes ownership of ipath, spath and msg. */
static void push_err(struct vc *v, char *ipath, char *spath, const char *kw, char *msg,
		     int at_key)
{
	size_t k, same = 0;
	struct verr *e;

	for (k = v->n; k-- > 0 && !strcmp(v->errs[k].ipath, ipath);)
		same++;
	if (v->n >= v->max || same >= v->per_loc) {
		free(ipath);
		free(spath);
		free(msg);
		return;
	}
	DR_ALLOC_GROW(v->errs, v->n + 1, v->alloc);
	e = &v->errs[v->n++];
	if (v->n > v->peak)
		v->peak = v->n;
	e->ipath = ipath;
	e->spath = spath;
	e->kw = kw;
	e->msg = msg;
	e->at_key = at_key;
}

static void add_err(struct vc *v, const struct seg *seg, const struct node *n,
		    const char *kw, int at_key, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static void add_err(struct vc *v, const struct seg *seg, const struct node *n,
		    const char *kw, int at_key, const char *fmt, ...)
{
	dr_strbuf ip = DR_STRBUF_INIT, sp = DR_STRBUF_INIT, msg = DR_STRBUF_INIT;
	va_list ap;

	if (v->quiet || v->n >= v->max)
		return;
	add_path(&ip, seg);
	dr_strbuf_addstr(&sp, n->loc);
	if (n->boolean < 0) {
		dr_strbuf_addch(&sp, '/');
		dr_strbuf_addstr(&sp, kw);
	}
	va_start(ap, fmt);
	dr_strbuf_vaddf(&msg, fmt, ap);
	va_end(ap);
	push_err(v, dr_strbuf_detach(&ip, NULL), dr_strbuf_detach(&sp, NULL), kw,
		 dr_strbuf_detach(&msg, NULL), at_key);
}

static void truncate_errs(struct vc *v, size_t mark)
{
	while (v->n > mark) {
		struct verr *e = &v->errs[--v->n];

		free(e->ipath);
		free(e->spath);
		free(e->msg);
	}
}

static int is_num(dr_schema_vtype t)
{
	return t == DR_SV_INT || t == DR_SV_REAL;
}

/* JSON equality of a (read through oa) and b (through ob). */
static int val_eq(const dr_schema_ops *oa, const void *a, const dr_schema_ops *ob,
		  const void *b)
{
	dr_schema_vtype ta = oa->type(a), tb = ob->type(b);

	if (is_num(ta) && is_num(tb)) {
		if (ta == DR_SV_INT && tb == DR_SV_INT)
			return oa->integer(a) == ob->integer(b);
		return num_value(oa, a) == num_value(ob, b);
	}
	if (ta != tb)
		return 0;
	switch (ta) {
	case DR_SV_STRING: {
		size_t la, lb;
		const char *sa = oa->string(a, &la), *sb = ob->string(b, &lb);

		return la == lb && !memcmp(sa, sb, la);
	}
	case DR_SV_ARRAY: {
		size_t i, n = oa->size(a);

		if (n != ob->size(b))
			return 0;
		for (i = 0; i < n; i++)
			if (!val_eq(oa, oa->array_get(a, i), ob, ob->array_get(b, i)))
				return 0;
		return 1;
	}
	case DR_SV_OBJECT: {
		const char *k;
		const void *va, *vb;
		size_t klen;
		void *it;

		if (oa->size(a) != ob->size(b))
			return 0;
		for (it = NULL; (it = oa->object_next(a, it, &k, &klen, &va));) {
			vb = ob->object_get(b, k);
			if (!vb || !val_eq(oa, va, ob, vb))
				return 0;
		}
		return 1;
	}
	case DR_SV_BOOL:
		return !oa->boolean(a) == !ob->boolean(b);
	default:
		return 1;
	}
}

static uint32_t val_hash(const dr_schema_ops *o, const void *j)
{
	switch (o->type(j)) {
	case DR_SV_STRING: {
		size_t len;
		const char *s = o->string(j, &len);

		return hash_bytes(s, len);
	}
	case DR_SV_INT: case DR_SV_REAL: {
		/* Equal numbers (1 and 1.0) must hash alike. */
		double d = num_value(o, j);
		char buf[sizeof(double)];

		if (d == 0)
			d = 0; /* -0.0 */
		memcpy(buf, &d, sizeof(d));
		return hash_bytes(buf, sizeof(buf)) ^ 0x5bd1e995u;
	}
	case DR_SV_ARRAY: {
		uint32_t h = 0x9747b28cu;
		size_t i, n = o->size(j);

		for (i = 0; i < n; i++)
			h = (h * 31u) ^ val_hash(o, o->array_get(j, i));
		return h;
	}
	case DR_SV_OBJECT: {
		uint32_t h = 0x1b873593u;
		const char *k;
		const void *val;
		size_t klen;
		void *it;

		for (it = NULL; (it = o->object_next(j, it, &k, &klen, &val));)
			h += hash_bytes(k, strlen(k)) * 2654435761u ^ val_hash(o, val);
		return h;
	}
	case DR_SV_BOOL: return o->boolean(j) ? 1 : 2;
	case DR_SV_NULL: return 3;
	}
	return 0;
}

struct hidx {
	uint32_t h;
	size_t i;
};

static int hidx_cmp(const void *pa, const void *pb)
{
	const struct hidx *a = pa, *b = pb;

	if (a->h != b->h)
		return a->h < b->h ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

/* Find the equal pair (a, b), a < b, with the smallest b then a. */
static int find_duplicate(const dr_schema_ops *o, const void *arr, size_t *pa, size_t *pb)
{
	size_t n = o->size(arr), i, k, best_a = 0, best_b = SIZE_MAX;
	struct hidx *h;

	if (n < 16) {
		for (k = 1; k < n; k++)
			for (i = 0; i < k; i++)
				if (val_eq(o, o->array_get(arr, i), o, o->array_get(arr, k))) {
					*pa = i;
					*pb = k;
					return 1;
				}
		return 0;
	}
	h = dr_xmalloc(n * sizeof(*h));
	for (i = 0; i < n; i++) {
		h[i].h = val_hash(o, o->array_get(arr, i));
		h[i].i = i;
	}
	qsort(h, n, sizeof(*h), hidx_cmp);
	for (i = 0; i < n; i = k) {
		size_t x, y;

		for (k = i + 1; k < n && h[k].h == h[i].h; k++)
			;
		for (y = i + 1; y < k; y++)
			for (x = i; x < y; x++)
				if (h[y].i < best_b &&
				    val_eq(o, o->array_get(arr, h[x].i),
					   o, o->array_get(arr, h[y].i))) {
					best_a = h[x].i;
					best_b = h[y].i;
					break;
				}
	}
	free(h);
	if (best_b == SIZE_MAX)
		return 0;
	*pa = best_a;
	*pb = best_b;
	return 1;
}

/* Compare instance a with schema number b. */
static int num_cmp(const dr_schema_ops *o, const void *a, const json_t *b)
{
	if (o->type(a) == DR_SV_INT && json_is_integer(b)) {
		long long x = o->integer(a), y = (long long)json_integer_value(b);

		return x < y ? -1 : x > y;
	} else {
		double x = num_value(o, a), y = json_number_value(b);

		return x < y ? -1 : x > y;
	}
}

static int is_multiple(const dr_schema_ops *o, const void *j, const json_t *m)
{
	double q, r;

	if (o->type(j) == DR_SV_INT && json_is_integer(m))
		return o->integer(j) % json_integer_value(m) == 0;
	q = num_value(o, j) / json_number_value(m);
	if (!isfinite(q))
		return 0;
	r = nearbyint(q);
	/* Decimal multiples are not exact in binary (0.0075 / 0.0001 is
	 * 75.00000000000001), so allow a relative error of a few ulps. */
	return fabs(q - r) <= 1e-9 * fmax(1.0, fabs(q));
}

static size_t utf8_len(const char *s, size_t n)
{
	size_t i, cps = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			cps++;
	return cps;
}

static const struct prop *find_prop(const struct node *n, const char *k, size_t len)
{
	uint32_t h = hash_bytes(k, len), i;

	for (i = h & n->pmask; n->ptab[i]; i = (i + 1) & n->pmask) {
		const struct prop *p = &n->props[n->ptab[i] - 1];

		if (p->hash == h && p->len == len && !memcmp(p->name, k, len))
			return p;
	}
	return NULL;
}

/* The types of n as written in the schema: "string, integer or null". */
static void add_types(dr_strbuf *sb, const struct node *n)
{
	size_t k, total = 0;

	while (total < sizeof(n->type_order) && n->type_order[total])
		total++;
	for (k = 0; k < total; k++) {
		if (k)
			dr_strbuf_addstr(sb, k + 1 == total ? " or " : ", ");
		dr_strbuf_addstr(sb, type_names[n->type_order[k] - 1]);
	}
}

static int validate(struct vc *v, const struct node *n, const void *j,
		    const struct seg *seg);

static void label_branch(dr_strbuf *sb, const struct node *b, size_t i)
{
	b = deref(b);
	if (b->title)
		dr_strbuf_addstr(sb, b->title);
	else if (b->konst)
		render(sb, JS, b->konst);
	else if (b->types)
		add_types(sb, b);
	else
		dr_strbuf_addf(sb, "form %zu", i + 1);
}

static int enum_has(const json_t *e, const dr_schema_ops *o, const void *j)
{
	size_t i;

	for (i = 0; i < json_array_size(e); i++)
		if (val_eq(JS, json_array_get(e, i), o, j))
			return 1;
	return 0;
}

/*
 * How close branch b comes to j: -1 when its type or a discriminator
 * (a const or enum on the value or on one of its properties) rules it out,
 * 2 when a discriminator matches, 1 when nothing tells.
 */
static int branch_score(const struct node *b, const dr_schema_ops *o, const void *j)
{
	int score = 1;
	size_t i;

	b = deref(b);
	if (b->boolean == 0)
		return -1;
	if (b->types && !(b->types & type_bits(o, j)))
		return -1;
	if (b->konst)
		return val_eq(JS, b->konst, o, j) ? 2 : -1;
	if (b->enum_)
		return enum_has(b->enum_, o, j) ? 2 : -1;
	if (o->type(j) != DR_SV_OBJECT)
		return score;
	for (i = 0; i < b->nprops; i++) {
		const struct node *p = deref(b->props[i].n);
		const void *val;

		if (!p->konst && !p->enum_)
			continue;
		val = o->object_get(j, b->props[i].name);
		if (!val)
			continue;
		if (p->konst ? val_eq(JS, p->konst, o, val) : enum_has(p->enum_, o, val))
			score = 2;
		else
			return -1;
	}
	return score;
}

static int check_alternatives(struct vc *v, const struct node *n, struct node **br,
			      size_t nbr, const void *j, const struct seg *seg, int one)
{
	const char *kw = one ? "oneOf" : "anyOf";
	char *valid = dr_xcalloc(nbr, 1);
	size_t i, nvalid = 0, nstrong = 0, nweak = 0, strong = 0, weak = 0;
	dr_strbuf labels = DR_STRBUF_INIT;

	v->quiet++;
	for (i = 0; i < nbr; i++) {
		valid[i] = (char)validate(v, br[i], j, seg);
		nvalid += (size_t)valid[i];
		if (valid[i] && (!one || nvalid > 1))
			break;
	}
	v->quiet--;
	if (nvalid == 1 || (!one && nvalid)) {
		free(valid);
		return 1;
	}
	if (v->quiet) {
		free(valid);
		return 0;
	}
	if (nvalid > 1) {
		size_t count = 0;

		for (i = 0; i < nbr; i++) {
			if (!valid[i])
				continue;
			if (count++)
				dr_strbuf_addstr(&labels, " and ");
			label_branch(&labels, br[i], i);
		}
		add_err(v, seg, n, kw, 0,
			"matches more than one of the allowed forms (%s); exactly one is allowed",
			labels.buf);
	} else {
		for (i = 0; i < nbr; i++) {
			int s = branch_score(br[i], v->ops, j);

			if (s == 2) {
				nstrong++;
				strong = i;
			} else if (s == 1) {
				nweak++;
				weak = i;
			}
		}
		if (nstrong == 1 || (!nstrong && nweak == 1)) {
			validate(v, br[nstrong ? strong : weak], j, seg);
		} else {
			for (i = 0; i < nbr; i++) {
				if (i)
					dr_strbuf_addstr(&labels, "; ");
				label_branch(&labels, br[i], i);
			}
			add_err(v, seg, n, kw, 0,
				"does not match any of the allowed forms: %s", labels.buf);
		}
	}
	dr_strbuf_release(&labels);
	free(valid);
	return 0;
}

static int re_match(const struct re *re, const char *s, size_t len)
{
	int r = re->fast ? dr_schema_sre_match(re->fast, s, len) : -1;

	return r >= 0 ? r : !regexec(&re->posix, s, 0, NULL, 0);
}

/* "regex": a pattern this validator can compile (so it would work in a schema). */
static int is_regex(const char *s)
{
	dr_strbuf ere = DR_STRBUF_INIT;
	const char *why;
	regex_t re;
	int ok = !dr_schema_regex_translate(s, &ere, &why) &&
		 !regcomp(&re, ere.buf, REG_EXTENDED | REG_NOSUB);

	if (ok)
		regfree(&re);
	dr_strbuf_release(&ere);
	return ok;
}

static int check_format(const struct node *n, const char *s)
{
	uint64_t ms;
	uint32_t a;
	int p;

	switch (n->format) {
	case F_NONE: return 1;
	case F_IPV4: return !dr_parse_ipv4(s, &a);
	case F_DATE_TIME: return dr_schema_is_date_time(s);
	case F_DURATION: return !dr_parse_duration(s, &ms);
	case F_CIDR: return !dr_parse_cidr(s, &a, &p);
	case F_EMAIL: return dr_schema_is_email(s);
	case F_HOSTNAME: return dr_schema_is_hostname(s);
	case F_URI: return dr_schema_is_uri(s);
	case F_REGEX: return is_regex(s);
	}
	return 1;
}

static const char *format_what(enum format f)
{
	switch (f) {
	case F_IPV4: return "a valid IPv4 address";
	case F_DATE_TIME: return "a valid date-time (RFC 3339, e.g. 2024-05-01T12:00:00Z)";
	case F_DURATION: return "a valid duration (examples: 90s, 5m, 1h30m, 2d)";
	case F_CIDR: return "a valid IPv4 CIDR";
	case F_EMAIL: return "a valid email address";
	case F_HOSTNAME: return "a valid hostname";
	case F_URI: return "a valid URI";
	case F_REGEX: return "a supported regular expression";
	case F_NONE: break;
	}
	return "valid";
}

#define FAIL()                                                                 \
	do {                                                                   \
		ok = 0;                                                        \
		if (v->quiet)                                                  \
			goto done;                                             \
	} while (0)

static const char *plural(long long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static int validate_number(struct vc *v, const struct node *n, const void *j,
			   const struct seg *seg)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	int ok = 1;

	if (n->minimum && num_cmp(v->ops, j, n->minimum) < 0) {
		add_number(&sb, JS, n->minimum);
		add_err(v, seg, n, "minimum", 0, "must be at least %s", sb.buf);
		FAIL();
	}
	dr_strbuf_reset(&sb);
	if (n->maximum && num_cmp(v->ops, j, n->maximum) > 0) {
		add_number(&sb, JS, n->maximum);
		add_err(v, seg, n, "maximum", 0, "must be at most %s", sb.buf);
		FAIL();
	}
	dr_strbuf_reset(&sb);
	if (n->xminimum && num_cmp(v->ops, j, n->xminimum) <= 0) {
		add_number(&sb, JS, n->xminimum);
		add_err(v, seg, n, "exclusiveMinimum", 0, "must be greater than %s", sb.buf);
		FAIL();
	}
	dr_strbuf_reset(&sb);
	if (n->xmaximum && num_cmp(v->ops, j, n->xmaximum) >= 0) {
		add_number(&sb, JS, n->xmaximum);
		add_err(v, seg, n, "exclusiveMaximum", 0, "must be less than %s", sb.buf);
		FAIL();
	}
	dr_strbuf_reset(&sb);
	if (n->multiple && !is_multiple(v->ops, j, n->multiple)) {
		add_number(&sb, JS, n->multiple);
		add_err(v, seg, n, "multipleOf", 0, "must be a multiple of %s", sb.buf);
		FAIL();
	}
done:
	if (sb.alloc)
		dr_strbuf_release(&sb);
	return ok;
}

static int validate_string(struct vc *v, const struct node *n, const void *j,
			   const struct seg *seg)
{
	size_t slen;
	const char *s = v->ops->string(j, &slen);
	dr_strbuf sb = DR_STRBUF_INIT;
	int ok = 1;

	if (n->min_len >= 0 || n->max_len >= 0) {
		size_t len = utf8_len(s, slen);

		if (n->min_len >= 0 && len < (size_t)n->min_len) {
			add_err(v, seg, n, "minLength", 0, "must be at least %ld %s long",
				n->min_len, plural(n->min_len, "character", "characters"));
			FAIL();
		}
		if (n->max_len >= 0 && len > (size_t)n->max_len) {
			add_err(v, seg, n, "maxLength", 0, "must be at most %ld %s long",
				n->max_len, plural(n->max_len, "character", "characters"));
			FAIL();
		}
	}
	if (n->pattern && !re_match(n->pattern, s, slen)) {
		add_err(v, seg, n, "pattern", 0, "does not match pattern \"%s\"", n->pattern_src);
		FAIL();
	}
	if (n->format && !check_format(n, s)) {
		render(&sb, v->ops, j);
		add_err(v, seg, n, "format", 0, "%s is not %s", sb.buf, format_what(n->format));
		FAIL();
	}
done:
	if (sb.alloc)
		dr_strbuf_release(&sb);
	return ok;
}

/* ---- big arrays on two threads ------------------------------------------ */

static size_t split_min = DR_SCHEMA_SPLIT_MIN;

size_t dr_schema_set_split_min(size_t items)
{
	size_t old = split_min;

	split_min = items;
	return old;
}

/* Items [from, to) of array j against in, which takes every item. */
static int validate_range(struct vc *v, const struct node *in, const void *j,
			  const struct seg *seg, size_t from, size_t to)
{
	size_t i;
	int ok = 1;

	for (i = from; i < to; i++) {
		struct seg s = { seg, NULL, i };

		if (!validate(v, in, v->ops->array_get(j, i), &s))
			FAIL();
	}
done:
	return ok;
}

struct half {
	struct vc v;
	const struct node *in;
	const void *j;
	const struct seg *seg;
	size_t from, to;
	int ok;
};

static void *half_run(void *arg)
{
	struct half *h = arg;

	h->ok = validate_range(&h->v, h->in, h->j, h->seg, h->from, h->to);
	return NULL;
}

/*
 * Whether an error at instance path ip may be about item mid or later of
 * the array at seg: a path below it whose index is not below mid.
 */
static int in_second_half(const char *ip, const struct seg *seg, size_t mid)
{
	dr_strbuf pre = DR_STRBUF_INIT;
	size_t idx = 0;
	const char *p;
	int r = 0;

	add_path(&pre, seg);
	if (!strncmp(ip, pre.buf ? pre.buf : "", pre.len) && ip[pre.len] == '/') {
		for (p = ip + pre.len + 1; *p >= '0' && *p <= '9'; p++)
			idx = idx * 10 + (size_t)(*p - '0');
		r = idx >= mid || p == ip + pre.len + 1;
	}
	dr_strbuf_release(&pre);
	return r;
}

/*
 * Every item of a big array against the same schema: the second half is
 * validated on another thread into its own error list while this thread
 * does the first (a 10,000-machine plan's machines are nearly all of its
 * validation). The halves' lists are joined in item order, which gives
 * the very errors one thread would, as long as the caps played no part:
 * the joined list never reached max_errors, and no error just before the
 * second half has a path the second half could repeat (the per-location
 * cap counts a run of equal paths). Otherwise the second half's result is
 * dropped and it is validated again here. The compiled schema is read-only
 * and the accessors only read the instance, so the threads share both.
 */
static int validate_items(struct vc *v, const struct node *in, const void *j,
			  const struct seg *seg, size_t len)
{
	struct half h;
	pthread_t t;
	size_t mid = len / 2, i;
	int ok, use;

	if (v->quiet || v->helper || len < split_min || len < 2)
		return validate_range(v, in, j, seg, 0, len);
	memset(&h, 0, sizeof(h));
	h.v.ops = v->ops;
	h.v.max = v->max;
	h.v.per_loc = v->per_loc;
	h.v.depth = v->depth;
	h.v.helper = 1;
	h.in = in;
	h.j = j;
	h.seg = seg;
	h.from = mid;
	h.to = len;
	if (pthread_create(&t, NULL, half_run, &h))
		return validate_range(v, in, j, seg, 0, len);
	ok = validate_range(v, in, j, seg, 0, mid);
	pthread_join(t, NULL);
	use = v->n + h.v.peak < v->max &&
	      (!v->n || !in_second_half(v->errs[v->n - 1].ipath, seg, mid));
	for (i = 0; i < h.v.n; i++) {
		struct verr *e = &h.v.errs[i];

		if (use) {
			push_err(v, e->ipath, e->spath, e->kw, e->msg, e->at_key);
		} else {
			free(e->ipath);
			free(e->spath);
			free(e->msg);
		}
	}
	free(h.v.errs);
	if (!use)
		return validate_range(v, in, j, seg, mid, len) && ok;
	return h.ok && ok;
}

static int validate_array(struct vc *v, const struct node *n, const void *j,
			  const struct seg *seg)
{
	size_t len = v->ops->size(j), i, a, b;
	int ok = 1;

	if (n->min_items >= 0 && len < (size_t)n->min_items) {
		add_err(v, seg, n, "minItems", 0, "must have at least %ld %s", n->min_items,
			plural(n->min_items, "item", "items"));
		FAIL();
	}
	if (n->max_items >= 0 && len > (size_t)n->max_items) {
		add_err(v, seg, n, "maxItems", 0, "must have at most %ld %s", n->max_items,
			plural(n->max_items, "item", "items"));
		FAIL();
	}
	if (n->unique && find_duplicate(v->ops, j, &a, &b)) {
		add_err(v, seg, n, "uniqueItems", 0,
			"items must be unique (items %zu and %zu are equal)", a, b);
		FAIL();
	}
	if (!n->tuple) {
		if (n->items && !validate_items(v, n->items, j, seg, len))
			FAIL();
	}
	for (i = 0; n->tuple && i < len; i++) {
		struct seg s = { seg, NULL, i };
		const struct node *in = i < n->ntuple ? n->tuple[i] : n->addl_items;

		if (!in)
			continue;
		if (i >= n->ntuple && deref(in)->boolean == 0) {
			add_err(v, &s, n, "additionalItems", 0,
				"unexpected item (at most %zu %s allowed)", n->ntuple,
				plural((long long)n->ntuple, "item is", "items are"));
			FAIL();
			break;
		}
		if (!validate(v, in, v->ops->array_get(j, i), &s))
			FAIL();
	}
	if (n->contains) {
		int found = 0;

		v->quiet++;
		for (i = 0; i < len && !found; i++) {
			struct seg s = { seg, NULL, i };

			found = validate(v, n->contains, v->ops->array_get(j, i), &s);
		}
		v->quiet--;
		if (!found) {
			add_err(v, seg, n, "contains", 0,
				"must contain at least one matching item");
			FAIL();
		}
	}
done:
	return ok;
}

/* The declared property closest to an unknown key, or NULL. */
static const struct prop *closest_prop(const struct node *n, const char *key)
{
	size_t i, best = SIZE_MAX, max = strlen(key) >= 10 ? 3 : 2;
	const struct prop *found = NULL;

	for (i = 0; i < n->nprops; i++) {
		size_t d = dr_edit_distance(key, n->props[i].name, max);

		/* A one-letter key is "close" to every short name. */
		if (d <= max && d <= strlen(key) / 2 && d < best) {
			best = d;
			found = &n->props[i];
		}
	}
	return found;
}

/* Whether a key would be reported as unknown by validate_object(). */
static int unknown_key(const struct node *n, const char *key, size_t klen)
{
	size_t i;

	if (!n->addl_props || deref(n->addl_props)->boolean != 0 ||
	    find_prop(n, key, klen))
		return 0;
	for (i = 0; i < n->npprops; i++) {
		if (re_match(n->pprops[i].re, key, klen))
			return 0;
	}
	return 1;
}

/*
 * Whether a missing required key is there under a misspelt name: then the
 * unknown key's error says so and the "missing required key" is not
 * repeated (one mistake, one error).
 */
static int misspelt(struct vc *v, const struct node *n, const void *j,
		    const char *name)
{
	const char *key;
	const void *val;
	size_t klen;
	void *it;

	for (it = NULL; (it = v->ops->object_next(j, it, &key, &klen, &val));) {
		const struct prop *p;

		if (unknown_key(n, key, klen) && (p = closest_prop(n, key)) &&
		    !strcmp(p->name, name))
			return 1;
	}
	return 0;
}

static void suggest(struct vc *v, dr_strbuf *sb, const struct node *n,
		    const void *j, const char *key)
{
	const struct prop *p = closest_prop(n, key);

	if (!p)
		return;
	dr_strbuf_addstr(sb, " (did you mean \"");
	dr_strbuf_add_json_escaped(sb, p->name);
	if (p->required && !v->ops->object_get(j, p->name))
		dr_strbuf_addstr(sb, "\"? it is required)");
	else
		dr_strbuf_addstr(sb, "\"?)");
}

static int validate_key_name(struct vc *v, const struct node *n, const char *key,
			     const struct seg *s)
{
	struct kstr ks = { key, strlen(key) };
	const dr_schema_ops *ops = v->ops;
	size_t mark = v->n, k;
	int ok;

	/* A string never leads validation into children: only the key is
	 * read through key_ops until the instance's accessor comes back. */
	v->ops = &key_ops;
	v->quiet++;
	ok = validate(v, n->prop_names, &ks, s);
	v->quiet--;
	if (!ok && !v->quiet) {
		dr_strbuf sb = DR_STRBUF_INIT;

		dr_strbuf_add_json_escaped(&sb, key);
		if (deref(n->prop_names)->boolean == 0) {
			add_err(v, s, n, "propertyNames", 1, "unknown key \"%s\"", sb.buf);
		} else {
			validate(v, n->prop_names, &ks, s);
			for (k = mark; k < v->n; k++) {
				dr_strbuf m = DR_STRBUF_INIT;

				dr_strbuf_addf(&m, "invalid key \"%s\": %s", sb.buf,
					       v->errs[k].msg);
				free(v->errs[k].msg);
				v->errs[k].msg = dr_strbuf_detach(&m, NULL);
				v->errs[k].at_key = 1;
			}
		}
		dr_strbuf_release(&sb);
	}
	v->ops = ops;
	return ok;
}

static int check_required(struct vc *v, const struct node *n, const void *j,
			  const struct seg *seg)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	size_t i;
	int ok = 1;

	for (i = 0; i < n->nrequired; i++) {
		if (v->ops->object_get(j, n->required[i]))
			continue;
		ok = 0;
		if (!v->quiet && misspelt(v, n, j, n->required[i]))
			continue;
		dr_strbuf_reset(&sb);
		dr_strbuf_add_json_escaped(&sb, n->required[i]);
		add_err(v, seg, n, "required", 0, "missing required key \"%s\"", sb.buf);
		if (v->quiet)
			break;
	}
	dr_strbuf_release(&sb);
	return ok;
}

/* Move errors [from, v->n) to position mark, keeping both runs in order. */
static void rotate_errs(struct vc *v, size_t mark, size_t from)
{
	size_t tail = v->n - from;
	struct verr *tmp;

	if (!tail || from == mark)
		return;
	tmp = dr_xmalloc(tail * sizeof(*tmp));
	memcpy(tmp, v->errs + from, tail * sizeof(*tmp));
	memmove(v->errs + mark + tail, v->errs + mark, (from - mark) * sizeof(*tmp));
	memcpy(v->errs + mark, tmp, tail * sizeof(*tmp));
	free(tmp);
}

static int validate_object(struct vc *v, const struct node *n, const void *j,
			   const struct seg *seg)
{
	size_t size = v->ops->size(j), i, mark, nreq = 0, klen;
	void *it;
	const char *key;
	const void *val;
	dr_strbuf sb = DR_STRBUF_INIT;
	int ok = 1;

	if (n->min_props >= 0 && size < (size_t)n->min_props) {
		add_err(v, seg, n, "minProperties", 0, "must have at least %ld %s",
			n->min_props, plural(n->min_props, "key", "keys"));
		FAIL();
	}
	if (n->max_props >= 0 && size > (size_t)n->max_props) {
		add_err(v, seg, n, "maxProperties", 0, "must have at most %ld %s",
			n->max_props, plural(n->max_props, "key", "keys"));
		FAIL();
	}
	mark = v->n;
	/* When every required key is a declared property, the property loop
	 * counts them and the hash lookups below are only done on failure. */
	if (!n->required_declared && !check_required(v, n, j, seg))
		FAIL();
	for (i = 0; i < n->ndeps; i++) {
		const struct dep *d = &n->deps[i];
		size_t r;

		if (!v->ops->object_get(j, d->name))
			continue;
		if (d->n) {
			if (!validate(v, d->n, j, seg))
				FAIL();
			continue;
		}
		for (r = 0; r < d->nreq; r++) {
			if (v->ops->object_get(j, d->req[r]))
				continue;
			dr_strbuf_reset(&sb);
			dr_strbuf_add_json_escaped(&sb, d->req[r]);
			dr_strbuf_addstr(&sb, "\" is required when \"");
			dr_strbuf_add_json_escaped(&sb, d->name);
			add_err(v, seg, n, "dependencies", 0, "key \"%s\" is present", sb.buf);
			FAIL();
		}
	}
	if (!n->nprops && !n->npprops && !n->addl_props && !n->prop_names)
		goto done; /* required_declared implies nprops */
	for (it = NULL; (it = v->ops->object_next(j, it, &key, &klen, &val));) {
		struct seg s = { seg, key, 0 };
		int matched = 0;

		if (n->prop_names && !validate_key_name(v, n, key, &s))
			FAIL();
		if (n->nprops) {
			const struct prop *p = find_prop(n, key, klen);

			if (p) {
				matched = 1;
				nreq += (size_t)p->required;
				if (deref(p->n)->boolean == 0) {
					dr_strbuf_reset(&sb);
					dr_strbuf_add_json_escaped(&sb, key);
					add_err(v, &s, n, "properties", 1,
						"key \"%s\" is not allowed here", sb.buf);
					FAIL();
				} else if (!validate(v, p->n, val, &s)) {
					FAIL();
				}
			}
		}
		for (i = 0; i < n->npprops; i++) {
			if (!re_match(n->pprops[i].re, key, klen))
				continue;
			matched = 1;
			if (!validate(v, n->pprops[i].n, val, &s))
				FAIL();
		}
		if (matched || !n->addl_props)
			continue;
		if (deref(n->addl_props)->boolean == 0) {
			dr_strbuf_reset(&sb);
			dr_strbuf_addstr(&sb, "unknown key \"");
			dr_strbuf_add_json_escaped(&sb, key);
			dr_strbuf_addch(&sb, '"');
			suggest(v, &sb, n, j, key);
			add_err(v, &s, n, "additionalProperties", 1, "%s", sb.buf);
			FAIL();
		} else if (!validate(v, n->addl_props, val, &s)) {
			FAIL();
		}
	}
	if (n->required_declared && nreq < n->nrequired) {
		size_t before = v->n;

		check_required(v, n, j, seg);
		rotate_errs(v, mark, before);
		FAIL();
	}
done:
	if (sb.alloc)
		dr_strbuf_release(&sb);
	return ok;
}

static int validate_node(struct vc *v, const struct node *n, const void *j,
			 const struct seg *seg)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	unsigned tb;
	size_t i;
	int ok = 1;

	if (n->boolean == 1)
		return 1;
	if (n->boolean == 0) {
		add_err(v, seg, n, "false", 0, "no value is allowed here");
		return 0;
	}
	tb = type_bits(v->ops, j);
	if (n->types && !(n->types & tb)) {
		dr_strbuf_addstr(&sb, "expected ");
		add_types(&sb, n);
		dr_strbuf_addf(&sb, ", got %s", type_name(v->ops, j));
		if (!(tb & (T_OBJ | T_ARR | T_NULL))) {
			dr_strbuf_addch(&sb, ' ');
			render(&sb, v->ops, j);
		}
		add_err(v, seg, n, "type", 0, "%s", sb.buf);
		/* Other keywords would only repeat the same complaint. */
		ok = 0;
		goto done;
	}
	if (n->enum_ && !enum_has(n->enum_, v->ops, j)) {
		dr_strbuf vals = DR_STRBUF_INIT;

		for (i = 0; i < json_array_size(n->enum_); i++) {
			const json_t *e = json_array_get(n->enum_, i);

			if (i)
				dr_strbuf_addstr(&vals, ", ");
			if (json_is_string(e))
				dr_strbuf_add_json_escaped(&vals, json_string_value(e));
			else
				render(&vals, JS, e);
		}
		render(&sb, v->ops, j);
		add_err(v, seg, n, "enum", 0, "%s is not one of: %s", sb.buf, vals.buf);
		dr_strbuf_release(&vals);
		FAIL();
	}
	if (n->konst && !val_eq(JS, n->konst, v->ops, j)) {
		dr_strbuf_reset(&sb);
		render(&sb, JS, n->konst);
		add_err(v, seg, n, "const", 0, "must be %s", sb.buf);
		FAIL();
	}
	if ((tb & T_NUM) && !validate_number(v, n, j, seg))
		FAIL();
	else if ((tb & T_STR) && !validate_string(v, n, j, seg))
		FAIL();
	else if ((tb & T_ARR) && !validate_array(v, n, j, seg))
		FAIL();
	else if ((tb & T_OBJ) && !validate_object(v, n, j, seg))
		FAIL();
	for (i = 0; i < n->nall_of; i++)
		if (!validate(v, n->all_of[i], j, seg))
			FAIL();
	if (n->nany_of && !check_alternatives(v, n, n->any_of, n->nany_of, j, seg, 0))
		FAIL();
	if (n->none_of && !check_alternatives(v, n, n->one_of, n->none_of, j, seg, 1))
		FAIL();
	if (n->not_) {
		int r;

		v->quiet++;
		r = validate(v, n->not_, j, seg);
		v->quiet--;
		if (r) {
			const struct node *t = deref(n->not_);

			if (t->title)
				add_err(v, seg, n, "not", 0, "must not be %s", t->title);
			else
				add_err(v, seg, n, "not", 0, "must not match the excluded form");
			FAIL();
		}
	}
	if (n->if_) {
		int r;

		v->quiet++;
		r = validate(v, n->if_, j, seg);
		v->quiet--;
		if (r && n->then_ && !validate(v, n->then_, j, seg))
			FAIL();
		if (!r && n->else_ && !validate(v, n->else_, j, seg))
			FAIL();
	}
done:
	if (sb.alloc)
		dr_strbuf_release(&sb);
	return ok;
}

static int validate(struct vc *v, const struct node *n, const void *j,
		    const struct seg *seg)
{
	const struct node *t = deref(n);
	const char *em = n->errmsg ? n->errmsg : t->errmsg;
	size_t mark = v->n;
	int ok;

	if (!v->quiet && v->n >= v->max)
		return 0; /* already invalid and no room for more errors */
	if (v->depth >= MAX_DEPTH) {
		add_err(v, seg, t, "$ref", 0, "nested too deeply to validate");
		return 0;
	}
	v->depth++;
	ok = validate_node(v, t, j, seg);
	v->depth--;
	if (!ok && em && !v->quiet) {
		const char *kw = mark < v->n ? v->errs[mark].kw : "errorMessage";
		char *spath = mark < v->n ? dr_xstrdup(v->errs[mark].spath)
					  : dr_xstrdup(t->loc);
		dr_strbuf ip = DR_STRBUF_INIT;

		truncate_errs(v, mark);
		add_path(&ip, seg);
		push_err(v, dr_strbuf_detach(&ip, NULL), spath, kw, dr_xstrdup(em), 0);
	}
	return ok;
}

int dr_schema_validate_any(const dr_schema *s, const dr_schema_ops *ops,
			   const void *instance, const dr_schema_options *opts,
			   dr_schema_error_fn fn, void *ctx)
{
	struct vc v;
	size_t i;
	int ok;

	if (!s || !ops || !instance)
		return DR_EINVAL;
	memset(&v, 0, sizeof(v));
	v.ops = ops;
	v.max = opts && opts->max_errors ? opts->max_errors : 100;
	v.per_loc = opts && opts->max_per_location ? opts->max_per_location : 10;
	if (v.max > INT32_MAX)
		v.max = INT32_MAX;
	ok = validate(&v, s->root, instance, NULL);
	if (!ok && !v.n)
		push_err(&v, dr_xstrdup(""), dr_xstrdup("#"), "schema",
			 dr_xstrdup("does not match the schema"), 0);
	for (i = 0; i < v.n; i++) {
		dr_schema_error e = {
			v.errs[i].ipath, v.errs[i].spath, v.errs[i].kw, v.errs[i].msg,
			v.errs[i].at_key,
		};

		if (fn)
			fn(ctx, &e);
	}
	i = v.n;
	truncate_errs(&v, 0);
	free(v.errs);
	return (int)i;
}

int dr_schema_validate_opts(const dr_schema *s, const json_t *instance,
			    const dr_schema_options *opts, dr_schema_error_fn fn, void *ctx)
{
	return dr_schema_validate_any(s, JS, instance, opts, fn, ctx);
}

int dr_schema_validate(const dr_schema *s, const json_t *instance,
		       dr_schema_error_fn fn, void *ctx)
{
	return dr_schema_validate_opts(s, instance, NULL, fn, ctx);
}
