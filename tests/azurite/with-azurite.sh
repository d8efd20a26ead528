#!/usr/bin/env bash
# with-azurite.sh CMD [ARGS...] - run CMD against a fresh Azurite.
#
# Starts Azurite (azurite.sh) in a temporary directory, exports
#   DRPLAN_TEST_STORE=azblob://devstoreaccount1/<random container>
#   AZURE_STORAGE_CONNECTION_STRING  (Azurite's well-known development key)
#   DRPLAN_AZURITE_DIR, DRPLAN_AZURITE_PORT, DRPLAN_AZURITE_SH
#     (so a test can stop and restart the same instance)
# runs CMD, and stops Azurite and removes the directory whatever happens.
# CMD's exit status is returned.
#
# When Azurite cannot be found this fails (exit 1): a test that needs it
# must not pass silently. DRPLAN_SKIP_AZURITE=1 turns that into a skip
# (exit 77, ctest's SKIP_RETURN_CODE).
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }

if ! "$here/azurite.sh" find >/dev/null 2>&1; then
	if [ "${DRPLAN_SKIP_AZURITE:-}" = 1 ]; then
		echo "with-azurite.sh: Azurite not found; skipped (DRPLAN_SKIP_AZURITE=1)" >&2
		exit 77
	fi
	"$here/azurite.sh" find >/dev/null
	echo "with-azurite.sh: FAIL: this test needs Azurite (set DRPLAN_SKIP_AZURITE=1 to skip)" >&2
	exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/drplan-azurite.XXXXXX") || exit 1
cleanup() {
	"$here/azurite.sh" stop "$dir"
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

port=$("$here/azurite.sh" start "$dir") || exit 1
container="t$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
export DRPLAN_TEST_STORE="azblob://devstoreaccount1/$container"
export AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$port/devstoreaccount1;"
export DRPLAN_AZURITE_DIR="$dir" DRPLAN_AZURITE_PORT="$port" DRPLAN_AZURITE_SH="$here/azurite.sh"
# Whatever the caller's environment says, these tests use the connection string.
unset AZURE_STORAGE_KEY AZURE_STORAGE_SAS_TOKEN AZURE_STORAGE_BLOB_ENDPOINT
"$@"
status=$?
if [ $status -ne 0 ] && [ $status -ne 77 ]; then
	echo "with-azurite.sh: $1 failed ($status); the last of Azurite's log:" >&2
	tail -n 20 "$dir/azurite.log" >&2
fi
exit $status
