/*
 * ynode-schema.c - the schema validator's accessor for dr_ynode trees.
 */
#include "plan/ynode-schema.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static dr_schema_vtype yn_type(const void *p)
{
	const dr_ynode *n = p;

	if (!n)
		return DR_SV_NULL;
	switch (n->kind) {
	case DR_YNODE_SEQ: return DR_SV_ARRAY;
	case DR_YNODE_MAP: return DR_SV_OBJECT;
	case DR_YNODE_SCALAR: break;
	}
	switch (n->type) {
	case DR_YSCALAR_NULL: return DR_SV_NULL;
	case DR_YSCALAR_BOOL: return DR_SV_BOOL;
	case DR_YSCALAR_INT: return DR_SV_INT;
	case DR_YSCALAR_FLOAT: return isfinite(n->real) ? DR_SV_REAL : DR_SV_STRING;
	case DR_YSCALAR_STRING: break;
	}
	return DR_SV_STRING;
}

static size_t yn_size(const void *p)
{
	return ((const dr_ynode *)p)->n;
}

static const void *yn_array_get(const void *p, size_t i)
{
	const dr_ynode *n = p;

	if (i + 6 < n->n)
		__builtin_prefetch(n->items[i + 6]);
	return n->items[i];
}

static const void *yn_object_get(const void *p, const char *key)
{
	const dr_ynode *n = p;
	size_t i;

	/* Plan mappings are small (tens of keys): a scan beats hashing. */
	for (i = 0; i < n->n; i++) {
		const char *k = n->keys[i]->str;

		if (k[0] == key[0] && !strcmp(k, key))
			return n->items[i];
	}
	return NULL;
}

static void *yn_object_next(const void *p, void *it, const char **key, size_t *klen,
			    const void **val)
{
	const dr_ynode *n = p;
	size_t i = (size_t)(uintptr_t)it;

	if (i >= n->n)
		return NULL;
	/* A tree of a big plan does not fit in cache: ask for a value a few
	 * entries ahead while this one is validated (6 measured best). */
	if (i + 6 < n->n)
		__builtin_prefetch(n->items[i + 6]);
	*val = n->items[i];
	*key = n->keys[i]->str;
	*klen = n->keys[i]->len;
	return (void *)(uintptr_t)(i + 1);
}

static const char *yn_string(const void *p, size_t *len)
{
	const dr_ynode *n = p;

	*len = n->len;
	return n->str;
}

static long long yn_integer(const void *p)
{
	return ((const dr_ynode *)p)->integer;
}

static double yn_real(const void *p)
{
	return ((const dr_ynode *)p)->real;
}

static int yn_boolean(const void *p)
{
	return ((const dr_ynode *)p)->boolean;
}

const dr_schema_ops dr_ynode_schema_ops = {
	yn_type, yn_size, yn_array_get, yn_object_get, yn_object_next,
	yn_string, yn_integer, yn_real, yn_boolean,
};

int dr_schema_validate_ynode(const dr_schema *s, const dr_ynode *root,
			     const dr_schema_options *opts,
			     dr_schema_error_fn fn, void *ctx)
{
	return dr_schema_validate_any(s, &dr_ynode_schema_ops, root, opts, fn, ctx);
}
