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
	const dr_rule_info *tables[2];
	size_t sizes[2], k;
	dr_strbuf sb = DR_STRBUF_INIT;
	size_t i;
	int json = 0, rc;

	if (argc == 3 && !strcmp(argv[1], "--format") &&
	    (!strcmp(argv[2], "json") || !strcmp(argv[2], "text")))
		json = !strcmp(argv[2], "json");
	else if (argc != 1)
		return dr_cli_usage_error(cmd, "unexpected arguments");
	tables[0] = dr_input_rule_table(&sizes[0]);
	tables[1] = dr_rule_table(&sizes[1]);
	if (json) {
		json_t *arr = json_array();
		char *s;

		for (k = 0; k < 2; k++)
			for (i = 0; i < sizes[k]; i++)
				json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s}",
					"id", tables[k][i].id,
					"severity", dr_severity_name(tables[k][i].severity),
					"summary", tables[k][i].summary,
					"source", tables[k][i].source ? tables[k][i].source : ""));
		s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		dr_strbuf_addf(&sb, "%s\n", s);
		free(s);
		json_decref(arr);
	} else {
		for (k = 0; k < 2; k++)
			for (i = 0; i < sizes[k]; i++)
				dr_strbuf_addf(&sb, "%-28s %-8s %s\n", tables[k][i].id,
					       dr_severity_name(tables[k][i].severity),
					       tables[k][i].summary);
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
