#!/usr/bin/env bash
# t0170-unattended.sh DRPLAN SRCDIR: unattended drills (drill --unattended)
# follow drill.unattended: auto-approve with the plan's reason, or fail the
# drill (exit 4) after its cleanup; attended drills wait; --unattended is
# refused for a failover. Then webhooks end to end: a receiver on
# 127.0.0.1 (python3) gets signed job events; the secret stays out of the
# journal, job show and the report.
drplan=$1 src=$2
. "$(dirname "$0")/lib.sh"
erp_copy "$tmp/repo"
plan=$tmp/repo/plans/erp.yaml
# The manual step of group app runs in drills too; no hold before cleanup.
sed -i 's/        on: \[failover\]/        on: [failover, drill]/; s/  cleanup: { after: 1h }.*//' "$plan"

run drill --detach "$plan"
expect_rc 5 "an attended drill waits at the manual step"
has "$out" "app/pre/stop-batch" "the waiting step is named"
id=$(job_id)
run job cancel "$id"
run job resume "$id"

run drill --unattended "$plan"
expect_rc 0 "auto-approve drill"
id=$(job_id)
run job show "$id"
has "$out" "mode       unattended" "job show: the mode"
has "$out" "auto-approved by policy: the batch scheduler is not reachable from the isolated drill network" "job show: the reason"
run report "$id"
has "$out" "Unattended drill policy:" "report section"
has "$out" "app/pre/stop-batch: auto-approved by policy: the batch scheduler" "report line"

sed -i 's/    manual: auto-approve/    manual: fail/' "$plan"
run drill --unattended "$plan"
expect_rc 4 "a drill failed by its policy exits 4"
id=$(job_id)
has "$out" "would wait for a person and drill.unattended.manual is fail" "the failure is explained"
has "$out" "cleanup/verify succeeded" "the cleanup ran"
run job show "$id"
has "$out" "status     failed" "job show: failed"
has "$out" "the cleanup phase ran" "job show: the end message"

run failover --unattended "$plan"
expect_rc 2 "--unattended is for drills"
has "$err" "--unattended is for drills" "the refusal says why"

# Webhooks: a loopback receiver that answers 503 once, then 200.
if ! command -v python3 >/dev/null; then
	echo "note: no python3; webhook end-to-end skipped"
	finish
fi
cat >"$tmp/recv.py" <<'PY'
import http.server, json, sys, threading
n = {"c": 0}
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        n["c"] += 1
        with open(sys.argv[1], "a") as f:
            f.write(json.dumps({"sig": self.headers.get("X-Drplan-Signature"),
                                "event": self.headers.get("X-Drplan-Event"),
                                "body": body.decode()}) + "\n")
        code = 503 if n["c"] == 1 else 200
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_port, flush=True)
s.serve_forever()
PY
python3 "$tmp/recv.py" "$tmp/got.jsonl" >"$tmp/port" &
recv=$!
for i in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")
cat >>"$plan" <<EOF2
notifications:
  webhooks:
    - name: ops
      url: http://127.0.0.1:$port/drplan
      secretEnv: T0170_WEBHOOK_SECRET
      events: [job-started, step-failed, job-finished]
      attempts: 3
EOF2
export T0170_WEBHOOK_SECRET=t0170-very-secret-value
run drill --unattended "$plan"
expect_rc 4 "the failing drill with a webhook"
id=$(job_id)
has "$out" "webhook ops: job-started delivered after 2 attempts (HTTP 200)" "retried after 503"
has "$out" "webhook ops: job-finished delivered (HTTP 200)" "finished delivered"
kill $recv 2>/dev/null
wait $recv 2>/dev/null
events=$(python3 -c '
import hashlib, hmac, json, sys
bad = 0
evs = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    mac = "sha256=" + hmac.new(sys.argv[2].encode(), r["body"].encode(), hashlib.sha256).hexdigest()
    bad += mac != r["sig"]
    b = json.loads(r["body"])
    bad += b["schema"] != "drplan.notification/v1" or b["job"] != sys.argv[3] or b["event"] != r["event"]
    evs.append(r["event"])
print(" ".join(sorted(evs)), "bad=%d" % bad)
' "$tmp/got.jsonl" "$T0170_WEBHOOK_SECRET" "$id")
has "$events" "job-finished job-started job-started step-failed bad=0" "payloads and signatures verify"
run job show "$id"
has "$out" "notifications:" "job show lists the deliveries"
hasnt "$out" "$T0170_WEBHOOK_SECRET" "no secret in job show"
run report "$id" --format json
hasnt "$out" "$T0170_WEBHOOK_SECRET" "no secret in the report"
grep -rq "$T0170_WEBHOOK_SECRET" "$DRPLAN_STATE_DIR" && bad "the secret is in the state store" || ok
finish
