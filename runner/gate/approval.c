/*
 * approval.c - signed approvals for the commit gates (see approval.h and
 * docs/approvals.md).
 */
#include "gate/approval.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/parse.h"
#include "sched/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KEY_FILE_MAX (64 * 1024)
#define PLAN_FILE_MAX (256u * 1024 * 1024)
#define SIG_LEN 64
#define SIG_B64_LEN 88

static const char hexdig[] = "0123456789abcdef";

static void hex(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdig[b[i] >> 4];
		out[2 * i + 1] = hexdig[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static bool is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == n && !s[n];
}

/* Relative paths in a plan are relative to the plan file's directory. */
static void join(dr_strbuf *sb, const char *dir, const char *path)
{
	dr_strbuf_reset(sb);
	if (path[0] == '/' || !dir || !strcmp(dir, "."))
		dr_strbuf_addstr(sb, path);
	else
		dr_strbuf_addf(sb, "%s/%s", dir, path);
}

/* Read a whole regular file of at most max bytes. what names it in messages. */
static int read_file(const char *path, size_t max, const char *what, dr_strbuf *out)
{
	struct stat st;
	char buf[8192];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	dr_strbuf_reset(out);
	if (fd < 0)
		return dr_error_set(errno == ENOENT ? DR_ENOTFOUND : DR_EIO,
				    "can't read %s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return dr_error_set(DR_EIO, "can't read %s %s: not a regular file", what, path);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return dr_error_set(DR_EINVAL, "%s %s is too large (%lld bytes, at most %zu)",
				    what, path, (long long)st.st_size, max);
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			dr_error_set(DR_EIO, "can't read %s %s: %s", what, path, strerror(errno));
			close(fd);
			return DR_EIO;
		}
		if (out->len + (size_t)n > max) {
			close(fd);
			return dr_error_set(DR_EINVAL, "%s %s is too large (at most %zu bytes)",
					    what, path, max);
		}
		dr_strbuf_add(out, buf, (size_t)n);
	}
	close(fd);
	return 0;
}

/* ---- the plan digest ---- */

static void put_u64(EVP_MD_CTX *md, uint64_t v)
{
	unsigned char b[8];

	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (unsigned char)(v & 0xff);
	EVP_DigestUpdate(md, b, sizeof(b));
}

/* One part: tag NUL, len(name) name, len(content) content. */
static void put_part(EVP_MD_CTX *md, const char *tag, const char *name,
		     const void *data, size_t len)
{
	EVP_DigestUpdate(md, tag, strlen(tag) + 1);
	put_u64(md, strlen(name));
	EVP_DigestUpdate(md, name, strlen(name));
	put_u64(md, len);
	EVP_DigestUpdate(md, data, len);
}

static int digest_file(EVP_MD_CTX *md, const char *tag, const char *name,
		       const char *dir, const char *what, dr_strbuf *path, dr_strbuf *text)
{
	int rc;

	join(path, dir, name);
	rc = read_file(path->buf, PLAN_FILE_MAX, what, text);
	if (rc < 0)
		return rc;
	put_part(md, tag, name, text->buf, text->len);
	return 0;
}

static int digest_gate(EVP_MD_CTX *md, const dr_plan *p, const dr_gate *g,
		       const char *tag, dr_strbuf *path, dr_strbuf *text)
{
	for (size_t i = 0; i < g->approvers.n; i++) {
		int rc = digest_file(md, tag, g->approvers.v[i], p->dir, "approver key",
				     path, text);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int dr_plan_digest(const dr_plan *p, char out[65])
{
	dr_strbuf path = DR_STRBUF_INIT, text = DR_STRBUF_INIT;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hn = 0;
	int rc;

	out[0] = '\0';
	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(md);
		return dr_error_set(DR_ERR, "SHA-256 is not available from OpenSSL");
	}
	/*
	 * The plan's own path is not hashed: the executor and the approver may
	 * name the same file differently (relative to another directory).
	 */
	EVP_DigestUpdate(md, "drplan-plan-digest/1", sizeof("drplan-plan-digest/1"));
	dr_strbuf_reset(&path);
	rc = read_file(p->file, PLAN_FILE_MAX, "plan file", &text);
	if (rc == 0) {
		put_part(md, "plan", "", text.buf, text.len);
		if (p->inventory.v)
			rc = digest_file(md, "inventory", p->inventory.v, p->dir,
					 "inventory file", &path, &text);
	}
	if (rc == 0)
		rc = digest_gate(md, p, &p->commit_gate, "commit-approver", &path, &text);
	if (rc == 0)
		rc = digest_gate(md, p, &p->failback_gate, "failback-commit-approver", &path,
				 &text);
	if (rc == 0 && EVP_DigestFinal_ex(md, h, &hn))
		hex(h, hn, out);
	else if (rc == 0)
		rc = dr_error_set(DR_ERR, "SHA-256 failed");
	EVP_MD_CTX_free(md);
	dr_strbuf_release(&path);
	dr_strbuf_release(&text);
	return rc;
}

/* ---- keys ---- */

static int sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hn = 0;

	if (!EVP_Digest(data, len, h, &hn, EVP_sha256(), NULL) || hn != 32)
		return dr_error_set(DR_ERR, "SHA-256 failed");
	hex(h, hn, out);
	return 0;
}

static int fingerprint(EVP_PKEY *k, char out[65])
{
	unsigned char raw[32];
	size_t n = sizeof(raw);

	if (!EVP_PKEY_get_raw_public_key(k, raw, &n) || n != sizeof(raw)) {
		ERR_clear_error();
		return dr_error_set(DR_ERR, "can't get the raw Ed25519 public key");
	}
	return sha256_hex(raw, n, out);
}

/* A password callback that refuses: encrypted keys are not read. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

static const char *type_name(EVP_PKEY *k)
{
	const char *t = EVP_PKEY_get0_type_name(k);

	return t ? t : "unknown";
}

static int load_private(const char *path, EVP_PKEY **out)
{
	dr_strbuf text = DR_STRBUF_INIT;
	EVP_PKEY *k = NULL;
	BIO *bio;
	int rc;

	*out = NULL;
	rc = read_file(path, KEY_FILE_MAX, "private key", &text);
	if (rc < 0)
		goto done;
	if (strstr(text.buf, "ENCRYPTED")) {
		rc = dr_error_set(DR_EINVAL,
				  "private key %s is encrypted: drplan reads unencrypted "
				  "Ed25519 keys only (keep the key file private, mode 0600)",
				  path);
		goto done;
	}
	bio = BIO_new_mem_buf(text.buf, (int)text.len);
	if (bio)
		k = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (!k) {
		if (strstr(text.buf, "PUBLIC KEY"))
			rc = dr_error_set(DR_EINVAL, "%s is a public key: sign with the "
					  "approver's private key", path);
		else
			rc = dr_error_set(DR_EINVAL, "%s is not a PEM private key", path);
		goto done;
	}
	if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		rc = dr_error_set(DR_EINVAL, "private key %s is an %s key: approvals "
				  "need an Ed25519 key (openssl genpkey -algorithm ed25519)",
				  path, type_name(k));
		EVP_PKEY_free(k);
		goto done;
	}
	*out = k;
done:
	OPENSSL_cleanse(text.buf, text.len);
	dr_strbuf_release(&text);
	return rc;
}

static int load_public(const char *path, EVP_PKEY **out)
{
	dr_strbuf text = DR_STRBUF_INIT;
	EVP_PKEY *k = NULL;
	BIO *bio;
	int rc;

	*out = NULL;
	rc = read_file(path, KEY_FILE_MAX, "public key", &text);
	if (rc < 0)
		goto done;
	bio = BIO_new_mem_buf(text.buf, (int)text.len);
	if (bio)
		k = PEM_read_bio_PUBKEY(bio, NULL, no_password, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (!k) {
		rc = dr_error_set(DR_EINVAL, "%s is not a PEM public key", path);
		goto done;
	}
	if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		rc = dr_error_set(DR_EINVAL, "public key %s is an %s key, not Ed25519",
				  path, type_name(k));
		EVP_PKEY_free(k);
		goto done;
	}
	*out = k;
done:
	dr_strbuf_release(&text);
	return rc;
}

int dr_approval_key_fingerprint(const char *public_key_pem_path, char out[65])
{
	EVP_PKEY *k;
	int rc = load_public(public_key_pem_path, &k);

	out[0] = '\0';
	if (rc < 0)
		return rc;
	rc = fingerprint(k, out);
	EVP_PKEY_free(k);
	return rc;
}

/* ---- time ---- */

static void format_time(uint64_t ms, char out[21])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Exactly "YYYY-MM-DDTHH:MM:SSZ", a real UTC date from 1970 on. */
static int parse_time(const char *s, uint64_t *ms)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;

	if (strlen(s) != sizeof(shape) - 1)
		return -1;
	for (size_t i = 0; shape[i]; i++) {
		if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
			return -1;
	}
	sscanf(s, "%4u-%2u-%2uT%2u:%2u:%2u", &y, &mo, &d, &h, &mi, &se);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    (int)d > dr_days_in_month(y, (int)mo) || h > 23 || mi > 59 || se > 59)
		return -1;
	*ms = ((uint64_t)dr_days_from_civil(y, (int)mo, (int)d) * 86400 + h * 3600u +
	       mi * 60u + se) * 1000;
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- base64 (strict: canonical padding, no whitespace) ---- */

static void b64_encode(const unsigned char *b, size_t n, dr_strbuf *out)
{
	char buf[4 * ((SIG_LEN + 2) / 3) + 1];

	if (n > SIG_LEN)
		n = SIG_LEN;
	EVP_EncodeBlock((unsigned char *)buf, b, (int)n);
	dr_strbuf_addstr(out, buf);
}

static int b64_decode_sig(const char *s, unsigned char sig[SIG_LEN])
{
	unsigned char buf[SIG_B64_LEN];
	dr_strbuf again = DR_STRBUF_INIT;
	int n, same;

	if (strlen(s) != SIG_B64_LEN)
		return -1;
	n = EVP_DecodeBlock(buf, (const unsigned char *)s, SIG_B64_LEN);
	/* 88 characters decode to 66 bytes with the two padding bytes. */
	if (n != SIG_LEN + 2)
		return -1;
	memcpy(sig, buf, SIG_LEN);
	/* Only the one encoding of these bytes is accepted. */
	b64_encode(sig, SIG_LEN, &again);
	same = !strcmp(again.buf, s);
	dr_strbuf_release(&again);
	return same ? 0 : -1;
}

/* ---- the document ---- */

typedef struct doc {
	json_t *root;
	const char *job, *plan, *plan_digest, *gate, *decision, *by, *time, *nonce;
	const char *comment, *sig, *key;
	dr_approval_decision dec;
	uint64_t time_ms;
	unsigned char sigb[SIG_LEN];
} doc;

/* The signed bytes: every field before "sig", in this order. */
static void canon(dr_strbuf *sb, const doc *d)
{
	const char *names[] = { "job", "plan", "plan_digest", "gate", "decision",
				"by", "time", "nonce", "comment" };
	const char *vals[] = { d->job, d->plan, d->plan_digest, d->gate, d->decision,
			       d->by, d->time, d->nonce, d->comment };

	dr_strbuf_addstr(sb, "{\"v\":1");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		dr_strbuf_addf(sb, ",\"%s\":\"", names[i]);
		dr_strbuf_add_json_escaped(sb, vals[i]);
		dr_strbuf_addch(sb, '"');
	}
	dr_strbuf_addch(sb, '}');
}

static const char *const fields[] = { "v", "job", "plan", "plan_digest", "gate",
				       "decision", "by", "time", "nonce", "comment",
				       "sig", "key" };

static int field_str(doc *d, const char *name, const char **out, size_t max,
		     bool nonempty)
{
	json_t *v = json_object_get(d->root, name);

	if (!v)
		return dr_error_set(DR_EINVAL, "approval is missing field '%s'", name);
	if (!json_is_string(v))
		return dr_error_set(DR_EINVAL, "approval field '%s' must be a string", name);
	*out = json_string_value(v);
	if (nonempty && !**out)
		return dr_error_set(DR_EINVAL, "approval field '%s' is empty", name);
	if (json_string_length(v) > max)
		return dr_error_set(DR_EINVAL, "approval field '%s' is too long (at most "
				    "%zu bytes)", name, max);
	return 0;
}

static int field_hex(doc *d, const char *name, const char **out, size_t n)
{
	int rc = field_str(d, name, out, n, true);

	if (rc == 0 && !is_hex(*out, n))
		rc = dr_error_set(DR_EINVAL, "approval field '%s' must be %zu lowercase "
				  "hex digits", name, n);
	return rc;
}

static void doc_release(doc *d)
{
	json_decref(d->root);
	d->root = NULL;
}

static int doc_parse(const char *text, doc *d)
{
	json_error_t err;
	const char *k;
	json_t *v;
	size_t len = strlen(text);
	int rc;

	memset(d, 0, sizeof(*d));
	if (len > DR_APPROVAL_MAX_JSON)
		return dr_error_set(DR_EINVAL, "approval is too large (%zu bytes, at most %d)",
				    len, DR_APPROVAL_MAX_JSON);
	d->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (!d->root)
		return dr_error_set(DR_EINVAL, "approval is not valid JSON: %s (line %d, "
				    "column %d)", err.text, err.line, err.column);
	if (!json_is_object(d->root)) {
		rc = dr_error_set(DR_EINVAL, "approval must be a JSON object");
		goto bad;
	}
	json_object_foreach(d->root, k, v) {
		size_t i;

		for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (!strcmp(k, fields[i]))
				break;
		if (i == sizeof(fields) / sizeof(fields[0])) {
			rc = dr_error_set(DR_EINVAL, "approval has an unknown field '%s'", k);
			goto bad;
		}
	}
	v = json_object_get(d->root, "v");
	if (!v) {
		rc = dr_error_set(DR_EINVAL, "approval is missing field 'v'");
		goto bad;
	}
	if (!json_is_integer(v) || json_integer_value(v) != 1) {
		rc = dr_error_set(DR_EINVAL, "approval format version must be 1");
		goto bad;
	}
	if ((rc = field_str(d, "job", &d->job, DR_APPROVAL_MAX_ID, true)) ||
	    (rc = field_str(d, "plan", &d->plan, DR_APPROVAL_MAX_ID, true)) ||
	    (rc = field_hex(d, "plan_digest", &d->plan_digest, 64)) ||
	    (rc = field_str(d, "gate", &d->gate, DR_APPROVAL_MAX_ID, true)) ||
	    (rc = field_str(d, "decision", &d->decision, 16, true)) ||
	    (rc = field_str(d, "by", &d->by, DR_APPROVAL_MAX_BY, true)) ||
	    (rc = field_str(d, "time", &d->time, 64, true)) ||
	    (rc = field_hex(d, "nonce", &d->nonce, 32)) ||
	    (rc = field_str(d, "comment", &d->comment, DR_APPROVAL_MAX_COMMENT, false)) ||
	    (rc = field_str(d, "sig", &d->sig, SIG_B64_LEN * 2, true)) ||
	    (rc = field_hex(d, "key", &d->key, 64)))
		goto bad;
	if (!strcmp(d->decision, "approve")) {
		d->dec = DR_APPROVAL_APPROVE;
	} else if (!strcmp(d->decision, "reject")) {
		d->dec = DR_APPROVAL_REJECT;
	} else {
		rc = dr_error_set(DR_EINVAL, "approval decision must be approve or reject, "
				  "not '%s'", d->decision);
		goto bad;
	}
	if (parse_time(d->time, &d->time_ms)) {
		rc = dr_error_set(DR_EINVAL, "approval time '%s' must be RFC 3339 UTC like "
				  "2026-01-31T23:59:59Z", d->time);
		goto bad;
	}
	if (b64_decode_sig(d->sig, d->sigb)) {
		rc = dr_error_set(DR_EINVAL, "approval field 'sig' is not the base64 of a "
				  "64-byte Ed25519 signature");
		goto bad;
	}
	return 0;
bad:
	doc_release(d);
	return rc;
}

const char *dr_approval_decision_name(dr_approval_decision d)
{
	return d == DR_APPROVAL_REJECT ? "reject" : "approve";
}

/* "gate/commit" (a step id) names the gate "commit". */
static const char *gate_short(const char *g)
{
	return g && !strncmp(g, "gate/", 5) ? g + 5 : g;
}

int dr_approval_sign(const char *private_key_pem_path, const dr_approval_fields *f,
		     char **json_out)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	EVP_MD_CTX *md = NULL;
	EVP_PKEY *k = NULL;
	unsigned char sig[SIG_LEN], nb[16];
	size_t siglen = sizeof(sig);
	char tbuf[21], nonce[33], key[65];
	doc d = { 0 }, check;
	int rc;

	*json_out = NULL;
	if (!f->job || !*f->job || !f->plan || !*f->plan || !f->plan_digest ||
	    !f->gate || !*f->gate || !f->by || !*f->by)
		return dr_error_set(DR_EINVAL, "an approval needs a job, a plan, a plan "
				    "digest, a gate and who signs it (by)");
	if (f->nonce) {
		if (!is_hex(f->nonce, 32))
			return dr_error_set(DR_EINVAL, "approval nonce must be 32 lowercase "
					    "hex digits");
		memcpy(nonce, f->nonce, sizeof(nonce));
	} else {
		if (RAND_bytes(nb, sizeof(nb)) != 1) {
			ERR_clear_error();
			return dr_error_set(DR_ERR, "no random bytes for the approval nonce");
		}
		hex(nb, sizeof(nb), nonce);
	}
	rc = load_private(private_key_pem_path, &k);
	if (rc < 0)
		return rc;
	format_time(f->time_ms ? f->time_ms : now_ms(), tbuf);
	d.job = f->job, d.plan = f->plan, d.plan_digest = f->plan_digest;
	d.gate = gate_short(f->gate), d.decision = dr_approval_decision_name(f->decision);
	d.by = f->by, d.time = tbuf, d.nonce = nonce, d.comment = f->comment ? f->comment : "";
	canon(&sb, &d);
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit(md, NULL, NULL, NULL, k) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)sb.buf, sb.len) != 1 ||
	    siglen != SIG_LEN) {
		ERR_clear_error();
		rc = dr_error_set(DR_ERR, "signing the approval with %s failed",
				  private_key_pem_path);
		goto done;
	}
	if ((rc = fingerprint(k, key)) < 0)
		goto done;
	dr_strbuf_setlen(&sb, sb.len - 1);
	dr_strbuf_addstr(&sb, ",\"sig\":\"");
	b64_encode(sig, siglen, &sb);
	dr_strbuf_addf(&sb, "\",\"key\":\"%s\"}", key);
	/* What we sign must be what a verifier accepts (limits, UTF-8, ...). */
	rc = doc_parse(sb.buf, &check);
	if (rc < 0)
		goto done;
	doc_release(&check);
	*json_out = dr_strbuf_detach(&sb, NULL);
done:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	dr_strbuf_release(&sb);
	return rc;
}

int dr_approval_for_job(const char *private_key_pem_path, const dr_plan *p,
			const char *job_id, const char *gate_name,
			dr_approval_decision decision, const char *by,
			const char *comment, char **json_out)
{
	dr_approval_fields f = { 0 };
	char digest[65];
	const char *gate = gate_short(gate_name);
	int rc;

	*json_out = NULL;
	if (!gate || (strcmp(gate, "commit") && strcmp(gate, "failback-commit")))
		return dr_error_set(DR_EINVAL, "unknown gate '%s' (commit or failback-commit)",
				    gate_name ? gate_name : "");
	if (!(strcmp(gate, "commit") ? &p->failback_gate : &p->commit_gate)->approvers.n)
		return dr_error_set(DR_EINVAL, "the %s gate of plan %s lists no approver keys: "
				    "its approvals are not signed", gate,
				    p->name.v ? p->name.v : p->file);
	rc = dr_plan_digest(p, digest);
	if (rc < 0)
		return rc;
	f.job = job_id, f.plan = p->name.v, f.plan_digest = digest, f.gate = gate;
	f.decision = decision, f.by = by, f.comment = comment;
	return dr_approval_sign(private_key_pem_path, &f, json_out);
}

/* ---- verification ---- */

void dr_approval_seen_init(dr_approval_seen *s)
{
	memset(s, 0, sizeof(*s));
}

void dr_approval_seen_release(dr_approval_seen *s)
{
	free(s->v);
	dr_approval_seen_init(s);
}

static void approver_list(const dr_gate *g, dr_strbuf *sb)
{
	for (size_t i = 0; i < g->approvers.n; i++)
		dr_strbuf_addf(sb, "%s%s", i ? ", " : "", g->approvers.v[i]);
	if (!g->approvers.n)
		dr_strbuf_addstr(sb, "none");
}

/* The approver of g whose key has fingerprint fpr: its index and key. */
static int find_approver(const dr_plan *p, const dr_gate *g, const char *gate,
			 const char *fpr, size_t *idx, EVP_PKEY **out)
{
	dr_strbuf path = DR_STRBUF_INIT, list = DR_STRBUF_INIT;
	int rc = 0;

	*out = NULL;
	for (size_t i = 0; i < g->approvers.n && !*out; i++) {
		char f[65];
		EVP_PKEY *k;

		join(&path, p->dir, g->approvers.v[i]);
		rc = load_public(path.buf, &k);
		if (rc < 0) {
			/* dr_error_msg() is the buffer dr_error_set() writes: copy it. */
			char *why = dr_xstrdup(dr_error_msg());

			dr_error_set(rc, "approver key '%s' of gate %s: %s", g->approvers.v[i],
				     gate, why);
			free(why);
			goto done;
		}
		if ((rc = fingerprint(k, f)) < 0) {
			EVP_PKEY_free(k);
			goto done;
		}
		if (!strcmp(f, fpr)) {
			*idx = i;
			*out = k;
		} else {
			EVP_PKEY_free(k);
		}
	}
	if (!*out) {
		approver_list(g, &list);
		rc = dr_error_set(DR_EINVAL, "approval is signed with key %.16s..., which is "
				  "not an approver of gate %s (approvers: %s)", fpr, gate,
				  list.buf);
	}
done:
	dr_strbuf_release(&path);
	dr_strbuf_release(&list);
	return rc;
}

static int check_sig(EVP_PKEY *k, const doc *d, const char *approver)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok;

	canon(&sb, d);
	ok = md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, k) == 1 &&
	     EVP_DigestVerify(md, d->sigb, SIG_LEN, (const unsigned char *)sb.buf,
			      sb.len) == 1;
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	dr_strbuf_release(&sb);
	if (!ok)
		return dr_error_set(DR_EINVAL, "approval signature does not verify with %s: "
				    "the document was changed after it was signed",
				    approver);
	return 0;
}

int dr_approval_verify(const dr_plan *p, const dr_gate *g, const char *job_id,
		       const char *plan_digest, const char *gate_name,
		       const char *approval_json, uint64_t now, uint64_t max_age_ms,
		       dr_approval_seen *seen, dr_approval_result *out)
{
	const char *gate = gate_short(gate_name);
	EVP_PKEY *k = NULL;
	size_t idx = 0;
	bool counted;
	doc d;
	int rc;

	if (!g || !gate)
		return dr_error_set(DR_EINVAL, "verifying an approval needs the gate");
	/* A gate the plan doesn't state exists with defaults and no approvers. */
	if (!g->approvers.n)
		return dr_error_set(DR_EINVAL, "the %s gate of plan %s lists no approver keys: "
				    "its approvals are not signed", gate,
				    p->name.v ? p->name.v : p->file);
	if (!max_age_ms)
		max_age_ms = DR_APPROVAL_MAX_AGE_DEFAULT_MS;
	if (!job_id || !plan_digest)
		return dr_error_set(DR_EINVAL, "verifying an approval needs the job id and the "
				    "plan digest journaled when the job started");
	if (!approval_json)
		return dr_error_set(DR_EINVAL, "the approval is not signed (no \"signature\")");
	rc = doc_parse(approval_json, &d);
	if (rc < 0)
		return rc;
	rc = find_approver(p, g, gate, d.key, &idx, &k);
	if (rc < 0)
		goto done;
	rc = check_sig(k, &d, g->approvers.v[idx]);
	if (rc < 0)
		goto done;
	/* Signed, so from here on the fields are what the approver meant. */
	if (strcmp(d.job, job_id)) {
		rc = dr_error_set(DR_EINVAL, "approval is for job %s, not job %s", d.job,
				  job_id);
		goto done;
	}
	if (strcmp(d.gate, gate)) {
		rc = dr_error_set(DR_EINVAL, "approval is for gate %s, not gate %s", d.gate,
				  gate);
		goto done;
	}
	if (p->name.v && strcmp(d.plan, p->name.v)) {
		rc = dr_error_set(DR_EINVAL, "approval is for plan %s, not plan %s", d.plan,
				  p->name.v);
		goto done;
	}
	if (strcmp(d.plan_digest, plan_digest)) {
		rc = dr_error_set(DR_EINVAL, "approval is for another version of plan %s: "
				  "the plan, its inventory or its approver keys changed "
				  "after the job started (digest %.12s... at the start, "
				  "%.12s... signed); the job runs the plan as it started",
				  d.plan, plan_digest, d.plan_digest);
		goto done;
	}
	if (d.time_ms > now + DR_APPROVAL_SKEW_MS) {
		char nbuf[21];

		format_time(now, nbuf);
		rc = dr_error_set(DR_EINVAL, "approval is dated %s, more than 5 minutes "
				  "after now (%s): check the signer's clock", d.time, nbuf);
		goto done;
	}
	if (now > d.time_ms && now - d.time_ms > max_age_ms) {
		char age[32], lim[32];

		dr_format_duration(now - d.time_ms, age, sizeof(age));
		dr_format_duration(max_age_ms, lim, sizeof(lim));
		rc = dr_error_set(DR_EINVAL, "approval is stale: signed at %s, %s ago, "
				  "more than the %s an approval is valid; sign a new one",
				  d.time, age, lim);
		goto done;
	}
	counted = d.dec == DR_APPROVAL_APPROVE;
	for (size_t i = 0; i < seen->n; i++) {
		if (!strcmp(seen->v[i].nonce, d.nonce)) {
			rc = dr_error_set(DR_ECONFLICT, "approval replayed: nonce %s was already "
					  "used at gate %s of job %s", d.nonce, gate, job_id);
			goto done;
		}
		if (seen->v[i].decision == DR_APPROVAL_APPROVE && !strcmp(seen->v[i].key, d.key))
			counted = false;
	}
	if (seen->n == seen->alloc) {
		seen->alloc = seen->alloc ? 2 * seen->alloc : 4;
		seen->v = dr_xrealloc(seen->v, seen->alloc * sizeof(*seen->v));
	}
	memset(&seen->v[seen->n], 0, sizeof(seen->v[0]));
	memcpy(seen->v[seen->n].nonce, d.nonce, 33);
	memcpy(seen->v[seen->n].key, d.key, 65);
	seen->v[seen->n].approver = idx;
	seen->v[seen->n].decision = d.dec;
	seen->n++;
	memset(out, 0, sizeof(*out));
	out->decision = d.dec;
	snprintf(out->by, sizeof(out->by), "%s", d.by);
	memcpy(out->key, d.key, 65);
	out->approver = g->approvers.v[idx];
	out->approver_index = idx;
	out->time_ms = d.time_ms;
	out->counted = counted;
done:
	EVP_PKEY_free(k);
	doc_release(&d);
	return rc;
}

int dr_approval_quorum(const dr_gate *g, const dr_approval_seen *seen,
		       dr_approval_quorum_info *info, dr_strbuf *missing)
{
	bool first = true;

	memset(info, 0, sizeof(*info));
	info->needed = g->approvals.v < 1 ? 1 : (unsigned)g->approvals.v;
	for (size_t i = 0; i < seen->n; i++)
		if (seen->v[i].decision == DR_APPROVAL_REJECT)
			info->rejected = true;
	for (size_t a = 0; a < g->approvers.n; a++) {
		bool approved = false;

		for (size_t i = 0; i < seen->n && !approved; i++)
			approved = seen->v[i].approver == a &&
				   seen->v[i].decision == DR_APPROVAL_APPROVE;
		if (approved) {
			info->have++;
		} else if (missing) {
			dr_strbuf_addf(missing, "%s%s", first ? "" : ", ", g->approvers.v[a]);
			first = false;
		}
	}
	info->reached = info->have >= info->needed;
	return info->reached ? 1 : 0;
}

/* ---- keygen ---- */

static int fsync_dir(const char *path)
{
	char *dir = dr_xstrdup(path), *slash = strrchr(dir, '/');
	int fd, rc = 0;

	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (fsync(fd))
			rc = -1;
		close(fd);
	}
	free(dir);
	return rc;
}

/*
 * Write data to a temporary file next to path, fsync, and link it into
 * place: link() fails when path exists, so a key is never overwritten and
 * never half-written.
 */
static int write_new_file(const char *path, const void *data, size_t len, mode_t mode)
{
	dr_strbuf tmp = DR_STRBUF_INIT;
	const char *p = data;
	int fd, rc = 0, err = 0;

	dr_strbuf_addf(&tmp, "%s.tmp.XXXXXX", path);
	fd = mkstemp(tmp.buf);
	if (fd < 0) {
		rc = dr_error_set(DR_EIO, "can't write %s: %s", path, strerror(errno));
		goto out;
	}
	if (fchmod(fd, mode))
		err = errno;
	while (!err && len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			break;
		}
		p += n, len -= (size_t)n;
	}
	if (!err && fsync(fd))
		err = errno;
	if (close(fd) && !err)
		err = errno;
	if (err)
		rc = dr_error_set(DR_EIO, "can't write %s: %s", path, strerror(err));
	else if (link(tmp.buf, path) == 0)
		fsync_dir(path);
	else if (errno == EEXIST)
		rc = dr_error_set(DR_ECONFLICT, "%s already exists: drplan does not overwrite "
				  "keys", path);
	else
		rc = dr_error_set(DR_EIO, "can't write %s: %s", path, strerror(errno));
	unlink(tmp.buf);
out:
	dr_strbuf_release(&tmp);
	return rc;
}

static int pem_of(EVP_PKEY *k, bool priv, dr_strbuf *out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int ok;

	if (!bio)
		return dr_error_set(DR_ENOMEM, "out of memory");
	ok = priv ? PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL)
		  : PEM_write_bio_PUBKEY(bio, k);
	n = BIO_get_mem_data(bio, &data);
	if (ok && n > 0)
		dr_strbuf_add(out, data, (size_t)n);
	BIO_free(bio);
	ERR_clear_error();
	return ok && n > 0 ? 0 : dr_error_set(DR_ERR, "can't encode the key as PEM");
}

int dr_approval_keygen(const char *priv_path, const char *pub_path)
{
	dr_strbuf priv = DR_STRBUF_INIT, pub = DR_STRBUF_INIT;
	EVP_PKEY *k;
	int rc;

	if (!access(priv_path, F_OK))
		return dr_error_set(DR_ECONFLICT, "%s already exists: drplan does not "
				    "overwrite keys", priv_path);
	if (!access(pub_path, F_OK))
		return dr_error_set(DR_ECONFLICT, "%s already exists: drplan does not "
				    "overwrite keys", pub_path);
	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!k) {
		ERR_clear_error();
		return dr_error_set(DR_ERR, "OpenSSL can't generate an Ed25519 key");
	}
	rc = pem_of(k, true, &priv);
	if (rc == 0)
		rc = pem_of(k, false, &pub);
	if (rc == 0)
		rc = write_new_file(priv_path, priv.buf, priv.len, 0600);
	if (rc == 0) {
		rc = write_new_file(pub_path, pub.buf, pub.len, 0644);
		/* A private key without its public half is of no use: take it back. */
		if (rc < 0)
			unlink(priv_path);
	}
	/* The private key's bytes are secret: don't leave them in freed memory. */
	OPENSSL_cleanse(priv.buf, priv.len);
	EVP_PKEY_free(k);
	dr_strbuf_release(&priv);
	dr_strbuf_release(&pub);
	return rc;
}
