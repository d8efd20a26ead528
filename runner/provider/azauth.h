/*
 * azauth.h - Azure credentials for ARM: the SDK environment chain, on the loop.
 *
 * The first credential that the environment configures is used, in the
 * order of the Azure SDK's EnvironmentCredential / WorkloadIdentity /
 * ManagedIdentity chain:
 *
 *   1. AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_SECRET
 *      client credentials with a secret (form field client_secret);
 *   2. AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_CLIENT_CERTIFICATE_PATH
 *      a PEM file with the private key and the certificate: a client
 *      assertion JWT (RS256, header x5t and x5t#S256 = base64url SHA-1 and
 *      SHA-256 of the certificate DER, aud = the token endpoint, iss = sub =
 *      client id, random jti, nbf = now, exp = now + 10 min), signed with
 *      OpenSSL for every token request;
 *   3. AZURE_TENANT_ID + AZURE_CLIENT_ID + AZURE_FEDERATED_TOKEN_FILE
 *      workload identity: the file's content (read again for every token
 *      request, because the kubelet rotates it) is the client_assertion;
 *   4. otherwise managed identity through IMDS: GET
 *      http://169.254.169.254/metadata/identity/oauth2/token
 *      ?api-version=2018-02-01&resource=<audience> with "Metadata: true"
 *      (and client_id=AZURE_CLIENT_ID when set, for a user-assigned
 *      identity). DRPLAN_IMDS_ENDPOINT replaces the whole token URL (tests
 *      point it at the emulator); AZURE_POD_IDENTITY_AUTHORITY_HOST replaces
 *      the host as in the Azure SDK.
 *
 * Client-credential flows POST to {authority}/{tenant}/oauth2/v2.0/token with
 * scope {audience}.default; authority defaults to AZURE_AUTHORITY_HOST or
 * https://login.microsoftonline.com.
 *
 * Tokens are cached and refreshed early: at expiry minus a tenth of the
 * lifetime, at most 5 minutes early; if that early fetch fails, the current
 * token is used until it really expires. Concurrent requests for a token
 * share one fetch. dr_azauth_get(force=true) drops the cached token first (the
 * provider does this once when ARM answers 401).
 *
 * Secrets (client secret, assertion, access tokens) never appear in error
 * messages: errors name the flow, the token endpoint without its query and
 * the identity platform's error code and description.
 *
 * Plain http is refused for the authority except on loopback; IMDS is http
 * by design (link-local or loopback only).
 */
#ifndef DR_AZAUTH_H
#define DR_AZAUTH_H

#include "exec/http.h"
#include "exec/loop.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum dr_azauth_kind {
	DR_AZAUTH_SECRET,
	DR_AZAUTH_CERTIFICATE,
	DR_AZAUTH_FEDERATED,
	DR_AZAUTH_MANAGED_IDENTITY,
} dr_azauth_kind;

/* "client-secret", "client-certificate", "workload-identity", "managed-identity". */
const char *dr_azauth_kind_name(dr_azauth_kind k);

typedef struct dr_azauth_opts {
	/* Every field may be NULL: the environment variable named above, then
	 * the built-in default. */
	const char *tenant_id;
	const char *client_id;
	const char *client_secret;
	const char *certificate_path;
	const char *federated_token_file;
	const char *authority_host;  /* https://login.microsoftonline.com */
	const char *imds_endpoint;   /* full token URL without query */
	const char *audience;        /* https://management.azure.com/ */
	/* IMDS retries (404, 429, 5xx, timeouts): first delay, doubled each
	 * time; 0: 1000 ms. Attempts 0: 5. */
	uint64_t imds_retry_ms;
	int imds_attempts;
	uint64_t timeout_ms;         /* per token request; 0: 30 s */
} dr_azauth_opts;

typedef struct dr_azauth dr_azauth;
typedef struct dr_azauth_wait dr_azauth_wait;

/*
 * Pick the credential from opts and the environment. http is borrowed and
 * must outlive the credential. Returns 0, or DR_EINVAL with a message (an
 * incomplete configuration, an unreadable or bad certificate file, plain
 * http to a non-loopback authority).
 */
int dr_azauth_new(dr_loop *loop, dr_http *http, const dr_azauth_opts *opts,
		  dr_azauth **out);
/* Drops pending waiters without calling them. */
void dr_azauth_free(dr_azauth *a);
dr_azauth_kind dr_azauth_kind_of(const dr_azauth *a);

/*
 * token: the access token, borrowed for the call. rc: 0; DR_EINVAL when the
 * identity platform refused the credential (msg says why); DR_EIO /
 * DR_ETIMEOUT / DR_EAGAIN when it could not be reached.
 */
typedef void (*dr_azauth_cb)(void *ud, int rc, const char *token,
			     const char *msg);

/*
 * Get a token: from the cache (cb still runs later, from the loop) or by
 * fetching one. force drops the cached token first (after a 401); a force
 * while a fetch runs joins that fetch. *wait (may be NULL) lets the caller
 * cancel before cb runs. Returns 0.
 */
int dr_azauth_get(dr_azauth *a, bool force, dr_azauth_cb cb, void *ud,
		  dr_azauth_wait **wait);
void dr_azauth_cancel(dr_azauth *a, dr_azauth_wait *w);

/*
 * The generation of the cached token (bumped for every new token). After a
 * 401, dr_azauth_invalidate(gen of the token that was sent) drops the token
 * only if no newer one arrived meanwhile, so many requests failing at once
 * cause one fetch.
 */
unsigned dr_azauth_generation(const dr_azauth *a);
void dr_azauth_invalidate(dr_azauth *a, unsigned gen);

/* Token requests sent so far (tests check caching and refresh). */
unsigned dr_azauth_fetches(const dr_azauth *a);

/*
 * Build a client assertion JWT from a PEM file holding a private RSA key and
 * its certificate. aud is the token endpoint URL, now_s the Unix time.
 * Returns 0 with *out (caller frees) or DR_EINVAL/DR_EIO with a message.
 */
int dr_azauth_cert_assertion(const char *pem_path, const char *client_id,
			     const char *aud, int64_t now_s, char **out);

/* base64url without padding of n bytes; caller frees. */
char *dr_azauth_b64url(const unsigned char *data, size_t n);

#endif
