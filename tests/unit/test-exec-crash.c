/*
 * test-exec-crash.c - crash and resume: a 200-machine failover whose state
 * store "crashes" (fileio_crash.h: a torn write, then every call fails) at
 * random byte offsets, over and over, each time resumed by a fresh job,
 * loop and simulator loaded from the store, until the job is done. Every
 * machine's failover and commit must have been accepted by the simulator
 * exactly once. Also: a crash between the provider accepting an operation
 * and the `accepted` record (crash points), and a lost reply.
 *
 * crash_resume_200 crashes the directory store's file layer, so it is
 * directory-only; the crash points and the lost reply run on any store.
 */
#include "exec-harness.h"

#include "test.h"

#include <unistd.h>

static const char *fast_dir(void)
{
	return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

static int count_saved(env *E, dr_preq_kind k, int *min, int *max)
{
	dr_clock c;
	dr_loop *l;
	dr_sim *s;
	dr_sim_opts so;
	int rc;

	dr_clock_init_virtual(&c, 0);
	dr_loop_new(&c, &l);
	dr_sim_opts_init(&so);
	so.epoch_ms = EPOCH;
	dr_sim_new(l, &so, &s);
	rc = dr_sim_load_store(s, E->store, DR_SIM_STATE_KEY, NULL);
	*min = 1 << 30;
	*max = -1;
	for (size_t i = 0; rc == 0 && i < E->plan->nmachines; i++) {
		int n = dr_sim_op_count(s, E->plan->machines[i].name.v, k);

		if (n < *min)
			*min = n;
		if (n > *max)
			*max = n;
	}
	dr_sim_free(s);
	dr_loop_free(l);
	return rc;
}

static int approve_cb_state;

/* One process: start or resume, run until done, waiting or a crash. */
static int one_process(env *E, const char *id, bool start, char *id_out)
{
	dr_job_opts o;
	dr_job *j = NULL;
	int rc;

	env_proc_new(E, NULL);
	E->quiet = true;
	env_opts(E, &o);
	o.concurrency = 20;
	if (start)
		rc = dr_job_start(E->plan, E->graph, &o, id, &j);
	else
		rc = dr_job_resume(id, E->plan, E->graph, &o, &j);
	if (rc == 0) {
		if (id_out)
			strcpy(id_out, dr_job_id(j));
		rc = dr_job_run(j);
	}
	/* In-flight provider calls belong to the simulator: free it first. */
	dr_sim_free(E->sim);
	E->sim = NULL;
	if (E->cio && dr_crashio_crashed(E->cio))
		dr_crashio_crash(E->cio, (approve_cb_state++ & 1) ? DR_CRASH_POWER : DR_CRASH_KILL);
	dr_job_free(j);
	dr_loop_free(E->loop);
	E->loop = NULL;
	return rc;
}

TEST(crash_resume_200)
{
	env E;
	char id[256] = "big-failover-crash";
	long long total;
	int crashes = 0, processes = 0, rc, mn, mx, approved = 0;
	unsigned seed = 12345;

	DR_TEST_DIR_ONLY("torn writes and power loss through the dr_fileio crash layer");
	/* First a clean run to learn how many bytes the job writes. */
	env_init(&E, true, fast_dir());
	E.plan = plan_many(E.arena, "big", 200, 50, 20);
	CHECK_INT(env_compile(&E, DR_OP_FAILOVER, 0), 0);
	CHECK_INT(one_process(&E, "big-failover-clean", true, NULL), DR_EAGAIN);
	CHECK_INT(ctl(&E, "big-failover-clean", "{\"action\":\"approve\",\"by\":\"a@b\"}"), 0);
	CHECK_INT(one_process(&E, "big-failover-clean", false, NULL), 0);
	total = dr_crashio_bytes_written(E.cio);
	env_release(&E);

	env_init(&E, true, fast_dir());
	E.plan = plan_many(E.arena, "big", 200, 50, 20);
	CHECK_INT(env_compile(&E, DR_OP_FAILOVER, 0), 0);
	for (;;) {
		long long budget;

		uint64_t state = 0;

		seed = seed * 1103515245u + 12345u;
		/*
		 * Every other process crashes early (within its first journal
		 * records and simulator save); the others get past one save
		 * of the simulator's state (the job's largest write) first, so
		 * the job makes progress. The first crash comes after the
		 * journal header.
		 */
		dr_store_size(E.store, DR_SIM_STATE_KEY, &state);
		if (processes % 2)
			budget = (long long)(seed >> 8) % 20000;
		else
			budget = (long long)state + (long long)(seed >> 8) % (total / 25 + 1);
		if (!processes)
			budget += 4096;
		dr_crashio_crash_after(E.cio, budget);
		rc = one_process(&E, id, processes == 0, NULL);
		processes++;
		if (rc < 0 && rc != DR_EAGAIN) {
			crashes++;
			/* A new machine: the store is opened again. */
			dr_store_free(E.store);
			env_store_open(&E);
			CHECK(processes < 2000);
			if (processes >= 2000)
				break;
			continue;
		}
		if (rc == DR_EAGAIN) {
			CHECK_STR(status_str(&E, id, "steps", "gate/commit", "state"), "waiting");
			if (!approved) {
				CHECK_INT(ctl(&E, id, "{\"action\":\"approve\",\"by\":\"a@b\"}"), 0);
				approved = 1;
			}
			continue;
		}
		break;
	}
	dr_crashio_crash_after(E.cio, -1);
	CHECK_INT(rc, 0);
	CHECK(crashes >= 50);
	CHECK_STR(status_str(&E, id, "status", NULL, NULL), "succeeded");
	CHECK_INT(count_saved(&E, DR_PREQ_UNPLANNED_FAILOVER, &mn, &mx), 0);
	CHECK_INT(mn, 1);
	CHECK_INT(mx, 1);
	CHECK_INT(count_saved(&E, DR_PREQ_COMMIT, &mn, &mx), 0);
	CHECK_INT(mn, 1);
	CHECK_INT(mx, 1);
	if (getenv("EXEC_TEST_VERBOSE"))
		fprintf(stderr, "crash_resume_200: %d crashes, %d processes, %lld bytes "
			"per clean run\n", crashes, processes, total);
	env_release(&E);
}

struct cp {
	const char *where;
	int nth, seen;
};

static int crash_cb(void *ctx, const char *where, const char *step)
{
	struct cp *c = ctx;

	(void)step;
	return !strcmp(where, c->where) && ++c->seen == c->nth;
}

/* Stop dead at each named instant, resume, and count the operations. */
TEST(crash_points)
{
	static const char *const points[] = {
		"before-intent", "after-start-accepted", "after-accepted",
		"before-finished", "after-step-state",
	};
	static const int nths[] = { 1, 3, 6 };

	for (size_t p = 0; p < sizeof(points) / sizeof(points[0]); p++)
		for (size_t k = 0; k < sizeof(nths) / sizeof(nths[0]); k++) {
			env E;
			struct cp c = { points[p], nths[k], 0 };
			dr_job_opts o;
			dr_job *j = NULL;
			char id[64];
			int rc, mn, mx;

			env_init(&E, false, fast_dir());
			E.plan = plan_many(E.arena, "small", 6, 3, 3);
			CHECK_INT(env_compile(&E, DR_OP_FAILOVER, 0), 0);
			env_proc_new(&E, NULL);
			env_opts(&E, &o);
			o.crash_point = crash_cb;
			o.crash_ctx = &c;
			snprintf(id, sizeof(id), "cp-%zu-%zu", p, k);
			CHECK_INT(dr_job_start(E.plan, E.graph, &o, id, &j), 0);
			rc = dr_job_run(j);
			CHECK_INT(rc, DR_ECANCELLED);
			dr_sim_free(E.sim);
			E.sim = NULL;
			dr_job_free(j);
			dr_loop_free(E.loop);
			E.loop = NULL;
			CHECK_INT(one_process(&E, id, false, NULL), DR_EAGAIN);
			CHECK_INT(ctl(&E, id, "{\"action\":\"approve\"}"), 0);
			CHECK_INT(one_process(&E, id, false, NULL), 0);
			CHECK_STR(status_str(&E, id, "status", NULL, NULL), "succeeded");
			CHECK_INT(count_saved(&E, DR_PREQ_UNPLANNED_FAILOVER, &mn, &mx), 0);
			CHECK_INT(mn, 1);
			CHECK_INT(mx, 1);
			CHECK_INT(count_saved(&E, DR_PREQ_COMMIT, &mn, &mx), 0);
			CHECK_INT(mn, 1);
			CHECK_INT(mx, 1);
			env_release(&E);
		}
}

/* Accepted by the provider, but the runner died before the accepted
 * record: the resumed job finds the job and adopts it. */
TEST(accepted_not_journaled_is_adopted)
{
	env E;
	struct cp c = { "after-start-accepted", 2, 0 };
	dr_job_opts o;
	dr_job *j = NULL;
	int mn, mx;
	json_t *doc = NULL, *v;
	const char *k, *adopted_step = NULL;
	char want[128];

	env_init(&E, false, fast_dir());
	E.plan = plan_many(E.arena, "small", 4, 4, 4);
	CHECK_INT(env_compile(&E, DR_OP_FAILOVER, 0), 0);
	env_proc_new(&E, NULL);
	env_opts(&E, &o);
	o.crash_point = crash_cb;
	o.crash_ctx = &c;
	CHECK_INT(dr_job_start(E.plan, E.graph, &o, "adopt-1", &j), 0);
	CHECK_INT(dr_job_run(j), DR_ECANCELLED);
	dr_sim_free(E.sim);
	E.sim = NULL;
	dr_job_free(j);
	dr_loop_free(E.loop);
	E.loop = NULL;
	/* Exactly one step has an intent the journal never saw accepted. */
	{
		const char *open_step = NULL;
		int open = 0;

		CHECK_INT(dr_job_status(E.store, "adopt-1", &doc), 0);
		json_object_foreach(json_object_get(doc, "steps"), k, v)
			if (json_is_string(json_object_get(v, "op_state")) &&
			    !strcmp(json_string_value(json_object_get(v, "op_state")), "intent")) {
				open++;
				open_step = k;
			}
		CHECK(open >= 1);
		snprintf(want, sizeof(want), "%s", open_step ? open_step : "");
		json_decref(doc);
		doc = NULL;
	}
	CHECK_INT(count_saved(&E, DR_PREQ_UNPLANNED_FAILOVER, &mn, &mx), 0);
	CHECK_INT(mx, 1);
	CHECK_INT(one_process(&E, "adopt-1", false, NULL), DR_EAGAIN);
	CHECK_INT(dr_job_status(E.store, "adopt-1", &doc), 0);
	json_object_foreach(json_object_get(doc, "steps"), k, v)
		if (json_object_get(v, "adopted") && !strcmp(k, want))
			adopted_step = k;
	CHECK_STR(adopted_step, want);
	CHECK_STR(json_string_value(json_object_get(json_object_get(json_object_get(doc, "steps"),
			want), "adopted")),
		  "the provider has a job with this intent's request id");
	json_decref(doc);
	CHECK_INT(count_saved(&E, DR_PREQ_UNPLANNED_FAILOVER, &mn, &mx), 0);
	CHECK_INT(mn, 1);
	CHECK_INT(mx, 1);
	env_release(&E);
}

/* The reply to a start is lost (accepted, but rc DR_EIO): reconciled in
 * the same process, not sent again. */
TEST(lost_reply_is_reconciled)
{
	env E;
	dr_job_opts o;
	dr_job *j = NULL;
	int mn, mx;

	env_init(&E, false, fast_dir());
	E.plan = plan_many(E.arena, "small", 4, 4, 4);
	CHECK_INT(env_compile(&E, DR_OP_FAILOVER, 0), 0);
	env_proc_new(&E, "lose-accept:m00002:unplanned-failover");
	env_opts(&E, &o);
	CHECK_INT(dr_job_start(E.plan, E.graph, &o, "lost-1", &j), 0);
	CHECK_INT(dr_job_run(j), DR_EAGAIN);
	CHECK_INT(env_count(&E, "warning", "g000/m00002/failover"), 1);
	dr_job_free(j);
	env_proc_free(&E);
	CHECK_STR(status_str(&E, "lost-1", "steps", "g000/m00002/failover", "state"), "succeeded");
	CHECK_STR(status_str(&E, "lost-1", "steps", "g000/m00002/failover", "adopted"),
		  "the provider has a job with this intent's request id");
	CHECK_INT(count_saved(&E, DR_PREQ_UNPLANNED_FAILOVER, &mn, &mx), 0);
	CHECK_INT(mn, 1);
	CHECK_INT(mx, 1);
	env_release(&E);
}

int main(void)
{
	RUN(crash_points);
	RUN(accepted_not_journaled_is_adopted);
	RUN(lost_reply_is_reconciled);
	RUN(crash_resume_200);
	return test_summary();
}
