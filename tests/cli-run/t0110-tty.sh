#!/usr/bin/env bash
# t0110-tty.sh DRPLAN SRCDIR: the live progress table on a terminal (run
# under script(1) for a pty; skipped without it), plain lines otherwise.
drplan=$1 src=$2
. "$(dirname "$0")/lib.sh"
erp_copy "$tmp/repo"
plan=$tmp/repo/plans/erp.yaml
esc=$(printf '\033')

# Not a terminal: one line per event, no escape sequences.
run drill "$plan"
expect_rc 0 "drill to a pipe"
hasnt "$out" "$esc" "no ANSI sequences on a pipe"
has "$out" "data/sql01/test-failover running (attempt 1)" "plain event line"
echo "$out" | grep -Eq '^[0-9]{2}:[0-9]{2}:[0-9]{2} data/sql01/test-failover succeeded$' &&
	ok || bad "plain line format HH:MM:SS STEP STATE"

if ! command -v script >/dev/null; then
	echo "script(1) not found: TTY tests skipped"
	finish
fi
# A terminal: the table, redrawn in place. Slow enough for a few redraws.
TERM=xterm DRPLAN_SIM_SCALE=0.001 script -qc "'$drplan' drill '$plan' 2>/dev/null" /dev/null >"$tmp/tty"
rc=$?
expect_rc 0 "drill on a pty"
t=$(cat "$tmp/tty")
has "$t" "GROUP / MACHINE" "table header"
for m in sql01 sql02 app01 app02 web01 web02; do
	has "$t" "  $m " "row for $m"
done
has "$t" "data [2/2]" "group row with machines done"
has "$t" "test-failover" "current step shown"
has "$t" "cleanup/verify" "the cleanup check row"
has "$t" "job " "job line"
ups=$(grep -o "$esc\[[0-9]*A" "$tmp/tty" | wc -l)
[ "$ups" -ge 3 ] && ok || bad "table redrawn in place: $ups cursor-up sequences, want >= 3"
clears=$(grep -o "$esc\[2K" "$tmp/tty" | wc -l)
[ "$clears" -ge 20 ] && ok || bad "lines cleared before redraw: $clears"
has "$t" ": succeeded" "summary after the table"
# The redraw keeps the table to the terminal: no line longer than 100.
long=$(sed "s/$esc\[[0-9;]*[A-Za-z]//g" "$tmp/tty" | tr -d '\r' | awk 'length > 100' | grep -vc "^  RPO\|follow with" || true)
[ "$long" = 0 ] && ok || bad "$long table lines wider than the terminal"

# TERM=dumb on a terminal: plain lines.
TERM=dumb script -qc "'$drplan' drill '$plan' 2>/dev/null" /dev/null >"$tmp/dumb"
t=$(cat "$tmp/dumb")
hasnt "$t" "GROUP / MACHINE" "no table with TERM=dumb"
has "$t" "test-failover running (attempt 1)" "lines with TERM=dumb"

# A large plan on a small terminal: the table is cut to the screen.
python3 "$src/tests/bench/gen-plan.py" 60 >"$tmp/repo/plans/big.yaml"
mkdir -p "$tmp/repo/plans/lua/hooks"
printf 'return true\n' >"$tmp/repo/plans/lua/hooks/health-check.lua"
TERM=xterm script -qc "stty rows 20 cols 90; '$drplan' drill --output text '$tmp/repo/plans/big.yaml' 2>/dev/null" /dev/null >"$tmp/big"
t=$(cat "$tmp/big")
has "$t" "more (" "machines beyond the screen are summed up"
rows=$(awk -v e="$esc" 'BEGIN{n=0;m=0} { if (index($0, e "[J")) { if (n > m) m = n; n = 0 } else if (index($0, e "[2K")) n++ } END{print m}' "$tmp/big")
[ "$rows" -le 20 ] && [ "$rows" -ge 5 ] && ok || bad "table on a 20-row terminal has $rows rows"
finish
