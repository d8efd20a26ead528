#!/usr/bin/env bash
# Benchmark: validate + compile generated plans of 100, 1,000 and 10,000
# machines with `drplan plan failover` (the whole command: load, schema,
# rules, compile, estimate, printing the dry run and the warnings), and
# validate the same plans (as JSON) against the same schema with ajv-cli.
# Prints wall time (best of RUNS), peak memory, the ratio to ajv, then the
# in-process CPU time of each phase for 10,000 machines. Not a test.
#
#   tests/bench/run-validate.sh [RUNS]
#
# Needs python3, node and npm (ajv-cli is installed into build/bench/node).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
out=build/bench
mkdir -p "$out"
cmake -S . -B "$out" -DCMAKE_BUILD_TYPE=Release -DDR_TESTS=ON >/dev/null
cmake --build "$out" -j"$(nproc)" --target drplan bench-pipeline >/dev/null
drplan=$out/drplan

if [ ! -x "$out/node/node_modules/.bin/ajv" ]; then
	npm install --silent --no-audit --no-fund --prefix "$out/node" ajv-cli@5 ajv-formats@2 >/dev/null
fi
ajv=$out/node/node_modules/.bin/ajv

# best_of N CMD...: prints "<best wall seconds> <peak KB of that run>"
best_of() {
	local n=$1 best="" mem="" i t0 t1 t m tf
	shift
	tf=$(mktemp)
	for ((i = 0; i < n; i++)); do
		t0=$EPOCHREALTIME
		/usr/bin/time -o "$tf" -f "%M" "$@" >/dev/null 2>&1 || true
		t1=$EPOCHREALTIME
		m=$(tail -1 "$tf")
		t=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", b - a}')
		if [ -z "$best" ] || awk -v t="$t" -v b="$best" 'BEGIN{exit !(t < b)}'; then
			best=$t
			mem=$m
		fi
	done
	rm -f "$tf"
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
	size=$(awk -v b="$(stat -c %s "$out/plan-$n.yaml")" 'BEGIN{printf "%.1f", b / 1048576}')
	ratio=$(awk -v a="$at" -v d="$dt" 'BEGIN{printf "%.1fx", a / (d > 0 ? d : 0.001)}')
	printf '%-9s %9s %12s %12s %12s %8s\n' "$n" "$size" "$dt" \
		"$(awk -v k="$dm" 'BEGIN{printf "%.1f", k / 1024}')" "$at" "$ratio"
done
echo
echo "phases, in process (CPU time of both threads, and wall; no output rendering):"
"$out/tests/bench-pipeline" "$out/plan-10000.yaml" "$runs"
