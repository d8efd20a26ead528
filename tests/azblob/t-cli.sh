#!/usr/bin/env bash
# t-cli.sh DRPLAN SRCDIR (run by with-azurite.sh): the CLI on the azblob
# store: DRPLAN_STATE and --state select it, a drill runs and reports, a
# second runner is refused with the holder's name, cancel reaches an
# attached runner through the store, and the lock is free afterwards.
drplan=$1 src=$2
. "$src/tests/cli-run/lib.sh"
: "${DRPLAN_TEST_STORE:?run me with tests/azurite/with-azurite.sh}"
export DRPLAN_STATE=$DRPLAN_TEST_STORE
erp_copy "$tmp/repo"
cp "$src/plans/small.yaml" "$tmp/repo/plans/"
plan=$tmp/repo/plans/erp.yaml

# The container does not exist yet: read-only commands say so.
run job list
expect_rc 3 "job list before any job"
has "$err" "state store $DRPLAN_STATE: the container does not exist" "missing container named"

run drill "$tmp/repo/plans/small.yaml"
expect_rc 0 "drill on azblob"
has "$out" "succeeded" "drill summary"
did=$(sed -n 's/^job \([^: ]*\): succeeded.*/\1/p' "$tmp/out" | tail -1)
[ -n "$did" ] && ok || bad "no job id in: $(tail -3 "$tmp/out")"
run job list
expect_rc 0 "job list"
has "$out" "$did" "job listed"
run report "$did"
expect_rc 0 "report"
has "$out" "drill of plan small" "report read from the store"
# Nothing went to the local default directory.
[ ! -e "$DRPLAN_STATE_DIR" ] && ok || bad "local state directory was written"
# --state names it too.
(unset DRPLAN_STATE; timeout 60 "$drplan" job list --state "$DRPLAN_TEST_STORE" >"$tmp/out2" 2>&1)
has "$(cat "$tmp/out2")" "$did" "--state azblob://"

# The repository's committed .drplan/config names the store too.
mkdir -p "$tmp/cfgrepo/.git" "$tmp/cfgrepo/.drplan"
printf '# shared by the team\nstate: %s\n' "$DRPLAN_STATE" >"$tmp/cfgrepo/.drplan/config"
(cd "$tmp/cfgrepo" && unset DRPLAN_STATE DRPLAN_STATE_DIR &&
	timeout 60 "$drplan" job list >"$tmp/out3" 2>&1)
has "$(cat "$tmp/out3")" "$did" ".drplan/config state: azblob://"

# An attached runner holds the plan's lease; a second one is refused.
"$drplan" failover "$plan" >"$tmp/fo.out" 2>&1 &
bg=$!
for i in $(seq 100); do
	grep -q "waits for a person" "$tmp/fo.out" 2>/dev/null && break
	sleep 0.1
done
fid=$(sed -n 's/^job \([^: ]*\): follow with.*/\1/p' "$tmp/fo.out")
[ -n "$fid" ] && ok || bad "failover did not start: $(tail -3 "$tmp/fo.out")"
run drill "$plan"
expect_rc 6 "second runner refused"
has "$err" "lock 'erp' is held by job $fid" "refusal names the holder"
run job cancel "$fid" --reason "test over"
expect_rc 0 "cancel through the store"
wait $bg
rc=$?
[ "$rc" = 7 ] && ok || bad "cancelled runner exits 7, got $rc: $(tail -3 "$tmp/fo.out")"
# Released: the next runner gets the lock at once.
run drill "$tmp/repo/plans/small.yaml"
expect_rc 0 "drill after release"
finish
