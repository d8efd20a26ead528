/*
 * input-rules.c - the ids that reading a plan can produce before any rule
 * runs: YAML syntax (plan/ynode.c), the schema (plan/plan.c maps each
 * failing JSON Schema keyword to SCHEMA-<KEYWORD>), inventory snapshots and
 * references between plan sections. They are listed here so that SARIF,
 * `drplan rules` and docs/rules.md describe every id a user can see.
 */
#include "rules/rules.h"

#include "core/alloc.h"

#include <stdlib.h>
#include <string.h>

#define E DR_SEV_ERROR
#define W DR_SEV_WARNING

/* Sorted by id. */
static const dr_rule_info input_table[] = {
	{ "INV-DUPLICATE", E, "Two inventory items share one friendly name", "inventory" },
	{ "INV-NOT-FOUND", E, "A machine names an inventory item the snapshot does not have", "inventory" },
	{ "INV-READ", E, "The inventory snapshot named by the plan cannot be read", "inventory" },
	{ "INV-SCHEMA", E, "The inventory snapshot does not match schemas/inventory.schema.json", "inventory" },
	{ "PLAN-READ", E, "The plan file cannot be read", "plan" },
	{ "PLAN-UNKNOWN-GROUP", E, "`after:` names a group the plan does not have", "plan" },
	{ "PLAN-UNKNOWN-MACHINE", E, "A group lists a machine the plan does not have", "plan" },
	{ "SCHEMA-ADDITIONALITEMS", E, "More list items than the schema allows", "schema" },
	{ "SCHEMA-ANYOF", E, "The value matches none of the allowed forms", "schema" },
	{ "SCHEMA-CONST", E, "The value must be exactly the one the schema names", "schema" },
	{ "SCHEMA-CONTAINS", E, "The list lacks an item the schema requires", "schema" },
	{ "SCHEMA-DEPENDENCIES", E, "A key requires another key that is missing", "schema" },
	{ "SCHEMA-ENUM", E, "The value is not one of the allowed values", "schema" },
	{ "SCHEMA-EXCLUSIVEMAXIMUM", E, "The number is too large", "schema" },
	{ "SCHEMA-EXCLUSIVEMINIMUM", E, "The number is too small", "schema" },
	{ "SCHEMA-FALSE", E, "The schema allows no value here", "schema" },
	{ "SCHEMA-FORMAT", E, "Bad duration, IPv4 address, CIDR or date-time", "schema" },
	{ "SCHEMA-MAXIMUM", E, "The number is too large", "schema" },
	{ "SCHEMA-MAXITEMS", E, "The list has too many items", "schema" },
	{ "SCHEMA-MAXLENGTH", E, "The text is too long", "schema" },
	{ "SCHEMA-MAXPROPERTIES", E, "The mapping has too many keys", "schema" },
	{ "SCHEMA-MINIMUM", E, "The number is too small", "schema" },
	{ "SCHEMA-MINITEMS", E, "The list has too few items", "schema" },
	{ "SCHEMA-MINLENGTH", E, "The text is too short", "schema" },
	{ "SCHEMA-MINPROPERTIES", E, "The mapping has too few keys", "schema" },
	{ "SCHEMA-MULTIPLEOF", E, "The number is not a multiple of the step the schema asks for", "schema" },
	{ "SCHEMA-NOT", E, "The value has a form the schema forbids", "schema" },
	{ "SCHEMA-ONEOF", E, "The value must match exactly one of the allowed forms", "schema" },
	{ "SCHEMA-PATTERN", E, "The text does not have the required form", "schema" },
	{ "SCHEMA-REQUIRED", E, "A required key is missing", "schema" },
	{ "SCHEMA-TYPE", E, "The value has the wrong type", "schema" },
	{ "SCHEMA-UNIQUEITEMS", E, "The list has duplicate items", "schema" },
	{ "SCHEMA-UNKNOWN-KEY", E, "A key the schema does not know (often a typo: see the note)", "schema" },
	{ "YAML-ALIAS", E, "Unknown, recursive or too costly alias", "yaml" },
	{ "YAML-DEPTH", E, "Nesting deeper than drplan reads", "yaml" },
	{ "YAML-DUPLICATE-KEY", E, "A key appears twice in one mapping", "yaml" },
	{ "YAML-ENCODING", E, "The file is not valid UTF-8 text (or holds a NUL)", "yaml" },
	{ "YAML-KEY-TYPE", E, "Mapping keys must be scalars", "yaml" },
	{ "YAML-MERGE", E, "A merge key (<<) must name a mapping or a list of mappings", "yaml" },
	{ "YAML-MULTI-DOC", E, "A plan file holds exactly one YAML document", "yaml" },
	{ "YAML-NUMBER", E, "A number out of range", "yaml" },
	{ "YAML-SIZE", E, "The document has more nodes than drplan reads", "yaml" },
	{ "YAML-SYNTAX", E, "YAML syntax error", "yaml" },
	{ "YAML-TAG", W, "An unknown tag (ignored) or a value that does not fit its tag", "yaml" },
};

static int cmp_rule(const void *key, const void *elem)
{
	return strcmp(key, ((const dr_rule_info *)elem)->id);
}

const dr_rule_info *dr_input_rule_find(const char *id)
{
	if (!id)
		return NULL;
	return bsearch(id, input_table, DR_ARRAY_SIZE(input_table),
		       sizeof(input_table[0]), cmp_rule);
}

const dr_rule_info *dr_input_rule_table(size_t *n)
{
	*n = DR_ARRAY_SIZE(input_table);
	return input_table;
}
