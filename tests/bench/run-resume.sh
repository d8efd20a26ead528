#!/usr/bin/env bash
# run-resume.sh BUILD [SRC-STATE JOB-ID] - the journal of a 1,000-machine
# drill on a local directory versus Azurite: appends per second and resume
# (read + replay + status) time. Without SRC-STATE and JOB-ID it first runs
# the drill on the simulator (gen-plan.py 1000, about a minute). Azurite
# comes from tests/azurite/azurite.sh (DRPLAN_AZURITE, or a copy on PATH);
# both keep their data in a new directory under BUILD (one disk for both). Figures go to stdout with
# the machine's load: compare runs on an idle machine only.
set -eu
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "$build/bench-resume.XXXXXX")
az=$work/azurite
cleanup() {
	[ -d "$az" ] && "$src/tests/azurite/azurite.sh" stop "$az" || true
	rm -rf "$work"
}
trap cleanup EXIT

if [ $# -ge 3 ]; then
	state=$2 id=$3
else
	mkdir -p "$work/plans" "$work/lua/hooks"
	python3 "$src/tests/bench/gen-plan.py" --hooks ../lua/hooks 1000 >"$work/plans/big.yaml"
	printf 'return true\n' >"$work/lua/hooks/health-check.lua"
	state=$work/drill-state
	DRPLAN_STATE_DIR=$state DRPLAN_SIM_SCALE=0.00001 \
		"$build/drplan" drill "$work/plans/big.yaml" >"$work/drill.out" 2>&1 || {
		tail -5 "$work/drill.out" >&2
		exit 1
	}
	id=$(ls "$state/jobs")
fi

mkdir -p "$az"
port=$("$src/tests/azurite/azurite.sh" start "$az")
export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$port/devstoreaccount1;"
unset AZURE_STORAGE_KEY AZURE_STORAGE_SAS_TOKEN AZURE_STORAGE_BLOB_ENDPOINT

echo "machine: $(nproc) CPUs, $(uname -m); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "Azurite $("$("$src/tests/azurite/azurite.sh" find)" --version 2>/dev/null || echo '?')"
echo "job $id"
"$build/tests/bench-resume" "$state" "$id" 1000 "$work/dir-state" \
	"azblob://devstoreaccount1/bench"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
