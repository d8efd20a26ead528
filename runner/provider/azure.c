/*
 * azure.c - the `azure` provider: ASR over ARM REST (see azure.h and
 * docs/azure.md).
 *
 * Every provider call is one az_req: a chain of steps, each of which sends
 * at most one ARM request through call() and names the step that handles
 * the answer. call() owns the ARM rules that hold for every request: token,
 * throttling (429), write pacing, 401 refresh, GET retries, and the
 * "ambiguous" flag for writes that failed after they may have been
 * received. The outcome is delivered from a deferred callback, so a user
 * callback never runs inside libcurl's or the credential's callbacks, and
 * it may free the provider.
 */
#define _GNU_SOURCE
#include "provider/azure.h"

#include "core/alloc.h"
#include "core/arena.h"
#include "core/embed.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "exec/http.h"
#include "plan/ynode.h"
#include "schema/schema.h"
#include "provider/azauth.h"

#include <assert.h>
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct az_req az_req;
typedef struct az_resp az_resp;
typedef void (*step_fn)(az_req *r, az_resp *resp);

struct az_resp {
	int rc;               /* transport: 0 or DR_E* */
	long status;
	json_t *body;         /* parsed JSON or NULL */
	const char *error;    /* transport or credential message */
	const dr_http_resp *http;
	bool ambiguous;       /* a write that may have been accepted */
};

typedef struct name_entry {
	char *name, *id;
	char *last_job;       /* last job this provider started or adopted */
} name_entry;

typedef struct cat_wait {
	az_req *r;
	step_fn then;
	struct cat_wait *next;
} cat_wait;

struct dr_azure {
	dr_provider prov;
	dr_loop *loop;
	dr_http *http;
	dr_azauth *auth;
	dr_azure_opts o;
	char *arm;            /* endpoint, no trailing '/' */
	char *vpath;          /* /subscriptions/.../vaults/{vault} */
	char *strs[16];       /* owned copies of option strings */
	size_t nstrs;
	name_entry *names;
	size_t nnames, anames;
	az_req *reqs;         /* in flight, for free */
	az_req *catalog;      /* the running vault listing, or NULL */
	cat_wait *cat_waiters;
	long writes_remaining;
	uint64_t next_write_at;
	uint64_t throttled_until;
	uint64_t rng;
	dr_azure_stats st;
};

enum rtype { R_ITEM, R_START, R_POLL, R_FIND, R_POINTS, R_LIST, R_UPDATE, R_CATALOG };

struct az_req {
	dr_azure *az;
	az_req *prev, *next;
	enum rtype type;
	union {
		dr_prov_item_cb item;
		dr_prov_start_cb start;
		dr_prov_job_cb job;
		dr_prov_jobs_cb jobs;
		dr_prov_points_cb points;
		dr_azure_items_cb items;
		dr_azure_done_cb done;
	} cb;
	void *ud;
	dr_arena *a;
	char *item;           /* machine name */
	char *item_id;        /* ARM id */
	char *job_id;
	int64_t since;
	dr_op_request op;     /* R_START: strings owned */
	json_t *patch;        /* R_UPDATE: the machine's target, as settings */
	json_t *item_json;    /* last GET of the item */
	json_t *acc;          /* paged values */
	json_t *extra;        /* reprotect discovery: fabric details */
	step_fn page_then;
	char *rp_id;          /* chosen recovery point */
	char sent_crid[37];   /* x-ms-client-request-id of the POST */
	int64_t sent_ms;      /* wall clock when the POST went out */
	bool relisted;
	bool post_5xx;
	bool state_only;      /* R_ITEM: no recovery points (get_state) */
	int polls;
	/* the call in flight */
	struct {
		char *method, *url, *body;
		bool write, idempotent;
		int attempts, throttles;
		bool auth_retried;
		unsigned gen;
		step_fn next;
		dr_http_xfer *xfer;
		dr_timer *timer;
		dr_azauth_wait *wait;
		char crid[37];
	} c;
	/* outcome */
	dr_defer *defer;
	int rc;
	dr_prov_error err;
	bool has_err;
	dr_prov_item iv;
	dr_prov_job jv;
	dr_prov_job *jobs;
	size_t njobs;
	dr_prov_point *pts;
	size_t npts;
	const char *started;
};

/* ---- small helpers ---- */

static uint64_t rnd(dr_azure *az)
{
	uint64_t z = (az->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s;
}

static const json_t *jprops(const json_t *o)
{
	return json_object_get(o, "properties");
}

static const json_t *jpsd(const json_t *item)
{
	return json_object_get(jprops(item), "providerSpecificDetails");
}

static const char *last_seg(const char *id)
{
	const char *s = id ? strrchr(id, '/') : NULL;

	return s ? s + 1 : id;
}

static bool ends_with_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcasecmp(s + n - m, suffix);
}

/* ISO 8601 (ASR: "2026-11-20T10:00:00.1234567Z" or with an offset) -> Unix ms. */
static int64_t parse_time(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, n = 0;
	int64_t ms = 0, t;
	const char *p;

	if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
		return 0;
	p = s + n;
	if (*p == '.') {
		int digits = 0;

		for (p++; isdigit((unsigned char)*p); p++, digits++)
			if (digits < 3)
				ms = ms * 10 + (*p - '0');
		for (; digits < 3; digits++)
			ms *= 10;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = (int64_t)timegm(&tm) * 1000 + ms;
	if (*p == '+' || *p == '-') {
		int oh = 0, om = 0;

		if (sscanf(p + 1, "%d:%d", &oh, &om) >= 1)
			t -= (*p == '+' ? 1 : -1) * ((int64_t)oh * 3600 + om * 60) * 1000;
	}
	/* ASR's "never" (1753-01-01) and anything before 1970 count as unknown. */
	return t > 0 ? t : 0;
}

static char *astr(dr_arena *a, const char *s)
{
	return s ? dr_arena_strdup(a, s) : NULL;
}

/* ---- names cache ---- */

static name_entry *find_name(dr_azure *az, const char *name)
{
	size_t i;

	for (i = 0; i < az->nnames; i++)
		if (!strcmp(az->names[i].name, name))
			return &az->names[i];
	for (i = 0; i < az->nnames; i++)
		if (!strcasecmp(az->names[i].name, name))
			return &az->names[i];
	return NULL;
}

static void set_name(dr_azure *az, const char *name, const char *id)
{
	name_entry *e = NULL;
	size_t i;

	for (i = 0; i < az->nnames; i++)
		if (!strcmp(az->names[i].name, name))
			e = &az->names[i];
	if (e) {
		if (strcmp(e->id, id)) {
			free(e->id);
			e->id = dr_xstrdup(id);
		}
		return;
	}
	DR_ALLOC_GROW(az->names, az->nnames + 1, az->anames);
	e = &az->names[az->nnames++];
	e->name = dr_xstrdup(name);
	e->id = dr_xstrdup(id);
	e->last_job = NULL;
}

static void note_job(dr_azure *az, const char *name, const char *job)
{
	name_entry *e = find_name(az, name);

	if (e && job) {
		free(e->last_job);
		e->last_job = dr_xstrdup(job);
	}
}

/* ---- errors ---- */

static void set_err(az_req *r, int http, const char *code, const char *causes,
		    const char *action, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static void set_err(az_req *r, int http, const char *code, const char *causes,
		    const char *action, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	memset(&r->err, 0, sizeof(r->err));
	r->has_err = true;
	r->err.http_status = http;
	r->err.code = dr_arena_strdup(r->a, code);
	r->err.message = dr_arena_strdup(r->a, buf);
	r->err.possible_causes = astr(r->a, causes);
	r->err.recommended_action = astr(r->a, action);
	r->err.level = dr_arena_strdup(r->a, "Error");
}

/*
 * An ARM/ASR error answer -> rc and r->err. ASR puts its own code, message,
 * possibleCauses and recommendedAction in error.details[0]; ARM's own
 * errors have only code and message.
 */
static int http_error(az_req *r, const az_resp *s, const char *what)
{
	const json_t *e = json_object_get(s->body, "error");
	const json_t *d = json_array_get(json_object_get(e, "details"), 0);
	const char *code = jstr(d, "code") ? jstr(d, "code") : jstr(e, "code");
	const char *msg = jstr(d, "message") ? jstr(d, "message") : jstr(e, "message");
	const char *causes = jstr(d, "possibleCauses");
	const char *action = jstr(d, "recommendedAction");
	int rc;

	if (s->rc < 0) {
		set_err(r, 0, s->rc == DR_ETIMEOUT ? "Timeout" : "ConnectionFailed",
			NULL, "Check the network path to Azure Resource Manager; "
			"drplan retried reads before giving up.",
			"%s: %s", what, s->error ? s->error : dr_strerror(s->rc));
		return s->rc == DR_ETIMEOUT ? DR_ETIMEOUT : DR_EIO;
	}
	if (!code)
		code = s->status == 404 ? "NotFound" : "HttpError";
	if (s->status == 404)
		rc = DR_ENOTFOUND;
	else if (s->status == 409 || strstr(code, "NotAllowed") ||
		 strstr(code, "InvalidState") || strstr(code, "Conflict"))
		rc = DR_ECONFLICT;
	else if (s->status == 429 || s->status >= 500)
		rc = DR_EAGAIN;
	else
		rc = DR_EINVAL;
	if (!action && (s->status == 401 || s->status == 403))
		action = "Give the identity drplan runs as the Site Recovery "
			 "Contributor role on the vault, and Contributor on the "
			 "target resource groups.";
	set_err(r, (int)s->status, code, causes, action, "%s: HTTP %ld %s%s%s",
		what, s->status, code, msg ? ": " : "", msg ? msg : "");
	return rc;
}

static void finish(az_req *r, int rc);

/*
 * A read that did not answer 200 (or did not answer): finish r with the
 * ARM error, naming the request (printf format); true when it did.
 */
static bool read_failed(az_req *r, const az_resp *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool read_failed(az_req *r, const az_resp *s, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	if (s->rc == 0 && s->status == 200)
		return false;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	finish(r, http_error(r, s, what));
	return true;
}

/* ---- request life cycle ---- */

static void deliver(dr_loop *loop, void *ud);

static az_req *new_req(dr_azure *az, enum rtype type, void *ud)
{
	az_req *r = dr_xcalloc(1, sizeof(*r));

	r->az = az;
	r->type = type;
	r->ud = ud;
	r->a = dr_arena_new();
	r->next = az->reqs;
	if (az->reqs)
		az->reqs->prev = r;
	az->reqs = r;
	return r;
}

static void unlink_req(az_req *r)
{
	dr_azure *az = r->az;

	if (r->prev)
		r->prev->next = r->next;
	else if (az->reqs == r)
		az->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

static void free_call(az_req *r)
{
	free(r->c.method);
	free(r->c.url);
	free(r->c.body);
	r->c.method = r->c.url = r->c.body = NULL;
}

static void free_req(az_req *r)
{
	dr_azure *az = r->az;

	if (r->c.xfer)
		dr_http_cancel(az->http, r->c.xfer);
	dr_loop_timer_cancel(az->loop, r->c.timer);
	dr_azauth_cancel(az->auth, r->c.wait);
	if (r->defer)
		dr_loop_defer_cancel(az->loop, r->defer);
	free_call(r);
	free(r->item);
	free(r->item_id);
	free(r->job_id);
	free(r->rp_id);
	free((char *)r->op.item);
	free((char *)r->op.rp.id);
	free((char *)r->op.network);
	free((char *)r->op.comments);
	free((char *)r->op.client_request_id);
	json_decref(r->patch);
	json_decref(r->item_json);
	json_decref(r->acc);
	json_decref(r->extra);
	dr_arena_free(r->a);
	free(r);
}

/* End the request with rc; the callback runs from a deferred call. */
static void finish(az_req *r, int rc)
{
	r->rc = rc;
	if (rc < 0 && !r->has_err)
		set_err(r, 0, "InternalError", NULL, NULL, "%s", dr_strerror(rc));
	r->defer = dr_loop_defer(r->az->loop, deliver, r);
}

static void cat_done(az_req *cat);

static void deliver(dr_loop *loop, void *ud)
{
	az_req *r = ud;
	const dr_prov_error *e = r->rc < 0 ? &r->err : NULL;
	int rc = r->rc;

	(void)loop;
	r->defer = NULL;
	unlink_req(r);
	/* After the callback only r may be touched: it may free the provider. */
	switch (r->type) {
	case R_ITEM:
		r->cb.item(r->ud, rc, rc ? NULL : &r->iv, e);
		break;
	case R_START:
		r->cb.start(r->ud, rc, rc ? NULL : r->started, e);
		break;
	case R_POLL:
		r->cb.job(r->ud, rc, rc ? NULL : &r->jv, e);
		break;
	case R_FIND:
		r->cb.jobs(r->ud, rc, rc ? NULL : r->jobs, rc ? 0 : r->njobs, e);
		break;
	case R_POINTS:
		r->cb.points(r->ud, rc, rc ? NULL : r->pts, rc ? 0 : r->npts, e);
		break;
	case R_LIST:
		r->cb.items(r->ud, rc, rc ? NULL : r->acc, e);
		break;
	case R_UPDATE:
		r->cb.done(r->ud, rc, e);
		break;
	case R_CATALOG:
		cat_done(r);
		return;
	}
	free_req(r);
}

/* ---- the ARM call engine ---- */

static void call_go(az_req *r);

static uint64_t backoff(dr_azure *az, int attempt)
{
	uint64_t d = az->o.retry_base_ms;
	int i;

	for (i = 1; i < attempt && d < az->o.retry_max_ms; i++)
		d *= 2;
	if (d > az->o.retry_max_ms)
		d = az->o.retry_max_ms;
	/* Full jitter on the upper half: spreads many runners apart. */
	return d / 2 + (d > 1 ? rnd(az) % (d / 2 + 1) : 0);
}

static uint64_t retry_after_ms(const dr_http_resp *h, uint64_t dflt)
{
	const char *v = h ? dr_http_resp_header(h, "retry-after") : NULL;
	char *end;
	long s;

	if (!v)
		return dflt;
	s = strtol(v, &end, 10);
	if (end == v || s < 0)
		return dflt;
	if (s > 3600)
		s = 3600;
	return (uint64_t)s * 1000;
}

static void on_call_timer(dr_loop *loop, void *ud)
{
	az_req *r = ud;

	(void)loop;
	r->c.timer = NULL;
	call_go(r);
}

static void deliver_resp(az_req *r, az_resp *s)
{
	step_fn next = r->c.next;

	next(r, s);
}

static void note_ratelimit(dr_azure *az, const dr_http_resp *h)
{
	const char *v = dr_http_resp_header(h, "x-ms-ratelimit-remaining-subscription-writes");

	if (v && isdigit((unsigned char)*v))
		az->writes_remaining = strtol(v, NULL, 10);
	az->st.writes_remaining = az->writes_remaining;
}

static void on_http(dr_http_xfer *x, const dr_http_resp *h, void *ud)
{
	az_req *r = ud;
	dr_azure *az = r->az;
	az_resp s;
	uint64_t now = dr_loop_now(az->loop);

	(void)x;
	r->c.xfer = NULL;
	memset(&s, 0, sizeof(s));
	s.rc = h->rc;
	s.status = h->status;
	s.error = h->error;
	s.http = h;
	if (h->rc == 0)
		note_ratelimit(az, h);

	if (h->rc == 0 && h->status == 401 && !r->c.auth_retried) {
		/* Not processed: a fresh token and one resend are safe. */
		r->c.auth_retried = true;
		az->st.auth_retries++;
		dr_azauth_invalidate(az->auth, r->c.gen);
		call_go(r);
		return;
	}
	if (h->rc == 0 && h->status == 429 &&
	    r->c.throttles < az->o.max_throttle_waits) {
		/* Throttled requests were not processed: wait and resend. */
		uint64_t d = retry_after_ms(h, backoff(az, r->c.throttles + 1));

		r->c.throttles++;
		az->st.throttled++;
		if (now + d > az->throttled_until)
			az->throttled_until = now + d;
		r->c.timer = dr_loop_timer(az->loop, d, on_call_timer, r);
		return;
	}
	if (r->c.idempotent &&
	    ((h->rc == DR_ETIMEOUT || h->rc == DR_EIO) ||
	     (h->rc == 0 && h->status >= 500)) &&
	    r->c.attempts < az->o.max_retries) {
		uint64_t d = backoff(az, ++r->c.attempts);

		if (h->rc == 0 && h->status == 503)
			d = retry_after_ms(h, d);
		az->st.retries++;
		r->c.timer = dr_loop_timer(az->loop, d, on_call_timer, r);
		return;
	}
	if (!r->c.idempotent &&
	    (h->rc == DR_ETIMEOUT || h->rc == DR_EIO ||
	     (h->rc == 0 && h->status >= 500)))
		s.ambiguous = true;
	if (h->rc == 0 && h->body_len)
		s.body = json_loadb(h->body, h->body_len, 0, NULL);
	deliver_resp(r, &s);
	json_decref(s.body);
}

static void on_token(void *ud, int rc, const char *token, const char *msg)
{
	az_req *r = ud;
	dr_azure *az = r->az;
	dr_http_header hs[4];
	dr_http_req req;
	dr_strbuf auth = DR_STRBUF_INIT;
	size_t n = 0;
	az_resp s;
	int hrc;

	r->c.wait = NULL;
	if (rc < 0) {
		/* Nothing was sent: not ambiguous, whatever the method. */
		memset(&s, 0, sizeof(s));
		s.rc = rc;
		s.error = msg;
		set_err(r, 401, "CredentialUnavailable", NULL,
			"Check AZURE_TENANT_ID, AZURE_CLIENT_ID and the secret, "
			"certificate or federated token (docs/azure.md).",
			"Azure credential (%s): %s",
			dr_azauth_kind_name(dr_azauth_kind_of(az->auth)), msg);
		finish(r, rc == DR_EINVAL ? DR_EINVAL : rc);
		return;
	}
	r->c.gen = dr_azauth_generation(az->auth);
	dr_strbuf_addf(&auth, "Bearer %s", token);
	hs[n].name = "Authorization";
	hs[n++].value = auth.buf;
	hs[n].name = "Accept";
	hs[n++].value = "application/json";
	hs[n].name = "x-ms-client-request-id";
	hs[n++].value = r->c.crid;
	if (r->c.body) {
		hs[n].name = "Content-Type";
		hs[n++].value = "application/json";
	}
	memset(&req, 0, sizeof(req));
	req.method = r->c.method;
	req.url = r->c.url;
	req.headers = hs;
	req.nheaders = n;
	req.body = r->c.body;
	req.body_len = r->c.body ? strlen(r->c.body) : 0;
	req.timeout_ms = az->o.timeout_ms;
	req.max_response = (size_t)32 << 20;
	az->st.requests++;
	if (r->c.write)
		r->sent_ms = dr_wall_ms();
	hrc = dr_http_start(az->http, &req, on_http, r, &r->c.xfer);
	dr_strbuf_release(&auth);
	if (hrc < 0) {
		set_err(r, 0, "InvalidRequest", NULL, NULL, "%s %s: %s",
			r->c.method, "ARM request", dr_error_msg());
		finish(r, hrc);
	}
}

/* Pace writes from the remaining-writes header (docs/azure.md). */
static uint64_t write_gap(dr_azure *az)
{
	long rem = az->writes_remaining;

	if (rem < 0 || rem >= az->o.pace_below)
		return 0;
	return az->o.pace_step_ms * (uint64_t)(az->o.pace_below - rem);
}

static void call_go(az_req *r)
{
	dr_azure *az = r->az;
	uint64_t now = dr_loop_now(az->loop), at = az->throttled_until;

	if (r->c.write) {
		uint64_t w = az->next_write_at;

		if (w > at)
			at = w;
	}
	if (at > now) {
		if (r->c.write && az->next_write_at > now)
			az->st.paced++;
		r->c.timer = dr_loop_timer(az->loop, at - now, on_call_timer, r);
		return;
	}
	if (r->c.write)
		az->next_write_at = now + write_gap(az);
	dr_azauth_get(az->auth, false, on_token, r, &r->c.wait);
}

static void random_id(dr_azure *az, char buf[37])
{
	uint64_t a = rnd(az), b = rnd(az);

	snprintf(buf, 37, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
		 (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
		 (unsigned)((b >> 48) & 0x3fff) | 0x8000,
		 (unsigned long long)(b & 0xffffffffffffull));
}

/* A name-based GUID (SHA-256, version 5 layout) for key. */
static void guid_of(const char *key, char out[37])
{
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_Digest(key, strlen(key), h, &n, EVP_sha256(), NULL);
	h[6] = (unsigned char)((h[6] & 0x0f) | 0x50);
	h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11],
		 h[12], h[13], h[14], h[15]);
}

static bool is_guid(const char *s)
{
	int i;

	if (!s || strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

/*
 * Send method url (a full URL, or a path under the ARM endpoint that gets
 * ?api-version=) with body (copied; NULL: none), then next(r, resp).
 */
static void call(az_req *r, const char *method, const char *url,
		 const char *body, step_fn next)
{
	dr_azure *az = r->az;
	dr_strbuf u = DR_STRBUF_INIT;

	free_call(r);
	if (url[0] == '/')
		dr_strbuf_addf(&u, "%s%s%sapi-version=%s", az->arm, url,
			       strchr(url, '?') ? "&" : "?", az->o.api_version);
	else
		dr_strbuf_addstr(&u, url);
	r->c.method = dr_xstrdup(method);
	r->c.url = dr_strbuf_detach(&u, NULL);
	r->c.body = body ? dr_xstrdup(body) : NULL;
	r->c.write = strcmp(method, "GET") != 0;
	/* PATCH sets properties: sending it twice does no harm. */
	r->c.idempotent = !strcmp(method, "GET") || !strcmp(method, "PATCH");
	r->c.attempts = 0;
	r->c.throttles = 0;
	r->c.auth_retried = false;
	r->c.next = next;
	/* ARM wants a GUID here: the executor's key as is when it is one,
	 * else a GUID derived from it, so a retry after a crash sends the
	 * same id. */
	if (r->type == R_START && r->c.write && r->op.client_request_id) {
		if (is_guid(r->op.client_request_id))
			snprintf(r->c.crid, sizeof(r->c.crid), "%.36s",
				 r->op.client_request_id);
		else
			guid_of(r->op.client_request_id, r->c.crid);
		memcpy(r->sent_crid, r->c.crid, sizeof(r->sent_crid));
	} else {
		random_id(az, r->c.crid);
		if (r->type == R_START && r->c.write)
			memcpy(r->sent_crid, r->c.crid, sizeof(r->sent_crid));
	}
	call_go(r);
}

/* ---- paging ---- */

static void on_page(az_req *r, az_resp *s);

/* GET path and every nextLink; values collect in r->acc; then then(r, s). */
static void get_all(az_req *r, const char *path, step_fn then)
{
	json_decref(r->acc);
	r->acc = json_array();
	r->page_then = then;
	call(r, "GET", path, NULL, on_page);
}

static void on_page(az_req *r, az_resp *s)
{
	const json_t *v;
	const char *next;

	if (s->rc < 0 || s->status != 200) {
		r->page_then(r, s);
		return;
	}
	v = json_object_get(s->body, "value");
	if (json_is_array(v))
		json_array_extend(r->acc, (json_t *)v);
	next = jstr(s->body, "nextLink");
	if (next && *next) {
		/* Only follow links to the same endpoint: the token goes along. */
		if (strncasecmp(next, r->az->arm, strlen(r->az->arm))) {
			set_err(r, 0, "InvalidNextLink", NULL, NULL,
				"ARM returned a nextLink to another host; refusing "
				"to send the token there");
			finish(r, DR_EIO);
			return;
		}
		call(r, "GET", next, NULL, on_page);
		return;
	}
	r->page_then(r, s);
}

/* ---- the vault's items by name ---- */

static void cat_listed(az_req *cat, az_resp *s);

static void fill_names(dr_azure *az, const json_t *items)
{
	size_t i;
	const json_t *it;

	json_array_foreach(items, i, it) {
		const char *id = jstr(it, "id");
		const char *fn = jstr(jprops(it), "friendlyName");

		if (!fn || !*fn)
			fn = jstr(it, "name");
		if (id && fn)
			set_name(az, fn, id);
	}
}

/*
 * Resolve r->item to r->item_id, then then(r, NULL). A cache miss (or
 * force) lists the vault; concurrent misses share one listing.
 */
static void resolve(az_req *r, bool force, step_fn then)
{
	dr_azure *az = r->az;
	name_entry *e = force ? NULL : find_name(az, r->item);
	cat_wait *w;

	if (e) {
		free(r->item_id);
		r->item_id = dr_xstrdup(e->id);
		then(r, NULL);
		return;
	}
	w = dr_xcalloc(1, sizeof(*w));
	w->r = r;
	w->then = then;
	w->next = az->cat_waiters;
	az->cat_waiters = w;
	if (!az->catalog) {
		dr_strbuf p = DR_STRBUF_INIT;

		az->catalog = new_req(az, R_CATALOG, NULL);
		az->st.listings++;
		dr_strbuf_addf(&p, "%s/replicationProtectedItems", az->vpath);
		get_all(az->catalog, p.buf, cat_listed);
		dr_strbuf_release(&p);
	}
}

static void cat_listed(az_req *cat, az_resp *s)
{
	if (read_failed(cat, s, "Listing replicationProtectedItems"))
		return;
	fill_names(cat->az, cat->acc);
	finish(cat, 0);
}

/* The listing is over (from deliver): hand each waiter its answer. */
static void cat_done(az_req *cat)
{
	dr_azure *az = cat->az;
	cat_wait *w = az->cat_waiters;

	az->cat_waiters = NULL;
	az->catalog = NULL;
	while (w) {
		cat_wait *n = w->next;
		az_req *r = w->r;

		if (cat->rc < 0) {
			r->err = cat->err;
			r->err.code = astr(r->a, cat->err.code);
			r->err.message = astr(r->a, cat->err.message);
			r->err.possible_causes = astr(r->a, cat->err.possible_causes);
			r->err.recommended_action = astr(r->a, cat->err.recommended_action);
			r->err.level = astr(r->a, cat->err.level);
			r->has_err = true;
			finish(r, cat->rc);
		} else {
			name_entry *e = find_name(az, r->item);

			if (!e) {
				set_err(r, 404, "NotFound",
					"The machine is not replicated to this vault, or "
					"its friendly name differs from the plan's name.",
					"Check the machine name (inventoryId) against "
					"`drplan inventory export`, or enable replication "
					"for it.",
					"The replicated item '%s' was not found in vault "
					"'%s' (%zu items).", r->item, az->o.vault,
					json_array_size(cat->acc));
				finish(r, DR_ENOTFOUND);
			} else {
				free(r->item_id);
				r->item_id = dr_xstrdup(e->id);
				w->then(r, NULL);
			}
		}
		free(w);
		w = n;
	}
	free_req(cat);
}

/* Remove r from the catalog waiters (provider free). */
static void drop_waiters(dr_azure *az)
{
	cat_wait *w = az->cat_waiters;

	while (w) {
		cat_wait *n = w->next;

		free(w);
		w = n;
	}
	az->cat_waiters = NULL;
}

/* ---- item and job views ---- */

static dr_direction instance_direction(const char *it)
{
	if (it && (!strcmp(it, "InMageRcmFailback") || !strcmp(it, "InMage")))
		return DR_DIR_TO_ONPREM;
	return DR_DIR_TO_AZURE;
}

static void point_view(dr_arena *a, const json_t *p, dr_prov_point *out)
{
	const json_t *pr = jprops(p);
	const char *t = jstr(pr, "recoveryPointType");

	out->id = astr(a, jstr(p, "id"));
	out->time_ms = parse_time(jstr(pr, "recoveryPointTime"));
	out->type = t && !strcasecmp(t, "ApplicationConsistent")
			    ? DR_POINT_APP_CONSISTENT : DR_POINT_CRASH_CONSISTENT;
}

static int cmp_points_desc(const void *x, const void *y)
{
	const dr_prov_point *a = x, *b = y;

	return a->time_ms < b->time_ms ? 1 : a->time_ms > b->time_ms ? -1 : 0;
}

/* r->acc (recovery points) -> r->pts, newest first. */
static void points_view(az_req *r)
{
	size_t i, n = json_array_size(r->acc);

	r->pts = dr_arena_zalloc(r->a, (n + 1) * sizeof(*r->pts));
	for (i = 0; i < n; i++)
		point_view(r->a, json_array_get(r->acc, i), &r->pts[i]);
	r->npts = n;
	qsort(r->pts, n, sizeof(*r->pts), cmp_points_desc);
}

static int64_t jint(const json_t *o, const char *k, int64_t dflt)
{
	const json_t *v = json_object_get(o, k);

	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_real(v))
		return (int64_t)json_real_value(v);
	if (json_is_string(v) && isdigit((unsigned char)*json_string_value(v)))
		return strtoll(json_string_value(v), NULL, 10);
	return dflt;
}

static const char *scenario_job(const json_t *props, const char **scenario)
{
	const json_t *cs = json_object_get(props, "currentScenario");
	const char *sc = jstr(cs, "scenarioName"), *job = jstr(cs, "jobId");

	if (scenario)
		*scenario = sc ? sc : "None";
	if (!sc || !strcmp(sc, "None") || !job || ends_with_ci(job, "/None"))
		return NULL;
	return last_seg(job);
}

static void item_view(az_req *r, const json_t *item, dr_prov_item *v)
{
	dr_arena *a = r->a;
	const json_t *pr = jprops(item), *psd = jpsd(item);
	const json_t *ops = json_object_get(pr, "allowedOperations");
	const char *fo = jstr(pr, "failoverRecoveryPointId");
	const char *sc, *job, *state;
	name_entry *e;
	size_t i, n;

	memset(v, 0, sizeof(*v));
	v->name = astr(a, jstr(pr, "friendlyName") ? jstr(pr, "friendlyName") : r->item);
	v->id = astr(a, jstr(item, "id"));
	v->instance_type = astr(a, jstr(psd, "instanceType"));
	v->direction = instance_direction(v->instance_type);
	v->protection_state = astr(a, jstr(pr, "protectionState"));
	v->protection_state_description = astr(a, jstr(pr, "protectionStateDescription"));
	v->active_location = astr(a, jstr(pr, "activeLocation"));
	v->test_failover_state = astr(a, jstr(pr, "testFailoverState"));
	v->test_failover_state_description =
		astr(a, jstr(pr, "testFailoverStateDescription"));
	v->replication_health = astr(a, jstr(pr, "replicationHealth"));
	n = json_array_size(ops);
	v->allowed_ops = dr_arena_zalloc(a, (n + 1) * sizeof(char *));
	for (i = 0; i < n; i++) {
		const char *op = json_string_value(json_array_get(ops, i));

		if (op)
			v->allowed_ops[v->nallowed_ops++] = dr_arena_strdup(a, op);
	}
	job = scenario_job(pr, &sc);
	v->current_scenario = dr_arena_strdup(a, sc);
	e = find_name(r->az, v->name);
	v->last_job_id = job ? dr_arena_strdup(a, job)
			 : e && e->last_job ? dr_arena_strdup(a, e->last_job) : NULL;
	v->initial_replication_percent = -1;
	{
		int64_t p = jint(psd, "initialReplicationProgressPercentage", -1);

		if (p >= 0 && p < 100)
			v->initial_replication_percent = (int)p;
	}
	v->last_rpo_s = jint(psd, "lastRpoInSeconds", jint(psd, "rpoInSeconds", -1));
	if (r->npts) {
		v->last_point = r->pts[0];
		for (i = 0; i < r->npts; i++) {
			if (r->pts[i].type == DR_POINT_APP_CONSISTENT) {
				v->last_app_point = r->pts[i];
				break;
			}
		}
	}
	if (!fo || !*fo)
		fo = jstr(psd, "failoverRecoveryPointId");
	if (fo && *fo) {
		int64_t fot = parse_time(jstr(pr, "lastSuccessfulFailoverTime"));

		v->failover_point.id = dr_arena_strdup(a, fo);
		for (i = 0; i < r->npts; i++) {
			if (!strcasecmp(r->pts[i].id, fo)) {
				v->failover_point = r->pts[i];
				break;
			}
		}
		if (fot && v->failover_point.time_ms)
			v->failover_rpo_s = (fot - v->failover_point.time_ms) / 1000;
	}
	/* ASR has no "committed" flag: a failover happened, Commit is no longer
	 * offered and the state is not a commit-pending one. */
	state = v->protection_state ? v->protection_state : "";
	v->committed = (v->failover_point.id ||
			parse_time(jstr(pr, "lastSuccessfulFailoverTime"))) &&
		       !dr_prov_item_allows(v, "Commit") &&
		       !strstr(state, "CommitPending") && !job &&
		       (!strcmp(v->active_location ? v->active_location : "", "Recovery") ||
			!strcmp(v->instance_type ? v->instance_type : "", "InMageRcmFailback"));
}

static const struct {
	const char *scenario;
	dr_preq_kind kind;
} scenario_kinds[] = {
	{ "TestFailover", DR_PREQ_TEST_FAILOVER },
	{ "TestFailoverCleanup", DR_PREQ_TEST_FAILOVER_CLEANUP },
	{ "UnplannedFailover", DR_PREQ_UNPLANNED_FAILOVER },
	{ "ChangeRecoveryPoint", DR_PREQ_APPLY_RECOVERY_POINT },
	{ "ChangePit", DR_PREQ_APPLY_RECOVERY_POINT },
	{ "ApplyRecoveryPoint", DR_PREQ_APPLY_RECOVERY_POINT },
	{ "Commit", DR_PREQ_COMMIT },
	{ "FailoverCommit", DR_PREQ_COMMIT },
	{ "Reprotect", DR_PREQ_REPROTECT },
	{ "ReverseReplicate", DR_PREQ_REPROTECT },
	{ "ReverseReplication", DR_PREQ_REPROTECT },
	{ "PlannedFailover", DR_PREQ_PLANNED_FAILOVER },
	{ "CancelFailover", DR_PREQ_CANCEL_FAILOVER },
	{ "FailoverCancel", DR_PREQ_CANCEL_FAILOVER },
};

static bool scenario_kind(const char *sc, dr_preq_kind *out)
{
	size_t i;

	for (i = 0; sc && i < DR_ARRAY_SIZE(scenario_kinds); i++) {
		if (!strcasecmp(sc, scenario_kinds[i].scenario)) {
			*out = scenario_kinds[i].kind;
			return true;
		}
	}
	return false;
}

static void job_error(dr_arena *a, const json_t *je, dr_prov_error *e)
{
	const json_t *sd = json_object_get(je, "serviceErrorDetails");
	const json_t *pd = json_object_get(je, "providerErrorDetails");
	const char *lvl = jstr(je, "errorLevel");

	memset(e, 0, sizeof(*e));
	if (jstr(sd, "code") || jstr(sd, "message")) {
		e->code = astr(a, jstr(sd, "code"));
		e->message = astr(a, jstr(sd, "message"));
		e->possible_causes = astr(a, jstr(sd, "possibleCauses"));
		e->recommended_action = astr(a, jstr(sd, "recommendedAction"));
	} else {
		const json_t *ec = json_object_get(pd, "errorCode");

		e->code = json_is_integer(ec)
				  ? dr_arena_printf(a, "%lld", (long long)json_integer_value(ec))
				  : astr(a, jstr(pd, "errorId"));
		e->message = astr(a, jstr(pd, "errorMessage"));
		e->possible_causes = astr(a, jstr(pd, "possibleCauses"));
		e->recommended_action = astr(a, jstr(pd, "recommendedAction"));
	}
	if (!e->code)
		e->code = dr_arena_strdup(a, "JobError");
	if (!e->message)
		e->message = dr_arena_strdup(a, "");
	e->level = dr_arena_strdup(a, lvl ? lvl : "Error");
	e->task_id = astr(a, jstr(je, "taskId"));
	e->time_ms = parse_time(jstr(je, "creationTime"));
}

static void job_view(az_req *r, const json_t *job, dr_prov_job *v)
{
	dr_arena *a = r->a;
	const json_t *pr = jprops(job), *tasks = json_object_get(pr, "tasks");
	const json_t *errs = json_object_get(pr, "errors"), *t;
	const json_t *pid = json_array_get(json_object_get(json_object_get(pr, "customDetails"),
							   "protectedItemDetails"), 0);
	const char *act = jstr(pr, "activityId");
	size_t i, ne = 0;

	memset(v, 0, sizeof(*v));
	v->id = astr(a, jstr(job, "name"));
	v->item = astr(a, jstr(pr, "targetObjectName"));
	v->scenario = astr(a, jstr(pr, "scenarioName"));
	if (!scenario_kind(v->scenario, &v->kind))
		v->kind = DR_PREQ__COUNT;
	v->friendly_name = astr(a, jstr(pr, "friendlyName"));
	v->state = dr_arena_strdup(a, jstr(pr, "state") ? jstr(pr, "state") : "Other");
	v->state_description = astr(a, jstr(pr, "stateDescription"));
	/* ASR's activityId starts with the client request id of the call that
	 * created the job (inferred from captured jobs). */
	if (jstr(pr, "clientRequestId"))
		v->client_request_id = astr(a, jstr(pr, "clientRequestId"));
	else if (act && strlen(act) >= 36 && (act[36] == ' ' || !act[36]))
		v->client_request_id = dr_arena_strndup(a, act, 36);
	v->start_ms = parse_time(jstr(pr, "startTime"));
	v->end_ms = parse_time(jstr(pr, "endTime"));
	v->tasks = dr_arena_zalloc(a, (json_array_size(tasks) + 1) * sizeof(*v->tasks));
	json_array_foreach(tasks, i, t) {
		dr_prov_task *vt = &v->tasks[v->ntasks++];
		const json_t *te = json_object_get(t, "errors");

		vt->id = dr_arena_strdup(a, jstr(t, "taskId") ? jstr(t, "taskId")
					     : jstr(t, "name") ? jstr(t, "name") : "");
		vt->name = dr_arena_strdup(a, jstr(t, "friendlyName") ? jstr(t, "friendlyName")
					       : jstr(t, "name") ? jstr(t, "name") : "");
		vt->state = dr_arena_strdup(a, jstr(t, "state") ? jstr(t, "state") : "NotStarted");
		vt->state_description = astr(a, jstr(t, "stateDescription"));
		vt->start_ms = parse_time(jstr(t, "startTime"));
		vt->end_ms = parse_time(jstr(t, "endTime"));
		ne += json_array_size(te);
	}
	ne += json_array_size(errs);
	v->errors = dr_arena_zalloc(a, (ne + 1) * sizeof(*v->errors));
	json_array_foreach(errs, i, t)
		job_error(a, t, &v->errors[v->nerrors++]);
	if (!json_array_size(errs)) {
		/* Some jobs carry errors only on their tasks. */
		const json_t *tt;
		size_t k;

		json_array_foreach(tasks, i, tt) {
			json_array_foreach(json_object_get(tt, "errors"), k, t) {
				dr_prov_error *e = &v->errors[v->nerrors++];

				job_error(a, t, e);
				if (!e->task_id)
					e->task_id = astr(a, jstr(tt, "taskId"));
			}
		}
	}
	if (jstr(pid, "recoveryPointId")) {
		v->point.id = astr(a, jstr(pid, "recoveryPointId"));
		v->point.time_ms = parse_time(jstr(pid, "recoveryPointTime"));
		v->point.type = DR_POINT_CRASH_CONSISTENT;
		/* A planned failover's point is taken after the request (the
		 * source stops first): nothing was lost, the RPO is 0. */
		if (v->point.time_ms && v->start_ms)
			v->rpo_s = v->start_ms > v->point.time_ms
				   ? (v->start_ms - v->point.time_ms) / 1000 : 0;
	}
	if (!dr_prov_job_done(v))
		v->poll_after_ms = r->az->o.poll_ms;
}

/* ---- get_item ---- */

static void item_got(az_req *r, az_resp *s);
static void item_points(az_req *r, az_resp *s);

static void item_get(az_req *r, az_resp *unused)
{
	(void)unused;
	call(r, "GET", r->item_id, NULL, item_got);
}

/* A 404 on a cached id: the item may have been re-created. List once. */
static bool retry_stale(az_req *r, az_resp *s, step_fn again)
{
	if (s->rc == 0 && s->status == 404 && !r->relisted) {
		r->relisted = true;
		resolve(r, true, again);
		return true;
	}
	return false;
}

static void item_got(az_req *r, az_resp *s)
{
	if (retry_stale(r, s, item_get))
		return;
	if (read_failed(r, s, "Reading replicated item '%s'", r->item))
		return;
	json_decref(r->item_json);
	r->item_json = json_incref(s->body);
	if (r->state_only) {
		item_view(r, r->item_json, &r->iv);
		finish(r, 0);
		return;
	}
	{
		dr_strbuf p = DR_STRBUF_INIT;

		dr_strbuf_addf(&p, "%s/recoveryPoints", r->item_id);
		get_all(r, p.buf, item_points);
		dr_strbuf_release(&p);
	}
}

static void item_points(az_req *r, az_resp *s)
{
	/* Points are best effort for the view: an item without points (after
	 * a commit, during reprotect) answers an empty list or 404. */
	if (s->rc == 0 && s->status == 200)
		points_view(r);
	item_view(r, r->item_json, &r->iv);
	finish(r, 0);
}

static int az_get_item(dr_provider *p, const char *item, dr_prov_item_cb cb, void *ud)
{
	dr_azure *az = p->impl;
	az_req *r = new_req(az, R_ITEM, ud);

	r->cb.item = cb;
	r->item = dr_xstrdup(item);
	resolve(r, false, item_get);
	return 0;
}

/* One GET of the item: the executor's checks before an operation need no
 * recovery points, and listing them is most of get_item's requests. */
static int az_get_state(dr_provider *p, const char *item, dr_prov_item_cb cb, void *ud)
{
	dr_azure *az = p->impl;
	az_req *r = new_req(az, R_ITEM, ud);

	r->cb.item = cb;
	r->item = dr_xstrdup(item);
	r->state_only = true;
	resolve(r, false, item_get);
	return 0;
}

/* ---- poll ---- */

static void poll_got(az_req *r, az_resp *s)
{
	if (read_failed(r, s, "Reading job '%s'", r->job_id))
		return;
	job_view(r, s->body, &r->jv);
	{
		uint64_t ra = retry_after_ms(s->http, 0);

		if (ra && !dr_prov_job_done(&r->jv))
			r->jv.poll_after_ms = ra;
	}
	finish(r, 0);
}

static int az_poll(dr_provider *p, const char *job_id, dr_prov_job_cb cb, void *ud)
{
	dr_azure *az = p->impl;
	az_req *r = new_req(az, R_POLL, ud);
	dr_strbuf path = DR_STRBUF_INIT;
	char *enc = curl_easy_escape(NULL, last_seg(job_id), 0);

	r->cb.job = cb;
	r->job_id = dr_xstrdup(job_id);
	dr_strbuf_addf(&path, "%s/replicationJobs/%s", az->vpath, enc);
	curl_free(enc);
	call(r, "GET", path.buf, NULL, poll_got);
	dr_strbuf_release(&path);
	return 0;
}

/* ---- find_jobs ---- */

static bool job_is_for(const json_t *job, const char *name, const char *item_id)
{
	const json_t *pr = jprops(job);
	const char *tid = jstr(pr, "targetObjectId"), *tn = jstr(pr, "targetObjectName");

	if (tn && !strcasecmp(tn, name))
		return true;
	if (tid && item_id && (!strcasecmp(tid, item_id) ||
			       !strcasecmp(last_seg(tid), last_seg(item_id))))
		return true;
	return false;
}

static int cmp_jobs_asc(const void *x, const void *y)
{
	const dr_prov_job *a = x, *b = y;

	return a->start_ms < b->start_ms ? -1 : a->start_ms > b->start_ms ? 1 : 0;
}

/* r->acc (jobs) -> r->jobs for r->item since r->since, oldest first. */
static void jobs_view(az_req *r)
{
	size_t i, n = json_array_size(r->acc);
	const json_t *j;

	r->jobs = dr_arena_zalloc(r->a, (n + 1) * sizeof(*r->jobs));
	r->njobs = 0;
	json_array_foreach(r->acc, i, j) {
		dr_prov_job v;

		if (!job_is_for(j, r->item, r->item_id))
			continue;
		job_view(r, j, &v);
		if (v.start_ms && v.start_ms < r->since)
			continue;
		r->jobs[r->njobs++] = v;
	}
	qsort(r->jobs, r->njobs, sizeof(*r->jobs), cmp_jobs_asc);
}

static void jobs_listed(az_req *r, az_resp *s)
{
	if (read_failed(r, s, "Listing replicationJobs"))
		return;
	jobs_view(r);
	finish(r, 0);
}

/*
 * The vault's jobs, those started at or after since_ms only when since_ms >
 * 0 ($filter=startTime eq '...', the JobQueryParameter.startTime that Az
 * PowerShell's -StartTime sends). Callers filter again on their side.
 */
static void jobs_path(dr_azure *az, dr_strbuf *sb, int64_t since_ms)
{
	dr_strbuf_addf(sb, "%s/replicationJobs", az->vpath);
	if (since_ms > 0) {
		char ts[40], *enc;
		time_t t = (time_t)(since_ms / 1000);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(ts, sizeof(ts), "startTime eq '%Y-%m-%dT%H:%M:%SZ'", &tm);
		enc = curl_easy_escape(NULL, ts, 0);
		dr_strbuf_addf(sb, "?$filter=%s", enc);
		curl_free(enc);
	}
}

static void find_resolved(az_req *r, az_resp *unused)
{
	dr_strbuf p = DR_STRBUF_INIT;

	(void)unused;
	jobs_path(r->az, &p, r->since);
	get_all(r, p.buf, jobs_listed);
	dr_strbuf_release(&p);
}

static int az_find_jobs(dr_provider *p, const char *item, int64_t since_ms,
			dr_prov_jobs_cb cb, void *ud)
{
	dr_azure *az = p->impl;
	az_req *r = new_req(az, R_FIND, ud);

	r->cb.jobs = cb;
	r->item = dr_xstrdup(item);
	r->since = since_ms;
	resolve(r, false, find_resolved);
	return 0;
}

/* ---- recovery points ---- */

static void points_listed(az_req *r, az_resp *s)
{
	if (read_failed(r, s, "Listing recovery points of '%s'", r->item))
		return;
	points_view(r);
	finish(r, 0);
}

static void points_resolved(az_req *r, az_resp *unused)
{
	dr_strbuf p = DR_STRBUF_INIT;

	(void)unused;
	dr_strbuf_addf(&p, "%s/recoveryPoints", r->item_id);
	get_all(r, p.buf, points_listed);
	dr_strbuf_release(&p);
}

static int az_points(dr_provider *p, const char *item, dr_prov_points_cb cb, void *ud)
{
	dr_azure *az = p->impl;
	az_req *r = new_req(az, R_POINTS, ud);

	r->cb.points = cb;
	r->item = dr_xstrdup(item);
	resolve(r, false, points_resolved);
	return 0;
}

/* ---- start ---- */

static void start_item(az_req *r, az_resp *unused);
static void start_item_got(az_req *r, az_resp *s);
static void start_points(az_req *r, az_resp *s);
static void start_post(az_req *r);
static void start_answer(az_req *r, az_resp *s);
static void recon_item(az_req *r, az_resp *s);
static void recon_jobs(az_req *r, az_resp *s);
static void reprotect_fabric(az_req *r, az_resp *s);
static void reprotect_mapping(az_req *r, az_resp *s);

static const char *const kind_actions[DR_PREQ__COUNT] = {
	[DR_PREQ_TEST_FAILOVER] = "testFailover",
	[DR_PREQ_TEST_FAILOVER_CLEANUP] = "testFailoverCleanup",
	[DR_PREQ_UNPLANNED_FAILOVER] = "unplannedFailover",
	[DR_PREQ_APPLY_RECOVERY_POINT] = "applyRecoveryPoint",
	[DR_PREQ_COMMIT] = "failoverCommit",
	[DR_PREQ_REPROTECT] = "reProtect",
	[DR_PREQ_PLANNED_FAILOVER] = "plannedFailover",
	[DR_PREQ_CANCEL_FAILOVER] = "failoverCancel",
};

/* What to do when an operation is not offered, in plain words. */
static const char *not_allowed_hint(dr_preq_kind k)
{
	switch (k) {
	case DR_PREQ_TEST_FAILOVER:
		return "A test failover needs a protected item with no test "
		       "failover pending: clean up the previous drill "
		       "(testFailoverCleanup) and wait for initial replication "
		       "to finish.";
	case DR_PREQ_TEST_FAILOVER_CLEANUP:
		return "Cleanup is offered only after a test failover has "
		       "finished; if none ran, there is nothing to clean up.";
	case DR_PREQ_UNPLANNED_FAILOVER:
		return "Failover to Azure needs an item that is protected and "
		       "replicating to Azure; after a failover, commit and "
		       "reprotect first.";
	case DR_PREQ_APPLY_RECOVERY_POINT:
		return "The recovery point can be changed only after a failover "
		       "and before it is committed.";
	case DR_PREQ_COMMIT:
		return "Commit is offered after a failover has finished and "
		       "before it was committed.";
	case DR_PREQ_REPROTECT:
		return "Reprotect is offered after a committed failover "
		       "(or failback); wait for the commit job to finish.";
	case DR_PREQ_PLANNED_FAILOVER:
		return "Failback (planned failover) needs an item reprotected to "
		       "on-premises (InMageRcmFailback) whose replication is "
		       "healthy and initial replication complete.";
	case DR_PREQ_CANCEL_FAILOVER:
		return "Only a planned failover (failback) that has not been "
		       "committed can be cancelled.";
	default:
		return "Start an operation listed in allowedOperations.";
	}
}

static const char *joined_ops(dr_arena *a, const dr_prov_item *it)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	char *out;
	size_t i;

	for (i = 0; i < it->nallowed_ops; i++)
		dr_strbuf_addf(&sb, "%s%s", i ? ", " : "", it->allowed_ops[i]);
	out = dr_arena_strdup(a, sb.len ? sb.buf : "none");
	dr_strbuf_release(&sb);
	return out;
}

static const char *health_text(dr_arena *a, const json_t *item)
{
	const json_t *he = json_object_get(jprops(item), "healthErrors"), *e;
	dr_strbuf sb = DR_STRBUF_INIT;
	char *out;
	size_t i;

	json_array_foreach(he, i, e) {
		const char *m = jstr(e, "summaryMessage") ? jstr(e, "summaryMessage")
							  : jstr(e, "errorMessage");

		if (i >= 3)
			break;
		dr_strbuf_addf(&sb, "%s%s%s%s", i ? "; " : " Health errors: ",
			       jstr(e, "errorCode") ? jstr(e, "errorCode") : "",
			       m ? " " : "", m ? m : "");
	}
	out = dr_arena_strdup(a, sb.buf);
	dr_strbuf_release(&sb);
	return out;
}

/* Check the item allows the request; 0 or an error code with r->err set. */
static int check_allowed(az_req *r, const dr_prov_item *it)
{
	const dr_op_request *q = &r->op;
	const char *op = dr_preq_kind_asr_op(q->kind);
	const char *inst = it->instance_type ? it->instance_type : "unknown";
	const char *running = it->current_scenario && strcmp(it->current_scenario, "None")
				      ? it->current_scenario : NULL;

	if (running) {
		set_err(r, 409, "OperationNotAllowed",
			"Another operation is running on the item.",
			"Wait for the running job to finish, then start the "
			"operation again.",
			"Operation '%s' is not allowed for replicated item '%s' while "
			"'%s' (job %s) is in progress.", op, it->name, running,
			it->last_job_id ? it->last_job_id : "unknown");
		return DR_ECONFLICT;
	}
	if (q->kind == DR_PREQ_PLANNED_FAILOVER && strcmp(inst, "InMageRcmFailback")) {
		set_err(r, 400, "OperationNotAllowed",
			"For VMware and physical machines ASR offers planned "
			"failover only from Azure back to on-premises.",
			not_allowed_hint(q->kind),
			"Planned failover (failback) is not possible for replicated "
			"item '%s': it replicates as %s, not InMageRcmFailback.",
			it->name, inst);
		return DR_ECONFLICT;
	}
	if (q->kind == DR_PREQ_REPROTECT && q->direction && q->direction != DR_DIR_ANY) {
		dr_direction want = !strcmp(inst, "InMageRcmFailback") || !strcmp(inst, "InMage")
					    ? DR_DIR_TO_AZURE : DR_DIR_TO_ONPREM;

		if (q->direction != want) {
			set_err(r, 400, "InvalidFailoverDirection",
				"Reprotect reverses the current replication.",
				"Reprotect in the other direction.",
				"Replicated item '%s' (%s) can only be reprotected %s.",
				it->name, inst,
				want == DR_DIR_TO_ONPREM ? "to on-premises (RecoveryToPrimary)"
							 : "to Azure (PrimaryToRecovery)");
			return DR_EINVAL;
		}
	}
	if (!dr_prov_item_allows(it, op)) {
		set_err(r, 400, "OperationNotAllowed",
			"The operation is not valid in the item's current state.",
			not_allowed_hint(q->kind),
			"Operation '%s' is not allowed for replicated item '%s' in "
			"state '%s' (%s). Allowed operations: %s.%s", op, it->name,
			it->protection_state ? it->protection_state : "unknown",
			it->protection_state_description ? it->protection_state_description : "",
			joined_ops(r->a, it), health_text(r->a, r->item_json));
		return DR_ECONFLICT;
	}
	if ((q->kind == DR_PREQ_PLANNED_FAILOVER || q->kind == DR_PREQ_TEST_FAILOVER) &&
	    it->replication_health && !strcmp(it->replication_health, "Critical")) {
		set_err(r, 400, "OperationNotAllowed",
			"Replication of the item is unhealthy (ReplicationHealthCritical); "
			"a failback or drill would fail or lose data.",
			"Resolve the item's health errors in the vault (or with "
			"resolveHealthErrors) and wait for replication health "
			"Normal.",
			"Replicated item '%s' has replication health Critical.%s",
			it->name, health_text(r->a, r->item_json));
		return DR_ECONFLICT;
	}
	if ((q->kind == DR_PREQ_PLANNED_FAILOVER || q->kind == DR_PREQ_TEST_FAILOVER ||
	     q->kind == DR_PREQ_UNPLANNED_FAILOVER) && it->initial_replication_percent >= 0) {
		set_err(r, 400, "OperationNotAllowed",
			"Initial replication has not finished (InitialReplicationPending); "
			"there is no consistent copy to fail over to yet.",
			"Wait until initial replication reaches 100%.",
			"Replicated item '%s' is still in initial replication "
			"(%d%% complete).", it->name, it->initial_replication_percent);
		return DR_ECONFLICT;
	}
	return 0;
}

static bool needs_points(const dr_op_request *q)
{
	if (q->kind == DR_PREQ_APPLY_RECOVERY_POINT)
		return q->rp.kind != DR_RP_CUSTOM;
	if (q->kind == DR_PREQ_TEST_FAILOVER || q->kind == DR_PREQ_UNPLANNED_FAILOVER)
		return q->rp.kind == DR_RP_LATEST_PROCESSED ||
		       q->rp.kind == DR_RP_LATEST_APP_CONSISTENT;
	return false;
}

static void start_item(az_req *r, az_resp *unused)
{
	(void)unused;
	call(r, "GET", r->item_id, NULL, start_item_got);
}

static void start_item_got(az_req *r, az_resp *s)
{
	int rc;

	if (retry_stale(r, s, start_item))
		return;
	if (read_failed(r, s, "Reading replicated item '%s'", r->item))
		return;
	json_decref(r->item_json);
	r->item_json = json_incref(s->body);
	item_view(r, r->item_json, &r->iv);
	if ((rc = check_allowed(r, &r->iv)) < 0) {
		finish(r, rc);
		return;
	}
	if (r->op.rp.kind == DR_RP_CUSTOM && r->op.rp.id &&
	    (r->op.kind == DR_PREQ_TEST_FAILOVER ||
	     r->op.kind == DR_PREQ_UNPLANNED_FAILOVER ||
	     r->op.kind == DR_PREQ_APPLY_RECOVERY_POINT)) {
		/* A bare point name becomes the point's ARM id. */
		if (r->op.rp.id[0] == '/')
			r->rp_id = dr_xstrdup(r->op.rp.id);
		else {
			dr_strbuf p = DR_STRBUF_INIT;

			dr_strbuf_addf(&p, "%s/recoveryPoints/%s", r->item_id, r->op.rp.id);
			r->rp_id = dr_strbuf_detach(&p, NULL);
		}
	}
	if (needs_points(&r->op)) {
		dr_strbuf p = DR_STRBUF_INIT;

		dr_strbuf_addf(&p, "%s/recoveryPoints", r->item_id);
		get_all(r, p.buf, start_points);
		dr_strbuf_release(&p);
		return;
	}
	if (r->op.kind == DR_PREQ_REPROTECT) {
		const char *inst = r->iv.instance_type ? r->iv.instance_type : "";
		const char *id = r->item_id;
		const char *c = strcasestr(id, "/replicationProtectionContainers/");
		bool need = (!strcmp(inst, "InMageRcm") && !r->az->o.reprotect_agent_id) ||
			    (!strcmp(inst, "InMageRcmFailback") && !r->az->o.process_server_id);

		if (need && c) {
			/* The appliance's reprotect agents and process servers
			 * are in the fabric's InMageRcm details. */
			char *fab = dr_xstrndup(id, (size_t)(c - id));

			call(r, "GET", fab, NULL, reprotect_fabric);
			free(fab);
			return;
		}
		reprotect_fabric(r, NULL);
		return;
	}
	start_post(r);
}

static void reprotect_fabric(az_req *r, az_resp *s)
{
	const char *id = r->item_id, *c = strcasestr(id, "/replicationProtectedItems/");
	dr_strbuf p = DR_STRBUF_INIT;

	if (s && s->rc == 0 && s->status == 200) {
		json_decref(r->extra);
		r->extra = json_incref(json_object_get(jprops(s->body), "customDetails"));
	}
	if (r->az->o.policy_id || !c) {
		start_post(r);
		return;
	}
	/* The container mapping holds the replication policy. */
	dr_strbuf_add(&p, id, (size_t)(c - id));
	dr_strbuf_addstr(&p, "/replicationProtectionContainerMappings");
	get_all(r, p.buf, reprotect_mapping);
	dr_strbuf_release(&p);
}

static void reprotect_mapping(az_req *r, az_resp *s)
{
	(void)s;
	start_post(r);
}

/* Pick the point for latest-processed / latest-app-consistent / latest. */
static void start_points(az_req *r, az_resp *s)
{
	size_t i;

	if (read_failed(r, s, "Listing recovery points of '%s'", r->item))
		return;
	points_view(r);
	for (i = 0; i < r->npts; i++) {
		if (r->op.rp.kind == DR_RP_LATEST_APP_CONSISTENT &&
		    r->pts[i].type != DR_POINT_APP_CONSISTENT)
			continue;
		r->rp_id = dr_xstrdup(r->pts[i].id);
		break;
	}
	if (!r->rp_id) {
		set_err(r, 404, "RecoveryPointNotFound",
			r->op.rp.kind == DR_RP_LATEST_APP_CONSISTENT
				? "No app-consistent point exists yet in the retention window."
				: "The item has no recovery points (initial replication "
				  "not finished, or points were removed by a commit).",
			"Choose another recovery point (latest or "
			"latest-processed), or wait for the next point.",
			"Replicated item '%s' has no %s recovery point.", r->item,
			r->op.rp.kind == DR_RP_LATEST_APP_CONSISTENT ? "app-consistent" : "");
		finish(r, DR_ENOTFOUND);
		return;
	}
	start_post(r);
}

static const char *first_id(const json_t *arr)
{
	return jstr(json_array_get(arr, 0), "id");
}

static json_t *nstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* The body of the request, per operation and the item's provider. */
static int build_body(az_req *r, json_t **out)
{
	dr_azure *az = r->az;
	const dr_op_request *q = &r->op;
	const char *inst = r->iv.instance_type ? r->iv.instance_type : "InMageRcm";
	const json_t *psd = jpsd(r->item_json);
	json_t *props = json_object(), *pd = json_object();

	*out = NULL;
	json_object_set_new(pd, "instanceType", json_string(inst));
	switch (q->kind) {
	case DR_PREQ_TEST_FAILOVER: {
		const char *net = q->network;
		char *netid = NULL;

		if (net && net[0] != '/') {
			const char *t = jstr(psd, "testNetworkId");
			const char *rg = jstr(psd, "targetResourceGroupId");

			if (t && ends_with_ci(t, net) && t[strlen(t) - strlen(net) - 1] == '/')
				netid = dr_xstrdup(t);
			else if (rg) {
				dr_strbuf sb = DR_STRBUF_INIT;

				dr_strbuf_addf(&sb, "%s/providers/Microsoft.Network/"
					       "virtualNetworks/%s", rg, net);
				netid = dr_strbuf_detach(&sb, NULL);
			} else {
				json_decref(props);
				json_decref(pd);
				set_err(r, 400, "InvalidParameter", NULL,
					"Give the test network as an ARM id.",
					"Cannot resolve test network '%s' of '%s' to an "
					"ARM id: the item has no target resource group.",
					net, r->item);
				return DR_EINVAL;
			}
		} else if (net) {
			netid = dr_xstrdup(net);
		}
		json_object_set_new(props, "failoverDirection", json_string("PrimaryToRecovery"));
		json_object_set_new(props, "networkType",
				    json_string(netid ? "VmNetworkAsInput" : "NoNetworkAttachAsInput"));
		json_object_set_new(props, "networkId", nstr(netid));
		if (!strcmp(inst, "InMageRcm"))
			json_object_set_new(pd, "networkId", nstr(netid));
		json_object_set_new(pd, "recoveryPointId", nstr(r->rp_id));
		json_object_set_new(pd, "osUpgradeVersion", json_null());
		free(netid);
		break;
	}
	case DR_PREQ_TEST_FAILOVER_CLEANUP:
		json_decref(pd);
		pd = NULL;
		json_object_set_new(props, "comments",
				    json_string(q->comments ? q->comments
							     : "Drill finished: drplan cleanup"));
		if (q->comments && strlen(q->comments) > 1024) {
			json_decref(props);
			set_err(r, 400, "InvalidParameter", NULL, "Shorten the comments.",
				"Comments are limited to 1024 characters.");
			return DR_EINVAL;
		}
		break;
	case DR_PREQ_UNPLANNED_FAILOVER:
		if (!strcmp(inst, "InMage")) {
			json_object_set_new(props, "failoverDirection",
					    json_string("RecoveryToPrimary"));
			json_object_set_new(pd, "recoveryPointType",
					    json_string(r->rp_id ? "Custom" : "LatestTime"));
		} else {
			json_object_set_new(props, "failoverDirection",
					    json_string("PrimaryToRecovery"));
		}
		json_object_set_new(props, "sourceSiteOperations",
				    json_string(q->shutdown_source ? "Required" : "NotRequired"));
		if (!strcmp(inst, "InMageRcm"))
			json_object_set_new(pd, "performShutdown",
					    json_string(q->shutdown_source ? "true" : "false"));
		json_object_set_new(pd, "recoveryPointId", nstr(r->rp_id));
		if (strcmp(inst, "InMage"))
			json_object_set_new(pd, "osUpgradeVersion", json_null());
		break;
	case DR_PREQ_APPLY_RECOVERY_POINT:
		json_object_set_new(props, "recoveryPointId", nstr(r->rp_id));
		if (!strcmp(inst, "InMageRcm"))
			json_object_set_new(pd, "recoveryPointId", nstr(r->rp_id));
		break;
	case DR_PREQ_REPROTECT: {
		const json_t *cd = r->extra;
		const json_t *acc = r->acc;

		if (!strcmp(inst, "InMageRcm")) {
			const char *agent = az->o.reprotect_agent_id
						    ? az->o.reprotect_agent_id
						    : first_id(json_object_get(cd, "reprotectAgents"));
			const char *ds = az->o.datastore_name;
			const char *logsa = az->o.log_storage_account_id;
			const char *pol = az->o.policy_id
						  ? az->o.policy_id
						  : jstr(jprops(json_array_get(acc, 0)), "policyId");

			if (!ds)
				ds = json_string_value(json_array_get(
					json_object_get(json_object_get(psd, "discoveredVmDetails"),
							"datastores"), 0));
			if (!logsa)
				logsa = jstr(json_array_get(json_object_get(psd, "protectedDisks"), 0),
					     "logStorageAccountId");
			if (!logsa)
				logsa = jstr(psd, "storageAccountId");
			if (!agent || !ds || !logsa) {
				json_decref(props);
				json_decref(pd);
				set_err(r, 400, "ReprotectInputMissing",
					"Reprotect to on-premises needs the appliance's "
					"reprotect agent, a vCenter datastore and a log "
					"storage account; drplan could not find them in the "
					"fabric and the item.",
					"Set reprotectAgentId, datastoreName and "
					"logStorageAccountId in the azure provider options "
					"(docs/azure.md).",
					"Cannot reprotect '%s' to on-premises: no %s.", r->item,
					!agent ? "reprotect agent" : !ds ? "datastore"
								      : "log storage account");
				return DR_EINVAL;
			}
			json_object_set_new(props, "failoverDirection",
					    json_string("RecoveryToPrimary"));
			json_object_set_new(pd, "reprotectAgentId", json_string(agent));
			json_object_set_new(pd, "datastoreName", json_string(ds));
			json_object_set_new(pd, "logStorageAccountId", json_string(logsa));
			if (pol)
				json_object_set_new(pd, "policyId", json_string(pol));
		} else if (!strcmp(inst, "InMageRcmFailback")) {
			const char *ps = az->o.process_server_id
						 ? az->o.process_server_id
						 : first_id(json_object_get(cd, "processServers"));
			const char *pol = az->o.policy_id
						  ? az->o.policy_id
						  : jstr(jprops(json_array_get(acc, 0)), "policyId");

			if (!pol)
				pol = jstr(psd, "lastUsedPolicyId");
			if (!ps || !pol) {
				json_decref(props);
				json_decref(pd);
				set_err(r, 400, "ReprotectInputMissing",
					"Reprotect to Azure needs a process server and a "
					"replication policy.",
					"Set processServerId and policyId in the azure "
					"provider options (docs/azure.md).",
					"Cannot reprotect '%s' to Azure: no %s.", r->item,
					!ps ? "process server" : "replication policy");
				return DR_EINVAL;
			}
			json_object_set_new(props, "failoverDirection",
					    json_string("PrimaryToRecovery"));
			json_object_set_new(pd, "processServerId", json_string(ps));
			if (az->o.run_as_account_id)
				json_object_set_new(pd, "runAsAccountId",
						    json_string(az->o.run_as_account_id));
			json_object_set_new(pd, "policyId", json_string(pol));
		} else {
			json_decref(props);
			json_decref(pd);
			set_err(r, 400, "NotSupported",
				"Classic (InMageAzureV2/InMage) reprotect needs a master "
				"target, a retention drive and a policy that drplan does "
				"not manage.",
				"Reprotect classic items in the portal or with "
				"Update-AzRecoveryServicesAsrProtectionDirection, or "
				"move them to the modernized stack.",
				"drplan cannot reprotect replicated item '%s' (%s).",
				r->item, inst);
			return DR_EINVAL;
		}
		break;
	}
	case DR_PREQ_PLANNED_FAILOVER:
		/* Az PowerShell sends no failoverDirection for this provider. */
		json_object_set_new(pd, "recoveryPointType",
				    json_string(dr_point_type_name(q->point_type)));
		break;
	case DR_PREQ_COMMIT:
	case DR_PREQ_CANCEL_FAILOVER:
	default:
		json_decref(props);
		json_decref(pd);
		return 0; /* no body */
	}
	if (pd)
		json_object_set_new(props, "providerSpecificDetails", pd);
	*out = json_pack("{s:o}", "properties", props);
	return 0;
}

static void start_post(az_req *r)
{
	json_t *body = NULL;
	char *text = NULL;
	dr_strbuf p = DR_STRBUF_INIT;
	int rc;

	if ((rc = build_body(r, &body)) < 0) {
		finish(r, rc);
		return;
	}
	if (body)
		text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	dr_strbuf_addf(&p, "%s/%s", r->item_id, kind_actions[r->op.kind]);
	call(r, "POST", p.buf, text, start_answer);
	dr_strbuf_release(&p);
	free(text);
	json_decref(body);
}

/* The job id in an accepted answer: LRO headers, request id, body. */
static char *job_from_answer(const az_resp *s)
{
	static const char *const marks[] = { "/operationresults/",
					     "/replicationOperationStatus/",
					     "/replicationJobs/" };
	const char *hdrs[] = { "azure-asyncoperation", "location", "x-ms-request-id" };
	size_t i, k;
	const char *job;

	for (i = 0; s->http && i < DR_ARRAY_SIZE(hdrs); i++) {
		const char *v = dr_http_resp_header(s->http, hdrs[i]);

		for (k = 0; v && k < DR_ARRAY_SIZE(marks); k++) {
			const char *m = strcasestr(v, marks[k]);

			if (m) {
				const char *b = m + strlen(marks[k]);
				size_t n = strcspn(b, "?/#");

				if (n && n < 128)
					return dr_xstrndup(b, n);
			}
		}
	}
	job = scenario_job(jprops(s->body), NULL);
	return job ? dr_xstrdup(job) : NULL;
}

static void start_answer(az_req *r, az_resp *s)
{
	char what[512];

	if (s->rc == 0 && (s->status == 200 || s->status == 201 || s->status == 202)) {
		char *job = job_from_answer(s);

		if (job) {
			r->started = dr_arena_strdup(r->a, job);
			note_job(r->az, r->item, job);
			free(job);
			finish(r, 0);
			return;
		}
		/* Accepted without a job id we can see: ask the item. */
	} else if (!s->ambiguous) {
		snprintf(what, sizeof(what), "%s on '%s'",
			 dr_preq_kind_asr_op(r->op.kind), r->item);
		finish(r, http_error(r, s, what));
		return;
	}
	/*
	 * Ambiguous: the POST may have been accepted. Never send it again
	 * blindly: look at the item's currentScenario, then at its jobs.
	 */
	r->az->st.reconciled++;
	{
		name_entry *e = find_name(r->az, r->item);

		free(r->job_id);
		r->job_id = e && e->last_job ? dr_xstrdup(e->last_job) : NULL;
	}
	r->post_5xx = s->rc == 0 && s->status >= 500;
	snprintf(what, sizeof(what), "%s on '%s'", dr_preq_kind_asr_op(r->op.kind),
		 r->item);
	if (s->ambiguous)
		http_error(r, s, what); /* kept in case nothing is found */
	call(r, "GET", r->item_id, NULL, recon_item);
}

static void recon_item(az_req *r, az_resp *s)
{
	const char *sc = NULL, *job;
	dr_preq_kind k;
	dr_strbuf p = DR_STRBUF_INIT;

	if (s->rc == 0 && s->status == 200) {
		job = scenario_job(jprops(s->body), &sc);
		if (job && scenario_kind(sc, &k) && k == r->op.kind) {
			r->started = dr_arena_strdup(r->a, job);
			note_job(r->az, r->item, job);
			r->az->st.adopted++;
			r->has_err = false;
			finish(r, 0);
			return;
		}
	}
	r->since = r->sent_ms - 5 * 60 * 1000;
	jobs_path(r->az, &p, r->since);
	get_all(r, p.buf, recon_jobs);
	dr_strbuf_release(&p);
}

static void recon_jobs(az_req *r, az_resp *s)
{
	size_t i;

	if (s->rc == 0 && s->status == 200) {
		/* Jobs of this item and kind that started after we sent (minus
		 * clock skew between us and ASR: r->since). */
		const dr_prov_job *pick = NULL;

		jobs_view(r);
		/* The newest job of this kind, unless one carries the request
		 * id we sent (then that one). */
		for (i = r->njobs; i-- > 0;) {
			const dr_prov_job *j = &r->jobs[i];

			if (j->kind != r->op.kind)
				continue;
			/* An earlier job of ours for this item is not this one. */
			if (r->job_id && !strcmp(r->job_id, j->id))
				continue;
			if (j->client_request_id && r->sent_crid[0] &&
			    !strcasecmp(j->client_request_id, r->sent_crid)) {
				pick = j;
				break;
			}
			if (!pick)
				pick = j;
		}
		if (pick) {
			r->started = dr_arena_strdup(r->a, pick->id);
			note_job(r->az, r->item, pick->id);
			r->az->st.adopted++;
			r->has_err = false;
			finish(r, 0);
			return;
		}
	}
	/* Nothing shows the operation was accepted; ASR may still be creating
	 * the job. The executor reconciles with find_jobs before resending.
	 * After an accepted answer without a job id the operation did start:
	 * DR_EIO all the same, so the executor looks before sending again. */
	if (!r->has_err)
		set_err(r, 0, "OperationOutcomeUnknown", NULL, NULL,
			"ASR accepted %s on '%s' but named no job",
			dr_preq_kind_asr_op(r->op.kind), r->item);
	{
		const char *m = r->err.message;

		r->err.message = dr_arena_printf(
			r->a, "%s; the request may or may not have been accepted "
			"(no job found for '%s' yet)", m, r->item);
		r->err.recommended_action = dr_arena_strdup(
			r->a, "Look for the operation's job (find_jobs) before "
			"sending it again; drplan did not resend it.");
	}
	finish(r, r->post_5xx ? DR_EAGAIN : DR_EIO);
}

static int az_start(dr_provider *p, const dr_op_request *q, dr_prov_start_cb cb, void *ud)
{
	dr_azure *az = p->impl;
	az_req *r = new_req(az, R_START, ud);

	r->cb.start = cb;
	r->item = dr_xstrdup(q->item);
	r->op = *q;
	r->op.item = dr_xstrdup(q->item);
	r->op.rp.id = q->rp.id ? dr_xstrdup(q->rp.id) : NULL;
	r->op.rp.at = NULL;
	r->op.network = q->network ? dr_xstrdup(q->network) : NULL;
	r->op.comments = q->comments ? dr_xstrdup(q->comments) : NULL;
	r->op.client_request_id = q->client_request_id ? dr_xstrdup(q->client_request_id)
						       : NULL;
	resolve(r, false, start_item);
	return 0;
}

/* ---- list items (inventory) ---- */

static void list_done(az_req *r, az_resp *s)
{
	if (read_failed(r, s, "Listing replicationProtectedItems"))
		return;
	fill_names(r->az, r->acc);
	finish(r, 0);
}

int dr_azure_list_items(dr_azure *az, dr_azure_items_cb cb, void *ud)
{
	az_req *r = new_req(az, R_LIST, ud);
	dr_strbuf p = DR_STRBUF_INIT;

	r->cb.items = cb;
	az->st.listings++;
	dr_strbuf_addf(&p, "%s/replicationProtectedItems", az->vpath);
	get_all(r, p.buf, list_done);
	dr_strbuf_release(&p);
	return 0;
}

/* ---- update target settings (PATCH) ---- */

static const char *pstr(dr_pstr s)
{
	return s.v && *s.v ? s.v : NULL;
}

static void set_s(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

/* The plan's target settings of m, detached from the plan. */
static json_t *target_settings(const dr_machine *m)
{
	const dr_target *t = &m->target;
	json_t *o = json_object(), *nics = json_array();
	size_t i;

	set_s(o, "item", pstr(m->inventory_id) ? m->inventory_id.v : m->name.v);
	set_s(o, "name", pstr(t->name) ? t->name.v : pstr(m->name));
	set_s(o, "resourceGroup", pstr(t->resource_group));
	set_s(o, "size", pstr(t->size));
	set_s(o, "availabilitySet", pstr(t->availability_set));
	set_s(o, "availabilityZone", pstr(t->availability_zone));
	set_s(o, "vnet", pstr(t->vnet));
	set_s(o, "subnet", pstr(t->subnet));
	set_s(o, "ip", pstr(t->ip));
	for (i = 0; i < t->nnics; i++) {
		const dr_target_nic *n = &t->nics[i];
		json_t *x = json_object();

		set_s(x, "name", pstr(n->name));
		set_s(x, "subnet", pstr(n->subnet));
		set_s(x, "ip", pstr(n->ip));
		if (n->primary.at)
			json_object_set_new(x, "primary", json_boolean(n->primary.v));
		json_array_append_new(nics, x);
	}
	json_object_set_new(o, "nics", nics);
	return o;
}

static json_t *body_from_settings(const dr_azure *az, const json_t *ts, const json_t *item)
{
	const json_t *psd = jpsd(item), *nics = json_object_get(psd, "vmNics");
	const json_t *tn_list = json_object_get(ts, "nics");
	const char *inst = jstr(psd, "instanceType");
	const char *rg = jstr(ts, "resourceGroup"), *v;
	json_t *pd = json_object(), *vn = json_array();
	char *rgid = NULL;
	size_t i;

	json_object_set_new(pd, "instanceType", json_string(inst ? inst : "InMageRcm"));
	if (rg) {
		dr_strbuf sb = DR_STRBUF_INIT;

		dr_strbuf_addf(&sb, "/subscriptions/%s/resourceGroups/%s",
			       az->o.subscription, rg);
		rgid = dr_strbuf_detach(&sb, NULL);
		json_object_set_new(pd, "targetResourceGroupId", json_string(rgid));
	}
	set_s(pd, "targetVmName", jstr(ts, "name"));
	set_s(pd, "targetVmSize", jstr(ts, "size"));
	if ((v = jstr(ts, "availabilitySet")) && (v[0] == '/' || rgid))
		json_object_set_new(pd, "targetAvailabilitySetId",
				    v[0] == '/' ? json_string(v)
						: json_sprintf("%s/providers/Microsoft.Compute/"
							       "availabilitySets/%s", rgid, v));
	set_s(pd, "targetAvailabilityZone", jstr(ts, "availabilityZone"));
	if ((v = jstr(ts, "vnet")) && (v[0] == '/' || rgid))
		json_object_set_new(pd, "targetNetworkId",
				    v[0] == '/' ? json_string(v)
						: json_sprintf("%s/providers/Microsoft.Network/"
							       "virtualNetworks/%s", rgid, v));
	/* NICs: ASR's vmNics in order against the plan's target NICs (in the
	 * order of the source NICs); without a per-NIC list the first NIC gets
	 * the machine's subnet and IP. */
	for (i = 0; i < json_array_size(nics); i++) {
		const json_t *n = json_array_get(nics, i);
		const json_t *tn = json_array_get(tn_list, i);
		const char *nic_id = jstr(n, "nicId");
		const char *subnet = jstr(tn, "subnet") ? jstr(tn, "subnet") : jstr(ts, "subnet");
		const char *ip = jstr(tn, "ip") ? jstr(tn, "ip") : i == 0 ? jstr(ts, "ip") : NULL;
		const json_t *pr = json_object_get(tn, "primary");
		bool primary = pr ? json_is_true(pr) : i == 0;
		json_t *o;

		if (!nic_id)
			continue;
		o = json_pack("{s:s, s:s, s:s}", "nicId", nic_id, "isPrimaryNic",
			      primary ? "true" : "false", "isSelectedForFailover", "true");
		set_s(o, "targetSubnetName", subnet);
		set_s(o, "targetStaticIPAddress", ip);
		set_s(o, "targetNicName", jstr(tn, "name"));
		json_array_append_new(vn, o);
	}
	if (json_array_size(vn))
		json_object_set_new(pd, "vmNics", vn);
	else
		json_decref(vn);
	free(rgid);
	return json_pack("{s:{s:o}}", "properties", "providerSpecificDetails", pd);
}

json_t *dr_azure_update_body(const dr_azure *az, const dr_plan *plan,
			     const dr_machine *m, const json_t *item)
{
	json_t *ts = target_settings(m), *b;

	(void)plan;
	b = body_from_settings(az, ts, item);
	json_decref(ts);
	return b;
}

/* A value the PATCH would send equals the item's (names and ARM ids are
 * case-insensitive in Azure). */
static bool same_value(const json_t *want, const json_t *have)
{
	const char *w = json_string_value(want), *h = json_string_value(have);

	return w && h && !strcasecmp(w, h);
}

/*
 * Whether the update body's providerSpecificDetails pd would change the
 * item's psd: a field differs, or a NIC setting differs (the update input
 * says targetStaticIPAddress where the item says targetIPAddress).
 */
static bool update_needed(const json_t *pd, const json_t *psd)
{
	static const char *const nic_keys[][2] = {
		{ "isPrimaryNic", "isPrimaryNic" },
		{ "isSelectedForFailover", "isSelectedForFailover" },
		{ "targetSubnetName", "targetSubnetName" },
		{ "targetStaticIPAddress", "targetIPAddress" },
		{ "targetNicName", "targetNicName" },
	};
	const json_t *have = json_object_get(psd, "vmNics"), *n, *h;
	const char *k;
	json_t *v;
	size_t i, m, q;

	json_object_foreach((json_t *)pd, k, v) {
		if (!strcmp(k, "instanceType") || !strcmp(k, "vmNics"))
			continue;
		if (!same_value(v, json_object_get(psd, k)))
			return true;
	}
	json_array_foreach(json_object_get(pd, "vmNics"), i, n) {
		const json_t *hit = NULL;

		json_array_foreach(have, m, h)
			if (same_value(json_object_get(n, "nicId"), json_object_get(h, "nicId")))
				hit = h;
		if (!hit)
			return true;
		for (q = 0; q < DR_ARRAY_SIZE(nic_keys); q++) {
			const json_t *w = json_object_get(n, nic_keys[q][0]);

			if (w && !same_value(w, json_object_get(hit, nic_keys[q][1])))
				return true;
		}
	}
	return false;
}

static void update_item(az_req *r, az_resp *unused);
static void update_item_got(az_req *r, az_resp *s);
static void update_answer(az_req *r, az_resp *s);
static void update_job(az_req *r, az_resp *s);

static void update_item(az_req *r, az_resp *unused)
{
	(void)unused;
	call(r, "GET", r->item_id, NULL, update_item_got);
}

static void update_item_got(az_req *r, az_resp *s)
{
	const char *sc = NULL;
	json_t *body;
	char *text;

	if (retry_stale(r, s, update_item))
		return;
	if (read_failed(r, s, "Reading replicated item '%s'", r->item))
		return;
	if (scenario_job(jprops(s->body), &sc)) {
		set_err(r, 409, "OperationNotAllowed",
			"Another operation is running on the item.",
			"Wait for the running job to finish, then update the "
			"item's target settings.",
			"Cannot update target settings of '%s' while '%s' is in "
			"progress.", r->item, sc);
		finish(r, DR_ECONFLICT);
		return;
	}
	body = body_from_settings(r->az, r->patch, s->body);
	if (!update_needed(json_object_get(json_object_get(body, "properties"),
					   "providerSpecificDetails"), jpsd(s->body))) {
		/* Already in line: no write, no job. */
		json_decref(body);
		finish(r, 1);
		return;
	}
	text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	call(r, "PATCH", r->item_id, text, update_answer);
	free(text);
	json_decref(body);
}

static void update_answer(az_req *r, az_resp *s)
{
	char what[512];
	char *job;

	if (s->rc < 0 || (s->status != 200 && s->status != 202 && s->status != 201)) {
		snprintf(what, sizeof(what), "Updating target settings of '%s'", r->item);
		finish(r, http_error(r, s, what));
		return;
	}
	job = s->status == 202 ? job_from_answer(s) : NULL;
	if (!job) {
		finish(r, 0);
		return;
	}
	free(r->job_id);
	r->job_id = job;
	update_job(r, NULL);
}

static void on_update_poll(dr_loop *loop, void *ud)
{
	az_req *r = ud;
	dr_strbuf p = DR_STRBUF_INIT;

	(void)loop;
	r->c.timer = NULL;
	dr_strbuf_addf(&p, "%s/replicationJobs/%s", r->az->vpath, r->job_id);
	call(r, "GET", p.buf, NULL, update_job);
	dr_strbuf_release(&p);
}

/* The job is the source of truth for the PATCH too: wait for it. */
static void update_job(az_req *r, az_resp *s)
{
	dr_prov_job v;

	if (s) {
		if (read_failed(r, s, "Reading the update job"))
			return;
		job_view(r, s->body, &v);
		if (dr_prov_job_done(&v)) {
			if (dr_prov_job_succeeded(&v)) {
				finish(r, 0);
			} else {
				if (v.nerrors) {
					r->err = v.errors[0];
					r->has_err = true;
				} else {
					set_err(r, 0, "UpdateFailed", NULL, NULL,
						"The update job %s ended %s.", v.id, v.state);
				}
				finish(r, DR_EIO);
			}
			return;
		}
	}
	r->c.timer = dr_loop_timer(r->az->loop, s ? r->az->o.poll_ms : 0,
				   on_update_poll, r);
}

int dr_azure_update_target(dr_azure *az, const dr_plan *plan, const dr_machine *m,
			   dr_azure_done_cb cb, void *ud)
{
	az_req *r;

	(void)plan;
	if (!m || !m->name.v || !cb)
		return dr_error_set(DR_EINVAL, "update_target: no machine or callback");
	r = new_req(az, R_UPDATE, ud);
	r->cb.done = cb;
	r->patch = target_settings(m);
	r->item = dr_xstrdup(jstr(r->patch, "item"));
	resolve(r, false, update_item);
	return 0;
}

/* ---- the provider face, life cycle ---- */

static void az_free_provider(dr_provider *p)
{
	dr_azure_free(p->impl);
}

static const dr_provider_ops azure_ops = {
	.name = "azure",
	.get_item = az_get_item,
	.get_state = az_get_state,
	.start = az_start,
	.poll = az_poll,
	.find_jobs = az_find_jobs,
	.list_recovery_points = az_points,
	.now_ms = NULL,
	.free = az_free_provider,
};

dr_provider *dr_azure_provider(dr_azure *az)
{
	return &az->prov;
}

dr_azure *dr_provider_azure(dr_provider *p)
{
	return p && p->ops == &azure_ops ? p->impl : NULL;
}

void dr_azure_opts_init(dr_azure_opts *o)
{
	memset(o, 0, sizeof(*o));
}

static const struct {
	const char *key;
	size_t off;
	char type; /* s string, u uint64, i int, l long */
} opt_keys[] = {
#define S(k, f) { k, offsetof(dr_azure_opts, f), 's' }
#define U(k, f) { k, offsetof(dr_azure_opts, f), 'u' }
	S("subscription", subscription), S("resourceGroup", resource_group),
	S("vault", vault), S("location", location), S("apiVersion", api_version),
	S("armEndpoint", arm_endpoint), S("authorityHost", authority_host),
	S("imdsEndpoint", imds_endpoint), S("audience", audience),
	U("pollMs", poll_ms), U("retryBaseMs", retry_base_ms),
	U("retryMaxMs", retry_max_ms),
	{ "maxRetries", offsetof(dr_azure_opts, max_retries), 'i' },
	{ "maxThrottleWaits", offsetof(dr_azure_opts, max_throttle_waits), 'i' },
	U("timeoutMs", timeout_ms),
	{ "paceBelow", offsetof(dr_azure_opts, pace_below), 'l' },
	U("paceStepMs", pace_step_ms), U("imdsRetryMs", imds_retry_ms),
	S("reprotectAgentId", reprotect_agent_id), S("datastoreName", datastore_name),
	S("logStorageAccountId", log_storage_account_id),
	S("processServerId", process_server_id),
	S("runAsAccountId", run_as_account_id), S("policyId", policy_id),
#undef S
#undef U
};

int dr_azure_opts_from_json(const json_t *j, dr_azure_opts *o)
{
	const char *k;
	const json_t *v;

	if (!json_is_object(j))
		return dr_error_set(DR_EINVAL, "azure provider options must be an object");
	json_object_foreach((json_t *)j, k, v) {
		size_t i;
		char *f = NULL;

		for (i = 0; i < DR_ARRAY_SIZE(opt_keys); i++)
			if (!strcmp(opt_keys[i].key, k))
				break;
		if (i == DR_ARRAY_SIZE(opt_keys))
			return dr_error_set(DR_EINVAL, "azure provider: unknown option '%s'", k);
		f = (char *)o + opt_keys[i].off;
		if (opt_keys[i].type == 's') {
			if (json_is_null(v))
				continue;
			if (!json_is_string(v))
				return dr_error_set(DR_EINVAL,
						    "azure provider: option '%s' must be a string", k);
			*(const char **)f = json_string_value(v);
		} else {
			if (!json_is_integer(v) || json_integer_value(v) < 0)
				return dr_error_set(DR_EINVAL,
						    "azure provider: option '%s' must be a "
						    "non-negative integer", k);
			if (opt_keys[i].type == 'u')
				*(uint64_t *)f = (uint64_t)json_integer_value(v);
			else if (opt_keys[i].type == 'i')
				*(int *)f = (int)json_integer_value(v);
			else
				*(long *)f = (long)json_integer_value(v);
		}
	}
	return 0;
}

json_t *dr_azure_opts_json_from_plan(const dr_plan *p)
{
	json_t *o = json_object();
	const dr_ynode *av = dr_ynode_at(p->root, "/target/apiVersion");

	if (p->subscription.v)
		json_object_set_new(o, "subscription", json_string(p->subscription.v));
	if (p->vault_resource_group.v)
		json_object_set_new(o, "resourceGroup", json_string(p->vault_resource_group.v));
	if (p->vault.v)
		json_object_set_new(o, "vault", json_string(p->vault.v));
	if (p->location.v)
		json_object_set_new(o, "location", json_string(p->location.v));
	if (av && av->str)
		json_object_set_new(o, "apiVersion", json_string(av->str));
	return o;
}

static const char *keep(dr_azure *az, const char *s)
{
	if (!s)
		return NULL;
	assert(az->nstrs < DR_ARRAY_SIZE(az->strs));
	az->strs[az->nstrs] = dr_xstrdup(s);
	return az->strs[az->nstrs++];
}

static bool valid_name(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == '?' || *s == '#' || *s == '&' ||
		    isspace((unsigned char)*s))
			return false;
	return true;
}

int dr_azure_new(dr_loop *loop, const dr_azure_opts *opts, dr_azure **out)
{
	dr_azure *az;
	dr_azauth_opts ao;
	const char *arm;
	dr_strbuf sb = DR_STRBUF_INIT;
	size_t n;
	int rc;

	*out = NULL;
	if (!valid_name(opts->subscription) || !valid_name(opts->resource_group) ||
	    !valid_name(opts->vault))
		return dr_error_set(DR_EINVAL,
				    "azure provider: subscription, resourceGroup and "
				    "vault are required (target.subscription, "
				    "target.resourceGroup, target.vault)");
	arm = opts->arm_endpoint;
	if (!arm || !*arm)
		arm = getenv("DRPLAN_ARM_ENDPOINT");
	if (!arm || !*arm)
		arm = getenv("AZURE_RESOURCE_MANAGER_ENDPOINT");
	if (!arm || !*arm)
		arm = DR_AZURE_ARM_ENDPOINT;
	if (strncasecmp(arm, "https://", 8) &&
	    !(!strncasecmp(arm, "http://127.", 11) || !strncasecmp(arm, "http://localhost", 16) ||
	      !strncasecmp(arm, "http://[::1]", 12)))
		return dr_error_set(DR_EINVAL,
				    "azure provider: the ARM endpoint must be https:// "
				    "(plain http only on loopback), got '%.100s'", arm);

	az = dr_xcalloc(1, sizeof(*az));
	az->loop = loop;
	az->o = *opts;
	az->o.subscription = keep(az, opts->subscription);
	az->o.resource_group = keep(az, opts->resource_group);
	az->o.vault = keep(az, opts->vault);
	az->o.location = keep(az, opts->location);
	az->o.api_version = keep(az, opts->api_version && *opts->api_version
					     ? opts->api_version : DR_AZURE_API_VERSION);
	az->o.reprotect_agent_id = keep(az, opts->reprotect_agent_id);
	az->o.datastore_name = keep(az, opts->datastore_name);
	az->o.log_storage_account_id = keep(az, opts->log_storage_account_id);
	az->o.process_server_id = keep(az, opts->process_server_id);
	az->o.run_as_account_id = keep(az, opts->run_as_account_id);
	az->o.policy_id = keep(az, opts->policy_id);
	az->o.authority_host = az->o.imds_endpoint = az->o.audience = NULL;
	az->o.arm_endpoint = NULL;
	if (!az->o.poll_ms)
		az->o.poll_ms = 30000;
	if (!az->o.retry_base_ms)
		az->o.retry_base_ms = 1000;
	if (!az->o.retry_max_ms)
		az->o.retry_max_ms = 60000;
	if (!az->o.max_retries)
		az->o.max_retries = 6;
	if (!az->o.max_throttle_waits)
		az->o.max_throttle_waits = 10;
	if (!az->o.timeout_ms)
		az->o.timeout_ms = 60000;
	if (!az->o.pace_below)
		az->o.pace_below = 50;
	if (!az->o.pace_step_ms)
		az->o.pace_step_ms = 100;
	az->writes_remaining = -1;
	az->st.writes_remaining = -1;
	az->rng = (uint64_t)dr_wall_ms() ^ (uint64_t)(uintptr_t)az;
	n = strlen(arm);
	while (n && arm[n - 1] == '/')
		n--;
	az->arm = dr_xstrndup(arm, n);
	dr_strbuf_addf(&sb, "/subscriptions/%s/resourceGroups/%s/providers/"
		       "Microsoft.RecoveryServices/vaults/%s",
		       az->o.subscription, az->o.resource_group, az->o.vault);
	az->vpath = dr_strbuf_detach(&sb, NULL);
	az->prov.ops = &azure_ops;
	az->prov.impl = az;
	if ((rc = dr_http_new(loop, &az->http)) < 0) {
		dr_azure_free(az);
		return rc;
	}
	memset(&ao, 0, sizeof(ao));
	ao.authority_host = opts->authority_host;
	ao.imds_endpoint = opts->imds_endpoint;
	ao.audience = opts->audience;
	ao.imds_retry_ms = opts->imds_retry_ms;
	ao.timeout_ms = opts->timeout_ms;
	if ((rc = dr_azauth_new(loop, az->http, &ao, &az->auth)) < 0) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", dr_error_msg());
		dr_azure_free(az);
		return dr_error_set(rc, "azure provider: %s", msg);
	}
	*out = az;
	return 0;
}

void dr_azure_free(dr_azure *az)
{
	size_t i;

	if (!az)
		return;
	drop_waiters(az);
	while (az->reqs) {
		az_req *r = az->reqs;

		unlink_req(r);
		free_req(r);
	}
	dr_azauth_free(az->auth);
	dr_http_free(az->http);
	for (i = 0; i < az->nnames; i++) {
		free(az->names[i].name);
		free(az->names[i].id);
		free(az->names[i].last_job);
	}
	free(az->names);
	for (i = 0; i < az->nstrs; i++)
		free(az->strs[i]);
	free(az->arm);
	free(az->vpath);
	free(az);
}

void dr_azure_get_stats(const dr_azure *az, dr_azure_stats *out)
{
	*out = az->st;
}

unsigned dr_azure_token_fetches(const dr_azure *az)
{
	return dr_azauth_fetches(az->auth);
}

const char *dr_azure_credential_kind(const dr_azure *az)
{
	return dr_azauth_kind_name(dr_azauth_kind_of(az->auth));
}

/* ---- inventory snapshot ---- */

static void strip_nulls(json_t *v)
{
	const char *k;
	json_t *x;
	void *tmp;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach_safe(v, tmp, k, x) {
			if (json_is_null(x))
				json_object_del(v, k);
			else
				strip_nulls(x);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			strip_nulls(x);
	}
}

static const char *item_key(const json_t *it)
{
	const char *fn = jstr(jprops(it), "friendlyName");

	return fn && *fn ? fn : jstr(it, "name");
}

json_t *dr_azure_inventory_doc(const json_t *items, const char *vault,
			       int64_t now_ms, const json_t *previous)
{
	json_t *out = json_array(), *it;
	const json_t *prev_items = json_object_get(previous, "items");
	char ts[32];
	time_t t = (time_t)(now_ms / 1000);
	struct tm tm;
	size_t i, k;

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_array_foreach(items, i, it) {
		json_t *c = json_deep_copy(it);
		const char *key = item_key(it);
		const json_t *p;

		strip_nulls(c);
		json_array_foreach(prev_items, k, p) {
			const char *pk = item_key(p);

			if (key && pk && !strcmp(key, pk) && json_object_get(p, "drplan")) {
				json_object_set_new(c, "drplan",
						    json_deep_copy(json_object_get(p, "drplan")));
				break;
			}
		}
		json_array_append_new(out, c);
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:o}", "apiVersion", "drplan/v1", "kind",
			 "Inventory", "exportedAt", ts, "vault", vault ? vault : "", "items",
			 out);
}

static void on_inv_err(void *ctx, const dr_schema_error *e)
{
	dr_strbuf *sb = ctx;

	if (sb->len < 2000)
		dr_strbuf_addf(sb, "%s%s: %s", sb->len ? "; " : "",
			       *e->instance_path ? e->instance_path : "/", e->message);
}

int dr_azure_inventory_check(const json_t *doc)
{
	const struct dr_embedded *f = dr_embedded_find("inventory.schema.json");
	json_t *root;
	dr_schema *s = NULL;
	char *msg = NULL;
	dr_strbuf sb = DR_STRBUF_INIT;
	int n;

	if (!f || !(root = json_loadb((const char *)f->data, f->len, 0, NULL)))
		return dr_error_set(DR_ERR, "the inventory schema is not embedded");
	if (dr_schema_compile(root, NULL, &s, &msg) < 0) {
		json_decref(root);
		n = dr_error_set(DR_ERR, "inventory schema: %s", msg ? msg : "");
		free(msg);
		return n;
	}
	json_decref(root);
	n = dr_schema_validate(s, doc, on_inv_err, &sb);
	dr_schema_free(s);
	if (n != 0) {
		n = dr_error_set(DR_EINVAL, "the snapshot does not match "
				 "inventory.schema.json: %s", sb.buf);
		dr_strbuf_release(&sb);
		return n;
	}
	dr_strbuf_release(&sb);
	return 0;
}
