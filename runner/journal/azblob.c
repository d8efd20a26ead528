/*
 * azblob.c - the Blob Storage REST client: signing, retries, responses.
 */
#define _GNU_SOURCE /* memmem */
#include "journal/azblob.h"

#include "core/alloc.h"
#include "core/error.h"
#include "exec/http.h"
#include "exec/loop.h"
#include "provider/azauth.h"

#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum auth_kind { AUTH_SHARED_KEY, AUTH_SAS, AUTH_ENTRA };

struct dr_azblob {
	char *account;
	char *container;
	char *desc;
	char *endpoint;   /* scheme://host[:port][/path], no trailing '/' */
	char *url_path;   /* the endpoint's path ("" or "/devstoreaccount1") */
	enum auth_kind auth;
	unsigned char key[128];
	size_t keylen;
	char *sas;        /* without '?' */
	/* Entra ID: the provider's credential chain on a private loop. */
	dr_loop *loop;
	dr_http *http;
	dr_azauth *azauth;
	char *token;
	CURL *curl;
	char curl_err[CURL_ERROR_SIZE];
	int attempts;
	unsigned retry_base_ms;
	unsigned timeout_ms;
	unsigned list_page;
	uint64_t rng;
};

#define RETRY_CAP_MS 8000u

/* ---- configuration ---- */

static const char *pick(const char *given, const char *env)
{
	const char *e;

	if (given && *given)
		return given;
	e = getenv(env);
	return e && *e ? e : NULL;
}

/* Value of name in a connection string "A=x;B=y" (names case-insensitive). */
static char *conn_get(const char *cs, const char *name)
{
	size_t n = strlen(name);
	const char *p = cs;

	while (*p) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		while (len && isspace((unsigned char)*p)) {
			p++;
			len--;
		}
		if (len > n && p[n] == '=' && !strncasecmp(p, name, n)) {
			char *v = dr_xmalloc(len - n);
			memcpy(v, p + n + 1, len - n - 1);
			v[len - n - 1] = '\0';
			return v;
		}
		if (!end)
			break;
		p = end + 1;
	}
	return NULL;
}

static bool host_is_loopback(const char *host, size_t n)
{
	return (n == 9 && !strncasecmp(host, "localhost", 9)) ||
	       (n >= 4 && !strncmp(host, "127.", 4)) ||
	       (n == 5 && !strncmp(host, "[::1]", 5));
}

/* Split endpoint into the stored form and its path; check the scheme. */
static int set_endpoint(dr_azblob *c, const char *ep, const char *from)
{
	const char *rest, *slash;
	size_t n = strlen(ep), hostlen;
	bool https;

	while (n && ep[n - 1] == '/')
		n--;
	if (!strncasecmp(ep, "https://", 8)) {
		https = true;
		rest = ep + 8;
	} else if (!strncasecmp(ep, "http://", 7)) {
		https = false;
		rest = ep + 7;
	} else {
		return dr_error_set(DR_EINVAL, "%s: %s: the blob endpoint must start with "
				    "https:// (or http:// on loopback)", c->desc, from);
	}
	if (strchr(ep, '?') || strchr(ep, '#'))
		return dr_error_set(DR_EINVAL, "%s: %s: the blob endpoint must not have a "
				    "query (put a SAS in AZURE_STORAGE_SAS_TOKEN)", c->desc, from);
	slash = memchr(rest, '/', n - (size_t)(rest - ep));
	hostlen = slash ? (size_t)(slash - rest) : n - (size_t)(rest - ep);
	/* Drop the port for the loopback check. */
	size_t h = hostlen;
	if (rest[0] != '[') {
		const char *colon = memchr(rest, ':', hostlen);
		if (colon)
			h = (size_t)(colon - rest);
	} else {
		const char *br = memchr(rest, ']', hostlen);
		if (br)
			h = (size_t)(br - rest) + 1;
	}
	if (h == 0)
		return dr_error_set(DR_EINVAL, "%s: %s: the blob endpoint has no host",
				    c->desc, from);
	if (!https && !host_is_loopback(rest, h))
		return dr_error_set(DR_EINVAL, "%s: %s: plain http is only allowed to a "
				    "loopback host; use https", c->desc, from);
	c->endpoint = dr_xmalloc(n + 1);
	memcpy(c->endpoint, ep, n);
	c->endpoint[n] = '\0';
	c->url_path = dr_xstrdup(slash ? c->endpoint + (slash - ep) : "");
	return 0;
}

static int set_key(dr_azblob *c, const char *b64, const char *from)
{
	size_t n = strlen(b64), pad = 0;
	unsigned char buf[sizeof(c->key) + 4];
	int got;

	if (n == 0 || n % 4 || n / 4 * 3 > sizeof(buf))
		return dr_error_set(DR_EINVAL, "%s: the account key in %s is not base64",
				    c->desc, from);
	got = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)n);
	if (got < 0)
		return dr_error_set(DR_EINVAL, "%s: the account key in %s is not base64",
				    c->desc, from);
	while (pad < 2 && n > pad && b64[n - 1 - pad] == '=')
		pad++;
	c->keylen = (size_t)got - pad;
	memcpy(c->key, buf, c->keylen);
	OPENSSL_cleanse(buf, sizeof(buf));
	c->auth = AUTH_SHARED_KEY;
	return 0;
}

static void set_sas(dr_azblob *c, const char *sas)
{
	while (*sas == '?')
		sas++;
	c->sas = dr_xstrdup(sas);
	c->auth = AUTH_SAS;
}

static int configure(dr_azblob *c, const dr_azblob_opts *o)
{
	const char *cs = pick(o->connection_string, "AZURE_STORAGE_CONNECTION_STRING");
	const char *ep = pick(o->endpoint, "AZURE_STORAGE_BLOB_ENDPOINT");
	const char *key = pick(o->key, "AZURE_STORAGE_KEY");
	const char *sas = pick(o->sas, "AZURE_STORAGE_SAS_TOKEN");
	char *cs_ep = NULL, *v = NULL;
	int rc = 0;
	bool have_cred = false;

	if (cs) {
		char *dev = conn_get(cs, "UseDevelopmentStorage");
		char *name = conn_get(cs, "AccountName");
		bool is_dev = dev && !strcasecmp(dev, "true");
		free(dev);
		if (is_dev && !name)
			name = dr_xstrdup(DR_AZBLOB_DEV_ACCOUNT);
		if (name && strcmp(name, c->account)) {
			rc = dr_error_set(DR_EINVAL, "%s: AZURE_STORAGE_CONNECTION_STRING is "
					  "for account '%s', not '%s'", c->desc, name,
					  c->account);
			free(name);
			goto out;
		}
		free(name);
		cs_ep = conn_get(cs, "BlobEndpoint");
		if (!cs_ep && is_dev) {
			cs_ep = dr_xstrdup("http://127.0.0.1:10000/" DR_AZBLOB_DEV_ACCOUNT);
		} else if (!cs_ep) {
			char *proto = conn_get(cs, "DefaultEndpointsProtocol");
			char *suffix = conn_get(cs, "EndpointSuffix");
			if (suffix) {
				dr_strbuf sb = DR_STRBUF_INIT;
				dr_strbuf_addf(&sb, "%s://%s.blob.%s", proto ? proto : "https",
					       c->account, suffix);
				cs_ep = dr_strbuf_detach(&sb, NULL);
			}
			free(proto);
			free(suffix);
		}
		if ((v = conn_get(cs, "AccountKey"))) {
			rc = set_key(c, v, "AZURE_STORAGE_CONNECTION_STRING");
			have_cred = true;
		} else if ((v = conn_get(cs, "SharedAccessSignature"))) {
			set_sas(c, v);
			have_cred = true;
		} else if (is_dev) {
			rc = set_key(c, DR_AZBLOB_DEV_KEY, "UseDevelopmentStorage");
			have_cred = true;
		}
		if (v)
			OPENSSL_cleanse(v, strlen(v));
		free(v);
		if (rc)
			goto out;
	}
	if (!have_cred && key) {
		rc = set_key(c, key, o->key ? "the options" : "AZURE_STORAGE_KEY");
		if (rc)
			goto out;
		have_cred = true;
	}
	if (!have_cred && sas) {
		set_sas(c, sas);
		have_cred = true;
	}
	if (!have_cred)
		c->auth = AUTH_ENTRA;

	if (ep) {
		rc = set_endpoint(c, ep, o->endpoint ? "endpoint" : "AZURE_STORAGE_BLOB_ENDPOINT");
	} else if (cs_ep) {
		rc = set_endpoint(c, cs_ep, "BlobEndpoint");
	} else {
		dr_strbuf sb = DR_STRBUF_INIT;
		dr_strbuf_addf(&sb, "https://%s.blob.core.windows.net", c->account);
		rc = set_endpoint(c, sb.buf, "endpoint");
		dr_strbuf_release(&sb);
	}
out:
	free(cs_ep);
	return rc;
}

int dr_azblob_new(const char *account, const char *container, const char *desc,
		  const dr_azblob_opts *opts, dr_azblob **out)
{
	dr_azblob_opts none;
	dr_azblob *c;
	int rc;

	*out = NULL;
	if (!opts) {
		memset(&none, 0, sizeof(none));
		opts = &none;
	}
	c = dr_xcalloc(1, sizeof(*c));
	c->account = dr_xstrdup(account);
	c->container = dr_xstrdup(container);
	c->desc = dr_xstrdup(desc);
	c->attempts = opts->attempts > 0 ? opts->attempts : 6;
	c->retry_base_ms = opts->retry_base_ms ? opts->retry_base_ms : 250;
	c->timeout_ms = opts->timeout_ms ? opts->timeout_ms : 30000;
	c->list_page = opts->list_page;
	if (RAND_bytes((unsigned char *)&c->rng, sizeof(c->rng)) != 1 || !c->rng)
		c->rng = (uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15ull;
	rc = configure(c, opts);
	if (rc) {
		dr_azblob_free(c);
		return rc;
	}
	if (c->auth == AUTH_ENTRA) {
		dr_azauth_opts ao;
		memset(&ao, 0, sizeof(ao));
		ao.audience = "https://storage.azure.com/";
		if ((rc = dr_loop_new(NULL, &c->loop)) < 0 ||
		    (rc = dr_http_new(c->loop, &c->http)) < 0 ||
		    (rc = dr_azauth_new(c->loop, c->http, &ao, &c->azauth)) < 0) {
			rc = dr_error_set(rc, "%s: Entra ID credential: %s", c->desc,
					  dr_error_msg());
			dr_azblob_free(c);
			return rc;
		}
	}
	c->curl = curl_easy_init();
	if (!c->curl) {
		dr_azblob_free(c);
		return dr_error_set(DR_EIO, "%s: cannot create a libcurl handle", desc);
	}
	*out = c;
	return 0;
}

void dr_azblob_free(dr_azblob *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	dr_azauth_free(c->azauth);
	dr_http_free(c->http);
	dr_loop_free(c->loop);
	if (c->token) {
		OPENSSL_cleanse(c->token, strlen(c->token));
		free(c->token);
	}
	if (c->sas) {
		OPENSSL_cleanse(c->sas, strlen(c->sas));
		free(c->sas);
	}
	OPENSSL_cleanse(c->key, sizeof(c->key));
	free(c->account);
	free(c->container);
	free(c->desc);
	free(c->endpoint);
	free(c->url_path);
	free(c);
}

const char *dr_azblob_auth_name(const dr_azblob *c)
{
	return c->auth == AUTH_SHARED_KEY ? "shared-key" : c->auth == AUTH_SAS ? "sas"
										: "entra-id";
}

unsigned dr_azblob_list_page(const dr_azblob *c)
{
	return c->list_page;
}

void dr_azblob_resp_init(dr_azblob_resp *r)
{
	memset(r, 0, sizeof(*r));
	r->body = (dr_strbuf)DR_STRBUF_INIT;
	r->content_length = r->range_total = r->append_offset = -1;
}

void dr_azblob_resp_release(dr_azblob_resp *r)
{
	dr_strbuf_release(&r->body);
}

/* Clear what the previous attempt left, keeping unknown and attempts. */
static void resp_reset(dr_azblob_resp *r)
{
	r->status = 0;
	r->code[0] = r->etag[0] = r->lease_id[0] = '\0';
	r->content_length = r->range_total = r->append_offset = -1;
	r->too_big = false;
	dr_strbuf_reset(&r->body);
}

/* ---- signing ---- */

static int cmp_kv(const void *a, const void *b)
{
	const dr_azblob_kv *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static void rfc1123_now(char *buf, size_t n)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, n, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
		 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
}

static bool has_body(const dr_azblob_req *r)
{
	return !strcmp(r->method, "PUT");
}

/* The resource path of the request as sent: [endpoint path]/container[/blob]. */
static void resource_path(const char *url_path, const char *container, const char *blob,
			  dr_strbuf *out)
{
	dr_strbuf_addf(out, "%s/%s", url_path, container);
	if (blob)
		dr_strbuf_addf(out, "/%s", blob);
}

void dr_azblob_string_to_sign(const char *account, const char *url_path,
			      const dr_azblob_req *r, const char *date,
			      const char *content_type, dr_strbuf *out)
{
	dr_azblob_kv hdr[24], q[12];
	size_t nh = 0, nq = r->nquery < 12 ? r->nquery : 12;

	dr_strbuf_reset(out);
	dr_strbuf_addf(out, "%s\n\n\n", r->method);
	/* Since 2015-02-21 a zero Content-Length is signed as empty. */
	if (has_body(r) && r->len)
		dr_strbuf_addf(out, "%zu", r->len);
	dr_strbuf_addf(out, "\n\n%s\n\n\n%s\n%s\n\n\n", content_type,
		       r->if_match ? r->if_match : "", r->if_none_match ? r->if_none_match : "");
	for (size_t i = 0; i < r->nheaders && nh < 22; i++)
		hdr[nh++] = r->headers[i];
	hdr[nh++] = (dr_azblob_kv){ "x-ms-date", date };
	hdr[nh++] = (dr_azblob_kv){ "x-ms-version", DR_AZBLOB_API_VERSION };
	qsort(hdr, nh, sizeof(hdr[0]), cmp_kv);
	for (size_t i = 0; i < nh; i++)
		dr_strbuf_addf(out, "%s:%s\n", hdr[i].name, hdr[i].value);
	/* Canonicalized resource: /account + the path as sent, then the query. */
	dr_strbuf_addf(out, "/%s%s", account, url_path);
	if (nq)
		memcpy(q, r->query, nq * sizeof(q[0]));
	qsort(q, nq, sizeof(q[0]), cmp_kv);
	for (size_t i = 0; i < nq; i++)
		dr_strbuf_addf(out, "\n%s:%s", q[i].name, q[i].value);
}

static void sign(dr_azblob *c, const dr_azblob_req *r, const char *date,
		 const char *content_type, dr_strbuf *auth)
{
	dr_strbuf path = DR_STRBUF_INIT, sts = DR_STRBUF_INIT;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];

	resource_path(c->url_path, c->container, r->blob, &path);
	dr_azblob_string_to_sign(c->account, path.buf, r, date, content_type, &sts);
	HMAC(EVP_sha256(), c->key, (int)c->keylen, (const unsigned char *)sts.buf,
	     sts.len, md, &mdlen);
	EVP_EncodeBlock((unsigned char *)b64, md, (int)mdlen);
	dr_strbuf_addf(auth, "Authorization: SharedKey %s:%s", c->account, b64);
	dr_strbuf_release(&path);
	dr_strbuf_release(&sts);
}

/* ---- Entra ID tokens ---- */

struct token_wait {
	bool done;
	int rc;
	char *token;
	char msg[512];
};

static void token_cb(void *ud, int rc, const char *token, const char *msg)
{
	struct token_wait *w = ud;

	w->done = true;
	w->rc = rc;
	if (!rc && token)
		w->token = dr_xstrdup(token);
	if (msg)
		snprintf(w->msg, sizeof(w->msg), "%s", msg);
}

static int fetch_token(dr_azblob *c, bool force)
{
	struct token_wait w = { 0 };

	dr_azauth_get(c->azauth, force, token_cb, &w, NULL);
	while (!w.done) {
		int rc = dr_loop_run_once(c->loop, true);
		if (rc < 0 && !w.done)
			return dr_error_set(DR_EIO, "%s: Entra ID token: the event loop failed",
					    c->desc);
	}
	if (w.rc || !w.token)
		return dr_error_set(w.rc ? w.rc : DR_EIO, "%s: Entra ID token (%s): %s",
				    c->desc, dr_azauth_kind_name(dr_azauth_kind_of(c->azauth)),
				    w.msg[0] ? w.msg : "no token");
	if (c->token) {
		OPENSSL_cleanse(c->token, strlen(c->token));
		free(c->token);
	}
	c->token = w.token;
	return 0;
}

/* ---- transfer ---- */

struct xfer {
	dr_azblob_resp *resp;
	size_t max;
};

static size_t write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;

	if (x->resp->body.len + n > x->max) {
		x->resp->too_big = true;
		return 0;
	}
	if (dr_strbuf_add(&x->resp->body, data, n) < 0)
		return 0;
	return n;
}

static bool hdr_is(const char *line, size_t n, const char *name, const char **val,
		   size_t *vlen)
{
	size_t k = strlen(name);

	if (n <= k || line[k] != ':' || strncasecmp(line, name, k))
		return false;
	const char *v = line + k + 1, *end = line + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	*val = v;
	*vlen = (size_t)(end - v);
	return true;
}

static void copy_val(char *dst, size_t size, const char *v, size_t n)
{
	if (n >= size)
		n = size - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static size_t header_cb(char *line, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	dr_azblob_resp *r = x->resp;
	size_t n = size * nmemb;
	const char *v;
	size_t vl;
	char num[32];

	if (n >= 5 && !strncmp(line, "HTTP/", 5)) {
		/* A new response (after a 100 Continue, say): start over. */
		bool unknown = r->unknown;
		int attempts = r->attempts;
		resp_reset(r);
		r->unknown = unknown;
		r->attempts = attempts;
		return n;
	}
	if (hdr_is(line, n, "ETag", &v, &vl)) {
		copy_val(r->etag, sizeof(r->etag), v, vl);
	} else if (hdr_is(line, n, "x-ms-error-code", &v, &vl)) {
		copy_val(r->code, sizeof(r->code), v, vl);
	} else if (hdr_is(line, n, "x-ms-lease-id", &v, &vl)) {
		copy_val(r->lease_id, sizeof(r->lease_id), v, vl);
	} else if (hdr_is(line, n, "Content-Length", &v, &vl)) {
		copy_val(num, sizeof(num), v, vl);
		r->content_length = strtoll(num, NULL, 10);
	} else if (hdr_is(line, n, "x-ms-blob-append-offset", &v, &vl)) {
		copy_val(num, sizeof(num), v, vl);
		r->append_offset = strtoll(num, NULL, 10);
	} else if (hdr_is(line, n, "Content-Range", &v, &vl)) {
		const char *slash = memchr(v, '/', vl);
		if (slash) {
			copy_val(num, sizeof(num), slash + 1, vl - (size_t)(slash + 1 - v));
			r->range_total = strtoll(num, NULL, 10);
		}
	}
	return n;
}

static void add_query_value(dr_strbuf *url, const char *v)
{
	for (; *v; v++) {
		unsigned char ch = (unsigned char)*v;
		if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == '/')
			dr_strbuf_addch(url, ch);
		else
			dr_strbuf_addf(url, "%%%02X", ch);
	}
}

/* The <Code> of an error body, when no x-ms-error-code header came. */
static void code_from_body(dr_azblob_resp *r)
{
	const char *b, *e;

	if (r->code[0] || !r->body.len)
		return;
	b = strstr(r->body.buf, "<Code>");
	if (!b)
		return;
	b += 6;
	e = strstr(b, "</Code>");
	if (e)
		copy_val(r->code, sizeof(r->code), b, (size_t)(e - b));
}

static bool curl_transient(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

/* The request surely never reached the server. */
static bool curl_not_sent(CURLcode cc)
{
	return cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_CONNECT;
}

static bool status_transient(long st)
{
	return st == 408 || st == 429 || st == 500 || st == 502 || st == 503 || st == 504;
}

static uint64_t next_rand(dr_azblob *c)
{
	/* xorshift64*: only for jitter. */
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return c->rng * 2685821657736338717ull;
}

static void backoff(dr_azblob *c, int attempt)
{
	uint64_t d = c->retry_base_ms;

	for (int i = 0; i < attempt && d < RETRY_CAP_MS; i++)
		d *= 2;
	if (d > RETRY_CAP_MS)
		d = RETRY_CAP_MS;
	/* Half fixed, half random: spreads retries of racing runners. */
	d = d / 2 + next_rand(c) % (d / 2 + 1);
	struct timespec ts = { (time_t)(d / 1000), (long)(d % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static CURLcode perform(dr_azblob *c, const dr_azblob_req *r, dr_azblob_resp *resp)
{
	dr_strbuf url = DR_STRBUF_INIT, auth = DR_STRBUF_INIT, line = DR_STRBUF_INIT;
	struct curl_slist *hl = NULL;
	struct xfer x = { resp, r->body_max ? r->body_max : (1u << 20) };
	const char *ctype = has_body(r) ? "application/octet-stream" : "";
	char date[64];
	CURL *h = c->curl;
	CURLcode cc;

	rfc1123_now(date, sizeof(date));
	dr_strbuf_addf(&url, "%s/%s", c->endpoint, c->container);
	if (r->blob)
		dr_strbuf_addf(&url, "/%s", r->blob);
	for (size_t i = 0; i < r->nquery; i++) {
		dr_strbuf_addf(&url, "%c%s=", i ? '&' : '?', r->query[i].name);
		add_query_value(&url, r->query[i].value);
	}
	if (c->auth == AUTH_SAS)
		dr_strbuf_addf(&url, "%c%s", r->nquery ? '&' : '?', c->sas);

#define ADD_HEADER(...)                                                        \
	do {                                                                   \
		dr_strbuf_reset(&line);                                        \
		dr_strbuf_addf(&line, __VA_ARGS__);                            \
		hl = curl_slist_append(hl, line.buf);                          \
	} while (0)
	ADD_HEADER("x-ms-date: %s", date);
	ADD_HEADER("x-ms-version: %s", DR_AZBLOB_API_VERSION);
	for (size_t i = 0; i < r->nheaders; i++)
		ADD_HEADER("%s: %s", r->headers[i].name, r->headers[i].value);
	if (r->if_match)
		ADD_HEADER("If-Match: %s", r->if_match);
	if (r->if_none_match)
		ADD_HEADER("If-None-Match: %s", r->if_none_match);
	/* Signed as sent: no Content-Type libcurl would invent, no Expect. */
	if (*ctype)
		ADD_HEADER("Content-Type: %s", ctype);
	else
		hl = curl_slist_append(hl, "Content-Type:");
	hl = curl_slist_append(hl, "Expect:");
	hl = curl_slist_append(hl, "Accept:");
	if (c->auth == AUTH_SHARED_KEY) {
		sign(c, r, date, ctype, &auth);
		hl = curl_slist_append(hl, auth.buf);
	} else if (c->auth == AUTH_ENTRA) {
		dr_strbuf_addf(&auth, "Authorization: Bearer %s", c->token);
		hl = curl_slist_append(hl, auth.buf);
	}
#undef ADD_HEADER

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url.buf);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->timeout_ms < 10000 ?
								 c->timeout_ms : 10000));
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (!strcmp(r->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (has_body(r)) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->len ? r->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
	} else if (strcmp(r->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	}
	c->curl_err[0] = '\0';
	resp_reset(resp);
	cc = curl_easy_perform(h);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		code_from_body(resp);
	} else if (cc == CURLE_WRITE_ERROR && resp->too_big) {
		/* The body was cut on purpose: the status is still valid. */
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		cc = CURLE_OK;
	}
	/* Never leave the credential in the handle's memory longer than needed. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	if (auth.len)
		OPENSSL_cleanse(auth.buf, auth.len);
	dr_strbuf_release(&auth);
	if (c->auth == AUTH_SAS)
		OPENSSL_cleanse(url.buf, url.len);
	dr_strbuf_release(&url);
	dr_strbuf_release(&line);
	return cc;
}

int dr_azblob_call(dr_azblob *c, const dr_azblob_req *r, dr_azblob_resp *resp)
{
	CURLcode cc = CURLE_OK;
	bool refreshed = false;
	int rc;

	resp->unknown = false;
	resp->attempts = 0;
	if (c->auth == AUTH_ENTRA && !c->token && (rc = fetch_token(c, false)) < 0)
		return rc;
	for (int attempt = 0; attempt < c->attempts; attempt++) {
		if (attempt)
			backoff(c, attempt - 1);
		resp->attempts++;
		cc = perform(c, r, resp);
		if (cc != CURLE_OK) {
			if (!curl_not_sent(cc))
				resp->unknown = true;
			if (curl_transient(cc))
				continue;
			break;
		}
		if (resp->status == 401 && c->auth == AUTH_ENTRA && !refreshed) {
			/* The token may have expired early: one fresh one. */
			refreshed = true;
			if ((rc = fetch_token(c, true)) < 0)
				return rc;
			attempt--;
			continue;
		}
		if (status_transient(resp->status) && attempt + 1 < c->attempts) {
			/* A 5xx may have been executed (a timeout inside the service). */
			if (resp->status != 503 && resp->status != 429)
				resp->unknown = true;
			continue;
		}
		return 0;
	}
	if (cc == CURLE_OK)
		return 0;
	if (cc == CURLE_OPERATION_TIMEDOUT)
		return dr_error_set(DR_ETIMEOUT, "%s: %s %s: timed out after %d attempts",
				    c->desc, r->method, r->blob ? r->blob : c->container,
				    resp->attempts);
	/* curl's message names the host at most, never the query. */
	return dr_error_set(DR_EIO, "%s: %s %s: %s (after %d attempts)", c->desc, r->method,
			    r->blob ? r->blob : c->container,
			    c->curl_err[0] ? c->curl_err : curl_easy_strerror(cc), resp->attempts);
}

int dr_azblob_fail(dr_azblob *c, const dr_azblob_resp *resp, const char *what)
{
	const char *code = resp->code[0] ? resp->code : "";
	long st = resp->status;
	int rc = st == 404 ? DR_ENOTFOUND
		 : st == 409 || st == 412 ? DR_ECONFLICT
		 : st == 401 || st == 403 ? DR_EINVAL
		 : st >= 500 || st == 429 || st == 408 ? DR_EAGAIN : DR_ERR;

	if (st == 401 || st == 403)
		return dr_error_set(rc, "%s: %s: HTTP %ld %s: the %s credential was refused "
				    "(check AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN or "
				    "AZURE_STORAGE_CONNECTION_STRING, and the clock)",
				    c->desc, what, st, code, dr_azblob_auth_name(c));
	return dr_error_set(rc, "%s: %s: HTTP %ld%s%s", c->desc, what, st, *code ? " " : "",
			    code);
}

/* ---- List Blobs XML ---- */

static int decode_entities(const char *s, size_t n, dr_strbuf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '&') {
			dr_strbuf_addch(out, s[i]);
			continue;
		}
		const char *semi = memchr(s + i, ';', n - i);
		if (!semi || semi - (s + i) > 10)
			return DR_EINVAL;
		size_t len = (size_t)(semi - (s + i)) + 1;
		const char *e = s + i;
		if (len == 5 && !strncmp(e, "&amp;", 5))
			dr_strbuf_addch(out, '&');
		else if (len == 4 && !strncmp(e, "&lt;", 4))
			dr_strbuf_addch(out, '<');
		else if (len == 4 && !strncmp(e, "&gt;", 4))
			dr_strbuf_addch(out, '>');
		else if (len == 6 && !strncmp(e, "&quot;", 6))
			dr_strbuf_addch(out, '"');
		else if (len == 6 && !strncmp(e, "&apos;", 6))
			dr_strbuf_addch(out, '\'');
		else if (len > 3 && e[1] == '#') {
			char *end;
			unsigned long cp = e[2] == 'x' || e[2] == 'X' ? strtoul(e + 3, &end, 16)
								   : strtoul(e + 2, &end, 10);
			if (end != semi || cp == 0 || cp > 0x10FFFF)
				return DR_EINVAL;
			/* UTF-8 encode. */
			if (cp < 0x80) {
				dr_strbuf_addch(out, (int)cp);
			} else if (cp < 0x800) {
				dr_strbuf_addch(out, (int)(0xC0 | (cp >> 6)));
				dr_strbuf_addch(out, (int)(0x80 | (cp & 0x3F)));
			} else if (cp < 0x10000) {
				dr_strbuf_addch(out, (int)(0xE0 | (cp >> 12)));
				dr_strbuf_addch(out, (int)(0x80 | ((cp >> 6) & 0x3F)));
				dr_strbuf_addch(out, (int)(0x80 | (cp & 0x3F)));
			} else {
				dr_strbuf_addch(out, (int)(0xF0 | (cp >> 18)));
				dr_strbuf_addch(out, (int)(0x80 | ((cp >> 12) & 0x3F)));
				dr_strbuf_addch(out, (int)(0x80 | ((cp >> 6) & 0x3F)));
				dr_strbuf_addch(out, (int)(0x80 | (cp & 0x3F)));
			}
		} else {
			return DR_EINVAL;
		}
		i += len - 1;
	}
	return 0;
}

static int hexval(int ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0'
	       : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
	       : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

static int percent_decode(dr_strbuf *s)
{
	size_t o = 0;

	for (size_t i = 0; i < s->len; i++) {
		if (s->buf[i] != '%') {
			s->buf[o++] = s->buf[i];
			continue;
		}
		if (i + 2 >= s->len)
			return DR_EINVAL;
		int a = hexval((unsigned char)s->buf[i + 1]);
		int b = hexval((unsigned char)s->buf[i + 2]);
		if (a < 0 || b < 0)
			return DR_EINVAL;
		s->buf[o++] = (char)(a * 16 + b);
		i += 2;
	}
	dr_strbuf_setlen(s, o);
	return 0;
}

/*
 * Find the next element <tag ...>text</tag> at or after *pos that is not
 * nested in another element of interest; return its content span and
 * whether its start tag carried Encoded="true".
 */
static bool next_elem(const char *xml, size_t len, size_t *pos, const char *tag,
		      const char **text, size_t *tlen, bool *encoded, size_t limit)
{
	size_t k = strlen(tag);
	size_t i = *pos;

	if (limit > len)
		limit = len;
	while (i + k + 2 <= limit) {
		const char *lt = memchr(xml + i, '<', limit - i);
		if (!lt)
			return false;
		i = (size_t)(lt - xml);
		if (i + k + 2 > limit)
			return false;
		char after = xml[i + 1 + k];
		if (!strncmp(xml + i + 1, tag, k) && (after == '>' || after == ' ' || after == '/')) {
			const char *gt = memchr(xml + i, '>', limit - i);
			if (!gt)
				return false;
			size_t stag_end = (size_t)(gt - xml) + 1;
			*encoded = false;
			{
				const char *enc = xml + i;
				while (enc < gt) {
					const char *a = memchr(enc, 'E', (size_t)(gt - enc));
					if (!a)
						break;
					if ((size_t)(gt - a) >= 14 && !strncmp(a, "Encoded=\"true\"", 14))
						*encoded = true;
					enc = a + 1;
				}
			}
			if (gt[-1] == '/') { /* <Tag/> */
				*text = xml + stag_end;
				*tlen = 0;
				*pos = stag_end;
				return true;
			}
			/* The closing tag. */
			for (size_t j = stag_end; j + k + 3 <= limit; j++) {
				if (xml[j] == '<' && xml[j + 1] == '/' &&
				    !strncmp(xml + j + 2, tag, k) && xml[j + 2 + k] == '>') {
					*text = xml + stag_end;
					*tlen = j - stag_end;
					*pos = j + k + 3;
					return true;
				}
			}
			return false;
		}
		i++;
	}
	return false;
}

int dr_azblob_parse_list(const char *xml, size_t len,
			 int (*fn)(void *ctx, const char *name), void *ctx,
			 dr_strbuf *next)
{
	size_t pos = 0, blobs_end = len;
	const char *text, *blobs = NULL;
	size_t tlen;
	bool enc;
	dr_strbuf name = DR_STRBUF_INIT;
	int rc = 0;

	dr_strbuf_reset(next);
	if (!memmem(xml, len, "<EnumerationResults", 19))
		return dr_error_set(DR_EINVAL, "List Blobs: not an EnumerationResults document");
	/* Names inside <Blobs>; NextMarker after it. */
	if (next_elem(xml, len, &pos, "Blobs", &blobs, &tlen, &enc, len)) {
		size_t bpos = (size_t)(blobs - xml);
		blobs_end = bpos + tlen;
		size_t p = bpos;
		const char *btext;
		size_t blen;
		while (next_elem(xml, len, &p, "Blob", &btext, &blen, &enc, blobs_end)) {
			size_t np = (size_t)(btext - xml);
			const char *nt;
			size_t nl;
			bool nenc;
			if (!next_elem(xml, len, &np, "Name", &nt, &nl, &nenc,
				       (size_t)(btext - xml) + blen)) {
				rc = dr_error_set(DR_EINVAL, "List Blobs: a Blob without a Name");
				break;
			}
			dr_strbuf_reset(&name);
			if (decode_entities(nt, nl, &name) < 0 ||
			    (nenc && percent_decode(&name) < 0)) {
				rc = dr_error_set(DR_EINVAL, "List Blobs: a malformed blob name");
				break;
			}
			if (memchr(name.buf, '\0', name.len))
				continue; /* not a name a key can have */
			if ((rc = fn(ctx, name.buf)) != 0)
				break;
		}
	}
	if (!rc) {
		size_t p = blobs ? blobs_end : 0;
		if (next_elem(xml, len, &p, "NextMarker", &text, &tlen, &enc, len) &&
		    decode_entities(text, tlen, next) < 0)
			rc = dr_error_set(DR_EINVAL, "List Blobs: a malformed NextMarker");
	}
	dr_strbuf_release(&name);
	return rc;
}
