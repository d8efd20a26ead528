/*
 * cmd-rules.c - `drplan rules`: list every rule the validator knows.
 */
#include "cli.h"

#include "core/diag.h"
#include "rules/rules.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int run(const struct dr_cmd *cmd, int argc, char **argv)
{
	const dr_rule_info *t;
	dr_strbuf sb = DR_STRBUF_INIT;
	size_t n, i;
	int json = 0, rc;

	if (argc == 3 && !strcmp(argv[1], "--format") &&
	    (!strcmp(argv[2], "json") || !strcmp(argv[2], "text")))
		json = !strcmp(argv[2], "json");
	else if (argc != 1)
		return dr_cli_usage_error(cmd, "unexpected arguments");
	t = dr_rule_table(&n);
	if (json) {
		json_t *arr = json_array();
		char *s;

		for (i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s}",
				"id", t[i].id,
				"severity", dr_severity_name(t[i].severity),
				"summary", t[i].summary,
				"source", t[i].source ? t[i].source : ""));
		s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		dr_strbuf_addf(&sb, "%s\n", s);
		free(s);
		json_decref(arr);
	} else {
		for (i = 0; i < n; i++)
			dr_strbuf_addf(&sb, "%-28s %-8s %s\n", t[i].id,
				       dr_severity_name(t[i].severity),
				       t[i].summary);
	}
	rc = dr_cli_write_output(NULL, &sb);
	dr_strbuf_release(&sb);
	return rc;
}

const struct dr_cmd dr_cmd_rules = {
	.name = "rules",
	.usage = "[--format text|json]",
	.summary = "List every rule id the validator checks, with its severity",
	.help = "Lists the rule ids that appear in diagnostics: AZ-* (Azure's\n"
		"requirements for replicated machines), PLAN-* (plan rules), YAML-*,\n"
		"SCHEMA-* and INV-* (syntax, schema, inventory). docs/rules.md explains\n"
		"each one and its source.\n",
	.run = run,
};
