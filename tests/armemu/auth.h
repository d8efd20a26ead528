/*
 * auth.h - the emulator's identity platform: token endpoint, IMDS, bearer
 * tokens.
 *
 * Tokens are opaque random strings kept in a table with their expiry (loop
 * milliseconds) and the faults' token epoch at issue: "expire-tokens" bumps
 * the epoch and so kills every token issued before.
 */
#ifndef ARMEMU_AUTH_H
#define ARMEMU_AUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct arm_auth_conf {
	const char *tenant;
	const char *client_id;
	const char *client_secret;    /* NULL: secrets refused */
	const char *cert_pub_pem;     /* file: PEM public key or certificate */
	const char *federated_token;  /* value the assertion must equal */
} arm_auth_conf;

typedef struct arm_token {
	char value[65];
	uint64_t expires_ms;
	uint64_t epoch;
} arm_token;

typedef struct arm_auth {
	arm_auth_conf conf;
	void *pubkey;                 /* EVP_PKEY, or NULL */
	arm_token *tokens;
	size_t ntokens;
} arm_auth;

/* 0, or DR_EINVAL / DR_EIO when the public key cannot be read. */
int arm_auth_init(arm_auth *a, const arm_auth_conf *conf);
void arm_auth_release(arm_auth *a);

/*
 * POST /{tenant}/oauth2/v2.0/token with the form body. Sets *status and
 * *body (caller decrefs): the token answer or an AAD error.
 * basic_user/basic_pass: HTTP Basic credentials or NULL.
 */
void arm_auth_token(arm_auth *a, const char *tenant, const char *form,
		    const char *basic_user, const char *basic_pass,
		    uint64_t now_ms, int64_t wall_s, int64_t ttl_s,
		    uint64_t epoch, int *status, json_t **body);

/* GET /metadata/identity/oauth2/token: metadata is the Metadata header. */
void arm_auth_imds(arm_auth *a, const char *metadata, const char *resource,
		   const char *api_version, uint64_t now_ms, int64_t wall_s,
		   int64_t ttl_s, uint64_t epoch, int *status, json_t **body);

/*
 * Check an Authorization header. Returns 0 when valid, else sets *code and
 * *msg (static strings) for ARM's 401 body.
 */
int arm_auth_check(arm_auth *a, const char *authorization, uint64_t now_ms,
		   uint64_t epoch, const char **code, const char **msg);

/* Percent-decode a form field (in place; '+' is a space). */
void arm_form_decode(char *s);
/* The value of key in a urlencoded form, decoded (caller frees), or NULL. */
char *arm_form_get(const char *form, const char *key);

#endif
