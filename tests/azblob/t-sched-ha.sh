#!/usr/bin/env bash
# t-sched-ha.sh DRPLAN SRCDIR STORE-GET (run by with-azurite.sh): three
# `drplan schedule run` instances share one plans directory and one azblob
# store. A drill becomes due (at the next minute boundary); exactly one
# instance starts it, the other two log claimed-elsewhere. The instance
# running it is killed with SIGKILL mid-drill; once its leases expire
# (DRPLAN_LOCK_TTL=15, Azure's shortest) another instance takes the job
# over and finishes it. Checked: one job for the due time, succeeded once,
# finished by a survivor; each machine's failover accepted once by the
# simulator; the journal clean and every step done once.
drplan=$1 src=$2 storeget=$3
. "$src/tests/cli-run/lib.sh"
: "${DRPLAN_TEST_STORE:?run me with tests/azurite/with-azurite.sh}"
export DRPLAN_STATE=$DRPLAN_TEST_STORE DRPLAN_LOCK_TTL=15
# The drill's 1 h hold takes 18 s at 1/200: the kill lands well inside it.
export DRPLAN_SIM_SCALE=0.005
dir=$tmp/plans
mkdir -p "$dir"
# Due once a day, at the next minute boundary at least 15 s away: the three
# instances are all up and waiting when it comes, and race to claim it (an
# instance that starts after the claim would not see it due at all).
now=$(date +%s)
due=$(( (now + 15 + 59) / 60 * 60 ))
set -- $(date -u -d "@$due" '+%M %H')
sed "s/^groups:/drill:\n  schedule: \"$((10#$1)) $((10#$2)) * * *\"\n  cleanup: { after: 1h }\n\ngroups:/" \
	"$src/plans/small.yaml" >"$dir/small.yaml"
# The container must exist before three instances race to create it.
timeout 60 "$drplan" job list >/dev/null 2>&1

pids=()
for n in a b c; do
	"$drplan" schedule run --plans "$dir" --instance "sched-$n" --rescan 1s \
		2>"$tmp/$n.err" &
	pids+=($!)
done
stop_all() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
}
trap 'stop_all; rm -rf "$tmp"' EXIT

# All three have loaded the plan before the due time.
for i in $(seq 100); do
	[ "$(cat "$tmp"/?.err | grep -c " loaded plan=small ")" = 3 ] && break
	sleep 0.1
done
[ "$(date +%s)" -lt "$due" ] && ok || bad "the instances were not up before the due time"
# Who started it?
holder= id=
for i in $(seq 1000); do
	for n in a b c; do
		if grep -q " started plan=small " "$tmp/$n.err"; then
			holder=$n
			id=$(sed -n 's/.* started plan=small .*job=\([^ ]*\) .*/\1/p' "$tmp/$n.err")
		fi
	done
	[ -n "$holder" ] && break
	sleep 0.1
done
[ -n "$id" ] && ok || { bad "no instance started the drill: $(cat "$tmp"/?.err)"; finish; }
# Let it get into the drill (failovers sent, journal written), then kill it.
sleep 3
idx=$(( $(printf 'abc' | sed "s/$holder.*//" | wc -c) ))
kill -9 "${pids[$idx]}"
wait "${pids[$idx]}" 2>/dev/null
killed_at=$(date +%s)
grep -q " finished " "$tmp/$holder.err" && bad "the drill finished before the kill" || ok
# The dead runner's journal: operations sent, the job not ended.
"$storeget" "$DRPLAN_STATE" "jobs/$id/journal" >"$tmp/journal.killed" && ok || bad "read the journal"
has "$(cat "$tmp/journal.killed")" '"type":"intent"' "an operation was sent before the kill"
hasnt "$(cat "$tmp/journal.killed")" '"type":"job-end"' "the job had not ended at the kill"
others=$(echo a b c | tr ' ' '\n' | grep -v "^$holder$")
for n in $others; do
	has "$(cat "$tmp/$n.err")" "claimed-elsewhere plan=small" "sched-$n: claimed-elsewhere"
	hasnt "$(cat "$tmp/$n.err")" " started " "sched-$n started nothing"
done

# A survivor takes it over once the 15 s leases lapse (the holder renewed
# them at most 5 s before the kill), and finishes it.
finisher= resumed_after=
for i in $(seq 1500); do
	for n in $others; do
		[ -z "$resumed_after" ] && grep -q "resumed plan=small file=small.yaml job=$id " \
			"$tmp/$n.err" && resumed_after=$(( $(date +%s) - killed_at ))
		grep -q "finished plan=small file=small.yaml job=$id " "$tmp/$n.err" && finisher=$n
	done
	[ -n "$finisher" ] && break
	sleep 0.1
done
took=$(( $(date +%s) - killed_at ))
echo "takeover: resumed ${resumed_after:-?}s and finished by sched-$finisher ${took}s after the kill"
[ -n "$finisher" ] && ok || bad "no survivor finished job $id: $(cat "$tmp"/?.err)"
ferr=$(cat "$tmp/$finisher.err")
has "$ferr" "resumed plan=small file=small.yaml job=$id" "sched-$finisher: resumed"
has "$ferr" "finished plan=small file=small.yaml job=$id status=succeeded" \
	"sched-$finisher: succeeded"
[ "${resumed_after:-0}" -ge 9 ] && ok || bad "resumed ${resumed_after:-?}s after the kill, before the lease could lapse"
# Give the third instance a few rescans to (not) do anything, then stop all.
sleep 3
trap 'rm -rf "$tmp"' EXIT
for k in 0 1 2; do
	[ "$k" = "$idx" ] && continue
	kill -TERM "${pids[$k]}"
	wait "${pids[$k]}"
	r=$?
	[ "$r" = 0 ] && ok || bad "survivor ${pids[$k]} exited $r after SIGTERM"
done
hasnt "$(cat "$tmp"/?.err)" "Sanitizer" "sanitizer reports"
all=$(cat "$tmp"/a.err "$tmp"/b.err "$tmp"/c.err)
[ "$(echo "$all" | grep -c " started ")" = 1 ] && ok || bad "more than one start: $all"
[ "$(echo "$all" | grep -c " finished plan=small")" = 1 ] && ok || bad "finished more than once: $all"
[ "$(echo "$all" | grep -c " resumed ")" = 1 ] && ok || bad "resumed more than once: $all"
hasnt "$all" " error " "no error lines"

# One job in the store, succeeded; its journal clean, each step done once.
run job list --format json
expect_rc 0 "job list"
echo "$out" >"$tmp/list.json"
run job show --format json "$id"
expect_rc 0 "job show"
echo "$out" >"$tmp/show.json"
"$storeget" "$DRPLAN_STATE" sim/state.json >"$tmp/sim.json" && ok || bad "read the simulator's state"
"$storeget" "$DRPLAN_STATE" schedule/small/active >/dev/null 2>&1 &&
	bad "the active record is left behind" || ok
"$storeget" "$DRPLAN_STATE" "jobs/$id/journal" >"$tmp/journal" && ok || bad "read the journal"
python3 - "$tmp/list.json" "$tmp/show.json" "$tmp/sim.json" "$tmp/journal" "$id" <<'PY' &&
import collections, json, sys
jobs = json.load(open(sys.argv[1]))
assert [j["job"] for j in jobs] == [sys.argv[5]], jobs
assert jobs[0]["status"] == "succeeded", jobs[0]
d = json.load(open(sys.argv[2]))
assert d["status"] == "succeeded", d["status"]
assert d["journal"]["clean"], d["journal"]
assert all(st["state"] in ("succeeded", "skipped") for st in d["steps"].values()), d["steps"]
assert d["steps_total"] == len(d["steps"]), d["steps_total"]
# The journal: records in sequence, every step transition and every
# operation's intent/accepted/finished written once, one job-end.
recs = [json.loads(l.split(" ", 2)[2]) for l in open(sys.argv[4]) if l.strip()]
assert [r["seq"] for r in recs] == list(range(1, len(recs) + 1))
c = collections.Counter((r["type"], r.get("step"), r.get("from"), r.get("to"))
                        for r in recs if r["type"] in ("step", "intent", "accepted",
                                                       "finished", "job-end"))
twice = {k: v for k, v in c.items() if v != 1}
assert not twice, twice
ops = [r["step"] for r in recs if r["type"] == "intent"]
assert len(ops) == 4, ops
# The simulator accepted each machine's test failover and cleanup once.
items = json.load(open(sys.argv[3]))["items"]
assert sorted(i["name"] for i in items) == ["dc01", "files01"], items
for i in items:
    oc = i.get("opCounts", {})
    assert oc and all(v == 1 for v in oc.values()), (i["name"], oc)
print("job %s: %d records, %d steps; %s" % (sys.argv[5], len(recs), len(d["steps"]),
      "; ".join("%s %s" % (i["name"], i["opCounts"]) for i in items)))
PY
	ok || bad "store contents"

# A bad DRPLAN_LOCK_TTL is refused by the azblob store and, on a directory
# store (no leases), when a job takes its locks.
DRPLAN_LOCK_TTL=5 run job list
[ "$rc" != 0 ] && ok || bad "DRPLAN_LOCK_TTL=5 accepted by azblob"
has "$err" "DRPLAN_LOCK_TTL takes a lease length of 15 to 60 seconds (e.g. 15 or 15s), not '5'" \
	"azblob: bad DRPLAN_LOCK_TTL message"
(unset DRPLAN_STATE; DRPLAN_LOCK_TTL=61s timeout 60 "$drplan" drill "$dir/small.yaml" \
	>"$tmp/out" 2>"$tmp/err")
rc=$?
[ "$rc" != 0 ] && ok || bad "DRPLAN_LOCK_TTL=61s accepted by a job"
has "$(cat "$tmp/err" "$tmp/out")" "DRPLAN_LOCK_TTL takes a lease length of 15 to 60 seconds (e.g. 15 or 15s), not '61s'" \
	"job: bad DRPLAN_LOCK_TTL message"
finish
