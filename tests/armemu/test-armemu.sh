#!/bin/sh
# test-armemu.sh ARMEMU - the ARM emulator over HTTP with curl(1) and jq(1):
# token flows, auth, paging, one item's whole life cycle with LRO polling,
# refusals, every fault kind, stats, the request log and persistence.
# Prints "N passed, N failed"; exits 77 (skip) without curl, jq or openssl.
EMU=${1:?usage: test-armemu.sh path/to/armemu}
for t in curl jq openssl; do
	command -v $t >/dev/null 2>&1 || { echo "skip: $t not installed"; exit 77; }
done
TMP=$(mktemp -d)
PID=
PASS=0
FAIL=0
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

TENANT=11111111-1111-1111-1111-111111111111
CLIENT=22222222-2222-2222-2222-222222222222
SUB=33333333-3333-3333-3333-333333333333
V=/subscriptions/$SUB/resourceGroups/rg-dr/providers/Microsoft.RecoveryServices/vaults/vault-dr
PC=$V/replicationFabrics/fabric-vmware/replicationProtectionContainers/container-vmware
API=api-version=2026-05-01
SCOPE=https://management.azure.com/.default

ok() { PASS=$((PASS + 1)); }
ko() { FAIL=$((FAIL + 1)); echo "FAIL: $*"; }
# eq NAME EXPECTED ACTUAL
eq() { if [ "$2" = "$3" ]; then ok; else ko "$1: expected '$2', got '$3'"; fi; }

start() {
	rm -f "$TMP/port"
	"$EMU" --port-file "$TMP/port" --log "$TMP/log.jsonl" "$@" 2>>"$TMP/emu.err" &
	PID=$!
	i=0
	while [ ! -s "$TMP/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	[ -s "$TMP/port" ] || { echo "armemu did not start"; cat "$TMP/emu.err"; exit 1; }
	B=http://127.0.0.1:$(cat "$TMP/port")
}
stop() {
	kill -TERM "$PID"
	wait "$PID"
	RC=$?
	PID=
	eq "armemu exits 0 on SIGTERM" 0 "$RC"
	[ "$RC" = 0 ] || cat "$TMP/emu.err"
}

# call METHOD URL [curl args...]: status in $ST, body in $TMP/body, headers in $TMP/hdr
call() {
	m=$1 u=$2
	shift 2
	ST=$(curl -s -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' -X "$m" "$@" "$u")
	CURL_RC=$?
}
# arm METHOD PATH [JSON]: an authenticated ARM call (PATH may have a query)
arm() {
	case "$2" in *\?*) sep='&' ;; *) sep='?' ;; esac
	url=$B$2$sep$API
	case "$2" in http*) url=$2 ;; esac
	if [ -n "$3" ]; then
		call "$1" "$url" -H "Authorization: Bearer $TOK" \
			-H 'Content-Type: application/json' \
			-H "x-ms-client-request-id: ${CRID:-}" --data "$3"
	else
		call "$1" "$url" -H "Authorization: Bearer $TOK"
	fi
}
j() { jq -r "$1" "$TMP/body"; }
hdr() { grep -i "^$1:" "$TMP/hdr" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

token() {
	call POST "$B/$TENANT/oauth2/v2.0/token" -d grant_type=client_credentials \
		-d client_id=$CLIENT --data-urlencode "scope=$SCOPE" "$@"
}

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
# jwt KEY AUD EXP: a signed RS256 client assertion
jwt() {
	now=$(date +%s)
	h=$(printf '{"alg":"RS256","typ":"JWT","x5t":"aGVsbG8"}' | b64url)
	p=$(printf '{"aud":"%s","iss":"%s","sub":"%s","jti":"%s","nbf":%s,"exp":%s}' \
		"$2" "$CLIENT" "$CLIENT" "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
		"$now" "$(($now + $3))" | b64url)
	s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$1" -binary | b64url)
	printf '%s.%s.%s' "$h" "$p" "$s"
}

# wait_lro: poll the Location of the last 202 until 200; sets ITEM body
wait_lro() {
	loc=${1:-$(hdr Location)}
	n=0
	while :; do
		call GET "$loc" -H "Authorization: Bearer $TOK"
		[ "$ST" != 202 ] && break
		n=$((n + 1))
		[ $n -gt 400 ] && break
		sleep 0.02
	done
}
# op ITEMGUID ACTION JSON: start and wait; sets JOB
op() {
	arm POST "$PC/replicationProtectedItems/$1/$2" "$3"
	eq "$2 accepted" 202 "$ST"
	JOB=$(hdr Location | sed 's|.*/operationresults/||; s|?.*||')
	wait_lro
	eq "$2 done" 200 "$ST"
}
wait_state() { # GUID JQ VALUE
	n=0
	while :; do
		arm GET "$PC/replicationProtectedItems/$1"
		[ "$(j "$2")" = "$3" ] && break
		n=$((n + 1))
		[ $n -gt 400 ] && break
		sleep 0.02
	done
	eq "wait $2" "$3" "$(j "$2")"
}

openssl genrsa -out "$TMP/key.pem" 2048 2>/dev/null
openssl genrsa -out "$TMP/other.pem" 2048 2>/dev/null
openssl req -new -x509 -key "$TMP/key.pem" -subj /CN=drplan -days 2 -out "$TMP/cert.pem" 2>/dev/null
printf 'federated-token-value\n' >"$TMP/fed"

start --items 120 --scale 0.0005 --sim-faults "slow:vm001:test-failover:6" --cert-pub "$TMP/cert.pem" \
	--federated-token-file "$TMP/fed" --state "$TMP/state.json"

# ---- tokens ----
token -d client_secret=emulator-secret
eq "secret ok" 200 "$ST"
eq "token type" Bearer "$(j .token_type)"
eq "expires_in" 3599 "$(j .expires_in)"
TOK=$(j .access_token)
token -d client_secret=wrong
eq "bad secret" 401 "$ST"
eq "bad secret code" "invalid_client 7000215" "$(j '.error + " " + (.error_codes[0]|tostring)')"
call POST "$B/$TENANT/oauth2/v2.0/token" -d grant_type=client_credentials \
	-d client_id=$CLIENT -d client_secret=emulator-secret -d scope=https://graph.microsoft.com/.default
eq "bad scope" "400 invalid_scope" "$ST $(j .error)"
token -u "$CLIENT:emulator-secret"
eq "secret as basic auth" 200 "$ST"
AUD="https://login.microsoftonline.com/$TENANT/oauth2/v2.0/token"
AT=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
token -d client_assertion_type=$AT -d client_assertion="$(jwt "$TMP/key.pem" "$AUD" 300)"
eq "jwt ok" 200 "$ST"
token -d client_assertion_type=$AT -d client_assertion="$(jwt "$TMP/key.pem" "$B/$TENANT/oauth2/v2.0/token" 300)"
eq "jwt ok (emulator audience)" 200 "$ST"
token -d client_assertion_type=$AT -d client_assertion="$(jwt "$TMP/other.pem" "$AUD" 300)"
eq "jwt bad signature" "401 700027" "$ST $(j '.error_codes[0]')"
token -d client_assertion_type=$AT -d client_assertion="$(jwt "$TMP/key.pem" "$AUD" -60)"
eq "jwt expired" "401 700024" "$ST $(j '.error_codes[0]')"
token -d client_assertion_type=$AT -d client_assertion="$(jwt "$TMP/key.pem" "https://login.microsoftonline.com/other/oauth2/v2.0/token" 300)"
eq "jwt wrong audience" "401 700212" "$ST $(j '.error_codes[0]')"
token -d client_assertion_type=$AT -d client_assertion=federated-token-value
eq "federated ok" 200 "$ST"
token -d client_assertion_type=$AT -d client_assertion=federated-token-other
eq "federated bad" 401 "$ST"
call POST "$B/99999999-0000-0000-0000-000000000000/oauth2/v2.0/token" -d grant_type=client_credentials \
	-d client_id=$CLIENT -d client_secret=emulator-secret --data-urlencode "scope=$SCOPE"
eq "unknown tenant" "400 invalid_tenant" "$ST $(j .error)"
call GET "$B/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/" -H 'Metadata: true'
eq "imds ok" "200 3599 Bearer" "$ST $(j .expires_in) $(j .token_type)"
eq "imds expires_in is a string" string "$(j '.expires_in|type')"
IMDS_TOK=$(j .access_token)
call GET "$B/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/"
eq "imds without Metadata" "400 invalid_request" "$ST $(j .error)"

# ---- ARM auth and api-version ----
call GET "$B$V/replicationProtectedItems?$API"
eq "no token" "401 AuthenticationFailed" "$ST $(j .error.code)"
call GET "$B$V/replicationProtectedItems?$API" -H "Authorization: Bearer nope"
eq "bad token" "401 InvalidAuthenticationToken" "$ST $(j .error.code)"
call GET "$B$V/replicationProtectedItems" -H "Authorization: Bearer $TOK"
eq "no api-version" "400 MissingApiVersionParameter" "$ST $(j .error.code)"
call GET "$B$V/replicationProtectedItems?api-version=latest" -H "Authorization: Bearer $TOK"
eq "bad api-version" "400 InvalidApiVersionParameter" "$ST $(j .error.code)"
call GET "$B$V/replicationFabrics?$API" -H "Authorization: Bearer $IMDS_TOK"
eq "imds token works" 200 "$ST"
eq "fabric" fabric-vmware "$(j '.value[0].name')"
eq "reprotect agent" reprotect-agent-01 "$(j '.value[0].properties.customDetails.reprotectAgents[0].id')"

# ---- paging ----
arm GET "$PC/replicationProtectedItems"
eq "page 1" 50 "$(j '.value|length')"
eq "ratelimit header" 1 "$(grep -ci '^x-ms-ratelimit-remaining-subscription-reads:' "$TMP/hdr")"
NEXT=$(j .nextLink)
call GET "$NEXT" -H "Authorization: Bearer $TOK"
eq "page 2" "200 50 vm051" "$ST $(j '.value|length') $(j '.value[0].properties.friendlyName')"
call GET "$(j .nextLink)" -H "Authorization: Bearer $TOK"
eq "page 3" "200 20 null" "$ST $(j '.value|length') $(j .nextLink)"
arm GET "$V/replicationProtectedItems"
eq "vault-wide list" "50 vm001" "$(j '.value|length') $(j '.value[0].properties.friendlyName')"
G1=$(j '.value[0].name')
G2=$(j '.value[1].name')
G3=$(j '.value[2].name')
I1=$PC/replicationProtectedItems/$G1

# ---- the item ----
arm GET "$I1"
eq "get item" 200 "$ST"
eq "id casing" /Subscriptions/ "$(j .id | cut -c1-15)"
eq "state" "Protected Primary InMageRcm" "$(j '.properties.protectionState + " " + .properties.activeLocation + " " + .properties.providerSpecificDetails.instanceType')"
eq "allowed" "TestFailover,UnplannedFailover,DisableProtection" "$(j '.properties.allowedOperations|join(",")')"
eq "psd facts" "Windows BIOS 1 1" "$(j '.properties.providerSpecificDetails | .osType + " " + .firmwareType + " " + (.protectedDisks|length|tostring) + " " + (.vmNics|length|tostring)')"
NIC=$(j '.properties.providerSpecificDetails.vmNics[0].nicId')
arm GET "$PC/replicationProtectedItems/00000000-0000-0000-0000-000000000000"
eq "unknown item" "404" "$ST"
arm GET "$V/replicationFabrics/nope/replicationProtectionContainers"
eq "unknown fabric is 400" "400 FabricNotFound" "$ST $(j '.error.details[0].code')"

# PATCH: target settings
arm PATCH "$I1" "{\"properties\":{\"providerSpecificDetails\":{\"instanceType\":\"InMageRcm\",\"targetVmSize\":\"Standard_D4s_v5\",\"vmNics\":[{\"nicId\":\"$NIC\",\"isPrimaryNic\":\"true\",\"targetSubnetName\":\"snet-app\",\"targetStaticIPAddress\":\"10.1.0.10\"}]}}}"
eq "patch accepted" 202 "$ST"
wait_lro
eq "patch done" "200 Standard_D4s_v5 snet-app 10.1.0.10" "$ST $(j '.properties.providerSpecificDetails | .targetVmSize + " " + .vmNics[0].targetSubnetName + " " + .vmNics[0].targetIPAddress')"
arm PATCH "$I1" '{"properties":{"providerSpecificDetails":{"instanceType":"InMageRcm","vmNics":[{"nicId":"nope","isPrimaryNic":"true"}]}}}'
eq "patch bad nic" "400 InvalidParameter" "$ST $(j '.error.details[0].code')"

# test failover, with the LRO headers and the job
CRID=aaaaaaaa-0000-0000-0000-000000000001
arm POST "$I1/testFailover" '{"properties":{"failoverDirection":"PrimaryToRecovery","networkType":"VmNetworkAsInput","networkId":"/subscriptions/x/vnet-test","providerSpecificDetails":{"instanceType":"InMageRcm","networkId":"/subscriptions/x/vnet-test","recoveryPointId":null}}}'
eq "tfo 202" 202 "$ST"
JOB=$(hdr Location | sed 's|.*/operationresults/||; s|?.*||')
eq "retry-after: 30 s scaled" 1 "$(hdr Retry-After)"
eq "request id is the job" "$V/replicationJobs/$JOB" "$(hdr x-ms-request-id | sed 's|^/Subscriptions|/subscriptions|')"
eq "async op url" "$B/Subscriptions/$SUB/resourceGroups/rg-dr/providers/Microsoft.RecoveryServices/vaults/vault-dr/replicationOperationStatus/$JOB?$API" "$(hdr Azure-AsyncOperation)"
ASYNC=$(hdr Azure-AsyncOperation)
LOC=$(hdr Location)
arm GET "$I1"
eq "scenario while running" "TestFailover $JOB []" "$(j '.properties.currentScenario.scenarioName + " " + (.properties.currentScenario.jobId|split("/")|last) + " " + (.properties.allowedOperations|tostring)')"
call GET "$ASYNC" -H "Authorization: Bearer $TOK"
eq "async InProgress" "200 InProgress" "$ST $(j .status)"
call GET "$LOC" -H "Authorization: Bearer $TOK"
eq "location 202 while running" 202 "$ST"
arm GET "$V/replicationJobs/$JOB"
eq "job running" "InProgress TestFailover ProtectionEntity vm001" "$(j '.properties | .state + " " + .scenarioName + " " + .targetInstanceType + " " + .targetObjectName')"
eq "job activity id carries the client request id" "$CRID" "$(j '.properties.activityId' | cut -d' ' -f1)"
wait_lro "$LOC"
eq "tfo done" "200 WaitingForCompletion TestFailoverCleanup" "$ST $(j '.properties.testFailoverState + " " + (.properties.allowedOperations|join(","))')"
call GET "$ASYNC" -H "Authorization: Bearer $TOK"
eq "async Succeeded" "Succeeded" "$(j .status)"
arm GET "$V/replicationJobs/$JOB"
eq "job done" "Succeeded 4 Succeeded" "$(j '.properties | .state + " " + (.tasks|length|tostring) + " " + .tasks[-1].state')"
CRID=

# refused operation: ASR error shape
arm POST "$I1/unplannedFailover" '{"properties":{"failoverDirection":"PrimaryToRecovery","providerSpecificDetails":{"instanceType":"InMageRcm","performShutdown":"true"}}}'
eq "refused" "400 BadRequest OperationNotAllowed" "$ST $(j .error.code) $(j '.error.details[0].code')"
case "$(j '.error.details[0].message')" in
*"Allowed operations: TestFailoverCleanup"*) ok ;;
*) ko "refusal message: $(j '.error.details[0].message')" ;;
esac
eq "refusal keys" '["activityId","clientRequestId","code","message","possibleCauses","recommendedAction"]' "$(j '.error.details[0]|keys|tostring')"

op "$G1" testFailoverCleanup '{"properties":{"comments":"drill ok"}}'
eq "cleanup done" "None Protected" "$(j '.properties.testFailoverState + " " + .properties.protectionState')"

arm POST "$I1/unplannedFailover" '{"properties":{"failoverDirection":"PrimaryToRecovery","providerSpecificDetails":{"instanceType":"InMageRcm"}}}'
eq "failover needs performShutdown" "400 InvalidParameter" "$ST $(j '.error.details[0].code')"
arm GET "$I1/recoveryPoints"
eq "points" 200 "$ST"
eq "point type" InMageRcm "$(j '.value[0].properties.providerSpecificDetails.instanceType')"
op "$G1" unplannedFailover '{"properties":{"failoverDirection":"PrimaryToRecovery","sourceSiteOperations":"Required","providerSpecificDetails":{"instanceType":"InMageRcm","performShutdown":"true","recoveryPointId":null}}}'
eq "failed over" "Recovery UnplannedFailoverCommitPendingStatesBegin CompleteMigration,Commit,DisableProtection,ChangePit" "$(j '.properties.activeLocation + " " + .properties.protectionState + " " + (.properties.allowedOperations|join(","))')"
arm GET "$V/replicationJobs/$JOB"
eq "failover job shuts down" "Shut down the virtual machine" "$(j '[.properties.tasks[].name][1]')"
arm GET "$I1/recoveryPoints"
PT=$(j '.value[3].id')
PTN=$(j '.value[3].name')
arm GET "$I1/recoveryPoints/$PTN"
eq "one point" "$PT" "$(j .id)"
op "$G1" applyRecoveryPoint "{\"properties\":{\"recoveryPointId\":\"$PT\",\"providerSpecificDetails\":{\"instanceType\":\"InMageRcm\",\"recoveryPointId\":\"$PT\"}}}"
eq "point applied" "$PTN" "$(j '.properties.failoverRecoveryPointId|split("/")|last')"
op "$G1" failoverCommit ''
eq "committed" "ReverseReplicate,DisableProtection" "$(j '.properties.allowedOperations|join(",")')"
arm POST "$I1/reProtect" '{"properties":{"failoverDirection":"RecoveryToPrimary","providerSpecificDetails":{"instanceType":"InMageRcm","reprotectAgentId":"reprotect-agent-01","logStorageAccountId":"/subscriptions/x/sa"}}}'
eq "reprotect needs datastore" "400 InvalidParameter" "$ST $(j '.error.details[0].code')"
op "$G1" reProtect '{"properties":{"failoverDirection":"RecoveryToPrimary","providerSpecificDetails":{"instanceType":"InMageRcm","reprotectAgentId":"reprotect-agent-01","datastoreName":"ds1","logStorageAccountId":"/subscriptions/x/sa","policyId":"p"}}}'
eq "reprotected" "InMageRcmFailback ds1" "$(j '.properties.providerSpecificDetails | .instanceType + " " + .targetDataStoreName')"
wait_state "$G1" .properties.protectionState Protected
arm POST "$I1/plannedFailover" '{"properties":{"providerSpecificDetails":{"instanceType":"InMageRcmFailback","recoveryPointType":"Latest"}}}'
eq "planned failover point type" 400 "$ST"
op "$G1" plannedFailover '{"properties":{"failoverDirection":"RecoveryToPrimary","providerSpecificDetails":{"instanceType":"InMageRcmFailback","recoveryPointType":"CrashConsistent"}}}'
eq "failed back" "Primary Commit,CancelFailover,DisableProtection" "$(j '.properties.activeLocation + " " + (.properties.allowedOperations|join(","))')"
op "$G1" failoverCommit ''
eq "failback committed" PlannedFailoverStatesBegin "$(j .properties.protectionState)"
op "$G1" reProtect '{"properties":{"failoverDirection":"PrimaryToRecovery","providerSpecificDetails":{"instanceType":"InMageRcmFailback","processServerId":"ps-01","runAsAccountId":"ra","policyId":"p"}}}'
eq "reprotected to azure" InMageRcm "$(j .properties.providerSpecificDetails.instanceType)"
wait_state "$G1" .properties.protectionState Protected
arm GET "$V/replicationJobs?\$filter=targetObjectName%20eq%20'vm001'"
eq "jobs of vm001" "10 UpdateVmProperties" "$(j '.value|length') $(j '.value[-1].properties.scenarioName')"
arm GET "$V/replicationJobs?\$filter=jobStatus%20eq%20'InProgress'"
eq "no job running" 0 "$(j '.value|length')"
arm GET "$V/replicationJobs?\$filter=bogus%20eq%20'1'"
eq "bad filter" 400 "$ST"
arm GET "$V/replicationJobs/00000000-0000-0000-0000-000000000000"
eq "unknown job" 404 "$ST"

# ---- faults ----
ctl() { call POST "$B/_emulator/faults" --data-binary "$1"; }
ctl 'error:500:2:GET'
eq "fault set" "200 error:500:2:GET (2 left)" "$ST $(j .faults)"
arm GET "$I1"; A=$ST
arm GET "$I1"; A="$A $ST"
arm GET "$I1"; A="$A $ST"
eq "500 twice then ok" "500 500 200" "$A"
ctl 'retry-after:7;error:503:1'
arm GET "$I1"
eq "503 + Retry-After" "503 7 ServiceUnavailable" "$ST $(hdr Retry-After) $(j .error.code)"
eq "log: the fault" "503 error:503:1" "$(tail -1 "$TMP/log.jsonl" | jq -r '(.status|tostring) + " " + .fault')"
ctl 'error:429:1'
arm GET "$I1"
eq "429 + Retry-After" "429 7" "$ST $(hdr Retry-After)"
ctl 'drop:1:GET'
arm GET "$I1"
eq "dropped connection" "52 000" "$CURL_RC $ST"
arm GET "$I1"
eq "after drop" 200 "$ST"
ctl 'slow:400:1'
t0=$(date +%s%N)
arm GET "$I1"
t1=$(date +%s%N)
[ $(( (t1 - t0) / 1000000 )) -ge 400 ] && ok || ko "slow: $(( (t1 - t0) / 1000000 )) ms"
eq "slow answer ok" 200 "$ST"
ctl 'random:500:1:42:GET'
arm GET "$I1"
eq "random 500" 500 "$ST"
ctl 'clear'
arm GET "$I1"
eq "cleared" "200 " "$ST $(curl -s "$B/_emulator/faults" | jq -r .faults)"
ctl 'bogus:1'
eq "bad spec" "400 InvalidFaultSpec" "$ST $(j .error.code)"
ctl 'error:99'
eq "bad status" 400 "$ST"

# accepted but the answer lost: the operation runs once; a retry is refused
I2=$PC/replicationProtectedItems/$G2
ctl 'lose-accept:1:test-failover'
CRID=bbbbbbbb-0000-0000-0000-000000000002
arm POST "$I2/testFailover" '{"properties":{"failoverDirection":"PrimaryToRecovery","providerSpecificDetails":{"instanceType":"InMageRcm"}}}'
CRID=
eq "lost answer" "52 000" "$CURL_RC $ST"
arm POST "$I2/testFailover" '{"properties":{"failoverDirection":"PrimaryToRecovery","providerSpecificDetails":{"instanceType":"InMageRcm"}}}'
eq "retry refused" "400 OperationNotAllowed" "$ST $(j '.error.details[0].code')"
arm GET "$V/replicationJobs?\$filter=targetObjectName%20eq%20'vm002'%20and%20scenarioName%20eq%20'TestFailover'"
eq "the lost job is discoverable" "1 bbbbbbbb-0000-0000-0000-000000000002" "$(j '.value|length') $(j '.value[0].properties.activityId' | cut -d' ' -f1)"
LOSTJOB=$(j '.value[0].name')
call GET "$B/_emulator/stats"
eq "stats vm002" "1 0" "$(j '.items.vm002["test-failover"]') $(j '.items.vm002["unplanned-failover"]')"
eq "stats vm001" "1 1 1 1 2 2 1 1" "$(j '.items.vm001 | [."test-failover", ."test-failover-cleanup", ."unplanned-failover", ."apply-recovery-point", .commit, .reprotect, ."planned-failover", .update] | map(tostring) | join(" ")')"
eq "log: accepted once" 1 "$(jq -c "select(.item == \"vm002\" and .op == \"test-failover\" and .accepted)" "$TMP/log.jsonl" | wc -l)"
eq "log: lost answer" "0 lose-accept $LOSTJOB" "$(jq -r "select(.item == \"vm002\" and .accepted) | (.status|tostring) + \" \" + .fault + \" \" + .job" "$TMP/log.jsonl")"
eq "log: every line is JSON" "$(wc -l <"$TMP/log.jsonl")" "$(jq -c . "$TMP/log.jsonl" | wc -l)"

# simulator faults: the job fails; LRO and async status say so
I3=$PC/replicationProtectedItems/$G3
call POST "$B/_emulator/sim-faults" --data-binary 'fail:vm003:test-failover'
eq "sim fault set" 200 "$ST"
arm POST "$I3/testFailover" '{"properties":{"providerSpecificDetails":{"instanceType":"InMageRcm"}}}'
ASYNC=$(hdr Azure-AsyncOperation)
FJOB=$(hdr Location | sed 's|.*/operationresults/||; s|?.*||')
wait_lro
eq "failed job: location" "400 SimulatedFault" "$ST $(j '.error.details[0].code')"
call GET "$ASYNC" -H "Authorization: Bearer $TOK"
eq "failed job: async" "Failed SimulatedFault" "$(j .status) $(j .error.code)"
arm GET "$V/replicationJobs/$FJOB"
eq "failed job: errors" "Failed SimulatedFault" "$(j .properties.state) $(j '.properties.errors[0].serviceErrorDetails.code')"

# write bucket
ctl 'write-limit:2:0.01'
arm POST "$I3/failoverCommit" ''; A="$ST $(hdr x-ms-ratelimit-remaining-subscription-writes)"
arm POST "$I3/failoverCommit" ''; A="$A $ST $(hdr x-ms-ratelimit-remaining-subscription-writes)"
arm POST "$I3/failoverCommit" ''; A="$A $ST $(hdr Retry-After) $(j .error.code)"
eq "write bucket" "400 1 400 0 429 100 SubscriptionRequestsThrottled" "$A"
ctl 'write-limit:200:10'

# token expiry
ctl 'token-ttl:1'
token -d client_secret=emulator-secret
eq "short token" 1 "$(j .expires_in)"
SHORT=$(j .access_token)
sleep 1.2
call GET "$B$I1?$API" -H "Authorization: Bearer $SHORT"
eq "expired token" "401 ExpiredAuthenticationToken" "$ST $(j .error.code)"
ctl 'token-ttl:3599;expire-tokens'
arm GET "$I1"
eq "expire-tokens" "401 ExpiredAuthenticationToken" "$ST $(j .error.code)"
token -d client_secret=emulator-secret
TOK=$(j .access_token)
arm GET "$I1"
eq "new token" 200 "$ST"

# LRO Retry-After on demand
ctl 'lro-retry-after:0'
wait_state "$G2" .properties.testFailoverState WaitingForCompletion
arm POST "$I2/testFailoverCleanup" '{"properties":{"comments":"x"}}'
eq "lro retry-after 0 on 202" "202 0" "$ST $(hdr Retry-After)"

# ---- persistence and SIGTERM ----
stop
start --items 120 --scale 0.0005 --state "$TMP/state.json"
token -d client_secret=emulator-secret
TOK=$(j .access_token)
arm GET "$V/replicationJobs/$LOSTJOB"
eq "job survives restart" "200 vm002" "$ST $(j .properties.targetObjectName)"
arm GET "$I1"
eq "target survives restart" Standard_D4s_v5 "$(j .properties.providerSpecificDetails.targetVmSize)"
call GET "$B/_emulator/stats"
eq "counts survive restart" "2 1" "$(j '.items.vm001.commit') $(j '.items.vm002["test-failover"]')"
stop

# ---- items from a plan ----
start --plan plans/small.yaml --scale 0
token -d client_secret=emulator-secret
TOK=$(j .access_token)
arm GET "$PC/replicationProtectedItems"
eq "plan items" "dc01 files01" "$(j '[.value[].properties.friendlyName]|join(" ")')"
eq "plan facts" "UEFI Windows Server 2022 10.30.0.10 Standard_D2s_v4" "$(j '.value[0].properties.providerSpecificDetails | .firmwareType + " " + .osName + " " + .vmNics[0].targetIPAddress + " " + .targetVmSize')"
eq "plan disks" 2 "$(j '.value[1].properties.providerSpecificDetails.protectedDisks|length')"
stop

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
