/*
 * fuzz-approval.c - libFuzzer target for dr_approval_verify(): the bytes
 * are an approval document delivered to a gate whose approvers are
 * keys/fuzz.pub and keys/second.pub in this directory (keys/fuzz.key is a
 * test-only private key, so the corpus holds validly signed documents and
 * the fuzzer reaches the checks after the signature). Run from the source
 * tree's root. Whatever the bytes: no crash, hang or leak; a refusal has a
 * message and changes nothing; an accepted approval is sane and cannot be
 * accepted twice.
 */
#include "core/error.h"
#include "gate/approval.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 2026-11-25T14:00:00Z, the corpus's signing time. */
#define T0 (1795615200ull * 1000)
#define DIGEST "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *approvers[] = { "keys/fuzz.pub", "keys/second.pub" };
	static const int node; /* any non-NULL "at": the gate exists */
	dr_plan p = { 0 };
	dr_approval_seen seen = DR_APPROVAL_SEEN_INIT;
	dr_approval_result r;
	dr_approval_quorum_info q;
	char *text;
	int rc;

	if (size > 2 * DR_APPROVAL_MAX_JSON)
		return 0;
	text = malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	p.file = "tests/fuzz-approval/plan.yaml";
	p.dir = "tests/fuzz-approval";
	p.name.v = "fuzz";
	p.commit_gate.at = (const dr_ynode *)&node;
	p.commit_gate.approvals.v = 2;
	p.commit_gate.approvers.v = approvers;
	p.commit_gate.approvers.n = 2;
	dr_error_clear();
	rc = dr_approval_verify(&p, &p.commit_gate, "job-1", DIGEST, "commit", text,
				T0 + 60000, 0, &seen, &r);
	if (rc < 0) {
		if (!dr_error_msg()[0] || seen.n)
			abort();
	} else {
		if (rc || seen.n != 1 || !r.by[0] || r.approver_index != 0 ||
		    strcmp(r.approver, approvers[0]) || strlen(r.key) != 64)
			abort();
		if (dr_approval_verify(&p, &p.commit_gate, "job-1", DIGEST, "commit", text,
				       T0 + 60000, 0, &seen, &r) != DR_ECONFLICT || seen.n != 1)
			abort();
		if (dr_approval_quorum(&p.commit_gate, &seen, &q, NULL) != 0 ||
		    q.have != (r.decision == DR_APPROVAL_APPROVE ? 1u : 0u))
			abort();
	}
	dr_approval_seen_release(&seen);
	free(text);
	return 0;
}
