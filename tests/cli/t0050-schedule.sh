#!/usr/bin/env bash
# drplan schedule list: next drill runs in the plan's time zone.
#   t0050-schedule.sh DRPLAN SRCDIR
set -u
drplan=$1
src=$2
pass=0
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # check NAME CONDITION-STATUS
	if [ "$2" -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi
}

# 2026-11-18T08:26:40Z; erp drills Saturdays 03:00 Europe/Berlin.
out=$("$drplan" schedule list --count 3 --from 1795000000 "$src/plans/erp.yaml" 2>&1)
check "exit 0" $?
want="$src/plans/erp.yaml: plan erp, drill \"0 3 * * SAT\" in Europe/Berlin
  2026-11-21 03:00 (UTC+01:00)
  2026-11-28 03:00 (UTC+01:00)
  2026-12-05 03:00 (UTC+01:00)"
[ "$out" = "$want" ]
check "three Saturdays, winter time" $?

# Across the spring change (2027-03-28 in Europe): a daily 02:30 run does
# not exist that night and runs once at 03:00 CEST, the first instant after.
sed -e 's|schedule: .*|schedule: "30 2 * * *"|' "$src/plans/erp.yaml" > "$tmp/erp.yaml"
cp -r "$src/plans/inventory" "$src/plans/keys" "$tmp/"
sed -i 's|\.\./lua/hooks/|'"$src"'/lua/hooks/|' "$tmp/erp.yaml"
out=$("$drplan" schedule list --count 3 --from 1806105600 "$tmp/erp.yaml" 2>&1)
check "dst exit 0" $?
printf '%s\n' "$out" | grep -q "2027-03-27 02:30 (UTC+01:00)" && \
	printf '%s\n' "$out" | grep -q "2027-03-28 03:00 (UTC+02:00)" && \
	printf '%s\n' "$out" | grep -q "2027-03-29 02:30 (UTC+02:00)"
check "spring gap runs at 03:00 CEST once" $?

out=$("$drplan" schedule list "$src/plans/small.yaml" 2>&1)
check "no schedule exit 0" $?
printf '%s\n' "$out" | grep -q "no drill schedule"
check "says there is none" $?

"$drplan" schedule >/dev/null 2>&1
[ $? -eq 2 ]
check "usage error" $?
"$drplan" schedule list --count 0 "$src/plans/erp.yaml" >/dev/null 2>&1
[ $? -eq 2 ]
check "bad count" $?
"$drplan" schedule list "$tmp/missing.yaml" >/dev/null 2>&1
[ $? -eq 3 ]
check "missing plan is an I/O error" $?

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
