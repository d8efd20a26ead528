#!/usr/bin/env bash
# t0200-hook-test.sh DRPLAN SRCDIR: `drplan hook test` runs the real
# lua/hooks/check-sql.lua (with require("drplan.wait")) against a loopback
# TCP port this script opens with python3 and closes again; a failing hook,
# a hook that times out, an env var not allowed, unknown names.
set -u
drplan=$1
src=$2
tmp=$(mktemp -d) || exit 1
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
run() {
	"$drplan" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}
expect_rc() { [ "$rc" = "$1" ] && ok || bad "$2: exit $rc, want $1 (stderr: $err)"; }
has() { case "$1" in *"$2"*) ok ;; *) bad "$3: no '$2' in: $1" ;; esac; }
hasnt() { case "$1" in *"$2"*) bad "$3: unexpected '$2' in: $1" ;; *) ok ;; esac; }

# A listener on an ephemeral loopback port; its port goes to $tmp/port.
python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
while True:
    c, _ = s.accept(); c.close()
' "$tmp/port.tmp" &
srv=$!
for _ in $(seq 50); do [ -s "$tmp/port.tmp" ] && break; sleep 0.1; done
port=$(cat "$tmp/port.tmp")
[ -n "$port" ] || { echo "FAIL: listener did not start"; exit 1; }
# A port nobody listens on: bind, note, close.
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# The repository layout: plans/ next to lua/ (the library and the hooks).
# The plan names a vault: on provider sim the example hooks skip their
# probes (there is no machine to reach), and here the probes are the point.
mkdir -p "$tmp/repo/plans"
cp -r "$src/lua" "$tmp/repo/lua"
cat >"$tmp/repo/plans/db.yaml" <<YAML
apiVersion: drplan/v1
kind: RecoveryPlan
metadata: { name: db }
target: { provider: azure, subscription: 11111111-2222-3333-4444-555555555555,
          vault: vault-dr, resourceGroup: rg-dr, location: westeurope }
defaults:
  target:
    resourceGroup: rg-db
    network: { vnet: vnet-db, subnet: data }
machines:
  - name: db01
    source:
      os: linux
      osVersion: Ubuntu 22.04
      mobilityAgent: "9.56"
      disks: [{ role: os, sizeGiB: 64, filesystem: ext4 }]
      nics: [{ dhcp: false, ip: 127.0.0.1 }]
    target: { ip: 127.0.0.1 }
  - name: web01
    source:
      os: linux
      osVersion: Ubuntu 22.04
      mobilityAgent: "9.56"
      disks: [{ role: os, sizeGiB: 64, filesystem: ext4 }]
groups:
  - name: data
    machines: [db01]
    post:
      - lua: ../lua/hooks/check-sql.lua
        timeout: 30s
        on: [drill, failover, failback]
        args: { port: $port, wait: 5, interval: 1 }
        env: [DB_TOKEN]
  - name: web
    machines: [web01]
YAML
plan=$tmp/repo/plans/db.yaml
hook=$tmp/repo/lua/hooks/check-sql.lua
cd "$tmp" || exit 1

# 1. check-sql.lua reaches the listener (args from the plan's action).
run hook test "$hook" --plan "$plan" --machine db01 --operation drill
expect_rc 0 "check-sql ok"
has "$out" "hook data/post/check-sql" "check-sql: the job's step id"
has "$out" "SQL Server on db01 (127.0.0.1:$port) answered in" "check-sql log"
has "$out" "sql = [{\"ip\":\"127.0.0.1\",\"machine\":\"db01\",\"ms\":" "check-sql output"
has "$out" "ok (" "check-sql outcome"

# JSON: the context a job would give the hook.
run hook test "$hook" --plan "$plan" --machine db01 --operation failback --output json
expect_rc 0 "check-sql json"
has "$out" '"status": "ok"' "json status"
has "$out" '"direction": "to-onprem"' "json context direction"
has "$out" '"step": "data/post/check-sql"' "json context step"
has "$out" '"operation": "failback"' "json context operation"
has "$out" '"instructions": ' "json instructions"
has "$out" '"memory_peak": ' "json memory"

# 2. --arg overrides the action's args: nothing listens there -> exit 1.
run hook test "$hook" --plan "$plan" --machine db01 --operation drill \
	--arg port="$closed" --arg wait=2
expect_rc 1 "check-sql refused"
has "$out" "failed: $hook:" "refused: failed outcome names the file"
has "$out" "SQL Server on db01: 127.0.0.1:$closed not reachable after" "refused message"
has "$out" "connection refused" "refused reason"
has "$err" "check-sql.lua failed:" "refused on stderr"

# 3. A failing hook (drplan.fail), not one of the plan's actions.
printf 'drplan.log("about to fail")\ndrplan.fail("database ERP is offline")\n' >fail.lua
run hook test fail.lua --plan "$plan" --machine web01 --operation failover
expect_rc 1 "fail.lua"
has "$out" "hook hook-test" "fail.lua: not a plan action"
has "$out" "info  about to fail" "fail.lua log"
has "$out" "failed: fail.lua:2: database ERP is offline" "fail.lua message"

# 4. A hook that loops forever, stopped by --timeout (not by the
#    instruction limit, which is raised here).
printf 'while true do end\n' >spin.lua
start=$(date +%s%N)
run hook test spin.lua --plan "$plan" --machine web01 --operation drill \
	--timeout 1s --instructions 100000000000
took=$((($(date +%s%N) - start) / 1000000))
expect_rc 1 "spin timeout"
has "$out" "timeout: timeout (1s) exceeded" "spin timeout message"
[ "$took" -lt 5000 ] && ok || bad "spin took $took ms"
#    ... and with the job's limits, the instruction limit ends it first.
run hook test spin.lua --plan "$plan" --machine web01 --operation drill --timeout 1m
expect_rc 1 "spin instructions"
has "$out" "instruction-limit: instruction limit (100000000) exceeded" "spin instr"
#    ... memory.
printf 'local t = {} for i = 1, 1e9 do t[i] = ("x"):rep(100) .. i end\n' >mem.lua
run hook test mem.lua --plan "$plan" --machine web01 --operation drill --memory 8
expect_rc 1 "mem limit"
has "$out" "memory-limit: memory limit (8 MiB) exceeded" "mem limit message"

# 5. drplan.env: a variable not allowed, then allowed (and masked).
printf 'local v = drplan.env("DB_TOKEN")\ndrplan.log("token %%s", v)\n' >env.lua
DB_TOKEN=s3cr3t-value run hook test env.lua --plan "$plan" --machine web01 --operation drill
expect_rc 1 "env not allowed"
has "$out" "drplan.env: 'DB_TOKEN' is not listed in the action's env:" "env message"
DB_TOKEN=s3cr3t-value run hook test env.lua --plan "$plan" --machine web01 \
	--operation drill --env DB_TOKEN
expect_rc 0 "env allowed"
has "$out" "token ***" "env masked"
hasnt "$out" "s3cr3t" "env value never shown"

# 6. Usage errors: unknown machine / group with did-you-mean, bad options.
run hook test "$hook" --plan "$plan" --machine db1 --operation drill
expect_rc 2 "unknown machine"
has "$err" "unknown machine 'db1' in $plan (did you mean 'db01'?)" "did you mean machine"
run hook test "$hook" --plan "$plan" --group dat --operation drill
expect_rc 2 "unknown group"
has "$err" "(did you mean 'data'?)" "did you mean group"
run hook test "$hook" --plan "$plan" --machine zzzzzz --operation drill
expect_rc 2 "unknown machine, nothing near"
hasnt "$err" "did you mean" "nothing near"
run hook test "$hook" --plan "$plan" --machine db01 --operation drll
expect_rc 2 "bad operation"
run hook test "$hook" --plan "$plan" --machine db01
expect_rc 2 "no operation"
has "$err" "--operation is required" "no operation message"
run hook test "$hook" --plan "$plan" --machine db01 --operation drill --timeout soon
expect_rc 2 "bad timeout"
run hook run "$hook"
expect_rc 2 "unknown subcommand"
run hook test missing.lua --plan "$plan" --machine db01 --operation drill
expect_rc 3 "missing hook file"
run hook test "$hook" --plan "$tmp/nope.yaml" --machine db01 --operation drill
expect_rc 3 "missing plan"

# 7. The repository's own plan: require() finds lua/drplan/ from plans/.
printf 'local h = require("drplan.health")\ndrplan.output("m", type(h.check))\n' >req.lua
run hook test req.lua --plan "$src/plans/erp.yaml" --machine app01 --operation drill
expect_rc 0 "require from plans/erp.yaml"
has "$out" 'm = "function"' "require drplan.health"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
