#!/usr/bin/env bash
# Run one data-driven validation case and compare with what it pins.
#   run-case.sh DRPLAN CASEDIR
# CASEDIR holds plan.yaml (plus any inventory or hook files it names) and
# expected.txt: the diagnostics `drplan validate` must print, one
# "file:line:col: severity: message [RULE-ID]" line each, in order. An
# optional args file adds options (e.g. --strict); an optional exit file
# holds the expected exit status (default 1).
set -u
drplan=$1
dir=$2
cd "$dir" || exit 2
args=()
[ -f args ] && read -r -a args < args
want_exit=1
[ -f exit ] && want_exit=$(cat exit)
out=$("$drplan" validate --color never "${args[@]}" plan.yaml 2>&1)
got_exit=$?
# Keep only the diagnostic lines, not the quoted source, carets or summary.
got=$(printf '%s\n' "$out" | grep -E '^[^ ]+:[0-9]+:[0-9]+: (error|warning|info): |^drplan: (error|warning)' || true)
if [ "$got" != "$(cat expected.txt)" ] || [ "$got_exit" != "$want_exit" ]; then
	echo "case $(basename "$dir"): exit $got_exit (want $want_exit)"
	diff -u expected.txt <(printf '%s\n' "$got")
	echo "--- full output:"
	printf '%s\n' "$out"
	exit 1
fi
echo "case $(basename "$dir"): ok"
