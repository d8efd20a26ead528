#!/usr/bin/env bash
# t0001-usage.sh DRPLAN SRCDIR: the command line itself - overview, help,
# version, and usage errors (exit 2 with the command's usage line).
set -u
drplan=$1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# run ARGS...: sets $rc, $out (stdout), $err (stderr).
run() {
	"$drplan" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}
expect_rc() { [ "$rc" = "$1" ] && ok || bad "$2: exit $rc, want $1"; }
has() { case "$1" in *"$2"*) ok ;; *) bad "$3: no '$2' in: $1" ;; esac; }
hasnt() { case "$1" in *"$2"*) bad "$3: unexpected '$2' in: $1" ;; *) ok ;; esac; }

run
expect_rc 2 "no arguments"
has "$err" "usage: drplan [--version] [--help] COMMAND [ARGS]" "no arguments"
for c in validate plan graph rules; do has "$err" "  $c " "overview lists $c"; done
[ -z "$out" ] && ok || bad "no arguments: overview must go to stderr, got stdout: $out"

run frobnicate
expect_rc 2 "unknown command"
has "$err" "'frobnicate' is not a drplan command" "unknown command"

for args in "--help" "-h" "help"; do
	run $args
	expect_rc 0 "$args"
	has "$out" "usage: drplan [--version] [--help] COMMAND [ARGS]" "$args"
done

for c in validate plan graph rules; do
	for form in "help $c" "$c --help" "$c -h"; do
		run $form
		expect_rc 0 "$form"
		has "$out" "usage: drplan $c " "$form"
	done
done
run help validate
has "$out" "--strict" "help validate lists --strict"
has "$out" "Exit status:" "help validate has the exit status"

run --version
expect_rc 0 "--version"
[[ $out =~ ^drplan\ [0-9]+\.[0-9]+\.[0-9]+$ ]] && ok || bad "--version prints '$out'"

for c in validate plan graph; do
	run $c --no-such-option x
	expect_rc 2 "$c with an unknown option"
	has "$err" "drplan $c: unknown option '--no-such-option'" "$c unknown option"
	has "$err" "usage: drplan $c " "$c unknown option shows the usage"
done
run rules --bogus
expect_rc 2 "rules with an unknown argument"
has "$err" "usage: drplan rules " "rules usage"

run validate
expect_rc 2 "validate without a plan"
has "$err" "no plan given" "validate without a plan"
run validate --format yaml x.yaml
expect_rc 2 "validate --format yaml"
has "$err" "unknown format 'yaml'" "validate --format yaml"
run validate --color sometimes x.yaml
expect_rc 2 "validate --color sometimes"
run validate --format
expect_rc 2 "validate --format without a value"
has "$err" "drplan validate: option '--format' needs a value" "validate --format without a value"
run plan -j
expect_rc 2 "plan -j without a value"
has "$err" "drplan plan: option '-j' needs a value" "plan -j without a value"
run plan failover
expect_rc 2 "plan without a plan file"
has "$err" "expected an operation and a plan" "plan with one argument"
run graph
expect_rc 2 "graph without a plan"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
