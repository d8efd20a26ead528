/*
 * test-exec.c - the executor on the simulator with a virtual clock: the
 * operations end to end, gates, manual steps, failure policy, retry, skip,
 * cancel, locks, bad journals and bad requests.
 */
#include "exec-harness.h"

#include "test.h"

#include <unistd.h>

/* erp: data (sql01) -> app (app01, app02), a commit gate. */
static void erp(env *E)
{
	dr_plan *p = plan_new(E->arena, "erp", 8, 4);
	dr_group *data = group(E->arena, p, "data", 4);
	dr_group *app = group(E->arena, p, "app", 4);

	member(p, data, machine(E->arena, p, "sql01"));
	member(p, app, machine(E->arena, p, "app01"));
	member(p, app, machine(E->arena, p, "app02"));
	p->concurrency.v = 10;
	E->plan = p;
}

/* Start (or resume) and run a job in a fresh process; returns run's rc. */
static int run_new(env *E, dr_operation op, dr_direction dir, const char *faults,
		   char *id_out, dr_job_opts *tweak)
{
	dr_job_opts o;
	dr_job *j = NULL;
	int rc;

	env_proc_new(E, faults);
	if (env_compile(E, op, dir) < 0) {
		fprintf(stderr, "compile: %s\n", dr_error_msg());
		return -100;
	}
	env_opts(E, &o);
	if (tweak) {
		o.concurrency = tweak->concurrency;
		o.crash_point = tweak->crash_point;
		o.crash_ctx = tweak->crash_ctx;
		o.detach_when_waiting = tweak->detach_when_waiting;
	}
	rc = dr_job_start(E->plan, E->graph, &o, NULL, &j);
	if (rc < 0) {
		fprintf(stderr, "start: %s\n", dr_error_msg());
		env_proc_free(E);
		return rc;
	}
	strcpy(id_out, dr_job_id(j));
	rc = dr_job_run(j);
	if (rc < 0 && rc != DR_EAGAIN && getenv("EXEC_TEST_VERBOSE"))
		fprintf(stderr, "run: %s\n", dr_error_msg());
	if (rc < 0 && rc != DR_EAGAIN)
		dr_sim_free(E->sim), E->sim = NULL;
	dr_job_free(j);
	env_proc_free(E);
	return rc;
}

static int resume(env *E, const char *id, const char *faults, dr_job_opts *tweak)
{
	dr_job_opts o;
	dr_job *j = NULL;
	int rc;

	env_proc_new(E, faults);
	env_opts(E, &o);
	if (tweak) {
		o.crash_point = tweak->crash_point;
		o.crash_ctx = tweak->crash_ctx;
		o.detach_when_waiting = tweak->detach_when_waiting;
	}
	rc = dr_job_resume(id, E->plan, E->graph, &o, &j);
	if (rc < 0) {
		if (getenv("EXEC_TEST_VERBOSE"))
			fprintf(stderr, "resume: %s\n", dr_error_msg());
		env_proc_free(E);
		return rc;
	}
	rc = dr_job_run(j);
	if (rc < 0 && rc != DR_EAGAIN && getenv("EXEC_TEST_VERBOSE"))
		fprintf(stderr, "run: %s\n", dr_error_msg());
	if (rc < 0 && rc != DR_EAGAIN)
		dr_sim_free(E->sim), E->sim = NULL;
	dr_job_free(j);
	env_proc_free(E);
	return rc;
}

/* The simulator as saved in the store (a fresh one loaded from it). */
static int saved_count(env *E, const char *m, dr_preq_kind k)
{
	dr_clock c;
	dr_loop *l;
	dr_sim *s;
	dr_sim_opts so;
	int n;

	dr_clock_init_virtual(&c, 0);
	dr_loop_new(&c, &l);
	dr_sim_opts_init(&so);
	so.epoch_ms = EPOCH;
	dr_sim_new(l, &so, &s);
	if (dr_sim_load_store(s, E->store, DR_SIM_STATE_KEY, NULL) < 0)
		n = -1;
	else
		n = dr_sim_op_count(s, m, k);
	dr_sim_free(s);
	dr_loop_free(l);
	return n;
}

TEST(failover_gate_commit)
{
	env E;
	char id[256];

	env_init(&E, false, NULL);
	erp(&E);
	CHECK_INT(run_new(&E, DR_OP_FAILOVER, 0, NULL, id, NULL), DR_EAGAIN);
	CHECK_STR(status_str(&E, id, "status", NULL, NULL), "waiting");
	CHECK_STR(status_str(&E, id, "steps", "gate/commit", "state"), "waiting");
	CHECK_STR(status_str(&E, id, "steps", "data/sql01/failover", "state"), "succeeded");
	CHECK_STR(status_str(&E, id, "steps", "app/app02/failover", "op_state"), "finished");
	CHECK_INT(env_count(&E, "gate-waiting", "gate/commit"), 1);
	CHECK_INT(env_count(&E, "point-of-no-return", NULL), 0);
	CHECK_INT(saved_count(&E, "sql01", DR_PREQ_UNPLANNED_FAILOVER), 1);
	CHECK_INT(saved_count(&E, "sql01", DR_PREQ_COMMIT), 0);

	CHECK_INT(ctl(&E, id, "{\"action\":\"approve\",\"by\":\"alice@ops\",\"comment\":\"looks good\"}"), 0);
	CHECK_INT(resume(&E, id, NULL, NULL), 0);
	CHECK_STR(status_str(&E, id, "status", NULL, NULL), "succeeded");
	CHECK_STR(status_str(&E, id, "steps", "gate/commit", "message"), "approved by alice@ops");
	CHECK_STR(status_str(&E, id, "steps", "commit/app/app01/commit", "state"), "succeeded");
	CHECK_INT(env_count(&E, "point-of-no-return", NULL), 1);
	/* The point of no return comes before the first commit starts. */
	{
		long pnr = env_find(&E, "point-of-no-return");
		size_t i;
		json_t *e;

		json_array_foreach(E.events, i, e)
			if (!strcmp(json_string_value(json_object_get(e, "event")), "step-state") &&
			    !strcmp(json_string_value(json_object_get(e, "to")), "running") &&
			    strstr(json_string_value(json_object_get(e, "step")), "/commit") &&
			    !strncmp(json_string_value(json_object_get(e, "step")), "commit/", 7)) {
				CHECK((long)i > pnr);
				break;
			}
	}
	CHECK_INT(saved_count(&E, "sql01", DR_PREQ_UNPLANNED_FAILOVER), 1);
	CHECK_INT(saved_count(&E, "app02", DR_PREQ_COMMIT), 1);
	CHECK_INT(env_count(&E, "job-finished", NULL), 1);
	env_release(&E);
}

int main(void)
{
	RUN(failover_gate_commit);
	return test_summary();
}
