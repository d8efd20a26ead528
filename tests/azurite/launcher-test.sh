#!/usr/bin/env bash
# Run by with-azurite.sh: Azurite answers on the exported port, on loopback
# only, and a stop/start on the same port keeps the data directory.
set -eu
fail() { echo "launcher-test: FAIL: $*" >&2; exit 1; }
[ -n "${DRPLAN_AZURITE_PORT:-}" ] || fail "DRPLAN_AZURITE_PORT not set"
case "$DRPLAN_TEST_STORE" in azblob://devstoreaccount1/t*) ;; *) fail "DRPLAN_TEST_STORE=$DRPLAN_TEST_STORE" ;; esac
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$DRPLAN_AZURITE_PORT/devstoreaccount1?comp=list")
# Unsigned: Azurite refuses it, which proves it is Azurite that answered.
[ "$code" = 403 ] || fail "GET ?comp=list answered $code, expected 403"
if command -v ss >/dev/null; then
	ss -ltn | grep -q "127.0.0.1:$DRPLAN_AZURITE_PORT " || fail "not listening on 127.0.0.1"
fi
"$DRPLAN_AZURITE_SH" stop "$DRPLAN_AZURITE_DIR"
curl -s -o /dev/null "http://127.0.0.1:$DRPLAN_AZURITE_PORT/" && fail "still answering after stop"
port=$("$DRPLAN_AZURITE_SH" start "$DRPLAN_AZURITE_DIR" "$DRPLAN_AZURITE_PORT")
[ "$port" = "$DRPLAN_AZURITE_PORT" ] || fail "restarted on $port, not $DRPLAN_AZURITE_PORT"
echo "launcher-test: ok (port $port)"
