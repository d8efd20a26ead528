#!/usr/bin/env bash
# t0030-graph.sh DRPLAN SRCDIR: `drplan graph` as DOT (rendered with
# graphviz when installed), Mermaid and JSON; the three agree on the steps
# and edges; unknown formats are usage errors.
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
has() { case "$1" in *"$2"*) ok ;; *) bad "$3: no '$2' in output" ;; esac; }
mkdir "$tmp/work" && cd "$tmp/work" || exit 1
have_dot=0
command -v dot >/dev/null 2>&1 && have_dot=1
[ $have_dot = 1 ] || skipped "graphviz (dot) not installed: DOT output not rendered"

for p in erp failback small; do
	plan=$src/plans/$p.yaml
	for op in drill failover commit reprotect failback; do
		t="graph --operation $op $p.yaml"
		# JSON: the reference for step and edge counts.
		run graph --format json --operation "$op" "$plan"
		expect_rc 0 "$t --format json"
		counts=$(printf '%s\n' "$out" | python3 -c '
import json, sys
j = json.load(sys.stdin)
ids = [s["id"] for s in j["steps"]]
assert len(ids) == len(set(ids)), "duplicate step ids"
for s in j["steps"]:
    for d in s["deps"]:
        assert d in ids, "unknown dep " + d
print(len(ids), sum(len(s["deps"]) for s in j["steps"]), j["operation"])' 2>&1)
		case $counts in
		*" $op") ok ;;
		*) bad "$t --format json: $counts"; continue ;;
		esac
		nsteps=${counts%% *}
		rest=${counts#* }
		nedges=${rest%% *}

		run graph --operation "$op" "$plan"
		expect_rc 0 "$t (dot)"
		has "$out" "digraph drplan {" "$t (dot)"
		n=$(printf '%s\n' "$out" | grep -c '^ *"[^"]*" -> "[^"]*"')
		[ "$n" = "$nedges" ] && ok || bad "$t (dot): $n edges, JSON has $nedges"
		if [ $have_dot = 1 ]; then
			if printf '%s\n' "$out" | dot -Tsvg >g.svg 2>dot.err &&
			   grep -q '<svg' g.svg && [ ! -s dot.err ]; then
				ok
			else
				bad "$t: dot -Tsvg failed: $(cat dot.err)"
			fi
		fi

		run graph --format mermaid --operation "$op" "$plan"
		expect_rc 0 "$t --format mermaid"
		[ "$(printf '%s\n' "$out" | head -1)" = "flowchart TD" ] && ok || bad "$t --format mermaid: first line"
		# Every step is a node (s0, s1, ...) and every edge joins two
		# declared nodes.
		res=$(printf '%s\n' "$out" | python3 -c '
import re, sys
nodes, edges = set(), []
for line in sys.stdin:
    m = re.match(r"\s*(s\d+)[\[\(\{]", line)
    if m:
        nodes.add(m.group(1))
    m = re.match(r"\s*(s\d+)\s*(?:-->|==>|-\.->)\s*(s\d+)\s*$", line)
    if m:
        edges.append(m.groups())
bad = [e for e in edges if e[0] not in nodes or e[1] not in nodes]
print(len(nodes), len(edges), len(bad))' 2>&1)
		[ "$res" = "$nsteps $nedges 0" ] && ok || bad "$t --format mermaid: nodes/edges/undeclared '$res', want '$nsteps $nedges 0'"
	done
done

# Failover of erp: the gate, the commit phase and the critical path.
run graph "$src/plans/erp.yaml"
has "$out" 'label="erp: failover (to-azure)";' "dot label"
has "$out" '"gate/commit"' "dot gate"
has "$out" '"web/end" -> "gate/commit";' "dot: the gate waits for the last group"

run graph --format svg "$src/plans/erp.yaml"
expect_rc 2 "graph --format svg"
has "$err" "--format takes dot, mermaid or json" "graph --format svg"
run graph --operation bogus "$src/plans/erp.yaml"
expect_rc 2 "graph --operation bogus"
run graph "$src/plans/erp.yaml" "$src/plans/small.yaml"
expect_rc 2 "graph with two plans"
run graph no-such.yaml
expect_rc 3 "graph of a missing file"

for fmt in dot mermaid json; do
	"$drplan" graph --format "$fmt" "$src/plans/erp.yaml" >run1 2>&1
	"$drplan" graph --format "$fmt" "$src/plans/erp.yaml" >run2 2>&1
	cmp -s run1 run2 && ok || bad "graph --format $fmt is not deterministic"
done

echo "$pass passed, $fail failed${skip:+, $skip skipped}"
[ "$fail" = 0 ]
