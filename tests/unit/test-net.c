#define _GNU_SOURCE /* accept4, strcasestr in httpd.h */
#include "core/error.h"
#include "exec/http.h"
#include "exec/loop.h"
#include "exec/net.h"
#include "hooks/sandbox.h"
#include "hooks/serve.h"
#include "httpd.h"
#include "test.h"

#include <stdbool.h>
#include <stdlib.h>

static dr_loop *loop;
static dr_net *net;
static httpd srv;
static char base[64]; /* http://127.0.0.1:PORT */

/* ---- driving the loop ---- */

/* Callbacks set a flag and stop the loop, so that run_until() looks at the
 * flag at once instead of blocking in poll(2) for the next event. */
static void set_flag(bool *flag)
{
	*flag = true;
	dr_loop_stop(loop);
}

static void on_guard(dr_loop *l, void *ud)
{
	(void)l;
	set_flag(ud);
}

/* Run the loop until *flag is set, at most max_ms. Returns *flag. */
static bool run_until(bool *flag, uint64_t max_ms)
{
	bool expired = false;
	dr_timer *t = dr_loop_timer(loop, max_ms, on_guard, &expired);

	while (!*flag && !expired) {
		int rc = dr_loop_run_once(loop, true);

		if (rc < 0 && rc != DR_ECANCELLED)
			break;
	}
	if (!expired)
		dr_loop_timer_cancel(loop, t);
	return *flag;
}

/* A port nothing listens on: bind one, note it, close it. */
static int closed_port(void)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &al);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* ---- http ---- */

typedef struct got {
	bool done;
	int rc;
	long status;
	char error[600];
	char body[256];
	size_t body_len;
	char xtest[32], xdup[32];
	int calls;
} got;

static void on_resp(dr_http_xfer *x, const dr_http_resp *r, void *ud)
{
	got *g = ud;
	const char *v;

	(void)x;
	set_flag(&g->done);
	g->calls++;
	g->rc = r->rc;
	g->status = r->status;
	snprintf(g->error, sizeof(g->error), "%s", r->error);
	snprintf(g->body, sizeof(g->body), "%s", r->body);
	g->body_len = r->body_len;
	v = dr_http_resp_header(r, "X-Test");
	snprintf(g->xtest, sizeof(g->xtest), "%s", v ? v : "(none)");
	v = dr_http_resp_header(r, "x-dup");
	snprintf(g->xdup, sizeof(g->xdup), "%s", v ? v : "(none)");
}

static void fetch(got *g, const char *method, const char *path, const char *body,
		  uint64_t timeout_ms, size_t cap)
{
	char url[256];
	dr_http_header hs[] = { { "X-Token", "s3cret" }, { "Content-Type", "text/plain" } };
	dr_http_req r = { 0 };

	memset(g, 0, sizeof(*g));
	snprintf(url, sizeof(url), "%s%s", base, path);
	r.method = method;
	r.url = url;
	r.headers = hs;
	r.nheaders = 2;
	r.body = body;
	r.body_len = body ? strlen(body) : 0;
	r.timeout_ms = timeout_ms;
	r.max_response = cap;
	CHECK_INT(dr_http_start(dr_net_http(net), &r, on_resp, g, NULL), 0);
	CHECK(!g->done); /* never from inside start */
	CHECK(run_until(&g->done, 5000));
}

TEST(http_get)
{
	got g;

	fetch(&g, NULL, "/ok", NULL, 2000, 0);
	CHECK_INT(g.rc, 0);
	CHECK_INT(g.status, 200);
	CHECK_STR(g.body, "hello");
	CHECK_STR(g.xtest, "a");
	CHECK_STR(g.xdup, "1");
	CHECK_STR(g.error, "");
	CHECK_STR(srv.last_method, "GET");
	CHECK_STR(srv.last_path, "/ok");
	CHECK(strstr(srv.last_headers.buf, "\r\nX-Token: s3cret\r\n") != NULL);
	CHECK(strstr(srv.last_headers.buf, "User-Agent: drplan/") != NULL);
	CHECK_INT(dr_http_active(dr_net_http(net)), 0);
}

TEST(http_post_put)
{
	got g;

	fetch(&g, "POST", "/echo", "a=1&b=2", 2000, 0);
	CHECK_INT(g.rc, 0);
	CHECK_INT(g.status, 200);
	CHECK_STR(g.body, "{}");
	CHECK_STR(srv.last_method, "POST");
	CHECK_STR(srv.last_body.buf, "a=1&b=2");
	CHECK(strstr(srv.last_headers.buf, "Content-Type: text/plain\r\n") != NULL);
	CHECK(strstr(srv.last_headers.buf, "Expect:") == NULL);

	/* A big body goes without an Expect: 100-continue round trip. */
	{
		char *big = malloc(5001);

		memset(big, 'b', 5000);
		big[5000] = 0;
		fetch(&g, "PUT", "/put", big, 2000, 0);
		CHECK_INT(g.rc, 0);
		CHECK_STR(srv.last_method, "PUT");
		CHECK_INT(srv.last_body.len, 5000);
		free(big);
	}
	fetch(&g, "DELETE", "/x", NULL, 2000, 0);
	CHECK_STR(srv.last_method, "DELETE");
	fetch(&g, "HEAD", "/ok", NULL, 2000, 0);
	CHECK_INT(g.status, 200);
	CHECK_INT(g.body_len, 0);
	CHECK_STR(srv.last_method, "HEAD");
}

TEST(http_status_codes)
{
	got g;

	fetch(&g, NULL, "/status/503", NULL, 2000, 0);
	CHECK_INT(g.rc, 0);
	CHECK_INT(g.status, 503);
	CHECK_STR(g.body, "status 503");
	fetch(&g, NULL, "/status/404", NULL, 2000, 0);
	CHECK_INT(g.status, 404);
	fetch(&g, NULL, "/status/302", NULL, 2000, 0); /* not followed */
	CHECK_INT(g.status, 302);
}

TEST(http_timeout_redacts_query)
{
	char want[160];
	got g;

	fetch(&g, NULL, "/hang?sig=SECRET#frag", NULL, 200, 0);
	CHECK_INT(g.rc, DR_ETIMEOUT);
	snprintf(want, sizeof(want), "GET %s/hang: timed out after 200 ms", base);
	CHECK_STR(g.error, want);
	CHECK(strstr(g.error, "SECRET") == NULL);
	CHECK_INT(g.status, 0);
}

TEST(http_size_cap)
{
	char want[160];
	got g;

	fetch(&g, NULL, "/big/1000", NULL, 2000, 1000);
	CHECK_INT(g.rc, 0);
	CHECK_INT(g.body_len, 1000);
	/* Content-Length over the cap: refused before the body. */
	fetch(&g, NULL, "/big/1001", NULL, 2000, 1000);
	CHECK_INT(g.rc, DR_ELIMIT);
	snprintf(want, sizeof(want), "GET %s/big/1001: response larger than 1000 bytes", base);
	CHECK_STR(g.error, want);
	fetch(&g, NULL, "/big/3000000", NULL, 5000, 100000);
	CHECK_INT(g.rc, DR_ELIMIT);
}

TEST(http_refused)
{
	char url[128], want[160];
	dr_http_req r = { 0 };
	int port = closed_port();
	got g;

	memset(&g, 0, sizeof(g));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x?token=abc", port);
	r.url = url;
	CHECK_INT(dr_http_start(dr_net_http(net), &r, on_resp, &g, NULL), 0);
	CHECK(run_until(&g.done, 5000));
	CHECK_INT(g.rc, DR_EIO);
	snprintf(want, sizeof(want), "GET http://127.0.0.1:%d/x: Failed to connect to 127.0.0.1 port %d", port, port);
	CHECK(!strncmp(g.error, want, strlen(want)));
	CHECK(strstr(g.error, "token") == NULL);
}

TEST(http_bad_requests)
{
	dr_http_header bad = { "X-A", "1\r\nX-Injected: 2" };
	dr_http_header badname = { "X A", "1" };
	dr_http_req r = { 0 };
	dr_http_xfer *x = (dr_http_xfer *)&r;

	r.url = "ftp://127.0.0.1/x";
	CHECK_INT(dr_http_start(dr_net_http(net), &r, on_resp, NULL, &x), DR_EINVAL);
	CHECK(x == NULL);
	CHECK_STR(dr_error_msg(), "http: URL scheme must be http or https");
	r.url = "http://127.0.0.1/x";
	r.headers = &bad;
	r.nheaders = 1;
	CHECK_INT(dr_http_start(dr_net_http(net), &r, on_resp, NULL, NULL), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "http: header value has a line break: X-A");
	r.headers = &badname;
	CHECK_INT(dr_http_start(dr_net_http(net), &r, on_resp, NULL, NULL), DR_EINVAL);
	r.headers = NULL;
	r.nheaders = 0;
	r.method = "GE T";
	CHECK_INT(dr_http_start(dr_net_http(net), &r, on_resp, NULL, NULL), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "http: method is not valid");
}

TEST(http_cancel)
{
	char url[128];
	dr_http_req r = { 0 };
	dr_http_xfer *x;
	bool later = false;
	got g;

	memset(&g, 0, sizeof(g));
	snprintf(url, sizeof(url), "%s/hang", base);
	r.url = url;
	CHECK_INT(dr_http_start(dr_net_http(net), &r, on_resp, &g, &x), 0);
	CHECK_INT(dr_http_xfer_state(x), DR_HTTP_ST_RUNNING);
	CHECK_STR(dr_http_state_name(dr_http_xfer_state(x)), "running");
	dr_loop_timer(loop, 100, on_guard, &later);
	run_until(&later, 2000);
	CHECK_INT(srv.open_conns, 1);
	dr_http_cancel(dr_net_http(net), x);
	CHECK_INT(dr_http_active(dr_net_http(net)), 0);
	later = false;
	dr_loop_timer(loop, 100, on_guard, &later);
	run_until(&later, 2000);
	CHECK_INT(g.calls, 0);
	CHECK_INT(srv.open_conns, 0); /* the server saw the close */
}

TEST(redact_url)
{
	char b[64];

	dr_http_redact_url("https://u:p@h:8/a/b?sig=x#f", b, sizeof(b));
	CHECK_STR(b, "https://h:8/a/b");
	dr_http_redact_url("http://h", b, sizeof(b));
	CHECK_STR(b, "http://h");
	dr_http_redact_url("http://h/x#y?z", b, sizeof(b));
	CHECK_STR(b, "http://h/x");
}

/* ---- tcp and dns ---- */

typedef struct tgot {
	bool done;
	int rc;
	uint64_t ms;
	char error[256];
	char addrs[256];
	size_t n;
} tgot;

static void on_tcp(int rc, uint64_t ms, const char *error, void *ud)
{
	tgot *g = ud;

	set_flag(&g->done);
	g->rc = rc;
	g->ms = ms;
	snprintf(g->error, sizeof(g->error), "%s", error);
}

static void on_dns(int rc, const char *const *addrs, size_t n, const char *error, void *ud)
{
	tgot *g = ud;
	size_t i;

	set_flag(&g->done);
	g->rc = rc;
	g->n = n;
	snprintf(g->error, sizeof(g->error), "%s", error);
	g->addrs[0] = 0;
	for (i = 0; i < n; i++) {
		strncat(g->addrs, addrs[i], sizeof(g->addrs) - strlen(g->addrs) - 2);
		strcat(g->addrs, " ");
	}
}

TEST(tcp_check)
{
	char want[128];
	tgot g;
	int port = closed_port();

	memset(&g, 0, sizeof(g));
	CHECK_INT(dr_net_tcp_check(net, "127.0.0.1", srv.port, 2000, on_tcp, &g, NULL), 0);
	CHECK(!g.done);
	CHECK(run_until(&g.done, 3000));
	CHECK_INT(g.rc, 0);
	CHECK_STR(g.error, "");
	CHECK(g.ms < 1000);

	memset(&g, 0, sizeof(g));
	CHECK_INT(dr_net_tcp_check(net, "127.0.0.1", port, 2000, on_tcp, &g, NULL), 0);
	CHECK(run_until(&g.done, 3000));
	CHECK_INT(g.rc, DR_EIO);
	snprintf(want, sizeof(want), "tcp 127.0.0.1:%d: connection refused", port);
	CHECK_STR(g.error, want);

	/* A host name goes through the resolver first. */
	memset(&g, 0, sizeof(g));
	CHECK_INT(dr_net_tcp_check(net, "localhost", srv.port, 2000, on_tcp, &g, NULL), 0);
	CHECK(run_until(&g.done, 3000));
	CHECK_INT(g.rc, 0);

	CHECK_INT(dr_net_tcp_check(net, "127.0.0.1", 0, 2000, on_tcp, &g, NULL), DR_EINVAL);
	CHECK_INT(dr_net_active(net), 0);
}

/* A listener whose accept queue is full drops further SYNs: connect hangs. */
TEST(tcp_timeout)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fill[4], i, nfill = 0;
	char want[128];
	tgot g;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(lfd, (struct sockaddr *)&a, sizeof(a));
	listen(lfd, 0);
	getsockname(lfd, (struct sockaddr *)&a, &al);
	for (i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fill[i], (struct sockaddr *)&a, sizeof(a));
		nfill++;
	}
	memset(&g, 0, sizeof(g));
	CHECK_INT(dr_net_tcp_check(net, "127.0.0.1", ntohs(a.sin_port), 300, on_tcp, &g, NULL), 0);
	CHECK(run_until(&g.done, 3000));
	CHECK_INT(g.rc, DR_ETIMEOUT);
	snprintf(want, sizeof(want), "tcp 127.0.0.1:%d: timed out after 300 ms", ntohs(a.sin_port));
	CHECK_STR(g.error, want);
	CHECK(g.ms >= 300 && g.ms < 1500);
	for (i = 0; i < nfill; i++)
		close(fill[i]);
	close(lfd);
	CHECK_INT(dr_net_active(net), 0);
}

TEST(dns_resolve)
{
	tgot g;
	dr_net_op *op;

	memset(&g, 0, sizeof(g));
	CHECK_INT(dr_net_dns_resolve(net, "localhost", DR_NET_IPV4, 3000, on_dns, &g, NULL), 0);
	CHECK(!g.done);
	CHECK(run_until(&g.done, 4000));
	CHECK_INT(g.rc, 0);
	CHECK_STR(g.addrs, "127.0.0.1 ");
	CHECK_INT(g.n, 1);

	/* .invalid never resolves (RFC 6761); without a DNS server the
	 * resolver may fail differently, but it must fail. */
	memset(&g, 0, sizeof(g));
	CHECK_INT(dr_net_dns_resolve(net, "nonexistent.invalid", DR_NET_ANY, 3000, on_dns, &g, NULL), 0);
	CHECK(run_until(&g.done, 4000));
	CHECK(g.rc == DR_ENOTFOUND || g.rc == DR_EIO || g.rc == DR_ETIMEOUT);
	CHECK(!strncmp(g.error, "dns nonexistent.invalid: ", 25));

	/* Cancelled at once: no callback, nothing leaks (ASan checks). */
	memset(&g, 0, sizeof(g));
	CHECK_INT(dr_net_dns_resolve(net, "localhost", DR_NET_ANY, 3000, on_dns, &g, &op), 0);
	dr_net_cancel(net, op);
	CHECK_INT(dr_net_active(net), 0);

	CHECK_INT(dr_net_dns_resolve(net, "", DR_NET_ANY, 3000, on_dns, &g, NULL), DR_EINVAL);
	CHECK_INT(dr_net_dns_resolve(net, "x", 5, 3000, on_dns, &g, NULL), DR_EINVAL);
}

/* ---- hooks on the loop ---- */

typedef struct hrun {
	bool done;
	dr_hook_status st;
	char msg[512];
} hrun;

static void on_hook_done(dr_hook *h, const dr_hook_outcome *o, void *ud)
{
	hrun *r = ud;

	(void)h;
	set_flag(&r->done);
	r->st = o->status;
	snprintf(r->msg, sizeof(r->msg), "%s", o->message);
}

static const char *test_getenv(void *ud, const char *name)
{
	(void)ud;
	if (!strcmp(name, "AZURE_ACCESS_TOKEN"))
		return "tok123secret";
	if (!strcmp(name, "HOOK_BASE"))
		return base;
	if (!strcmp(name, "WEBHOOK"))
		return getenv("DR_TEST_WEBHOOK");
	return NULL;
}

static const char *const test_env[] = { "AZURE_ACCESS_TOKEN", "HOOK_BASE", "WEBHOOK", NULL };

static dr_hook *make_hook(const char *src, uint64_t timeout_ms)
{
	dr_hook_opts o = { 0 };
	dr_hook *h;

	o.timeout_ms = timeout_ms;
	o.lua_dir = "lua";
	o.env = test_env;
	o.getenv_fn = test_getenv;
	if (dr_hook_new(&o, &h))
		return NULL;
	if (dr_hook_load_string(h, "t.lua", src, strlen(src))) {
		fprintf(stderr, "load: %s\n", dr_error_msg());
		dr_hook_free(h);
		return NULL;
	}
	return h;
}

/* Run src on the loop; returns the hook (caller frees) and fills *r. */
static dr_hook *serve(const char *src, uint64_t timeout_ms, hrun *r)
{
	dr_hook *h = make_hook(src, timeout_ms);

	memset(r, 0, sizeof(*r));
	if (!h)
		return NULL;
	CHECK_INT(dr_hook_serve(loop, net, h, on_hook_done, r, NULL), 0);
	CHECK(!r->done);
	CHECK(run_until(&r->done, 20000));
	if (r->st != DR_HOOK_OK)
		fprintf(stderr, "hook: %s: %s\n", dr_hook_status_name(r->st), r->msg);
	return h;
}

static const char *output_str(dr_hook *h, const char *key)
{
	const char *s = json_string_value(json_object_get(dr_hook_outputs(h), key));

	return s ? s : "(none)";
}

TEST(hook_requests)
{
	hrun r;
	dr_hook *h = serve(
		"local base = drplan.env('HOOK_BASE')\n"
		"local r = assert(drplan.http.request(base .. '/ok'))\n"
		"drplan.output('status', r.status)\n"
		"drplan.output('body', r.body)\n"
		"drplan.output('dup', r.headers['x-dup'])\n"
		"local _, e = drplan.http.request{url = base .. '/hang?k=SECRET', timeout = 0.2}\n"
		"drplan.output('err', e)\n"
		"local p = assert(drplan.http.request{url = base .. '/p', method = 'POST',\n"
		"  body = 'hi', headers = {['Content-Type'] = 'text/plain'}})\n"
		"drplan.output('pstatus', p.status)\n"
		"local t = assert(drplan.tcp.check('127.0.0.1', tonumber(base:match(':(%d+)$'))))\n"
		"drplan.output('tcp', t.ok)\n"
		"local d = assert(drplan.dns.resolve('localhost'))\n"
		"drplan.output('dns', d[1])\n"
		"drplan.sleep(0.05)\n"
		"local n = 0 for i = 1, 3000000 do n = n + i end\n"
		"drplan.output('n', n)\n",
		10000, &r);
	
	CHECK_INT(r.st, DR_HOOK_OK);
	CHECK_INT(json_integer_value(json_object_get(dr_hook_outputs(h), "status")), 200);
	CHECK_STR(output_str(h, "body"), "hello");
	CHECK_STR(output_str(h, "dup"), "1, 2");
	CHECK_INT(json_integer_value(json_object_get(dr_hook_outputs(h), "pstatus")), 200);
	CHECK_STR(srv.last_body.buf, "hi");
	/* The base URL came from drplan.env: a secret, masked in outputs. */
	CHECK_STR(output_str(h, "err"), "GET ***/hang: timed out after 200 ms");
	CHECK(json_is_true(json_object_get(dr_hook_outputs(h), "tcp")));
	CHECK_STR(output_str(h, "dns"), "127.0.0.1");
	CHECK_INT(json_integer_value(json_object_get(dr_hook_outputs(h), "n")), 4500001500000LL);
	dr_hook_free(h);
}

TEST(hook_deadline_cancels_http)
{
	hrun r;
	dr_hook *h = serve("local base = drplan.env('HOOK_BASE')\n"
			   "drplan.http.request{url = base .. '/hang', timeout = 60}\n"
			   "drplan.output('after', true)\n",
			   300, &r);

	CHECK_INT(r.st, DR_HOOK_TIMEOUT);
	CHECK_STR(r.msg, "timeout (300ms) exceeded while waiting for http");
	CHECK(json_object_get(dr_hook_outputs(h), "after") == NULL);
	CHECK_INT(dr_http_active(dr_net_http(net)), 0);
	dr_hook_free(h);
	{
		bool later = false;

		/* The transfer's socket was closed: the server sees the end. */
		dr_loop_timer(loop, 100, on_guard, &later);
		run_until(&later, 2000);
		CHECK_INT(srv.open_conns, 0);
	}

	/* The same for a sleep. */
	h = serve("drplan.sleep(10)", 200, &r);
	CHECK_INT(r.st, DR_HOOK_TIMEOUT);
	CHECK_STR(r.msg, "timeout (200ms) exceeded while waiting for sleep");
	dr_hook_free(h);
}

TEST(hook_serve_cancel)
{
	hrun r;
	dr_hook_serving *s;
	dr_hook *h = make_hook("drplan.http.request(drplan.env('HOOK_BASE') .. '/hang')", 10000);
	bool later = false;

	memset(&r, 0, sizeof(r));
	CHECK_INT(dr_hook_serve(loop, net, h, on_hook_done, &r, &s), 0);
	dr_loop_timer(loop, 100, on_guard, &later);
	run_until(&later, 2000);
	CHECK_INT(dr_hook_serving_waiting(s), DR_HOOK_REQ_HTTP);
	CHECK_INT(dr_http_active(dr_net_http(net)), 1);
	dr_hook_serve_cancel(s);
	CHECK(r.done);
	CHECK_INT(r.st, DR_HOOK_CANCELLED);
	CHECK_INT(dr_http_active(dr_net_http(net)), 0);
	dr_hook_free(h);
}

#define NHOOKS 100

TEST(hundred_hooks)
{
	static hrun rs[NHOOKS];
	dr_hook *hs[NHOOKS];
	uint64_t t0 = dr_loop_now(loop);
	int i, done, ok = 0, before = srv.requests;
	bool all = false;

	for (i = 0; i < NHOOKS; i++) {
		hs[i] = make_hook("local r = assert(drplan.http.request(drplan.env('HOOK_BASE') .. '/slow/200'))\n"
				  "if r.status ~= 200 then drplan.fail('status') end\n", 10000);
		memset(&rs[i], 0, sizeof(rs[i]));
		CHECK_INT(dr_hook_serve(loop, net, hs[i], on_hook_done, &rs[i], NULL), 0);
	}
	while (!all && dr_loop_now(loop) - t0 < 20000) {
		dr_loop_run_once(loop, true);
		for (i = 0, done = 0; i < NHOOKS; i++)
			done += rs[i].done;
		all = done == NHOOKS;
	}
	CHECK(all);
	for (i = 0; i < NHOOKS; i++) {
		ok += rs[i].st == DR_HOOK_OK;
		dr_hook_free(hs[i]);
	}
	CHECK_INT(ok, NHOOKS);
	CHECK_INT(srv.requests - before, NHOOKS);
	/* Concurrent, not one after the other (100 x 200 ms = 20 s). */
	CHECK(dr_loop_now(loop) - t0 < 3000);
}

/* ---- the Lua library against the local server ---- */

TEST(lua_wait)
{
	char src[512], want[200];
	int port = closed_port();
	hrun r;
	dr_hook *h;

	snprintf(src, sizeof(src),
		 "local wait = require('drplan.wait')\n"
		 "local r = assert(wait.tcp('127.0.0.1', %d, {timeout = 5}))\n"
		 "drplan.output('attempts', r.attempts)\n"
		 "local ok, e = wait.tcp('127.0.0.1', %d, {attempts = 3, interval = 0.01})\n"
		 "drplan.output('err', e)\n",
		 srv.port, port);
	h = serve(src, 10000, &r);
	CHECK_INT(r.st, DR_HOOK_OK);
	CHECK_INT(json_integer_value(json_object_get(dr_hook_outputs(h), "attempts")), 1);
	snprintf(want, sizeof(want),
		 "127.0.0.1:%d not reachable after 3 attempts: tcp 127.0.0.1:%d: connection refused",
		 port, port);
	CHECK_STR(output_str(h, "err"), want);
	dr_hook_free(h);
}

TEST(lua_health)
{
	char want[200];
	hrun r;
	dr_hook *h;

	char src[1024];

	srv.flaky_seen = 0;
	snprintf(src, sizeof(src), "local health = require('drplan.health')\n"
		  "local base = '%s'\n"
		  "local r = assert(health.check(base .. '/flaky/2', {interval = 0.01, status = 200,\n"
		  "  body = 'heal', plain = true}))\n"
		  "drplan.output('attempts', r.attempts)\n"
		  "drplan.output('body', r.body)\n"
		  "local _, e = health.check(base .. '/status/500?key=SECRET', {attempts = 2, interval = 0.01})\n"
		  "drplan.output('err', e)\n"
		  "local _, e2 = health.check(base .. '/ok', {attempts = 1, body = '^bye'})\n"
		  "drplan.output('err2', e2)\n"
		  "local _, e3 = health.check(base .. '/ok', {attempts = 1, status = {201, 204}})\n"
		  "drplan.output('err3', e3)\n", base);
	h = serve(src, 10000, &r);
	CHECK_INT(r.st, DR_HOOK_OK);
	CHECK_INT(json_integer_value(json_object_get(dr_hook_outputs(h), "attempts")), 3);
	CHECK_STR(output_str(h, "body"), "healthy");
	snprintf(want, sizeof(want), "health %s/status/500: status 500 (expected 2xx) after 2 attempts", base);
	CHECK_STR(output_str(h, "err"), want);
	snprintf(want, sizeof(want),
		 "health %s/ok: status 200 but the body does not match '^bye' after 1 attempt", base);
	CHECK_STR(output_str(h, "err2"), want);
	snprintf(want, sizeof(want), "health %s/ok: status 200 (expected 201 or 204) after 1 attempt", base);
	CHECK_STR(output_str(h, "err3"), want);
	dr_hook_free(h);
}

TEST(lua_notify)
{
	char url[128];
	hrun r;
	dr_hook *h;

	snprintf(url, sizeof(url), "%s/hooks/T0/B1/XYZ", base);
	setenv("DR_TEST_WEBHOOK", url, 1);
	h = serve("local notify = require('drplan.notify')\n"
		  "drplan.output('body', notify.body('a \"b\"\\nc', 'DR'))\n"
		  "assert(notify.send('failover done', {url_env = 'WEBHOOK'}))\n",
		  10000, &r);
	CHECK_INT(r.st, DR_HOOK_OK);
	CHECK_STR(output_str(h, "body"), "{\"text\":\"**DR**\\na \\\"b\\\"\\nc\"}");
	CHECK_STR(srv.last_method, "POST");
	CHECK_STR(srv.last_path, "/hooks/T0/B1/XYZ");
	CHECK_STR(srv.last_body.buf, "{\"text\":\"failover done\"}");
	CHECK(strstr(srv.last_headers.buf, "Content-Type: application/json\r\n") != NULL);
	dr_hook_free(h);

	/* A failing webhook never shows its URL (the path is the secret). */
	snprintf(url, sizeof(url), "%s/status/404", base);
	setenv("DR_TEST_WEBHOOK", url, 1);
	h = serve("local notify = require('drplan.notify')\n"
		  "local ok, e = notify.send('x', {url_env = 'WEBHOOK'})\n"
		  "drplan.output('err', e)\n"
		  "local ok2, e2 = notify.send('x', {url_env = 'NOPE'})\n",
		  10000, &r);
	CHECK_INT(r.st, DR_HOOK_FAILED);
	CHECK(strstr(r.msg, "drplan.env: 'NOPE' is not listed") != NULL);
	CHECK_STR(output_str(h, "err"), "notify: webhook failed: status 404");
	dr_hook_free(h);
	unsetenv("DR_TEST_WEBHOOK");
}

TEST(lua_azure_dns)
{
	char src[1024];
	hrun r;
	dr_hook *h;

	srv.reply = "{\"id\":\"x\",\"properties\":{\"TTL\":60}}";
	snprintf(src, sizeof(src),
		 "local azure = require('drplan.azure')\n"
		 "local arm = azure.client{subscription = 'sub-1', endpoint = '%s/'}\n"
		 "local res = assert(arm:dns_set_a{resource_group = 'rg-dns', zone = 'contoso.com',\n"
		 "  name = 'erp', ips = {'10.1.0.5', '10.1.0.6'}, ttl = 60})\n"
		 "drplan.output('ttl', res.properties.TTL)\n"
		 "drplan.output('bad', select(2, pcall(arm.dns_set_a, arm, {resource_group = 'r/../x',\n"
		 "  zone = 'z', name = 'n', ips = {'1.2.3.4'}})))\n",
		 base);
	h = serve(src, 10000, &r);
	CHECK_INT(r.st, DR_HOOK_OK);
	CHECK_STR(srv.last_method, "PUT");
	CHECK_STR(srv.last_path, "/subscriptions/sub-1/resourceGroups/rg-dns/providers/"
				 "Microsoft.Network/dnsZones/contoso.com/A/erp?api-version=2018-05-01");
	CHECK_STR(srv.last_body.buf, "{\"properties\":{\"ARecords\":[{\"ipv4Address\":\"10.1.0.5\"},"
				     "{\"ipv4Address\":\"10.1.0.6\"}],\"TTL\":60}}");
	CHECK(strstr(srv.last_headers.buf, "\r\nAuthorization: Bearer tok123secret\r\n") != NULL);
	CHECK(strstr(srv.last_headers.buf, "\r\nContent-Type: application/json\r\n") != NULL);
	CHECK_INT(json_integer_value(json_object_get(dr_hook_outputs(h), "ttl")), 60);
	CHECK_STR(output_str(h, "bad"),
		  "dns_set_a: resource_group 'r/../x' must not contain / ? # % or spaces");
	dr_hook_free(h);

	/* An ARM error names the code and message; the token never shows. */
	snprintf(src, sizeof(src),
		 "local azure = require('drplan.azure')\n"
		 "local arm = azure.client{subscription = 's', endpoint = '%s'}\n"
		 "local r, e = arm:request('GET', '/status/403', '2018-05-01')\n"
		 "drplan.output('err', e)\n",
		 base);
	h = serve(src, 10000, &r);
	CHECK_STR(output_str(h, "err"), "azure GET /status/403: status 403");
	dr_hook_free(h);
	srv.reply = NULL;
}

TEST(lua_azure_nsg)
{
	char src[1024];
	hrun r;
	dr_hook *h;

	srv.reply = "{\"id\":\"/s/vnet/subnets/app\",\"name\":\"app\",\"etag\":\"W/1\","
		    "\"properties\":{\"addressPrefix\":\"10.1.0.0/24\",\"provisioningState\":"
		    "\"Succeeded\",\"serviceEndpoints\":[],\"routeTable\":{\"id\":\"/rt\"}}}";
	snprintf(src, sizeof(src),
		 "local azure = require('drplan.azure')\n"
		 "local arm = azure.client{subscription = 'sub-1', endpoint = '%s'}\n"
		 "assert(arm:nsg_associate_subnet{resource_group = 'rg-net', vnet = 'vnet-dr',\n"
		 "  subnet = 'app', nsg_id = '/subscriptions/sub-1/nsg/app'})\n",
		 base);
	h = serve(src, 10000, &r);
	CHECK_INT(r.st, DR_HOOK_OK);
	CHECK_STR(srv.last_method, "PUT");
	CHECK_STR(srv.last_path, "/subscriptions/sub-1/resourceGroups/rg-net/providers/"
				 "Microsoft.Network/virtualNetworks/vnet-dr/subnets/app?api-version=2023-09-01");
	CHECK_STR(srv.last_body.buf,
		  "{\"etag\":\"W/1\",\"id\":\"/s/vnet/subnets/app\",\"name\":\"app\",\"properties\":"
		  "{\"addressPrefix\":\"10.1.0.0/24\",\"networkSecurityGroup\":{\"id\":"
		  "\"/subscriptions/sub-1/nsg/app\"},\"routeTable\":{\"id\":\"/rt\"}}}");
	dr_hook_free(h);
	srv.reply = NULL;
}

/* The example hooks in lua/hooks/ against the local server. */
TEST(example_hooks)
{
	char ctx[512], args[512];
	dr_hook_opts o = { 0 };
	json_t *c, *a;
	dr_hook *h;
	hrun r;

	o.timeout_ms = 10000;
	o.lua_dir = "lua";
	o.env = test_env;
	o.getenv_fn = test_getenv;

	snprintf(ctx, sizeof(ctx), "{\"plan\":\"erp\",\"operation\":\"failover\",\"group\":\"data\","
		 "\"machines\":[{\"name\":\"sql01\",\"target\":{\"ip\":\"127.0.0.1\"}}]}");
	c = json_loads(ctx, 0, NULL);

	snprintf(args, sizeof(args), "{\"port\":%d,\"wait\":5}", srv.port);
	a = json_loads(args, 0, NULL);
	CHECK_INT(dr_hook_new(&o, &h), 0);
	CHECK_INT(dr_hook_load_file(h, "lua/hooks/check-sql.lua"), 0);
	dr_hook_set_context(h, c);
	dr_hook_set_args(h, a);
	memset(&r, 0, sizeof(r));
	CHECK_INT(dr_hook_serve(loop, net, h, on_hook_done, &r, NULL), 0);
	CHECK(run_until(&r.done, 10000));
	CHECK_INT(r.st, DR_HOOK_OK);
	CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(
			  dr_hook_outputs(h), "sql"), 0), "machine")), "sql01");
	dr_hook_free(h);
	json_decref(a);

	snprintf(args, sizeof(args), "{\"url\":\"http://{ip}:%d/ok\",\"expect\":200,\"body\":\"hell\"}",
		 srv.port);
	a = json_loads(args, 0, NULL);
	CHECK_INT(dr_hook_new(&o, &h), 0);
	CHECK_INT(dr_hook_load_file(h, "lua/hooks/health-check.lua"), 0);
	dr_hook_set_context(h, c);
	dr_hook_set_args(h, a);
	memset(&r, 0, sizeof(r));
	CHECK_INT(dr_hook_serve(loop, net, h, on_hook_done, &r, NULL), 0);
	CHECK(run_until(&r.done, 10000));
	CHECK_INT(r.st, DR_HOOK_OK);
	CHECK_STR(srv.last_path, "/ok");
	dr_hook_free(h);
	json_decref(a);

	snprintf(args, sizeof(args), "{\"subscription\":\"s1\",\"resource_group\":\"rg\","
		 "\"zone\":\"contoso.com\",\"name\":\"erp\",\"endpoint\":\"%s\"}", base);
	a = json_loads(args, 0, NULL);
	CHECK_INT(dr_hook_new(&o, &h), 0);
	CHECK_INT(dr_hook_load_file(h, "lua/hooks/dns-update.lua"), 0);
	dr_hook_set_context(h, c);
	dr_hook_set_args(h, a);
	memset(&r, 0, sizeof(r));
	CHECK_INT(dr_hook_serve(loop, net, h, on_hook_done, &r, NULL), 0);
	CHECK(run_until(&r.done, 10000));
	CHECK_INT(r.st, DR_HOOK_OK);
	CHECK_STR(srv.last_body.buf, "{\"properties\":{\"ARecords\":[{\"ipv4Address\":\"127.0.0.1\"}],\"TTL\":60}}");
	dr_hook_free(h);
	json_decref(a);

	setenv("DR_TEST_WEBHOOK", base, 1);
	a = json_loads("{\"url_env\":\"WEBHOOK\",\"required\":true}", 0, NULL);
	CHECK_INT(dr_hook_new(&o, &h), 0);
	CHECK_INT(dr_hook_load_file(h, "lua/hooks/notify.lua"), 0);
	dr_hook_set_context(h, c);
	dr_hook_set_args(h, a);
	memset(&r, 0, sizeof(r));
	CHECK_INT(dr_hook_serve(loop, net, h, on_hook_done, &r, NULL), 0);
	CHECK(run_until(&r.done, 10000));
	CHECK_INT(r.st, DR_HOOK_OK);
	CHECK_STR(srv.last_body.buf, "{\"text\":\"drplan erp: failover of group data finished\"}");
	dr_hook_free(h);
	json_decref(a);
	unsetenv("DR_TEST_WEBHOOK");
	json_decref(c);
}

int main(void)
{
	/* Loopback only: no proxy from the environment. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	if (dr_loop_new(NULL, &loop) || dr_net_new(loop, &net) || httpd_start(&srv, loop)) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", srv.port);
	RUN(http_get);
	RUN(http_post_put);
	RUN(http_status_codes);
	RUN(http_timeout_redacts_query);
	RUN(http_size_cap);
	RUN(http_refused);
	RUN(http_bad_requests);
	RUN(http_cancel);
	RUN(redact_url);
	RUN(tcp_check);
	RUN(tcp_timeout);
	RUN(dns_resolve);
	RUN(hook_requests);
	RUN(hook_deadline_cancels_http);
	RUN(hook_serve_cancel);
	RUN(hundred_hooks);
	RUN(lua_wait);
	RUN(lua_health);
	RUN(lua_notify);
	RUN(lua_azure_dns);
	RUN(lua_azure_nsg);
	RUN(example_hooks);
	dr_net_free(net);
	httpd_stop(&srv);
	dr_loop_free(loop);
	return test_summary();
}
