#include "exec/http.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/strbuf.h"

#include <assert.h>
#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef DR_VERSION
#define DR_VERSION "dev"
#endif

struct dr_http_xfer {
	dr_http *c;
	dr_http_xfer *prev, *next;
	CURL *easy;
	dr_http_state st;
	struct curl_slist *hdrs;
	char *body;         /* our copy of the request body */
	char method[16];
	char where[256];    /* "GET http://host/path" for messages */
	dr_strbuf resp;     /* response body, capped */
	dr_strbuf hraw;     /* "name\0value\0" pairs of the last response */
	size_t hbytes;      /* header bytes of all responses, capped */
	size_t max_response;
	bool too_big;
	uint64_t timeout_ms, start_ms;
	char errbuf[CURL_ERROR_SIZE];
	dr_http_cb cb;
	void *ud;
};

struct dr_http {
	dr_loop *loop;
	CURLM *multi;
	dr_timer *timer;
	dr_http_xfer *head;
	size_t active;
	struct sock_ctx *socks; /* every watched socket, to clean up */
};

/* What libcurl tells us to watch on one socket (curl_multi_assign). */
typedef struct sock_ctx {
	dr_http *c;
	dr_watch *w;
	struct sock_ctx *prev, *next;
} sock_ctx;

static void sock_free(sock_ctx *s)
{
	dr_http *c = s->c;

	dr_loop_watch_remove(c->loop, s->w);
	if (s->prev)
		s->prev->next = s->next;
	else
		c->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s);
}

/* ---- the transfer state machine ---- */

static const char *const state_names[DR_HTTP__ST_COUNT] = {
	"pending", "running", "done", "failed", "cancelled",
};

/* legal[from][to] */
static const bool legal[DR_HTTP__ST_COUNT][DR_HTTP__ST_COUNT] = {
	[DR_HTTP_ST_PENDING] = { [DR_HTTP_ST_RUNNING] = true,
				 [DR_HTTP_ST_CANCELLED] = true },
	[DR_HTTP_ST_RUNNING] = { [DR_HTTP_ST_DONE] = true,
				 [DR_HTTP_ST_FAILED] = true,
				 [DR_HTTP_ST_CANCELLED] = true },
};

const char *dr_http_state_name(dr_http_state st)
{
	return (unsigned)st < DR_HTTP__ST_COUNT ? state_names[st] : "?";
}

static void set_state(dr_http_xfer *x, dr_http_state to)
{
	(void)legal; /* only read by the assert */
	assert(legal[x->st][to]);
	x->st = to;
}

dr_http_state dr_http_xfer_state(const dr_http_xfer *x)
{
	return x->st;
}

size_t dr_http_active(const dr_http *c)
{
	return c->active;
}

/* ---- helpers ---- */

void dr_http_redact_url(const char *url, char *buf, size_t size)
{
	const char *scheme_end = strstr(url, "://");
	const char *host = scheme_end ? scheme_end + 3 : url;
	const char *at, *end = url + strcspn(url, "?#");
	size_t hostlen = strcspn(host, "/?#");
	dr_strbuf sb = DR_STRBUF_INIT;

	if (!size)
		return;
	at = memchr(host, '@', hostlen);
	dr_strbuf_add(&sb, url, (size_t)(host - url));
	if (at)
		host = at + 1;
	if (end > host)
		dr_strbuf_add(&sb, host, (size_t)(end - host));
	snprintf(buf, size, "%s", sb.buf);
	dr_strbuf_release(&sb);
}

const char *dr_http_resp_header(const dr_http_resp *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nheaders; i++)
		if (!strcasecmp(r->headers[i].name, name))
			return r->headers[i].value;
	return NULL;
}

static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f ||
		    strchr("()<>@,;:\\\"/[]?={}", *s))
			return false;
	return true;
}

/* ---- libcurl callbacks: only buffer data, never call out ---- */

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	dr_http_xfer *x = ud;

	if (dr_strbuf_add(&x->resp, p, n)) {
		x->too_big = true;
		return 0; /* CURLE_WRITE_ERROR */
	}
	return n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	dr_http_xfer *x = ud;
	size_t len = n, i;
	const char *colon;

	x->hbytes += n;
	if (x->hbytes > DR_HTTP_MAX_HEADER_BYTES) {
		x->too_big = true;
		return 0;
	}
	while (len && (p[len - 1] == '\r' || p[len - 1] == '\n'))
		len--;
	/* A status line starts a new response (redirect, 100 Continue). */
	if (len >= 5 && !memcmp(p, "HTTP/", 5)) {
		dr_strbuf_reset(&x->hraw);
		return n;
	}
	colon = memchr(p, ':', len);
	if (!colon || colon == p)
		return n;
	for (i = 0; p + i < colon; i++)
		dr_strbuf_addch(&x->hraw, tolower((unsigned char)p[i]));
	dr_strbuf_addch(&x->hraw, 0);
	colon++;
	while (colon < p + len && (*colon == ' ' || *colon == '\t'))
		colon++;
	while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (colon < p + len)
		dr_strbuf_add(&x->hraw, colon, (size_t)(p + len - colon));
	dr_strbuf_addch(&x->hraw, 0);
	return n;
}

/* ---- finishing ---- */

static void xfer_free(dr_http_xfer *x)
{
	dr_http *c = x->c;

	if (x->prev)
		x->prev->next = x->next;
	else
		c->head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->hdrs);
	free(x->body);
	dr_strbuf_release(&x->resp);
	dr_strbuf_release(&x->hraw);
	free(x);
}

static void finish(dr_http_xfer *x, CURLcode res)
{
	dr_http *c = x->c;
	dr_http_resp r = { 0 };
	dr_http_header *hs = NULL;
	size_t nh = 0, ah = 0, off;
	char err[sizeof(x->where) + CURL_ERROR_SIZE + 16];
	long status = 0;

	curl_multi_remove_handle(c->multi, x->easy);
	c->active--;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	r.status = status;
	r.elapsed_ms = dr_loop_now(c->loop) - x->start_ms;
	err[0] = 0;
	if (res == CURLE_OK) {
		r.rc = 0;
	} else if (x->too_big || res == CURLE_FILESIZE_EXCEEDED) {
		r.rc = DR_ELIMIT;
		snprintf(err, sizeof(err), "%s: response larger than %zu bytes", x->where,
			 x->hbytes > DR_HTTP_MAX_HEADER_BYTES ? DR_HTTP_MAX_HEADER_BYTES
							       : x->max_response);
	} else if (res == CURLE_OPERATION_TIMEDOUT) {
		r.rc = DR_ETIMEOUT;
		snprintf(err, sizeof(err), "%s: timed out after %llu ms", x->where,
			 (unsigned long long)x->timeout_ms);
	} else {
		r.rc = (res == CURLE_URL_MALFORMAT || res == CURLE_UNSUPPORTED_PROTOCOL)
			       ? DR_EINVAL : DR_EIO;
		snprintf(err, sizeof(err), "%s: %s", x->where,
			 x->errbuf[0] ? x->errbuf : curl_easy_strerror(res));
	}
	r.error = err;
	for (off = 0; off < x->hraw.len;) {
		const char *name = x->hraw.buf + off;
		const char *value = name + strlen(name) + 1;

		off = (size_t)(value - x->hraw.buf) + strlen(value) + 1;
		DR_ALLOC_GROW(hs, nh + 1, ah);
		hs[nh].name = name;
		hs[nh].value = value;
		nh++;
	}
	r.headers = hs;
	r.nheaders = nh;
	r.body = x->resp.buf;
	r.body_len = x->resp.len;
	set_state(x, r.rc ? DR_HTTP_ST_FAILED : DR_HTTP_ST_DONE);
	if (x->cb)
		x->cb(x, &r, x->ud);
	free(hs);
	xfer_free(x);
}

static void check_done(dr_http *c)
{
	CURLMsg *m;
	int q;

	while ((m = curl_multi_info_read(c->multi, &q))) {
		dr_http_xfer *x = NULL;
		CURL *e = m->easy_handle;
		CURLcode res = m->data.result;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
		if (x && x->st == DR_HTTP_ST_RUNNING)
			finish(x, res);
	}
}

/* ---- loop glue ---- */

static void on_timer(dr_loop *loop, void *ud)
{
	dr_http *c = ud;
	int running;

	c->timer = NULL;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(c);
}

static int curl_timer_cb(CURLM *m, long timeout_ms, void *ud)
{
	dr_http *c = ud;

	dr_loop_timer_cancel(c->loop, c->timer);
	c->timer = NULL;
	if (timeout_ms >= 0)
		c->timer = dr_loop_timer(c->loop, (uint64_t)timeout_ms, on_timer, c);
	return 0;
}

static void on_socket(dr_loop *loop, int fd, unsigned revents, void *ud)
{
	sock_ctx *s = ud;
	dr_http *c = s->c;
	int flags = 0, running;

	if (revents & DR_LOOP_READ)
		flags |= CURL_CSELECT_IN;
	if (revents & DR_LOOP_WRITE)
		flags |= CURL_CSELECT_OUT;
	if (revents & DR_LOOP_ERROR)
		flags |= CURL_CSELECT_ERR;
	/* s may be freed inside: curl removes sockets it closes. */
	curl_multi_socket_action(c->multi, fd, flags, &running);
	check_done(c);
}

static int curl_socket_cb(CURL *e, curl_socket_t fd, int what, void *ud,
			  void *sockp)
{
	dr_http *c = ud;
	sock_ctx *s = sockp;
	unsigned ev = 0;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			sock_free(s);
			curl_multi_assign(c->multi, fd, NULL);
		}
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev |= DR_LOOP_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev |= DR_LOOP_WRITE;
	if (!s) {
		s = dr_xcalloc(1, sizeof(*s));
		s->c = c;
		s->w = dr_loop_watch(c->loop, fd, ev, on_socket, s);
		s->next = c->socks;
		if (c->socks)
			c->socks->prev = s;
		c->socks = s;
		curl_multi_assign(c->multi, fd, s);
	} else {
		dr_loop_watch_set(c->loop, s->w, ev);
	}
	return 0;
}

/* ---- public ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int dr_http_new(dr_loop *loop, dr_http **out)
{
	dr_http *c;

	*out = NULL;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return dr_error_set(DR_EIO, "libcurl: %s", curl_easy_strerror(global_rc));
	c = dr_xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->multi = curl_multi_init();
	if (!c->multi) {
		free(c);
		return dr_error_set(DR_EIO, "libcurl: cannot create a multi handle");
	}
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	*out = c;
	return 0;
}

void dr_http_free(dr_http *c)
{
	if (!c)
		return;
	while (c->head)
		dr_http_cancel(c, c->head);
	/* Closes cached connections; it need not tell the socket callback. */
	curl_multi_cleanup(c->multi);
	while (c->socks)
		sock_free(c->socks);
	dr_loop_timer_cancel(c->loop, c->timer);
	free(c);
}

static int bad_request(const char *what, const char *detail)
{
	return dr_error_set(DR_EINVAL, "http: %s%s", what, detail);
}

static int check_req(const dr_http_req *req)
{
	size_t i;

	if (!req->url || (strncmp(req->url, "http://", 7) && strncmp(req->url, "https://", 8)))
		return bad_request("URL scheme must be http or https", "");
	if (strcspn(req->url, " \r\n\t") != strlen(req->url))
		return bad_request("URL contains spaces or line breaks", "");
	if (req->method && (!is_token(req->method) || strlen(req->method) >= 16))
		return bad_request("method is not valid", "");
	for (i = 0; i < req->nheaders; i++) {
		const dr_http_header *h = &req->headers[i];

		if (!h->name || !is_token(h->name))
			return bad_request("header name is not valid", "");
		if (!h->value || strcspn(h->value, "\r\n") != strlen(h->value))
			return bad_request("header value has a line break: ", h->name);
	}
	return 0;
}

static int setup_easy(dr_http_xfer *x, const dr_http_req *req)
{
	CURL *e = x->easy;
	struct curl_slist *l;
	size_t i;

	for (i = 0; i < req->nheaders; i++) {
		dr_strbuf sb = DR_STRBUF_INIT;

		/* "Name;" is curl's way to send a header with an empty value. */
		if (req->headers[i].value[0])
			dr_strbuf_addf(&sb, "%s: %s", req->headers[i].name, req->headers[i].value);
		else
			dr_strbuf_addf(&sb, "%s;", req->headers[i].name);
		l = curl_slist_append(x->hdrs, sb.buf);
		dr_strbuf_release(&sb);
		if (!l)
			return DR_ENOMEM;
		x->hdrs = l;
	}
	/* No "Expect: 100-continue" round trip for bodies over 1 KiB. */
	if (!(l = curl_slist_append(x->hdrs, "Expect:")))
		return DR_ENOMEM;
	x->hdrs = l;

	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "drplan/" DR_VERSION);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)x->timeout_ms);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_response);
	/* Not options: TLS is verified, and only http(s) is spoken. */
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (req->max_redirects) {
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)req->max_redirects);
	}
	/* libcurl silently re-sends a request whose reused connection died
	 * before any answer; a POST may change state (an ASR failover), so
	 * it always gets a connection of its own. */
	if (!strcmp(x->method, "POST"))
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	if (!strcmp(x->method, "HEAD")) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(x->method, "GET") || req->body) {
		if (strcmp(x->method, "POST"))
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->method);
		if (req->body || !strcmp(x->method, "POST") || !strcmp(x->method, "PUT") ||
		    !strcmp(x->method, "PATCH")) {
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
					 (curl_off_t)(req->body ? req->body_len : 0));
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body ? x->body : "");
		}
	}
	return 0;
}

int dr_http_start(dr_http *c, const dr_http_req *req, dr_http_cb cb, void *ud,
		  dr_http_xfer **out)
{
	dr_http_xfer *x;
	int rc;

	if (out)
		*out = NULL;
	if ((rc = check_req(req)))
		return rc;
	x = dr_xcalloc(1, sizeof(*x));
	x->c = c;
	x->st = DR_HTTP_ST_PENDING;
	x->cb = cb;
	x->ud = ud;
	snprintf(x->method, sizeof(x->method), "%s", req->method ? req->method : "GET");
	x->timeout_ms = req->timeout_ms ? req->timeout_ms : DR_HTTP_DEFAULT_TIMEOUT_MS;
	x->max_response = req->max_response ? req->max_response : DR_HTTP_DEFAULT_MAX_RESPONSE;
	dr_strbuf_init(&x->resp, 0);
	x->resp.max = x->max_response;
	dr_strbuf_init(&x->hraw, 0);
	{
		char red[200];

		dr_http_redact_url(req->url, red, sizeof(red));
		snprintf(x->where, sizeof(x->where), "%s %s", x->method, red);
	}
	if (req->body) {
		x->body = dr_xmalloc(req->body_len + 1);
		memcpy(x->body, req->body, req->body_len);
		x->body[req->body_len] = 0;
	}
	x->next = c->head;
	if (c->head)
		c->head->prev = x;
	c->head = x;
	x->easy = curl_easy_init();
	if (!x->easy || (rc = setup_easy(x, req))) {
		xfer_free(x);
		return dr_error_set(DR_ENOMEM, "http: cannot set up a transfer");
	}
	x->start_ms = dr_loop_now(c->loop);
	if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK) {
		xfer_free(x);
		return dr_error_set(DR_EIO, "http: cannot add a transfer");
	}
	set_state(x, DR_HTTP_ST_RUNNING);
	c->active++;
	if (out)
		*out = x;
	return 0;
}

void dr_http_cancel(dr_http *c, dr_http_xfer *x)
{
	if (!x)
		return;
	if (x->st == DR_HTTP_ST_RUNNING) {
		curl_multi_remove_handle(c->multi, x->easy);
		c->active--;
	}
	set_state(x, DR_HTTP_ST_CANCELLED);
	xfer_free(x);
}
