/*
 * test-exec-unattended.c - unattended drills on the simulator: manual steps
 * and gates follow drill.unattended (auto-approve with the plan's reason, or
 * fail the drill, which still cleans up), attended drills and failovers keep
 * waiting, and a resumed job keeps its mode.
 */
#include "exec-harness.h"

#include "test.h"

#include "core/strbuf.h"
#include "report/jobreport.h"

/* erp: data (sql01) -> app (app01, app02); a manual step before app. */
static void erp(env *E)
{
	dr_plan *p = plan_new(E->arena, "erp", 8, 4);
	dr_group *data = group(E->arena, p, "data", 4);
	dr_group *app = group(E->arena, p, "app", 4);

	member(p, data, machine(E->arena, p, "sql01"));
	member(p, app, machine(E->arena, p, "app01"));
	member(p, app, machine(E->arena, p, "app02"));
	app->after[app->nafter++] = 0;
	app->after_explicit = true;
	p->concurrency.v = 10;
	p->drill.at = &stated;
	p->drill.vnet.v = "vnet-drill";
	p->drill.manual_policy.v = "fail";
	p->drill.gate_policy.v = "fail";
	manual(app->pre, &app->npre, "stop-batch", "Stop the batch scheduler", DR_ON_ALL);
	E->plan = p;
}

struct crash {
	const char *step;
	int after;   /* fire at the after-th "after-step-state" of step (1: ready) */
	int seen;
};

static int crash_cb(void *ctx, const char *where, const char *step)
{
	struct crash *c = ctx;

	return !strcmp(where, "after-step-state") && !strcmp(step, c->step) &&
	       ++c->seen == c->after;
}

/* Turn the drill's first group-start step into a gate (a drill graph has
 * none today), so the gate policy can be seen at work. */
static void gate_in_drill(env *E)
{
	for (size_t i = 0; i < E->graph->nsteps; i++)
		if (E->graph->steps[i].kind == DR_STEP_GROUP_START) {
			E->graph->steps[i].kind = DR_STEP_GATE;
			E->graph->steps[i].gate = &E->plan->commit_gate;
			E->graph->steps[i].gate_name = "drill";
			return;
		}
}

/* Run (or resume, when resume_id) a job in a fresh process. */
static int run(env *E, dr_operation op, const char *resume_id, bool unattended,
	       struct crash *cr, bool with_gate, char *id_out)
{
	dr_job_opts o;
	dr_job *j = NULL;
	int rc;

	env_proc_new(E, NULL);
	if (env_compile(E, op, 0) < 0)
		return -100;
	if (with_gate)
		gate_in_drill(E);
	env_opts(E, &o);
	o.unattended = unattended;
	if (cr) {
		o.crash_point = crash_cb;
		o.crash_ctx = cr;
	}
	rc = resume_id ? dr_job_resume(resume_id, E->plan, E->graph, &o, &j)
		       : dr_job_start(E->plan, E->graph, &o, NULL, &j);
	if (rc < 0) {
		env_proc_free(E);
		return rc;
	}
	if (id_out)
		strcpy(id_out, dr_job_id(j));
	rc = dr_job_run(j);
	if (rc < 0 && rc != DR_EAGAIN)
		dr_sim_free(E->sim), E->sim = NULL;
	dr_job_free(j);
	env_proc_free(E);
	return rc;
}

static const char *step_field(env *E, const char *id, const char *step, const char *f)
{
	return status_str(E, id, "steps", step, f);
}

static const char *unatt(env *E, const char *id, const char *step, const char *f)
{
	static char buf[512];
	json_t *doc = NULL, *v;

	if (dr_job_status(E->store, id, &doc) < 0)
		return "(error)";
	v = json_object_get(json_object_get(json_object_get(json_object_get(doc, "steps"),
							    step), "unattended"), f);
	snprintf(buf, sizeof(buf), "%s", json_is_string(v) ? json_string_value(v) : "(none)");
	json_decref(doc);
	return buf;
}

/* The job's text report (rendered from its journal). */
static char *report_text(env *E, const char *id)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	json_t *doc = NULL;

	if (dr_jobreport_build(E->store, id, NULL, &doc) < 0 ||
	    dr_jobreport_render(doc, DR_JOBREPORT_TEXT, &sb) < 0) {
		json_decref(doc);
		dr_strbuf_release(&sb);
		return strdup("(error)");
	}
	json_decref(doc);
	return dr_strbuf_detach(&sb, NULL);
}

TEST(attended_drill_waits)
{
	env E;
	char id[256];

	env_init(&E, false, NULL);
	erp(&E);
	E.plan->drill.manual_policy.v = "auto-approve";
	E.plan->drill.unattended_reason.v = "nobody runs a batch scheduler in the lab";
	CHECK_INT(run(&E, DR_OP_DRILL, NULL, false, NULL, false, id), DR_EAGAIN);
	CHECK_STR(step_field(&E, id, "app/pre/stop-batch", "state"), "waiting");
	CHECK_INT(env_count(&E, "manual-waiting", "app/pre/stop-batch"), 1);
	CHECK_STR(status_str(&E, id, "unattended", NULL, NULL), "(none)");
	env_release(&E);
}

TEST(manual_auto_approve)
{
	env E;
	char id[256];

	env_init(&E, false, NULL);
	erp(&E);
	E.plan->drill.manual_policy.v = "auto-approve";
	E.plan->drill.unattended_reason.v = "nobody runs a batch scheduler in the lab";
	CHECK_INT(run(&E, DR_OP_DRILL, NULL, true, NULL, false, id), 0);
	CHECK_STR(status_str(&E, id, "status", NULL, NULL), "succeeded");
	CHECK_STR(step_field(&E, id, "app/pre/stop-batch", "state"), "succeeded");
	CHECK_STR(step_field(&E, id, "app/pre/stop-batch", "message"),
		  "auto-approved by policy: nobody runs a batch scheduler in the lab");
	CHECK_STR(unatt(&E, id, "app/pre/stop-batch", "decision"), "auto-approve");
	CHECK_STR(unatt(&E, id, "app/pre/stop-batch", "policy"), "drill.unattended.manual");
	CHECK_STR(unatt(&E, id, "app/pre/stop-batch", "reason"),
		  "nobody runs a batch scheduler in the lab");
	CHECK_INT(env_count(&E, "manual-waiting", NULL), 0);
	CHECK_STR(step_field(&E, id, "app/app01/test-failover", "state"), "succeeded");
	CHECK_STR(step_field(&E, id, "cleanup/verify", "state"), "succeeded");
	{
		char *r = report_text(&E, id);

		CHECK(strstr(r, "\nUnattended drill policy:\n  - app/pre/stop-batch: "
			     "auto-approved by policy: nobody runs a batch scheduler in "
			     "the lab\n") != NULL);
		free(r);
	}
	{
		json_t *doc = NULL;

		CHECK_INT(dr_job_status(E.store, id, &doc), 0);
		CHECK(json_is_true(json_object_get(doc, "unattended")));
		json_decref(doc);
	}
	env_release(&E);
}

/* The default policy: the drill fails at the manual step, skips the rest
 * of its main phase, and cleans up what it started. */
TEST(manual_fail_cleans_up)
{
	env E;
	char id[256];

	env_init(&E, false, NULL);
	erp(&E);
	CHECK_INT(run(&E, DR_OP_DRILL, NULL, true, NULL, false, id), 0);
	CHECK_STR(status_str(&E, id, "status", NULL, NULL), "failed");
	CHECK_STR(step_field(&E, id, "app/pre/stop-batch", "state"), "failed");
	CHECK_STR(step_field(&E, id, "app/pre/stop-batch", "message"),
		  "unattended drill: manual step app/pre/stop-batch (\"Stop the batch "
		  "scheduler\") would wait for a person and drill.unattended.manual is "
		  "fail: the drill fails here and cleans up");
	CHECK_STR(status_str(&E, id, "message", NULL, NULL),
		  "unattended drill: manual step app/pre/stop-batch (\"Stop the batch "
		  "scheduler\") would wait for a person and drill.unattended.manual is "
		  "fail: the drill fails here and cleans up; the cleanup phase ran");
	CHECK_STR(unatt(&E, id, "app/pre/stop-batch", "decision"), "fail");
	CHECK_STR(step_field(&E, id, "data/sql01/test-failover", "state"), "succeeded");
	CHECK_STR(step_field(&E, id, "app/app01/test-failover", "state"), "skipped");
	CHECK_STR(step_field(&E, id, "app/app01/test-failover", "message"),
		  "skipped: the unattended drill failed; cleaning up");
	CHECK_STR(step_field(&E, id, "cleanup/wait", "state"), "skipped");
	CHECK_STR(step_field(&E, id, "cleanup/data/sql01/test-failover-cleanup", "state"),
		  "succeeded");
	CHECK_STR(step_field(&E, id, "cleanup/app/app01/test-failover-cleanup", "state"),
		  "succeeded");
	CHECK_STR(step_field(&E, id, "cleanup/verify", "state"), "succeeded");
	CHECK_INT(env_count(&E, "manual-waiting", NULL), 0);
	{
		char *r = report_text(&E, id);

		CHECK(strstr(r, "\nWhy it failed:\n  - unattended drill: manual step "
			     "app/pre/stop-batch") != NULL);
		CHECK(strstr(r, "\nUnattended drill policy:\n  - app/pre/stop-batch: "
			     "unattended drill: manual step") != NULL);
		free(r);
	}
	env_release(&E);
}

/* Killed right after the policy failed the step: a resume (even one that
 * does not say --unattended) finishes the cleanup and ends failed. */
TEST(fail_survives_resume)
{
	env E;
	char id[256];
	struct crash cr = { "app/pre/stop-batch", 3, 0 };

	env_init(&E, false, NULL);
	erp(&E);
	CHECK_INT(run(&E, DR_OP_DRILL, NULL, true, &cr, false, id), DR_ECANCELLED);
	CHECK_STR(step_field(&E, id, "app/pre/stop-batch", "state"), "failed");
	CHECK_STR(step_field(&E, id, "cleanup/verify", "state"), "(none)");
	CHECK_INT(run(&E, DR_OP_DRILL, id, false, NULL, false, NULL), 0);
	CHECK_STR(status_str(&E, id, "status", NULL, NULL), "failed");
	CHECK_STR(step_field(&E, id, "app/app02/test-failover", "state"), "skipped");
	CHECK_STR(step_field(&E, id, "cleanup/data/sql01/test-failover-cleanup", "state"),
		  "succeeded");
	CHECK_STR(step_field(&E, id, "cleanup/verify", "state"), "succeeded");
	env_release(&E);
}

/* A resumed unattended job stays unattended: crash while the manual step
 * is announced, resume without the option, the policy still decides. */
TEST(resume_keeps_unattended)
{
	env E;
	char id[256];
	struct crash cr = { "app/pre/stop-batch", 2, 0 };

	env_init(&E, false, NULL);
	erp(&E);
	E.plan->drill.manual_policy.v = "auto-approve";
	E.plan->drill.unattended_reason.v = "lab";
	CHECK_INT(run(&E, DR_OP_DRILL, NULL, true, &cr, false, id), DR_ECANCELLED);
	CHECK_STR(step_field(&E, id, "app/pre/stop-batch", "state"), "waiting");
	CHECK_INT(run(&E, DR_OP_DRILL, id, false, NULL, false, NULL), 0);
	CHECK_STR(status_str(&E, id, "status", NULL, NULL), "succeeded");
	CHECK_STR(step_field(&E, id, "app/pre/stop-batch", "message"),
		  "auto-approved by policy: lab");
	env_release(&E);
}

/* Not a drill: the policy never applies; the manual step and the commit
 * gate wait for people. */
TEST(failover_ignores_policy)
{
	env E;
	char id[256];

	env_init(&E, false, NULL);
	erp(&E);
	E.plan->drill.manual_policy.v = "auto-approve";
	E.plan->drill.gate_policy.v = "auto-approve";
	E.plan->drill.unattended_reason.v = "lab";
	CHECK_INT(run(&E, DR_OP_FAILOVER, NULL, true, NULL, false, id), DR_EAGAIN);
	CHECK_STR(step_field(&E, id, "app/pre/stop-batch", "state"), "waiting");
	CHECK_STR(status_str(&E, id, "unattended", NULL, NULL), "(none)");
	CHECK_INT(ctl(&E, id, "{\"action\":\"continue\",\"step\":\"app/pre/stop-batch\"}"), 0);
	CHECK_INT(run(&E, DR_OP_FAILOVER, id, true, NULL, false, NULL), DR_EAGAIN);
	CHECK_STR(step_field(&E, id, "gate/commit", "state"), "waiting");
	env_release(&E);
}

TEST(gate_policies)
{
	env E;
	char id[256];

	env_init(&E, false, NULL);
	erp(&E);
	E.plan->drill.manual_policy.v = "auto-approve";
	E.plan->drill.gate_policy.v = "auto-approve";
	E.plan->drill.unattended_reason.v = "weekly lab drill";
	CHECK_INT(run(&E, DR_OP_DRILL, NULL, true, NULL, true, id), 0);
	CHECK_STR(status_str(&E, id, "status", NULL, NULL), "succeeded");
	CHECK_STR(step_field(&E, id, "data/start", "kind"), "gate");
	CHECK_STR(step_field(&E, id, "data/start", "message"),
		  "auto-approved by policy: weekly lab drill");
	CHECK_STR(unatt(&E, id, "data/start", "policy"), "drill.unattended.gates");
	CHECK_INT(env_count(&E, "gate-waiting", NULL), 0);
	env_release(&E);

	env_init(&E, false, NULL);
	erp(&E);
	E.plan->drill.manual_policy.v = "auto-approve";
	E.plan->drill.unattended_reason.v = "weekly lab drill";
	CHECK_INT(run(&E, DR_OP_DRILL, NULL, true, NULL, true, id), 0);
	CHECK_STR(status_str(&E, id, "status", NULL, NULL), "failed");
	CHECK_STR(step_field(&E, id, "data/start", "message"),
		  "unattended drill: gate data/start would wait for approval and "
		  "drill.unattended.gates is fail: the drill fails here and cleans up");
	CHECK_STR(step_field(&E, id, "data/sql01/test-failover", "state"), "skipped");
	CHECK_STR(step_field(&E, id, "cleanup/verify", "state"), "succeeded");
	env_release(&E);
}

int main(void)
{
	RUN(attended_drill_waits);
	RUN(manual_auto_approve);
	RUN(manual_fail_cleans_up);
	RUN(fail_survives_resume);
	RUN(resume_keeps_unattended);
	RUN(failover_ignores_policy);
	RUN(gate_policies);
	return test_summary();
}
