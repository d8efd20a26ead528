#!/usr/bin/env bash
# azurite.sh - start and stop Azurite's blob service for the tests.
#
#   azurite.sh start DIR [PORT]   start on 127.0.0.1 (an ephemeral port chosen by
#                                 the kernel unless PORT is given), data in DIR,
#                                 telemetry off; wait until it listens; print
#                                 the port. The pid goes to DIR/azurite.pid and
#                                 the log to DIR/azurite.log.
#   azurite.sh stop DIR           stop it (SIGTERM, then SIGKILL after 5 s).
#   azurite.sh find               print the azurite-blob executable used.
#
# The executable: $DRPLAN_AZURITE, else $DR_AZURITE_PREFIX/node_modules/.bin/
# azurite-blob (where .ci/deps.sh dr_install_azurite puts it), else
# azurite-blob on PATH. Exit status 3 when none is found.
set -u

find_azurite() {
	if [ -n "${DRPLAN_AZURITE:-}" ]; then
		[ -x "$DRPLAN_AZURITE" ] && { echo "$DRPLAN_AZURITE"; return 0; }
		echo "azurite.sh: DRPLAN_AZURITE=$DRPLAN_AZURITE is not executable" >&2
		return 3
	fi
	if [ -n "${DR_AZURITE_PREFIX:-}" ] && [ -x "$DR_AZURITE_PREFIX/node_modules/.bin/azurite-blob" ]; then
		echo "$DR_AZURITE_PREFIX/node_modules/.bin/azurite-blob"
		return 0
	fi
	command -v azurite-blob 2>/dev/null && return 0
	echo "azurite.sh: azurite-blob not found (set DRPLAN_AZURITE, or run" \
		".ci/deps.sh's dr_install_azurite into DR_AZURITE_PREFIX)" >&2
	return 3
}

start() {
	local dir=$1 port=${2:-0} bin pid i
	bin=$(find_azurite) || exit 3
	mkdir -p "$dir/data" || exit 1
	: >"$dir/azurite.log"
	# Loopback only; --skipApiVersionCheck is not needed (x-ms-version
	# 2021-08-06 is supported) so an unsupported header still fails loudly.
	AZURITE_ACCOUNTS= "$bin" --blobHost 127.0.0.1 --blobPort "$port" \
		--location "$dir/data" --disableTelemetry \
		>>"$dir/azurite.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$dir/azurite.pid"
	for i in $(seq 1 300); do
		port=$(sed -n 's|.*successfully listens on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' \
			"$dir/azurite.log" | tail -n 1)
		if [ -n "$port" ]; then
			echo "$port" >"$dir/azurite.port"
			echo "$port"
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "azurite.sh: azurite exited during startup:" >&2
			cat "$dir/azurite.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "azurite.sh: azurite did not listen within 30 s:" >&2
	cat "$dir/azurite.log" >&2
	kill "$pid" 2>/dev/null
	exit 1
}

stop() {
	local dir=$1 pid i
	[ -f "$dir/azurite.pid" ] || return 0
	pid=$(cat "$dir/azurite.pid")
	rm -f "$dir/azurite.pid"
	kill "$pid" 2>/dev/null || return 0
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	return 0
}

case "${1:-}" in
start) [ $# -ge 2 ] || { echo "usage: $0 start DIR [PORT]" >&2; exit 2; }; start "$2" "${3:-0}" ;;
stop) [ $# -ge 2 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }; stop "$2" ;;
find) find_azurite ;;
*) echo "usage: $0 start DIR [PORT] | stop DIR | find" >&2; exit 2 ;;
esac
