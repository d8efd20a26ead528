/*
 * cmd-schedule.c - `drplan schedule list PLAN...`: when each plan's drill
 * runs next, in the plan's time zone.
 */
#include "cli.h"

#include "core/error.h"
#include "sched/cron.h"
#include "sched/tz.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "2026-11-28 03:00 CET (+01:00)" for t in zone tz. */
static void format_local(const dr_tz *tz, int64_t t, dr_strbuf *sb)
{
	int32_t off = tz ? dr_tz_offset(tz, t) : 0;
	int64_t local = t + off, days = local / 86400, secs = local % 86400;
	int64_t y;
	int m, d, aoff = off < 0 ? -off : off;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	dr_civil_from_days(days, &y, &m, &d);
	dr_strbuf_addf(sb, "%04" PRId64 "-%02d-%02d %02d:%02d (UTC%c%02d:%02d)", y,
		       m, d, (int)(secs / 3600), (int)(secs / 60 % 60),
		       off < 0 ? '-' : '+', aoff / 3600, aoff / 60 % 60);
}

static int list_plan(const char *file, int count, int64_t from, dr_strbuf *out)
{
	dr_arena *a = dr_arena_new();
	dr_diags *diags = dr_diags_new();
	const char *tzname;
	dr_plan *p;
	dr_cron c;
	dr_tz *tz = NULL;
	char err[256];
	int64_t t = from;
	int i, status;

	status = dr_cli_check_plan(a, file, false, diags, &p);
	if (status) {
		/* Warnings are validate's business; errors say why nothing is listed. */
		dr_cli_print_diags(diags, "auto");
		goto out;
	}
	if (!p->drill.schedule.v) {
		dr_strbuf_addf(out, "%s: no drill schedule (drill.schedule)\n", file);
		goto out;
	}
	tzname = p->drill.timezone.v ? p->drill.timezone.v : "UTC";
	/* validate already checked both; these fail only on a changed host. */
	if (dr_cron_parse(p->drill.schedule.v, &c, err, sizeof(err), NULL)) {
		fprintf(stderr, "drplan schedule: %s: %s\n", file, err);
		status = DR_EXIT_INVALID;
		goto out;
	}
	if (strcmp(tzname, "UTC") && dr_tz_load(tzname, &tz)) {
		fprintf(stderr, "drplan schedule: %s: time zone %s: %s\n", file,
			tzname, dr_error_msg());
		status = DR_EXIT_IO;
		goto out;
	}
	dr_strbuf_addf(out, "%s: plan %s, drill \"%s\" in %s\n", file, p->name.v,
		       p->drill.schedule.v, tzname);
	for (i = 0; i < count; i++) {
		if (dr_cron_next_tz(&c, tz, t, &t))
			break;
		dr_strbuf_addstr(out, "  ");
		format_local(tz, t, out);
		dr_strbuf_addch(out, '\n');
	}
out:
	dr_tz_free(tz);
	dr_diags_free(diags);
	dr_arena_free(a);
	return status;
}

static int run(const struct dr_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "from", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	dr_strbuf out = DR_STRBUF_INIT;
	int64_t from = (int64_t)time(NULL);
	int c, count = 5, status = 0, i;
	char *end;

	if (argc >= 2 && !strcmp(argv[1], "run"))
		return dr_cli_schedule_run(cmd, argc - 1, argv + 1);
	if (argc < 2 || strcmp(argv[1], "list"))
		return dr_cli_usage_error(cmd, "expected 'list' or 'run'");
	argc--;
	argv++;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			count = (int)strtol(optarg, &end, 10);
			if (*end || count < 1 || count > 1000)
				return dr_cli_usage_error(cmd, "--count takes 1 to 1000");
			break;
		case 'f':
			from = strtoll(optarg, &end, 10);
			if (*end || from < 0)
				return dr_cli_usage_error(cmd,
					"--from takes Unix seconds");
			break;
		default:
			return dr_cli_usage_error(cmd, "unknown option '%s'",
						  argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return dr_cli_usage_error(cmd, "no plan given");
	for (i = optind; i < argc; i++) {
		int rc = list_plan(argv[i], count, from, &out);

		if (rc > status)
			status = rc;
	}
	if (dr_cli_write_output(NULL, &out))
		status = DR_EXIT_IO;
	dr_strbuf_release(&out);
	return status;
}

const struct dr_cmd dr_cmd_schedule = {
	.name = "schedule",
	.usage = "list [--count N] [--from UNIX-SECONDS] PLAN...\n"
		 "       drplan schedule run --plans DIR [--state SPEC] [--once] [OPTIONS]",
	.summary = "Show when drills run next; run the drill scheduler",
	.help =
		"schedule list: reads drill.schedule (cron: minute hour day-of-month month\n"
		"day-of-week, or @daily/@weekly/...) and drill.timezone of each plan and\n"
		"lists the next runs as local times with their UTC offset. Daylight-saving\n"
		"rules: docs/schedules.md.\n\n"
		"  -n, --count N        how many runs per plan (default 5)\n"
		"      --from SECONDS   list runs after this Unix time (default now)\n\n"
		"schedule run: a long-lived scheduler for every plan (*.yaml) in DIR. It\n"
		"starts a drill job when one is due, never two jobs of one plan at once\n"
		"(a drill due while the previous one runs is skipped and recorded), runs\n"
		"a drill missed while it was down once at start-up when the most recent\n"
		"due time is within the catch-up window, reloads plans that change, and\n"
		"on SIGTERM/SIGINT parks running jobs (resumable) and exits 0. Several\n"
		"instances may share one state store: each due time runs once. One log\n"
		"line per event on stderr. Rules: docs/schedules.md.\n\n"
		"      --plans DIR         the plans directory (required)\n"
		"      --state SPEC        the state store, a directory or azblob://...\n"
		"                          (default: $DRPLAN_STATE, else $DRPLAN_STATE_DIR,\n"
		"                          else .drplan/state in DIR's git repository)\n"
		"      --once              run what is due now (and parked jobs), wait for\n"
		"                          those jobs, exit (for a systemd timer or cron)\n"
		"  -j, --max-parallel N    jobs at once (default 4; the simulator runs one\n"
		"                          job at a time per process)\n"
		"      --catch-up DUR      missed-run window (default 6h; 0: none)\n"
		"      --rescan DUR        how often DIR is read again (default 30s)\n"
		"      --instance NAME     this instance's name in the records (host:pid)\n"
		"      --json              log lines as JSON objects\n\n"
		"Exit status (run): 0 stopped by SIGTERM/SIGINT, or --once and every\n"
		"drill succeeded; 2 usage; 3 the state store or DIR cannot be used;\n"
		"4 --once and a drill failed or could not start.\n",
	.run = run,
};
