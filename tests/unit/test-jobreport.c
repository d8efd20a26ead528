/*
 * test-jobreport.c - drill and job reports from real journals: a drill run
 * on the simulator with a virtual clock and fixed epoch and job ids, so every
 * figure is exact; golden files for each format (tests/cases/report/;
 * regenerate with DRPLAN_UPDATE_GOLDEN=1 build/tests/test-jobreport),
 * escaping, a failed cleanup, a plan's history over three drills.
 *
 * `test-jobreport --samples DIR` writes a state store with those jobs to
 * DIR for tests/report/tests.cmake (drplan report + xmllint).
 */
#include "exec-harness.h"

#include "test.h"

#include "report/jobreport.h"

#include <sys/stat.h>
#include <unistd.h>

static void write_file(const char *dir, const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/lua", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

/* erp drill: data (sql01) -> app (app01, app02), post hooks. */
static void erp(env *E, const char *name)
{
	dr_plan *p = plan_new(E->arena, name, 8, 4);
	dr_group *data = group(E->arena, p, "data", 4);
	dr_group *app = group(E->arena, p, "app", 4);

	member(p, data, machine(E->arena, p, "sql01"));
	member(p, app, machine(E->arena, p, "app01"));
	member(p, app, machine(E->arena, p, "app02"));
	app->after[app->nafter++] = 0;
	app->after_explicit = true;
	p->concurrency.v = 10;
	p->dir = E->dir;
	p->drill.at = &stated;
	p->drill.vnet.v = "vnet-drill";
	p->drill.cleanup_after.ms = 60 * MIN;
	p->drill.rto.ms = 60 * MIN;
	p->drill.rpo.ms = 10 * MIN;
	write_file(E->dir, "lua/check.lua",
		   "drplan.sleep(30)\ndrplan.log('checked <&\"\\'> %s', drplan.context.group)\n"
		   "drplan.output('ok', true)\n");
	write_file(E->dir, "lua/teardown.lua", "drplan.output('clean', 1)\n");
	lua(data->post, &data->npost, "lua/check.lua", DR_ON_DRILL, 5 * MIN, DR_FAIL_GROUP);
	lua(app->post, &app->npost, "lua/teardown.lua", DR_ON_CLEANUP, 5 * MIN, DR_FAIL_GROUP);
	E->plan = p;
}

static int run_drill(env *E, const char *faults, const char *id)
{
	dr_job_opts o;
	dr_job *j = NULL;
	int rc;

	env_proc_new(E, faults);
	if (env_compile(E, DR_OP_DRILL, 0) < 0)
		return -100;
	env_opts(E, &o);
	rc = dr_job_start(E->plan, E->graph, &o, id, &j);
	if (rc < 0) {
		fprintf(stderr, "start: %s\n", dr_error_msg());
		env_proc_free(E);
		return rc;
	}
	rc = dr_job_run(j);
	dr_job_free(j);
	env_proc_free(E);
	return rc;
}

static const dr_jobreport_objectives objectives = { 60 * MIN, 10 * MIN };

static json_t *report(env *E, const char *id, const dr_jobreport_objectives *o)
{
	json_t *doc = NULL;

	if (dr_jobreport_build(E->store, id, o, &doc) < 0) {
		fprintf(stderr, "build: %s\n", dr_error_msg());
		return json_object();
	}
	return doc;
}

static json_t *jpath(json_t *v, const char *a, long i, const char *b)
{
	v = json_object_get(v, a);
	if (i >= 0)
		v = json_array_get(v, (size_t)i);
	if (b)
		v = json_object_get(v, b);
	return v;
}

static long long jint(json_t *v)
{
	return json_is_integer(v) ? (long long)json_integer_value(v) : -999;
}

static const char *jstr(json_t *v)
{
	return json_is_string(v) ? json_string_value(v) : "(none)";
}

static char *render(const json_t *doc, dr_jobreport_format f)
{
	dr_strbuf sb = DR_STRBUF_INIT;

	dr_jobreport_render(doc, f, &sb);
	return dr_strbuf_detach(&sb, NULL);
}

TEST(drill_figures)
{
	env E;
	json_t *doc, *g, *m;

	env_init(&E, false, NULL);
	erp(&E, "erp");
	CHECK_INT(run_drill(&E, NULL, "erp-drill-1"), 0);
	doc = report(&E, "erp-drill-1", &objectives);
	CHECK_STR(jstr(json_object_get(doc, "status")), "succeeded");
	CHECK_STR(jstr(json_object_get(doc, "verdict")), "pass");
	CHECK_INT(json_array_size(json_object_get(doc, "reasons")), 0);
	/* T0 is the epoch: the first step started at once. */
	CHECK_INT(jint(json_object_get(doc, "started")), EPOCH);
	/* data: sql01 failover 5m; its group's check hook sleeps 30s. app
	 * starts after data's end: 5m30s + 5m. */
	CHECK_INT(jint(json_object_get(doc, "rto_ms")), 630000);
	CHECK_INT(jint(json_object_get(doc, "rpo_s")), 330);
	/* Hold 60m + cleanup 3m + 3m. */
	CHECK_INT(jint(json_object_get(doc, "duration_ms")), 4590000);
	g = jpath(doc, "groups", 0, NULL);
	CHECK_STR(jstr(json_object_get(g, "name")), "data");
	CHECK_INT(jint(json_object_get(g, "rto_ms")), 330000);
	CHECK_INT(jint(json_object_get(g, "rpo_s")), 300);
	m = jpath(g, "machines", 0, NULL);
	CHECK_STR(jstr(json_object_get(m, "name")), "sql01");
	CHECK_INT(jint(json_object_get(m, "rto_ms")), 300000);
	/* Failover started at the epoch, point 5 minutes before (crash). */
	CHECK_INT(jint(json_object_get(m, "rpo_s")), 300);
	CHECK_STR(jstr(jpath(m, "point", -1, "type")), "CrashConsistent");
	g = jpath(doc, "groups", 1, NULL);
	CHECK_STR(jstr(json_object_get(g, "name")), "app");
	CHECK_INT(jint(json_object_get(g, "rto_ms")), 630000);
	CHECK_INT(jint(json_object_get(g, "rpo_s")), 330);
	m = jpath(g, "machines", 1, NULL);
	CHECK_STR(jstr(json_object_get(m, "name")), "app02");
	CHECK_INT(jint(json_object_get(m, "rto_ms")), 630000);
	CHECK_INT(jint(json_object_get(m, "rpo_s")), 330);
	/* Objectives: both met. */
	CHECK_STR(jstr(jpath(doc, "objectives", 0, "name")), "rto");
	CHECK_INT(jint(jpath(doc, "objectives", 0, "target")), 3600000);
	CHECK_INT(jint(jpath(doc, "objectives", 0, "measured")), 630000);
	CHECK(json_is_true(jpath(doc, "objectives", 0, "met")));
	CHECK_INT(jint(jpath(doc, "objectives", 1, "target")), 600);
	CHECK_INT(jint(jpath(doc, "objectives", 1, "measured")), 330);
	CHECK(json_is_true(jpath(doc, "objectives", 1, "met")));
	CHECK(json_is_true(jpath(doc, "cleanup", -1, "verified")));
	CHECK_STR(jstr(jpath(doc, "cleanup", -1, "verify")), "succeeded");
	/* Hooks with their outputs and log. */
	CHECK_STR(jstr(jpath(doc, "hooks", 0, "step")), "data/post/check");
	CHECK(json_is_true(json_object_get(jpath(doc, "hooks", 0, "outputs"), "ok")));
	CHECK_INT(jint(jpath(doc, "hooks", 0, "end")) - jint(jpath(doc, "hooks", 0, "start")), 30000);
	json_decref(doc);

	/* Tighter objectives: both missed, the report fails and says why. */
	{
		dr_jobreport_objectives tight = { 10 * MIN, 5 * MIN };
		char *x;

		doc = report(&E, "erp-drill-1", &tight);
		CHECK_STR(jstr(json_object_get(doc, "verdict")), "fail");
		CHECK_STR(jstr(jpath(doc, "reasons", 0, NULL)),
			  "rto objective missed: 630000 ms > 600000 ms");
		CHECK_STR(jstr(jpath(doc, "reasons", 1, NULL)),
			  "rpo objective missed: 330 s > 300 s");
		x = render(doc, DR_JOBREPORT_JUNIT);
		CHECK(strstr(x, "<failure message=\"rto 10m30s exceeds the objective 10m00s\"") != NULL);
		CHECK(strstr(x, "tests=\"9\" failures=\"2\"") != NULL);
		free(x);
		json_decref(doc);
	}
	env_release(&E);
}

/* The same journal gives the same bytes; compare with the golden files. */
static void golden(const char *name, const char *got)
{
	char path[1024], *dir = strdup(__FILE__), *slash = strrchr(dir, '/');
	FILE *f;
	dr_strbuf want = DR_STRBUF_INIT;
	char buf[4096];
	size_t n;

	*slash = '\0';
	snprintf(path, sizeof(path), "%s/../cases/report/%s", dir, name);
	free(dir);
	if (getenv("DRPLAN_UPDATE_GOLDEN")) {
		f = fopen(path, "w");
		CHECK(f != NULL);
		if (f) {
			fputs(got, f);
			fclose(f);
		}
		return;
	}
	f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		dr_strbuf_add(&want, buf, n);
	fclose(f);
	if (strcmp(want.buf ? want.buf : "", got)) {
		fprintf(stderr, "%s differs from the golden file %s\n", name, path);
		CHECK(0);
	}
	dr_strbuf_release(&want);
}

TEST(formats_golden)
{
	static const struct { dr_jobreport_format f; const char *file; } fm[] = {
		{ DR_JOBREPORT_TEXT, "drill.txt" }, { DR_JOBREPORT_JSON, "drill.json" },
		{ DR_JOBREPORT_JUNIT, "drill.junit.xml" }, { DR_JOBREPORT_MARKDOWN, "drill.md" },
		{ DR_JOBREPORT_HTML, "drill.html" },
	};
	env E, E2;
	json_t *doc, *doc2;

	env_init(&E, false, NULL);
	erp(&E, "erp");
	CHECK_INT(run_drill(&E, NULL, "erp-drill-1"), 0);
	env_init(&E2, false, NULL);
	erp(&E2, "erp");
	CHECK_INT(run_drill(&E2, NULL, "erp-drill-1"), 0);
	doc = report(&E, "erp-drill-1", &objectives);
	doc2 = report(&E2, "erp-drill-1", &objectives);
	for (size_t i = 0; i < sizeof(fm) / sizeof(fm[0]); i++) {
		char *a = render(doc, fm[i].f), *b = render(doc2, fm[i].f);

		/* Two runs, other wall clocks, hosts and pids: same bytes. */
		CHECK_STR(a, b);
		golden(fm[i].file, a);
		free(a), free(b);
	}
	{
		char *t = render(doc, DR_JOBREPORT_TEXT), *h = render(doc, DR_JOBREPORT_HTML);
		char *md = render(doc, DR_JOBREPORT_MARKDOWN);

		CHECK(strstr(t, "verdict:   PASS\n") != NULL);
		CHECK(strstr(t, "  data   sql01    succeeded  5m00s   5m00s  rp-20261124T235500Z "
			     "(CrashConsistent, 2026-11-24T23:55:00Z)\n") != NULL);
		CHECK(strstr(h, "<svg xmlns=\"http://www.w3.org/2000/svg\"") != NULL);
		CHECK(strstr(h, "class=\"rto-objective\"") != NULL);
		CHECK(strstr(h, "RTO objective 1h00m00s") != NULL);
		CHECK(strstr(h, "class=\"sep\"") != NULL);
		CHECK(strstr(md, "| app | app01 | succeeded | 10m30s | 5m30s |") != NULL);
		free(t), free(h), free(md);
	}
	json_decref(doc);
	json_decref(doc2);
	env_release(&E);
	env_release(&E2);
}

TEST(escaping)
{
	env E;
	json_t *doc;
	char *x;

	env_init(&E, false, NULL);
	erp(&E, "erp");
	/* A machine named with every character that needs escaping. */
	E.plan->machines[2].name.v = "app<&\"'>";
	CHECK_INT(run_drill(&E, NULL, "erp-drill-esc"), 0);
	doc = report(&E, "erp-drill-esc", &objectives);
	CHECK_STR(jstr(jpath(jpath(doc, "groups", 1, NULL), "machines", 1, "name")), "app<&\"'>");
	x = render(doc, DR_JOBREPORT_HTML);
	CHECK(strstr(x, "app&lt;&amp;&quot;&#39;&gt;") != NULL);
	CHECK(strstr(x, "app<&") == NULL);
	/* The hook's log line "checked <&\"'> data" is in the JSON only. */
	free(x);
	x = render(doc, DR_JOBREPORT_JUNIT);
	CHECK(strstr(x, "name=\"app&lt;&amp;&quot;&apos;&gt;\"") != NULL);
	CHECK(strstr(x, "app<&") == NULL);
	free(x);
	x = render(doc, DR_JOBREPORT_MARKDOWN);
	CHECK(strstr(x, "| app | app&lt;&amp;\"'&gt; | succeeded |") != NULL);
	free(x);
	x = render(doc, DR_JOBREPORT_JSON);
	CHECK(strstr(x, "\"app<&\\\"'>\"") != NULL);
	free(x);
	json_decref(doc);
	env_release(&E);
}

TEST(failed_cleanup_fails)
{
	env E;
	json_t *doc;
	char *x;

	env_init(&E, false, NULL);
	erp(&E, "erp");
	run_drill(&E, "fail:app02:test-failover-cleanup", "erp-drill-dirty");
	doc = report(&E, "erp-drill-dirty", &objectives);
	CHECK_STR(jstr(json_object_get(doc, "status")), "failed");
	CHECK_STR(jstr(json_object_get(doc, "verdict")), "fail");
	CHECK(json_is_false(jpath(doc, "cleanup", -1, "verified")));
	CHECK_STR(jstr(jpath(jpath(doc, "cleanup", -1, NULL), "machines", 2, "name")), "app02");
	CHECK_STR(jstr(jpath(jpath(doc, "cleanup", -1, NULL), "machines", 2, "state")), "failed");
	/* The objectives were met: the failure is the job and its cleanup. */
	CHECK(json_is_true(jpath(doc, "objectives", 0, "met")));
	CHECK_STR(jstr(jpath(doc, "reasons", 0, NULL)), "job is failed");
	CHECK_STR(jstr(jpath(doc, "reasons", 1, NULL)), "cleanup of app02 failed");
	x = render(doc, DR_JOBREPORT_JUNIT);
	CHECK(strstr(x, "<failure message=\"drill cleanup not verified\"") != NULL);
	free(x);
	json_decref(doc);
	env_release(&E);
}

TEST(history_three_drills)
{
	env E;
	json_t *doc, *d;
	char *x;

	env_init(&E, false, NULL);
	erp(&E, "erp");
	CHECK_INT(run_drill(&E, NULL, "erp-drill-a"), 0);
	CHECK_INT(run_drill(&E, "slow:*:test-failover:3", "erp-drill-b"), 0);
	CHECK_INT(run_drill(&E, NULL, "erp-drill-c"), 0);
	CHECK_INT(dr_jobreport_history(E.store, "erp", &objectives, &doc), 0);
	d = json_object_get(doc, "drills");
	CHECK_INT(json_array_size(d), 3);
	x = NULL;
	{
		dr_strbuf sb = DR_STRBUF_INIT;

		dr_jobreport_history_render(doc, DR_JOBREPORT_TEXT, &sb);
		x = dr_strbuf_detach(&sb, NULL);
		if (getenv("EXEC_TEST_VERBOSE"))
			fputs(x, stderr);
	}
	CHECK_STR(jstr(jpath(doc, "drills", 0, "job")), "erp-drill-c");
	CHECK_STR(jstr(jpath(doc, "drills", 1, "job")), "erp-drill-b");
	CHECK_STR(jstr(jpath(doc, "drills", 2, "job")), "erp-drill-a");
	CHECK_INT(jint(jpath(doc, "drills", 2, "rto_ms")), 630000);
	CHECK(json_is_true(jpath(doc, "drills", 2, "rto_met")));
	/* Three times slower failovers: 15m + 30s + 15m = 30m30s, still met. */
	CHECK_INT(jint(jpath(doc, "drills", 1, "rto_ms")), 1830000);
	CHECK(json_is_true(jpath(doc, "drills", 1, "rto_met")));
	CHECK(json_is_true(jpath(doc, "drills", 0, "rpo_met")));
	free(x);
	json_decref(doc);
	env_release(&E);
}

/* A machine's own post hook fails: no RTO for it, the job fails, the hook's
 * message (with <&"') is escaped in JUnit and HTML. */
TEST(machine_post_hook_fails)
{
	env E;
	json_t *doc, *m;
	dr_machine *sql;
	char *x;

	env_init(&E, false, NULL);
	erp(&E, "erp");
	write_file(E.dir, "lua/bad.lua", "error('boom <&\"\\'>')\n");
	sql = &E.plan->machines[0];
	lua(sql->post, &sql->npost, "lua/bad.lua", DR_ON_DRILL, 5 * MIN, DR_FAIL_GROUP);
	run_drill(&E, NULL, "erp-drill-hook");
	doc = report(&E, "erp-drill-hook", &objectives);
	CHECK_STR(jstr(json_object_get(doc, "status")), "failed");
	m = jpath(jpath(doc, "groups", 0, NULL), "machines", 0, NULL);
	CHECK_STR(jstr(json_object_get(m, "state")), "succeeded");
	CHECK(json_is_null(json_object_get(m, "rto_ms")));
	CHECK_INT(jint(json_object_get(m, "rpo_s")), 300);
	CHECK_STR(jstr(jpath(doc, "hooks", 0, "step")), "data/sql01/post/bad");
	CHECK_STR(jstr(jpath(doc, "hooks", 0, "status")), "failed");
	CHECK(strstr(jstr(jpath(doc, "hooks", 0, "message")), "boom <&\"'>") != NULL);
	/* Nothing recovered to measure against: the RTO objective is missed. */
	CHECK(json_is_null(json_object_get(doc, "rto_ms")));
	CHECK(json_is_false(jpath(doc, "objectives", 0, "met")));
	x = render(doc, DR_JOBREPORT_JUNIT);
	CHECK(strstr(x, "data/sql01/test-failover succeeded, its post hooks did not") != NULL);
	CHECK(strstr(x, "boom &lt;&amp;&quot;&apos;&gt;") != NULL);
	free(x);
	x = render(doc, DR_JOBREPORT_HTML);
	CHECK(strstr(x, "boom &lt;&amp;&quot;&#39;&gt;") != NULL);
	CHECK(strstr(x, "boom <") == NULL);
	free(x);
	x = render(doc, DR_JOBREPORT_MARKDOWN);
	CHECK(strstr(x, "boom &lt;&amp;\"'&gt;") != NULL);
	free(x);
	json_decref(doc);
	env_release(&E);
}

/* A failover: the commit gate's approval (who, when) and RPO per machine;
 * no drill cleanup section. */
TEST(failover_gate_approval)
{
	env E;
	dr_job_opts o;
	dr_job *j = NULL;
	json_t *doc, *a;
	char *x;

	env_init(&E, false, NULL);
	erp(&E, "erp");
	env_proc_new(&E, NULL);
	CHECK_INT(env_compile(&E, DR_OP_FAILOVER, 0), 0);
	env_opts(&E, &o);
	CHECK_INT(dr_job_start(E.plan, E.graph, &o, "erp-failover-1", &j), 0);
	CHECK_INT(dr_job_run(j), DR_EAGAIN);
	dr_job_free(j);
	env_proc_free(&E);
	CHECK_INT(ctl(&E, "erp-failover-1",
		      "{\"action\":\"approve\",\"by\":\"alice@ops\",\"comment\":\"ok <b>\"}"), 0);
	env_proc_new(&E, NULL);
	env_opts(&E, &o);
	j = NULL;
	CHECK_INT(dr_job_resume("erp-failover-1", E.plan, E.graph, &o, &j), 0);
	CHECK_INT(dr_job_run(j), 0);
	dr_job_free(j);
	env_proc_free(&E);
	doc = report(&E, "erp-failover-1", &objectives);
	CHECK_STR(jstr(json_object_get(doc, "status")), "succeeded");
	CHECK_STR(jstr(json_object_get(doc, "verdict")), "pass");
	CHECK(json_object_get(doc, "cleanup") == NULL);
	CHECK_STR(jstr(jpath(doc, "gates", 0, "gate")), "gate/commit");
	a = jpath(jpath(doc, "gates", 0, NULL), "approvals", 0, NULL);
	CHECK_STR(jstr(json_object_get(a, "by")), "alice@ops");
	CHECK_STR(jstr(json_object_get(a, "comment")), "ok <b>");
	/* "at" is the provider clock when the job read the approval. */
	CHECK(jint(json_object_get(a, "at")) >= EPOCH + 720000);
	/* Per group: source shutdown 1m, then the failover 5m. */
	CHECK_INT(jint(json_object_get(doc, "rto_ms")), 720000);
	x = render(doc, DR_JOBREPORT_TEXT);
	if (getenv("EXEC_TEST_VERBOSE"))
		fputs(x, stderr);
	CHECK(strstr(x, "Gate approvals:\n  gate         approved by  at") != NULL);
	CHECK(strstr(x, "  gate/commit  alice@ops    ") != NULL);
	free(x);
	x = render(doc, DR_JOBREPORT_HTML);
	CHECK(strstr(x, "<td>ok &lt;b&gt;</td>") != NULL);
	free(x);
	json_decref(doc);
	env_release(&E);
}

/* A store with the sample jobs, for tests/report/tests.cmake. */
static int samples(const char *dir)
{
	env E;
	char cmd[1200];
	int rc;

	/* The samples are a directory, whatever store the tests run on. */
	unsetenv("DRPLAN_TEST_STORE");
	env_init(&E, false, NULL);
	erp(&E, "erp");
	run_drill(&E, NULL, "erp-drill-1");
	E.plan->machines[2].name.v = "app<&\"'>";
	run_drill(&E, NULL, "erp-drill-esc");
	E.plan->machines[2].name.v = "app02";
	run_drill(&E, "fail:app02:test-failover-cleanup", "erp-drill-dirty");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -r '%s' '%s'", dir, E.dir, dir);
	rc = system(cmd) ? 1 : 0;
	env_release(&E);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--samples"))
		return samples(argv[2]);
	RUN(drill_figures);
	RUN(formats_golden);
	RUN(escaping);
	RUN(failed_cleanup_fails);
	RUN(history_three_drills);
	RUN(failover_gate_approval);
	RUN(machine_post_hook_fails);
	return test_summary();
}
