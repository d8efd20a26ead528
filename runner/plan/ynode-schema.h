/*
 * ynode-schema.h - validate a YAML tree against a JSON Schema in place.
 *
 * The accessor reads dr_ynode values as the JSON that dr_ynode_to_json()
 * would make of them, without building it: maps are objects (in file
 * order), sequences arrays, and scalars by their YAML type; floats that
 * JSON cannot hold (.inf, .nan) are strings of their original text.
 */
#ifndef DR_YNODE_SCHEMA_H
#define DR_YNODE_SCHEMA_H

#include "plan/ynode.h"
#include "schema/schema.h"

extern const dr_schema_ops dr_ynode_schema_ops;

/* dr_schema_validate_opts() on a YAML tree; opts may be NULL. */
int dr_schema_validate_ynode(const dr_schema *s, const dr_ynode *root,
			     const dr_schema_options *opts,
			     dr_schema_error_fn fn, void *ctx);

#endif
