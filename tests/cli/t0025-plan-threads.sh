#!/usr/bin/env bash
# t0025-plan-threads.sh DRPLAN SRCDIR: a big plan's dry run compiles on a
# second thread while the rules run, and its machines are schema-checked in
# two halves; the output must be the same bytes as on one thread
# (DRPLAN_THREADS=1), whether the plan passes, fails the rules, fails the
# schema or fails --strict.
set -u
drplan=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=$(cd "$2" && pwd)
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
cd "$tmp" || exit 1

# 1,200 machines: above both thresholds (256 machines, 1,024 items).
python3 "$src/tests/bench/gen-plan.py" --hooks "$src/lua/hooks" 1200 >big.yaml || exit 1
# A rule error (a target IP outside its subnet) and schema errors in both
# halves of the machines.
sed 's/ip: "10\.0\.0\.5"/ip: "10.0.9.5"/' big.yaml >rules.yaml
awk '/cpus: 4/ && (++n == 3 || n == 500) { sub(/cpus: 4/, "cpus: four") } { print }' \
	big.yaml >schema.yaml
cmp -s big.yaml rules.yaml && bad "rules.yaml: the edit did not apply"
cmp -s big.yaml schema.yaml && bad "schema.yaml: the edit did not apply"

same() { # name want-rc args...: one and two threads agree
	local name=$1 want=$2 rc1 rc2
	shift 2
	DRPLAN_THREADS=1 "$drplan" "$@" >one.out 2>one.err
	rc1=$?
	"$drplan" "$@" >two.out 2>two.err
	rc2=$?
	[ "$rc1" = "$want" ] || bad "$name: exit $rc1 on one thread, want $want"
	[ "$rc2" = "$rc1" ] || bad "$name: exit $rc2 on two threads, $rc1 on one"
	cmp -s one.out two.out && ok || bad "$name: stdout differs"
	cmp -s one.err two.err && ok || bad "$name: stderr differs"
}

same "plan failover" 0 plan --color never failover big.yaml
grep -q 'estimated RTO' two.out && ok || bad "plan failover: no estimate"
grep -q 'warning: ' two.err && ok || bad "plan failover: no warnings"
same "plan drill --format json" 0 plan --format json drill big.yaml
same "graph" 0 graph --format mermaid big.yaml
same "plan --strict" 1 plan --strict --color never failover big.yaml
same "rule error" 1 plan --color never failover rules.yaml
grep -q 'error: .*10\.0\.9\.5' two.err && ok || bad "rule error: not reported"
same "schema errors" 1 plan --color never failover schema.yaml
[ "$(grep -c 'error: .*four' two.err)" = 2 ] && ok || bad "schema errors: want 2"
same "validate --format json" 1 validate --format json schema.yaml
same "validate --format sarif" 0 validate --format sarif big.yaml

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
