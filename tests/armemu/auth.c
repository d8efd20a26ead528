/*
 * auth.c - client credentials (secret, certificate JWT, federated token),
 * IMDS and bearer token checks.
 */
#include "auth.h"

#include "core/alloc.h"
#include "core/error.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_TOKENS 4096

int arm_auth_init(arm_auth *a, const arm_auth_conf *conf)
{
	memset(a, 0, sizeof(*a));
	a->conf = *conf;
	if (!conf->cert_pub_pem)
		return 0;
	FILE *f = fopen(conf->cert_pub_pem, "r");
	if (!f)
		return dr_error_set(DR_EIO, "cannot open %s", conf->cert_pub_pem);
	EVP_PKEY *k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	if (!k) {
		rewind(f);
		X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
		if (x) {
			k = X509_get_pubkey(x);
			X509_free(x);
		}
	}
	fclose(f);
	if (!k)
		return dr_error_set(DR_EINVAL, "%s: no PEM public key or certificate",
				    conf->cert_pub_pem);
	a->pubkey = k;
	return 0;
}

void arm_auth_release(arm_auth *a)
{
	EVP_PKEY_free(a->pubkey);
	free(a->tokens);
	memset(a, 0, sizeof(*a));
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void arm_form_decode(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (*s == '+') {
			*o++ = ' ';
		} else if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			*o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

char *arm_form_get(const char *form, const char *key)
{
	size_t kl = strlen(key);
	const char *p = form;
	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len > kl && !strncmp(p, key, kl) && p[kl] == '=') {
			char *v = dr_xmalloc(len - kl);
			memcpy(v, p + kl + 1, len - kl - 1);
			v[len - kl - 1] = '\0';
			arm_form_decode(v);
			return v;
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

static json_t *aad_error(const char *error, int code, const char *desc)
{
	char d[512], ts[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%SZ", &tm);
	snprintf(d, sizeof(d), "AADSTS%d: %s", code, desc);
	return json_pack("{s:s,s:s,s:[i],s:s,s:s,s:s}", "error", error,
			 "error_description", d, "error_codes", code,
			 "timestamp", ts, "trace_id",
			 "00000000-0000-0000-0000-00000000aad1", "correlation_id",
			 "00000000-0000-0000-0000-00000000aad2");
}

static const char *issue(arm_auth *a, uint64_t now_ms, int64_t ttl_s,
			 uint64_t epoch)
{
	if (a->ntokens == MAX_TOKENS) {
		memmove(a->tokens, a->tokens + 1, (MAX_TOKENS - 1) * sizeof(*a->tokens));
		a->ntokens--;
	}
	if (!a->tokens)
		a->tokens = dr_xcalloc(MAX_TOKENS, sizeof(*a->tokens));
	arm_token *t = &a->tokens[a->ntokens++];
	unsigned char r[24];
	if (RAND_bytes(r, sizeof(r)) != 1) {
		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)rand();
	}
	memcpy(t->value, "emu.", 4);
	for (size_t i = 0; i < sizeof(r); i++)
		sprintf(t->value + 4 + 2 * i, "%02x", r[i]);
	t->expires_ms = now_ms + (uint64_t)ttl_s * 1000;
	t->epoch = epoch;
	return t->value;
}

/* base64url without padding; returns a malloc'd buffer, or NULL. */
static unsigned char *b64url_decode(const char *s, size_t len, size_t *out_len)
{
	size_t n = len + 4;
	char *t = dr_xmalloc(n + 1);
	size_t j = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (c == '=' || c == '+' || c == '/')
			goto fail;
		t[j++] = c;
	}
	while (j % 4)
		t[j++] = '=';
	t[j] = '\0';
	unsigned char *o = dr_xmalloc(j / 4 * 3 + 1);
	int r = EVP_DecodeBlock(o, (unsigned char *)t, (int)j);
	if (r < 0) {
		free(o);
		goto fail;
	}
	size_t pad = 0;
	while (pad < j && t[j - 1 - pad] == '=')
		pad++;
	*out_len = (size_t)r - pad;
	o[*out_len] = '\0';
	free(t);
	return o;
fail:
	free(t);
	return NULL;
}

/* Verify a certificate assertion; 0 or an AADSTS code with *desc. */
static int verify_jwt(arm_auth *a, const char *tenant, const char *jwt,
		      int64_t wall_s, const char **desc)
{
	const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d1 || !d2 || strchr(d2 + 1, '.')) {
		*desc = "The client assertion is not a JWT.";
		return 50027;
	}
	size_t hl, pl, sl;
	unsigned char *h = b64url_decode(jwt, (size_t)(d1 - jwt), &hl);
	unsigned char *p = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &pl);
	unsigned char *sig = b64url_decode(d2 + 1, strlen(d2 + 1), &sl);
	json_t *hj = h ? json_loadb((char *)h, hl, 0, NULL) : NULL;
	json_t *pj = p ? json_loadb((char *)p, pl, 0, NULL) : NULL;
	int code = 0;
	if (!hj || !pj || !sig) {
		*desc = "The client assertion is not a well-formed JWT.";
		code = 50027;
		goto out;
	}
	const char *alg = json_string_value(json_object_get(hj, "alg"));
	bool pss = alg && !strcmp(alg, "PS256");
	if (!alg || (!pss && strcmp(alg, "RS256"))) {
		*desc = "The client assertion's algorithm is not supported (RS256, PS256).";
		code = 5002730;
		goto out;
	}
	if (!a->pubkey) {
		*desc = "No certificate is registered for the application.";
		code = 700027;
		goto out;
	}
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ok = md && EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, a->pubkey) == 1;
	if (ok && pss)
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) > 0;
	ok = ok && EVP_DigestVerify(md, sig, sl, (const unsigned char *)jwt,
				    (size_t)(d2 - jwt)) == 1;
	EVP_MD_CTX_free(md);
	if (!ok) {
		*desc = "Client assertion contains an invalid signature.";
		code = 700027;
		goto out;
	}
	const char *aud = json_string_value(json_object_get(pj, "aud"));
	const char *iss = json_string_value(json_object_get(pj, "iss"));
	const char *sub = json_string_value(json_object_get(pj, "sub"));
	json_t *exp = json_object_get(pj, "exp"), *nbf = json_object_get(pj, "nbf");
	char want[256];
	snprintf(want, sizeof(want), "/%s/oauth2/v2.0/token", tenant);
	size_t al = aud ? strlen(aud) : 0, wl = strlen(want);
	if (!aud || al < wl || strcmp(aud + al - wl, want)) {
		*desc = "The audience claim of the client assertion does not name this token endpoint.";
		code = 700212;
	} else if (!iss || !sub || strcmp(iss, a->conf.client_id) ||
		   strcmp(sub, a->conf.client_id)) {
		*desc = "The iss and sub claims of the client assertion must be the client id.";
		code = 700021;
	} else if (!json_is_integer(exp) || json_integer_value(exp) <= wall_s) {
		*desc = "Client assertion is not within its valid time range (expired).";
		code = 700024;
	} else if (nbf && (!json_is_integer(nbf) || json_integer_value(nbf) > wall_s + 300)) {
		*desc = "Client assertion is not within its valid time range (not yet valid).";
		code = 700024;
	}
out:
	json_decref(hj);
	json_decref(pj);
	free(h);
	free(p);
	free(sig);
	return code;
}

void arm_auth_token(arm_auth *a, const char *tenant, const char *form,
		    const char *basic_user, const char *basic_pass,
		    uint64_t now_ms, int64_t wall_s, int64_t ttl_s,
		    uint64_t epoch, int *status, json_t **body)
{
	char *grant = arm_form_get(form, "grant_type");
	char *scope = arm_form_get(form, "scope");
	char *cid = arm_form_get(form, "client_id");
	char *secret = arm_form_get(form, "client_secret");
	char *atype = arm_form_get(form, "client_assertion_type");
	char *assertion = arm_form_get(form, "client_assertion");
	if (!cid && basic_user)
		cid = dr_xstrdup(basic_user);
	if (!secret && basic_pass)
		secret = dr_xstrdup(basic_pass);
	*status = 400;
	const char *desc;
	int code;
	if (strcmp(tenant, a->conf.tenant)) {
		*body = aad_error("invalid_tenant", 90002, "Tenant not found.");
	} else if (!grant || strcmp(grant, "client_credentials")) {
		*body = aad_error("unsupported_grant_type", 70003,
				  "The app requested an unsupported grant type; use client_credentials.");
	} else if (!scope || strcmp(scope, "https://management.azure.com/.default")) {
		*body = aad_error("invalid_scope", 70011,
				  "The provided value for the input parameter 'scope' is not valid.");
	} else if (!cid || strcmp(cid, a->conf.client_id)) {
		*body = aad_error("unauthorized_client", 700016,
				  "Application not found in the directory.");
	} else if (secret) {
		if (a->conf.client_secret && !strcmp(secret, a->conf.client_secret))
			goto ok;
		*status = 401;
		*body = aad_error("invalid_client", 7000215,
				  "Invalid client secret provided.");
	} else if (assertion) {
		if (!atype || strcmp(atype, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")) {
			*body = aad_error("invalid_request", 90014,
					  "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.");
		} else if (a->conf.federated_token &&
			   !strcmp(assertion, a->conf.federated_token)) {
			goto ok;
		} else if (!a->pubkey && a->conf.federated_token) {
			*status = 401;
			*body = aad_error("invalid_client", 700213,
					  "No matching federated identity record found for presented assertion.");
		} else if ((code = verify_jwt(a, tenant, assertion, wall_s, &desc)) != 0) {
			*status = 401;
			*body = aad_error("invalid_client", code, desc);
		} else {
			goto ok;
		}
	} else {
		*body = aad_error("invalid_client", 7000218,
				  "The request body must contain client_assertion or client_secret.");
	}
	goto out;
ok:
	*status = 200;
	*body = json_pack("{s:s,s:I,s:I,s:s}", "token_type", "Bearer",
			  "expires_in", (json_int_t)ttl_s, "ext_expires_in",
			  (json_int_t)ttl_s, "access_token",
			  issue(a, now_ms, ttl_s, epoch));
out:
	free(grant);
	free(scope);
	free(cid);
	free(secret);
	free(atype);
	free(assertion);
}

void arm_auth_imds(arm_auth *a, const char *metadata, const char *resource,
		   const char *api_version, uint64_t now_ms, int64_t wall_s,
		   int64_t ttl_s, uint64_t epoch, int *status, json_t **body)
{
	*status = 400;
	if (!metadata || strcmp(metadata, "true")) {
		*body = json_pack("{s:s,s:s}", "error", "invalid_request",
				  "error_description",
				  "Required metadata header not specified");
		return;
	}
	if (!api_version || strcmp(api_version, "2018-02-01") < 0) {
		*body = json_pack("{s:s,s:s}", "error", "invalid_request",
				  "error_description",
				  "Required query variable 'api-version' is missing or older than 2018-02-01");
		return;
	}
	if (!resource || !*resource) {
		*body = json_pack("{s:s,s:s}", "error", "invalid_request",
				  "error_description",
				  "Required query variable 'resource' is missing");
		return;
	}
	char in[32], on[32], nb[32];
	snprintf(in, sizeof(in), "%lld", (long long)ttl_s);
	snprintf(on, sizeof(on), "%lld", (long long)(wall_s + ttl_s));
	snprintf(nb, sizeof(nb), "%lld", (long long)wall_s);
	*status = 200;
	*body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "access_token",
			  issue(a, now_ms, ttl_s, epoch), "refresh_token", "",
			  "expires_in", in, "expires_on", on, "not_before", nb,
			  "resource", resource, "token_type", "Bearer");
}

int arm_auth_check(arm_auth *a, const char *authorization, uint64_t now_ms,
		   uint64_t epoch, const char **code, const char **msg)
{
	if (!authorization) {
		*code = "AuthenticationFailed";
		*msg = "Authentication failed. The 'Authorization' header is missing.";
		return -1;
	}
	if (strncmp(authorization, "Bearer ", 7)) {
		*code = "AuthenticationFailed";
		*msg = "Authentication failed. The 'Authorization' header is provided in an invalid format.";
		return -1;
	}
	const char *v = authorization + 7;
	for (size_t i = a->ntokens; i-- > 0;) {
		arm_token *t = &a->tokens[i];
		if (strcmp(t->value, v))
			continue;
		if (t->epoch != epoch || now_ms >= t->expires_ms) {
			*code = "ExpiredAuthenticationToken";
			*msg = "The access token expiry UTC time is earlier than current UTC time.";
			return -1;
		}
		return 0;
	}
	*code = "InvalidAuthenticationToken";
	*msg = "The access token is invalid.";
	return -1;
}
