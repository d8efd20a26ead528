/*
 * cmd-plan.c - `drplan plan OPERATION PLAN` and `drplan graph PLAN`: compile
 * a plan into its step graph and show it, touching nothing.
 */
#include "cli.h"

#include "core/alloc.h"
#include "core/error.h"
#include "graph/graph.h"

#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct compile_args {
	const char *operation;
	const char *format;
	const char *color;
	const char *output;
	bool strict;
	dr_compile_opts copts;
};

int dr_cli_parse_rp(const char *s, dr_recovery_point *rp)
{
	memset(rp, 0, sizeof(*rp));
	if (!strcmp(s, "latest"))
		rp->kind = DR_RP_LATEST;
	else if (!strcmp(s, "latest-processed"))
		rp->kind = DR_RP_LATEST_PROCESSED;
	else if (!strcmp(s, "latest-app-consistent"))
		rp->kind = DR_RP_LATEST_APP_CONSISTENT;
	else if (*s) {
		rp->kind = DR_RP_CUSTOM;
		rp->id = s;
	} else
		return DR_EINVAL;
	return 0;
}

/* Options shared by `plan` and `graph`; returns 0 or an exit status. */
static int parse_args(const struct dr_cmd *cmd, int argc, char **argv,
		      struct compile_args *ca)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "operation", required_argument, NULL, 'O' },
		{ "recovery-point", required_argument, NULL, 'r' },
		{ "shutdown-source", no_argument, NULL, 'S' },
		{ "no-shutdown-source", no_argument, NULL, 'N' },
		{ "direction", required_argument, NULL, 'd' },
		{ "concurrency", required_argument, NULL, 'j' },
		{ "strict", no_argument, NULL, 's' },
		{ "color", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	char *end;
	long n;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:o:j:", opts, NULL)) != -1) {
		switch (c) {
		case 'f': ca->format = optarg; break;
		case 'O': ca->operation = optarg; break;
		case 'o': ca->output = optarg; break;
		case 's': ca->strict = true; break;
		case 'c': ca->color = optarg; break;
		case 'r':
			if (dr_cli_parse_rp(optarg, &ca->copts.rp))
				return dr_cli_usage_error(cmd, "empty --recovery-point");
			ca->copts.rp_set = true;
			break;
		case 'S': ca->copts.shutdown_source = 1; break;
		case 'N': ca->copts.shutdown_source = 0; break;
		case 'd':
			if (!strcmp(optarg, "to-azure"))
				ca->copts.direction = DR_DIR_TO_AZURE;
			else if (!strcmp(optarg, "to-onprem"))
				ca->copts.direction = DR_DIR_TO_ONPREM;
			else
				return dr_cli_usage_error(cmd,
					"--direction takes to-azure or to-onprem");
			break;
		case 'j':
			n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 100000)
				return dr_cli_usage_error(cmd,
					"--concurrency takes a number from 1 to 100000");
			ca->copts.concurrency = (int)n;
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
	return 0;
}

/*
 * Compiling, estimating and rendering a plan only read the model, and so do
 * the rules: for a big plan the compile runs on a second thread while the
 * rules run and their diagnostics print (about a fifth of a 10,000-machine
 * dry run). Its result is used only when the checks pass, so the output is
 * the same bytes as doing one after the other. Small plans are not worth a
 * thread. DRPLAN_THREADS=1 keeps everything on one thread.
 */
#define OVERLAP_MIN_MACHINES 256

struct compile_job {
	/* The plan's: nothing else allocates from it until the join (the
	 * rules have an arena of their own), and a second arena would fault
	 * in fresh pages where the plan's has room. */
	dr_arena *a;
	dr_operation op;
	const dr_compile_opts *copts;
	dr_graph_format gfmt;
	const dr_plan *p;
	pthread_t thread;
	bool started;
	/* Results, read after the join. */
	int rc;
	char *why;      /* the error message (error.h's is per thread) */
	dr_strbuf out;  /* the rendered graph */
};

static void compile_job_run(struct compile_job *j)
{
	dr_graph *g = NULL;

	if (dr_graph_compile(j->a, j->p, j->op, j->copts, &g) ||
	    dr_graph_estimate(g)) {
		j->rc = DR_EINVAL;
		j->why = dr_xstrdup(dr_error_msg());
		return;
	}
	dr_graph_write(g, j->p, j->gfmt, &j->out);
}

static void *compile_job_thread(void *arg)
{
	compile_job_run(arg);
	return NULL;
}

/* dr_cli_check_plan_with()'s hook: start compiling a big plan. */
static void compile_job_start(void *ctx, const dr_plan *p)
{
	struct compile_job *j = ctx;

	j->p = p;
	if (p->nmachines < OVERLAP_MIN_MACHINES || dr_cli_one_thread())
		return;
	/* Without a thread the compile just runs after the checks. */
	j->started = !pthread_create(&j->thread, NULL, compile_job_thread, j);
}

int dr_cli_plan_write(const struct dr_cmd *cmd, const char *operation,
		      const char *file, const dr_compile_opts *copts, bool strict,
		      const char *color, dr_graph_format gfmt, const char *output)
{
	dr_arena *a = dr_arena_new();
	dr_diags *diags = dr_diags_new();
	struct compile_job job = { .a = a, .copts = copts, .gfmt = gfmt,
				   .out = DR_STRBUF_INIT };
	dr_plan *p;
	int status;

	if (dr_operation_parse(operation, &job.op)) {
		status = dr_cli_usage_error(cmd,
			"unknown operation '%s' (drill, failover, commit, reprotect, failback)",
			operation);
		goto out;
	}
	status = dr_cli_check_plan_with(a, file, strict, diags,
					compile_job_start, &job, &p);
	/* Warnings are worth seeing before a dry run too. */
	dr_cli_print_diags(diags, color);
	if (job.started)
		pthread_join(job.thread, NULL);
	if (status) {
		if (status == DR_EXIT_INVALID)
			fprintf(stderr, "drplan %s: %s has errors; nothing was compiled\n",
				cmd->name, file);
		goto out;
	}
	if (!job.started) {
		job.p = p;
		compile_job_run(&job);
	}
	if (job.rc) {
		fprintf(stderr, "drplan %s: cannot compile %s: %s\n", cmd->name,
			file, job.why);
		status = DR_EXIT_INVALID;
		goto out;
	}
	status = dr_cli_write_output(output, &job.out);
out:
	free(job.why);
	dr_strbuf_release(&job.out);
	dr_diags_free(diags);
	dr_arena_free(a);
	return status;
}

static int compile_and_write(const struct dr_cmd *cmd, const char *file,
			     struct compile_args *ca, dr_graph_format gfmt)
{
	return dr_cli_plan_write(cmd, ca->operation, file, &ca->copts, ca->strict,
				 ca->color, gfmt, ca->output);
}

static int run_plan(const struct dr_cmd *cmd, int argc, char **argv)
{
	struct compile_args ca = { .color = "auto", .copts = { .shutdown_source = -1 } };
	dr_graph_format gfmt = DR_GRAPH_TEXT;
	int rc = parse_args(cmd, argc, argv, &ca);

	if (rc)
		return rc;
	if (argc - optind != 2)
		return dr_cli_usage_error(cmd, "expected an operation and a plan");
	ca.operation = argv[optind];
	if (ca.format && !strcmp(ca.format, "json"))
		gfmt = DR_GRAPH_JSON;
	else if (ca.format && strcmp(ca.format, "text"))
		return dr_cli_usage_error(cmd, "--format takes text or json");
	return compile_and_write(cmd, argv[optind + 1], &ca, gfmt);
}

static int run_graph(const struct dr_cmd *cmd, int argc, char **argv)
{
	struct compile_args ca = { .color = "auto", .operation = "failover",
				   .format = "dot",
				   .copts = { .shutdown_source = -1 } };
	dr_graph_format gfmt;
	int rc = parse_args(cmd, argc, argv, &ca);

	if (rc)
		return rc;
	if (argc - optind != 1)
		return dr_cli_usage_error(cmd, "expected one plan");
	if (!strcmp(ca.format, "dot"))
		gfmt = DR_GRAPH_DOT;
	else if (!strcmp(ca.format, "mermaid"))
		gfmt = DR_GRAPH_MERMAID;
	else if (!strcmp(ca.format, "json"))
		gfmt = DR_GRAPH_JSON;
	else
		return dr_cli_usage_error(cmd, "--format takes dot, mermaid or json");
	return compile_and_write(cmd, argv[optind], &ca, gfmt);
}

#define COMPILE_OPTIONS_HELP                                                     \
	"      --recovery-point RP   latest, latest-processed, latest-app-consistent\n" \
	"                            or a recovery point id (overrides the plan)\n" \
	"      --shutdown-source, --no-shutdown-source\n"                          \
	"                            override the plan's shutdownSource\n"          \
	"      --direction DIR       to-azure or to-onprem (reprotect; default\n"   \
	"                            to-onprem, the reprotect after a failover)\n"  \
	"  -j, --concurrency N       machines in parallel per group\n"              \
	"      --strict              warnings stop compilation too\n"               \
	"      --color WHEN          auto, always or never (diagnostics)\n"         \
	"  -o, --output FILE         write to FILE (atomically) instead of stdout\n"

const struct dr_cmd dr_cmd_plan = {
	.name = "plan",
	.usage = "[OPTIONS] OPERATION PLAN",
	.summary = "Show the steps, order and estimated RTO of an operation (dry run)",
	.help =
		"Validates PLAN, compiles it for OPERATION (drill, failover, commit,\n"
		"reprotect, failback) and prints what would happen, in order, with the\n"
		"estimated RTO of each group and of the plan (critical path). Nothing\n"
		"is touched. The same plan always gives the same bytes.\n\n"
		"Options:\n"
		"  -f, --format FMT          text (default) or json\n"
		COMPILE_OPTIONS_HELP
		"\nExit status: 0 ok, 1 the plan has errors, 2 usage, 3 I/O error.\n",
	.run = run_plan,
};

const struct dr_cmd dr_cmd_graph = {
	.name = "graph",
	.usage = "[--operation OP] [--format dot|mermaid|json] [OPTIONS] PLAN",
	.summary = "Print the step graph of an operation as DOT, Mermaid or JSON",
	.help =
		"Compiles PLAN for an operation (default failover) and prints its step\n"
		"graph: `drplan graph plans/erp.yaml | dot -Tsvg > erp.svg`.\n\n"
		"Options:\n"
		"      --operation OP        drill, failover (default), commit, reprotect,\n"
		"                            failback\n"
		"  -f, --format FMT          dot (default), mermaid or json\n"
		COMPILE_OPTIONS_HELP
		"\nExit status: 0 ok, 1 the plan has errors, 2 usage, 3 I/O error.\n",
	.run = run_graph,
};
