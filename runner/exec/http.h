/*
 * http.h - an HTTP client on the one event loop (libcurl multi).
 *
 * One dr_http owns one CURLM bound to one dr_loop: libcurl's socket callback
 * becomes fd watchers, its timer callback one loop timer, and both call
 * curl_multi_socket_action(). Nothing blocks the loop; any number of
 * transfers run at once on the loop's thread. The Lua hooks and the Azure
 * provider share it.
 *
 * Every transfer is an explicit state machine (as in curl's own multi.c):
 *
 *     PENDING --start--> RUNNING --curl done--> DONE
 *        |                  |----curl error---> FAILED
 *        |                  '----cancel-------> CANCELLED
 *        '--------------------------cancel----> CANCELLED
 *
 * One transition function checks a legality table; DONE, FAILED and
 * CANCELLED are final. The completion callback runs exactly once for DONE
 * and FAILED, never for CANCELLED.
 *
 * Security rules, not options:
 *  - TLS peer and host verification are always on for https;
 *  - only http and https, also for redirects (which are off by default);
 *  - the response body and headers are capped: a response over the cap
 *    fails cleanly with DR_ELIMIT and "response larger than N bytes";
 *  - error messages name the URL without its query string or fragment and
 *    never show request headers (they carry tokens);
 *  - a POST always opens a fresh connection: libcurl would otherwise re-send
 *    it by itself when a reused connection dies before the answer, and a
 *    POST may change state (an ASR failover must never be sent twice).
 *
 * Ownership: the request is copied by dr_http_start(); the response passed
 * to the callback is borrowed and valid only during the call. The dr_http
 * owns every transfer; a transfer pointer is valid until its callback has
 * run or it was cancelled.
 */
#ifndef DR_EXEC_HTTP_H
#define DR_EXEC_HTTP_H

#include "exec/loop.h"

#include <stddef.h>
#include <stdint.h>

typedef struct dr_http dr_http;
typedef struct dr_http_xfer dr_http_xfer;

typedef struct dr_http_header {
	const char *name;  /* as sent; responses: lower-cased */
	const char *value; /* without surrounding blanks */
} dr_http_header;

typedef struct dr_http_req {
	const char *method;  /* "GET" when NULL */
	const char *url;     /* http:// or https:// */
	const dr_http_header *headers;
	size_t nheaders;
	const char *body;    /* may be NULL; bytes, not a C string */
	size_t body_len;
	uint64_t timeout_ms; /* whole transfer; 0: 30 s */
	size_t max_response; /* body bytes; 0: 4 MiB */
	unsigned max_redirects; /* 0: redirects are not followed */
} dr_http_req;

#define DR_HTTP_DEFAULT_TIMEOUT_MS 30000u
#define DR_HTTP_DEFAULT_MAX_RESPONSE ((size_t)4 << 20)
/* Response header bytes are capped separately. */
#define DR_HTTP_MAX_HEADER_BYTES ((size_t)64 << 10)

typedef struct dr_http_resp {
	/* 0 ok; DR_ETIMEOUT, DR_ELIMIT (response too big), DR_EIO (connect,
	 * TLS, protocol, ...), DR_EINVAL (bad URL or request). */
	int rc;
	const char *error;    /* "" when rc == 0; else one line, URL redacted */
	long status;          /* HTTP status of the last response, 0 if none */
	const dr_http_header *headers; /* of the last response */
	size_t nheaders;
	const char *body;     /* NUL-terminated for convenience */
	size_t body_len;
	uint64_t elapsed_ms;
} dr_http_resp;

typedef void (*dr_http_cb)(dr_http_xfer *x, const dr_http_resp *resp,
			   void *ud);

typedef enum dr_http_state {
	DR_HTTP_ST_PENDING,
	DR_HTTP_ST_RUNNING,
	DR_HTTP_ST_DONE,
	DR_HTTP_ST_FAILED,
	DR_HTTP_ST_CANCELLED,
	DR_HTTP__ST_COUNT
} dr_http_state;

/* "pending", "running", "done", "failed", "cancelled". */
const char *dr_http_state_name(dr_http_state st);

/* A client on loop. Returns 0, or DR_EIO when libcurl cannot start. */
int dr_http_new(dr_loop *loop, dr_http **out);
/* Cancels every transfer without calling callbacks. */
void dr_http_free(dr_http *c);

/*
 * Start a transfer; cb runs later from the loop (never from inside this
 * call), with rc 0 for any HTTP status. Returns 0 with *out (may be NULL),
 * or DR_EINVAL for a bad request (scheme, method, header with a line
 * break), with the reason in dr_error_msg().
 */
int dr_http_start(dr_http *c, const dr_http_req *req, dr_http_cb cb, void *ud,
		  dr_http_xfer **out);

/* Stop a transfer whose callback has not run; its callback never runs. */
void dr_http_cancel(dr_http *c, dr_http_xfer *x);

dr_http_state dr_http_xfer_state(const dr_http_xfer *x);
/* Transfers started and not yet finished or cancelled. */
size_t dr_http_active(const dr_http *c);

/* The value of a response header (name compared case-insensitively), or
 * NULL. Several headers of one name: the first. */
const char *dr_http_resp_header(const dr_http_resp *r, const char *name);

/* Copy url to buf without userinfo, query string and fragment, so it can
 * be logged ("https://h/p?sig=x" -> "https://h/p"). Truncates to size. */
void dr_http_redact_url(const char *url, char *buf, size_t size);

#endif
