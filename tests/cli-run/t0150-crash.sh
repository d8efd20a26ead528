#!/usr/bin/env bash
# t0150-crash.sh DRPLAN SRCDIR: a 200-machine failover killed with SIGKILL
# at 50 or more random moments, resumed each time (approving the gate and
# continuing manual steps when it waits) until it succeeds; then the
# simulator's saved state must show every machine's unplanned failover
# accepted exactly once and its commit once, and the journal must be clean.
# KILLS (default 50) sets how many kills must land.
#
# Directory store only: after kill -9 a flock is free at once, while an
# Azure lease stays taken until it expires (15-60 s), so 50 kills would
# take most of an hour; it also reads the journal and simulator state as
# files. The same path on any store: tests/unit/test-exec-crash.c (crash
# points) and test-exec-lock.c (a lease lost mid-job, resume elsewhere).
drplan=$1 src=$2
. "$(dirname "$0")/lib.sh"
dir_only "kill -9 and flock; the journal and simulator state read as files" || finish
want=${KILLS:-50}
mkdir -p "$tmp/repo/plans/lua/hooks"
printf 'return true\n' >"$tmp/repo/plans/lua/hooks/health-check.lua"
python3 "$src/tests/bench/gen-plan.py" 200 >"$tmp/repo/plans/p200.yaml"
plan=$tmp/repo/plans/p200.yaml
RANDOM=${SEED:-$$}

run failover --detach "$plan"
id=$(job_id)
[ -n "$id" ] && ok || { bad "no job id: $out $err"; finish; }
landed=0 midrun=0 cycles=0 base=20 status=$rc waits=0
while [ $cycles -lt 600 ]; do
	cycles=$((cycles + 1))
	if [ "$status" = 5 ]; then
		waits=$((waits + 1))
		# Whatever waits for people: approve gates, continue manual steps.
		"$drplan" job show --format json "$id" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
for k, s in d["steps"].items():
    if s["state"] == "waiting":
        print(("approve" if s.get("kind") == "gate" else "continue"), k)
' >"$tmp/waiting"
		while read -r what step; do
			if [ "$what" = approve ]; then
				"$drplan" job approve "$id" --gate "${step#gate/}" >/dev/null
			else
				"$drplan" job continue "$id" "$step" >/dev/null
			fi
		done <"$tmp/waiting"
	elif [ "$status" = 0 ]; then
		break
	elif [ "$status" != 137 ]; then
		bad "resume ended with exit $status: $(tail -3 "$tmp/r.err")"
		break
	fi
	before=$(stat -c %s "$DRPLAN_STATE_DIR/jobs/$id/journal")
	"$drplan" job resume --detach "$id" >"$tmp/r.out" 2>"$tmp/r.err" &
	pid=$!
	if [ $landed -lt "$want" ]; then
		# base..base+250 ms, where base follows how long a resume takes
		# to start writing on this machine (a sanitizer build is slower).
		d=$((base + RANDOM % 250))
		sleep "$((d / 1000)).$(printf '%03d' $((d % 1000)))"
		if kill -9 $pid 2>/dev/null; then
			landed=$((landed + 1))
			wait $pid 2>/dev/null
			status=$?
			after=$(stat -c %s "$DRPLAN_STATE_DIR/jobs/$id/journal")
			if [ "$after" -gt "$before" ]; then
				midrun=$((midrun + 1))
				[ $base -gt 20 ] && base=$((base - 10))
			else
				base=$((base + 25))
			fi
			continue
		fi
	fi
	wait $pid 2>/dev/null
	status=$?
done
echo "kills landed: $landed in $cycles runs, $midrun of them after the job had written" \
	"to its journal; $waits waits for people"
[ $midrun -ge $((want / 3)) ] && ok || bad "only $midrun kills landed mid-run"
[ $landed -ge "$want" ] && ok || bad "only $landed kills landed, want $want"
[ "$status" = 0 ] && ok || bad "job did not succeed: exit $status"

run job show --format json "$id"
expect_rc 0 "job show after the crashes"
echo "$out" >"$tmp/show.json"
python3 - "$tmp/show.json" "$DRPLAN_STATE_DIR/sim/state.json" <<'PY' && ok || bad "state after the crashes"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "succeeded", d["status"]
assert d["journal"]["clean"], d["journal"]
sim = json.load(open(sys.argv[2]))
items = sim["items"]
assert len(items) == 200, len(items)
badf = [(i["name"], i.get("opCounts")) for i in items
        if i.get("opCounts", {}).get("unplanned-failover") != 1]
badc = [(i["name"], i.get("opCounts")) for i in items
        if i.get("opCounts", {}).get("commit") != 1]
assert not badf, ("failover not exactly once", badf[:5], len(badf))
assert not badc, ("commit not exactly once", badc[:5], len(badc))
assert all(i["committed"] for i in items)
print("200 machines: unplanned failover accepted once, committed once")
PY
run job show "$id"
has "$out" "records, clean" "job show: clean journal"
has "$out" "status     succeeded" "job show: succeeded"
finish
