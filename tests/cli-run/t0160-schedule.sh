#!/usr/bin/env bash
# t0160-schedule.sh DRPLAN SRCDIR: `drplan schedule run` for real on the
# simulator. A plan due every minute runs at start-up (the missed-run rule:
# the current minute's due time is within the catch-up window); SIGTERM
# during the drill parks the job (exit 0, lock free, journal not ended);
# a second start (--once) resumes and finishes it without running the due
# time again. Then: `drplan job resume` of a parked job, an orphaned
# `drplan drill` adopted at start-up, --json log lines
# with an invalid plan, usage errors.
drplan=$1 src=$2
. "$(dirname "$0")/lib.sh"
# A drill of the plan below takes about 4 s (its 1 h hold at 1/1000).
export DRPLAN_SIM_SCALE=0.001
dir=$tmp/repo/plans
mkdir -p "$dir"
sed 's/^groups:/drill:\n  schedule: "* * * * *"\n  cleanup: { after: 1h }\n\ngroups:/' \
	"$src/plans/small.yaml" >"$dir/small.yaml"
st=$DRPLAN_STATE_DIR

# Start the scheduler and wait for "started"; then SIGTERM it mid-drill.
sched_then_term() {
	"$drplan" schedule run --plans "$dir" --rescan 1s "$@" 2>"$tmp/s.err" &
	pid=$!
	for i in $(seq 100); do
		grep -q " started " "$tmp/s.err" && break
		sleep 0.1
	done
	sleep 1
	kill -TERM $pid
	wait $pid
	rc=$?
	log=$(cat "$tmp/s.err")
	id=$(sed -n 's/.* started plan=small .*job=\([^ ]*\) .*/\1/p' "$tmp/s.err" | head -1)
}

sched_then_term
expect_rc 0 "SIGTERM: the scheduler exits 0"
[ -n "$id" ] && ok || { bad "no job started: $log"; finish; }
has "$log" "loaded plan=small file=small.yaml" "log: loaded"
has "$log" " due plan=small" "log: due"
has "$log" "started plan=small file=small.yaml job=$id" "log: started"
has "$log" "stopping message=\"SIGTERM: parking running jobs\"" "log: stopping"
has "$log" "parked plan=small file=small.yaml job=$id" "log: parked"
hasnt "$log" " finished " "nothing finished before SIGTERM"
run job show --format json "$id"
expect_rc 0 "job show of the parked job"
status=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
[ "$status" = running ] && ok || bad "parked job status: $status"
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["job"])' \
	"$st/schedule/small/active" >"$tmp/active"
[ "$(cat "$tmp/active")" = "$id" ] && ok || bad "active record: $(cat "$tmp/active")"
claim=$(ls "$st/schedule/small/runs")
[ "$(echo "$claim" | wc -l)" = 1 ] && ok || bad "claims: $claim"
has "$(cat "$st/schedule/small/runs/$claim")" "\"state\":\"started\"" "claim says started"
# The lock is free: a manual drill would not be refused for the lock.
python3 - "$st" <<'PY' && ok || bad "the plan's lock is still held"
import fcntl, os, sys
fd = os.open(os.path.join(sys.argv[1], "locks", "small.lock"), os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
PY

# A second start finishes it; the due time is not run again.
run schedule run --plans "$dir" --once --catch-up 0
expect_rc 0 "second start (--once) finishes the parked job"
has "$err" "resumed plan=small file=small.yaml job=$id" "log: resumed"
has "$err" "finished plan=small file=small.yaml job=$id status=succeeded" "log: finished"
hasnt "$err" " started " "no new drill"
run job show --format json "$id"
has "$out" '"status": "succeeded"' "the parked job succeeded"
[ ! -e "$st/schedule/small/active" ] && ok || bad "active record left behind"
has "$(cat "$st/schedule/small/runs/$claim")" '"state":"finished"' "claim says finished"
has "$(cat "$st/schedule/small/runs/$claim")" '"status":"succeeded"' "claim has the status"

# A parked job can also be finished by hand with `drplan job resume`.
rm -rf "$st/schedule"
sched_then_term
expect_rc 0 "second SIGTERM"
has "$log" "parked plan=small file=small.yaml job=$id" "log: parked again"
run job resume "$id"
expect_rc 0 "drplan job resume of a parked scheduled job"
has "$out" "job $id: succeeded" "job resume finishes it"
# The scheduler then finds the active record of a finished job: it clears it.
run schedule run --plans "$dir" --once --catch-up 0
expect_rc 0 "--once after a manual resume"
has "$err" "finished plan=small file=small.yaml job=$id status=succeeded" \
	"finished job's record is cleared"
[ ! -e "$st/schedule/small/active" ] && ok || bad "active record left behind (2)"

# An orphaned manual drill (its runner killed) is adopted at start-up.
"$drplan" drill "$dir/small.yaml" >"$tmp/d.out" 2>/dev/null &
pid=$!
for i in $(seq 100); do
	grep -q "follow with" "$tmp/d.out" && break
	sleep 0.1
done
sleep 1
kill -9 $pid
wait $pid 2>/dev/null
oid=$(sed -n 's/^job \([^: ]*\): follow with.*/\1/p' "$tmp/d.out")
[ -n "$oid" ] && ok || bad "no manual drill id"
run schedule run --plans "$dir" --once --catch-up 0
expect_rc 0 "--once adopts an orphaned drill"
has "$err" "resumed plan=small file=small.yaml job=$oid" "log: orphan resumed"
has "$err" "finished plan=small file=small.yaml job=$oid status=succeeded" "log: orphan finished"
run job show --format json "$oid"
has "$out" '"status": "succeeded"' "the orphaned drill succeeded"

# --json, and an invalid plan reported and skipped.
printf 'apiVersion: drplan/v1\nkind: RecoveryPlan\nmetadata: {}\n' >"$dir/bad.yaml"
run schedule run --plans "$dir" --once --catch-up 0 --json
expect_rc 0 "--once with an invalid plan"
echo "$err" | python3 -c '
import json, sys
ev = [json.loads(l) for l in sys.stdin if l.strip()]
names = [e["event"] for e in ev]
bad = [e for e in ev if e["event"] == "invalid"]
assert bad and bad[0]["file"] == "bad.yaml", names
assert "SCHEMA" in bad[0]["message"] or "required" in bad[0]["message"], bad[0]
assert any(e["event"] == "loaded" and e["plan"] == "small" for e in ev), names
assert all("time" in e for e in ev)
' && ok || bad "json log lines: $err"

# Usage and environment errors.
run schedule run
expect_rc 2 "no --plans"
has "$err" "schedule run needs --plans DIR" "no --plans message"
run schedule run --plans "$dir" --catch-up 8d
expect_rc 2 "catch-up too long"
run schedule run --plans "$dir" --catch-up soon
expect_rc 2 "bad duration"
has "$err" "--catch-up takes a duration such as 30s, 15m or 6h, not 'soon'" "duration message"
run schedule run --plans "$tmp/nowhere" --once
expect_rc 3 "missing plans directory"
has "$err" "plans directory $tmp/nowhere" "missing directory message"
finish
