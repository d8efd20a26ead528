#include "teststore.h"

#include "core/alloc.h"
#include "core/error.h"
#include "exec/loop.h"
#include "journal/store.h"
#include "provider/provider.h"
#include "provider/sim.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

/* 2026-11-25T00:00:00Z: on the 5-minute and 60-minute point grids. */
#define EPOCH 1795564800000LL
#define MIN 60000LL

static dr_loop *L;
static dr_sim *S;
static dr_provider *P;

static void setup_opts(const dr_sim_opts *o)
{
	dr_clock c;

	dr_clock_init_virtual(&c, 0);
	CHECK_INT(dr_loop_new(&c, &L), 0);
	CHECK_INT(dr_sim_new(L, o, &S), 0);
	P = dr_sim_provider(S);
}

static void setup(double scale)
{
	dr_sim_opts o;

	dr_sim_opts_init(&o);
	o.scale = scale;
	o.epoch_ms = EPOCH;
	setup_opts(&o);
}

static void teardown(void)
{
	dr_sim_free(S);
	dr_loop_free(L);
	S = NULL;
	P = NULL;
	L = NULL;
}

static dr_machine machine(const char *name, dr_source_kind kind, dr_os_family os)
{
	dr_machine m;

	memset(&m, 0, sizeof(m));
	m.name.v = name;
	m.source.kind = kind;
	m.source.os = os;
	return m;
}

static void add(const char *name)
{
	dr_machine m = machine(name, DR_SRC_VMWARE, DR_OS_WINDOWS);

	CHECK_INT(dr_sim_add_item(S, &m), 0);
}

/* ---- synchronous wrappers: run the loop without moving time ---- */

static struct result {
	int done, rc;
	char job_id[64];
	char code[64], msg[1024];
	char allowed[256];
	json_t *json;   /* item, job, or array of jobs / points */
	size_t n;
} R;

static void reset(void)
{
	json_decref(R.json);
	memset(&R, 0, sizeof(R));
}

static void take_err(const dr_prov_error *e)
{
	if (e) {
		snprintf(R.code, sizeof(R.code), "%s", e->code);
		snprintf(R.msg, sizeof(R.msg), "%s", e->message);
	}
}

static void on_item(void *ud, int rc, const dr_prov_item *it,
		    const dr_prov_error *e)
{
	size_t i;

	(void)ud;
	R.done++;
	R.rc = rc;
	take_err(e);
	if (!it)
		return;
	R.json = dr_prov_item_to_json(it);
	for (i = 0; i < it->nallowed_ops; i++) {
		if (i)
			strcat(R.allowed, ",");
		strcat(R.allowed, it->allowed_ops[i]);
	}
}

static void on_start(void *ud, int rc, const char *id, const dr_prov_error *e)
{
	(void)ud;
	R.done++;
	R.rc = rc;
	take_err(e);
	if (id)
		snprintf(R.job_id, sizeof(R.job_id), "%s", id);
}

static void on_job(void *ud, int rc, const dr_prov_job *j,
		   const dr_prov_error *e)
{
	(void)ud;
	R.done++;
	R.rc = rc;
	take_err(e);
	if (j) {
		R.json = dr_prov_job_to_json(j);
		json_object_set_new(R.json, "pollAfterMs",
				    json_integer((json_int_t)j->poll_after_ms));
		json_object_set_new(R.json, "done", json_boolean(dr_prov_job_done(j)));
	}
}

static void on_jobs(void *ud, int rc, const dr_prov_job *j, size_t n,
		    const dr_prov_error *e)
{
	size_t i;

	(void)ud;
	R.done++;
	R.rc = rc;
	take_err(e);
	R.n = n;
	R.json = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(R.json, dr_prov_job_to_json(&j[i]));
}

static void on_points(void *ud, int rc, const dr_prov_point *p, size_t n,
		      const dr_prov_error *e)
{
	size_t i;

	(void)ud;
	R.done++;
	R.rc = rc;
	take_err(e);
	R.n = n;
	R.json = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(
			R.json, json_pack("{s:s, s:I, s:s}", "id", p[i].id, "t",
					  (json_int_t)p[i].time_ms, "type",
					  dr_point_type_name(p[i].type)));
}

static void pump(void)
{
	int guard = 0;

	CHECK_INT(R.done, 0); /* never called from inside the call */
	while (!R.done && guard++ < 10)
		dr_loop_run_once(L, false);
	CHECK_INT(R.done, 1);
}

static int get_item(const char *name)
{
	reset();
	CHECK_INT(dr_provider_get_item(P, name, on_item, NULL), 0);
	pump();
	return R.rc;
}

static int start(const dr_op_request *q)
{
	reset();
	CHECK_INT(dr_provider_start(P, q, on_start, NULL), 0);
	pump();
	return R.rc;
}

static int poll_job(const char *id)
{
	char copy[64];

	snprintf(copy, sizeof(copy), "%s", id);
	reset();
	CHECK_INT(dr_provider_poll(P, copy, on_job, NULL), 0);
	pump();
	return R.rc;
}

static int points(const char *name)
{
	reset();
	CHECK_INT(dr_provider_list_recovery_points(P, name, on_points, NULL), 0);
	pump();
	return R.rc;
}

static int find_jobs(const char *name, int64_t since)
{
	reset();
	CHECK_INT(dr_provider_find_jobs(P, name, since, on_jobs, NULL), 0);
	pump();
	return R.rc;
}

static const char *js(const json_t *o, const char *path)
{
	/* "a.b" walks objects; returns "" for null or missing. */
	char key[64];
	const char *dot;
	const json_t *v = o;

	while (v && (dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		v = json_object_get(v, key);
		path = dot + 1;
	}
	v = v ? json_object_get(v, path) : NULL;
	return json_is_string(v) ? json_string_value(v) : "";
}

static long long ji(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static const char *task_field(const json_t *job, size_t i, const char *key)
{
	return js(json_array_get(json_object_get(job, "tasks"), i), key);
}

static size_t ntasks(const json_t *job)
{
	return json_array_size(json_object_get(job, "tasks"));
}

static dr_op_request req(dr_preq_kind kind, const char *item)
{
	dr_op_request q;

	memset(&q, 0, sizeof(q));
	q.kind = kind;
	q.item = item;
	q.rp.kind = DR_RP_LATEST_PROCESSED;
	return q;
}

/* Run every job and initial sync to the end (the virtual clock jumps). */
static void run_all(void)
{
	CHECK_INT(dr_loop_run(L), 0);
}

/* Start an operation, run it to the end and return its job in R. */
static void run_op(const dr_op_request *q, char *job_id)
{
	CHECK_INT(start(q), 0);
	snprintf(job_id, 64, "%s", R.job_id);
	run_all();
	CHECK_INT(poll_job(job_id), 0);
}

/* ---- tests ---- */

TEST(names)
{
	dr_preq_kind k;

	CHECK_STR(dr_preq_kind_name(DR_PREQ_APPLY_RECOVERY_POINT),
		  "apply-recovery-point");
	CHECK_STR(dr_preq_kind_asr_op(DR_PREQ_APPLY_RECOVERY_POINT), "ChangePit");
	CHECK_STR(dr_preq_kind_asr_op(DR_PREQ_REPROTECT), "ReverseReplicate");
	CHECK_STR(dr_preq_kind_scenario(DR_PREQ_UNPLANNED_FAILOVER),
		  "UnplannedFailover");
	CHECK_INT(dr_preq_kind_parse("planned-failover", &k), 0);
	CHECK_INT(k, DR_PREQ_PLANNED_FAILOVER);
	CHECK_INT(dr_preq_kind_parse("failover", &k), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "unknown operation 'failover'");
}

TEST(new_item_and_points)
{
	json_t *p0;

	setup(1.0);
	add("app01");
	CHECK_INT(get_item("app01"), 0);
	CHECK_STR(js(R.json, "protectionState"), "Protected");
	CHECK_STR(js(R.json, "instanceType"), "InMageRcm");
	CHECK_STR(js(R.json, "activeLocation"), "Primary");
	CHECK_STR(js(R.json, "testFailoverState"), "None");
	CHECK_STR(js(R.json, "replicationHealth"), "Normal");
	CHECK_STR(js(R.json, "currentScenario"), "None");
	CHECK_STR(js(R.json, "direction"), "to-azure");
	CHECK_STR(R.allowed, "TestFailover,UnplannedFailover,DisableProtection");
	/* Pending data covers the last 150 s: the newest point is 5 min old. */
	CHECK_STR(js(R.json, "lastRecoveryPoint.id"), "rp-20261124T235500Z");
	CHECK_STR(js(R.json, "lastRecoveryPoint.recoveryPointType"),
		  "CrashConsistent");
	CHECK_STR(js(R.json, "lastAppConsistentRecoveryPoint.id"),
		  "rp-20261124T230000Z");
	CHECK_INT(ji(R.json, "lastRpoInSeconds"), 300);
	CHECK(json_is_null(json_object_get(R.json, "lastJobId")));

	/* 24 h of history at one point every 5 min, newest first. */
	CHECK_INT(points("app01"), 0);
	CHECK_INT(R.n, 288);
	p0 = json_array_get(R.json, 0);
	CHECK_STR(js(p0, "id"), "rp-20261124T235500Z");
	CHECK_INT(ji(p0, "t"), EPOCH - 5 * MIN);
	CHECK_STR(js(json_array_get(R.json, 11), "type"), "ApplicationConsistent");
	CHECK_STR(js(json_array_get(R.json, 11), "id"), "rp-20261124T230000Z");
	CHECK_STR(js(json_array_get(R.json, 287), "id"), "rp-20261124T000000Z");

	{
		dr_machine m = machine("app01", DR_SRC_VMWARE, DR_OS_WINDOWS);

		CHECK_INT(dr_sim_add_item(S, &m), DR_ECONFLICT);
	}
	CHECK_INT(get_item("nope"), DR_ENOTFOUND);
	CHECK_STR(R.code, "NotFound");
	CHECK_STR(R.msg, "The replicated item 'nope' was not found.");
	CHECK_INT(poll_job("no-such-job"), DR_ENOTFOUND);
	CHECK_STR(R.msg, "The job 'no-such-job' was not found.");
	reset();
	teardown();
}

TEST(drill)
{
	dr_op_request q;
	char id[64], id2[64];

	setup(1.0);
	add("app01");
	q = req(DR_PREQ_TEST_FAILOVER, "app01");
	q.network = "vnet-drill";
	CHECK_INT(start(&q), 0);
	snprintf(id, sizeof(id), "%s", R.job_id);
	CHECK_STR(id, R.job_id);

	/* While it runs: busy, nothing allowed. */
	CHECK_INT(get_item("app01"), 0);
	CHECK_STR(js(R.json, "currentScenario"), "TestFailover");
	CHECK_STR(js(R.json, "testFailoverState"), "TestFailoverInProgress");
	CHECK_STR(R.allowed, "");
	CHECK_STR(js(R.json, "lastJobId"), id);

	dr_loop_advance(L, 40000);
	CHECK_INT(poll_job(id), 0);
	CHECK_STR(js(R.json, "state"), "InProgress");
	CHECK_STR(js(R.json, "scenarioName"), "TestFailover");
	CHECK_INT(ntasks(R.json), 3);
	CHECK_STR(task_field(R.json, 0, "friendlyName"),
		  "Prerequisites check for test failover");
	CHECK_STR(task_field(R.json, 0, "state"), "Succeeded");
	CHECK_STR(task_field(R.json, 1, "friendlyName"),
		  "Create the test virtual machine");
	CHECK_STR(task_field(R.json, 1, "state"), "InProgress");
	CHECK_STR(task_field(R.json, 2, "state"), "NotStarted");
	/* Next poll: ASR's 30 s, as the running task ends later. */
	CHECK_INT(ji(R.json, "pollAfterMs"), 30000);

	run_all();
	CHECK_INT(dr_loop_now(L), 5 * MIN);
	CHECK_INT(poll_job(id), 0);
	CHECK_STR(js(R.json, "state"), "Succeeded");
	CHECK_STR(js(R.json, "stateDescription"), "Completed");
	CHECK_STR(js(R.json, "startTime"), "2026-11-25T00:00:00.000Z");
	CHECK_STR(js(R.json, "endTime"), "2026-11-25T00:05:00.000Z");
	CHECK_STR(js(R.json, "recoveryPoint.id"), "rp-20261124T235500Z");
	CHECK_INT(ji(R.json, "rpoInSeconds"), 300);

	CHECK_INT(get_item("app01"), 0);
	CHECK_STR(js(R.json, "testFailoverState"), "WaitingForCompletion");
	CHECK_STR(js(R.json, "testFailoverStateDescription"), "Waiting for user input");
	CHECK_STR(js(R.json, "protectionState"), "Protected");
	CHECK_STR(R.allowed, "TestFailoverCleanup");

	/* A failover during a drill is refused, naming state and choices. */
	q = req(DR_PREQ_UNPLANNED_FAILOVER, "app01");
	CHECK_INT(start(&q), DR_ECONFLICT);
	CHECK_STR(R.code, "OperationNotAllowed");
	CHECK_STR(R.msg, "Operation 'UnplannedFailover' is not allowed for "
		  "replicated item 'app01' in state 'Protected' (Protected). "
		  "Allowed operations: TestFailoverCleanup.");
	CHECK(R.job_id[0] == 0);

	q = req(DR_PREQ_TEST_FAILOVER_CLEANUP, "app01");
	q.comments = "drill ok";
	CHECK_INT(start(&q), 0);
	snprintf(id2, sizeof(id2), "%s", R.job_id);
	CHECK(strcmp(id, id2) != 0);
	CHECK_INT(get_item("app01"), 0);
	CHECK_STR(js(R.json, "testFailoverState"), "MarkedForDeletion");
	run_all();
	CHECK_INT(dr_loop_now(L), 8 * MIN);
	CHECK_INT(get_item("app01"), 0);
	CHECK_STR(js(R.json, "testFailoverState"), "None");
	CHECK_STR(R.allowed, "TestFailover,UnplannedFailover,DisableProtection");
	CHECK_INT(dr_sim_op_count(S, "app01", DR_PREQ_TEST_FAILOVER), 1);
	CHECK_INT(dr_sim_op_count(S, "app01", DR_PREQ_TEST_FAILOVER_CLEANUP), 1);
	CHECK_INT(dr_sim_op_count(S, "app01", DR_PREQ_UNPLANNED_FAILOVER), 0);
	reset();
	teardown();
}

/* Failover duration and achieved RPO for each recovery point choice. */
static void failover_case(dr_rp_kind kind, const char *custom, bool shutdown,
			  long long minutes_x2, long long rpo,
			  const char *point_id, const char *tasks)
{
	dr_op_request q;
	char id[64], got[512] = "";
	size_t i;

	setup(1.0);
	add("vm");
	q = req(DR_PREQ_UNPLANNED_FAILOVER, "vm");
	q.rp.kind = kind;
	q.rp.id = custom;
	q.shutdown_source = shutdown;
	run_op(&q, id);
	CHECK_STR(js(R.json, "state"), "Succeeded");
	CHECK_INT(dr_loop_now(L), minutes_x2 * MIN / 2);
	CHECK_INT(ji(R.json, "rpoInSeconds"), rpo);
	CHECK_STR(js(R.json, "recoveryPoint.id"), point_id);
	for (i = 0; i < ntasks(R.json); i++) {
		if (i)
			strcat(got, "|");
		strcat(got, task_field(R.json, i, "friendlyName"));
	}
	CHECK_STR(got, tasks);
	CHECK_INT(get_item("vm"), 0);
	CHECK_STR(js(R.json, "protectionState"),
		  "UnplannedFailoverCommitPendingStatesBegin");
	CHECK_STR(js(R.json, "protectionStateDescription"), "Failover completed");
	CHECK_STR(js(R.json, "activeLocation"), "Recovery");
	CHECK_STR(js(R.json, "replicationHealth"), "None");
	CHECK_STR(R.allowed, "CompleteMigration,Commit,DisableProtection,ChangePit");
	CHECK_STR(js(R.json, "failoverRecoveryPoint.id"), point_id);
	CHECK_INT(ji(R.json, "failoverRpoInSeconds"), rpo);
	reset();
	teardown();
}

TEST(failover_recovery_points)
{
	/* latest: pending data processed first (+3 min), RPO 15 s. */
	failover_case(DR_RP_LATEST, NULL, false, 18, 15, "rp-20261124T235945Z",
		      "Prerequisites check for failover|Synchronize data|"
		      "Create the replica virtual machine|Start the replica "
		      "virtual machine");
	/* latest-processed: fastest, RPO = the newest point's age. */
	failover_case(DR_RP_LATEST_PROCESSED, NULL, false, 12, 300,
		      "rp-20261124T235500Z",
		      "Prerequisites check for failover|Create the replica "
		      "virtual machine|Start the replica virtual machine");
	/* latest-app-consistent: up to an hour of data lost. */
	failover_case(DR_RP_LATEST_APP_CONSISTENT, NULL, false, 12, 3600,
		      "rp-20261124T230000Z",
		      "Prerequisites check for failover|Create the replica "
		      "virtual machine|Start the replica virtual machine");
	/* custom, with source shutdown (+2 min). */
	failover_case(DR_RP_CUSTOM, "rp-20261124T233000Z", true, 16, 1800,
		      "rp-20261124T233000Z",
		      "Prerequisites check for failover|Shut down the virtual "
		      "machine|Create the replica virtual machine|Start the "
		      "replica virtual machine");
}

TEST(failover_refusals)
{
	dr_op_request q;

	setup(1.0);
	add("vm");
	q = req(DR_PREQ_UNPLANNED_FAILOVER, "vm");
	q.rp.kind = DR_RP_CUSTOM;
	q.rp.id = "rp-20201124T233000Z";
	CHECK_INT(start(&q), DR_ENOTFOUND);
	CHECK_STR(R.code, "RecoveryPointNotFound");
	CHECK_STR(R.msg, "Recovery point 'rp-20201124T233000Z' was not found for "
		  "replicated item 'vm' (288 recovery points are available).");
	q.rp.id = NULL;
	CHECK_INT(start(&q), DR_EINVAL);
	CHECK_STR(R.code, "InvalidParameter");
	q = req(DR_PREQ_COMMIT, "vm");
	CHECK_INT(start(&q), DR_ECONFLICT);
	CHECK_STR(R.msg, "Operation 'Commit' is not allowed for replicated item "
		  "'vm' in state 'Protected' (Protected). Allowed operations: "
		  "TestFailover, UnplannedFailover, DisableProtection.");
	q = req(DR_PREQ_PLANNED_FAILOVER, "vm");
	CHECK_INT(start(&q), DR_ECONFLICT);
	q = req(DR_PREQ_UNPLANNED_FAILOVER, "ghost");
	CHECK_INT(start(&q), DR_ENOTFOUND);
	CHECK_STR(R.msg, "The replicated item 'ghost' was not found.");
	/* Refusals are not accepted operations. */
	CHECK_INT(dr_sim_op_count(S, "vm", DR_PREQ_UNPLANNED_FAILOVER), 0);

	/* Busy: a second operation while the failover runs. */
	q = req(DR_PREQ_UNPLANNED_FAILOVER, "vm");
	CHECK_INT(start(&q), 0);
	{
		char id[64], msg[512];

		snprintf(id, sizeof(id), "%s", R.job_id);
		q = req(DR_PREQ_COMMIT, "vm");
		CHECK_INT(start(&q), DR_ECONFLICT);
		snprintf(msg, sizeof(msg), "Operation 'Commit' is not allowed for "
			 "replicated item 'vm' while job '%s' (UnplannedFailover) "
			 "is in progress. Allowed operations: none.", id);
		CHECK_STR(R.msg, msg);
	}
	reset();
	teardown();
}

/* Physical servers and old agents pay the extra "Prepare the machine" step. */
TEST(extra_failover_step)
{
	dr_machine m = machine("phys01", DR_SRC_PHYSICAL, DR_OS_WINDOWS);
	dr_op_request q;
	char id[64];

	setup(1.0);
	CHECK_INT(dr_sim_add_item(S, &m), 0);
	q = req(DR_PREQ_UNPLANNED_FAILOVER, "phys01");
	run_op(&q, id);
	CHECK_INT(dr_loop_now(L), 15 * MIN);
	CHECK_INT(ntasks(R.json), 4);
	CHECK_STR(task_field(R.json, 1, "friendlyName"), "Prepare the machine");
	CHECK_STR(task_field(R.json, 1, "startTime"), "2026-11-25T00:00:30.000Z");
	CHECK_STR(task_field(R.json, 1, "endTime"), "2026-11-25T00:09:30.000Z");
	reset();
	teardown();
}

/* The whole modernized life cycle of one item. */
TEST(life_cycle)
{
	dr_op_request q;
	char id[64];
	int64_t t0;

	setup(1.0);
	add("app01");

	/* 1. Failover at latest-processed. */
	q = req(DR_PREQ_UNPLANNED_FAILOVER, "app01");
	q.shutdown_source = true;
	run_op(&q, id);
	CHECK_STR(js(R.json, "state"), "Succeeded");
	CHECK_INT(dr_loop_now(L), 8 * MIN);

	/* Points are frozen at the failover; the list still offers them. */
	CHECK_INT(points("app01"), 0);
	CHECK_INT(R.n, 288);
	CHECK_STR(js(json_array_get(R.json, 0), "id"), "rp-20261124T235500Z");

	/* 2. Change the point before commit. */
	q = req(DR_PREQ_APPLY_RECOVERY_POINT, "app01");
	q.rp.kind = DR_RP_LATEST_APP_CONSISTENT;
	run_op(&q, id);
	CHECK_STR(js(R.json, "state"), "Succeeded");
	CHECK_STR(js(R.json, "scenarioName"), "ChangeRecoveryPoint");
	CHECK_STR(js(R.json, "recoveryPoint.id"), "rp-20261124T230000Z");
	CHECK_INT(ji(R.json, "rpoInSeconds"), 3600);
	CHECK_INT(dr_loop_now(L), 13 * MIN);
	CHECK_INT(get_item("app01"), 0);
	CHECK_STR(js(R.json, "failoverRecoveryPoint.id"), "rp-20261124T230000Z");
	CHECK_INT(ji(R.json, "failoverRpoInSeconds"), 3600);
	CHECK_STR(R.allowed, "CompleteMigration,Commit,DisableProtection,ChangePit");

	/* 3. Commit: the other points are gone. */
	q = req(DR_PREQ_COMMIT, "app01");
	run_op(&q, id);
	CHECK_INT(dr_loop_now(L), 14 * MIN);
	CHECK_INT(get_item("app01"), 0);
	CHECK_STR(js(R.json, "protectionState"), "UnplannedFailoverCommittedStatesBegin");
	CHECK(json_is_true(json_object_get(R.json, "committed")));
	CHECK_STR(R.allowed, "ReverseReplicate,DisableProtection");
	CHECK_INT(points("app01"), 0);
	CHECK_INT(R.n, 0);
	q = req(DR_PREQ_APPLY_RECOVERY_POINT, "app01");
	CHECK_INT(start(&q), DR_ECONFLICT);

	/* 4. Reprotect to on-premises; the wrong direction is refused. */
	q = req(DR_PREQ_REPROTECT, "app01");
	q.direction = DR_DIR_TO_AZURE;
	CHECK_INT(start(&q), DR_EINVAL);
	CHECK_STR(R.code, "InvalidFailoverDirection");
	CHECK_STR(R.msg, "Replicated item 'app01' (InMageRcm) can only be "
		  "reprotected to on-premises (RecoveryToPrimary).");
	q.direction = DR_DIR_TO_ONPREM;
	CHECK_INT(start(&q), 0);
	snprintf(id, sizeof(id), "%s", R.job_id);
	t0 = dr_loop_now(L);
	/* Run only the job: the initial sync is checked half way. */
	while (dr_loop_now(L) < (uint64_t)(t0 + 10 * MIN))
		dr_loop_run_once(L, true);
	CHECK_INT(poll_job(id), 0);
	CHECK_STR(js(R.json, "state"), "Succeeded");
	CHECK_STR(js(R.json, "endTime"), "2026-11-25T00:24:00.000Z");
	CHECK_INT(get_item("app01"), 0);
	CHECK_STR(js(R.json, "instanceType"), "InMageRcmFailback");
	CHECK_STR(js(R.json, "direction"), "to-onprem");
	CHECK_STR(js(R.json, "protectionState"), "InitialReplicationInProgress");
	CHECK_STR(js(R.json, "activeLocation"), "Recovery");
	CHECK_INT(ji(R.json, "initialReplicationProgressPercentage"), 0);
	CHECK_STR(R.allowed, "DisableProtection");
	dr_loop_advance(L, 15 * MIN);
	CHECK_INT(get_item("app01"), 0);
	CHECK_INT(ji(R.json, "initialReplicationProgressPercentage"), 50);
	q = req(DR_PREQ_PLANNED_FAILOVER, "app01");
	CHECK_INT(start(&q), DR_ECONFLICT);
	CHECK_STR(R.msg, "Operation 'PlannedFailover' is not allowed for "
		  "replicated item 'app01' in state 'InitialReplicationInProgress' "
		  "(Initial replication to on-premises in progress). Allowed "
		  "operations: DisableProtection.");
	run_all();
	CHECK_INT(dr_loop_now(L), 54 * MIN);
	CHECK_INT(get_item("app01"), 0);
	CHECK_STR(js(R.json, "protectionState"), "Protected");
	CHECK_STR(js(R.json, "replicationHealth"), "Normal");
	CHECK_STR(R.allowed, "PlannedFailover,DisableProtection");
	/* Test failover is not offered in the failback direction. */
	q = req(DR_PREQ_TEST_FAILOVER, "app01");
	CHECK_INT(start(&q), DR_ECONFLICT);

	/* 5. Failback (planned failover): final sync, RPO 0. */
	q = req(DR_PREQ_PLANNED_FAILOVER, "app01");
	q.point_type = DR_POINT_APP_CONSISTENT;
	run_op(&q, id);
	CHECK_STR(js(R.json, "state"), "Succeeded");
	CHECK_STR(js(R.json, "scenarioName"), "PlannedFailover");
	CHECK_INT(dr_loop_now(L), 64 * MIN);
	CHECK_STR(js(R.json, "recoveryPoint.recoveryPointType"),
		  "ApplicationConsistent");
	CHECK_STR(js(R.json, "recoveryPoint.id"), "rp-20261125T005730Z");
	CHECK_INT(ji(R.json, "rpoInSeconds"), 0);
	CHECK_INT(get_item("app01"), 0);
	CHECK_STR(js(R.json, "protectionState"),
		  "PlannedFailoverCommitPendingStatesBegin");
	CHECK_STR(js(R.json, "activeLocation"), "Primary");
	CHECK_STR(R.allowed, "Commit,CancelFailover,DisableProtection");

	/* 6. Commit the failback. */
	q = req(DR_PREQ_COMMIT, "app01");
	run_op(&q, id);
	CHECK_STR(task_field(R.json, 1, "friendlyName"),
		  "Commit the failover and remove the Azure virtual machine");
	CHECK_INT(get_item("app01"), 0);
	CHECK_STR(js(R.json, "protectionState"), "PlannedFailoverStatesBegin");
	CHECK_STR(js(R.json, "protectionStateDescription"),
		  "Planned failover committed");
	CHECK_STR(R.allowed, "ReverseReplicate,DisableProtection");

	/* 7. Reprotect to Azure: back to InMageRcm after the initial sync. */
	q = req(DR_PREQ_REPROTECT, "app01");
	q.direction = DR_DIR_TO_ONPREM;
	CHECK_INT(start(&q), DR_EINVAL);
	CHECK_STR(R.msg, "Replicated item 'app01' (InMageRcmFailback) can only be "
		  "reprotected to Azure (PrimaryToRecovery).");
	q.direction = DR_DIR_ANY;
	run_op(&q, id);
	CHECK_INT(dr_loop_now(L), 105 * MIN);
	CHECK_INT(get_item("app01"), 0);
	CHECK_STR(js(R.json, "instanceType"), "InMageRcm");
	CHECK_STR(js(R.json, "protectionState"), "Protected");
	CHECK_STR(js(R.json, "activeLocation"), "Primary");
	CHECK_STR(R.allowed, "TestFailover,UnplannedFailover,DisableProtection");
	/* Initial replication ended at 01:45 with a first point. */
	CHECK_STR(js(R.json, "lastRecoveryPoint.id"), "rp-20261125T014230Z");
	CHECK_STR(js(R.json, "lastRecoveryPoint.recoveryPointType"),
		  "ApplicationConsistent");
	dr_loop_advance(L, 10 * MIN);
	CHECK_INT(get_item("app01"), 0);
	CHECK_STR(js(R.json, "lastRecoveryPoint.id"), "rp-20261125T015230Z");
	CHECK_STR(js(R.json, "lastAppConsistentRecoveryPoint.id"),
		  "rp-20261125T014230Z");

	CHECK_INT(dr_sim_op_count(S, "app01", DR_PREQ_UNPLANNED_FAILOVER), 1);
	CHECK_INT(dr_sim_op_count(S, "app01", DR_PREQ_APPLY_RECOVERY_POINT), 1);
	CHECK_INT(dr_sim_op_count(S, "app01", DR_PREQ_COMMIT), 2);
	CHECK_INT(dr_sim_op_count(S, "app01", DR_PREQ_REPROTECT), 2);
	CHECK_INT(dr_sim_op_count(S, "app01", DR_PREQ_PLANNED_FAILOVER), 1);
	CHECK_INT(find_jobs("app01", 0), 0);
	CHECK_INT(R.n, 7);
	CHECK_STR(js(json_array_get(R.json, 0), "operation"), "unplanned-failover");
	CHECK_STR(js(json_array_get(R.json, 6), "operation"), "reprotect");
	CHECK_INT(find_jobs("app01", EPOCH + 60 * MIN), 0);
	CHECK_INT(R.n, 2); /* the failback's commit and the last reprotect */
	reset();
	teardown();
}

TEST(cancel_failback)
{
	dr_op_request q;
	char id[64];

	setup(0);
	add("a");
	q = req(DR_PREQ_UNPLANNED_FAILOVER, "a");
	run_op(&q, id);
	q = req(DR_PREQ_COMMIT, "a");
	run_op(&q, id);
	q = req(DR_PREQ_REPROTECT, "a");
	run_op(&q, id);
	q = req(DR_PREQ_PLANNED_FAILOVER, "a");
	run_op(&q, id);
	CHECK_STR(js(R.json, "recoveryPoint.recoveryPointType"), "CrashConsistent");
	q = req(DR_PREQ_CANCEL_FAILOVER, "a");
	run_op(&q, id);
	CHECK_STR(js(R.json, "state"), "Succeeded");
	CHECK_INT(get_item("a"), 0);
	CHECK_STR(js(R.json, "protectionState"), "Protected");
	CHECK_STR(js(R.json, "instanceType"), "InMageRcmFailback");
	CHECK_STR(js(R.json, "activeLocation"), "Recovery");
	CHECK_STR(R.allowed, "PlannedFailover,DisableProtection");
	/* Scale 0: all of it took no loop time. */
	CHECK_INT(dr_loop_now(L), 0);
	reset();
	teardown();
}

TEST(time_scale)
{
	dr_op_request q;
	char id[64];

	setup(0.0001);
	add("a");
	q = req(DR_PREQ_UNPLANNED_FAILOVER, "a");
	CHECK_INT(start(&q), 0);
	snprintf(id, sizeof(id), "%s", R.job_id);
	CHECK_INT(poll_job(id), 0);
	CHECK_INT(ji(R.json, "pollAfterMs"), 3); /* 30 s of model time */
	run_all();
	CHECK_INT(dr_loop_now(L), 36); /* 6 minutes */
	CHECK_INT(dr_sim_now(S), EPOCH + 6 * MIN);
	CHECK_INT(poll_job(id), 0);
	CHECK_STR(js(R.json, "state"), "Succeeded");
	CHECK_STR(js(R.json, "endTime"), "2026-11-25T00:06:00.000Z");
	reset();
	teardown();
}

TEST(fault_fail_at_task)
{
	dr_sim_opts o;
	dr_op_request q;
	char id[64];

	dr_sim_opts_init(&o);
	o.epoch_ms = EPOCH;
	o.faults = "fail:a:unplanned-failover:Start the replica virtual machine:1";
	setup_opts(&o);
	add("a");
	add("b");
	q = req(DR_PREQ_UNPLANNED_FAILOVER, "a");
	run_op(&q, id);
	CHECK_STR(js(R.json, "state"), "Failed");
	CHECK_STR(task_field(R.json, 1, "state"), "Succeeded");
	CHECK_STR(task_field(R.json, 2, "state"), "Failed");
	CHECK_STR(js(json_array_get(json_object_get(R.json, "errors"), 0), "code"),
		  "SimulatedFault");
	CHECK_STR(js(json_array_get(json_object_get(R.json, "errors"), 0), "message"),
		  "Task 'Start the replica virtual machine' failed for replicated "
		  "item 'a': fault 'fail:a:unplanned-failover:Start the replica "
		  "virtual machine:1'.");
	CHECK_STR(js(json_array_get(json_object_get(R.json, "errors"), 0), "taskId"),
		  task_field(R.json, 2, "taskId"));
	CHECK_INT(dr_loop_now(L), 6 * MIN);
	/* The item is as before, so the executor may retry. */
	CHECK_INT(get_item("a"), 0);
	CHECK_STR(js(R.json, "protectionState"), "Protected");
	CHECK_STR(R.allowed, "TestFailover,UnplannedFailover,DisableProtection");
	q = req(DR_PREQ_UNPLANNED_FAILOVER, "a");
	run_op(&q, id);
	CHECK_STR(js(R.json, "state"), "Succeeded");
	CHECK_INT(dr_sim_op_count(S, "a", DR_PREQ_UNPLANNED_FAILOVER), 2);

	/* Fail at task 1, always, for any machine's commit. */
	CHECK_INT(dr_sim_add_faults(S, "fail:*:commit:1"), 0);
	q = req(DR_PREQ_COMMIT, "a");
	run_op(&q, id);
	CHECK_STR(js(R.json, "state"), "Failed");
	CHECK_STR(task_field(R.json, 0, "state"), "Failed");
	CHECK_STR(task_field(R.json, 1, "state"), "NotStarted");
	q = req(DR_PREQ_COMMIT, "a");
	run_op(&q, id);
	CHECK_STR(js(R.json, "state"), "Failed");
	reset();
	teardown();
}

TEST(fault_shutdown_and_slow)
{
	dr_op_request q;
	char id[64];

	setup(1.0);
	add("a");
	CHECK_INT(dr_sim_add_faults(S, "shutdown-fail:a; slow:a:commit:2"), 0);
	q = req(DR_PREQ_UNPLANNED_FAILOVER, "a");
	q.shutdown_source = true;
	run_op(&q, id);
	CHECK_STR(js(R.json, "state"), "Succeeded");
	CHECK_STR(js(R.json, "stateDescription"), "CompletedWithInformation");
	CHECK_STR(task_field(R.json, 1, "friendlyName"), "Shut down the virtual machine");
	CHECK_STR(task_field(R.json, 1, "state"), "Failed");
	CHECK_STR(task_field(R.json, 2, "state"), "Succeeded");
	{
		json_t *e = json_array_get(json_object_get(R.json, "errors"), 0);

		CHECK_STR(js(e, "code"), "SourceShutdownFailed");
		CHECK_STR(js(e, "errorLevel"), "Warning");
		CHECK_STR(js(e, "message"), "The source machine 'a' could not be "
			  "shut down; the failover continued without shutting it "
			  "down.");
	}
	CHECK_INT(get_item("a"), 0);
	CHECK_STR(js(R.json, "activeLocation"), "Recovery");
	q = req(DR_PREQ_COMMIT, "a");
	run_op(&q, id);
	CHECK_INT(dr_loop_now(L), 10 * MIN); /* 8 min failover + 2x 1 min */
	reset();
	teardown();
}

TEST(fault_lost_accept)
{
	dr_op_request q;
	char id[64];

	setup(1.0);
	add("a");
	CHECK_INT(dr_sim_add_faults(S, "lose-accept:a:unplanned-failover"), 0);
	dr_loop_advance(L, 1000);
	q = req(DR_PREQ_UNPLANNED_FAILOVER, "a");
	q.client_request_id = "intent-42";
	CHECK_INT(start(&q), DR_EIO);
	CHECK_STR(R.code, "ConnectionReset");
	CHECK_STR(R.msg, "The connection was reset before the reply to "
		  "UnplannedFailover on 'a' arrived; the operation may have been "
		  "accepted.");
	CHECK(R.job_id[0] == 0);
	/* It was accepted: the executor finds it instead of resending. */
	CHECK_INT(dr_sim_op_count(S, "a", DR_PREQ_UNPLANNED_FAILOVER), 1);
	CHECK_INT(find_jobs("a", EPOCH), 0);
	CHECK_INT(R.n, 1);
	CHECK_STR(js(json_array_get(R.json, 0), "clientRequestId"), "intent-42");
	CHECK_STR(js(json_array_get(R.json, 0), "state"), "InProgress");
	snprintf(id, sizeof(id), "%s", js(json_array_get(R.json, 0), "name"));
	CHECK_INT(find_jobs("a", EPOCH + 2000), 0);
	CHECK_INT(R.n, 0);
	run_all();
	CHECK_INT(poll_job(id), 0);
	CHECK_STR(js(R.json, "state"), "Succeeded");
	/* The fault fired once; the next operation's reply arrives. */
	q = req(DR_PREQ_COMMIT, "a");
	CHECK_INT(start(&q), 0);
	reset();
	teardown();
}

static void random_run(uint64_t seed, char *out, size_t n)
{
	dr_sim_opts o;
	dr_op_request q;
	char id[64], spec[64];
	int i;

	dr_sim_opts_init(&o);
	o.epoch_ms = EPOCH;
	o.scale = 0;
	snprintf(spec, sizeof(spec), "random:0.5:%llu", (unsigned long long)seed);
	o.faults = spec;
	setup_opts(&o);
	add("r");
	out[0] = 0;
	for (i = 0; i < 8; i++) {
		q = req(DR_PREQ_TEST_FAILOVER, "r");
		run_op(&q, id);
		strncat(out, !strcmp(js(R.json, "state"), "Failed") ? "F" : "S",
			n - strlen(out) - 1);
		if (!strcmp(js(R.json, "state"), "Succeeded")) {
			q = req(DR_PREQ_TEST_FAILOVER_CLEANUP, "r");
			do {
				run_op(&q, id);
			} while (strcmp(js(R.json, "state"), "Succeeded"));
		}
	}
	reset();
	teardown();
}

TEST(fault_random_deterministic)
{
	char a[32], b[32], c[32];

	random_run(7, a, sizeof(a));
	random_run(7, b, sizeof(b));
	random_run(8, c, sizeof(c));
	CHECK_STR(a, b);
	CHECK(strchr(a, 'F') != NULL);
	CHECK(strchr(a, 'S') != NULL);
	CHECK(strcmp(a, c) != 0);
}

TEST(fault_spec_errors)
{
	static const struct {
		const char *spec, *msg;
	} cases[] = {
		{ "boom:a", "fault 'boom:a': unknown kind 'boom' (fail, "
			    "shutdown-fail, lose-accept, slow, random)" },
		{ "fail:a:failover", "fault 'fail:a:failover': unknown operation "
				     "'failover'" },
		{ "fail:a", "fault 'fail:a': no operation" },
		{ "fail::commit", "fault 'fail::commit': no machine" },
		{ "slow:a:commit:0", "fault 'slow:a:commit:0': expected "
				     "slow:MACHINE:OP:FACTOR with a factor above 0" },
		{ "random:2", "fault 'random:2': expected random:PROBABILITY[:SEED] "
			      "with a probability from 0 to 1" },
		{ "lose-accept:a:commit:x", "fault 'lose-accept:a:commit:x': "
					    "expected lose-accept:MACHINE:OP[:COUNT]" },
	};
	size_t i;

	setup(1.0);
	for (i = 0; i < DR_ARRAY_SIZE(cases); i++) {
		CHECK_INT(dr_sim_add_faults(S, cases[i].spec), DR_EINVAL);
		CHECK_STR(dr_error_msg(), cases[i].msg);
	}
	CHECK_INT(dr_sim_add_faults(S, " ;fail:a:commit:2:3; "), 0);
	teardown();
	{
		dr_sim_opts o;
		dr_sim *s;

		dr_sim_opts_init(&o);
		o.crash_interval_ms = 7 * MIN;
		CHECK_INT(dr_sim_new(NULL, &o, &s), DR_EINVAL);
		CHECK_STR(dr_error_msg(), "sim: the crash-consistent interval must "
			  "be at least 1 s and the app-consistent interval a "
			  "multiple of it");
		dr_sim_opts_init(&o);
		o.retention_ms = UINT64_MAX;
		CHECK_INT(dr_sim_new(NULL, &o, &s), DR_EINVAL);
		o.retention_ms = 72 * 60 * MIN;
		o.scale = -1;
		CHECK_INT(dr_sim_new(NULL, &o, &s), DR_EINVAL);
	}
}

/* Save in the middle of a failover; a new process resumes it. */
TEST(save_load_mid_operation)
{
	dr_op_request q;
	json_t *state, *again;
	char id[64], *text;
	json_error_t e;

	setup(1.0);
	add("a");
	add("b");
	q = req(DR_PREQ_UNPLANNED_FAILOVER, "a");
	q.client_request_id = "intent-1";
	CHECK_INT(start(&q), 0);
	snprintf(id, sizeof(id), "%s", R.job_id);
	dr_loop_advance(L, 100 * 1000);
	CHECK_INT(dr_sim_save(S, &state), 0);
	text = json_dumps(state, JSON_SORT_KEYS);
	json_decref(state);
	teardown();

	/* A new process, its clock started at the same epoch. */
	setup(1.0);
	state = json_loads(text, 0, &e);
	CHECK(state != NULL);
	CHECK_INT(dr_sim_load(S, state), 0);
	json_decref(state);
	CHECK_INT(dr_sim_now(S), EPOCH + 100 * 1000);
	CHECK_INT(dr_sim_op_count(S, "a", DR_PREQ_UNPLANNED_FAILOVER), 1);
	CHECK_INT(get_item("a"), 0);
	CHECK_STR(js(R.json, "currentScenario"), "UnplannedFailover");
	CHECK_STR(js(R.json, "protectionState"), "UnplannedFailoverInProgress");
	CHECK_STR(js(R.json, "lastJobId"), id);
	CHECK_INT(poll_job(id), 0);
	CHECK_STR(js(R.json, "state"), "InProgress");
	CHECK_STR(js(R.json, "clientRequestId"), "intent-1");
	CHECK_STR(task_field(R.json, 0, "state"), "Succeeded");
	CHECK_STR(task_field(R.json, 1, "state"), "InProgress");
	/* The failover ends 6 min after it began: 260 s more. */
	run_all();
	CHECK_INT(dr_loop_now(L), 260 * 1000);
	CHECK_INT(dr_sim_now(S), EPOCH + 360 * 1000);
	dr_loop_advance(L, 10 * 1000); /* model time flows on from there */
	CHECK_INT(dr_sim_now(S), EPOCH + 370 * 1000);
	CHECK_INT(poll_job(id), 0);
	CHECK_STR(js(R.json, "state"), "Succeeded");
	CHECK_STR(js(R.json, "endTime"), "2026-11-25T00:06:00.000Z");
	CHECK_INT(get_item("b"), 0);
	CHECK_STR(js(R.json, "protectionState"), "Protected");

	/* Saving again gives the same state a fresh process would load. */
	CHECK_INT(dr_sim_save(S, &state), 0);
	teardown();
	{
		dr_sim_opts o;

		/* A day later: whatever was running is over. */
		dr_sim_opts_init(&o);
		o.epoch_ms = EPOCH + 24 * 60 * MIN;
		setup_opts(&o);
	}
	CHECK_INT(dr_sim_load(S, state), 0);
	CHECK_INT(dr_sim_save(S, &again), 0);
	CHECK_INT(json_integer_value(json_object_get(again, "modelNowMs")),
		  EPOCH + 24 * 60 * MIN);
	json_decref(again);
	json_decref(state);
	CHECK_INT(get_item("a"), 0);
	CHECK_STR(R.allowed, "CompleteMigration,Commit,DisableProtection,ChangePit");
	free(text);
	reset();
	teardown();
}

TEST(load_completes_overdue_jobs)
{
	dr_op_request q;
	json_t *state;
	char id[64];
	dr_sim_opts o;

	setup(1.0);
	add("a");
	q = req(DR_PREQ_UNPLANNED_FAILOVER, "a");
	CHECK_INT(start(&q), 0);
	snprintf(id, sizeof(id), "%s", R.job_id);
	CHECK_INT(dr_sim_save(S, &state), 0);
	teardown();

	dr_sim_opts_init(&o);
	o.epoch_ms = EPOCH + 10 * MIN;
	setup_opts(&o);
	CHECK_INT(dr_sim_load(S, state), 0);
	json_decref(state);
	CHECK_INT(poll_job(id), 0);
	CHECK_STR(js(R.json, "state"), "Succeeded");
	CHECK_STR(js(R.json, "endTime"), "2026-11-25T00:06:00.000Z");
	CHECK_INT(get_item("a"), 0);
	CHECK_STR(js(R.json, "activeLocation"), "Recovery");
	reset();
	teardown();
}

TEST(load_rejects_bad_state)
{
	json_t *bad;

	setup(1.0);
	add("keep");
	bad = json_pack("{s:s}", "format", "drplan-sim/1");
	CHECK_INT(dr_sim_load(S, bad), DR_EINVAL);
	json_decref(bad);
	bad = json_pack("{s:s, s:I, s:I, s:s, s:[], s:[]}", "format", "other/9",
			"modelNowMs", (json_int_t)0, "seq", (json_int_t)0, "rng",
			"1", "items", "jobs");
	CHECK_INT(dr_sim_load(S, bad), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "sim state: format 'other/9', expected "
		  "'drplan-sim/1'");
	json_decref(bad);
	bad = json_loads("{\"format\":\"drplan-sim/1\",\"modelNowMs\":0,\"seq\":0,"
			 "\"rng\":\"1\",\"jobs\":[],\"items\":[{\"name\":\"x\","
			 "\"physical\":false,\"extraReason\":null,\"stage\":\"odd\","
			 "\"replStartMs\":0,\"frozenAtMs\":0,\"extraPoint\":null,"
			 "\"syncEndMs\":0,\"failover\":null,\"committed\":false,"
			 "\"busyJob\":null,\"lastJob\":null,\"opCounts\":{}}]}",
			 0, NULL);
	CHECK(bad != NULL);
	CHECK_INT(dr_sim_load(S, bad), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "sim state: item 'x': unknown stage 'odd'");
	json_decref(bad);
	/* A running job that could not settle from the item's stage. */
	{
		dr_op_request q = req(DR_PREQ_UNPLANNED_FAILOVER, "keep");
		json_t *good, *items;
		size_t i;

		CHECK_INT(start(&q), 0);
		CHECK_INT(dr_sim_save(S, &good), 0);
		items = json_object_get(good, "items");
		for (i = 0; i < json_array_size(items); i++)
			json_object_set_new(json_array_get(items, i), "stage",
					    json_string("failback-syncing"));
		CHECK_INT(dr_sim_load(S, good), DR_EINVAL);
		CHECK_STR(dr_error_msg(), "sim state: item 'keep' in stage "
			  "'failback-syncing' cannot be running a "
			  "unplanned-failover job");
		for (i = 0; i < json_array_size(items); i++) {
			json_object_set_new(json_array_get(items, i), "stage",
					    json_string("protected"));
			json_object_set_new(json_array_get(items, i), "busyJob",
					    json_null());
		}
		CHECK_INT(dr_sim_load(S, good), DR_EINVAL);
		CHECK(!strncmp(dr_error_msg(), "sim state: job '", 16));
		CHECK(strstr(dr_error_msg(), "' runs but item 'keep' is not busy "
			     "with it") != NULL);
		json_decref(good);
	}
	bad = json_loads("{\"format\":\"drplan-sim/1\",\"modelNowMs\":0,\"seq\":0,"
			 "\"rng\":\"1\",\"jobs\":[],\"items\":[{\"name\":\"x\","
			 "\"physical\":false,\"extraReason\":null,\"stage\":\"protected\","
			 "\"replStartMs\":-9223372036854775807,\"frozenAtMs\":0,"
			 "\"extraPoint\":null,\"syncEndMs\":0,\"failover\":null,"
			 "\"committed\":false,\"busyJob\":null,\"lastJob\":null,"
			 "\"opCounts\":{}}]}", 0, NULL);
	CHECK(bad != NULL);
	CHECK_INT(dr_sim_load(S, bad), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "sim state: item 'x': time out of range");
	json_decref(bad);
	/* Nothing changed. */
	CHECK_INT(get_item("keep"), 0);
	CHECK_STR(js(R.json, "currentScenario"), "UnplannedFailover");
	CHECK_INT(get_item("x"), DR_ENOTFOUND);
	reset();
	teardown();
}

TEST(sync_plan)
{
	dr_plan p;
	dr_machine ms[3];

	setup(1.0);
	add("a");
	memset(&p, 0, sizeof(p));
	ms[0] = machine("a", DR_SRC_PHYSICAL, DR_OS_LINUX);
	ms[1] = machine("b", DR_SRC_VMWARE, DR_OS_LINUX);
	ms[2] = machine("c", DR_SRC_VMWARE, DR_OS_WINDOWS);
	p.machines = ms;
	p.nmachines = 3;
	CHECK_INT(dr_sim_sync_plan(S, &p), 0);
	CHECK_INT(dr_sim_sync_plan(S, &p), 0);
	CHECK_INT(get_item("b"), 0);
	CHECK_STR(js(R.json, "protectionState"), "Protected");
	{
		dr_op_request q = req(DR_PREQ_TEST_FAILOVER, "b");
		char id[64];

		/* VMware Linux: the extra step; "a" stayed a Windows VM. */
		run_op(&q, id);
		CHECK_STR(task_field(R.json, 1, "friendlyName"), "Prepare the machine");
		q = req(DR_PREQ_TEST_FAILOVER, "a");
		run_op(&q, id);
		CHECK_INT(ntasks(R.json), 3);
	}
	reset();
	teardown();
}

/*
 * At every stable stage of the life cycle, every operation is accepted
 * exactly when the item lists it in allowedOperations. Each try runs on a
 * copy of the state made with save and load.
 */
TEST(allowed_operations_are_the_truth)
{
	static const dr_preq_kind path[] = {
		DR_PREQ_TEST_FAILOVER, DR_PREQ_TEST_FAILOVER_CLEANUP,
		DR_PREQ_UNPLANNED_FAILOVER, DR_PREQ_APPLY_RECOVERY_POINT,
		DR_PREQ_COMMIT, DR_PREQ_REPROTECT, DR_PREQ_PLANNED_FAILOVER,
		DR_PREQ_CANCEL_FAILOVER, DR_PREQ_PLANNED_FAILOVER, DR_PREQ_COMMIT,
		DR_PREQ_REPROTECT,
	};
	size_t step;
	int k, stages_seen = 0, mismatches = 0;
	char id[64];

	setup(0);
	add("m");
	for (step = 0; step <= DR_ARRAY_SIZE(path); step++) {
		json_t *state;
		char allowed[300];
		dr_op_request q;

		run_all(); /* past any initial replication */
		CHECK_INT(get_item("m"), 0);
		snprintf(allowed, sizeof(allowed), ",%s,", R.allowed);
		CHECK_INT(dr_sim_save(S, &state), 0);
		for (k = 0; k < DR_PREQ__COUNT; k++) {
			char want[64];
			bool listed;
			int rc;

			snprintf(want, sizeof(want), ",%s,",
				 dr_preq_kind_asr_op((dr_preq_kind)k));
			listed = strstr(allowed, want) != NULL;
			CHECK_INT(dr_sim_load(S, state), 0);
			q = req((dr_preq_kind)k, "m");
			rc = start(&q);
			if ((rc == 0) != listed) {
				fprintf(stderr, "step %zu: %s rc %d, allowed %s\n",
					step, dr_preq_kind_name((dr_preq_kind)k), rc,
					allowed);
				mismatches++;
			}
			if (!listed)
				CHECK_STR(R.code, "OperationNotAllowed");
		}
		CHECK_INT(dr_sim_load(S, state), 0);
		json_decref(state);
		stages_seen++;
		if (step == DR_ARRAY_SIZE(path))
			break;
		q = req(path[step], "m");
		run_op(&q, id);
		CHECK_STR(js(R.json, "state"), "Succeeded");
	}
	CHECK_INT(mismatches, 0);
	CHECK_INT(stages_seen, 12);
	/* Back where it began. */
	CHECK_INT(get_item("m"), 0);
	CHECK_STR(js(R.json, "instanceType"), "InMageRcm");
	CHECK_STR(R.allowed, "TestFailover,UnplannedFailover,DisableProtection");
	reset();
	teardown();
}

/*
 * Failover in one process, commit in the next, through the state store
 * (the test store: teststore.h).
 */
TEST(state_store_round_trip)
{
	dr_store *st = NULL;
	dr_op_request q;
	char *v1 = NULL, *v2 = NULL, *v3 = NULL, id[64];

	CHECK_INT(dr_test_store_open("sim", &st), 0);
	if (!st)
		return;

	setup(0);
	CHECK_INT(dr_sim_load_store(S, st, DR_SIM_STATE_KEY, &v1), 0);
	CHECK(v1 == NULL); /* nothing saved yet */
	add("a");
	q = req(DR_PREQ_UNPLANNED_FAILOVER, "a");
	run_op(&q, id);
	CHECK_INT(dr_sim_save_store(S, st, DR_SIM_STATE_KEY, "", &v1), 0);
	CHECK(v1 != NULL);
	teardown();

	setup(0);
	CHECK_INT(dr_sim_load_store(S, st, DR_SIM_STATE_KEY, &v2), 0);
	CHECK_STR(v2, v1);
	CHECK_INT(dr_sim_op_count(S, "a", DR_PREQ_UNPLANNED_FAILOVER), 1);
	q = req(DR_PREQ_COMMIT, "a");
	run_op(&q, id);
	CHECK_STR(js(R.json, "state"), "Succeeded");
	CHECK_INT(dr_sim_save_store(S, st, DR_SIM_STATE_KEY, v2, &v3), 0);
	/* A writer holding the old version is refused. */
	CHECK_INT(dr_sim_save_store(S, st, DR_SIM_STATE_KEY, v1, NULL), DR_ECONFLICT);
	teardown();

	setup(0);
	CHECK_INT(dr_sim_load_store(S, st, DR_SIM_STATE_KEY, NULL), 0);
	CHECK_INT(get_item("a"), 0);
	CHECK_STR(js(R.json, "protectionState"), "UnplannedFailoverCommittedStatesBegin");
	CHECK_INT(dr_store_put(st, "sim/bad.json", "{", 1, NULL, NULL), 0);
	CHECK_INT(dr_sim_load_store(S, st, "sim/bad.json", NULL), DR_EINVAL);
	/* The rest of the text is jansson's and varies with its version. */
	CHECK(!strncmp(dr_error_msg(), "sim/bad.json:1:1: ", 18));
	reset();
	teardown();
	CHECK_INT(dr_store_remove(st, DR_SIM_STATE_KEY), 0);
	CHECK_INT(dr_store_remove(st, "sim/bad.json"), 0);
	dr_test_store_free(st);
	free(v1);
	free(v2);
	free(v3);
}

/*
 * The executor's pattern on the real clock: start, then poll again after
 * poll_after_ms until the job is done, for several machines at once.
 */
struct driver {
	dr_provider *p;
	dr_loop *l;
	const char *item;
	char job[64];
	char final[32];
	int polls;
};

static void drv_poll(dr_loop *l, void *ud);

static void drv_on_job(void *ud, int rc, const dr_prov_job *j,
		       const dr_prov_error *e)
{
	struct driver *d = ud;

	(void)e;
	d->polls++;
	if (rc < 0 || dr_prov_job_done(j)) {
		snprintf(d->final, sizeof(d->final), "%s", rc < 0 ? "error" : j->state);
		return;
	}
	dr_loop_timer(d->l, j->poll_after_ms, drv_poll, d);
}

static void drv_poll(dr_loop *l, void *ud)
{
	struct driver *d = ud;

	(void)l;
	CHECK_INT(dr_provider_poll(d->p, d->job, drv_on_job, d), 0);
}

static void drv_on_start(void *ud, int rc, const char *id,
			 const dr_prov_error *e)
{
	struct driver *d = ud;

	(void)e;
	if (rc < 0) {
		snprintf(d->final, sizeof(d->final), "refused");
		return;
	}
	snprintf(d->job, sizeof(d->job), "%s", id);
	drv_poll(d->l, d);
}

TEST(real_clock_concurrent_failovers)
{
	static const char *names[] = { "w1", "w2", "phys" };
	struct driver d[3];
	dr_sim_opts o;
	dr_loop *l;
	dr_sim *s;
	int64_t w0 = dr_wall_ms();
	size_t i;

	CHECK_INT(dr_loop_new(NULL, &l), 0);
	dr_sim_opts_init(&o);
	o.scale = 0.0001; /* 6 min -> 36 ms, 15 min -> 90 ms */
	CHECK_INT(dr_sim_new(l, &o, &s), 0);
	for (i = 0; i < 3; i++) {
		dr_machine m = machine(names[i], i == 2 ? DR_SRC_PHYSICAL
							: DR_SRC_VMWARE,
				       DR_OS_WINDOWS);
		dr_op_request q = req(DR_PREQ_UNPLANNED_FAILOVER, names[i]);

		CHECK_INT(dr_sim_add_item(s, &m), 0);
		memset(&d[i], 0, sizeof(d[i]));
		d[i].p = dr_sim_provider(s);
		d[i].l = l;
		d[i].item = names[i];
		CHECK_INT(dr_provider_start(d[i].p, &q, drv_on_start, &d[i]), 0);
	}
	CHECK_INT(dr_loop_run(l), 0);
	for (i = 0; i < 3; i++) {
		CHECK_STR(d[i].final, "Succeeded");
		CHECK(d[i].polls >= 2);
	}
	/* Model time ran 15 min (the physical server's extra step). */
	CHECK(dr_sim_now(s) - (w0 + 15 * MIN) >= 0);
	CHECK(dr_wall_ms() - w0 < 5000);
	dr_sim_free(s);
	dr_loop_free(l);
}

static int cb_calls;

static void count_item(void *ud, int rc, const dr_prov_item *it,
		       const dr_prov_error *e)
{
	(void)ud;
	(void)rc;
	(void)it;
	(void)e;
	cb_calls++;
}

TEST(provider_open_and_free_in_flight)
{
	dr_loop *l;
	dr_provider *p;
	json_t *opts;
	dr_clock c;

	dr_clock_init_virtual(&c, 0);
	CHECK_INT(dr_loop_new(&c, &l), 0);
	CHECK_INT(dr_provider_open("azure-typo", NULL, l, &p), DR_ENOTFOUND);
	CHECK_STR(dr_error_msg(), "unknown provider 'azure-typo' (known: sim, azure)");
	opts = json_pack("{s:f, s:b}", "scale", 0.5, "bogus", 1);
	CHECK_INT(dr_provider_open("sim", opts, l, &p), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "sim options: unknown key 'bogus'");
	json_decref(opts);

	setenv("DRPLAN_SIM_FAULTS", "fail:x:nope", 1);
	CHECK_INT(dr_provider_open("sim", NULL, l, &p), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "DRPLAN_SIM_FAULTS: fault 'fail:x:nope': "
		  "unknown operation 'nope'");
	unsetenv("DRPLAN_SIM_FAULTS");

	opts = json_pack("{s:f, s:I, s:s}", "scale", 0.0, "epochMs",
			 (json_int_t)EPOCH, "faults", "shutdown-fail:*");
	CHECK_INT(dr_provider_open("sim", opts, l, &p), 0);
	json_decref(opts);
	CHECK_STR(dr_provider_name(p), "sim");
	CHECK(dr_provider_sim(p) != NULL);
	CHECK_INT(dr_sim_now(dr_provider_sim(p)), EPOCH);
	CHECK_INT(dr_provider_now(p), EPOCH);
	{
		dr_machine m = machine("z", DR_SRC_VMWARE, DR_OS_WINDOWS);

		CHECK_INT(dr_sim_add_item(dr_provider_sim(p), &m), 0);
	}
	cb_calls = 0;
	CHECK_INT(dr_provider_get_item(p, "z", count_item, NULL), 0);
	CHECK_INT(dr_provider_get_item(p, NULL, count_item, NULL), DR_EINVAL);
	/* Freed with a request in flight: its callback never runs. */
	dr_provider_free(p);
	CHECK_INT(dr_loop_run(l), 0);
	CHECK_INT(cb_calls, 0);
	dr_loop_free(l);
}

int main(void)
{
	RUN(names);
	RUN(new_item_and_points);
	RUN(drill);
	RUN(failover_recovery_points);
	RUN(failover_refusals);
	RUN(extra_failover_step);
	RUN(life_cycle);
	RUN(cancel_failback);
	RUN(time_scale);
	RUN(fault_fail_at_task);
	RUN(fault_shutdown_and_slow);
	RUN(fault_lost_accept);
	RUN(fault_random_deterministic);
	RUN(fault_spec_errors);
	RUN(save_load_mid_operation);
	RUN(load_completes_overdue_jobs);
	RUN(load_rejects_bad_state);
	RUN(sync_plan);
	RUN(allowed_operations_are_the_truth);
	RUN(state_store_round_trip);
	RUN(real_clock_concurrent_failovers);
	RUN(provider_open_and_free_in_flight);
	return test_summary();
}
