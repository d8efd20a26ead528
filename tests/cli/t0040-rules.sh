#!/usr/bin/env bash
# t0040-rules.sh DRPLAN SRCDIR: `drplan rules` lists every rule id that
# validation can print - each id pinned by tests/cases and each id in the
# docs/rules.md table - in text and JSON that agree.
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

run rules
expect_rc 0 "rules"
printf '%s\n' "$out" | awk '{ print $1 }' | sort >"$tmp/text-ids"
# Each line: id, severity, summary.
n=$(printf '%s\n' "$out" | grep -cvE '^[A-Z][A-Z0-9-]+ +(error|warning|info) +[^ ].+$')
[ "$n" = 0 ] && ok || bad "rules: $n lines are not 'ID SEVERITY Summary'"
[ -z "$(uniq -d "$tmp/text-ids")" ] && ok || bad "rules: duplicate ids: $(uniq -d "$tmp/text-ids")"

run rules --format json
expect_rc 0 "rules --format json"
printf '%s\n' "$out" | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    assert set(r) == {"id", "severity", "summary", "source"}, r
    assert r["severity"] in ("error", "warning", "info"), r
    assert r["summary"], r
    print(r["id"])' 2>"$tmp/pyerr" | sort >"$tmp/json-ids"
[ ! -s "$tmp/pyerr" ] && ok || bad "rules --format json: $(cat "$tmp/pyerr")"
cmp -s "$tmp/text-ids" "$tmp/json-ids" && ok || bad "rules: text and json list different ids: $(diff "$tmp/text-ids" "$tmp/json-ids" | tr '\n' ' ')"

# Every rule id pinned by a case is listed.
cat "$src"/tests/cases/*/*/expected.txt | sed -n 's/.*\[\([A-Z][A-Z0-9-]*\)\]$/\1/p' | sort -u >"$tmp/case-ids"
[ "$(wc -l <"$tmp/case-ids")" -ge 40 ] && ok || bad "only $(wc -l <"$tmp/case-ids") rule ids in tests/cases"
missing=$(comm -23 "$tmp/case-ids" "$tmp/text-ids" | tr '\n' ' ')
[ -z "$missing" ] && ok || bad "ids in tests/cases that drplan rules does not list: $missing"

# Every id of the docs/rules.md table is listed, with the same severity.
sed -n 's/^| `\([A-Z][A-Z0-9-]*\)` | \([a-z]*\) |.*/\1 \2/p' "$src/docs/rules.md" | sort >"$tmp/doc-rules"
[ "$(wc -l <"$tmp/doc-rules")" -ge 50 ] && ok || bad "docs/rules.md table not found"
printf '%s\n' "$out" | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    print(r["id"], r["severity"])' | sort >"$tmp/bin-rules"
missing=$(comm -23 "$tmp/doc-rules" "$tmp/bin-rules" | tr '\n' ' ')
[ -z "$missing" ] && ok || bad "docs/rules.md rows that drplan rules lists differently or not at all: $missing"

run rules --format yaml
expect_rc 2 "rules --format yaml"
run rules extra
expect_rc 2 "rules with an argument"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
