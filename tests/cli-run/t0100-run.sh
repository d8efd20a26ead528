#!/usr/bin/env bash
# t0100-run.sh DRPLAN SRCDIR: the operation commands end to end on the
# simulator with plans/erp.yaml (hooks stubbed): --dry-run, drill with each
# recovery point choice, then the whole life cycle failover (manual step,
# gate, commit) -> reprotect -> failback (gate, commit) -> reprotect back
# to Azure, with --detach, job continue/approve and job resume.
drplan=$1 src=$2
. "$(dirname "$0")/lib.sh"
erp_copy "$tmp/repo"
plan=$tmp/repo/plans/erp.yaml

# --dry-run prints exactly what `drplan plan` prints.
for op in drill failover commit reprotect failback; do
	"$drplan" plan $op "$plan" >"$tmp/plan.txt" 2>/dev/null
	run $op --dry-run "$plan"
	expect_rc 0 "$op --dry-run"
	[ "$out" = "$(cat "$tmp/plan.txt")" ] && ok || bad "$op --dry-run differs from plan $op"
done
run failover --dry-run --recovery-point latest -j 1 "$plan"
"$drplan" plan failover --recovery-point latest -j 1 "$plan" >"$tmp/plan.txt" 2>/dev/null
[ "$out" = "$(cat "$tmp/plan.txt")" ] && ok || bad "--dry-run with options differs"
if dir_only "--dry-run leaves no state directory behind"; then
	[ ! -e "$DRPLAN_STATE_DIR" ] && ok || bad "--dry-run created the state store"
fi

# Drill, to completion with cleanup, for each recovery point choice.
for rp in "" latest latest-processed latest-app-consistent; do
	run drill ${rp:+--recovery-point $rp} "$plan"
	expect_rc 0 "drill ${rp:-plan default}"
	has "$out" "cleanup/verify succeeded" "drill ${rp:-default} verifies cleanup"
	has "$out" "job $(job_id): succeeded" "drill ${rp:-default} summary"
	has "$out" "measured RTO" "drill ${rp:-default} RTO"
	rpo=$(echo "$out" | grep "^  RPO  ")
	for m in sql01 sql02 app01 app02 web01 web02; do
		has "$rpo " " $m " "drill ${rp:-default} RPO of $m"
	done
done
id=$(job_id)
run job show --format json "$id"
expect_rc 0 "job show json"
point=$(echo "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
p = d["steps"]["data/sql01/test-failover"].get("point", "")
print(p["id"] if isinstance(p, dict) else p)')
case "$point" in rp-*) ok ;; *) bad "no recovery point id in job show: '$point'" ;; esac
# The latest-app-consistent drill's RPO for web01 is an app-consistent
# point's age, so at least the 150 s of pending data.
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["status"] == "succeeded", d["status"]
assert d["rpo"]["web01"] >= 150, d["rpo"]
assert d["counts"] == {"succeeded": 35}, d["counts"]
' "$out" && ok || bad "job show json of an app-consistent drill"
# A custom point the simulator listed, then one it does not know.
run drill --recovery-point "$point" "$plan"
expect_rc 0 "drill at a listed recovery point $point"
run drill --recovery-point rp-20000101T000000Z "$plan"
expect_rc 4 "drill at an unknown recovery point fails"
has "$out" "rp-20000101T000000Z" "unknown point named"
has "$out" "test-failover failed" "unknown point: the step fails"
has "$out" "drplan job retry" "failed job says how to go on"
# It is cleaned up again for what follows: skip is refused for a gate but
# the failed steps can be skipped and the job resumed... simpler: cancel.
bid=$(job_id)
run job cancel "$bid"
expect_rc 8 "cancel of a failed job is refused"
has "$err" "has already ended (failed)" "cancel refusal message"

# failover --detach: stops at the manual step, then at the gate.
run failover --detach "$plan"
expect_rc 5 "failover --detach waits"
id=$(job_id)
has "$out" "app/pre/stop-batch waits for a person" "manual step announced"
has "$out" "drplan job continue $id app/pre/stop-batch" "continue hint"
hasnt "$out" "POINT OF NO RETURN" "nothing committed before the gate"
run job approve "$id"
expect_rc 8 "approve while a manual step waits"
has "$err" "is not waiting at a gate" "approve refusal"
run job continue "$id" app/pre/stop-batch
expect_rc 0 "job continue"
run job resume --detach "$id"
expect_rc 5 "resume --detach stops at the gate"
has "$out" "gate/commit waits for approval (0 of 1)" "gate announced"
has "$out" "drplan job approve $id --gate commit" "approve hint"
run job show "$id"
expect_rc 0 "job show of a waiting job"
has "$out" "status     waiting" "job show: waiting"
has "$out" "journal    " "job show: journal line"
has "$out" "records, clean" "journal clean"
DRPLAN_APPROVAL_KEY= run job approve "$id"
expect_rc 2 "approve without a key at a gate with approver keys"
has "$err" "takes signed decisions only (approvers: keys/ops.pub, ...)" "unsigned approve refused"
run job approve "$id" --comment "app owners agree" --by alice
expect_rc 0 "job approve (signed)"
run job resume "$id"
expect_rc 0 "resume to the end"
has "$out" "POINT OF NO RETURN at commit/" "point of no return printed"
has "$out" "job $id: succeeded" "failover succeeded"
pnr=$(echo "$out" | grep -n "POINT OF NO RETURN" | head -1 | cut -d: -f1)
first_commit=$(echo "$out" | grep -n "/commit running" | head -1 | cut -d: -f1)
[ -n "$pnr" ] && [ -n "$first_commit" ] && [ "$pnr" -lt "$first_commit" ] && ok ||
	bad "point of no return ($pnr) must come before the first commit ($first_commit)"
run job show "$id"
has "$out" "alice" "approval recorded with its author"
has "$out" "app owners agree" "approval comment"
run job resume "$id"
expect_rc 0 "resuming a finished job reports it"
has "$out" "job $id: succeeded" "finished job summary"

run reprotect "$plan"
expect_rc 0 "reprotect to on-premises"
sleep 0.5
run failback --detach "$plan"
expect_rc 5 "failback waits at its gate"
id=$(job_id)
has "$out" "gate/failback-commit" "failback gate"
run job approve "$id" --gate failback-commit
expect_rc 0 "approve failback"
run job resume "$id"
expect_rc 0 "failback to the end"
has "$out" "POINT OF NO RETURN" "failback point of no return"
run reprotect --direction to-azure "$plan"
expect_rc 0 "reprotect to Azure"
has "$out" "succeeded" "reprotect to Azure succeeded"
# Back where we started (after the initial replication, 180 ms at this
# scale): a drill works again.
sleep 0.5
run drill "$plan"
expect_rc 0 "drill after the whole cycle"

# JSON output: one event per line, a job-summary at the end.
run drill --output json "$plan"
expect_rc 0 "drill --output json"
echo "$out" | python3 -c '
import json, sys
evs = [json.loads(l) for l in sys.stdin]
kinds = [e["event"] for e in evs]
assert kinds[0] == "job-started", kinds[0]
assert kinds[-1] == "job-summary" and evs[-1]["status"] == "succeeded", evs[-1]
assert "job-finished" in kinds
assert all("time" in e for e in evs[:-1])
' && ok || bad "json events"

run job list
expect_rc 0 "job list"
n=$(echo "$out" | grep -c "^erp-")
[ "$n" = 12 ] && ok || bad "job list: $n jobs, want 12"
has "$out" "failback   succeeded" "job list row"
finish
