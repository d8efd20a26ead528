#!/usr/bin/env bash
# t-restart.sh DRPLAN SRCDIR STORE-GET (run by with-azurite.sh): Azurite is stopped
# and started again in the middle of a failover whose journal it holds.
# The runner rides out the outage on the store's retries; the failover
# completes exactly once: every step and every operation's intent,
# accepted and finished record appear once in the journal, and the
# simulator saw one failover and one commit per machine.
drplan=$1 src=$2
. "$src/tests/cli-run/lib.sh"
: "${DRPLAN_TEST_STORE:?run me with tests/azurite/with-azurite.sh}"
: "${DRPLAN_AZURITE_SH:?}" "${DRPLAN_AZURITE_DIR:?}" "${DRPLAN_AZURITE_PORT:?}"
export DRPLAN_STATE=$DRPLAN_STATE_DIR
# small.yaml: shutdown 2 min and failover 5 min per machine, so at this
# scale the failover group runs for about 8 s.
export DRPLAN_SIM_SCALE=0.02
plan=$src/plans/small.yaml
store_get=$3

"$drplan" failover "$plan" --detach >"$tmp/fo.out" 2>&1 &
bg=$!
for i in $(seq 200); do
	grep -q "failover running" "$tmp/fo.out" 2>/dev/null && break
	sleep 0.1
done
id=$(sed -n 's/^job \([^: ]*\): follow with.*/\1/p' "$tmp/fo.out" | head -1)
[ -n "$id" ] && ok || bad "failover did not start: $(tail -3 "$tmp/fo.out")"

# The outage: 4 s, well inside the store's retry budget (about 15 s). The
# runner must be working on both sides of it, or the test proves nothing.
kill -0 $bg 2>/dev/null && ok || bad "the failover ended before the outage"
"$DRPLAN_AZURITE_SH" stop "$DRPLAN_AZURITE_DIR"
sleep 4
port=$("$DRPLAN_AZURITE_SH" start "$DRPLAN_AZURITE_DIR" "$DRPLAN_AZURITE_PORT")
[ "$port" = "$DRPLAN_AZURITE_PORT" ] && ok || bad "Azurite came back on '$port'"
kill -0 $bg 2>/dev/null && ok || bad "the runner gave up during the outage: $(tail -3 "$tmp/fo.out")"

wait $bg
rc=$?
[ "$rc" = 5 ] && ok || bad "failover waits at its gate (exit 5), got $rc: $(tail -5 "$tmp/fo.out")"
run job approve "$id" --by test --comment "after the outage"
expect_rc 0 "approve"
run job resume "$id"
expect_rc 0 "commit after approval"

run job show "$id" --format json
expect_rc 0 "job show"
echo "$out" >"$tmp/show.json"
"$store_get" "$DRPLAN_STATE" "jobs/$id/journal" >"$tmp/journal" && ok || bad "read the journal"
"$store_get" "$DRPLAN_STATE" sim/state.json >"$tmp/sim.json" && ok || bad "read the simulator's state"
python3 - "$tmp/show.json" "$tmp/journal" "$tmp/sim.json" "$id" <<'PY' &&
import collections, json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "succeeded", d["status"]
assert d["journal"]["clean"], d["journal"]
assert all(st["state"] in ("succeeded", "skipped") for st in d["steps"].values()), d["steps"]
# Records in sequence; every step transition and every operation's
# intent/accepted/finished written once, one job-end.
recs = [json.loads(l.split(" ", 2)[2]) for l in open(sys.argv[2]) if l.strip()]
assert [r["seq"] for r in recs] == list(range(1, len(recs) + 1))
c = collections.Counter((r["type"], r.get("step"), r.get("from"), r.get("to"))
                        for r in recs if r["type"] in ("step", "intent", "accepted",
                                                       "finished", "job-end"))
twice = {k: v for k, v in c.items() if v != 1}
assert not twice, twice
ops = sorted(r["step"] for r in recs if r["type"] == "intent")
assert len(ops) == 4, ops
# The simulator failed over and committed each machine once.
items = json.load(open(sys.argv[3]))["items"]
assert sorted(i["name"] for i in items) == ["dc01", "files01"], items
for i in items:
    oc = i.get("opCounts", {})
    assert oc == {"unplanned-failover": 1, "commit": 1}, (i["name"], oc)
print("job %s: %d records, intents %s; %s" % (sys.argv[4], len(recs), ops,
      "; ".join("%s %s" % (i["name"], i["opCounts"]) for i in items)))
PY
	ok || bad "store contents"
finish
