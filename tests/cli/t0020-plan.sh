#!/usr/bin/env bash
# t0020-plan.sh DRPLAN SRCDIR: `drplan plan OPERATION PLAN` (dry run) on the
# example plans - every operation compiles, shows its estimate, gate and
# point of no return; overrides change the steps; bad input is refused.
set -u
drplan=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=$(cd "$2" && pwd)
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
run() {
	"$drplan" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}
expect_rc() { [ "$rc" = "$1" ] && ok || bad "$2: exit $rc, want $1${err:+ (stderr: $err)}"; }
has() { case "$1" in *"$2"*) ok ;; *) bad "$3: no '$2' in output"; printf '%s\n' "$1" | sed 's/^/    /' | head -20 ;; esac; }
hasnt() { case "$1" in *"$2"*) bad "$3: unexpected '$2'" ;; *) ok ;; esac; }
mkdir "$tmp/work" && cd "$tmp/work" || exit 1

for p in erp failback; do
	plan=$src/plans/$p.yaml
	for op in drill failover commit reprotect failback; do
		run plan --color never "$op" "$plan"
		expect_rc 0 "plan $op $p.yaml"
		has "$out" "plan " "plan $op $p.yaml: header"
		has "$out" ": $op (" "plan $op $p.yaml: names the operation"
		# Recovery operations estimate an RTO; commit and reprotect
		# recover nothing, so they estimate a duration.
		case $op in
		drill | failover | failback)
			has "$out" "estimated RTO" "plan $op $p.yaml" ;;
		*)
			has "$out" "estimated duration" "plan $op $p.yaml" ;;
		esac
		has "$out" "critical path: " "plan $op $p.yaml"
		case $op in
		failover | commit)
			has "$out" "gate/commit" "plan $op $p.yaml: the gate"
			has "$out" "point of no return" "plan $op $p.yaml" ;;
		failback)
			has "$out" "gate/failback-commit" "plan $op $p.yaml: the gate"
			has "$out" "point of no return" "plan $op $p.yaml" ;;
		*)
			hasnt "$out" "point of no return" "plan $op $p.yaml"
			has "$out" "irreversible: nothing" "plan $op $p.yaml" ;;
		esac
	done
done

# The gate shows what the plan states: erp's commit gate.
run plan failover "$src/plans/erp.yaml"
has "$out" "gate/commit: approvals 1 of 2 keys, checks critical-healthy, post-hooks, timeout 2h (then wait)" "erp failover gate"
has "$out" "data/sql01/failover             5m  worst 15m     recovery point latest-app-consistent" "erp failover: the plan's recovery point"
has "$out" "  plan  38m (worst 1h57m)" "erp failover estimate"

# --recovery-point latest: every failover step uses it, and waiting for
# pending data makes the estimate longer.
run plan --recovery-point latest failover "$src/plans/erp.yaml"
expect_rc 0 "--recovery-point latest"
n=$(printf '%s\n' "$out" | grep -cE '/failover .*recovery point latest(;|$)')
[ "$n" = 6 ] && ok || bad "--recovery-point latest: $n of 6 failover steps use it"
hasnt "$out" "latest-processed" "--recovery-point latest overrides the defaults"
hasnt "$out" "latest-app-consistent" "--recovery-point latest overrides the machines"
has "$out" "  plan  47m (worst 2h27m)" "--recovery-point latest estimate"

# reprotect defaults to to-onprem (after a failover); --direction to-azure
# protects again after a failback.
run plan reprotect "$src/plans/failback.yaml"
has "$out" "plan erp-failback: reprotect (to-onprem)" "reprotect default direction"
has "$out" "replicate to-onprem" "reprotect default direction: steps"
run plan --direction to-azure reprotect "$src/plans/failback.yaml"
expect_rc 0 "--direction to-azure"
has "$out" "plan erp-failback: reprotect (to-azure)" "--direction to-azure"
has "$out" "replicate to-azure" "--direction to-azure: steps"
hasnt "$out" "replicate to-onprem" "--direction to-azure: steps"
run plan --direction sideways reprotect "$src/plans/failback.yaml"
expect_rc 2 "--direction sideways"

# A bad plan compiles nothing.
sed 's/^  name: small$/  name: small\n  name: again/' "$src/plans/small.yaml" >bad.yaml
run plan --color never failover bad.yaml
expect_rc 1 "plan on a bad plan"
has "$err" "bad.yaml:10:3: error: duplicate key" "plan on a bad plan: the diagnostic"
has "$err" "drplan plan: bad.yaml has errors; nothing was compiled" "plan on a bad plan"
[ -z "$out" ] && ok || bad "plan on a bad plan printed a plan"
run plan failover no-such.yaml
expect_rc 3 "plan on a missing file"
# Warnings are shown but do not stop a dry run, unless --strict.
run plan --color never failover "$src/plans/erp.yaml"
has "$err" "[AZ-FO-EXTRA-TIME]" "plan shows warnings"
run plan --strict failover "$src/plans/erp.yaml"
expect_rc 1 "plan --strict with warnings"

# Usage errors.
run plan bogus "$src/plans/erp.yaml"
expect_rc 2 "unknown operation"
has "$err" "unknown operation 'bogus'" "unknown operation"
run plan --format yaml failover "$src/plans/erp.yaml"
expect_rc 2 "plan --format yaml"
run plan --concurrency 0 failover "$src/plans/erp.yaml"
expect_rc 2 "plan --concurrency 0"

# JSON parses and agrees with the text.
run plan --format json failover "$src/plans/erp.yaml"
expect_rc 0 "plan --format json"
res=$(printf '%s\n' "$out" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(j["plan"], j["operation"], j["direction"], j["machines"], len(j["groups"]),
      j["summary"]["rto_ms"] // 60000, j["summary"]["gate"],
      sum(1 for s in j["steps"] if s["irreversible"]))' 2>&1)
[ "$res" = "erp failover to-azure 6 3 38 gate/commit 6" ] && ok || bad "plan --format json: '$res'"
run plan --output plan.json --format json failover "$src/plans/erp.yaml"
expect_rc 0 "plan --output"
python3 -m json.tool plan.json >/dev/null 2>&1 && ok || bad "plan --output wrote no JSON"
[ "$(ls -A | tr '\n' ' ')" = "bad.yaml plan.json " ] && ok || bad "plan --output left: $(ls -A)"

# Deterministic: the same plan gives the same bytes.
for op in drill failover failback; do
	for fmt in text json; do
		"$drplan" plan --format "$fmt" "$op" "$src/plans/erp.yaml" >run1 2>&1
		"$drplan" plan --format "$fmt" "$op" "$src/plans/erp.yaml" >run2 2>&1
		cmp -s run1 run2 && ok || bad "plan --format $fmt $op is not deterministic"
	done
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
