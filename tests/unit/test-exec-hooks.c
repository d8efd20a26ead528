/*
 * test-exec-hooks.c - Lua hooks as steps of a job, on the simulator with a
 * virtual clock: every way a hook can end badly (drplan.fail, timeout, the
 * instruction, memory and output limits) fails its step with a message that
 * names it, journals it, and fails the job (onFailure: group) or warns
 * (onFailure: warn); a crash among a group's hooks re-runs only the ones
 * that had not finished; hooks in the drill's cleanup and on failback see
 * the context the executor builds (exec/hookctx.h).
 */
#include "exec-harness.h"

#include "test.h"

#include "exec/hookctx.h"

#include <sys/stat.h>
#include <unistd.h>

/* data (sql01, sql02) -> app (app01). */
static void plan2(env *E)
{
	dr_plan *p = plan_new(E->arena, "erp", 8, 4);
	dr_group *data = group(E->arena, p, "data", 4);
	dr_group *app = group(E->arena, p, "app", 4);
	dr_machine *m;

	m = machine(E->arena, p, "sql01");
	m->source.nics = dr_arena_zalloc(E->arena, sizeof(dr_source_nic));
	m->source.nnics = 1;
	m->source.nics[0].ip.v = "192.168.10.11";
	m->target.ip.v = "10.20.1.11";
	m->target.resource_group.v = "rg-dr";
	member(p, data, m);
	member(p, data, machine(E->arena, p, "sql02"));
	member(p, app, machine(E->arena, p, "app01"));
	app->after[app->nafter++] = 0;
	app->after_explicit = true;
	p->concurrency.v = 10;
	p->dir = E->dir;
	E->plan = p;
}

static int run_job(env *E, dr_operation op, dr_direction dir, const char *id_in,
		   char *id_out, int (*crash)(void *, const char *, const char *))
{
	dr_job_opts o;
	dr_job *j = NULL;
	int rc;

	env_proc_new(E, NULL);
	if (!E->graph && env_compile(E, op, dir) < 0) {
		fprintf(stderr, "compile: %s\n", dr_error_msg());
		return -100;
	}
	env_opts(E, &o);
	o.crash_point = crash;
	o.crash_ctx = E;
	rc = id_in ? dr_job_resume(id_in, E->plan, E->graph, &o, &j)
		   : dr_job_start(E->plan, E->graph, &o, NULL, &j);
	if (rc < 0) {
		fprintf(stderr, "start: %s\n", dr_error_msg());
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

static void write_hook(env *E, const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/hooks", E->dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s", E->dir, rel);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

/*
 * How many times this process started step's hook: it went to running, or
 * it was found running on resume and started again (the warning says so).
 */
static int runs_of(env *E, const char *step)
{
	size_t i;
	json_t *e;
	int n = 0;

	json_array_foreach(E->events, i, e) {
		const char *ev = json_string_value(json_object_get(e, "event"));
		const char *st = json_string_value(json_object_get(e, "step"));

		if (!st || strcmp(st, step))
			continue;
		if (!strcmp(ev, "step-state") &&
		    !strcmp(json_string_value(json_object_get(e, "to")), "running"))
			n++;
		else if (!strcmp(ev, "warning") &&
			 strstr(json_string_value(json_object_get(e, "message")),
				"was running when the runner stopped; running it again"))
			n++;
	}
	return n;
}

struct count_ctx {
	const char *step;
	int n;
};

static int count_rec(void *ctx, uint64_t seq, const char *type, json_t *rec)
{
	struct count_ctx *c = ctx;

	(void)seq;
	if (!strcmp(type, "hook") &&
	    !strcmp(json_string_value(json_object_get(rec, "step")), c->step))
		c->n++;
	return 0;
}

/* `hook` records of step in the whole journal: one per finished run. */
static int hook_records(env *E, const char *id, const char *step)
{
	struct count_ctx c = { step, 0 };

	if (dr_journal_replay(E->store, id, count_rec, &c, NULL) < 0)
		return -1;
	return c.n;
}

/* steps.<step>.hook.<field> of the job's status (the journal's record). */
static const char *hook_field(env *E, const char *id, const char *step, const char *f)
{
	static char buf[512];
	json_t *doc = NULL, *v;

	buf[0] = '\0';
	if (dr_job_status(E->store, id, &doc) < 0)
		return "(error)";
	v = json_object_get(json_object_get(json_object_get(json_object_get(doc, "steps"),
							    step), "hook"), f);
	if (json_is_string(v))
		snprintf(buf, sizeof(buf), "%s", json_string_value(v));
	else if (v) {
		char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

		snprintf(buf, sizeof(buf), "%s", s);
		free(s);
	} else
		snprintf(buf, sizeof(buf), "(none)");
	json_decref(doc);
	return buf;
}

struct bad_hook {
	const char *name, *src, *status, *message;
	uint64_t timeout_ms;
};

static const struct bad_hook bad_hooks[] = {
	{ "fail", "drplan.log('checking')\ndrplan.fail('SQL Server is not listening')\n",
	  "failed", "hook failed: hooks/fail.lua:2: SQL Server is not listening", 5 * MIN },
	{ "slow", "drplan.sleep(600)\n", "timeout",
	  "hook timeout: timeout (1m) exceeded while waiting for sleep", MIN },
	{ "spin", "while true do end\n", "instruction-limit",
	  "hook instruction-limit: instruction limit (100000000) exceeded", 5 * MIN },
	{ "hog", "local t = {}\nfor i = 1, 1e9 do t[i] = ('x'):rep(64) .. i end\n",
	  "memory-limit", "hook memory-limit: memory limit (64 MiB) exceeded", 5 * MIN },
	{ "chatty", "local s = ('y'):rep(100000)\nfor i = 1, 100 do drplan.log(s) end\n",
	  "output-limit", "hook output-limit: output limit (1 MiB) exceeded", 5 * MIN },
};

/* A critical hook (onFailure: group) that ends badly fails the job; the
 * next group never starts. */
TEST(critical_hook_limits_fail_the_job)
{
	for (size_t k = 0; k < sizeof(bad_hooks) / sizeof(bad_hooks[0]); k++) {
		const struct bad_hook *b = &bad_hooks[k];
		env E;
		char id[256], file[64], step[96];
		dr_group *g;

		env_init(&E, false, NULL);
		plan2(&E);
		snprintf(file, sizeof(file), "hooks/%s.lua", b->name);
		snprintf(step, sizeof(step), "data/post/%s", b->name);
		write_hook(&E, file, b->src);
		g = &E.plan->groups[0];
		lua(g->post, &g->npost, dr_arena_strdup(E.arena, file), DR_ON_ALL,
		    b->timeout_ms, DR_FAIL_GROUP);
		CHECK_INT(run_job(&E, DR_OP_FAILOVER, 0, NULL, id, NULL), 0);
		CHECK_STR(status_str(&E, id, "status", NULL, NULL), "failed");
		CHECK_STR(status_str(&E, id, "steps", step, "state"), "failed");
		CHECK_STR(status_str(&E, id, "steps", step, "message"), b->message);
		/* The journal's hook record: outcome and message. */
		CHECK_STR(hook_field(&E, id, step, "status"), b->status);
		CHECK(strstr(b->message, hook_field(&E, id, step, "message")) != NULL);
		/* Fail-stop: app never started, the gate was never reached. */
		CHECK_STR(status_str(&E, id, "steps", "app/app01/failover", "state"), "(none)");
		CHECK_STR(status_str(&E, id, "steps", "gate/commit", "state"), "(none)");
		CHECK_INT(env_count(&E, "warning", NULL), 0);
		env_release(&E);
	}
}

/* The same hooks with onFailure: warn: a warning, and the job goes on to
 * the commit gate. */
TEST(warn_hook_limits_warn_and_go_on)
{
	for (size_t k = 0; k < sizeof(bad_hooks) / sizeof(bad_hooks[0]); k++) {
		const struct bad_hook *b = &bad_hooks[k];
		env E;
		char id[256], file[64], step[96];
		dr_group *g;

		env_init(&E, false, NULL);
		plan2(&E);
		snprintf(file, sizeof(file), "hooks/%s.lua", b->name);
		snprintf(step, sizeof(step), "data/post/%s", b->name);
		write_hook(&E, file, b->src);
		g = &E.plan->groups[0];
		lua(g->post, &g->npost, dr_arena_strdup(E.arena, file), DR_ON_ALL,
		    b->timeout_ms, DR_FAIL_WARN);
		CHECK_INT(run_job(&E, DR_OP_FAILOVER, 0, NULL, id, NULL), DR_EAGAIN);
		CHECK_STR(status_str(&E, id, "status", NULL, NULL), "waiting");
		CHECK_STR(status_str(&E, id, "steps", step, "state"), "failed");
		CHECK_STR(status_str(&E, id, "steps", step, "message"), b->message);
		CHECK_STR(hook_field(&E, id, step, "status"), b->status);
		CHECK_STR(status_str(&E, id, "steps", "app/app01/failover", "state"), "succeeded");
		CHECK_STR(status_str(&E, id, "steps", "gate/commit", "state"), "waiting");
		CHECK_INT(env_count(&E, "warning", step), 1);
		env_release(&E);
	}
}

static void stop_loop(dr_loop *loop, void *ud)
{
	(void)ud;
	dr_loop_stop(loop);
}

/*
 * The runner dies 10 s (loop time) after the third of a group's post hooks
 * started (they run one after the other), while it sleeps: the journal has
 * what the loop flushed by then, as after a kill. Not a crash point, which
 * would stop before the turn's records are written.
 */
static int crash_on_third(void *ctx, const char *where, const char *step)
{
	env *E = ctx;

	if (!strcmp(where, "after-step-state") && !strcmp(step, "data/post/c"))
		dr_loop_timer(E->loop, 10000, stop_loop, NULL);
	return 0;
}

TEST(resume_reruns_only_unfinished_hooks)
{
	env E;
	char id[256];
	dr_group *g;

	env_init(&E, false, NULL);
	plan2(&E);
	write_hook(&E, "hooks/a.lua", "drplan.output('n', 1)\n");
	/* Each builds on what the hooks before it published: b in the same
	 * runner, c in the next one, from the journal. */
	write_hook(&E, "hooks/b.lua", "drplan.sleep(5)\n"
		   "drplan.output('n', drplan.context.outputs['data/post/a'].n + 1)\n");
	write_hook(&E, "hooks/c.lua", "drplan.sleep(30)\n"
		   "drplan.output('n', drplan.context.outputs['data/post/b'].n + 1)\n");
	g = &E.plan->groups[0];
	lua(g->post, &g->npost, "hooks/a.lua", DR_ON_ALL, 5 * MIN, DR_FAIL_GROUP);
	lua(g->post, &g->npost, "hooks/b.lua", DR_ON_ALL, 5 * MIN, DR_FAIL_GROUP);
	lua(g->post, &g->npost, "hooks/c.lua", DR_ON_ALL, 5 * MIN, DR_FAIL_GROUP);
	CHECK_INT(run_job(&E, DR_OP_FAILOVER, 0, NULL, id, crash_on_third), DR_ECANCELLED);
	CHECK_INT(runs_of(&E, "data/post/a"), 1);
	CHECK_INT(runs_of(&E, "data/post/b"), 1);
	CHECK_STR(status_str(&E, id, "steps", "data/post/a", "state"), "succeeded");
	CHECK_STR(status_str(&E, id, "steps", "data/post/b", "state"), "succeeded");
	CHECK_STR(status_str(&E, id, "steps", "data/post/c", "state"), "running");
	CHECK_STR(hook_field(&E, id, "data/post/c", "status"), "(none)");

	CHECK_INT(run_job(&E, DR_OP_FAILOVER, 0, id, NULL, NULL), DR_EAGAIN);
	CHECK_INT(runs_of(&E, "data/post/a"), 0);
	CHECK_INT(runs_of(&E, "data/post/b"), 0);
	CHECK_INT(runs_of(&E, "data/post/c"), 1);
	CHECK_STR(status_str(&E, id, "steps", "data/post/c", "state"), "succeeded");
	CHECK_STR(hook_field(&E, id, "data/post/a", "outputs"), "{\"n\":1}");
	CHECK_STR(hook_field(&E, id, "data/post/b", "outputs"), "{\"n\":2}");
	CHECK_STR(hook_field(&E, id, "data/post/c", "outputs"), "{\"n\":3}");
	CHECK_STR(status_str(&E, id, "steps", "gate/commit", "state"), "waiting");
	/* Across both runners: one finished run of each. */
	CHECK_INT(hook_records(&E, id, "data/post/a"), 1);
	CHECK_INT(hook_records(&E, id, "data/post/b"), 1);
	CHECK_INT(hook_records(&E, id, "data/post/c"), 1);
	env_release(&E);
}

/* Machine hooks run in parallel: crash when sql01's finishes while
 * sql02's still sleeps; only sql02's runs again. */
static int crash_on_quick_done(void *ctx, const char *where, const char *step)
{
	static int seen;
	env *E = ctx;

	if (!strcmp(where, "after-step-state") && !strcmp(step, "data/sql01/post/quick") &&
	    ++seen == 2) /* running, then succeeded */
		dr_loop_timer(E->loop, 1000, stop_loop, NULL);
	return 0;
}

TEST(resume_reruns_only_the_running_machine_hook)
{
	env E;
	char id[256];
	dr_machine *m0, *m1;

	env_init(&E, false, NULL);
	plan2(&E);
	write_hook(&E, "hooks/quick.lua", "drplan.output('m', drplan.context.machine)\n");
	write_hook(&E, "hooks/slow.lua", "drplan.sleep(600)\ndrplan.output('m', drplan.context.machine)\n");
	m0 = &E.plan->machines[0];
	m1 = &E.plan->machines[1];
	lua(m0->post, &m0->npost, "hooks/quick.lua", DR_ON_ALL, 30 * MIN, DR_FAIL_GROUP);
	lua(m1->post, &m1->npost, "hooks/slow.lua", DR_ON_ALL, 30 * MIN, DR_FAIL_GROUP);
	CHECK_INT(run_job(&E, DR_OP_FAILOVER, 0, NULL, id, crash_on_quick_done), DR_ECANCELLED);
	CHECK_STR(status_str(&E, id, "steps", "data/sql01/post/quick", "state"), "succeeded");
	CHECK_STR(status_str(&E, id, "steps", "data/sql02/post/slow", "state"), "running");
	CHECK_INT(runs_of(&E, "data/sql02/post/slow"), 1);

	CHECK_INT(run_job(&E, DR_OP_FAILOVER, 0, id, NULL, NULL), DR_EAGAIN);
	CHECK_INT(runs_of(&E, "data/sql01/post/quick"), 0);
	CHECK_INT(runs_of(&E, "data/sql02/post/slow"), 1);
	CHECK_STR(status_str(&E, id, "steps", "data/sql02/post/slow", "state"), "succeeded");
	CHECK_STR(hook_field(&E, id, "data/sql01/post/quick", "outputs"), "{\"m\":\"sql01\"}");
	CHECK_STR(hook_field(&E, id, "data/sql02/post/slow", "outputs"), "{\"m\":\"sql02\"}");
	CHECK_INT(hook_records(&E, id, "data/sql01/post/quick"), 1);
	CHECK_INT(hook_records(&E, id, "data/sql02/post/slow"), 1);
	env_release(&E);
}

static const char ctx_hook[] =
	"local c = drplan.context\n"
	"local m = c.machines[1]\n"
	"drplan.output('ctx', { op = c.operation, dir = c.direction, step = c.step,\n"
	"  group = c.group, n = #c.machines, m = m.name, ip = m.target.ip or 'none' })\n";

/* A hook in the drill's cleanup phase (teardown) runs in the job. */
TEST(drill_cleanup_hook)
{
	env E;
	char id[256];
	dr_group *g;

	env_init(&E, false, NULL);
	plan2(&E);
	E.plan->drill.at = &stated;
	E.plan->drill.vnet.v = "vnet-drill";
	E.plan->drill.cleanup_after.ms = 10 * MIN;
	write_hook(&E, "hooks/ctx.lua", ctx_hook);
	g = &E.plan->groups[0];
	lua(g->post, &g->npost, "hooks/ctx.lua", DR_ON_CLEANUP, 5 * MIN, DR_FAIL_GROUP);
	CHECK_INT(run_job(&E, DR_OP_DRILL, 0, NULL, id, NULL), 0);
	CHECK_STR(status_str(&E, id, "status", NULL, NULL), "succeeded");
	CHECK_STR(status_str(&E, id, "steps", "cleanup/data/post/ctx", "state"), "succeeded");
	/* Not in the main phase: `on: [cleanup]` only. */
	CHECK_STR(status_str(&E, id, "steps", "data/post/ctx", "state"), "(none)");
	CHECK_STR(hook_field(&E, id, "cleanup/data/post/ctx", "outputs"),
		  "{\"ctx\":{\"dir\":\"to-azure\",\"group\":\"data\",\"ip\":\"10.20.1.11\","
		  "\"m\":\"sql01\",\"n\":2,\"op\":\"drill\",\"step\":\"cleanup/data/post/ctx\"}}");
	env_release(&E);
}

/* A hook on failback (direction to-onprem) sees the direction and the
 * address the machine comes back to (its source IP). */
TEST(failback_hook_to_onprem)
{
	env E;
	char id[256];
	dr_group *g;
	dr_action *act;

	env_init(&E, false, NULL);
	plan2(&E);
	write_hook(&E, "hooks/ctx.lua", ctx_hook);
	g = &E.plan->groups[0];
	act = lua(g->pre, &g->npre, "hooks/ctx.lua", DR_ON_FAILBACK, 5 * MIN, DR_FAIL_GROUP);
	act->direction = DR_DIR_TO_ONPREM;
	/* The items never failed over, so the failback itself is refused by
	 * the provider; the group's pre hook runs before it. */
	CHECK_INT(run_job(&E, DR_OP_FAILBACK, 0, NULL, id, NULL), 0);
	CHECK_STR(status_str(&E, id, "steps", "data/pre/ctx", "state"), "succeeded");
	CHECK_STR(hook_field(&E, id, "data/pre/ctx", "outputs"),
		  "{\"ctx\":{\"dir\":\"to-onprem\",\"group\":\"data\",\"ip\":\"192.168.10.11\","
		  "\"m\":\"sql01\",\"n\":2,\"op\":\"failback\",\"step\":\"data/pre/ctx\"}}");
	CHECK(strstr(status_str(&E, id, "steps", "data/sql01/failback", "message"),
		     "does not offer PlannedFailover") != NULL);
	env_release(&E);
}

/* The lua/ lookup: the nearest ancestor of the plan's directory with
 * lua/drplan/, so plans/ finds the repository's library. */
TEST(lua_dir_lookup)
{
	env E;
	dr_strbuf sb = DR_STRBUF_INIT;
	char path[512];

	env_init(&E, false, NULL);
	plan2(&E);
	snprintf(path, sizeof(path), "%s/plans", E.dir);
	mkdir(path, 0755);
	E.plan->dir = dr_arena_strdup(E.arena, path);
	dr_hookctx_lua_dir(E.plan, NULL, &sb);
	/* No lua/drplan anywhere above: <plan dir>/lua. */
	CHECK(strstr(sb.buf, "/plans/lua") != NULL);
	snprintf(path, sizeof(path), "%s/lua", E.dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/lua/drplan", E.dir);
	mkdir(path, 0755);
	dr_hookctx_lua_dir(E.plan, NULL, &sb);
	snprintf(path, sizeof(path), "%s/plans/../lua", E.dir);
	CHECK_STR(sb.buf, path);
	dr_hookctx_lua_dir(E.plan, "/elsewhere/lua", &sb);
	CHECK_STR(sb.buf, "/elsewhere/lua");
	dr_strbuf_release(&sb);
	rmdir(path);
	env_release(&E);
}

/* A job of a plan in plans/ runs a hook that requires the library. */
TEST(require_from_plans_dir)
{
	env E;
	char id[256], path[512];
	dr_group *g;

	env_init(&E, false, NULL);
	plan2(&E);
	snprintf(path, sizeof(path), "%s/plans", E.dir);
	mkdir(path, 0755);
	E.plan->dir = dr_arena_strdup(E.arena, path);
	snprintf(path, sizeof(path), "%s/lua", E.dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/lua/drplan", E.dir);
	mkdir(path, 0755);
	write_hook(&E, "lua/drplan/lib.lua", "return { answer = 42 }\n");
	snprintf(path, sizeof(path), "%s/lua/hooks", E.dir);
	mkdir(path, 0755);
	write_hook(&E, "lua/hooks/use.lua",
		   "drplan.output('a', require('drplan.lib').answer)\n");
	g = &E.plan->groups[0];
	lua(g->post, &g->npost, "../lua/hooks/use.lua", DR_ON_ALL, 5 * MIN, DR_FAIL_GROUP);
	CHECK_INT(run_job(&E, DR_OP_FAILOVER, 0, NULL, id, NULL), DR_EAGAIN);
	CHECK_STR(status_str(&E, id, "steps", "data/post/use", "state"), "succeeded");
	CHECK_STR(hook_field(&E, id, "data/post/use", "outputs"), "{\"a\":42}");
	env_release(&E);
}

int main(void)
{
	RUN(critical_hook_limits_fail_the_job);
	RUN(warn_hook_limits_warn_and_go_on);
	RUN(resume_reruns_only_unfinished_hooks);
	RUN(resume_reruns_only_the_running_machine_hook);
	RUN(drill_cleanup_hook);
	RUN(failback_hook_to_onprem);
	RUN(lua_dir_lookup);
	RUN(require_from_plans_dir);
	return test_summary();
}
