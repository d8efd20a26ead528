/*
 * cmd-validate.c - `drplan validate PLAN...`: check plans offline.
 */
#include "cli.h"

#include "core/alloc.h"
#include "report/diagfmt.h"
#include "rules/rules.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char *rule_desc(const char *id)
{
	const dr_rule_info *r = dr_any_rule_find(id);

	return r ? r->summary : NULL;
}

static int run(const struct dr_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "strict", no_argument, NULL, 's' },
		{ "color", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	dr_diagfmt fmt = DR_DIAGFMT_TEXT;
	dr_diagfmt_opts o = { 0 };
	const char *color = "auto", *output = NULL;
	bool strict = false, verbose = false;
	dr_diags *diags;
	dr_strbuf sb = DR_STRBUF_INIT;
	dr_arena **arenas;
	int c, i, status = DR_EXIT_OK;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:o:v", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (dr_diagfmt_parse(optarg, &fmt))
				return dr_cli_usage_error(cmd,
					"unknown format '%s' (text, json, sarif, junit)",
					optarg);
			break;
		case 's':
			strict = true;
			break;
		case 'c':
			if (strcmp(optarg, "auto") && strcmp(optarg, "always") &&
			    strcmp(optarg, "never"))
				return dr_cli_usage_error(cmd,
					"--color takes auto, always or never");
			color = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case ':':
			/* The leading ':' in the option string tells a missing
			 * value apart from an unknown option. */
			return dr_cli_usage_error(cmd, "option '%s' needs a value",
						  argv[optind - 1]);
		default:
			return dr_cli_usage_error(cmd, "unknown option '%s'",
						  argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return dr_cli_usage_error(cmd, "no plan given");

	diags = dr_diags_new();
	/* Each plan gets its own arena; their texts must outlive rendering. */
	arenas = dr_xcalloc((size_t)argc, sizeof(*arenas));
	for (i = optind; i < argc; i++) {
		dr_plan *p;
		int rc;

		arenas[i] = dr_arena_new();
		dr_diags_set_origin(diags, argv[i]);
		rc = dr_cli_check_plan(arenas[i], argv[i], strict, diags, &p);
		if (rc == DR_EXIT_IO)
			status = DR_EXIT_IO;
		else if (rc && status == DR_EXIT_OK)
			status = DR_EXIT_INVALID;
	}
	/* Infos are reminders nothing in the plan can clear: a terminal gets
	 * them on request, machine-readable formats always (as notes). */
	if (fmt == DR_DIAGFMT_TEXT && !verbose)
		dr_diags_drop(diags, DR_SEV_INFO);
	dr_diags_sort(diags);
	o.color = fmt == DR_DIAGFMT_TEXT && !output &&
		  dr_cli_color(stdout, color);
	o.summary = 1;
	o.strict = strict;
	o.files = (const char *const *)argv + optind;
	o.nfiles = (size_t)(argc - optind);
	o.rule_desc = rule_desc;
	dr_diags_render(diags, fmt, &o, &sb);
	if (dr_cli_write_output(output, &sb))
		status = DR_EXIT_IO;
	dr_strbuf_release(&sb);
	dr_diags_free(diags);
	for (i = optind; i < argc; i++)
		dr_arena_free(arenas[i]);
	free(arenas);
	return status;
}

const struct dr_cmd dr_cmd_validate = {
	.name = "validate",
	.usage = "[--format text|json|sarif|junit] [--strict] [--color auto|always|never] "
		 "[--output FILE] [--verbose] PLAN...",
	.summary = "Check plans against the schema, Azure's requirements and plan rules",
	.help =
		"Loads each plan (and the inventory snapshot it names), checks it against\n"
		"schemas/recovery-plan.schema.json, every Azure requirement rule that the\n"
		"plan and inventory can decide, and the plan rules. Runs offline.\n\n"
		"Options:\n"
		"  -f, --format FMT   text (default, GCC style with the source line),\n"
		"                     json, sarif (SARIF 2.1.0) or junit (JUnit XML)\n"
		"      --strict       warnings fail validation too\n"
		"      --color WHEN   auto (default: on a terminal, unless NO_COLOR is set),\n"
		"                     always or never\n"
		"  -o, --output FILE  write the report to FILE (atomically) instead of stdout\n"
		"  -v, --verbose      text: also show infos (reminders no plan change clears)\n\n"
		"Exit status: 0 clean (warnings allowed), 1 errors (or warnings with\n"
		"--strict), 2 usage error, 3 a file could not be read or written.\n",
	.run = run,
};
