/*
 * azblob.h - a small synchronous client for the Azure Blob Storage REST API,
 * for the state store (journal/store_azblob.c).
 *
 * One client talks to one container of one account through one libcurl easy
 * handle, so connections are kept alive between calls. It signs requests
 * (Shared Key, SAS or an Entra ID bearer token), retries transient faults
 * with bounded exponential backoff and jitter, and reports what came back;
 * deciding what a status means for the caller is the caller's job.
 *
 * Credentials, first match wins (fields of dr_azblob_opts override the
 * environment variable of the same meaning):
 *   1. AZURE_STORAGE_CONNECTION_STRING: AccountName, AccountKey,
 *      SharedAccessSignature, BlobEndpoint, DefaultEndpointsProtocol,
 *      EndpointSuffix, or UseDevelopmentStorage=true (Azurite's well-known
 *      account on http://127.0.0.1:10000);
 *   2. AZURE_STORAGE_KEY: the account key (base64), Shared Key;
 *   3. AZURE_STORAGE_SAS_TOKEN: a SAS query string (leading '?' optional);
 *   4. otherwise an Entra ID token from the provider's credential chain
 *      (provider/azauth.h) for https://storage.azure.com/.default.
 * The endpoint is AZURE_STORAGE_BLOB_ENDPOINT, else the connection string's
 * BlobEndpoint, else https://ACCOUNT.blob.core.windows.net (path-style
 * endpoints like Azurite's http://127.0.0.1:PORT/devstoreaccount1 work).
 * Plain http is refused except to a loopback host; https is verified.
 *
 * Secrets never appear in messages: errors name the store, the blob, the
 * HTTP status and Azure's error code, and never a URL with its query.
 */
#ifndef DR_AZBLOB_H
#define DR_AZBLOB_H

#include "core/strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The REST API version sent as x-ms-version (Azurite 3.x supports it). */
#define DR_AZBLOB_API_VERSION "2021-08-06"

/* Azurite's documented development account and key (public, not a secret). */
#define DR_AZBLOB_DEV_ACCOUNT "devstoreaccount1"
#define DR_AZBLOB_DEV_KEY                                                      \
	"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

typedef struct dr_azblob dr_azblob;

typedef struct dr_azblob_opts {
	/* NULL fields: the environment, see above. */
	const char *connection_string;
	const char *endpoint;
	const char *key;
	const char *sas;
	/* Transient faults: attempts in all (0: 6), first backoff (0: 250 ms,
	 * doubled each time, capped at 8 s, with jitter). */
	int attempts;
	unsigned retry_base_ms;
	unsigned timeout_ms;      /* per request; 0: 30 s */
	unsigned list_page;       /* maxresults of List Blobs; 0: the server's 5000 */
} dr_azblob_opts;

typedef struct dr_azblob_kv {
	const char *name;
	const char *value;
} dr_azblob_kv;

typedef struct dr_azblob_req {
	const char *method;       /* "GET", "HEAD", "PUT", "DELETE" */
	const char *blob;         /* blob name in the container; NULL: the container */
	const dr_azblob_kv *query; /* unescaped names and values */
	size_t nquery;
	const dr_azblob_kv *headers; /* x-ms-* headers, lowercase names */
	size_t nheaders;
	const char *if_match;     /* NULL: none */
	const char *if_none_match;
	const void *body;         /* PUT: the content (len may be 0) */
	size_t len;
	size_t body_max;          /* cap on the response body; 0: 1 MiB */
} dr_azblob_req;

typedef struct dr_azblob_resp {
	long status;              /* HTTP status of the last attempt */
	char code[80];            /* x-ms-error-code or <Code> of the body */
	char etag[96];
	char lease_id[80];
	int64_t content_length;   /* -1 when absent */
	int64_t range_total;      /* from Content-Range "bytes a-b/TOTAL"; -1 */
	int64_t append_offset;    /* x-ms-blob-append-offset; -1 */
	bool too_big;             /* the body passed body_max */
	/* An earlier attempt failed after the request may have reached the
	 * server: a 409/412 now may be the effect of our own first try. */
	bool unknown;
	int attempts;
	dr_strbuf body;
} dr_azblob_resp;

/* "azblob://ACCOUNT/CONTAINER" is desc, used in messages. */
int dr_azblob_new(const char *account, const char *container, const char *desc,
		  const dr_azblob_opts *opts, dr_azblob **out);
void dr_azblob_free(dr_azblob *c);

/* "shared-key", "sas" or "entra-id". */
const char *dr_azblob_auth_name(const dr_azblob *c);
unsigned dr_azblob_list_page(const dr_azblob *c);

void dr_azblob_resp_init(dr_azblob_resp *r);
void dr_azblob_resp_release(dr_azblob_resp *r);

/*
 * Send r, retrying transient faults (connection failures, timeouts, resets,
 * HTTP 408, 429, 500, 502, 503, 504). Returns 0 when a response came back
 * (any status, in resp; a 5xx after the last attempt too), or DR_EIO /
 * DR_ETIMEOUT with a message when no attempt got one, DR_EINVAL when the
 * credential cannot be used.
 */
int dr_azblob_call(dr_azblob *c, const dr_azblob_req *r, dr_azblob_resp *resp);

/*
 * Turn a response that is not what the caller wanted into a DR_E* code and
 * a message "DESC: WHAT: HTTP 412 ConditionNotMet" (plus a hint for
 * authentication failures): 404 DR_ENOTFOUND, 409/412 DR_ECONFLICT, 401/403
 * DR_EINVAL, 5xx and 429 DR_EAGAIN, else DR_ERR.
 */
int dr_azblob_fail(dr_azblob *c, const dr_azblob_resp *resp, const char *what);

/*
 * The Shared Key string to sign for a request (exposed for tests). date is
 * the x-ms-date value; content_type the Content-Type sent ("" when none).
 */
void dr_azblob_string_to_sign(const char *account, const char *url_path,
			      const dr_azblob_req *r, const char *date,
			      const char *content_type, dr_strbuf *out);

/*
 * Parse a List Blobs response body: calls fn with each blob name (XML
 * entities and Encoded="true" names decoded) and stores the NextMarker in
 * next (reset first; empty at the end). DR_EINVAL on malformed XML.
 */
int dr_azblob_parse_list(const char *xml, size_t len,
			 int (*fn)(void *ctx, const char *name), void *ctx,
			 dr_strbuf *next);

#endif
