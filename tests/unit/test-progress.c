/*
 * test-progress.c - the job progress renderer: plain lines, JSON lines and
 * the table, fed by hand-made executor events for plans/small.yaml.
 */
#include "test.h"

#include "core/arena.h"
#include "core/diag.h"
#include "graph/graph.h"
#include "plan/plan.h"
#include "report/progress.h"

#include <stdlib.h>
#include <string.h>

static dr_arena *arena;
static dr_plan *plan;
static dr_graph *graph;

static void setup(void)
{
	dr_diags *d = dr_diags_new();

	arena = dr_arena_new();
	if (dr_plan_load(arena, "plans/small.yaml", NULL, d, &plan) ||
	    dr_graph_compile(arena, plan, DR_OP_FAILOVER, NULL, &graph)) {
		fprintf(stderr, "cannot load plans/small.yaml\n");
		exit(1);
	}
	dr_diags_free(d);
}

static void feed(dr_progress *pr, const char *json)
{
	json_t *ev = json_loads(json, 0, NULL);

	if (!ev) {
		fprintf(stderr, "bad test event: %s\n", json);
		exit(1);
	}
	dr_progress_event(pr, ev);
	json_decref(ev);
}

/* Run the events through a renderer of mode; returns what it wrote. */
static char *render(dr_progress_mode mode, const char *const *evs, char **table)
{
	char *buf = NULL, *tbuf = NULL;
	size_t len = 0, tlen = 0;
	FILE *f = open_memstream(&buf, &len);
	dr_progress *pr = dr_progress_new(f, mode, plan, graph, NULL);

	for (; *evs; evs++)
		feed(pr, *evs);
	if (table) {
		FILE *t = open_memstream(&tbuf, &tlen);

		dr_progress_table(pr, 0, 200, t);
		fclose(t);
		*table = tbuf;
	}
	dr_progress_free(pr);
	fclose(f);
	return buf;
}

static const char *const events[] = {
	"{\"event\":\"job-started\",\"time\":\"2026-11-25T13:05:00.000Z\",\"job\":\"small-failover-1\","
	"\"plan\":\"small\",\"operation\":\"failover\",\"steps\":9,\"resumed\":false}",
	"{\"event\":\"step-state\",\"time\":\"2026-11-25T13:05:01.000Z\",\"step\":\"all/start\","
	"\"from\":\"ready\",\"to\":\"succeeded\",\"attempt\":0}",
	"{\"event\":\"step-state\",\"time\":\"2026-11-25T13:05:02.000Z\",\"step\":\"all/dc01/failover\","
	"\"from\":\"pending\",\"to\":\"ready\",\"attempt\":0}",
	"{\"event\":\"step-state\",\"time\":\"2026-11-25T13:05:02.500Z\",\"step\":\"all/dc01/failover\","
	"\"from\":\"ready\",\"to\":\"running\",\"attempt\":0}",
	"{\"event\":\"step-state\",\"time\":\"2026-11-25T13:05:09.000Z\",\"step\":\"all/dc01/failover\","
	"\"from\":\"running\",\"to\":\"failed\",\"attempt\":0,\"message\":\"boom\"}",
	"{\"event\":\"warning\",\"time\":\"2026-11-25T13:05:10.000Z\",\"message\":\"careful\"}",
	"{\"event\":\"point-of-no-return\",\"time\":\"2026-11-25T13:06:00.000Z\","
	"\"step\":\"commit/all/dc01/commit\",\"message\":\"no way back\"}",
	"{\"event\":\"step-state\",\"time\":\"2026-11-25T13:06:01.000Z\",\"step\":\"gate/commit/change-rp/dc01/1\","
	"\"from\":\"ready\",\"to\":\"running\",\"attempt\":0}",
	"{\"event\":\"job-finished\",\"time\":\"2026-11-25T13:07:00.000Z\",\"status\":\"failed\"}",
	NULL,
};

TEST(lines)
{
	char *out = render(DR_PROGRESS_LINES, events, NULL);

	CHECK_STR(out,
		  "13:05:00 job small-failover-1 started: failover of plan small, 9 steps\n"
		  "13:05:02 all/dc01/failover running (attempt 1)\n"
		  "13:05:09 all/dc01/failover failed: boom\n"
		  "13:05:10 warning: careful\n"
		  "13:06:00 POINT OF NO RETURN at commit/all/dc01/commit: no way back\n"
		  "13:06:01 gate/commit/change-rp/dc01/1 running\n"
		  "13:07:00 job small-failover-1 failed\n");
	free(out);
}

TEST(json_lines)
{
	char *out = render(DR_PROGRESS_JSON, events, NULL);
	size_t n = 0;
	const char *p;

	for (p = out; *p; p++)
		n += *p == '\n';
	CHECK_INT(n, 9);
	CHECK(!strncmp(out, "{\"event\":\"job-started\"", 22));
	free(out);
}

TEST(table)
{
	char *table = NULL;
	char *out = render(DR_PROGRESS_LINES, events, &table);

	CHECK(strstr(table, "job small-failover-1  failed  2/") != NULL);
	CHECK(strstr(table, "GROUP / MACHINE          STEP                           STATE      ELAPSED\n") != NULL);
	CHECK(strstr(table, "all [0/2]                start                          succeeded") != NULL);
	CHECK(strstr(table, "  dc01                   failover                       failed") != NULL);
	CHECK(strstr(table, "  files01                                               pending\n") != NULL);
	free(table);
	free(out);
}

int main(void)
{
	setup();
	RUN(lines);
	RUN(json_lines);
	RUN(table);
	dr_arena_free(arena);
	return test_summary();
}
