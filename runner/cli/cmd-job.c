/*
 * cmd-job.c - `drplan job SUBCOMMAND`: list, show, follow and resume jobs,
 * and the requests people make to a running (or stopped) job: approve,
 * reject, cancel, retry, skip, continue, change-recovery-point.
 *
 * Requests go through dr_job_control(): appended to the job's control file
 * after a check against its journal, read by the running job within a
 * fraction of a second, or by the next `drplan job resume`.
 */
#include "cli.h"

#include "core/error.h"
#include "exec/job.h"
#include "gate/approval.h"
#include "journal/journal.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct job_args {
	const char *state;
	const char *format;   /* --format / --output: text or json */
	const char *gate;
	const char *comment;
	const char *by;
	const char *point;
	const char *reason;
	const char *key;      /* --key: approver's private key (signed approvals) */
	bool detach;
	char **pos;           /* positional arguments after the subcommand */
	int npos;
};

struct sub {
	const char *name;
	const char *usage;
	const char *opts;     /* option letters it takes */
	int minpos, maxpos;
	int (*run)(const struct dr_cmd *cmd, const struct sub *sub, struct job_args *ja);
};

static int sub_usage(const struct dr_cmd *cmd, const struct sub *sub, const char *msg)
{
	fprintf(stderr, "drplan job %s: %s\nusage: drplan job %s %s\n"
			"Run 'drplan job --help' for more.\n",
		sub->name, msg, sub->name, sub->usage);
	(void)cmd;
	return DR_EXIT_USAGE;
}

static int open_store(const struct sub *sub, struct job_args *ja, dr_store **s)
{
	char name[64];

	snprintf(name, sizeof(name), "job %s", sub->name);
	return dr_cli_open_store(name, ja->state, ".", false, s);
}

/* Unix ms as "YYYY-MM-DD HH:MM:SS" (UTC), or "HH:MM:SS" when short. */
static void fmt_time(int64_t ms, bool date, char *buf, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms) {
		snprintf(buf, n, "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, n, date ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &tm);
}

static const char *sget(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : "";
}

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2));

	if (s)
		printf("%s\n", s);
	free(s);
}

/* ---- list ---------------------------------------------------------------- */

struct list_ctx {
	dr_store *s;
	json_t *rows;
};

static int list_cb(void *ctx, const char *job_id, json_t *header, int err)
{
	struct list_ctx *lc = ctx;
	json_t *row = json_pack("{s:s}", "job", job_id), *doc = NULL;

	if (header) {
		json_object_set(row, "plan", json_object_get(header, "plan"));
		json_object_set(row, "operation", json_object_get(header, "operation"));
		json_object_set(row, "started", json_object_get(header, "time"));
	}
	if (err < 0 || !header) {
		json_object_set_new(row, "status", json_string("unreadable"));
		json_object_set_new(row, "error", json_string(dr_error_msg()));
	} else if (dr_job_status(lc->s, job_id, &doc) < 0) {
		json_object_set_new(row, "status", json_string("corrupt"));
		json_object_set_new(row, "error", json_string(dr_error_msg()));
	} else {
		json_object_set(row, "status", json_object_get(doc, "status"));
		if (json_object_get(doc, "duration_ms"))
			json_object_set(row, "duration_ms", json_object_get(doc, "duration_ms"));
		json_decref(doc);
	}
	json_array_append_new(lc->rows, row);
	return 0;
}

static int by_start(const void *a, const void *b)
{
	json_t *const *x = a, *const *y = b;
	int c = strcmp(sget(*x, "started"), sget(*y, "started"));

	return c ? c : strcmp(sget(*x, "job"), sget(*y, "job"));
}

/* Oldest first, like a log. */
static void sort_rows(json_t *rows)
{
	size_t n = json_array_size(rows), i;
	json_t **v = calloc(n ? n : 1, sizeof(*v));

	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(rows, i));
	qsort(v, n, sizeof(*v), by_start);
	json_array_clear(rows);
	for (i = 0; i < n; i++)
		json_array_append_new(rows, v[i]);
	free(v);
}

static int job_list(const struct dr_cmd *cmd, const struct sub *sub, struct job_args *ja)
{
	struct list_ctx lc = { NULL, json_array() };
	size_t i;
	json_t *r;
	int status;

	if ((status = open_store(sub, ja, &lc.s))) {
		json_decref(lc.rows);
		return status;
	}
	if (dr_jobs_list(lc.s, list_cb, &lc) < 0) {
		fprintf(stderr, "drplan job list: error: %s\n", dr_error_msg());
		status = DR_EXIT_IO;
		goto out;
	}
	sort_rows(lc.rows);
	if (!strcmp(ja->format, "json")) {
		print_json(lc.rows);
	} else if (!json_array_size(lc.rows)) {
		printf("no jobs in state store %s\n", dr_store_spec(lc.s));
	} else {
		printf("%-40s %-12s %-10s %-10s %-20s %s\n", "JOB", "PLAN", "OPERATION",
		       "STATUS", "STARTED (UTC)", "DURATION");
		json_array_foreach(lc.rows, i, r) {
			char started[24] = "-", dur[32] = "-";
			const char *t = sget(r, "started");

			if (strlen(t) >= 19) {
				snprintf(started, sizeof(started), "%.10s %.8s", t, t + 11);
			}
			if (json_object_get(r, "duration_ms"))
				dr_cli_fmt_ms(json_integer_value(json_object_get(r,
								"duration_ms")),
					      dur, sizeof(dur));
			printf("%-40s %-12s %-10s %-10s %-20s %s\n", sget(r, "job"),
			       sget(r, "plan"), sget(r, "operation"), sget(r, "status"),
			       started, dur);
		}
	}
out:
	(void)cmd;
	json_decref(lc.rows);
	dr_store_free(lc.s);
	return status;
}

/* ---- show ---------------------------------------------------------------- */

static int job_show(const struct dr_cmd *cmd, const struct sub *sub, struct job_args *ja)
{
	const char *id = ja->pos[0], *k;
	dr_journal_replay_info info;
	dr_store *s;
	json_t *doc = NULL, *hdr = NULL, *v, *st;
	char a[32], b[32], c[32];
	int status, rc;
	size_t i;

	(void)cmd;
	if ((status = open_store(sub, ja, &s)))
		return status;
	if ((status = dr_cli_job_header("job show", s, id, &hdr)))
		goto out;
	/* Verify the whole journal first: corruption names the record. */
	rc = dr_journal_replay(s, id, NULL, NULL, &info);
	if (rc == 0)
		rc = dr_job_status(s, id, &doc);
	if (rc < 0) {
		fprintf(stderr, "drplan job show: error: %s\n", dr_error_msg());
		status = DR_EXIT_IO;
		goto out;
	}
	json_object_set_new(doc, "journal",
			    json_pack("{s:I,s:I,s:b}", "records", (json_int_t)info.records,
				      "bytes", (json_int_t)info.total_size, "clean", !info.torn));
	if (json_object_get(hdr, "plan_path"))
		json_object_set(doc, "plan_path", json_object_get(hdr, "plan_path"));
	if (!strcmp(ja->format, "json")) {
		json_object_del(doc, "control_offset");
		print_json(doc);
		goto out;
	}
	printf("job        %s\n", id);
	printf("plan       %s", sget(doc, "plan"));
	if (json_object_get(hdr, "plan_path"))
		printf(" (%s)", sget(hdr, "plan_path"));
	printf("\noperation  %s (%s)\n", sget(doc, "operation"), sget(doc, "direction"));
	printf("status     %s\n", sget(doc, "status"));
	if (*sget(doc, "message"))
		printf("message    %s\n", sget(doc, "message"));
	printf("started    %.10s %.8s UTC by %s\n", sget(hdr, "time"),
	       strlen(sget(hdr, "time")) >= 19 ? sget(hdr, "time") + 11 : "",
	       sget(doc, "by"));
	if ((v = json_object_get(doc, "duration_ms"))) {
		dr_cli_fmt_ms(json_integer_value(v), a, sizeof(a));
		printf("duration   %s (provider time)\n", a);
	}
	if ((v = json_object_get(doc, "rto_ms")) && json_integer_value(v) > 0) {
		dr_cli_fmt_ms(json_integer_value(v), a, sizeof(a));
		printf("RTO        %s\n", a);
	}
	if (json_object_size(json_object_get(doc, "rpo"))) {
		printf("RPO       ");
		json_object_foreach(json_object_get(doc, "rpo"), k, v) {
			dr_cli_fmt_ms(json_integer_value(v) * 1000, a, sizeof(a));
			printf(" %s %s", k, a);
		}
		printf("\n");
	}
	if (json_is_true(json_object_get(doc, "unattended")))
		printf("mode       unattended (drill.unattended decides manual steps and gates)\n");
	printf("steps      %lld:", (long long)json_integer_value(json_object_get(doc, "steps_total")));
	json_object_foreach(json_object_get(doc, "counts"), k, v)
		printf(" %lld %s", (long long)json_integer_value(v), k);
	printf("\n");
	if (info.torn)
		printf("journal    %llu records; torn tail: %llu bytes at offset %llu (%s), "
		       "dropped by the next resume\n", (unsigned long long)info.records,
		       (unsigned long long)info.torn_bytes,
		       (unsigned long long)info.torn_offset, info.torn_reason);
	else
		printf("journal    %llu records, clean\n", (unsigned long long)info.records);

	printf("\n%-44s %-10s %3s  %-8s  %-8s  %s\n", "STEP", "STATE", "TRY", "START",
	       "END", "DURATION");
	json_object_foreach(json_object_get(doc, "steps"), k, st) {
		int64_t s0 = json_integer_value(json_object_get(st, "started"));
		int64_t s1 = json_integer_value(json_object_get(st, "ended"));
		json_t *errs = json_object_get(st, "errors");

		fmt_time(s0, false, a, sizeof(a));
		fmt_time(s1, false, b, sizeof(b));
		if (s0 && s1)
			dr_cli_fmt_ms(s1 - s0, c, sizeof(c));
		else
			strcpy(c, "-");
		printf("%-44s %-10s %3lld  %-8s  %-8s  %s\n", k, sget(st, "state"),
		       (long long)json_integer_value(json_object_get(st, "attempt")) + 1,
		       a, b, c);
		/* Policy decisions of unattended drills are shown even when
		 * they passed the step: they stand in for a person. */
		if (*sget(st, "message") && (strcmp(sget(st, "state"), "succeeded") ||
					     json_object_get(st, "unattended")))
			printf("    %s\n", sget(st, "message"));
		if (json_is_array(errs))
			json_array_foreach(errs, i, v) {
				if (json_is_string(v))
					printf("    error: %s\n", json_string_value(v));
				else if (json_is_object(v))
					printf("    error %s: %s\n", sget(v, "code"), sget(v, "message"));
			}
	}
	json_object_foreach(json_object_get(doc, "gates"), k, v) {
		json_t *ap;

		printf("\n%s:", k);
		if (!json_array_size(json_object_get(v, "approvals")))
			printf(" no approvals");
		printf("\n");
		json_array_foreach(json_object_get(v, "approvals"), i, ap) {
			/* A signed approval carries its comment inside the document. */
			json_t *sig = json_object_get(ap, "signature");
			json_t *sd = json_is_string(sig) ? json_loads(json_string_value(sig), 0, NULL)
				     : json_incref(json_is_object(sig) ? sig : NULL);
			const char *comment = *sget(ap, "comment") ? sget(ap, "comment")
					      : sget(sd, "comment");

			printf("  approved by %s at %s%s%s%s\n", sget(ap, "by"), sget(ap, "time"),
			       sd ? " (signed)" : "", *comment ? ": " : "", comment);
			json_decref(sd);
		}
	}
	if (json_array_size(json_object_get(doc, "notifications"))) {
		printf("\nnotifications:\n");
		json_array_foreach(json_object_get(doc, "notifications"), i, v)
			printf("  %s\n", sget(v, "message"));
	}
	if (json_array_size(json_object_get(doc, "warnings"))) {
		printf("\nwarnings:\n");
		json_array_foreach(json_object_get(doc, "warnings"), i, v)
			printf("  %s\n", json_is_string(v) ? json_string_value(v)
			       : sget(v, "message"));
	}
out:
	json_decref(doc);
	json_decref(hdr);
	dr_store_free(s);
	return status;
}

/* ---- follow -------------------------------------------------------------- */

struct follow_ctx {
	uint64_t shown;
	bool json;
	bool ended;
	char status[16];
};

static int follow_cb(void *ctx, uint64_t seq, const char *type, json_t *rec)
{
	struct follow_ctx *fc = ctx;
	const char *t = sget(rec, "time");
	char tm[9] = "";

	if (seq <= fc->shown)
		return 0;
	fc->shown = seq;
	if (!strcmp(type, "job-end")) {
		fc->ended = true;
		snprintf(fc->status, sizeof(fc->status), "%s", sget(rec, "status"));
	}
	if (fc->json) {
		char *s = json_dumps(rec, JSON_COMPACT);

		printf("%s\n", s);
		free(s);
		return 0;
	}
	if (strlen(t) >= 19)
		snprintf(tm, sizeof(tm), "%.8s", t + 11);
	if (!strcmp(type, "step")) {
		const char *to = sget(rec, "to");

		if (!strcmp(to, "ready"))
			return 0;
		printf("%s %s %s", tm, sget(rec, "step"), to);
		if (!strcmp(to, "running"))
			printf(" (attempt %lld)",
			       (long long)json_integer_value(json_object_get(rec, "attempt")) + 1);
		if (*sget(rec, "message"))
			printf(": %s", sget(rec, "message"));
		printf("\n");
	} else if (!strcmp(type, "job")) {
		printf("%s job %s: %s of plan %s\n", tm, sget(rec, "job"),
		       sget(rec, "operation"), sget(rec, "plan"));
	} else if (!strcmp(type, "job-end")) {
		printf("%s job %s%s%s\n", tm, sget(rec, "status"),
		       *sget(rec, "message") ? ": " : "", sget(rec, "message"));
	} else if (!strcmp(type, "point-of-no-return")) {
		printf("%s POINT OF NO RETURN at %s\n", tm, sget(rec, "step"));
	} else if (!strcmp(type, "accepted")) {
		printf("%s %s: operation %s accepted\n", tm, sget(rec, "step"), sget(rec, "op_id"));
	} else if (!strcmp(type, "intent") || !strcmp(type, "finished")) {
		return 0; /* the step records say it better */
	} else if (!strcmp(type, "warning")) {
		printf("%s warning: %s\n", tm, sget(rec, "message"));
	} else {
		printf("%s %s%s%s\n", tm, type, *sget(rec, "step") ? " " : "", sget(rec, "step"));
	}
	return 0;
}

static int job_follow(const struct dr_cmd *cmd, const struct sub *sub, struct job_args *ja)
{
	struct follow_ctx fc = { 0, !strcmp(ja->format, "json"), false, "" };
	dr_journal_replay_info info;
	dr_store *s;
	json_t *hdr = NULL;
	int status, rc;

	(void)cmd;
	if ((status = open_store(sub, ja, &s)))
		return status;
	if ((status = dr_cli_job_header("job follow", s, ja->pos[0], &hdr)))
		goto out;
	/* Polling the store is all a reader on another host could do too. */
	for (;;) {
		rc = dr_journal_replay(s, ja->pos[0], follow_cb, &fc, &info);
		fflush(stdout);
		if (rc < 0) {
			fprintf(stderr, "drplan job follow: error: %s\n", dr_error_msg());
			status = DR_EXIT_IO;
			break;
		}
		if (fc.ended) {
			status = !strcmp(fc.status, "succeeded") ? DR_EXIT_OK
				 : !strcmp(fc.status, "failed") ? DR_EXIT_FAILED
				 : DR_EXIT_CANCELLED;
			break;
		}
		usleep(300 * 1000);
	}
out:
	json_decref(hdr);
	dr_store_free(s);
	return status;
}

/* ---- resume -------------------------------------------------------------- */

static int job_resume(const struct dr_cmd *cmd, const struct sub *sub, struct job_args *ja)
{
	struct dr_cli_run ro = { .copts = DR_COMPILE_OPTS_INIT };
	const char *id = ja->pos[0], *plan, *op, *rp, *dir;
	dr_store *s = NULL;
	json_t *hdr = NULL, *cli;
	char storedir[4096];
	int status;

	(void)cmd;
	if ((status = open_store(sub, ja, &s)))
		return status;
	snprintf(storedir, sizeof(storedir), "%s", dr_store_spec(s));
	status = dr_cli_job_header("job resume", s, id, &hdr);
	dr_store_free(s);
	if (status)
		return status;
	plan = ja->npos > 1 ? ja->pos[1] : json_string_value(json_object_get(hdr, "plan_path"));
	op = json_string_value(json_object_get(hdr, "operation"));
	if (!plan || !op) {
		json_decref(hdr);
		return sub_usage(cmd, sub, "the job's journal does not name its plan file: "
				 "give the plan as the second argument");
	}
	/* Compile exactly what the job was started with. */
	cli = json_object_get(hdr, "cli");
	if ((rp = json_string_value(json_object_get(cli, "recovery_point")))) {
		dr_cli_parse_rp(rp, &ro.copts.rp);
		ro.copts.rp_set = true;
	}
	if (json_is_integer(json_object_get(cli, "shutdown_source")))
		ro.copts.shutdown_source =
			(int)json_integer_value(json_object_get(cli, "shutdown_source"));
	dir = json_string_value(json_object_get(hdr, "direction"));
	if (dir && !strcmp(dir, "to-azure"))
		ro.copts.direction = DR_DIR_TO_AZURE;
	else if (dir && !strcmp(dir, "to-onprem"))
		ro.copts.direction = DR_DIR_TO_ONPREM;
	ro.concurrency = (unsigned)json_integer_value(json_object_get(cli, "concurrency"));
	ro.state = storedir;
	ro.detach = ja->detach;
	ro.json = !strcmp(ja->format, "json");
	ro.resume_id = id;
	ro.header = hdr;
	status = dr_cli_exec(&dr_cmd_job, op, plan, &ro);
	json_decref(hdr);
	return status;
}

/* ---- requests ------------------------------------------------------------ */

/* The gate a decision is for: --gate, else the one that waits (or NULL). */
static const char *decision_gate(dr_store *s, const char *id, const char *gate,
				 char *buf, size_t n)
{
	json_t *doc = NULL, *st;
	const char *k;

	if (gate)
		return !strncmp(gate, "gate/", 5) ? gate + 5 : gate;
	if (dr_job_status(s, id, &doc) < 0)
		return NULL;
	json_object_foreach(json_object_get(doc, "steps"), k, st) {
		if (!strcmp(sget(st, "kind"), "gate") && !strcmp(sget(st, "state"), "waiting") &&
		    !strncmp(k, "gate/", 5)) {
			snprintf(buf, n, "%s", k + 5);
			json_decref(doc);
			return buf;
		}
	}
	json_decref(doc);
	return NULL;
}

/*
 * approve/reject: when the plan's gate names approver keys, only a signed
 * decision counts (docs/approvals.md): sign it with --key (or
 * $DRPLAN_APPROVAL_KEY) over the plan as it is on disk now. Returns 0 or
 * an exit status.
 */
static int sign_decision(const struct sub *sub, struct job_args *ja, dr_store *s,
			 const char *id, json_t *hdr, json_t *req)
{
	const char *plan_path = json_string_value(json_object_get(hdr, "plan_path"));
	const char *key = ja->key ? ja->key : getenv("DRPLAN_APPROVAL_KEY");
	const char *user = getenv("USER");
	char by[300], host[256];
	const dr_gate *g;
	dr_arena *a;
	dr_diags *d;
	dr_plan *p = NULL;
	char gbuf[64], *doc = NULL;
	const char *gate;
	int status = 0;

	if (key && !*key)
		key = NULL;
	if (!plan_path)
		return 0; /* the executor decides */
	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	/* The signed "by" is what counts; default like the executor's. */
	snprintf(by, sizeof(by), "%s@%s", user && *user ? user : "unknown", host);
	gate = decision_gate(s, id, ja->gate, gbuf, sizeof(gbuf));
	if (!gate)
		return 0; /* no gate waits: dr_job_control() says so */
	a = dr_arena_new();
	d = dr_diags_new();
	if (dr_plan_load(a, plan_path, NULL, d, &p) || !p) {
		fprintf(stderr, "drplan job %s: cannot load the job's plan %s to sign the "
			"decision\n", sub->name, plan_path);
		status = DR_EXIT_IO;
		goto out;
	}
	g = !strcmp(gate, "failback-commit") ? &p->failback_gate : &p->commit_gate;
	if (!g->approvers.n) {
		if (key)
			fprintf(stderr, "drplan job %s: note: gate %s names no approver keys; "
				"--key is not needed\n", sub->name, gate);
		goto out;
	}
	if (!key) {
		fprintf(stderr, "drplan job %s: gate %s of plan %s takes signed decisions "
			"only (approvers: %s%s): give your private key with --key FILE or "
			"$DRPLAN_APPROVAL_KEY\n", sub->name, gate, sget(hdr, "plan"),
			g->approvers.v[0], g->approvers.n > 1 ? ", ..." : "");
		status = DR_EXIT_USAGE;
		goto out;
	}
	if (dr_approval_for_job(key, p, id, gate, !strcmp(sub->name, "reject")
				? DR_APPROVAL_REJECT : DR_APPROVAL_APPROVE,
				ja->by ? ja->by : by, ja->comment, &doc) < 0) {
		fprintf(stderr, "drplan job %s: %s\n", sub->name, dr_error_msg());
		status = DR_EXIT_REFUSED;
		goto out;
	}
	json_object_set_new(req, "signature", json_string(doc));
	json_object_set_new(req, "gate", json_string(gate));
out:
	free(doc);
	dr_diags_free(d);
	dr_arena_free(a);
	return status;
}

static int job_request(const struct dr_cmd *cmd, const struct sub *sub, struct job_args *ja)
{
	const char *id = ja->pos[0];
	json_t *req = json_pack("{s:s}", "action", sub->name), *hdr = NULL;
	dr_store *s;
	int status, rc;

	(void)cmd;
	if (!strcmp(sub->name, "change-recovery-point")) {
		if (!ja->point) {
			json_decref(req);
			return sub_usage(cmd, sub, "--point is required");
		}
		json_object_set_new(req, "machine", json_string(ja->pos[1]));
		json_object_set_new(req, "point", json_string(ja->point));
	} else if (ja->npos > 1) {
		json_object_set_new(req, "step", json_string(ja->pos[1]));
	}
	if (ja->gate)
		json_object_set_new(req, "gate", json_string(ja->gate));
	if (ja->comment)
		json_object_set_new(req, "comment", json_string(ja->comment));
	if (ja->by)
		json_object_set_new(req, "by", json_string(ja->by));
	if (ja->reason)
		json_object_set_new(req, "reason", json_string(ja->reason));
	if ((status = open_store(sub, ja, &s))) {
		json_decref(req);
		return status;
	}
	if ((status = dr_cli_job_header("job", s, id, &hdr)))
		goto out;
	if ((!strcmp(sub->name, "approve") || !strcmp(sub->name, "reject")) &&
	    (status = sign_decision(sub, ja, s, id, hdr, req)))
		goto out;
	rc = dr_job_control(s, id, req);
	if (rc < 0) {
		fprintf(stderr, "drplan job %s: %s\n", sub->name, dr_error_msg());
		status = rc == DR_ENOTFOUND ? DR_EXIT_IO
			 : rc == DR_EINVAL ? DR_EXIT_REFUSED : DR_EXIT_IO;
		goto out;
	}
	printf("%s: request recorded for job %s; a running job acts on it within a "
	       "second, a stopped one when resumed (drplan job resume %s)\n",
	       sub->name, id, id);
out:
	json_decref(hdr);
	json_decref(req);
	dr_store_free(s);
	return status;
}

static const struct sub subs[] = {
	{ "list", "[--state SPEC] [--format text|json]", "sf", 0, 0, job_list },
	{ "show", "[--state SPEC] [--format text|json] ID", "sf", 1, 1, job_show },
	{ "follow", "[--state SPEC] [--format text|json] ID", "sf", 1, 1, job_follow },
	{ "resume", "[--state SPEC] [--detach] [--output text|json] ID [PLAN]", "sDo", 1, 2,
	  job_resume },
	{ "approve", "[--state SPEC] [--key FILE] [--gate G] [--comment TEXT] [--by WHO] ID",
	  "sgcbk", 1, 1, job_request },
	{ "reject", "[--state SPEC] [--key FILE] [--gate G] [--comment TEXT] [--by WHO] ID",
	  "sgcbk", 1, 1, job_request },
	{ "cancel", "[--state SPEC] [--reason TEXT] [--by WHO] ID", "srb", 1, 1, job_request },
	{ "retry", "[--state SPEC] [--by WHO] ID STEP", "sb", 2, 2, job_request },
	{ "skip", "[--state SPEC] [--by WHO] ID STEP", "sb", 2, 2, job_request },
	{ "continue", "[--state SPEC] [--by WHO] ID STEP", "sb", 2, 2, job_request },
	{ "change-recovery-point", "[--state SPEC] [--by WHO] ID MACHINE --point P", "spb",
	  2, 2, job_request },
};

static int run(const struct dr_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "detach", no_argument, NULL, 'D' },
		{ "gate", required_argument, NULL, 'g' },
		{ "comment", required_argument, NULL, 'c' },
		{ "by", required_argument, NULL, 'b' },
		{ "point", required_argument, NULL, 'p' },
		{ "reason", required_argument, NULL, 'r' },
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	struct job_args ja = { .format = "text" };
	const struct sub *sub = NULL;
	size_t i;
	int c;

	if (argc < 2)
		return dr_cli_usage_error(cmd, "which job command? (list, show, follow, "
					  "resume, approve, reject, cancel, retry, skip, "
					  "continue, change-recovery-point)");
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(subs[i].name, argv[1]))
			sub = &subs[i];
	if (!sub)
		return dr_cli_usage_error(cmd, "unknown job command '%s'", argv[1]);
	argc--;
	argv++;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:f:", opts, NULL)) != -1) {
		bool fmt = c == 'f' || c == 'o';

		if (c == '?' || !(strchr(sub->opts, c) ||
				  (fmt && (strchr(sub->opts, 'f') || strchr(sub->opts, 'o'))))) {
			char msg[128];

			snprintf(msg, sizeof(msg), "option '%s' does not apply",
				 argv[optind - 1]);
			return sub_usage(cmd, sub, msg);
		}
		switch (c) {
		case 's': ja.state = optarg; break;
		case 'f':
		case 'o':
			if (strcmp(optarg, "text") && strcmp(optarg, "json"))
				return sub_usage(cmd, sub, "the format is text or json");
			ja.format = optarg;
			break;
		case 'D': ja.detach = true; break;
		case 'g': ja.gate = optarg; break;
		case 'c': ja.comment = optarg; break;
		case 'b': ja.by = optarg; break;
		case 'p': ja.point = optarg; break;
		case 'r': ja.reason = optarg; break;
		case 'k': ja.key = optarg; break;
		default: break;
		}
	}
	ja.pos = argv + optind;
	ja.npos = argc - optind;
	if (ja.npos < sub->minpos || ja.npos > sub->maxpos)
		return sub_usage(cmd, sub, ja.npos < sub->minpos ? "missing argument"
				 : "too many arguments");
	return sub->run(cmd, sub, &ja);
}

const struct dr_cmd dr_cmd_job = {
	.name = "job",
	.usage = "list|show|follow|resume|approve|reject|cancel|retry|skip|continue|"
		 "change-recovery-point [OPTIONS] [ID [ARG]]",
	.summary = "List, show, follow, resume and steer jobs",
	.help =
		"  job list [--format json]             every job of the state store\n"
		"  job show ID [--format json]          steps with states, attempts, times,\n"
		"                                       errors; gates; the journal's health\n"
		"  job follow ID                        print the job's journal as it grows\n"
		"                                       until the job ends\n"
		"  job resume ID [PLAN] [--detach] [--output json]\n"
		"                                       carry on a stopped job (after a crash,\n"
		"                                       ^C or --detach); PLAN defaults to the\n"
		"                                       file the job was started with\n"
		"  job approve ID [--key FILE] [--gate G] [--comment TEXT] [--by WHO]\n"
		"  job reject ID [--key FILE] [--gate G] [--comment TEXT] [--by WHO]\n"
		"                                       a gate whose plan names approver keys\n"
		"                                       takes decisions signed with an\n"
		"                                       approver's Ed25519 private key (--key\n"
		"                                       or $DRPLAN_APPROVAL_KEY)\n"
		"  job cancel ID [--reason TEXT]        start no new step; wait for failovers\n"
		"                                       in flight; end cancelled\n"
		"  job retry ID STEP                    run a failed or cancelled step again\n"
		"  job skip ID STEP                     mark a failed step skipped\n"
		"  job continue ID STEP                 a manual step is done\n"
		"  job change-recovery-point ID MACHINE --point P\n"
		"                                       at the commit gate: fail over to\n"
		"                                       another recovery point\n\n"
		"Every command takes --state SPEC, a directory or\n"
		"azblob://ACCOUNT/CONTAINER[/PREFIX] (default: $DRPLAN_STATE, else\n"
		"$DRPLAN_STATE_DIR, else .drplan/state in the current directory's git\n"
		"repository).\n"
		"Requests are checked against the journal, then recorded; a running job\n"
		"acts on them within a second, a stopped one when resumed.\n\n"
		"Exit status: 0 ok, 2 usage, 3 no such job, no state store, or a corrupt\n"
		"journal, 8 the job's state does not accept the request; resume and\n"
		"follow: as for the operation commands (4 failed, 5 waiting, 6 locked,\n"
		"7 cancelled or rejected).\n",
	.run = run,
};
