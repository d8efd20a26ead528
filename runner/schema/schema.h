/*
 * schema.h - a JSON Schema draft-07 validator over jansson values or any
 * other tree read through an accessor.
 *
 * A schema is compiled once into an immutable tree (references resolved,
 * regular expressions compiled, property names hashed) and then used to
 * validate any number of instances, possibly from several threads.
 * Instances are read through an accessor (dr_schema_ops), so any tree can be
 * validated without converting it: jansson values (dr_schema_json_ops, the
 * default) or the YAML tree (dr_ynode_schema_ops, plan/ynode-schema.h).
 *
 * Supported: every draft-07 validation keyword except the optional
 * content* keywords; "$ref" to "definitions", JSON pointers (with ~0, ~1
 * and percent-encoding), "$id" base changes, plain-name fragments and
 * documents registered as resources (so no network is ever used).
 * "format" is asserted for ipv4, date-time (RFC 3339), email, hostname,
 * uri, regex (a pattern this validator supports) and the drplan formats dr-duration (dr_parse_duration()) and
 * ipv4-cidr (dr_parse_cidr()); other formats are ignored.
 * "pattern" uses POSIX extended regular expressions after translating the
 * ECMA-262 escapes \d \D \w \W \s \S, (?: and \uXXXX; look-around and
 * back-references are rejected at compile time.
 *
 * A subschema may carry "errorMessage" (a string): when it fails, that text
 * replaces the errors found inside it.
 *
 * Errors are collected in a deterministic order (schema keyword order, then
 * instance order) and handed to a callback after validation. For anyOf and
 * oneOf only the errors of the one branch that nearly matches (same type,
 * same const/enum discriminator) are reported; otherwise one summary error.
 */
#ifndef DR_SCHEMA_H
#define DR_SCHEMA_H

#include <jansson.h>
#include <stddef.h>

/* A compiled schema; immutable after compile. */
typedef struct dr_schema dr_schema;

/* A document that "$ref" may name by URI (for example a remote schema). */
typedef struct dr_schema_resource {
	const char *uri;   /* absolute URI, without fragment */
	const json_t *doc; /* the document; referenced, not copied */
} dr_schema_resource;

typedef struct dr_schema_error {
	const char *instance_path; /* RFC 6901 JSON pointer, "" for the root */
	const char *schema_path;   /* keyword location, "#/properties/a/type" */
	const char *keyword;       /* "required", "type", ... */
	const char *message;       /* written for a plan author */
	int at_key; /* the error is about the key named by the last segment
		       of instance_path, not about its value */
} dr_schema_error;

/* Called once per error; the strings are valid only during the call. */
typedef void (*dr_schema_error_fn)(void *ctx, const dr_schema_error *e);

typedef struct dr_schema_options {
	size_t max_errors;       /* global cap; 0 means the default, 100 */
	size_t max_per_location; /* cap per instance path; 0 means 10 */
} dr_schema_options;

/*
 * Compile root, whose base URI is base_uri (may be NULL or ""). On failure
 * returns DR_EINVAL and, when errmsg is not NULL, a malloc'd explanation the
 * caller frees. root and resources are referenced (json_incref) by the
 * compiled schema, which releases them in dr_schema_free().
 */
int dr_schema_compile(const json_t *root, const char *base_uri,
		      dr_schema **out, char **errmsg);
int dr_schema_compile_with(const json_t *root, const char *base_uri,
			   const dr_schema_resource *res, size_t nres,
			   dr_schema **out, char **errmsg);

/*
 * Validate instance. fn (may be NULL) receives each error. Returns the
 * number of errors reported (0 means valid; capped by the options), or a
 * negative DR_E* code. opts may be NULL for the defaults.
 */
int dr_schema_validate(const dr_schema *s, const json_t *instance,
		       dr_schema_error_fn fn, void *ctx);
int dr_schema_validate_opts(const dr_schema *s, const json_t *instance,
			    const dr_schema_options *opts,
			    dr_schema_error_fn fn, void *ctx);

void dr_schema_free(dr_schema *s);

/*
 * An array of at least DR_SCHEMA_SPLIT_MIN items that all take the same
 * schema is validated in two halves on two threads; the errors are the
 * same, in the same order, as on one thread. For tests: set the threshold
 * (SIZE_MAX: never split) and get the previous one; not thread-safe.
 */
#define DR_SCHEMA_SPLIT_MIN 1024u
size_t dr_schema_set_split_min(size_t items);

/* The JSON type of an instance value, as the validator sees it. */
typedef enum dr_schema_vtype {
	DR_SV_NULL,
	DR_SV_BOOL,
	DR_SV_INT,  /* an integer (a real with no fraction is DR_SV_REAL) */
	DR_SV_REAL, /* finite */
	DR_SV_STRING,
	DR_SV_ARRAY,
	DR_SV_OBJECT,
} dr_schema_vtype;

/*
 * Read-only access to an instance tree whose values are opaque pointers.
 * Each function is only called on a value of the type it reads. An object
 * has no duplicate keys; its entries are visited in a stable order (the
 * order of errors follows it), keys may not contain NUL. Strings are valid
 * UTF-8 (not necessarily NUL-free for jansson; the validator uses len).
 */
typedef struct dr_schema_ops {
	dr_schema_vtype (*type)(const void *v);
	size_t (*size)(const void *v); /* array items or object entries */
	const void *(*array_get)(const void *v, size_t i);
	/* The value for key, or NULL. */
	const void *(*object_get)(const void *v, const char *key);
	/* it is NULL to start; returns the next position (NULL at the end)
	 * and sets *key (NUL-terminated), *klen and *val. */
	void *(*object_next)(const void *v, void *it, const char **key,
			     size_t *klen, const void **val);
	const char *(*string)(const void *v, size_t *len); /* NUL-terminated */
	long long (*integer)(const void *v);
	double (*real)(const void *v);
	int (*boolean)(const void *v);
} dr_schema_ops;

/* The accessor for jansson values (what dr_schema_validate() uses). */
extern const dr_schema_ops dr_schema_json_ops;

/*
 * Validate an instance read through ops; otherwise as
 * dr_schema_validate_opts(). Errors do not depend on the accessor: a tree
 * and its jansson copy give the same errors in the same order.
 */
int dr_schema_validate_any(const dr_schema *s, const dr_schema_ops *ops,
			   const void *instance, const dr_schema_options *opts,
			   dr_schema_error_fn fn, void *ctx);

#endif
