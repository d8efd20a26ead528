#include "provider/azauth.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/strbuf.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define DEFAULT_IMDS "http://169.254.169.254/metadata/identity/oauth2/token"
#define DEFAULT_AUDIENCE "https://management.azure.com/"
#define MAX_TOKEN_FILE ((size_t)64 << 10)

struct dr_azauth_wait {
	dr_azauth *a;
	dr_azauth_wait *next;
	dr_azauth_cb cb;
	void *ud;
};

struct dr_azauth {
	dr_loop *loop;
	dr_http *http;
	dr_azauth_kind kind;
	char *tenant, *client_id, *secret, *cert_path, *token_file;
	char *token_url;  /* client flows: {authority}/{tenant}/oauth2/v2.0/token */
	char *imds_url;   /* IMDS: with query */
	char *scope;
	uint64_t imds_retry_ms;
	int imds_attempts;
	uint64_t timeout_ms;

	char *token;
	uint64_t refresh_at;  /* loop ms: fetch a new token from here on */
	uint64_t expires_at;  /* loop ms: the token is no longer valid */

	dr_azauth_wait *waiters;   /* waiting for the running fetch */
	dr_azauth_wait *ready;     /* answered from the cache, on a defer */
	dr_defer *ready_defer;
	dr_http_xfer *xfer;
	dr_timer *retry_timer;
	dr_defer *fetch_defer;
	int attempt;
	unsigned fetches;
	unsigned gen;   /* bumped for every new token */
};

const char *dr_azauth_kind_name(dr_azauth_kind k)
{
	switch (k) {
	case DR_AZAUTH_SECRET: return "client-secret";
	case DR_AZAUTH_CERTIFICATE: return "client-certificate";
	case DR_AZAUTH_FEDERATED: return "workload-identity";
	case DR_AZAUTH_MANAGED_IDENTITY: return "managed-identity";
	}
	return "unknown";
}

static const char *pick(const char *opt, const char *env)
{
	const char *v;

	if (opt && *opt)
		return opt;
	v = getenv(env);
	return v && *v ? v : NULL;
}

static char *dup_or_null(const char *s)
{
	return s ? dr_xstrdup(s) : NULL;
}

/* Loopback hosts may use plain http (the emulator, a test IMDS). */
static bool url_is_loopback(const char *url)
{
	static const char *const hosts[] = { "http://127.", "http://localhost:",
					     "http://localhost/", "http://[::1]" };
	size_t i;

	for (i = 0; i < DR_ARRAY_SIZE(hosts); i++)
		if (!strncasecmp(url, hosts[i], strlen(hosts[i])))
			return true;
	return false;
}

static int check_scheme(const char *what, const char *url, bool allow_link_local)
{
	if (!strncasecmp(url, "https://", 8))
		return 0;
	if (!strncasecmp(url, "http://", 7) &&
	    (url_is_loopback(url) ||
	     (allow_link_local && !strncmp(url, "http://169.254.169.254", 22))))
		return 0;
	return dr_error_set(DR_EINVAL,
			    "%s must be an https:// URL (plain http only on "
			    "loopback)", what);
}

char *dr_azauth_b64url(const unsigned char *data, size_t n)
{
	size_t cap = 4 * ((n + 2) / 3) + 1, i, j;
	char *out = dr_xmalloc(cap);
	int len = EVP_EncodeBlock((unsigned char *)out, data, (int)n);

	for (i = 0, j = 0; i < (size_t)len; i++) {
		char c = out[i];

		if (c == '=')
			break;
		out[j++] = c == '+' ? '-' : c == '/' ? '_' : c;
	}
	out[j] = '\0';
	return out;
}

static void random_guid(char buf[37])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1) {
		size_t i;

		for (i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)rand();
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(buf, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
		 b[11], b[12], b[13], b[14], b[15]);
}

/* Read the key and the certificate from one PEM file. */
static int read_pem(const char *path, EVP_PKEY **key, X509 **cert)
{
	FILE *f = fopen(path, "r");

	*key = NULL;
	*cert = NULL;
	if (!f)
		return dr_error_set(DR_EIO, "client certificate '%s': %s", path,
				    strerror(errno));
	*key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	rewind(f);
	*cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!*key || !*cert) {
		EVP_PKEY_free(*key);
		X509_free(*cert);
		*key = NULL;
		*cert = NULL;
		return dr_error_set(DR_EINVAL,
				    "client certificate '%s' must be a PEM file "
				    "with an unencrypted private key and its "
				    "certificate", path);
	}
	if (EVP_PKEY_base_id(*key) != EVP_PKEY_RSA) {
		EVP_PKEY_free(*key);
		X509_free(*cert);
		*key = NULL;
		*cert = NULL;
		return dr_error_set(DR_EINVAL,
				    "client certificate '%s': the key must be RSA "
				    "(RS256 assertions)", path);
	}
	return 0;
}

int dr_azauth_cert_assertion(const char *pem_path, const char *client_id,
			     const char *aud, int64_t now_s, char **out)
{
	EVP_PKEY *key;
	X509 *cert;
	unsigned char sha1[EVP_MAX_MD_SIZE], sha256[EVP_MAX_MD_SIZE];
	unsigned int n1 = 0, n256 = 0;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	char jti[37], *x5t, *x5t256, *hdr_s, *pl_s, *h64, *p64, *s64;
	json_t *hdr, *pl;
	dr_strbuf sb = DR_STRBUF_INIT;
	EVP_MD_CTX *md = NULL;
	int rc;

	*out = NULL;
	if ((rc = read_pem(pem_path, &key, &cert)) < 0)
		return rc;
	X509_digest(cert, EVP_sha1(), sha1, &n1);
	X509_digest(cert, EVP_sha256(), sha256, &n256);
	x5t = dr_azauth_b64url(sha1, n1);
	x5t256 = dr_azauth_b64url(sha256, n256);
	random_guid(jti);
	hdr = json_pack("{s:s, s:s, s:s, s:s}", "alg", "RS256", "typ", "JWT",
			"x5t", x5t, "x5t#S256", x5t256);
	pl = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "aud", aud, "iss",
		       client_id, "sub", client_id, "jti", jti, "nbf",
		       (json_int_t)now_s, "iat", (json_int_t)now_s, "exp",
		       (json_int_t)(now_s + 600));
	hdr_s = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER);
	pl_s = json_dumps(pl, JSON_COMPACT | JSON_PRESERVE_ORDER);
	h64 = dr_azauth_b64url((const unsigned char *)hdr_s, strlen(hdr_s));
	p64 = dr_azauth_b64url((const unsigned char *)pl_s, strlen(pl_s));
	dr_strbuf_addf(&sb, "%s.%s", h64, p64);

	rc = DR_EINVAL;
	md = EVP_MD_CTX_new();
	if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)sb.buf,
			   sb.len) == 1) {
		sig = dr_xmalloc(siglen);
		if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)sb.buf,
				   sb.len) == 1) {
			s64 = dr_azauth_b64url(sig, siglen);
			dr_strbuf_addf(&sb, ".%s", s64);
			free(s64);
			rc = 0;
		}
	}
	if (rc == 0)
		*out = dr_strbuf_detach(&sb, NULL);
	else
		dr_error_set(DR_EINVAL, "client certificate '%s': signing the "
			     "assertion failed", pem_path);
	dr_strbuf_release(&sb);
	EVP_MD_CTX_free(md);
	free(sig);
	free(x5t);
	free(x5t256);
	free(hdr_s);
	free(pl_s);
	free(h64);
	free(p64);
	json_decref(hdr);
	json_decref(pl);
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

int dr_azauth_new(dr_loop *loop, dr_http *http, const dr_azauth_opts *opts,
		  dr_azauth **out)
{
	dr_azauth_opts none;
	const char *tenant, *client, *secret, *cert, *tfile, *authority, *aud;
	const char *imds, *pod;
	dr_azauth *a;
	dr_strbuf sb = DR_STRBUF_INIT;
	int rc;

	*out = NULL;
	if (!opts) {
		memset(&none, 0, sizeof(none));
		opts = &none;
	}
	tenant = pick(opts->tenant_id, "AZURE_TENANT_ID");
	client = pick(opts->client_id, "AZURE_CLIENT_ID");
	secret = pick(opts->client_secret, "AZURE_CLIENT_SECRET");
	cert = pick(opts->certificate_path, "AZURE_CLIENT_CERTIFICATE_PATH");
	tfile = pick(opts->federated_token_file, "AZURE_FEDERATED_TOKEN_FILE");
	authority = pick(opts->authority_host, "AZURE_AUTHORITY_HOST");
	aud = pick(opts->audience, "DRPLAN_ARM_AUDIENCE");
	imds = pick(opts->imds_endpoint, "DRPLAN_IMDS_ENDPOINT");
	pod = getenv("AZURE_POD_IDENTITY_AUTHORITY_HOST");
	if (!authority)
		authority = DEFAULT_AUTHORITY;
	if (!aud)
		aud = DEFAULT_AUDIENCE;

	a = dr_xcalloc(1, sizeof(*a));
	a->loop = loop;
	a->http = http;
	a->imds_retry_ms = opts->imds_retry_ms ? opts->imds_retry_ms : 1000;
	a->imds_attempts = opts->imds_attempts > 0 ? opts->imds_attempts : 5;
	a->timeout_ms = opts->timeout_ms;
	/* ".default" of the audience: https://management.azure.com/.default */
	dr_strbuf_addf(&sb, "%s%s.default", aud,
		       aud[strlen(aud) - 1] == '/' ? "" : "/");
	a->scope = dr_strbuf_detach(&sb, NULL);

	if (tenant && client && (secret || cert || tfile)) {
		size_t alen = strlen(authority);

		if ((rc = check_scheme("AZURE_AUTHORITY_HOST", authority, false)) < 0)
			goto fail;
		a->kind = secret ? DR_AZAUTH_SECRET
			  : cert ? DR_AZAUTH_CERTIFICATE : DR_AZAUTH_FEDERATED;
		while (alen && authority[alen - 1] == '/')
			alen--;
		dr_strbuf_addf(&sb, "%.*s/%s/oauth2/v2.0/token", (int)alen,
			       authority, tenant);
		a->token_url = dr_strbuf_detach(&sb, NULL);
		a->tenant = dr_xstrdup(tenant);
		a->client_id = dr_xstrdup(client);
		a->secret = dup_or_null(secret);
		if (!secret && cert) {
			EVP_PKEY *k;
			X509 *x;

			/* Fail early on a bad file rather than at the first
			 * token request in the middle of a failover. */
			if ((rc = read_pem(cert, &k, &x)) < 0)
				goto fail;
			EVP_PKEY_free(k);
			X509_free(x);
			a->cert_path = dr_xstrdup(cert);
		} else if (!secret) {
			a->token_file = dr_xstrdup(tfile);
		}
	} else if ((secret || cert || tfile) && !(tenant && client)) {
		rc = dr_error_set(DR_EINVAL,
				  "Azure credentials: AZURE_TENANT_ID and "
				  "AZURE_CLIENT_ID must be set with %s",
				  secret ? "AZURE_CLIENT_SECRET"
				  : cert ? "AZURE_CLIENT_CERTIFICATE_PATH"
					 : "AZURE_FEDERATED_TOKEN_FILE");
		goto fail;
	} else {
		char *enc;

		a->kind = DR_AZAUTH_MANAGED_IDENTITY;
		if (imds) {
			dr_strbuf_addstr(&sb, imds);
		} else if (pod && *pod) {
			size_t plen = strlen(pod);

			while (plen && pod[plen - 1] == '/')
				plen--;
			dr_strbuf_addf(&sb, "%.*s/metadata/identity/oauth2/token",
				       (int)plen, pod);
		} else {
			dr_strbuf_addstr(&sb, DEFAULT_IMDS);
		}
		if ((rc = check_scheme("the IMDS endpoint", sb.buf, true)) < 0) {
			dr_strbuf_release(&sb);
			goto fail;
		}
		enc = curl_easy_escape(NULL, aud, 0);
		dr_strbuf_addf(&sb, "%sapi-version=2018-02-01&resource=%s",
			       strchr(sb.buf, '?') ? "&" : "?", enc);
		curl_free(enc);
		if (client) {
			enc = curl_easy_escape(NULL, client, 0);
			dr_strbuf_addf(&sb, "&client_id=%s", enc);
			curl_free(enc);
			a->client_id = dr_xstrdup(client);
		}
		a->imds_url = dr_strbuf_detach(&sb, NULL);
	}
	*out = a;
	return 0;
fail:
	dr_azauth_free(a);
	return rc;
}

static void free_list(dr_azauth_wait *w)
{
	while (w) {
		dr_azauth_wait *n = w->next;

		free(w);
		w = n;
	}
}

void dr_azauth_free(dr_azauth *a)
{
	if (!a)
		return;
	if (a->xfer)
		dr_http_cancel(a->http, a->xfer);
	dr_loop_timer_cancel(a->loop, a->retry_timer);
	if (a->fetch_defer)
		dr_loop_defer_cancel(a->loop, a->fetch_defer);
	if (a->ready_defer)
		dr_loop_defer_cancel(a->loop, a->ready_defer);
	free_list(a->waiters);
	free_list(a->ready);
	if (a->token)
		OPENSSL_cleanse(a->token, strlen(a->token));
	if (a->secret)
		OPENSSL_cleanse(a->secret, strlen(a->secret));
	free(a->token);
	free(a->tenant);
	free(a->client_id);
	free(a->secret);
	free(a->cert_path);
	free(a->token_file);
	free(a->token_url);
	free(a->imds_url);
	free(a->scope);
	free(a);
}

dr_azauth_kind dr_azauth_kind_of(const dr_azauth *a)
{
	return a->kind;
}

unsigned dr_azauth_fetches(const dr_azauth *a)
{
	return a->fetches;
}

/* Hand every waiter of *list the outcome; each may free a (not the list). */
static void answer(dr_azauth *a, dr_azauth_wait **list, int rc, const char *msg)
{
	dr_azauth_wait *w = *list;
	char *tok = rc == 0 && a->token ? dr_xstrdup(a->token) : NULL;

	*list = NULL;
	/* A callback may free the credential: work from the detached list and
	 * the copied token only. */
	while (w) {
		dr_azauth_wait *n = w->next;
		dr_azauth_cb cb = w->cb;
		void *ud = w->ud;

		free(w);
		cb(ud, rc, rc == 0 ? tok : NULL, msg);
		w = n;
	}
	if (tok) {
		OPENSSL_cleanse(tok, strlen(tok));
		free(tok);
	}
}

static void on_ready(dr_loop *loop, void *ud)
{
	dr_azauth *a = ud;

	(void)loop;
	a->ready_defer = NULL;
	answer(a, &a->ready, 0, "");
}

static void fetch(dr_azauth *a);

static void on_retry(dr_loop *loop, void *ud)
{
	dr_azauth *a = ud;

	(void)loop;
	a->retry_timer = NULL;
	fetch(a);
}

static int64_t json_num(const json_t *v)
{
	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_real(v))
		return (int64_t)json_real_value(v);
	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	return -1;
}

static void fail_all(dr_azauth *a, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail_all(dr_azauth *a, int rc, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	/* An early refresh that fails leaves the current token in use until
	 * it really expires: a short outage of the identity platform must
	 * not stop a failover. */
	if (a->token && dr_loop_now(a->loop) < a->expires_at) {
		answer(a, &a->waiters, 0, "");
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	answer(a, &a->waiters, rc, msg);
}

static void on_token(dr_http_xfer *x, const dr_http_resp *r, void *ud)
{
	dr_azauth *a = ud;
	const char *flow = dr_azauth_kind_name(a->kind);
	const char *url = a->kind == DR_AZAUTH_MANAGED_IDENTITY ? a->imds_url
								 : a->token_url;
	char where[512];
	json_t *j = NULL;
	const char *tok;
	int64_t exp;

	(void)x;
	a->xfer = NULL;
	dr_http_redact_url(url, where, sizeof(where));
	if (a->kind == DR_AZAUTH_MANAGED_IDENTITY &&
	    (r->rc == DR_ETIMEOUT || r->rc == DR_EIO || r->status == 404 ||
	     r->status == 410 || r->status == 429 || r->status >= 500) &&
	    ++a->attempt < a->imds_attempts) {
		/* IMDS's documented retry: exponential backoff, 410 = updating. */
		uint64_t d = a->imds_retry_ms << (a->attempt - 1);

		a->retry_timer = dr_loop_timer(a->loop, d, on_retry, a);
		return;
	}
	if (r->rc < 0) {
		fail_all(a, r->rc == DR_ETIMEOUT ? DR_ETIMEOUT : DR_EIO,
			 "%s token request to %s failed: %s", flow, where, r->error);
		return;
	}
	j = json_loadb(r->body, r->body_len, 0, NULL);
	if (r->status != 200) {
		const char *code = json_string_value(json_object_get(j, "error"));
		const char *desc =
			json_string_value(json_object_get(j, "error_description"));

		fail_all(a, r->status >= 500 || r->status == 429 ? DR_EAGAIN
							       : DR_EINVAL,
			 "%s token request to %s refused (HTTP %ld): %s%s%s", flow,
			 where, r->status, code ? code : "no error code",
			 desc ? ": " : "", desc ? desc : "");
		json_decref(j);
		return;
	}
	tok = json_string_value(json_object_get(j, "access_token"));
	exp = json_num(json_object_get(j, "expires_in"));
	if (!tok || !*tok || exp <= 0) {
		fail_all(a, DR_EIO,
			 "%s token response from %s has no access_token or "
			 "expires_in", flow, where);
		json_decref(j);
		return;
	}
	if (a->token) {
		OPENSSL_cleanse(a->token, strlen(a->token));
		free(a->token);
	}
	a->token = dr_xstrdup(tok);
	a->gen++;
	{
		uint64_t life = (uint64_t)exp * 1000, early = life / 10;
		uint64_t now = dr_loop_now(a->loop);

		if (early > 300000)
			early = 300000;
		a->expires_at = now + life;
		a->refresh_at = now + life - early;
	}
	json_decref(j);
	answer(a, &a->waiters, 0, "");
}

static void add_form(dr_strbuf *sb, const char *k, const char *v)
{
	char *enc = curl_easy_escape(NULL, v, 0);

	dr_strbuf_addf(sb, "%s%s=%s", sb->len ? "&" : "", k, enc);
	curl_free(enc);
}

static char *read_token_file(const char *path)
{
	FILE *f = fopen(path, "r");
	dr_strbuf sb = DR_STRBUF_INIT;
	char buf[4096];
	size_t n;

	if (!f)
		return NULL;
	sb.max = MAX_TOKEN_FILE;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (dr_strbuf_add(&sb, buf, n) < 0) {
			fclose(f);
			dr_strbuf_release(&sb);
			return NULL;
		}
	}
	fclose(f);
	while (sb.len && isspace((unsigned char)sb.buf[sb.len - 1]))
		dr_strbuf_setlen(&sb, sb.len - 1);
	if (!sb.len) {
		dr_strbuf_release(&sb);
		return NULL;
	}
	return dr_strbuf_detach(&sb, NULL);
}

static void fetch(dr_azauth *a)
{
	dr_http_req req;
	dr_http_header h[2];
	dr_strbuf body = DR_STRBUF_INIT;
	int rc;

	memset(&req, 0, sizeof(req));
	req.timeout_ms = a->timeout_ms;
	req.max_response = 256 << 10;
	a->fetches++;
	if (a->kind == DR_AZAUTH_MANAGED_IDENTITY) {
		h[0].name = "Metadata";
		h[0].value = "true";
		req.method = "GET";
		req.url = a->imds_url;
		req.headers = h;
		req.nheaders = 1;
	} else {
		add_form(&body, "client_id", a->client_id);
		add_form(&body, "scope", a->scope);
		add_form(&body, "grant_type", "client_credentials");
		if (a->kind == DR_AZAUTH_SECRET) {
			add_form(&body, "client_secret", a->secret);
		} else {
			char *assertion = NULL;

			if (a->kind == DR_AZAUTH_CERTIFICATE) {
				rc = dr_azauth_cert_assertion(a->cert_path, a->client_id,
							      a->token_url,
							      dr_wall_ms() / 1000,
							      &assertion);
				if (rc < 0) {
					dr_strbuf_release(&body);
					fail_all(a, rc, "%s", dr_error_msg());
					return;
				}
			} else if (!(assertion = read_token_file(a->token_file))) {
				dr_strbuf_release(&body);
				fail_all(a, DR_EINVAL,
					 "workload identity: cannot read a token "
					 "from AZURE_FEDERATED_TOKEN_FILE '%s'",
					 a->token_file);
				return;
			}
			add_form(&body, "client_assertion_type",
				 "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
			add_form(&body, "client_assertion", assertion);
			OPENSSL_cleanse(assertion, strlen(assertion));
			free(assertion);
		}
		h[0].name = "Content-Type";
		h[0].value = "application/x-www-form-urlencoded";
		req.method = "POST";
		req.url = a->token_url;
		req.headers = h;
		req.nheaders = 1;
		req.body = body.buf;
		req.body_len = body.len;
	}
	rc = dr_http_start(a->http, &req, on_token, a, &a->xfer);
	if (body.len)
		OPENSSL_cleanse(body.buf, body.len);
	dr_strbuf_release(&body);
	if (rc < 0)
		fail_all(a, rc, "%s token request: %s",
			 dr_azauth_kind_name(a->kind), dr_error_msg());
}

static void on_fetch_defer(dr_loop *loop, void *ud)
{
	dr_azauth *a = ud;

	(void)loop;
	a->fetch_defer = NULL;
	fetch(a);
}

int dr_azauth_get(dr_azauth *a, bool force, dr_azauth_cb cb, void *ud,
		  dr_azauth_wait **wait)
{
	dr_azauth_wait *w = dr_xcalloc(1, sizeof(*w));
	bool busy = a->xfer || a->retry_timer || a->fetch_defer;
	uint64_t now = dr_loop_now(a->loop);

	w->a = a;
	w->cb = cb;
	w->ud = ud;
	if (wait)
		*wait = w;
	if (!busy && !force && a->token && now < a->refresh_at) {
		w->next = a->ready;
		a->ready = w;
		if (!a->ready_defer)
			a->ready_defer = dr_loop_defer(a->loop, on_ready, a);
		return 0;
	}
	w->next = a->waiters;
	a->waiters = w;
	if (!busy) {
		/* Fetch from the loop, so a failure never calls back from
		 * inside this call. */
		a->attempt = 0;
		a->fetch_defer = dr_loop_defer(a->loop, on_fetch_defer, a);
	}
	return 0;
}

static bool unlink_from(dr_azauth_wait **list, dr_azauth_wait *w)
{
	for (; *list; list = &(*list)->next) {
		if (*list == w) {
			*list = w->next;
			free(w);
			return true;
		}
	}
	return false;
}

void dr_azauth_cancel(dr_azauth *a, dr_azauth_wait *w)
{
	if (!w)
		return;
	if (!unlink_from(&a->waiters, w))
		unlink_from(&a->ready, w);
}

unsigned dr_azauth_generation(const dr_azauth *a)
{
	return a->gen;
}

void dr_azauth_invalidate(dr_azauth *a, unsigned gen)
{
	if (a->gen != gen || !a->token)
		return;
	OPENSSL_cleanse(a->token, strlen(a->token));
	free(a->token);
	a->token = NULL;
}
