/*
 * cmd-schedule-run.c - `drplan schedule run --plans DIR`: the long-lived
 * drill scheduler. The rules live in sched/scheduler.h; this file is the
 * runner that turns "start a drill of plan P" into a real job on the
 * simulator (exec/job.h, driven by dr_job_launch()/dr_job_check() so that
 * several jobs share the one loop), and the log lines.
 */
#include "cli.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/parse.h"
#include "exec/job.h"
#include "exec/loop.h"
#include "journal/journal.h"
#include "provider/provider.h"
#include "sched/scheduler.h"
#include "sched/tz.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

struct srun {
	dr_store *store;
	dr_loop *loop;
	bool json;
};

/* One drill job and everything it borrows. */
struct rjob {
	dr_arena *a;
	dr_plan *p;
	dr_graph *g;
	dr_provider *prov;
	dr_job *job;
	json_t *popts, *hdr;
};

/* "FILE:LINE:COL: MESSAGE [RULE]" of the first error, or NULL. */
static char *first_error(const dr_diags *d)
{
	dr_strbuf sb = DR_STRBUF_INIT;

	for (size_t i = 0; i < dr_diags_len(d); i++) {
		const dr_diag *g = dr_diags_get(d, i);

		if (g->severity != DR_SEV_ERROR)
			continue;
		if (g->line)
			dr_strbuf_addf(&sb, "%d:%d: ", g->line, g->col);
		dr_strbuf_addf(&sb, "%s [%s]", g->message, g->rule ? g->rule : "?");
		if (dr_diags_count(d, DR_SEV_ERROR) > 1)
			dr_strbuf_addf(&sb, " (and %zu more; see drplan validate)",
				       dr_diags_count(d, DR_SEV_ERROR) - 1);
		return dr_strbuf_detach(&sb, NULL);
	}
	dr_strbuf_release(&sb);
	return NULL;
}

static int run_load(void *ctx, const char *path, dr_sched_plan_info *pi)
{
	dr_arena *a = dr_arena_new();
	dr_diags *diags = dr_diags_new();
	dr_plan *p = NULL;
	int st;

	(void)ctx;
	st = dr_cli_check_plan(a, path, false, diags, &p);
	if (st) {
		pi->error = first_error(diags);
		if (!pi->error)
			pi->error = dr_xstrdup(st == DR_EXIT_IO ? "the file cannot be read"
					       : "the plan has errors (see drplan validate)");
	} else if (dr_cli_plan_on_azure(p) && dr_cli_azure_credentials_check("schedule run")) {
		/* Said on stderr already; never a silent fall-through to IMDS. */
		pi->name = dr_xstrdup(p->name.v);
		pi->error = dr_xstrdup("target.provider is azure, but the environment has no "
				       "Azure credentials (docs/azure.md)");
	} else {
		pi->name = dr_xstrdup(p->name.v);
		if (p->drill.schedule.v)
			pi->schedule = dr_xstrdup(p->drill.schedule.v);
		if (p->drill.timezone.v)
			pi->timezone = dr_xstrdup(p->drill.timezone.v);
	}
	dr_diags_free(diags);
	dr_arena_free(a);
	return 0;
}

static void rjob_free(struct rjob *r)
{
	if (!r)
		return;
	/* The provider first: its callbacks would find the job gone. */
	dr_provider_free(r->prov);
	dr_job_free(r->job);
	json_decref(r->popts);
	json_decref(r->hdr);
	dr_arena_free(r->a);
	free(r);
}

static int first_record(void *ctx, uint64_t seq, const char *type, json_t *rec)
{
	json_t **out = ctx;

	(void)seq;
	(void)type;
	*out = json_incref(rec);
	return 1;
}

/* Start (job_id new) or resume (hdr: the job's header) a drill of path. */
static int begin(struct srun *sr, const char *path, const char *plan, const char *job_id,
		 json_t *hdr, void **handle)
{
	struct rjob *r = dr_xcalloc(1, sizeof(*r));
	struct dr_cli_run ro = { .copts = DR_COMPILE_OPTS_INIT };
	dr_diags *diags = dr_diags_new();
	json_t *cli = json_object_get(hdr, "cli");
	const char *rp;
	dr_job_opts jo;
	bool azure;
	int rc;

	r->a = dr_arena_new();
	if (dr_cli_check_plan(r->a, path, false, diags, &r->p)) {
		char *e = first_error(diags);

		rc = dr_error_set(DR_EINVAL, "%s: %s", path, e ? e : "the plan has errors");
		free(e);
		goto fail;
	}
	if (strcmp(r->p->name.v, plan)) {
		rc = dr_error_set(DR_EINVAL, "%s now names plan '%s', not '%s'", path,
				  r->p->name.v, plan);
		goto fail;
	}
	/* A resumed job compiles what it was started with. */
	if ((rp = json_string_value(json_object_get(cli, "recovery_point")))) {
		dr_cli_parse_rp(rp, &ro.copts.rp);
		ro.copts.rp_set = true;
	}
	ro.concurrency = (unsigned)json_integer_value(json_object_get(cli, "concurrency"));
	if (ro.concurrency)
		ro.copts.concurrency = ro.concurrency;
	if (dr_graph_compile(r->a, r->p, DR_OP_DRILL, &ro.copts, &r->g) ||
	    dr_graph_estimate(r->g)) {
		rc = dr_error_set(DR_EINVAL, "cannot compile %s: %s", path, dr_error_msg());
		goto fail;
	}
	azure = dr_cli_plan_on_azure(r->p);
	if (azure ? dr_cli_azure_options("schedule run", r->p, &r->popts) != 0
		  : dr_cli_sim_options("schedule run", sr->store, &r->popts) != 0) {
		rc = dr_error_set(azure ? DR_EINVAL : DR_EIO, "the %s provider's options "
				  "cannot be set", azure ? "azure" : "simulator");
		goto fail;
	}
	if ((rc = dr_provider_open(azure ? "azure" : "sim", r->popts, sr->loop,
				   &r->prov)) < 0)
		goto fail;
	memset(&jo, 0, sizeof(jo));
	jo.store = sr->store;
	jo.provider = r->prov;
	jo.loop = sr->loop;
	jo.concurrency = ro.concurrency;
	jo.control_poll_ms = 1000;
	jo.max_poll_ms = 5000;
	jo.persist_sim = !azure;
	jo.by = "drplan-scheduler";
	/* Nobody watches a scheduled drill: drill.unattended decides the
	 * steps that would wait for a person (docs/execution.md). */
	jo.unattended = true;
	if (hdr) {
		rc = dr_job_resume(job_id, r->p, r->g, &jo, &r->job);
	} else {
		r->hdr = dr_cli_run_header(path, &ro);
		json_object_set_new(r->hdr, "scheduled", json_true());
		jo.header = r->hdr;
		rc = dr_job_start(r->p, r->g, &jo, job_id, &r->job);
	}
	if (rc == DR_ECONFLICT) {
		dr_store_lock *l = NULL;

		/* The plan's lock was free a moment ago (the scheduler checked):
		 * what is held is the simulator's state, owned by one job at a
		 * time. Try again soon. */
		if (!azure && dr_store_lock_acquire(sr->store, plan, "{}", 0, &l, NULL) == 0) {
			dr_store_lock_release(l);
			rc = dr_error_set(DR_EAGAIN, "the simulator's state is in use by "
					  "another job");
		}
		goto fail;
	}
	if (rc < 0 || (rc = dr_job_launch(r->job)) < 0)
		goto fail;
	dr_diags_free(diags);
	*handle = r;
	return 0;
fail:
	dr_diags_free(diags);
	rjob_free(r);
	return rc;
}

static int run_start(void *ctx, const char *path, const char *plan, const char *job_id,
		     void **handle)
{
	return begin(ctx, path, plan, job_id, NULL, handle);
}

static int run_resume(void *ctx, const char *path, const char *plan, const char *job_id,
		      void **handle)
{
	struct srun *sr = ctx;
	dr_journal_replay_info info;
	json_t *hdr = NULL;
	int rc;

	if (!dr_job_id_valid(job_id))
		return dr_error_set(DR_ENOTFOUND, "'%s' is not a job id", job_id);
	rc = dr_journal_replay(sr->store, job_id, first_record, &hdr, &info);
	if (rc != 1 || !hdr) {
		json_decref(hdr);
		return rc < 0 ? rc : dr_error_set(DR_ENOTFOUND, "job %s has no journal",
						  job_id);
	}
	rc = begin(sr, path, plan, job_id, hdr, handle);
	json_decref(hdr);
	return rc;
}

static int run_poll(void *ctx, void *handle, const char **status)
{
	struct rjob *r = handle;
	int rc = dr_job_check(r->job);

	(void)ctx;
	if (rc == 1)
		*status = dr_job_status_name(dr_job_status_now(r->job));
	return rc;
}

static int run_inspect(void *ctx, const char *job_id, char **plan, bool *drill, bool *ended)
{
	struct srun *sr = ctx;
	const char *p, *op, *st;
	json_t *doc = NULL;
	int rc;

	if ((rc = dr_job_status(sr->store, job_id, &doc)) < 0)
		return rc;
	p = json_string_value(json_object_get(doc, "plan"));
	op = json_string_value(json_object_get(doc, "operation"));
	st = json_string_value(json_object_get(doc, "status"));
	*plan = p ? dr_xstrdup(p) : NULL;
	*drill = op && !strcmp(op, "drill");
	*ended = !st || (strcmp(st, "running") && strcmp(st, "waiting"));
	json_decref(doc);
	return 0;
}

static void run_release(void *ctx, void *handle, bool park)
{
	(void)ctx;
	(void)park;
	rjob_free(handle);
}

/* ---- log lines ------------------------------------------------------------- */

static void on_event(void *ctx, const json_t *ev)
{
	static const char *const keys[] = { "plan", "file", "job", "due", "next", "status",
					    "reason", "instance", "schedule", "timezone",
					    "message" };
	struct srun *sr = ctx;
	dr_strbuf sb = DR_STRBUF_INIT;

	if (sr->json) {
		char *line = json_dumps(ev, JSON_COMPACT);

		fprintf(stderr, "%s\n", line);
		free(line);
		fflush(stderr);
		return;
	}
	dr_strbuf_addf(&sb, "%s %s", json_string_value(json_object_get(ev, "time")),
		       json_string_value(json_object_get(ev, "event")));
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		const char *v = json_string_value(json_object_get(ev, keys[i]));

		if (!v)
			continue;
		if (strpbrk(v, " \t\"") || !*v) {
			char *q = json_dumps(json_object_get(ev, keys[i]), JSON_ENCODE_ANY);

			dr_strbuf_addf(&sb, " %s=%s", keys[i], q);
			free(q);
		} else {
			dr_strbuf_addf(&sb, " %s=%s", keys[i], v);
		}
	}
	fprintf(stderr, "%s\n", sb.buf);
	fflush(stderr);
	dr_strbuf_release(&sb);
}

static void log_line(struct srun *sr, const char *event, const char *message)
{
	json_t *ev = json_pack("{s:s,s:s,s:s}", "event", event, "time", "", "message",
			       message);
	char ts[32];
	int64_t t = dr_wall_ms() / 1000;
	int64_t days = t / 86400, y;
	int m, d;

	dr_civil_from_days(days, &y, &m, &d);
	snprintf(ts, sizeof(ts), "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m, d,
		 (int)(t % 86400 / 3600), (int)(t % 3600 / 60), (int)(t % 60));
	json_object_set_new(ev, "time", json_string(ts));
	on_event(sr, ev);
	json_decref(ev);
}

/* ---- the command ------------------------------------------------------------ */

static int parse_ms(const struct dr_cmd *cmd, const char *opt, const char *v, uint64_t *ms)
{
	if (!strcmp(v, "0")) {
		*ms = 0;
		return 0;
	}
	if (dr_parse_duration(v, ms) < 0)
		return dr_cli_usage_error(cmd, "%s takes a duration such as 30s, 15m or 6h, "
					  "not '%s'", opt, v);
	return 0;
}

int dr_cli_schedule_run(const struct dr_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "plans", required_argument, NULL, 'p' },
		{ "state", required_argument, NULL, 's' },
		{ "once", no_argument, NULL, 'o' },
		{ "max-parallel", required_argument, NULL, 'j' },
		{ "catch-up", required_argument, NULL, 'c' },
		{ "rescan", required_argument, NULL, 'r' },
		{ "instance", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 },
	};
	const char *plans = NULL, *state = NULL, *instance = NULL;
	uint64_t catch_up = 6 * 3600 * 1000, rescan = 30000;
	struct srun sr = { 0 };
	dr_sched_opts so;
	dr_sched *s = NULL;
	unsigned maxp = 4;
	bool once = false;
	int c, rc, status = DR_EXIT_OK;
	char *end;
	long n;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "j:", opts, NULL)) != -1) {
		switch (c) {
		case 'p': plans = optarg; break;
		case 's': state = optarg; break;
		case 'o': once = true; break;
		case 'j':
			n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 1000)
				return dr_cli_usage_error(cmd, "--max-parallel takes 1 to 1000");
			maxp = (unsigned)n;
			break;
		case 'c':
			if ((rc = parse_ms(cmd, "--catch-up", optarg, &catch_up)))
				return rc;
			if (catch_up > (uint64_t)DR_SCHED_CATCH_UP_MAX)
				return dr_cli_usage_error(cmd, "--catch-up is at most 7d");
			break;
		case 'r':
			if ((rc = parse_ms(cmd, "--rescan", optarg, &rescan)))
				return rc;
			if (rescan < 1000)
				return dr_cli_usage_error(cmd, "--rescan is at least 1s");
			break;
		case 'i': instance = optarg; break;
		case 'J': sr.json = true; break;
		default:
			return dr_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return dr_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	if (!plans)
		return dr_cli_usage_error(cmd, "schedule run needs --plans DIR");
	if ((status = dr_cli_open_store("schedule run", state, plans, true, &sr.store)))
		return status;
	if (dr_loop_new(NULL, &sr.loop) < 0 || dr_loop_stop_on_signals(sr.loop) < 0) {
		fprintf(stderr, "drplan schedule run: error: %s\n", dr_error_msg());
		status = DR_EXIT_IO;
		goto out;
	}
	memset(&so, 0, sizeof(so));
	so.store = sr.store;
	so.loop = sr.loop;
	so.dir = plans;
	so.runner = (dr_sched_runner){ run_load, run_start, run_resume, run_poll, run_release,
				       &sr, run_inspect };
	so.max_parallel = maxp;
	so.catch_up_ms = (int64_t)catch_up;
	so.rescan_ms = rescan;
	so.tick_ms = 250;
	so.instance = instance;
	so.once = once;
	so.on_event = on_event;
	so.ctx = &sr;
	if (dr_sched_new(&so, &s) < 0 || dr_sched_start(s) < 0) {
		fprintf(stderr, "drplan schedule run: error: %s\n", dr_error_msg());
		status = DR_EXIT_IO;
		goto out;
	}
	rc = dr_loop_run(sr.loop);
	if (dr_loop_last_signal(sr.loop)) {
		int sig = dr_loop_last_signal(sr.loop);

		log_line(&sr, "stopping", sig == SIGINT ? "SIGINT: parking running jobs"
			 : "SIGTERM: parking running jobs");
		dr_sched_stop(s);
		status = DR_EXIT_OK;
	} else if (rc < 0 && rc != DR_ECANCELLED) {
		fprintf(stderr, "drplan schedule run: error: %s\n", dr_error_msg());
		dr_sched_stop(s);
		status = DR_EXIT_IO;
	} else {
		status = dr_sched_failures(s) ? DR_EXIT_FAILED : DR_EXIT_OK;
	}
out:
	dr_sched_free(s);
	dr_loop_free(sr.loop);
	dr_store_free(sr.store);
	return status;
}
