#!/usr/bin/env bash
# t0010-validate.sh DRPLAN SRCDIR: `drplan validate` end to end - exit
# codes, --strict, the json/sarif/junit formats, --output, colour and
# determinism, on the example plans and small plans written here.
set -u
drplan=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=$(cd "$2" && pwd)
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
skipped() { skip=$((skip + 1)); echo "SKIP: $*"; }
run() {
	"$drplan" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}
expect_rc() { [ "$rc" = "$1" ] && ok || bad "$2: exit $rc, want $1${err:+ (stderr: $err)}"; }
has() { case "$1" in *"$2"*) ok ;; *) bad "$3: no '$2' in: $1" ;; esac; }
hasnt() { case "$1" in *"$2"*) bad "$3: unexpected '$2'" ;; *) ok ;; esac; }
esc=$(printf '\033[')

# Plans used below: a clean one (small.yaml), one with a warning (an
# unknown size) and one with an error (a duplicate key), written in a
# temporary directory so the test never writes next to the sources.
mkdir "$tmp/work" && cd "$tmp/work" || exit 1
cp "$src/plans/small.yaml" clean.yaml
sed 's/size: Standard_D2s_v4/size: Standard_D2s_v9/' "$src/plans/small.yaml" >warn.yaml
sed 's/^  name: small$/  name: small\n  name: again/' "$src/plans/small.yaml" >bad.yaml

# -- the example plans are clean, one by one and together
for p in "$src"/plans/*.yaml; do
	run validate "$p"
	expect_rc 0 "validate $(basename "$p")"
	has "$out" "0 errors" "validate $(basename "$p")"
done
run validate "$src"/plans/*.yaml
expect_rc 0 "validate all example plans"

# -- exit codes 0 / 1 / 3
run validate clean.yaml
expect_rc 0 "clean plan"
[ "$out" = "0 errors, 0 warnings" ] && ok || bad "clean plan prints '$out'"
run validate --color never bad.yaml
expect_rc 1 "plan with an error"
has "$out" "bad.yaml:10:3: error: duplicate key \"name\" (first defined at line 9); remove one of them [YAML-DUPLICATE-KEY]" "plan with an error"
has "$out" "1 error, 0 warnings" "plan with an error: summary"
run validate no-such-plan.yaml
expect_rc 3 "missing file"
has "$out$err" "cannot read no-such-plan.yaml: No such file or directory" "missing file"
mkdir adir
run validate adir
expect_rc 3 "a directory"
has "$out$err" "cannot read adir: Is a directory" "a directory"
run validate clean.yaml no-such-plan.yaml bad.yaml
expect_rc 3 "an unreadable file wins over an invalid one"

# -- warnings pass, unless --strict
run validate --color never warn.yaml
expect_rc 0 "plan with a warning"
has "$out" "[AZ-SIZE-UNKNOWN]" "plan with a warning"
has "$out" "0 errors, 1 warning" "plan with a warning: summary"
run validate --strict warn.yaml
expect_rc 1 "--strict with a warning"
run validate --strict clean.yaml
expect_rc 0 "--strict on a clean plan"

# -- JSON: parses, and the counts are right
run validate --format json clean.yaml warn.yaml bad.yaml
expect_rc 1 "--format json"
if printf '%s\n' "$out" | python3 -m json.tool >/dev/null 2>&1; then ok; else bad "--format json does not parse"; fi
counts=$(printf '%s\n' "$out" | python3 -c '
import json, sys
j = json.load(sys.stdin)
d = j["diagnostics"]
e = sum(1 for x in d if x["severity"] == "error")
w = sum(1 for x in d if x["severity"] == "warning")
files = sorted({x["file"] for x in d if x["severity"] != "info"})
print(j["errors"], j["warnings"], e, w, ",".join(files))' 2>&1)
[ "$counts" = "1 1 1 1 bad.yaml,warn.yaml" ] && ok || bad "--format json counts: '$counts'"
run validate --format json --strict warn.yaml
expect_rc 1 "--format json --strict"

# -- SARIF: valid against the official 2.1.0 schema
if python3 -c 'import jsonschema' >/dev/null 2>&1; then
	run validate --format sarif clean.yaml warn.yaml bad.yaml
	expect_rc 1 "--format sarif"
	res=$(printf '%s\n' "$out" | python3 -c '
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
log = json.load(sys.stdin)
jsonschema.Draft4Validator(schema).validate(log)
r = log["runs"][0]["results"]
print(len([x for x in r if x["level"] == "error"]), len([x for x in r if x["level"] == "warning"]))
' "$src/tests/diagfmt/sarif-schema-2.1.0.json" 2>&1)
	[ "$res" = "1 1" ] && ok || bad "--format sarif: $res"
else
	skipped "python3-jsonschema not installed: SARIF not checked against its schema"
fi

# -- JUnit: well-formed, one testcase per plan file, failures for errors
if command -v xmllint >/dev/null 2>&1; then
	run validate --format junit clean.yaml warn.yaml bad.yaml
	expect_rc 1 "--format junit"
	if printf '%s\n' "$out" | xmllint --noout - 2>"$tmp/xerr"; then ok; else bad "--format junit is not well-formed: $(cat "$tmp/xerr")"; fi
	names=$(printf '%s\n' "$out" | xmllint --xpath '//testcase/@name' - 2>/dev/null | tr -s ' \n' '\n\n' | sed -n 's/^name="\(.*\)"$/\1/p' | tr '\n' ' ')
	[ "$names" = "clean.yaml warn.yaml bad.yaml " ] && ok || bad "--format junit testcases: '$names'"
	nfail=$(printf '%s\n' "$out" | xmllint --xpath 'count(//testcase[failure])' - 2>/dev/null)
	[ "$nfail" = 1 ] && ok || bad "--format junit: $nfail failed testcases, want 1"
else
	skipped "xmllint not installed: JUnit output not checked"
fi

# -- --output writes the same bytes atomically, leaving no temp file
mkdir outdir
"$drplan" validate --format json clean.yaml warn.yaml >stdout.json 2>/dev/null
run validate --format json --output outdir/report.json clean.yaml warn.yaml
expect_rc 0 "--output"
[ -z "$out" ] && ok || bad "--output still wrote to stdout: $out"
cmp -s stdout.json outdir/report.json && ok || bad "--output content differs from stdout"
[ "$(ls -A outdir)" = "report.json" ] && ok || bad "--output left files behind: $(ls -A outdir)"
run validate --color always --output outdir/report.txt warn.yaml
hasnt "$(cat outdir/report.txt)" "$esc" "--output FILE never gets colour"
run validate --output no-such-dir/report.json clean.yaml
expect_rc 3 "--output into a missing directory"
has "$err" "no-such-dir/report.json" "--output into a missing directory names the file"
[ ! -e no-such-dir ] && ok || bad "--output created no-such-dir"
echo old >outdir/keep.json
run validate --output outdir/keep.json adir
expect_rc 3 "--output with an unreadable plan"
[ "$(ls -A outdir | sort | tr '\n' ' ')" = "keep.json report.json report.txt " ] && ok || bad "temp files left in outdir: $(ls -A outdir)"

# -- colour: NO_COLOR and --color
export NO_COLOR=1
run validate warn.yaml
hasnt "$out" "$esc" "NO_COLOR=1"
run validate --color always warn.yaml
has "$out" "$esc" "--color always beats NO_COLOR"
unset NO_COLOR
run validate --color never warn.yaml
hasnt "$out" "$esc" "--color never"
run validate --color auto warn.yaml
hasnt "$out" "$esc" "--color auto on a pipe"

# -- several files, one bad: exit 1, both reported
run validate --color never warn.yaml bad.yaml clean.yaml
expect_rc 1 "three files, one bad"
has "$out" "warn.yaml:" "three files: the warning"
has "$out" "bad.yaml:" "three files: the error"
has "$out" "1 error, 1 warning" "three files: summary"

# -- infos only with --verbose in text, always in json
run validate --color never clean.yaml
hasnt "$out" "info:" "text hides infos"
run validate --color never --verbose clean.yaml
has "$out" "info:" "--verbose shows infos"
has "$out" "[AZ-CONN-WINDOWS]" "--verbose shows infos"

# -- deterministic: the same input gives the same bytes
for fmt in text json sarif junit; do
	"$drplan" validate --format "$fmt" "$src"/plans/*.yaml warn.yaml bad.yaml >run1 2>&1
	"$drplan" validate --format "$fmt" "$src"/plans/*.yaml warn.yaml bad.yaml >run2 2>&1
	cmp -s run1 run2 && ok || bad "--format $fmt is not deterministic"
done

echo "$pass passed, $fail failed${skip:+, $skip skipped}"
[ "$fail" = 0 ]
