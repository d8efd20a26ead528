/*
 * cmd-report.c - `drplan report JOB` and `drplan report history PLAN`:
 * drill and job reports measured from the job's journal
 * (report/jobreport.h, docs/reports.md).
 */
#include "cli.h"

#include "core/error.h"
#include "journal/journal.h"
#include "journal/store.h"
#include "report/jobreport.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct report_args {
	const char *state;
	const char *format;
	const char *output;
	const char *plan;
};

static int open_store(const struct dr_cmd *cmd, const char *dir, const char *plan_dir,
		      dr_store **s)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	int rc;

	if (!dir) {
		if (dr_store_default_dir(plan_dir ? plan_dir : ".", &sb) < 0) {
			fprintf(stderr, "drplan %s: %s\n", cmd->name, dr_error_msg());
			dr_strbuf_release(&sb);
			return DR_EXIT_IO;
		}
		dir = sb.buf;
	}
	rc = dr_store_open(dir, 0, s);
	if (rc < 0)
		fprintf(stderr, "drplan %s: %s\n", cmd->name, dr_error_msg());
	dr_strbuf_release(&sb);
	return rc < 0 ? DR_EXIT_IO : 0;
}

/* Objectives from the plan file (drill.objectives); 0 or an exit status. */
static int load_objectives(const struct dr_cmd *cmd, const char *file,
			   dr_jobreport_objectives *obj, char **name_out)
{
	dr_arena *a = dr_arena_new();
	dr_diags *diags = dr_diags_new();
	dr_plan *p = NULL;
	int rc = dr_plan_load(a, file, NULL, diags, &p);

	if (rc < 0 || !p) {
		dr_cli_print_diags(diags, "auto");
		fprintf(stderr, "drplan %s: cannot read the plan %s\n", cmd->name, file);
		dr_diags_free(diags);
		dr_arena_free(a);
		return rc == DR_EIO ? DR_EXIT_IO : DR_EXIT_INVALID;
	}
	obj->rto_ms = p->drill.rto.ms;
	obj->rpo_ms = p->drill.rpo.ms;
	if (name_out)
		*name_out = strdup(p->name.v ? p->name.v : "");
	dr_diags_free(diags);
	dr_arena_free(a);
	return 0;
}

static int parse(const struct dr_cmd *cmd, int argc, char **argv, struct report_args *ra)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "plan", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:o:p:", opts, NULL)) != -1) {
		switch (c) {
		case 's': ra->state = optarg; break;
		case 'f': ra->format = optarg; break;
		case 'o': ra->output = optarg; break;
		case 'p': ra->plan = optarg; break;
		case ':':
			return dr_cli_usage_error(cmd, "option '%s' needs a value",
						  argv[optind - 1]);
		default:
			return dr_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	return 0;
}

static int run_history(const struct dr_cmd *cmd, struct report_args *ra, const char *plan,
		       dr_jobreport_format fmt)
{
	dr_jobreport_objectives obj = { 0, 0 };
	dr_strbuf sb = DR_STRBUF_INIT;
	dr_store *s = NULL;
	json_t *doc = NULL;
	char *name = NULL, *dir = NULL;
	int status;

	/* PLAN is a plan file (objectives and name from it) or a plan name. */
	if (strchr(plan, '/') || strstr(plan, ".yaml") || strstr(plan, ".yml")) {
		char *slash;

		status = load_objectives(cmd, plan, &obj, &name);
		if (status)
			return status;
		dir = strdup(plan);
		slash = dir ? strrchr(dir, '/') : NULL;
		if (slash)
			*slash = '\0';
		else if (dir)
			strcpy(dir, ".");
	} else {
		name = strdup(plan);
		if (ra->plan && (status = load_objectives(cmd, ra->plan, &obj, NULL)))
			goto out;
	}
	status = open_store(cmd, ra->state, dir, &s);
	if (status)
		goto out;
	if (dr_jobreport_history(s, name, &obj, &doc) < 0) {
		fprintf(stderr, "drplan %s: %s\n", cmd->name, dr_error_msg());
		status = DR_EXIT_IO;
		goto out;
	}
	if (dr_jobreport_history_render(doc, fmt, &sb) < 0) {
		status = dr_cli_usage_error(cmd, "%s", dr_error_msg());
		goto out;
	}
	status = dr_cli_write_output(ra->output, &sb);
out:
	json_decref(doc);
	dr_strbuf_release(&sb);
	dr_store_free(s);
	free(name);
	free(dir);
	return status;
}

static int run_report(const struct dr_cmd *cmd, int argc, char **argv)
{
	struct report_args ra = { NULL, "text", NULL, NULL };
	dr_jobreport_objectives obj = { 0, 0 };
	dr_jobreport_format fmt;
	dr_strbuf sb = DR_STRBUF_INIT;
	dr_store *s = NULL;
	json_t *doc = NULL;
	char *pname = NULL;
	const char *job;
	int status = parse(cmd, argc, argv, &ra);

	if (status)
		return status;
	if (dr_jobreport_format_parse(ra.format, &fmt) < 0)
		return dr_cli_usage_error(cmd, "%s", dr_error_msg());
	if (argc - optind == 2 && !strcmp(argv[optind], "history"))
		return run_history(cmd, &ra, argv[optind + 1], fmt);
	if (argc - optind != 1)
		return dr_cli_usage_error(cmd, "expected a job id (or: history PLAN)");
	job = argv[optind];
	if (!dr_job_id_valid(job))
		return dr_cli_usage_error(cmd, "'%s' is not a job id", job);
	if (ra.plan && (status = load_objectives(cmd, ra.plan, &obj, &pname)))
		return status;
	status = open_store(cmd, ra.state, NULL, &s);
	if (status)
		goto out;
	if (dr_jobreport_build(s, job, &obj, &doc) < 0) {
		fprintf(stderr, "drplan %s: job %s: %s\n", cmd->name, job, dr_error_msg());
		status = DR_EXIT_IO;
		goto out;
	}
	if (pname && strcmp(pname, json_string_value(json_object_get(doc, "plan"))))
		fprintf(stderr, "drplan %s: warning: job %s ran plan '%s', not '%s' (%s); "
			"its objectives are used anyway\n", cmd->name, job,
			json_string_value(json_object_get(doc, "plan")), pname, ra.plan);
	dr_jobreport_render(doc, fmt, &sb);
	status = dr_cli_write_output(ra.output, &sb);
	if (!status && strcmp(json_string_value(json_object_get(doc, "verdict")), "pass"))
		status = DR_EXIT_INVALID;
out:
	json_decref(doc);
	dr_strbuf_release(&sb);
	dr_store_free(s);
	free(pname);
	return status;
}

const struct dr_cmd dr_cmd_report = {
	.name = "report",
	.usage = "[--state SPEC] [--plan FILE] [--format FMT] [--output FILE] JOB\n"
		 "       drplan report [--state SPEC] [--format FMT] history PLAN",
	.summary = "Drill/job report measured from a job's journal (RTO, RPO, objectives)",
	.help =
		"Replays JOB's journal and reports what was measured: RTO per machine,\n"
		"group and job (from the first step the job started), achieved RPO per\n"
		"machine (failover start minus the recovery point's time), hook results,\n"
		"gate approvals, warnings, drill cleanup, and pass/fail against the plan's\n"
		"drill objectives (drill.objectives.rto/rpo from --plan FILE). Times come\n"
		"from the journal only: the same journal gives the same bytes.\n"
		"`history PLAN` lists RTO and RPO of every drill of PLAN (a plan file,\n"
		"for its objectives, or a plan name), newest first. See docs/reports.md.\n\n"
		"Options:\n"
		"      --state SPEC          the state store, a directory or azblob://...\n"
		"                            (default: $DRPLAN_STATE, $DRPLAN_STATE_DIR or\n"
		"                            the repository's .drplan/state)\n"
		"  -p, --plan FILE           the plan, for its objectives\n"
		"  -f, --format FMT          text (default), json, junit, markdown, html\n"
		"                            (history: text, json, markdown)\n"
		"  -o, --output FILE         write to FILE (atomically) instead of stdout\n"
		"\nExit status: 0 the report passes, 1 it fails (objective missed, job not\n"
		"succeeded, drill cleanup not verified) or the plan has errors, 2 usage,\n"
		"3 I/O error or no such job.\n",
	.run = run_report,
};
