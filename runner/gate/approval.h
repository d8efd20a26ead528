/*
 * approval.h - signed approvals for the commit gates.
 *
 * A gate (dr_gate: approvals, approvers) opens when enough distinct
 * approvers have signed an approval of this job, at this gate, of this very
 * version of the plan. An approval is a small JSON document signed with the
 * approver's Ed25519 private key; the gate's approvers are the matching
 * public keys (PEM files next to the plan). See docs/approvals.md.
 *
 * The document, canonical form (fixed key order, no whitespace, strings
 * escaped as dr_strbuf_add_json_escaped does):
 *
 *   {"v":1,"job":ID,"plan":NAME,"plan_digest":HEX64,"gate":GATE,
 *    "decision":"approve"|"reject","by":WHO,"time":"YYYY-MM-DDTHH:MM:SSZ",
 *    "nonce":HEX32,"comment":TEXT,"sig":B64,"key":HEX64}
 *
 * "sig" is the base64 Ed25519 signature of the canonical bytes of every
 * field before "sig" (the document up to and including "comment", closed
 * with '}'); "key" is the SHA-256 (hex) of the signer's raw 32-byte public
 * key and only selects which approver key to try: it is not trusted.
 * Verification re-serialises the parsed fields canonically, so what is
 * signed is the meaning, not the spacing of the transport.
 *
 * Errors: every function returns 0 or a negative DR_E* code with a message
 * in dr_error_msg(). DR_EINVAL: the input (a key, a document) is wrong or
 * the approval is refused; DR_ECONFLICT: a replay (nonce already used);
 * DR_EIO: a file cannot be read or written; DR_ENOTFOUND: a key file is
 * missing.
 */
#ifndef DR_GATE_APPROVAL_H
#define DR_GATE_APPROVAL_H

#include "core/strbuf.h"
#include "plan/plan.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Clock skew tolerated for approvals dated in the future. */
#define DR_APPROVAL_SKEW_MS (5ull * 60 * 1000)
/* max_age_ms 0 in dr_approval_verify() means this. */
#define DR_APPROVAL_MAX_AGE_DEFAULT_MS (24ull * 60 * 60 * 1000)
/* Limits on untrusted input. */
#define DR_APPROVAL_MAX_JSON 16384
#define DR_APPROVAL_MAX_BY 256      /* bytes of "by" */
#define DR_APPROVAL_MAX_COMMENT 4096 /* bytes of "comment" */
#define DR_APPROVAL_MAX_ID 256      /* bytes of "job", "plan", "gate" */

/*
 * SHA-256 (lowercase hex, NUL-terminated) of what the plan means: the plan
 * file's bytes, the inventory file's bytes (when the plan names one) and
 * every approver key file of both gates, each framed with a tag, its path
 * as written in the plan and a length, in a fixed order (see
 * docs/approvals.md). The files are read again from disk by path (p->file,
 * p->dir + p->inventory.v, p->dir + each approver): compute the digest right
 * after dr_plan_load() at job start and journal it. DR_EIO when a file
 * cannot be read (the message names it).
 */
int dr_plan_digest(const dr_plan *p, char out[65]);

/* SHA-256 (hex) of the raw Ed25519 public key in a PEM public key file. */
int dr_approval_key_fingerprint(const char *public_key_pem_path, char out[65]);

typedef enum dr_approval_decision {
	DR_APPROVAL_APPROVE,
	DR_APPROVAL_REJECT,
} dr_approval_decision;

const char *dr_approval_decision_name(dr_approval_decision d);

/* What an approver signs. Strings are UTF-8 without NUL; see the limits. */
typedef struct dr_approval_fields {
	const char *job;          /* job id */
	const char *plan;         /* plan name (p->name.v) */
	const char *plan_digest;  /* dr_plan_digest() of the plan the signer read */
	const char *gate;         /* "commit" or "failback-commit" */
	dr_approval_decision decision;
	const char *by;           /* who signs, e.g. "alice@ops"; non-empty */
	const char *comment;      /* NULL: "" */
	uint64_t time_ms;         /* Unix ms; 0: now. Kept to the second. */
	const char *nonce;        /* 32 lowercase hex digits; NULL: 16 random bytes */
} dr_approval_fields;

/*
 * Load the Ed25519 private key in private_key_pem_path (PEM, unencrypted;
 * an encrypted key or a key of another type is refused with DR_EINVAL and
 * says so), build the document from f and sign it. *json_out (caller frees)
 * is the canonical document with "sig" and "key".
 */
int dr_approval_sign(const char *private_key_pem_path, const dr_approval_fields *f,
		     char **json_out);

/*
 * For `drplan job approve ID --key PATH` / `drplan job reject ...`: sign
 * decision for job_id at gate_name ("commit", "failback-commit" or the step
 * id "gate/commit") of plan p as the signer sees it now: the digest is
 * computed from the plan files on disk, so if they changed since the job
 * started the executor refuses the approval. comment may be NULL. A gate
 * without approver keys takes unsigned approvals: DR_EINVAL. The
 * result goes into the control request as "signature":
 *   {"action":"approve","gate":...,"by":...,"comment":...,"signature":JSON}
 */
int dr_approval_for_job(const char *private_key_pem_path, const dr_plan *p,
			const char *job_id, const char *gate_name,
			dr_approval_decision decision, const char *by,
			const char *comment, char **json_out);

/*
 * Approvals already accepted at one gate of one job: their nonces (replay)
 * and keys (an approver counts once). The executor keeps one per gate and
 * rebuilds it on resume by verifying the journaled approvals again (see
 * docs/approvals.md). Lifecycle: DR_APPROVAL_SEEN_INIT or _init, _release.
 */
typedef struct dr_approval_seen_entry {
	char nonce[33];
	char key[65];
	size_t approver;           /* index in the gate's approvers */
	dr_approval_decision decision;
} dr_approval_seen_entry;

typedef struct dr_approval_seen {
	dr_approval_seen_entry *v;
	size_t n, alloc;
} dr_approval_seen;

#define DR_APPROVAL_SEEN_INIT { NULL, 0, 0 }
void dr_approval_seen_init(dr_approval_seen *s);
void dr_approval_seen_release(dr_approval_seen *s);

/* The outcome of an accepted approval (all strings NUL-terminated). */
typedef struct dr_approval_result {
	dr_approval_decision decision;
	char by[DR_APPROVAL_MAX_BY + 1];
	char key[65];              /* fingerprint */
	const char *approver;      /* g->approvers.v[i]: path as in the plan */
	size_t approver_index;
	uint64_t time_ms;          /* signing time */
	/* false: this key had approved this gate already; it counts once. */
	bool counted;
} dr_approval_result;

/*
 * Verify approval_json for job_id at gate_name of plan p, whose gate is g
 * (&p->commit_gate or &p->failback_gate), against the digest journaled when
 * the job started. A gate without approver keys (one the plan doesn't state
 * has none) takes unsigned approvals: DR_EINVAL. Then, in order: the
 * document is well formed (DR_EINVAL); its
 * key is one of g's approvers (DR_EINVAL; DR_EIO/DR_ENOTFOUND when an
 * approver key file can't be read); the signature holds (DR_EINVAL); job,
 * gate and plan digest match (DR_EINVAL; a different digest means the plan
 * changed after the job started, and the message says so); the time is at
 * most DR_APPROVAL_SKEW_MS ahead of now_ms and at most max_age_ms (0:
 * DR_APPROVAL_MAX_AGE_DEFAULT_MS) old (DR_EINVAL); the nonce is not in seen
 * (DR_ECONFLICT). Then the approval is added to seen and *out filled:
 * out->counted is false when the same key approved before. A reject is a
 * valid result too (out->decision); it never counts toward the quorum.
 * seen and out are unchanged on failure.
 */
int dr_approval_verify(const dr_plan *p, const dr_gate *g, const char *job_id,
		       const char *plan_digest, const char *gate_name,
		       const char *approval_json, uint64_t now_ms, uint64_t max_age_ms,
		       dr_approval_seen *seen, dr_approval_result *out);

typedef struct dr_approval_quorum_info {
	unsigned needed;           /* g->approvals, at least 1 */
	unsigned have;             /* distinct approver keys that approved */
	bool reached;
	bool rejected;             /* a signed reject is in seen */
} dr_approval_quorum_info;

/*
 * Whether seen holds approvals of g->approvals distinct approvers. Appends
 * the approvers (paths as in the plan) still missing to missing when it is
 * not NULL, comma-separated ("keys/dba.pub, keys/sec.pub"). Returns 1
 * reached, 0 not yet.
 */
int dr_approval_quorum(const dr_gate *g, const dr_approval_seen *seen,
		       dr_approval_quorum_info *info, dr_strbuf *missing);

/*
 * Write a new Ed25519 key pair: the private key (PKCS#8 PEM, unencrypted,
 * mode 0600) to priv_path and the public key (PEM) to pub_path, each
 * written to a temporary file in the same directory, fsynced and renamed.
 * An existing priv_path is never overwritten (DR_ECONFLICT).
 */
int dr_approval_keygen(const char *priv_path, const char *pub_path);

#endif
