/*
 * plan-private.h - shared between plan.c (the loader and model builder) and
 * inventory.c (the inventory snapshot). Not for other modules.
 */
#ifndef DR_PLAN_PRIVATE_H
#define DR_PLAN_PRIVATE_H

#include "plan/plan.h"

#include <stddef.h>

/*
 * A string -> index map in an arena (open addressing, FNV-1a), so lookups
 * by name stay O(1) for 10,000 machines. The first insert of a key wins.
 */
typedef struct dr_name_index {
	const char **keys;
	size_t *vals;
	size_t cap; /* power of two, or 0 when empty */
} dr_name_index;

void dr_name_index_init(dr_name_index *ix, dr_arena *a, size_t n);
/* Returns 0, or 1 when the key was already there (*prev set). */
int dr_name_index_put(dr_name_index *ix, const char *key, size_t val,
		      size_t *prev);
/* The value for key, or (size_t)-1. */
size_t dr_name_index_get(const dr_name_index *ix, const char *key);

/* Scalar accessors that check the node type (the builder must stay safe on
 * input the schema did not see). Return the node used, or NULL. */
const dr_ynode *dr_pl_str(const dr_ynode *map, const char *key, dr_pstr *out);
const dr_ynode *dr_pl_scalar(const dr_ynode *map, const char *key, dr_pstr *out);
const dr_ynode *dr_pl_bool(const dr_ynode *map, const char *key, dr_pbool *out);
const dr_ynode *dr_pl_int(const dr_ynode *map, const char *key, dr_pint *out);
const dr_ynode *dr_pl_num(const dr_ynode *map, const char *key, dr_pnum *out);
const dr_ynode *dr_pl_strs(dr_arena *a, const dr_ynode *map, const char *key,
			   dr_pstrs *out);
const dr_ynode *dr_pl_seq(const dr_ynode *map, const char *key);
const dr_ynode *dr_pl_map(const dr_ynode *map, const char *key);

/* The loaded inventory snapshot. */
typedef struct dr_inventory {
	const char *file;          /* path as opened (plan dir joined) */
	const dr_ynode *root;
	const dr_ynode **items;    /* item mappings */
	const char **keys;         /* friendlyName, or name */
	size_t nitems;
	dr_name_index index;       /* key -> item */
	bool usable;               /* read and schema-valid */
} dr_inventory;

/*
 * Read file, check it against inventory.schema.json and index its items.
 * Problems are INV-READ / INV-SCHEMA / INV-DUPLICATE diagnostics at ref (the
 * plan's `inventory` node) or in the file; inv->usable tells whether the
 * facts can be used. Returns DR_EIO when the file could not be read (an
 * INV-READ was added), else 0.
 */
int dr_inventory_load(dr_arena *a, dr_diags *d, const char *file,
		       const dr_ynode *ref, dr_inventory *inv);

/* Apply the facts of inventory item `item` to machine m (lowest layer). */
void dr_inventory_apply(dr_arena *a, const dr_ynode *item, dr_machine *m);

/* Read a whole file into the arena (NUL-terminated), at most max bytes.
 * Returns 0, DR_EIO (errno message in *why) or DR_ELIMIT. */
int dr_plan_read_file(dr_arena *a, const char *file, size_t max, char **text,
		      size_t *len, const char **why);

/*
 * Validate json against the embedded schema `name` (compiled once per
 * process). fn is called per error with the node it points at (at the key
 * node for errors about a key). Returns the error count (an internal
 * failure counts as one error, reported through fn with at == NULL).
 */
typedef void (*dr_pl_schema_fn)(void *ctx, const dr_ynode *at,
				const char *keyword, const char *message);
int dr_pl_validate(const char *name, const dr_ynode *root, dr_pl_schema_fn fn,
		   void *ctx);

#define DR_PLAN_MAX_FILE (64u * 1024u * 1024u)

#endif
