#!/bin/sh
# drplan inventory export against the ARM emulator: the real binary, a plan
# with provider azure, credentials from the environment; the snapshot must
# load as the plan's inventory, and the secret must appear nowhere.
# usage: test-inventory-cli.sh DRPLAN ARMEMU WORKDIR
set -u
DRPLAN=$1 ARMEMU=$2 W=$3/inv-cli.$$
SECRET=cli-s3cr3t-never-printed
mkdir -p "$W" || exit 1
fail() { echo "FAIL: $*"; kill "$EMU" 2>/dev/null; exit 1; }

"$ARMEMU" --port-file "$W/port" --items 3 --client-secret "$SECRET" \
	--log "$W/emu.log" 2>"$W/emu.err" &
EMU=$!
i=0
while [ ! -s "$W/port" ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i + 1)); done
[ -s "$W/port" ] || fail "emulator did not start"
PORT=$(cat "$W/port")

cat > "$W/plan.yaml" <<YAML
apiVersion: drplan/v1
kind: RecoveryPlan
metadata: { name: inv }
target:
  provider: azure
  subscription: 33333333-3333-3333-3333-333333333333
  resourceGroup: rg-dr
  vault: vault-dr
  location: westeurope
  inventory: inventory.json
machines:
  - name: vm01
groups:
  - name: all
    machines: [vm01]
YAML

export AZURE_TENANT_ID=11111111-1111-1111-1111-111111111111
export AZURE_CLIENT_ID=22222222-2222-2222-2222-222222222222
export AZURE_CLIENT_SECRET=$SECRET
export DRPLAN_ARM_ENDPOINT=http://127.0.0.1:$PORT
export AZURE_AUTHORITY_HOST=http://127.0.0.1:$PORT
export DRPLAN_IMDS_ENDPOINT=http://127.0.0.1:$PORT/metadata/identity/oauth2/token

"$DRPLAN" inventory export "$W/plan.yaml" --output "$W/inventory.json" \
	>"$W/out" 2>"$W/err" || { cat "$W/err"; fail "export exited $?"; }
grep -q "wrote 3 items of vault 'vault-dr' to" "$W/err" || fail "no summary: $(cat "$W/err")"
grep -q '"kind": "Inventory"' "$W/inventory.json" || fail "not a snapshot"
[ "$(grep -c '"friendlyName": "vm0[123]"' "$W/inventory.json")" = 3 ] || fail "items missing"
ls "$W"/inventory.json.tmp.* >/dev/null 2>&1 && fail "temporary file left behind"
# The plan now loads with the exported inventory.
"$DRPLAN" validate "$W/plan.yaml" >"$W/val" 2>&1
grep -q "INV-" "$W/val" && fail "inventory rejected: $(cat "$W/val")"
# A bad credential: clear error, exit 3, nothing written, no secret.
rm -f "$W/inventory2.json"
AZURE_CLIENT_SECRET=wrong-$SECRET "$DRPLAN" inventory export "$W/plan.yaml" \
	-o "$W/inventory2.json" >"$W/out2" 2>"$W/err2"
[ $? = 3 ] || fail "bad secret: exit status not 3"
[ -e "$W/inventory2.json" ] && fail "wrote a file after an error"
grep -q "client-secret token request" "$W/err2" || fail "unclear error: $(cat "$W/err2")"
# Usage.
"$DRPLAN" inventory >/dev/null 2>&1; [ $? = 2 ] || fail "usage: exit status not 2"
kill "$EMU"; wait "$EMU" 2>/dev/null
cat "$W"/out* "$W"/err* "$W/emu.log" "$W/inventory.json" | grep -q -- "$SECRET" \
	&& fail "the secret appears in output or logs"
rm -rf "$W"
echo "ok: inventory export"
