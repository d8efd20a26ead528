#!/usr/bin/env bash
# t0120-bad.sh DRPLAN SRCDIR: bad input and bad moments - a corrupt journal,
# a torn tail, a missing state store, unknown jobs, requests a job's state
# refuses, a second runner on the same plan, SIGINT, an injected failure
# and retry, an unsupported provider, a bad DRPLAN_SIM_SCALE.
drplan=$1 src=$2
. "$(dirname "$0")/lib.sh"
erp_copy "$tmp/repo"
plan=$tmp/repo/plans/erp.yaml

# No state store yet (a directory store that does not exist; an Azure
# container always "exists", its prefix merely holds nothing yet).
if dir_only "job list without a state directory"; then
	run job list
	expect_rc 3 "job list without a state store"
	has "$err" "state store $DRPLAN_STATE_DIR" "names the store"
fi
run job list --state "$tmp/nowhere"
expect_rc 3 "job list --state missing dir"
has "$err" "$tmp/nowhere" "names the missing dir"

run drill "$plan"
expect_rc 0 "a drill to have a store"
did=$(job_id)
run job show no-such-job
expect_rc 3 "unknown job"
has "$err" "no job 'no-such-job' in state store" "unknown job message"
run job approve no-such-job
expect_rc 3 "approve unknown job"
run job show ../../etc
expect_rc 3 "job id with a path"
has "$err" "not a valid job id" "bad id message"
run job approve "$did"
expect_rc 8 "approve a finished job"
has "$err" "is not waiting at a gate" "approve refusal names why"
run job retry "$did" data/sql01/test-failover
expect_rc 8 "retry a succeeded step"
has "$err" "only failed or cancelled steps can be retried" "retry refusal"
run job frob "$did"
expect_rc 2 "unknown job command"
run job show
expect_rc 2 "job show without an id"

# Torn tail: cut the last record in half; show reports it, resume works.
# A torn tail is what a crash leaves in a file; stores with atomic appends
# have none, so elsewhere the job just goes on.
run failover --detach "$plan"
expect_rc 5 "failover --detach"
fid=$(job_id)
torn=0
if dir_only "torn tail: cutting the journal file"; then
	torn=1
	j=$DRPLAN_STATE_DIR/jobs/$fid/journal
	size=$(stat -c %s "$j")
	last=$(tail -n 1 "$j" | wc -c)
	truncate -s $((size - last / 2)) "$j"
	run job show "$fid"
	expect_rc 0 "job show with a torn tail"
	has "$out" "torn tail: $((last - last / 2)) bytes at offset $((size - last))" "torn tail reported"
fi
run job continue "$fid" app/pre/stop-batch
expect_rc 0 "continue after a torn tail"
run job resume --detach "$fid"
expect_rc 5 "resume after a torn tail reaches the gate"
[ $torn = 0 ] || has "$out" "torn" "resume reports the torn tail"
run job show "$fid"
has "$out" "records, clean" "the tail was dropped"

# Second runner on the same plan, while the first waits at the gate.
"$drplan" job resume "$fid" >"$tmp/bg.out" 2>&1 &
bg=$!
for i in $(seq 50); do
	grep -q "waits for approval" "$tmp/bg.out" && break
	sleep 0.1
done
run drill "$plan"
expect_rc 6 "second runner refused"
has "$err" "lock 'erp' is held by job $fid" "refusal names the holder"
run job resume "$fid"
expect_rc 6 "second resume refused"
run job cancel "$fid" --reason "test over"
expect_rc 0 "cancel a waiting job"
wait $bg
rc=$?
[ "$rc" = 7 ] && ok || bad "cancelled runner exits 7, got $rc: $(tail -3 "$tmp/bg.out")"
has "$(cat "$tmp/bg.out")" "job $fid: cancelled" "cancelled summary"

# Corruption: flip a byte in the middle of a journal (in the file; the
# C tests damage journals through any store: test-journal, test-exec).
if dir_only "corruption: editing the journal file"; then
	j=$DRPLAN_STATE_DIR/jobs/$did/journal
	cp "$j" "$tmp/journal.bak"
	n=$(wc -l <"$j")
	off=$(head -n $((n / 2)) "$j" | wc -c)
	off=$((off + 30))
	printf 'X' | dd of="$j" bs=1 seek=$off conv=notrunc 2>/dev/null
	run job show "$did"
	expect_rc 3 "job show of a corrupt journal"
	has "$err" "record $((n / 2 + 1))" "corruption names the record"
	run job resume "$did"
	expect_rc 3 "resume of a corrupt journal"
	has "$err" "record $((n / 2 + 1))" "resume names the record"
	run job list
	expect_rc 0 "job list with a corrupt journal"
	has "$out" "corrupt" "job list marks it"
	cp "$tmp/journal.bak" "$j"
fi

# SIGINT: the loop stops, the job is resumable. (A fresh store: the
# cancelled failover above left the machines failed over.)
fresh_state
DRPLAN_SIM_SCALE=0.01 "$drplan" drill "$plan" >"$tmp/int.out" 2>"$tmp/int.err" &
bg=$!
for i in $(seq 50); do
	grep -q "test-failover running" "$tmp/int.out" && break
	sleep 0.1
done
kill -INT $bg
wait $bg
rc=$?
[ "$rc" = 130 ] && ok || bad "SIGINT exit $rc, want 130"
has "$(cat "$tmp/int.err")" "interrupted by SIGINT" "SIGINT message"
has "$(cat "$tmp/int.err")" "drplan job resume" "SIGINT says how to resume"
iid=$(sed -n 's/^job \([^: ]*\): follow with.*/\1/p' "$tmp/int.out")
run job resume "$iid"
expect_rc 0 "resume after SIGINT"
has "$out" "job $iid: succeeded" "interrupted drill completes"

# An injected failure, then retry.
DRPLAN_SIM_FAULTS="fail:sql02:test-failover::1" run drill "$plan"
expect_rc 4 "drill with an injected failure"
xid=$(job_id)
has "$out" "data/sql02/test-failover failed" "the failed step is shown"
run job show "$xid"
has "$out" "data/sql02/test-failover" "job show lists the failed step"
has "$out" "failed" "job show state"
run job skip "$xid" gate/commit
expect_rc 8 "skip an unknown/gate step refused"
run job retry "$xid" data/sql02/test-failover
expect_rc 0 "retry request"
run job resume "$xid"
expect_rc 0 "the retried drill completes"
run job show --format json "$xid"
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
s = d["steps"]["data/sql02/test-failover"]
assert s["state"] == "succeeded" and s["attempt"] == 1, s
' "$out" && ok || bad "retried step: attempt 2 succeeded"

# Provider and simulator settings.
# An azure plan without the vault's coordinates is invalid (exit 1); with
# them but no credentials in the environment it is refused (exit 3) with
# what to set, and no job starts. Every endpoint points at a closed
# loopback port, so even a broken guard cannot reach IMDS or Azure.
sed 's/provider: sim /provider: azure/' "$plan" >"$tmp/repo/plans/azure.yaml"
run drill "$tmp/repo/plans/azure.yaml"
expect_rc 1 "azure plan without subscription/vault"
has "$err" 'missing required key "vault"' "azure plan: vault required"
sed 's/provider: sim .*/provider: azure\
  subscription: 33333333-3333-3333-3333-333333333333\
  resourceGroup: rg-dr\
  vault: vault-dr\
  location: westeurope/' "$plan" >"$tmp/repo/plans/azure.yaml"
export DRPLAN_STATE_DIR=$tmp/state-az
for v in AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET \
	 AZURE_CLIENT_CERTIFICATE_PATH AZURE_FEDERATED_TOKEN_FILE \
	 AZURE_TOKEN_CREDENTIALS AZURE_POD_IDENTITY_AUTHORITY_HOST DRPLAN_AZURE_OPTIONS; do
	unset $v
done
export DRPLAN_ARM_ENDPOINT=http://127.0.0.1:9 AZURE_AUTHORITY_HOST=http://127.0.0.1:9
export DRPLAN_IMDS_ENDPOINT=http://127.0.0.1:9/metadata/identity/oauth2/token
run drill "$tmp/repo/plans/azure.yaml"
expect_rc 3 "azure plan without credentials"
has "$err" "drplan drill: error: no Azure credentials in the environment: set AZURE_TENANT_ID and AZURE_CLIENT_ID with one of AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE; or, on an Azure host with a managed identity, AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential" "names the variables"
[ ! -d "$tmp/state-az/jobs" ] || [ -z "$(ls "$tmp/state-az/jobs")" ] && ok || bad "a job was started without credentials"
run failover "$tmp/repo/plans/azure.yaml"
expect_rc 3 "azure failover without credentials"
AZURE_CLIENT_SECRET=s run drill "$tmp/repo/plans/azure.yaml"
expect_rc 3 "a secret without tenant and client"
has "$err" "AZURE_TENANT_ID and AZURE_CLIENT_ID must be set with AZURE_CLIENT_SECRET" "incomplete credentials"
AZURE_TOKEN_CREDENTIALS=AzureCliCredential run drill "$tmp/repo/plans/azure.yaml"
expect_rc 3 "a developer credential"
has "$err" "AZURE_TOKEN_CREDENTIALS='AzureCliCredential' is not a credential drplan can use" "unknown credential"
AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential AZURE_CLIENT_SECRET=s run drill "$tmp/repo/plans/azure.yaml"
expect_rc 3 "managed identity asked for with a secret set"
has "$err" "but AZURE_CLIENT_SECRET is set too" "conflicting credentials"
DRPLAN_AZURE_OPTIONS='{"pollMs": "soon"}' AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential \
	run drill "$tmp/repo/plans/azure.yaml"
expect_rc 2 "bad DRPLAN_AZURE_OPTIONS"
has "$err" "option 'pollMs' must be a non-negative integer" "options message"
DRPLAN_AZURE_OPTIONS='[1]' AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential \
	run drill "$tmp/repo/plans/azure.yaml"
expect_rc 2 "DRPLAN_AZURE_OPTIONS not an object"
unset DRPLAN_ARM_ENDPOINT AZURE_AUTHORITY_HOST DRPLAN_IMDS_ENDPOINT
export DRPLAN_STATE_DIR=$tmp/state2
DRPLAN_SIM_SCALE=fast run drill "$plan"
expect_rc 2 "bad DRPLAN_SIM_SCALE"
has "$err" "DRPLAN_SIM_SCALE must be a number" "scale message"
DRPLAN_SIM_FAULTS="bogus" run drill "$plan"
expect_rc 2 "bad DRPLAN_SIM_FAULTS"
has "$err" "DRPLAN_SIM_FAULTS" "faults message"
finish
