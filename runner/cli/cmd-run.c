/*
 * cmd-run.c - `drplan drill|failover|commit|reprotect|failback PLAN`: run an
 * operation as a durable job, and the machinery `drplan job resume` shares.
 *
 * The flow: validate (errors: nothing runs) -> compile -> open the state
 * store -> open the provider -> start the job (it takes the plan's lock
 * and loads the simulator's saved state) -> drive the loop, rendering
 * progress -> print a summary. The journal is consistent at every instant,
 * so SIGINT/SIGTERM simply stop the loop: the job is resumed later with
 * `drplan job resume ID`.
 */
#include "cli.h"

#include "core/error.h"
#include "exec/job.h"
#include "exec/loop.h"
#include "journal/journal.h"
#include "provider/azure.h"
#include "provider/provider.h"
#include "provider/sim.h"
#include "report/progress.h"

#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Default simulator time scale for the CLI: a 6-minute failover takes
 * 0.36 s and a drill of plans/erp.yaml (with its 1 h hold) about 5 s. */
#define DR_CLI_SIM_SCALE 0.001
/* Where the CLI keeps the simulator's clock anchor (see dr_cli_sim_options()). */
#define DR_CLI_SIM_CLOCK_KEY "sim/clock.json"

int dr_cli_open_store(const char *cmdname, const char *dir, const char *plan_dir,
		      bool create, dr_store **out)
{
	dr_strbuf path = DR_STRBUF_INIT;
	int rc;

	*out = NULL;
	if (dir && *dir)
		dr_strbuf_addstr(&path, dir);
	else if (dr_store_default_dir(plan_dir ? plan_dir : ".", &path) < 0) {
		fprintf(stderr, "drplan %s: error: %s\n", cmdname, dr_error_msg());
		dr_strbuf_release(&path);
		return DR_EXIT_IO;
	}
	rc = dr_store_open(path.buf, create ? DR_STORE_CREATE : 0, out);
	if (rc < 0) {
		fprintf(stderr, "drplan %s: error: %s\n", cmdname, dr_error_msg());
		if (!create && rc == DR_ENOTFOUND)
			fprintf(stderr, "(no job has run with this state store; "
					"use --state SPEC or $DRPLAN_STATE)\n");
		dr_strbuf_release(&path);
		return DR_EXIT_IO;
	}
	dr_strbuf_release(&path);
	return 0;
}

static int first_record(void *ctx, uint64_t seq, const char *type, json_t *rec)
{
	json_t **out = ctx;

	(void)seq;
	(void)type;
	*out = json_incref(rec);
	return 1;
}

int dr_cli_job_header(const char *cmdname, dr_store *s, const char *job_id,
		      json_t **out)
{
	dr_journal_replay_info info;
	int rc;

	*out = NULL;
	if (!dr_job_id_valid(job_id)) {
		fprintf(stderr, "drplan %s: error: '%s' is not a valid job id\n",
			cmdname, job_id);
		return DR_EXIT_IO;
	}
	rc = dr_journal_replay(s, job_id, first_record, out, &info);
	if (rc == 1 && *out)
		return 0;
	json_decref(*out);
	*out = NULL;
	if (rc == DR_ENOTFOUND || rc == 0)
		fprintf(stderr, "drplan %s: error: no job '%s' in state store %s\n",
			cmdname, job_id, dr_store_spec(s));
	else
		fprintf(stderr, "drplan %s: error: %s\n", cmdname, dr_error_msg());
	return DR_EXIT_IO;
}

/*
 * The simulator's options. Its model time must go on while no drplan
 * process runs (a reprotect's initial replication finishes "meanwhile"),
 * at the same scale as while one runs; so the CLI keeps an anchor in the
 * store, {"wall_ms", "model_ms", "scale"}, and starts each simulator at
 * model_ms + (now - wall_ms) / scale. A new scale re-anchors at the model
 * time the old one reached. The simulator never goes back before its
 * saved state's time (dr_sim_load()), so a lost anchor is harmless.
 */
int dr_cli_sim_options(const char *cmdname, dr_store *s, json_t **out)
{
	const char *env = getenv("DRPLAN_SIM_SCALE");
	dr_strbuf buf = DR_STRBUF_INIT;
	double scale = DR_CLI_SIM_SCALE, old_scale = 0;
	int64_t now = dr_wall_ms(), model = now, wall = now;
	json_t *anchor = NULL, *opts;
	char *end, *text;
	int rc;

	*out = NULL;
	if (env && *env) {
		scale = strtod(env, &end);
		if (*end || !isfinite(scale) || scale < 0 || scale > 1e6) {
			fprintf(stderr, "drplan %s: error: DRPLAN_SIM_SCALE must be a number "
				">= 0 (1 = real time, 0.001 = 1000 times as fast), not '%s'\n",
				cmdname, env);
			return DR_EXIT_USAGE;
		}
	}
	rc = dr_store_read(s, DR_CLI_SIM_CLOCK_KEY, &buf);
	if (rc == 0)
		anchor = json_loadb(buf.buf, buf.len, 0, NULL);
	if (json_is_object(anchor)) {
		wall = json_integer_value(json_object_get(anchor, "wall_ms"));
		model = json_integer_value(json_object_get(anchor, "model_ms"));
		old_scale = json_number_value(json_object_get(anchor, "scale"));
		if (old_scale > 0 && now >= wall)
			model += (int64_t)((double)(now - wall) / old_scale);
		else if (now > wall)
			model += now - wall;
	}
	if (!json_is_object(anchor) || old_scale != scale) {
		json_t *a = json_pack("{s:I,s:I,s:f}", "wall_ms", (json_int_t)now,
				      "model_ms", (json_int_t)model, "scale", scale);

		text = json_dumps(a, JSON_COMPACT);
		json_decref(a);
		if (dr_store_put(s, DR_CLI_SIM_CLOCK_KEY, text, strlen(text), NULL, NULL) < 0) {
			fprintf(stderr, "drplan %s: error: %s\n", cmdname, dr_error_msg());
			free(text);
			json_decref(anchor);
			dr_strbuf_release(&buf);
			return DR_EXIT_IO;
		}
		free(text);
	}
	json_decref(anchor);
	dr_strbuf_release(&buf);
	/* Scale 0 finishes every job at once: keep the model clock where it is. */
	opts = json_pack("{s:f,s:I}", "scale", scale, "epochMs", (json_int_t)model);
	*out = opts;
	return 0;
}

static const char *rp_text(const dr_recovery_point *rp)
{
	switch (rp->kind) {
	case DR_RP_LATEST: return "latest";
	case DR_RP_LATEST_PROCESSED: return "latest-processed";
	case DR_RP_LATEST_APP_CONSISTENT: return "latest-app-consistent";
	case DR_RP_CUSTOM: return rp->id ? rp->id : "";
	default: return NULL;
	}
}

/* What resume needs to compile the same graph again. */
json_t *dr_cli_run_header(const char *file, const struct dr_cli_run *ro)
{
	char abs[PATH_MAX];
	json_t *cli = json_object();

	if (ro->copts.rp_set && rp_text(&ro->copts.rp))
		json_object_set_new(cli, "recovery_point", json_string(rp_text(&ro->copts.rp)));
	json_object_set_new(cli, "shutdown_source", json_integer(ro->copts.shutdown_source));
	if (ro->copts.direction)
		json_object_set_new(cli, "direction",
				    json_string(dr_direction_name(ro->copts.direction)));
	json_object_set_new(cli, "concurrency", json_integer(ro->concurrency));
	return json_pack("{s:s,s:o}", "plan_path", realpath(file, abs) ? abs : file,
			 "cli", cli);
}

void dr_cli_fmt_ms(int64_t ms, char *buf, size_t n)
{
	int64_t s;

	if (ms < 0)
		ms = 0;
	s = ms / 1000;
	if (s >= 3600)
		snprintf(buf, n, "%lldh%02lldm%02llds", (long long)(s / 3600),
			 (long long)(s / 60 % 60), (long long)(s % 60));
	else if (s >= 60)
		snprintf(buf, n, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else
		snprintf(buf, n, "%lld.%llds", (long long)s, (long long)(ms % 1000 / 100));
}

static int exit_for_status(const char *status)
{
	if (!strcmp(status, "succeeded"))
		return DR_EXIT_OK;
	if (!strcmp(status, "failed"))
		return DR_EXIT_FAILED;
	if (!strcmp(status, "cancelled") || !strcmp(status, "rejected"))
		return DR_EXIT_CANCELLED;
	if (!strcmp(status, "waiting"))
		return DR_EXIT_WAITING;
	return DR_EXIT_FAILED;
}

/* The end of a run: status, duration, RTO and RPO per machine. */
static int summary(dr_store *s, const char *id, bool sim, bool json)
{
	json_t *doc = NULL, *v;
	const char *k, *status;
	char d[32], r[32];
	int code;

	if (dr_job_status(s, id, &doc) < 0) {
		fprintf(stderr, "drplan: error: %s\n", dr_error_msg());
		return DR_EXIT_IO;
	}
	status = json_string_value(json_object_get(doc, "status"));
	status = status ? status : "running";
	code = exit_for_status(status);
	if (json) {
		json_t *ev = json_pack("{s:s,s:s,s:s,s:O*,s:O*,s:O*,s:O*}", "event",
				       "job-summary", "job", id, "status", status,
				       "duration_ms", json_object_get(doc, "duration_ms"),
				       "rto_ms", json_object_get(doc, "rto_ms"), "rpo",
				       json_object_get(doc, "rpo"), "counts",
				       json_object_get(doc, "counts"));
		char *line = json_dumps(ev, JSON_COMPACT);

		printf("%s\n", line);
		free(line);
		json_decref(ev);
		json_decref(doc);
		return code;
	}
	printf("\njob %s: %s\n", id, status);
	if ((v = json_object_get(doc, "duration_ms"))) {
		dr_cli_fmt_ms(json_integer_value(v), d, sizeof(d));
		printf("  duration     %s%s\n", d, sim ? " (simulator time)" : "");
	}
	if ((v = json_object_get(doc, "rto_ms")) && json_integer_value(v) > 0) {
		dr_cli_fmt_ms(json_integer_value(v), r, sizeof(r));
		printf("  measured RTO %s\n", r);
	}
	if (json_object_size(json_object_get(doc, "rpo"))) {
		printf("  RPO         ");
		json_object_foreach(json_object_get(doc, "rpo"), k, v) {
			dr_cli_fmt_ms(json_integer_value(v) * 1000, r, sizeof(r));
			printf(" %s %s", k, r);
		}
		printf("\n");
	}
	if ((v = json_object_get(doc, "counts"))) {
		printf("  steps       ");
		json_object_foreach(v, k, v)
			printf(" %lld %s", (long long)json_integer_value(v), k);
		printf("\n");
	}
	if (json_array_size(json_object_get(doc, "warnings")))
		printf("  warnings     %zu (drplan job show %s)\n",
		       json_array_size(json_object_get(doc, "warnings")), id);
	if (!strcmp(status, "failed"))
		printf("  see `drplan job show %s`; then `drplan job retry %s STEP` or "
		       "`drplan job skip %s STEP` and `drplan job resume %s`\n", id, id, id, id);
	json_decref(doc);
	return code;
}

/* After --detach: what waits, and what to type. */
static void waiting_help(const dr_job *j, const dr_graph *g, const char *state_hint)
{
	const char *id = dr_job_id(j);
	size_t i, n = 0;

	printf("\njob %s is waiting for people:\n", id);
	for (i = 0; i < g->nsteps; i++) {
		if (dr_job_step_state(j, i) != DR_SS_WAITING)
			continue;
		n++;
		if (g->steps[i].kind == DR_STEP_GATE)
			printf("  %s: drplan job approve %s --gate %s%s  (or reject)\n",
			       g->steps[i].id, id, g->steps[i].gate_name ? g->steps[i].gate_name
			       : g->steps[i].id, state_hint);
		else if (g->steps[i].kind == DR_STEP_MANUAL)
			printf("  %s: \"%s\"\n    when done: drplan job continue %s %s%s\n",
			       g->steps[i].id,
			       g->steps[i].action && g->steps[i].action->manual.v
			       ? g->steps[i].action->manual.v : "",
			       id, g->steps[i].id, state_hint);
		else
			printf("  %s\n", g->steps[i].id);
	}
	if (!n)
		printf("  see `drplan job show %s%s`\n", id, state_hint);
	printf("then: drplan job resume %s%s\n", id, state_hint);
}

static bool env_set(const char *name)
{
	const char *v = getenv(name);

	return v && *v;
}

int dr_cli_azure_credentials_check(const char *cmdname)
{
	static const char set_these[] =
		"set AZURE_TENANT_ID and AZURE_CLIENT_ID with one of AZURE_CLIENT_SECRET, "
		"AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE; or, on an "
		"Azure host with a managed identity, AZURE_TOKEN_CREDENTIALS="
		"ManagedIdentityCredential (docs/azure.md)";
	const char *want = getenv("AZURE_TOKEN_CREDENTIALS");
	bool secret = env_set("AZURE_CLIENT_SECRET");
	bool cert = env_set("AZURE_CLIENT_CERTIFICATE_PATH");
	bool fed = env_set("AZURE_FEDERATED_TOKEN_FILE");
	bool env_cred = secret || cert || fed;

	if (!want || !*want) {
		if (env_cred)
			return 0;
		fprintf(stderr, "drplan %s: error: no Azure credentials in the environment: "
			"%s. Managed identity (IMDS) is used only when asked for.\n",
			cmdname, set_these);
		return DR_EXIT_IO;
	}
	/* The Azure SDK's switch for DefaultAzureCredential, its values. */
	if (!strcasecmp(want, "prod"))
		return 0;
	if (!strcasecmp(want, "ManagedIdentityCredential")) {
		if (!env_cred)
			return 0;
		fprintf(stderr, "drplan %s: error: AZURE_TOKEN_CREDENTIALS="
			"ManagedIdentityCredential, but %s is set too and would be used: "
			"unset one of them\n", cmdname,
			secret ? "AZURE_CLIENT_SECRET" : cert ? "AZURE_CLIENT_CERTIFICATE_PATH"
			: "AZURE_FEDERATED_TOKEN_FILE");
		return DR_EXIT_IO;
	}
	if (!strcasecmp(want, "EnvironmentCredential") && (secret || cert))
		return 0;
	if (!strcasecmp(want, "WorkloadIdentityCredential") && fed && !secret && !cert)
		return 0;
	if (!strcasecmp(want, "EnvironmentCredential") ||
	    !strcasecmp(want, "WorkloadIdentityCredential")) {
		fprintf(stderr, "drplan %s: error: AZURE_TOKEN_CREDENTIALS=%s, but the "
			"environment does not configure it: %s\n", cmdname, want,
			!strcasecmp(want, "EnvironmentCredential")
			? "set AZURE_TENANT_ID and AZURE_CLIENT_ID with AZURE_CLIENT_SECRET "
			  "or AZURE_CLIENT_CERTIFICATE_PATH"
			: "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE, "
			  "and no client secret or certificate");
		return DR_EXIT_IO;
	}
	fprintf(stderr, "drplan %s: error: AZURE_TOKEN_CREDENTIALS='%s' is not a "
		"credential drplan can use (prod, EnvironmentCredential, "
		"WorkloadIdentityCredential or ManagedIdentityCredential)\n", cmdname, want);
	return DR_EXIT_IO;
}

bool dr_cli_plan_on_azure(const dr_plan *p)
{
	return p->provider.v && !strcmp(p->provider.v, "azure");
}

int dr_cli_azure_options(const char *cmdname, const dr_plan *p, json_t **out)
{
	const char *env = getenv("DRPLAN_AZURE_OPTIONS");
	json_t *o = dr_azure_opts_json_from_plan(p), *extra;
	json_error_t je;
	dr_azure_opts ao;

	*out = NULL;
	if (env && *env) {
		extra = json_loads(env, 0, &je);
		if (!json_is_object(extra)) {
			fprintf(stderr, "drplan %s: error: DRPLAN_AZURE_OPTIONS must be a JSON "
				"object of azure provider options (docs/azure.md)%s%s\n", cmdname,
				extra ? "" : ": ", extra ? "" : je.text);
			json_decref(extra);
			json_decref(o);
			return DR_EXIT_USAGE;
		}
		json_object_update(o, extra);
		json_decref(extra);
	}
	dr_azure_opts_init(&ao);
	if (dr_azure_opts_from_json(o, &ao) < 0) {
		fprintf(stderr, "drplan %s: error: %s%s\n", cmdname, dr_error_msg(),
			env && *env ? " (target and DRPLAN_AZURE_OPTIONS)" : "");
		json_decref(o);
		return DR_EXIT_USAGE;
	}
	*out = o;
	return 0;
}

int dr_cli_exec(const struct dr_cmd *cmd, const char *operation, const char *file,
		struct dr_cli_run *ro)
{
	dr_arena *a = dr_arena_new();
	dr_diags *diags = dr_diags_new();
	dr_strbuf plan_dir = DR_STRBUF_INIT, hint = DR_STRBUF_INIT, note = DR_STRBUF_INIT;
	dr_store *store = NULL;
	dr_loop *loop = NULL;
	dr_provider *prov = NULL;
	dr_progress *pr = NULL;
	dr_job *job = NULL;
	dr_graph *g = NULL;
	json_t *popts = NULL, *hdr = NULL;
	dr_job_opts jo;
	dr_operation op;
	dr_plan *p;
	const char *slash;
	int status, rc;
	bool json = ro->json, azure = false;

	if (dr_operation_parse(operation, &op)) {
		status = dr_cli_usage_error(cmd, "unknown operation '%s'", operation);
		goto out;
	}
	status = dr_cli_check_plan(a, file, false, diags, &p);
	dr_cli_print_diags(diags, "auto");
	if (status) {
		if (status == DR_EXIT_INVALID)
			fprintf(stderr, "drplan %s: %s has errors; nothing was run\n",
				cmd->name, file);
		goto out;
	}
	azure = dr_cli_plan_on_azure(p);
	if (p->provider.v && strcmp(p->provider.v, "sim") && !azure) {
		fprintf(stderr, "drplan %s: error: %s: unknown provider '%s' (sim or azure)\n",
			cmd->name, file, p->provider.v);
		status = DR_EXIT_IO;
		goto out;
	}
	/* Before anything is written: a run that cannot authenticate must
	 * not leave a job behind. */
	if (azure && ((status = dr_cli_azure_credentials_check(cmd->name)) ||
		      (status = dr_cli_azure_options(cmd->name, p, &popts))))
		goto out;
	if (ro->concurrency)
		ro->copts.concurrency = ro->concurrency;
	if (dr_graph_compile(a, p, op, &ro->copts, &g) || dr_graph_estimate(g)) {
		fprintf(stderr, "drplan %s: cannot compile %s: %s\n", cmd->name, file,
			dr_error_msg());
		status = DR_EXIT_INVALID;
		goto out;
	}
	slash = strrchr(file, '/');
	if (slash)
		dr_strbuf_add(&plan_dir, file, (size_t)(slash - file) + (slash == file));
	else
		dr_strbuf_addstr(&plan_dir, ".");
	if ((status = dr_cli_open_store(cmd->name, ro->state, plan_dir.buf, true, &store)))
		goto out;
	if (ro->state)
		dr_strbuf_addf(&hint, " --state %s", ro->state);
	if (!azure && (status = dr_cli_sim_options(cmd->name, store, &popts)))
		goto out;
	if (dr_loop_new(NULL, &loop) < 0 || dr_loop_stop_on_signals(loop) < 0) {
		fprintf(stderr, "drplan %s: error: %s\n", cmd->name, dr_error_msg());
		status = DR_EXIT_IO;
		goto out;
	}
	if (dr_provider_open(azure ? "azure" : "sim", popts, loop, &prov) < 0) {
		fprintf(stderr, "drplan %s: error: %s: %s\n", cmd->name,
			azure ? "azure provider" : "simulator", dr_error_msg());
		status = azure ? DR_EXIT_IO : DR_EXIT_USAGE;
		goto out;
	}
	pr = dr_progress_new(stdout, dr_progress_pick_mode(stdout, json), p, g, loop);
	memset(&jo, 0, sizeof(jo));
	jo.store = store;
	jo.provider = prov;
	jo.loop = loop;
	jo.concurrency = ro->concurrency;
	jo.on_event = dr_progress_on_event;
	jo.ctx = pr;
	jo.detach_when_waiting = ro->detach;
	jo.unattended = ro->unattended;
	jo.control_poll_ms = 250;
	jo.max_poll_ms = 5000;
	/* The azure provider keeps no state of its own: the vault is the truth. */
	jo.persist_sim = !azure;
	if (ro->resume_id) {
		rc = dr_job_resume(ro->resume_id, p, g, &jo, &job);
	} else {
		hdr = dr_cli_run_header(file, ro);
		jo.header = hdr;
		rc = dr_job_start(p, g, &jo, NULL, &job);
	}
	if (rc < 0) {
		fprintf(stderr, "drplan %s: error: %s\n", cmd->name, dr_error_msg());
		status = rc == DR_ECONFLICT ? DR_EXIT_LOCKED : DR_EXIT_IO;
		goto out;
	}
	dr_strbuf_addf(&note, "job %s: follow with `drplan job follow %s%s`, resume "
		       "with `drplan job resume %s%s`", dr_job_id(job), dr_job_id(job),
		       hint.buf, dr_job_id(job), hint.buf);
	dr_progress_note(pr, note.buf);
	rc = dr_job_run(job);
	dr_progress_finish(pr);
	if (rc == DR_EAGAIN) {
		if (!json)
			waiting_help(job, g, hint.buf);
		else
			summary(store, dr_job_id(job), !azure, true);
		status = DR_EXIT_WAITING;
	} else if (rc == DR_ECANCELLED && dr_loop_last_signal(loop)) {
		int sig = dr_loop_last_signal(loop);

		fprintf(stderr, "\ndrplan %s: interrupted by %s; job %s stopped where it "
			"was and is safe to resume: drplan job resume %s%s\n", cmd->name,
			sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal",
			dr_job_id(job), dr_job_id(job), hint.buf);
		status = DR_EXIT_SIGNAL_BASE + sig;
	} else if (rc < 0) {
		fprintf(stderr, "drplan %s: error: %s\njob %s stopped; it can be resumed: "
			"drplan job resume %s%s\n", cmd->name, dr_error_msg(), dr_job_id(job),
			dr_job_id(job), hint.buf);
		status = DR_EXIT_IO;
	} else {
		status = summary(store, dr_job_id(job), !azure, json);
	}
out:
	/* The provider first: its callbacks would find the job gone. */
	dr_provider_free(prov);
	dr_job_free(job);
	dr_progress_free(pr);
	dr_loop_free(loop);
	dr_store_free(store);
	json_decref(popts);
	json_decref(hdr);
	dr_strbuf_release(&plan_dir);
	dr_strbuf_release(&hint);
	dr_strbuf_release(&note);
	dr_diags_free(diags);
	dr_arena_free(a);
	fflush(stdout);
	return status;
}

/* ---- the five operation commands ---------------------------------------- */

static int run_op(const struct dr_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "recovery-point", required_argument, NULL, 'r' },
		{ "shutdown-source", no_argument, NULL, 'S' },
		{ "no-shutdown-source", no_argument, NULL, 'N' },
		{ "direction", required_argument, NULL, 'd' },
		{ "concurrency", required_argument, NULL, 'j' },
		{ "state", required_argument, NULL, 's' },
		{ "detach", no_argument, NULL, 'D' },
		{ "output", required_argument, NULL, 'o' },
		{ "unattended", no_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 },
	};
	struct dr_cli_run ro = { .copts = DR_COMPILE_OPTS_INIT };
	bool dry = false;
	int c;
	char *end;
	long n;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "j:o:", opts, NULL)) != -1) {
		switch (c) {
		case 'n': dry = true; break;
		case 'r':
			if (dr_cli_parse_rp(optarg, &ro.copts.rp))
				return dr_cli_usage_error(cmd, "empty --recovery-point");
			ro.copts.rp_set = true;
			break;
		case 'S': ro.copts.shutdown_source = 1; break;
		case 'N': ro.copts.shutdown_source = 0; break;
		case 'd':
			if (!strcmp(optarg, "to-azure"))
				ro.copts.direction = DR_DIR_TO_AZURE;
			else if (!strcmp(optarg, "to-onprem"))
				ro.copts.direction = DR_DIR_TO_ONPREM;
			else
				return dr_cli_usage_error(cmd,
					"--direction takes to-azure or to-onprem");
			break;
		case 'j':
			n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 100000)
				return dr_cli_usage_error(cmd,
					"--concurrency takes a number from 1 to 100000");
			ro.concurrency = (unsigned)n;
			break;
		case 's': ro.state = optarg; break;
		case 'D': ro.detach = true; break;
		case 'U':
			if (strcmp(cmd->name, "drill"))
				return dr_cli_usage_error(cmd, "--unattended is for drills: "
					"a %s's gates and manual steps always wait for people",
					cmd->name);
			ro.unattended = true;
			break;
		case 'o':
			if (!strcmp(optarg, "json"))
				ro.json = true;
			else if (strcmp(optarg, "text"))
				return dr_cli_usage_error(cmd, "--output takes text or json");
			break;
		default:
			return dr_cli_usage_error(cmd, "unknown option '%s'",
						  argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return dr_cli_usage_error(cmd, "expected one plan");
	if (dry) {
		if (ro.concurrency)
			ro.copts.concurrency = ro.concurrency;
		return dr_cli_plan_write(cmd, cmd->name, argv[optind], &ro.copts, false,
					 "auto", DR_GRAPH_TEXT, NULL);
	}
	return dr_cli_exec(cmd, cmd->name, argv[optind], &ro);
}

#define RUN_OPTIONS_HELP                                                          \
	"      --dry-run             print what `drplan plan OPERATION PLAN` prints;\n" \
	"                            touch nothing\n"                                   \
	"  -j, --concurrency N       machines in parallel per group\n"                  \
	"      --state SPEC          the state store: a directory or\n"                  \
	"                            azblob://ACCOUNT/CONTAINER[/PREFIX] (default:\n"    \
	"                            $DRPLAN_STATE, else $DRPLAN_STATE_DIR, else\n"      \
	"                            .drplan/state in the plan's git repository)\n"     \
	"      --detach              return (exit 5) when only gates and manual steps\n" \
	"                            wait; approve/continue, then `drplan job resume`\n" \
	"  -o, --output FMT          text (default: a live table on a terminal, one\n" \
	"                            line per event otherwise) or json (one event per\n" \
	"                            line, then a job-summary line)\n"

#define RUN_EXIT_HELP                                                              \
	"\nExit status: 0 succeeded, 1 the plan has errors (nothing ran), 2 usage,\n"   \
	"3 state store or I/O error, 4 the job failed, 5 waiting (--detach), 6 another\n" \
	"runner holds the plan, 7 cancelled or rejected, 130/143 interrupted by\n"      \
	"SIGINT/SIGTERM (resumable).\n"                                                 \
	"\nSimulator: DRPLAN_SIM_SCALE (default 0.001: 1000 times as fast as real\n"    \
	"time; 1 = real time), DRPLAN_SIM_FAULTS (faults, see docs/simulator.md).\n"   \
	"\nAzure (target.provider: azure; docs/azure.md): AZURE_TENANT_ID and\n"       \
	"AZURE_CLIENT_ID with AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or\n"  \
	"AZURE_FEDERATED_TOKEN_FILE; managed identity only with\n"                      \
	"AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential. AZURE_AUTHORITY_HOST,\n"    \
	"DRPLAN_ARM_ENDPOINT (sovereign clouds), DRPLAN_AZURE_OPTIONS (a JSON object\n" \
	"of provider options). Without credentials: exit 3, nothing runs.\n"

#define RP_HELP                                                                    \
	"      --recovery-point RP   latest, latest-processed, latest-app-consistent\n" \
	"                            or a recovery point id (overrides the plan)\n"

const struct dr_cmd dr_cmd_drill = {
	.name = "drill",
	.usage = "[OPTIONS] PLAN",
	.summary = "Run a drill: test failover, hooks, hold, cleanup (a job)",
	.help =
		"Validates PLAN and runs a test failover of every machine into the\n"
		"drill network, the hooks, the hold of drill.cleanup.after and the\n"
		"test-failover cleanup, verified. Production is not touched.\n\n"
		"Options:\n"
		"      --unattended          nobody watches (the scheduler's mode): manual\n"
		"                            steps and gates follow drill.unattended of the\n"
		"                            plan (auto-approve with its reason, or fail the\n"
		"                            drill, which still cleans up); default: wait\n"
		RP_HELP
		RUN_OPTIONS_HELP
		RUN_EXIT_HELP,
	.run = run_op,
};

const struct dr_cmd dr_cmd_failover = {
	.name = "failover",
	.usage = "[OPTIONS] PLAN",
	.summary = "Fail over to Azure, then wait at the commit gate and commit (a job)",
	.help =
		"Validates PLAN and fails every machine over to Azure (unplanned\n"
		"failover, after shutting the source down when asked), group by group,\n"
		"with the hooks; then waits at the commit gate for approval (`drplan job\n"
		"approve ID`; the recovery point can still be changed) and commits.\n"
		"The line \"POINT OF NO RETURN\" is printed before the first commit.\n\n"
		"Options:\n"
		RP_HELP
		"      --shutdown-source, --no-shutdown-source\n"
		"                            override the plan's shutdownSource\n"
		RUN_OPTIONS_HELP
		RUN_EXIT_HELP,
	.run = run_op,
};

const struct dr_cmd dr_cmd_commit = {
	.name = "commit",
	.usage = "[OPTIONS] PLAN",
	.summary = "Commit a failover (or, --direction to-onprem, a failback) (a job)",
	.help =
		"Waits at the commit gate, then commits the failover of every machine.\n"
		"Use it when a failover job was rejected at its gate and a decision to\n"
		"commit was taken later.\n\n"
		"Options:\n"
		"      --direction DIR       to-azure (default) or to-onprem (failback)\n"
		RUN_OPTIONS_HELP
		RUN_EXIT_HELP,
	.run = run_op,
};

const struct dr_cmd dr_cmd_reprotect = {
	.name = "reprotect",
	.usage = "[OPTIONS] PLAN",
	.summary = "Reverse replication after a failover or failback (a job)",
	.help =
		"Starts replication in the other direction for every machine: after a\n"
		"committed failover, from Azure to on-premises (--direction to-onprem,\n"
		"the default); after a committed failback, to Azure again\n"
		"(--direction to-azure).\n\n"
		"Options:\n"
		"      --direction DIR       to-onprem (default) or to-azure\n"
		RUN_OPTIONS_HELP
		RUN_EXIT_HELP,
	.run = run_op,
};

const struct dr_cmd dr_cmd_failback = {
	.name = "failback",
	.usage = "[OPTIONS] PLAN",
	.summary = "Fail back to on-premises, wait at the failback gate, commit (a job)",
	.help =
		"Planned failover from Azure back to on-premises for every machine\n"
		"(reprotected to on-premises first), then the failback-commit gate and\n"
		"the commit.\n\n"
		"Options:\n"
		RUN_OPTIONS_HELP
		RUN_EXIT_HELP,
	.run = run_op,
};
