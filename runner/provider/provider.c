#include "provider/provider.h"

#include "core/error.h"
#include "provider/azure.h"
#include "provider/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct {
	const char *name, *asr_op, *scenario;
} preq_table[DR_PREQ__COUNT] = {
	[DR_PREQ_TEST_FAILOVER] = { "test-failover", "TestFailover", "TestFailover" },
	[DR_PREQ_TEST_FAILOVER_CLEANUP] = { "test-failover-cleanup",
					    "TestFailoverCleanup",
					    "TestFailoverCleanup" },
	[DR_PREQ_UNPLANNED_FAILOVER] = { "unplanned-failover", "UnplannedFailover",
					 "UnplannedFailover" },
	[DR_PREQ_APPLY_RECOVERY_POINT] = { "apply-recovery-point", "ChangePit",
					   "ChangeRecoveryPoint" },
	[DR_PREQ_COMMIT] = { "commit", "Commit", "Commit" },
	[DR_PREQ_REPROTECT] = { "reprotect", "ReverseReplicate", "Reprotect" },
	[DR_PREQ_PLANNED_FAILOVER] = { "planned-failover", "PlannedFailover",
				       "PlannedFailover" },
	[DR_PREQ_CANCEL_FAILOVER] = { "cancel-failover", "CancelFailover",
				      "CancelFailover" },
};

const char *dr_preq_kind_name(dr_preq_kind k)
{
	return (unsigned)k < DR_PREQ__COUNT ? preq_table[k].name : "unknown";
}

int dr_preq_kind_parse(const char *s, dr_preq_kind *out)
{
	int k;

	for (k = 0; k < DR_PREQ__COUNT; k++) {
		if (!strcmp(s, preq_table[k].name)) {
			*out = (dr_preq_kind)k;
			return 0;
		}
	}
	return dr_error_set(DR_EINVAL, "unknown operation '%s'", s);
}

const char *dr_preq_kind_asr_op(dr_preq_kind k)
{
	return (unsigned)k < DR_PREQ__COUNT ? preq_table[k].asr_op : "Unknown";
}

const char *dr_preq_kind_scenario(dr_preq_kind k)
{
	return (unsigned)k < DR_PREQ__COUNT ? preq_table[k].scenario : "Unknown";
}

const char *dr_point_type_name(dr_point_type t)
{
	return t == DR_POINT_APP_CONSISTENT ? "ApplicationConsistent"
					    : "CrashConsistent";
}

bool dr_prov_item_allows(const dr_prov_item *it, const char *op)
{
	size_t i;

	for (i = 0; i < it->nallowed_ops; i++)
		if (!strcmp(it->allowed_ops[i], op))
			return true;
	return false;
}

bool dr_prov_job_done(const dr_prov_job *j)
{
	return !strcmp(j->state, "Succeeded") || !strcmp(j->state, "Failed") ||
	       !strcmp(j->state, "Cancelled");
}

bool dr_prov_job_succeeded(const dr_prov_job *j)
{
	return !strcmp(j->state, "Succeeded");
}

/* ---- JSON ---- */

/* ISO 8601 UTC with milliseconds, as ASR prints its times. */
static json_t *time_json(int64_t ms)
{
	char buf[64];
	time_t t;
	struct tm tm;

	if (ms <= 0)
		return json_null();
	t = (time_t)(ms / 1000);
	gmtime_r(&t, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return json_string(buf);
}

static json_t *str_json(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *point_json(const dr_prov_point *p)
{
	if (!p->id)
		return json_null();
	return json_pack("{s:s, s:o, s:s}", "id", p->id, "recoveryPointTime",
			 time_json(p->time_ms), "recoveryPointType",
			 dr_point_type_name(p->type));
}

json_t *dr_prov_error_to_json(const dr_prov_error *e)
{
	json_t *j = json_object();

	json_object_set_new(j, "code", str_json(e->code));
	json_object_set_new(j, "message", str_json(e->message));
	json_object_set_new(j, "possibleCauses", str_json(e->possible_causes));
	json_object_set_new(j, "recommendedAction", str_json(e->recommended_action));
	json_object_set_new(j, "errorLevel", str_json(e->level));
	if (e->task_id)
		json_object_set_new(j, "taskId", json_string(e->task_id));
	if (e->time_ms)
		json_object_set_new(j, "creationTime", time_json(e->time_ms));
	if (e->http_status)
		json_object_set_new(j, "httpStatus", json_integer(e->http_status));
	return j;
}

static const char *direction_name(dr_direction d)
{
	switch (d) {
	case DR_DIR_TO_AZURE: return "to-azure";
	case DR_DIR_TO_ONPREM: return "to-onprem";
	default: return "any";
	}
}

json_t *dr_prov_item_to_json(const dr_prov_item *it)
{
	json_t *j = json_object(), *ops = json_array();
	size_t i;

	for (i = 0; i < it->nallowed_ops; i++)
		json_array_append_new(ops, json_string(it->allowed_ops[i]));
	json_object_set_new(j, "friendlyName", str_json(it->name));
	json_object_set_new(j, "id", str_json(it->id));
	json_object_set_new(j, "instanceType", str_json(it->instance_type));
	json_object_set_new(j, "direction",
			    json_string(direction_name(it->direction)));
	json_object_set_new(j, "protectionState", str_json(it->protection_state));
	json_object_set_new(j, "protectionStateDescription",
			    str_json(it->protection_state_description));
	json_object_set_new(j, "activeLocation", str_json(it->active_location));
	json_object_set_new(j, "testFailoverState", str_json(it->test_failover_state));
	json_object_set_new(j, "testFailoverStateDescription",
			    str_json(it->test_failover_state_description));
	json_object_set_new(j, "replicationHealth", str_json(it->replication_health));
	json_object_set_new(j, "allowedOperations", ops);
	json_object_set_new(j, "currentScenario", str_json(it->current_scenario));
	json_object_set_new(j, "lastJobId", str_json(it->last_job_id));
	if (it->initial_replication_percent >= 0)
		json_object_set_new(j, "initialReplicationProgressPercentage",
				    json_integer(it->initial_replication_percent));
	json_object_set_new(j, "lastRecoveryPoint", point_json(&it->last_point));
	json_object_set_new(j, "lastAppConsistentRecoveryPoint",
			    point_json(&it->last_app_point));
	json_object_set_new(j, "lastRpoInSeconds",
			    it->last_rpo_s >= 0 ? json_integer(it->last_rpo_s)
						: json_null());
	json_object_set_new(j, "failoverRecoveryPoint",
			    point_json(&it->failover_point));
	if (it->failover_point.id)
		json_object_set_new(j, "failoverRpoInSeconds",
				    json_integer(it->failover_rpo_s));
	json_object_set_new(j, "committed", json_boolean(it->committed));
	return j;
}

json_t *dr_prov_job_to_json(const dr_prov_job *jb)
{
	json_t *j = json_object(), *tasks = json_array(), *errs = json_array();
	size_t i;

	for (i = 0; i < jb->ntasks; i++) {
		const dr_prov_task *t = &jb->tasks[i];

		json_array_append_new(
			tasks, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "taskId",
					 t->id, "friendlyName", t->name, "state",
					 t->state, "stateDescription",
					 t->state_description ? t->state_description : "",
					 "startTime", time_json(t->start_ms),
					 "endTime", time_json(t->end_ms)));
	}
	for (i = 0; i < jb->nerrors; i++)
		json_array_append_new(errs, dr_prov_error_to_json(&jb->errors[i]));
	json_object_set_new(j, "name", str_json(jb->id));
	json_object_set_new(j, "targetObjectName", str_json(jb->item));
	json_object_set_new(j, "operation", json_string(dr_preq_kind_name(jb->kind)));
	json_object_set_new(j, "scenarioName", str_json(jb->scenario));
	json_object_set_new(j, "friendlyName", str_json(jb->friendly_name));
	json_object_set_new(j, "state", str_json(jb->state));
	json_object_set_new(j, "stateDescription", str_json(jb->state_description));
	if (jb->client_request_id)
		json_object_set_new(j, "clientRequestId",
				    json_string(jb->client_request_id));
	json_object_set_new(j, "startTime", time_json(jb->start_ms));
	json_object_set_new(j, "endTime", time_json(jb->end_ms));
	json_object_set_new(j, "tasks", tasks);
	json_object_set_new(j, "errors", errs);
	if (jb->point.id) {
		json_object_set_new(j, "recoveryPoint", point_json(&jb->point));
		json_object_set_new(j, "rpoInSeconds", json_integer(jb->rpo_s));
	}
	return j;
}

/* ---- registry ---- */

int dr_provider_open(const char *name, const json_t *options, dr_loop *loop,
		     dr_provider **out)
{
	*out = NULL;
	if (!strcmp(name, "sim")) {
		dr_sim_opts o;
		dr_sim *s;
		const char *env = getenv("DRPLAN_SIM_FAULTS");
		int rc;

		dr_sim_opts_init(&o);
		if (options && (rc = dr_sim_opts_from_json(options, &o)) < 0)
			return rc;
		if ((rc = dr_sim_new(loop, &o, &s)) < 0)
			return rc;
		if (env && *env && (rc = dr_sim_add_faults(s, env)) < 0) {
			char msg[512];

			snprintf(msg, sizeof(msg), "%s", dr_error_msg());
			dr_sim_free(s);
			return dr_error_set(rc, "DRPLAN_SIM_FAULTS: %s", msg);
		}
		*out = dr_sim_provider(s);
		return 0;
	}
	if (!strcmp(name, "azure")) {
		dr_azure_opts o;
		dr_azure *az;
		int rc;

		dr_azure_opts_init(&o);
		if (options && (rc = dr_azure_opts_from_json(options, &o)) < 0)
			return rc;
		if ((rc = dr_azure_new(loop, &o, &az)) < 0)
			return rc;
		*out = dr_azure_provider(az);
		return 0;
	}
	return dr_error_set(DR_ENOTFOUND,
			    "unknown provider '%s' (known: sim, azure)", name);
}

void dr_provider_free(dr_provider *p)
{
	if (p)
		p->ops->free(p);
}

const char *dr_provider_name(const dr_provider *p)
{
	return p->ops->name;
}

int dr_provider_get_item(dr_provider *p, const char *item, dr_prov_item_cb cb,
			 void *ud)
{
	if (!item || !cb)
		return dr_error_set(DR_EINVAL, "get_item: no item or callback");
	return p->ops->get_item(p, item, cb, ud);
}

int dr_provider_get_state(dr_provider *p, const char *item, dr_prov_item_cb cb,
			  void *ud)
{
	if (!item || !cb)
		return dr_error_set(DR_EINVAL, "get_state: no item or callback");
	if (p->ops->get_state)
		return p->ops->get_state(p, item, cb, ud);
	return p->ops->get_item(p, item, cb, ud);
}

int dr_provider_start(dr_provider *p, const dr_op_request *req,
		      dr_prov_start_cb cb, void *ud)
{
	if (!req || !req->item || !cb)
		return dr_error_set(DR_EINVAL, "start: no item or callback");
	if ((unsigned)req->kind >= DR_PREQ__COUNT)
		return dr_error_set(DR_EINVAL, "start: bad operation %d", req->kind);
	return p->ops->start(p, req, cb, ud);
}

int dr_provider_poll(dr_provider *p, const char *job_id, dr_prov_job_cb cb,
		     void *ud)
{
	if (!job_id || !cb)
		return dr_error_set(DR_EINVAL, "poll: no job id or callback");
	return p->ops->poll(p, job_id, cb, ud);
}

int dr_provider_find_jobs(dr_provider *p, const char *item, int64_t since_ms,
			  dr_prov_jobs_cb cb, void *ud)
{
	if (!item || !cb)
		return dr_error_set(DR_EINVAL, "find_jobs: no item or callback");
	return p->ops->find_jobs(p, item, since_ms, cb, ud);
}

int64_t dr_provider_now(dr_provider *p)
{
	return p->ops->now_ms ? p->ops->now_ms(p) : dr_wall_ms();
}

int dr_provider_list_recovery_points(dr_provider *p, const char *item,
				     dr_prov_points_cb cb, void *ud)
{
	if (!item || !cb)
		return dr_error_set(DR_EINVAL,
				    "list_recovery_points: no item or callback");
	return p->ops->list_recovery_points(p, item, cb, ud);
}
