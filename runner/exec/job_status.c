/*
 * job_status.c - a job's journal replayed into a status document, and the
 * control file other processes write requests into.
 *
 * The same replay serves `drplan job show` and dr_job_resume(): the
 * executor rebuilds its state from exactly what the status shows, so the
 * two can never disagree about what happened.
 */
#include "exec/job_int.h"

#include "core/error.h"
#include "core/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void dr_job__control_key(const char *job_id, dr_strbuf *out)
{
	dr_strbuf_reset(out);
	dr_strbuf_addf(out, "jobs/%s/control", job_id);
}

void dr_job__whoami(char *buf, size_t n)
{
	const char *user = getenv("USER");
	char host[256];

	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, n, "%s@%s", user && *user ? user : "unknown", host);
}

/* ---- replay ------------------------------------------------------------ */

static json_t *obj_at(json_t *parent, const char *key)
{
	json_t *o = json_object_get(parent, key);

	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(parent, key, o);
	}
	return o;
}

static json_t *arr_at(json_t *parent, const char *key)
{
	json_t *a = json_object_get(parent, key);

	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(parent, key, a);
	}
	return a;
}

static void copy_field(json_t *to, const char *key, json_t *from)
{
	json_t *v = json_object_get(from, key);

	if (v)
		json_object_set(to, key, v);
}

static json_t *step_of(json_t *doc, json_t *rec)
{
	const char *id = json_string_value(json_object_get(rec, "step"));
	json_t *steps = obj_at(doc, "steps"), *st;

	if (!id)
		return NULL;
	st = json_object_get(steps, id);
	if (!st) {
		st = json_pack("{s:s,s:i}", "state", "pending", "attempt", 0);
		json_object_set_new(steps, id, st);
	}
	return st;
}

static bool state_terminal_name(const char *s)
{
	return !strcmp(s, "succeeded") || !strcmp(s, "failed") ||
	       !strcmp(s, "skipped") || !strcmp(s, "cancelled");
}

void dr_job__apply(json_t *doc, const char *type, json_t *rec)
{
	json_t *st = step_of(doc, rec);
	json_t *pt = json_object_get(rec, "pt");

	if (!strcmp(type, "job")) {
		copy_field(doc, "job", rec);
		copy_field(doc, "plan", rec);
		copy_field(doc, "operation", rec);
		copy_field(doc, "direction", rec);
		json_object_set(doc, "steps_total", json_object_get(rec, "nsteps"));
		copy_field(doc, "digest", rec);
		copy_field(doc, "plan_digest", rec);
		copy_field(doc, "by", rec);
		copy_field(doc, "unattended", rec);
		if (pt)
			json_object_set(doc, "started", pt);
		json_object_set_new(doc, "status", json_string("running"));
		obj_at(doc, "steps");
		obj_at(doc, "gates");
		arr_at(doc, "warnings");
		obj_at(doc, "rpo");
		json_object_set_new(doc, "control_offset", json_integer(0));
		json_object_set_new(doc, "cancel_requested", json_false());
	} else if (!strcmp(type, "step") && st) {
		const char *to = json_string_value(json_object_get(rec, "to"));

		if (!to)
			return;
		json_object_set_new(st, "state", json_string(to));
		copy_field(st, "attempt", rec);
		copy_field(st, "kind", rec);
		copy_field(st, "machine", rec);
		copy_field(st, "point", rec);
		if (json_object_get(rec, "message"))
			copy_field(st, "message", rec);
		if (!strcmp(to, "running") || !strcmp(to, "waiting")) {
			if (pt)
				json_object_set(st, "started", pt);
			json_object_del(st, "ended");
		}
		if (state_terminal_name(to) && pt)
			json_object_set(st, "ended", pt);
		if (!strcmp(to, "ready"))
			json_object_del(st, "message");
	} else if (!strcmp(type, "intent") && st) {
		json_object_set_new(st, "op_state", json_string("intent"));
		copy_field(st, "op", rec);
		copy_field(st, "crid", rec);
		copy_field(st, "params", rec);
		json_object_set(st, "intent_pt", pt ? pt : json_null());
		json_object_del(st, "op_id");
	} else if ((!strcmp(type, "accepted") || !strcmp(type, "adopted")) && st) {
		json_object_set_new(st, "op_state", json_string("accepted"));
		copy_field(st, "op_id", rec);
		if (!strcmp(type, "adopted"))
			json_object_set(st, "adopted", json_object_get(rec, "why"));
	} else if (!strcmp(type, "reconciled") && st) {
		const char *r = json_string_value(json_object_get(rec, "result"));

		if (r && strcmp(r, "adopted"))
			json_object_set_new(st, "op_state", json_string("none"));
		copy_field(st, "reconciled", rec);
	} else if (!strcmp(type, "finished") && st) {
		json_t *id = json_object_get(rec, "op_id");

		json_object_set_new(st, "op_state", json_string("finished"));
		if (json_is_string(id))
			json_array_append(arr_at(st, "done_ops"), id);
		copy_field(st, "op_id", rec);
		copy_field(st, "op_status", rec);
		copy_field(st, "errors", rec);
		copy_field(st, "point", rec);
		copy_field(st, "rpo_s", rec);
		copy_field(st, "op_start", rec);
		copy_field(st, "op_end", rec);
		if (json_object_get(rec, "rpo_s") && json_object_get(rec, "machine"))
			json_object_set(obj_at(doc, "rpo"),
					json_string_value(json_object_get(rec, "machine")),
					json_object_get(rec, "rpo_s"));
	} else if (!strcmp(type, "target") && st) {
		/* The target-settings update before an azure (test) failover. */
		json_t *t = json_object();

		copy_field(t, "state", rec);
		copy_field(t, "attempt", rec);
		copy_field(t, "message", rec);
		json_object_set_new(st, "target", t);
	} else if (!strcmp(type, "hook") && st) {
		json_t *h = json_object();

		copy_field(h, "status", rec);
		copy_field(h, "message", rec);
		copy_field(h, "outputs", rec);
		copy_field(h, "log", rec);
		json_object_set_new(st, "hook", h);
	} else if (!strcmp(type, "approval") || !strcmp(type, "gate")) {
		const char *g = json_string_value(json_object_get(rec, "gate"));
		json_t *go;

		if (!g)
			return;
		go = obj_at(obj_at(doc, "gates"), g);
		if (!strcmp(type, "approval")) {
			json_t *a = json_object();

			copy_field(a, "by", rec);
			copy_field(a, "comment", rec);
			copy_field(a, "key", rec);
			copy_field(a, "signature", rec);
			copy_field(a, "time", rec);
			json_array_append_new(arr_at(go, "approvals"), a);
		} else {
			const char *ev = json_string_value(json_object_get(rec, "event"));

			if (!ev)
				return;
			if (!strcmp(ev, "waiting")) {
				json_object_set(go, "waiting_since", pt ? pt : json_null());
				copy_field(go, "needed", rec);
				copy_field(go, "step", rec);
			} else if (!strcmp(ev, "reset")) {
				json_object_del(go, "approvals");
				json_object_del(go, "rejected");
			} else if (!strcmp(ev, "rejected")) {
				json_object_set(go, "rejected", rec);
			}
			copy_field(go, "checks", rec);
		}
	} else if (!strcmp(type, "control")) {
		copy_field(doc, "control_offset", rec);
		if (json_is_string(json_object_get(rec, "result")) &&
		    !strcmp(json_string_value(json_object_get(rec, "result")),
			    "accepted") &&
		    json_object_get(rec, "request")) {
			json_t *rq = json_object_get(rec, "request");
			const char *a = json_string_value(json_object_get(rq, "action"));

			if (a && !strcmp(a, "cancel"))
				json_object_set_new(doc, "cancel_requested", json_true());
		}
	} else if (!strcmp(type, "warning")) {
		json_t *w = json_object();

		copy_field(w, "message", rec);
		copy_field(w, "step", rec);
		copy_field(w, "time", rec);
		json_array_append_new(arr_at(doc, "warnings"), w);
	} else if (!strcmp(type, "job-end")) {
		copy_field(doc, "status", rec);
		copy_field(doc, "message", rec);
		copy_field(doc, "rto_ms", rec);
		copy_field(doc, "duration_ms", rec);
		if (pt)
			json_object_set(doc, "ended", pt);
	} else if (!strcmp(type, "job-reopen")) {
		json_object_set_new(doc, "status", json_string("running"));
		json_object_del(doc, "ended");
		json_object_del(doc, "message");
		json_object_set_new(doc, "cancel_requested", json_false());
	} else if (!strcmp(type, "point-of-no-return")) {
		json_object_set(doc, "point_of_no_return", pt ? pt : json_true());
	} else if (!strcmp(type, "unattended") && st) {
		const char *dec = json_string_value(json_object_get(rec, "decision"));
		json_t *u = json_object();

		copy_field(u, "decision", rec);
		copy_field(u, "policy", rec);
		copy_field(u, "reason", rec);
		json_object_set_new(st, "unattended", u);
		if (dec && !strcmp(dec, "fail"))
			json_object_set(doc, "drill_abort", json_object_get(rec, "message"));
	} else if (!strcmp(type, "notify")) {
		json_t *n = json_object();

		copy_field(n, "webhook", rec);
		copy_field(n, "event", rec);
		copy_field(n, "id", rec);
		copy_field(n, "result", rec);
		copy_field(n, "attempts", rec);
		copy_field(n, "status", rec);
		copy_field(n, "message", rec);
		copy_field(n, "time", rec);
		json_array_append_new(arr_at(doc, "notifications"), n);
	} else if (!strcmp(type, "job-waiting")) {
		json_object_set_new(doc, "status", json_string("waiting"));
	} else if (!strcmp(type, "job-running")) {
		json_object_set_new(doc, "status", json_string("running"));
	}
}

static int replay_cb(void *ctx, uint64_t seq, const char *type, json_t *rec)
{
	(void)seq;
	dr_job__apply(ctx, type, rec);
	return 0;
}

int dr_job__replay(dr_store *s, const char *job_id, json_t **out,
		   dr_journal_replay_info *info)
{
	dr_journal_replay_info local;
	json_t *doc = json_object();
	int rc;

	*out = NULL;
	if (!dr_job_id_valid(job_id)) {
		json_decref(doc);
		return dr_error_set(DR_EINVAL, "'%s' is not a valid job id", job_id);
	}
	rc = dr_journal_replay(s, job_id, replay_cb, doc, info ? info : &local);
	if (rc < 0) {
		json_decref(doc);
		if (rc == DR_ENOTFOUND)
			return dr_error_set(DR_ENOTFOUND, "no job '%s' in state store %s",
					    job_id, dr_store_spec(s));
		return rc;
	}
	*out = doc;
	return 0;
}

int dr_job_status(dr_store *s, const char *job_id, json_t **out)
{
	dr_journal_replay_info info;
	json_t *doc, *counts, *v;
	const char *k;
	size_t listed = 0;
	int rc;

	*out = NULL;
	if ((rc = dr_job__replay(s, job_id, &doc, &info)) < 0)
		return rc;
	counts = json_object();
	json_object_foreach(json_object_get(doc, "steps"), k, v) {
		const char *state = json_string_value(json_object_get(v, "state"));
		json_t *c = json_object_get(counts, state);

		json_object_set_new(counts, state,
				    json_integer((c ? json_integer_value(c) : 0) + 1));
		listed++;
	}
	{
		json_int_t total = json_integer_value(json_object_get(doc, "steps_total"));
		json_t *c = json_object_get(counts, "pending");

		if ((size_t)total > listed)
			json_object_set_new(counts, "pending",
					    json_integer((c ? json_integer_value(c) : 0) +
							 total - (json_int_t)listed));
	}
	json_object_set_new(doc, "counts", counts);
	if (json_object_get(doc, "ended") && json_object_get(doc, "started") &&
	    !json_object_get(doc, "duration_ms"))
		json_object_set_new(doc, "duration_ms",
				    json_integer(json_integer_value(json_object_get(doc, "ended")) -
						 json_integer_value(json_object_get(doc, "started"))));
	if (info.torn)
		json_object_set_new(doc, "torn_tail",
				    json_pack("{s:I,s:I,s:s}", "offset",
					      (json_int_t)info.torn_offset, "bytes",
					      (json_int_t)info.torn_bytes, "reason",
					      info.torn_reason));
	*out = doc;
	return 0;
}

/* ---- control ----------------------------------------------------------- */

int dr_job__control_append(dr_store *s, const char *job_id, json_t *req)
{
	dr_strbuf key = DR_STRBUF_INIT;
	char *line = json_dumps(req, JSON_COMPACT);
	size_t len;
	uint64_t size = 0;
	int rc = 0, tries;

	if (!line)
		return dr_error_set(DR_EINVAL, "control request cannot be encoded");
	len = strlen(line);
	line = realloc(line, len + 2);
	line[len++] = '\n';
	line[len] = '\0';
	dr_job__control_key(job_id, &key);
	/* Other writers may append between our size and our append: the
	 * store refuses those appends (DR_ECONFLICT), so look again. */
	for (tries = 0; tries < 20; tries++) {
		rc = dr_store_size(s, key.buf, &size);
		if (rc == DR_ENOTFOUND)
			size = 0;
		else if (rc < 0)
			break;
		rc = dr_store_append(s, key.buf, line, len, size);
		if (rc != DR_ECONFLICT)
			break;
	}
	free(line);
	dr_strbuf_release(&key);
	return rc;
}

static const char *sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/*
 * The waiting gate of doc (name, if not NULL, restricts it: "gate/commit"
 * or "commit"), or NULL; then *other is a gate step that is not waiting
 * (or NULL when the job has not reached one).
 */
static const char *waiting_gate(json_t *doc, const char *name, const char **other)
{
	const char *id;
	json_t *st;

	*other = NULL;
	json_object_foreach(json_object_get(doc, "steps"), id, st) {
		const char *kind = sget(st, "kind");

		if (!kind || strcmp(kind, "gate"))
			continue;
		if (name && strcmp(id, name) &&
		    (strncmp(id, "gate/", 5) || strcmp(id + 5, name)))
			continue;
		if (!strcmp(sget(st, "state"), "waiting"))
			return id;
		*other = id;
	}
	return NULL;
}

int dr_job_control(dr_store *s, const char *job_id, const json_t *request)
{
	json_t *doc = NULL, *req = NULL, *st;
	const char *action, *status, *step;
	char who[300];
	int rc;

	if (!json_is_object(request) || !(action = sget(request, "action")))
		return dr_error_set(DR_EINVAL, "a control request needs an \"action\"");
	if ((rc = dr_job__replay(s, job_id, &doc, NULL)) < 0)
		return rc;
	status = sget(doc, "status");
	step = sget(request, "step");
	st = step ? json_object_get(json_object_get(doc, "steps"), step) : NULL;
	rc = 0;

	if (!strcmp(action, "approve") || !strcmp(action, "reject")) {
		const char *why, *g = waiting_gate(doc, sget(request, "gate"), &why);

		if (!g) {
			if (why)
				rc = dr_error_set(DR_EINVAL,
						  "job %s is not waiting at a gate: %s is %s",
						  job_id, why,
						  sget(json_object_get(json_object_get(doc, "steps"), why),
						       "state"));
			else
				rc = dr_error_set(DR_EINVAL,
						  "job %s is not waiting at a gate (job is %s)",
						  job_id, status);
		}
	} else if (!strcmp(action, "cancel")) {
		if (strcmp(status, "running") && strcmp(status, "waiting"))
			rc = dr_error_set(DR_EINVAL,
					  "job %s has already ended (%s); nothing to cancel",
					  job_id, status);
	} else if (!strcmp(action, "retry") || !strcmp(action, "skip") ||
		   !strcmp(action, "continue")) {
		const char *state = st ? sget(st, "state") : NULL;
		const char *kind = st ? sget(st, "kind") : NULL;

		if (!step) {
			rc = dr_error_set(DR_EINVAL, "'%s' needs a step", action);
		} else if (!st) {
			rc = dr_error_set(DR_EINVAL,
					  "step '%s' has not run in job %s (it is pending, or not "
					  "a step of this job)", step, job_id);
		} else if (!strcmp(action, "continue")) {
			if (!kind || strcmp(kind, "manual") || strcmp(state, "waiting"))
				rc = dr_error_set(DR_EINVAL,
						  "step '%s' is not a manual step waiting to be "
						  "continued (it is %s)", step, state);
		} else if (!strcmp(action, "retry")) {
			if (strcmp(state, "failed") && strcmp(state, "cancelled"))
				rc = dr_error_set(DR_EINVAL,
						  "step '%s' is %s; only failed or cancelled steps "
						  "can be retried", step, state);
		} else {
			if (kind && !strcmp(kind, "gate"))
				rc = dr_error_set(DR_EINVAL,
						  "step '%s' is a gate; gates cannot be skipped, "
						  "approve or reject it", step);
			else if (strcmp(state, "failed") && strcmp(state, "cancelled") &&
				 !(!strcmp(state, "waiting") && kind && !strcmp(kind, "manual")))
				rc = dr_error_set(DR_EINVAL,
						  "step '%s' is %s; only failed, cancelled or "
						  "waiting manual steps can be skipped", step, state);
		}
		if (!rc && !strcmp(action, "continue") && strcmp(status, "running") &&
		    strcmp(status, "waiting"))
			rc = dr_error_set(DR_EINVAL, "job %s has ended (%s)", job_id,
					  status);
		if (!rc && strcmp(action, "continue") && !strcmp(status, "succeeded"))
			rc = dr_error_set(DR_EINVAL, "job %s has succeeded", job_id);
	} else if (!strcmp(action, "change-recovery-point")) {
		const char *why, *g = waiting_gate(doc, NULL, &why);
		const char *m = sget(request, "machine"), *point = sget(request, "point");
		const char *id;
		json_t *v;
		bool found = false;

		if (!m || !point) {
			rc = dr_error_set(DR_EINVAL,
					  "change-recovery-point needs a machine and a point");
		} else if (!g || strcmp(g, "gate/commit")) {
			rc = dr_error_set(DR_EINVAL,
					  "job %s is not waiting at the commit gate; the recovery "
					  "point can only be changed after failover, before commit",
					  job_id);
		} else {
			json_object_foreach(json_object_get(doc, "steps"), id, v) {
				const char *k = sget(v, "kind"), *mm = sget(v, "machine");

				if (k && mm && !strcmp(k, "unplanned-failover") &&
				    !strcmp(mm, m) && !strcmp(sget(v, "state"), "succeeded"))
					found = true;
			}
			if (!found)
				rc = dr_error_set(DR_EINVAL,
						  "machine '%s' has no completed failover in job %s",
						  m, job_id);
		}
	} else {
		rc = dr_error_set(DR_EINVAL,
				  "unknown control action '%s' (approve, reject, cancel, "
				  "retry, skip, continue, change-recovery-point)", action);
	}
	if (rc < 0) {
		json_decref(doc);
		return rc;
	}
	req = json_deep_copy(request);
	if (!sget(req, "by")) {
		dr_job__whoami(who, sizeof(who));
		json_object_set_new(req, "by", json_string(who));
	}
	rc = dr_job__control_append(s, job_id, req);
	json_decref(req);
	json_decref(doc);
	return rc;
}
