/*
 * store_azblob.c - the state store on Azure Blob Storage (see store_azblob.h).
 *
 * Every operation maps to one REST call in the common case; conflicts are
 * reported, never retried blindly, because a 409 or 412 means another
 * writer. The only re-reads are the ones that decide an unknown outcome.
 */
#include "journal/store_azblob.h"

#include "core/alloc.h"
#include "core/error.h"
#include "journal/store_impl.h"

#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct az_lock az_lock;

typedef struct az_store {
	struct dr_store base;
	dr_azblob *c;
	char *prefix;     /* "" or "PREFIX/" */
	az_lock *locks;   /* held through this store, for keep_alive() */
	int auto_lease_s; /* ttl_ms 0: AUTO_LEASE_S or $DRPLAN_LOCK_TTL */
	bool in_keep_alive;
} az_store;

struct az_lock {
	struct dr_store_lock base;
	az_lock *next;
	char *blob;
	char lease_id[40];
	int seconds;
	bool auto_renew;  /* ttl_ms 0: the store renews it during its calls */
	bool lost;        /* an automatic renew was refused */
	uint64_t valid_from_ms; /* monotonic time the last acquire/renew was sent */
};

/* ttl_ms 0: a lease of this length, renewed by the store after a third of it. */
#define AUTO_LEASE_S 60

static const struct dr_store_ops az_ops;
static void keep_alive(az_store *a);

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void blob_name(az_store *a, const char *key, dr_strbuf *out)
{
	dr_strbuf_reset(out);
	dr_strbuf_addf(out, "%s%s", a->prefix, key);
}

/* "DESC: KEY: WHAT" for dr_azblob_fail(). */
static int fail(az_store *a, const dr_azblob_resp *r, const char *key, const char *what)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	int rc;

	dr_strbuf_addf(&sb, "%s: %s", key, what);
	rc = dr_azblob_fail(a->c, r, sb.buf);
	dr_strbuf_release(&sb);
	return rc;
}

/*
 * A transport failure: dr_azblob_call()'s message already names the store
 * and the blob; the caller treats the outcome of a write as unknown.
 */
static int transport(az_store *a, int rc, const char *key)
{
	(void)a;
	(void)key;
	return rc;
}

static bool code_is(const dr_azblob_resp *r, const char *code)
{
	return !strcmp(r->code, code);
}

/* ---- reads ---- */

/*
 * GET blob bytes [offset, offset+max) (max 0: to the end, at most
 * DR_STORE_READ_MAX) into out. etag (may be NULL) receives the ETag.
 */
static int az_read_etag(az_store *a, const char *key, uint64_t offset, size_t max,
			dr_strbuf *out, char *etag, size_t etag_size)
{
	dr_strbuf blob = DR_STRBUF_INIT;
	dr_azblob_resp r;
	char range[64];
	dr_azblob_kv hdr[1];
	size_t nh = 0;
	int rc;

	dr_strbuf_reset(out);
	if (max)
		snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)offset,
			 (unsigned long long)(offset + max - 1));
	else
		snprintf(range, sizeof(range), "bytes=%llu-", (unsigned long long)offset);
	if (max || offset)
		hdr[nh++] = (dr_azblob_kv){ "x-ms-range", range };
	blob_name(a, key, &blob);
	dr_azblob_req req = { .method = "GET", .blob = blob.buf, .headers = hdr,
			      .nheaders = nh, .body_max = (max ? max : DR_STORE_READ_MAX) + 1 };
	dr_azblob_resp_init(&r);
	rc = dr_azblob_call(a->c, &req, &r);
	if (rc) {
		rc = transport(a, rc, key);
		goto out;
	}
	if (r.status == 416) {
		/* At or past the end (or an empty blob): nothing to read. */
		goto out;
	}
	if (r.status == 404) {
		rc = dr_error_set(DR_ENOTFOUND, "state store %s: %s: not found",
				  a->base.spec, key);
		goto out;
	}
	if (r.status != 200 && r.status != 206) {
		rc = fail(a, &r, key, "read");
		goto out;
	}
	if (r.too_big || (!max && r.body.len > DR_STORE_READ_MAX)) {
		rc = dr_error_set(DR_ELIMIT, "state store %s: %s: more than the %u byte limit",
				  a->base.spec, key, DR_STORE_READ_MAX);
		goto out;
	}
	if (max && r.body.len > max)
		dr_strbuf_setlen(&r.body, max);
	if ((rc = dr_strbuf_add(out, r.body.buf, r.body.len)) < 0) {
		rc = dr_error_set(rc, "state store %s: %s: %s", a->base.spec, key,
				  dr_error_msg());
		goto out;
	}
	if (etag)
		snprintf(etag, etag_size, "%s", r.etag);
out:
	dr_azblob_resp_release(&r);
	dr_strbuf_release(&blob);
	return rc;
}

static int az_read(dr_store *s, const char *key, uint64_t offset, size_t max,
		   dr_strbuf *out)
{
	keep_alive((az_store *)s);
	return az_read_etag((az_store *)s, key, offset, max, out, NULL, 0);
}

static int az_size(dr_store *s, const char *key, uint64_t *size)
{
	az_store *a = (az_store *)s;
	dr_strbuf blob = DR_STRBUF_INIT;
	dr_azblob_resp r;
	int rc;

	*size = 0;
	keep_alive(a);
	blob_name(a, key, &blob);
	dr_azblob_req req = { .method = "HEAD", .blob = blob.buf };
	dr_azblob_resp_init(&r);
	rc = dr_azblob_call(a->c, &req, &r);
	if (rc)
		rc = transport(a, rc, key);
	else if (r.status == 404)
		rc = dr_error_set(DR_ENOTFOUND, "state store %s: %s: not found",
				  s->spec, key);
	else if (r.status != 200 || r.content_length < 0)
		rc = fail(a, &r, key, "size");
	else
		*size = (uint64_t)r.content_length;
	dr_azblob_resp_release(&r);
	dr_strbuf_release(&blob);
	return rc;
}

/* ---- log objects ---- */

/* Create an empty append blob unless something is there already. */
static int create_append_blob(az_store *a, const char *key, const char *blob)
{
	dr_azblob_kv hdr[] = { { "x-ms-blob-type", "AppendBlob" } };
	dr_azblob_req req = { .method = "PUT", .blob = blob, .headers = hdr,
			      .nheaders = 1, .if_none_match = "*" };
	dr_azblob_resp r;
	int rc;

	dr_azblob_resp_init(&r);
	rc = dr_azblob_call(a->c, &req, &r);
	if (rc)
		rc = transport(a, rc, key);
	else if (r.status != 201 && !(r.status == 409 && code_is(&r, "BlobAlreadyExists")))
		rc = fail(a, &r, key, "create append blob");
	dr_azblob_resp_release(&r);
	return rc;
}

/*
 * After an append with an unknown outcome was refused: are data's bytes at
 * expected? 1 yes, 0 no (*size receives the size), <0 error.
 */
static int append_landed(az_store *a, const char *key, const void *data, size_t len,
			 uint64_t expected, uint64_t *size)
{
	dr_strbuf got = DR_STRBUF_INIT;
	int rc = az_size(&a->base, key, size);

	if (rc)
		return rc;
	if (*size < expected + len)
		return 0;
	rc = az_read_etag(a, key, expected, len, &got, NULL, 0);
	if (!rc)
		rc = got.len == len && !memcmp(got.buf, data, len);
	dr_strbuf_release(&got);
	return rc;
}

static int az_append(dr_store *s, const char *key, const void *data, size_t len,
		     uint64_t expected)
{
	az_store *a = (az_store *)s;
	dr_strbuf blob = DR_STRBUF_INIT;
	dr_azblob_resp r;
	char pos[32];
	bool created = false, unknown = false;
	uint64_t size = 0;
	int rc;

	keep_alive(a);
	blob_name(a, key, &blob);
	snprintf(pos, sizeof(pos), "%llu", (unsigned long long)expected);
	dr_azblob_kv q[] = { { "comp", "appendblock" } };
	dr_azblob_kv hdr[] = { { "x-ms-blob-condition-appendpos", pos } };
	dr_azblob_req req = { .method = "PUT", .blob = blob.buf, .query = q, .nquery = 1,
			      .headers = hdr, .nheaders = 1, .body = data, .len = len };
	dr_azblob_resp_init(&r);
again:
	rc = dr_azblob_call(a->c, &req, &r);
	if (rc) {
		rc = transport(a, rc, key);
		goto out;
	}
	unknown = unknown || r.unknown;
	if (r.status == 201) {
		goto out;
	}
	if (r.status == 404 && code_is(&r, "BlobNotFound") && !created) {
		if (expected != 0) {
			rc = dr_error_set(DR_ENOTFOUND, "state store %s: %s: does not exist "
					  "(expected %llu bytes)", s->spec, key,
					  (unsigned long long)expected);
			goto out;
		}
		if ((rc = create_append_blob(a, key, blob.buf)))
			goto out;
		created = true;
		goto again;
	}
	if (r.status == 412 && code_is(&r, "AppendPositionConditionNotMet")) {
		if (unknown) {
			rc = append_landed(a, key, data, len, expected, &size);
			if (rc == 1) {
				/* Our earlier attempt went through after all. */
				rc = 0;
				goto out;
			}
			if (rc < 0)
				goto out;
		} else if ((rc = az_size(s, key, &size)) < 0) {
			goto out;
		}
		rc = dr_error_set(DR_ECONFLICT, "state store %s: %s: size is %llu bytes, "
				  "expected %llu (another writer?)", s->spec, key,
				  (unsigned long long)size, (unsigned long long)expected);
		goto out;
	}
	if (r.status == 409 && code_is(&r, "InvalidBlobType")) {
		rc = dr_error_set(DR_EINVAL, "state store %s: %s: not a log object "
				  "(it was written with put)", s->spec, key);
		goto out;
	}
	if (r.status == 409 && code_is(&r, "BlockCountExceedsLimit")) {
		rc = dr_error_set(DR_ELIMIT, "state store %s: %s: an append blob takes at "
				  "most 50000 appends", s->spec, key);
		goto out;
	}
	rc = fail(a, &r, key, "append");
out:
	dr_azblob_resp_release(&r);
	dr_strbuf_release(&blob);
	return rc;
}

/* ---- whole objects ---- */

/* PUT a block blob; lease may be NULL. etag_out receives the new ETag. */
static int put_block_blob(az_store *a, const char *key, const char *blob,
			  const void *data, size_t len, const char *if_match,
			  const char *lease, dr_azblob_resp *r)
{
	dr_azblob_kv hdr[2] = { { "x-ms-blob-type", "BlockBlob" } };
	size_t nh = 1;
	int rc;

	if (lease)
		hdr[nh++] = (dr_azblob_kv){ "x-ms-lease-id", lease };
	dr_azblob_req req = { .method = "PUT", .blob = blob, .headers = hdr, .nheaders = nh,
			      .body = data, .len = len };
	if (if_match && !*if_match)
		req.if_none_match = "*";
	else if (if_match)
		req.if_match = if_match;
	rc = dr_azblob_call(a->c, &req, r);
	if (rc)
		rc = transport(a, rc, key);
	return rc;
}

static int az_put(dr_store *s, const char *key, const void *data, size_t len,
		  const char *if_match, char **new_version)
{
	az_store *a = (az_store *)s;
	dr_strbuf blob = DR_STRBUF_INIT, cur = DR_STRBUF_INIT;
	dr_azblob_resp r;
	char etag[96];
	int rc;

	keep_alive(a);
	blob_name(a, key, &blob);
	dr_azblob_resp_init(&r);
	rc = put_block_blob(a, key, blob.buf, data, len, if_match, NULL, &r);
	if (rc)
		goto out;
	if (r.status == 201) {
		if (new_version)
			*new_version = dr_xstrdup(r.etag);
		goto out;
	}
	bool conflict = r.status == 412 || (r.status == 409 && code_is(&r, "BlobAlreadyExists")) ||
			(r.status == 404 && if_match && *if_match);
	if (conflict && r.unknown) {
		/* Maybe our first attempt wrote it: the same bytes mean it did. */
		rc = az_read_etag(a, key, 0, 0, &cur, etag, sizeof(etag));
		if (!rc && cur.len == len && !memcmp(cur.buf, data, len)) {
			if (new_version)
				*new_version = dr_xstrdup(etag);
			goto out;
		}
		rc = 0;
	}
	if (r.status == 409 && code_is(&r, "BlobAlreadyExists"))
		rc = dr_error_set(DR_ECONFLICT, "state store %s: %s: already exists",
				  s->spec, key);
	else if (r.status == 412 || r.status == 404)
		rc = dr_error_set(DR_ECONFLICT, "state store %s: %s: changed since it was "
				  "read (or no longer exists)", s->spec, key);
	else if (r.status == 409 && (code_is(&r, "LeaseIdMissing") ||
				     code_is(&r, "LeaseIdMismatchWithBlobOperation")))
		rc = dr_error_set(DR_ECONFLICT, "state store %s: %s: leased by a lock holder",
				  s->spec, key);
	else
		rc = fail(a, &r, key, "put");
out:
	dr_azblob_resp_release(&r);
	dr_strbuf_release(&blob);
	dr_strbuf_release(&cur);
	return rc;
}

static int az_get(dr_store *s, const char *key, dr_strbuf *out, char **version)
{
	char etag[96];
	int rc;

	keep_alive((az_store *)s);
	rc = az_read_etag((az_store *)s, key, 0, 0, out, etag, sizeof(etag));

	if (!rc && version)
		*version = dr_xstrdup(etag);
	return rc;
}

/* ---- list, remove ---- */

struct list_ctx {
	az_store *a;
	size_t skip;            /* strlen of the store prefix */
	dr_store_list_fn fn;
	void *ctx;
};

static int list_one(void *ud, const char *name)
{
	struct list_ctx *lc = ud;
	const char *key;

	if (strlen(name) <= lc->skip)
		return 0;
	key = name + lc->skip;
	/* Other blobs in the container are not ours to show. */
	if (dr_store_key_valid(key) < 0)
		return 0;
	return lc->fn(lc->ctx, key);
}

static int az_list(dr_store *s, const char *prefix, dr_store_list_fn fn, void *ctx)
{
	az_store *a = (az_store *)s;
	dr_strbuf full = DR_STRBUF_INIT, marker = DR_STRBUF_INIT, next = DR_STRBUF_INIT;
	struct list_ctx lc = { a, strlen(a->prefix), fn, ctx };
	dr_azblob_resp r;
	char page[16];
	int rc = 0;

	keep_alive(a);
	dr_strbuf_addf(&full, "%s%s", a->prefix, prefix);
	snprintf(page, sizeof(page), "%u", dr_azblob_list_page(a->c));
	dr_azblob_resp_init(&r);
	for (;;) {
		dr_azblob_kv q[5] = { { "restype", "container" }, { "comp", "list" } };
		size_t nq = 2;
		if (full.len)
			q[nq++] = (dr_azblob_kv){ "prefix", full.buf };
		if (marker.len)
			q[nq++] = (dr_azblob_kv){ "marker", marker.buf };
		if (dr_azblob_list_page(a->c))
			q[nq++] = (dr_azblob_kv){ "maxresults", page };
		dr_azblob_req req = { .method = "GET", .query = q, .nquery = nq,
				      .body_max = 64u << 20 };
		rc = dr_azblob_call(a->c, &req, &r);
		if (rc) {
			rc = transport(a, rc, prefix[0] ? prefix : "(all)");
			break;
		}
		if (r.status != 200) {
			rc = fail(a, &r, prefix[0] ? prefix : "(all)", "list");
			break;
		}
		rc = dr_azblob_parse_list(r.body.buf, r.body.len, list_one, &lc, &next);
		if (rc < 0)
			rc = dr_error_set(rc, "state store %s: %s", s->spec, dr_error_msg());
		if (rc || !next.len)
			break;
		dr_strbuf_reset(&marker);
		dr_strbuf_add(&marker, next.buf, next.len);
	}
	dr_azblob_resp_release(&r);
	dr_strbuf_release(&full);
	dr_strbuf_release(&marker);
	dr_strbuf_release(&next);
	return rc;
}

static int az_remove(dr_store *s, const char *key)
{
	az_store *a = (az_store *)s;
	dr_strbuf blob = DR_STRBUF_INIT;
	dr_azblob_resp r;
	int rc;

	keep_alive(a);
	blob_name(a, key, &blob);
	dr_azblob_req req = { .method = "DELETE", .blob = blob.buf };
	dr_azblob_resp_init(&r);
	rc = dr_azblob_call(a->c, &req, &r);
	if (rc)
		rc = transport(a, rc, key);
	else if (r.status == 404 && r.unknown)
		rc = 0; /* our first attempt deleted it */
	else if (r.status == 404)
		rc = dr_error_set(DR_ENOTFOUND, "state store %s: %s: not found", s->spec, key);
	else if (r.status == 409 && code_is(&r, "LeaseIdMissing"))
		rc = dr_error_set(DR_ECONFLICT, "state store %s: %s: leased by a lock holder",
				  s->spec, key);
	else if (r.status != 202 && r.status != 200)
		rc = fail(a, &r, key, "remove");
	dr_azblob_resp_release(&r);
	dr_strbuf_release(&blob);
	return rc;
}

/* ---- locks ---- */

/* ttl_ms 0: $DRPLAN_LOCK_TTL (store.h) or AUTO_LEASE_S. */
static int auto_lease_from_env(int *out)
{
	unsigned ms;
	int rc = dr_store_lock_ttl_env(&ms);

	*out = ms ? (int)(ms / 1000u) : AUTO_LEASE_S;
	return rc;
}

int dr_store_azblob_lease_seconds(unsigned ttl_ms)
{
	unsigned sec;

	if (ttl_ms == 0)
		return AUTO_LEASE_S;
	sec = ttl_ms / 1000 + (ttl_ms % 1000 != 0);
	return sec < 15 ? 15 : sec > 60 ? 60 : (int)sec;
}

static void new_lease_id(char out[40])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1) {
		/* Only a hint to Azure: uniqueness across clients is what counts. */
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)(rand() ^ (int)(mono_ms() >> (i % 8)));
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
		 b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static int lease_call(az_store *a, const char *blob, const char *action,
		      const char *lease_id, int seconds, dr_azblob_resp *r)
{
	char dur[16];
	dr_azblob_kv q[] = { { "comp", "lease" } };
	dr_azblob_kv hdr[3] = { { "x-ms-lease-action", action } };
	size_t nh = 1;

	if (!strcmp(action, "acquire")) {
		snprintf(dur, sizeof(dur), "%d", seconds);
		hdr[nh++] = (dr_azblob_kv){ "x-ms-lease-duration", dur };
		hdr[nh++] = (dr_azblob_kv){ "x-ms-proposed-lease-id", lease_id };
	} else {
		hdr[nh++] = (dr_azblob_kv){ "x-ms-lease-id", lease_id };
	}
	dr_azblob_req req = { .method = "PUT", .blob = blob, .query = q, .nquery = 1,
			      .headers = hdr, .nheaders = nh };
	return dr_azblob_call(a->c, &req, r);
}

/*
 * Renew the automatic leases that are a third through (ttl_ms 0: the
 * caller does not renew, so every call to the store does it for them; an
 * attached runner reads its control object every second). A refusal marks
 * the lock lost for the next dr_store_lock_renew(); a transport failure is
 * left for the next call.
 */
static void keep_alive(az_store *a)
{
	uint64_t now = mono_ms();

	if (a->in_keep_alive)
		return;
	a->in_keep_alive = true;
	for (az_lock *l = a->locks; l; l = l->next) {
		if (!l->auto_renew || l->lost ||
		    now - l->valid_from_ms < (uint64_t)l->seconds * 1000u / 3)
			continue;
		dr_azblob_resp r;
		dr_azblob_resp_init(&r);
		if (lease_call(a, l->blob, "renew", l->lease_id, 0, &r) == 0) {
			if (r.status == 200)
				l->valid_from_ms = now;
			else if (r.status == 409 || r.status == 404 || r.status == 412)
				l->lost = true;
		}
		dr_azblob_resp_release(&r);
	}
	a->in_keep_alive = false;
}

static int az_lock_take(dr_store *s, const char *name, const char *holder_json,
			unsigned ttl_ms, dr_store_lock **out, char **holder_out)
{
	az_store *a = (az_store *)s;
	dr_strbuf key = DR_STRBUF_INIT, blob = DR_STRBUF_INIT, cur = DR_STRBUF_INIT;
	dr_azblob_resp r;
	char lease[40];
	int seconds = ttl_ms ? dr_store_azblob_lease_seconds(ttl_ms) : a->auto_lease_s, rc = 0;
	uint64_t sent = 0;

	keep_alive(a);
	dr_strbuf_addf(&key, "locks/%s.lock", name);
	blob_name(a, key.buf, &blob);
	/* A proposed id makes a retried acquire idempotent: the same id renews. */
	new_lease_id(lease);
	dr_azblob_resp_init(&r);
	for (int tries = 0;; tries++) {
		sent = mono_ms();
		rc = lease_call(a, blob.buf, "acquire", lease, seconds, &r);
		if (rc) {
			rc = transport(a, rc, key.buf);
			goto out;
		}
		if (r.status == 201 || r.status == 200)
			break;
		if (r.status == 404 && tries < 3) {
			/* First use of this lock: an empty holder blob to lease. */
			dr_azblob_resp c;
			dr_azblob_resp_init(&c);
			rc = put_block_blob(a, key.buf, blob.buf, "", 0, "", NULL, &c);
			if (!rc && c.status != 201 &&
			    !(c.status == 409 && (code_is(&c, "BlobAlreadyExists") ||
						  code_is(&c, "LeaseIdMissing"))))
				rc = fail(a, &c, key.buf, "create lock blob");
			dr_azblob_resp_release(&c);
			if (rc)
				goto out;
			continue;
		}
		if (r.status == 409 && (code_is(&r, "LeaseAlreadyPresent") ||
					code_is(&r, "LeaseIsBrokenAndCannotBeRenewed") ||
					code_is(&r, "LeaseIsBreakingAndCannotBeAcquired"))) {
			dr_strbuf desc = DR_STRBUF_INIT;
			if (az_read_etag(a, key.buf, 0, 0, &cur, NULL, 0) < 0)
				dr_strbuf_reset(&cur);
			while (cur.len && (cur.buf[cur.len - 1] == '\n' ||
					   cur.buf[cur.len - 1] == '\0'))
				dr_strbuf_setlen(&cur, cur.len - 1);
			dr_store_lock_describe(cur.buf, &desc);
			rc = dr_error_set(DR_ECONFLICT, "lock '%s' is held by %s", name, desc.buf);
			dr_strbuf_release(&desc);
			if (holder_out)
				*holder_out = dr_xstrdup(cur.buf);
			goto out;
		}
		rc = fail(a, &r, key.buf, "acquire lease");
		goto out;
	}
	/* Write the holder under the lease, so a refused runner can name us. */
	dr_azblob_resp_release(&r);
	dr_azblob_resp_init(&r);
	rc = put_block_blob(a, key.buf, blob.buf, holder_json, strlen(holder_json), NULL,
			    lease, &r);
	if (!rc && r.status != 201)
		rc = fail(a, &r, key.buf, "write lock holder");
	if (rc) {
		int keep = rc;
		dr_strbuf msg = DR_STRBUF_INIT;
		dr_strbuf_addstr(&msg, dr_error_msg());
		dr_azblob_resp_release(&r);
		dr_azblob_resp_init(&r);
		(void)lease_call(a, blob.buf, "release", lease, 0, &r);
		rc = dr_error_set(keep, "%s", msg.buf);
		dr_strbuf_release(&msg);
		goto out;
	}
	az_lock *l = dr_xcalloc(1, sizeof(*l));
	l->base.store = s;
	l->base.name = dr_xstrdup(name);
	l->base.holder = dr_xstrdup(holder_json);
	l->blob = dr_strbuf_detach(&blob, NULL);
	memcpy(l->lease_id, lease, sizeof(lease));
	l->seconds = seconds;
	l->auto_renew = ttl_ms == 0;
	l->valid_from_ms = sent;
	l->next = a->locks;
	a->locks = l;
	*out = &l->base;
out:
	dr_azblob_resp_release(&r);
	dr_strbuf_release(&key);
	dr_strbuf_release(&blob);
	dr_strbuf_release(&cur);
	return rc;
}

static int az_lock_renew(dr_store_lock *base)
{
	az_lock *l = (az_lock *)base;
	az_store *a = (az_store *)base->store;
	dr_azblob_resp r;
	uint64_t sent = mono_ms();
	int rc;

	if (l->lost)
		return dr_error_set(DR_ECONFLICT, "state store %s: lock '%s' lost: the lease "
				    "was taken, broken or removed", base->store->spec, base->name);
	/* Past its ttl the caller may not assume it still holds the lock, even
	 * if Azure would renew: a partitioned runner must stop by itself. */
	if (!l->auto_renew && sent - l->valid_from_ms >= (uint64_t)l->seconds * 1000u)
		return dr_error_set(DR_ECONFLICT, "state store %s: lock '%s' lost: its %d s "
				    "lease ran out %llu ms ago without a renew",
				    base->store->spec, base->name, l->seconds,
				    (unsigned long long)(sent - l->valid_from_ms -
							 (uint64_t)l->seconds * 1000u));
	dr_azblob_resp_init(&r);
	rc = lease_call(a, l->blob, "renew", l->lease_id, 0, &r);
	if (rc) {
		rc = dr_error_set(rc, "state store %s: lock '%s': renew: %s", base->store->spec,
				  base->name, dr_error_msg());
	} else if (r.status == 200) {
		l->valid_from_ms = sent;
	} else if (r.status == 409 || r.status == 404 || r.status == 412) {
		l->lost = true;
		rc = dr_error_set(DR_ECONFLICT, "state store %s: lock '%s' lost: the lease "
				  "was taken, broken or removed (HTTP %ld %s)",
				  base->store->spec, base->name, r.status, r.code);
	} else {
		rc = fail(a, &r, base->name, "renew lease");
	}
	dr_azblob_resp_release(&r);
	return rc;
}

static int az_unlock(dr_store_lock *base)
{
	az_lock *l = (az_lock *)base;
	az_store *a = (az_store *)base->store;
	dr_azblob_resp r;
	int rc;

	for (az_lock **pp = &a->locks; *pp; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
	/* Clear the holder while still holding the lease, then let go. */
	dr_azblob_resp_init(&r);
	rc = put_block_blob(a, base->name, l->blob, "", 0, NULL, l->lease_id, &r);
	if (!rc && r.status != 201)
		rc = fail(a, &r, base->name, "clear lock holder");
	dr_azblob_resp_release(&r);
	dr_azblob_resp_init(&r);
	int rc2 = lease_call(a, l->blob, "release", l->lease_id, 0, &r);
	/* A retried release that finds no lease: the first one released it. */
	if (!rc2 && r.status == 409 && r.unknown && !rc)
		r.status = 200;
	if (!rc2 && r.status != 200)
		rc2 = r.status == 409 ? dr_error_set(DR_ECONFLICT, "state store %s: lock '%s' "
						     "was lost before its release (HTTP 409 %s)",
						     base->store->spec, base->name, r.code)
				      : fail(a, &r, base->name, "release lease");
	if (!rc)
		rc = rc2;
	dr_azblob_resp_release(&r);
	free(l->blob);
	free(base->name);
	free(base->holder);
	free(l);
	return rc;
}

static void az_free(dr_store *s)
{
	az_store *a = (az_store *)s;

	dr_azblob_free(a->c);
	free(a->prefix);
	free(s->spec);
	free(a);
}

static const struct dr_store_ops az_ops = {
	.name = "azblob",
	.append = az_append,
	.read = az_read,
	.size = az_size,
	.truncate = NULL, /* appends are atomic: no torn tails to cut */
	.put = az_put,
	.get = az_get,
	.list = az_list,
	.remove = az_remove,
	.lock = az_lock_take,
	.renew = az_lock_renew,
	.unlock = az_unlock,
	.free = az_free,
};

/* ---- open ---- */

static bool valid_account(const char *s, size_t n)
{
	if (n < 3 || n > 24)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

static bool valid_container(const char *s, size_t n)
{
	if (n < 3 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-'))
			return false;
		if (s[i] == '-' && i && s[i - 1] == '-')
			return false;
	}
	return true;
}

/* Is the container there? With create, make it. */
static int check_container(az_store *a, bool create)
{
	dr_azblob_resp r;
	int rc;
	dr_azblob_kv q[] = { { "restype", "container" }, { "comp", "list" },
			     { "maxresults", "1" } };
	dr_azblob_req req = { .method = "GET", .query = q, .nquery = 3 };

	dr_azblob_resp_init(&r);
	/* Transport errors already name the store. */
	rc = dr_azblob_call(a->c, &req, &r);
	if (rc)
		goto out;
	if (r.status == 200)
		goto out;
	if (r.status == 404 && create) {
		dr_azblob_kv cq[] = { { "restype", "container" } };
		dr_azblob_req creq = { .method = "PUT", .query = cq, .nquery = 1 };
		rc = dr_azblob_call(a->c, &creq, &r);
		if (rc)
			goto out;
		if (r.status != 201 && !(r.status == 409 &&
					      code_is(&r, "ContainerAlreadyExists")))
			rc = fail(a, &r, "(container)", "create container");
		goto out;
	}
	if (r.status == 404) {
		rc = dr_error_set(DR_ENOTFOUND, "state store %s: the container does not "
				  "exist", a->base.spec);
		goto out;
	}
	rc = fail(a, &r, "(container)", "open");
out:
	dr_azblob_resp_release(&r);
	return rc;
}

int dr_store_azblob_open(const char *spec, const dr_azblob_opts *opts, unsigned flags,
			 dr_store **out)
{
	const char *p, *acct, *cont, *slash;
	size_t alen, clen;
	az_store *a;
	int rc;

	*out = NULL;
	if (strncmp(spec, DR_STORE_AZBLOB_SCHEME, strlen(DR_STORE_AZBLOB_SCHEME)))
		return dr_error_set(DR_EINVAL, "state store %s: not an azblob:// spec", spec);
	acct = spec + strlen(DR_STORE_AZBLOB_SCHEME);
	p = strchr(acct, '/');
	alen = p ? (size_t)(p - acct) : strlen(acct);
	if (!valid_account(acct, alen))
		return dr_error_set(DR_EINVAL, "state store %s: the account name must be 3-24 "
				    "lowercase letters and digits (azblob://ACCOUNT/CONTAINER"
				    "[/PREFIX])", spec);
	if (!p)
		return dr_error_set(DR_EINVAL, "state store %s: no container "
				    "(azblob://ACCOUNT/CONTAINER[/PREFIX])", spec);
	cont = p + 1;
	slash = strchr(cont, '/');
	clen = slash ? (size_t)(slash - cont) : strlen(cont);
	if (!valid_container(cont, clen))
		return dr_error_set(DR_EINVAL, "state store %s: the container name must be "
				    "3-63 lowercase letters, digits and single hyphens", spec);

	int lease_s;
	if ((rc = auto_lease_from_env(&lease_s)) < 0)
		return rc;
	a = dr_xcalloc(1, sizeof(*a));
	a->base.ops = &az_ops;
	a->base.spec = dr_xstrdup(spec);
	a->auto_lease_s = lease_s;
	{
		dr_strbuf pre = DR_STRBUF_INIT;
		if (slash) {
			dr_strbuf_addstr(&pre, slash + 1);
			while (pre.len && pre.buf[pre.len - 1] == '/')
				dr_strbuf_setlen(&pre, pre.len - 1);
			if (pre.len && (rc = dr_store_key_valid(pre.buf)) < 0) {
				rc = dr_error_set(DR_EINVAL, "state store %s: bad prefix: %s",
						  spec, dr_error_msg());
				dr_strbuf_release(&pre);
				az_free(&a->base);
				return rc;
			}
			if (pre.len)
				dr_strbuf_addch(&pre, '/');
		}
		a->prefix = dr_strbuf_detach(&pre, NULL);
		if (!a->prefix)
			a->prefix = dr_xstrdup("");
	}
	char *account = dr_xmalloc(alen + 1), *container = dr_xmalloc(clen + 1);
	dr_strbuf desc = DR_STRBUF_INIT;
	memcpy(account, acct, alen);
	account[alen] = '\0';
	memcpy(container, cont, clen);
	container[clen] = '\0';
	dr_strbuf_addf(&desc, "state store %s", spec);
	rc = dr_azblob_new(account, container, desc.buf, opts, &a->c);
	free(account);
	free(container);
	dr_strbuf_release(&desc);
	if (rc || (rc = check_container(a, flags & DR_STORE_CREATE)) < 0) {
		az_free(&a->base);
		return rc;
	}
	*out = &a->base;
	return 0;
}
