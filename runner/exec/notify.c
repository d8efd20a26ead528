/*
 * notify.c - webhook notifications: payloads, HMAC signatures, deliveries
 * with retries on the loop. notify.h has the rules; docs/notifications.md
 * the payload.
 */
#include "exec/notify.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "exec/http.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TIMEOUT_MS 10000u
#define DEFAULT_ATTEMPTS 5u
#define MAX_PENDING 1024u       /* deliveries in flight or waiting, all hooks */
#define MAX_RESPONSE (64u << 10)

struct hook {
	char *name;
	char *url;
	unsigned events;
	unsigned char *secret;  /* NULL: unsigned */
	size_t secret_len;
	uint64_t timeout_ms;
	unsigned attempts;
};

struct delivery {
	dr_notify *nt;
	struct hook *h;
	struct delivery *prev, *next;
	char *body;
	size_t len;
	char sig[7 + 64 + 1];
	char id[33];
	const char *event;
	unsigned attempt;       /* attempts made so far */
	uint64_t t0;            /* real ms when the event came */
	dr_http_xfer *x;
	dr_timer *timer;
};

struct dr_notify {
	dr_notify_opts o;
	char *job_id, *plan, *operation;
	dr_http *http;
	struct hook *hooks;
	size_t nhooks;
	struct delivery *head;
	size_t npending;
	bool draining;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t rnd64(void)
{
	uint64_t v = 0;

	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		v = mono_ms() * 6364136223846793005ull + 1442695040888963407ull;
	return v;
}

static void random_hex(char *out, size_t nbytes)
{
	unsigned char b[32];
	static const char hx[] = "0123456789abcdef";

	if (nbytes > sizeof(b))
		nbytes = sizeof(b);
	if (RAND_bytes(b, (int)nbytes) != 1)
		for (size_t i = 0; i < nbytes; i += 8) {
			uint64_t v = rnd64();

			memcpy(b + i, &v, nbytes - i < 8 ? nbytes - i : 8);
		}
	for (size_t i = 0; i < nbytes; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * nbytes] = '\0';
}

int dr_notify_sign(const char *key, size_t key_len, const char *body, size_t body_len,
		   char out[7 + 64 + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mlen = 0;
	static const char hx[] = "0123456789abcdef";

	if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)body, body_len,
		  mac, &mlen) || mlen != 32)
		return dr_error_set(DR_EIO, "HMAC-SHA256 failed");
	memcpy(out, "sha256=", 7);
	for (unsigned i = 0; i < 32; i++) {
		out[7 + 2 * i] = hx[mac[i] >> 4];
		out[7 + 2 * i + 1] = hx[mac[i] & 15];
	}
	out[7 + 64] = '\0';
	return 0;
}

uint64_t dr_notify_backoff(unsigned attempt, uint64_t base, uint64_t cap, uint64_t rnd)
{
	uint64_t d = base;

	for (unsigned k = 2; k < attempt && d < cap; k++)
		d *= 2;
	if (d > cap)
		d = cap;
	return d / 2 + rnd % (d - d / 2 + 1);
}

/* ---- outcomes ----------------------------------------------------------- */

static void log_rec(dr_notify *nt, const char *type, json_t *rec)
{
	if (nt->o.log)
		nt->o.log(nt->o.log_ctx, type, rec);
	else
		json_decref(rec);
}

static void unlink_delivery(struct delivery *d)
{
	dr_notify *nt = d->nt;

	if (d->prev)
		d->prev->next = d->next;
	else
		nt->head = d->next;
	if (d->next)
		d->next->prev = d->prev;
	nt->npending--;
}

static void delivery_free(struct delivery *d)
{
	dr_notify *nt = d->nt;

	if (d->x)
		dr_http_cancel(nt->http, d->x);
	dr_loop_timer_cancel(nt->o.loop, d->timer);
	free(d->body);
	free(d);
}

/* Log the outcome and forget the delivery. status 0: none; err may be NULL. */
static void finish(struct delivery *d, const char *result, long status, const char *err)
{
	dr_notify *nt = d->nt;
	dr_strbuf m = DR_STRBUF_INIT;
	json_t *rec;

	if (!strcmp(result, "delivered")) {
		dr_strbuf_addf(&m, "webhook %s: %s delivered", d->h->name, d->event);
		if (d->attempt > 1)
			dr_strbuf_addf(&m, " after %u attempts", d->attempt);
		dr_strbuf_addf(&m, " (HTTP %ld)", status);
	} else if (!strcmp(result, "rejected")) {
		dr_strbuf_addf(&m, "webhook %s: %s rejected with HTTP %ld, not retried",
			       d->h->name, d->event, status);
	} else {
		dr_strbuf_addf(&m, "webhook %s: gave up on %s after %u attempt%s: ", d->h->name,
			       d->event, d->attempt, d->attempt == 1 ? "" : "s");
		if (err && *err)
			dr_strbuf_addstr(&m, err);
		else
			dr_strbuf_addf(&m, "HTTP %ld", status);
	}
	rec = json_pack("{s:s,s:s,s:s,s:s,s:i,s:s}", "webhook", d->h->name, "event", d->event,
			"id", d->id, "result", result, "attempts", (int)d->attempt,
			"message", m.buf);
	if (status)
		json_object_set_new(rec, "status", json_integer(status));
	if (err && *err)
		json_object_set_new(rec, "error", json_string(err));
	dr_strbuf_release(&m);
	unlink_delivery(d);
	delivery_free(d);
	log_rec(nt, "notify", rec);
}

/* ---- attempts ----------------------------------------------------------- */

static void attempt(struct delivery *d);

static void retry_cb(dr_loop *loop, void *ud)
{
	struct delivery *d = ud;

	(void)loop;
	d->timer = NULL;
	attempt(d);
}

static bool retryable_status(long st)
{
	return st >= 500 || st == 429 || st == 408;
}

/* A Retry-After of whole seconds, in ms; 0 when absent or a date. */
static uint64_t retry_after_ms(const dr_http_resp *r)
{
	const char *v = dr_http_resp_header(r, "retry-after");
	char *end;
	unsigned long s;

	if (!v || !*v)
		return 0;
	s = strtoul(v, &end, 10);
	return *end || s > 86400 ? 0 : (uint64_t)s * 1000u;
}

static void on_done(dr_http_xfer *x, const dr_http_resp *r, void *ud)
{
	struct delivery *d = ud;
	dr_notify *nt = d->nt;
	uint64_t delay, base, cap;
	char err[256];

	(void)x;
	d->x = NULL;
	if (r->rc == 0 && r->status >= 200 && r->status < 300) {
		finish(d, "delivered", r->status, NULL);
		return;
	}
	if (r->rc == 0 && !retryable_status(r->status)) {
		finish(d, "rejected", r->status, NULL);
		return;
	}
	if (r->rc == DR_EINVAL) {
		finish(d, "gave-up", 0, r->error);
		return;
	}
	snprintf(err, sizeof(err), "%s", r->rc ? r->error : "");
	base = nt->o.backoff_ms ? nt->o.backoff_ms : 1000;
	cap = nt->o.max_backoff_ms ? nt->o.max_backoff_ms : 60000;
	delay = dr_notify_backoff(d->attempt + 1, base, cap, rnd64());
	if (r->rc == 0 && retry_after_ms(r) > delay)
		delay = retry_after_ms(r) < cap ? retry_after_ms(r) : cap;
	if (d->attempt >= d->h->attempts || nt->draining ||
	    mono_ms() - d->t0 + delay > (nt->o.max_total_ms ? nt->o.max_total_ms
					 : 15u * 60u * 1000u)) {
		finish(d, "gave-up", r->rc ? 0 : r->status, r->rc ? err : NULL);
		return;
	}
	d->timer = dr_loop_timer(nt->o.loop, delay, retry_cb, d);
}

static void attempt(struct delivery *d)
{
	dr_notify *nt = d->nt;
	dr_http_header hd[5];
	size_t n = 0;
	dr_http_req rq;

	hd[n++] = (dr_http_header){ "Content-Type", "application/json" };
	hd[n++] = (dr_http_header){ "User-Agent", "drplan-webhook/1" };
	hd[n++] = (dr_http_header){ "X-Drplan-Event", d->event };
	hd[n++] = (dr_http_header){ "X-Drplan-Delivery", d->id };
	if (d->h->secret)
		hd[n++] = (dr_http_header){ "X-Drplan-Signature", d->sig };
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.url = d->h->url;
	rq.headers = hd;
	rq.nheaders = n;
	rq.body = d->body;
	rq.body_len = d->len;
	rq.timeout_ms = d->h->timeout_ms;
	rq.max_response = MAX_RESPONSE;
	d->attempt++;
	if (dr_http_start(nt->http, &rq, on_done, d, &d->x) < 0) {
		char err[256];

		snprintf(err, sizeof(err), "%s", dr_error_msg());
		d->x = NULL;
		finish(d, "gave-up", 0, err);
	}
}

/* ---- events ------------------------------------------------------------- */

static const char *sget(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static void copy(json_t *to, const char *key, const json_t *from, const char *fkey)
{
	json_t *v = json_object_get(from, fkey ? fkey : key);

	if (v)
		json_object_set(to, key, v);
}

/* Which notification an executor event is, or -1. */
static int classify(const json_t *ev)
{
	const char *t = sget(ev, "event");

	if (!strcmp(t, "job-started"))
		return json_is_true(json_object_get(ev, "resumed")) ? DR_NEV_JOB_RESUMED
								     : DR_NEV_JOB_STARTED;
	if (!strcmp(t, "gate-waiting"))
		return DR_NEV_GATE_WAITING;
	if (!strcmp(t, "manual-waiting"))
		return DR_NEV_MANUAL_WAITING;
	if (!strcmp(t, "step-state") && !strcmp(sget(ev, "to"), "failed"))
		return DR_NEV_STEP_FAILED;
	if (!strcmp(t, "job-finished"))
		return DR_NEV_JOB_FINISHED;
	if (!strcmp(t, "job-detached") || !strcmp(t, "job-interrupted"))
		return DR_NEV_JOB_PARKED;
	return -1;
}

/* The payload of docs/notifications.md. */
static json_t *payload(dr_notify *nt, dr_notify_event e, const json_t *ev, const char *id)
{
	json_t *p = json_object(), *det = json_object();
	dr_strbuf m = DR_STRBUF_INIT;
	const char *step = sget(ev, "step");

	json_object_set_new(p, "schema", json_string(DR_NOTIFY_SCHEMA));
	json_object_set_new(p, "id", json_string(id));
	json_object_set_new(p, "event", json_string(dr_notify_event_name(e)));
	json_object_set_new(p, "time", json_string(sget(ev, "time")));
	json_object_set_new(p, "job", json_string(nt->job_id));
	json_object_set_new(p, "plan", json_string(nt->plan));
	json_object_set_new(p, "operation", json_string(nt->operation));
	json_object_set_new(p, "unattended", json_boolean(nt->o.unattended));
	json_object_set_new(p, "step", *step ? json_string(step) : json_null());
	switch (e) {
	case DR_NEV_JOB_STARTED:
	case DR_NEV_JOB_RESUMED:
		dr_strbuf_addf(&m, "%s of plan %s %s (%lld steps)", nt->operation, nt->plan,
			       e == DR_NEV_JOB_RESUMED ? "resumed" : "started",
			       (long long)json_integer_value(json_object_get(ev, "steps")));
		copy(det, "steps", ev, NULL);
		break;
	case DR_NEV_GATE_WAITING:
		dr_strbuf_addf(&m, "%s waits for approval (%lld of %lld)", step,
			       (long long)json_integer_value(json_object_get(ev, "approved")),
			       (long long)json_integer_value(json_object_get(ev, "approvals")));
		copy(det, "gate", ev, NULL);
		copy(det, "approvals", ev, NULL);
		copy(det, "approved", ev, NULL);
		copy(det, "timeout_ms", ev, NULL);
		break;
	case DR_NEV_MANUAL_WAITING:
		dr_strbuf_addf(&m, "%s waits for a person: %s", step, sget(ev, "instruction"));
		copy(det, "instruction", ev, NULL);
		break;
	case DR_NEV_STEP_FAILED:
		dr_strbuf_addf(&m, "%s failed", step);
		if (*sget(ev, "message"))
			dr_strbuf_addf(&m, ": %s", sget(ev, "message"));
		copy(det, "attempt", ev, NULL);
		copy(det, "from", ev, NULL);
		break;
	case DR_NEV_JOB_FINISHED:
		dr_strbuf_addf(&m, "job %s %s", nt->job_id, sget(ev, "status"));
		if (*sget(ev, "message"))
			dr_strbuf_addf(&m, ": %s", sget(ev, "message"));
		copy(p, "status", ev, NULL);
		copy(det, "duration_ms", ev, NULL);
		copy(det, "rto_ms", ev, NULL);
		copy(det, "rpo_s", ev, "rpo");
		copy(det, "warnings", ev, NULL);
		break;
	case DR_NEV_JOB_PARKED:
		dr_strbuf_addstr(&m, *sget(ev, "message") ? sget(ev, "message") : "parked");
		json_object_set_new(det, "reason", json_string(
			!strcmp(sget(ev, "event"), "job-detached") ? "waiting-for-people"
								   : "interrupted"));
		break;
	default:
		break;
	}
	json_object_set_new(p, "message", json_string(m.buf));
	json_object_set_new(p, "details", det);
	dr_strbuf_release(&m);
	return p;
}

void dr_notify_job_event(dr_notify *nt, const json_t *ev)
{
	int e = nt ? classify(ev) : -1;
	json_t *p;
	char id[33], *body;

	if (e < 0)
		return;
	random_hex(id, 16);
	p = payload(nt, (dr_notify_event)e, ev, id);
	body = json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(p);
	if (!body)
		return;
	for (size_t k = 0; k < nt->nhooks; k++) {
		struct hook *h = &nt->hooks[k];
		struct delivery *d;

		if (!(h->events & 1u << e))
			continue;
		if (nt->npending >= MAX_PENDING) {
			log_rec(nt, "warning", json_pack("{s:s}", "message",
				"webhooks: too many notifications are undelivered; "
				"one was dropped"));
			continue;
		}
		d = dr_xcalloc(1, sizeof(*d));
		d->nt = nt;
		d->h = h;
		d->body = dr_xstrdup(body);
		d->len = strlen(body);
		memcpy(d->id, id, sizeof(d->id));
		d->event = dr_notify_event_name((dr_notify_event)e);
		d->t0 = mono_ms();
		if (h->secret && dr_notify_sign((const char *)h->secret, h->secret_len,
						d->body, d->len, d->sig) < 0) {
			free(d->body);
			free(d);
			continue;
		}
		d->next = nt->head;
		if (nt->head)
			nt->head->prev = d;
		nt->head = d;
		nt->npending++;
		attempt(d);
	}
	free(body);
}

/* ---- life cycle --------------------------------------------------------- */

int dr_notify_new(const dr_webhook *hooks, size_t n, const dr_notify_opts *o,
		  dr_notify **out)
{
	dr_notify *nt;
	int rc;

	*out = NULL;
	if (!n)
		return 0;
	nt = dr_xcalloc(1, sizeof(*nt));
	nt->o = *o;
	nt->job_id = dr_xstrdup(o->job_id ? o->job_id : "");
	nt->plan = dr_xstrdup(o->plan ? o->plan : "");
	nt->operation = dr_xstrdup(o->operation ? o->operation : "");
	nt->o.job_id = nt->o.plan = nt->o.operation = NULL;
	nt->hooks = dr_xcalloc(n, sizeof(*nt->hooks));
	for (size_t i = 0; i < n; i++) {
		const dr_webhook *w = &hooks[i];
		struct hook *h = &nt->hooks[nt->nhooks];
		char red[512];

		if (!w->url.v)
			continue;
		dr_http_redact_url(w->url.v, red, sizeof(red));
		h->name = dr_xstrdup(w->name.v ? w->name.v : red);
		if (w->secret_env.v) {
			const char *s = o->getenv_fn ? o->getenv_fn(w->secret_env.v)
						     : getenv(w->secret_env.v);

			if (!s || !*s) {
				dr_strbuf m = DR_STRBUF_INIT;

				dr_strbuf_addf(&m, "webhook %s: environment variable %s "
					       "(secretEnv) is not set; its notifications "
					       "are not sent", h->name, w->secret_env.v);
				log_rec(nt, "warning", json_pack("{s:s}", "message", m.buf));
				dr_strbuf_release(&m);
				free(h->name);
				h->name = NULL;
				continue;
			}
			h->secret_len = strlen(s);
			h->secret = dr_xmalloc(h->secret_len + 1);
			memcpy(h->secret, s, h->secret_len + 1);
		}
		h->url = dr_xstrdup(w->url.v);
		h->events = w->events;
		h->timeout_ms = w->timeout.ms ? w->timeout.ms : DEFAULT_TIMEOUT_MS;
		h->attempts = w->attempts.v > 0 ? (unsigned)w->attempts.v : DEFAULT_ATTEMPTS;
		nt->nhooks++;
	}
	if (!nt->nhooks) {
		dr_notify_free(nt);
		return 0;
	}
	if ((rc = dr_http_new(o->loop, &nt->http)) < 0) {
		dr_notify_free(nt);
		return rc;
	}
	*out = nt;
	return 0;
}

size_t dr_notify_pending(const dr_notify *nt)
{
	return nt ? nt->npending : 0;
}

static void wake_cb(dr_loop *loop, void *ud)
{
	(void)loop;
	*(dr_timer **)ud = NULL;
}

void dr_notify_drain(dr_notify *nt, uint64_t grace_ms)
{
	uint64_t end;
	dr_timer *wake = NULL;

	if (!nt || !nt->npending)
		return;
	end = mono_ms() + grace_ms;
	while (nt->npending && mono_ms() < end) {
		int rc;

		/* A short wake-up, so a real clock notices the deadline even
		 * when nothing else happens; a virtual clock checks anyway. */
		if (!wake) {
			uint64_t left = end - mono_ms();

			wake = dr_loop_timer(nt->o.loop, left < 50 ? left : 50, wake_cb, &wake);
		}
		rc = dr_loop_run_once(nt->o.loop, true);
		if (rc <= 0)
			break;
	}
	dr_loop_timer_cancel(nt->o.loop, wake);
	/* What is left is given up, each with its own record. Retries that
	 * fail from now on give up too. */
	nt->draining = true;
	while (nt->head) {
		struct delivery *d = nt->head;
		char why[96];

		snprintf(why, sizeof(why), "the runner stopped waiting (%llu ms after the job "
			 "%s)", (unsigned long long)grace_ms, "returned");
		finish(d, "gave-up", 0, why);
	}
	nt->draining = false;
}

void dr_notify_free(dr_notify *nt)
{
	if (!nt)
		return;
	while (nt->head) {
		struct delivery *d = nt->head;

		unlink_delivery(d);
		delivery_free(d);
	}
	dr_http_free(nt->http);
	for (size_t i = 0; i < nt->nhooks; i++) {
		if (nt->hooks[i].secret)
			OPENSSL_cleanse(nt->hooks[i].secret, nt->hooks[i].secret_len);
		free(nt->hooks[i].secret);
		free(nt->hooks[i].name);
		free(nt->hooks[i].url);
	}
	free(nt->hooks);
	free(nt->job_id);
	free(nt->plan);
	free(nt->operation);
	free(nt);
}
