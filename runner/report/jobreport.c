/*
 * jobreport.c - measured RTO/RPO, hooks, gates, cleanup and the verdict of
 * one job from its journal, in five formats; and a plan's drill history.
 *
 * The build pass turns journal records into one JSON document; every
 * renderer reads only that document, so the formats cannot disagree.
 */
#include "report/jobreport.h"

#include "core/error.h"
#include "journal/journal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPORT_VERSION "drplan-job-report/v1"

int dr_jobreport_format_parse(const char *s, dr_jobreport_format *out)
{
	static const struct { const char *n; dr_jobreport_format f; } t[] = {
		{ "text", DR_JOBREPORT_TEXT }, { "json", DR_JOBREPORT_JSON },
		{ "junit", DR_JOBREPORT_JUNIT }, { "markdown", DR_JOBREPORT_MARKDOWN },
		{ "md", DR_JOBREPORT_MARKDOWN }, { "html", DR_JOBREPORT_HTML },
	};

	for (size_t i = 0; s && i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(s, t[i].n)) {
			*out = t[i].f;
			return 0;
		}
	return dr_error_set(DR_EINVAL, "unknown report format '%s' (text, json, junit, "
			    "markdown, html)", s ? s : "");
}

/* ---- build ------------------------------------------------------------ */

struct bstep {
	char *id;
	char *kind;
	char *machine;
	char *group;
	char *phase;    /* main, cleanup, commit, gate */
	char *state;
	char *message;
	int64_t start, end; /* pt; -1: none */
	long attempt;
	json_t *fin;    /* last `finished` record (owned) */
	json_t *hook;   /* last `hook` record (owned) */
};

struct build {
	json_t *header;
	struct bstep *st;
	size_t n, cap;
	json_t *gates;    /* object gate -> {"approvals": [], "events": []} */
	json_t *warnings; /* array */
	json_t *policy;   /* array: unattended-drill decisions */
	json_t *end;      /* last job-end/job-waiting record (owned) */
	int64_t t0, last_pt;
	bool reopened;
};

static const char *sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int64_t iget(const json_t *o, const char *k, int64_t dflt)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static char *xdup(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		abort();
	return d;
}

static bool is_barrier(const char *kind)
{
	return kind && (!strcmp(kind, "group-start") || !strcmp(kind, "group-join") ||
			!strcmp(kind, "group-end"));
}

static bool is_failover_kind(const char *kind)
{
	return kind && (!strcmp(kind, "test-failover") || !strcmp(kind, "unplanned-failover") ||
			!strcmp(kind, "planned-failover"));
}

/* Phase and group from a step id: "[cleanup/|commit/]<group>/...",
 * "gate/<name>", "cleanup/wait", "cleanup/verify". */
static void split_id(struct bstep *b)
{
	const char *id = b->id, *rest = id, *slash;

	if (!strncmp(id, "cleanup/", 8)) {
		b->phase = xdup("cleanup");
		rest = id + 8;
	} else if (!strncmp(id, "commit/", 7)) {
		b->phase = xdup("commit");
		rest = id + 7;
	} else if (!strncmp(id, "gate/", 5)) {
		b->phase = xdup("gate");
		return;
	} else {
		b->phase = xdup("main");
	}
	slash = strchr(rest, '/');
	if (slash) {
		b->group = strndup(rest, (size_t)(slash - rest));
		if (!b->group)
			abort();
	}
}

static struct bstep *find_step(struct build *B, const char *id, bool create)
{
	for (size_t i = 0; i < B->n; i++)
		if (!strcmp(B->st[i].id, id))
			return &B->st[i];
	if (!create)
		return NULL;
	if (B->n == B->cap) {
		B->cap = B->cap ? 2 * B->cap : 64;
		B->st = realloc(B->st, B->cap * sizeof(*B->st));
		if (!B->st)
			abort();
	}
	memset(&B->st[B->n], 0, sizeof(B->st[0]));
	B->st[B->n].id = xdup(id);
	B->st[B->n].start = B->st[B->n].end = -1;
	B->st[B->n].state = xdup("pending");
	split_id(&B->st[B->n]);
	return &B->st[B->n++];
}

static json_t *gate_at(struct build *B, const char *gate)
{
	json_t *g = json_object_get(B->gates, gate);

	if (!g) {
		g = json_pack("{s:s,s:[],s:[]}", "gate", gate, "approvals", "events");
		json_object_set_new(B->gates, gate, g);
	}
	return g;
}

static void setstr(char **dst, const char *s)
{
	free(*dst);
	*dst = xdup(s);
}

static int on_record(void *ctx, uint64_t seq, const char *type, json_t *rec)
{
	struct build *B = ctx;
	int64_t pt = iget(rec, "pt", B->last_pt);
	const char *step = sget(rec, "step");
	struct bstep *b;

	(void)seq;
	if (pt > B->last_pt)
		B->last_pt = pt;
	if (!strcmp(type, "job")) {
		B->header = json_incref(rec);
		return 0;
	}
	if (!B->header)
		return dr_error_set(DR_EINVAL, "journal does not start with a job header");
	if (!strcmp(type, "step") && step) {
		const char *to = sget(rec, "to");

		b = find_step(B, step, true);
		if (sget(rec, "kind") && !b->kind)
			b->kind = xdup(sget(rec, "kind"));
		if (sget(rec, "machine") && !b->machine)
			b->machine = xdup(sget(rec, "machine"));
		if (!to)
			return 0;
		setstr(&b->state, to);
		b->attempt = (long)iget(rec, "attempt", 0);
		if (!strcmp(to, "running") || !strcmp(to, "ready")) {
			if (!strcmp(to, "running") && (b->start < 0 || b->end >= 0))
				b->start = pt;
			if (!strcmp(to, "running") && B->t0 < 0)
				B->t0 = pt;
			b->end = -1;
		} else if (strcmp(to, "waiting")) {
			b->end = pt;
			if (b->start < 0)
				b->start = pt;
		}
		if (sget(rec, "message"))
			setstr(&b->message, sget(rec, "message"));
		else if (!strcmp(to, "succeeded"))
			setstr(&b->message, NULL);
	} else if (!strcmp(type, "finished") && step) {
		b = find_step(B, step, true);
		json_decref(b->fin);
		b->fin = json_incref(rec);
		if (sget(rec, "machine") && !b->machine)
			b->machine = xdup(sget(rec, "machine"));
	} else if (!strcmp(type, "intent") && step) {
		b = find_step(B, step, true);
		if (sget(rec, "machine") && !b->machine)
			b->machine = xdup(sget(rec, "machine"));
	} else if (!strcmp(type, "hook") && step) {
		b = find_step(B, step, true);
		json_decref(b->hook);
		b->hook = json_incref(rec);
	} else if (!strcmp(type, "approval") && sget(rec, "gate")) {
		json_array_append_new(json_object_get(gate_at(B, sget(rec, "gate")), "approvals"),
			json_pack("{s:s,s:I,s:s}", "by", sget(rec, "by") ? sget(rec, "by") : "",
				  "at", (json_int_t)pt, "comment",
				  sget(rec, "comment") ? sget(rec, "comment") : ""));
	} else if (!strcmp(type, "gate") && sget(rec, "gate")) {
		json_t *ev = json_pack("{s:s,s:I}", "event",
				       sget(rec, "event") ? sget(rec, "event") : "", "at",
				       (json_int_t)pt);

		if (sget(rec, "by"))
			json_object_set_new(ev, "by", json_string(sget(rec, "by")));
		if (sget(rec, "comment"))
			json_object_set_new(ev, "comment", json_string(sget(rec, "comment")));
		json_array_append_new(json_object_get(gate_at(B, sget(rec, "gate")), "events"), ev);
	} else if (!strcmp(type, "warning")) {
		json_t *w = json_pack("{s:s,s:I}", "message",
				      sget(rec, "message") ? sget(rec, "message") : "", "at",
				      (json_int_t)pt);

		if (step)
			json_object_set_new(w, "step", json_string(step));
		json_array_append_new(B->warnings, w);
	} else if (!strcmp(type, "unattended") && step) {
		const char *dec = sget(rec, "decision") ? sget(rec, "decision") : "";
		dr_strbuf m = DR_STRBUF_INIT;

		if (!strcmp(dec, "auto-approve"))
			dr_strbuf_addf(&m, "auto-approved by policy: %s",
				       sget(rec, "reason") ? sget(rec, "reason") : "");
		else
			dr_strbuf_addstr(&m, sget(rec, "message") ? sget(rec, "message") : dec);
		json_array_append_new(B->policy, json_pack("{s:s,s:s,s:s,s:s,s:I}", "step", step,
			"decision", dec, "policy", sget(rec, "policy") ? sget(rec, "policy") : "",
			"message", m.buf, "at", (json_int_t)pt));
		dr_strbuf_release(&m);
	} else if (!strcmp(type, "job-end") || !strcmp(type, "job-waiting")) {
		json_decref(B->end);
		B->end = json_incref(rec);
	} else if (!strcmp(type, "job-reopen")) {
		json_decref(B->end);
		B->end = NULL;
	}
	return 0;
}

static void build_release(struct build *B)
{
	for (size_t i = 0; i < B->n; i++) {
		struct bstep *b = &B->st[i];

		free(b->id), free(b->kind), free(b->machine), free(b->group);
		free(b->phase), free(b->state), free(b->message);
		json_decref(b->fin);
		json_decref(b->hook);
	}
	free(B->st);
	json_decref(B->header);
	json_decref(B->gates);
	json_decref(B->warnings);
	json_decref(B->policy);
	json_decref(B->end);
}

/* Index of name in array arr of objects keyed "name"; appended when absent. */
static json_t *named(json_t *arr, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (!strcmp(sget(v, "name"), name))
			return v;
	v = json_pack("{s:s}", "name", name);
	json_array_append_new(arr, v);
	return v;
}

static void set_ms(json_t *o, const char *k, int64_t v)
{
	json_object_set_new(o, k, v < 0 ? json_null() : json_integer(v));
}

static void objective(json_t *objs, const char *name, const char *unit, int64_t target,
		      int64_t measured, json_t *reasons)
{
	json_t *o;
	bool met = measured >= 0 && measured <= target;

	if (target <= 0)
		return;
	o = json_object();
	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "unit", json_string(unit));
	json_object_set_new(o, "target", json_integer(target));
	set_ms(o, "measured", measured);
	json_object_set_new(o, "met", json_boolean(met));
	json_array_append_new(objs, o);
	if (!met) {
		char buf[200];

		if (measured < 0)
			snprintf(buf, sizeof(buf), "%s objective: not measured (no machine recovered)",
				 name);
		else
			snprintf(buf, sizeof(buf), "%s objective missed: %" PRId64 " %s > %" PRId64
				 " %s", name, measured, unit, target, unit);
		json_array_append_new(reasons, json_string(buf));
	}
}

static json_t *assemble(struct build *B, const dr_jobreport_objectives *obj)
{
	json_t *doc = json_object(), *groups = json_array();
	json_t *hooks = json_array(), *steps = json_array(), *reasons = json_array();
	json_t *objs = json_array(), *gates = json_array();
	const char *op = sget(B->header, "operation");
	const char *status = B->end ? sget(B->end, "status") : "running";
	bool drill = op && !strcmp(op, "drill");
	int64_t t0 = B->t0 >= 0 ? B->t0 : iget(B->header, "pt", 0);
	int64_t end = B->end ? iget(B->end, "pt", B->last_pt) : B->last_pt;
	int64_t job_rto = -1, job_rpo = -1;
	const char *k;
	json_t *v;

	if (!status)
		status = "unknown";
	json_object_set_new(doc, "report", json_string(REPORT_VERSION));
	json_object_set_new(doc, "job", json_string(sget(B->header, "job") ? sget(B->header, "job") : ""));
	json_object_set_new(doc, "plan", json_string(sget(B->header, "plan") ? sget(B->header, "plan") : ""));
	json_object_set_new(doc, "operation", json_string(op ? op : ""));
	json_object_set_new(doc, "status", json_string(status));

	/* Machines and groups in the order the journal first names them. */
	for (size_t i = 0; i < B->n; i++) {
		struct bstep *b = &B->st[i];
		json_t *g, *m;

		if (!b->group || strcmp(b->phase, "main"))
			continue;
		g = named(groups, b->group);
		if (!json_object_get(g, "machines"))
			json_object_set_new(g, "machines", json_array());
		if (!b->machine || !is_failover_kind(b->kind))
			continue;
		m = named(json_object_get(g, "machines"), b->machine);
		json_object_set_new(m, "step", json_string(b->id));
		json_object_set_new(m, "state", json_string(b->state));
		set_ms(m, "op_start", b->fin ? iget(b->fin, "op_start", -1) : -1);
		set_ms(m, "op_end", b->fin ? iget(b->fin, "op_end", -1) : -1);
		{
			int64_t rto = -1, rpo = -1;
			json_t *pt = b->fin ? json_object_get(b->fin, "point") : NULL;

			if (!strcmp(b->state, "succeeded") && b->end >= 0) {
				int64_t done = b->end;
				char prefix[512];

				/* Its own post hooks must have passed too. */
				snprintf(prefix, sizeof(prefix), "%s/%s/post/", b->group, b->machine);
				for (size_t h = 0; h < B->n; h++) {
					struct bstep *hb = &B->st[h];

					if (strncmp(hb->id, prefix, strlen(prefix)))
						continue;
					if (strcmp(hb->state, "succeeded") && strcmp(hb->state, "skipped"))
						done = -1;
					else if (done >= 0 && hb->end > done)
						done = hb->end;
					if (done < 0)
						break;
				}
				if (done >= 0)
					rto = done - t0;
			}
			set_ms(m, "rto_ms", rto);
			if (pt && json_is_integer(json_object_get(pt, "time")) &&
			    !strcmp(b->state, "succeeded")) {
				rpo = (iget(b->fin, "op_start", 0) - iget(pt, "time", 0)) / 1000;
				if (rpo < 0)
					rpo = 0;
			}
			set_ms(m, "rpo_s", rpo);
			if (pt)
				json_object_set(m, "point", pt);
			else
				json_object_set_new(m, "point", json_null());
			if (b->message)
				json_object_set_new(m, "message", json_string(b->message));
			if (rpo > job_rpo)
				job_rpo = rpo;
			if (rpo >= 0 && rpo > iget(g, "rpo_s", -1))
				json_object_set_new(g, "rpo_s", json_integer(rpo));
		}
	}
	/* Group RTO: its main-phase end barrier. */
	{
		size_t gi;
		json_t *g;

		json_array_foreach(groups, gi, g) {
			char id[512];
			struct bstep *e;
			int64_t rto = -1;
			json_t *ms = json_object_get(g, "machines");

			snprintf(id, sizeof(id), "%s/end", sget(g, "name"));
			e = find_step(B, id, false);
			if (e && !strcmp(e->state, "succeeded") && e->end >= 0)
				rto = e->end - t0;
			json_incref(ms);
			json_object_del(g, "machines");
			if (!json_object_get(g, "rpo_s"))
				json_object_set_new(g, "rpo_s", json_null());
			{
				json_t *rp = json_incref(json_object_get(g, "rpo_s"));

				json_object_del(g, "rpo_s");
				set_ms(g, "rto_ms", rto);
				json_object_set_new(g, "rpo_s", rp);
			}
			json_object_set_new(g, "state", json_string(e ? e->state : "pending"));
			json_object_set_new(g, "machines", ms);
			if (rto > job_rto)
				job_rto = rto;
		}
	}
	json_object_set_new(doc, "started", json_integer(t0));
	set_ms(doc, "ended", B->end && !strcmp(sget(B->end, "type"), "job-end") ? end : -1);
	json_object_set_new(doc, "duration_ms", json_integer(end - t0));
	set_ms(doc, "rto_ms", job_rto);
	set_ms(doc, "rpo_s", job_rpo);

	/* Objectives. */
	if (obj) {
		objective(objs, "rto", "ms", (int64_t)obj->rto_ms, job_rto, reasons);
		objective(objs, "rpo", "s", (int64_t)(obj->rpo_ms / 1000), job_rpo, reasons);
	}
	for (size_t i = 0; i < json_array_size(B->policy); i++) {
		json_t *d = json_array_get(B->policy, i);

		if (!strcmp(sget(d, "decision"), "fail"))
			json_array_append_new(reasons, json_string(sget(d, "message")));
	}
	if (strcmp(status, "succeeded")) {
		char buf[160];

		snprintf(buf, sizeof(buf), "job is %s", status);
		json_array_append_new(reasons, json_string(buf));
	}

	/* Cleanup (drills): every test machine cleaned up, verify passed. */
	if (drill) {
		json_t *c = json_object(), *cm = json_array();
		bool ok = true;
		struct bstep *ver = find_step(B, "cleanup/verify", false);

		for (size_t i = 0; i < B->n; i++) {
			struct bstep *b = &B->st[i], *cl;
			char id[512];

			if (!b->kind || strcmp(b->kind, "test-failover") || !b->machine ||
			    !b->group || !b->fin)
				continue;
			snprintf(id, sizeof(id), "cleanup/%s/%s/test-failover-cleanup", b->group,
				 b->machine);
			cl = find_step(B, id, false);
			json_array_append_new(cm, json_pack("{s:s,s:s}", "name", b->machine,
				"state", cl ? cl->state : "not run"));
			if (!cl || strcmp(cl->state, "succeeded")) {
				char buf[600];

				snprintf(buf, sizeof(buf), "cleanup of %s %s", b->machine,
					 cl ? cl->state : "did not run");
				json_array_append_new(reasons, json_string(buf));
				ok = false;
			}
		}
		json_object_set_new(c, "machines", cm);
		json_object_set_new(c, "verify", json_string(ver ? ver->state : "not run"));
		if (!ver || strcmp(ver->state, "succeeded")) {
			json_array_append_new(reasons, json_string(ver
				? "cleanup verification failed" : "cleanup verification did not run"));
			ok = false;
		}
		json_object_set_new(c, "verified", json_boolean(ok));
		json_object_set_new(doc, "cleanup", c);
	}
	json_object_set_new(doc, "verdict",
			    json_string(json_array_size(reasons) ? "fail" : "pass"));
	json_object_set_new(doc, "reasons", reasons);
	json_object_set_new(doc, "objectives", objs);
	json_object_set_new(doc, "groups", groups);

	for (size_t i = 0; i < B->n; i++) {
		struct bstep *b = &B->st[i];
		json_t *s, *h;

		if (b->hook) {
			h = json_object();
			json_object_set_new(h, "step", json_string(b->id));
			json_object_set_new(h, "state", json_string(b->state));
			json_object_set_new(h, "status", json_string(sget(b->hook, "status") ? sget(b->hook, "status") : ""));
			json_object_set_new(h, "message", json_string(sget(b->hook, "message") ? sget(b->hook, "message") : ""));
			set_ms(h, "start", b->start);
			set_ms(h, "end", b->end);
			json_object_set(h, "outputs", json_object_get(b->hook, "outputs")
					? json_object_get(b->hook, "outputs") : json_object());
			json_object_set(h, "log", json_object_get(b->hook, "log")
					? json_object_get(b->hook, "log") : json_array());
			json_array_append_new(hooks, h);
		}
		if (is_barrier(b->kind) || b->start < 0)
			continue;
		s = json_object();
		json_object_set_new(s, "id", json_string(b->id));
		json_object_set_new(s, "kind", json_string(b->kind ? b->kind : ""));
		json_object_set_new(s, "phase", json_string(b->phase));
		json_object_set_new(s, "group", b->group ? json_string(b->group) : json_null());
		json_object_set_new(s, "machine", b->machine ? json_string(b->machine) : json_null());
		json_object_set_new(s, "state", json_string(b->state));
		json_object_set_new(s, "attempt", json_integer(b->attempt));
		set_ms(s, "start", b->start);
		set_ms(s, "end", b->end);
		if (b->message)
			json_object_set_new(s, "message", json_string(b->message));
		json_array_append_new(steps, s);
	}
	json_object_set_new(doc, "hooks", hooks);
	json_object_foreach(B->gates, k, v)
		json_array_append(gates, v);
	json_object_set_new(doc, "gates", gates);
	json_object_set(doc, "warnings", B->warnings);
	/* Only unattended drills have these: other reports stay as they were. */
	if (json_is_true(json_object_get(B->header, "unattended")))
		json_object_set_new(doc, "unattended", json_true());
	if (json_array_size(B->policy))
		json_object_set(doc, "policy", B->policy);
	json_object_set_new(doc, "steps", steps);
	return doc;
}

static int build_common(struct build *B, int rc, const dr_jobreport_objectives *obj,
			json_t **out)
{
	*out = NULL;
	if (!rc && !B->header)
		rc = dr_error_set(DR_EINVAL, "journal has no job header");
	if (!rc)
		*out = assemble(B, obj);
	build_release(B);
	return rc;
}

static void build_init(struct build *B)
{
	memset(B, 0, sizeof(*B));
	B->gates = json_object();
	B->warnings = json_array();
	B->policy = json_array();
	B->t0 = -1;
}

int dr_jobreport_build(dr_store *s, const char *job_id,
		       const dr_jobreport_objectives *obj, json_t **out)
{
	struct build B;
	int rc;

	build_init(&B);
	rc = dr_journal_replay(s, job_id, on_record, &B, NULL);
	return build_common(&B, rc, obj, out);
}

int dr_jobreport_build_buf(const char *name, const char *buf, size_t len,
			   const dr_jobreport_objectives *obj, json_t **out)
{
	struct build B;
	int rc;

	build_init(&B);
	rc = dr_journal_replay_buf(name, buf, len, on_record, &B, NULL);
	return build_common(&B, rc, obj, out);
}

/* ---- shared formatting ------------------------------------------------ */

static void add_time(dr_strbuf *sb, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char buf[40];

	if (ms < 0) {
		dr_strbuf_addstr(sb, "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	if (ms % 1000)
		dr_strbuf_addf(sb, "%s.%03dZ", buf, (int)(ms % 1000));
	else
		dr_strbuf_addf(sb, "%sZ", buf);
}

/* 0s, 45s, 5m30s, 1h02m00s, 2d03h; "-" for none. */
static void add_dur(dr_strbuf *sb, int64_t ms)
{
	int64_t s;

	if (ms < 0) {
		dr_strbuf_addstr(sb, "-");
		return;
	}
	s = ms / 1000;
	if (s >= 86400)
		dr_strbuf_addf(sb, "%" PRId64 "d%02" PRId64 "h", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		dr_strbuf_addf(sb, "%" PRId64 "h%02" PRId64 "m%02" PRId64 "s", s / 3600,
			       s % 3600 / 60, s % 60);
	else if (s >= 60)
		dr_strbuf_addf(sb, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	else if (ms % 1000)
		dr_strbuf_addf(sb, "%" PRId64 ".%03ds", s, (int)(ms % 1000));
	else
		dr_strbuf_addf(sb, "%" PRId64 "s", s);
}

static char *dur_str(int64_t ms)
{
	dr_strbuf sb = DR_STRBUF_INIT;

	add_dur(&sb, ms);
	return dr_strbuf_detach(&sb, NULL);
}

static char *time_str(int64_t ms)
{
	dr_strbuf sb = DR_STRBUF_INIT;

	add_time(&sb, ms);
	return dr_strbuf_detach(&sb, NULL);
}

static int64_t nget(const json_t *o, const char *k)
{
	return iget(o, k, -1);
}

static const char *str0(const json_t *o, const char *k)
{
	const char *s = sget(o, k);

	return s ? s : "";
}

/* Text: control characters (and newlines, which would break a table) become
 * spaces; the rest is printed as is. */
static void add_text(dr_strbuf *sb, const char *s)
{
	for (; *s; s++)
		dr_strbuf_addch(sb, (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
}

static void add_html(dr_strbuf *sb, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '<': dr_strbuf_addstr(sb, "&lt;"); break;
		case '>': dr_strbuf_addstr(sb, "&gt;"); break;
		case '&': dr_strbuf_addstr(sb, "&amp;"); break;
		case '"': dr_strbuf_addstr(sb, "&quot;"); break;
		case '\'': dr_strbuf_addstr(sb, "&#39;"); break;
		default:
			dr_strbuf_addch(sb, c < 0x20 && c != '\n' && c != '\t' ? ' ' : c);
		}
	}
}

/* Markdown table cells: HTML-escape, backslash-escape what Markdown would
 * interpret (|, `, *, _, [, ], \), newlines become spaces. */
static void add_md(dr_strbuf *sb, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (strchr("|`*_[]\\#", c) && c)
			dr_strbuf_addch(sb, '\\'), dr_strbuf_addch(sb, c);
		else if (c == '<')
			dr_strbuf_addstr(sb, "&lt;");
		else if (c == '>')
			dr_strbuf_addstr(sb, "&gt;");
		else if (c == '&')
			dr_strbuf_addstr(sb, "&amp;");
		else
			dr_strbuf_addch(sb, c < 0x20 ? ' ' : c);
	}
}

/* A table: rows of cells (json arrays of strings), first row the header. */
enum tfmt { T_TEXT, T_MD, T_HTML };

static void table(dr_strbuf *sb, const json_t *rows, enum tfmt f)
{
	size_t ncol = json_array_size(json_array_get(rows, 0)), w[16] = { 0 };
	size_t r, c;
	json_t *row;

	if (ncol > 16)
		ncol = 16;
	json_array_foreach(rows, r, row)
		for (c = 0; c < ncol; c++) {
			size_t l = strlen(json_string_value(json_array_get(row, c)));

			if (l > w[c])
				w[c] = l;
		}
	if (f == T_HTML)
		dr_strbuf_addstr(sb, "<table>\n");
	json_array_foreach(rows, r, row) {
		if (f == T_HTML)
			dr_strbuf_addstr(sb, "<tr>");
		else if (f == T_MD)
			dr_strbuf_addstr(sb, "|");
		else
			dr_strbuf_addstr(sb, "  ");
		for (c = 0; c < ncol; c++) {
			const char *cell = json_string_value(json_array_get(row, c));

			if (f == T_HTML) {
				dr_strbuf_addstr(sb, r ? "<td>" : "<th>");
				add_html(sb, cell);
				dr_strbuf_addstr(sb, r ? "</td>" : "</th>");
			} else if (f == T_MD) {
				dr_strbuf_addch(sb, ' ');
				add_md(sb, cell);
				dr_strbuf_addstr(sb, " |");
			} else {
				add_text(sb, cell);
				if (c + 1 < ncol)
					dr_strbuf_addf(sb, "%*s", (int)(w[c] - strlen(cell) + 2), "");
			}
		}
		if (f == T_HTML)
			dr_strbuf_addstr(sb, "</tr>");
		else if (f == T_TEXT)
			while (sb->len && sb->buf[sb->len - 1] == ' ')
				dr_strbuf_setlen(sb, sb->len - 1);
		dr_strbuf_addch(sb, '\n');
		if (f == T_MD && r == 0) {
			dr_strbuf_addch(sb, '|');
			for (c = 0; c < ncol; c++)
				dr_strbuf_addstr(sb, " --- |");
			dr_strbuf_addch(sb, '\n');
		}
	}
	if (f == T_HTML)
		dr_strbuf_addstr(sb, "</table>\n");
}

static void row_add(json_t *rows, int n, ...)
{
	json_t *row = json_array();
	va_list ap;

	va_start(ap, n);
	for (int i = 0; i < n; i++) {
		char *s = va_arg(ap, char *);

		json_array_append_new(row, json_string(s ? s : ""));
	}
	va_end(ap);
	json_array_append_new(rows, row);
}

/* row_add with owned strings (freed here). */
static void row_add_owned(json_t *rows, int n, char **cells)
{
	json_t *row = json_array();

	for (int i = 0; i < n; i++) {
		json_array_append_new(row, json_string(cells[i] ? cells[i] : ""));
		free(cells[i]);
	}
	json_array_append_new(rows, row);
}

static char *xstrdup(const char *s)
{
	return xdup(s ? s : "");
}

static char *point_str(const json_t *m)
{
	json_t *p = json_object_get(m, "point");
	dr_strbuf sb = DR_STRBUF_INIT;

	if (!json_is_object(p))
		return xdup("-");
	dr_strbuf_addf(&sb, "%s (%s, ", str0(p, "id"), str0(p, "type"));
	add_time(&sb, nget(p, "time"));
	dr_strbuf_addch(&sb, ')');
	return dr_strbuf_detach(&sb, NULL);
}

static char *rpo_str(const json_t *o)
{
	int64_t s = nget(o, "rpo_s");

	return dur_str(s < 0 ? -1 : s * 1000);
}

/* Group and machine rows: GROUP MACHINE STATE RTO RPO RECOVERY-POINT. */
static json_t *machine_rows(const json_t *doc)
{
	json_t *rows = json_array(), *g, *m;
	size_t gi, mi;

	row_add(rows, 6, "group", "machine", "state", "RTO", "RPO", "recovery point");
	json_array_foreach(json_object_get(doc, "groups"), gi, g) {
		char *c[6] = { xstrdup(sget(g, "name")), xdup("(group)"), xstrdup(sget(g, "state")),
			       dur_str(nget(g, "rto_ms")), rpo_str(g), xdup("") };

		row_add_owned(rows, 6, c);
		json_array_foreach(json_object_get(g, "machines"), mi, m) {
			char *d[6] = { xstrdup(sget(g, "name")), xstrdup(sget(m, "name")),
				       xstrdup(sget(m, "state")), dur_str(nget(m, "rto_ms")),
				       rpo_str(m), point_str(m) };

			row_add_owned(rows, 6, d);
		}
	}
	return rows;
}

static char *json_compact(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

	return s ? s : xdup("");
}

static json_t *hook_rows(const json_t *doc)
{
	json_t *rows = json_array(), *h;
	size_t i;

	row_add(rows, 5, "hook", "status", "duration", "message", "outputs");
	json_array_foreach(json_object_get(doc, "hooks"), i, h) {
		int64_t s = nget(h, "start"), e = nget(h, "end");
		char *c[5] = { xstrdup(sget(h, "step")), xstrdup(sget(h, "status")),
			       dur_str(s >= 0 && e >= 0 ? e - s : -1), xstrdup(sget(h, "message")),
			       json_compact(json_object_get(h, "outputs")) };

		row_add_owned(rows, 5, c);
	}
	return rows;
}

static json_t *gate_rows(const json_t *doc)
{
	json_t *rows = json_array(), *g, *a;
	size_t i, k;

	row_add(rows, 4, "gate", "approved by", "at", "comment");
	json_array_foreach(json_object_get(doc, "gates"), i, g)
		json_array_foreach(json_object_get(g, "approvals"), k, a) {
			char *c[4] = { xstrdup(sget(g, "gate")), xstrdup(sget(a, "by")),
				       time_str(nget(a, "at")), xstrdup(sget(a, "comment")) };

			row_add_owned(rows, 4, c);
		}
	return rows;
}

static char *objective_value(const json_t *o, const char *k)
{
	int64_t v = nget(o, k);

	if (v < 0)
		return xdup("-");
	return dur_str(!strcmp(str0(o, "unit"), "s") ? v * 1000 : v);
}

static json_t *objective_rows(const json_t *doc)
{
	json_t *rows = json_array(), *o;
	size_t i;

	row_add(rows, 4, "objective", "target", "measured", "result");
	json_array_foreach(json_object_get(doc, "objectives"), i, o) {
		char *c[4] = { xstrdup(sget(o, "name")), objective_value(o, "target"),
			       objective_value(o, "measured"),
			       xdup(json_is_true(json_object_get(o, "met")) ? "met" : "MISSED") };

		row_add_owned(rows, 4, c);
	}
	return rows;
}

/* Key/value summary lines. */
static json_t *summary_rows(const json_t *doc)
{
	json_t *rows = json_array(), *c = json_object_get(doc, "cleanup");
	char *v[2];

	row_add(rows, 2, "", "");
	row_add(rows, 2, "job", str0(doc, "job"));
	row_add(rows, 2, "plan", str0(doc, "plan"));
	row_add(rows, 2, "operation", str0(doc, "operation"));
	row_add(rows, 2, "status", str0(doc, "status"));
	row_add(rows, 2, "verdict", !strcmp(str0(doc, "verdict"), "pass") ? "PASS" : "FAIL");
	v[0] = xdup("started"), v[1] = time_str(nget(doc, "started"));
	row_add_owned(rows, 2, v);
	v[0] = xdup("ended"), v[1] = time_str(nget(doc, "ended"));
	row_add_owned(rows, 2, v);
	v[0] = xdup("duration"), v[1] = dur_str(nget(doc, "duration_ms"));
	row_add_owned(rows, 2, v);
	v[0] = xdup("RTO"), v[1] = dur_str(nget(doc, "rto_ms"));
	row_add_owned(rows, 2, v);
	v[0] = xdup("RPO"), v[1] = rpo_str(doc);
	row_add_owned(rows, 2, v);
	if (c)
		row_add(rows, 2, "cleanup", json_is_true(json_object_get(c, "verified"))
			? "verified" : "NOT verified");
	return rows;
}

/* ---- text ------------------------------------------------------------- */

static void section(dr_strbuf *sb, const char *title, json_t *rows, enum tfmt f)
{
	if (json_array_size(rows) > 1) {
		if (f == T_TEXT)
			dr_strbuf_addf(sb, "\n%s:\n", title);
		else if (f == T_MD)
			dr_strbuf_addf(sb, "\n### %s\n\n", title);
		else
			dr_strbuf_addf(sb, "<h2>%s</h2>\n", title);
		table(sb, rows, f);
	}
	json_decref(rows);
}

static void list_section(dr_strbuf *sb, const char *title, const json_t *arr,
			 const char *key, enum tfmt f)
{
	size_t i;
	json_t *v;

	if (!json_array_size(arr))
		return;
	if (f == T_TEXT)
		dr_strbuf_addf(sb, "\n%s:\n", title);
	else if (f == T_MD)
		dr_strbuf_addf(sb, "\n### %s\n\n", title);
	else
		dr_strbuf_addf(sb, "<h2>%s</h2>\n<ul>\n", title);
	json_array_foreach(arr, i, v) {
		const char *s = key ? str0(v, key) : json_string_value(v);
		const char *step = key ? sget(v, "step") : NULL;

		if (!s)
			s = "";
		dr_strbuf_addstr(sb, f == T_TEXT ? "  - " : f == T_MD ? "- " : "<li>");
		if (step) {
			if (f == T_TEXT) add_text(sb, step);
			else if (f == T_MD) add_md(sb, step);
			else add_html(sb, step);
			dr_strbuf_addstr(sb, ": ");
		}
		if (f == T_TEXT) add_text(sb, s);
		else if (f == T_MD) add_md(sb, s);
		else add_html(sb, s);
		dr_strbuf_addstr(sb, f == T_HTML ? "</li>\n" : "\n");
	}
	if (f == T_HTML)
		dr_strbuf_addstr(sb, "</ul>\n");
}

static void render_tables(const json_t *doc, dr_strbuf *sb, enum tfmt f)
{
	json_t *c = json_object_get(doc, "cleanup");

	list_section(sb, "Why it failed", json_object_get(doc, "reasons"), NULL, f);
	section(sb, "Objectives", objective_rows(doc), f);
	section(sb, "Groups and machines", machine_rows(doc), f);
	section(sb, "Hooks", hook_rows(doc), f);
	section(sb, "Gate approvals", gate_rows(doc), f);
	list_section(sb, "Unattended drill policy", json_object_get(doc, "policy"), "message", f);
	if (c) {
		json_t *rows = json_array(), *m;
		size_t i;

		row_add(rows, 2, "cleanup", "state");
		json_array_foreach(json_object_get(c, "machines"), i, m)
			row_add(rows, 2, str0(m, "name"), str0(m, "state"));
		row_add(rows, 2, "(verify)", str0(c, "verify"));
		section(sb, "Drill cleanup", rows, f);
	}
	list_section(sb, "Warnings", json_object_get(doc, "warnings"), "message", f);
}

static void render_text(const json_t *doc, dr_strbuf *sb)
{
	json_t *rows = summary_rows(doc);

	dr_strbuf_addstr(sb, "drplan report: ");
	add_text(sb, str0(doc, "operation"));
	dr_strbuf_addstr(sb, " of plan ");
	add_text(sb, str0(doc, "plan"));
	dr_strbuf_addstr(sb, "\n\n");
	json_array_remove(rows, 0);
	{
		/* Summary as "key: value" lines, keys padded. */
		size_t i;
		json_t *r;

		json_array_foreach(rows, i, r) {
			const char *k = json_string_value(json_array_get(r, 0));

			dr_strbuf_addf(sb, "%s:%*s", k, (int)(10 - strlen(k)), "");
			add_text(sb, json_string_value(json_array_get(r, 1)));
			dr_strbuf_addch(sb, '\n');
		}
	}
	json_decref(rows);
	render_tables(doc, sb, T_TEXT);
}

static void render_markdown(const json_t *doc, dr_strbuf *sb)
{
	dr_strbuf_addstr(sb, "## drplan report: ");
	add_md(sb, str0(doc, "operation"));
	dr_strbuf_addstr(sb, " of plan ");
	add_md(sb, str0(doc, "plan"));
	dr_strbuf_addf(sb, " (**%s**)\n\n", !strcmp(str0(doc, "verdict"), "pass") ? "PASS" : "FAIL");
	{
		json_t *rows = summary_rows(doc);

		json_array_set_new(json_array_get(rows, 0), 0, json_string("field"));
		json_array_set_new(json_array_get(rows, 0), 1, json_string("value"));
		table(sb, rows, T_MD);
		json_decref(rows);
	}
	render_tables(doc, sb, T_MD);
}

/* ---- JUnit ------------------------------------------------------------ */

static void junit_case(dr_strbuf *sb, const char *cls, const char *name, int64_t ms,
		       const char *failure, const char *detail)
{
	dr_strbuf_addstr(sb, "    <testcase classname=\"");
	dr_strbuf_add_xml_escaped(sb, cls);
	dr_strbuf_addstr(sb, "\" name=\"");
	dr_strbuf_add_xml_escaped(sb, name);
	dr_strbuf_addf(sb, "\" time=\"%" PRId64 ".%03d\"", ms > 0 ? ms / 1000 : 0,
		       (int)(ms > 0 ? ms % 1000 : 0));
	if (!failure) {
		dr_strbuf_addstr(sb, "/>\n");
		return;
	}
	dr_strbuf_addstr(sb, ">\n      <failure message=\"");
	dr_strbuf_add_xml_escaped(sb, failure);
	dr_strbuf_addstr(sb, "\" type=\"drplan\">");
	dr_strbuf_add_xml_escaped(sb, detail ? detail : failure);
	dr_strbuf_addstr(sb, "</failure>\n    </testcase>\n");
}

static void render_junit(const json_t *doc, dr_strbuf *sb)
{
	dr_strbuf body = DR_STRBUF_INIT;
	size_t tests = 0, failures = 0, gi, mi;
	json_t *g, *m, *o, *c = json_object_get(doc, "cleanup");
	char buf[1024];

#define CASE(cls, name, ms, fail, detail) \
	(tests++, failures += (fail) != NULL, junit_case(&body, cls, name, ms, fail, detail))
	json_array_foreach(json_object_get(doc, "groups"), gi, g) {
		char cls[300];

		snprintf(cls, sizeof(cls), "machines.%s", str0(g, "name"));
		json_array_foreach(json_object_get(g, "machines"), mi, m) {
			const char *st = str0(m, "state");
			bool ok = !strcmp(st, "succeeded") && nget(m, "rto_ms") >= 0;

			snprintf(buf, sizeof(buf), "%s %s%s%s", str0(m, "step"),
				 !strcmp(st, "succeeded") ? "succeeded, its post hooks did not" : st, sget(m, "message") ? ": " : "",
				 sget(m, "message") ? sget(m, "message") : "");
			CASE(cls, str0(m, "name"), nget(m, "rto_ms"),
			     ok ? NULL : buf, NULL);
		}
	}
	json_array_foreach(json_object_get(doc, "hooks"), mi, m) {
		bool ok = !strcmp(str0(m, "state"), "succeeded");

		snprintf(buf, sizeof(buf), "hook %s: %s", str0(m, "status"), str0(m, "message"));
		CASE("hooks", str0(m, "step"),
		     nget(m, "end") >= 0 ? nget(m, "end") - nget(m, "start") : 0,
		     ok ? NULL : buf, NULL);
	}
	json_array_foreach(json_object_get(doc, "objectives"), mi, o) {
		char *t = objective_value(o, "target"), *v = objective_value(o, "measured");

		snprintf(buf, sizeof(buf), "%s %s exceeds the objective %s", str0(o, "name"), v, t);
		CASE("objectives", str0(o, "name"), 0,
		     json_is_true(json_object_get(o, "met")) ? NULL : buf, NULL);
		free(t), free(v);
	}
	if (c) {
		dr_strbuf d = DR_STRBUF_INIT;
		bool ok = json_is_true(json_object_get(c, "verified"));

		json_array_foreach(json_object_get(c, "machines"), mi, m)
			dr_strbuf_addf(&d, "%s: %s\n", str0(m, "name"), str0(m, "state"));
		dr_strbuf_addf(&d, "verify: %s\n", str0(c, "verify"));
		CASE("cleanup", "cleanup", 0, ok ? NULL : "drill cleanup not verified", d.buf);
		dr_strbuf_release(&d);
	}
	snprintf(buf, sizeof(buf), "job is %s", str0(doc, "status"));
	CASE("job", "status", nget(doc, "duration_ms"),
	     strcmp(str0(doc, "status"), "succeeded") ? buf : NULL, NULL);
#undef CASE
	dr_strbuf_addf(sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		       "<testsuites name=\"drplan\" tests=\"%zu\" failures=\"%zu\">\n"
		       "  <testsuite name=\"", tests, failures);
	dr_strbuf_add_xml_escaped(sb, str0(doc, "operation"));
	dr_strbuf_addch(sb, ' ');
	dr_strbuf_add_xml_escaped(sb, str0(doc, "plan"));
	dr_strbuf_addf(sb, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" time=\"%" PRId64
		       ".%03d\" timestamp=\"", tests, failures, nget(doc, "duration_ms") / 1000,
		       (int)(nget(doc, "duration_ms") % 1000));
	{
		char *t = time_str(nget(doc, "started"));

		/* JUnit's timestamp has no zone designator. */
		if (strlen(t) && t[strlen(t) - 1] == 'Z')
			t[strlen(t) - 1] = '\0';
		dr_strbuf_addstr(sb, t);
		free(t);
	}
	dr_strbuf_addstr(sb, "\">\n    <properties>\n");
	{
		static const char *const keys[] = { "job", "plan", "operation", "status", "verdict" };

		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			dr_strbuf_addf(sb, "      <property name=\"%s\" value=\"", keys[k]);
			dr_strbuf_add_xml_escaped(sb, str0(doc, keys[k]));
			dr_strbuf_addstr(sb, "\"/>\n");
		}
	}
	dr_strbuf_addstr(sb, "    </properties>\n");
	dr_strbuf_add(sb, body.buf, body.len);
	dr_strbuf_addstr(sb, "  </testsuite>\n</testsuites>\n");
	dr_strbuf_release(&body);
}

/* ---- HTML + SVG timeline ---------------------------------------------- */

static const char *bar_color(const json_t *s)
{
	const char *st = str0(s, "state"), *k = str0(s, "kind");

	if (!strcmp(st, "failed"))
		return "#d9534f";
	if (!strcmp(st, "cancelled") || !strcmp(st, "skipped"))
		return "#9e9e9e";
	if (is_failover_kind(k))
		return "#337ab7";
	if (!strcmp(k, "test-failover-cleanup"))
		return "#8e6bbf";
	if (!strcmp(k, "hook"))
		return "#4cae4c";
	if (!strcmp(k, "wait"))
		return "#f0ad4e";
	if (!strcmp(k, "gate") || !strcmp(k, "manual"))
		return "#e07b39";
	if (!strcmp(k, "verify-cleanup"))
		return "#1f9e9e";
	if (!strcmp(k, "commit") || !strcmp(k, "reprotect"))
		return "#2c4f8a";
	return "#777777";
}

static void render_svg(const json_t *doc, int64_t rto_obj, dr_strbuf *sb)
{
	static const int64_t nice[] = { 1000, 5000, 10000, 30000, 60000, 120000, 300000,
		600000, 900000, 1800000, 3600000, 7200000, 21600000, 43200000, 86400000 };
	const json_t *steps = json_object_get(doc, "steps");
	int64_t t0 = nget(doc, "started"), span = 1, tick = nice[0];
	const int label_w = 300, chart_w = 760, row_h = 20, top = 30;
	size_t n = json_array_size(steps), i, seps = 0;
	const char *prev = NULL;
	json_t *s;
	int h, y;

	json_array_foreach(steps, i, s) {
		int64_t e = nget(s, "end") >= 0 ? nget(s, "end") : nget(doc, "started") +
			    nget(doc, "duration_ms");

		if (e - t0 > span)
			span = e - t0;
	}
	if (rto_obj > 0 && rto_obj * 21 / 20 > span)
		span = rto_obj * 21 / 20;
	for (i = 0; i < sizeof(nice) / sizeof(nice[0]); i++) {
		tick = nice[i];
		if (span / tick <= 10)
			break;
	}
	while (span / tick > 10)
		tick *= 2;
	/* Separators between groups add a few pixels each. */
	json_array_foreach(steps, i, s) {
		char key[600];

		snprintf(key, sizeof(key), "%s/%s", str0(s, "phase"), str0(s, "group"));
		if (prev && strcmp(prev, key))
			seps++;
		free((char *)prev);
		prev = xdup(key);
	}
	free((char *)prev);
	prev = NULL;
	h = top + (int)n * row_h + (int)seps * 6 + 30;
	dr_strbuf_addf(sb, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" "
		       "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
		       "aria-label=\"timeline of the job's steps\">\n",
		       label_w + chart_w + 20, h, label_w + chart_w + 20, h);
	dr_strbuf_addf(sb, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
		       label_w + chart_w + 20, h);
	/* Axis: ticks and labels, top and grid lines. */
	for (int64_t t = 0; t <= span; t += tick) {
		double x = label_w + (double)t * chart_w / (double)span;
		char *d = dur_str(t);

		dr_strbuf_addf(sb, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
			       "stroke=\"#dddddd\"/>\n<text x=\"%.1f\" y=\"%d\" font-size=\"10\" "
			       "text-anchor=\"middle\" fill=\"#555\">+%s</text>\n",
			       x, top - 6, x, h - 24, x, top - 10, d);
		free(d);
	}
	y = top;
	json_array_foreach(steps, i, s) {
		char key[600];
		int64_t st = nget(s, "start"), e = nget(s, "end");
		bool open = e < 0;
		double x0, x1;

		snprintf(key, sizeof(key), "%s/%s", str0(s, "phase"), str0(s, "group"));
		if (prev && strcmp(prev, key)) {
			dr_strbuf_addf(sb, "<line class=\"sep\" x1=\"0\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
				       "stroke=\"#888\" stroke-dasharray=\"4 3\"/>\n",
				       y + 3, label_w + chart_w + 20, y + 3);
			y += 6;
		}
		free((char *)prev);
		prev = xdup(key);
		if (open)
			e = t0 + nget(doc, "duration_ms");
		x0 = label_w + (double)(st - t0) * chart_w / (double)span;
		x1 = label_w + (double)(e - t0) * chart_w / (double)span;
		if (x1 - x0 < 2)
			x1 = x0 + 2;
		dr_strbuf_addf(sb, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#222\">",
			       6, y + 14);
		add_html(sb, str0(s, "id"));
		dr_strbuf_addstr(sb, "</text>\n");
		dr_strbuf_addf(sb, "<rect class=\"bar\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
			       "height=\"%d\" rx=\"2\" fill=\"%s\"%s><title>",
			       x0, y + 3, x1 - x0, row_h - 6, bar_color(s),
			       open ? " fill-opacity=\"0.5\"" : "");
		add_html(sb, str0(s, "id"));
		dr_strbuf_addstr(sb, " (");
		add_html(sb, str0(s, "kind"));
		dr_strbuf_addstr(sb, ", ");
		add_html(sb, str0(s, "state"));
		dr_strbuf_addstr(sb, ") +");
		{
			char *a = dur_str(st - t0), *b = dur_str(e - st);

			dr_strbuf_addf(sb, "%s for %s", a, b);
			free(a), free(b);
		}
		if (sget(s, "message")) {
			dr_strbuf_addstr(sb, ": ");
			add_html(sb, sget(s, "message"));
		}
		dr_strbuf_addstr(sb, "</title></rect>\n");
		y += row_h;
	}
	free((char *)prev);
	if (rto_obj > 0) {
		double x = label_w + (double)rto_obj * chart_w / (double)span;
		char *d = dur_str(rto_obj);

		dr_strbuf_addf(sb, "<line class=\"rto-objective\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
			       "y2=\"%d\" stroke=\"#c9302c\" stroke-width=\"2\" "
			       "stroke-dasharray=\"6 3\"/>\n<text x=\"%.1f\" y=\"%d\" font-size=\"11\" "
			       "text-anchor=\"end\" fill=\"#c9302c\">RTO objective %s</text>\n",
			       x, top - 6, x, h - 20, x - 4, h - 8, d);
		free(d);
	}
	if (nget(doc, "rto_ms") >= 0) {
		double x = label_w + (double)nget(doc, "rto_ms") * chart_w / (double)span;

		char *d = dur_str(nget(doc, "rto_ms"));

		dr_strbuf_addf(sb, "<line class=\"rto-measured\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
			       "y2=\"%d\" stroke=\"#3c763d\" stroke-width=\"1\"/>\n<text x=\"%.1f\" "
			       "y=\"%d\" font-size=\"11\" fill=\"#3c763d\">RTO measured %s</text>\n",
			       x, top - 6, x, h - 20, x + 4, h - 8, d);
		free(d);
	}
	dr_strbuf_addstr(sb, "</svg>\n");
}

static void render_html(const json_t *doc, dr_strbuf *sb)
{
	bool pass = !strcmp(str0(doc, "verdict"), "pass");
	int64_t rto_obj = -1;
	json_t *o, *rows;
	size_t i;

	json_array_foreach(json_object_get(doc, "objectives"), i, o)
		if (!strcmp(str0(o, "name"), "rto"))
			rto_obj = nget(o, "target");
	dr_strbuf_addstr(sb, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
			 "<title>drplan report: ");
	add_html(sb, str0(doc, "operation"));
	dr_strbuf_addstr(sb, " of ");
	add_html(sb, str0(doc, "plan"));
	dr_strbuf_addstr(sb, "</title>\n<style>\n"
		"body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;"
		"margin:24px;color:#222}\n"
		"h1{font-size:20px}h2{font-size:16px;margin-top:24px}\n"
		"table{border-collapse:collapse;font-size:13px}\n"
		"td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}\n"
		"th{background:#f3f3f3}\n"
		".verdict{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff}\n"
		".pass{background:#3c763d}.fail{background:#c9302c}\n"
		".timeline{border:1px solid #ddd}\n"
		".legend{font-size:12px}.legend span{display:inline-block;width:12px;"
		"height:10px;margin:0 4px 0 10px}\n"
		"</style>\n</head>\n<body>\n<h1>drplan report: ");
	add_html(sb, str0(doc, "operation"));
	dr_strbuf_addstr(sb, " of plan ");
	add_html(sb, str0(doc, "plan"));
	dr_strbuf_addf(sb, " <span class=\"verdict %s\">%s</span></h1>\n",
		       pass ? "pass" : "fail", pass ? "PASS" : "FAIL");
	rows = summary_rows(doc);
	json_array_set_new(json_array_get(rows, 0), 0, json_string("field"));
	json_array_set_new(json_array_get(rows, 0), 1, json_string("value"));
	table(sb, rows, T_HTML);
	json_decref(rows);
	dr_strbuf_addstr(sb, "<h2>Timeline</h2>\n");
	render_svg(doc, rto_obj, sb);
	dr_strbuf_addstr(sb, "<p class=\"legend\">"
		"<span style=\"background:#337ab7\"></span>failover "
		"<span style=\"background:#8e6bbf\"></span>cleanup "
		"<span style=\"background:#4cae4c\"></span>hook "
		"<span style=\"background:#f0ad4e\"></span>hold "
		"<span style=\"background:#e07b39\"></span>gate/manual "
		"<span style=\"background:#1f9e9e\"></span>verify "
		"<span style=\"background:#2c4f8a\"></span>commit/reprotect "
		"<span style=\"background:#d9534f\"></span>failed "
		"<span style=\"background:#9e9e9e\"></span>skipped/cancelled</p>\n");
	render_tables(doc, sb, T_HTML);
	dr_strbuf_addstr(sb, "</body>\n</html>\n");
}

int dr_jobreport_render(const json_t *doc, dr_jobreport_format fmt, dr_strbuf *out)
{
	char *s;

	switch (fmt) {
	case DR_JOBREPORT_TEXT: render_text(doc, out); return 0;
	case DR_JOBREPORT_MARKDOWN: render_markdown(doc, out); return 0;
	case DR_JOBREPORT_JUNIT: render_junit(doc, out); return 0;
	case DR_JOBREPORT_HTML: render_html(doc, out); return 0;
	case DR_JOBREPORT_JSON:
		s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (!s)
			return dr_error_set(DR_ENOMEM, "cannot encode the report");
		dr_strbuf_addstr(out, s);
		dr_strbuf_addch(out, '\n');
		free(s);
		return 0;
	}
	return dr_error_set(DR_EINVAL, "unknown report format");
}

/* ---- history ---------------------------------------------------------- */

struct hist {
	dr_store *s;
	const char *plan;
	const dr_jobreport_objectives *obj;
	json_t *drills;
};

static int hist_one(void *ctx, const char *job_id, json_t *header, int err)
{
	struct hist *H = ctx;
	json_t *doc = NULL, *e, *o;
	size_t i;

	if (!header || !sget(header, "plan") || strcmp(sget(header, "plan"), H->plan) ||
	    !sget(header, "operation") || strcmp(sget(header, "operation"), "drill")) {
		(void)err;
		return 0;
	}
	if (dr_jobreport_build(H->s, job_id, H->obj, &doc) < 0) {
		json_array_append_new(H->drills, json_pack("{s:s,s:I,s:s}", "job", job_id,
			"started", (json_int_t)iget(header, "pt", 0), "error", dr_error_msg()));
		return 0;
	}
	e = json_object();
	json_object_set_new(e, "job", json_string(job_id));
	json_object_set(e, "started", json_object_get(doc, "started"));
	json_object_set(e, "status", json_object_get(doc, "status"));
	json_object_set(e, "verdict", json_object_get(doc, "verdict"));
	json_object_set(e, "duration_ms", json_object_get(doc, "duration_ms"));
	json_object_set(e, "rto_ms", json_object_get(doc, "rto_ms"));
	json_object_set(e, "rpo_s", json_object_get(doc, "rpo_s"));
	json_array_foreach(json_object_get(doc, "objectives"), i, o) {
		char k[32];

		snprintf(k, sizeof(k), "%s_met", str0(o, "name"));
		json_object_set(e, k, json_object_get(o, "met"));
	}
	json_array_append_new(H->drills, e);
	json_decref(doc);
	return 0;
}

static int hist_cmp(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int64_t tx = iget(x, "started", 0), ty = iget(y, "started", 0);

	if (tx != ty)
		return tx > ty ? -1 : 1;
	return -strcmp(str0(x, "job"), str0(y, "job"));
}

int dr_jobreport_history(dr_store *s, const char *plan_name,
			 const dr_jobreport_objectives *obj, json_t **out)
{
	struct hist H = { s, plan_name, obj, json_array() };
	json_t **v, *sorted = json_array(), *objs = json_object();
	size_t n, i;
	int rc = dr_jobs_list(s, hist_one, &H);

	*out = NULL;
	if (rc < 0) {
		json_decref(H.drills), json_decref(sorted), json_decref(objs);
		return rc;
	}
	n = json_array_size(H.drills);
	v = calloc(n + 1, sizeof(*v));
	if (!v)
		abort();
	for (i = 0; i < n; i++)
		v[i] = json_array_get(H.drills, i);
	qsort(v, n, sizeof(*v), hist_cmp);
	for (i = 0; i < n; i++)
		json_array_append(sorted, v[i]);
	free(v);
	json_decref(H.drills);
	if (obj && obj->rto_ms)
		json_object_set_new(objs, "rto_ms", json_integer((json_int_t)obj->rto_ms));
	if (obj && obj->rpo_ms)
		json_object_set_new(objs, "rpo_s", json_integer((json_int_t)(obj->rpo_ms / 1000)));
	*out = json_pack("{s:s,s:s,s:o,s:o}", "report", "drplan-drill-history/v1", "plan",
			 plan_name, "objectives", objs, "drills", sorted);
	return 0;
}

static const char *met_str(const json_t *e, const char *k)
{
	json_t *v = json_object_get(e, k);

	return !v ? "-" : json_is_true(v) ? "met" : "MISSED";
}

int dr_jobreport_history_render(const json_t *doc, dr_jobreport_format fmt,
				dr_strbuf *out)
{
	json_t *rows, *e;
	size_t i;

	if (fmt == DR_JOBREPORT_JSON)
		return dr_jobreport_render(doc, fmt, out);
	if (fmt != DR_JOBREPORT_TEXT && fmt != DR_JOBREPORT_MARKDOWN)
		return dr_error_set(DR_EINVAL, "history is text, json or markdown");
	rows = json_array();
	row_add(rows, 8, "job", "started", "status", "verdict", "RTO", "RTO objective",
		"RPO", "RPO objective");
	json_array_foreach(json_object_get(doc, "drills"), i, e) {
		char *c[8] = { xstrdup(sget(e, "job")), time_str(nget(e, "started")),
			       xdup(sget(e, "error") ? "unreadable" : str0(e, "status")),
			       xdup(sget(e, "error") ? "-" : str0(e, "verdict")),
			       dur_str(nget(e, "rto_ms")), xdup(met_str(e, "rto_met")),
			       rpo_str(e), xdup(met_str(e, "rpo_met")) };

		row_add_owned(rows, 8, c);
	}
	if (fmt == DR_JOBREPORT_MARKDOWN) {
		dr_strbuf_addstr(out, "## Drill history of plan ");
		add_md(out, str0(doc, "plan"));
		dr_strbuf_addstr(out, "\n\n");
	} else {
		dr_strbuf_addstr(out, "Drill history of plan ");
		add_text(out, str0(doc, "plan"));
		dr_strbuf_addf(out, " (%zu drills, newest first)\n\n",
			       json_array_size(json_object_get(doc, "drills")));
	}
	table(out, rows, fmt == DR_JOBREPORT_MARKDOWN ? T_MD : T_TEXT);
	json_decref(rows);
	return 0;
}
