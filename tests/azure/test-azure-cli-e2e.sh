#!/usr/bin/env bash
# test-azure-cli-e2e.sh DRPLAN ARMEMU WORKDIR: the real drplan binary runs an
# azure plan through its life cycle against the ARM emulator on 127.0.0.1
# (ephemeral port): a drill (managed identity through the emulator's IMDS),
# failover (unplanned) killed with SIGKILL after ASR accepted a failover
# whose answer was still on its way, `drplan job resume`, the commit gate,
# commit; reprotect; failback (planned failover back on-premises) and its
# commit; reprotect to Azure again. The emulator's counters must show every
# operation accepted exactly once per machine, the target settings PATCHed
# once (by the drill; the failover finds them in line), and the items
# protected to Azure again at the end. Every endpoint is on loopback.
set -u
DRPLAN=$1 ARMEMU=$2 W=$3/cli-e2e.$$
SECRET=e2e-s3cr3t-never-printed
TENANT=11111111-1111-1111-1111-111111111111
CLIENT=22222222-2222-2222-2222-222222222222
SUB=33333333-3333-3333-3333-333333333333
pass=0 fail=0 EMU=
rm -rf "$W" && mkdir -p "$W" || exit 1
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
finish() {
	[ -n "$EMU" ] && kill "$EMU" 2>/dev/null && wait "$EMU" 2>/dev/null
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ] && rm -rf "$W"
	[ "$fail" = 0 ]
	exit $?
}
trap '[ -n "$EMU" ] && kill "$EMU" 2>/dev/null' EXIT
run() {
	timeout 120 "$DRPLAN" "$@" >"$W/out" 2>"$W/err"
	rc=$?
	cat "$W/out" "$W/err" >>"$W/all-output"
}
expect_rc() {
	[ "$rc" = "$1" ] && ok || { bad "$2: exit $rc, want $1"; tail -5 "$W/out" "$W/err"; }
}
job_id() { sed -n 's/^job \([^: ]*\): follow with.*/\1/p' "$W/out" | head -1; }

"$ARMEMU" --port-file "$W/port" --items 3 --scale 0.001 --client-secret "$SECRET" \
	--faults 'lro-retry-after:0' --log "$W/emu.log" 2>"$W/emu.err" &
EMU=$!
i=0
while [ ! -s "$W/port" ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i + 1)); done
[ -s "$W/port" ] || { bad "emulator did not start"; finish; }
PORT=$(cat "$W/port")
URL=http://127.0.0.1:$PORT

# GET or POST (with a body) the emulator's control endpoints.
emu() {
	python3 - "$URL$1" "${2-}" <<'PY'
import sys, urllib.request
data = sys.argv[2].encode() if len(sys.argv) > 2 and sys.argv[2] else None
with urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=data), timeout=10) as r:
    sys.stdout.write(r.read().decode())
PY
}
# Operations the emulator accepted, "ITEM:OP=N ..." for every item, in order.
counts() {
	emu /_emulator/stats | python3 -c '
import json, sys
d = json.load(sys.stdin)["items"]
ops = sys.argv[1].split(",")
print(" ".join("%s:%s=%d" % (i, o, d[i][o]) for i in sorted(d) for o in ops))
' "$1"
}
expect_counts() {
	local got
	got=$(counts "$1")
	[ "$got" = "$2" ] && ok || bad "$3: emulator counts $got, want $2"
}

cat >"$W/plan.yaml" <<YAML
apiVersion: drplan/v1
kind: RecoveryPlan
metadata: { name: e2e }
target:
  provider: azure
  subscription: $SUB
  resourceGroup: rg-dr
  vault: vault-dr
  location: westeurope
defaults:
  target: { resourceGroup: rg-app-dr, network: { vnet: vnet-dr, subnet: app } }
machines:
  - name: vm01
    target: { name: vm01-dr, size: Standard_D4s_v4, ip: 10.20.1.11 }
  - name: vm02
    target: { name: vm02-dr, size: Standard_D4s_v4, ip: 10.20.1.12 }
  - name: vm03
    target: { name: vm03-dr, size: Standard_D8s_v4, ip: 10.20.2.13, availabilitySet: as-data,
              network: { vnet: vnet-dr, subnet: data } }
groups:
  - name: data
    machines: [vm03]
  - name: app
    machines: [vm01, vm02]
YAML
PLAN=$W/plan.yaml

for v in AZURE_CLIENT_CERTIFICATE_PATH AZURE_FEDERATED_TOKEN_FILE AZURE_TOKEN_CREDENTIALS \
	 AZURE_POD_IDENTITY_AUTHORITY_HOST AZURE_RESOURCE_MANAGER_ENDPOINT DRPLAN_ARM_AUDIENCE; do
	unset $v
done
export DRPLAN_STATE_DIR=$W/state
export AZURE_TENANT_ID=$TENANT AZURE_CLIENT_ID=$CLIENT
export DRPLAN_ARM_ENDPOINT=$URL AZURE_AUTHORITY_HOST=$URL
export DRPLAN_IMDS_ENDPOINT=$URL/metadata/identity/oauth2/token
export DRPLAN_AZURE_OPTIONS='{"pollMs": 50, "retryBaseMs": 50, "retryMaxMs": 500}'

# The vault as the items stand: inventory export (and a wait helper).
export_items() {
	AZURE_CLIENT_SECRET=$SECRET "$DRPLAN" inventory export "$PLAN" -o "$W/inv.json" \
		>/dev/null 2>"$W/inv.err"
}
# item_field FIELD...: "vm01=V vm02=V vm03=V" for properties[FIELD] or
# providerSpecificDetails[FIELD]; a NIC field as vmNics.0.FIELD.
item_fields() {
	python3 - "$W/inv.json" "$@" <<'PY'
import json, sys
items = json.load(open(sys.argv[1]))["items"]
out = []
for it in sorted(items, key=lambda i: i["properties"]["friendlyName"]):
    p = it["properties"]
    vals = []
    for f in sys.argv[2:]:
        v = p.get(f, p["providerSpecificDetails"].get(f))
        if f.startswith("vmNics.0."):
            v = p["providerSpecificDetails"]["vmNics"][0].get(f[9:])
        vals.append(str(v))
    out.append("%s=%s" % (p["friendlyName"], ",".join(vals)))
print(" ".join(out))
PY
}
# Wait until every item is Protected (a reprotect's initial replication).
wait_protected() {
	local n=0
	while [ $n -lt 100 ]; do
		export_items && [ "$(item_fields protectionState)" = \
			"vm01=Protected vm02=Protected vm03=Protected" ] && return 0
		sleep 0.2
		n=$((n + 1))
	done
	bad "items not protected after reprotect: $(item_fields protectionState)"
	return 1
}

# ---- 1. drill, with managed identity (IMDS on the emulator) ----
unset AZURE_CLIENT_SECRET
AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential run drill "$PLAN"
expect_rc 0 "drill"
grep -q "job e2e-drill-.*: succeeded" "$W/out" && ok || bad "drill summary: $(tail -3 "$W/out")"
grep -q '"path":"/metadata/identity/oauth2/token' "$W/emu.log" && ok ||
	bad "the drill did not authenticate through IMDS"
expect_counts test-failover,test-failover-cleanup,update "vm01:test-failover=1 \
vm01:test-failover-cleanup=1 vm01:update=1 vm02:test-failover=1 vm02:test-failover-cleanup=1 \
vm02:update=1 vm03:test-failover=1 vm03:test-failover-cleanup=1 vm03:update=1" \
	"drill: test failover, cleanup and target update once per machine"
did=$(job_id)
run job show --format json "$did"
python3 -c '
import json, sys
d = json.load(sys.stdin)
t = {k: v.get("target", {}).get("state") for k, v in d["steps"].items()
     if k.endswith("/test-failover")}
want = {"data/vm03/test-failover": "updated", "app/vm01/test-failover": "updated",
        "app/vm02/test-failover": "updated"}
assert t == want, t
' <"$W/out" && ok || bad "drill: job show does not record the target updates"
# The PATCH carried the plan's target settings.
export_items
[ "$(item_fields targetVmName targetVmSize vmNics.0.targetSubnetName vmNics.0.targetIPAddress)" = \
  "vm01=vm01-dr,Standard_D4s_v4,app,10.20.1.11 vm02=vm02-dr,Standard_D4s_v4,app,10.20.1.12 vm03=vm03-dr,Standard_D8s_v4,data,10.20.2.13" ] &&
	ok || bad "target settings: $(item_fields targetVmName targetVmSize vmNics.0.targetSubnetName vmNics.0.targetIPAddress)"
[ "$(item_fields targetAvailabilitySetId)" = "vm01=None vm02=None \
vm03=/subscriptions/$SUB/resourceGroups/rg-app-dr/providers/Microsoft.Compute/availabilitySets/as-data" ] &&
	ok || bad "availability set: $(item_fields targetAvailabilitySetId)"

# ---- 2. failover, killed while ASR's answer is on its way; resume ----
export AZURE_CLIENT_SECRET=$SECRET
# vm03's failover is accepted at once and answered 3 s late.
emu /_emulator/faults 'slow:3000:1:unplanned-failover' >/dev/null
"$DRPLAN" failover --detach "$PLAN" >"$W/fo.out" 2>"$W/fo.err" &
pid=$!
# Kill the runner once ASR has accepted it (the answer is 3 s away).
n=0
while [ $n -lt 300 ]; do
	[ "$(counts unplanned-failover)" = "vm01:unplanned-failover=0 \
vm02:unplanned-failover=0 vm03:unplanned-failover=1" ] && break
	sleep 0.02
	n=$((n + 1))
done
kill -9 $pid
wait $pid 2>/dev/null
rc=$?
[ "$rc" = 137 ] && ok || bad "failover was not killed mid-run (exit $rc)"
cat "$W/fo.out" "$W/fo.err" >>"$W/all-output"
fid=$(sed -n 's/^job \([^: ]*\): follow with.*/\1/p' "$W/fo.out" | head -1)
[ -n "$fid" ] && ok || { bad "no failover job id"; finish; }
grep -q '"accepted"' "$DRPLAN_STATE_DIR/jobs/$fid/journal" &&
	bad "the failover journaled an accepted operation before the kill" || ok
expect_counts unplanned-failover "vm01:unplanned-failover=0 vm02:unplanned-failover=0 \
vm03:unplanned-failover=1" "at the kill: vm03's failover accepted"
run job resume --detach "$fid"
expect_rc 5 "resumed failover waits at the commit gate"
grep -q '"adopted"' "$DRPLAN_STATE_DIR/jobs/$fid/journal" && ok ||
	bad "resume did not adopt vm03's accepted failover"
run job approve "$fid" --gate commit
expect_rc 0 "approve the commit gate"
run job resume "$fid"
expect_rc 0 "failover commits"
grep -q "job $fid: succeeded" "$W/out" && ok || bad "failover summary: $(tail -3 "$W/out")"
expect_counts unplanned-failover,commit,update "vm01:unplanned-failover=1 vm01:commit=1 \
vm01:update=1 vm02:unplanned-failover=1 vm02:commit=1 vm02:update=1 \
vm03:unplanned-failover=1 vm03:commit=1 vm03:update=1" \
	"failover: once each; targets already in line (no second PATCH)"
run job show --format json "$fid"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
t = {k: v.get("target", {}).get("state") for k, v in d["steps"].items()
     if k.endswith("/failover")}
assert set(t.values()) == {"unchanged"} and len(t) == 3, t
' "$W/out" && ok || bad "failover: targets not recorded unchanged"

# ---- 3. reprotect (Azure -> on-premises) ----
run reprotect "$PLAN"
expect_rc 0 "reprotect to on-premises"
expect_counts reprotect "vm01:reprotect=1 vm02:reprotect=1 vm03:reprotect=1" "reprotect once"
wait_protected
[ "$(item_fields instanceType activeLocation)" = "vm01=InMageRcmFailback,Recovery \
vm02=InMageRcmFailback,Recovery vm03=InMageRcmFailback,Recovery" ] && ok ||
	bad "after reprotect: $(item_fields instanceType activeLocation)"

# ---- 4. failback (planned failover to on-premises), its gate, commit ----
run failback --detach "$PLAN"
expect_rc 5 "failback waits at its gate"
bid=$(job_id)
run job approve "$bid" --gate failback-commit
expect_rc 0 "approve the failback gate"
run job resume "$bid"
expect_rc 0 "failback commits"
expect_counts planned-failover,commit "vm01:planned-failover=1 vm01:commit=2 \
vm02:planned-failover=1 vm02:commit=2 vm03:planned-failover=1 vm03:commit=2" "failback once"
grep -q "RPO .*-" "$W/out" && bad "negative RPO: $(grep RPO "$W/out")" || ok

# ---- 5. reprotect again (on-premises -> Azure) ----
run reprotect --direction to-azure "$PLAN"
expect_rc 0 "reprotect to Azure"
expect_counts reprotect "vm01:reprotect=2 vm02:reprotect=2 vm03:reprotect=2" "second reprotect once"
wait_protected
[ "$(item_fields instanceType activeLocation protectionState)" = "vm01=InMageRcm,Primary,Protected \
vm02=InMageRcm,Primary,Protected vm03=InMageRcm,Primary,Protected" ] && ok ||
	bad "final state: $(item_fields instanceType activeLocation protectionState)"

# ---- the whole story: nothing done twice, nothing else done ----
expect_counts test-failover,test-failover-cleanup,unplanned-failover,apply-recovery-point,commit,reprotect,planned-failover,cancel-failover,update \
	"$(for m in vm01 vm02 vm03; do printf '%s ' "$m:test-failover=1" \
	"$m:test-failover-cleanup=1" "$m:unplanned-failover=1" "$m:apply-recovery-point=0" \
	"$m:commit=2" "$m:reprotect=2" "$m:planned-failover=1" "$m:cancel-failover=0" \
	"$m:update=1"; done | sed 's/ $//')" "every operation, once per stage"
python3 - "$W/emu.log" <<'PY' && ok || bad "the emulator log shows an operation accepted twice"
import json, sys, collections
seen = collections.Counter()
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("accepted"):
        seen[(r["item"], r["op"])] += 1
want = {"test-failover": 1, "test-failover-cleanup": 1, "unplanned-failover": 1,
        "commit": 2, "reprotect": 2, "planned-failover": 1, "update": 1}
# The failover whose answer was lost with the killed runner is logged when
# the emulator notices the closed connection, or not at all.
bad = {k: n for k, n in seen.items() if n > want.get(k[1], 0)}
assert not bad and len(seen) >= 3 * len(want) - 1, (bad, seen)
PY
# ---- 6. the same plan as a scheduled drill: `drplan schedule run --once` ----
mkdir -p "$W/sched"
{ cat "$PLAN"; printf 'drill:\n  schedule: "* * * * *"\n'; } >"$W/sched/e2e.yaml"
# No credentials: the plan is refused, nothing reaches the emulator.
unset AZURE_CLIENT_SECRET
run schedule run --plans "$W/sched" --once
grep -q "invalid file=e2e.yaml message=\"target.provider is azure, but the environment has no Azure credentials" \
	"$W/err" && ok || bad "schedule run without credentials: $(tail -3 "$W/err")"
AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential run schedule run --plans "$W/sched" --once
expect_rc 0 "scheduled drill"
grep -q "finished plan=e2e .*status=succeeded" "$W/err" && ok ||
	bad "scheduled drill: $(tail -3 "$W/err")"
expect_counts test-failover,test-failover-cleanup "vm01:test-failover=2 \
vm01:test-failover-cleanup=2 vm02:test-failover=2 vm02:test-failover-cleanup=2 \
vm03:test-failover=2 vm03:test-failover-cleanup=2" "scheduled drill: once per machine"

kill "$EMU"
wait "$EMU" 2>/dev/null
EMU=
cat "$W/all-output" "$W/emu.log" "$DRPLAN_STATE_DIR"/jobs/*/journal | grep -q -- "$SECRET" &&
	bad "the client secret appears in output, the emulator log or a journal" || ok
finish
