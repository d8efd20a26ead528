/*
 * test-graph-plans.c - the step graph of plans read by the loader: YAML
 * snippets and the example plans in plans/ (ctest runs from the source
 * directory). test-graph.c covers the compiler with hand-built models;
 * this file checks that the two modules agree on what a plan means.
 *
 * The plan text of the example plans is pinned in tests/cases/graph/plans-*;
 * after an intended change, regenerate from the source directory with
 *
 *     DR_UPDATE_GOLDEN=1 build/tests/test-graph-plans
 *
 * and review the diff.
 */
#include "test.h"

#include "core/arena.h"
#include "core/diag.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "graph/graph.h"
#include "plan/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN (60 * 1000ull)

static dr_arena *A;
static dr_diags *D;

static void fresh(void)
{
	dr_arena_free(A);
	dr_diags_free(D);
	A = dr_arena_new();
	D = dr_diags_new();
}

static void dump_diags(void)
{
	size_t i;

	for (i = 0; i < dr_diags_len(D); i++) {
		const dr_diag *g = dr_diags_get(D, i);

		fprintf(stderr, "  %s:%d:%d: %s [%s]\n", g->file ? g->file : "-",
			g->line, g->col, g->message, g->rule);
	}
}

static dr_graph *from_text(const char *text, dr_operation op,
			   const dr_compile_opts *o)
{
	dr_plan_load_opts lo = { .no_inventory = true };
	dr_plan *p = NULL;
	dr_graph *g = NULL;

	fresh();
	if (dr_plan_load_text(A, "snippet.yaml", text, strlen(text), &lo, D, &p)) {
		fprintf(stderr, "snippet does not load:\n");
		dump_diags();
		return NULL;
	}
	if (dr_graph_compile(A, p, op, o, &g)) {
		fprintf(stderr, "compile: %s\n", dr_error_msg());
		return NULL;
	}
	dr_graph_estimate(g);
	return g;
}

static dr_graph *from_file(const char *file, dr_operation op)
{
	dr_plan *p = NULL;
	dr_graph *g = NULL;

	fresh();
	if (dr_plan_load(A, file, NULL, D, &p)) {
		fprintf(stderr, "%s does not load:\n", file);
		dump_diags();
		return NULL;
	}
	if (dr_graph_compile(A, p, op, NULL, &g)) {
		fprintf(stderr, "compile: %s\n", dr_error_msg());
		return NULL;
	}
	dr_graph_estimate(g);
	return g;
}

static char *ids(const dr_graph *g)
{
	dr_strbuf sb = DR_STRBUF_INIT;
	size_t i;

	for (i = 0; g && i < g->nsteps; i++)
		dr_strbuf_addf(&sb, "%s\n", g->steps[i].id);
	return dr_strbuf_detach(&sb, NULL);
}

#define CHECK_IDS(g, expected)                                                 \
	do {                                                                   \
		char *got_ = ids(g);                                           \
		CHECK_STR(got_, expected);                                     \
		free(got_);                                                    \
	} while (0)

static const dr_step *step(const dr_graph *g, const char *id)
{
	long s = g ? dr_graph_find(g, id) : -1;

	return s >= 0 ? &g->steps[s] : NULL;
}

/* Machines that state the source facts the loader needs without an
 * inventory; db01 is physical (extra failover time). */
static const char snippet[] =
	"apiVersion: drplan/v1\n"
	"kind: RecoveryPlan\n"
	"metadata: { name: shop, owners: [ops@example.com] }\n"
	"target: { provider: sim }\n"
	"defaults:\n"
	"  recoveryPoint: latest\n"
	"  shutdownSource: false\n"
	"  target: { resourceGroup: rg-dr, network: { vnet: vnet-dr, subnet: app } }\n"
	"machines:\n"
	"  - name: db01\n"
	"    recoveryPoint: latest-app-consistent\n"
	"    shutdownSource: true\n"
	"    source: { kind: physical, os: linux, osVersion: \"RHEL 8.4\", boot: bios,\n"
	"              mobilityAgent: \"9.56\", disks: [{ role: os, sizeGiB: 64 }] }\n"
	"  - name: web01\n"
	"    source: { os: windows, osVersion: Windows Server 2019, boot: bios,\n"
	"              mobilityAgent: \"9.56\", disks: [{ role: os, sizeGiB: 64 }] }\n"
	"groups:\n"
	"  - name: db\n"
	"    machines: [db01]\n"
	"    post:\n"
	"      - { lua: hooks/check-db.lua, timeout: 3m, on: [failover, drill] }\n"
	"      - { lua: hooks/teardown.lua, on: [cleanup] }\n"
	"  - name: web\n"
	"    machines: [web01]\n"
	"    pre:\n"
	"      - { manual: Switch DNS, name: dns, direction: to-azure }\n"
	"    post:\n"
	"      - { lua: hooks/smoke.lua, timeout: 30s }\n"
	"gates:\n"
	"  commit: { approvals: 2, timeout: 1h, onTimeout: fail }\n"
	"drill:\n"
	"  network: { vnet: vnet-drill }\n"
	"  cleanup: { after: 30m }\n";

TEST(snippet_failover)
{
	dr_graph *g = from_text(snippet, DR_OP_FAILOVER, NULL);
	const dr_step *s;

	CHECK(g);
	if (!g)
		return;
	CHECK_IDS(g, "db/start\n"
		     "db/db01/shutdown-source\n"
		     "db/db01/failover\n"
		     "db/join\n"
		     "db/post/check-db\n"
		     "db/end\n"
		     "web/start\n"
		     "web/pre/dns\n"
		     "web/web01/failover\n"
		     "web/join\n"
		     "web/post/smoke\n"
		     "web/end\n"
		     "gate/commit\n"
		     "commit/db/start\n"
		     "commit/db/db01/commit\n"
		     "commit/db/join\n"
		     "commit/db/end\n"
		     "commit/web/start\n"
		     "commit/web/web01/commit\n"
		     "commit/web/join\n"
		     "commit/web/end\n");
	s = step(g, "db/db01/failover");
	CHECK_INT(s->rp->kind, DR_RP_LATEST_APP_CONSISTENT);
	CHECK_STR(s->extra_reason, "physical servers need an extra failover step");
	CHECK_INT(s->est.exp_ms, 14 * MIN);
	s = step(g, "web/web01/failover");
	CHECK_INT(s->rp->kind, DR_RP_LATEST);
	CHECK(!s->extra_reason);
	CHECK_INT(s->est.exp_ms, 8 * MIN);
	CHECK_INT(step(g, "gate/commit")->gate->approvals.v, 2);
	CHECK_INT(step(g, "gate/commit")->gate->timeout.ms, 60 * MIN);
	/* db: 2m + 14m + 1m; web: 5m dns + 8m + 30s smoke */
	CHECK_INT(g->groups[0].rto_ms, 17 * MIN);
	CHECK_INT(g->rto_ms, 17 * MIN + 13 * MIN + 30 * 1000);
}

TEST(snippet_drill_and_reprotect)
{
	dr_graph *g = from_text(snippet, DR_OP_DRILL, NULL);
	dr_compile_opts o = DR_COMPILE_OPTS_INIT;

	CHECK(g);
	if (g) {
		CHECK_IDS(g, "db/start\n"
			     "db/db01/test-failover\n"
			     "db/join\n"
			     "db/post/check-db\n"
			     "db/end\n"
			     "web/start\n"
			     "web/pre/dns\n"
			     "web/web01/test-failover\n"
			     "web/join\n"
			     "web/post/smoke\n"
			     "web/end\n"
			     "cleanup/wait\n"
			     "cleanup/db/start\n"
			     "cleanup/db/db01/test-failover-cleanup\n"
			     "cleanup/db/join\n"
			     "cleanup/db/post/teardown\n"
			     "cleanup/db/end\n"
			     "cleanup/web/start\n"
			     "cleanup/web/web01/test-failover-cleanup\n"
			     "cleanup/web/join\n"
			     "cleanup/web/end\n"
			     "cleanup/verify\n");
		CHECK_INT(step(g, "cleanup/wait")->wait_ms, 30 * MIN);
	}

	/* Reprotect back to Azure: the to-azure manual step is kept. */
	o.direction = DR_DIR_TO_AZURE;
	g = from_text(snippet, DR_OP_REPROTECT, &o);
	CHECK(g && step(g, "web/pre/dns"));
	g = from_text(snippet, DR_OP_REPROTECT, NULL);
	CHECK(g && !step(g, "web/pre/dns"));
	CHECK(g && step(g, "web/post/smoke"));
}

TEST(erp_example)
{
	dr_graph *g = from_file("plans/erp.yaml", DR_OP_FAILOVER);
	dr_strbuf sb = DR_STRBUF_INIT;

	CHECK(g);
	if (!g)
		return;
	CHECK_INT(g->nmachines, 6);
	CHECK_INT(g->groups[0].concurrency, 4);
	CHECK(step(g, "app/pre/stop-batch"));
	CHECK(step(g, "app/post/health-check"));
	CHECK(step(g, "web/post/web-health"));
	CHECK(step(g, "data/sql01/shutdown-source"));
	CHECK_INT(step(g, "data/sql01/failover")->rp->kind,
		  DR_RP_LATEST_APP_CONSISTENT);
	CHECK_INT(step(g, "app/app01/failover")->rp->kind, DR_RP_LATEST_PROCESSED);
	CHECK(!(step(g, "web/web02/failover")->flags & DR_STEP_F_CRITICAL));
	CHECK(step(g, "web/post/web-health")->action->on_failure == DR_FAIL_WARN);
	CHECK_INT(dr_graph_write(g, g->plan, DR_GRAPH_PLAN_TEXT, &sb), 0);
	CHECK(strstr(sb.buf, "plan erp: failover (to-azure)\n"
			     "machines 6, groups 3, steps "));
	CHECK(strstr(sb.buf, "gate/commit: approvals 1 of 2 keys, checks "
			     "critical-healthy, post-hooks, timeout 2h (then wait)\n"));
	dr_strbuf_release(&sb);

	g = from_file("plans/erp.yaml", DR_OP_DRILL);
	CHECK(g && step(g, "cleanup/wait")->wait_ms == 60 * MIN);
	/* The unscoped health check does not run against deleted test VMs. */
	CHECK(g && !step(g, "cleanup/app/post/health-check"));
	/* stop-batch is for failovers only */
	CHECK(g && !step(g, "app/pre/stop-batch"));
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

static void golden(const char *plan, dr_operation op, const char *path)
{
	dr_graph *g = from_file(plan, op);
	dr_strbuf sb = DR_STRBUF_INIT;
	char *want;

	CHECK(g);
	if (!g)
		return;
	dr_graph_write(g, g->plan, DR_GRAPH_PLAN_TEXT, &sb);
	if (getenv("DR_UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "wb");

		CHECK(f);
		if (f) {
			fputs(sb.buf, f);
			fclose(f);
		}
	}
	want = read_file(path);
	if (!want || strcmp(sb.buf, want)) {
		fprintf(stderr, "%s differs; got:\n%s\n", path, sb.buf);
		test_failed_checks++;
	}
	free(want);
	dr_strbuf_release(&sb);
}

TEST(example_goldens)
{
	golden("plans/erp.yaml", DR_OP_FAILOVER,
	       "tests/cases/graph/plans-erp-failover.txt");
	golden("plans/erp.yaml", DR_OP_DRILL, "tests/cases/graph/plans-erp-drill.txt");
	golden("plans/failback.yaml", DR_OP_FAILBACK,
	       "tests/cases/graph/plans-failback-failback.txt");
	golden("plans/small.yaml", DR_OP_REPROTECT,
	       "tests/cases/graph/plans-small-reprotect.txt");
}

int main(void)
{
	RUN(snippet_failover);
	RUN(snippet_drill_and_reprotect);
	RUN(erp_example);
	RUN(example_goldens);
	dr_arena_free(A);
	dr_diags_free(D);
	return test_summary();
}
