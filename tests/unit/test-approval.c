/*
 * test-approval.c - signed gate approvals: signing, every refusal of
 * dr_approval_verify() with its exact message, the quorum, the plan digest
 * and the key pair helper. Keys are generated in a temporary directory.
 */
#include "testdir.h"

#include "core/arena.h"
#include "core/diag.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "gate/approval.h"
#include "plan/plan.h"
#include "test.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdint.h>

/* 2026-11-25T14:00:00Z */
#define T0 (1795615200ull * 1000)
#define MIN (60ull * 1000)
#define HOUR (60 * MIN)

static const char plan_text[] =
	"apiVersion: drplan/v1\n"
	"kind: RecoveryPlan\n"
	"metadata: { name: approvals }\n"
	"target: { provider: sim }\n"
	"defaults:\n"
	"  target: { resourceGroup: rg-dr, size: Standard_D2s_v4,\n"
	"            network: { vnet: vnet-dr, subnet: servers } }\n"
	"machines:\n"
	"  - name: app01\n"
	"    source:\n"
	"      os: linux\n"
	"      osVersion: Ubuntu 22.04\n"
	"      mobilityAgent: \"9.56\"\n"
	"      disks: [ { role: os, sizeGiB: 64, filesystem: ext4 } ]\n"
	"groups:\n"
	"  - { name: all, machines: [app01] }\n"
	"gates:\n"
	"  commit: { approvals: 2, approvers: [keys/ops.pub, keys/dba.pub] }\n"
	"  failbackCommit: { approvals: 1, approvers: [keys/ops.pub] }\n";

static char *dir;
static dr_arena *A;
static dr_diags *D;
static dr_plan *P;
static char digest0[65];
static char fpr_ops[65], fpr_dba[65], fpr_eve[65];
static char buf[4096];

static const char *path(const char *rel)
{
	snprintf(buf, sizeof(buf), "%s/%s", dir, rel);
	return buf;
}

static void move(const char *from_rel, const char *to_rel)
{
	char from[4096];

	snprintf(from, sizeof(from), "%s/%s", dir, from_rel);
	if (rename(from, path(to_rel))) {
		perror(from);
		abort();
	}
}

static void write_file(const char *rel, const char *text)
{
	FILE *f = fopen(path(rel), "wb");

	if (!f) {
		perror(rel);
		abort();
	}
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	char pub[4096];
	int rc;

	dir = testdir_new();
	mkdir(path("keys"), 0755);
	for (int i = 0; i < 3; i++) {
		const char *who[] = { "ops", "dba", "eve" };
		char priv[4096];
		char *f[] = { fpr_ops, fpr_dba, fpr_eve };

		snprintf(priv, sizeof(priv), "%s/keys/%s.key", dir, who[i]);
		snprintf(pub, sizeof(pub), "%s/keys/%s.pub", dir, who[i]);
		if (dr_approval_keygen(priv, pub) || dr_approval_key_fingerprint(pub, f[i])) {
			fprintf(stderr, "keygen: %s\n", dr_error_msg());
			abort();
		}
	}
	write_file("plan.yaml", plan_text);
	A = dr_arena_new();
	D = dr_diags_new();
	rc = dr_plan_load(A, path("plan.yaml"), NULL, D, &P);
	if (rc || !P || !P->commit_gate.at || !P->failback_gate.at) {
		fprintf(stderr, "plan load: %d %s\n", rc, dr_error_msg());
		for (size_t i = 0; i < dr_diags_len(D); i++)
			fprintf(stderr, "  %s\n", dr_diags_get(D, i)->message);
		abort();
	}
	if (dr_plan_digest(P, digest0)) {
		fprintf(stderr, "digest: %s\n", dr_error_msg());
		abort();
	}
}

static void teardown(void)
{
	dr_diags_free(D);
	dr_arena_free(A);
	testdir_free(dir);
}

/* A signed approval; nonce n (1, 2, ...) so replays are deterministic. */
static char *sign_full(const char *key, const char *job, const char *gate,
		       dr_approval_decision dec, uint64_t t, int n, const char *digest,
		       const char *comment)
{
	char keypath[4096], nonce[33];
	dr_approval_fields f = { 0 };
	char *json = NULL;

	snprintf(keypath, sizeof(keypath), "%s/keys/%s.key", dir, key);
	snprintf(nonce, sizeof(nonce), "%032x", n);
	f.job = job, f.plan = "approvals", f.plan_digest = digest, f.gate = gate;
	f.decision = dec, f.by = !strcmp(key, "ops") ? "alice" : "bob";
	f.comment = comment, f.time_ms = t, f.nonce = nonce;
	if (dr_approval_sign(keypath, &f, &json)) {
		fprintf(stderr, "sign: %s\n", dr_error_msg());
		return NULL;
	}
	return json;
}

static char *sign(const char *key, uint64_t t, int n)
{
	return sign_full(key, "job-1", "commit", DR_APPROVAL_APPROVE, t, n, digest0,
			 "looks good");
}

static int verify_at(const char *json, uint64_t now, uint64_t max_age,
		     dr_approval_seen *seen, dr_approval_result *r)
{
	dr_error_clear();
	return dr_approval_verify(P, &P->commit_gate, "job-1", digest0, "commit", json, now,
				  max_age, seen, r);
}

static int verify(const char *json, dr_approval_seen *seen, dr_approval_result *r)
{
	return verify_at(json, T0 + MIN, 0, seen, r);
}

/* Replace the first occurrence of from in s by to (same length or not). */
static char *replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	dr_strbuf sb = DR_STRBUF_INIT;

	if (!at)
		return NULL;
	dr_strbuf_add(&sb, s, (size_t)(at - s));
	dr_strbuf_addstr(&sb, to);
	dr_strbuf_addstr(&sb, at + strlen(from));
	return dr_strbuf_detach(&sb, NULL);
}

TEST(valid_document_is_canonical)
{
	char *json = sign("ops", T0, 1);
	char want[2048];
	const char *sig;

	CHECK(json != NULL);
	if (!json)
		return;
	snprintf(want, sizeof(want),
		 "{\"v\":1,\"job\":\"job-1\",\"plan\":\"approvals\",\"plan_digest\":\"%s\","
		 "\"gate\":\"commit\",\"decision\":\"approve\",\"by\":\"alice\","
		 "\"time\":\"2026-11-25T14:00:00Z\","
		 "\"nonce\":\"00000000000000000000000000000001\",\"comment\":\"looks good\","
		 "\"sig\":\"", digest0);
	CHECK(!strncmp(json, want, strlen(want)));
	sig = json + strlen(want);
	CHECK(strlen(sig) > 88 && sig[86] == '=' && sig[87] == '=' && sig[88] == '"');
	snprintf(want, sizeof(want), "\",\"key\":\"%s\"}", fpr_ops);
	CHECK_STR(sig + 88, want);
	free(json);
}

TEST(valid)
{
	dr_approval_seen seen = DR_APPROVAL_SEEN_INIT;
	dr_approval_result r;
	char *json = sign("ops", T0, 1);

	CHECK_INT(verify(json, &seen, &r), 0);
	CHECK_STR(dr_error_msg(), "");
	CHECK_INT(r.decision, DR_APPROVAL_APPROVE);
	CHECK_STR(r.by, "alice");
	CHECK_STR(r.key, fpr_ops);
	CHECK_STR(r.approver, "keys/ops.pub");
	CHECK_INT(r.approver_index, 0);
	CHECK(r.time_ms == T0);
	CHECK(r.counted);
	CHECK_INT(seen.n, 1);
	/* The step id names the same gate. */
	free(json);
	json = sign("dba", T0, 2);
	CHECK_INT(dr_approval_verify(P, &P->commit_gate, "job-1", digest0, "gate/commit", json,
				     T0, 0, &seen, &r), 0);
	CHECK_STR(r.approver, "keys/dba.pub");
	CHECK_INT(r.approver_index, 1);
	dr_approval_seen_release(&seen);
	free(json);
}

TEST(wrong_key)
{
	dr_approval_seen seen = DR_APPROVAL_SEEN_INIT;
	dr_approval_result r;
	char *json = sign("eve", T0, 1), want[512];

	CHECK_INT(verify(json, &seen, &r), DR_EINVAL);
	snprintf(want, sizeof(want), "approval is signed with key %.16s..., which is not an "
		 "approver of gate commit (approvers: keys/ops.pub, keys/dba.pub)", fpr_eve);
	CHECK_STR(dr_error_msg(), want);
	CHECK_INT(seen.n, 0);
	free(json);
}

TEST(key_field_swapped_to_an_approver)
{
	/* eve signs, then claims to be ops: the key field selects, it proves nothing. */
	dr_approval_seen seen = DR_APPROVAL_SEEN_INIT;
	dr_approval_result r;
	char *json = sign("eve", T0, 1), *forged = replace(json, fpr_eve, fpr_ops);

	CHECK_INT(verify(forged, &seen, &r), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "approval signature does not verify with keys/ops.pub: "
		  "the document was changed after it was signed");
	free(json);
	free(forged);
}

TEST(tampered_comment)
{
	dr_approval_seen seen = DR_APPROVAL_SEEN_INIT;
	dr_approval_result r;
	char *json = sign("ops", T0, 1), *bad = replace(json, "looks good", "looks gooD");

	CHECK_INT(verify(bad, &seen, &r), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "approval signature does not verify with keys/ops.pub: "
		  "the document was changed after it was signed");
	CHECK_INT(seen.n, 0);
	free(bad);
	/* Spacing is not meaning: the same fields with whitespace still verify. */
	bad = replace(json, ",\"comment\":", ", \"comment\" : ");
	CHECK_INT(verify(bad, &seen, &r), 0);
	dr_approval_seen_release(&seen);
	free(bad);
	free(json);
}

TEST(other_job)
{
	dr_approval_seen seen = DR_APPROVAL_SEEN_INIT;
	dr_approval_result r;
	char *json = sign_full("ops", "job-2", "commit", DR_APPROVAL_APPROVE, T0, 1, digest0,
			       NULL);

	CHECK_INT(verify(json, &seen, &r), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "approval is for job job-2, not job job-1");
	free(json);
}

TEST(other_gate)
{
	dr_approval_seen seen = DR_APPROVAL_SEEN_INIT;
	dr_approval_result r;
	char *json = sign_full("ops", "job-1", "failback-commit", DR_APPROVAL_APPROVE, T0, 1,
			       digest0, NULL);

	CHECK_INT(verify(json, &seen, &r), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "approval is for gate failback-commit, not gate commit");
	/* Verified at its own gate, it holds. */
	CHECK_INT(dr_approval_verify(P, &P->failback_gate, "job-1", digest0,
				     "failback-commit", json, T0, 0, &seen, &r), 0);
	dr_approval_seen_release(&seen);
	free(json);
}

TEST(plan_edited_after_the_job_started)
{
	dr_approval_seen seen = DR_APPROVAL_SEEN_INIT;
	dr_approval_result r;
	char digest1[65], want[512], *json = NULL;
	size_t len = 0;
	char *orig = testdir_slurp(path("plan.yaml"), &len);
	dr_strbuf edited = DR_STRBUF_INIT;

	/* The approver's CLI signs the plan as it is on disk now. */
	dr_strbuf_addstr(&edited, orig);
	dr_strbuf_addstr(&edited, "# approvals: 1\n");
	write_file("plan.yaml", edited.buf);
	CHECK_INT(dr_plan_digest(P, digest1), 0);
	CHECK(strcmp(digest1, digest0) != 0);
	CHECK_INT(dr_approval_for_job(path("keys/ops.key"), P, "job-1", "commit",
				      DR_APPROVAL_APPROVE, "alice", NULL, &json), 0);
	CHECK_INT(verify_at(json, (uint64_t)time(NULL) * 1000, 0, &seen, &r), DR_EINVAL);
	snprintf(want, sizeof(want), "approval is for another version of plan approvals: the "
		 "plan, its inventory or its approver keys changed after the job started "
		 "(digest %.12s... at the start, %.12s... signed); the job runs the plan as "
		 "it started", digest0, digest1);
	CHECK_STR(dr_error_msg(), want);
	free(json);
	/* Back as it was, the same helper's approval is accepted. */
	write_file("plan.yaml", orig);
	CHECK_INT(dr_approval_for_job(path("keys/ops.key"), P, "job-1", "gate/commit",
				      DR_APPROVAL_APPROVE, "alice", "ok", &json), 0);
	CHECK_INT(verify_at(json, (uint64_t)time(NULL) * 1000, 0, &seen, &r), 0);
	CHECK_STR(r.by, "alice");
	dr_approval_seen_release(&seen);
	dr_strbuf_release(&edited);
	free(orig);
	free(json);
}

TEST(digest_covers_approver_keys)
{
	char d1[65];
	size_t len = 0;
	char *dba = testdir_slurp(path("keys/dba.pub"), &len);
	char *eve = testdir_slurp(path("keys/eve.pub"), &len);

	CHECK_INT(dr_plan_digest(P, d1), 0);
	CHECK_STR(d1, digest0);
	CHECK_INT(strlen(d1), 64);
	write_file("keys/dba.pub", eve);
	CHECK_INT(dr_plan_digest(P, d1), 0);
	CHECK(strcmp(d1, digest0) != 0);
	write_file("keys/dba.pub", dba);
	CHECK_INT(dr_plan_digest(P, d1), 0);
	CHECK_STR(d1, digest0);
	move("keys/dba.pub", "keys/dba.pub.away");
	dr_error_clear();
	CHECK_INT(dr_plan_digest(P, d1), DR_ENOTFOUND);
	CHECK_STR(d1, "");
	snprintf(buf, sizeof(buf), "can't read approver key %s/keys/dba.pub: "
		 "No such file or directory", dir);
	CHECK_STR(dr_error_msg(), buf);
	move("keys/dba.pub.away", "keys/dba.pub");
	free(dba);
	free(eve);
}

TEST(replayed)
{
	dr_approval_seen seen = DR_APPROVAL_SEEN_INIT;
	dr_approval_result r;
	char *json = sign("ops", T0, 7);

	CHECK_INT(verify(json, &seen, &r), 0);
	CHECK_INT(verify(json, &seen, &r), DR_ECONFLICT);
	CHECK_STR(dr_error_msg(), "approval replayed: nonce 00000000000000000000000000000007 "
		  "was already used at gate commit of job job-1");
	CHECK_INT(seen.n, 1);
	free(json);
	/* The nonce is what makes it a replay, even from another approver. */
	json = sign("dba", T0, 7);
	CHECK_INT(verify(json, &seen, &r), DR_ECONFLICT);
	dr_approval_seen_release(&seen);
	free(json);
}

TEST(same_approver_twice_counts_once)
{
	dr_approval_seen seen = DR_APPROVAL_SEEN_INIT;
	dr_approval_result r;
	dr_approval_quorum_info q;
	dr_strbuf missing = DR_STRBUF_INIT;
	char *a = sign("ops", T0, 1), *b = sign("ops", T0 + 1000, 2);

	CHECK_INT(verify(a, &seen, &r), 0);
	CHECK(r.counted);
	CHECK_INT(verify(b, &seen, &r), 0);
	CHECK(!r.counted);
	CHECK_INT(dr_approval_quorum(&P->commit_gate, &seen, &q, &missing), 0);
	CHECK_INT(q.have, 1);
	CHECK_INT(q.needed, 2);
	CHECK(!q.reached);
	CHECK_STR(missing.buf, "keys/dba.pub");
	dr_approval_seen_release(&seen);
	dr_strbuf_release(&missing);
	free(a);
	free(b);
}

TEST(stale)
{
	dr_approval_seen seen = DR_APPROVAL_SEEN_INIT;
	dr_approval_result r;
	char *json = sign("ops", T0, 1);

	CHECK_INT(verify_at(json, T0 + 25 * HOUR, 0, &seen, &r), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "approval is stale: signed at 2026-11-25T14:00:00Z, 1d1h "
		  "ago, more than the 1d an approval is valid; sign a new one");
	CHECK_INT(verify_at(json, T0 + 2 * HOUR, HOUR, &seen, &r), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "approval is stale: signed at 2026-11-25T14:00:00Z, 2h "
		  "ago, more than the 1h an approval is valid; sign a new one");
	CHECK_INT(seen.n, 0);
	/* Exactly max age old is still valid. */
	CHECK_INT(verify_at(json, T0 + HOUR, HOUR, &seen, &r), 0);
	dr_approval_seen_release(&seen);
	free(json);
}

TEST(from_the_future)
{
	dr_approval_seen seen = DR_APPROVAL_SEEN_INIT;
	dr_approval_result r;
	char *late = sign("ops", T0 + 6 * MIN, 1), *skew = sign("ops", T0 + 5 * MIN, 2);

	CHECK_INT(verify_at(late, T0, 0, &seen, &r), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "approval is dated 2026-11-25T14:06:00Z, more than 5 "
		  "minutes after now (2026-11-25T14:00:00Z): check the signer's clock");
	/* Within the skew it is accepted. */
	CHECK_INT(verify_at(skew, T0, 0, &seen, &r), 0);
	dr_approval_seen_release(&seen);
	free(late);
	free(skew);
}

TEST(quorum_two_of_two)
{
	dr_approval_seen seen = DR_APPROVAL_SEEN_INIT;
	dr_approval_result r;
	dr_approval_quorum_info q;
	dr_strbuf missing = DR_STRBUF_INIT;
	char *a = sign("ops", T0, 1), *b = sign("dba", T0, 2);

	CHECK_INT(dr_approval_quorum(&P->commit_gate, &seen, &q, &missing), 0);
	CHECK_INT(q.have, 0);
	CHECK_STR(missing.buf, "keys/ops.pub, keys/dba.pub");
	dr_strbuf_reset(&missing);
	CHECK_INT(verify(a, &seen, &r), 0);
	CHECK_INT(dr_approval_quorum(&P->commit_gate, &seen, &q, &missing), 0);
	CHECK_INT(q.have, 1);
	CHECK(!q.reached);
	CHECK_STR(missing.buf, "keys/dba.pub");
	dr_strbuf_reset(&missing);
	CHECK_INT(verify(b, &seen, &r), 0);
	CHECK(r.counted);
	CHECK_INT(dr_approval_quorum(&P->commit_gate, &seen, &q, &missing), 1);
	CHECK_INT(q.have, 2);
	CHECK_INT(q.needed, 2);
	CHECK(q.reached);
	CHECK(!q.rejected);
	CHECK_STR(missing.buf, "");
	dr_approval_seen_release(&seen);
	dr_strbuf_release(&missing);
	free(a);
	free(b);
}

TEST(reject)
{
	dr_approval_seen seen = DR_APPROVAL_SEEN_INIT;
	dr_approval_result r;
	dr_approval_quorum_info q;
	char *json = sign_full("dba", "job-1", "commit", DR_APPROVAL_REJECT, T0, 1, digest0,
			       "app01 is not healthy");

	CHECK(strstr(json, "\"decision\":\"reject\"") != NULL);
	CHECK_INT(verify(json, &seen, &r), 0);
	CHECK_INT(r.decision, DR_APPROVAL_REJECT);
	CHECK_STR(dr_approval_decision_name(r.decision), "reject");
	CHECK_STR(r.by, "bob");
	CHECK(!r.counted);
	CHECK_INT(dr_approval_quorum(&P->commit_gate, &seen, &q, NULL), 0);
	CHECK(q.rejected);
	CHECK_INT(q.have, 0);
	dr_approval_seen_release(&seen);
	free(json);
}

static void write_pem(const char *rel, EVP_PKEY *k, const EVP_CIPHER *c)
{
	BIO *b = BIO_new_file(path(rel), "w");

	if (c)
		PEM_write_bio_PrivateKey(b, k, c, NULL, 0, NULL, (void *)"secret");
	else
		PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
	BIO_free(b);
}

TEST(rsa_and_encrypted_keys_refused)
{
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	dr_approval_fields f = { .job = "job-1", .plan = "approvals", .plan_digest = digest0,
				 .gate = "commit", .by = "mallory" };
	char *json = (char *)"x", want[1024];

	write_pem("keys/rsa.key", rsa, NULL);
	write_pem("keys/enc.key", ed, EVP_aes_256_cbc());
	CHECK_INT(dr_approval_sign(path("keys/rsa.key"), &f, &json), DR_EINVAL);
	CHECK(json == NULL);
	snprintf(want, sizeof(want), "private key %s/keys/rsa.key is an RSA key: approvals "
		 "need an Ed25519 key (openssl genpkey -algorithm ed25519)", dir);
	CHECK_STR(dr_error_msg(), want);
	CHECK_INT(dr_approval_sign(path("keys/enc.key"), &f, &json), DR_EINVAL);
	snprintf(want, sizeof(want), "private key %s/keys/enc.key is encrypted: drplan reads "
		 "unencrypted Ed25519 keys only (keep the key file private, mode 0600)", dir);
	CHECK_STR(dr_error_msg(), want);
	CHECK_INT(dr_approval_sign(path("keys/ops.pub"), &f, &json), DR_EINVAL);
	snprintf(want, sizeof(want), "%s/keys/ops.pub is a public key: sign with the "
		 "approver's private key", dir);
	CHECK_STR(dr_error_msg(), want);
	CHECK_INT(dr_approval_sign(path("plan.yaml"), &f, &json), DR_EINVAL);
	snprintf(want, sizeof(want), "%s/plan.yaml is not a PEM private key", dir);
	CHECK_STR(dr_error_msg(), want);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
}

TEST(unreadable_key_file)
{
	dr_approval_fields f = { .job = "job-1", .plan = "approvals", .plan_digest = digest0,
				 .gate = "commit", .by = "alice" };
	char *json = NULL, want[1024];
	char fpr[65];

	CHECK_INT(dr_approval_sign(path("keys/nope.key"), &f, &json), DR_ENOTFOUND);
	snprintf(want, sizeof(want), "can't read private key %s/keys/nope.key: No such file "
		 "or directory", dir);
	CHECK_STR(dr_error_msg(), want);
	CHECK_INT(dr_approval_sign(path("keys"), &f, &json), DR_EIO);
	snprintf(want, sizeof(want), "can't read private key %s/keys: not a regular file", dir);
	CHECK_STR(dr_error_msg(), want);
	CHECK(json == NULL);
	CHECK_INT(dr_approval_key_fingerprint(path("keys/ops.key"), fpr), DR_EINVAL);
	snprintf(want, sizeof(want), "%s/keys/ops.key is not a PEM public key", dir);
	CHECK_STR(dr_error_msg(), want);
	CHECK_STR(fpr, "");
}

TEST(approver_key_file_gone)
{
	dr_approval_seen seen = DR_APPROVAL_SEEN_INIT;
	dr_approval_result r;
	char *json = sign("dba", T0, 1), want[1024];

	move("keys/ops.pub", "keys/ops.pub.away");
	CHECK_INT(verify(json, &seen, &r), DR_ENOTFOUND);
	snprintf(want, sizeof(want), "approver key 'keys/ops.pub' of gate commit: can't read "
		 "public key %s/keys/ops.pub: No such file or directory", dir);
	CHECK_STR(dr_error_msg(), want);
	move("keys/ops.pub.away", "keys/ops.pub");
	CHECK_INT(verify(json, &seen, &r), 0);
	dr_approval_seen_release(&seen);
	free(json);
}

static void bad_doc(const char *json, const char *msg)
{
	dr_approval_seen seen = DR_APPROVAL_SEEN_INIT;
	dr_approval_result r;

	CHECK_INT(verify(json, &seen, &r), DR_EINVAL);
	CHECK_STR(dr_error_msg(), msg);
	CHECK_INT(seen.n, 0);
}

TEST(malformed)
{
	char *json = sign("ops", T0, 1), *bad;
	const char *sig = strstr(json, "\"sig\":\"") + 7;
	char sigv[89];

	memcpy(sigv, sig, 88);
	sigv[88] = '\0';
	bad_doc("not json", "approval is not valid JSON: '[' or '{' expected near 'not' "
		"(line 1, column 3)");
	bad_doc("{\"v\":1,", "approval is not valid JSON: string or '}' expected near end of "
		"file (line 1, column 7)");
	bad_doc("[1]", "approval must be a JSON object");
	bad_doc("{\"v\":1,\"v\":1}", "approval is not valid JSON: duplicate object key near "
		"'\"v\"' (line 1, column 10)");
	bad_doc("{}", "approval is missing field 'v'");
	bad_doc("{\"v\":2}", "approval format version must be 1");
	bad_doc("{\"v\":1}", "approval is missing field 'job'");
	bad_doc("{\"v\":1,\"job\":1}", "approval field 'job' must be a string");
	bad_doc("{\"v\":1,\"extra\":\"x\"}", "approval has an unknown field 'extra'");
	bad = replace(json, ",\"nonce\":\"00000000000000000000000000000001\"", "");
	bad_doc(bad, "approval is missing field 'nonce'");
	free(bad);
	bad = replace(json, "\"nonce\":\"0000", "\"nonce\":\"000");
	bad_doc(bad, "approval field 'nonce' must be 32 lowercase hex digits");
	free(bad);
	bad = replace(json, "\"decision\":\"approve\"", "\"decision\":\"maybe\"");
	bad_doc(bad, "approval decision must be approve or reject, not 'maybe'");
	free(bad);
	bad = replace(json, "2026-11-25T14:00:00Z", "2026-02-29T14:00:00Z");
	bad_doc(bad, "approval time '2026-02-29T14:00:00Z' must be RFC 3339 UTC like "
		"2026-01-31T23:59:59Z");
	free(bad);
	bad = replace(json, "2026-11-25T14:00:00Z", "2026-11-25T14:00:00+01:00");
	bad_doc(bad, "approval time '2026-11-25T14:00:00+01:00' must be RFC 3339 UTC like "
		"2026-01-31T23:59:59Z");
	free(bad);
	bad = replace(json, "\"by\":\"alice\"", "\"by\":\"\"");
	bad_doc(bad, "approval field 'by' is empty");
	free(bad);
	/* Bad base64: a character outside the alphabet, a short value, and a
	 * non-canonical encoding of the same bytes (the last bits before "=="). */
	{
		char mangled[89];

		memcpy(mangled, sigv, sizeof(mangled));
		mangled[10] = '!';
		bad = replace(json, sigv, mangled);
		bad_doc(bad, "approval field 'sig' is not the base64 of a 64-byte Ed25519 "
			"signature");
		free(bad);
		bad = replace(json, sigv, "AAAA");
		bad_doc(bad, "approval field 'sig' is not the base64 of a 64-byte Ed25519 "
			"signature");
		free(bad);
		memcpy(mangled, sigv, sizeof(mangled));
		/*
		 * The last character before "==" carries 2 bits of the last byte
		 * and 4 zero bits (A, Q, g or w); the next letter decodes to the
		 * same bytes but is not the canonical encoding.
		 */
		CHECK(strchr("AQgw", sigv[85]) != NULL);
		mangled[85] = (char)(sigv[85] + 1);
		bad = replace(json, sigv, mangled);
		bad_doc(bad, "approval field 'sig' is not the base64 of a 64-byte "
			"Ed25519 signature");
		free(bad);
	}
	{
		dr_strbuf big = DR_STRBUF_INIT;

		dr_strbuf_addstr(&big, "{\"comment\":\"");
		for (int i = 0; i < DR_APPROVAL_MAX_JSON; i++)
			dr_strbuf_addch(&big, 'x');
		dr_strbuf_addstr(&big, "\"}");
		bad_doc(big.buf, "approval is too large (16398 bytes, at most 16384)");
		dr_strbuf_release(&big);
	}
	bad_doc(NULL, "the approval is not signed (no \"signature\")");
	free(json);
}

TEST(sign_checks_its_fields)
{
	dr_approval_fields f = { .job = "job-1", .plan = "approvals", .plan_digest = digest0,
				 .gate = "commit", .by = "" };
	char *json = NULL;
	char big[DR_APPROVAL_MAX_COMMENT + 2];

	CHECK_INT(dr_approval_sign(path("keys/ops.key"), &f, &json), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "an approval needs a job, a plan, a plan digest, a gate and "
		  "who signs it (by)");
	f.by = "alice";
	f.plan_digest = "abc";
	CHECK_INT(dr_approval_sign(path("keys/ops.key"), &f, &json), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "approval field 'plan_digest' must be 64 lowercase hex "
		  "digits");
	f.plan_digest = digest0;
	memset(big, 'c', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	f.comment = big;
	CHECK_INT(dr_approval_sign(path("keys/ops.key"), &f, &json), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "approval field 'comment' is too long (at most 4096 bytes)");
	f.comment = "caf\xc3\xa9 \"quoted\" \\ tab\t nl\n bell\a";
	CHECK_INT(dr_approval_sign(path("keys/ops.key"), &f, &json), 0);
	CHECK(json && strstr(json, "\"comment\":\"caf\xc3\xa9 \\\"quoted\\\" \\\\ tab\\t "
			     "nl\\n bell\\u0007\""));
	/* A random nonce when none is given, and the time is now. */
	CHECK(json && strstr(json, "\"nonce\":\"00000000") == NULL);
	free(json);
	f.comment = "bad utf-8 \xff";
	CHECK_INT(dr_approval_sign(path("keys/ops.key"), &f, &json), DR_EINVAL);
	CHECK(!strncmp(dr_error_msg(), "approval is not valid JSON: ", 28));
	CHECK_INT(dr_approval_for_job(path("keys/ops.key"), P, "job-1", "rollback",
				      DR_APPROVAL_APPROVE, "alice", NULL, &json), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "unknown gate 'rollback' (commit or failback-commit)");
}

TEST(gate_without_approvers)
{
	dr_approval_seen seen = DR_APPROVAL_SEEN_INIT;
	dr_approval_result r;
	dr_arena *a = dr_arena_new();
	dr_diags *d = dr_diags_new();
	dr_plan *p = NULL;
	char *json = sign("ops", T0, 1), *text = NULL;
	const char *gates = strstr(plan_text, "gates:");

	/* The same plan without its gates section: both gates have defaults. */
	text = strndup(plan_text, (size_t)(gates - plan_text));
	write_file("nogates.yaml", text);
	CHECK_INT(dr_plan_load(a, path("nogates.yaml"), NULL, d, &p), 0);
	if (!p)
		goto out;
	CHECK(p->commit_gate.at == NULL);
	CHECK_INT(dr_approval_verify(p, &p->commit_gate, "job-1", digest0, "commit", json, T0,
				     0, &seen, &r), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "the commit gate of plan approvals lists no approver keys: "
		  "its approvals are not signed");
	free(json);
	json = NULL;
	CHECK_INT(dr_approval_for_job(path("keys/ops.key"), p, "job-1", "failback-commit",
				      DR_APPROVAL_APPROVE, "alice", NULL, &json), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "the failback-commit gate of plan approvals lists no "
		  "approver keys: its approvals are not signed");
	CHECK(json == NULL);
out:
	dr_approval_seen_release(&seen);
	dr_diags_free(d);
	dr_arena_free(a);
	free(text);
	free(json);
}

TEST(keygen)
{
	struct stat st;
	char fpr[65];

	CHECK_INT(stat(path("keys/ops.key"), &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	CHECK_INT(stat(path("keys/ops.pub"), &st), 0);
	CHECK_INT(st.st_mode & 0777, 0644);
	CHECK_INT(dr_approval_key_fingerprint(path("keys/ops.pub"), fpr), 0);
	CHECK_STR(fpr, fpr_ops);
	CHECK(strcmp(fpr_ops, fpr_dba) != 0);
	/* Never overwrites a key. */
	snprintf(buf, sizeof(buf), "%s/keys/ops.key", dir);
	{
		char priv[1024], pub[1024];

		snprintf(priv, sizeof(priv), "%s/keys/ops.key", dir);
		snprintf(pub, sizeof(pub), "%s/keys/new.pub", dir);
		CHECK_INT(dr_approval_keygen(priv, pub), DR_ECONFLICT);
		snprintf(buf, sizeof(buf), "%s already exists: drplan does not overwrite keys",
			 priv);
		CHECK_STR(dr_error_msg(), buf);
		CHECK(access(pub, F_OK) != 0);
		CHECK_INT(dr_approval_key_fingerprint(path("keys/ops.pub"), fpr), 0);
		CHECK_STR(fpr, fpr_ops);
		/* Into a directory that doesn't exist: nothing is left behind. */
		snprintf(priv, sizeof(priv), "%s/nodir/a.key", dir);
		snprintf(pub, sizeof(pub), "%s/nodir/a.pub", dir);
		CHECK_INT(dr_approval_keygen(priv, pub), DR_EIO);
		snprintf(buf, sizeof(buf), "can't write %s: No such file or directory", priv);
		CHECK_STR(dr_error_msg(), buf);
		/* The public key can't be written: the new private key is taken back. */
		snprintf(priv, sizeof(priv), "%s/keys/b.key", dir);
		snprintf(pub, sizeof(pub), "%s/nodir/b.pub", dir);
		CHECK_INT(dr_approval_keygen(priv, pub), DR_EIO);
		CHECK(access(priv, F_OK) != 0);
	}
}

int main(void)
{
	setup();
	RUN(valid_document_is_canonical);
	RUN(valid);
	RUN(wrong_key);
	RUN(key_field_swapped_to_an_approver);
	RUN(tampered_comment);
	RUN(other_job);
	RUN(other_gate);
	RUN(plan_edited_after_the_job_started);
	RUN(digest_covers_approver_keys);
	RUN(replayed);
	RUN(same_approver_twice_counts_once);
	RUN(stale);
	RUN(from_the_future);
	RUN(quorum_two_of_two);
	RUN(reject);
	RUN(rsa_and_encrypted_keys_refused);
	RUN(unreadable_key_file);
	RUN(approver_key_file_gone);
	RUN(malformed);
	RUN(sign_checks_its_fields);
	RUN(gate_without_approvers);
	RUN(keygen);
	teardown();
	return test_summary();
}
