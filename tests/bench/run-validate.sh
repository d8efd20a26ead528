#!/usr/bin/env bash
# Benchmark: validate + compile generated plans of 100, 1,000 and 10,000
# machines with `drplan plan failover`, and validate the same plans (as
# JSON) against the same schema with ajv-cli. Prints wall time (best of
# RUNS), peak memory, and the ratio to ajv. Not a test: it prints figures.
#
#   tests/bench/run-validate.sh [RUNS]
#
# Needs python3, node and npm (ajv-cli is installed into build/bench/node).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
out=build/bench
mkdir -p "$out"
cmake -S . -B "$out" -DCMAKE_BUILD_TYPE=Release -DDR_TESTS=OFF >/dev/null
cmake --build "$out" -j"$(nproc)" >/dev/null
drplan=$out/drplan

if [ ! -x "$out/node/node_modules/.bin/ajv" ]; then
	npm install --silent --no-audit --no-fund --prefix "$out/node" ajv-cli@5 ajv-formats@2 >/dev/null
fi
ajv=$out/node/node_modules/.bin/ajv

# best_of N CMD...: prints "<best wall seconds> <peak KB of that run>"
best_of() {
	local n=$1 best="" mem="" i t0 t1 t m
	shift
	for ((i = 0; i < n; i++)); do
		t0=$EPOCHREALTIME
		m=$( { /usr/bin/time -f "%M" "$@" >/dev/null 2>/dev/null; } 2>&1 | tail -1)
		t1=$EPOCHREALTIME
		t=$(awk "BEGIN{printf \"%.4f\", $t1 - $t0}")
		if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; mem=$m; fi
	done
	echo "$best $mem"
}

printf 'host: %s, %s cores, load %s\n' "$(uname -m)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %9s %12s %12s %12s %8s\n' machines "YAML MB" "drplan s" "drplan MB" "ajv-cli s" ratio
for n in 100 1000 10000; do
	python3 tests/bench/gen-plan.py --hooks ../../lua/hooks "$n" >"$out/plan-$n.yaml"
	python3 tests/bench/gen-plan.py --hooks ../../lua/hooks "$n" --json >"$out/plan-$n.json"
	"$drplan" validate --color never "$out/plan-$n.yaml" >/dev/null
	read -r dt dm <<<"$(best_of "$runs" "$drplan" plan failover "$out/plan-$n.yaml")"
	read -r at _ <<<"$(best_of 3 "$ajv" validate --spec=draft7 --strict=false \
		-c ./tests/bench/ajv-drplan-formats.js -c ajv-formats \
		-s schemas/recovery-plan.schema.json -d "$out/plan-$n.json")"
	size=$(awk "BEGIN{printf \"%.1f\", $(stat -c %s "$out/plan-$n.yaml")/1048576}")
	ratio=$(awk "BEGIN{printf \"%.1fx\", $at / ($dt > 0 ? $dt : 0.001)}")
	printf '%-9s %9s %12s %12s %12s %8s\n' "$n" "$size" "$dt" \
		"$(awk "BEGIN{printf \"%.1f\", $dm/1024}")" "$at" "$ratio"
done
