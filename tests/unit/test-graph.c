/*
 * test-graph.c - the step graph: compilation per operation, estimates,
 * critical path, output formats.
 *
 * Plans are built by hand (helpers below), so these tests do not depend on
 * the loader. Golden outputs of the "erp" plan live in tests/cases/graph/;
 * after an intended change of the output, regenerate them from the source
 * directory with
 *
 *     DR_UPDATE_GOLDEN=1 build/tests/test-graph
 *
 * and review the diff before committing.
 */
#include "test.h"

#include "core/arena.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "graph/graph.h"
#include "plan/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN (60 * 1000ull)

/* A ynode to stand for "stated in the plan". */
static const dr_ynode stated;

/* ---- plan construction helpers --------------------------------------- */

static dr_plan *plan_new(dr_arena *a, const char *name, size_t maxm,
			 size_t maxg)
{
	dr_plan *p = dr_arena_zalloc(a, sizeof(*p));

	p->name.v = name;
	p->machines = dr_arena_zalloc(a, maxm * sizeof(dr_machine));
	p->groups = dr_arena_zalloc(a, maxg * sizeof(dr_group));
	p->rp.kind = DR_RP_LATEST_PROCESSED;
	p->commit_gate.approvals.v = 1;
	p->failback_gate.approvals.v = 1;
	return p;
}

static dr_machine *machine(dr_arena *a, dr_plan *p, const char *name)
{
	dr_machine *m = &p->machines[p->nmachines++];

	m->name.v = name;
	m->critical.v = true;
	m->source.kind = DR_SRC_VMWARE;
	m->source.os = DR_OS_WINDOWS;
	m->source.mobility_agent.v = "9.56";
	m->pre = dr_arena_zalloc(a, 8 * sizeof(dr_action));
	m->post = dr_arena_zalloc(a, 8 * sizeof(dr_action));
	return m;
}

static dr_group *group(dr_arena *a, dr_plan *p, const char *name)
{
	dr_group *g = &p->groups[p->ngroups++];

	g->name.v = name;
	g->after = dr_arena_zalloc(a, 16 * sizeof(size_t));
	g->machines = dr_arena_zalloc(a, 16384 * sizeof(size_t));
	g->pre = dr_arena_zalloc(a, 8 * sizeof(dr_action));
	g->post = dr_arena_zalloc(a, 8 * sizeof(dr_action));
	return g;
}

static void member(dr_plan *p, dr_group *g, const dr_machine *m)
{
	size_t mi = (size_t)(m - p->machines);

	g->machines[g->nmachines++] = mi;
	p->machines[mi].group = (size_t)(g - p->groups);
}

static void after(dr_plan *p, dr_group *g, const dr_group *dep)
{
	g->after[g->nafter++] = (size_t)(dep - p->groups);
	g->after_explicit = true;
}

static dr_action *lua(dr_action *list, size_t *n, const char *file,
		      unsigned on, uint64_t timeout_ms)
{
	dr_action *act = &list[(*n)++];

	act->kind = DR_ACTION_LUA;
	act->lua.v = file;
	act->on = on;
	/* DR_ON_ALL stands for "on: not stated" in these tests. */
	act->on_at = on == DR_ON_ALL ? NULL : &stated;
	act->direction = DR_DIR_ANY;
	act->timeout.ms = timeout_ms;
	act->on_failure = DR_FAIL_GROUP;
	return act;
}

static dr_action *manual(dr_action *list, size_t *n, const char *name,
			 const char *text, unsigned on)
{
	dr_action *act = &list[(*n)++];

	act->kind = DR_ACTION_MANUAL;
	act->name.v = name;
	act->manual.v = text;
	act->on = on;
	act->on_at = on == DR_ON_ALL ? NULL : &stated;
	act->direction = DR_DIR_ANY;
	act->on_failure = DR_FAIL_GROUP;
	return act;
}

/*
 * The plan of the design sketch, a little extended:
 *   data: sql01; pre manual stop-batch; post check-sql.lua (failover, drill)
 *   app (after data): app01 (Linux: extra failover time) with a post hook
 *     on everything, app02 (recovery point latest) with a pre hook only for
 *     failover to on-premises (never applies to a failover); a group pre
 *     hook only for drills; a cleanup hook.
 */
static dr_plan *erp(dr_arena *a)
{
	dr_plan *p = plan_new(a, "erp", 8, 4);
	dr_machine *sql01 = machine(a, p, "sql01");
	dr_machine *app01 = machine(a, p, "app01");
	dr_machine *app02 = machine(a, p, "app02");
	dr_group *data = group(a, p, "data");
	dr_group *app = group(a, p, "app");
	dr_action *act;

	p->shutdown_source.v = true;
	p->shutdown_source.at = &stated;
	app01->source.os = DR_OS_LINUX;
	app02->rp.kind = DR_RP_LATEST;
	app02->rp.at = &stated;
	member(p, data, sql01);
	member(p, app, app01);
	member(p, app, app02);
	after(p, app, data);

	manual(data->pre, &data->npre, "stop-batch",
	       "Stop the batch scheduler on-premises", DR_ON_ALL);
	lua(data->post, &data->npost, "lua/hooks/check-sql.lua",
	    DR_ON_FAILOVER | DR_ON_DRILL, 5 * MIN);
	lua(app->pre, &app->npre, "lua/hooks/warm-cache.lua", DR_ON_DRILL,
	    2 * MIN);
	lua(app->post, &app->npost, "lua/hooks/release-ips.lua", DR_ON_CLEANUP,
	    0);
	lua(app01->post, &app01->npost, "lua/hooks/smoke.lua", DR_ON_ALL, 0);
	act = lua(app02->pre, &app02->npre, "lua/hooks/drain.lua", DR_ON_FAILOVER,
		  MIN);
	act->direction = DR_DIR_TO_ONPREM;

	p->commit_gate.at = &stated;
	p->commit_gate.checks = DR_CHECK_POST_HOOKS;
	p->commit_gate.timeout.ms = 120 * MIN;
	p->commit_gate.on_timeout = DR_TIMEOUT_WAIT;
	p->drill.at = &stated;
	p->drill.cleanup_after.ms = 60 * MIN;
	p->drill.rto.ms = 45 * MIN;
	return p;
}

static dr_graph *compile(dr_arena *a, const dr_plan *p, dr_operation op,
			 const dr_compile_opts *o)
{
	dr_graph *g = NULL;
	int rc = dr_graph_compile(a, p, op, o, &g);

	if (rc) {
		fprintf(stderr, "compile: %s\n", dr_error_msg());
		return NULL;
	}
	dr_graph_estimate(g);
	return g;
}

/* All step ids, one per line. */
static char *ids(const dr_graph *g)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	size_t i;

	for (i = 0; i < g->nsteps; i++)
		dr_strbuf_addf(&sb, "%s\n", g->steps[i].id);
	return dr_strbuf_detach(&sb, NULL);
}

/* The ids a step waits for, comma-separated. */
static const char *deps_of(const dr_graph *g, const char *id)
{
	static char buf[4096];
	long s = dr_graph_find(g, id);
	size_t k, off = 0;

	buf[0] = '\0';
	if (s < 0)
		return "(no such step)";
	for (k = 0; k < g->steps[s].ndeps; k++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s",
					k ? "," : "",
					g->steps[g->steps[s].deps[k]].id);
	return buf;
}

static const dr_step *step(const dr_graph *g, const char *id)
{
	long s = dr_graph_find(g, id);

	return s >= 0 ? &g->steps[s] : NULL;
}

#define CHECK_IDS(g, expected)                                                 \
	do {                                                                   \
		char *got_ = ids(g);                                           \
		CHECK_STR(got_, expected);                                     \
		free(got_);                                                    \
	} while (0)

/* ---- compilation per operation --------------------------------------- */

TEST(failover_steps)
{
	dr_arena *a = dr_arena_new();
	dr_graph *g = compile(a, erp(a), DR_OP_FAILOVER, NULL);

	CHECK(g);
	if (!g)
		goto out;
	CHECK_IDS(g, "data/start\n"
		     "data/pre/stop-batch\n"
		     "data/sql01/shutdown-source\n"
		     "data/sql01/failover\n"
		     "data/join\n"
		     "data/post/check-sql\n"
		     "data/end\n"
		     "app/start\n"
		     "app/app01/shutdown-source\n"
		     "app/app01/failover\n"
		     "app/app01/post/smoke\n"
		     "app/app02/shutdown-source\n"
		     "app/app02/failover\n"
		     "app/join\n"
		     "app/end\n"
		     "gate/commit\n"
		     "commit/data/start\n"
		     "commit/data/sql01/commit\n"
		     "commit/data/join\n"
		     "commit/data/end\n"
		     "commit/app/start\n"
		     "commit/app/app01/commit\n"
		     "commit/app/app02/commit\n"
		     "commit/app/join\n"
		     "commit/app/end\n");
	CHECK_STR(deps_of(g, "data/start"), "");
	CHECK_STR(deps_of(g, "data/sql01/shutdown-source"), "data/pre/stop-batch");
	CHECK_STR(deps_of(g, "data/sql01/failover"), "data/sql01/shutdown-source");
	CHECK_STR(deps_of(g, "data/join"), "data/sql01/failover");
	CHECK_STR(deps_of(g, "app/start"), "data/end");
	CHECK_STR(deps_of(g, "app/app01/shutdown-source"), "app/start");
	CHECK_STR(deps_of(g, "app/join"), "app/app01/post/smoke,app/app02/failover");
	CHECK_STR(deps_of(g, "gate/commit"), "app/end");
	CHECK_STR(deps_of(g, "commit/data/start"), "gate/commit");
	CHECK_STR(deps_of(g, "commit/app/start"), "commit/data/end");

	CHECK_INT(g->nmachines, 3);
	CHECK_INT(g->gate, dr_graph_find(g, "gate/commit"));
	CHECK_INT(step(g, "gate/commit")->kind, DR_STEP_GATE);
	CHECK(step(g, "gate/commit")->gate == &g->plan->commit_gate);
	CHECK_INT(step(g, "app/app02/failover")->kind, DR_STEP_UNPLANNED_FAILOVER);
	CHECK_INT(step(g, "app/app02/failover")->rp->kind, DR_RP_LATEST);
	CHECK_INT(step(g, "data/sql01/failover")->rp->kind,
		  DR_RP_LATEST_PROCESSED);
	CHECK(step(g, "data/sql01/failover")->flags & DR_STEP_F_SHUTDOWN);
	CHECK_STR(step(g, "app/app01/failover")->extra_reason,
		  "VMware Linux VMs need an extra failover step");
	CHECK(!step(g, "data/sql01/failover")->extra_reason);
	CHECK_INT(step(g, "commit/app/app02/commit")->flags &
			  (DR_STEP_F_IRREVERSIBLE | DR_STEP_F_IN_RTO),
		  DR_STEP_F_IRREVERSIBLE);
	CHECK(!step(g, "commit/app/app02/commit")->reversible);
	CHECK(step(g, "app/app02/failover")->reversible);
	CHECK_INT(step(g, "app/app01/failover")->machine, 1);
	CHECK_INT(step(g, "app/app01/failover")->group, 1);
	CHECK_INT(step(g, "gate/commit")->group, -1);
	CHECK(step(g, "data/pre/stop-batch")->action == &g->plan->groups[0].pre[0]);
	CHECK_STR(dr_step_kind_name(step(g, "data/join")->kind), "group-join");
out:
	dr_arena_free(a);
}

TEST(drill_steps)
{
	dr_arena *a = dr_arena_new();
	dr_graph *g = compile(a, erp(a), DR_OP_DRILL, NULL);

	CHECK(g);
	if (!g)
		goto out;
	CHECK_IDS(g, "data/start\n"
		     "data/pre/stop-batch\n"
		     "data/sql01/test-failover\n"
		     "data/join\n"
		     "data/post/check-sql\n"
		     "data/end\n"
		     "app/start\n"
		     "app/pre/warm-cache\n"
		     "app/app01/test-failover\n"
		     "app/app01/post/smoke\n"
		     "app/app02/test-failover\n"
		     "app/join\n"
		     "app/end\n"
		     "cleanup/wait\n"
		     "cleanup/data/start\n"
		     "cleanup/data/sql01/test-failover-cleanup\n"
		     "cleanup/data/join\n"
		     "cleanup/data/end\n"
		     "cleanup/app/start\n"
		     "cleanup/app/app01/test-failover-cleanup\n"
		     "cleanup/app/app02/test-failover-cleanup\n"
		     "cleanup/app/join\n"
		     "cleanup/app/post/release-ips\n"
		     "cleanup/app/end\n"
		     "cleanup/verify\n");
	CHECK_STR(deps_of(g, "cleanup/wait"), "app/end");
	CHECK_STR(deps_of(g, "cleanup/data/start"), "cleanup/wait");
	CHECK_STR(deps_of(g, "cleanup/verify"), "cleanup/app/end");
	CHECK_INT(step(g, "cleanup/wait")->kind, DR_STEP_WAIT);
	CHECK_INT(step(g, "cleanup/wait")->wait_ms, 60 * MIN);
	CHECK_INT(step(g, "cleanup/verify")->kind, DR_STEP_VERIFY_CLEANUP);
	CHECK_INT(g->gate, -1);
	/* Test failover uses the machine's recovery point as well. */
	CHECK_INT(step(g, "app/app02/test-failover")->rp->kind, DR_RP_LATEST);

	/* RTO ends with the last group, not with cleanup:
	 * data: 5m stop-batch + 5m test failover + 1m check-sql = 11m;
	 * app: warm-cache 1m, app01 5m + 9m extra + 1m smoke = 15m -> 27m. */
	CHECK_INT(g->rto_ms, 27 * MIN);
	CHECK_INT(g->groups[0].rto_ms, 11 * MIN);
	CHECK_INT(g->groups[1].rto_ms, 27 * MIN);
	/* total: + 1h hold + cleanup 3m + 3m + 1m release-ips + 30s verify;
	 * the unscoped stop-batch and smoke do not run again in cleanup */
	CHECK_INT(g->total_ms, 27 * MIN + 60 * MIN + 3 * MIN + 3 * MIN + MIN +
				       30 * 1000);
out:
	dr_arena_free(a);
}

TEST(commit_reprotect_failback_steps)
{
	dr_arena *a = dr_arena_new();
	dr_plan *p = erp(a);
	dr_compile_opts o = DR_COMPILE_OPTS_INIT;
	dr_graph *g;

	g = compile(a, p, DR_OP_COMMIT, NULL);
	CHECK(g);
	if (g) {
		CHECK_IDS(g, "gate/commit\n"
			     "data/start\n"
			     "data/sql01/commit\n"
			     "data/join\n"
			     "data/end\n"
			     "app/start\n"
			     "app/app01/commit\n"
			     "app/app02/commit\n"
			     "app/join\n"
			     "app/end\n");
		CHECK_STR(deps_of(g, "gate/commit"), "");
		CHECK_STR(deps_of(g, "data/start"), "gate/commit");
		CHECK(step(g, "app/app02/commit")->flags & DR_STEP_F_IRREVERSIBLE);
		/* 1m per group */
		CHECK_INT(g->rto_ms, 2 * MIN);
	}

	g = compile(a, p, DR_OP_REPROTECT, NULL);
	CHECK(g);
	if (g) {
		CHECK_INT(g->direction, DR_DIR_TO_ONPREM);
		CHECK_INT(g->gate, -1);
		CHECK_IDS(g, "data/start\n"
			     "data/pre/stop-batch\n"
			     "data/sql01/reprotect\n"
			     "data/join\n"
			     "data/end\n"
			     "app/start\n"
			     "app/app01/reprotect\n"
			     "app/app01/post/smoke\n"
			     "app/app02/reprotect\n"
			     "app/join\n"
			     "app/end\n");
		CHECK_INT(step(g, "app/app02/reprotect")->direction,
			  DR_DIR_TO_ONPREM);
	}

	/* Reprotect back to Azure: a hook for to-onprem only drops out. */
	p->groups[0].pre[0].direction = DR_DIR_TO_ONPREM;
	o.direction = DR_DIR_TO_AZURE;
	g = compile(a, p, DR_OP_REPROTECT, &o);
	CHECK(g);
	if (g) {
		CHECK_INT(g->direction, DR_DIR_TO_AZURE);
		CHECK_INT(dr_graph_find(g, "data/pre/stop-batch"), -1);
		CHECK_INT(step(g, "data/sql01/reprotect")->direction,
			  DR_DIR_TO_AZURE);
	}
	p->groups[0].pre[0].direction = DR_DIR_ANY;

	g = compile(a, p, DR_OP_FAILBACK, NULL);
	CHECK(g);
	if (g) {
		CHECK_IDS(g, "data/start\n"
			     "data/pre/stop-batch\n"
			     "data/sql01/failback\n"
			     "data/join\n"
			     "data/end\n"
			     "app/start\n"
			     "app/app01/failback\n"
			     "app/app01/post/smoke\n"
			     "app/app02/failback\n"
			     "app/join\n"
			     "app/end\n"
			     "gate/failback-commit\n"
			     "commit/data/start\n"
			     "commit/data/sql01/commit\n"
			     "commit/data/join\n"
			     "commit/data/end\n"
			     "commit/app/start\n"
			     "commit/app/app01/commit\n"
			     "commit/app/app02/commit\n"
			     "commit/app/join\n"
			     "commit/app/end\n");
		CHECK_INT(step(g, "data/sql01/failback")->kind,
			  DR_STEP_PLANNED_FAILOVER);
		CHECK(step(g, "gate/failback-commit")->gate == &p->failback_gate);
		/* failback is not priced with the failover's extra time */
		CHECK_INT(step(g, "app/app01/failback")->est.exp_ms, 15 * MIN);
	}

	/* The commit operation for a failback uses the failback gate. */
	o.direction = DR_DIR_TO_ONPREM;
	g = compile(a, p, DR_OP_COMMIT, &o);
	CHECK(g && dr_graph_find(g, "gate/failback-commit") == 0);

	/* A drill cannot run to on-premises. */
	{
		dr_graph *bad = (dr_graph *)1;

		CHECK_INT(dr_graph_compile(a, p, DR_OP_DRILL, &o, &bad), DR_EINVAL);
		CHECK(bad == NULL);
		CHECK_STR(dr_error_msg(), "drill runs to-azure only");
	}
	dr_arena_free(a);
}

TEST(hook_scoping)
{
	dr_arena *a = dr_arena_new();
	dr_plan *p = plan_new(a, "scope", 4, 2);
	dr_machine *m = machine(a, p, "m1");
	dr_group *g0 = group(a, p, "g");
	dr_graph *g;
	dr_action *act;

	member(p, g0, m);
	lua(m->pre, &m->npre, "all.lua", DR_ON_ALL, 0);
	lua(m->pre, &m->npre, "drill-only.lua", DR_ON_DRILL, 0);
	lua(m->pre, &m->npre, "cleanup-only.lua", DR_ON_CLEANUP, 0);
	act = lua(m->pre, &m->npre, "fo-azure.lua", DR_ON_FAILOVER, 0);
	act->direction = DR_DIR_TO_AZURE;
	act = lua(m->post, &m->npost, "fo-onprem.lua", DR_ON_FAILOVER, 0);
	act->direction = DR_DIR_TO_ONPREM;
	lua(m->post, &m->npost, "reprotect.lua", DR_ON_REPROTECT, 0);
	act = lua(m->post, &m->npost, "fb.lua", DR_ON_FAILBACK | DR_ON_COMMIT, 0);
	act->direction = DR_DIR_TO_ONPREM;
	act = lua(m->post, &m->npost, "every.lua", DR_ON_ALL, 0);
	act->on_at = &stated; /* on: [all of them], stated */

	g = compile(a, p, DR_OP_FAILOVER, NULL);
	CHECK_IDS(g, "g/start\ng/m1/pre/all\ng/m1/pre/fo-azure\ng/m1/failover\n"
		     "g/m1/post/every\ng/join\ng/end\ngate/commit\n"
		     "commit/g/start\ncommit/g/m1/commit\n"
		     "commit/g/m1/post/every\ncommit/g/join\ncommit/g/end\n");
	g = compile(a, p, DR_OP_FAILBACK, NULL);
	CHECK_IDS(g, "g/start\ng/m1/pre/all\ng/m1/failback\ng/m1/post/fb\n"
		     "g/m1/post/every\ng/join\ng/end\ngate/failback-commit\n"
		     "commit/g/start\ncommit/g/m1/commit\n"
		     "commit/g/m1/post/fb\ncommit/g/m1/post/every\n"
		     "commit/g/join\ncommit/g/end\n");
	g = compile(a, p, DR_OP_DRILL, NULL);
	CHECK_IDS(g, "g/start\ng/m1/pre/all\ng/m1/pre/drill-only\n"
		     "g/m1/test-failover\ng/m1/post/every\ng/join\ng/end\n"
		     "cleanup/wait\ncleanup/g/start\n"
		     "cleanup/g/m1/pre/cleanup-only\n"
		     "cleanup/g/m1/test-failover-cleanup\n"
		     "cleanup/g/m1/post/every\ncleanup/g/join\n"
		     "cleanup/g/end\ncleanup/verify\n");
	g = compile(a, p, DR_OP_REPROTECT, NULL);
	CHECK_IDS(g, "g/start\ng/m1/pre/all\ng/m1/reprotect\n"
		     "g/m1/post/reprotect\ng/m1/post/every\ng/join\ng/end\n");
	dr_arena_free(a);
}

TEST(shutdown_and_recovery_point_overrides)
{
	dr_arena *a = dr_arena_new();
	dr_plan *p = erp(a);
	dr_compile_opts o = DR_COMPILE_OPTS_INIT;
	dr_graph *g;

	/* Machine entry beats the plan default. */
	p->machines[1].shutdown_source.at = &stated;
	p->machines[1].shutdown_source.v = false;
	g = compile(a, p, DR_OP_FAILOVER, NULL);
	CHECK(dr_graph_find(g, "data/sql01/shutdown-source") >= 0);
	CHECK_INT(dr_graph_find(g, "app/app01/shutdown-source"), -1);
	CHECK(!(step(g, "app/app01/failover")->flags & DR_STEP_F_SHUTDOWN));

	/* The override beats both, either way. */
	o.shutdown_source = 0;
	g = compile(a, p, DR_OP_FAILOVER, &o);
	CHECK_INT(dr_graph_find(g, "data/sql01/shutdown-source"), -1);
	o.shutdown_source = 1;
	g = compile(a, p, DR_OP_FAILOVER, &o);
	CHECK(dr_graph_find(g, "app/app01/shutdown-source") >= 0);

	/* --recovery-point replaces every machine's point. */
	o.shutdown_source = -1;
	o.rp_set = true;
	o.rp.kind = DR_RP_CUSTOM;
	o.rp.id = "rp-2026-11-25T03:00";
	g = compile(a, p, DR_OP_FAILOVER, &o);
	CHECK_INT(step(g, "app/app02/failover")->rp->kind, DR_RP_CUSTOM);
	CHECK_STR(step(g, "data/sql01/failover")->rp->id, "rp-2026-11-25T03:00");
	/* no "latest" processing any more: 5m */
	CHECK_INT(step(g, "app/app02/failover")->est.exp_ms, 5 * MIN);
	dr_arena_free(a);
}

/* ---- estimates ----------------------------------------------------------- */

TEST(failover_estimate_and_critical_path)
{
	dr_arena *a = dr_arena_new();
	dr_graph *g = compile(a, erp(a), DR_OP_FAILOVER, NULL);
	const dr_step *s;
	size_t i;
	dr_strbuf path = DR_STRBUF_INIT;

	if (!g) {
		CHECK(g);
		goto out;
	}
	s = step(g, "data/pre/stop-batch");
	CHECK_INT(s->est.exp_ms, 5 * MIN);
	CHECK_INT(s->est.max_ms, 30 * MIN);
	CHECK_STR(s->est.why, "manual action, 5m, at most 30m");
	s = step(g, "data/post/check-sql");
	CHECK_INT(s->est.exp_ms, MIN);
	CHECK_INT(s->est.max_ms, 5 * MIN);
	CHECK_STR(s->est.why, "Lua hook, timeout 5m");
	s = step(g, "app/app01/post/smoke"); /* no timeout: default 10m */
	CHECK_INT(s->est.max_ms, 10 * MIN);
	s = step(g, "data/sql01/shutdown-source");
	CHECK_INT(s->est.exp_ms, 2 * MIN);
	CHECK_INT(s->start_ms, 5 * MIN);
	s = step(g, "app/app02/failover");
	CHECK_INT(s->est.min_ms, 4 * MIN);
	CHECK_INT(s->est.exp_ms, 8 * MIN);
	CHECK_INT(s->est.max_ms, 25 * MIN);
	CHECK_STR(s->est.why,
		  "ASR failover 5m + processing pending data (latest) 3m");
	s = step(g, "gate/commit");
	CHECK_INT(s->est.exp_ms, 0);
	CHECK_INT(s->est.max_ms, 0);

	/* data: 5m + 2m + 5m + 1m = 13m, worst 30 + 5 + 15 + 5 = 55m
	 * app: app01 2m + 14m + 1m = 17m, app02 2m + 8m = 10m -> 30m;
	 *      worst app01 5 + 25 + 10 = 40m -> 1h35m */
	CHECK_INT(g->groups[0].rto_ms, 13 * MIN);
	CHECK_INT(g->groups[0].worst_rto_ms, 55 * MIN);
	CHECK_INT(g->groups[1].span_ms, 17 * MIN);
	CHECK_INT(g->groups[1].rto_ms, 30 * MIN);
	CHECK_INT(g->groups[1].worst_rto_ms, 95 * MIN);
	CHECK_INT(g->rto_ms, 30 * MIN);
	CHECK_INT(g->worst_rto_ms, 95 * MIN);
	/* + 0 gate, commit phase: 1m per group */
	CHECK_INT(g->total_ms, 32 * MIN);

	for (i = 0; i < g->ncritical; i++)
		dr_strbuf_addf(&path, "%s%s", i ? " " : "",
			       g->steps[g->critical_path[i]].id);
	CHECK_STR(path.buf, "data/start data/pre/stop-batch "
			    "data/sql01/shutdown-source data/sql01/failover "
			    "data/join data/post/check-sql data/end app/start "
			    "app/app01/shutdown-source app/app01/failover "
			    "app/app01/post/smoke app/join app/end");
	CHECK(step(g, "app/app01/failover")->flags & DR_STEP_F_CRITICAL_PATH);
	CHECK(!(step(g, "app/app02/failover")->flags & DR_STEP_F_CRITICAL_PATH));
	/* idempotent */
	dr_graph_estimate(g);
	CHECK_INT(g->ncritical, 13);
	CHECK_INT(g->rto_ms, 30 * MIN);
out:
	dr_strbuf_release(&path);
	dr_arena_free(a);
}

TEST(extra_time_pricing)
{
	dr_arena *a = dr_arena_new();
	dr_plan *p = plan_new(a, "x", 8, 1);
	dr_group *g0 = group(a, p, "g");
	dr_machine *phys = machine(a, p, "phys");
	dr_machine *old = machine(a, p, "old");
	dr_machine *plain = machine(a, p, "plain");
	dr_graph *g;
	const dr_step *s;

	phys->source.kind = DR_SRC_PHYSICAL;
	phys->rp.kind = DR_RP_LATEST;
	phys->rp.at = &stated;
	old->source.mobility_agent.v = "9.7";
	member(p, g0, phys);
	member(p, g0, old);
	member(p, g0, plain);

	g = compile(a, p, DR_OP_FAILOVER, NULL);
	s = step(g, "g/phys/failover");
	CHECK_INT(s->est.min_ms, (3 + 1 + 8) * MIN);
	CHECK_INT(s->est.exp_ms, (5 + 3 + 9) * MIN);
	CHECK_INT(s->est.max_ms, (15 + 10 + 10) * MIN);
	CHECK_STR(s->est.why, "ASR failover 5m + processing pending data "
			      "(latest) 3m + extra failover step 9m");
	CHECK_STR(s->extra_reason, "physical servers need an extra failover step");
	s = step(g, "g/old/failover");
	CHECK_INT(s->est.exp_ms, 14 * MIN);
	CHECK_INT(s->est.max_ms, 25 * MIN);
	CHECK_STR(s->extra_reason, "Mobility service older than 9.8");
	s = step(g, "g/plain/failover");
	CHECK_INT(s->est.exp_ms, 5 * MIN);
	CHECK(!s->extra_reason);

	g = compile(a, p, DR_OP_DRILL, NULL);
	s = step(g, "g/phys/test-failover");
	CHECK_INT(s->est.exp_ms, 17 * MIN);
	CHECK_STR(s->est.why, "ASR test failover 5m + processing pending data "
			      "(latest) 3m + extra failover step 9m");
	dr_arena_free(a);
}

TEST(concurrency_list_scheduling)
{
	dr_arena *a = dr_arena_new();
	dr_plan *p = plan_new(a, "c", 8, 1);
	dr_group *g0 = group(a, p, "g");
	dr_machine *m[5];
	dr_compile_opts o = DR_COMPILE_OPTS_INIT;
	dr_graph *g;
	size_t i;

	static const char *const names[5] = { "m1", "m2", "m3", "m4", "m5" };
	for (i = 0; i < 5; i++) {
		m[i] = machine(a, p, names[i]);
		member(p, g0, m[i]);
	}
	/* m1 5m, m2 14m (extra), m3 8m (latest), m4 5m, m5 17m (both) */
	m[1]->source.os = DR_OS_LINUX;
	m[2]->rp.kind = DR_RP_LATEST;
	m[2]->rp.at = &stated;
	m[4]->source.kind = DR_SRC_PHYSICAL;
	m[4]->rp = m[2]->rp;
	g0->concurrency.v = 2;

	g = compile(a, p, DR_OP_FAILOVER, NULL);
	CHECK_INT(g->groups[0].concurrency, 2);
	/* Longest first on 2 slots: A m5 0-17, B m2 0-14, B m3 14-22,
	 * A m1 17-22, A m4 22-27 (tie at 22: lower slot). */
	CHECK_INT(step(g, "g/m5/failover")->start_ms, 0);
	CHECK_INT(step(g, "g/m2/failover")->start_ms, 0);
	CHECK_INT(step(g, "g/m3/failover")->start_ms, 14 * MIN);
	CHECK_INT(step(g, "g/m1/failover")->start_ms, 17 * MIN);
	CHECK_INT(step(g, "g/m4/failover")->start_ms, 22 * MIN);
	CHECK_INT(step(g, "g/m4/failover")->slot_wait_ms, 22 * MIN);
	CHECK_INT(g->rto_ms, 27 * MIN);
	CHECK_INT(g->ncritical, 6);
	CHECK_STR(g->steps[g->critical_path[1]].id, "g/m5/failover");
	CHECK_STR(g->steps[g->critical_path[2]].id, "g/m1/failover");
	CHECK_STR(g->steps[g->critical_path[3]].id, "g/m4/failover");
	/* worst: 35, 25, 25, 15, 15 -> A 35, B 25+25=50? no: B 25, B? */
	/* A m5 0-35, B m2 0-25, B m3 25-50, A m1 35-50, A m4 50-65 */
	CHECK_INT(g->worst_rto_ms, 65 * MIN);
	{
		dr_strbuf sb = DR_STRBUF_INIT;

		dr_graph_write(g, p, DR_GRAPH_PLAN_TEXT, &sb);
		CHECK(strstr(sb.buf, "group g (after: \xe2\x80\x94) est. 27m (worst "
				     "1h5m), 5 machines, 2 at once\n"));
		CHECK(strstr(sb.buf, "  g/m4/failover           5m  worst 15m     recovery "
				     "point latest-processed; waits 22m for a slot\n"));
		CHECK(strstr(sb.buf, "critical path: g/m5/failover -> g/m1/failover "
				     "-> g/m4/failover\n"));
		dr_strbuf_reset(&sb);
		dr_graph_write(g, p, DR_GRAPH_DOT, &sb);
		CHECK(strstr(sb.buf, "  \"g/m1/failover\" -> \"g/m4/failover\" "
				     "[style=dashed, color=red, label=\"slot\"];\n"));
		dr_strbuf_reset(&sb);
		dr_graph_write(g, p, DR_GRAPH_MERMAID, &sb);
		CHECK(strstr(sb.buf, "  s1 -. slot .-> s4\n"));
		dr_strbuf_release(&sb);
	}

	/* Without a limit, all five run at once: the longest one is the RTO. */
	g0->concurrency.v = 0;
	g = compile(a, p, DR_OP_FAILOVER, NULL);
	CHECK_INT(g->groups[0].concurrency, 10);
	CHECK_INT(g->rto_ms, 17 * MIN);
	/* The caller's default applies when the plan says nothing ... */
	o.concurrency = 1;
	g = compile(a, p, DR_OP_FAILOVER, &o);
	CHECK_INT(g->groups[0].concurrency, 1);
	CHECK_INT(g->rto_ms, (5 + 14 + 8 + 5 + 17) * MIN);
	/* ... but not when the plan states a value. */
	p->concurrency.v = 3;
	p->concurrency.at = &stated;
	g = compile(a, p, DR_OP_FAILOVER, &o);
	CHECK_INT(g->groups[0].concurrency, 3);
	/* 3 slots: 17 | 14 | 8, then m1 -> slot 3 (8-13), m4 -> slot 3 (13-18) */
	CHECK_INT(g->rto_ms, 18 * MIN);
	dr_arena_free(a);
}

/* ---- refusals and edge cases ----------------------------------------- */

TEST(cycle_refused)
{
	dr_arena *a = dr_arena_new();
	dr_plan *p = plan_new(a, "cyc", 2, 3);
	dr_group *x = group(a, p, "x");
	dr_group *y = group(a, p, "y");
	dr_group *z = group(a, p, "z");
	dr_graph *g = (dr_graph *)1;

	after(p, y, x);
	after(p, z, y);
	after(p, y, z);
	CHECK_INT(dr_graph_compile(a, p, DR_OP_FAILOVER, NULL, &g), DR_EINVAL);
	CHECK(g == NULL);
	CHECK_STR(dr_error_msg(), "groups form a cycle through 'after' (group "
				  "'y' is part of it or waits for it)");

	/* A group waiting for itself too. */
	p->ngroups = 1;
	after(p, x, x);
	CHECK_INT(dr_graph_compile(a, p, DR_OP_DRILL, NULL, &g), DR_EINVAL);

	/* A bad index is refused, not followed. */
	x->after[0] = 7;
	CHECK_INT(dr_graph_compile(a, p, DR_OP_DRILL, NULL, &g), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "group 'x': 'after' names group #7, the plan "
				  "has 1 groups");
	x->nafter = 0;
	x->machines[x->nmachines++] = 5;
	CHECK_INT(dr_graph_compile(a, p, DR_OP_DRILL, NULL, &g), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "group 'x': machine #5 does not exist");
	dr_arena_free(a);
}

TEST(group_dag_order_and_ids)
{
	dr_arena *a = dr_arena_new();
	dr_plan *p = plan_new(a, "dag", 4, 4);
	dr_group *net = group(a, p, "net");
	dr_group *db = group(a, p, "db");
	dr_group *web = group(a, p, "web");
	dr_group *base = group(a, p, "base");
	dr_machine *m = machine(a, p, "m");
	dr_graph *g;

	/* Listed out of order: base must come first. */
	after(p, net, base);
	after(p, db, base);
	after(p, web, net);
	after(p, web, db);
	after(p, web, db); /* duplicate */
	member(p, db, m);
	/* Two hooks whose names clash get "~2". */
	manual(db->pre, &db->npre, "x", "one", DR_ON_ALL);
	manual(db->pre, &db->npre, "x", "two", DR_ON_ALL);
	manual(db->pre, &db->npre, NULL, "three", DR_ON_ALL);

	g = compile(a, p, DR_OP_REPROTECT, NULL);
	CHECK_INT(g->group_order[0], 3);
	CHECK_INT(g->group_order[1], 0);
	CHECK_INT(g->group_order[2], 1);
	CHECK_INT(g->group_order[3], 2);
	CHECK(dr_graph_find(g, "db/pre/x") >= 0);
	CHECK(dr_graph_find(g, "db/pre/x~2") >= 0);
	CHECK(dr_graph_find(g, "db/pre/manual-3") >= 0);
	CHECK_STR(deps_of(g, "web/start"), "net/end,db/end");
	CHECK_STR(deps_of(g, "net/join"), "net/start");
	/* Only the last group is a sink; empty groups take no time. */
	CHECK_INT(g->rto_ms, 15 * MIN + 5 * MIN);
	for (size_t i = 0; i < g->nsteps; i++)
		for (size_t k = 0; k < g->steps[i].ndeps; k++)
			CHECK(g->steps[i].deps[k] < i);
	dr_arena_free(a);
}

TEST(empty_plan)
{
	dr_arena *a = dr_arena_new();
	dr_plan *p = plan_new(a, "empty", 1, 1);
	dr_graph *g = compile(a, p, DR_OP_FAILOVER, NULL);
	dr_strbuf sb = DR_STRBUF_INIT;

	CHECK_INT(g->nsteps, 1);
	CHECK_INT(g->rto_ms, 0);
	CHECK_INT(g->ncritical, 0);
	for (int f = 0; f < DR_GRAPH__FORMAT_COUNT; f++)
		CHECK_INT(dr_graph_write(g, p, (dr_graph_format)f, &sb), 0);
	CHECK_INT(dr_graph_write(g, p, DR_GRAPH__FORMAT_COUNT, &sb), DR_EINVAL);
	dr_strbuf_release(&sb);
	dr_arena_free(a);
}

/* ---- output ---------------------------------------------------------- */

static char *render(dr_operation op, dr_graph_format fmt)
{
	dr_arena *a = dr_arena_new();
	dr_graph *g = compile(a, erp(a), op, NULL);
	dr_strbuf sb = DR_STRBUF_INIT;

	if (g)
		dr_graph_write(g, g->plan, fmt, &sb);
	dr_arena_free(a);
	return dr_strbuf_detach(&sb, NULL);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	dr_strbuf sb = DR_STRBUF_INIT;
	char buf[4096];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		dr_strbuf_add(&sb, buf, n);
	fclose(f);
	return dr_strbuf_detach(&sb, NULL);
}

static void golden(dr_operation op, dr_graph_format fmt, const char *path)
{
	char *got = render(op, fmt);
	char *want;

	if (getenv("DR_UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "wb");

		CHECK(f);
		if (f) {
			fputs(got, f);
			fclose(f);
		}
	}
	want = read_file(path);
	if (!want || strcmp(got, want)) {
		fprintf(stderr, "%s differs; got:\n%s\n", path, got);
		test_failed_checks++;
	}
	free(got);
	free(want);
}

TEST(goldens)
{
	golden(DR_OP_FAILOVER, DR_GRAPH_PLAN_TEXT, "tests/cases/graph/erp-failover.txt");
	golden(DR_OP_FAILOVER, DR_GRAPH_DOT, "tests/cases/graph/erp-failover.dot");
	golden(DR_OP_FAILOVER, DR_GRAPH_MERMAID, "tests/cases/graph/erp-failover.mmd");
	golden(DR_OP_FAILOVER, DR_GRAPH_JSON, "tests/cases/graph/erp-failover.json");
	golden(DR_OP_DRILL, DR_GRAPH_PLAN_TEXT, "tests/cases/graph/erp-drill.txt");
	golden(DR_OP_REPROTECT, DR_GRAPH_PLAN_TEXT, "tests/cases/graph/erp-reprotect.txt");
}

TEST(deterministic_output)
{
	for (int op = 0; op < DR_OP__COUNT; op++)
		for (int f = 0; f < DR_GRAPH__FORMAT_COUNT; f++) {
			char *x = render((dr_operation)op, (dr_graph_format)f);
			char *y = render((dr_operation)op, (dr_graph_format)f);

			CHECK(x && y && *x && !strcmp(x, y));
			free(x);
			free(y);
		}
}

TEST(escaping)
{
	dr_arena *a = dr_arena_new();
	dr_plan *p = plan_new(a, "q\"uote", 2, 1);
	dr_group *g0 = group(a, p, "g<1> & \"x\"");
	dr_machine *m = machine(a, p, "back\\slash#1");
	dr_graph *g;
	dr_strbuf sb = DR_STRBUF_INIT;

	member(p, g0, m);
	manual(g0->pre, &g0->npre, "say", "line one\nline \"two\"", DR_ON_ALL);
	g = compile(a, p, DR_OP_REPROTECT, NULL);

	dr_graph_write(g, p, DR_GRAPH_DOT, &sb);
	CHECK(strstr(sb.buf, "\"g<1> & \\\"x\\\"/back\\\\slash#1/reprotect\" [label="));
	CHECK(strstr(sb.buf, "label=\"q\\\"uote: reprotect (to-onprem)\""));
	dr_strbuf_reset(&sb);
	dr_graph_write(g, p, DR_GRAPH_MERMAID, &sb);
	CHECK(strstr(sb.buf, "s2[\"g#lt;1#gt; #amp; #quot;x#quot;/back\\slash#35;1/reprotect<br/>"));
	CHECK(!strstr(sb.buf, "\"x\""));
	dr_strbuf_reset(&sb);
	dr_graph_write(g, p, DR_GRAPH_JSON, &sb);
	CHECK(strstr(sb.buf, "\"manual\": \"line one\\nline \\\"two\\\"\""));
	CHECK(strstr(sb.buf, "\"plan\": \"q\\\"uote\""));
	dr_strbuf_reset(&sb);
	dr_graph_write(g, p, DR_GRAPH_PLAN_TEXT, &sb);
	CHECK(strstr(sb.buf, "manual: line one line \"two\"\n"));

	/* A capped buffer reports the limit instead of truncating silently. */
	{
		dr_strbuf small = DR_STRBUF_INIT;

		small.max = 64;
		CHECK_INT(dr_graph_write(g, p, DR_GRAPH_JSON, &small), DR_ELIMIT);
		dr_strbuf_release(&small);
	}
	dr_strbuf_release(&sb);
	dr_arena_free(a);
}

TEST(format_parse)
{
	dr_graph_format f;

	CHECK_INT(dr_graph_format_parse("mermaid", &f), 0);
	CHECK_INT(f, DR_GRAPH_MERMAID);
	CHECK_INT(dr_graph_format_parse("svg", &f), DR_EINVAL);
	CHECK_STR(dr_error_msg(), "unknown graph format 'svg' (text, dot, mermaid, json)");
}

/* ---- scale ----------------------------------------------------------- */

TEST(ten_thousand_machines)
{
	dr_arena *a = dr_arena_new();
	dr_plan *p = plan_new(a, "big", 10000, 100);
	dr_graph *g;
	struct timespec t0, t1;
	double ms;
	size_t gi, i;

	for (gi = 0; gi < 100; gi++) {
		char *gn = dr_arena_printf(a, "g%03zu", gi);
		dr_group *grp = group(a, p, gn);

		if (gi)
			after(p, grp, &p->groups[gi - 1]);
		grp->concurrency.v = 20;
		lua(grp->pre, &grp->npre, "pre.lua", DR_ON_ALL, 0);
		for (i = 0; i < 100; i++) {
			dr_machine *m = machine(a, p, dr_arena_printf(a, "m%05zu",
								      gi * 100 + i));

			lua(m->post, &m->npost, "check.lua", DR_ON_ALL, 0);
			if (i % 7 == 0)
				m->source.os = DR_OS_LINUX;
			member(p, grp, m);
		}
	}
	p->shutdown_source.v = true;
	/* Timing is the benchmarks' business (tests/bench); here the size. */
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	g = compile(a, p, DR_OP_FAILOVER, NULL);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	     (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	fprintf(stderr, "10000 machines: %zu steps, compile + estimate %.1f ms\n",
		g ? g->nsteps : 0, ms);
	CHECK(g && g->nsteps > 40000);
	dr_arena_free(a);
}

int main(void)
{
	RUN(failover_steps);
	RUN(drill_steps);
	RUN(commit_reprotect_failback_steps);
	RUN(hook_scoping);
	RUN(shutdown_and_recovery_point_overrides);
	RUN(failover_estimate_and_critical_path);
	RUN(extra_time_pricing);
	RUN(concurrency_list_scheduling);
	RUN(cycle_refused);
	RUN(group_dag_order_and_ids);
	RUN(empty_plan);
	RUN(goldens);
	RUN(deterministic_output);
	RUN(escaping);
	RUN(format_parse);
	RUN(ten_thousand_machines);
	return test_summary();
}
