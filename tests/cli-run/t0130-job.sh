#!/usr/bin/env bash
# t0130-job.sh DRPLAN SRCDIR: job follow on a running job, approve while
# the runner is attached, change-recovery-point at the commit gate, reject,
# and the commit operation after a rejected gate.
drplan=$1 src=$2
. "$(dirname "$0")/lib.sh"
erp_copy "$tmp/repo"
plan=$tmp/repo/plans/erp.yaml

# follow a drill while it runs; it ends when the job does.
DRPLAN_SIM_SCALE=0.001 "$drplan" drill "$plan" >"$tmp/bg.out" 2>/dev/null &
bg=$!
for i in $(seq 50); do
	id=$(sed -n 's/^job \([^: ]*\): follow with.*/\1/p' "$tmp/bg.out")
	[ -n "$id" ] && break
	sleep 0.1
done
run job follow "$id"
expect_rc 0 "job follow until the end"
has "$out" "job $id: drill of plan erp" "follow starts at the header"
has "$out" "cleanup/verify succeeded" "follow shows steps"
has "$out" "job succeeded" "follow shows the end"
wait $bg
[ $? = 0 ] && ok || bad "followed drill failed"

# failover with the runner attached: requests reach it through the store.
"$drplan" failover "$plan" >"$tmp/fo.out" 2>/dev/null &
bg=$!
for i in $(seq 100); do
	grep -q "waits for a person" "$tmp/fo.out" 2>/dev/null && break
	sleep 0.1
done
id=$(sed -n 's/^job \([^: ]*\): follow with.*/\1/p' "$tmp/fo.out")
run job continue "$id" app/pre/stop-batch
expect_rc 0 "continue an attached job"
for i in $(seq 100); do
	grep -q "gate/commit waits for approval" "$tmp/fo.out" && break
	sleep 0.1
done
has "$(cat "$tmp/fo.out")" "gate/commit waits for approval" "attached job reached the gate"
run job change-recovery-point "$id" sql01 --point latest
expect_rc 0 "change-recovery-point at the gate"
run job change-recovery-point "$id" nosuch --point latest
expect_rc 8 "change-recovery-point for an unknown machine"
has "$err" "nosuch" "unknown machine named"
run job change-recovery-point "$id" sql01
expect_rc 2 "change-recovery-point without --point"
sleep 1
run job reject "$id" --comment "not today"
expect_rc 0 "reject"
wait $bg
rc=$?
[ "$rc" = 7 ] && ok || bad "rejected failover exits 7, got $rc"
t=$(cat "$tmp/fo.out")
has "$t" "request change-recovery-point" "the runner read the change request"
# The executor on this branch may not carry recovery point changes out yet.
case "$t" in
*"is not supported by this runner"*) echo "note: change-recovery-point not supported by the executor yet"; rpchange=0 ;;
*) has "$t" "change-rp" "the recovery point change ran as a step"; rpchange=1 ;;
esac
has "$t" ": rejected" "rejected summary"
hasnt "$t" "POINT OF NO RETURN" "a rejected gate commits nothing"
run job show --format json "$id"
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["status"] == "rejected", d["status"]
if sys.argv[2] == "1":
    ch = [k for k in d["steps"] if "change-rp" in k]
    assert ch and d["steps"][ch[0]]["state"] == "succeeded", (ch, d["steps"].get(ch[0] if ch else ""))
' "$out" $rpchange && ok || bad "job show after change-recovery-point and reject"

# Later, the decision to commit: the commit operation with its own gate.
run commit --detach "$plan"
expect_rc 5 "commit waits at its gate"
cid=$(job_id)
run job approve "$cid" --by bob
expect_rc 0 "approve commit"
run job resume "$cid"
expect_rc 0 "commit to the end"
has "$out" "POINT OF NO RETURN" "commit: point of no return"
has "$out" "job $cid: succeeded" "commit succeeded"
finish
