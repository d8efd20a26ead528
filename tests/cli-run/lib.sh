# lib.sh: what the tests/cli-run scripts share. Source it after setting
# drplan=$1 src=$2. Gives: $tmp (removed at exit), a state store in
# $DRPLAN_STATE_DIR (see fresh_state), $store_kind (dir or azblob) and
# dir_only WHY (false, after saying so, when the store is not a
# directory), ok/bad/has/hasnt/expect_rc, run (sets rc, out, err),
# job_id (the id from the last run's first line), and erp_copy DIR: a copy
# of plans/erp.yaml whose Lua hooks are stubs (the simulator has no
# network for hooks to probe) and whose approver key keys/ops.pub is a
# fresh test key; its private key is $tmp/ops.key, exported as
# DRPLAN_APPROVAL_KEY so `job approve` signs.
set -u
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp" ${state_base:+"$state_base"}' EXIT
# The state store, from $DRPLAN_TEST_STORE as a base, as
# tests/unit/teststore.h does for the C tests: unset, $tmp/state (as it
# always was); a directory, a fresh directory under it; azblob://..., a
# fresh prefix under it (tests/azurite/with-azurite.sh sets it). A store
# that does not exist yet: the first run creates it. fresh_state moves on
# to another new, empty store of the same kind.
state_n=0 state_base=
case "${DRPLAN_TEST_STORE:-}" in
"") store_kind=dir ;;
azblob://*) store_kind=azblob ;;
*) store_kind=dir; state_base=$(mktemp -d "$DRPLAN_TEST_STORE/drplan-cli-XXXXXX") || exit 1 ;;
esac
fresh_state() {
	state_n=$((state_n + 1))
	local sfx=
	[ $state_n -gt 1 ] && sfx=$state_n
	case "$store_kind:${DRPLAN_TEST_STORE:-}" in
	dir:) DRPLAN_STATE_DIR=$tmp/state$sfx ;;
	dir:*) DRPLAN_STATE_DIR=$state_base/state$sfx ;;
	azblob:*) DRPLAN_STATE_DIR=${DRPLAN_TEST_STORE%/}/$(basename "$0" .sh)-$$-$RANDOM$sfx ;;
	esac
	export DRPLAN_STATE_DIR
}
fresh_state
dir_only() {
	[ "$store_kind" = dir ] && return 0
	echo "skip under $store_kind: $1 (directory store only)"
	return 1
}
export DRPLAN_SIM_SCALE=${DRPLAN_SIM_SCALE:-0.0001}
unset DRPLAN_SIM_FAULTS DRPLAN_STATE
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
run() {
	timeout 120 "$drplan" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}
expect_rc() { [ "$rc" = "$1" ] && ok || { bad "$2: exit $rc, want $1"; echo "$out" | tail -5; echo "$err" | tail -5; }; }
has() { case "$1" in *"$2"*) ok ;; *) bad "$3: no '$2' in: $(echo "$1" | tail -8)" ;; esac; }
hasnt() { case "$1" in *"$2"*) bad "$3: unexpected '$2'" ;; *) ok ;; esac; }
job_id() { sed -n 's/^job \([^: ]*\): follow with.*/\1/p' "$tmp/out" | head -1; }
erp_copy() {
	mkdir -p "$1/plans" "$1/lua/hooks"
	cp -r "$src/plans/erp.yaml" "$src/plans/inventory" "$src/plans/keys" "$1/plans/"
	if [ ! -f "$tmp/ops.key" ]; then
		openssl genpkey -algorithm ed25519 -out "$tmp/ops.key" 2>/dev/null &&
			openssl pkey -in "$tmp/ops.key" -pubout -out "$tmp/ops.pub" 2>/dev/null ||
			{ echo "openssl cannot make an Ed25519 key"; exit 1; }
	fi
	cp "$tmp/ops.pub" "$1/plans/keys/ops.pub"
	export DRPLAN_APPROVAL_KEY=$tmp/ops.key
	for h in check-sql health-check; do
		printf 'drplan.log("stub %s")\nreturn true\n' "$h" >"$1/lua/hooks/$h.lua"
	done
}
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit $?
}
