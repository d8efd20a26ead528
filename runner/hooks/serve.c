#include "hooks/serve.h"

#include "core/alloc.h"
#include "core/error.h"
#include "hooks/sandbox_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dr_hook_serving {
	dr_loop *loop;
	dr_net *net;
	dr_hook *h;
	dr_hook_done_fn done;
	void *ud;
	dr_timer *deadline;
	/* At most one of these is set: what the hook waits for now. */
	dr_defer *defer;      /* start, or a slice */
	dr_timer *sleep;
	dr_http_xfer *xfer;
	dr_net_op *op;
	int waiting;          /* dr_hook_req_kind, or -1 */
};

static void step(dr_hook_serving *s, int rc);

static void cancel_inflight(dr_hook_serving *s)
{
	dr_loop_defer_cancel(s->loop, s->defer);
	s->defer = NULL;
	dr_loop_timer_cancel(s->loop, s->sleep);
	s->sleep = NULL;
	dr_http_cancel(dr_net_http(s->net), s->xfer);
	s->xfer = NULL;
	dr_net_cancel(s->net, s->op);
	s->op = NULL;
	s->waiting = -1;
}

static void finish(dr_hook_serving *s)
{
	dr_hook *h = s->h;

	cancel_inflight(s);
	dr_loop_timer_cancel(s->loop, s->deadline);
	s->deadline = NULL;
	s->done(h, dr_hook_outcome_get(h), s->ud);
	free(s);
}

/* Hand a result (a new reference, or NULL) to the hook and go on. */
static void resume(dr_hook_serving *s, json_t *result)
{
	int rc;

	s->waiting = -1;
	rc = dr_hook_complete(s->h, result);
	json_decref(result);
	step(s, rc);
}

static json_t *error_result(const char *msg)
{
	return json_pack("{s:s}", "error", msg);
}

/* ---- completions ---- */

static void on_sleep(dr_loop *loop, void *ud)
{
	dr_hook_serving *s = ud;

	s->sleep = NULL;
	resume(s, NULL);
}

static void on_slice(dr_loop *loop, void *ud)
{
	dr_hook_serving *s = ud;

	s->defer = NULL;
	resume(s, NULL);
}

static void on_http(dr_http_xfer *x, const dr_http_resp *r, void *ud)
{
	dr_hook_serving *s = ud;
	json_t *res, *hdrs;
	size_t i;

	s->xfer = NULL;
	if (r->rc) {
		resume(s, error_result(r->error));
		return;
	}
	hdrs = json_object();
	for (i = 0; i < r->nheaders; i++) {
		const char *name = r->headers[i].name, *v = r->headers[i].value;
		json_t *old = json_object_get(hdrs, name);

		if (old) {
			char *joined = dr_xmalloc(json_string_length(old) + strlen(v) + 3);

			sprintf(joined, "%s, %s", json_string_value(old), v);
			json_object_set_new_nocheck(hdrs, name, json_string_nocheck(joined));
			free(joined);
		} else {
			json_object_set_new_nocheck(hdrs, name, json_string_nocheck(v));
		}
	}
	/* Bodies may be binary: Lua strings take any bytes. */
	res = json_pack("{s:I,s:o,s:o}", "status", (json_int_t)r->status, "headers", hdrs,
			"body", json_stringn_nocheck(r->body, r->body_len));
	resume(s, res);
}

static void on_tcp(int rc, uint64_t ms, const char *error, void *ud)
{
	dr_hook_serving *s = ud;

	s->op = NULL;
	if (rc)
		resume(s, error_result(error));
	else
		resume(s, json_pack("{s:b,s:I}", "ok", 1, "ms", (json_int_t)ms));
}

static void on_dns(int rc, const char *const *addrs, size_t n, const char *error,
		   void *ud)
{
	dr_hook_serving *s = ud;
	json_t *a;
	size_t i;

	s->op = NULL;
	if (rc) {
		resume(s, error_result(error));
		return;
	}
	a = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(addrs[i]));
	resume(s, a);
}

/* ---- dispatch ---- */

static uint64_t param_u64(const json_t *p, const char *key, uint64_t dflt)
{
	json_t *v = json_object_get(p, key);

	if (json_is_integer(v) && json_integer_value(v) >= 0)
		return (uint64_t)json_integer_value(v);
	if (json_is_real(v) && json_real_value(v) >= 0)
		return (uint64_t)json_real_value(v);
	return dflt;
}

static const char *param_str(const json_t *p, const char *key)
{
	return json_string_value(json_object_get(p, key));
}

/* Start serving req; NULL when it is in flight, else an immediate result. */
static json_t *dispatch(dr_hook_serving *s, const dr_hook_request *req)
{
	const json_t *p = req->params;
	uint64_t timeout = param_u64(p, "timeout_ms", 30000);
	char msg[512];
	int rc;

	s->waiting = (int)req->kind;
	switch (req->kind) {
	case DR_HOOK_REQ_SLEEP:
		s->sleep = dr_loop_timer(s->loop, param_u64(p, "ms", 0), on_sleep, s);
		return NULL;
	case DR_HOOK_REQ_SLICE:
		s->defer = dr_loop_defer(s->loop, on_slice, s);
		return NULL;
	case DR_HOOK_REQ_HTTP: {
		json_t *hj = json_object_get(p, "headers"), *v;
		json_t *body = json_object_get(p, "body");
		dr_http_header *hs = NULL;
		dr_http_req hr = { 0 };
		const char *k;
		size_t n = 0;

		hs = dr_xcalloc(json_object_size(hj) + 1, sizeof(*hs));
		json_object_foreach(hj, k, v) {
			hs[n].name = k;
			hs[n].value = json_string_value(v) ? json_string_value(v) : "";
			n++;
		}
		hr.method = param_str(p, "method");
		hr.url = param_str(p, "url");
		hr.headers = hs;
		hr.nheaders = n;
		if (json_is_string(body)) {
			hr.body = json_string_value(body);
			hr.body_len = json_string_length(body);
		}
		hr.timeout_ms = timeout;
		hr.max_response = DR_HOOK_HTTP_MAX_RESPONSE;
		rc = dr_http_start(dr_net_http(s->net), &hr, on_http, s, &s->xfer);
		free(hs);
		if (rc)
			return error_result(dr_error_msg());
		return NULL;
	}
	case DR_HOOK_REQ_TCP: {
		const char *host = param_str(p, "host");

		rc = dr_net_tcp_check(s->net, host ? host : "", (int)param_u64(p, "port", 0),
				      param_u64(p, "timeout_ms", 5000), on_tcp, s, &s->op);
		if (rc)
			return error_result(dr_error_msg());
		return NULL;
	}
	case DR_HOOK_REQ_DNS: {
		const char *name = param_str(p, "name"), *type = param_str(p, "type");
		int fam = type && !strcmp(type, "AAAA") ? DR_NET_IPV6 : DR_NET_IPV4;

		rc = dr_net_dns_resolve(s->net, name ? name : "", fam,
					param_u64(p, "timeout_ms", 5000), on_dns, s, &s->op);
		if (rc)
			return error_result(dr_error_msg());
		return NULL;
	}
	default:
		break;
	}
	snprintf(msg, sizeof(msg), "%s requests are not served here",
		 dr_hook_req_name(req->kind));
	return error_result(msg);
}

/* Serve requests until one is in flight or the hook is done. */
static void step(dr_hook_serving *s, int rc)
{
	while (rc == DR_HOOK_YIELDED) {
		const dr_hook_request *req = dr_hook_pending(s->h);
		json_t *now;

		if (!req) { /* cannot happen: a yielded hook has a request */
			dr_hook_abort(s->h, DR_HOOK_CANCELLED);
			break;
		}
		if (!(now = dispatch(s, req)))
			return;
		s->waiting = -1;
		rc = dr_hook_complete(s->h, now);
		json_decref(now);
	}
	finish(s);
}

static void on_deadline(dr_loop *loop, void *ud)
{
	dr_hook_serving *s = ud;

	s->deadline = NULL;
	/* The request in flight must go first: abort ends the hook. */
	cancel_inflight(s);
	dr_hook_abort(s->h, DR_HOOK_TIMEOUT);
	finish(s);
}

static void on_start(dr_loop *loop, void *ud)
{
	dr_hook_serving *s = ud;
	uint64_t now, dl;
	int rc;

	s->defer = NULL;
	rc = dr_hook_start(s->h);
	if (rc < 0) {
		dr_hook_abort(s->h, DR_HOOK_CANCELLED);
		finish(s);
		return;
	}
	if (rc == DR_HOOK_YIELDED) {
		now = dr_hook_now(s->h);
		dl = dr_hook_deadline(s->h);
		s->deadline = dr_loop_timer(loop, dl > now ? dl - now : 0, on_deadline, s);
	}
	step(s, rc);
}

int dr_hook_serve(dr_loop *loop, dr_net *net, dr_hook *h, dr_hook_done_fn done,
		  void *ud, dr_hook_serving **out)
{
	dr_hook_serving *s;

	if (out)
		*out = NULL;
	if (h->state != DR_HOOK_ST_LOADED)
		return dr_error_set(DR_EINVAL, "hook %s",
				    h->state == DR_HOOK_ST_NEW ? "not loaded" : "already started");
	s = dr_xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->net = net;
	s->h = h;
	s->done = done;
	s->ud = ud;
	s->waiting = -1;
	s->defer = dr_loop_defer(loop, on_start, s);
	if (out)
		*out = s;
	return 0;
}

void dr_hook_serve_cancel(dr_hook_serving *s)
{
	cancel_inflight(s);
	if (s->h->state != DR_HOOK_ST_DONE)
		dr_hook_abort(s->h, DR_HOOK_CANCELLED);
	finish(s);
}

int dr_hook_serving_waiting(const dr_hook_serving *s)
{
	return s->waiting;
}
