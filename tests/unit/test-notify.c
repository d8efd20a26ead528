/*
 * test-notify.c - webhook notifications: the HMAC and backoff helpers, and
 * jobs on the simulator notifying a test receiver on 127.0.0.1 (an
 * ephemeral port, in-process on the job's loop: tests/unit/httpd.h):
 * payloads and signatures, a retry after 503, 400 not retried, retries
 * given up, a hanging receiver that does not hold the job, a missing
 * secret, and the secret kept out of the journal, status and reports.
 * Nothing but loopback is contacted.
 */
#define _GNU_SOURCE /* accept4, strcasestr in httpd.h */
#include "exec-harness.h"

#include "httpd.h"
#include "test.h"

#include "core/strbuf.h"
#include "exec/notify.h"
#include "report/jobreport.h"

#include <time.h>

#define SECRET_ENV "DRPLAN_TEST_WEBHOOK_SECRET"
#define SECRET "s3cr3t-Webhook-Value-42"

/* ---- helpers ------------------------------------------------------------ */

TEST(sign_and_backoff)
{
	char sig[72];

	/* RFC 4231, test case 2. */
	CHECK_INT(dr_notify_sign("Jefe", 4, "what do ya want for nothing?", 28, sig), 0);
	CHECK_STR(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* Attempt 2 waits base/2 .. base; each attempt doubles; the cap holds. */
	CHECK_INT(dr_notify_backoff(2, 1000, 60000, 0), 500);
	CHECK_INT(dr_notify_backoff(2, 1000, 60000, 500), 1000);
	CHECK_INT(dr_notify_backoff(2, 1000, 60000, 501), 500);
	CHECK_INT(dr_notify_backoff(3, 1000, 60000, 0), 1000);
	CHECK_INT(dr_notify_backoff(5, 1000, 60000, 0), 4000);
	CHECK_INT(dr_notify_backoff(5, 1000, 60000, 4000), 8000);
	CHECK_INT(dr_notify_backoff(30, 1000, 60000, 0), 30000);
	CHECK_INT(dr_notify_backoff(30, 1000, 60000, 30000), 60000);
}

/* ---- the receiver ------------------------------------------------------- */

struct got {
	json_t *reqs; /* [{path, event, delivery, signature, body}] */
	dr_loop *stop_at_start; /* stop this loop when job-started arrives */
};

static void header_value(const char *h, size_t hlen, const char *name, char *out, size_t n)
{
	dr_strbuf key = DR_STRBUF_INIT;
	char *block = strndup(h, hlen);
	const char *p;

	out[0] = '\0';
	dr_strbuf_addf(&key, "\r\n%s:", name);
	p = strcasestr(block, key.buf);
	if (p) {
		p += key.len;
		while (*p == ' ')
			p++;
		snprintf(out, n, "%.*s", (int)strcspn(p, "\r\n"), p);
	}
	free(block);
	dr_strbuf_release(&key);
}

static void on_req(void *ud, const char *path, const char *h, size_t hlen,
		   const char *body, size_t blen)
{
	struct got *g = ud;
	char ev[64], dl[64], sig[128];

	header_value(h, hlen, "X-Drplan-Event", ev, sizeof(ev));
	header_value(h, hlen, "X-Drplan-Delivery", dl, sizeof(dl));
	header_value(h, hlen, "X-Drplan-Signature", sig, sizeof(sig));
	json_array_append_new(g->reqs, json_pack("{s:s,s:s,s:s,s:s,s:s%}", "path", path,
						 "event", ev, "delivery", dl,
						 "signature", sig, "body", body, blen));
	if (g->stop_at_start && !strcmp(ev, "job-started"))
		dr_loop_stop(g->stop_at_start); /* as SIGTERM would */
}

/* Requests to path (prefix) for event; -1: any. */
static int count(struct got *g, const char *path, const char *event)
{
	size_t i;
	json_t *r;
	int n = 0;

	json_array_foreach(g->reqs, i, r)
		if (!strncmp(json_string_value(json_object_get(r, "path")), path, strlen(path)) &&
		    (!event || !strcmp(json_string_value(json_object_get(r, "event")), event)))
			n++;
	return n;
}

static json_t *first(struct got *g, const char *path, const char *event)
{
	size_t i;
	json_t *r;

	json_array_foreach(g->reqs, i, r)
		if (!strncmp(json_string_value(json_object_get(r, "path")), path, strlen(path)) &&
		    !strcmp(json_string_value(json_object_get(r, "event")), event))
			return r;
	return NULL;
}

/* ---- jobs --------------------------------------------------------------- */

static dr_webhook hooks[4];

static void erp(env *E)
{
	dr_plan *p = plan_new(E->arena, "erp", 8, 4);
	dr_group *data = group(E->arena, p, "data", 4);
	dr_group *app = group(E->arena, p, "app", 4);

	member(p, data, machine(E->arena, p, "sql01"));
	member(p, app, machine(E->arena, p, "app01"));
	app->after[app->nafter++] = 0;
	app->after_explicit = true;
	p->concurrency.v = 10;
	p->drill.at = &stated;
	p->drill.vnet.v = "vnet-drill";
	p->drill.manual_policy.v = "fail";
	p->drill.gate_policy.v = "fail";
	memset(hooks, 0, sizeof(hooks));
	p->webhooks = hooks;
	E->plan = p;
}

/* Hook k of the plan: name, path on the receiver, events mask, attempts. */
static void hook(env *E, int port, const char *name, const char *path, unsigned events,
		 unsigned attempts, uint64_t timeout_ms, bool secret)
{
	dr_webhook *w = &hooks[E->plan->nwebhooks++];

	w->name.v = name;
	w->url.v = dr_arena_printf(E->arena, "http://127.0.0.1:%d%s?token=t0k3n", port, path);
	w->events = events;
	w->attempts.v = attempts;
	w->timeout.ms = timeout_ms;
	w->secret_env.v = secret ? SECRET_ENV : NULL;
}

struct run {
	env E;
	httpd srv;
	struct got got;
	char id[256];
	int rc;
	double secs;         /* real time dr_job_run took */
	bool stop;           /* stop the loop when job-started is received */
	bool launch;         /* drive it as the scheduler does: launch, check */
};

typedef void (*setup_fn)(struct run *r);

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A job of op with the hooks setup adds, the receiver on the job's loop. */
static void run_job(struct run *r, dr_operation op, setup_fn setup, bool unattended,
		    uint64_t grace_ms)
{
	dr_job_opts o;
	dr_job *j = NULL;
	double t0;

	bool stop = r->stop, launch = r->launch;

	memset(r, 0, sizeof(*r));
	r->stop = stop;
	r->launch = launch;
	env_init(&r->E, false, NULL);
	erp(&r->E);
	r->got.reqs = json_array();
	env_proc_new(&r->E, NULL);
	if (httpd_start(&r->srv, r->E.loop) < 0)
		abort();
	r->srv.on_request = on_req;
	r->srv.on_request_ud = &r->got;
	setup(r);
	if (r->stop)
		r->got.stop_at_start = r->E.loop;
	if (env_compile(&r->E, op, 0) < 0)
		abort();
	env_opts(&r->E, &o);
	o.unattended = unattended;
	o.notify_backoff_ms = 10;
	o.notify_grace_ms = grace_ms;
	r->rc = dr_job_start(r->E.plan, r->E.graph, &o, NULL, &j);
	if (r->rc < 0) {
		fprintf(stderr, "start: %s\n", dr_error_msg());
		return;
	}
	strcpy(r->id, dr_job_id(j));
	t0 = now_s();
	if (r->launch) {
		r->rc = dr_job_launch(j);
		while (r->rc == 0 && (r->rc = dr_job_check(j)) == 0)
			if (dr_loop_run_once(r->E.loop, true) <= 0)
				break;
	} else {
		r->rc = dr_job_run(j);
	}
	r->secs = now_s() - t0;
	if (r->rc < 0 && r->rc != DR_EAGAIN)
		dr_sim_free(r->E.sim), r->E.sim = NULL; /* calls may be in flight */
	dr_job_free(j);
	httpd_stop(&r->srv);
	env_proc_free(&r->E);
}

static void run_free(struct run *r)
{
	json_decref(r->got.reqs);
	env_release(&r->E);
}

/* The job's notification messages, in journal order. */
static const char *note(struct run *r, size_t k)
{
	static char buf[512];
	json_t *doc = NULL;

	buf[0] = '\0';
	if (dr_job_status(r->E.store, r->id, &doc) < 0)
		return "(error)";
	snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(json_array_get(
		json_object_get(doc, "notifications"), k), "message")) ?: "(none)");
	json_decref(doc);
	return buf;
}

static size_t nnotes(struct run *r)
{
	json_t *doc = NULL;
	size_t n;

	if (dr_job_status(r->E.store, r->id, &doc) < 0)
		return 9999;
	n = json_array_size(json_object_get(doc, "notifications"));
	json_decref(doc);
	return n;
}

/* Does s occur anywhere in the job's journal file, status or reports? */
static bool leaks(struct run *r, const char *s)
{
	dr_strbuf path = DR_STRBUF_INIT, rep = DR_STRBUF_INIT;
	json_t *doc = NULL;
	char *txt;
	FILE *f;
	static char buf[1 << 20];
	size_t n = 0;
	bool found = false;

	dr_strbuf_addf(&path, "%s/jobs/%s/journal", r->E.dir, r->id);
	f = fopen(path.buf, "rb");
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	found |= n == 0 || memmem(buf, n, s, strlen(s)) != NULL;
	if (dr_job_status(r->E.store, r->id, &doc) == 0) {
		txt = json_dumps(doc, 0);
		found |= strstr(txt, s) != NULL;
		free(txt);
		json_decref(doc);
	}
	for (int fmt = DR_JOBREPORT_TEXT; fmt <= DR_JOBREPORT_HTML; fmt++) {
		doc = NULL;
		if (dr_jobreport_build(r->E.store, r->id, NULL, &doc) == 0) {
			dr_strbuf_reset(&rep);
			dr_jobreport_render(doc, (dr_jobreport_format)fmt, &rep);
			found |= rep.len == 0 || strstr(rep.buf, s) != NULL;
		}
		json_decref(doc);
	}
	dr_strbuf_release(&path);
	dr_strbuf_release(&rep);
	return found;
}

static void setup_all(struct run *r)
{
	hook(&r->E, r->srv.port, "ops", "/hook", DR_NEV_ALL, 3, 5000, true);
}

TEST(drill_payloads_and_signatures)
{
	struct run r = { 0 };
	json_t *req, *body;
	char sig[72];
	const char *b;

	setenv(SECRET_ENV, SECRET, 1);
	run_job(&r, DR_OP_DRILL, setup_all, false, 5000);
	CHECK_INT(r.rc, 0);
	CHECK_STR(status_str(&r.E, r.id, "status", NULL, NULL), "succeeded");
	CHECK_INT(count(&r.got, "/hook", NULL), 2);
	CHECK_INT(count(&r.got, "/hook", "job-started"), 1);
	CHECK_INT(count(&r.got, "/hook", "job-finished"), 1);
	req = first(&r.got, "/hook", "job-finished");
	CHECK(req != NULL);
	if (req) {
		b = json_string_value(json_object_get(req, "body"));
		CHECK_INT(dr_notify_sign(SECRET, strlen(SECRET), b, strlen(b), sig), 0);
		CHECK_STR(json_string_value(json_object_get(req, "signature")), sig);
		/* The same body under another key does not verify. */
		CHECK_INT(dr_notify_sign("other", 5, b, strlen(b), sig), 0);
		CHECK(strcmp(json_string_value(json_object_get(req, "signature")), sig));
		body = json_loads(b, 0, NULL);
		CHECK(body != NULL);
		CHECK_STR(json_string_value(json_object_get(body, "schema")), "drplan.notification/v1");
		CHECK_STR(json_string_value(json_object_get(body, "event")), "job-finished");
		CHECK_STR(json_string_value(json_object_get(body, "job")), r.id);
		CHECK_STR(json_string_value(json_object_get(body, "plan")), "erp");
		CHECK_STR(json_string_value(json_object_get(body, "operation")), "drill");
		CHECK_STR(json_string_value(json_object_get(body, "status")), "succeeded");
		CHECK(json_is_null(json_object_get(body, "step")));
		CHECK(json_is_false(json_object_get(body, "unattended")));
		CHECK_STR(json_string_value(json_object_get(body, "id")),
			  json_string_value(json_object_get(req, "delivery")));
		CHECK_INT(strlen(json_string_value(json_object_get(body, "id"))), 32);
		CHECK_STR(json_string_value(json_object_get(body, "message")),
			  dr_arena_printf(r.E.arena, "job %s succeeded", r.id));
		CHECK(json_integer_value(json_object_get(json_object_get(body, "details"),
							 "duration_ms")) > 0);
		CHECK(json_object_get(json_object_get(body, "details"), "rpo_s") != NULL);
		CHECK(json_is_string(json_object_get(body, "time")));
		/* Exactly the documented fields, in the documented order. */
		{
			static const char *const keys[] = { "schema", "id", "event", "time",
				"job", "plan", "operation", "unattended", "step", "status",
				"message", "details" };
			const char *k;
			json_t *v;
			size_t i = 0;

			json_object_foreach(body, k, v) {
				CHECK(i < sizeof(keys) / sizeof(keys[0]) && !strcmp(k, keys[i]));
				i++;
			}
			CHECK_INT(i, 12);
		}
		json_decref(body);
	}
	req = first(&r.got, "/hook", "job-started");
	if (req) {
		body = json_loads(json_string_value(json_object_get(req, "body")), 0, NULL);
		CHECK_STR(json_string_value(json_object_get(body, "message")),
			  dr_arena_printf(r.E.arena, "drill of plan erp started (%zu steps)",
					  r.E.graph->nsteps));
		{
			/* Each event has its own id. */
			json_t *fin = json_loads(json_string_value(json_object_get(
				first(&r.got, "/hook", "job-finished"), "body")), 0, NULL);

			CHECK(strcmp(json_string_value(json_object_get(body, "id")),
				     json_string_value(json_object_get(fin, "id"))));
			json_decref(fin);
		}
		json_decref(body);
	}
	CHECK_INT(nnotes(&r), 2);
	CHECK_STR(note(&r, 0), "webhook ops: job-started delivered (HTTP 200)");
	CHECK_STR(note(&r, 1), "webhook ops: job-finished delivered (HTTP 200)");
	CHECK(!leaks(&r, SECRET));
	/* The URL's query string (a token, maybe) is not logged either. */
	CHECK(!leaks(&r, "t0k3n"));
	run_free(&r);
}

/* A failover with a manual step: waiting, parked (detached), and the
 * failed step of an unattended drill. */
static void setup_waits(struct run *r)
{
	dr_group *g = &r->E.plan->groups[1];

	manual(g->pre, &g->npre, "stop-batch", "Stop the batch scheduler", DR_ON_ALL);
	hook(&r->E, r->srv.port, "ops", "/hook",
	     1u << DR_NEV_MANUAL_WAITING | 1u << DR_NEV_JOB_PARKED | 1u << DR_NEV_STEP_FAILED |
	     1u << DR_NEV_JOB_FINISHED, 3, 5000, true);
}

TEST(waiting_parked_and_failed)
{
	struct run r = { 0 };
	json_t *body;

	setenv(SECRET_ENV, SECRET, 1);
	run_job(&r, DR_OP_FAILOVER, setup_waits, false, 5000);
	CHECK_INT(r.rc, DR_EAGAIN);
	CHECK_INT(count(&r.got, "/hook", NULL), 2);
	body = json_loads(json_string_value(json_object_get(
		first(&r.got, "/hook", "manual-waiting"), "body")), 0, NULL);
	CHECK_STR(json_string_value(json_object_get(body, "step")), "app/pre/stop-batch");
	CHECK_STR(json_string_value(json_object_get(body, "message")),
		  "app/pre/stop-batch waits for a person: Stop the batch scheduler");
	CHECK_STR(json_string_value(json_object_get(json_object_get(body, "details"),
						    "instruction")), "Stop the batch scheduler");
	json_decref(body);
	body = json_loads(json_string_value(json_object_get(
		first(&r.got, "/hook", "job-parked"), "body")), 0, NULL);
	CHECK_STR(json_string_value(json_object_get(json_object_get(body, "details"),
						    "reason")), "waiting-for-people");
	json_decref(body);
	run_free(&r);

	run_job(&r, DR_OP_DRILL, setup_waits, true, 5000);
	CHECK_INT(r.rc, 0);
	CHECK_STR(status_str(&r.E, r.id, "status", NULL, NULL), "failed");
	CHECK_INT(count(&r.got, "/hook", "manual-waiting"), 0);
	CHECK_INT(count(&r.got, "/hook", "step-failed"), 1);
	body = json_loads(json_string_value(json_object_get(
		first(&r.got, "/hook", "step-failed"), "body")), 0, NULL);
	CHECK(json_is_true(json_object_get(body, "unattended")));
	CHECK_STR(json_string_value(json_object_get(body, "message")),
		  "app/pre/stop-batch failed: unattended drill: manual step "
		  "app/pre/stop-batch (\"Stop the batch scheduler\") would wait for a "
		  "person and drill.unattended.manual is fail: the drill fails here and "
		  "cleans up");
	json_decref(body);
	body = json_loads(json_string_value(json_object_get(
		first(&r.got, "/hook", "job-finished"), "body")), 0, NULL);
	CHECK_STR(json_string_value(json_object_get(body, "status")), "failed");
	json_decref(body);
	run_free(&r);
}

static void setup_flaky(struct run *r)
{
	hook(&r->E, r->srv.port, "flaky", "/flaky/1", 1u << DR_NEV_JOB_FINISHED, 5, 5000, true);
	hook(&r->E, r->srv.port, "bad", "/status/400", 1u << DR_NEV_JOB_FINISHED, 5, 5000,
	     false);
	hook(&r->E, r->srv.port, "down", "/status/503", 1u << DR_NEV_JOB_FINISHED, 3, 5000,
	     false);
}

TEST(retries)
{
	struct run r = { 0 };
	const char *a, *b;

	setenv(SECRET_ENV, SECRET, 1);
	run_job(&r, DR_OP_DRILL, setup_flaky, false, 5000);
	CHECK_INT(r.rc, 0);
	CHECK_STR(status_str(&r.E, r.id, "status", NULL, NULL), "succeeded");
	CHECK_INT(count(&r.got, "/flaky", NULL), 2);
	CHECK_INT(count(&r.got, "/status/400", NULL), 1);
	CHECK_INT(count(&r.got, "/status/503", NULL), 3);
	/* A retry sends the very same delivery: same id, body, signature. */
	a = json_string_value(json_object_get(json_array_get(r.got.reqs, 0), "body"));
	CHECK(a != NULL);
	{
		size_t i;
		json_t *q;
		int same = 0;

		json_array_foreach(r.got.reqs, i, q) {
			b = json_string_value(json_object_get(q, "body"));
			if (!strncmp(json_string_value(json_object_get(q, "path")), "/flaky", 6) &&
			    i && !strcmp(b, json_string_value(json_object_get(
				    first(&r.got, "/flaky", "job-finished"), "body"))))
				same++;
		}
		CHECK_INT(same, 1);
	}
	CHECK_INT(nnotes(&r), 3);
	{
		int d = 0, rj = 0, g = 0;

		for (size_t k = 0; k < 3; k++) {
			const char *m = note(&r, k);

			d += !strcmp(m, "webhook flaky: job-finished delivered after 2 attempts (HTTP 200)");
			rj += !strcmp(m, "webhook bad: job-finished rejected with HTTP 400, not retried");
			g += !strcmp(m, "webhook down: gave up on job-finished after 3 attempts: HTTP 503");
		}
		CHECK_INT(d, 1);
		CHECK_INT(rj, 1);
		CHECK_INT(g, 1);
	}
	CHECK(!leaks(&r, SECRET));
	run_free(&r);
}

static void setup_hang(struct run *r)
{
	hook(&r->E, r->srv.port, "slow", "/hang", DR_NEV_ALL, 5, 60000, true);
}

/* A receiver that never answers holds nothing: the job runs to its end
 * and the deliveries are given up after the grace time. */
TEST(hanging_receiver)
{
	struct run r = { 0 };

	setenv(SECRET_ENV, SECRET, 1);
	run_job(&r, DR_OP_DRILL, setup_hang, false, 300);
	CHECK_INT(r.rc, 0);
	CHECK_STR(status_str(&r.E, r.id, "status", NULL, NULL), "succeeded");
	CHECK(r.secs < 5.0);
	CHECK_INT(count(&r.got, "/hang", NULL), 2);
	CHECK_INT(nnotes(&r), 2);
	CHECK_STR(note(&r, 0), "webhook slow: gave up on job-finished after 1 attempt: the "
		  "runner stopped waiting (300 ms after the job returned)");
	run_free(&r);
}

static void setup_parked(struct run *r)
{
	hook(&r->E, r->srv.port, "ops", "/hook", 1u << DR_NEV_JOB_STARTED |
	     1u << DR_NEV_JOB_PARKED, 3, 5000, true);
}

/* The runner stopped (a signal): the job is parked, and webhooks hear it
 * before the runner returns. */
TEST(interrupted_is_parked)
{
	struct run r = { 0 };
	json_t *body;

	setenv(SECRET_ENV, SECRET, 1);
	r.stop = true;
	run_job(&r, DR_OP_DRILL, setup_parked, false, 5000);
	CHECK_INT(r.rc, DR_ECANCELLED);
	CHECK_INT(count(&r.got, "/hook", "job-parked"), 1);
	body = json_loads(json_string_value(json_object_get(
		first(&r.got, "/hook", "job-parked"), "body")), 0, NULL);
	CHECK_STR(json_string_value(json_object_get(json_object_get(body, "details"),
						    "reason")), "interrupted");
	CHECK_STR(json_string_value(json_object_get(body, "message")),
		  "the runner was stopped; the job is parked and can be resumed");
	json_decref(body);
	CHECK_STR(status_str(&r.E, r.id, "status", NULL, NULL), "running");
	run_free(&r);
}

static void setup_launch(struct run *r)
{
	hook(&r->E, r->srv.port, "flaky", "/flaky/1", 1u << DR_NEV_JOB_FINISHED, 5, 5000, true);
}

/* A caller that turns the loop itself (the scheduler) still sees the
 * job's last notification out before dr_job_check() says it ended. */
TEST(launched_job_carries_deliveries)
{
	struct run r = { 0 };

	setenv(SECRET_ENV, SECRET, 1);
	r.launch = true;
	run_job(&r, DR_OP_DRILL, setup_launch, true, 5000);
	CHECK_INT(r.rc, 1);
	CHECK_INT(count(&r.got, "/flaky", "job-finished"), 2);
	CHECK_INT(nnotes(&r), 1);
	CHECK_STR(note(&r, 0), "webhook flaky: job-finished delivered after 2 attempts (HTTP 200)");
	run_free(&r);
}

TEST(secret_not_set)
{
	struct run r = { 0 };

	unsetenv(SECRET_ENV);
	run_job(&r, DR_OP_DRILL, setup_all, false, 5000);
	CHECK_INT(r.rc, 0);
	CHECK_INT(count(&r.got, "/", NULL), 0);
	{
		json_t *doc = NULL;

		CHECK_INT(dr_job_status(r.E.store, r.id, &doc), 0);
		CHECK_STR(json_string_value(json_object_get(json_array_get(
			json_object_get(doc, "warnings"), 0), "message")),
			  "webhook ops: environment variable " SECRET_ENV " (secretEnv) "
			  "is not set; its notifications are not sent");
		json_decref(doc);
	}
	run_free(&r);
}

int main(void)
{
	RUN(sign_and_backoff);
	RUN(drill_payloads_and_signatures);
	RUN(waiting_parked_and_failed);
	RUN(retries);
	RUN(hanging_receiver);
	RUN(interrupted_is_parked);
	RUN(launched_job_carries_deliveries);
	RUN(secret_not_set);
	return test_summary();
}
