/*
 * plan-util.c - helpers of the plan loader: name index, typed accessors,
 * file reading and the schema-validation hook.
 */
#include "plan/plan-private.h"

#include "core/alloc.h"
#include "core/embed.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "plan/ynode-schema.h"
#include "schema/schema.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ull;
	}
	return h;
}

void dr_name_index_init(dr_name_index *ix, dr_arena *a, size_t n)
{
	size_t cap = 16, i;

	while (cap < n * 2)
		cap *= 2;
	ix->cap = cap;
	ix->keys = dr_arena_zalloc(a, cap * sizeof(*ix->keys));
	ix->vals = dr_arena_alloc(a, cap * sizeof(*ix->vals));
	for (i = 0; i < cap; i++)
		ix->vals[i] = (size_t)-1;
}

int dr_name_index_put(dr_name_index *ix, const char *key, size_t val,
		      size_t *prev)
{
	size_t i = (size_t)hash_str(key) & (ix->cap - 1);

	/* init sized the table for every key: it never fills up. */
	while (ix->keys[i]) {
		if (!strcmp(ix->keys[i], key)) {
			if (prev)
				*prev = ix->vals[i];
			return 1;
		}
		i = (i + 1) & (ix->cap - 1);
	}
	ix->keys[i] = key;
	ix->vals[i] = val;
	return 0;
}

size_t dr_name_index_get(const dr_name_index *ix, const char *key)
{
	size_t i;

	if (!ix->cap || !key)
		return (size_t)-1;
	i = (size_t)hash_str(key) & (ix->cap - 1);
	while (ix->keys[i]) {
		if (!strcmp(ix->keys[i], key))
			return ix->vals[i];
		i = (i + 1) & (ix->cap - 1);
	}
	return (size_t)-1;
}

const dr_ynode *dr_pl_str(const dr_ynode *map, const char *key, dr_pstr *out)
{
	const dr_ynode *n = dr_ynode_get(map, key);

	if (!n || n->kind != DR_YNODE_SCALAR || n->type != DR_YSCALAR_STRING)
		return NULL;
	out->v = n->str;
	out->at = n;
	return n;
}

/* Any non-null scalar as its source text: versions such as 9.56 or 7.0
 * that YAML reads as numbers keep their spelling. */
const dr_ynode *dr_pl_scalar(const dr_ynode *map, const char *key, dr_pstr *out)
{
	const dr_ynode *n = dr_ynode_get(map, key);

	if (!n || n->kind != DR_YNODE_SCALAR || n->type == DR_YSCALAR_NULL)
		return NULL;
	out->v = n->str;
	out->at = n;
	return n;
}

const dr_ynode *dr_pl_bool(const dr_ynode *map, const char *key, dr_pbool *out)
{
	const dr_ynode *n = dr_ynode_get(map, key);

	if (!n || n->kind != DR_YNODE_SCALAR || n->type != DR_YSCALAR_BOOL)
		return NULL;
	out->v = n->boolean != 0;
	out->at = n;
	return n;
}

const dr_ynode *dr_pl_int(const dr_ynode *map, const char *key, dr_pint *out)
{
	const dr_ynode *n = dr_ynode_get(map, key);

	if (!n || n->kind != DR_YNODE_SCALAR || n->type != DR_YSCALAR_INT)
		return NULL;
	out->v = n->integer;
	out->at = n;
	return n;
}

const dr_ynode *dr_pl_num(const dr_ynode *map, const char *key, dr_pnum *out)
{
	const dr_ynode *n = dr_ynode_get(map, key);

	if (!n || n->kind != DR_YNODE_SCALAR)
		return NULL;
	if (n->type == DR_YSCALAR_INT)
		out->v = (double)n->integer;
	else if (n->type == DR_YSCALAR_FLOAT)
		out->v = n->real;
	else
		return NULL;
	out->at = n;
	return n;
}

const dr_ynode *dr_pl_seq(const dr_ynode *map, const char *key)
{
	const dr_ynode *n = dr_ynode_get(map, key);

	return n && n->kind == DR_YNODE_SEQ ? n : NULL;
}

const dr_ynode *dr_pl_map(const dr_ynode *map, const char *key)
{
	const dr_ynode *n = dr_ynode_get(map, key);

	return n && n->kind == DR_YNODE_MAP ? n : NULL;
}

const dr_ynode *dr_pl_strs(dr_arena *a, const dr_ynode *map, const char *key,
			   dr_pstrs *out)
{
	const dr_ynode *n = dr_pl_seq(map, key);
	size_t i, k = 0;

	if (!n)
		return NULL;
	out->v = dr_arena_alloc(a, (n->n ? n->n : 1) * sizeof(*out->v));
	for (i = 0; i < n->n; i++) {
		const dr_ynode *it = n->items[i];

		if (it->kind == DR_YNODE_SCALAR && it->type == DR_YSCALAR_STRING)
			out->v[k++] = it->str;
	}
	out->n = k;
	out->at = n;
	return n;
}

int dr_plan_read_file(dr_arena *a, const char *file, size_t max, char **text,
		      size_t *len, const char **why)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	FILE *f = fopen(file, "rb");
	struct stat st;
	char buf[65536];
	size_t n;
	int rc = 0;

	*why = NULL;
	if (!f) {
		*why = strerror(errno);
		return DR_EIO;
	}
	/* A regular file is read straight into the arena; anything else
	 * (a pipe, /dev/stdin) through a capped buffer. */
	if (!fstat(fileno(f), &st) && S_ISREG(st.st_mode)) {
		size_t size = (size_t)st.st_size, got;
		char *p;

		if (st.st_size < 0 || (uint64_t)st.st_size > max) {
			fclose(f);
			return DR_ELIMIT;
		}
		p = dr_arena_alloc(a, size + 1);
		got = fread(p, 1, size, f);
		/* A file that grows while being read: the extra is ignored,
		 * one that shrinks just ends early. */
		if (got < size && ferror(f)) {
			*why = strerror(errno ? errno : EIO);
			fclose(f);
			return DR_EIO;
		}
		p[got] = '\0';
		fclose(f);
		*text = p;
		*len = got;
		return 0;
	}
	sb.max = max;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (dr_strbuf_add(&sb, buf, n)) {
			rc = DR_ELIMIT;
			break;
		}
	}
	if (!rc && ferror(f)) {
		*why = strerror(errno ? errno : EIO);
		rc = DR_EIO;
	}
	fclose(f);
	if (!rc) {
		*text = dr_arena_strndup(a, sb.buf, sb.len);
		*len = sb.len;
	}
	dr_strbuf_release(&sb);
	return rc;
}

/* Compiled once per process: the embedded schemas never change. */
static struct {
	const char *name;
	dr_schema *schema;
	json_t *doc; /* kept: the compiled schema may borrow from it */
	pthread_once_t once;
} schemas[] = {
	{ "recovery-plan.schema.json", NULL, NULL, PTHREAD_ONCE_INIT },
	{ "inventory.schema.json", NULL, NULL, PTHREAD_ONCE_INIT },
};

static void compile_schema(size_t i)
{
	const struct dr_embedded *e = dr_embedded_find(schemas[i].name);
	json_error_t jerr;
	json_t *root;
	char *msg = NULL;
	char uri[128];

	if (!e)
		return;
	root = json_loadb((const char *)e->data, e->len, 0, &jerr);
	if (!root)
		return;
	snprintf(uri, sizeof(uri), "https://drplan.dev/schemas/%s",
		 schemas[i].name);
	if (dr_schema_compile(root, uri, &schemas[i].schema, &msg))
		schemas[i].schema = NULL;
	free(msg);
	schemas[i].doc = root;
}

static void compile_plan_schema(void) { compile_schema(0); }
static void compile_inventory_schema(void) { compile_schema(1); }

struct validate_ctx {
	const dr_ynode *root;
	dr_pl_schema_fn fn;
	void *ctx;
};

static void on_error(void *vctx, const dr_schema_error *e)
{
	struct validate_ctx *c = vctx;
	const dr_ynode *n = dr_ynode_at(c->root, e->instance_path);

	if (n && e->at_key && dr_ynode_name(n)) {
		const dr_ynode *k = dr_ynode_key(n->parent, dr_ynode_name(n));

		if (k)
			n = k;
	}
	c->fn(c->ctx, n ? n : c->root, e->keyword, e->message);
}

int dr_pl_validate(const char *name, const dr_ynode *root, dr_pl_schema_fn fn,
		   void *ctx)
{
	struct validate_ctx c = { root, fn, ctx };
	dr_schema *s;
	int n;

	if (!strcmp(name, schemas[0].name)) {
		pthread_once(&schemas[0].once, compile_plan_schema);
		s = schemas[0].schema;
	} else {
		pthread_once(&schemas[1].once, compile_inventory_schema);
		s = schemas[1].schema;
	}
	if (!s) {
		fn(ctx, NULL, "internal", "the embedded schema does not compile");
		return 1;
	}
	/* Read in place: a jansson copy of a big plan costs more than the
	 * validation itself (building and freeing half a million values). */
	n = dr_schema_validate_ynode(s, root, NULL, on_error, &c);
	if (n < 0) {
		fn(ctx, NULL, "internal", "the schema validator failed");
		return 1;
	}
	return n;
}
